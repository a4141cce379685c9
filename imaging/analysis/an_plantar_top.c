/* Plantar fascia: the band's superficial border over a lesion in the
 * band's upper part (called by an_plantar after the tilted-band borders,
 * before the anterior deep border). */
#include "an_internal.h"
#include "an_lesion.h"


/* The superficial border over a lesion in the band's upper part. The
 * border search follows the strongest step, and the band's own top (fat
 * over fascia) is a weaker one than the step from the band onto a
 * hypoechoic or anechoic lesion under a thin layer of band: over the lesion
 * the border dips onto the lesion's upper edge and the band is read thin
 * (the lesion lies just anterior of the insertion, so the site is often in
 * the dip). The fascia's top is a smooth curve: fitted (quadratic in x)
 * over +/-PF_DIP_FIT_MM of the site on the strips that do not dip (strips
 * deeper than the fit by over 0.25 mm dropped, refitted), a stretch near
 * the site deeper than the fit by PF_DIP_MM or more, bounded on both sides
 * by border on the fit, is put back on the fit when the tissue under the
 * dipped border is darker (PF_DIP_STEP_DB) than the layer the dip left out
 * and darker (PF_DIP_UNDER_DB) than the band's lowest 0.6 mm: a lesion
 * under band and over band. Without the second condition a tilted band's
 * right top under a fit pulled up by septa in the fat was "repaired" too
 * (fat is brighter than a fibre-less band): on seeds 2026 / 2027 (plantar
 * only, 300 cases) 9 cases got worse by 0.1-1.2 mm, 3 better; with it 3
 * better (0.4-0.5 mm), none worse. Runs on every plantar frame: one
 * quadratic fit over ~50 strips and three means per dipped strip. */
#define PF_DIP_FIT_MM 12.0f
#define PF_DIP_MM 0.4f
#define PF_DIP_MAX_W_MM 12.0f
#define PF_DIP_STEP_DB 3.0f
#define PF_DIP_UNDER_DB 1.0f

/* Least-squares quadratic z = c0 + c1 u + c2 u^2 (u: mm from the site) over
 * the strips with use[s]; false when fewer than 8. */
static bool fit_quad(const tl_analyzer *a, const float *z, const bool *use, float x0, float *c)
{
    double S[5] = { 0 }, T[3] = { 0 };
    int n = 0;
    for (uint32_t s = 0; s < a->ns; s++) {
        if (!use[s])
            continue;
        double u = an_strip_x(a, s) - x0, p = 1;
        for (int k = 0; k < 5; k++, p *= u)
            S[k] += p;
        T[0] += z[s];
        T[1] += z[s] * u;
        T[2] += z[s] * u * u;
        n++;
    }
    if (n < 8)
        return false;
    double M[4][4] = { { S[0], S[1], S[2] }, { S[1], S[2], S[3] }, { S[2], S[3], S[4] } }, x[3];
    if (!an_solve(3, M, T, x))
        return false;
    for (int k = 0; k < 3; k++)
        c[k] = (float)x[k];
    return true;
}

/* Whether at least half of the strips in each flank of the bump lo..hi
 * (AN_BUMP_FLANK_MM, as an_border_bump) are border on the fit. */
static bool flank_on_fit(const tl_analyzer *a, const bool *use, int lo, int hi)
{
    const int fl = (int)lroundf(AN_BUMP_FLANK_MM / (a->sp * (float)a->sw));
    int n_lo = 0, n_hi = 0;
    for (int d = 1; d <= fl; d++) {
        n_lo += use[lo - d];
        n_hi += use[hi + d];
    }
    return 2 * n_lo >= fl && 2 * n_hi >= fl;
}

bool an_plantar_top_over_lesion(tl_analyzer *a, tl_analysis_result *r, float x_site)
{
    const int ns = (int)a->ns;
    const float sp = a->sp;
    bool use[AN_MAX_STRIPS];
    float fit[AN_MAX_STRIPS], c[3];
    for (int s = 0; s < ns; s++)
        use[s] = !isnan(a->sup_fit[s]) && !isnan(a->deep_fit[s]) &&
                 fabsf(an_strip_x(a, (uint32_t)s) - x_site) <= PF_DIP_FIT_MM;
    for (int it = 0; it < 3; it++) {
        if (!fit_quad(a, a->sup_fit, use, x_site, c))
            return false;
        for (int s = 0; s < ns; s++) {
            float u = an_strip_x(a, (uint32_t)s) - x_site;
            fit[s] = (c[0] + c[1] * u + c[2] * u * u);
            if (use[s] && (a->sup_fit[s] - fit[s]) * sp > 0.25f)
                use[s] = false;
        }
    }
    /* the dip: the run of strips deeper than the fit by PF_DIP_MM nearest
     * the site, bounded by border on the fit */
    int lo, hi;
    /* A strip without a border (a gap the border was bridged over, or
     * one the deep border left) is no evidence against the dip: the
     * flanks need border on the fit, not border everywhere (seed 2026
     * case 147, a lesion under the top of a tilted band, 4.40 read 3.57:
     * one such strip in a flank of four refused the dip). At least half
     * of each flank is border on the fit (flank_on_fit). */
    bool flank[AN_MAX_STRIPS];
    for (int s = 0; s < ns; s++)
        flank[s] = use[s] || isnan(a->sup_fit[s]) || isnan(a->deep_fit[s]);
    if (!an_border_bump(a, a->sup_fit, fit, flank, x_site, +1, PF_DIP_MM, PF_DIP_MAX_W_MM, &lo, &hi) ||
        !flank_on_fit(a, use, lo, hi))
        return false;
    /* a lesion under band and over band: the dipped border's underside
     * against the layer between the fit and the dipped border, and against
     * the band's lowest 0.6 mm */
    double up = 0, dn = 0, lw = 0;
    int n = 0;
    for (int s = lo; s <= hi; s++) {
        const float *m = an_sm(a, (uint32_t)s);
        float u = an_mean(m, a->h, fit[s] + 0.15f / sp, a->sup_fit[s] - 0.1f / sp);
        float d = an_mean(m, a->h, a->sup_fit[s] + 0.1f / sp, a->sup_fit[s] + 0.6f / sp);
        float l = an_mean(m, a->h, a->deep_fit[s] - 0.6f / sp, a->deep_fit[s] - 0.15f / sp);
        if (isnan(u) || isnan(d) || isnan(l))
            continue;
        up += u;
        dn += d;
        lw += l;
        n++;
    }
    if (!n || (up - dn) / n * a->dr_db / 255.0 < PF_DIP_STEP_DB ||
        (lw - dn) / n * a->dr_db / 255.0 < PF_DIP_UNDER_DB)
        return false;
    for (int s = lo; s <= hi; s++) {
        a->sup_fit[s] = fit[s];
        if (!isnan(a->sup_row[s]))
            a->sup_row[s] = fit[s];
    }
    int nw = r->n_warnings;
    an_band_measure(a, r);
    r->n_warnings = nw;
    return true;
}

/* How far a top is from parallel to the deep border near the site: the
 * slope (mm per mm along x) of the band thickness it gives (rows top[s]),
 * fitted over PF_PAR_BACK_MM posterior to PF_PAR_FWD_MM anterior of the
 * site. The fascia at its insertion keeps its thickness over a few mm (it
 * does not taper to the site), and through a tilted probe the deep border
 * there is placed from the cortex (an_pf_deep_on_bone): a top that follows
 * the band runs parallel to it, one that follows the fat pad's level edge
 * or a septum crosses the tilted band. Mostly the posterior side: anterior
 * of the site the deep border leaves the calcaneus. NAN with fewer than 5
 * strips. */
#define PF_PAR_BACK_MM 5.0f
#define PF_PAR_FWD_MM 1.0f
float an_pf_thickness_slope(const tl_analyzer *a, const float *top, float x_site)
{
    double sx = 0, sxx = 0, sy = 0, sxy = 0;
    int m = 0;
    for (uint32_t s = 0; s < a->ns; s++) {
        float u = an_strip_x(a, s) - x_site;
        if (u < -PF_PAR_BACK_MM || u > PF_PAR_FWD_MM || isnan(a->deep_fit[s]) || isnan(a->sup_fit[s]) ||
            isnan(top[s]))
            continue;
        double th = (a->deep_fit[s] - top[s]) * a->sp;
        sx += u;
        sxx += (double)u * u;
        sy += th;
        sxy += u * th;
        m++;
    }
    double den = m * sxx - sx * sx;
    if (m < 5 || !(den > 0))
        return NAN;
    return (float)((m * sxy - sx * sy) / den);
}
