/* Temporal tracker and overlay of tl_analysis, on synthetic frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_analysis_synth.h"
#include "tl_analysis.h"

/* A plausible frame result with a given thickness and border position. */
static void fake(tl_analysis_result *r, float thick, float top, bool target)
{
    memset(r, 0, sizeof *r);
    r->anatomy = TL_AN_PLANTAR_FASCIA;
    r->structure_found = true;
    r->thickness_mm = thick;
    r->thickness_sd_mm = 0.05f;
    r->abnormal_limit_mm = 4.0f;
    r->abnormal = thick > 4.0f;
    r->superficial.n = 20;
    for (uint32_t i = 0; i < 20; i++) {
        r->superficial.x_mm[i] = (float)i;
        r->superficial.z_mm[i] = top;
    }
    r->best_target = -1;
    if (target) {
        r->n_targets = 1;
        r->targets[0] = (tl_analysis_target){ 0, 10.0f, 9.0f, 4.0f, 1.5f, 5.0f, -9.0f, 0.8f };
        r->best_target = 0;
    }
}

static void test_tracker_smooths(void **state)
{
    (void)state;
    tl_analysis_tracker *t = NULL;
    assert_int_equal(tl_analysis_tracker_create(&t), TL_OK);
    tl_rng rng;
    tl_rng_seed(&rng, 7);
    double raw_var = 0, sm_var = 0;
    int n = 0;
    for (int k = 0; k < 60; k++) {
        tl_analysis_result f, s;
        float noise = (float)tl_rng_normal(&rng) * 0.2f;
        fake(&f, 3.0f + noise, 8.0f + noise, false);
        assert_int_equal(tl_analysis_tracker_update(t, &f, &s), TL_OK);
        if (k >= 10) {
            raw_var += (double)noise * noise;
            sm_var += (s.thickness_mm - 3.0) * (s.thickness_mm - 3.0);
            n++;
            /* outlines don't jump: smoothed border moves less than the raw one */
            assert_true(fabsf(s.superficial.z_mm[5] - 8.0f) <= fabsf(noise) + 0.15f);
            assert_true(s.thickness_sd_mm > 0.0f && s.thickness_sd_mm < 0.3f);
        }
    }
    assert_true(sm_var / n < 0.5 * raw_var / n);
    /* a real change (the probe moved to a thicker fascia) is followed at once */
    tl_analysis_result f, s;
    fake(&f, 6.0f, 8.0f, false);
    tl_analysis_tracker_update(t, &f, &s);
    assert_true(fabsf(s.thickness_mm - 6.0f) < 0.01f);
    assert_true(s.abnormal);
    tl_analysis_tracker_destroy(t);
}

static void test_tracker_confirms_targets(void **state)
{
    (void)state;
    tl_analysis_tracker *t = NULL;
    assert_int_equal(tl_analysis_tracker_create(&t), TL_OK);
    tl_analysis_result f, s;
    fake(&f, 3.0f, 8.0f, false);
    tl_analysis_tracker_update(t, &f, &s);
    /* a blob seen in one frame only is not a target */
    fake(&f, 3.0f, 8.0f, true);
    tl_analysis_tracker_update(t, &f, &s);
    assert_int_equal(s.n_targets, 0);
    /* seen again: confirmed, best target set */
    f.targets[0].x_mm += 0.3f;
    tl_analysis_tracker_update(t, &f, &s);
    assert_int_equal(s.n_targets, 1);
    assert_int_equal(s.best_target, 0);
    assert_true(fabsf(s.targets[0].x_mm - 10.1f) < 0.3f);
    /* gone for four frames: dropped */
    fake(&f, 3.0f, 8.0f, false);
    for (int k = 0; k < 4; k++)
        tl_analysis_tracker_update(t, &f, &s);
    assert_int_equal(s.n_targets, 0);
    assert_int_equal(tl_analysis_tracker_update(NULL, &f, &s), TL_ERR_INVALID_ARG);
    tl_analysis_tracker_destroy(t);
}

static void test_overlay_draws(void **state)
{
    (void)state;
    synth_spec sp = synth_default();
    sp.bone_z_mm = 12.0f;
    sp.bone_x1_mm = 18.0f;
    tl_bmode img;
    synth_render(&sp, &img);
    tl_analyzer *a = NULL;
    tl_analyzer_create(&a);
    tl_analysis_params p = tl_analysis_params_default(TL_AN_PLANTAR_FASCIA);
    tl_analysis_result r;
    assert_int_equal(tl_analyze(a, &img, &p, &r), TL_OK);
    size_t stride = (size_t)img.width * 3;
    uint8_t *rgb = malloc(stride * img.height);
    assert_int_equal(tl_analysis_draw_overlay(&img, &r, rgb, (uint32_t)stride), TL_OK);
    /* the superficial border (8 mm) is drawn green at x = 30 mm */
    uint32_t col = (uint32_t)(30.0f / sp.spacing_mm), row = (uint32_t)(8.0f / sp.spacing_mm);
    bool green = false;
    for (int d = -3; d <= 3; d++) {
        const uint8_t *px = rgb + (size_t)(row + d) * stride + col * 3;
        green |= px[1] > 200 && px[0] < 100 && px[2] < 100;
    }
    assert_true(green);
    /* far from anything drawn the picture is the grey image */
    const uint8_t *px = rgb + (size_t)5 * stride + 5 * 3;
    assert_int_equal(px[0], img.pixels[5 * img.stride + 5]);
    assert_int_equal(px[0], px[1]);
    assert_int_equal(tl_analysis_draw_overlay(&img, &r, rgb, 10), TL_ERR_INVALID_ARG);
    free(rgb);
    free(img.pixels);
    tl_analyzer_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tracker_smooths),
        cmocka_unit_test(test_tracker_confirms_targets),
        cmocka_unit_test(test_overlay_draws),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
