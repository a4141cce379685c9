/* The analysis's hot kernels (an_kernels.c) against the plain loops they
 * replaced: strip means of a row (SSE2 path, scalar tail, valid masks with
 * any non-zero value, every strip width 1..24) and the two-pass box filter
 * (short profiles, windows wider than the profile, NAN rows) must agree to
 * the bit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strip_means_match_plain_loop),
        cmocka_unit_test(test_box2_matches_plain_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
