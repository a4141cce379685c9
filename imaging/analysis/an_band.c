/* The fibrillar band (plantar fascia, Achilles tendon) between two
 * interfaces. A band may be brighter than its surroundings or, thickened
 * and hypoechoic, darker; what it always has is two borders that run the
 * width of the image: a specular line and/or a step in echo level. So the
 * borders are found as layer boundaries are in OCT: an interface-strength
 * map (|step| + line) over strips x rows, and the best laterally continuous
 * path through it by dynamic programming (graph search). The first path is
 * the strongest border; the second is searched 1-maxthick mm above or below
 * it. Borders are then refined per strip (line peak or half-level crossing)
 * and smoothed across strips with a running median so a lesion cannot drag
 * them. */
#include "an_internal.h"

#include <stdlib.h>
#include <string.h>

static float mean_c(const double *cum, int h, float r0, float r1)
{
    int i0 = (int)(r0 + 0.5f), i1 = (int)(r1 + 0.5f);   /* rows are >= 0 here */
    if (i0 < 0)
        i0 = 0;
    if (i1 > h)
        i1 = h;
    if (i1 <= i0)
        return NAN;
    return (float)((cum[i1] - cum[i0]) / (double)(i1 - i0));
}

/* 3-strip average profile of strip s into out (h rows). */
static void strip_avg(tl_analyzer *a, uint32_t s, int half, float *out)
{
    uint32_t s0 = s >= (uint32_t)half ? s - (uint32_t)half : 0;
    uint32_t s1 = s + (uint32_t)half < a->ns ? s + (uint32_t)half : a->ns - 1;
    const int h = (int)a->h;
    for (int r = 0; r < h; r++)
        out[r] = 0;
    for (uint32_t q = s0; q <= s1; q++) {
        const float *m = an_sm(a, q);
        for (int r = 0; r < h; r++)
            out[r] += m[r];
    }
    for (int r = 0; r < h; r++)
        out[r] /= (float)(s1 - s0 + 1);
}

/* Interface strength per strip on the decimated row grid, in units of the
 * strip's median strength, capped so one bright spot cannot buy a path. */
static void interface_map(tl_analyzer *a, float r_min, const float *limit_row)
{
    const int h = (int)a->h, q = (int)a->band_q, nr = a->band_nr;
    const float sp = a->sp;
    const float d1 = fmaxf(1.0f, 0.1f / sp), d2 = 0.6f / sp, l1 = 0.25f / sp, l2 = 0.6f / sp;
    float *v = a->tmp;
    float tmp[2048];
    for (uint32_t s = 0; s < a->ns; s++) {
        float *row = a->band_is + (size_t)s * (size_t)nr;
        int8_t *sg = a->band_sign + (size_t)s * (size_t)nr;
        strip_avg(a, s, 1, v);
        a->cum[0] = 0;
        for (int r = 0; r < h; r++)
            a->cum[r + 1] = a->cum[r] + v[r];
        float lim = limit_row && !isnan(limit_row[s]) ? limit_row[s] : (float)h - 1;
        int n = 0;
        for (int k = 0; k < nr; k++) {
            int r = k * q;
            row[k] = 0;
            sg[k] = 0;
            if ((float)r < r_min || (float)r > lim - d1 || r < (int)d2 + 1 || r + (int)d2 + 1 >= h)
                continue;
            float e = mean_c(a->cum, h, r + d1, fminf((float)r + d2, lim)) -
                      mean_c(a->cum, h, r - d2, r - d1 + 1);
            float up = mean_c(a->cum, h, r - l2, r - l1), dn = mean_c(a->cum, h, r + l1 + 1, r + l2 + 1);
            /* a line is brighter than both sides (a band's edge is not) */
            float spike = isnan(dn) ? 0.0f : v[r] - an_maxf(up, dn);
            if (isnan(e))
                e = 0;
            row[k] = 0.6f * fabsf(e) + (spike > 0 ? spike : 0.0f);
            sg[k] = (int8_t)(spike > 0.6f * fabsf(e) ? 2 : e > 0 ? 1 : -1);
            if (n < 2048 && row[k] > 0)
                tmp[n++] = row[k];
        }
        float noise = n ? an_percentile_f(tmp, (uint32_t)n, 60) + 0.5f : 1.0f;
        for (int k = 0; k < nr; k++)
            row[k] = row[k] < 8.0f * noise ? row[k] / noise : 8.0f;
    }
}

/* Best continuous path through the map; rows allowed per strip in
 * [lo[s], hi[s]] (grid units). With ref (the other border's path), a step
 * costs by the change in the distance to ref, not in depth: a band's two
 * borders run parallel unless the image says otherwise. Returns the mean
 * strength along the path. */
static float best_path(tl_analyzer *a, const int *lo, const int *hi, const int *ref, int *path)
{
    const int nr = a->band_nr, D = a->band_maxstep;
    const float lam = 0.25f;
    float *prev = a->band_cost, *cur = a->band_cost + nr;
    int16_t *from = a->band_from;
    int bestk[AN_MAX_STRIPS];
    for (int k = 0; k < nr; k++)
        prev[k] = (k >= lo[0] && k <= hi[0]) ? a->band_is[k] : -1e9f;
    for (uint32_t s = 1; s < a->ns; s++) {
        const float *is = a->band_is + (size_t)s * (size_t)nr;
        for (int k = 0; k < nr; k++) {
            from[(size_t)s * nr + k] = -1;
            if (k < lo[s] || k > hi[s]) {
                cur[k] = -1e9f;
                continue;
            }
            float best = -1e9f;
            int bj = -1;
            const int shift = ref ? ref[s - 1] - ref[s] : 0;
            for (int d = -D; d <= D; d++) {
                int j = k + shift + d;
                if (j < 0 || j >= nr)
                    continue;
                float c = prev[j] - lam * (float)abs(d);
                if (c > best) {
                    best = c;
                    bj = j;
                }
            }
            if (bj < 0) {    /* no way in from the previous strip: start here */
                best = 0;
                bj = -2;
            }
            cur[k] = best + is[k];
            from[(size_t)s * nr + k] = (int16_t)bj;
        }
        float *t = prev;
        prev = cur;
        cur = t;
        /* where the best path up to the previous strip ends, for a path
         * that starts afresh here */
        int kb = 0;
        for (int j = 1; j < nr; j++)
            if (cur[j] > cur[kb])
                kb = j;
        bestk[s - 1] = kb;
    }
    int k = 0;
    for (int j = 1; j < nr; j++)
        if (prev[j] > prev[k])
            k = j;
    float total = prev[k];
    for (int s = (int)a->ns - 1; s >= 0; s--) {
        path[s] = k;
        if (s > 0) {
            int f = from[(size_t)s * nr + k];
            k = f == -2 ? bestk[s - 1] : f < 0 ? k : f;
        }
    }
    return total / (float)a->ns;
}

/* One border on one strip near grid row k: a line's peak or a step's
 * half-level crossing. */
static float refine(const float *m, int h, float sp, float guess, int kind)
{
    const float win = fmaxf(2.0f, 0.15f / sp), d = fmaxf(1.0f, 0.08f / sp);
    int lo = (int)(guess - win), hi = (int)(guess + win + 1);
    if (lo < (int)d + 1)
        lo = (int)d + 1;
    if (hi > h - 2 - (int)d)
        hi = h - 2 - (int)d;
    if (hi <= lo)
        return NAN;
    int br = -1;
    float best = -INFINITY;
    for (int r = lo; r <= hi; r++) {
        float v = kind == 2 ? m[r] : (m[(int)(r + d)] - m[(int)(r - d)]) * (float)kind;
        if (v > best) {
            best = v;
            br = r;
        }
    }
    if (br < 0)
        return NAN;
    if (kind == 2) {
        float a = m[br - 1], b = m[br], c = m[br + 1], den = a - 2 * b + c;
        float off = den < 0 ? 0.5f * (a - c) / den : 0.0f;
        return (float)br + fmaxf(-0.5f, fminf(0.5f, off));
    }
    const float o0 = 0.2f / sp, o1 = 0.6f / sp;
    float up = an_mean(m, (uint32_t)h, br - o1, br - o0), dn = an_mean(m, (uint32_t)h, br + o0, br + o1);
    if (isnan(up) || isnan(dn))
        return (float)br;
    float thr = 0.5f * (up + dn);
    for (int k = 0; k < (int)(0.3f / sp); k++)
        for (int sg = -1; sg <= 1; sg += 2) {
            int r = br + sg * k;
            if (r < 1 || r >= h - 1)
                continue;
            float a0 = m[r], a1 = m[r + 1];
            if ((a0 - thr) * (a1 - thr) <= 0 && a0 != a1)
                return (float)r + (thr - a0) / (a1 - a0);
        }
    return (float)br;
}

/* Per-strip borders near the two paths (grid rows), smoothed across strips
 * and with short gaps bridged. */
static void refine_borders(tl_analyzer *a, const int *top, const int *deep)
{
    const int h = (int)a->h;
    const float sp = a->sp;
    const int nr = a->band_nr, q = (int)a->band_q;
    float *v = a->tmp;
    for (uint32_t s = 0; s < a->ns; s++) {
        const float *is = a->band_is + (size_t)s * (size_t)nr;
        const int8_t *sg = a->band_sign + (size_t)s * (size_t)nr;
        /* the border must be there on this strip */
        if (is[top[s]] < 1.2f || is[deep[s]] < 1.2f)
            continue;
        strip_avg(a, s, 2, v);
        float t = refine(v, h, sp, (float)(top[s] * q), sg[top[s]]);
        float b = refine(v, h, sp, (float)(deep[s] * q), sg[deep[s]]);
        if (!isnan(t) && !isnan(b) && b - t > 0.8f / sp) {
            a->sup_row[s] = t;
            a->deep_row[s] = b;
        }
    }
    uint32_t half = (uint32_t)lroundf(1.5f / (sp * (float)a->sw));
    an_smooth_strips(a->sup_row, a->sup_fit, a->ns, half < 1 ? 1 : half);
    an_smooth_strips(a->deep_row, a->deep_fit, a->ns, half < 1 ? 1 : half);
    for (uint32_t s = 0; s < a->ns; s++)
        if (isnan(a->sup_fit[s]) || isnan(a->deep_fit[s]))
            a->sup_fit[s] = a->deep_fit[s] = NAN;
    /* Borders are continuous: bridge short gaps (a lesion or a weak patch
     * on the border) linearly between the strips on either side. */
    const int maxgap = (int)(12.0f / (sp * (float)a->sw));
    int prev = -1;
    for (int s = 0; s < (int)a->ns; s++) {
        if (isnan(a->sup_fit[s]))
            continue;
        if (prev >= 0 && s - prev > 1 && s - prev <= maxgap)
            for (int k = prev + 1; k < s; k++) {
                float f = (float)(k - prev) / (float)(s - prev);
                a->sup_fit[k] = a->sup_fit[prev] + f * (a->sup_fit[s] - a->sup_fit[prev]);
                a->deep_fit[k] = a->deep_fit[prev] + f * (a->deep_fit[s] - a->deep_fit[prev]);
            }
        prev = s;
    }
}

/* Strips where the band rests on the bone: bone whose surface runs within
 * ~24 deg of horizontal over +/-1 mm (the inferior calcaneus under the
 * fascia's origin, not its steep anterior or posterior slopes). */
static int on_bone_strips(const tl_analyzer *a, const float *limit_row, float max_row, bool *flat)
{
    int span = (int)lroundf(1.0f / (a->sp * (float)a->sw)), n = 0;
    if (span < 1)
        span = 1;
    for (int s = 0; s < (int)a->ns; s++) {
        flat[s] = false;
        int s0 = s - span, s1 = s + span;
        if (s0 < 0 || s1 >= (int)a->ns || isnan(limit_row[s]) || isnan(limit_row[s0]) ||
            isnan(limit_row[s1]))
            continue;
        float slope = (limit_row[s1] - limit_row[s0]) / (float)(2 * span * (int)a->sw);
        /* a cortex line, not just the edge of a dark region */
        flat[s] = fabsf(slope) < 0.45f && limit_row[s] < max_row && a->bone_line[s];
        n += flat[s];
    }
    return n;
}

/* Where the band runs over flat bone, its deep border must lie within
 * on_bone_mm above the cortex (the fascia on the inferior calcaneus). When
 * the free search put it elsewhere on most of those strips (a tilted probe
 * leaves the borders without specular echoes and the search locks on the
 * fat pad's septa or on muscle), search again anchored to the bone: the
 * deep border over the flat bone first, then its continuation either side
 * within a cone (it runs on smoothly), then the superficial border above. */
static void band_on_bone(tl_analyzer *a, float min_depth_mm, float max_thick_mm, float top_max_mm,
                         const float *limit_row, float on_bone_mm)
{
    /* bone deeper than the deepest band could reach is not its bed */
    const float max_row = top_max_mm > 0 ? (top_max_mm + max_thick_mm + 1.5f) / a->sp : INFINITY;
    const float sp = a->sp;
    const int nr = a->band_nr, q = (int)a->band_q, ns = (int)a->ns;
    bool flat[AN_MAX_STRIPS];
    if ((float)on_bone_strips(a, limit_row, max_row, flat) * (float)a->sw * sp < 2.0f)
        return;
    int nf = 0, ok = 0;
    for (int s = 0; s < ns; s++) {
        if (!flat[s])
            continue;
        nf++;
        float gap = (limit_row[s] - a->deep_fit[s]) * sp;
        ok += gap > -0.2f && gap < on_bone_mm + 0.5f;    /* NAN: not ok */
    }
    if (2 * ok >= nf)
        return;
    const int g0 = (int)(1.0f / sp / (float)q), g1 = (int)(max_thick_mm / sp / (float)q);
    const int kmin = (int)(min_depth_mm / sp / (float)q);
    int lo[AN_MAX_STRIPS], hi[AN_MAX_STRIPS], top[AN_MAX_STRIPS], deep[AN_MAX_STRIPS];
    for (int s = 0; s < ns; s++) {
        lo[s] = kmin + g0;
        hi[s] = !isnan(limit_row[s]) ? (int)(limit_row[s] / (float)q) - 1 : nr - 1;
        if (flat[s])
            lo[s] = (int)((limit_row[s] - on_bone_mm / sp) / (float)q);
        lo[s] = lo[s] < kmin + g0 ? kmin + g0 : lo[s];
        hi[s] = hi[s] > nr - 1 ? nr - 1 : hi[s] < lo[s] ? lo[s] : hi[s];
    }
    best_path(a, lo, hi, NULL, deep);
    /* the cone: +/-(0.3 mm on the bone, 1 mm + 0.35 x distance off it) */
    for (int s = 0; s < ns; s++) {
        int f = -1;
        for (int d = 0; d < ns && f < 0; d++)
            f = s - d >= 0 && flat[s - d] ? s - d : s + d < ns && flat[s + d] ? s + d : -1;
        float w = flat[s] ? 0.3f : 1.0f + 0.35f * (float)abs(s - f) * (float)a->sw * sp;
        int c = deep[f], dw = (int)(w / sp / (float)q);
        lo[s] = c - dw < kmin + g0 ? kmin + g0 : c - dw;
        hi[s] = c + dw > nr - 1 ? nr - 1 : c + dw;
        if (!isnan(limit_row[s]) && hi[s] > (int)(limit_row[s] / (float)q) - 1)
            hi[s] = (int)(limit_row[s] / (float)q) - 1;
        hi[s] = hi[s] < lo[s] ? lo[s] : hi[s];
    }
    float md = best_path(a, lo, hi, NULL, deep);
    for (int s = 0; s < ns; s++) {
        lo[s] = deep[s] - g1 > kmin ? deep[s] - g1 : kmin;
        hi[s] = deep[s] - g0 < lo[s] ? lo[s] : deep[s] - g0;
    }
    float mt = best_path(a, lo, hi, deep, top);
    a->band_strength = fminf(md, mt);
    for (int s = 0; s < ns; s++)
        a->sup_row[s] = a->deep_row[s] = NAN;
    refine_borders(a, top, deep);
}

void an_find_band(tl_analyzer *a, float min_depth_mm, float max_thick_mm, float top_max_mm,
                  const float *limit_row, float on_bone_mm)
{
    const float sp = a->sp;
    const int nr = a->band_nr, q = (int)a->band_q;
    interface_map(a, min_depth_mm / sp, limit_row);
    int lo[AN_MAX_STRIPS] = { 0 }, hi[AN_MAX_STRIPS] = { 0 };
    int p1[AN_MAX_STRIPS], p2[AN_MAX_STRIPS], p3[AN_MAX_STRIPS];
    for (uint32_t s = 0; s < a->ns; s++) {
        lo[s] = (int)(min_depth_mm / sp / (float)q);
        hi[s] = top_max_mm > 0 ? (int)(top_max_mm / sp / (float)q) : nr - 1;  /* 0: no limit */
        if (hi[s] > nr - 1)
            hi[s] = nr - 1;
        /* the superficial border lies at least 1 mm above any bone */
        if (limit_row && !isnan(limit_row[s])) {
            int b = (int)((limit_row[s] - 1.0f / sp) / (float)q);
            if (b < hi[s])
                hi[s] = b > lo[s] ? b : lo[s];
        }
    }
    const int g0 = (int)(1.0f / sp / (float)q), g1 = (int)(max_thick_mm / sp / (float)q);
    float m1 = best_path(a, lo, hi, NULL, p1);
    /* the other border: below or above the first, whichever is stronger */
    for (uint32_t s = 0; s < a->ns; s++) {
        lo[s] = p1[s] + g0;
        hi[s] = p1[s] + g1 < nr - 1 ? p1[s] + g1 : nr - 1;
    }
    float m2 = best_path(a, lo, hi, p1, p2);
    for (uint32_t s = 0; s < a->ns; s++) {
        lo[s] = p1[s] - g1 > (int)(min_depth_mm / sp / (float)q) ? p1[s] - g1
                                                                 : (int)(min_depth_mm / sp / (float)q);
        hi[s] = p1[s] - g0;
    }
    /* The strongest interface is the band's superficial border (under the
     * fat pad or subcutis, the fibres' bright surface): look only below.
     * top_max_mm < 0 allows the other border above as well. */
    float m3 = top_max_mm >= 0 ? -INFINITY : best_path(a, lo, hi, p1, p3);
    const int *top = p1, *deep = p2;
    float msec = m2;
    if (m3 > m2) {
        top = p3;
        deep = p1;
        msec = m3;
    }
    a->band_strength = fminf(m1, msec);
    refine_borders(a, top, deep);
    if (on_bone_mm > 0 && limit_row)
        band_on_bone(a, min_depth_mm, max_thick_mm, top_max_mm, limit_row, on_bone_mm);
}

/* Coarse interface map for a band without fibre echoes, on strips where
 * want[s] (rows lo..hi, grid units): the step down (dir +1: bright, rough
 * tissue above, the smooth band below) or up (dir -1: the band above, rough
 * tissue below) in echo level and in texture energy (gradient magnitude),
 * over 1.2 mm windows; stops 0.3 mm short of stop_row (NULL: none). */
static void coarse_map(tl_analyzer *a, const int *lo, const int *hi, const bool *want,
                       const float *stop_row, int dir)
{
    const int h = (int)a->h, q = (int)a->band_q, nr = a->band_nr, ns = (int)a->ns;
    const float sp = a->sp;
    const int dz = (int)fmaxf(1.0f, 0.25f / sp);
    const float w0 = 0.15f / sp, w1 = 1.2f / sp;
    float *v = a->tmp;
    float tmp[2048];
    double cg[2049];
    for (int s = 0; s < ns; s++) {
        float *row = a->band_is + (size_t)s * (size_t)nr;
        for (int k = 0; k < nr; k++)
            row[k] = 0;
        if (!want[s])
            continue;
        strip_avg(a, s, 1, v);
        const float *ml = an_sm(a, s > 0 ? (uint32_t)s - 1 : 0),
                    *mr = an_sm(a, s + 1 < ns ? (uint32_t)s + 1 : (uint32_t)s);
        a->cum[0] = 0;
        cg[0] = 0;
        for (int r = 0; r < h; r++) {
            int r0 = r - dz < 0 ? 0 : r - dz, r1 = r + dz >= h ? h - 1 : r + dz;
            float gz = fabsf(v[r1] - v[r0]), gx = fabsf(mr[r] - ml[r]);
            float g = isnan(gz) ? 0.0f : gz + (isnan(gx) ? 0.0f : gx);
            a->cum[r + 1] = a->cum[r] + (isnan(v[r]) ? 0.0 : v[r]);
            cg[r + 1] = cg[r] + g;
        }
        float stop = stop_row ? stop_row[s] - 0.3f / sp : (float)h;
        int n = 0;
        for (int k = lo[s]; k <= hi[s]; k++) {
            float r = (float)(k * q);
            float b1 = fminf(r + w1, stop);
            if (b1 < r + w0 + 2 || r - w1 < 0)
                continue;
            float A = mean_c(a->cum, h, r - w1, r - w0), B = mean_c(a->cum, h, r + w0, b1);
            float EA = mean_c(cg, h, r - w1, r - w0), EB = mean_c(cg, h, r + w0, b1);
            float e = an_maxf(0.0f, (float)dir * (A - B)) + an_maxf(0.0f, (float)dir * (EA - EB));
            row[k] = isnan(e) ? 0.0f : e;
            if (row[k] > 0 && n < 2048)
                tmp[n++] = row[k];
        }
        float noise = n ? an_percentile_f(tmp, (uint32_t)n, 60) + 0.5f : 1.0f;
        for (int k = lo[s]; k <= hi[s]; k++)
            row[k] = row[k] < 8.0f * noise ? row[k] / noise : 8.0f;
    }
}

/* A tilted probe takes the fibres' specular echoes away: the band is then a
 * smooth, darker layer under the fat, whose septa still echo at any angle.
 * Its superficial border is where the fat's bright, rough texture gives way
 * to it (coarse_map, dir +1), searched 1-max_thick mm above the deep border
 * (deep_fit) and parallel to it. Writes the candidate into top_out (rows,
 * NAN where none). Overwrites the interface map. */
void an_band_smooth_top(tl_analyzer *a, float min_depth_mm, float max_thick_mm, float *top_out)
{
    const int q = (int)a->band_q, nr = a->band_nr, ns = (int)a->ns;
    const float sp = a->sp;
    int lo[AN_MAX_STRIPS], hi[AN_MAX_STRIPS], ref[AN_MAX_STRIPS], top[AN_MAX_STRIPS];
    bool want[AN_MAX_STRIPS];
    const int g0 = (int)(1.0f / sp / (float)q), g1 = (int)(max_thick_mm / sp / (float)q);
    const int kmin = (int)(min_depth_mm / sp / (float)q);
    if (a->h > 2048)
        return;
    /* the deep border on every strip (nearest valid one where none) */
    int last = -1;
    for (int s = 0; s < ns; s++) {
        top_out[s] = NAN;
        ref[s] = -1;
        if (!isnan(a->deep_fit[s]))
            ref[s] = last = (int)(a->deep_fit[s] / (float)q);
        else if (last >= 0)
            ref[s] = last;
    }
    if (last < 0)
        return;
    for (int s = ns - 1; s >= 0; s--)
        if (ref[s] < 0 || (isnan(a->deep_fit[s]) && s + 1 < ns && !isnan(a->deep_fit[s + 1])))
            ref[s] = s + 1 < ns ? ref[s + 1] : ref[s];
    for (int s = 0; s < ns; s++) {
        want[s] = !isnan(a->deep_fit[s]);
        hi[s] = ref[s] - g0;
        lo[s] = ref[s] - g1 > kmin ? ref[s] - g1 : kmin;
        if (hi[s] < lo[s])
            hi[s] = lo[s];
        if (hi[s] > nr - 1)
            hi[s] = lo[s] = nr - 1 < lo[s] ? nr - 1 : lo[s];
    }
    coarse_map(a, lo, hi, want, a->deep_fit, 1);
    best_path(a, lo, hi, ref, top);
    float raw[AN_MAX_STRIPS];
    for (int s = 0; s < ns; s++)
        raw[s] = isnan(a->deep_fit[s]) ? NAN : (float)(top[s] * q);
    uint32_t half = (uint32_t)lroundf(1.5f / (sp * (float)a->sw));
    an_smooth_strips(raw, top_out, a->ns, half < 1 ? 1 : half);
}
