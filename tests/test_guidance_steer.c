/* Needle enhancement (guidance/steer.c): the scheme's angles and sequence,
 * and following a steep needle that advances and then stops at its target
 * through a simulated insertion (simulator -> imaging -> guidance) with the
 * scheme's steered frames, against straight frames only: steering must find
 * the still shaft the straight frames lose. */
#include <math.h>

#include "test_guidance_scheme.h"

static void test_scheme(void **state)
{
    (void)state;
    tl_needle_scheme s = tl_needle_scheme_default();
    assert_true(s.steer_deg > 0.0f && s.steer_deg <= 30.0f);
    /* from the left: beams lean left (negative), limited by the probe */
    assert_float_equal(tl_needle_scheme_steer(&s, +1, 30.0f), -s.steer_deg, 0.0);
    assert_float_equal(tl_needle_scheme_steer(&s, -1, 30.0f), s.steer_deg, 0.0);
    assert_float_equal(tl_needle_scheme_steer(&s, +1, 12.0f), -12.0, 0.0);
    assert_float_equal(tl_needle_scheme_steer(&s, 0, 30.0f), 0.0, 0.0);
    assert_float_equal(tl_needle_scheme_steer(&s, +1, 0.0f), 0.0, 0.0);
    tl_needle_scheme t = { 20.0f, 4 };
    int straight = 0;
    for (uint32_t k = 0; k < 16; k++)
        straight += tl_needle_scheme_frame_straight(&t, k);
    assert_int_equal(straight, 4);
    assert_true(tl_needle_scheme_frame_straight(&t, 8) && !tl_needle_scheme_frame_straight(&t, 9));
    t.straight_every = 0;
    assert_false(tl_needle_scheme_frame_straight(&t, 0));
    tl_needle_follower *f = NULL;
    tl_needle_params bad = tl_needle_params_default();
    bad.min_angle_deg = -5.0f;
    assert_int_not_equal(tl_needle_follower_create(&bad, NULL, &f), TL_OK);
    assert_null(f);
}

/* Frames of a 58 deg needle that advances 6 frames then stays at its target
 * for 8; returns how many of the in-plane frames showed it, and the worst
 * tip error over its first five frames (k 2-6, advancing). (Near and at
 * the target, in the lesion, the tip is placed up to ~2 mm off with the
 * 15 deg scheme: printed, see docs/accuracy.md.) */
static int follow(bool steer, float *worst, int *in_plane)
{
    tl_sim *sim = NULL;
    assert_int_equal(tl_sim_create("needle-insertion", 4, &sim), TL_OK);
    const char *kv[] = { "anatomy=plantar-fascia", "needle_angle_deg=58", "needle_gauge=22",
                         "needle_start_frame=2", NULL };
    for (int i = 0; kv[i]; i++)
        assert_int_equal(tl_sim_set_param(sim, kv[i], NULL), TL_OK);
    /* 6 frames of advance end at the target: start 6 x speed short of it */
    tl_sim_truth t;
    assert_int_equal(tl_sim_render(sim, 1000000u, NULL, 0, &t), TL_OK);
    float full = hypotf(t.needle.tip_x_mm - t.needle.entry_x_mm,
                        t.needle.tip_z_mm - t.needle.entry_z_mm);
    char v[64];
    snprintf(v, sizeof v, "needle_start_mm=%.2f", full - 6.0f * 0.5f);
    assert_int_equal(tl_sim_set_param(sim, v, NULL), TL_OK);
    assert_int_equal(tl_sim_set_param(sim, "needle_speed_mm", "0.5"), TL_OK);
    scheme_rig rig;
    scheme_open(&rig, sim, steer);
    int shown = 0;
    *worst = 0.0f;
    *in_plane = 0;
    for (uint32_t k = 0; k < 16; k++) {
        tl_needle_detection det;
        tl_needle_track trk;
        float fb = scheme_frame(&rig, sim, k, &t, &det, &trk);
        if (!t.needle.present)
            continue;
        (*in_plane)++;
        float tx = t.needle.tip_x_mm - rig.img.origin_x_mm, tz = t.needle.tip_z_mm - rig.img.origin_z_mm;
        float err = hypotf(trk.tip_x_mm - tx, trk.tip_z_mm - tz);
        if (trk.found)
            shown++;
        if (k <= 6)
            *worst = fmaxf(*worst, trk.found ? err : INFINITY);
        printf("  %s frame %2u (steer %5.1f): track %-10s found %d tip error %.2f mm\n",
               steer ? "scheme  " : "straight", k, (double)fb, tl_track_state_name(trk.state),
               trk.found, trk.found ? (double)err : -1.0);
    }
    scheme_close(&rig);
    tl_sim_destroy(sim);
    return shown;
}

static void test_still_steep_needle(void **state)
{
    (void)state;
    float w0, w1;
    int n0, n1;
    int s0 = follow(false, &w0, &n0);
    int s1 = follow(true, &w1, &n1);
    printf("58 deg needle, advancing then still: straight frames show it in %d of %d frames, "
           "the scheme in %d of %d (worst tip error of its first 5 frames %.2f mm)\n",
           s0, n0, s1, n1, (double)w1);
    assert_int_equal(n0, 14);
    assert_int_equal(n1, 14);
    assert_true(s1 >= 13);
    assert_true(s1 >= s0 + 3);
    assert_true(w1 <= 0.5f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scheme),
        cmocka_unit_test(test_still_steep_needle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
