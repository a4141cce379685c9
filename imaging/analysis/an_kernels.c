/* Hot per-frame kernels of the analysis (strip means of the pixel pass,
 * the profile box filter). Each computes exactly what the plain loops it
 * replaced did -- integer sums are sums, floating-point operations are the
 * same operations in the same order -- only laid out so the compiler (or
 * SSE2) can run them side by side. `talus eval tissue` prints the same JSON
 * before and after. */
#include "an_internal.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Sum and count of the valid pixels of strip s of one row, one at a time
 * (valid may be NULL: all valid). */
static inline void strip_sum_scalar(const uint8_t *p, const uint8_t *v, uint32_t sw,
                                    int32_t *sum, int32_t *cnt)
{
    uint32_t s = 0, c = sw;
    if (v) {
        c = 0;
        for (uint32_t i = 0; i < sw; i++) {
            uint32_t on = (uint32_t)(v[i] != 0);
            s += p[i] * on;
            c += on;
        }
    } else {
        for (uint32_t i = 0; i < sw; i++)
            s += p[i];
    }
    *sum = (int32_t)s;
    *cnt = (int32_t)c;
}

AN_CLONES void an_row_strip_means(const uint8_t *px, const uint8_t *vm, uint32_t width,
                                  uint32_t ns, uint32_t sw, float *out)
{
    int32_t sum[AN_MAX_STRIPS], cnt[AN_MAX_STRIPS];
    uint32_t s = 0;
#if defined(__SSE2__)
    if (sw <= 16) {
        /* one 16-byte load per strip (kept inside the row), the strip's
         * bytes masked, summed by psadbw */
        uint8_t mb[16];
        for (uint32_t i = 0; i < 16; i++)
            mb[i] = i < sw ? 0xFF : 0;
        const __m128i m = _mm_loadu_si128((const __m128i *)mb), zero = _mm_setzero_si128();
        const __m128i one = _mm_set1_epi8(1);
        for (; s < ns && s * sw + 16 <= width; s++) {
            __m128i x = _mm_and_si128(_mm_loadu_si128((const __m128i *)(px + s * sw)), m);
            if (vm) {
                __m128i on = _mm_andnot_si128(
                    _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(vm + s * sw)), zero), m);
                x = _mm_and_si128(x, on);
                __m128i c = _mm_sad_epu8(_mm_and_si128(on, one), zero);
                cnt[s] = _mm_cvtsi128_si32(_mm_add_epi32(c, _mm_srli_si128(c, 8)));
            } else {
                cnt[s] = (int32_t)sw;
            }
            __m128i t = _mm_sad_epu8(x, zero);
            sum[s] = _mm_cvtsi128_si32(_mm_add_epi32(t, _mm_srli_si128(t, 8)));
        }
    }
#endif
    for (; s < ns; s++)
        strip_sum_scalar(px + s * sw, vm ? vm + s * sw : NULL, sw, &sum[s], &cnt[s]);
    for (s = 0; s < ns; s++) {
        float q = (float)sum[s] / (float)cnt[s]; /* 0/0 is a NaN, not taken */
        out[s] = 2 * (uint32_t)cnt[s] >= sw ? q : NAN;
    }
}

/* Two passes of a box filter (close to a Gaussian), NAN treated as dark.
 * The prefix sums are the same chain as before; the window means are a
 * vector loop over the rows whose window lies inside (their divisor is
 * the same 2k + 1: the same division, row by row). */
AN_CLONES void an_box2(const float *in, float *out, float *tmp, double *cum, uint32_t h,
                       uint32_t k)
{
    const float *src = in;
    for (int pass = 0; pass < 2; pass++) {
        float *dst = pass == 0 ? tmp : out;
        cum[0] = 0;
        for (uint32_t r = 0; r < h; r++)
            cum[r + 1] = cum[r] + (isnan(src[r]) ? 0.0 : src[r]);
        uint32_t r = 0;
        for (; r < h && r <= k; r++) {
            uint32_t lo = r > k ? r - k : 0, hi = r + k + 1 < h ? r + k + 1 : h;
            dst[r] = (float)((cum[hi] - cum[lo]) / (double)(hi - lo));
        }
        const double den = (double)(2 * k + 1);
        for (; r + k + 1 < h; r++)
            dst[r] = (float)((cum[r + k + 1] - cum[r - k]) / den);
        for (; r < h; r++) {
            uint32_t lo = r > k ? r - k : 0, hi = r + k + 1 < h ? r + k + 1 : h;
            dst[r] = (float)((cum[hi] - cum[lo]) / (double)(hi - lo));
        }
        src = tmp;
    }
}
