/* Needle detection, stage 2: trace a candidate line at full resolution.
 *
 * The line is walked along its major axis (columns for lines flatter than
 * 45 degrees, rows for steeper ones) so every step reads whole pixels. At
 * each step we find the ridge (sub-pixel peak across the line), fit a line
 * to the ridge points of the brightest run (the shaft), then read the echo
 * along the fitted line and, for comparison, parallel "control" lines in
 * the tissue just above it: the shaft is the run clearly brighter than its
 * controls, and the tip is where the echo falls to half-way between the
 * shaft's level near its end and the background. All thresholds come from
 * the control profiles, i.e. from this image. */
#include "guidance_internal.h"

#include <math.h>
#include <string.h>
#ifdef TL_NEEDLE_DEBUG
#include <stdio.h>
#endif

typedef struct {
    const tl_bmode *img;
    bool shallow;          /* u = column, v = row; else u = row, v = column */
    int nu, nv;
    double m, v0, u0;      /* v = v0 + m (u - u0) */
    double cosb;           /* perpendicular distance = |dv| * cosb */
    double sp;             /* mm per pixel */
} walker;

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

/* Mean over a short segment across the line centred at v, half width hw. */
static inline float band(const walker *w, int u, double v, int hw)
{
    float s = 0.0f;
    for (int k = -hw; k <= hw; k++)
        s += pix_v(w, u, v + k);
    return s / (float)(2 * hw + 1);
}

/* Longest-excess run of on[] with gaps of at most `gap` bridged, restricted
 * to [lo, hi]. Returns false when nothing is on. */
static bool best_run(const uint8_t *on, const float *val, float thr, float cap, int lo, int hi,
                     int gap, int *rs, int *re)
{
    bool have = false;
    float best = 0.0f;
    int s = -1, last = -1;
    float acc = 0.0f;
    for (int u = lo; u <= hi + 1; u++) {
        bool o = u <= hi && on[u];
        if (o) {
            if (s < 0 || u - last > gap + 1) {
                if (s >= 0 && (!have || acc > best)) {
                    best = acc;
                    *rs = s;
                    *re = last;
                    have = true;
                }
                s = u;
                acc = 0.0f;
            }
            /* capped: a long shaft beats a short, very bright crossing */
            acc += fminf(val[u] - thr, cap);
            last = u;
        }
    }
    if (s >= 0 && (!have || acc > best)) {
        *rs = s;
        *re = last;
        have = true;
    }
    return have;
}

static float robust_spread(float *tmp, const float *v, int n, float *med)
{
    memcpy(tmp, v, (size_t)n * sizeof(float));
    *med = median_inplace(tmp, (size_t)n);
    for (int i = 0; i < n; i++)
        tmp[i] = fabsf(v[i] - *med);
    return 1.4826f * median_inplace(tmp, (size_t)n);
}

/* Line fit v = a + b u by least squares over the marked points, two rounds
 * of dropping points further than 3 robust sigmas. */
static bool fit_line(const float *rv, const uint8_t *use, int lo, int hi, float *tmp,
                     double *a, double *b, double *rms)
{
    double cut = 1e30;
    for (int round = 0; round < 3; round++) {
        double su = 0, sv = 0, suu = 0, suv = 0;
        int n = 0;
        for (int u = lo; u <= hi; u++) {
            if (!use[u])
                continue;
            if (round > 0 && fabs(rv[u] - (*a + *b * u)) > cut)
                continue;
            su += u;
            sv += rv[u];
            suu += (double)u * u;
            suv += (double)u * rv[u];
            n++;
        }
        if (n < 4)
            return false;
        double den = n * suu - su * su;
        if (fabs(den) < 1e-9)
            return false;
        *b = (n * suv - su * sv) / den;
        *a = (sv - *b * su) / n;
        int m = 0;
        double ss = 0.0;
        for (int u = lo; u <= hi; u++) {
            if (!use[u])
                continue;
            double r = rv[u] - (*a + *b * u);
            if (round > 0 && fabs(r) > cut)
                continue;
            tmp[m++] = (float)fabs(r);
            ss += r * r;
        }
        *rms = sqrt(ss / (m > 0 ? m : 1));
        float mad = median_inplace(tmp, (size_t)m);
        cut = fmax(3.0 * 1.4826 * mad, 0.75);
    }
    return true;
}

/* Echo along the line v = v0 + m u in a band of half width hw (v pixels),
 * and along control lines 1.3 and 2.1 mm above it and one 3 mm below. */
static bool sample_line(const walker *w, int above, int hw, float *I, float *ctrl, float *ctrl2,
                        float *below, uint8_t *in, int *lo_out, int *hi_out)
{
    double px_perp = w->sp / w->cosb;
    int off_c1 = (int)lround(1.3 / px_perp), off_c2 = (int)lround(2.1 / px_perp);
    int off_b = (int)lround(3.0 / px_perp);
    int nu = w->nu, lo = nu, hi = -1;
    for (int u = 0; u < nu; u++) {
        double v = w->v0 + w->m * (u - w->u0);
        in[u] = 0;
        double va = v + above * (off_c2 + hw);
        if (fmin(v - hw, va) < 0.0 || fmax(v + hw, va) > w->nv - 2)
            continue;
        if (!valid_at(w, u, (int)lround(v)) || !valid_at(w, u, (int)lround(v + above * off_c2)))
            continue;
        I[u] = band(w, u, v, hw);
        ctrl[u] = band(w, u, v + above * off_c1, hw);
        ctrl2[u] = band(w, u, v + above * off_c2, hw);
        double vb = v - above * off_b;
        below[u] = vb - hw >= 0.0 && vb + hw <= w->nv - 2 && valid_at(w, u, (int)lround(vb))
                       ? band(w, u, vb, hw)
                       : ctrl2[u];
        in[u] = 1;
        if (u < lo)
            lo = u;
        if (u > hi)
            hi = u;
    }
    *lo_out = lo;
    *hi_out = hi;
    return hi - lo >= 8;
}

static void smooth_along(const float *I, const uint8_t *in, int lo, int hi, int r, float *out);

/* Background level and spread along the line: the control profiles,
 * smoothed like the echo they are compared with. tmp: 4 nu floats. */
static void background(const float *ctrl, const float *ctrl2, const uint8_t *in, int lo, int hi,
                       int r, int nu, const image_stats *st, float *tmp, float *cmax,
                       float *bg, float *bsig)
{
    float *s1 = tmp + 2 * nu, *s2 = tmp + 3 * nu;
    smooth_along(ctrl, in, lo, hi, r, s1);
    smooth_along(ctrl2, in, lo, hi, r, s2);
    int n = 0;
    for (int u = lo; u <= hi; u++)
        if (in[u]) {
            tmp[n++] = s1[u];
            tmp[n++] = s2[u];
            cmax[u] = fmaxf(s1[u], s2[u]);
        }
    float s = robust_spread(tmp + 2 * nu, tmp, n, bg);
    *bsig = fmaxf(s, 0.02f * st->sigma + 0.5f);
}

/* Box average along the line over +/- r steps (only steps that are in). */
static void smooth_along(const float *I, const uint8_t *in, int lo, int hi, int r, float *out)
{
    if (r < 1)
        r = 1;
    for (int u = lo; u <= hi; u++) {
        float s = 0.0f;
        int n = 0;
        for (int k = u - r; k <= u + r; k++)
            if (k >= lo && k <= hi && in[k]) {
                s += I[k];
                n++;
            }
        out[u] = n ? s / (float)n : 0.0f;
    }
}

void needle_refine(const tl_needle_params *p, const tl_bmode *img, const image_stats *st,
                   const needle_line *cand, scratch *prof, tl_needle_detection *out)
{
    memset(out, 0, sizeof *out);
    out->reason = "candidate outside the image";
    walker w = { .img = img, .sp = img->spacing_mm };
    double a = cand->a;
    w.shallow = fabs(a) <= 0.25 * M_PI;
    if (w.shallow) {
        w.nu = (int)img->width;
        w.nv = (int)img->height;
        w.m = tan(a);
        w.u0 = cand->px;
        w.v0 = cand->pz;
    } else {
        w.nu = (int)img->height;
        w.nv = (int)img->width;
        w.m = 1.0 / tan(a);
        w.u0 = cand->pz;
        w.v0 = cand->px;
    }
    w.cosb = 1.0 / sqrt(1.0 + w.m * w.m);
    /* +1: "above" (shallower) is towards larger v. */
    int above = w.shallow ? -1 : (a > 0 ? 1 : -1);
    /* +1: the deep end of the shaft is towards larger u. */
    int deeper = w.shallow ? (a > 0 ? 1 : -1) : 1;
    double px_perp = w.sp / w.cosb;      /* mm across the line per v pixel */
    double px_along = w.sp / w.cosb;     /* mm along the line per u step */

    int nu = w.nu;
    float *buf = scratch_get(prof, (size_t)nu * 12 * sizeof(float) + (size_t)nu * 2);
    if (!buf) {
        out->reason = "out of memory";
        return;
    }
    float *rv = buf, *itip = buf + nu, *cmax = buf + 2 * nu, *I = buf + 3 * nu;
    float *ctrl = buf + 4 * nu, *ctrl2 = buf + 5 * nu, *below = buf + 6 * nu;
    float *ism = buf + 7 * nu, *tmp = buf + 8 * nu; /* tmp: 4 nu */
    uint8_t *in = (uint8_t *)(buf + 12 * nu), *on = in + nu;

    int gap = (int)ceil(1.0 / px_along);
    int rs, re, lo, hi;
    float bg, bsig;

    /* 1. Echo along the Hough line (a band wide enough for its ~0.2 mm
     * uncertainty) against control lines above it: the run of shaft. */
    int hw = (int)lround(0.25 / px_perp);
    out->reason = "candidate outside the image";
    if (!sample_line(&w, above, hw < 1 ? 1 : hw, I, ctrl, ctrl2, below, in, &lo, &hi))
        return;
    int rsm = (int)lround(0.4 / px_along);
    smooth_along(I, in, lo, hi, rsm, ism);
    background(ctrl, ctrl2, in, lo, hi, rsm, nu, st, tmp, cmax, &bg, &bsig);
    float t1 = bg + 3.0f * bsig;
    for (int u = lo; u <= hi; u++)
        on[u] = in[u] && ism[u] > t1;
#ifdef TL_NEEDLE_DEBUG
    fprintf(stderr, "  passA lo=%d hi=%d bg=%.1f bsig=%.1f hw=%d:", lo, hi, bg, bsig, hw);
    for (int u = lo; u <= hi; u += 10)
        fprintf(stderr, " %.0f", ism[u]);
    fprintf(stderr, "\n");
#endif
    out->reason = "no bright run along the line";
    if (!best_run(on, ism, t1, 4.0f * bsig, lo, hi, gap, &rs, &re))
        return;
    if ((re - rs) * px_along < 0.6 * p->min_length_mm)
        return;

    /* 2. Ridge (sub-pixel peak across the line) over the run, then a
     * robust line fit through it. */
    int uv = (int)ceil(0.5 / px_perp);
    if (uv < 2)
        uv = 2;
    for (int u = rs; u <= re; u++) {
        if (!on[u])
            continue;
        double vc = w.v0 + w.m * (u - w.u0);
        int c = (int)lround(vc);
        if (c - uv - 2 < 0 || c + uv + 2 > w.nv - 1) {
            on[u] = 0;
            continue;
        }
        float best = -1.0f;
        int bv = c;
        for (int v = c - uv; v <= c + uv; v++) {
            float s = pix(&w, u, v - 1) + 2.0f * pix(&w, u, v) + pix(&w, u, v + 1);
            if (s > best) {
                best = s;
                bv = v;
            }
        }
        float sm = pix(&w, u, bv - 2) + 2.0f * pix(&w, u, bv - 1) + pix(&w, u, bv);
        float sp = pix(&w, u, bv) + 2.0f * pix(&w, u, bv + 1) + pix(&w, u, bv + 2);
        float den = sm - 2.0f * best + sp;
        float dv = den < 0.0f ? 0.5f * (sm - sp) / den : 0.0f;
        rv[u] = (float)bv + clampf(dv, -0.5f, 0.5f);
    }
    double fa = 0.0, fb = 0.0, rms_px = 0.0;
    out->reason = "ridge not straight";
    if (!fit_line(rv, on, rs, re, tmp, &fa, &fb, &rms_px))
        return;
    w.u0 = 0.0;
    w.v0 = fa;
    w.m = fb;
    w.cosb = 1.0 / sqrt(1.0 + w.m * w.m);
    px_perp = w.sp / w.cosb;
    px_along = w.sp / w.cosb;

    /* 3. Echo along the fitted line, narrow band. */
    hw = (int)lround(0.1 / px_perp);
    out->reason = "candidate outside the image";
    if (!sample_line(&w, above, hw < 1 ? 1 : hw, I, ctrl, ctrl2, below, in, &lo, &hi))
        return;
    rsm = (int)lround(0.4 / px_along);
    smooth_along(I, in, lo, hi, rsm, ism);
    background(ctrl, ctrl2, in, lo, hi, rsm, nu, st, tmp, cmax, &bg, &bsig);
    smooth_along(I, in, lo, hi, (int)lround(0.15 / px_along), itip);
    t1 = bg + 3.0f * bsig;
    for (int u = lo; u <= hi; u++)
        on[u] = in[u] && ism[u] > t1;
    out->reason = "no bright run along the line";
    if (!best_run(on, ism, t1, 4.0f * bsig, lo, hi, gap, &rs, &re))
        return;
    int n = 0;
    for (int u = rs; u <= re; u++)
        if (on[u])
            tmp[n++] = ism[u];
    float shaft = median_inplace(tmp, (size_t)n);
    float t2 = fmaxf(bg + 0.5f * (shaft - bg), bg + 2.0f * bsig);
    for (int u = lo; u <= hi; u++)
        on[u] = in[u] && ism[u] > t2;
    int rs2, re2;
    if (best_run(on, ism, t2, 4.0f * bsig, rs, re, gap, &rs2, &re2)) {
        /* extend the run over the bridged neighbourhood on both sides */
        rs = rs2;
        re = re2;
        while (rs - 1 >= lo && in[rs - 1] && ism[rs - 1] > t2)
            rs--;
        while (re + 1 <= hi && in[re + 1] && ism[re + 1] > t2)
            re++;
    }

    /* 4. The tip: half-way crossing past the deep end of the run, against
     * the shaft level over its last 1.5 mm. */
    int ue = deeper > 0 ? re : rs, us = deeper > 0 ? rs : re;
    int nb = (int)lround(1.5 / px_along);
    n = 0;
    for (int k = 0; k <= nb; k++) {
        int u = ue - deeper * k;
        if (u < rs || u > re)
            break;
        if (in[u])
            tmp[n++] = ism[u];
    }
    float tip_level = n ? median_inplace(tmp, (size_t)n) : shaft;
    float half = bg + 0.5f * (tip_level - bg);
    int u = ue;
    int back = (int)lround(1.0 / px_along);
    for (int k = 0; k < back && itip[u] < half; k++) {
        int ub = u - deeper;
        if (ub < rs || ub > re || !in[ub])
            break;
        u = ub;
    }
    double ut = u;
    for (;;) {
        int un = u + deeper;
        if (un < lo || un > hi || !in[un]) {
            ut = u;
            break;
        }
        if (itip[un] < half) {
            float d = itip[u] - itip[un];
            double t = d > 1e-6f ? (itip[u] - half) / d : 0.5;
            ut = u + deeper * clampf((float)t, 0.0f, 1.0f);
            break;
        }
        u = un;
    }

    /* 5. Features and confidence. */
    double len = fabs(ut - us) * px_along;
    /* A needle comes from outside the image: its shallow end lies near where
     * the line leaves the image (or the scanned area). Fibres, septa and
     * bone flanks are segments that start and end inside the tissue. */
    int u_border = deeper > 0 ? lo : hi;
    double entry_gap = fabs((double)(us - u_border)) * px_along;
    float contrast = (shaft - bg) / bsig;
    int filled = 0, ridge = 0, span = re - rs + 1;
    n = 0;
    int nbel = 0;
    for (int k = rs; k <= re; k++) {
        if (!in[k])
            continue;
        if (ism[k] > t2)
            filled++;
        if (ism[k] > cmax[k] + bsig)
            ridge++;
        tmp[n++] = below[k];
        tmp[nu + nbel++] = 0.5f * (ctrl[k] + ctrl2[k]);
    }
    float below_med = median_inplace(tmp, (size_t)n);
    float above_med = median_inplace(tmp + nu, (size_t)nbel);
    float fill = span > 0 ? (float)filled / (float)span : 0.0f;
    float ridgefrac = span > 0 ? (float)ridge / (float)span : 0.0f;
    /* Straightness of the ridge over the final run. */
    double ss = 0.0;
    int nr = 0;
    for (int k = rs; k <= re; k++)
        if (in[k] && ism[k] > t2) {
            double r = rv[k] - (w.v0 + w.m * k);
            if (fabs(r) < 0.7 / px_perp) {
                ss += r * r;
                nr++;
            }
        }
    double rms_mm = nr > 3 ? sqrt(ss / nr) * px_perp : 1.0;
    (void)rms_px;

    double vt = w.v0 + w.m * ut, ve = w.v0 + w.m * us;
    double ang;
    if (w.shallow) {
        ang = atan(w.m);
        out->tip_x_mm = (float)(ut * w.sp);
        out->tip_z_mm = (float)(vt * w.sp);
        out->entry_x_mm = (float)(us * w.sp);
        out->entry_z_mm = (float)(ve * w.sp);
    } else {
        ang = atan2(1.0, w.m);
        if (ang > 0.5 * M_PI)
            ang -= M_PI;
        out->tip_x_mm = (float)(vt * w.sp);
        out->tip_z_mm = (float)(ut * w.sp);
        out->entry_x_mm = (float)(ve * w.sp);
        out->entry_z_mm = (float)(us * w.sp);
    }
    out->angle_deg = (float)(ang / TL_DEG);
    out->length_mm = (float)len;
    out->contrast = contrast;

    float s_con = clampf((contrast - 2.0f) / 3.0f, 0.0f, 1.0f);
    float s_len = sqrtf(clampf((float)len / (2.0f * p->min_length_mm), 0.0f, 1.0f));
    float s_str = clampf(1.0f - ((float)rms_mm - 0.08f) / 0.2f, 0.0f, 1.0f);
    float s_fill = clampf((fill - 0.4f) / 0.3f, 0.0f, 1.0f);
    float s_ridge = clampf((ridgefrac - 0.4f) / 0.3f, 0.0f, 1.0f);
    float ratio = above_med - st->p1 > 1.0f ? (below_med - st->p1) / (above_med - st->p1) : 1.0f;
    float s_shadow = clampf((ratio - 0.25f) / 0.3f, 0.0f, 1.0f);
    float fa_deg = fabsf(out->angle_deg);
    bool angle_ok = fa_deg >= p->min_angle_deg - 1.0f && fa_deg <= p->max_angle_deg + 1.0f;
    float s_entry = clampf(1.0f - ((float)entry_gap - 4.0f) / 4.0f, 0.0f, 1.0f);
    out->confidence = sqrtf(s_con) * s_len * s_str * s_fill * s_ridge * s_shadow * s_entry;
    out->reason = "ok";
    if (len < p->min_length_mm) {
        out->reason = "shaft too short";
        out->confidence *= 0.5f;
    } else if (!angle_ok) {
        out->reason = "angle out of range";
        out->confidence = 0.0f;
    } else if (s_entry < 0.5f) {
        out->reason = "shaft does not come from the image edge";
    } else if (s_shadow < 0.5f) {
        out->reason = "shadow beneath (bone)";
    } else if (s_str < 0.5f) {
        out->reason = "ridge not straight";
    } else if (s_ridge < 0.5f) {
        out->reason = "not brighter than the tissue beside it";
    } else if (s_con < 0.3f) {
        out->reason = "low contrast";
    }
}
