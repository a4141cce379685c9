/* Needle detection, stage 1: the line search. Each pixel brighter than
 * its neighbourhood (single image) or brighter than the background (with
 * time, temporal.c) votes for the needle angles through it; see detect.c
 * for the whole pipeline. Split from detect.c to keep files short. */
#include "guidance_internal.h"

#include <math.h>
#include <string.h>

/* With time, a change this strong (robust sigmas of the difference) is new
 * echo even over an acoustic shadow: needles arrive at 3-40, needle-free
 * frames' candidates reach ~2 (novelty.c). */
#define SHADOW_NEW_SIGMAS 8.0f

void grid_setup(const tl_needle_params *p, const tl_needle_guide *guide,
                       uint32_t ww, uint32_t wh, hough_grid *g)
{
    g->amin = p->min_angle_deg;
    g->amax = p->max_angle_deg;
    g->na = (int)(2.0f * g->amax / HOUGH_STEP_DEG) + 1;
    if (g->na > 512)
        g->na = 512;
    g->cx = 0.5f * (float)ww;
    g->cz = 0.5f * (float)wh;
    g->r0 = (int)ceilf(sqrtf(g->cx * g->cx + g->cz * g->cz)) + 2;
    g->nr = 2 * g->r0 + 1;
    for (int k = 0; k < g->na; k++) {
        float a = -g->amax + (float)k * HOUGH_STEP_DEG;
        g->sin_t[k] = (float)sin(a * TL_DEG);
        g->cos_t[k] = (float)cos(a * TL_DEG);
        float aa = fabsf(a);
        bool ok = aa >= g->amin && aa <= g->amax;
        if (p->side > 0 && a < 0.0f)
            ok = false;
        if (p->side < 0 && a > 0.0f)
            ok = false;
        if (guide && fabsf(a - guide->angle_deg) > fmaxf(guide->tol_deg, 2.0f) + 1.0f)
            ok = false;
        g->allowed[k] = ok;
    }
}

/* Structure tensor over 5 x 5 (central differences) at work pixel (i, j):
 * the angle bins k0..k1 within HOUGH_VOTE_TOL_DEG of the pixel's line
 * orientation; the vote weight is scaled by the coherence. False for an
 * incoherent pixel. */
static bool orient_votes(const float *ten, uint32_t ww, uint32_t i, uint32_t j,
                         const hough_grid *g, int *k0o, int *k1o, float *wgt)
{
    float jxx = 0.0f, jxz = 0.0f, jzz = 0.0f;
    for (int dz = -2; dz <= 2; dz++) {
        const float *row = ten + (size_t)((int)j + dz) * ww;
        for (int dx = -2; dx <= 2; dx++) {
            int x = (int)i + dx;
            float gx = row[x + 1] - row[x - 1];
            float gz = row[x + (int)ww] - row[x - (int)ww];
            jxx += gx * gx;
            jxz += gx * gz;
            jzz += gz * gz;
        }
    }
    float tr = jxx + jzz;
    if (tr <= 0.0f)
        return false;
    float coh = sqrtf((jxx - jzz) * (jxx - jzz) + 4.0f * jxz * jxz) / tr;
    if (coh < 0.25f)
        return false;
    /* Gradient direction; the line runs perpendicular to it. */
    float phi = 0.5f * atan2f(2.0f * jxz, jxx - jzz);
    float a = (float)((phi + 0.5 * M_PI) / TL_DEG);
    if (a >= 90.0f)
        a -= 180.0f;
    if (a < -90.0f)
        a += 180.0f;
    int k0 = (int)ceilf((a - HOUGH_VOTE_TOL_DEG + g->amax) / HOUGH_STEP_DEG);
    int k1 = (int)floorf((a + HOUGH_VOTE_TOL_DEG + g->amax) / HOUGH_STEP_DEG);
    *k0o = k0 < 0 ? 0 : k0;
    *k1o = k1 >= g->na ? g->na - 1 : k1;
    *wgt *= coh;
    return true;
}

/* (int)lrintf(v) for |v| < 2^31 (rounding to nearest even); GCC's builtin
 * vectorises (cvtps2dq), lrintf's long does not. */
static inline int irint_f(float v)
{
#if defined(__GNUC__) && !defined(__clang__)
    return __builtin_irintf(v);
#else
    return (int)lrintf(v);
#endif
}

/* Accumulate orientation-restricted votes. */
GD_CLONES void vote(tl_needle_detector *d, const hough_grid *g, float *acc, float sigma,
                 float dark, int shadow_off)
{
    uint32_t ww = d->ww, wh = d->wh;
    const float *w = d->work.p;
    const float *res = d->resid.p;
    /* with time: votes from what changed, oriented by what changed */
    const float *src = d->temporal ? d->diff.p : res;
    const float *ten = d->temporal ? d->diff.p : w;
    if (d->temporal)
        sigma = d->diff_sigma;
    const uint8_t *wv = d->wvalid.p;
    const float k_thr = 2.0f;
    /* the allowed angle bins as runs (two for a free search: both sides of
     * vertical; one with a side or a guide), so the votes need no test per
     * bin; nrun < 0: more runs than kept here, tested per bin */
    enum { MAX_RUNS = 8 };
    int run0[MAX_RUNS], run1[MAX_RUNS], nrun = 0;
    for (int kk = 0; kk < g->na && nrun >= 0;) {
        if (!g->allowed[kk]) {
            kk++;
            continue;
        }
        int s0 = kk;
        while (kk < g->na && g->allowed[kk])
            kk++;
        if (nrun == MAX_RUNS) {
            nrun = -1;
            break;
        }
        run0[nrun] = s0;
        run1[nrun++] = kk - 1;
    }
    for (uint32_t j = 3; j + 3 < wh; j++) {
        for (uint32_t i = 3; i + 3 < ww; i++) {
            size_t k = (size_t)j * ww + i;
            float z = src[k] / sigma;
            if (z < k_thr || !wv[k])
                continue;
            /* Bone cortex: bright with an acoustic shadow beneath. A needle
             * is too thin to cast one. (local mean = w - res) With time, a
             * needle lying on or just above a cortex (an ankle needle along
             * the tibia) has the cortex's shadow beneath it too: a change
             * as strong as a needle's keeps its votes there; the cortex's
             * own flicker (weaker, speckle-like) does not. */
            if (j + (uint32_t)(shadow_off + 2) < wh && !(d->temporal && z >= SHADOW_NEW_SIGMAS)) {
                size_t kb = k + (size_t)shadow_off * ww;
                float below = (w[kb - ww] + w[kb] + w[kb + ww] + w[kb + 2 * ww]) * 0.25f;
                float local = w[k] - res[k];
                if (below - dark < 0.35f * (local - dark))
                    continue;
            }
            int k0 = 0, k1 = g->na - 1;
            float wgt = gd_minf(z - k_thr, 4.0f) + 0.5f;
            /* Single image: a pixel votes only near its own orientation
             * (horizontal fibres never vote for the oblique line crossing
             * them). With time the static lines are gone from the
             * difference, and a steep shaft is a dotted line whose dots
             * are wider than tall (the beam is wider than the pulse is
             * long): their orientation would point the wrong way, so
             * every pixel votes for every needle angle (a Radon sum). */
            if (!d->temporal && !orient_votes(ten, ww, i, j, g, &k0, &k1, &wgt))
                continue;
            if (d->temporal) {
                /* ... except where the change itself is a coherent streak at
                 * a needle angle (a shaft and its reverberation band): there
                 * only near that angle, so lines cutting across the band do
                 * not collect its votes */
                int q0, q1;
                float wq = wgt;
                if (orient_votes(ten, ww, i, j, g, &q0, &q1, &wq) && wq > 0.6f * wgt &&
                    q1 - q0 >= (int)(HOUGH_VOTE_TOL_DEG / HOUGH_STEP_DEG) &&
                    g->allowed[(q0 + q1) / 2]) {
                    k0 = q0;
                    k1 = q1;
                }
            }
            float x = (float)i - g->cx, zz = (float)j - g->cz;
            /* rho of every bin first (a vector loop: the same products and
             * rounding as one bin at a time), then the votes */
            int rbin[512];
            for (int kk = k0; kk <= k1; kk++)
                rbin[kk] = irint_f(-x * g->sin_t[kk] + zz * g->cos_t[kk]);
            if (nrun < 0) {
                for (int kk = k0; kk <= k1; kk++) {
                    if (!g->allowed[kk])
                        continue;
                    int ri = rbin[kk] + g->r0;
                    acc[(size_t)kk * (size_t)g->nr + (size_t)ri] += wgt;
                }
                continue;
            }
            for (int q = 0; q < nrun; q++) {
                int lo = run0[q] > k0 ? run0[q] : k0, hi = run1[q] < k1 ? run1[q] : k1;
                float *col = acc + (size_t)lo * (size_t)g->nr + (size_t)g->r0;
                for (int kk = lo; kk <= hi; kk++, col += g->nr)
                    col[rbin[kk]] += wgt;
            }
        }
    }
}

/* A positive cell no lower than its 8 neighbours (up, dn: the rows of the
 * neighbouring angles); without branches, so a row of them vectorises. */
static inline uint8_t local_max(const float *row, const float *up, const float *dn, int r)
{
    float v = row[r];
    return (uint8_t)((v > 0.0f) & (v >= row[r - 1]) & (v >= row[r + 1]) & (v >= up[r]) &
                     (v >= dn[r]) & (v >= up[r - 1]) & (v >= up[r + 1]) & (v >= dn[r - 1]) &
                     (v >= dn[r + 1]));
}

/* Up to `max` local maxima of the accumulator, strongest first. */
GD_CLONES int find_peaks(const float *acc, const hough_grid *g, float work_mm,
                      const tl_needle_guide *guide, float img_w_mm, float img_h_mm,
                      int max, int *pk, int *pr, float *pv)
{
    enum { KEEP = MAX_PEAKS };
    int bk[KEEP], br[KEEP];
    float bv[KEEP];
    int nb = 0;
    uint8_t lmax[2048];
    const bool vec = g->nr <= (int)sizeof lmax;
    for (int k = 1; k + 1 < g->na; k++) {
        if (!g->allowed[k])
            continue;
        const float *row = acc + (size_t)k * (size_t)g->nr;
        /* local maxima of the row first, as a vector loop (the same tests
         * as one cell at a time; the row order of what follows is kept) */
        const float *up = row - g->nr, *dn = row + g->nr;
        if (vec)
            for (int r = 1; r + 1 < g->nr; r++)
                lmax[r] = local_max(row, up, dn, r);
        for (int r = 1; r + 1 < g->nr; r++) {
            if (vec && r + 9 < g->nr) {
                /* maxima are sparse: step over 8 cells without one */
                uint64_t none;
                memcpy(&none, lmax + r, sizeof none);
                if (!none) {
                    r += 7;
                    continue;
                }
            }
            if (vec ? !lmax[r] : !local_max(row, up, dn, r))
                continue;
            float v = row[r];
            if (nb == KEEP && v <= bv[KEEP - 1])
                continue;
            if (guide) {
                /* Only lines near the guide: compare the line's x at z = mid-depth. */
                float a = (-g->amax + (float)k * HOUGH_STEP_DEG) * (float)TL_DEG;
                float rho_mm = (float)(r - g->r0) * work_mm;
                float cxm = g->cx * work_mm, czm = g->cz * work_mm;
                float px = cxm - rho_mm * sinf(a), pz = czm + rho_mm * cosf(a);
                float ga = guide->angle_deg * (float)TL_DEG;
                /* perpendicular distance of (px,pz) from the guide line */
                float dist = fabsf(-(px - guide->offset_mm) * sinf(ga) + pz * cosf(ga));
                (void)img_w_mm;
                (void)img_h_mm;
                if (dist > fmaxf(guide->tol_mm, 0.5f) + 1.5f)
                    continue;
            }
            int pos = nb < KEEP ? nb++ : KEEP - 1;
            while (pos > 0 && bv[pos - 1] < v) {
                bv[pos] = bv[pos - 1];
                bk[pos] = bk[pos - 1];
                br[pos] = br[pos - 1];
                pos--;
            }
            bv[pos] = v;
            bk[pos] = k;
            br[pos] = r;
        }
    }
    int n = nb < max ? nb : max;
    (void)work_mm;
    for (int i = 0; i < n; i++) {
        pk[i] = bk[i];
        pr[i] = br[i];
        pv[i] = bv[i];
    }
    return n;
}

