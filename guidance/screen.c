/* Needle detection, stage 1b: cheap screening on the work image, and the
 * black-canvas crop. Split from detect.c to keep files short. */
#include "guidance_internal.h"

#include <math.h>

/* Bilinear sample of a work-resolution map (the work image, or the
 * difference of temporal.c); false outside it or the scanned area. */
bool work_sample(const tl_needle_detector *d, const float *map, double x, double z, float *out)
{
    if (x < 0.0 || z < 0.0 || x > d->ww - 1.001 || z > d->wh - 1.001)
        return false;
    int i = (int)x, j = (int)z;
    size_t k = (size_t)j * d->ww + (size_t)i;
    const uint8_t *wv = d->wvalid.p;
    if (!wv[k])
        return false;
    float fx = (float)(x - i), fz = (float)(z - j);
    *out = (map[k] * (1 - fx) + map[k + 1] * fx) * (1 - fz) +
           (map[k + d->ww] * (1 - fx) + map[k + d->ww + 1] * fx) * fz;
    return true;
}

/* work_sample with the image's fields in locals (the prescreen samples a
 * few hundred thousand points per frame); the same arithmetic. */
typedef struct {
    const float *map;
    const uint8_t *wv;
    size_t ww;
    double xmax, zmax;
} work_view;

static inline bool work_at(const work_view *m, double x, double z, float *out)
{
    if (x < 0.0 || z < 0.0 || x > m->xmax || z > m->zmax)
        return false;
    int i = (int)x, j = (int)z;
    size_t k = (size_t)j * m->ww + (size_t)i;
    if (!m->wv[k])
        return false;
    const float *p = m->map + k;
    float fx = (float)(x - i), fz = (float)(z - j);
    *out = (p[0] * (1 - fx) + p[1] * fx) * (1 - fz) + (p[m->ww] * (1 - fx) + p[m->ww + 1] * fx) * fz;
    return true;
}

/* Quick score of a Hough peak on the work image, so the expensive
 * full-resolution trace is spent on the likely ones: the best interval of
 * echo brighter than the tissue on its shallow side (Kadane, in units of
 * the residual spread, per mm), times the "comes from the image edge"
 * prior. Bone and long fascia collect many Hough votes; this ranks by what
 * a needle looks like instead. */
GD_CLONES float needle_prescreen(const tl_needle_detector *d, double wx, double wz, double a,
                       float sigma, float work_mm)
{
    double ca = cos(a), sa = sin(a);
    /* unit step along the major axis, in work pixels, going deeper */
    double dx, dz;
    if (fabs(a) <= 0.25 * M_PI) {
        dx = sa >= 0.0 ? 1.0 : -1.0;
        dz = dx * tan(a);
    } else {
        dz = 1.0;
        dx = ca / sa;
    }
    double step_mm = hypot(dx, dz) * work_mm;
    /* shallow side: -n, n = (-sin a, cos a) */
    double o1 = 0.8 / work_mm, o2 = 1.4 / work_mm;
    double c1x = sa * o1, c1z = -ca * o1, c2x = sa * o2, c2z = -ca * o2;
    /* walk back to where the line leaves the image, then forwards */
    double x = wx, z = wz;
    int guard = 0;
    while (x >= 0 && z >= 0 && x <= d->ww - 1 && z <= d->wh - 1 && guard++ < 4000) {
        x -= dx;
        z -= dz;
    }
    const work_view wvw = { d->work.p, d->wvalid.p, d->ww, d->ww - 1.001, d->wh - 1.001 };
    float tau = sigma, cap = 4.0f * sigma;
    /* The steps inside the box first (a line enters it once and leaves it
     * once: they are contiguous, the guard index of the first is k0), then
     * the samples at them (independent steps), then the best interval: the
     * same values in the same order as one loop doing all three, without
     * the interval's running sum waiting on the samples. */
    enum { MAX_STEPS = 4000 };
    double xs[MAX_STEPS], zs[MAX_STEPS];
    float ev[MAX_STEPS];
    int m = 0, k0 = 0;
    for (guard = 0; guard < MAX_STEPS; guard++) {
        x += dx;
        z += dz;
        if (x > d->ww || z > d->wh || x < -1 || z < -1) {
            if (m > 0)
                break;
            continue;
        }
        if (m == 0)
            k0 = guard;
        xs[m] = x;
        zs[m++] = z;
    }
    int first_in = -1;
    for (int q = 0; q < m; q++) {
        float v, c1, c2;
        float e = -tau;
        bool in = work_at(&wvw, xs[q], zs[q], &v);
        if (in && work_at(&wvw, xs[q] + c1x, zs[q] + c1z, &c1) &&
            work_at(&wvw, xs[q] + c2x, zs[q] + c2z, &c2))
            e = gd_minf(v - 0.5f * (c1 + c2), cap) - tau;
        ev[q] = e;
        if (in && first_in < 0)
            first_in = k0 + q;
    }
    float best = 0.0f, cur = 0.0f;
    int cur_start = 0, best_start = -1;
    for (int q = 0; q < m; q++) {
        float e = ev[q];
        if (cur <= 0.0f) {
            cur = e;
            cur_start = k0 + q;
        } else {
            cur += e;
        }
        if (cur > best) {
            best = cur;
            best_start = cur_start;
        }
    }
    if (best_start < 0 || first_in < 0)
        return 0.0f;
    double gap_mm = (best_start - first_in) * step_mm;
    float entry = clampf(1.0f - ((float)gap_mm - 4.0f) / 4.0f, 0.0f, 1.0f);
    return best / sigma * (float)step_mm * entry;
}

/* Scanners put the image on a black canvas. Without a valid mask, crop
 * black margins, so they neither skew the statistics nor count as "the
 * image edge" a needle must come from. A margin is only taken where it ends
 * at a clear scan-area edge: a column (row) mostly filled with echoes after
 * columns (rows) that are black throughout. A sparse image (a water tank
 * with wire dots) keeps its full extent. */
static uint32_t lit(const tl_bmode *img, uint32_t idx, bool column, uint32_t *n)
{
    uint32_t step = 4, nz = 0, cnt = 0;
    if (column) {
        for (uint32_t r = 0; r < img->height; r += step, cnt++)
            nz += img->pixels[(size_t)r * img->stride + idx] > 2;
    } else {
        const uint8_t *row = img->pixels + (size_t)idx * img->stride;
        for (uint32_t x = 0; x < img->width; x += step, cnt++)
            nz += row[x] > 2;
    }
    *n = cnt;
    return nz;
}

static uint32_t margin(const tl_bmode *img, bool column, bool from_end)
{
    uint32_t len = column ? img->width : img->height;
    for (uint32_t k = 0; k < len / 3; k++) {
        uint32_t idx = from_end ? len - 1 - k : k, n;
        uint32_t nz = lit(img, idx, column, &n);
        if (nz * 10 >= n * 3)
            return k;            /* a filled edge after black ones */
        if (nz * 50 > n)
            return 0;            /* not black, not an edge: no margin */
    }
    return 0;
}

void needle_content_box(const tl_bmode *img, uint32_t *c0, uint32_t *c1, uint32_t *r0,
                        uint32_t *r1)
{
    *c0 = 0;
    *c1 = img->width;
    *r0 = 0;
    *r1 = img->height;
    if (img->valid)
        return;
    *c0 = margin(img, true, false);
    *c1 = img->width - margin(img, true, true);
    *r0 = margin(img, false, false);
    *r1 = img->height - margin(img, false, true);
}

