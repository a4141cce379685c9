/* Needle detection, stage 2 helpers: reading profiles along a candidate
 * line (echo, control lines on the shallow side, samples beneath), the
 * shaft interval, the ridge and line fits. Split from refine.c (which
 * scores the candidate) to keep files short. */
#include "refine_internal.h"

#include <string.h>

/* The interval of the line that is most convincingly shaft: maximum of
 * sum(min(val, cap) - tau) over contiguous steps (Kadane). Steps outside the
 * image count as -tau. For a step signal in noise with tau half its height
 * this is the maximum-likelihood change point, and it is not broken up by
 * the dips a dotted, speckled shaft echo has. */
float max_interval(const float *val, const uint8_t *in, int lo, int hi, float tau,
                          float cap, int *rs, int *re)
{
    float best = 0.0f, cur = 0.0f;
    int s = lo;
    *rs = *re = -1;
    for (int u = lo; u <= hi; u++) {
        float x = in[u] ? gd_minf(val[u], cap) - tau : -tau;
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

float robust_spread(float *tmp, const float *v, int n, float *med)
{
    memcpy(tmp, v, (size_t)n * sizeof(float));
    *med = median_inplace(tmp, (size_t)n);
    for (int i = 0; i < n; i++)
        tmp[i] = fabsf(v[i] - *med);
    return 1.4826f * median_inplace(tmp, (size_t)n);
}

/* Line fit v = a + b u by least squares over the marked points, two rounds
 * of dropping points further than 3 robust sigmas. */
bool fit_line(const float *rv, const uint8_t *use, int lo, int hi, float *tmp,
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

const double ctl_mm[NCTL] = { 0.8, 1.1, 1.4, 1.7 };

/* Echo along the line v = v0 + m u in a band of half width hw (v pixels),
 * and NCTL control lines in the tissue on the shallow side of it (the comet
 * tail of reverberations lies on the deep side). Where those leave the
 * image (a needle just under the skin), a flat line's controls are taken
 * at the same depth instead, shifted along the row towards the shallow
 * side. Also a sample 1 mm beneath: black under bone cortex, the
 * reverberation tail or plain tissue under a needle.
 * in[u]: 0 = the line is outside the image there, 1 = inside but its
 * controls are not, 2 = all inside. */
GD_CLONES bool sample_line(const walker *w, int above, double sina, int hw, bool full, float *I,
                        float *ctl, float *sd, float *below, float *below2, float *below3,
                        uint8_t *in, int *lo_out, int *hi_out)
{
    /* controls are read like the echo itself, so their spread is its noise */
    const int hc = hw;
    double vpx = 1.0 / (w->sp * w->cosb); /* v pixels per mm across the line */
    int off[NCTL], sh[NCTL];
    for (int k = 0; k < NCTL; k++) {
        off[k] = iround(ctl_mm[k] * vpx);
        sh[k] = iround(fmin(ctl_mm[k] / sina, 3.0 + 2.0 * k) / w->sp);
    }
    int off_b = iround(1.0 * vpx), off_b2 = iround(2.0 * vpx),
        off_b3 = iround(3.0 * vpx);
    bool mixed = w->shallow && sina > 0.42; /* 25-45 degrees */
    int nu = w->nu, lo = nu, hi = -1, nc = 0;
    for (int u = 0; u < nu; u++) {
        double v = w->v0 + w->m * (u - w->u0);
        in[u] = 0;
        if (v - hw < 0.0 || v + hw > w->nv - 2 || !valid_at(w, u, iround(v)))
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
            int d1 = iround(1.0 / w->sp), d2 = iround(2.0 / w->sp);
            int u1 = u - above * d1, u2 = u - above * d2;
            if (u2 >= 0 && u2 < nu && valid_at(w, u2, iround(v))) {
                sd[u] = band(w, u1, v, hc);
                sd[nu + u] = band(w, u2, v, hc);
            } else {
                sd[u] = sd[nu + u] = -1.0f;
            }
        }
        double va = v + above * (off[NCTL - 1] + hc);
        if (va >= 0.0 && va <= w->nv - 2 &&
            valid_at(w, u, iround(v + above * off[NCTL - 1]))) {
            for (int k = 0; k < NCTL; k++)
                ctl[k * nu + u] = band(w, u, v + above * off[k], hc);
            /* An oblique flat line crossing horizontal fibres: half the
             * controls at the same depth (the fibres' own level). */
            if (mixed) {
                int ua = u - above * sh[1], ub = u - above * sh[3];
                if (ub >= 0 && ub < nu && valid_at(w, ub, iround(v))) {
                    ctl[1 * nu + u] = band(w, ua, v, hc);
                    ctl[3 * nu + u] = band(w, ub, v, hc);
                }
            }
        } else if (w->shallow) {
            int ul = u - above * sh[NCTL - 1];
            if (ul < 0 || ul >= nu || !valid_at(w, ul, iround(v)))
                continue;
            for (int k = 0; k < NCTL; k++)
                ctl[k * nu + u] = band(w, u - above * sh[k], v, hc);
        } else {
            continue;
        }
        if (full) {
            double vb = v - above * off_b;
            below[u] = vb - hc >= 0.0 && vb + hc <= w->nv - 2 && valid_at(w, u, iround(vb))
                           ? band(w, u, vb, hc)
                           : ctl[(NCTL - 1) * nu + u];
            vb = v - above * off_b2;
            below2[u] = vb - hc >= 0.0 && vb + hc <= w->nv - 2 &&
                                valid_at(w, u, iround(vb))
                            ? band(w, u, vb, hc)
                            : below[u];
            vb = v - above * off_b3;
            below3[u] = vb - hc >= 0.0 && vb + hc <= w->nv - 2 &&
                                valid_at(w, u, iround(vb))
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

float median4(float a, float b, float c, float d)
{
    float lo1 = gd_minf(a, b), hi1 = gd_maxf(a, b), lo2 = gd_minf(c, d), hi2 = gd_maxf(c, d);
    return 0.5f * (gd_maxf(lo1, lo2) + gd_minf(hi1, hi2));
}

/* Local background along the line: the median of the control lines at the
 * same step, each smoothed like the echo it is compared with (so a line
 * running from tissue into a bone shadow, or past a bright septum, is
 * judged against its own surroundings). Gives the excess ex = echo -
 * background, the brightest control (cmax) and the excess's noise (from the
 * controls' mutual differences, which carry the same speckle). Controls are
 * smoothed in place. tmp: 4 nu floats. */
GD_CLONES void background(const float *ism, float *ctl, const uint8_t *in, int lo, int hi, int r,
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
            cmax[u] = gd_maxf(gd_maxf(c0[u], c1[u]), gd_maxf(c2[u], c3[u]));
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
static inline float smooth_at(const float *I, const uint8_t *in, int lvl, int lo, int hi, int r,
                              int u)
{
    float s = 0.0f;
    int n = 0;
    int k0 = u - r < lo ? lo : u - r, k1 = u + r > hi ? hi : u + r;
    for (int k = k0; k <= k1; k++)
        if (in[k] >= lvl) {
            s += I[k];
            n++;
        }
    return n ? s / (float)n : 0.0f;
}

/* Where the whole window lies inside lo..hi, a block of steps at a time:
 * the kept values (others as +0.0f) and their count are laid out first,
 * then every step's window is summed side by side. Each step adds the same
 * terms in the same order as smooth_at (a +0.0f leaves a sum unchanged: it
 * starts at +0 and never becomes -0; counts are small whole numbers, exact
 * as floats), so the result is the same to the bit, vectorised (this
 * smoothing runs 13 times per candidate, ~5% of a whole-image search). */
#define SB 256
#define SR 64
GD_CLONES void smooth_along(const float *I, const uint8_t *in, int lvl, int lo, int hi, int r,
                         float *out)
{
    if (r < 1)
        r = 1;
    int u = lo;
    for (; u <= hi && u - r < lo; u++)
        out[u] = smooth_at(I, in, lvl, lo, hi, r, u);
    if (r <= SR) {
        float m[SB + 2 * SR], c[SB + 2 * SR], s[SB], n[SB];
        while (u + r <= hi) {
            int nb = hi - r - u + 1;
            if (nb > SB)
                nb = SB;
            for (int k = 0; k < nb + 2 * r; k++) {
                bool on = in[u - r + k] >= lvl;
                float v = I[u - r + k];
                m[k] = on ? v : 0.0f;
                c[k] = on ? 1.0f : 0.0f;
            }
            for (int l = 0; l < nb; l++)
                s[l] = n[l] = 0.0f;
            for (int j = 0; j <= 2 * r; j++)
                for (int l = 0; l < nb; l++) {
                    s[l] += m[l + j];
                    n[l] += c[l + j];
                }
            for (int l = 0; l < nb; l++)
                out[u + l] = n[l] > 0.0f ? s[l] / n[l] : 0.0f;
            u += nb;
        }
    }
    for (; u <= hi; u++)
        out[u] = smooth_at(I, in, lvl, lo, hi, r, u);
}

/* Sub-pixel ridge (peak across the line, [1 2 1] smoothed, parabola) within
 * +/- uv of the line at step u. */
GD_CLONES bool ridge_at(const walker *w, int u, int uv, float *out)
{
    double vc = w->v0 + w->m * (u - w->u0);
    int c = iround(vc);
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

/* Mean echo along v = v0 + m (u - um) over steps lo..hi. */
GD_CLONES static double line_mean(const walker *w, int lo, int hi, int step, double um, double v0, double m)
{
    double s = 0.0;
    int n = 0;
    for (int u = lo; u <= hi; u += step) {
        double v = v0 + m * (u - um);
        if (v < 0.0 || v >= w->nv - 1)
            continue;
        s += pix_v(w, u, v);
        n++;
    }
    return n > 0 ? s / n : -1.0;
}

GD_CLONES void fine_line(walker *w, int lo, int hi, double px_perp)
{
    double um = 0.5 * (lo + hi);
    double vc = w->v0 + w->m * um, a0 = atan(w->m);
    int step = (hi - lo) > 200 ? 2 : 1;
    /* coarse (1 deg, 0.1 mm), then fine (0.25 deg, 0.05 mm) around it */
    double best = -1.0, ba = a0, bv = vc;
    for (int ka = -3; ka <= 3; ka++)
        for (int kc = -3; kc <= 3; kc++) {
            double a = a0 + ka * TL_DEG, v0 = vc + kc * 0.1 / px_perp;
            double mval = line_mean(w, lo, hi, step, um, v0, tan(a));
            if (mval > best) {
                best = mval;
                ba = a;
                bv = v0;
            }
        }
    double a1 = ba, v1 = bv;
    for (int ka = -3; ka <= 3; ka++)
        for (int kc = -2; kc <= 2; kc++) {
            double a = a1 + ka * 0.25 * TL_DEG, v0 = v1 + kc * 0.05 / px_perp;
            double mval = line_mean(w, lo, hi, step, um, v0, tan(a));
            if (mval > best) {
                best = mval;
                ba = a;
                bv = v0;
            }
        }
    w->m = tan(ba);
    w->v0 = bv - w->m * um;
}

