/* A bump in a band's border against the border's own fitted course: the
 * one search behind the plantar dip rule (an_plantar_top.c: the top dipped
 * onto a lesion's upper edge) and the bulge rule (an_plantar_deep.c: the
 * deep border bulged up onto a lesion's lower edge). */
#include "an_internal.h"

/* A lesion just under (over) the border pulls the border search onto its
 * edge over a short stretch near the insertion, and only there: the
 * stretch stands off the fitted course by more than the border's scatter
 * and has border on that course on both sides (a long or open-ended
 * departure is the course itself being wrong, not a bump). */
#define AN_BUMP_REACH_MM 3.0f  /* the bump starts this near the site */
#define AN_BUMP_EDGE_MM 0.25f  /* the bump extends while off by more */

bool an_border_bump(const tl_analyzer *a, const float *z, const float *fit, const bool *use, float x_site,
                    int dir, float min_mm, float max_w_mm, int *lo_out, int *hi_out)
{
    const int ns = (int)a->ns;
    const float sp = a->sp;
    /* off the fit in mm, positive in the bump's direction */
#define OFF(s) (dir > 0 ? (z[s] - fit[s]) * sp : (fit[s] - z[s]) * sp)
    int s_site = 0;
    for (int s = 1; s < ns; s++)
        if (fabsf(an_strip_x(a, (uint32_t)s) - x_site) < fabsf(an_strip_x(a, (uint32_t)s_site) - x_site))
            s_site = s;
    const int reach = (int)lroundf(AN_BUMP_REACH_MM / (sp * (float)a->sw));
    int b0 = -1;
    for (int d = 0; d <= reach && b0 < 0; d++)
        for (int sg = -1; sg <= 1 && b0 < 0; sg += 2) {
            int s = s_site + sg * d;
            if (s >= 0 && s < ns && !isnan(z[s]) && OFF(s) >= min_mm)
                b0 = s;
        }
    if (b0 < 0)
        return false;
    int lo = b0, hi = b0;
    while (lo - 1 >= 0 && !isnan(z[lo - 1]) && OFF(lo - 1) > AN_BUMP_EDGE_MM)
        lo--;
    while (hi + 1 < ns && !isnan(z[hi + 1]) && OFF(hi + 1) > AN_BUMP_EDGE_MM)
        hi++;
#undef OFF
    const int fl = (int)lroundf(AN_BUMP_FLANK_MM / (sp * (float)a->sw));
    if ((float)(hi - lo + 1) * (float)a->sw * sp > max_w_mm || lo - fl < 0 || hi + fl >= ns)
        return false;
    for (int d = 1; d <= fl; d++)
        if (!use[lo - d] || !use[hi + d])
            return false;
    *lo_out = lo;
    *hi_out = hi;
    return true;
}
