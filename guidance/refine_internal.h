/* Internals of the full-resolution trace (refine.c, refine_line.c): a
 * walker along a candidate line and the profile helpers. Not public. */
#ifndef TL_GUIDANCE_REFINE_H
#define TL_GUIDANCE_REFINE_H

#include "guidance_internal.h"

#include <math.h>

typedef struct {
    const tl_bmode *img;
    bool shallow;          /* u = column, v = row; else u = row, v = column */
    int nu, nv;
    double m, v0, u0;      /* v = v0 + m (u - u0) */
    double cosb;           /* perpendicular distance = |dv| * cosb */
    double sp;             /* mm per pixel */
} walker;

/* (int)lround(v) without the library call, to the bit: half away from
 * zero, via 64 bits then truncated to int like lround's long (so a NaN or
 * an out-of-range value lands where lround's would). Per step and band. */
static inline int iround(double v)
{
    double a = fabs(v);
    long long t = (long long)a;
    long long r = t + (a - (double)t >= 0.5);
    return (int)(v < 0.0 ? -r : r);
}

static inline float pix(const walker *w, int u, int v)
{
    const tl_bmode *im = w->img;
    return w->shallow ? (float)im->pixels[(size_t)v * im->stride + (size_t)u]
                      : (float)im->pixels[(size_t)u * im->stride + (size_t)v];
}

static inline bool valid_at(const walker *w, int u, int v)
{
    const tl_bmode *im = w->img;
    if (!im->valid)
        return true;
    return w->shallow ? im->valid[(size_t)v * im->width + (size_t)u] != 0
                      : im->valid[(size_t)u * im->width + (size_t)v] != 0;
}

/* Linear interpolation across v; caller keeps v inside [0, nv-1). */
static inline float pix_v(const walker *w, int u, double v)
{
    int v0 = (int)floor(v);
    float t = (float)(v - v0);
    return pix(w, u, v0) * (1.0f - t) + pix(w, u, v0 + 1) * t;
}

/* Mean over a short segment across the line centred at v, half width hw:
 * the mean of the linearly interpolated samples v-hw .. v+hw, computed from
 * the 2 hw + 2 whole pixels they fall between (first and last weighted). */
static inline float band(const walker *w, int u, double v, int hw)
{
    double fv = floor(v);
    int v0 = (int)fv - hw;
    float t = (float)(v - fv);
    /* one pointer and a step instead of pix() per sample; the whole
     * pixels in between are summed as integers (exact) */
    const tl_bmode *im = w->img;
    size_t step = w->shallow ? (size_t)im->stride : 1u;
    const uint8_t *p = w->shallow ? im->pixels + (size_t)v0 * im->stride + (size_t)u
                                  : im->pixels + (size_t)u * im->stride + (size_t)v0;
    uint32_t mid = 0;
    for (int k = 1; k <= 2 * hw; k++)
        mid += p[(size_t)k * step];
    float s = (float)p[0] * (1.0f - t) + (float)mid;
    s += (float)p[(size_t)(2 * hw + 1) * step] * t;
    return s / (float)(2 * hw + 1);
}

#define NCTL 4
/* Perpendicular distances (mm) of the control lines on the shallow side. */
extern const double ctl_mm[NCTL];

float max_interval(const float *val, const uint8_t *in, int lo, int hi, float tau, float cap,
                   int *rs, int *re);
float robust_spread(float *tmp, const float *v, int n, float *med);
bool fit_line(const float *rv, const uint8_t *use, int lo, int hi, float *tmp, double *a,
              double *b, double *rms);
bool sample_line(const walker *w, int above, double sina, int hw, bool full, float *I,
                 float *ctl, float *sd, float *below, float *below2, float *below3,
                 uint8_t *in, int *lo_out, int *hi_out);
void smooth_along(const float *I, const uint8_t *in, int lvl, int lo, int hi, int r,
                  float *out);
void background(const float *ism, float *ctl, const uint8_t *in, int lo, int hi, int r, int nu,
                const image_stats *st, float *tmp, float *bgl, float *ex, float *cmax,
                float *sig);
bool ridge_at(const walker *w, int u, int uv, float *out);
/* Search angle (+/- 3 deg) and offset (+/- 0.3 mm) around the line for
 * the highest mean echo along it over steps lo..hi (a local Radon sum on
 * the full-resolution image): the line through a dotted shaft. */
void fine_line(walker *w, int lo, int hi, double px_perp);

/* ladder.c: the needle's reverberation ladder under a shallow line
 * (w->shallow), over columns ua..ub. */
typedef struct {
    float t;            /* comb contrast across column groups, mean / standard error */
    float contrast;     /* comb contrast of the mean profile (grey levels) */
    float spacing_mm;   /* spacing of the copies down a column */
    int rungs;          /* copies in a row brighter than the troughs beside them */
    int groups;         /* column groups read */
    int copies;         /* copies the window holds at that spacing (3-6) */
    int strong;         /* column groups whose comb is half the mean's or more */
    float trough;       /* mean level between the copies (grey) */
    float above;        /* a copy one spacing above the line, against the comb
                         * (~1: the line is itself a copy, a rung) */
} ladder_info;
bool ladder_under(const walker *w, int ua, int ub, ladder_info *out);
/* A ladder a needle would give: every copy the window holds (>= 5) there,
 * the comb at least LADDER_MIN_REL of the image's bright span (p90 - median:
 * grey levels of this image, not of the simulator), no copy above, black
 * between the copies (in a bone's shadow). */
bool ladder_holds(const ladder_info *li, const image_stats *st);
/* refine.c asks for the ladder of shafts at most this steep ... */
#define LADDER_MAX_DEG 25.0f
/* ... at least this long (a stub shorter than 2 mm nobody calls a needle) ... */
#define LADDER_MIN_LEN_MM 2.0
/* ... read under the traced shaft and this far behind its shallow end (the
 * part hidden in the cortex) */
#define LADDER_BEHIND_MM 6.0

#endif
