/* Plantar targets in the muscle a deep border ran into (imaging/analysis
 * an_lesion_trust.c, deep_half_layer): eval cases run exactly as `talus
 * eval tissue --anatomy plantar-fascia --cases 300 --seed S --case K` runs
 * them (apps/talus eval_tissue_case.c: simulator RF -> imaging ->
 * analysis, scored against the truth). Tuning seeds 2026-2028, survey
 * seeds 3003-3007. */
#include "test_analysis_evalcase.h"

/* Heels without a lesion whose only target was the muscle under a deep
 * border run 1.3-3.1 mm too deep in front of the calcaneus (the fascia
 * rises off the bone, the border stays level): a region in the band's
 * lower part (its top at 0.6-0.75 of the band's thickness) reaching the
 * deep border and no brighter than the tissue under it; -5.4 to -8.6 dB
 * against thick bands (2027 237 and 2028 48, tuning; 3003 168, survey)
 * and -15.2 dB against a thin bright one (3006 52), and along the deep
 * border over only 3 of 13 strips (2027 237) or half (3003 168), which
 * pspec's weak-layer test (an_deep_layer: > -8.5 dB, over half) left. */
static const eval_case muscle[] = {
    { 2027, 237 }, { 2028, 48 }, { 3003, 168 }, { 3006, 52 },
};

static void test_muscle_under_deep_border_not_target(void **state)
{
    assert_int_equal(lesion_free_called(*state, muscle, sizeof muscle / sizeof muscle[0]), 0);
}

/* Cases with a lesion: the same muscle layer under a deep border run too
 * deep beside the lesion (2026 213, 3005 74, 3007 13: one false target
 * each before, the lesions' targets kept), and lesions along the deep
 * border of thin bands no brighter than the tissue under it but reaching
 * into the band's upper half (3005 138, 282, 291, 3006 72: tops at
 * 0.25-0.33 of its thickness) or 1.4 dB darker than that tissue (3006
 * 140, top 0.61: a band bridged 42 deg down the bone), and a lesion
 * in the lower part of a band whose top was left 1.3 mm up in the fat,
 * 4.3 dB brighter than the perifascial fluid under it (3005 25, tilted
 * 14.9 deg; the fluid not found). */
static const eval_case kept[] = {
    { 2026, 213 }, { 3005, 74 }, { 3007, 13 },  { 3005, 138 }, { 3005, 282 },
    { 3005, 291 }, { 3006, 72 }, { 3006, 140 }, { 3005, 25 },
};

static void test_lesions_kept_layers_not(void **state)
{
    int hits, lesions, targets;
    sum_lesions(*state, kept, sizeof kept / sizeof kept[0], &lesions, &hits, &targets);
    assert_int_equal(lesions, 12);
    assert_int_equal(hits, 11);
    assert_int_equal(targets, 11);   /* 14 before: the three layers */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_muscle_under_deep_border_not_target),
        cmocka_unit_test(test_lesions_kept_layers_not),
    };
    return cmocka_run_group_tests(tests, eval_setup, eval_teardown);
}
