/* Shallow (10-20 deg) needles on the station's needle scheme (beams steered
 * 15 deg towards the insertion side, one straight frame in 4): simulated
 * insertions (simulator -> imaging -> tl_needle_follower) taken from
 * `talus eval needle` cases whose in-plane frames were missed
 * (docs/accuracy.md, "Shallow needles"). One behaviour each:
 *  - an ankle needle that runs just above the tibia's cortex, whose
 *    shadow lies beneath it: with time, the new echo votes for its line
 *    although what lies beneath is bone shadow (the static cortex is not
 *    in the difference; seed 1 case 26: frames 2, 3 and 5 missed). */
#include <math.h>

#include "test_guidance_scheme.h"

enum { MAX_FRAMES = 16 };

typedef struct {
    int frames;
    bool present[MAX_FRAMES], shown[MAX_FRAMES];
    float err[MAX_FRAMES]; /* tracked tip - true tip (mm), when shown */
} shallow_run;

/* The eval's acquisition and following for one case: kv are the simulator
 * parameters (NULL-terminated), frames from 0. */
static void run_case(uint64_t seed, const char *const *kv, int frames, shallow_run *r)
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
        float tx = t.needle.tip_x_mm - rig.img.origin_x_mm, tz = t.needle.tip_z_mm - rig.img.origin_z_mm;
        r->present[k] = t.needle.present && t.needle.in_plane;
        r->shown[k] = trk.found;
        r->err[k] = hypotf(trk.tip_x_mm - tx, trk.tip_z_mm - tz);
        printf("  frame %2d (steer %5.1f): needle %d | detection %d (%.2f, %.2f) %.1f deg %s | "
               "track %-9s shown %d, tip error %.2f mm\n",
               k, (double)fb, r->present[k], det.found, det.tip_x_mm, det.tip_z_mm,
               det.angle_deg, det.reason, tl_track_state_name(trk.state), trk.found,
               trk.found ? r->err[k] : -1.0f);
    }
    scheme_close(&rig);
    tl_sim_destroy(sim);
}

static void count(const shallow_run *r, int *shown, int *in_plane, float *worst)
{
    *shown = *in_plane = 0;
    *worst = 0.0f;
    for (int k = 0; k < r->frames; k++) {
        if (!r->present[k])
            continue;
        (*in_plane)++;
        if (r->shown[k]) {
            (*shown)++;
            *worst = fmaxf(*worst, r->err[k]);
        }
    }
}

/* Seed 1 case 26: a 14.2 deg, 26 G ankle needle advancing 0.43 mm a frame
 * just above the tibia's anterior cortex. Every pixel of its new echo had
 * the cortex's shadow 2.5 mm beneath and was refused its vote ("bone"), so
 * the search offered only lines through the cortex and the tail (24-29
 * deg, rejected): frames 2, 3 and 5 missed. */
static void test_needle_over_cortex_found(void **state)
{
    (void)state;
    const char *kv[] = { "anatomy=ankle-recess", "needle_angle_deg=14.21", "needle_gauge=26",
                         "needle_speed_mm=0.433", "needle_drift_mm=0.000", "needle_start_frame=2",
                         "needle_start_mm=48.856", NULL };
    shallow_run r;
    run_case(7945, kv, 12, &r);
    int shown, in_plane;
    float worst;
    count(&r, &shown, &in_plane, &worst);
    printf("  ankle 14.2 deg over the cortex: shown %d of %d, worst tip error %.2f mm\n", shown,
           in_plane, worst);
    assert_int_equal(in_plane, 10);
    assert_true(r.shown[2] || r.shown[3]);
    assert_true(shown >= 9);
    /* (the first frame's tip is ~1 mm off: nothing to smooth with yet) */
    assert_true(worst < 1.5f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_needle_over_cortex_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
