/* Needle tests through the station's real chain on the needle scheme's
 * frames: simulator RF (steered or straight) -> imaging -> needle follower
 * (header-only, static functions; test_guidance_steer.c, _hold, _shallow,
 * test_guidance_tip.c). */
#ifndef TEST_GUIDANCE_SCHEME_H
#define TEST_GUIDANCE_SCHEME_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_guidance.h"
#include "tl_imaging.h"
#include "tl_sim.h"

/* One imaging plan per beam direction, as the station keeps them. */
typedef struct {
    tl_geometry straight, steered;
    float steer_deg;             /* the scheme's steering; 0 = straight frames only */
    tl_needle_scheme scheme;
    tl_imaging_plan *plan_straight, *plan_steered;
    int16_t *rf;
    size_t n;
    tl_bmode img;
    tl_needle_follower *fol;
} scheme_rig;

/* steer: follow the station's scheme (needle inserted from the left), or
 * straight frames only. */
static void scheme_open(scheme_rig *r, tl_sim *sim, bool steer)
{
    memset(r, 0, sizeof *r);
    assert_int_equal(tl_sim_set_param(sim, "steer_deg", "0"), TL_OK);
    assert_int_equal(tl_sim_get_geometry(sim, &r->straight), TL_OK);
    r->scheme = tl_needle_scheme_default();
    r->steer_deg = steer ? tl_needle_scheme_steer(&r->scheme, +1, 30.0f) : 0.0f;
    r->steered = r->straight;
    r->steered.steer_deg = r->steer_deg;
    r->n = (size_t)r->straight.lines * r->straight.samples;
    r->rf = malloc(r->n * sizeof *r->rf);
    assert_non_null(r->rf);
    tl_imaging_params ip = tl_imaging_params_default();
    assert_int_equal(tl_imaging_plan_create(&r->straight, TL_IMAGE_RF_REAL, &ip, &r->plan_straight), TL_OK);
    assert_int_equal(tl_imaging_plan_create(&r->steered, TL_IMAGE_RF_REAL, &ip, &r->plan_steered), TL_OK);
    assert_int_equal(tl_imaging_bmode_alloc(r->plan_straight, &r->img), TL_OK);
    assert_int_equal(tl_needle_follower_create(NULL, NULL, &r->fol), TL_OK);
}

/* Render frame k with the scheme's steering, image it and follow the
 * needle; returns the frame's steering (degrees, 0 = straight). */
static float scheme_frame(scheme_rig *r, tl_sim *sim, uint32_t k, tl_sim_truth *t,
                          tl_needle_detection *det, tl_needle_track *trk)
{
    bool st = r->steer_deg != 0.0f && !tl_needle_scheme_frame_straight(&r->scheme, k);
    float fb = st ? r->steer_deg : 0.0f;
    char v[32];
    snprintf(v, sizeof v, "%.3f", (double)fb);
    assert_int_equal(tl_sim_set_param(sim, "steer_deg", v), TL_OK);
    assert_int_equal(tl_sim_render(sim, k, r->rf, r->n, t), TL_OK);
    assert_float_equal(t->geom.steer_deg, fb, 1e-4);
    tl_frame fr;
    memset(&fr, 0, sizeof fr);
    fr.geom = st ? r->steered : r->straight;
    fr.type = TL_IMAGE_RF_REAL;
    fr.seq = k;
    fr.data = r->rf;
    fr.data_bytes = r->n * sizeof *r->rf;
    assert_int_equal(tl_imaging_execute(st ? r->plan_steered : r->plan_straight, &fr, &r->img, NULL), TL_OK);
    assert_int_equal(tl_needle_follower_frame(r->fol, &r->img, fb, NULL, det, trk), TL_OK);
    return fb;
}

/* A needle-insertion scene of the eval (kv: simulator parameters,
 * NULL-terminated) on the station's scheme; scheme_close + tl_sim_destroy
 * when done. */
static inline tl_sim *scheme_case_open(scheme_rig *r, uint64_t seed, const char *const *kv)
{
    tl_sim *sim = NULL;
    assert_int_equal(tl_sim_create("needle-insertion", seed, &sim), TL_OK);
    for (int i = 0; kv[i]; i++)
        assert_int_equal(tl_sim_set_param(sim, kv[i], NULL), TL_OK);
    scheme_open(r, sim, true);
    return sim;
}

static void scheme_close(scheme_rig *r)
{
    tl_needle_follower_destroy(r->fol);
    tl_bmode_free(&r->img);
    tl_imaging_plan_destroy(r->plan_straight);
    tl_imaging_plan_destroy(r->plan_steered);
    free(r->rf);
}

enum { SCHEME_MAX_FRAMES = 16 };

/* One eval case followed frame by frame on the scheme, against the truth. */
typedef struct {
    int frames;
    bool present[SCHEME_MAX_FRAMES]; /* needle there and in plane */
    bool shown[SCHEME_MAX_FRAMES], flagged[SCHEME_MAX_FRAMES];
    float err[SCHEME_MAX_FRAMES];    /* tracked tip - true tip (mm), when shown */
    float along[SCHEME_MAX_FRAMES];  /* ... along the true shaft (+ = deeper than the truth) */
} scheme_run;

/* The eval's acquisition and following for one case (kv: simulator
 * parameters, NULL-terminated), frames from 0; a line per frame on stdout. */
static inline void scheme_run_case(uint64_t seed, const char *const *kv, int frames, scheme_run *r)
{
    memset(r, 0, sizeof *r);
    r->frames = frames < SCHEME_MAX_FRAMES ? frames : SCHEME_MAX_FRAMES;
    scheme_rig rig;
    tl_sim *sim = scheme_case_open(&rig, seed, kv);
    for (int k = 0; k < r->frames; k++) {
        tl_sim_truth t;
        tl_needle_detection det;
        tl_needle_track trk;
        float fb = scheme_frame(&rig, sim, (uint32_t)k, &t, &det, &trk);
        float tx = t.needle.tip_x_mm - rig.img.origin_x_mm, tz = t.needle.tip_z_mm - rig.img.origin_z_mm;
        double a = t.needle.angle_deg * 3.14159265358979 / 180.0;
        r->present[k] = t.needle.present && t.needle.in_plane;
        r->shown[k] = trk.found;
        r->flagged[k] = trk.out_of_plane;
        r->err[k] = hypotf(trk.tip_x_mm - tx, trk.tip_z_mm - tz);
        r->along[k] = (float)((trk.tip_x_mm - tx) * cos(a) + (trk.tip_z_mm - tz) * sin(a));
        printf("  frame %2d (steer %5.1f): needle %d (%.2f mm out) | detection %d conf %.2f "
               "(%.2f, %.2f) %.1f deg %s | track %-12s shown %d%s, tip error %.2f mm (%+.2f along)\n",
               k, (double)fb, r->present[k], (double)t.needle.out_of_plane_mm, det.found,
               (double)det.confidence, (double)det.tip_x_mm, (double)det.tip_z_mm,
               (double)det.angle_deg, det.reason ? det.reason : "", tl_track_state_name(trk.state),
               trk.found, trk.out_of_plane ? " (out of plane)" : "",
               trk.found ? (double)r->err[k] : -1.0, trk.found ? (double)r->along[k] : 0.0);
    }
    scheme_close(&rig);
    tl_sim_destroy(sim);
}

/* Over the in-plane frames: how many (*in_plane), how many showed the
 * needle (*shown) or flagged it out of plane (*flagged, may be NULL);
 * returns the worst tip error of those shown. */
static inline float scheme_run_tally(const scheme_run *r, int *in_plane, int *shown, int *flagged)
{
    float worst = 0.0f;
    *in_plane = *shown = 0;
    if (flagged)
        *flagged = 0;
    for (int k = 0; k < r->frames; k++) {
        if (!r->present[k])
            continue;
        (*in_plane)++;
        if (flagged)
            *flagged += r->flagged[k];
        if (r->shown[k]) {
            (*shown)++;
            worst = fmaxf(worst, r->err[k]);
        }
    }
    return worst;
}

#endif
