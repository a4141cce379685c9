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

/* Lesion-map cells of one strip from its prefix sums: the mean of the
 * valid rows of each cell (cn: the count of valid rows before each row,
 * n: in all). */
static inline void cells_of(const double *cs, const float *cn, float n, uint32_t h,
                            uint32_t cell_rows, float rows_per_cell, float *cell)
{
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

/* Window means of a box of half width k over a prefix sum (an_box2's). */
static inline void box_means(const double *cum, uint32_t h, uint32_t k, float *dst)
{
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
}

#define GROUP 4
AN_CLONES void an_strip_profiles(const float *prof, float *sm, float *cell, uint32_t ns,
                                 uint32_t h, uint32_t k, uint32_t cell_rows, float rows_per_cell,
                                 double *cum, float *tmp)
{
    uint32_t s = 0;
    for (; s + GROUP <= ns; s += GROUP) {
        const float *p[GROUP];
        double *c[GROUP];
        float *t[GROUP], *cn[GROUP], n[GROUP];
        for (int j = 0; j < GROUP; j++) {
            p[j] = prof + (size_t)(s + (uint32_t)j) * h;
            c[j] = cum + (size_t)j * (h + 1);
            t[j] = tmp + (size_t)j * h;
            cn[j] = tmp + (size_t)(GROUP + j) * h;
            c[j][0] = 0;
            n[j] = 0;
        }
        /* pass 1: prefix sums (NAN as 0) and valid-row counts, the four
         * strips' chains side by side */
        double acc[GROUP] = { 0 };
        for (uint32_t r = 0; r < h; r++)
            for (int j = 0; j < GROUP; j++) {
                float v = p[j][r];
                bool ok = !isnan(v);
                acc[j] = acc[j] + (ok ? v : 0.0);
                c[j][r + 1] = acc[j];
                cn[j][r] = n[j];
                n[j] += ok ? 1.0f : 0.0f;
            }
        for (int j = 0; j < GROUP; j++) {
            cells_of(c[j], cn[j], n[j], h, cell_rows, rows_per_cell,
                     cell + (size_t)(s + (uint32_t)j) * cell_rows);
            box_means(c[j], h, k, t[j]);
        }
        /* pass 2 over the first pass's means */
        for (int j = 0; j < GROUP; j++)
            acc[j] = 0;
        for (uint32_t r = 0; r < h; r++)
            for (int j = 0; j < GROUP; j++) {
                float v = t[j][r];
                acc[j] = acc[j] + (isnan(v) ? 0.0 : v);
                c[j][r + 1] = acc[j];
            }
        for (int j = 0; j < GROUP; j++)
            box_means(c[j], h, k, sm + (size_t)(s + (uint32_t)j) * h);
    }
    for (; s < ns; s++) {
        const float *p = prof + (size_t)s * h;
        float *cn = tmp + (size_t)GROUP * h, n = 0;
        cum[0] = 0;
        for (uint32_t r = 0; r < h; r++) {
            bool ok = !isnan(p[r]);
            cum[r + 1] = cum[r] + (ok ? p[r] : 0.0);
            cn[r] = n;
            n += ok ? 1.0f : 0.0f;
        }
        cells_of(cum, cn, n, h, cell_rows, rows_per_cell, cell + (size_t)s * cell_rows);
        an_box2(p, sm + (size_t)s * h, tmp, cum, h, k);
    }
}
