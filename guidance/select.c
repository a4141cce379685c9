/* The k-th smallest of n floats, for the per-frame medians of the needle
 * detector (tile spreads of the time cue, the residual's spread, profile
 * levels: hundreds of selections per frame, most of them of speckle, where
 * quickselect's comparisons are coin flips and every other one is a
 * mispredicted branch). Here: one pass for the range, one to count values
 * into 64 equal bins, one to gather the bin holding rank k to the front;
 * quickselect runs only on that bin. Binning is monotone (x < y never puts
 * y in a lower bin), so every value in an earlier bin is <= every value in
 * that bin: the result is exactly the k-th order statistic, the value
 * tl_select_kth_f returns. v is left permuted. NaN-free input. */
#include "guidance_internal.h"

#define NBIN 64

static inline int bin_of(float x, float lo, float scale)
{
    int b = (int)((x - lo) * scale);
    return b < NBIN - 1 ? b : NBIN - 1;
}

float select_kth(float *v, size_t n, size_t k)
{
    if (n < 48)
        return tl_select_kth_f(v, n, k);
    float lo = v[0], hi = v[0];
    for (size_t i = 1; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    if (!(hi > lo))
        return lo; /* all equal */
    float scale = (float)NBIN / (hi - lo);
    if (!(scale < 1e30f))
        return tl_select_kth_f(v, n, k);
    uint32_t cnt[NBIN] = { 0 };
    for (size_t i = 0; i < n; i++)
        cnt[bin_of(v[i], lo, scale)]++;
    size_t before = 0;
    int b = 0;
    while (before + cnt[b] <= k)
        before += cnt[b++];
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (bin_of(v[i], lo, scale) == b) {
            float t = v[m];
            v[m++] = v[i];
            v[i] = t;
        }
    return tl_select_kth_f(v, m, k - before);
}
