/* Plantar fascia: the calcaneus side (an_plantar.c runs these): the
 * cortex top's spikes, the insertion edge through a tilt, the band's deep
 * border over the calcaneus and in front of the insertion. */
#include "an_internal.h"

/* A strip whose cortex top lies more than PF_SPIKE_MM above the median of
 * the bone strips within +/-1 mm is not the calcaneus's surface (its
 * surface is smooth): a shadow edge or an echo inside the soft tissue on
 * the periosteum (2027 case 84: three strips 1.1-1.4 mm up, all without a
 * cortex line). Such a spike capped the band's deep border search
 * (an_band_over_bone stops above the bone) and, as a slope of over 20 deg,
 * was taken for the insertion edge (2027 case 180: the site 5.7 mm
 * posterior). Replaced by that median. Only spikes upwards: at the
 * insertion the surface really turns down. */
#define PF_SPIKE_MM 0.3f
void an_pf_despike_bone(tl_analyzer *a)
{
    const int ns = (int)a->ns;
    const int w = (int)lroundf(1.0f / (a->sp * (float)a->sw));
    float med[AN_MAX_STRIPS], v[64];
    for (int s = 0; s < ns; s++) {
        med[s] = NAN;
        if (isnan(a->bone_top[s]))
            continue;
        uint32_t n = 0;
        for (int k = s - w; k <= s + w && n < 64; k++)
            if (k >= 0 && k < ns && !isnan(a->bone_top[k]))
                v[n++] = a->bone_top[k];
        if (n >= 3)
            med[s] = an_percentile_f(v, n, 50);
    }
    for (int s = 0; s < ns; s++)
        if (!isnan(med[s]) && a->bone_top[s] < med[s] - PF_SPIKE_MM / a->sp) {
            a->bone_row[s] += med[s] - a->bone_top[s];
            a->bone_top[s] = med[s];
        }
}

/* The side of x_site without bone within 8 mm (+1: right): anterior. */
int an_pf_anterior_dir(const tl_analyzer *a, float x_site)
{
    int nb[2] = { 0, 0 };
    for (uint32_t s = 0; s < a->ns; s++) {
        float dx = an_strip_x(a, s) - x_site;
        if (!isnan(a->bone_row[s]) && fabsf(dx) < 8.0f)
            nb[dx > 0]++;
    }
    return nb[1] <= nb[0] ? 1 : -1;
}

/* The least-squares line z = c + k * dx through the strips of z (rows;
 * NAN: none) whose dx = (x - x0) * dir lies in [lo_mm, hi_mm]; returns
 * how many strips it went through (0 when they do not fix a line: k and c
 * then unset). */
int an_pf_line_before(const tl_analyzer *a, const float *z, float x0, int dir, float lo_mm, float hi_mm,
                      double *k, double *c)
{
    double sx = 0, sz = 0, sxx = 0, sxz = 0;
    int m = 0;
    for (int s = 0; s < (int)a->ns; s++) {
        float dx = (an_strip_x(a, (uint32_t)s) - x0) * (float)dir;
        if (isnan(z[s]) || dx < lo_mm || dx > hi_mm)
            continue;
        sx += dx;
        sz += z[s];
        sxx += (double)dx * dx;
        sxz += (double)dx * z[s];
        m++;
    }
    double den = m * sxx - sx * sx;
    if (m == 0 || den <= 0)
        return 0;
    *k = (m * sxz - sx * sz) / den;
    *c = (sz - *k * sx) / m;
    return m;
}

/* The insertion edge through a tilted probe. an_insertion_edge takes the
 * first place where the bone surface runs steeper than ~20 deg for the
 * edge; a tilt of 4-15 deg plus the inferior calcaneus's own gentle
 * curvature reaches that on the flat surface (2027 case 180: tilted 14.5
 * deg, the site 5.7 mm posterior of the edge). The edge is where the
 * surface turns away from its own course: found on the bone and band
 * with the surface's median slope taken out (both shifted by the same
 * rows, so what lies inside the band stays inside). x0: the edge found
 * as it is, returned when no slope or no edge. */
float an_pf_tilted_edge(tl_analyzer *a, float x0)
{
    const int ns = (int)a->ns, sw = (int)a->sw;
    const int g = (int)lroundf(1.0f / (a->sp * (float)sw));
    float v[AN_MAX_STRIPS];
    uint32_t n = 0;
    for (int s = g; s + g < ns && g > 0; s++)
        if (!isnan(a->bone_row[s - g]) && !isnan(a->bone_row[s + g]))
            v[n++] = (a->bone_row[s + g] - a->bone_row[s - g]) / (float)(2 * g * sw);
    if (n < 4)
        return x0;
    const float k = an_percentile_f(v, n, 50);
    if (!(fabsf(k) >= 0.05f))
        return x0;
    for (int s = 0; s < ns; s++) {
        a->bone_row[s] -= k * (float)(s * sw);
        a->deep_fit[s] -= k * (float)(s * sw);
    }
    float x = an_insertion_edge(a);
    for (int s = 0; s < ns; s++) {
        a->bone_row[s] += k * (float)(s * sw);
        a->deep_fit[s] += k * (float)(s * sw);
    }
    if (isnan(x))
        return x0;
    /* That is the middle of the first 1 mm that turns: 1-2 mm in front of
     * where the surface leaves its course, and the top of a tilted band
     * drifts there (test_analysis_borders: 6.0 mm read 5.60 1.8 mm in
     * front, right at the edge). The edge: the first strip from 1.5 mm
     * behind it where the surface lies 0.1 mm under the line through the
     * 3.5 mm before, and the next one too (or the bone ends). */
    const int dir = an_pf_anterior_dir(a, x);
    double kk, c;
    if (an_pf_line_before(a, a->bone_row, x, dir, -5.0f, -1.5f, &kk, &c) < 4)
        return x;
    const float tol = 0.1f / a->sp;
    for (int i = 0; i < ns; i++) {
        const int s = dir > 0 ? i : ns - 1 - i, t = s + dir;   /* posterior first */
        float dx = (an_strip_x(a, (uint32_t)s) - x) * (float)dir;
        if (dx < -1.5f || dx > 0.0f || isnan(a->bone_row[s]) || t < 0 || t >= ns)
            continue;
        float dt = (an_strip_x(a, (uint32_t)t) - x) * (float)dir;
        bool off = a->bone_row[s] - (float)(c + kk * dx) > tol;
        bool off2 = isnan(a->bone_row[t]) || a->bone_row[t] - (float)(c + kk * dt) > tol;
        if (off && off2)
            return an_strip_x(a, (uint32_t)s);
    }
    return x;
}

/* The band's deep border over the calcaneus. Through a tilted probe the
 * fascia's deep border has no specular echo and, once the fascia
 * thickens, no level step either: the soft tissue on the periosteum under
 * it echoes as much as the band (thicker fasciae are darker), so the
 * search ran on speckle 0.3-2.6 mm off (seed 2026, plantar only: 30-40 %
 * of the strips 0-6 mm posterior of the site over 0.3 mm off). The
 * calcaneus's cortex is seen at any tilt, and the layer between it and the
 * fascia is thin and even: on fibrillar bands, whose deep border is a
 * line, the cortex echo's top lies PF_PERIOSTEUM_MM under the deep border
 * found (median over the strips 0-6 mm posterior of the site, seed 2026
 * untilted: 0.90 mm, quartiles 0.87-0.92). So over the bone posterior of
 * the site (where it lies within PF_DEEP_REACH_MM under the found border)
 * the deep border is placed that far above the cortex top, and over the
 * site's last 1 mm and up to PF_DEEP_AHEAD_MM anterior of it, where the
 * surface turns down, on the straight line through the 4 mm before (the
 * fascia over the calcaneus is straight there). On a fibre-less band
 * always; on a fibrillar one (its deep border a line) only when the found
 * border is off that place by over 0.3 mm (median over the stretch): a
 * tilted band whose coherence the fat's septa keep over the gate (2026
 * cases 72, 97: 0.4-1 mm shallow). Returns whether it moved the border. */
#define PF_PERIOSTEUM_MM 0.9f
#define PF_DEEP_REACH_MM 4.5f
#define PF_DEEP_AHEAD_MM 2.0f
bool an_pf_deep_on_bone(tl_analyzer *a, float x_site, bool fibrillar)
{
    const int ns = (int)a->ns, dir = an_pf_anterior_dir(a, x_site);
    const float sp = a->sp, gap = PF_PERIOSTEUM_MM / sp;
    const int g = (int)lroundf(1.0f / (sp * (float)a->sw));
    float nd[AN_MAX_STRIPS];
    for (int s = 0; s < ns; s++)
        nd[s] = NAN;
    /* posterior of the site by >= 1 mm, the bone close under the band,
     * one stretch from the site backwards (gaps up to 1 mm) */
    int s_near = -1, miss = 0, n = 0;
    for (int s = 0; s < ns; s++)
        if ((an_strip_x(a, (uint32_t)s) - x_site) * (float)dir <= -1.0f &&
            (s_near < 0 || (s - s_near) * dir > 0))
            s_near = s;
    for (int s = s_near; s >= 0 && s < ns && miss <= g; s -= dir) {
        float b = a->bone_top[s], d = a->deep_fit[s];
        if (isnan(b) || isnan(d) || b - d > PF_DEEP_REACH_MM / sp || b - gap < a->sup_fit[s] + 0.5f / sp) {
            miss++;
            continue;
        }
        miss = 0;
        nd[s] = b - gap;
        n++;
    }
    if ((float)n * (float)a->sw * sp < 2.0f)
        return false;
    if (fibrillar) {
        float dv[AN_MAX_STRIPS];
        uint32_t k = 0;
        for (int s = 0; s < ns; s++)
            if (!isnan(nd[s]))
                dv[k++] = fabsf(nd[s] - a->deep_fit[s]);
        if (an_percentile_f(dv, k, 50) * sp <= 0.3f)
            return false;
    }
    /* the line through the 4 mm before the site's last 1 mm */
    double k, c;
    if (an_pf_line_before(a, nd, x_site, dir, -5.0f, INFINITY, &k, &c) < 4)
        return false;
    for (int s = 0; s < ns; s++) {
        float dx = (an_strip_x(a, (uint32_t)s) - x_site) * (float)dir;
        if (dx > -1.0f && dx <= PF_DEEP_AHEAD_MM && !isnan(a->deep_fit[s])) {
            float z = (float)(c + k * dx);
            if (z > a->sup_fit[s] + 0.5f / sp)
                nd[s] = z;
        }
    }
    for (int s = 0; s < ns; s++)
        if (!isnan(nd[s]))
            a->deep_fit[s] = a->deep_row[s] = nd[s];
    return true;
}

/* In front of the insertion the fascia lies on the flexor digitorum brevis
 * and thins (to about two thirds); the deep border search keeps the band's
 * two borders parallel, so there it often ran on a muscle line 1-4 mm too
 * deep (half the untilted cases of seed 2026 were over 1 mm off 12 mm
 * anterior of the site): the band took in dark muscle, which widened the
 * lesion test's spreads (lesions missed) or became a "lesion" itself. Per
 * strip on that side: the step down from the band onto a layer as dark as
 * the tissue under the found border (within a quarter of the step) and
 * 6 dB or more below the band is the real deep border. Taken over the
 * stretch that reaches the band's anterior end (gaps up to 1 mm), never
 * thinning the band under 0.55 of its thickness at the site: a lesion is
 * a bounded dark area inside the band with band below it, the muscle runs
 * on to the end. */
/* Mean of rows [r0, r1) from the prefix sums cs (values, NAN as 0) and cn
 * (counts of valid rows); NAN when none. */
static float cum_mean(const double *cs, const double *cn, int h, float r0, float r1)
{
    int i0 = (int)(r0 + 0.5f), i1 = (int)(r1 + 0.5f);
    i0 = i0 < 0 ? 0 : i0 > h ? h : i0;
    i1 = i1 < 0 ? 0 : i1 > h ? h : i1;
    double n = cn[i1] - cn[i0];
    return n > 0 ? (float)((cs[i1] - cs[i0]) / n) : NAN;
}

void an_pf_anterior_deep_border(tl_analyzer *a, float x_site, float site_mm)
{
    const int ns = (int)a->ns, h = (int)a->h;
    const float sp = a->sp, step_db = 6.0f * 255.0f / a->dr_db;
    double *cs = a->cum, *cn = a->cum + h + 1;   /* 4 (h + 1) doubles */
    const int dir = an_pf_anterior_dir(a, x_site);   /* the side without bone */
    float cand[AN_MAX_STRIPS];
    for (int s = 0; s < ns; s++) {
        cand[s] = NAN;
        float T = a->sup_fit[s], D = a->deep_fit[s];
        if (isnan(T) || isnan(D) || (an_strip_x(a, (uint32_t)s) - x_site) * (float)dir < 1.0f)
            continue;
        const float *m = an_sm(a, (uint32_t)s);
        cs[0] = cn[0] = 0;
        for (int r = 0; r < h; r++) {
            cs[r + 1] = cs[r] + (isnan(m[r]) ? 0.0 : m[r]);
            cn[r + 1] = cn[r] + !isnan(m[r]);
        }
        float M = cum_mean(cs, cn, h, D + 0.3f / sp, D + 1.5f / sp);
        if (isnan(M))
            continue;
        float best = 0;
        for (float r = T + 1.0f / sp; r < D - 0.5f / sp; r += 1.0f) {
            float up = cum_mean(cs, cn, h, r - 1.0f / sp, r - 0.1f / sp);
            float dn = cum_mean(cs, cn, h, r + 0.1f / sp, D - 0.1f / sp);
            if (isnan(up) || isnan(dn) || up - dn < step_db || dn - M > 0.25f * (up - dn))
                continue;
            if (up - dn > best) {
                best = up - dn;
                /* the edge: where the smoothed profile crosses the amplitude
                 * midpoint between the band and the layer, near r */
                float mid = an_amp_mid(up, dn, a->dr_db), e = r;
                for (int k = (int)(r - 0.5f / sp); k < (int)(r + 0.5f / sp) && k + 1 < h; k++)
                    if (k > 0 && m[k] >= mid && m[k + 1] < mid) {
                        e = (float)k + (m[k] - mid) / (m[k] - m[k + 1] + 1e-6f);
                        break;
                    }
                cand[s] = e;
            }
        }
        if (!isnan(cand[s]) && (cand[s] - T) * sp < 0.55f * site_mm)
            cand[s] = NAN;
    }
    /* the stretch that reaches the band's anterior end */
    const int gap = (int)lroundf(1.0f / (sp * (float)a->sw));
    int end = -1;
    for (int s = dir > 0 ? ns - 1 : 0; s >= 0 && s < ns; s -= dir)
        if (!isnan(a->deep_fit[s])) {
            end = s;
            break;
        }
    if (end < 0)
        return;
    int first = -1, n = 0, miss = 0;
    for (int s = end; s >= 0 && s < ns && miss <= gap; s -= dir) {
        if (isnan(cand[s])) {
            miss++;
            continue;
        }
        miss = 0;
        first = s;
        n++;
    }
    if (first < 0 || (float)n * (float)a->sw * sp < 3.0f)
        return;
    float raw[AN_MAX_STRIPS], fit[AN_MAX_STRIPS];
    int prev = -1;
    for (int s = 0; s < ns; s++) {
        bool in = (s - first) * dir >= 0 && (end - s) * dir >= 0;
        raw[s] = in ? cand[s] : NAN;
        if (isnan(raw[s]))
            continue;
        /* one border: bridge the gaps inside the stretch (a strip left at
         * the old depth would leave a pocket of muscle in the band) */
        for (int k = prev + 1; prev >= 0 && k < s; k++)
            raw[k] = raw[prev] + (raw[s] - raw[prev]) * (float)(k - prev) / (float)(s - prev);
        prev = s;
    }
    uint32_t half = (uint32_t)lroundf(1.5f / (sp * (float)a->sw));
    an_smooth_strips(raw, fit, a->ns, half < 1 ? 1 : half);
    for (int s = 0; s < ns; s++)
        if (!isnan(fit[s]) && fit[s] < a->deep_fit[s]) {
            a->deep_fit[s] = fit[s];
            a->deep_row[s] = raw[s];
        }
}

/* Least-squares line z = c + k u (u: mm from x0) through z[s] over the
 * strips with use[s]; false when fewer than 8. */
static bool line_fit(const tl_analyzer *a, const float *z, const bool *use, float x0, double *k,
                     double *c)
{
    double sx = 0, sz = 0, sxx = 0, sxz = 0;
    int m = 0;
    for (uint32_t s = 0; s < a->ns; s++) {
        if (!use[s])
            continue;
        double u = an_strip_x(a, s) - x0;
        sx += u;
        sz += z[s];
        sxx += u * u;
        sxz += u * z[s];
        m++;
    }
    double den = m * sxx - sx * sx;
    if (m < 8 || den <= 0)
        return false;
    *k = (m * sxz - sx * sz) / den;
    *c = (sz - *k * sx) / m;
    return true;
}

/* The deep border under a lesion in the band's lower part. The step from
 * an anechoic or dark lesion down onto the thin layer of band under it is
 * stronger than the band's own deep border (band over muscle), so over
 * the lesion the deep border bulged up onto the lesion's lower edge and
 * the band read 0.5-1 mm thin at the site (untilted 2028 case 60: -1.03
 * mm, 2026 110 and 103, 2027 103, 2028 167; the lesion lies just anterior
 * of the insertion, where the calcaneus turns away and cannot anchor the
 * border). The fascia's deep border near the insertion is straight: a
 * line fitted over +/-PF_BUMP_FIT_MM of the site on the strips that do not
 * bulge up (strips shallower than it by over 0.25 mm or deeper by over
 * 0.5 mm dropped, refitted); a stretch within 3 mm of the site shallower
 * than the line by PF_BUMP_MM or more, bounded by border on the line over
 * 2 mm either side, at most PF_BUMP_MAX_W_MM wide, goes back on the line
 * when the tissue just over it is darker than the layer it left out by
 * PF_BUMP_STEP_DB (a lesion over band) and than the band's top 0.6 mm by
 * PF_BUMP_TOP_DB (the mirror of an_plantar_top.c's dip rule). */
#define PF_BUMP_FIT_MM 8.0f
#define PF_BUMP_MM 0.3f
#define PF_BUMP_MAX_W_MM 12.0f
#define PF_BUMP_STEP_DB 3.0f
#define PF_BUMP_TOP_DB 1.0f
bool an_pf_deep_under_lesion(tl_analyzer *a, float x_site)
{
    const int ns = (int)a->ns;
    const float sp = a->sp;
    bool use[AN_MAX_STRIPS];
    float fit[AN_MAX_STRIPS];
    double k = 0, c = 0;
    for (int s = 0; s < ns; s++)
        use[s] = !isnan(a->sup_fit[s]) && !isnan(a->deep_fit[s]) &&
                 fabsf(an_strip_x(a, (uint32_t)s) - x_site) <= PF_BUMP_FIT_MM;
    for (int it = 0; it < 3; it++) {
        if (!line_fit(a, a->deep_fit, use, x_site, &k, &c))
            return false;
        for (int s = 0; s < ns; s++) {
            fit[s] = (float)(c + k * (an_strip_x(a, (uint32_t)s) - x_site));
            float off = (a->deep_fit[s] - fit[s]) * sp;
            if (use[s] && (off < -0.25f || off > 0.5f))
                use[s] = false;
        }
    }
    /* the bulge: the run of strips shallower than the line by PF_BUMP_MM
     * nearest the site, bounded by border on the line */
    int lo, hi;
    if (!an_border_bump(a, a->deep_fit, fit, use, x_site, -1, PF_BUMP_MM, PF_BUMP_MAX_W_MM, &lo, &hi))
        return false;
    /* a lesion over band: just over the bulged border against the layer
     * it left out and against the band's top; never into the bone */
    double over = 0, left = 0, top = 0;
    int n = 0;
    for (int s = lo; s <= hi; s++) {
        if (!isnan(a->bone_top[s]) && fit[s] > a->bone_top[s] - 0.3f / sp)
            return false;
        if ((fit[s] - a->deep_fit[s]) * sp < PF_BUMP_MM)
            continue;
        const float *m = an_sm(a, (uint32_t)s);
        float o = an_mean(m, a->h, a->deep_fit[s] - 0.6f / sp, a->deep_fit[s] - 0.1f / sp);
        float l = an_mean(m, a->h, a->deep_fit[s] + 0.1f / sp, fit[s] - 0.1f / sp);
        float t = an_mean(m, a->h, a->sup_fit[s] + 0.15f / sp, a->sup_fit[s] + 0.6f / sp);
        if (isnan(o) || isnan(l) || isnan(t))
            continue;
        over += o;
        left += l;
        top += t;
        n++;
    }
    if (!n || (left - over) / n * a->dr_db / 255.0 < PF_BUMP_STEP_DB ||
        (top - over) / n * a->dr_db / 255.0 < PF_BUMP_TOP_DB)
        return false;
    /* the border bridged between its ends (where it meets the line again) */
    int e0 = lo, e1 = hi;
    while (e0 - 1 >= 0 && !isnan(a->deep_fit[e0 - 1]) && (fit[e0 - 1] - a->deep_fit[e0 - 1]) * sp > 0.1f)
        e0--;
    while (e1 + 1 < ns && !isnan(a->deep_fit[e1 + 1]) && (fit[e1 + 1] - a->deep_fit[e1 + 1]) * sp > 0.1f)
        e1++;
    if (e0 - 1 < 0 || e1 + 1 >= ns)
        return false;
    const float z0 = a->deep_fit[e0 - 1], z1 = a->deep_fit[e1 + 1];
    for (int s = e0; s <= e1; s++) {
        float z = z0 + (z1 - z0) * (float)(s - e0 + 1) / (float)(e1 - e0 + 2);
        a->deep_fit[s] = z;
        if (!isnan(a->deep_row[s]))
            a->deep_row[s] = z;
    }
    return true;
}
