/* The analysis's hot kernels (an_kernels.c) against the plain loops they
 * replaced: strip means of a row (SSE2 path, scalar tail, valid masks with
 * any non-zero value, every strip width 1..24) and the two-pass box filter
 * (short profiles, windows wider than the profile, NAN rows) must agree to
 * the bit; two percentiles taken together (an_percentile_pair) must equal
 * two separate an_percentile_f calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "an_internal.h"

static uint32_t rng = 12345u;
static uint32_t next(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

/* The loop an_prepare had before an_row_strip_means. */
static void strip_means_ref(const uint8_t *px, const uint8_t *vm, uint32_t ns, uint32_t sw,
                            float *out)
{
    for (uint32_t s = 0; s < ns; s++) {
        const uint8_t *p = px + (size_t)s * sw;
        uint32_t sum = 0, cnt = sw;
        if (vm) {
            const uint8_t *v = vm + (size_t)s * sw;
            cnt = 0;
            for (uint32_t i = 0; i < sw; i++) {
                uint32_t on = (uint32_t)(v[i] != 0);
                sum += p[i] * on;
                cnt += on;
            }
        } else {
            for (uint32_t i = 0; i < sw; i++)
                sum += p[i];
        }
        out[s] = 2 * cnt >= sw ? (float)sum / (float)cnt : NAN;
    }
}

static void same_floats(const float *a, const float *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i])) {
            assert_true(isnan(a[i]) && isnan(b[i]));
            continue;
        }
        assert_memory_equal(&a[i], &b[i], sizeof(float));
    }
}

static void test_strip_means_match_plain_loop(void **state)
{
    (void)state;
    enum { W = 803 };
    uint8_t px[W], vm[W];
    float got[AN_MAX_STRIPS], want[AN_MAX_STRIPS];
    for (uint32_t sw = 1; sw <= 24; sw++) {
        uint32_t ns = W / sw;
        for (int trial = 0; trial < 6; trial++) {
            for (uint32_t i = 0; i < W; i++) {
                px[i] = (uint8_t)(trial == 0 ? 255 : next());
                /* masks of 255, of other non-zero values, and ragged edges */
                uint32_t r = next() % 100;
                vm[i] = (uint8_t)(trial == 1 ? 255 : r < 30 ? 0 : r < 60 ? 255 : 1 + r);
            }
            const uint8_t *mask = trial == 2 ? NULL : vm;
            an_row_strip_means(px, mask, W, ns, sw, got);
            strip_means_ref(px, mask, ns, sw, want);
            same_floats(got, want, ns);
        }
    }
}

/* The box filter an_prepare had before an_box2. */
static void box2_ref(const float *in, float *out, float *tmp, double *cum, uint32_t h, uint32_t k)
{
    const float *src = in;
    for (int pass = 0; pass < 2; pass++) {
        float *dst = pass == 0 ? tmp : out;
        cum[0] = 0;
        for (uint32_t r = 0; r < h; r++)
            cum[r + 1] = cum[r] + (isnan(src[r]) ? 0.0 : src[r]);
        for (uint32_t r = 0; r < h; r++) {
            uint32_t lo = r > k ? r - k : 0, hi = r + k + 1 < h ? r + k + 1 : h;
            dst[r] = (float)((cum[hi] - cum[lo]) / (double)(hi - lo));
        }
        src = tmp;
    }
}

static void test_box2_matches_plain_loop(void **state)
{
    (void)state;
    enum { H = 640 };
    float in[H], got[H], want[H], tmp[H];
    double cum[H + 1];
    const uint32_t hs[] = { 1, 2, 5, 17, 100, 601, 640 };
    for (size_t t = 0; t < sizeof hs / sizeof hs[0]; t++)
        for (uint32_t k = 1; k <= 9; k += 2) {
            uint32_t h = hs[t];
            for (uint32_t r = 0; r < h; r++)
                in[r] = next() % 17 == 0 ? NAN : (float)(next() % 2551) / (float)(1 + next() % 10);
            an_box2(in, got, tmp, cum, h, k);
            box2_ref(in, want, tmp, cum, h, k);
            same_floats(got, want, h);
        }
}

/* The cells loop an_prepare had before an_strip_profiles. */
static void cells_ref(const float *p, uint32_t h, uint32_t cell_rows, float rows_per_cell,
                      double *cs, float *cn, float *cell)
{
    cs[0] = 0;
    float n = 0;
    for (uint32_t r = 0; r < h; r++) {
        bool ok = !isnan(p[r]);
        cs[r + 1] = cs[r] + (ok ? p[r] : 0.0f);
        cn[r] = n;
        n += ok ? 1.0f : 0.0f;
    }
    for (uint32_t c = 0; c < cell_rows; c++) {
        uint32_t r0 = (uint32_t)((float)c * rows_per_cell);
        uint32_t r1 = (uint32_t)((float)(c + 1) * rows_per_cell);
        if (r1 > h)
            r1 = h;
        if (r1 <= r0)
            r1 = r0 + 1 <= h ? r0 + 1 : h;
        float k = (r1 < h ? cn[r1] : n) - cn[r0];
        cell[c] = k > 0 ? (float)((cs[r1] - cs[r0]) / k) : NAN;
    }
}

/* Every strip (groups of four and the rest) gets what box2 and the cells
 * loop gave it, one strip at a time. */
static void test_strip_profiles_match_plain_loops(void **state)
{
    (void)state;
    const uint32_t nss[] = { 1, 4, 7, 9 }, hs[] = { 3, 60, 601 };
    for (size_t a = 0; a < sizeof nss / sizeof nss[0]; a++)
        for (size_t b = 0; b < sizeof hs / sizeof hs[0]; b++) {
            uint32_t ns = nss[a], h = hs[b], k = 1 + next() % 4;
            float rpc = 0.25f / (0.03f + 0.01f * (float)(next() % 5));
            uint32_t cr = (uint32_t)((float)h / rpc);
            if (cr < 1)
                cr = 1;
            float *prof = malloc(sizeof(float) * ns * h), *sm = malloc(sizeof(float) * ns * h);
            float *cell = malloc(sizeof(float) * ns * cr), *tmp = malloc(sizeof(float) * 8 * h);
            double *cum = malloc(sizeof(double) * 4 * (h + 1));
            float *want = malloc(sizeof(float) * h), *wcell = malloc(sizeof(float) * cr);
            assert_non_null(prof && sm && cell && tmp && cum && want && wcell);
            for (uint32_t i = 0; i < ns * h; i++)
                prof[i] = next() % 13 == 0 ? NAN : (float)(next() % 2551) / (float)(1 + next() % 10);
            for (uint32_t s = 0; s < ns; s++)        /* a strip with no valid row */
                if (s == 2)
                    for (uint32_t r = 0; r < h; r++)
                        prof[s * h + r] = NAN;
            an_strip_profiles(prof, sm, cell, ns, h, k, cr, rpc, cum, tmp);
            for (uint32_t s = 0; s < ns; s++) {
                box2_ref(prof + s * h, want, tmp, cum, h, k);
                same_floats(sm + s * h, want, h);
                cells_ref(prof + s * h, h, cr, rpc, cum, tmp, wcell);
                same_floats(cell + s * cr, wcell, cr);
            }
            free(prof);
            free(sm);
            free(cell);
            free(tmp);
            free(cum);
            free(want);
            free(wcell);
        }
}

/* Values with ties (a tenth of the levels repeat) and sizes 1..300, the
 * second percentile above, below and at the first, both at the ends. */
static void test_percentile_pair_matches_two_calls(void **state)
{
    (void)state;
    static const float pairs[][2] = { { 50, 75 }, { 50, 25 }, { 50, 50 }, { 0, 100 },
                                      { 100, 0 }, { 37.5f, 99 }, { 90, 20 } };
    float v[300], w[300], x[300];
    for (uint32_t n = 1; n <= 300; n += (n < 20 ? 1 : 7)) {
        for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
            for (uint32_t i = 0; i < n; i++)
                v[i] = (float)(next() % 1000u) * (next() % 10u == 0 ? 0.0f : 0.37f);
            memcpy(w, v, n * sizeof(float));
            memcpy(x, v, n * sizeof(float));
            float a = an_percentile_f(w, n, pairs[p][0]);
            float b = an_percentile_f(x, n, pairs[p][1]);
            float c, d;
            an_percentile_pair(v, n, pairs[p][0], pairs[p][1], &c, &d);
            assert_true(a == c);
            assert_true(b == d);
        }
    }
    float c = 0, d = 0;
    an_percentile_pair(v, 0, 50, 75, &c, &d);
    assert_true(isnan(c) && isnan(d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strip_means_match_plain_loop),
        cmocka_unit_test(test_box2_matches_plain_loop),
        cmocka_unit_test(test_strip_profiles_match_plain_loops),
        cmocka_unit_test(test_percentile_pair_matches_two_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
