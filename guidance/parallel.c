/* Needle detection: the shaft, not its reverberation.
 *
 * The lumen of a needle rings: beneath the shaft lies a comet tail of
 * copies of it, shifted along the beam (straight down on a linear probe)
 * by the shaft's vertical extent, each weaker, but on a log-compressed
 * display still bright lines of the same angle that end under the tip.
 * Over a bright layer (the tibia cortex under an ankle needle) a copy can
 * win the search, and the tip is then put 1.5-3 mm too deep. So a line
 * that was chosen is checked for a brighter-than-half parallel line above
 * it, along the beam: the shallowest such line is the shaft candidate
 * (detect.c traces it and keeps it only if it passes as a needle). */
#include "guidance_internal.h"

#include <math.h>

/* Mean of `map` along the segment (ax, az) -> (bx, bz) shifted down by dz
 * (work pixels), one sample per work pixel; NAN when most of it lies
 * outside the scanned area. */
static float seg_mean(const tl_needle_detector *d, const float *map, double ax, double az,
                      double bx, double bz, double dz)
{
    double len = hypot(bx - ax, bz - az);
    int n = (int)len + 1;
    double s = 0.0;
    int m = 0;
    for (int k = 0; k < n; k++) {
        double t = n > 1 ? (double)k / (n - 1) : 0.0;
        float v;
        if (work_sample(d, map, ax + t * (bx - ax), az + t * (bz - az) + dz, &v)) {
            s += v;
            m++;
        }
    }
    return 5 * m >= 3 * n && m > 0 ? (float)(s / m) : NAN;
}

#define PAR_MAX_MM 4.0f  /* how far above along the beam (8 copies of a 21 G shaft) */
#define PAR_MIN_MM 0.45f /* closer than this is the same echo (its far wall) */

bool needle_shallower_line(const tl_needle_detector *d, const tl_bmode *img,
                           const tl_needle_detection *det, float work_mm, needle_line *out)
{
    if (det->length_mm <= 0.0f)
        return false;
    const float *res = d->resid.p;
    double f = (double)d->factor, sp = img->spacing_mm;
    double ax = (det->entry_x_mm / sp + 0.5) / f - 0.5, az = (det->entry_z_mm / sp + 0.5) / f - 0.5;
    double bx = (det->tip_x_mm / sp + 0.5) / f - 0.5, bz = (det->tip_z_mm / sp + 0.5) / f - 0.5;
    const double step = 0.5; /* work pixels */
    enum { MAXO = 256 };
    int no = (int)(PAR_MAX_MM / work_mm / step);
    if (no >= MAXO)
        no = MAXO - 1;
    float prof[MAXO];
    /* the chosen line itself: the best within +/- 1 work pixel */
    float m0 = -1e30f;
    for (int k = -2; k <= 2; k++) {
        float v = seg_mean(d, res, ax, az, bx, bz, k * step);
        if (isfinite(v))
            m0 = fmaxf(m0, v);
    }
    if (!(m0 > 0.0f))
        return false;
    for (int k = 0; k <= no; k++)
        prof[k] = seg_mean(d, res, ax, az, bx, bz, -k * step);
    int kmin = (int)ceil(PAR_MIN_MM / work_mm / step);
    int best = -1;
    for (int k = kmin; k < no; k++) {
        float v = prof[k];
        if (!isfinite(v) || !isfinite(prof[k - 1]) || !isfinite(prof[k + 1]))
            continue;
        if (v < 0.5f * m0 || v < prof[k - 1] || v < prof[k + 1])
            continue;
        /* a line of its own: the echo dips between it and the one below */
        float dip = v;
        for (int q = k - 1; q >= 0 && isfinite(prof[q]); q--)
            dip = fminf(dip, prof[q]);
        if (dip > 0.7f * v)
            continue;
        best = k; /* keep going: the shallowest one wins */
    }
    if (best < 0)
        return false;
    double dz = -best * step;
    out->px = (bx + 0.5) * f - 0.5;
    out->pz = (bz + dz + 0.5) * f - 0.5;
    out->a = det->angle_deg * TL_DEG;
    out->votes = 0.0f;
    return true;
}

float needle_line_level(const tl_needle_detector *d, const tl_bmode *img, float tip_x_mm,
                        float tip_z_mm, float angle_deg, float back_mm, float sigma)
{
    double f = (double)d->factor, sp = img->spacing_mm;
    double a = angle_deg * TL_DEG;
    /* back from the tip towards the entry (shallower) */
    double ux = cos(a), uz = sin(a);
    if (uz > 0.0) {
        ux = -ux;
        uz = -uz;
    }
    double bx = (tip_x_mm / sp + 0.5) / f - 0.5, bz = (tip_z_mm / sp + 0.5) / f - 0.5;
    double len = back_mm / (sp * f);
    float m = seg_mean(d, d->resid.p, bx + ux * len, bz + uz * len, bx, bz, 0.0);
    return isfinite(m) && sigma > 0.0f ? m / sigma : NAN;
}
