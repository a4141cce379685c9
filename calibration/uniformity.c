/* Uniformity / TGC on a uniform phantom: the mean echo power in depth bins
 * (over every line and frame, so speckle averages out) and per line. The
 * depth profile is fitted with a line (the tilt); the correction is the
 * smoothed profile turned upside down. It is then checked on frames not used
 * for the fit, with the correction applied, so the corrected tilt is an
 * independent measurement. */
#include "cal_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NB TL_CAL_CURVE_POINTS

tl_cal_uniformity_tol tl_cal_uniformity_tol_default(void)
{
    tl_cal_uniformity_tol t = { .max_tilt_db = 1.0f, .max_lateral_db = 3.0f };
    return t;
}

struct tl_cal_uniformity {
    tl_geometry g;
    uint32_t s0, s1;             /* sample range analysed */
    bool fitted;
    bool probe_applies;         /* check frames already corrected by the probe */
    uint32_t frames, check_frames;
    double fit_bins[NB], check_bins[NB];
    double *line_power;          /* per line, fit frames */
    float correction_db[NB];     /* per bin */
    float gain[NB];              /* linear amplitude gain per bin */
    tl_cal_uniformity_result res;
};

static uint32_t bin_of(const tl_cal_uniformity *u, uint32_t s)
{
    uint32_t b = (uint32_t)((uint64_t)(s - u->s0) * NB / (u->s1 - u->s0));
    return b >= NB ? NB - 1 : b;
}

tl_status tl_cal_uniformity_create(const tl_geometry *g, tl_cal_uniformity **out)
{
    if (!g || !out || g->lines < 8 || g->samples < 4 * NB)
        return TL_ERR_INVALID_ARG;
    tl_cal_uniformity *u = calloc(1, sizeof *u);
    if (!u)
        return TL_ERR_NO_MEM;
    u->line_power = calloc(g->lines, sizeof *u->line_power);
    if (!u->line_power) {
        free(u);
        return TL_ERR_NO_MEM;
    }
    u->g = *g;
    /* skip the first 2 mm (lens ring-down, near field) and the last 2 %
     * (filter edge effects at the end of the line) */
    float dz = tl_geometry_dz_mm(g);
    u->s0 = (uint32_t)(2.0f / dz);
    u->s1 = g->samples - g->samples / 50;
    if (u->s1 < u->s0 + 2 * NB)
        u->s0 = 0;
    *out = u;
    return TL_OK;
}

void tl_cal_uniformity_destroy(tl_cal_uniformity *u)
{
    if (!u)
        return;
    free(u->line_power);
    free(u);
}

tl_status tl_cal_uniformity_add(tl_cal_uniformity *u, const float *env)
{
    if (!u || !env)
        return TL_ERR_INVALID_ARG;
    const uint32_t L = u->g.lines, S = u->g.samples;
    double *bins = u->fitted ? u->check_bins : u->fit_bins;
    for (uint32_t i = 0; i < L; i++) {
        const float *col = env + (size_t)i * S;
        double lp = 0;
        for (uint32_t s = u->s0; s < u->s1; s++) {
            double a = col[s];
            if (u->fitted && !u->probe_applies)
                a *= u->gain[bin_of(u, s)];
            double p = a * a;
            bins[bin_of(u, s)] += p;
            lp += p;
        }
        if (!u->fitted)
            u->line_power[i] += lp;
    }
    if (u->fitted)
        u->check_frames++;
    else
        u->frames++;
    return TL_OK;
}

/* dB profile of the bins relative to its mean, and its fitted tilt over the
 * whole image depth (the sim's and a technician's convention: the gain change
 * from the face to the bottom of the image). */
static void profile(const tl_cal_uniformity *u, const double *bins, float *db, float *tilt)
{
    double z[NB], y[NB], mean = 0;
    for (int b = 0; b < NB; b++) {
        double sc = u->s0 + (b + 0.5) * (u->s1 - u->s0) / NB;
        float x, zz;
        cal_line_sample_mm(&u->g, 0, sc, &x, &zz);
        z[b] = zz;
        y[b] = 10.0 * log10(bins[b] + 1e-30);
        mean += y[b];
    }
    mean /= NB;
    for (int b = 0; b < NB; b++)
        db[b] = (float)(y[b] - mean);
    double a = 0, c = 0;
    if (!cal_fit_line(z, y, NULL, NB, &a, &c))
        a = 0;
    *tilt = (float)(a * (tl_geometry_depth_mm(&u->g) - u->g.depth_start_mm));
}

/* The probe's 8-point TGC: the correction at evenly spaced depths from the
 * first to the last sample, held constant outside the analysed range. */
static void tgc_points(const tl_cal_uniformity *u, float tgc[8])
{
    float zb[NB], x;
    for (int b = 0; b < NB; b++)
        cal_line_sample_mm(&u->g, 0, u->s0 + (b + 0.5) * (u->s1 - u->s0) / NB, &x, &zb[b]);
    float zs = u->g.depth_start_mm, ze = tl_geometry_depth_mm(&u->g);
    for (int k = 0; k < 8; k++) {
        float zk = zs + (ze - zs) * (float)k / 7.0f;
        int b = 0;
        while (b < NB - 1 && zb[b + 1] < zk)
            b++;
        float v = u->correction_db[b];
        if (b < NB - 1 && zk > zb[b]) {
            float f = (zk - zb[b]) / (zb[b + 1] - zb[b]);
            v += f * (u->correction_db[b + 1] - v);
        }
        tgc[k] = v;
    }
}

tl_status tl_cal_uniformity_fit(tl_cal_uniformity *u, bool probe_applies)
{
    if (!u)
        return TL_ERR_INVALID_ARG;
    if (u->frames == 0)
        return TL_ERR_NOT_FOUND;
    if (u->fitted)
        return TL_ERR_STATE;
    tl_cal_uniformity_result *r = &u->res;
    profile(u, u->fit_bins, r->level_db, &r->tilt_db);
    /* smooth over 5 bins, then invert: the gain that flattens the profile */
    for (int b = 0; b < NB; b++) {
        double s = 0;
        int k = 0;
        for (int d = -2; d <= 2; d++)
            if (b + d >= 0 && b + d < NB) {
                s += r->level_db[b + d];
                k++;
            }
        u->correction_db[b] = (float)(-s / k);
        u->gain[b] = powf(10.0f, u->correction_db[b] / 20.0f);
    }
    u->fitted = true;
    u->probe_applies = probe_applies;
    tgc_points(u, u->res.tgc_db);
    return TL_OK;
}

tl_status tl_cal_uniformity_tgc(const tl_cal_uniformity *u, float tgc_db[8])
{
    if (!u || !tgc_db)
        return TL_ERR_INVALID_ARG;
    if (!u->fitted)
        return TL_ERR_STATE;
    memcpy(tgc_db, u->res.tgc_db, sizeof u->res.tgc_db);
    return TL_OK;
}

tl_status tl_cal_uniformity_finish(tl_cal_uniformity *u, const tl_cal_uniformity_tol *tol,
                                   tl_cal_uniformity_result *out)
{
    if (!u || !out)
        return TL_ERR_INVALID_ARG;
    if (!u->fitted) {
        tl_status st = tl_cal_uniformity_fit(u, false);
        if (st != TL_OK)
            return st;
    }
    if (u->check_frames == 0)
        return TL_ERR_NOT_FOUND;   /* the correction must be checked on fresh frames */
    tl_cal_uniformity_tol t = tol ? *tol : tl_cal_uniformity_tol_default();
    tl_cal_uniformity_result *r = &u->res;
    r->frames = u->frames;
    r->check_frames = u->check_frames;
    r->points = NB;
    profile(u, u->check_bins, r->corrected_db, &r->corrected_tilt_db);
    float x;
    cal_line_sample_mm(&u->g, 0, u->s0, &x, &r->z0_mm);
    cal_line_sample_mm(&u->g, 0, u->s1 - 1, &x, &r->z1_mm);
    for (int b = 0; b < NB; b++) {
        double sc = u->s0 + (b + 0.5) * (u->s1 - u->s0) / NB;
        cal_line_sample_mm(&u->g, 0, sc, &x, &r->depth_mm[b]);
        r->correction_db[b] = u->correction_db[b];
    }
    /* lateral profile, smoothed over 9 lines, peak to peak */
    const uint32_t L = u->g.lines;
    float lo = INFINITY, hi = -INFINITY;
    for (uint32_t i = 4; i + 4 < L; i++) {
        double s = 0;
        for (uint32_t k = i - 4; k <= i + 4; k++)
            s += u->line_power[k];
        float db = (float)(10.0 * log10(s / 9.0 + 1e-30));
        lo = fminf(lo, db);
        hi = fmaxf(hi, db);
    }
    r->lateral_db = hi - lo;
    r->pass = fabsf(r->corrected_tilt_db) <= t.max_tilt_db && r->lateral_db <= t.max_lateral_db;
    *out = *r;
    return TL_OK;
}
