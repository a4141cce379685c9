/* Plantar fascia: the band through a tilted probe, re-seeded along the
 * calcaneus (an_plantar.c runs it after the band search).
 *
 * Tilted 5-15 deg against the anatomy, the fascia loses its fibre echoes
 * while the flexor digitorum brevis in front of the insertion, whose
 * fibres run a few degrees off the fascia's, may turn perpendicular to the
 * beam: a level layer of bright fibre lines. The band search (an_band.c,
 * strongest continuous interfaces) then takes that level layer, which the
 * tilted fascia crosses: over the bone behind the site the band was
 * missing altogether (seed 2031 cases 93, 192: 3.4 / 4.2 mm read 1.1 /
 * 7.4) or only its deep border lay on the bone and the top ran level
 * through the fascia (2027 216: 5.63 read 3.88, 255: 2.61 read 0.85). The
 * fascia over the calcaneus runs parallel to the bone surface (the soft
 * tissue between them is thin and even), so the scene's tilt shows in the
 * cortex behind the site, and the band found can be checked against it. */
#include "an_internal.h"

#include <string.h>

/* The cortex echo's top lies this far under the fascia's deep border
 * (an_plantar_deep.c: PF_PERIOSTEUM_MM, measured on untilted bands). */
#define PT_PERIOSTEUM_MM 0.9f
/* A tilt under this (deg, the cortex line behind the site) is left to the
 * band search: a level layer is then the fascia. */
#define PT_MIN_TILT_DEG 3.0f
/* The found top's course may differ from the cortex's by this much (deg)
 * before it counts as a level layer through the tilt. */
#define PT_TOP_DEV_DEG 4.0f
/* How far the band is re-seeded: behind the site over the bone, in front
 * of it on the cortex line's continuation. */
#define PT_BACK_MM 12.0f
#define PT_AHEAD_MM 8.0f
/* The re-seeded band replaces the found one only where they differ at the
 * site by this much (mm): a gross error (smaller ones are the top
 * searches' to settle, an_plantar.c). */
#define PT_GROSS_MM 1.0f
/* ... and where it is plausible: no thicker than PT_MAX_THICK_MM (the
 * thickest fasciae are 7-8 mm; 2028 plantar-only case 177: the coarse
 * step 9 mm up in the fat over a right 3.1 mm band), and the layer it
 * leaves above as rough as the band at least (the fat's septa; 2028 case
 * 43: the step 1.4 mm inside a band whose found top was the right one
 * after the top searches, the texture above 0.54 of the band's). */
#define PT_MAX_THICK_MM 8.5f
#define PT_FAT_ROUGHER 0.9

static void swap_f(float *x, float *y, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        float t = x[i];
        x[i] = y[i];
        y[i] = t;
    }
}

void an_pf_band_swap(tl_analyzer *a, tl_analysis_result *r, an_pf_band *b)
{
    const uint32_t n = a->ns;
    swap_f(a->sup_fit, b->sup_fit, n);
    swap_f(a->deep_fit, b->deep_fit, n);
    swap_f(a->sup_row, b->sup_row, n);
    swap_f(a->deep_row, b->deep_row, n);
    swap_f(a->bone_row, b->bone_row, n);
    swap_f(a->bone_top, b->bone_top, n);
    tl_analysis_result t = *r;
    *r = b->r;
    b->r = t;
}

float an_pf_fat_contrast(tl_analyzer *a, float x)
{
    const float sp = a->sp;
    double up = 0, in = 0;
    for (uint32_t s = 0; s < a->ns; s++) {
        if (fabsf(an_strip_x(a, s) - x) > 1.0f || isnan(a->sup_fit[s]) || isnan(a->deep_fit[s]))
            continue;
        float e1, e2, l1, l2;
        an_texture(a, s, a->sup_fit[s] - 1.5f / sp, a->sup_fit[s] - 0.3f / sp, &e1, &l1);
        an_texture(a, s, a->sup_fit[s] + 0.3f / sp, a->deep_fit[s] - 0.3f / sp, &e2, &l2);
        if (!isnan(e1) && !isnan(e2)) {
            up += e1;
            in += e2;
        }
    }
    return in > 0 ? (float)(up / in) : NAN;
}

bool an_pf_band_along_bone(tl_analyzer *a, const tl_analysis_result *r, float x_site,
                           an_pf_band *found)
{
    const int ns = (int)a->ns, dir = an_pf_anterior_dir(a, x_site);
    const float sp = a->sp, gap = PT_PERIOSTEUM_MM / sp;
    const int g = (int)lroundf(1.0f / (sp * (float)a->sw));
    float nd[AN_MAX_STRIPS];
    for (int s = 0; s < ns; s++)
        nd[s] = NAN;
    /* the bone from 1 mm behind the site backwards, one stretch (gaps up
     * to 1 mm) */
    int s_near = -1, miss = 0;
    for (int s = 0; s < ns; s++)
        if ((an_strip_x(a, (uint32_t)s) - x_site) * (float)dir <= -1.0f &&
            (s_near < 0 || (s - s_near) * dir > 0))
            s_near = s;
    for (int s = s_near; s >= 0 && s < ns && miss <= g; s -= dir) {
        float dx = (an_strip_x(a, (uint32_t)s) - x_site) * (float)dir;
        if (dx < -PT_BACK_MM)
            break;
        if (isnan(a->bone_top[s]) || !a->bone_line[s]) {
            miss++;
            continue;
        }
        miss = 0;
        nd[s] = a->bone_top[s] - gap;
    }
    /* the cortex line through the 4 mm before the site's last 1 mm */
    double k, c;   /* rows, rows per mm */
    int m = an_pf_line_before(a, nd, x_site, dir, -5.0f, INFINITY, &k, &c);
    if ((float)m * (float)a->sw * sp < 2.5f)
        return false;
    const float tilt = atanf((float)k * sp) * 180.0f / (float)M_PI;
    /* the found band near the site: on the bone, and its top parallel */
    int n_near = 0, n_on = 0;
    double tx = 0, tz = 0, txx = 0, txz = 0;
    for (int s = 0; s < ns; s++) {
        float dx = (an_strip_x(a, (uint32_t)s) - x_site) * (float)dir;
        if (dx < -5.0f || dx > 0.0f)
            continue;
        n_near++;
        float d = (float)(c + k * dx);
        if (isnan(a->deep_fit[s]) || isnan(a->sup_fit[s]) || fabsf(a->deep_fit[s] - d) * sp > 1.0f)
            continue;
        n_on++;
        tx += dx;
        tz += a->sup_fit[s];
        txx += (double)dx * dx;
        txz += (double)dx * a->sup_fit[s];
    }
    float top_tilt = NAN;
    double tden = n_on * txx - tx * tx;
    if (n_on >= 4 && tden > 0)
        top_tilt = atanf((float)((n_on * txz - tx * tz) / tden) * sp) * 180.0f / (float)M_PI;
    if (fabsf(tilt) < PT_MIN_TILT_DEG)
        return false;
    bool absent = 2 * n_on < n_near;
    bool level = !isnan(top_tilt) && fabsf(top_tilt - tilt) >= PT_TOP_DEV_DEG;
    if (!absent && !level)
        return false;
    /* re-seeded: the deep border over the bone behind, on the line from
     * 1 mm behind the site to PT_AHEAD_MM in front; the top the coarse
     * texture step above it (an_band_smooth_top: parallel to it) */
    float top[AN_MAX_STRIPS];
    memcpy(found->sup_fit, a->sup_fit, a->ns * sizeof(float));
    memcpy(found->deep_fit, a->deep_fit, a->ns * sizeof(float));
    memcpy(found->sup_row, a->sup_row, a->ns * sizeof(float));
    memcpy(found->deep_row, a->deep_row, a->ns * sizeof(float));
    memcpy(found->bone_row, a->bone_row, a->ns * sizeof(float));
    memcpy(found->bone_top, a->bone_top, a->ns * sizeof(float));
    found->r = *r;
    found->absent = absent;
    for (int s = 0; s < ns; s++) {
        float dx = (an_strip_x(a, (uint32_t)s) - x_site) * (float)dir;
        if (dx > -1.0f && dx <= PT_AHEAD_MM)
            nd[s] = (float)(c + k * dx);
        a->deep_fit[s] = a->deep_row[s] = nd[s];
        a->sup_row[s] = NAN;
    }
    const float t_old = an_interp_strips(found->deep_fit, a->ns, a, x_site) -
                        an_interp_strips(found->sup_fit, a->ns, a, x_site);
    an_band_smooth_top(a, 3.0f, 10.0f, top);
    int n = 0;
    for (int s = 0; s < ns; s++) {
        a->sup_fit[s] = top[s];
        if (isnan(top[s]))
            a->deep_fit[s] = a->deep_row[s] = NAN;
        n += !isnan(top[s]);
    }
    const float t_new = an_interp_strips(a->deep_fit, a->ns, a, x_site) -
                        an_interp_strips(a->sup_fit, a->ns, a, x_site);
    /* the fat's septa over the new top, the fibre-less band under it */
    const float fat = an_pf_fat_contrast(a, x_site);
    if (n >= 4 && !isnan(t_new) && !(fabsf(t_new - t_old) * sp < PT_GROSS_MM) &&
        t_new * sp <= PT_MAX_THICK_MM && fat >= PT_FAT_ROUGHER)
        return true;
    memcpy(a->sup_fit, found->sup_fit, a->ns * sizeof(float));
    memcpy(a->deep_fit, found->deep_fit, a->ns * sizeof(float));
    memcpy(a->sup_row, found->sup_row, a->ns * sizeof(float));
    memcpy(a->deep_row, found->deep_row, a->ns * sizeof(float));
    return false;
}
