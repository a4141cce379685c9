/* Strip profiles, bone cortex and bright-band detection shared by every
 * anatomy. Everything works on vertical strips (~0.5 mm of columns averaged)
 * so a frame costs one pass over its pixels plus work proportional to
 * strips x rows. */
#include "an_internal.h"

#include <stdlib.h>
#include <string.h>

static int cmp_float(const void *x, const void *y)
{
    float a = *(const float *)x, b = *(const float *)y;
    return (a > b) - (a < b);
}

float an_percentile_f(float *v, uint32_t n, float p)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp_float);
    float pos = p / 100.0f * (float)(n - 1);
    uint32_t i = (uint32_t)pos;
    if (i + 1 >= n)
        return v[n - 1];
    float f = pos - (float)i;
    return v[i] * (1 - f) + v[i + 1] * f;
}

static tl_status grow(tl_analyzer *a, uint32_t ns, uint32_t h, uint32_t cells)
{
    if (ns * h > a->cap_strips * a->cap_rows || h > a->cap_rows) {
        size_t n = (size_t)ns * h;
        float *p = realloc(a->prof, n * sizeof *p);
        if (!p)
            return TL_ERR_NO_MEM;
        a->prof = p;
        float *q = realloc(a->sm, n * sizeof *q);
        if (!q)
            return TL_ERR_NO_MEM;
        a->sm = q;
        float *t = realloc(a->tmp, (size_t)h * sizeof *t);
        if (!t)
            return TL_ERR_NO_MEM;
        a->tmp = t;
        double *c = realloc(a->cum, ((size_t)h + 1) * sizeof *c);
        if (!c)
            return TL_ERR_NO_MEM;
        a->cum = c;
        a->cap_strips = ns;
        a->cap_rows = h;
    }
    if (cells > a->cap_cells) {
        float *c = realloc(a->cell, cells * sizeof *c);
        if (!c)
            return TL_ERR_NO_MEM;
        a->cell = c;
        int16_t *l = realloc(a->label, cells * sizeof *l);
        if (!l)
            return TL_ERR_NO_MEM;
        a->label = l;
        int32_t *st = realloc(a->stack, cells * sizeof *st);
        if (!st)
            return TL_ERR_NO_MEM;
        a->stack = st;
        a->cap_cells = cells;
    }
    return TL_OK;
}

/* Two passes of a box filter (close to a Gaussian), NAN treated as dark. */
static void box2(const float *in, float *out, float *tmp, double *cum, uint32_t h, uint32_t k)
{
    const float *src = in;
    for (int pass = 0; pass < 2; pass++) {
        float *dst = pass == 0 ? tmp : out;
        cum[0] = 0;
        for (uint32_t r = 0; r < h; r++)
            cum[r + 1] = cum[r] + (isnan(src[r]) ? 0.0 : src[r]);
        for (uint32_t r = 0; r < h; r++) {
            uint32_t lo = r > k ? r - k : 0, hi = r + k + 1 < h ? r + k + 1 : h;
            dst[r] = (float)((cum[hi] - cum[lo]) / (double)(hi - lo));
        }
        src = tmp;
    }
}

tl_status an_prepare(tl_analyzer *a, const tl_bmode *img)
{
    if (!img || !img->pixels || img->width < 16 || img->height < 16 || img->stride < img->width)
        return TL_ERR_INVALID_ARG;
    if (!(img->spacing_mm > 0.001f && img->spacing_mm < 5.0f))
        return TL_ERR_INVALID_ARG;
    a->w = img->width;
    a->h = img->height;
    a->sp = img->spacing_mm;
    long sw = lroundf(AN_STRIP_MM / a->sp);
    if (sw < 1)
        sw = 1;
    while ((long)a->w / sw > AN_MAX_STRIPS)
        sw++;
    a->sw = (uint32_t)sw;
    a->ns = a->w / a->sw;
    if (a->ns < 8)
        return TL_ERR_INVALID_ARG;
    a->cell_rows = (uint32_t)((float)a->h * a->sp / AN_CELL_MM);
    if (a->cell_rows < 1)
        a->cell_rows = 1;
    tl_status st = grow(a, a->ns, a->h, a->ns * a->cell_rows);
    if (st != TL_OK)
        return st;

    /* One pass over the pixels: strip means per row. */
    const uint32_t ns = a->ns, sw2 = a->sw, h = a->h;
    for (uint32_t r = 0; r < h; r++) {
        const uint8_t *px = img->pixels + (size_t)r * img->stride;
        const uint8_t *vm = img->valid ? img->valid + (size_t)r * img->stride : NULL;
        for (uint32_t s = 0; s < ns; s++) {
            const uint8_t *p = px + (size_t)s * sw2;
            uint32_t sum = 0, cnt = sw2;
            if (vm) {
                const uint8_t *v = vm + (size_t)s * sw2;
                cnt = 0;
                for (uint32_t i = 0; i < sw2; i++)
                    if (v[i]) {
                        sum += p[i];
                        cnt++;
                    }
            } else {
                for (uint32_t i = 0; i < sw2; i++)
                    sum += p[i];
            }
            a->prof[(size_t)s * h + r] = 2 * cnt >= sw2 ? (float)sum / (float)cnt : NAN;
        }
    }
    uint32_t k = (uint32_t)lroundf(0.06f / a->sp);
    if (k < 1)
        k = 1;
    for (uint32_t s = 0; s < ns; s++)
        box2(an_prof(a, s), an_sm(a, s), a->tmp, a->cum, h, k);

    /* Lesion map cells. */
    float rows_per_cell = AN_CELL_MM / a->sp;
    for (uint32_t s = 0; s < ns; s++) {
        const float *p = an_prof(a, s);
        for (uint32_t c = 0; c < a->cell_rows; c++) {
            float r0 = (float)c * rows_per_cell, r1 = r0 + rows_per_cell;
            a->cell[(size_t)s * a->cell_rows + c] = an_mean(p, h, r0, r1);
        }
    }
    for (uint32_t s = 0; s < ns; s++) {
        a->bone_row[s] = a->bone2_row[s] = NAN;
        a->sup_row[s] = a->deep_row[s] = a->sup_fit[s] = a->deep_fit[s] = NAN;
        a->band_level[s] = NAN;
    }
    return TL_OK;
}

float an_mean(const float *p, uint32_t h, float r0, float r1)
{
    int i0 = (int)floorf(r0), i1 = (int)ceilf(r1);
    if (i0 < 0)
        i0 = 0;
    if (i1 > (int)h)
        i1 = (int)h;
    double sum = 0;
    int n = 0;
    for (int i = i0; i < i1; i++)
        if (!isnan(p[i])) {
            sum += p[i];
            n++;
        }
    return n ? (float)(sum / n) : NAN;
}

float an_median_rows(const float *p, uint32_t h, float r0, float r1, float *scratch)
{
    int i0 = (int)floorf(r0), i1 = (int)ceilf(r1);
    if (i0 < 0)
        i0 = 0;
    if (i1 > (int)h)
        i1 = (int)h;
    uint32_t n = 0;
    for (int i = i0; i < i1; i++)
        if (!isnan(p[i]))
            scratch[n++] = p[i];
    return an_percentile_f(scratch, n, 50);
}

/* Bone: the brightest thin reflector with an acoustic shadow under it. The
 * surface reported is the top of the cortex (half-maximum above the peak). */
void an_find_bone(tl_analyzer *a, float min_depth_mm)
{
    const uint32_t h = a->h, ns = a->ns;
    const float sp = a->sp;
    /* Brightness reference: a high percentile of the smoothed profiles. */
    uint32_t n = 0;
    for (uint32_t s = 0; s < ns; s += 2)
        for (uint32_t r = 0; r < h && n < h; r += 4)
            a->tmp[n++] = an_sm(a, s)[r];
    float p99 = an_percentile_f(a->tmp, n, 99.0f);
    float bright = fmaxf(0.55f * p99, 40.0f);
    int r0 = (int)(min_depth_mm / sp), dmin = (int)(0.8f / sp), dmax = (int)(5.0f / sp);
    for (uint32_t s = 0; s < ns; s++) {
        const float *m = an_sm(a, s), *p = an_prof(a, s);
        float best = 0;
        int br = -1;
        for (int r = r0; r + dmin + 4 < (int)h; r++) {
            if (!(m[r] >= bright) || m[r] < m[r - 1] || m[r] < m[r + 1])
                continue;
            float sh = an_mean(p, h, (float)(r + dmin), (float)(r + dmax));
            if (!(sh < 0.45f * m[r]))
                continue;
            float score = m[r] - sh;
            if (score > best) {
                best = score;
                br = r;
            }
        }
        if (br < 0)
            continue;
        float half = 0.5f * (m[br] + an_mean(p, h, (float)(br - dmax), (float)(br - dmin)));
        float row = (float)br;
        for (int r = br; r > r0; r--)
            if (m[r - 1] < half) {
                row = (float)(r - 1) + (half - m[r - 1]) / (m[r] - m[r - 1] + 1e-6f);
                break;
            }
        a->bone_row[s] = row;
    }
    /* Isolated bright specks are not bone: keep strips with a neighbour at a
     * similar depth. */
    float tol = 1.5f / sp;
    for (uint32_t s = 0; s < ns; s++) {
        a->tmp[s] = NAN;
        if (isnan(a->bone_row[s]))
            continue;
        bool ok = false;
        for (int d = -2; d <= 2 && !ok; d++) {
            int t = (int)s + d;
            if (d == 0 || t < 0 || t >= (int)ns || isnan(a->bone_row[t]))
                continue;
            ok = fabsf(a->bone_row[t] - a->bone_row[s]) < tol;
        }
        if (ok)
            a->tmp[s] = a->bone_row[s];
    }
    memcpy(a->bone_row, a->tmp, ns * sizeof(float));
}

/* Running median then running mean across strips, NAN-aware. */
void an_smooth_strips(const float *in, float *out, uint32_t n, uint32_t half)
{
    float med[AN_MAX_STRIPS], win[2 * 64 + 1];
    if (half > 64)
        half = 64;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = 0;
        for (int j = (int)i - (int)half; j <= (int)i + (int)half; j++)
            if (j >= 0 && j < (int)n && !isnan(in[j]))
                win[k++] = in[j];
        med[i] = (k * 3 >= half + 1 && !isnan(in[i])) ? an_percentile_f(win, k, 50) : NAN;
    }
    uint32_t h2 = half / 2 + 1;
    for (uint32_t i = 0; i < n; i++) {
        double sum = 0;
        int k = 0;
        for (int j = (int)i - (int)h2; j <= (int)i + (int)h2; j++)
            if (j >= 0 && j < (int)n && !isnan(med[j])) {
                sum += med[j];
                k++;
            }
        out[i] = isnan(med[i]) || k == 0 ? NAN : (float)(sum / k);
    }
}

float an_interp_strips(const float *v, uint32_t n, const tl_analyzer *a, float x_mm)
{
    float fs = (x_mm / a->sp - 0.5f * (float)(a->sw - 1)) / (float)a->sw;
    if (fs < 0)
        fs = 0;
    if (fs > (float)(n - 1))
        fs = (float)(n - 1);
    uint32_t i = (uint32_t)fs;
    float f = fs - (float)i;
    if (i + 1 >= n)
        return v[n - 1];
    if (isnan(v[i]))
        return f > 0.5f ? v[i + 1] : NAN;
    if (isnan(v[i + 1]))
        return f < 0.5f ? v[i] : NAN;
    return v[i] * (1 - f) + v[i + 1] * f;
}

void an_polyline(const tl_analyzer *a, const float *rows, tl_analysis_polyline *pl)
{
    pl->n = 0;
    uint32_t step = (a->ns + TL_ANALYSIS_MAX_POINTS - 1) / TL_ANALYSIS_MAX_POINTS;
    for (uint32_t s = 0; s < a->ns && pl->n < TL_ANALYSIS_MAX_POINTS; s += step) {
        if (isnan(rows[s]))
            continue;
        pl->x_mm[pl->n] = an_strip_x(a, s);
        pl->z_mm[pl->n] = rows[s] * a->sp;
        pl->n++;
    }
}
