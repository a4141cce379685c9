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

/* Mean over a short segment across the line centred at v, half width hw:
 * the mean of the linearly interpolated samples v-hw .. v+hw, computed from
 * the 2 hw + 2 whole pixels they fall between (first and last weighted). */
static inline float band(const walker *w, int u, double v, int hw)
{
    int v0 = (int)floor(v) - hw;
    float t = (float)(v - floor(v));
    float s = pix(w, u, v0) * (1.0f - t);
    for (int k = 1; k <= 2 * hw; k++)
        s += pix(w, u, v0 + k);
    s += pix(w, u, v0 + 2 * hw + 1) * t;
    return s / (float)(2 * hw + 1);
}

/* The interval of the line that is most convincingly shaft: maximum of
 * sum(min(val, cap) - tau) over contiguous steps (Kadane). Steps outside the
 * image count as -tau. For a step signal in noise with tau half its height
 * this is the maximum-likelihood change point, and it is not broken up by
 * the dips a dotted, speckled shaft echo has. */
static float max_interval(const float *val, const uint8_t *in, int lo, int hi, float tau,
                          float cap, int *rs, int *re)
{
    float best = 0.0f, cur = 0.0f;
    int s = lo;
    *rs = *re = -1;
    for (int u = lo; u <= hi; u++) {
        float x = in[u] ? fminf(val[u], cap) - tau : -tau;
        if (cur <= 0.0f) {
            cur = x;
            s = u;
        } else {
            cur += x;
        }
        if (cur > best) {
            best = cur;
            *rs = s;
            *re = u;
        }
    }
    return best;
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

#define NCTL 4
/* Perpendicular distances (mm) of the control lines on the shallow side. */
static const double ctl_mm[NCTL] = { 0.8, 1.1, 1.4, 1.7 };

/* Echo along the line v = v0 + m u in a band of half width hw (v pixels),
 * and NCTL control lines in the tissue on the shallow side of it (the comet
 * tail of reverberations lies on the deep side). Where those leave the
 * image (a needle just under the skin), a flat line's controls are taken
 * at the same depth instead, shifted along the row towards the shallow
 * side. Also a sample 1 mm beneath: black under bone cortex, the
 * reverberation tail or plain tissue under a needle.
 * in[u]: 0 = the line is outside the image there, 1 = inside but its
 * controls are not, 2 = all inside. */
static bool sample_line(const walker *w, int above, double sina, int hw, bool full, float *I,
                        float *ctl, float *sd, float *below, float *below2, float *below3,
                        uint8_t *in, int *lo_out, int *hi_out)
{
    /* controls are read like the echo itself, so their spread is its noise */
    const int hc = hw;
    double vpx = 1.0 / (w->sp * w->cosb); /* v pixels per mm across the line */
    int off[NCTL], sh[NCTL];
    for (int k = 0; k < NCTL; k++) {
        off[k] = (int)lround(ctl_mm[k] * vpx);
        sh[k] = (int)lround(fmin(ctl_mm[k] / sina, 3.0 + 2.0 * k) / w->sp);
    }
    int off_b = (int)lround(1.0 * vpx), off_b2 = (int)lround(2.0 * vpx),
        off_b3 = (int)lround(3.0 * vpx);
    bool mixed = w->shallow && sina > 0.42; /* 25-45 degrees */
    int nu = w->nu, lo = nu, hi = -1, nc = 0;
    for (int u = 0; u < nu; u++) {
        double v = w->v0 + w->m * (u - w->u0);
        in[u] = 0;
        if (v - hw < 0.0 || v + hw > w->nv - 2 || !valid_at(w, u, (int)lround(v)))
            continue;
        I[u] = band(w, u, v, hw);
        in[u] = 1;
        if (u < lo)
            lo = u;
        if (u > hi)
            hi = u;
        /* Same-depth samples on the shallow side (1 and 2 mm away along the
         * row, or across it for a steep line): a horizontal layer the line
         * crosses is as bright there as on the line. */
        if (full && w->shallow) {
            int d1 = (int)lround(1.0 / w->sp), d2 = (int)lround(2.0 / w->sp);
            int u1 = u - above * d1, u2 = u - above * d2;
            if (u2 >= 0 && u2 < nu && valid_at(w, u2, (int)lround(v))) {
                sd[u] = band(w, u1, v, hc);
                sd[nu + u] = band(w, u2, v, hc);
            } else {
                sd[u] = sd[nu + u] = -1.0f;
            }
        }
        double va = v + above * (off[NCTL - 1] + hc);
        if (va >= 0.0 && va <= w->nv - 2 &&
            valid_at(w, u, (int)lround(v + above * off[NCTL - 1]))) {
            for (int k = 0; k < NCTL; k++)
                ctl[k * nu + u] = band(w, u, v + above * off[k], hc);
            /* An oblique flat line crossing horizontal fibres: half the
             * controls at the same depth (the fibres' own level). */
            if (mixed) {
                int ua = u - above * sh[1], ub = u - above * sh[3];
                if (ub >= 0 && ub < nu && valid_at(w, ub, (int)lround(v))) {
                    ctl[1 * nu + u] = band(w, ua, v, hc);
                    ctl[3 * nu + u] = band(w, ub, v, hc);
                }
            }
        } else if (w->shallow) {
            int ul = u - above * sh[NCTL - 1];
            if (ul < 0 || ul >= nu || !valid_at(w, ul, (int)lround(v)))
                continue;
            for (int k = 0; k < NCTL; k++)
                ctl[k * nu + u] = band(w, u - above * sh[k], v, hc);
        } else {
            continue;
        }
        if (full) {
            double vb = v - above * off_b;
            below[u] = vb - hc >= 0.0 && vb + hc <= w->nv - 2 && valid_at(w, u, (int)lround(vb))
                           ? band(w, u, vb, hc)
                           : ctl[(NCTL - 1) * nu + u];
            vb = v - above * off_b2;
            below2[u] = vb - hc >= 0.0 && vb + hc <= w->nv - 2 &&
                                valid_at(w, u, (int)lround(vb))
                            ? band(w, u, vb, hc)
                            : below[u];
            vb = v - above * off_b3;
            below3[u] = vb - hc >= 0.0 && vb + hc <= w->nv - 2 &&
                                valid_at(w, u, (int)lround(vb))
                            ? band(w, u, vb, hc)
                            : below[u];
        }
        if (!w->shallow) {
            sd[u] = ctl[u];
            sd[nu + u] = ctl[2 * nu + u];
        }
        in[u] = 2;
        nc++;
    }
    *lo_out = lo;
    *hi_out = hi;
    return hi - lo >= 8 && nc >= 8;
}

static void smooth_along(const float *I, const uint8_t *in, int lvl, int lo, int hi, int r,
                         float *out);

static float median4(float a, float b, float c, float d)
{
    float lo1 = fminf(a, b), hi1 = fmaxf(a, b), lo2 = fminf(c, d), hi2 = fmaxf(c, d);
    return 0.5f * (fmaxf(lo1, lo2) + fminf(hi1, hi2));
}

/* Local background along the line: the median of the control lines at the
 * same step, each smoothed like the echo it is compared with (so a line
 * running from tissue into a bone shadow, or past a bright septum, is
 * judged against its own surroundings). Gives the excess ex = echo -
 * background, the brightest control (cmax) and the excess's noise (from the
 * controls' mutual differences, which carry the same speckle). Controls are
 * smoothed in place. tmp: 4 nu floats. */
static void background(const float *ism, float *ctl, const uint8_t *in, int lo, int hi, int r,
                       int nu, const image_stats *st, float *tmp, float *bgl, float *ex,
                       float *cmax, float *sig)
{
    for (int k = 0; k < NCTL; k++) {
        smooth_along(ctl + (size_t)k * nu, in, 2, lo, hi, r, tmp);
        memcpy(ctl + (size_t)k * nu + lo, tmp + lo, (size_t)(hi - lo + 1) * sizeof(float));
    }
    const float *c0 = ctl, *c1 = ctl + nu, *c2 = ctl + 2 * nu, *c3 = ctl + 3 * nu;
    int n = 0, last = -1;
    for (int u = lo; u <= hi; u++)
        if (in[u] == 2) {
            bgl[u] = median4(c0[u], c1[u], c2[u], c3[u]);
            cmax[u] = fmaxf(fmaxf(c0[u], c1[u]), fmaxf(c2[u], c3[u]));
            tmp[n++] = c0[u] - c2[u];
            last = u;
        } else if (in[u] == 1 && last >= 0) {
            bgl[u] = bgl[last];   /* hold the nearest background */
            cmax[u] = cmax[last];
        }
    int first = lo;
    while (first <= hi && in[first] != 2)
        first++;
    for (int u = lo; u < first && first <= hi; u++)
        if (in[u] == 1) {   /* before the first control: the first one's */
            bgl[u] = bgl[first];
            cmax[u] = cmax[first];
        }
    for (int u = lo; u <= hi; u++)
        if (in[u])
            ex[u] = ism[u] - bgl[u];
    float med;
    float sd = n > 0 ? robust_spread(tmp + nu, tmp, n, &med) : 0.0f;
    /* the excess has about the spread of one control; a difference of two has sqrt 2 */
    *sig = fmaxf(0.75f * sd, 0.02f * st->sigma + 0.5f);
}

/* Box average along the line over +/- r steps (only steps with in >= lvl). */
static void smooth_along(const float *I, const uint8_t *in, int lvl, int lo, int hi, int r,
                         float *out)
{
    if (r < 1)
        r = 1;
    for (int u = lo; u <= hi; u++) {
        float s = 0.0f;
        int n = 0;
        for (int k = u - r; k <= u + r; k++)
            if (k >= lo && k <= hi && in[k] >= lvl) {
                s += I[k];
                n++;
            }
        out[u] = n ? s / (float)n : 0.0f;
    }
}

/* Sub-pixel ridge (peak across the line, [1 2 1] smoothed, parabola) within
 * +/- uv of the line at step u. */
static bool ridge_at(const walker *w, int u, int uv, float *out)
{
    double vc = w->v0 + w->m * (u - w->u0);
    int c = (int)lround(vc);
    if (c - uv - 2 < 0 || c + uv + 2 > w->nv - 1)
        return false;
    float best = -1.0f;
    int bv = c;
    for (int v = c - uv; v <= c + uv; v++) {
        float s = pix(w, u, v - 1) + 2.0f * pix(w, u, v) + pix(w, u, v + 1);
        if (s > best) {
            best = s;
            bv = v;
        }
    }
    float sm = pix(w, u, bv - 2) + 2.0f * pix(w, u, bv - 1) + pix(w, u, bv);
    float sp = pix(w, u, bv) + 2.0f * pix(w, u, bv + 1) + pix(w, u, bv + 2);
    float den = sm - 2.0f * best + sp;
    float dv = den < 0.0f ? 0.5f * (sm - sp) / den : 0.0f;
    *out = (float)bv + clampf(dv, -0.5f, 0.5f);
    return true;
}

void needle_refine(const tl_needle_params *p, const tl_bmode *img, const image_stats *st,
                   const needle_line *cand, scratch *prof, tl_needle_detection *out,
                   float *geo_conf)
{
    memset(out, 0, sizeof *out);
    *geo_conf = 0.0f;
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
    double px_perp = w.sp * w.cosb;      /* mm across the line per v pixel */
    double sina = fmax(fabs(sin(a)), 0.1);
    double px_along = w.sp / w.cosb;     /* mm along the line per u step */

    int nu = w.nu;
    float *buf = scratch_get(prof, (size_t)nu * 20 * sizeof(float) + (size_t)nu * 2);
    if (!buf) {
        out->reason = "out of memory";
        return;
    }
    float *rv = buf, *itip = buf + nu, *cmax = buf + 2 * nu, *I = buf + 3 * nu;
    float *ctl = buf + 4 * nu /* NCTL nu */, *below = buf + 8 * nu;
    float *ism = buf + 9 * nu, *tmp = buf + 10 * nu; /* tmp: 4 nu */
    float *bgl = buf + 14 * nu, *ex = buf + 15 * nu, *sdc = buf + 16 * nu; /* 2 nu */
    float *below3 = buf + 18 * nu, *below2 = buf + 19 * nu;
    uint8_t *in = (uint8_t *)(buf + 20 * nu), *on = in + nu;

    int rs, re, lo, hi;
    float bsig;

    /* 1. Echo along the Hough line (a band wide enough for its ~0.2 mm
     * uncertainty) against control lines on its shallow side. */
    int hw = (int)lround(0.25 / px_perp);
    out->reason = "candidate outside the image";
    if (!sample_line(&w, above, sina, hw < 1 ? 1 : hw, false, I, ctl, sdc, below, below2, below3, in,
                     &lo, &hi))
        return;
    int rsm = (int)lround(0.3 / px_along);
    smooth_along(I, in, 1, lo, hi, rsm, ism);
    background(ism, ctl, in, lo, hi, rsm, nu, st, tmp, bgl, ex, cmax, &bsig);
    out->reason = "no bright run along the line";
    if (max_interval(ex, in, lo, hi, 1.5f * bsig, 5.0f * bsig, &rs, &re) <= 0.0f)
        return;
    if ((re - rs) * px_along < 0.6 * p->min_length_mm)
        return;

    /* 2. Ridge (sub-pixel peak across the line) over the interval, then a
     * robust line fit through it. */
    int uv = (int)ceil(0.5 / px_perp);
    if (uv < 2)
        uv = 2;
    for (int u = lo; u <= hi; u++)
        on[u] = u >= rs && u <= re && in[u] && ex[u] > 0.0f && ridge_at(&w, u, uv, &rv[u]);
    double fa = 0.0, fb = 0.0, rms_px = 0.0;
    out->reason = "ridge not straight";
    if (!fit_line(rv, on, rs, re, tmp, &fa, &fb, &rms_px))
        return;
    w.u0 = 0.0;
    w.v0 = fa;
    w.m = fb;
    w.cosb = 1.0 / sqrt(1.0 + w.m * w.m);
    px_perp = w.sp * w.cosb;
    px_along = w.sp / w.cosb;

    /* 3. Echo along the fitted line, narrow band; the shaft interval with
     * tau at half the shaft's own level. */
    hw = (int)lround(0.1 / px_perp);
    out->reason = "candidate outside the image";
    if (!sample_line(&w, above, sina, hw < 1 ? 1 : hw, true, I, ctl, sdc, below, below2, below3, in,
                     &lo, &hi))
        return;
    smooth_along(I, in, 1, lo, hi, rsm, ism);
    background(ism, ctl, in, lo, hi, rsm, nu, st, tmp, bgl, ex, cmax, &bsig);
    smooth_along(I, in, 1, lo, hi, (int)lround(0.2 / px_along), itip);
    /* Excess at the finer scale, for the tip, against the stricter of the
     * two backgrounds (shallow side, and same depth: beyond the tip a line
     * crossing a fibrillar tendon is bright only because the layers are). */
    smooth_along(sdc, in, 2, lo, hi, rsm, tmp);
    smooth_along(sdc + nu, in, 2, lo, hi, rsm, tmp + nu);
    for (int u = lo; u <= hi; u++)
        if (in[u]) {
            float b = bgl[u];
            if (in[u] == 2 && sdc[u] >= 0.0f && sdc[nu + u] >= 0.0f)
                b = fmaxf(b, 0.5f * (tmp[u] + tmp[nu + u]));
            itip[u] -= b;
        }
    float cap = 5.0f * bsig;
    out->reason = "no bright run along the line";
    if (max_interval(ex, in, lo, hi, 1.5f * bsig, cap, &rs, &re) <= 0.0f)
        return;
    float shaft = 0.0f;
    for (int it = 0; it < 2; it++) {
        double sum = 0.0;
        int n = 0;
        for (int u = rs; u <= re; u++)
            if (in[u]) {
                sum += fminf(ex[u], cap);
                n++;
            }
        shaft = n ? (float)(sum / n) : 0.0f;
        float tau = fmaxf(0.5f * shaft, 1.0f * bsig);
        if (max_interval(ex, in, lo, hi, tau, cap, &rs, &re) <= 0.0f)
            return;
    }
    float t2 = fmaxf(0.5f * shaft, 1.0f * bsig);

    /* 4. The tip: walking from the shallow end of the shaft, the first place
     * where the fine-scale echo stays below half the shaft's level for
     * 0.8 mm (a dotted shaft dips between scan lines, a septum beside it
     * dips the excess; a bright layer the line crosses further on must not
     * extend it). */
    int ue = deeper > 0 ? re : rs, us = deeper > 0 ? rs : re;
    int n = 0;
    for (int k = rs; k <= re; k++)
        if (in[k])
            tmp[n++] = itip[k];
    float half = 0.5f * (n ? median_inplace(tmp, (size_t)n) : shaft);
    int ulast = -1, below_run = 0, need = (int)lround(0.8 / px_along);
    for (int uu = us; uu >= lo && uu <= hi && in[uu]; uu += deeper) {
        if (itip[uu] >= half) {
            ulast = uu;
            below_run = 0;
        } else if (ulast >= 0 && ++below_run > need) {
            break;
        }
    }
    if (ulast >= 0) {
        /* the shaft ends where its own echo does, not where the interval did */
        if (deeper > 0)
            re = ulast;
        else
            rs = ulast;
        ue = ulast;
    }
    double ut = ue;
    if (ulast >= 0) {
        int un = ulast + deeper;
        ut = ulast;
        if (un >= lo && un <= hi && in[un]) {
            float d = itip[ulast] - itip[un];
            double t = d > 1e-6f ? (itip[ulast] - half) / d : 0.5;
            ut = ulast + deeper * clampf((float)t, 0.0f, 1.0f);
        }
    }

    /* 5. Features and confidence. */
    double len = fabs(ut - us) * px_along;
    /* A needle comes from outside the image: its shallow end lies near where
     * the line leaves the image (or the scanned area). Fibres, septa and
     * bone flanks are segments that start and end inside the tissue. */
    int u_border = deeper > 0 ? lo : hi;
    double entry_gap = fabs((double)(us - u_border)) * px_along;
    n = 0;
    for (int k = rs; k <= re; k++)
        if (in[k])
            tmp[n++] = ex[k];
    float contrast = (n ? median_inplace(tmp, (size_t)n) : 0.0f) / bsig;
    (void)t2;
    int filled = 0, ridge = 0, span = re - rs + 1;
    int nbel = 0;
    n = 0;
    for (int k = rs; k <= re; k++) {
        if (!in[k])
            continue;
        if (ex[k] > t2)
            filled++;
        if (ism[k] > cmax[k])
            ridge++;
        if (in[k] == 2) {
            tmp[n++] = below[k];
            tmp[nu + nbel] = bgl[k];
            tmp[2 * nu + nbel] = below3[k];
            tmp[3 * nu + nbel++] = below2[k];
        }
    }
    float below_med = n ? median_inplace(tmp, (size_t)n) : 0.0f;
    float above_med = nbel ? median_inplace(tmp + nu, (size_t)nbel) : 0.0f;
    float below3_med = nbel ? median_inplace(tmp + 2 * nu, (size_t)nbel) : 0.0f;
    float below2_med = nbel ? median_inplace(tmp + 3 * nu, (size_t)nbel) : 0.0f;
    float fill = span > 0 ? (float)filled / (float)span : 0.0f;
    float ridgefrac = span > 0 ? (float)ridge / (float)span : 0.0f;
    /* Straightness of the ridge over the final run. */
    /* Straightness: rms distance of the ridge from the fitted line. */
    double ss = 0.0;
    int nr = 0;
    int uvb = (int)ceil(0.5 / px_perp);
    for (int k = rs; k <= re; k++)
        if (in[k] && ex[k] > t2 && ridge_at(&w, k, uvb < 2 ? 2 : uvb, &rv[k])) {
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

    /* Per-sample contrast, and the evidence of the whole shaft (samples
     * about 0.4 mm apart are independent speckle). */
    float z_tot = contrast * sqrtf((float)len / 0.4f);
    /* Flat lines (10-14 degrees) are where tilted fascia and tendon fibres
     * live: ask them for a clearly brighter echo. */
    float c0 = 1.2f + 2.5f * clampf((14.0f - fabsf((float)(ang / TL_DEG))) / 4.0f, 0.0f, 1.0f);
    float s_con = clampf((contrast - c0) / 1.5f, 0.0f, 1.0f) *
                  clampf((z_tot - 6.0f) / 6.0f, 0.0f, 1.0f);
    float s_len = sqrtf(clampf((float)len / (2.0f * p->min_length_mm), 0.0f, 1.0f));
    float s_str = clampf(1.0f - ((float)rms_mm - 0.08f) / 0.2f, 0.0f, 1.0f);
    float s_fill = clampf((fill - 0.4f) / 0.3f, 0.0f, 1.0f);
    float s_ridge = clampf((ridgefrac - 0.4f) / 0.3f, 0.0f, 1.0f);
    /* Bone: black beneath, both just under the echo and further down. A
     * needle has its reverberation tail (or plain tissue) just beneath it,
     * and at most a partial shadow further down. */
    float dark = st->p1, ref = above_med - dark;
    float r1 = n && ref > 1.0f ? (below_med - dark) / ref : 1.0f;
    float r2 = n && ref > 1.0f ? (below2_med - dark) / ref : 1.0f;
    float r3 = n && ref > 1.0f ? (below3_med - dark) / ref : 1.0f;
    /* dark 3 mm down is bone unless a reverberation tail fills 1-2 mm (a
     * thick cortex echo can fill 1 mm, not 2) */
    float s_shadow = clampf((fmaxf(r3, fminf(r1, r2)) - 0.25f) / 0.3f, 0.0f, 1.0f);
    float fa_deg = fabsf(out->angle_deg);
    bool angle_ok = fa_deg >= p->min_angle_deg - 0.25f && fa_deg <= p->max_angle_deg + 1.0f;
    float s_entry = clampf(1.0f - ((float)entry_gap - 4.0f) / 4.0f, 0.0f, 1.0f);
    /* A needle is among the brightest echoes of the image, not only
     * brighter than the dark tissue around it. */
    n = 0;
    for (int k = rs; k <= re; k++)
        if (in[k])
            tmp[n++] = ism[k];
    float level = n ? median_inplace(tmp, (size_t)n) : 0.0f;
    float span_hi = fmaxf(st->p90 - st->median, 1.0f);
    float s_abs = clampf(((level - st->median) / span_hi - 0.4f) / 0.4f, 0.0f, 1.0f);
    out->confidence =
        sqrtf(s_con) * s_len * s_str * s_fill * s_ridge * s_shadow * s_entry * sqrtf(s_abs);
    *geo_conf = len >= p->min_length_mm && angle_ok ? s_len * s_shadow * s_entry : 0.0f;
    out->reason = "ok";
    if (len < p->min_length_mm) {
        out->reason = "shaft too short";
        out->confidence *= 0.5f;
    } else if (!angle_ok) {
        out->reason = "angle out of range";
        out->confidence = 0.0f;
    } else if (s_entry < 0.5f) {
        out->reason = "shaft does not come from the image edge";
    } else if (s_abs < 0.3f) {
        out->reason = "not among the bright echoes of the image";
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
