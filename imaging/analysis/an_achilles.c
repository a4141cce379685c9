/* The Achilles tendon seen through a tilted probe. Tilting the probe turns
 * the tendon in the image by the tilt angle (a linear probe's beams are
 * vertical: a band that slopes in the image is not perpendicular to them),
 * its fibres' specular echoes fade and the band becomes plain speckle, while
 * the fat above and below it (subcutis, Kager's fat pad) keeps its bright,
 * curved septa at any angle. A free border search then follows septa, or
 * takes the tendon's deep border for the superficial one and the Kager/muscle
 * boundary for the deep one (a band of fat measured 8-12 mm for a 2-4 mm
 * tendon).
 *
 * What still holds: in long axis the tendon is straight across the view (its
 * thickness changes by ~15 % over 20 mm), so its two borders are two parallel
 * straight lines at the tilt angle; averaged along that angle over the whole
 * view their weak echoes add up, the septa average out, and what lies between
 * them is the smoothest layer in the image. an_ach_straight() finds that pair
 * of lines (angle and two offsets) in the interface map; the borders are then
 * searched again within a narrow corridor about each line.
 *
 * Seen square on, the free search stands; an_ach_deep_dip() bridges its deep
 * border where it dipped onto a septum of Kager's fat for a few mm. */
#include "an_internal.h"

#include <string.h>

/* Angles searched (half degrees either way) and rows projected. */
#define ACH_MAX_HALFDEG 40
#define ACH_NU 400
/* Half degrees either side of the deep line's angle judged by both
 * borders. */
#define ACH_REFINE_HALFDEG 8
/* Weight of the superficial border's texture step against the deep
 * border's score when the angle is chosen. */
#define ACH_TOP_WEIGHT 4.0f

/* Texture energy per strip on the band grid (the measure of an_texture:
 * vertical + lateral grey differences), rows [0, nu) into E (ns x nu), and
 * each strip's rows with image, [lo[s], hi[s]) (0 elsewhere in E). Rows
 * outside the scanned area (raw profile NAN) have no texture: the smoothed
 * profiles read 0 there (an_box2 sums NAN as 0), and the black margin
 * beside a narrow image passed for the smoothest tissue in view, so the
 * fitted lines and the thickest-part site ran into it (seed 2027 case 286
 * of `talus eval tissue --anatomy achilles --cases 300`: site 0.8 mm, the
 * image starts at 7.7). */
static void texture_map(tl_analyzer *a, float *E, int nu, int *lo, int *hi)
{
    const int h = (int)a->h, q = (int)a->band_q, ns = (int)a->ns;
    const int dz = (int)fmaxf(1.0f, 0.25f / a->sp);
    for (int s = 0; s < ns; s++) {
        const float *m = an_sm(a, (uint32_t)s), *ml = an_sm(a, s > 0 ? (uint32_t)s - 1 : 0),
                    *mr = an_sm(a, s + 1 < ns ? (uint32_t)s + 1 : (uint32_t)s);
        const float *raw = an_prof(a, (uint32_t)s);
        float *e = E + (size_t)s * (size_t)nu;
        lo[s] = nu;
        hi[s] = 0;
        for (int k = 0; k < nu; k++) {
            float acc = 0;
            int n = 0;
            for (int r = k * q; r < (k + 1) * q && r < h; r++) {
                if (r < dz || r >= h - dz || isnan(raw[r]))
                    continue;
                float g = fabsf(m[r + dz] - m[r - dz]) + fabsf(mr[r] - ml[r]);
                if (!isnan(g)) {
                    acc += g;
                    n++;
                }
            }
            e[k] = n ? acc / (float)n : 0.0f;
            if (n) {
                lo[s] = k < lo[s] ? k : lo[s];
                hi[s] = k + 1;
            }
        }
    }
}

typedef struct {
    float P[ACH_NU];          /* interface strength along the lines */
    double C[ACH_NU + 1];     /* prefix sums of the texture along them */
    int N[ACH_NU + 1];        /* and of its valid rows */
    int nu;
} ach_proj;

/* Means of the interface map (band_is, ns x nr) and the texture map (E,
 * ns x nu, rows [elo, ehi) valid) along lines of angle t (half degrees)
 * through grid row u at strip sc, u in [0, nu), over every `every`-th strip
 * of [s0, s1]. A row counts where a quarter of the strips have it. The
 * inner loops are plain sums (vectorised); the counts go by difference. */
static void proj_at(const tl_analyzer *a, const float *E, const int *elo, const int *ehi, int t,
                    int sc, int s0, int s1, int every, ach_proj *pr)
{
    const int nr = a->band_nr, nu = pr->nu;
    const float per_strip = tanf(0.5f * (float)t * (float)M_PI / 180.0f) * (float)a->sw /
                            (float)a->band_q;
    float T[ACH_NU];
    int cp[ACH_NU + 1], ct[ACH_NU + 1];
    for (int u = 0; u < nu; u++)
        pr->P[u] = T[u] = 0;
    for (int u = 0; u <= nu; u++)
        cp[u] = ct[u] = 0;
    int used = 0;
    for (int s = s0; s <= s1; s += every) {
        const float *is = a->band_is + (size_t)s * (size_t)nr, *e = E + (size_t)s * (size_t)nu;
        const int sh = (int)lroundf(per_strip * (float)(s - sc));
        int ulo = -sh < 0 ? 0 : -sh, uhi = nu - sh > nu ? nu : nu - sh;   /* u + sh in [0, nu) */
        used++;
        if (uhi <= ulo)
            continue;
        const float *isp = is + sh, *ep = e + sh;
        float *P = pr->P;
        for (int u = ulo; u < uhi; u++)
            P[u] += isp[u];
        cp[ulo]++;
        cp[uhi]--;
        int vlo = elo[s] - sh > ulo ? elo[s] - sh : ulo, vhi = ehi[s] - sh < uhi ? ehi[s] - sh : uhi;
        if (vhi <= vlo)
            continue;
        for (int u = vlo; u < vhi; u++)
            T[u] += ep[u];
        ct[vlo]++;
        ct[vhi]--;
    }
    const int need = (used + 3) / 4;
    int np = 0, nt = 0;
    pr->C[0] = 0;
    pr->N[0] = 0;
    for (int u = 0; u < nu; u++) {
        np += cp[u];
        nt += ct[u];
        pr->P[u] = np >= need && np > 0 ? pr->P[u] / (float)np : NAN;
        bool ok = nt >= need && nt > 0;
        pr->C[u + 1] = pr->C[u] + (ok ? T[u] / (float)nt : 0.0);
        pr->N[u + 1] = pr->N[u] + ok;
    }
}

/* Mean texture over projected rows [i0, i1), NAN when under half are valid. */
static float range_mean(const ach_proj *pr, int i0, int i1)
{
    if (i0 < 0)
        i0 = 0;
    if (i1 > pr->nu)
        i1 = pr->nu;
    if (i1 <= i0 || pr->N[i1] - pr->N[i0] < (i1 - i0 + 1) / 2)
        return NAN;
    return (float)((pr->C[i1] - pr->C[i0]) / (pr->N[i1] - pr->N[i0]));
}

typedef struct {
    float score;
    int t, u1, u2;
} ach_pair;

/* The deep border: a straight line with smooth tissue (the fibre-less
 * tendon) above and rough tissue (Kager's fat, the calcaneus) below; its
 * echo (the interface strength along it, ~1 for speckle, up to 8) and that
 * texture step (log ratio) both count. */
static void deep_at(const ach_proj *pr, int t, int lo, int hi, int m, int w, ach_pair *best)
{
    for (int u = lo < 0 ? 0 : lo; u <= hi && u + w + 1 < pr->nu; u++) {
        float up = range_mean(pr, u - w, u - m);
        float dn = range_mean(pr, u + m + 1, u + w + 1);
        if (isnan(up) || isnan(dn) || !(up > 0) || isnan(pr->P[u]))
            continue;
        float sc = pr->P[u] + 2.0f * logf(dn / up);
        if (sc > best->score) {
            best->score = sc;
            best->t = t;
            best->u2 = u;
        }
    }
}

/* Weight of the superficial border's echo (interface strength along the
 * line, ~0.3-0.6 inside the layers) against its texture step. Under a
 * 10-15 deg tilt the interface echo is weak (P ~1) but it runs along the
 * whole line, while the texture step alone sits 0.3-0.6 mm under it: the
 * texture measure takes grey differences 0.25 mm either side, so the echo
 * line itself reads as rough tissue and the smooth layer starts below it.
 * At 0.05 the step decided alone (top 0.5 mm deep in half of the tilted
 * tendons of seed 2026 over 0.35 mm); at 0.4 the echo, where there is one,
 * sets the line (the echo peaks ~0.1 mm above the interface). */
#define ACH_TOP_ECHO 0.4f
/* Weight of the penalty on a superficial border with rough tissue right
 * under it (log ratio of the mean texture over the 1.2 mm under the line,
 * the width of the window above it, to that of the tendon below it, where
 * it is over 1: see top_of). A tilted tendon's top is often met by a line parallel to it
 * 0.5-1.3 mm up in the fat (an echo, or the fat's own texture step): the
 * mean over a 4-7 mm layer hardly notices the strip of rough fat it then
 * takes in, the echo there is stronger than the tendon's own, and the top
 * read 0.5-1.3 mm shallow (18 of the 37 Achilles cases over 0.35 mm among
 * the tilted scenes of seeds 2027, 2028, 2031, 3000 and 3001 of `talus
 * eval tissue --anatomy achilles --cases 300`; 2027 all scenes). The
 * smooth tendon starts right under its top. 0.3-0.6 gave 28-31 of those
 * cases over 0.35 mm, 37 without; 1.0 35, 2.0 78 (the echo line's own
 * roughness just under a true top then counts against it). */
#define ACH_TOP_LOCAL 0.5f

/* The superficial border above the deep one at u2, between rows lo and
 * hi: where the rough fat above gives way to the smooth layer that runs
 * down to the deep border (the log ratio of the two sides' mean texture),
 * and the interface's echo there; less where the tissue right under it is
 * rougher than the layer's mean (ACH_TOP_LOCAL). */
static void top_of(const ach_proj *pr, int u2, int lo, int hi, int m, int w, ach_pair *best)
{
    for (int u1 = lo < 0 ? 0 : lo; u1 <= hi; u1++) {
        float up = range_mean(pr, u1 - w, u1 - m);
        float in = range_mean(pr, u1 + m, u2 - m + 1);
        if (isnan(up) || isnan(in) || !(in > 0))
            continue;
        float sc = logf(up / in) + ACH_TOP_ECHO * (isnan(pr->P[u1]) ? 0.0f : pr->P[u1]);
        float under = range_mean(pr, u1 + m, u1 + m + w);
        /* the tendon's own texture: not the layer's mean where a smooth
         * lesion lowers it (the true top, with plain tendon under it, was
         * penalised and a line above the lesion inside the tendon won: seed
         * 3003 case 64, 6.96 mm read 4.31), but the second roughest of the
         * 1.2 mm windows below the one under the line, when that is more
         * (the roughest alone is a noise peak: 2 thick tendons' tops then
         * ran 0.3 mm up) */
        float ref = in, r1 = -1, r2 = -1;
        for (int v = u1 + m + w; v + w <= u2 - m - w / 2; v += (w + 1) / 2) {
            float t = range_mean(pr, v, v + w);
            if (isnan(t))
                continue;
            if (t > r1) {
                r2 = r1;
                r1 = t;
            } else if (t > r2)
                r2 = t;
        }
        if (r2 > ref)
            ref = r2;
        if (under > ref)
            sc -= ACH_TOP_LOCAL * logf(under / ref);
        if (sc > best->score) {
            best->score = sc;
            best->u1 = u1;
        }
    }
}

bool an_ach_straight(tl_analyzer *a, float min_depth_mm, float top_max_mm, float max_thick_mm,
                     float *theta_deg, float *top_row, float *deep_row)
{
    const int nr = a->band_nr, q = (int)a->band_q, ns = (int)a->ns;
    const float sp = a->sp;
    const int kmin = (int)(min_depth_mm / sp / (float)q), kmax = (int)(top_max_mm / sp / (float)q);
    const int g0 = (int)(1.2f / sp / (float)q), g1 = (int)(max_thick_mm / sp / (float)q);
    const int m = (int)lroundf(0.25f / sp / (float)q), w = (int)lroundf(1.2f / sp / (float)q);
    ach_proj pr;
    pr.nu = kmax + g1 + w + 2;
    if (pr.nu > nr)
        pr.nu = nr;
    if (pr.nu > ACH_NU || pr.nu <= kmin + g0 + w)
        return false;
    /* the second half of band_cost is free (best_path uses 2 rows of nr) */
    float *E = a->band_cost + (size_t)ns * (size_t)nr;
    int elo[AN_MAX_STRIPS], ehi[AN_MAX_STRIPS];
    texture_map(a, E, pr.nu, elo, ehi);
    int s0 = -1, s1 = -1;
    for (int s = 0; s < ns; s++)
        if (elo[s] <= kmin + g0 && ehi[s] > kmin + g0) {
            s0 = s0 < 0 ? s : s0;
            s1 = s;
        }
    if (s0 < 0 || (float)(s1 - s0) * (float)a->sw * sp < 10.0f)
        return false;
    const int sc = (s0 + s1) / 2;
    /* The angle and the deep line: whole degrees on every other strip. */
    ach_pair best = { -INFINITY, 0, 0, 0 };
    for (int t = -ACH_MAX_HALFDEG; t <= ACH_MAX_HALFDEG; t += 2) {
        proj_at(a, E, elo, ehi, t, sc, s0, s1, 2, &pr);
        deep_at(&pr, t, kmin + g0, kmax + g1, m, w, &best);
    }
    if (!isfinite(best.score))
        return false;
    /* Then the half degrees within 4 deg of it on every strip, judged by
     * both borders: the deep one also follows the thickness (a thick
     * tendon's deep border bulges ~1 mm at its thickest), the superficial
     * one is straight, and its texture step is sharpest at the true angle.
     * A thick tendon's bulging deep border alone can be 2-4 deg off (within
     * 2 deg the top was then fitted at the wrong angle: seed 2026 cases 88,
     * 158, 165 and 293, 7-8 mm at 4-6 deg, top up to 1 mm too shallow at
     * one end; seed 2027 cases 71, 199 and 270). */
    const int tc = best.t;
    ach_pair top = { -INFINITY, tc, 0, 0 };
    float total = -INFINITY;
    for (int t = tc - ACH_REFINE_HALFDEG; t <= tc + ACH_REFINE_HALFDEG; t++) {
        if (t < -ACH_MAX_HALFDEG || t > ACH_MAX_HALFDEG)
            continue;
        ach_pair d = { -INFINITY, t, 0, 0 }, tp = { -INFINITY, t, 0, 0 };
        proj_at(a, E, elo, ehi, t, sc, s0, s1, 1, &pr);
        deep_at(&pr, t, kmin + g0, kmax + g1, m, w, &d);
        if (!isfinite(d.score))
            continue;
        tp.u2 = d.u2;
        top_of(&pr, d.u2, d.u2 - g1 < kmin ? kmin : d.u2 - g1, d.u2 - g0, m, w, &tp);
        if (!isfinite(tp.score))
            continue;
        float sc_ = d.score + ACH_TOP_WEIGHT * tp.score;
        if (sc_ > total) {
            total = sc_;
            best = d;
            top = tp;
        }
    }
    if (!isfinite(total))
        return false;
    /* The tendon is straight but not of one thickness (thickest at the
     * midportion, spindle-shaped when swollen): the deep border, the strong
     * one, is placed again within +/-1.0 mm of its line over 10 mm windows
     * every 2 mm, at the same angle (a 7-8 mm tendon's deep border bulges
     * 1.0-1.2 mm at its thickest, 0.5-0.6 mm off the line fitted through
     * the whole view: +/-0.6 mm left it 0.2-0.35 mm short there); the weak
     * superficial border stays one line over the whole view (a local
     * texture step is too noisy to follow a change of a few tenths of a
     * mm). */
    const float deg = 0.5f * (float)best.t;
    const float ps = tanf(deg * (float)M_PI / 180.0f) * (float)a->sw / (float)q;
    const int half = (int)lroundf(5.0f / (sp * (float)a->sw)), step = (int)lroundf(2.0f / (sp * (float)a->sw));
    const int dw = (int)lroundf(1.0f / sp / (float)q);
    float wc[AN_MAX_STRIPS], w2[AN_MAX_STRIPS];
    int nwin = 0;
    for (int c = s0 + half; c + half <= s1 && step > 0; c += step) {
        int g2c = (int)lroundf((float)best.u2 + ps * (float)(c - sc));
        ach_pair loc = { -INFINITY, best.t, 0, 0 };
        proj_at(a, E, elo, ehi, best.t, c, c - half, c + half, 1, &pr);
        deep_at(&pr, best.t, g2c - dw, g2c + dw, m, w, &loc);
        if (!isfinite(loc.score))
            continue;
        wc[nwin] = (float)c;
        w2[nwin] = (float)(loc.u2 - g2c);
        nwin++;
    }
    *theta_deg = deg;
    for (int s = 0; s < ns; s++) {
        float o2 = 0;
        if (nwin > 0) {
            int i = 0;
            while (i + 1 < nwin && wc[i + 1] < (float)s)
                i++;
            float f = i + 1 < nwin ? ((float)s - wc[i]) / (wc[i + 1] - wc[i]) : 0.0f;
            f = f < 0 ? 0 : f > 1 ? 1 : f;
            o2 = i + 1 < nwin ? w2[i] + f * (w2[i + 1] - w2[i]) : w2[i];
        }
        float d = ps * (float)(s - sc);
        top_row[s] = ((float)top.u1 + d) * (float)q;
        deep_row[s] = ((float)best.u2 + o2 + d) * (float)q;
        /* only where the strip has image down to the deep border */
        if (s < s0 || s > s1 || deep_row[s] >= (float)(ehi[s] * q))
            top_row[s] = deep_row[s] = NAN;
    }
    return true;
}

/* Fibrillar coherence (an_band_coherence) under which the band the free
 * search found has no fibre echoes: a tilted tendon, or fat taken for it
 * (0.0-0.51 on the tilted cases of seed 2026; a tendon seen square on
 * reads 0.59-0.8 there). */
#define ACH_FIBRELESS 0.55f
/* A straight band turned less than this (deg) is not a tilted tendon: the
 * free search stands. */
#define ACH_MIN_TILT_DEG 3.0f

bool an_ach_tilted(tl_analyzer *a, tl_analysis_result *r, float min_depth_mm, float top_max_mm,
                   float max_thick_mm, float *line_top)
{
    float coh = an_band_coherence(a, a->sup_fit, a->deep_fit, an_strip_x(a, a->ns / 2), 8.0f);
    if (!(coh < ACH_FIBRELESS))
        return false;
    float deg, top[AN_MAX_STRIPS], deep[AN_MAX_STRIPS];
    if (!an_ach_straight(a, min_depth_mm, top_max_mm, max_thick_mm, &deg, top, deep) ||
        !(fabsf(deg) >= ACH_MIN_TILT_DEG))
        return false;
    const float dermis = min_depth_mm / a->sp;
    uint32_t n = 0;
    for (uint32_t s = 0; s < a->ns; s++) {
        /* where the line runs into the dermis, the dermis is the tendon's
         * top (the tilt takes the tendon up to the skin on one side) */
        /* on the calcaneus the deep border is the top of its echo, as for
         * the free search (which reaches 0.1 mm into it): the insertion
         * view and site are read from the bone just under the band */
        if (!isnan(a->bone_row[s]) && deep[s] > a->bone_row[s] + 0.1f / a->sp)
            deep[s] = a->bone_row[s] + 0.1f / a->sp;
        bool ok = !isnan(deep[s]) && deep[s] - dermis > 1.0f / a->sp;
        a->sup_fit[s] = ok ? an_maxf(top[s], dermis) : NAN;
        line_top[s] = ok ? top[s] : NAN;   /* unclipped, for the insertion's thickness */
        a->deep_fit[s] = ok ? deep[s] : NAN;
        a->sup_row[s] = a->deep_row[s] = NAN;   /* no per-strip scatter: fitted lines */
        n += ok;
    }
    int nw = r->n_warnings;
    an_band_measure(a, r);
    r->n_warnings = nw;
    an_warn(r, "no fibre echoes in the tendon (probe tilted %.0f deg?): borders fitted as "
            "straight lines", (double)deg);
    return n > 0;
}

/* The free search's deep border under a tendon seen square on can leave
 * it for a septum of Kager's fat pad for a stretch of a few mm and come
 * back: a dip of 0.7-0.9 mm over 5-8 mm (seed 2032 cases 10 and 46 of
 * `talus eval tissue --anatomy achilles --cases 300`: 7.33 mm read 8.11,
 * 2.46 read 3.22), where the thickest-part site then goes. The tendon's
 * own thickness changes smoothly (by ~15 % over 20 mm at a swelling): over
 * a chord of +/-ACH_DIP_FLANK_MM the border stands off by ~0.2 mm at most.
 * A border over ACH_DIP_MM below the chord between its flanks, over tissue
 * darker than the tendon above it by ACH_DIP_DARK_DB (fat: dark with
 * bright septa; a swollen tendon keeps its level), is bridged along the
 * chord, where the border carries on along it for ACH_DIP_FLANK_MM / 2
 * past both flanks (within ACH_DIP_COURSE_MM). Not on bone (the insertion
 * has its own course) and not at the view's ends (ach_stretch's). */
#define ACH_DIP_FLANK_MM 5.0f
#define ACH_DIP_MM 0.45f
#define ACH_DIP_DARK_DB 2.0f
#define ACH_DIP_COURSE_MM 0.3f
#define ACH_DIP_THICK_MM 1.0f
bool an_ach_deep_dip(tl_analyzer *a)
{
    const int ns = (int)a->ns;
    const float sp = a->sp;
    const int fl = (int)lroundf(ACH_DIP_FLANK_MM / (sp * (float)a->sw));
    float *d = a->deep_fit;
    /* the deepest stand-off below the chord */
    int p = -1;
    float best = ACH_DIP_MM / sp;
    for (int s = fl; s + fl < ns; s++) {
        if (isnan(d[s]) || isnan(d[s - fl]) || isnan(d[s + fl]))
            continue;
        float off = d[s] - 0.5f * (d[s - fl] + d[s + fl]);
        if (off > best) {
            best = off;
            p = s;
        }
    }
    if (p < 0)
        return false;
    const int a0 = p - fl, a1 = p + fl;
    /* the bridge runs with the tendon: its thickness at the two flanks
     * within ACH_DIP_THICK_MM (a swelling's flank changes it by up to 0.75
     * mm over 10 mm; a flank on a septum stretch at the view's end, 1.6 mm
     * in test_analysis_achilles' edge-step scene, makes a chord across the
     * step ach_stretch looks for) */
    if (isnan(a->sup_fit[a0]) || isnan(a->sup_fit[a1]) ||
        fabsf((d[a1] - a->sup_fit[a1]) - (d[a0] - a->sup_fit[a0])) * sp > ACH_DIP_THICK_MM)
        return false;
    /* the border carries on along the chord past both flanks: a dip, not a
     * ramp onto a septum towards the view's end (seed 2031 case 208, whose
     * end stretch ach_stretch then no longer saw) */
    const int past[2] = { a0 - fl / 2, a1 + fl / 2 };
    for (int i = 0; i < 2; i++) {
        int s = past[i];
        if (s < 0 || s >= ns || isnan(d[s]) ||
            fabsf(d[s] - (d[a0] + (d[a1] - d[a0]) * (float)(s - a0) / (float)(a1 - a0))) * sp >
                ACH_DIP_COURSE_MM)
            return false;
    }
    double dip = 0, tendon = 0;
    int n = 0;
    for (int s = a0 + 1; s < a1; s++) {
        float line = d[a0] + (d[a1] - d[a0]) * (float)(s - a0) / (float)(a1 - a0);
        if (isnan(d[s]) || isnan(a->sup_fit[s]))
            return false;
        if (!isnan(a->bone_row[s]) && a->bone_row[s] - d[s] < 3.0f / sp)
            return false;
        if ((d[s] - line) * sp < 0.2f)
            continue;
        const float *m = an_sm(a, (uint32_t)s);
        float f = an_mean(m, a->h, line + 0.1f / sp, d[s] - 0.05f / sp);
        float t = an_mean(m, a->h, an_maxf(a->sup_fit[s], line - 1.2f / sp), line - 0.2f / sp);
        if (isnan(f) || isnan(t))
            continue;
        dip += f;
        tendon += t;
        n++;
    }
    if (!n || (tendon - dip) / n * a->dr_db / 255.0 < ACH_DIP_DARK_DB)
        return false;
    for (int s = a0 + 1; s < a1; s++) {
        float line = d[a0] + (d[a1] - d[a0]) * (float)(s - a0) / (float)(a1 - a0);
        if (d[s] > line)
            d[s] = a->deep_row[s] = line;
    }
    return true;
}
