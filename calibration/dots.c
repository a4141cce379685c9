/* Wire dots in 8-bit B-mode images (the real fCal N-wire phantom frames):
 * box-smoothed image, connected blobs above half the minimum peak, compact
 * blobs kept, then (N-wire phantoms) grouped into collinear triplets, one
 * per wire layer, so a frame only counts as complete when the pattern is. */
#include "tl_calibration.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SMOOTH_R 2           /* 5 x 5 box */
#define MAX_CANDIDATES 48

tl_cal_dot_params tl_cal_dot_params_default(uint32_t want)
{
    tl_cal_dot_params p = {
        .min_peak = 40.0f,
        .max_extent_px = 80,
        .min_area_px = 4,
        .border_px = 3,
        .nwire_layers = want >= 3 && want % 3 == 0,
    };
    return p;
}

/* 5 x 5 box mean via an integral image. */
static void smooth(const uint8_t *img, uint32_t w, uint32_t h, uint32_t stride, float *out,
                   uint32_t *integral)
{
    uint32_t W = w + 1;
    memset(integral, 0, sizeof(uint32_t) * W);
    for (uint32_t y = 0; y < h; y++) {
        uint32_t run = 0;
        integral[(size_t)(y + 1) * W] = 0;
        for (uint32_t x = 0; x < w; x++) {
            run += img[(size_t)y * stride + x];
            integral[(size_t)(y + 1) * W + x + 1] = integral[(size_t)y * W + x + 1] + run;
        }
    }
    for (uint32_t y = 0; y < h; y++) {
        uint32_t y0 = y >= SMOOTH_R ? y - SMOOTH_R : 0, y1 = y + SMOOTH_R + 1 > h ? h : y + SMOOTH_R + 1;
        for (uint32_t x = 0; x < w; x++) {
            uint32_t x0 = x >= SMOOTH_R ? x - SMOOTH_R : 0, x1 = x + SMOOTH_R + 1 > w ? w : x + SMOOTH_R + 1;
            uint32_t s = integral[(size_t)y1 * W + x1] - integral[(size_t)y0 * W + x1] -
                         integral[(size_t)y1 * W + x0] + integral[(size_t)y0 * W + x0];
            out[(size_t)y * w + x] = (float)s / (float)((y1 - y0) * (x1 - x0));
        }
    }
}

typedef struct {
    tl_cal_dot d;
    bool used;
} cand;

/* Flood-fill every blob of s >= level; keep compact ones as candidates. */
static uint32_t blobs(const float *s, uint32_t w, uint32_t h, const tl_cal_dot_params *p,
                      uint8_t *seen, uint32_t *stack, cand *c, uint32_t cap)
{
    float level = 0.5f * p->min_peak;
    uint32_t n = 0;
    memset(seen, 0, (size_t)w * h);
    for (uint32_t start = 0; start < w * h; start++) {
        if (seen[start] || s[start] < level)
            continue;
        /* pass 1: extent and peak */
        uint32_t top = 0, count = 0;
        stack[top++] = start;
        seen[start] = 1;
        uint32_t xmin = w, xmax = 0, ymin = h, ymax = 0;
        float peak = 0.0f;
        uint32_t first = start;
        while (top > 0) {
            uint32_t i = stack[--top];
            count++;
            uint32_t x = i % w, y = i / w;
            if (x < xmin) xmin = x;
            if (x > xmax) xmax = x;
            if (y < ymin) ymin = y;
            if (y > ymax) ymax = y;
            if (s[i] > peak)
                peak = s[i];
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int nx = (int)x + dx, ny = (int)y + dy;
                    if (nx < 0 || ny < 0 || nx >= (int)w || ny >= (int)h)
                        continue;
                    uint32_t j = (uint32_t)ny * w + (uint32_t)nx;
                    if (!seen[j] && s[j] >= level) {
                        seen[j] = 1;
                        stack[top++] = j;
                    }
                }
        }
        (void)first;
        if (peak < p->min_peak || count < p->min_area_px)
            continue;
        if (xmax - xmin + 1 > p->max_extent_px || ymax - ymin + 1 > p->max_extent_px)
            continue;
        if (xmin < p->border_px || ymin < p->border_px || xmax + p->border_px >= w ||
            ymax + p->border_px >= h)
            continue;
        /* centroid of the part above half the peak, weighted by the excess */
        double sw = 0, sx = 0, sy = 0;
        uint32_t area = 0;
        float half = 0.5f * peak;
        for (uint32_t y = ymin; y <= ymax; y++)
            for (uint32_t x = xmin; x <= xmax; x++) {
                float v = s[(size_t)y * w + x];
                if (v < half)
                    continue;
                double wt = v - half;
                sw += wt;
                sx += wt * x;
                sy += wt * y;
                area++;
            }
        if (sw <= 0)
            continue;
        tl_cal_dot d = { (float)(sx / sw), (float)(sy / sw), peak, area };
        if (n < cap) {
            c[n].d = d;
            c[n].used = false;
            n++;
        } else {
            /* keep the strongest */
            uint32_t weakest = 0;
            for (uint32_t k = 1; k < n; k++)
                if (c[k].d.peak < c[weakest].d.peak)
                    weakest = k;
            if (c[weakest].d.peak < peak)
                c[weakest].d = d;
        }
    }
    return n;
}

static int by_peak(const void *a, const void *b)
{
    float pa = ((const cand *)a)->d.peak, pb = ((const cand *)b)->d.peak;
    return (pa < pb) - (pa > pb);
}

typedef struct {
    uint8_t i[3];
    float score;
    float y;
} triplet;

static int by_score(const void *a, const void *b)
{
    float sa = ((const triplet *)a)->score, sb = ((const triplet *)b)->score;
    return (sa < sb) - (sa > sb);
}

/* Three dots of one N-wire layer: nearly on one line, the middle one between
 * the outer two, the line not steep. */
static bool collinear(const tl_cal_dot *a, const tl_cal_dot *b, const tl_cal_dot *c,
                      float *resid)
{
    float dx = c->x - a->x, dy = c->y - a->y;
    float len = hypotf(dx, dy);
    if (len < 20.0f || fabsf(dy) > 0.6f * fabsf(dx))
        return false;
    float t = ((b->x - a->x) * dx + (b->y - a->y) * dy) / (len * len);
    if (t < 0.08f || t > 0.92f)
        return false;
    float dist = fabsf((b->x - a->x) * dy - (b->y - a->y) * dx) / len;
    *resid = dist;
    return dist <= 3.0f + 0.04f * len;
}

static int by_x(const void *a, const void *b)
{
    float xa = ((const tl_cal_dot *)a)->x, xb = ((const tl_cal_dot *)b)->x;
    return (xa > xb) - (xa < xb);
}

static uint32_t nwire_layers(cand *c, uint32_t n, uint32_t layers, tl_cal_dot *out)
{
    size_t cap = (size_t)n * n * n / 6 + 1;
    triplet *t = malloc(cap * sizeof *t);
    if (!t)
        return 0;
    size_t nt = 0;
    for (uint32_t a = 0; a < n; a++)
        for (uint32_t b = 0; b < n; b++)
            for (uint32_t d = a + 1; d < n; d++) {
                if (b == a || b == d)
                    continue;
                const tl_cal_dot *A = &c[a].d, *B = &c[b].d, *D = &c[d].d;
                const tl_cal_dot *L = A->x <= D->x ? A : D, *R = A->x <= D->x ? D : A;
                float resid;
                if (!(L->x < B->x && B->x < R->x) || !collinear(L, B, R, &resid))
                    continue;
                if (nt < cap) {
                    t[nt].i[0] = (uint8_t)a;
                    t[nt].i[1] = (uint8_t)b;
                    t[nt].i[2] = (uint8_t)d;
                    /* bright, straight layers first */
                    t[nt].score = (A->peak + B->peak + D->peak) / (1.0f + 0.2f * resid);
                    t[nt].y = (A->y + B->y + D->y) / 3.0f;
                    nt++;
                }
            }
    qsort(t, nt, sizeof *t, by_score);
    uint32_t got = 0;
    triplet chosen[TL_CAL_MAX_WIRES / 3];
    for (size_t k = 0; k < nt && got < layers && got < TL_CAL_MAX_WIRES / 3; k++) {
        if (c[t[k].i[0]].used || c[t[k].i[1]].used || c[t[k].i[2]].used)
            continue;
        for (int j = 0; j < 3; j++)
            c[t[k].i[j]].used = true;
        chosen[got++] = t[k];
    }
    free(t);
    /* layers top to bottom, dots left to right */
    for (uint32_t a = 1; a < got; a++)
        for (uint32_t b = a; b > 0 && chosen[b].y < chosen[b - 1].y; b--) {
            triplet tmp = chosen[b];
            chosen[b] = chosen[b - 1];
            chosen[b - 1] = tmp;
        }
    for (uint32_t l = 0; l < got; l++) {
        for (int j = 0; j < 3; j++)
            out[3 * l + (uint32_t)j] = c[chosen[l].i[j]].d;
        qsort(out + 3 * l, 3, sizeof *out, by_x);
    }
    return 3 * got;
}

tl_status tl_cal_find_dots(const uint8_t *img, uint32_t width, uint32_t height,
                           uint32_t stride, const tl_cal_dot_params *params, uint32_t want,
                           tl_cal_dot *out, uint32_t *found)
{
    if (!img || !out || !found || width < 8 || height < 8 || stride < width || want == 0 ||
        want > TL_CAL_MAX_WIRES)
        return TL_ERR_INVALID_ARG;
    *found = 0;
    tl_cal_dot_params p = params ? *params : tl_cal_dot_params_default(want);
    if (p.nwire_layers && want % 3 != 0)
        return TL_ERR_INVALID_ARG;
    size_t npx = (size_t)width * height;
    float *s = malloc(npx * sizeof *s);
    uint32_t *integral = malloc((size_t)(width + 1) * (height + 1) * sizeof *integral);
    uint8_t *seen = malloc(npx);
    uint32_t *stack = malloc(npx * sizeof *stack);
    cand *c = malloc(MAX_CANDIDATES * sizeof *c);
    tl_status st = TL_OK;
    if (!s || !integral || !seen || !stack || !c) {
        st = TL_ERR_NO_MEM;
        goto done;
    }
    smooth(img, width, height, stride, s, integral);
    uint32_t n = blobs(s, width, height, &p, seen, stack, c, MAX_CANDIDATES);
    qsort(c, n, sizeof *c, by_peak);
    if (p.nwire_layers) {
        *found = nwire_layers(c, n, want / 3, out);
    } else {
        uint32_t k = n < want ? n : want;
        for (uint32_t i = 0; i < k; i++)
            out[i] = c[i].d;
        *found = k;
    }
done:
    free(s);
    free(integral);
    free(seen);
    free(stack);
    free(c);
    return st;
}
