/* tl_analysis on synthetic B-mode images with known geometry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_analysis_synth.h"
#include "tl_analysis.h"

static synth_spec heel(float thick, uint64_t seed)
{
    synth_spec s = synth_default();
    s.seed = seed;
    s.band_thick_mm = thick;
    s.bone_z_mm = 8.0f + thick + 1.0f;
    s.bone_x0_mm = 0;
    s.bone_x1_mm = 18.0f;
    return s;
}

static void test_plantar_thickness(void **state)
{
    (void)state;
    const float th[] = { 2.2f, 3.0f, 4.6f, 6.5f };
    for (int i = 0; i < 4; i++) {
        synth_spec s = heel(th[i], 10 + i);
        tl_analysis_result r = synth_analyze(&s, TL_AN_PLANTAR_FASCIA);
        assert_true(r.structure_found);
        assert_true(fabsf(r.thickness_mm - th[i]) < 0.25f);
        assert_true(fabsf(r.site_x_mm - 18.0f) < 1.5f);
        assert_int_equal(r.abnormal, th[i] > 4.0f);
        assert_int_equal(r.n_targets, 0);
        assert_true(r.bone.n > 10);
    }
}

static void test_plantar_lesion(void **state)
{
    (void)state;
    synth_spec s = heel(4.0f, 3);
    s.n_ell = 1;
    s.ell[0] = (synth_ellipse){ 25.0f, 10.0f, 4.0f, 2.0f, -10.0f };
    tl_analysis_result r = synth_analyze(&s, TL_AN_PLANTAR_FASCIA);
    assert_true(r.structure_found);
    assert_true(r.n_targets >= 1);
    assert_int_equal(r.best_target, 0);
    assert_true(hypotf(r.targets[0].x_mm - 25.0f, r.targets[0].z_mm - 10.0f) < 0.7f);
    assert_true(r.targets[0].contrast_db < -5.0f && r.targets[0].contrast_db > -15.0f);
    assert_true(fabsf(r.thickness_mm - 4.0f) < 0.3f);
}

static void test_achilles_limits(void **state)
{
    (void)state;
    assert_true(fabsf(tl_achilles_limit_mm(false, 20, 'M') - 6.0f) < 1e-4f);
    assert_true(fabsf(tl_achilles_limit_mm(false, 80, 'F') - 8.0f) < 1e-4f);
    assert_true(fabsf(tl_achilles_limit_mm(false, 50, 'M') - 7.2f) < 1e-4f);
    assert_true(fabsf(tl_achilles_limit_mm(true, 50, 'F') - 4.7f) < 1e-4f);
    assert_true(fabsf(tl_achilles_limit_mm(true, 10, 'M') - 4.8f) < 1e-4f);
    assert_true(fabsf(tl_achilles_limit_mm(false, 0, 0) - 8.4f) < 1e-4f);
    assert_true(fabsf(tl_achilles_limit_mm(true, 30, 0) - 4.95f) < 1e-4f);
}

static void test_achilles_midportion(void **state)
{
    (void)state;
    synth_spec s = synth_default();
    s.band_top_mm = 5.0f;
    s.band_thick_mm = 6.8f;
    tl_analysis_result r = synth_analyze(&s, TL_AN_ACHILLES);
    assert_true(r.structure_found);
    assert_true(fabsf(r.thickness_mm - 6.8f) < 0.3f);
    assert_false(r.insertion_view);
    /* no age/sex: conservative 8.4 mm, and a warning says so */
    assert_false(r.abnormal);
    bool warned = false;
    for (uint32_t i = 0; i < r.n_warnings; i++)
        warned |= strstr(r.warnings[i], "age") != NULL;
    assert_true(warned);
    tl_bmode img;
    synth_render(&s, &img);
    tl_analyzer *a = NULL;
    tl_analyzer_create(&a);
    tl_analysis_params p = tl_analysis_params_default(TL_AN_ACHILLES);
    p.age_years = 20;
    p.sex = 'M';
    assert_int_equal(tl_analyze(a, &img, &p, &r), TL_OK);
    assert_true(r.abnormal);
    tl_analyzer_destroy(a);
    free(img.pixels);
}

static void test_bad_input(void **state)
{
    (void)state;
    tl_analyzer *a = NULL;
    assert_int_equal(tl_analyzer_create(&a), TL_OK);
    tl_analysis_params p = tl_analysis_params_default(TL_AN_PLANTAR_FASCIA);
    tl_analysis_result r;
    uint8_t px[64 * 64];
    memset(px, 0, sizeof px);
    tl_bmode img = { .width = 64, .height = 64, .stride = 64, .spacing_mm = 0.0f, .pixels = px };
    assert_int_equal(tl_analyze(a, &img, &p, &r), TL_ERR_INVALID_ARG);
    img.spacing_mm = 0.1f;
    p.anatomy = 7;
    assert_int_equal(tl_analyze(a, &img, &p, &r), TL_ERR_INVALID_ARG);
    p.anatomy = TL_AN_ACHILLES;
    /* a black image: analysed, nothing found, said so */
    assert_int_equal(tl_analyze(a, &img, &p, &r), TL_OK);
    assert_false(r.structure_found);
    assert_true(isnan(r.thickness_mm));
    assert_true(r.n_warnings >= 1);
    img.width = 8;
    assert_int_equal(tl_analyze(a, &img, &p, &r), TL_ERR_INVALID_ARG);
    tl_analyzer_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plantar_thickness),
        cmocka_unit_test(test_plantar_lesion),
        cmocka_unit_test(test_achilles_limits),
        cmocka_unit_test(test_achilles_midportion),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
