/* The fibrillar band (plantar fascia, Achilles tendon) between two
 * interfaces. A band may be brighter than its surroundings or, thickened
 * and hypoechoic, darker; what it always has is two borders: a specular line
 * or a step in echo level. So each 2 mm group of strips lists its strongest
 * interfaces, pairs of them are scored as band candidates, and a dynamic
 * programme across groups picks the laterally continuous band. Borders are
 * then refined per strip (line peak or half-level crossing) and smoothed
 * across strips with a running median so a lesion cannot drag them. */
#include "an_internal.h"

#include <string.h>

#define KIF 8            /* interfaces kept per group */
#define KP AN_KP
#define MAX_GROUPS AN_MAX_GROUPS

typedef struct {
    float row;          /* border row (sub-pixel) */
    float strength;     /* in noise units */
    int8_t spike;       /* 1: a specular line, 0: a step */
    int8_t sign;        /* step: +1 darker above, -1 brighter above */
} iface;

typedef an_pair pair;

static float mean_c(const double *cum, int h, float r0, float r1)
{
    int i0 = (int)lroundf(r0), i1 = (int)lroundf(r1);
    if (i0 < 0)
        i0 = 0;
    if (i1 > h)
        i1 = h;
    if (i1 <= i0)
        return NAN;
    return (float)((cum[i1] - cum[i0]) / (double)(i1 - i0));
}

/* Interface strength along a group profile: |step| + positive line. */
static int find_ifaces(const float *m, const double *cum, int h, float sp, float r0, float r1,
                       float *work, iface *out)
{
    const float d1 = fmaxf(1.0f, 0.1f / sp), d2 = 0.7f / sp;
    const float l1 = 0.25f / sp, l2 = 0.6f / sp;
    int lo = (int)(r0 + d2), hi = (int)(r1 - d2);
    if (hi <= lo + 2)
        return 0;
    for (int r = lo; r <= hi; r++) {
        float e = mean_c(cum, h, r + d1, r + d2) - mean_c(cum, h, r - d2, r - d1 + 1);
        float s = m[r] - 0.5f * (mean_c(cum, h, r - l2, r - l1) + mean_c(cum, h, r + l1 + 1, r + l2 + 1));
        work[r] = fabsf(e) + fmaxf(0.0f, s);
    }
    /* noise level: median strength over the window */
    float tmp[4096];
    int n = 0;
    for (int r = lo; r <= hi && n < 4096; r += 2)
        tmp[n++] = work[r];
    float noise = an_percentile_f(tmp, (uint32_t)n, 50) + 1e-3f;
    int k = 0;
    const int nms = (int)(0.35f / sp);
    for (int r = lo; r <= hi; r++) {
        float v = work[r];
        if (v < 2.0f * noise)
            continue;
        bool peak = true;
        for (int j = r - nms; j <= r + nms && peak; j++)
            if (j != r && j >= lo && j <= hi && (work[j] > v || (work[j] == v && j < r)))
                peak = false;
        if (!peak)
            continue;
        float e = mean_c(cum, h, r + d1, r + d2) - mean_c(cum, h, r - d2, r - d1 + 1);
        float s = m[r] - 0.5f * (mean_c(cum, h, r - l2, r - l1) + mean_c(cum, h, r + l1 + 1, r + l2 + 1));
        iface f = { (float)r, v / noise, (int8_t)(s > 0.7f * fabsf(e)), (int8_t)(e > 0 ? 1 : -1) };
        if (k < KIF) {
            out[k++] = f;
        } else {
            int w = 0;
            for (int i = 1; i < k; i++)
                if (out[i].strength < out[w].strength)
                    w = i;
            if (f.strength > out[w].strength)
                out[w] = f;
        }
    }
    return k;
}

static int make_pairs(const iface *f, int nf, const double *cum, int h, float sp, float min_th,
                      float max_th, float r_lim, pair *out)
{
    int n = 0;
    const float in0 = 0.3f / sp, o0 = 0.2f / sp, o1 = 1.2f / sp;
    for (int i = 0; i < nf; i++)
        for (int j = 0; j < nf; j++) {
            float t = f[i].row, b = f[j].row;
            float th = (b - t) * sp;
            if (th < min_th || th > max_th)
                continue;
            float in = mean_c(cum, h, t + in0, b - in0 + 1);
            float up = mean_c(cum, h, t - o1, t - o0);
            float dn = mean_c(cum, h, b + o0, fminf(b + o1, r_lim));
            if (isnan(in) || isnan(up))
                continue;
            float c = fabsf(in - up) + (isnan(dn) ? 0.0f : fabsf(in - dn));
            pair p = { t, b, f[i].strength + f[j].strength + 0.15f * c, f[i].spike, f[j].spike,
                       f[i].sign, f[j].sign };
            if (n < KP) {
                out[n++] = p;
            } else {
                int w = 0;
                for (int k = 1; k < n; k++)
                    if (out[k].score < out[w].score)
                        w = k;
                if (p.score > out[w].score)
                    out[w] = p;
            }
        }
    return n;
}

/* One border on one strip near `guess`: a line's peak or a step's
 * half-level crossing. */
static float refine(const float *m, int h, float sp, float guess, bool spike, int sign)
{
    const float win = 0.35f / sp, d = fmaxf(1.0f, 0.08f / sp);
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
        float v = spike ? m[r] : (m[(int)(r + d)] - m[(int)(r - d)]) * (float)sign;
        if (v > best) {
            best = v;
            br = r;
        }
    }
    if (br < 0)
        return NAN;
    if (spike) {
        float a = m[br - 1], b = m[br], c = m[br + 1], den = a - 2 * b + c;
        return (float)br + (den < 0 ? 0.5f * (a - c) / den : 0.0f);
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

void an_find_band(tl_analyzer *a, float min_depth_mm, float max_thick_mm, const float *limit_row)
{
    const int h = (int)a->h;
    const float sp = a->sp;
    uint32_t g = (uint32_t)lroundf(2.0f / (sp * (float)a->sw));
    if (g < 1)
        g = 1;
    uint32_t ng = a->ns / g;
    if (ng > MAX_GROUPS)
        ng = MAX_GROUPS;
    if (ng < 2)
        return;
    pair (*P)[KP] = a->pairs;
    int *np = a->npairs;
    float *gp = a->tmp, work[4096];
    if (h > 4096)
        return;
    for (uint32_t gi = 0; gi < ng; gi++) {
        float lim = (float)h - 1;
        for (int r = 0; r < h; r++)
            gp[r] = 0;
        for (uint32_t s = gi * g; s < (gi + 1) * g; s++) {
            const float *m = an_sm(a, s);
            for (int r = 0; r < h; r++)
                gp[r] += m[r];
            if (limit_row && !isnan(limit_row[s]) && limit_row[s] < lim)
                lim = limit_row[s];
        }
        a->cum[0] = 0;
        for (int r = 0; r < h; r++) {
            gp[r] /= (float)g;
            a->cum[r + 1] = a->cum[r] + gp[r];
        }
        iface f[KIF];
        int nf = find_ifaces(gp, a->cum, h, sp, min_depth_mm / sp, lim, work, f);
        np[gi] = make_pairs(f, nf, a->cum, h, sp, 1.0f, max_thick_mm, lim, P[gi]);
    }
    /* Dynamic programme: one pair (or none) per group, continuous borders. */
    float (*cost)[KP + 1] = a->dp_cost;
    int8_t (*from)[KP + 1] = a->dp_from;
    const float lam = 4.0f;                  /* per mm of border jump */
    const float maxjump = 1.2f / sp;         /* per group */
    const float skip = 6.0f;                 /* a band must beat this to count */
    for (uint32_t gi = 0; gi < ng; gi++)
        for (int k = 0; k <= np[gi]; k++) {
            float own = k < np[gi] ? -P[gi][k].score : -skip;
            if (gi == 0) {
                cost[gi][k] = own;
                from[gi][k] = -1;
                continue;
            }
            float best = INFINITY;
            int bj = 0;
            for (int j = 0; j <= np[gi - 1]; j++) {
                float c = cost[gi - 1][j];
                if (k < np[gi] && j < np[gi - 1]) {
                    float jt = fabsf(P[gi][k].t - P[gi - 1][j].t), jb = fabsf(P[gi][k].b - P[gi - 1][j].b);
                    if (jt > maxjump || jb > maxjump)
                        continue;
                    c += lam * (jt + jb) * sp;
                }
                if (c < best) {
                    best = c;
                    bj = j;
                }
            }
            cost[gi][k] = best + own;
            from[gi][k] = (int8_t)bj;
        }
    int k = 0;
    for (int j = 1; j <= np[ng - 1]; j++)
        if (cost[ng - 1][j] < cost[ng - 1][k])
            k = j;
    int pick[MAX_GROUPS];
    for (int gi = (int)ng - 1; gi >= 0; gi--) {
        pick[gi] = k < np[gi] ? k : -1;
        k = from[gi][k] < 0 ? 0 : from[gi][k];
    }
    /* Per-strip borders on a 3-strip average around the group's pair. */
    for (uint32_t s = 0; s < a->ns; s++) {
        uint32_t gi = s / g < ng ? s / g : ng - 1;
        if (pick[gi] < 0)
            continue;
        const pair *p = &P[gi][pick[gi]];
        uint32_t s0 = s ? s - 1 : 0, s1 = s + 1 < a->ns ? s + 1 : s;
        for (int r = 0; r < h; r++) {
            float v = 0;
            for (uint32_t q = s0; q <= s1; q++)
                v += an_sm(a, q)[r];
            gp[r] = v / (float)(s1 - s0 + 1);
        }
        float t = refine(gp, h, sp, p->t, p->t_spike, p->t_sign);
        float b = refine(gp, h, sp, p->b, p->b_spike, p->b_sign);
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
}
