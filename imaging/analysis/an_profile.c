/* Strip profiles, bone cortex and bright-band detection shared by every
 * anatomy. Everything works on vertical strips (~0.5 mm of columns averaged)
 * so a frame costs one pass over its pixels plus work proportional to
 * strips x rows. */
#include "an_internal.h"

#include <stdlib.h>
#include <string.h>

/* Rank of percentile p among n values: index i and the fraction f towards
 * the next one (f = 0 at the top). */
static uint32_t pct_rank(uint32_t n, float p, float *f)
{
    float pos = p / 100.0f * (float)(n - 1);
    if (pos < 0)
        pos = 0;
    uint32_t i = (uint32_t)pos;
    if (i + 1 >= n) {
        *f = 0;
        return n - 1;
    }
    *f = pos - (float)i;
    return i;
}

/* The value at rank i (already in v[i], v partitioned about it) blended
 * towards the next order statistic, the minimum of the upper part. */
static float pct_blend(const float *v, uint32_t n, uint32_t i, float f)
{
    if (f <= 0)
        return v[i];
    float b = v[i + 1];
    for (uint32_t k = i + 2; k < n; k++)
        if (v[k] < b)
            b = v[k];
    return v[i] * (1 - f) + b * f;
}

/* Percentile p of n floats (linear interpolation); reorders v. O(n). */
float an_percentile_f(float *v, uint32_t n, float p)
{
    if (n == 0)
        return NAN;
    float f;
    uint32_t i = pct_rank(n, p, &f);
    tl_select_kth_f(v, n, i);
    return pct_blend(v, n, i, f);
}

void an_percentile_pair(float *v, uint32_t n, float p1, float p2, float *out1, float *out2)
{
    if (n == 0) {
        *out1 = *out2 = NAN;
        return;
    }
    float f1, f2;
    uint32_t i1 = pct_rank(n, p1, &f1), i2 = pct_rank(n, p2, &f2);
    tl_select_kth_f(v, n, i1);
    *out1 = pct_blend(v, n, i1, f1);
    /* v is partitioned about i1: rank i2 lies on one side of it */
    if (i2 > i1)
        tl_select_kth_f(v + i1 + 1, n - i1 - 1, i2 - i1 - 1);
    else if (i2 < i1)
        tl_select_kth_f(v, i1, i2);
    *out2 = pct_blend(v, n, i2, f2);
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
        float *t = realloc(a->tmp, 8 * (size_t)h * sizeof *t);
        if (!t)
            return TL_ERR_NO_MEM;
        a->tmp = t;
        double *c = realloc(a->cum, 4 * ((size_t)h + 1) * sizeof *c);
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

tl_status an_prepare(tl_analyzer *a, const tl_bmode *img)
{
    if (!img || !img->pixels || img->width < 16 || img->height < 16 || img->stride < img->width)
        return TL_ERR_INVALID_ARG;
    if (!(img->spacing_mm > 0.001f && img->spacing_mm < 5.0f))
        return TL_ERR_INVALID_ARG;
    a->img = img;
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

    /* Band search grid: about 0.1 mm rows. */
    a->band_q = (uint32_t)lroundf(0.1f / a->sp);
    if (a->band_q < 1)
        a->band_q = 1;
    a->band_nr = (int)(a->h / a->band_q);
    a->band_maxstep = (int)ceilf(0.25f * (float)a->sw * a->sp / ((float)a->band_q * a->sp));
    size_t bn = (size_t)a->ns * (size_t)a->band_nr;
    if (bn > a->band_cap) {
        float *is = realloc(a->band_is, bn * sizeof *is);
        if (!is)
            return TL_ERR_NO_MEM;
        a->band_is = is;
        int8_t *sg = realloc(a->band_sign, bn);
        if (!sg)
            return TL_ERR_NO_MEM;
        a->band_sign = sg;
        int16_t *fr = realloc(a->band_from, bn * sizeof *fr);
        if (!fr)
            return TL_ERR_NO_MEM;
        a->band_from = fr;
        float *c = realloc(a->band_cost, 2 * bn * sizeof *c); /* >= 2 rows of nr */
        if (!c)
            return TL_ERR_NO_MEM;
        a->band_cost = c;
        a->band_cap = bn;
    }
    a->band_strength = 0;

    /* One pass over the pixels: strip means per row (an_kernels.c). The
     * valid mask's rows are `width` apart (tl_bmode). */
    const uint32_t ns = a->ns, sw2 = a->sw, h = a->h;
    float means[AN_MAX_STRIPS];
    for (uint32_t r = 0; r < h; r++) {
        an_row_strip_means(img->pixels + (size_t)r * img->stride,
                           img->valid ? img->valid + (size_t)r * img->width : NULL, img->width,
                           ns, sw2, means);
        for (uint32_t s = 0; s < ns; s++)
            a->prof[(size_t)s * h + r] = means[s];
    }
    /* Black padding around the scanned area (images from other systems come
     * without a valid mask): a strip with no echo at all is not tissue. */
    if (!img->valid)
        for (uint32_t s = 0; s < ns; s++) {
            float *p = an_prof(a, s), mx = 0;
            for (uint32_t r = 0; r < h; r++)
                mx = an_maxf(mx, p[r]);
            if (mx < 2.0f)
                for (uint32_t r = 0; r < h; r++)
                    p[r] = NAN;
        }
    uint32_t k = (uint32_t)lroundf(0.06f / a->sp);
    if (k < 1)
        k = 1;
    /* Smoothed profiles, and the lesion map cells from prefix sums of each
     * strip (valid rows only): an_kernels.c. */
    an_strip_profiles(a->prof, a->sm, a->cell, ns, h, k, a->cell_rows, AN_CELL_MM / a->sp,
                      a->cum, a->tmp);
    for (uint32_t s = 0; s < ns; s++) {
        a->bone_row[s] = a->bone2_row[s] = a->bone_top[s] = NAN;
        a->bone_line[s] = false;
        a->sup_row[s] = a->deep_row[s] = a->sup_fit[s] = a->deep_fit[s] = NAN;
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

/* Sub-row position of the maximum at pk (parabola through 3 rows). */
static float peak_row(const float *m, int h, int pk)
{
    if (pk < 1 || pk >= h - 1)
        return (float)pk;
    float a = m[pk - 1], b = m[pk], c = m[pk + 1], den = a - 2 * b + c;
    float off = den < 0 ? 0.5f * (a - c) / den : 0.0f;
    return (float)pk + fmaxf(-0.5f, fminf(0.5f, off));
}

/* The cortex surface over the bright line peaking at pk, with tissue of
 * grey `above` over it. A thin line is an interface's echo, which (a
 * symmetric pulse) peaks at the interface: the surface is the peak. A
 * thicker bright layer is a step up: its surface is the rising edge where
 * the amplitude is halfway between the two sides (the grey half level of a
 * log-compressed step lies well inside the dark side). */
static float cortex_surface(const tl_analyzer *a, const float *m, int pk, float above)
{
    const int h = (int)a->h;
    float mid = an_amp_mid(m[pk], isnan(above) ? 0.0f : above, a->dr_db);
    float rise = (float)pk;
    for (int r = pk; r > 0 && r > pk - (int)(1.0f / a->sp); r--)
        if (m[r - 1] < mid) {
            rise = (float)(r - 1) + (mid - m[r - 1]) / (m[r] - m[r - 1] + 1e-6f);
            break;
        }
    float peak = peak_row(m, h, pk);
    return peak - rise <= 0.25f / a->sp ? peak : rise;
}

/* The top of the bright echo complex over the bone (a band's deep line
 * resting on the cortex, the cortex, its inner echoes): the grey half level
 * between its peak and the tissue 0.6-1.2 mm above the peak. The band
 * searches stop at it (an_anatomy.c). */
static float cortex_top(const tl_analyzer *a, const float *m, int pk)
{
    float above = an_mean(m, a->h, (float)pk - 1.2f / a->sp, (float)pk - 0.6f / a->sp);
    float half = 0.5f * (m[pk] + (isnan(above) ? 0.0f : above));
    for (int r = pk; r > 0 && r > pk - (int)(1.0f / a->sp); r--)
        if (m[r - 1] < half)
            return (float)(r - 1) + (half - m[r - 1]) / (m[r] - m[r - 1] + 1e-6f);
    return (float)pk;
}

/* Fallback for images whose bone casts no clean shadow (real scanners fill
 * it with reverberation and side lobes): a very bright ridge with much
 * darker tissue under it. */
static void bright_ridge_bone(tl_analyzer *a, int r0, float tissue)
{
    const uint32_t h = a->h;
    const float sp = a->sp;
    uint32_t n = 0;
    for (uint32_t s = 0; s < a->ns; s++)
        for (uint32_t r = (uint32_t)r0; r < h && n < h; r += 8)
            if (!isnan(an_sm(a, s)[r]))
                a->tmp[n++] = an_sm(a, s)[r];
    float p995 = an_percentile_f(a->tmp, n, 99.5f);
    float bright = fmaxf(fmaxf(0.75f * p995, 2.5f * tissue), 120.0f);
    int d0 = (int)(1.0f / sp), d1 = (int)(4.0f / sp);
    for (uint32_t s = 0; s < a->ns; s++) {
        const float *m = an_sm(a, s);
        float best = 0;
        int br = -1;
        if (!isnan(a->bone_row[s]))
            continue;
        for (int r = r0; r + d1 < (int)h; r++) {
            if (!(m[r] >= bright) || m[r] < m[r - 1] || m[r] < m[r + 1])
                continue;
            float below = an_mean(m, h, (float)(r + d0), (float)(r + d1));
            if (!(below < 0.45f * m[r]))
                continue;
            br = r;     /* the deepest such ridge: nothing bright lies under bone */
            best = m[r] - below;
        }
        if (br < 0 || best <= 0)
            continue;
        float above = an_mean(m, h, (float)br - 1.0f / sp, (float)br - 0.35f / sp);
        a->bone_row[s] = cortex_surface(a, m, br, above);
        a->bone_top[s] = cortex_top(a, m, br);
        a->bone_line[s] = true;
    }
}

/* Maximum of v over rows [r0, r1), with bm the maxima of blocks of blk rows. */
static float line_max(const float *v, const float *bm, int blk, int r0, int r1)
{
    float mx = -INFINITY;
    int r = r0;
    for (; r < r1 && r % blk; r++)
        mx = an_maxf(mx, v[r]);
    for (int b = r / blk; r + blk <= r1; r += blk, b++)
        mx = an_maxf(mx, bm[b]);
    for (; r < r1; r++)
        mx = an_maxf(mx, v[r]);
    return mx;
}

/* Bone: the onset of an acoustic shadow (echoes fall to the noise floor and
 * stay there, with no bright line inside) under tissue. The surface is the
 * top of the cortex line when there is one (its rising half level), else the
 * half-level crossing into the shadow. */
AN_CLONES void an_find_bone(tl_analyzer *a, float min_depth_mm, bool image_depth)
{
    const uint32_t h = a->h, ns = a->ns;
    const float sp = a->sp;
    /* Tissue reference: the median of the smoothed profiles. */
    uint32_t n = 0;
    for (uint32_t s = 0; s < ns; s += 2)
        for (uint32_t r = (uint32_t)(1.0f / sp); r < h && n < h; r += 4) {
            float v = an_sm(a, s)[r];
            if (v > 2.0f)
                a->tmp[n++] = v;
        }
    float tissue = an_percentile_f(a->tmp, n, 60);
    float dark = fmaxf(6.0f, 0.15f * tissue);
    int r0 = (int)(min_depth_mm / sp), step = (int)fmaxf(1.0f, 0.1f / sp);
    int run = (int)(4.0f / sp), up1 = (int)(1.5f / sp), up0 = (int)(0.3f / sp);
    float *lin = a->tmp;   /* tissue percentile no longer needed */
    const int l0 = (int)(0.4f / sp) + 1, l1 = l0 + (int)(2.0f / sp), l3 = (int)(0.25f / sp) + 1;
    int blk = (int)(0.5f / sp) + 1;
    while ((int)h / blk + 1 > 1024)
        blk++;
    float bmax[1024], bsuf[1024];
    const int wline = (int)(8.0f / sp);
    for (uint32_t s = 0; s < ns; s++) {
        const float *m = an_sm(a, s), *p = an_prof(a, s);
        int found = -1;
        /* Suffix sums ("dark from here to the bottom") and line strength:
         * a 0.25 mm mean brighter than the 2 mm under it (the noise floor,
         * rising with depth, is not a line), with its maxima per block. */
        a->cum[h] = 0;
        for (int r = (int)h - 1; r >= 0; r--)
            a->cum[r] = a->cum[r + 1] + (isnan(p[r]) ? 0.0 : p[r]);
        const double inv_b = 1.0 / (l1 - l0), inv_t = 1.0 / l3;
        const int rfull = (int)h - l1;   /* rows with both windows inside */
        int bi = 0, rb = 0;
        for (int r = 0; r < (int)h; r++) {
            if (r < rfull) {
                lin[r] = (float)((a->cum[r] - a->cum[r + l3]) * inv_t -
                                 (a->cum[r + l0] - a->cum[r + l1]) * inv_b);
            } else {
                int b0 = r + l0 < (int)h ? r + l0 : (int)h - 1, b1 = r + l1 < (int)h ? r + l1 : (int)h;
                int t1 = r + l3 < (int)h ? r + l3 : (int)h;
                float below = b1 > b0 ? (float)((a->cum[b0] - a->cum[b1]) / (b1 - b0)) : 0.0f;
                lin[r] = (float)((a->cum[r] - a->cum[t1]) / (t1 - r)) - below;
            }
            /* block bi = r / blk, rb = r % blk, kept as counters (an
             * integer division per row was ~2% of a frame) */
            if (rb == 0)
                bmax[bi] = lin[r];
            else
                bmax[bi] = an_maxf(bmax[bi], lin[r]);
            if (++rb == blk) {
                rb = 0;
                bi++;
            }
        }
        const int nblk = ((int)h + blk - 1) / blk;
        /* The image's own depth: rows past it (no echo data, NAN, summed
         * as 0) are not a shadow. A shallow image ended 0.5-3 mm under the
         * dark muscle in front of the calcaneus, which then passed for
         * bone (plantar 2028 cases 189, 231: the site 6-14 mm anterior).
         * Achilles and ankle keep the frame's bottom: there the limit
         * changed 5 Achilles cases of 900 (seeds 2026-2028, `--anatomy
         * all`), each for the worse by 0.1-0.3 mm, none for the better. */
        int hv = (int)h;
        while (image_depth && hv > 0 && isnan(p[hv - 1]))
            hv--;
        /* the noise floor: the mean over the deepest 2 mm */
        int nf0 = hv - (int)(2.0f / sp) > 0 ? hv - (int)(2.0f / sp) : 0;
        float nfloor = hv > nf0 ? (float)(a->cum[nf0] / (double)(hv - nf0)) : 0.0f;
        for (int b = nblk - 1; b >= 0; b--)
            bsuf[b] = b + 1 < nblk ? an_maxf(bmax[b], bsuf[b + 1]) : bmax[b];
        for (int r = r0; r + 4 < (int)h; r += step) {
            int q = r + up0;
            if (hv - q < (int)(1.5f / sp))
                break;     /* too close to the bottom to tell a shadow */
            float sh = (float)(a->cum[q] / (double)(hv - q));
            /* The noise floor rises with depth (TGC): a shadow is dark over
             * its first 4 mm and stays darkish, not necessarily dark, to the
             * bottom, when a bright cortex line caps it (a dark muscle under
             * fat is not bone) or it is nearly black. */
            int q4 = q + run < hv ? q + run : hv;
            float sh4 = (float)((a->cum[q] - a->cum[q4]) / (double)(q4 - q));
            if (!(sh < dark || (sh4 < dark && sh < 2.5f * dark)))
                continue;
            float line = 0;
            for (int k = r - up1 / 2; k <= r; k++)
                if (k >= 0)
                    line = an_maxf(line, m[k]);
            bool capped = line > an_maxf(4.0f * dark, 0.8f * tissue);
            if (!(sh < dark || capped || sh4 < 0.5f * dark))
                continue;
            float above = an_mean(p, h, (float)(r - up1), (float)(r - up0));
            /* tissue above, or a bright cortex line right above (bone under
             * fluid: effusion, bursa) */
            if (!(above > 2.5f * dark || capped))
                continue;
            /* a bright line within 8 mm below means fluid or cartilage over
             * bone (an effusion is at most ~6 mm deep), not a shadow */
            float lmax = line_max(lin, bmax, blk, q, q + wline < (int)h ? q + wline : (int)h);
            if (lmax > 0.8f * tissue && lmax > 3.0f * dark)
                continue;
            /* deeper, only a line well above the noise floor's spikes */
            int qb = (q + blk - 1) / blk;
            float lfar = line_max(lin, bmax, blk, q, qb * blk < (int)h ? qb * blk : (int)h);
            if (qb < nblk)
                lfar = an_maxf(lfar, bsuf[qb]);
            if (lfar > 0.8f * tissue && lfar > 3.0f * dark && lfar > 4.0f * nfloor)
                continue;
            found = r;
            break;
        }
        if (found < 0)
            continue;
        /* refine: the cortex line just above the onset, or the crossing */
        int lo = found - (int)(0.6f / sp), pk = found;   /* the cortex is thin */
        if (lo < r0)
            lo = r0;
        for (int r = lo; r <= found + up0 && r < (int)h; r++)
            if (m[r] > m[pk])
                pk = r;
        /* tissue just above the candidate cortex line */
        float above = an_mean(p, h, (float)pk - 0.8f / sp, (float)pk - 0.3f / sp);
        float row;
        if (m[pk] > 1.6f * above && m[pk] > 2.0f * dark) {
            a->bone_line[s] = true;
            row = cortex_surface(a, m, pk, above);
            a->bone_top[s] = cortex_top(a, m, pk);
        } else {
            float half = 0.5f * (above + an_mean(p, h, (float)found + up0, (float)found + run));
            row = (float)found;
            for (int r = found - up1; r < found + up1 && r + 1 < (int)h; r++)
                if (r > 0 && m[r] >= half && m[r + 1] < half) {
                    row = (float)r + (m[r] - half) / (m[r] - m[r + 1] + 1e-6f);
                    break;
                }
            /* a bright complex (a band's deep line on the cortex) over the
             * shadow: the band ends at its top */
            float far = an_mean(m, h, (float)pk - 1.2f / sp, (float)pk - 0.6f / sp);
            a->bone_top[s] = m[pk] > 1.25f * far && m[pk] > 2.0f * dark ? an_minf(row, cortex_top(a, m, pk)) : row;
        }
        a->bone_row[s] = row;
    }
    uint32_t nb = 0, nv = 0;
    for (uint32_t s = 0; s < ns; s++) {
        nb += !isnan(a->bone_row[s]);
        nv += !isnan(an_prof(a, s)[h / 2]);
    }
    if (4 * nb < nv)
        bright_ridge_bone(a, r0, tissue);
/* Isolated specks are not bone: keep strips that agree with the median
     * of their neighbours within 2 mm either side. */
    float tol = 1.5f / sp;
    int span = (int)lroundf(2.0f / (sp * (float)a->sw));
    if (span < 2)
        span = 2;
    for (uint32_t s = 0; s < ns; s++) {
        a->tmp[s] = NAN;
        if (isnan(a->bone_row[s]))
            continue;
        float nb_rows[64];
        uint32_t k = 0;
        for (int d = -span; d <= span && k < 64; d++) {
            int t = (int)s + d;
            if (d != 0 && t >= 0 && t < (int)ns && !isnan(a->bone_row[t]))
                nb_rows[k++] = a->bone_row[t];
        }
        if (k >= 2 && fabsf(an_percentile_f(nb_rows, k, 50) - a->bone_row[s]) < tol)
            a->tmp[s] = a->bone_row[s];
    }
    memcpy(a->bone_row, a->tmp, ns * sizeof(float));
    for (uint32_t s = 0; s < ns; s++)
        if (isnan(a->bone_row[s]))
            a->bone_top[s] = NAN;
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
