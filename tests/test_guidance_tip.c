/* Where the tip is placed on frames of the station's needle scheme (beams
 * steered 15 deg towards the insertion side, one straight frame in 4):
 * simulated insertions (simulator -> imaging -> tl_needle_follower) taken
 * from `talus eval needle --seed 1` cases whose tracked tip was 1.5-6 mm off
 * (docs/accuracy.md, "Needle tip on the scheme's frames"). One behaviour
 * each:
 *  - a shaft whose change over time is uneven along it (much stronger where
 *    it crosses bright tissue) keeps its tip where its echo ends, not where
 *    its change falls to half of the strong part (seed 1 case 57: the first
 *    frame 4.3 mm short; case 38: steered frames 3-6 mm short all along);
 *  - a needle stopped at its target, beyond which a bright layer lies past
 *    a gap of tissue that did not change: the tip is not run on across the
 *    gap to that layer (seed 1 case 52: 1.6-1.9 mm long on every frame). */
#include <math.h>

#include "test_guidance_scheme.h"

/* Seed 1 case 38: a 32.5 deg, 24 G ankle needle advancing 0.9 mm a frame.
 * The time cue's change along the shaft is ~10 robust sigmas where it
 * crosses the superficial tissue and ~3 further on (a tile the needle and
 * its tail fill has a larger spread); "half the shaft's median change" cut
 * every steered frame's tip 2-6 mm short, and the track followed them. */
static void test_uneven_change_keeps_tip(void **state)
{
    (void)state;
    const char *kv[] = { "anatomy=ankle-recess", "needle_angle_deg=32.55", "needle_gauge=24",
                         "needle_speed_mm=0.900", "needle_drift_mm=0.000", "needle_start_frame=2",
                         "anisotropy_deg=6.0", "needle_start_mm=14.747", NULL };
    scheme_run r;
    scheme_run_case(7957, kv, 10, &r);
    int shown, in_plane;
    float w = scheme_run_tally(&r, &in_plane, &shown, NULL);
    printf("  ankle 32.5 deg: shown %d of %d, worst tip error %.2f mm\n", shown, in_plane, w);
    assert_int_equal(in_plane, 8);
    assert_true(shown >= 7);
    assert_true(w < 1.0f);
}

/* Seed 1 case 57: a 27.8 deg, 21 G plantar-fascia needle appears with
 * ~10 mm of shaft; its change dips to ~6 sigmas over 2 mm between parts of
 * ~30. The first frame's tip was placed where it dipped, 4.3 mm short. */
static void test_first_frame_tip(void **state)
{
    (void)state;
    const char *kv[] = { "anatomy=plantar-fascia", "needle_angle_deg=27.84", "needle_gauge=21",
                         "needle_speed_mm=0.504", "needle_drift_mm=0.000", "needle_start_frame=2",
                         "anisotropy_deg=3.6", "needle_start_mm=18.091", NULL };
    scheme_run r;
    scheme_run_case(7976, kv, 6, &r);
    int first = -1;
    for (int k = 0; k < r.frames && first < 0; k++)
        if (r.present[k] && r.shown[k])
            first = k;
    int shown, in_plane;
    float w = scheme_run_tally(&r, &in_plane, &shown, NULL);
    printf("  plantar 27.8 deg: first shown on frame %d, its tip error %.2f mm; worst %.2f mm\n",
           first, first >= 0 ? r.err[first] : -1.0f, w);
    assert_int_equal(first, 2);
    assert_true(r.err[first] < 1.0f);
    assert_true(w < 1.0f);
}

/* Seed 1 case 52: a 46 deg, 26 G Achilles needle reaches its target (in
 * the dark lesion) on frame 3 and stays. ~1.3 mm beyond the tip a bright
 * layer's speckle changes by ~3 sigmas; the tip's search bridged the 1 mm
 * of unchanged lesion between and put the tip on that layer, 1.6-1.9 mm
 * long on every frame. */
static void test_stopped_tip_not_run_on(void **state)
{
    (void)state;
    const char *kv[] = { "anatomy=achilles", "needle_angle_deg=46.12", "needle_gauge=26",
                         "needle_speed_mm=0.997", "needle_drift_mm=0.000", "needle_start_frame=2",
                         "needle_start_mm=5.765", NULL };
    scheme_run r;
    scheme_run_case(7971, kv, 12, &r);
    int shown, in_plane;
    float w = scheme_run_tally(&r, &in_plane, &shown, NULL);
    float longest = -INFINITY;
    for (int k = 0; k < r.frames; k++)
        if (r.present[k] && r.shown[k])
            longest = fmaxf(longest, r.along[k]);
    printf("  achilles 46 deg, stopped: shown %d of %d, worst tip error %.2f mm, longest "
           "%+.2f mm\n",
           shown, in_plane, w, longest);
    assert_int_equal(in_plane, 10);
    assert_true(shown >= 9);
    assert_true(longest < 1.0f);
    assert_true(w < 1.2f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uneven_change_keeps_tip),
        cmocka_unit_test(test_first_frame_tip),
        cmocka_unit_test(test_stopped_tip_not_run_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
