/* The k-th smallest of n floats, for the per-frame medians of the needle
 * detector (tile spreads of the time cue, the residual's spread, profile
 * levels: hundreds of selections per frame, most of them of speckle, where
 * quickselect's comparisons are coin flips and every other one is a
 * mispredicted branch). Here: one pass for the range, one to count values
 * into 64 equal bins, one to gather the bin holding rank k to the front;
 * quickselect runs only on that bin. Binning is monotone (x < y never puts
 * y in a lower bin), so every value in an earlier bin is <= every value in
 * that bin: the result is exactly the k-th order statistic, the value
 * tl_select_kth_f returns. v is left permuted. NaN-free input.
 *
 * The range and the bins are computed in blocks as vector loops (the range
 * in 8 independent lanes: a minimum or maximum does not depend on the order
 * it is taken in), the bins of a block kept as bytes for the gather pass. */
#include "guidance_internal.h"

#define NBIN 64
#define LANES 8
#define BLOCK 512
#define KEEP_BINS 8192

static void bins_of(const float *v, size_t n, float lo, float scale, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int b = (int)((v[i] - lo) * scale);
        out[i] = (uint8_t)(b < NBIN - 1 ? b : NBIN - 1);
    }
}

GD_CLONES float select_kth(float *v, size_t n, size_t k)
{
    if (n < 48)
        return tl_select_kth_f(v, n, k);
    float lo8[LANES], hi8[LANES];
    for (int l = 0; l < LANES; l++)
        lo8[l] = hi8[l] = v[0];
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float x = v[i + (size_t)l];
            lo8[l] = x < lo8[l] ? x : lo8[l];
            hi8[l] = x > hi8[l] ? x : hi8[l];
        }
    float lo = lo8[0], hi = hi8[0];
    for (int l = 1; l < LANES; l++) {
        lo = lo8[l] < lo ? lo8[l] : lo;
        hi = hi8[l] > hi ? hi8[l] : hi;
    }
    for (; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    if (!(hi > lo))
        return v[0]; /* all equal (the first one, as a sequential scan keeps it) */
    float scale = (float)NBIN / (hi - lo);
    if (!(scale < 1e30f))
        return tl_select_kth_f(v, n, k);
    /* four histograms in turn (neighbours in one bin do not wait on each
     * other's increment); the bins of a short array are kept for the
     * gather, a long one's are computed again */
    uint32_t c4[4][NBIN] = { { 0 } }, cnt[NBIN];
    uint8_t keep[KEEP_BINS], bb[BLOCK];
    const bool kept = n <= KEEP_BINS;
    for (size_t i0 = 0; i0 < n; i0 += BLOCK) {
        size_t m = n - i0 < BLOCK ? n - i0 : BLOCK;
        uint8_t *bk = kept ? keep + i0 : bb;
        bins_of(v + i0, m, lo, scale, bk);
        size_t j = 0;
        for (; j + 4 <= m; j += 4) {
            c4[0][bk[j]]++;
            c4[1][bk[j + 1]]++;
            c4[2][bk[j + 2]]++;
            c4[3][bk[j + 3]]++;
        }
        for (; j < m; j++)
            c4[0][bk[j]]++;
    }
    for (int q = 0; q < NBIN; q++)
        cnt[q] = c4[0][q] + c4[1][q] + c4[2][q] + c4[3][q];
    size_t before = 0;
    int b = 0;
    while (before + cnt[b] <= k)
        before += cnt[b++];
    size_t m = 0;
    for (size_t i0 = 0; i0 < n; i0 += BLOCK) {
        size_t nb = n - i0 < BLOCK ? n - i0 : BLOCK;
        const uint8_t *bk = kept ? keep + i0 : bb;
        if (!kept)
            bins_of(v + i0, nb, lo, scale, bb);
        for (size_t j = 0; j < nb; j++)
            if (bk[j] == b) {
                float t = v[m];
                v[m++] = v[i0 + j];
                v[i0 + j] = t;
            }
    }
    return tl_select_kth_f(v, m, k - before);
}
