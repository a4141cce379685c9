/* hw-sim API: presets and parameters, validation, determinism, truth JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_sim.h"
#include "sim_test_util.h"

static void test_presets_and_params_listed(void **state)
{
    (void)state;
    static const char *const want[] = { "plantar-fascia", "achilles", "ankle-recess",
                                        "wire-phantom", "uniform-phantom", "in-air",
                                        "needle-insertion", "needle-guide" };
    assert_int_equal(tl_sim_preset_count(), 8);
    for (size_t i = 0; i < 8; i++) {
        assert_string_equal(tl_sim_preset_name(i), want[i]);
        assert_non_null(tl_sim_preset_description(i));
        assert_true(tl_sim_param_count(want[i]) >= 20);
    }
    assert_null(tl_sim_preset_name(8));
    /* the names other modules rely on */
    static const char *const names[] = {
        "thickness_mm", "lesion", "lesion_width_mm", "lesion_depth_mm", "lesion_contrast_db",
        "lesion_kind", "fluid", "anisotropy_deg", "f0_mhz", "depth_mm", "gain_db", "noise_db",
        "speckle", "lines", "samples", "convex", "radius_mm", "anatomy", "needle",
        "needle_angle_deg", "needle_gauge", "needle_speed_mm", "needle_drift_mm",
        "needle_start_frame", "sos_error_pct", "lateral_offset_mm", "dead_elements",
        "weak_elements", "gain_tilt_db",
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        bool found = false;
        for (size_t i = 0; i < tl_sim_param_count("needle-insertion"); i++) {
            const char *n, *d, *h;
            assert_int_equal(tl_sim_param_info("needle-insertion", i, &n, &d, &h), TL_OK);
            found |= strcmp(n, names[k]) == 0;
        }
        if (!found)
            fail_msg("parameter %s missing", names[k]);
    }
    tl_sim *s;
    assert_int_equal(tl_sim_create("ankle-recess", 1, &s), TL_OK);
    assert_int_equal(tl_sim_set_param(s, "effusion_grade", "3"), TL_OK);
    assert_int_equal(tl_sim_set_param(s, "cartilage_mm=1.4", NULL), TL_OK);
    tl_sim_destroy(s);
    assert_int_equal(tl_sim_create("needle-guide", 1, &s), TL_OK);
    assert_int_equal(tl_sim_set_param(s, "guide_angle_deg", "35"), TL_OK);
    tl_sim_destroy(s);
    assert_int_equal(tl_sim_create("achilles", 1, &s), TL_OK);
    assert_int_equal(tl_sim_set_param(s, "site", "insertion"), TL_OK);
    tl_sim_destroy(s);
}

static void test_bad_params_rejected(void **state)
{
    (void)state;
    tl_sim *s = NULL;
    assert_int_equal(tl_sim_create("kneecap", 1, &s), TL_ERR_NOT_FOUND);
    assert_null(s);
    assert_int_equal(tl_sim_create("plantar-fascia", 1, &s), TL_OK);
    assert_int_equal(tl_sim_set_param(s, "no_such_param", "1"), TL_ERR_NOT_FOUND);
    assert_int_equal(tl_sim_set_param(s, "effusion_grade", "1"), TL_ERR_NOT_FOUND); /* ankle */
    assert_int_equal(tl_sim_set_param(s, "thickness_mm", "abc"), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_sim_set_param(s, "thickness_mm", "3.0mm"), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_sim_set_param(s, "thickness_mm", "-2"), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_sim_set_param(s, "thickness_mm", "nan"), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_sim_set_param(s, "f0_mhz", "20"), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_sim_set_param(s, "lines", "64.5"), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_sim_set_param(s, "lesion", "maybe"), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_sim_set_param(s, "lesion_kind", "purple"), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_sim_set_param(s, "dead_elements", "3,x"), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_sim_set_param(s, "dead_elements", "3,200"), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_sim_set_param(s, "thickness_mm", NULL), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_sim_set_param(NULL, "lines", "64"), TL_ERR_INVALID_ARG);
    /* a rejected value leaves the old one: the frame still renders */
    tl_geometry g;
    assert_int_equal(tl_sim_get_geometry(s, &g), TL_OK);
    assert_int_equal(g.lines, 128);
    size_t n = (size_t)g.lines * g.samples;
    int16_t *rf = malloc(n * sizeof *rf);
    assert_non_null(rf);
    assert_int_equal(tl_sim_render(s, 0, rf, n - 1, NULL), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_sim_render(s, 0, rf, n, NULL), TL_OK);
    /* parameters that do not combine: fs < 4 f0 */
    assert_int_equal(tl_sim_set_param(s, "fs_mhz", "30"), TL_OK);
    assert_int_equal(tl_sim_render(s, 0, rf, n, NULL), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_sim_set_param(s, "fs_mhz", "0"), TL_OK);
    assert_int_equal(tl_sim_render(s, 0, rf, n, NULL), TL_OK);
    /* a geometry the simulator cannot render */
    g.f0_hz = 20e6f;
    assert_int_equal(tl_sim_set_geometry(s, &g), TL_ERR_INVALID_ARG);
    free(rf);
    tl_sim_destroy(s);
}

static void test_deterministic(void **state)
{
    (void)state;
    simt_frame a, b, c, d;
    simt_render(&a, "needle-insertion", 42, 5, "anatomy=achilles", NULL);
    simt_render(&b, "needle-insertion", 42, 5, "anatomy=achilles", NULL);
    simt_render(&c, "needle-insertion", 43, 5, "anatomy=achilles", NULL);
    simt_render(&d, "needle-insertion", 42, 6, "anatomy=achilles", NULL);
    size_t n = (size_t)a.g.lines * a.g.samples;
    assert_memory_equal(a.rf, b.rf, n * sizeof(int16_t));
    assert_memory_not_equal(a.rf, c.rf, n * sizeof(int16_t));
    assert_memory_not_equal(a.rf, d.rf, n * sizeof(int16_t));
    /* rendering frame 5 again after frame 6 on the same simulator */
    int16_t *again = malloc(n * sizeof *again);
    assert_non_null(again);
    assert_int_equal(tl_sim_render(d.sim, 5, again, n, NULL), TL_OK);
    assert_memory_equal(a.rf, again, n * sizeof(int16_t));
    free(again);
    simt_free(&a);
    simt_free(&b);
    simt_free(&c);
    simt_free(&d);
}

static void test_truth_json(void **state)
{
    (void)state;
    simt_frame f;
    simt_render(&f, "plantar-fascia", 3, 0, "thickness_mm=4.6", "lesion=1", "fluid=1", NULL);
    assert_float_equal(f.truth.thickness_mm, 4.6, 1e-5);
    assert_int_equal(f.truth.anatomy, TL_ANATOMY_PLANTAR_FASCIA);
    assert_int_equal(f.truth.n_lesions, 2);
    assert_true(tl_sim_lesion_contains(&f.truth.lesions[0], f.truth.lesions[0].cx_mm,
                                       f.truth.lesions[0].cz_mm));
    assert_false(tl_sim_lesion_contains(&f.truth.lesions[0], f.truth.lesions[0].cx_mm + 20,
                                        f.truth.lesions[0].cz_mm));
    char *js = NULL;
    assert_int_equal(tl_sim_truth_to_json(&f.truth, &js), TL_OK);
    cJSON *o = cJSON_Parse(js);
    assert_non_null(o);
    assert_float_equal(cJSON_GetObjectItem(o, "thickness_mm")->valuedouble, 4.6, 1e-4);
    assert_string_equal(cJSON_GetObjectItem(o, "preset")->valuestring, "plantar-fascia");
    cJSON *bs = cJSON_GetObjectItem(o, "boundaries");
    bool sup = false, deep = false, calc = false;
    cJSON *b;
    cJSON_ArrayForEach(b, bs)
    {
        const char *k = cJSON_GetObjectItem(b, "kind")->valuestring;
        int n = cJSON_GetArraySize(cJSON_GetObjectItem(b, "x_mm"));
        assert_int_equal(n, cJSON_GetArraySize(cJSON_GetObjectItem(b, "z_mm")));
        assert_true(n >= 2 && n <= TL_SIM_MAX_POINTS);
        sup |= !strcmp(k, "fascia_superficial");
        deep |= !strcmp(k, "fascia_deep");
        calc |= !strcmp(k, "calcaneus");
    }
    assert_true(sup && deep && calc);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "lesions")), 2);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "lesions"), 1), "kind")
            ->valuestring,
        "fluid");
    cJSON_Delete(o);
    free(js);
    simt_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presets_and_params_listed),
        cmocka_unit_test(test_bad_params_rejected),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_truth_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
