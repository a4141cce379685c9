/* imaging: image quality of the demodulated envelope, log compression, TGC
 * and speckle reduction on synthetic speckle RF. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_imaging.h"

/* Speckle: Gaussian scatterers convolved with a 3-cycle Gaussian pulse at f0,
 * amplitude `amp` (constant with depth). */
static int16_t *speckle(const tl_geometry *g, uint64_t seed, float amp)
{
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    int taps = (int)(3.0f * g->fs_hz / g->f0_hz) | 1;
    float pulse[65];
    for (int j = 0; j < taps && j < 65; j++) {
        float t = (float)(j - taps / 2) / g->fs_hz, sig = 1.0f / g->f0_hz;
        pulse[j] = expf(-0.5f * t * t / (sig * sig)) * cosf(6.2831853f * g->f0_hz * t);
    }
    float *sc = malloc(sizeof(float) * g->samples);
    int16_t *rf = malloc(sizeof(int16_t) * g->lines * g->samples);
    for (uint32_t l = 0; l < g->lines; l++) {
        for (uint32_t s = 0; s < g->samples; s++)
            sc[s] = (float)tl_rng_normal(&rng);
        for (uint32_t s = 0; s < g->samples; s++) {
            float acc = 0.0f;
            for (int j = 0; j < taps; j++) {
                long i = (long)s + j - taps / 2;
                if (i >= 0 && i < (long)g->samples)
                    acc += sc[i] * pulse[j];
            }
            rf[(size_t)l * g->samples + s] = (int16_t)fmaxf(-32768, fminf(32767, acc * amp));
        }
    }
    free(sc);
    return rf;
}

static tl_geometry geom(void)
{
    tl_geometry g = tl_geometry_default_linear();
    g.lines = 64;
    g.samples = 1024;
    return g;
}

static void render(const tl_geometry *g, const int16_t *rf, tl_imaging_params p, tl_bmode *img)
{
    p.fft_effort = 0;
    tl_imaging_plan *plan = NULL;
    assert_int_equal(tl_imaging_plan_create(g, TL_IMAGE_RF_REAL, &p, &plan), TL_OK);
    uint32_t w, h;
    tl_imaging_plan_output(plan, &w, &h, NULL, NULL, NULL);
    assert_int_equal(tl_bmode_alloc(img, w, h), TL_OK);
    tl_frame fr = { .geom = *g, .type = TL_IMAGE_RF_REAL, .data = (void *)rf,
                    .data_bytes = (size_t)g->lines * g->samples * 2 };
    assert_int_equal(tl_imaging_execute(plan, &fr, img, NULL), TL_OK);
    tl_imaging_plan_destroy(plan);
}

/* Mean |a-b| and NCC over the valid area. */
static void compare(const tl_bmode *a, const tl_bmode *b, double *mad, double *ncc)
{
    double sa = 0, sb = 0, n = 0, d = 0;
    size_t np = (size_t)a->width * a->height;
    for (size_t i = 0; i < np; i++)
        if (a->valid[i]) {
            sa += a->pixels[i];
            sb += b->pixels[i];
            d += fabs((double)a->pixels[i] - b->pixels[i]);
            n++;
        }
    sa /= n;
    sb /= n;
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < np; i++)
        if (a->valid[i]) {
            double x = a->pixels[i] - sa, y = b->pixels[i] - sb;
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
    *mad = d / n;
    *ncc = ab / sqrt(aa * bb);
}

static double mean_rows(const tl_bmode *img, uint32_t r0, uint32_t r1)
{
    double s = 0, n = 0;
    for (uint32_t r = r0; r < r1; r++)
        for (uint32_t c = 0; c < img->width; c++)
            if (img->valid[r * img->width + c]) {
                s += img->pixels[r * img->stride + c];
                n++;
            }
    return s / n;
}

static void test_demodulated_envelope_matches_exact(void **state)
{
    (void)state;
    tl_geometry g = geom();
    int16_t *rf = speckle(&g, 7, 3000.0f);
    tl_imaging_params p = tl_imaging_params_default();
    p.out_width = 400;
    p.out_height = 300;
    tl_bmode demod, fir, full, truth;
    p.demodulator = TL_DEMOD_FFT;
    render(&g, rf, p, &demod);                 /* FFT band, decimated */
    p.demodulator = TL_DEMOD_FIR;
    render(&g, rf, p, &fir);                   /* time-domain IQ demodulator */
    p.demodulator = TL_DEMOD_FFT;
    p.envelope_samples = g.samples;
    render(&g, rf, p, &full);                  /* full-rate analytic signal */
    p.envelope_samples = 8 * g.samples;
    render(&g, rf, p, &truth);                 /* 8x band-limited: ~exact */
    double mad_d, ncc_d, mad_f, ncc_f, mad_r, ncc_r;
    compare(&demod, &truth, &mad_d, &ncc_d);
    compare(&fir, &truth, &mad_r, &ncc_r);
    compare(&full, &truth, &mad_f, &ncc_f);
    printf("vs exact envelope: FFT demodulated mean |diff| %.2f grey levels, NCC %.4f; "
           "FIR %.2f, NCC %.4f; full rate %.2f, NCC %.4f\n", mad_d, ncc_d, mad_r, ncc_r, mad_f,
           ncc_f);
    assert_true(ncc_f > 0.99 && mad_f < 1.5);
    assert_true(ncc_d > 0.97 && mad_d < 2.5);
    assert_true(ncc_r > 0.96 && mad_r < 3.0);
    tl_bmode_free(&fir);
    tl_bmode_free(&demod);
    tl_bmode_free(&full);
    tl_bmode_free(&truth);
    free(rf);
}

static void test_dynamic_range_gain_and_tgc(void **state)
{
    (void)state;
    tl_geometry g = geom();
    int16_t *rf = speckle(&g, 11, 300.0f); /* mid-grey: nothing clips */
    tl_imaging_params p = tl_imaging_params_default();
    p.out_width = 200;
    p.out_height = 200;
    tl_bmode base, gain, tgc, dr;
    render(&g, rf, p, &base);
    double m0 = mean_rows(&base, 0, 200);
    /* +6 dB of gain at 60 dB over 255 levels: +25.5 levels where not clipped. */
    p.gain_db = 6.0f;
    render(&g, rf, p, &gain);
    double m1 = mean_rows(&gain, 0, 200);
    printf("mean %.1f -> %.1f with +6 dB\n", m0, m1);
    assert_true(fabs((m1 - m0) - 25.5) < 2.0);
    /* TGC ramp 0 -> +12 dB over the depth: the top rows unchanged, rows
     * 190..199 of 200 (depth 0.955..1.0) +11.73 dB = +49.8 levels. */
    p.gain_db = 0.0f;
    for (int i = 0; i < TL_TGC_POINTS; i++)
        p.tgc_db[i] = 12.0f * i / (TL_TGC_POINTS - 1);
    render(&g, rf, p, &tgc);
    double top = mean_rows(&tgc, 0, 10) - mean_rows(&base, 0, 10);
    double bot = mean_rows(&tgc, 190, 200) - mean_rows(&base, 190, 200);
    printf("TGC: top %+.1f, bottom %+.1f levels\n", top, bot);
    assert_true(fabs(top) < 3.0);
    assert_true(fabs(bot - 49.8) < 3.0);
    /* Halving the dynamic range doubles every pixel's distance from 0 dB. */
    /* Brighter speckle so that few pixels clip at 30 dB (clipping happens
     * before interpolation, so a clipped neighbour changes a pixel). */
    memset(p.tgc_db, 0, sizeof p.tgc_db);
    free(rf);
    tl_bmode_free(&base);
    rf = speckle(&g, 11, 6000.0f);
    render(&g, rf, p, &base);
    p.dynamic_range_db = 30.0f;
    render(&g, rf, p, &dr);
    /* Pixel by pixel: 255 - p30 = 2 * (255 - p60) wherever p30 is unclipped
     * (the 30 dB image is computed from the same envelope). */
    size_t checked = 0, good = 0;
    for (size_t i = 0; i < (size_t)base.width * base.height; i++)
        if (base.valid[i] && dr.pixels[i] > 5 && dr.pixels[i] < 250) {
            /* rounding (x2) and neighbours clipped at 0 in the 30 dB image
             * allow small departures */
            good += fabs((255.0 - dr.pixels[i]) - 2.0 * (255.0 - base.pixels[i])) <= 2.5;
            checked++;
        }
    printf("dynamic range 60 -> 30 dB: %zu of %zu unclipped pixels twice as far from 255\n",
           good, checked);
    assert_true(checked > 1000);
    assert_true(good >= 0.95 * checked);
    tl_bmode_free(&base);
    tl_bmode_free(&gain);
    tl_bmode_free(&tgc);
    tl_bmode_free(&dr);
    free(rf);
}

static void test_speckle_reduction_smooths(void **state)
{
    (void)state;
    tl_geometry g = geom();
    int16_t *rf = speckle(&g, 5, 3000.0f);
    tl_imaging_params p = tl_imaging_params_default();
    p.out_width = 300;
    p.out_height = 300;
    tl_bmode raw, smooth;
    render(&g, rf, p, &raw);
    p.speckle_reduction = true;
    render(&g, rf, p, &smooth);
    /* Local variation (mean |horizontal + vertical gradient|) drops, the mean
     * brightness stays. */
    double gr = 0, gs = 0, n = 0;
    for (uint32_t r = 20; r + 20 < raw.height; r++)
        for (uint32_t c = 20; c + 20 < raw.width; c++) {
            size_t i = (size_t)r * raw.stride + c;
            if (!raw.valid[i])
                continue;
            gr += abs(raw.pixels[i + 1] - raw.pixels[i]) + abs(raw.pixels[i + raw.stride] - raw.pixels[i]);
            gs += abs(smooth.pixels[i + 1] - smooth.pixels[i]) +
                  abs(smooth.pixels[i + smooth.stride] - smooth.pixels[i]);
            n++;
        }
    double mr = mean_rows(&raw, 20, 280), ms = mean_rows(&smooth, 20, 280);
    printf("gradient %.2f -> %.2f, mean %.1f -> %.1f\n", gr / n, gs / n, mr, ms);
    assert_true(gs < 0.8 * gr);
    assert_true(fabs(ms - mr) < 5.0);
    tl_bmode_free(&raw);
    tl_bmode_free(&smooth);
    free(rf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demodulated_envelope_matches_exact),
        cmocka_unit_test(test_dynamic_range_gain_and_tgc),
        cmocka_unit_test(test_speckle_reduction_smooths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
