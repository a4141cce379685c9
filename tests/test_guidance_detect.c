/* Needle detection on synthetic B-mode scenes: found where it is, with a
 * sub-millimetre tip and a sub-degree angle; not found where there is none
 * (speckle, fascia, tendon, bone); indifferent to gain and offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_guidance_synth.h"
#include "tl_guidance.h"

static tl_needle_detection detect_scene(const synth_scene *s)
{
    tl_bmode img;
    assert_int_equal(synth_render(s, &img), 0);
    tl_needle_detector *d = NULL;
    assert_int_equal(tl_needle_detector_create(NULL, &d), TL_OK);
    tl_needle_detection det;
    assert_int_equal(tl_needle_detect(d, &img, NULL, &det), TL_OK);
    tl_needle_detector_destroy(d);
    synth_free(&img);
    printf("  found=%d tip=(%.2f, %.2f) angle=%.2f len=%.1f contrast=%.1f conf=%.2f (%s)\n",
           det.found, det.tip_x_mm, det.tip_z_mm, det.angle_deg, det.length_mm, det.contrast,
           det.confidence, det.reason);
    return det;
}

static void expect_needle(const synth_scene *s, float tip_tol, float angle_tol)
{
    tl_needle_detection det = detect_scene(s);
    float truth = (float)(atan2(s->tip_z_mm - s->entry_z_mm, s->tip_x_mm - s->entry_x_mm) /
                          (3.14159265358979 / 180.0));
    if (truth > 90.0f)
        truth -= 180.0f;
    if (truth < -90.0f)
        truth += 180.0f;
    assert_true(det.found);
    float err = hypotf(det.tip_x_mm - s->tip_x_mm, det.tip_z_mm - s->tip_z_mm);
    printf("  tip error %.3f mm, angle error %.3f deg\n", err, det.angle_deg - truth);
    assert_true(err < tip_tol);
    assert_true(fabsf(det.angle_deg - truth) < angle_tol);
    assert_true(det.confidence >= 0.5f && det.confidence <= 1.0f);
}

static void test_needle_from_left(void **state)
{
    (void)state;
    synth_scene s = synth_default();
    s.needle_amp = 6.0f;
    s.entry_x_mm = 0.0f;
    s.entry_z_mm = 3.0f;
    s.tip_x_mm = 22.0f;
    s.tip_z_mm = 3.0f + 22.0f * tanf(30.0f * 3.14159f / 180.0f);
    expect_needle(&s, 0.5f, 1.0f);
}

static void test_steep_needle_from_right_among_anatomy(void **state)
{
    (void)state;
    synth_scene s = synth_default();
    s.seed = 7;
    s.needle_amp = 4.0f;
    s.fascia = true;
    s.bone = true;
    s.entry_x_mm = 38.0f;
    s.entry_z_mm = 1.0f;
    float a = 52.0f * 3.14159f / 180.0f;
    s.tip_x_mm = 38.0f - 11.0f * cosf(a);
    s.tip_z_mm = 1.0f + 11.0f * sinf(a) + 6.0f;
    s.tip_x_mm = 38.0f - (s.tip_z_mm - 1.0f) / tanf(a);
    expect_needle(&s, 0.5f, 1.0f);
}

static void test_shallow_needle_with_tendon(void **state)
{
    (void)state;
    synth_scene s = synth_default();
    s.seed = 11;
    s.needle_amp = 5.0f;
    s.tendon = true;
    s.entry_x_mm = 0.0f;
    s.entry_z_mm = 6.0f;
    s.tip_x_mm = 30.0f;
    s.tip_z_mm = 6.0f + 30.0f * tanf(12.0f * 3.14159f / 180.0f);
    expect_needle(&s, 0.5f, 1.0f);
}

static void test_gain_and_offset_do_not_matter(void **state)
{
    (void)state;
    synth_scene s = synth_default();
    s.seed = 5;
    s.needle_amp = 5.0f;
    s.fascia = true;
    s.entry_x_mm = 2.0f;
    s.entry_z_mm = 0.0f;
    s.tip_x_mm = 20.0f;
    s.tip_z_mm = 18.0f;
    s.gain = 0.45f;
    s.offset = 10.0f;
    expect_needle(&s, 0.5f, 1.0f);
    s.gain = 1.3f;
    s.offset = -40.0f;
    expect_needle(&s, 0.5f, 1.0f);
}

static void test_no_needle_in_anatomy(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        synth_scene s = synth_default();
        s.seed = seed;
        s.fascia = seed % 2;
        s.bone = seed % 3 != 0;
        s.tendon = seed % 2 == 0;
        tl_needle_detection det = detect_scene(&s);
        assert_false(det.found);
    }
}

static void test_short_stub_is_not_reported(void **state)
{
    (void)state;
    synth_scene s = synth_default();
    s.seed = 9;
    s.needle_amp = 6.0f;
    s.entry_x_mm = 0.0f;
    s.entry_z_mm = 5.0f;
    s.tip_x_mm = 1.0f;
    s.tip_z_mm = 5.6f;
    tl_needle_detection det = detect_scene(&s);
    assert_false(det.found);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    tl_needle_detector *d = NULL;
    tl_needle_params p = tl_needle_params_default();
    p.min_angle_deg = 50.0f;
    p.max_angle_deg = 40.0f;
    assert_int_equal(tl_needle_detector_create(&p, &d), TL_ERR_INVALID_ARG);
    assert_null(d);
    assert_int_equal(tl_needle_detector_create(NULL, &d), TL_OK);
    tl_needle_detection det;
    tl_bmode img;
    memset(&img, 0, sizeof img);
    assert_int_equal(tl_needle_detect(d, &img, NULL, &det), TL_ERR_INVALID_ARG);
    uint8_t px[64 * 64] = { 0 };
    img.pixels = px;
    img.width = img.height = img.stride = 64;
    img.spacing_mm = 0.0f;
    assert_int_equal(tl_needle_detect(d, &img, NULL, &det), TL_ERR_INVALID_ARG);
    img.spacing_mm = 0.1f;
    img.stride = 10;
    assert_int_equal(tl_needle_detect(d, &img, NULL, &det), TL_ERR_INVALID_ARG);
    /* A blank image is valid and holds no needle. */
    img.stride = 64;
    assert_int_equal(tl_needle_detect(d, &img, NULL, &det), TL_OK);
    assert_false(det.found);
    tl_needle_detector_destroy(d);
}

/* tl_select_kth_f (core, used for every per-frame median here). */
static void test_select_kth(void **state)
{
    (void)state;
    float v[101];
    tl_rng rng;
    tl_rng_seed(&rng, 9);
    for (int round = 0; round < 50; round++) {
        size_t n = 1 + (size_t)(tl_rng_uniform(&rng) * 100);
        for (size_t i = 0; i < n; i++)
            v[i] = (float)(int)(tl_rng_uniform(&rng) * 20); /* many ties */
        size_t k = (size_t)(tl_rng_uniform(&rng) * (double)n);
        float got = tl_select_kth_f(v, n, k);
        size_t below = 0, equal = 0;
        for (size_t i = 0; i < n; i++) {
            below += v[i] < got;
            equal += v[i] == got;
        }
        assert_true(below <= k && k < below + equal);
    }
}

/* The detector's own selection (guidance/select.c, every per-frame median):
 * the same value as a sort, on speckle-like data, ties, outliers and a
 * constant array, at the sizes it sees (a tile, a profile, a frame). */
float select_kth(float *v, size_t n, size_t k);

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void test_binned_select_matches_sort(void **state)
{
    (void)state;
    enum { NMAX = 3000 };
    static float v[NMAX], s[NMAX];
    tl_rng rng;
    tl_rng_seed(&rng, 11);
    for (int round = 0; round < 400; round++) {
        size_t n = 1 + (size_t)(tl_rng_uniform(&rng) * (round < 300 ? 300 : NMAX - 1));
        int kind = round % 4;
        for (size_t i = 0; i < n; i++) {
            double x = fabs(tl_rng_normal(&rng));
            if (kind == 1)
                x = (double)(int)(x * 4.0);            /* many ties */
            else if (kind == 2 && tl_rng_uniform(&rng) < 0.02)
                x *= 1e6;                              /* a few huge outliers */
            else if (kind == 3)
                x = 7.25;                              /* constant */
            v[i] = s[i] = (float)(tl_rng_uniform(&rng) < 0.5 ? x : -x);
        }
        qsort(s, n, sizeof s[0], cmp_float);
        size_t k = (size_t)(tl_rng_uniform(&rng) * (double)n);
        assert_true(select_kth(v, n, k) == s[k]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_needle_from_left),
        cmocka_unit_test(test_steep_needle_from_right_among_anatomy),
        cmocka_unit_test(test_shallow_needle_with_tendon),
        cmocka_unit_test(test_gain_and_offset_do_not_matter),
        cmocka_unit_test(test_no_needle_in_anatomy),
        cmocka_unit_test(test_short_stub_is_not_reported),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_select_kth),
        cmocka_unit_test(test_binned_select_matches_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
