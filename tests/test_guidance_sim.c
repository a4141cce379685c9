/* Needle guidance on simulated insertions (simulator RF -> imaging ->
 * tl_needle_follow), one behaviour each:
 *  - a steep (55 degree) needle, at speckle level in one frame, is found and
 *    tracked;
 *  - a needle that reaches its target and stops there stays shown, and its
 *    tip stays where it stopped;
 *  - an ankle needle over the tibia, whose reverberation copies are bright
 *    lines of its own angle over the cortex: the shaft is tracked, not a
 *    copy 2.6 mm beneath it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_guidance.h"
#include "tl_imaging.h"
#include "tl_sim.h"

enum { MAX_FRAMES = 16 };

typedef struct {
    int frames;
    bool present[MAX_FRAMES], stopped[MAX_FRAMES], shown[MAX_FRAMES];
    int lock;              /* first frame locked, counted from the first with a needle (1 = it) */
    float angle[MAX_FRAMES]; /* tracked angle (deg), when shown */
    float err[MAX_FRAMES]; /* tracked tip - true tip (mm), when shown */
    float perp[MAX_FRAMES];/* ... across the true shaft (+ = deeper) */
} run_result;

/* Renders `frames` frames of a needle-insertion with the given parameters
 * (kv, NULL-terminated; then `start_kv` if not NULL) and follows them. */
static void run_insertion(uint64_t seed, const char *const *kv, const char *start_kv, int frames,
                          run_result *r)
{
    memset(r, 0, sizeof *r);
    r->frames = frames;
    tl_sim *sim = NULL;
    assert_int_equal(tl_sim_create("needle-insertion", seed, &sim), TL_OK);
    for (int i = 0; kv[i]; i++)
        assert_int_equal(tl_sim_set_param(sim, kv[i], NULL), TL_OK);
    if (start_kv)
        assert_int_equal(tl_sim_set_param(sim, start_kv, NULL), TL_OK);
    tl_geometry g;
    assert_int_equal(tl_sim_get_geometry(sim, &g), TL_OK);
    size_t n = (size_t)g.lines * g.samples;
    int16_t *rf = malloc(n * sizeof *rf);
    assert_non_null(rf);
    tl_imaging_params ip = tl_imaging_params_default();
    tl_imaging_plan *plan = NULL;
    assert_int_equal(tl_imaging_plan_create(&g, TL_IMAGE_RF_REAL, &ip, &plan), TL_OK);
    tl_bmode img;
    assert_int_equal(tl_imaging_bmode_alloc(plan, &img), TL_OK);
    tl_needle_detector *d = NULL;
    tl_needle_tracker *tr = NULL;
    assert_int_equal(tl_needle_detector_create(NULL, &d), TL_OK);
    assert_int_equal(tl_needle_tracker_create(NULL, &tr), TL_OK);
    float px = -1.0f, pz = -1.0f;
    int seen = 0;
    r->lock = -1;
    for (int k = 0; k < frames && k < MAX_FRAMES; k++) {
        tl_sim_truth t;
        assert_int_equal(tl_sim_render(sim, (uint32_t)k, rf, n, &t), TL_OK);
        tl_frame f;
        memset(&f, 0, sizeof f);
        f.geom = g;
        f.type = TL_IMAGE_RF_REAL;
        f.seq = (uint32_t)k;
        f.data = rf;
        f.data_bytes = n * sizeof *rf;
        assert_int_equal(tl_imaging_execute(plan, &f, &img, NULL), TL_OK);
        tl_needle_detection det;
        tl_needle_track trk;
        assert_int_equal(tl_needle_follow(d, tr, &img, NULL, &det, &trk), TL_OK);
        float tx = t.needle.tip_x_mm - img.origin_x_mm, tz = t.needle.tip_z_mm - img.origin_z_mm;
        r->present[k] = t.needle.present && t.needle.in_plane;
        r->stopped[k] = t.needle.present && fabsf(tx - px) < 1e-3f && fabsf(tz - pz) < 1e-3f;
        r->shown[k] = trk.found;
        r->angle[k] = trk.angle_deg;
        seen += t.needle.present;
        if (r->lock < 0 && trk.state == TL_TRACK_LOCKED)
            r->lock = seen;
        double a = t.needle.angle_deg * 3.14159265358979 / 180.0;
        r->err[k] = hypotf(trk.tip_x_mm - tx, trk.tip_z_mm - tz);
        r->perp[k] = (float)(-(trk.tip_x_mm - tx) * sin(a) + (trk.tip_z_mm - tz) * cos(a));
        printf("  frame %2d: needle %d%s | track %-9s shown %d, tip error %.2f mm (%+.2f across)\n",
               k, t.needle.present, r->stopped[k] ? " (stopped)" : "",
               tl_track_state_name(trk.state), trk.found, trk.found ? r->err[k] : -1.0f,
               trk.found ? r->perp[k] : 0.0f);
        px = tx;
        pz = tz;
    }
    tl_needle_tracker_destroy(tr);
    tl_needle_detector_destroy(d);
    tl_bmode_free(&img);
    tl_imaging_plan_destroy(plan);
    tl_sim_destroy(sim);
    free(rf);
}

/* The shaft length at which the needle starts `short_mm` short of its
 * target (the simulator stops it there). */
static float start_short_of_target(uint64_t seed, const char *const *kv, float short_mm)
{
    tl_sim *sim = NULL;
    assert_int_equal(tl_sim_create("needle-insertion", seed, &sim), TL_OK);
    for (int i = 0; kv[i]; i++)
        assert_int_equal(tl_sim_set_param(sim, kv[i], NULL), TL_OK);
    assert_int_equal(tl_sim_set_param(sim, "needle_start_mm=0.5", NULL), TL_OK);
    tl_sim_truth t;
    assert_int_equal(tl_sim_render(sim, 2u, NULL, 0, &t), TL_OK);
    float c = cosf(t.needle.angle_deg * 3.14159265f / 180.0f);
    float s = sinf(t.needle.angle_deg * 3.14159265f / 180.0f);
    float ex = t.needle.tip_x_mm - 0.5f * c, ez = t.needle.tip_z_mm - 0.5f * s;
    assert_int_equal(tl_sim_render(sim, 1000000u, NULL, 0, &t), TL_OK);
    tl_sim_destroy(sim);
    return hypotf(t.needle.tip_x_mm - ex, t.needle.tip_z_mm - ez) - short_mm;
}

static void test_steep_needle_in_simulated_insertion(void **state)
{
    (void)state;
    const char *kv[] = { "anatomy=plantar-fascia", "needle_angle_deg=55", "needle_gauge=21",
                         "needle_speed_mm=0.5", "needle_start_frame=2", "needle_start_mm=12",
                         NULL };
    run_result r;
    run_insertion(3, kv, NULL, 9, &r);
    int shown = 0, in_plane = 0;
    float worst = 0.0f;
    for (int k = 0; k < r.frames; k++) {
        if (!r.present[k]) {
            assert_false(r.shown[k]);
            continue;
        }
        in_plane++;
        if (r.shown[k]) {
            shown++;
            worst = fmaxf(worst, r.err[k]);
            assert_true(fabsf(r.angle[k] - 55.0f) < 3.0f);
        }
    }
    printf("  55 deg: shown %d of %d frames, locked after %d, worst tip error %.2f mm\n", shown,
           in_plane, r.lock, worst);
    assert_int_equal(in_plane, 7);
    assert_true(shown >= 6);
    assert_true(r.lock >= 1 && r.lock <= 3);
    assert_true(worst < 1.5f);
}

/* A steep needle 2 mm short of its target at 0.7 mm a frame: it stops on
 * the fourth frame and stays. The background is held along the tracked
 * shaft but not beyond its tip: frozen there, the tissue ahead drifted from
 * the decorrelating speckle and read as the needle running on 1.3 mm past
 * where it stopped (2-3 mm in other insertions). */
static void test_stopped_needle_stays(void **state)
{
    (void)state;
    const char *kv[] = { "anatomy=achilles", "needle_angle_deg=35", "needle_gauge=22",
                         "needle_speed_mm=0.7", "needle_start_frame=2", NULL };
    char st[64];
    snprintf(st, sizeof st, "needle_start_mm=%.3f", start_short_of_target(7, kv, 2.0f));
    run_result r;
    run_insertion(7, kv, st, 14, &r);
    int still = 0, shown = 0;
    float worst = 0.0f;
    for (int k = 0; k < r.frames; k++) {
        if (!r.stopped[k])
            continue;
        still++;
        if (r.shown[k]) {
            shown++;
            worst = fmaxf(worst, r.err[k]);
        }
    }
    printf("  stopped needle: shown %d of %d frames, worst tip error %.2f mm\n", shown, still,
           worst);
    assert_true(still >= 7);
    assert_int_equal(shown, still);
    assert_true(worst < 1.0f);
}

/* An 18 degree, 21 G ankle needle over the tibia (eval needle seed 1, case
 * 173): its comet tail of copies lies over the cortex, and a copy 2.6 mm
 * beneath the shaft had won the search and kept the track all along. */
static void test_shaft_not_its_reverberation(void **state)
{
    (void)state;
    const char *kv[] = { "anatomy=ankle-recess", "needle_angle_deg=18.24", "needle_gauge=21",
                         "needle_speed_mm=0.451", "needle_drift_mm=0", "needle_start_frame=2",
                         NULL };
    run_result r;
    run_insertion(8092, kv, "needle_start_mm=34.647", 8, &r);
    int in_plane = 0, shown = 0;
    float worst = 0.0f, worst_perp = 0.0f;
    for (int k = 0; k < r.frames; k++) {
        if (!r.present[k])
            continue;
        in_plane++;
        if (r.shown[k]) {
            shown++;
            worst = fmaxf(worst, r.err[k]);
            worst_perp = fmaxf(worst_perp, fabsf(r.perp[k]));
        }
    }
    printf("  ankle needle: shown %d of %d frames, worst tip error %.2f mm, %.2f mm across\n",
           shown, in_plane, worst, worst_perp);
    assert_int_equal(in_plane, 6);
    assert_int_equal(shown, in_plane);
    assert_true(worst_perp < 0.5f);
    assert_true(worst < 0.8f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steep_needle_in_simulated_insertion),
        cmocka_unit_test(test_stopped_needle_stays),
        cmocka_unit_test(test_shaft_not_its_reverberation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
