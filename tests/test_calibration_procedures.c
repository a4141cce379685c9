/* calibration: each procedure recovers the errors the simulator was given
 * (frames rendered by tl_sim, envelope through imaging's analytic signal). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_calibration.h"
#include "tl_sim.h"

typedef struct {
    tl_sim *sim;
    tl_geometry g;
    int16_t *rf;
    float *env;
    tl_sim_truth truth;
} scene;

/* params: "k=v" strings, NULL-terminated. */
static void scene_open(scene *s, const char *preset, uint64_t seed, const char *const *params)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(tl_sim_create(preset, seed, &s->sim), TL_OK);
    for (; params && *params; params++)
        assert_int_equal(tl_sim_set_param(s->sim, *params, NULL), TL_OK);
    assert_int_equal(tl_sim_get_geometry(s->sim, &s->g), TL_OK);
    size_t n = (size_t)s->g.lines * s->g.samples;
    s->rf = malloc(n * sizeof *s->rf);
    s->env = malloc(n * sizeof *s->env);
    assert_non_null(s->rf);
    assert_non_null(s->env);
}

/* Render frame k and its envelope. */
static const float *scene_env(scene *s, uint32_t k)
{
    size_t n = (size_t)s->g.lines * s->g.samples;
    assert_int_equal(tl_sim_render(s->sim, k, s->rf, n, &s->truth), TL_OK);
    tl_frame f = { .geom = s->g, .type = TL_IMAGE_RF_REAL, .data = s->rf,
                   .data_bytes = n * sizeof *s->rf };
    assert_int_equal(tl_cal_envelope(&f, s->env), TL_OK);
    return s->env;
}

static void scene_close(scene *s)
{
    tl_sim_destroy(s->sim);
    free(s->rf);
    free(s->env);
}

static tl_status spatial(uint64_t seed, const char *const *params, float shift_phantom_mm,
                         tl_cal_spatial_result *r)
{
    scene s;
    scene_open(&s, "wire-phantom", seed, params);
    const float *env0 = scene_env(&s, 0);   /* also fills the truth */
    float wx[TL_SIM_MAX_WIRES];
    for (uint32_t w = 0; w < s.truth.n_wires; w++)
        wx[w] = s.truth.wire_x_mm[w] + shift_phantom_mm;
    tl_cal_spatial *sp;
    assert_int_equal(tl_cal_spatial_create(wx, s.truth.wire_z_mm, s.truth.n_wires, &s.g, &sp), TL_OK);
    assert_int_equal(tl_cal_spatial_add(sp, env0), TL_OK);
    for (uint32_t k = 1; k < 3; k++)
        assert_int_equal(tl_cal_spatial_add(sp, scene_env(&s, k)), TL_OK);
    tl_status st = tl_cal_spatial_finish(sp, NULL, r);
    tl_cal_spatial_destroy(sp);
    scene_close(&s);
    return st;
}

static void test_spatial_sos_and_offset(void **state)
{
    (void)state;
    const char *p[] = { "sos_error_pct=3", "lateral_offset_mm=0.4", NULL };
    tl_cal_spatial_result r;
    assert_int_equal(spatial(7, p, 0.0f, &r), TL_OK);
    assert_true(fabs(r.axial_scale_err_pct - 3.0) <= 0.3);
    assert_true(fabs(r.lateral_offset_mm - 0.4) <= 0.1);
    assert_true(r.residual_mm <= 0.2);
    assert_true(r.residual_before_mm > 0.4);   /* the error was there before */
    assert_true(fabs(r.speed_of_sound_m_s - 1540.0 * 1.03) < 5.0);
    assert_true(r.n_matched >= r.n_wires * 9 / 10);
    assert_true(r.pass);
    /* per-wire residuals are reported and small */
    for (uint32_t w = 0; w < r.n_listed; w++)
        if (isfinite(r.wire_residual_mm[w]))
            assert_true(r.wire_residual_mm[w] < 0.2f);
}

static void test_spatial_no_error(void **state)
{
    (void)state;
    tl_cal_spatial_result r;
    assert_int_equal(spatial(8, NULL, 0.0f, &r), TL_OK);
    assert_true(fabs(r.axial_scale_err_pct) <= 0.3);
    assert_true(fabs(r.lateral_offset_mm) <= 0.1);
    assert_true(r.residual_mm <= 0.2);
    assert_true(r.pass);
}

/* Randomised small evaluation: other errors, other seeds. */
static void test_spatial_random_cases(void **state)
{
    (void)state;
    tl_rng rng;
    tl_rng_seed(&rng, 2024);
    for (int i = 0; i < 3; i++) {
        double e = tl_rng_range(&rng, -4.0, 4.0), d = tl_rng_range(&rng, -1.0, 1.0);
        char a[64], b[64];
        snprintf(a, sizeof a, "sos_error_pct=%.3f", e);
        snprintf(b, sizeof b, "lateral_offset_mm=%.3f", d);
        const char *p[] = { a, b, NULL };
        tl_cal_spatial_result r;
        assert_int_equal(spatial(100 + (uint64_t)i, p, 0.0f, &r), TL_OK);
        assert_true(fabs(r.axial_scale_err_pct - e) <= 0.3);
        assert_true(fabs(r.lateral_offset_mm - d) <= 0.1);
        assert_true(r.residual_mm <= 0.2);
    }
}

/* Convex array: the range along each ray carries the speed-of-sound error. */
static void test_spatial_convex(void **state)
{
    (void)state;
    const char *p[] = { "convex=1", "radius_mm=30", "sos_error_pct=-3", "lateral_offset_mm=0.5",
                        NULL };
    tl_cal_spatial_result r;
    assert_int_equal(spatial(12, p, 0.0f, &r), TL_OK);
    assert_true(fabs(r.axial_scale_err_pct + 3.0) <= 0.3);
    assert_true(fabs(r.lateral_offset_mm - 0.5) <= 0.1);
    assert_true(r.residual_mm <= 0.2);
    assert_true(r.pass);
}

/* A phantom description that does not fit the image is not calibrated. */
static void test_spatial_wrong_phantom(void **state)
{
    (void)state;
    tl_cal_spatial_result r;
    tl_status st = spatial(9, NULL, 3.6f, &r);
    assert_true(st == TL_ERR_NOT_FOUND || !r.pass);
}

static void elements(const char *const *p, tl_cal_elements_result *r)
{
    scene s;
    scene_open(&s, "in-air", 3, p);
    tl_cal_elements *e;
    assert_int_equal(tl_cal_elements_create(&s.g, 128, &e), TL_OK);
    for (uint32_t k = 0; k < 2; k++)
        assert_int_equal(tl_cal_elements_add(e, scene_env(&s, k)), TL_OK);
    assert_int_equal(tl_cal_elements_finish(e, NULL, r), TL_OK);
    tl_cal_elements_destroy(e);
    scene_close(&s);
}

static void test_elements_dead_and_weak(void **state)
{
    (void)state;
    tl_cal_elements_result *r = malloc(sizeof *r);
    const char *p[] = { "dead_elements=7 64 120", "weak_elements=33 90", NULL };
    elements(p, r);
    assert_int_equal(r->n_dead, 3);
    assert_int_equal(r->dead[0], 7);
    assert_int_equal(r->dead[1], 64);
    assert_int_equal(r->dead[2], 120);
    assert_int_equal(r->n_weak, 2);
    assert_int_equal(r->weak[0], 33);
    assert_int_equal(r->weak[1], 90);
    assert_false(r->pass);
    assert_true(fabsf(r->sensitivity_db[33] + 6.0f) < 1.5f);   /* -6 dB */
    /* a healthy probe */
    elements(NULL, r);
    assert_int_equal(r->n_dead, 0);
    assert_int_equal(r->n_weak, 0);
    assert_true(r->pass);
    free(r);
}

static void uniformity(const char *const *p, tl_cal_uniformity_result *r)
{
    scene s;
    scene_open(&s, "uniform-phantom", 5, p);
    tl_cal_uniformity *u;
    assert_int_equal(tl_cal_uniformity_create(&s.g, &u), TL_OK);
    for (uint32_t k = 0; k < 6; k++)
        assert_int_equal(tl_cal_uniformity_add(u, scene_env(&s, k)), TL_OK);
    tl_cal_uniformity_result early;
    assert_int_equal(tl_cal_uniformity_finish(u, NULL, &early), TL_ERR_NOT_FOUND);
    /* check frames: later in the sequence (speckle decorrelated) */
    for (uint32_t k = 100; k < 106; k++)
        assert_int_equal(tl_cal_uniformity_add(u, scene_env(&s, k)), TL_OK);
    assert_int_equal(tl_cal_uniformity_finish(u, NULL, r), TL_OK);
    tl_cal_uniformity_destroy(u);
    scene_close(&s);
}

static void test_uniformity_tilt(void **state)
{
    (void)state;
    tl_cal_uniformity_result r;
    const char *p[] = { "gain_tilt_db=6", NULL };
    uniformity(p, &r);
    assert_true(fabsf(r.tilt_db - 6.0f) <= 1.0f);
    assert_true(fabsf(r.corrected_tilt_db) <= 1.0f);
    assert_true(r.tgc_db[0] > r.tgc_db[7] + 3.0f);   /* more gain near, less deep */
    assert_true(r.pass);
}

static void test_needle_guide(void **state)
{
    (void)state;
    const float angles[] = { 35.0f, 50.0f };
    for (int i = 0; i < 2; i++) {
        char a[64];
        snprintf(a, sizeof a, "guide_angle_deg=%g", angles[i]);
        const char *p[] = { a, NULL };
        scene s;
        scene_open(&s, "needle-guide", 11 + (uint64_t)i, p);
        tl_cal_guide *g;
        assert_int_equal(tl_cal_guide_create(&s.g, &g), TL_OK);
        for (uint32_t k = 0; k < 2; k++)
            assert_int_equal(tl_cal_guide_add(g, scene_env(&s, k)), TL_OK);
        tl_cal_guide_result r;
        assert_int_equal(tl_cal_guide_finish(g, angles[i], NULL, &r), TL_OK);
        assert_true(fabsf(r.angle_deg - angles[i]) <= 0.5f);
        double th = s.truth.needle.angle_deg * M_PI / 180.0;
        double x0 = s.truth.needle.entry_x_mm - s.truth.needle.entry_z_mm / tan(th);
        assert_true(fabs(r.offset_mm - x0) <= 0.5);
        assert_true(r.pass);
        /* a bracket marked 10 degrees off fails */
        tl_cal_guide_result r2;
        assert_int_equal(tl_cal_guide_finish(g, angles[i] + 10.0f, NULL, &r2), TL_OK);
        assert_false(r2.pass);
        tl_cal_guide_destroy(g);
        scene_close(&s);
    }
}

/* No needle: no line is made up. */
static void test_needle_guide_absent(void **state)
{
    (void)state;
    scene s;
    scene_open(&s, "uniform-phantom", 2, NULL);
    tl_cal_guide *g;
    assert_int_equal(tl_cal_guide_create(&s.g, &g), TL_OK);
    for (uint32_t k = 0; k < 2; k++)
        assert_int_equal(tl_cal_guide_add(g, scene_env(&s, k)), TL_OK);
    tl_cal_guide_result r;
    assert_int_equal(tl_cal_guide_finish(g, NAN, NULL, &r), TL_ERR_NOT_FOUND);
    tl_cal_guide_destroy(g);
    scene_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spatial_sos_and_offset),
        cmocka_unit_test(test_spatial_no_error),
        cmocka_unit_test(test_spatial_random_cases),
        cmocka_unit_test(test_spatial_convex),
        cmocka_unit_test(test_spatial_wrong_phantom),
        cmocka_unit_test(test_elements_dead_and_weak),
        cmocka_unit_test(test_uniformity_tilt),
        cmocka_unit_test(test_needle_guide),
        cmocka_unit_test(test_needle_guide_absent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
