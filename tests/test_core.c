/* core: errors, geometry, rng, percentiles, PNG round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tl_core.h"

static void test_strerror_covers_every_code(void **state)
{
    (void)state;
    for (int code = 0; code >= TL_ERR_PERMISSION; code--) {
        assert_string_not_equal(tl_strerror((tl_status)code), "unknown error");
        assert_string_not_equal(tl_error_name((tl_status)code), "TL_ERR_UNKNOWN");
    }
    assert_string_equal(tl_strerror((tl_status)-999), "unknown error");
    assert_int_equal(tl_status_from_errno(28 /* ENOSPC */), TL_ERR_NO_SPACE);
}

static void test_linear_geometry(void **state)
{
    (void)state;
    tl_geometry g = tl_geometry_default_linear();
    assert_int_equal(tl_geometry_validate(&g), TL_OK);
    assert_float_equal(tl_geometry_dz_mm(&g), 0.01925, 1e-6);
    float x, z;
    tl_geometry_sample_xz(&g, 0.0f, 100.0f, &x, &z);
    assert_float_equal(x, -0.3 * 63.5, 1e-4);
    assert_float_equal(z, 1.925, 1e-4);
    /* steered 30 deg towards +x: sample 100 of line 0 at r = 1.925 mm */
    g.steer_deg = 30.0f;
    assert_int_equal(tl_geometry_validate(&g), TL_OK);
    tl_geometry_sample_xz(&g, 0.0f, 100.0f, &x, &z);
    assert_float_equal(x, -0.3 * 63.5 + 1.925 * 0.5, 1e-4);
    assert_float_equal(z, 1.925 * cos(M_PI / 6), 1e-4);
    g.steer_deg = 46.0f; /* beyond what an array steers */
    assert_int_equal(tl_geometry_validate(&g), TL_ERR_FORMAT);
    g.steer_deg = NAN;
    assert_int_equal(tl_geometry_validate(&g), TL_ERR_FORMAT);
    g.steer_deg = 10.0f;
    g.kind = TL_PROBE_CONVEX; /* a convex array does not steer */
    g.radius_mm = 40.0f;
    assert_int_equal(tl_geometry_validate(&g), TL_ERR_FORMAT);
    g = tl_geometry_default_linear();
    g.samples = 3; /* too few to be a frame */
    assert_int_equal(tl_geometry_validate(&g), TL_ERR_FORMAT);
}

static void test_convex_geometry(void **state)
{
    (void)state;
    tl_geometry g = tl_geometry_default_linear();
    g.kind = TL_PROBE_CONVEX;
    g.radius_mm = 40.0f;
    assert_int_equal(tl_geometry_validate(&g), TL_OK);
    float x, z;
    /* The centre line (between lines 63 and 64) points straight down. */
    tl_geometry_sample_xz(&g, 63.5f, 1000.0f, &x, &z);
    assert_float_equal(x, 0.0, 1e-4);
    assert_float_equal(z, 19.25, 1e-3);
    /* An outer line leans outward by pitch/radius radians per line. */
    tl_geometry_sample_xz(&g, 127.0f, 0.0f, &x, &z);
    float theta = 63.5f * 0.3f / 40.0f;
    assert_float_equal(x, 40.0 * sin(theta), 1e-3);
    assert_float_equal(z, 40.0 * cos(theta) - 40.0, 1e-3);
}

static void test_rng_is_seeded_and_uniform(void **state)
{
    (void)state;
    tl_rng a, b;
    tl_rng_seed(&a, 42);
    tl_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++)
        assert_int_equal(tl_rng_next(&a), tl_rng_next(&b));
    double sum = 0, sum2 = 0;
    enum { N = 200000 };
    for (int i = 0; i < N; i++) {
        double v = tl_rng_normal(&a);
        sum += v;
        sum2 += v * v;
    }
    assert_true(fabs(sum / N) < 0.01);
    assert_true(fabs(sum2 / N - 1.0) < 0.02);
}

static void test_percentiles(void **state)
{
    (void)state;
    double v[] = { 5, 1, 4, 2, 3 };
    assert_float_equal(tl_median(v, 5), 3.0, 1e-12);
    assert_float_equal(tl_percentile(v, 5, 100), 5.0, 1e-12);
    assert_float_equal(tl_percentile(v, 5, 25), 2.0, 1e-12);
    assert_true(isnan(tl_median(v, 0)));
    assert_float_equal(v[0], 5.0, 0); /* input untouched */
}

static void test_select_kth_partitions(void **state)
{
    (void)state;
    tl_rng rng;
    tl_rng_seed(&rng, 7);
    enum { N = 257 };
    float v[N], sorted[N];
    for (int trial = 0; trial < 200; trial++) {
        size_t n = 1 + tl_rng_next(&rng) % N;
        for (size_t i = 0; i < n; i++) /* few distinct values: ties are the hard case */
            v[i] = (float)(tl_rng_next(&rng) % 17);
        memcpy(sorted, v, n * sizeof *v);
        for (size_t i = 1; i < n; i++) /* insertion sort as the reference */
            for (size_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
                float t = sorted[j];
                sorted[j] = sorted[j - 1];
                sorted[j - 1] = t;
            }
        size_t k = tl_rng_next(&rng) % n;
        float kth = tl_select_kth_f(v, n, k);
        assert_float_equal(kth, sorted[k], 0);
        for (size_t i = 0; i < k; i++)
            assert_true(v[i] <= kth);
        for (size_t i = k + 1; i < n; i++)
            assert_true(v[i] >= kth);
    }
}

static void test_polyline_z_interpolates_inside_only(void **state)
{
    (void)state;
    const float x[] = {0.0f, 10.0f, 20.0f}, z[] = {5.0f, 7.0f, 3.0f};
    assert_float_equal(tl_polyline_z(x, z, 3, 0.0f), 5.0f, 1e-6);
    assert_float_equal(tl_polyline_z(x, z, 3, 5.0f), 6.0f, 1e-6);
    assert_float_equal(tl_polyline_z(x, z, 3, 15.0f), 5.0f, 1e-6);
    assert_true(isnan(tl_polyline_z(x, z, 3, -0.1f)));
    assert_true(isnan(tl_polyline_z(x, z, 3, 20.1f)));
    assert_true(isnan(tl_polyline_z(x, z, 1, 0.0f)));
    /* outlines traced right to left are read the same way */
    const float xr[] = {20.0f, 10.0f, 0.0f}, zr[] = {3.0f, 7.0f, 5.0f};
    assert_float_equal(tl_polyline_z(xr, zr, 3, 15.0f), 5.0f, 1e-6);
    assert_float_equal(tl_polyline_z(xr, zr, 3, 2.5f), 5.5f, 1e-6);
}

static void test_png_round_trip(void **state)
{
    (void)state;
    char path[] = "/tmp/talus_core_pngXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    uint8_t px[37 * 21];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 7);
    assert_int_equal(tl_png_write(path, px, 37, 21, 37, 1), TL_OK);
    uint8_t *back = NULL;
    uint32_t w = 0, h = 0;
    assert_int_equal(tl_png_read(path, 1, &back, &w, &h), TL_OK);
    assert_int_equal(w, 37);
    assert_int_equal(h, 21);
    assert_memory_equal(back, px, sizeof px);
    free(back);
    /* A file that is not a PNG is a format error, a missing one not found. */
    FILE *f = fopen(path, "wb");
    fputs("not a png", f);
    fclose(f);
    assert_int_equal(tl_png_read(path, 1, &back, &w, &h), TL_ERR_FORMAT);
    unlink(path);
    assert_int_equal(tl_png_read(path, 1, &back, &w, &h), TL_ERR_NOT_FOUND);
    assert_int_equal(tl_png_write("/nonexistent-dir/x.png", px, 37, 21, 37, 1), TL_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_covers_every_code),
        cmocka_unit_test(test_linear_geometry),
        cmocka_unit_test(test_convex_geometry),
        cmocka_unit_test(test_rng_is_seeded_and_uniform),
        cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_select_kth_partitions),
        cmocka_unit_test(test_polyline_z_interpolates_inside_only),
        cmocka_unit_test(test_png_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
