/* Keeping a steep needle near its target on the station's scheme's frames
 * (beams steered 15 deg towards the insertion side, one straight frame in
 * 4): simulated insertions (simulator -> imaging -> tl_needle_follower)
 * taken from `talus eval needle --seed 7` cases that were missed while in
 * plane (docs/accuracy.md, "Steep needles and first frames"). One
 * behaviour each:
 *  - a 58 deg shaft whose trace breaks near its target (the detector's
 *    line through it stays under its confidence bar) is kept, its tip
 *    following the needle, not flagged out of plane after four frames
 *    (seed 7 case 162: 4 in-plane frames flagged);
 *  - a track locked on a wrong first line is locked again on the needle's
 *    own, not acquired from scratch and dropped (seed 7 case 73);
 *  - a needle that drifts out of the plane is still flagged "out of
 *    plane" (seed 1 case 3). */
#include <math.h>

#include "test_guidance_scheme.h"

enum { MAX_FRAMES = 16 };

typedef struct {
    int frames;
    bool in_plane[MAX_FRAMES], shown[MAX_FRAMES], flagged[MAX_FRAMES];
    float err[MAX_FRAMES]; /* tracked tip - true tip (mm), when shown */
} hold_run;

static void run_case(uint64_t seed, const char *const *kv, int frames, hold_run *r)
{
    memset(r, 0, sizeof *r);
    r->frames = frames;
    scheme_rig rig;
    tl_sim *sim = scheme_case_open(&rig, seed, kv);
    for (int k = 0; k < frames && k < MAX_FRAMES; k++) {
        tl_sim_truth t;
        tl_needle_detection det;
        tl_needle_track trk;
        float fb = scheme_frame(&rig, sim, (uint32_t)k, &t, &det, &trk);
        float tx = t.needle.tip_x_mm - rig.img.origin_x_mm;
        float tz = t.needle.tip_z_mm - rig.img.origin_z_mm;
        r->in_plane[k] = t.needle.present && t.needle.in_plane;
        r->shown[k] = trk.found;
        r->flagged[k] = trk.out_of_plane;
        r->err[k] = hypotf(trk.tip_x_mm - tx, trk.tip_z_mm - tz);
        printf("  frame %2d (steer %5.1f): needle %d (%.2f mm out) | detection %d conf %.2f | "
               "track %-12s shown %d%s, tip error %.2f mm\n",
               k, (double)fb, r->in_plane[k], (double)t.needle.out_of_plane_mm, det.found,
               (double)det.confidence, tl_track_state_name(trk.state), trk.found,
               trk.out_of_plane ? " (out of plane)" : "", trk.found ? (double)r->err[k] : -1.0);
    }
    scheme_close(&rig);
    tl_sim_destroy(sim);
}

/* Seed 7 case 162: a 57.9 deg, 24 G plantar-fascia needle advancing
 * 0.375 mm a frame. From frame 4 the detector's line through it is
 * "low confidence" (0.24-0.46) or breaks; the track coasted on the last
 * tip and was flagged out of plane on frame 8, the needle still in plane
 * and as bright as before. */
static void test_steep_shaft_kept(void **state)
{
    (void)state;
    const char *kv[] = { "anatomy=plantar-fascia", "needle_angle_deg=57.89", "needle_gauge=24",
                         "needle_speed_mm=0.375", "needle_drift_mm=0.000", "needle_start_frame=2",
                         "needle_start_mm=4.973", NULL };
    hold_run r;
    run_case(55595, kv, 12, &r);
    int in_plane = 0, shown = 0, flagged = 0;
    float worst = 0.0f;
    for (int k = 0; k < r.frames; k++) {
        if (!r.in_plane[k])
            continue;
        in_plane++;
        shown += r.shown[k];
        flagged += r.flagged[k];
        if (r.shown[k])
            worst = fmaxf(worst, r.err[k]);
    }
    printf("  plantar 57.9 deg: shown %d of %d in plane, flagged out of plane %d, worst tip "
           "error %.2f mm\n",
           shown, in_plane, flagged, (double)worst);
    assert_int_equal(in_plane, 10);
    assert_int_equal(shown, 10);
    assert_int_equal(flagged, 0);
    assert_true(worst < 1.0f);
}

/* Seed 7 case 73: a 52.5 deg, 27 G Achilles needle. Its first frame's
 * line was a 67 deg one through the tip; the track locked on it and gated
 * out the right 53 deg detections of frames 5-7, then acquired them anew
 * and dropped them when frames 8-10 missed the faint shaft. */
static void test_relock_on_needle(void **state)
{
    (void)state;
    const char *kv[] = { "anatomy=achilles", "needle_angle_deg=52.48", "needle_gauge=27",
                         "needle_speed_mm=0.307", "needle_drift_mm=0.000", "needle_start_frame=2",
                         "needle_start_mm=5.148", NULL };
    hold_run r;
    run_case(55506, kv, 12, &r);
    int in_plane = 0, shown = 0;
    for (int k = 7; k < r.frames; k++) {
        in_plane += r.in_plane[k];
        shown += r.in_plane[k] && r.shown[k];
        if (r.in_plane[k] && r.shown[k])
            assert_true(r.err[k] < 0.5f);
    }
    printf("  achilles 52.5 deg: frames 7-11 shown %d of %d in plane\n", shown, in_plane);
    assert_int_equal(in_plane, 5);
    assert_int_equal(shown, 5);
}

/* Seed 1 case 156: a 49.8 deg, 27 G plantar-fascia needle drifting out of
 * the plane 0.18 mm a frame. Out of plane from frame 5; its echo fades, the
 * detector's line through it is gone: it is flagged "out of plane" (frame 8
 * on), not held as a needle the detector merely missed. */
static void test_drifting_needle_flagged(void **state)
{
    (void)state;
    const char *kv[] = { "anatomy=plantar-fascia", "needle_angle_deg=49.78", "needle_gauge=27",
                         "needle_speed_mm=0.564", "needle_drift_mm=0.182", "needle_start_frame=2",
                         "needle_start_mm=5.469", NULL };
    hold_run r;
    run_case(8075, kv, 12, &r);
    int out = 0, flagged = 0;
    for (int k = 2; k < r.frames; k++)
        if (!r.in_plane[k]) {
            out++;
            flagged += r.flagged[k];
        }
    printf("  plantar 49.8 deg drifting: %d frames out of plane, flagged on %d\n", out, flagged);
    assert_true(out >= 6);
    assert_true(flagged >= 4);
    assert_true(r.flagged[r.frames - 1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steep_shaft_kept),
        cmocka_unit_test(test_relock_on_needle),
        cmocka_unit_test(test_drifting_needle_flagged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
