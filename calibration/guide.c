/* Needle-guide calibration: a needle pushed through the guide bracket shows
 * as a bright straight shaft with its reverberations (comet tail) beneath.
 * In every line that crosses it, the first echo far above the speckle is the
 * shaft (a real needle's near wall: the line found is then half a diameter
 * above the axis, 0.36 mm for 22 G; the simulator puts it on the axis). Points from a few frames are fitted with a line by
 * RANSAC (reverberations and the tip's bevel are outliers) and total least
 * squares on the inliers. */
#include "cal_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_POINTS 65536

struct tl_cal_guide {
    tl_geometry g;
    uint32_t frames;
    uint32_t n;
    float *x, *z;
};

tl_status tl_cal_guide_create(const tl_geometry *g, tl_cal_guide **out)
{
    if (!g || !out || g->lines < 8 || g->samples < 16)
        return TL_ERR_INVALID_ARG;
    tl_cal_guide *n = calloc(1, sizeof *n);
    if (!n)
        return TL_ERR_NO_MEM;
    n->x = malloc(MAX_POINTS * sizeof *n->x);
    n->z = malloc(MAX_POINTS * sizeof *n->z);
    if (!n->x || !n->z) {
        tl_cal_guide_destroy(n);
        return TL_ERR_NO_MEM;
    }
    n->g = *g;
    *out = n;
    return TL_OK;
}

void tl_cal_guide_destroy(tl_cal_guide *n)
{
    if (!n)
        return;
    free(n->x);
    free(n->z);
    free(n);
}

/* Sub-sample peak of col near s (within w samples after it). */
static double refine_peak(const float *col, uint32_t S, uint32_t s, uint32_t w)
{
    uint32_t best = s;
    for (uint32_t k = s; k < s + w && k + 1 < S; k++)
        if (col[k] > col[best])
            best = k;
    if (best == 0 || best + 1 >= S)
        return best;
    return best + cal_parabola_peak(log(fmaxf(col[best - 1], 1e-6f)), log(col[best]),
                                    log(fmaxf(col[best + 1], 1e-6f)));
}

tl_status tl_cal_guide_add(tl_cal_guide *n, const float *env)
{
    if (!n || !env)
        return TL_ERR_INVALID_ARG;
    const uint32_t L = n->g.lines, S = n->g.samples;
    float med = cal_frame_median(env, (size_t)L * S);
    /* Rayleigh speckle exceeds 4.5x its median with p ~ 1e-6: the steep
     * needle's weaker echo still clears it */
    float thr = 4.5f * med;
    if (!(thr > 0.0f))
        return TL_OK;
    float dz = tl_geometry_dz_mm(&n->g);
    uint32_t s_start = (uint32_t)(1.0f / dz);              /* below the lens */
    uint32_t w = (uint32_t)lroundf(2.0f * n->g.fs_hz / n->g.f0_hz);
    if (w < 4)
        w = 4;
    for (uint32_t i = 0; i < L && n->n < MAX_POINTS; i++) {
        const float *col = env + (size_t)i * S;
        uint32_t s = s_start;
        while (s < S && col[s] < thr)
            s++;
        if (s + w >= S)
            continue;
        /* the first echo is the shaft (its reverberations follow beneath) */
        double centre = refine_peak(col, S, s, w);
        float x, z;
        cal_line_sample_mm(&n->g, i, centre, &x, &z);
        n->x[n->n] = x;
        n->z[n->n] = z;
        n->n++;
    }
    n->frames++;
    return TL_OK;
}

/* Total least squares line through the points flagged in `in`: a point on
 * it (mx, mz) and its unit direction (ux, uz), ux >= 0. */
static bool tls(const tl_cal_guide *n, const uint8_t *in, double *mx, double *mz, double *ux,
                double *uz)
{
    double sx = 0, sz = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n->n; i++)
        if (in[i]) {
            sx += n->x[i];
            sz += n->z[i];
            k++;
        }
    if (k < 3)
        return false;
    *mx = sx / k;
    *mz = sz / k;
    double cxx = 0, cxz = 0, czz = 0;
    for (uint32_t i = 0; i < n->n; i++)
        if (in[i]) {
            double dx = n->x[i] - *mx, dz = n->z[i] - *mz;
            cxx += dx * dx;
            cxz += dx * dz;
            czz += dz * dz;
        }
    double th = 0.5 * atan2(2.0 * cxz, cxx - czz);   /* major axis */
    *ux = cos(th);
    *uz = sin(th);
    if (*ux < 0) {
        *ux = -*ux;
        *uz = -*uz;
    }
    return true;
}

tl_status tl_cal_guide_finish(tl_cal_guide *n, float nominal_deg, const tl_cal_guide_tol *tol,
                              tl_cal_guide_result *r)
{
    if (!n || !r)
        return TL_ERR_INVALID_ARG;
    memset(r, 0, sizeof *r);
    r->frames = n->frames;
    r->nominal_deg = nominal_deg;
    float max_err = tol ? tol->max_angle_err_deg : 2.0f;
    if (n->n < 10)
        return TL_ERR_NOT_FOUND;
    /* RANSAC, deterministic: pairs from a fixed-seed generator */
    tl_rng rng;
    tl_rng_seed(&rng, 12345);
    const double gate = 0.3;   /* mm */
    uint32_t best = 0;
    uint8_t *in = calloc(n->n, 1), *bin = calloc(n->n, 1);
    if (!in || !bin) {
        free(in);
        free(bin);
        return TL_ERR_NO_MEM;
    }
    for (int it = 0; it < 300; it++) {
        uint32_t a = (uint32_t)(tl_rng_next(&rng) % n->n), b = (uint32_t)(tl_rng_next(&rng) % n->n);
        double dx = n->x[b] - n->x[a], dz = n->z[b] - n->z[a], len = hypot(dx, dz);
        if (len < 3.0)
            continue;
        uint32_t cnt = 0;
        for (uint32_t i = 0; i < n->n; i++) {
            double d = fabs((n->x[i] - n->x[a]) * dz - (n->z[i] - n->z[a]) * dx) / len;
            in[i] = d < gate;
            cnt += in[i];
        }
        if (cnt > best) {
            best = cnt;
            memcpy(bin, in, n->n);
        }
    }
    double mx, mz, ux, uz;
    bool ok = best >= 10 && tls(n, bin, &mx, &mz, &ux, &uz);
    if (ok) {
        /* refit on the points near the TLS line (drops RANSAC's edge cases) */
        for (uint32_t i = 0; i < n->n; i++)
            bin[i] = fabs((n->x[i] - mx) * uz - (n->z[i] - mz) * ux) < gate;
        ok = tls(n, bin, &mx, &mz, &ux, &uz);
    }
    if (!ok || fabs(uz) < 1e-6) {
        free(in);
        free(bin);
        return TL_ERR_NOT_FOUND;
    }
    double ss = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n->n; i++)
        if (bin[i]) {
            double d = (n->x[i] - mx) * uz - (n->z[i] - mz) * ux;
            ss += d * d;
            k++;
        }
    r->points = k;
    if (k < 20) {   /* a few collinear specks are not a needle */
        free(in);
        free(bin);
        return TL_ERR_NOT_FOUND;
    }
    r->residual_mm = (float)sqrt(ss / k);
    r->angle_deg = (float)(atan2(uz, ux) * 180.0 / M_PI);
    r->offset_mm = (float)(mx - mz * ux / uz);
    r->pass = r->residual_mm < 0.3f && k >= 20 &&
              (isnan(nominal_deg) || fabsf(r->angle_deg - nominal_deg) <= max_err);
    free(in);
    free(bin);
    return TL_OK;
}
