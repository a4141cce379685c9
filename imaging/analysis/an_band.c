/* The bright fibrillar band (plantar fascia, Achilles tendon): a matched
 * filter for "bright layer between darker layers" on groups of strips, a
 * dynamic programme across groups so the band is continuous, then sub-pixel
 * borders per strip at the half level between band and surroundings. */
#include "an_internal.h"

#include <string.h>

#define CANDS 4
#define MAX_GROUPS 256

typedef struct {
    float c, hh, score;   /* centre row, half thickness rows, contrast */
} cand;

static float box_mean(const double *cum, int h, float r0, float r1)
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

/* Best few band candidates (distinct centres) for one group profile. */
static int group_candidates(const double *cum, int h, float sp, float r_min, float r_lim,
                            float max_thick_mm, cand *out)
{
    const float gap = 0.25f / sp, side = 1.5f / sp;
    const float hh_min = 0.45f / sp, hh_max = 0.5f * max_thick_mm / sp, hh_step = fmaxf(1.0f, 0.12f / sp);
    int step = (int)fmaxf(1.0f, 0.05f / sp);
    int n = 0;
    for (int i = 0; i < CANDS; i++)
        out[i].score = 0;
    /* best per centre row, then pick separated maxima */
    for (float hh = hh_min; hh <= hh_max; hh += hh_step) {
        for (float c = r_min + hh + gap + 0.3f / sp; c + hh < r_lim; c += (float)step) {
            float in = box_mean(cum, h, c - hh, c + hh);
            float up = box_mean(cum, h, fmaxf(r_min, c - hh - gap - side), c - hh - gap);
            float dn = c + hh + gap + 0.3f / sp < r_lim
                           ? box_mean(cum, h, c + hh + gap, fminf(r_lim, c + hh + gap + side))
                           : NAN;
            if (isnan(up))
                continue;
            if (isnan(dn))
                dn = up;      /* band lying on the limit (bone): judge against one side */
            float score = fminf(in - up, in - dn);
            if (score <= 0)
                continue;
            /* insert if separated from stronger ones */
            int j;
            for (j = 0; j < n; j++)
                if (fabsf(out[j].c - c) < fmaxf(out[j].hh, hh) + gap)
                    break;
            if (j < n) {
                if (score > out[j].score)
                    out[j] = (cand){ c, hh, score };
            } else if (n < CANDS) {
                out[n++] = (cand){ c, hh, score };
            } else {
                int w = 0;
                for (int k = 1; k < n; k++)
                    if (out[k].score < out[w].score)
                        w = k;
                if (score > out[w].score)
                    out[w] = (cand){ c, hh, score };
            }
        }
    }
    return n;
}

/* Sub-pixel border between band (inside) and surroundings near row `guess`;
 * dir = -1 for the superficial border (outside is above), +1 deep. */
static float refine_edge(const float *m, int h, float sp, float guess, int dir, float r_lim)
{
    const float win = 0.8f / sp, d = fmaxf(1.0f, 0.08f / sp);
    int lo = (int)(guess - win), hi = (int)(guess + win);
    if (lo < (int)d)
        lo = (int)d;
    if (hi > h - 1 - (int)d)
        hi = h - 1 - (int)d;
    if (dir > 0 && hi > (int)r_lim)
        hi = (int)r_lim;
    float best = 0;
    int br = -1;
    for (int r = lo; r <= hi; r++) {
        float g = (m[(int)(r + d)] - m[(int)(r - d)]) * (float)(-dir);
        /* prefer the strongest step, lightly favouring the guess */
        g *= 1.0f - 0.3f * fabsf((float)r - guess) / win;
        if (g > best) {
            best = g;
            br = r;
        }
    }
    if (br < 0)
        return NAN;
    float o0 = 0.25f / sp, o1 = 0.9f / sp;
    float out = an_mean(m, (uint32_t)h, br + dir * o1, br + dir * o0);
    float in = an_mean(m, (uint32_t)h, br - dir * o1, br - dir * o0);
    if (dir < 0) {
        out = an_mean(m, (uint32_t)h, br - o1, br - o0);
        in = an_mean(m, (uint32_t)h, br + o0, br + o1);
    } else {
        in = an_mean(m, (uint32_t)h, br - o1, br - o0);
        out = an_mean(m, (uint32_t)h, br + o0, fminf(br + o1, r_lim + 1));
        if (isnan(out))
            return (float)br;
    }
    if (isnan(in) || isnan(out) || in <= out)
        return (float)br;
    float thr = 0.5f * (in + out);
    /* nearest crossing of thr around br */
    for (int k = 0; k < (int)(0.5f / sp); k++) {
        for (int sgn = -1; sgn <= 1; sgn += 2) {
            int r = br + sgn * k;
            if (r < 1 || r >= h - 1)
                continue;
            float a0 = m[r], a1 = m[r + 1];
            if ((a0 - thr) * (a1 - thr) <= 0 && a0 != a1)
                return (float)r + (thr - a0) / (a1 - a0);
        }
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
    static const int none = -1;
    cand cands[MAX_GROUPS][CANDS];
    int nc[MAX_GROUPS];
    float lim_g[MAX_GROUPS];
    for (uint32_t gi = 0; gi < ng; gi++) {
        float *gp = a->tmp;
        float lim = (float)h;
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
        for (int r = 0; r < h; r++)
            a->cum[r + 1] = a->cum[r] + gp[r] / (float)g;
        lim_g[gi] = lim;
        nc[gi] = group_candidates(a->cum, h, sp, min_depth_mm / sp, lim, max_thick_mm, cands[gi]);
    }
    /* Dynamic programme: one candidate (or none) per group, continuity. */
    const float lam = 6.0f * sp;          /* grey per row of jump */
    float cost[MAX_GROUPS][CANDS + 1];
    int from[MAX_GROUPS][CANDS + 1];
    float maxs = 0;
    for (uint32_t gi = 0; gi < ng; gi++)
        for (int k = 0; k < nc[gi]; k++)
            maxs = fmaxf(maxs, cands[gi][k].score);
    if (maxs <= 0)
        return;
    const float skip = -0.25f * maxs; /* reward below which "no band here" wins */
    for (uint32_t gi = 0; gi < ng; gi++) {
        for (int k = 0; k <= nc[gi]; k++) {
            float own = k < nc[gi] ? -cands[gi][k].score : skip;
            if (k < nc[gi] && cands[gi][k].score < 0.3f * maxs)
                own = 1e9f;
            if (gi == 0) {
                cost[gi][k] = own;
                from[gi][k] = none;
                continue;
            }
            float best = 1e30f;
            int bj = 0;
            for (int j = 0; j <= nc[gi - 1]; j++) {
                float t = cost[gi - 1][j];
                if (k < nc[gi] && j < nc[gi - 1]) {
                    float jump = fabsf(cands[gi][k].c - cands[gi - 1][j].c);
                    t += lam * jump;
                    if (jump > 2.5f / sp)
                        t += 1e6f;
                }
                if (t < best) {
                    best = t;
                    bj = j;
                }
            }
            cost[gi][k] = best + own;
            from[gi][k] = bj;
        }
    }
    int k = 0;
    for (int j = 1; j <= nc[ng - 1]; j++)
        if (cost[ng - 1][j] < cost[ng - 1][k])
            k = j;
    int pick[MAX_GROUPS];
    for (int gi = (int)ng - 1; gi >= 0; gi--) {
        pick[gi] = k < nc[gi] ? k : -1;
        k = from[gi][k];
        if (k < 0)
            k = 0;
    }
    /* Per-strip borders around the chosen group candidate. */
    for (uint32_t s = 0; s < a->ns; s++) {
        uint32_t gi = s / g;
        if (gi >= ng)
            gi = ng - 1;
        if (pick[gi] < 0)
            continue;
        const cand *cd = &cands[gi][pick[gi]];
        const float *m = an_sm(a, s);
        float lim = limit_row && !isnan(limit_row[s]) ? limit_row[s] : (float)h - 1;
        (void)lim_g;
        float up = refine_edge(m, h, sp, cd->c - cd->hh, -1, lim);
        float dn = refine_edge(m, h, sp, cd->c + cd->hh, +1, lim);
        if (!isnan(up) && !isnan(dn) && dn - up > 0.5f / sp) {
            a->sup_row[s] = up;
            a->deep_row[s] = dn;
        }
    }
    uint32_t half = (uint32_t)lroundf(1.5f / (sp * (float)a->sw));
    an_smooth_strips(a->sup_row, a->sup_fit, a->ns, half < 1 ? 1 : half);
    an_smooth_strips(a->deep_row, a->deep_fit, a->ns, half < 1 ? 1 : half);
    for (uint32_t s = 0; s < a->ns; s++)
        if (isnan(a->sup_fit[s]) || isnan(a->deep_fit[s]))
            a->sup_fit[s] = a->deep_fit[s] = NAN;
}
