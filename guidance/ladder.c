/* Needle detection: the reverberation ladder under a shaft.
 *
 * The lumen of a needle rings: along every beam that crosses the shaft
 * there follow copies of its echo, equally spaced by the shaft's extent
 * along the beam (0.3-0.9 mm for 27-21 G), each weaker (the comet tail).
 * They are echoes that arrive late, not echoes from deeper tissue, so they
 * are drawn even inside a bone's acoustic shadow: an ankle needle that
 * comes out from under the tibia's cortex shows 2-4 mm of shaft and, under
 * it and under the part hidden in the cortex, a ladder of parallel rungs in
 * the black shadow. A cortex, a fascia band or a tendon has no such comb of
 * equally spaced copies parallel to itself: the ladder is evidence that only
 * a needle gives (refine.c asks it of short shafts and of shafts with a
 * shadow beneath them).
 *
 * Along each column (the beam of a linear probe; a steered beam moves the
 * copies sideways but keeps them equally spaced down a column) the image
 * under the line is read at 0..LAD_DEPTH_MM, aligned on the line, and
 * averaged over groups of columns LAD_GROUP_MM wide (independent speckle).
 * A comb of spacing s -- peaks at s, 2s, 3s... against the troughs half way
 * between -- is scored over the mean profile for every spacing, and the best
 * spacing's comb contrast is tested across the groups (a t statistic): a
 * ladder shows in every group, a chance periodicity of speckle or fibres
 * does not. */
#include "refine_internal.h"

#include <stdlib.h>
#include <string.h>

#define LAD_DEPTH_MM 5.0    /* how deep under the line (5 copies of 21 G at 10 deg) */
#define LAD_GROUP_MM 0.5    /* columns averaged together */
#define LAD_SMIN_MM 0.25    /* spacing searched: 27 G at 10 deg is 0.31 mm ... */
#define LAD_SMAX_MM 1.0     /* ... 21 G steered away from the shaft ~0.9 mm */
#define LAD_ABOVE_MM 1.6    /* read above the line: 1.5 of the widest spacing */
#define LAD_MAXK 160
#define LADDER_MIN_REL 0.25f
#define LADDER_MIN_RUNGS 5    /* copies in a row (fibres of a tendon give 3-4) */
#define LADDER_MAX_ABOVE 0.35f /* a copy above at a third of the comb: the line is a rung */
/* between the copies the image is at its black level (refine.c's "dark":
 * p1 + 0.1 of p1..p90): the ladder is read where it stands alone, in a
 * bone's shadow. Over tissue a steep shaft's comet tail, crossed by a flat
 * line, or a tendon's fibres make combs too (seed 7 cases 113, 175). */
#define LADDER_DARK 0.1f
#define LADDER_MIN_GROUPS 5   /* 2.5 mm of columns where the comb stands */
#define LAD_MAXG 48

static inline float at_k(const float *p, int n, double k)
{
    int i = (int)k;
    if (i < 0 || i >= n - 1)
        return i == n - 1 ? p[n - 1] : 0.0f;
    float t = (float)(k - i);
    return p[i] * (1.0f - t) + p[i + 1] * t;
}

/* Comb contrast of profile p (n samples) at spacing s (samples), over the
 * first jmax copies. */
static float comb(const float *p, int n, double s, int jmax)
{
    double c = 0.0;
    for (int j = 1; j <= jmax; j++)
        c += at_k(p, n, j * s) - 0.5 * (at_k(p, n, (j - 0.5) * s) + at_k(p, n, (j + 0.5) * s));
    return (float)(c / jmax);
}

bool ladder_under(const walker *w, int ua, int ub, ladder_info *out)
{
    memset(out, 0, sizeof *out);
    if (!w->shallow)
        return false;
    if (ua > ub) {
        int t = ua;
        ua = ub;
        ub = t;
    }
    if (ua < 0)
        ua = 0;
    if (ub > w->nu - 1)
        ub = w->nu - 1;
    int K = (int)ceil(LAD_DEPTH_MM / w->sp);
    if (K > LAD_MAXK - 1)
        K = LAD_MAXK - 1;
    int gw = iround(LAD_GROUP_MM / w->sp);
    if (gw < 2)
        gw = 2;
    float prof[LAD_MAXG][LAD_MAXK];
    int cnt[LAD_MAXG];
    int ng = (ub - ua) / gw + 1;
    if (ng > LAD_MAXG)
        ng = LAD_MAXG;
    memset(cnt, 0, sizeof cnt);
    for (int g = 0; g < ng; g++)
        memset(prof[g], 0, (size_t)(K + 1) * sizeof(float));
    /* above the line too (mean only): is the line itself a copy? */
    int KU = (int)ceil(LAD_ABOVE_MM / w->sp);
    if (KU > LAD_MAXK - 1)
        KU = LAD_MAXK - 1;
    float up[LAD_MAXK];
    memset(up, 0, sizeof up);
    int nup = 0;
    for (int u = ua; u <= ub; u++) {
        int g = (u - ua) / gw;
        if (g >= ng)
            break;
        double v = w->v0 + w->m * (u - w->u0);
        if (v < 0.0 || v + K >= w->nv - 2 || !valid_at(w, u, iround(v)) ||
            !valid_at(w, u, iround(v + K)))
            continue;
        for (int k = 0; k <= K; k++)
            prof[g][k] += pix_v(w, u, v + k);
        cnt[g]++;
        if (v - KU >= 0.0 && valid_at(w, u, iround(v - KU))) {
            for (int k = 0; k <= KU; k++)
                up[k] += pix_v(w, u, v - k);
            nup++;
        }
    }
    float mean[LAD_MAXK];
    memset(mean, 0, sizeof mean);
    int good = 0;
    for (int g = 0; g < ng; g++) {
        if (2 * cnt[g] < gw) {
            cnt[g] = 0;
            continue;
        }
        for (int k = 0; k <= K; k++) {
            prof[g][k] /= (float)cnt[g];
            mean[k] += prof[g][k];
        }
        good++;
    }
    if (good < 4)
        return false;
    for (int k = 0; k <= K; k++)
        mean[k] /= (float)good;
    /* best spacing on the mean profile */
    double smin = LAD_SMIN_MM / w->sp, smax = LAD_SMAX_MM / w->sp;
    double best_s = 0.0;
    float best_c = 0.0f;
    for (double s = smin; s <= smax; s += 0.25) {
        int jmax = (int)((K - 0.5 * s) / s);
        if (jmax > 6)
            jmax = 6;
        if (jmax < 3)
            continue;
        float c = comb(mean, K + 1, s, jmax);
        if (c > best_c) {
            best_c = c;
            best_s = s;
        }
    }
    if (best_s <= 0.0)
        return false;
    int jmax = (int)((K - 0.5 * best_s) / best_s);
    if (jmax > 6)
        jmax = 6;
    /* the same comb in each group: mean over its spread, and the groups
     * where it stands at half its mean strength or more */
    double sum = 0.0, ss = 0.0;
    int strong = 0;
    for (int g = 0; g < ng; g++) {
        if (!cnt[g])
            continue;
        float c = comb(prof[g], K + 1, best_s, jmax);
        sum += c;
        ss += (double)c * c;
        strong += c >= 0.5f * best_c;
    }
    double mu = sum / good, var = (ss - good * mu * mu) / (good - 1);
    double se = sqrt(fmax(var, 1e-6) / good);
    /* rungs: copies brighter than both troughs beside them */
    int rungs = 0;
    for (int j = 1; j <= jmax; j++) {
        float pk = at_k(mean, K + 1, j * best_s);
        float t1 = at_k(mean, K + 1, (j - 0.5) * best_s), t2 = at_k(mean, K + 1, (j + 0.5) * best_s);
        if (pk > t1 && pk > t2)
            rungs++;
        else
            break;
    }
    /* a copy one spacing above the line, as strong as the comb: the line
     * is a rung of the ladder, not the shaft on top of it */
    out->above = 0.0f;
    if (nup * 2 >= good * gw / 2 && 1.5 * best_s <= KU) {
        for (int k = 0; k <= KU; k++)
            up[k] /= (float)nup;
        float c_up = at_k(up, KU + 1, best_s) -
                     0.5f * (at_k(up, KU + 1, 0.5 * best_s) + at_k(up, KU + 1, 1.5 * best_s));
        out->above = c_up / best_c;
    }
    /* the level between the copies: black in a bone's shadow */
    double tr = 0.0;
    for (int j = 1; j <= jmax; j++)
        tr += at_k(mean, K + 1, (j + 0.5) * best_s);
    out->trough = (float)(tr / jmax);
    out->t = (float)(mu / se);
    out->contrast = best_c;
    out->spacing_mm = (float)(best_s * w->sp);
    out->rungs = rungs;
    out->groups = good;
    out->copies = jmax;
    out->strong = strong;
    return true;
}

bool ladder_holds(const ladder_info *li, const image_stats *st)
{
    float span = fmaxf(st->p90 - st->median, 1.0f);
    float dark = st->p1 + LADDER_DARK * (st->p90 - st->p1);
    return li->rungs >= LADDER_MIN_RUNGS && li->rungs == li->copies &&
           li->strong >= LADDER_MIN_GROUPS && li->contrast >= LADDER_MIN_REL * span &&
           li->above < LADDER_MAX_ABOVE && li->trough <= dark;
}

/* The ladder under the line at angle a (radians) through (u0, v0) (pixels),
 * read from there back LADDER_BEHIND_MM towards the insertion side (the
 * part of a shaft hidden in a cortex), and whether it is a needle's. */
static bool ladder_behind(const tl_bmode *img, const image_stats *st, double a, double u0,
                          double v0, int side, ladder_info *li)
{
    walker w = { .img = img, .shallow = true, .nu = (int)img->width, .nv = (int)img->height,
                 .m = tan(a), .u0 = u0, .v0 = v0, .sp = img->spacing_mm };
    w.cosb = 1.0 / sqrt(1.0 + w.m * w.m);
    int back = iround(LADDER_BEHIND_MM * cos(a) / img->spacing_mm);
    return ladder_under(&w, iround(u0) - side * back, iround(u0), li) && ladder_holds(li, st);
}

/* Full-resolution bilinear sample of the image; false outside it or the
 * scanned area. */
static bool img_at(const tl_bmode *im, double x, double z, float *out)
{
    if (x < 0.0 || z < 0.0 || x > im->width - 1.001 || z > im->height - 1.001)
        return false;
    int i = (int)x, j = (int)z;
    if (im->valid && !im->valid[(size_t)j * im->width + (size_t)i])
        return false;
    const uint8_t *p = im->pixels + (size_t)j * im->stride + (size_t)i;
    float fx = (float)(x - i), fz = (float)(z - j);
    *out = ((float)p[0] * (1 - fx) + (float)p[1] * fx) * (1 - fz) +
           ((float)p[im->stride] * (1 - fx) + (float)p[im->stride + 1] * fx) * fz;
    return true;
}

#define LAD_ANGLE_MARGIN 3.0 /* degrees searched beyond the needle angles */
#define RUNG_MM 1.5        /* how far along each rung the streak's profile reads */
#define STREAK_MAX 256

/* Profile down the streak (from (x0, z0), unit step (sx, sz), n points) of
 * the mean echo along the rungs at angle a (radians; going back towards the
 * insertion side); its spread is how well the angle lines up with the rungs. */
static float rung_profile(const tl_bmode *im, double x0, double z0, double sx, double sz, int n,
                          double a, int side, float *prof)
{
    double bx = -side * cos(a), bz = -sin(a); /* back along the shaft: shallower */
    double sp = im->spacing_mm;
    int m = (int)(RUNG_MM / sp / 2.0);
    double s1 = 0.0, s2 = 0.0;
    int np = 0;
    for (int k = 0; k < n; k++) {
        double px = x0 + k * sx, pz = z0 + k * sz, sum = 0.0;
        int c = 0;
        for (int q = 1; q <= m; q++) {
            float v;
            if (img_at(im, px + 2.0 * q * bx, pz + 2.0 * q * bz, &v)) {
                sum += v;
                c++;
            }
        }
        prof[k] = c > m / 2 ? (float)(sum / c) : -1.0f;
        if (prof[k] >= 0.0f) {
            s1 += prof[k];
            s2 += (double)prof[k] * prof[k];
            np++;
        }
    }
    if (np < 8)
        return 0.0f;
    double mu = s1 / np;
    return (float)sqrt(fmax(s2 / np - mu * mu, 0.0));
}

bool needle_ladder_shaft(const tl_bmode *img, const image_stats *st, int side,
                         const tl_needle_detection *streak, float min_deg, float max_deg,
                         needle_line *out)
{
    double sp = img->spacing_mm;
    /* the streak's shallow end is the shaft's tip (its bevel), its run goes
     * down the beam through the copies' ends */
    double x0 = streak->entry_x_mm / sp, z0 = streak->entry_z_mm / sp;
    double x1 = streak->tip_x_mm / sp, z1 = streak->tip_z_mm / sp;
    if (z1 < z0) {
        double t = x0; x0 = x1; x1 = t;
        t = z0; z0 = z1; z1 = t;
    }
    double len = hypot(x1 - x0, z1 - z0);
    if (len < 4.0)
        return false;
    double sx = (x1 - x0) / len, sz = (z1 - z0) / len;
    /* from a little above the run's top (the tip may lie just above it) */
    x0 -= sx * (0.3 / sp);
    z0 -= sz * (0.3 / sp);
    int n = (int)(len + 0.3 / sp);
    if (n > STREAK_MAX)
        n = STREAK_MAX;
    /* a beam steered towards the insertion side leans away from it: the
     * needle comes from the side the streak's deep end points away from */
    if (side == 0)
        side = x1 < x0 ? 1 : -1;
    float prof[STREAK_MAX];
    float best = 0.0f;
    double ba = 0.0;
    /* the rungs' angle, searched LAD_ANGLE_MARGIN beyond the needle angles:
     * rungs whose best angle lies outside them are no needle's (the copies
     * of a steep shaft crossed at a flat angle peak at the search's edge) */
    double lo = min_deg - LAD_ANGLE_MARGIN, hi = max_deg + LAD_ANGLE_MARGIN;
    for (double deg = lo; deg <= hi + 1e-9; deg += 1.0) {
        float v = rung_profile(img, x0, z0, sx, sz, n, deg * TL_DEG, side, prof);
        if (v > best) {
            best = v;
            ba = deg;
        }
    }
    if (!(best > 0.0f))
        return false;
    double a0 = ba;
    for (double deg = a0 - 0.75; deg <= a0 + 0.76; deg += 0.25) {
        if (deg < lo || deg > hi)
            continue;
        float v = rung_profile(img, x0, z0, sx, sz, n, deg * TL_DEG, side, prof);
        if (v > best) {
            best = v;
            ba = deg;
        }
    }
    if (ba < min_deg - 0.5 || ba > max_deg + 0.5)
        return false;
    rung_profile(img, x0, z0, sx, sz, n, ba * TL_DEG, side, prof);
    /* The shaft: going down the streak from its top, a line at the rungs'
     * angle with the ladder beneath it and no copy above it (ladder_holds;
     * a rung has the shaft above it), at its strongest comb. The comb
     * cannot tell the shaft from the line one spacing above it (the shaft
     * is then its first "copy"; above lies tissue or the cortex band): the
     * first place it holds is that line when it holds again one spacing
     * further down (seen on every case of seeds 11 and 7 read: the second
     * place within 0.1 mm of the true shaft). */
    double a = side * ba * TL_DEG;
    int lim = (int)(2.5 / sp), kk = -1;
    float kc = 0.0f, ks = 0.0f;
    for (int pass = 0; pass < 2; pass++) {
        int k0 = 0, k1 = lim < n - 1 ? lim : n - 1, best = -1;
        if (pass == 1) {
            if (kk < 0)
                break;
            k0 = kk + (int)(0.7 * ks / sp);
            k1 = kk + (int)ceil(1.3 * ks / sp);
            if (k1 > n - 1)
                k1 = n - 1;
            kc = 0.0f;
        }
        for (int k = k0; k <= k1; k++) {
            ladder_info li;
            bool ok = ladder_behind(img, st, a, x0 + k * sx, z0 + k * sz, side, &li);
            if (ok && li.contrast > kc) {
                kc = li.contrast;
                ks = li.spacing_mm;
                best = k;
            } else if (best >= 0) {
                break;
            }
        }
        if (best >= 0)
            kk = best;
    }
    if (kk < 0)
        return false;
    out->px = x0 + kk * sx;
    out->pz = z0 + kk * sz;
    out->a = a;
    out->votes = 0.0f;
    return true;
}

/* A streak needs to be this new (robust sigmas of the difference) to be
 * read as a ladder's ends: needle-free frames' candidates reach ~1.9
 * (novelty.c); the ends under an advancing needle 6-56. */
#define STREAK_NOV 4.0f
#define STREAK_MIN_DEG 64.0f
/* a needle seen by its ladder alone (its shaft hidden in a cortex echo) */
#define LADDER_ONLY_CONF 0.75f

bool ladder_try(const tl_needle_detector *d, const tl_bmode *img, const image_stats *st,
                float work_mm, const tl_needle_detection *streak, float nov, scratch *prof,
                tl_needle_detection *out, float *rank)
{
    if (!d->temporal || nov < STREAK_NOV || fabsf(streak->angle_deg) < STREAK_MIN_DEG ||
        streak->length_mm <= 0.0f)
        return false;
    needle_line c;
    if (!needle_ladder_shaft(img, st, d->p.side, streak, d->p.min_angle_deg, LADDER_MAX_DEG, &c))
        return false;
    float geo;
    needle_refine(&d->p, img, st, &c, prof, out, &geo);
    novelty_gate(d, img, work_mm, false, geo, out, rank);
    time_trace(d, img, work_mm, false, &c, out, rank);
    if (out->confidence >= d->p.min_confidence)
        return true;
    /* The shaft hidden in the cortex's echo (not brighter than the cortex
     * beside it: "no bright run along the line"), or too faint beside it:
     * the row of new echo and a ladder under the line through its top are
     * the needle, its tip at the top of the row. */
    double a = c.a, sp = img->spacing_mm;
    int side = a > 0.0 ? 1 : -1;
    ladder_info li;
    if (!ladder_behind(img, st, a, c.px, c.pz, side, &li))
        return true;
    double len = fmin(fmax(li.strong * LAD_GROUP_MM, LADDER_MIN_LEN_MM), LADDER_BEHIND_MM);
    memset(out, 0, sizeof *out);
    out->tip_x_mm = (float)(c.px * sp);
    out->tip_z_mm = (float)(c.pz * sp);
    out->entry_x_mm = (float)((c.px - side * len / sp * cos(a)) * sp);
    out->entry_z_mm = (float)((c.pz - len / sp * fabs(sin(a))) * sp);
    out->angle_deg = (float)(a / TL_DEG);
    out->length_mm = (float)len;
    out->contrast = 0.0f;
    out->confidence = LADDER_ONLY_CONF;
    out->reason = "ok";
    /* above lines that stand on time alone, below a shaft the image traced */
    *rank = 1.995f;
    return true;
}
