/* imaging: the analytic signal matches ITK's AnalyticSignalImageFilter
 * baseline (KitwareMedical/ITKUltrasound) on TreeBarkTexture.png, zero-padded
 * from 100 to 128 rows and transformed along y. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_imaging.h"

#define W 100
#define H 128

static double *read_raw(const char *name)
{
    const char *dir = getenv("TALUS_SHARED_DATA");
    assert_non_null(dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/itk/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    double *v = malloc(sizeof(double) * W * H);
    assert_non_null(v);
    assert_int_equal(fread(v, sizeof(double), W * H, f), W * H);
    fclose(f);
    return v;
}

static void test_analytic_signal_matches_itk(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/itk/TreeBarkTexture.png", getenv("TALUS_SHARED_DATA"));
    uint8_t *px = NULL;
    uint32_t w = 0, h = 0;
    assert_int_equal(tl_png_read(path, 1, &px, &w, &h), TL_OK);
    assert_int_equal(w, W);
    assert_int_equal(h, 100);
    float *in = calloc(W * H, sizeof(float)); /* rows 100..127 stay zero */
    float *re = malloc(sizeof(float) * W * H), *im = malloc(sizeof(float) * W * H);
    for (uint32_t i = 0; i < W * h; i++)
        in[i] = px[i];
    /* Sequence c is column c: elements W apart, sequences 1 apart. */
    assert_int_equal(tl_analytic_signal(in, H, W, W, 1, re, im), TL_OK);
    double *bre = read_raw("itkAnalyticSignalImageFilterReal.raw");
    double *bim = read_raw("itkAnalyticSignalImageFilterImaginary.raw");
    double err_re = 0.0, err_im = 0.0, peak = 0.0;
    for (int i = 0; i < W * H; i++) {
        err_re = fmax(err_re, fabs(re[i] - bre[i]));
        err_im = fmax(err_im, fabs(im[i] - bim[i]));
        peak = fmax(peak, fabs(bim[i]));
    }
    printf("max |error|: real %.2e, imaginary %.2e (values up to %.1f)\n", err_re, err_im, peak);
    assert_true(peak > 100.0); /* the baseline is not trivially zero */
    assert_true(err_re < 1e-3);
    assert_true(err_im < 1e-3);
    free(px);
    free(in);
    free(re);
    free(im);
    free(bre);
    free(bim);
}

static void test_analytic_signal_of_a_cosine_is_the_exponential(void **state)
{
    (void)state;
    enum { N = 64 };
    float x[N], re[N], im[N];
    for (int i = 0; i < N; i++)
        x[i] = cosf(2.0f * 3.14159265f * 5.0f * i / N);
    assert_int_equal(tl_analytic_signal(x, N, 1, 1, N, re, im), TL_OK);
    for (int i = 0; i < N; i++) {
        assert_float_equal(re[i], x[i], 1e-5);
        assert_float_equal(im[i], sinf(2.0f * 3.14159265f * 5.0f * i / N), 1e-5);
    }
    assert_int_equal(tl_analytic_signal(NULL, N, 1, 1, N, re, im), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_analytic_signal(x, 0, 1, 1, N, re, im), TL_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_analytic_signal_matches_itk),
        cmocka_unit_test(test_analytic_signal_of_a_cosine_is_the_exponential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
