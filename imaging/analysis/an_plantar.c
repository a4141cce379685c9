/* Plantar fascia: the band under the heel fat pad on the inferior
 * calcaneus, measured at the insertion (design.md section 2): the cortex
 * rule for the calcaneus, the insertion site through a tilt, the tilted
 * (fibre-less) band's superficial border, its deep border over the
 * calcaneus, and the deep border in front of the insertion. */
#include "an_internal.h"

#include <string.h>

/* Fibrillar coherence (an_band_coherence, +/-3 mm about the site) under
 * which the band has no fibre echoes: a tilted probe. */
#define PF_FIBRELESS 0.42f

/* The calcaneus under the plantar fascia is capped by a bright cortex line
 * (a rough surface: it echoes at any probe tilt; its steep anterior slope
 * may show only the shadow's edge here and there). "Bone" with a cortex
 * line on under a quarter of the bone strips within +/-2 mm, at the end of
 * a run of bone (gaps up to 1 mm), is the dark flexor muscle in front of
 * the insertion: it cut the band's deep border off and, making the run
 * longer, moved the insertion site onto the muscle. A patch without the
 * line inside a run is still the calcaneus. */
static void drop_lineless_bone(tl_analyzer *a)
{
    const int ns = (int)a->ns, sw = (int)a->sw;
    const int gap = (int)lroundf(1.0f / (a->sp * (float)sw)), w = 2 * gap;
    bool weak[AN_MAX_STRIPS];
    for (int s = 0; s < ns; s++) {
        int n = 0, nl = 0;
        for (int k = s - w; k <= s + w; k++)
            if (k >= 0 && k < ns && !isnan(a->bone_row[k])) {
                n++;
                nl += a->bone_line[k];
            }
        weak[s] = !isnan(a->bone_row[s]) && 4 * nl < n;
    }
    int s = 0;
    while (s < ns) {
        if (isnan(a->bone_row[s])) {
            s++;
            continue;
        }
        int last = s;
        for (int e = s; e < ns && e - last <= gap; e++)
            if (!isnan(a->bone_row[e]))
                last = e;
        /* from either end of the run inwards, while the line is missing */
        for (int k = s; k <= last && (isnan(a->bone_row[k]) || weak[k]); k++)
            a->bone_row[k] = a->bone_top[k] = NAN;
        for (int k = last; k >= s && (isnan(a->bone_row[k]) || weak[k]); k--)
            a->bone_row[k] = a->bone_top[k] = NAN;
        s = last + 1;
    }
}

/* A tilted probe: no fibre echoes in the band (its neighbouring strips'
 * profiles do not correlate along its course), so the superficial border
 * the line-and-step search found may be a fat septum or a muscle line; the
 * band is then the smooth, darker layer under the fat (an_band_smooth_top).
 * Replaces the superficial border and remeasures the band. Returns whether
 * it did. */
static bool tilted_top(tl_analyzer *a, tl_analysis_result *r, float x_site, float min_depth_mm,
                       float max_thick_mm)
{
    float coh = an_band_coherence(a, a->sup_fit, a->deep_fit, x_site, 3.0f);
    if (!(coh < PF_FIBRELESS))
        return false;
    float alt[AN_MAX_STRIPS];
    an_band_smooth_top(a, min_depth_mm, max_thick_mm, alt);
    uint32_t n = 0;
    for (uint32_t s = 0; s < a->ns; s++)
        n += !isnan(alt[s]);
    if (n < 4)
        return false;
    float sd, fine = an_thickness_at(a, x_site, &sd, NULL);
    float keep[3][AN_MAX_STRIPS];
    memcpy(keep[0], a->sup_fit, a->ns * sizeof(float));
    memcpy(keep[1], a->deep_fit, a->ns * sizeof(float));
    memcpy(keep[2], a->sup_row, a->ns * sizeof(float));
    for (uint32_t s = 0; s < a->ns; s++) {
        a->sup_fit[s] = alt[s];
        if (isnan(alt[s]))
            a->deep_fit[s] = NAN;
        a->sup_row[s] = NAN;   /* no per-strip scatter for the coarse border */
    }
    /* The coarse border is the rougher measurement: where the two agree
     * within 0.6 mm the fine one stands. */
    float coarse = an_thickness_at(a, x_site, &sd, NULL);
    bool use = !isnan(coarse) && !(fabsf(coarse - fine) < 0.6f);
    /* What the coarse border leaves above must be the fat: brighter than
     * the fibre-less band (a band brighter than its surroundings has lost
     * nothing to the tilt) and rougher (septa), markedly so when the coarse
     * band is the thinner one (a dark lesion under the fine border is as
     * smooth above its top as below it). */
    double up_e = 0, in_e = 0, up_l = 0, in_l = 0;
    for (uint32_t s = 0; use && s < a->ns; s++) {
        if (fabsf(an_strip_x(a, s) - x_site) > 1.0f || isnan(alt[s]) || isnan(a->deep_fit[s]))
            continue;
        float e1, e2, l1, l2;
        an_texture(a, s, alt[s] - 1.5f / a->sp, alt[s] - 0.3f / a->sp, &e1, &l1);
        an_texture(a, s, alt[s] + 0.3f / a->sp, a->deep_fit[s] - 0.3f / a->sp, &e2, &l2);
        if (!isnan(e1) && !isnan(e2)) {
            up_e += e1;
            in_e += e2;
            up_l += l1;
            in_l += l2;
        }
    }
    use = use && up_l > 1.1 * in_l && up_e > (coarse > fine ? 1.2 : 1.4) * in_e;
    if (!use) {
        memcpy(a->sup_fit, keep[0], a->ns * sizeof(float));
        memcpy(a->deep_fit, keep[1], a->ns * sizeof(float));
        memcpy(a->sup_row, keep[2], a->ns * sizeof(float));
        return false;
    }
    int nw = r->n_warnings;
    an_band_measure(a, r);
    r->n_warnings = nw;
    return true;
}

/* Everything from the insertion site on (NAN: no calcaneus), on the band
 * as it stands. */
static void plantar_site(tl_analyzer *a, tl_analysis_result *r, float x_site);

void an_plantar(tl_analyzer *a, const tl_analysis_params *p, tl_analysis_result *r)
{
    /* under the heel fat pad, on the inferior calcaneus at its origin */
    an_find_bone(a, 3.0f, true);
    drop_lineless_bone(a);
    an_band_over_bone(a, 3.0f, 10.0f, 0.0f, 0.15f, 2.5f);
    an_band_measure(a, r);
    an_pf_despike_bone(a);
    an_polyline(a, a->bone_row, &r->bone);
    if (!r->structure_found)
        return;
    r->echogenicity_db = an_band_vs_above(a, p);
    r->hypoechoic = r->echogenicity_db < 0;
    /* Insertion: the anterior edge of the inferior calcaneus, where its
     * surface leaves the band. */
    float bone_keep[AN_MAX_STRIPS];
    memcpy(bone_keep, a->bone_row, a->ns * sizeof(float));
    float x_site = an_insertion_edge(a);
    /* Through a tilt the search may have taken a level layer the fascia
     * crosses: checked against the cortex's course (an_plantar_tilt.c).
     * A re-seeded band is measured too (its site found again on the bone
     * as it was), and the one whose top has the rougher fat over it at
     * its site stands (the level layer's top lies inside the band or in
     * fat without septa; the re-seeded one's top can also be wrong, 2027
     * plantar-only cases 281, 299: 0.31 / 0.04 -> 6.65 / 1.79 mm alone);
     * where the band found was not on the bone at all, the re-seeded one
     * (2031 case 192: the band found, in the muscle, 7.35 mm for 4.18,
     * had the fat's texture over its top too). */
    an_pf_band alt;
    if (!isnan(x_site) && an_pf_band_along_bone(a, r, x_site, &alt)) {
        int nw = r->n_warnings;
        an_band_measure(a, r);
        r->n_warnings = nw;
        memcpy(a->bone_row, bone_keep, a->ns * sizeof(float));
        float x_alt = an_insertion_edge(a);
        an_pf_band_swap(a, r, &alt);      /* the found band back, the re-seeded one kept */
        plantar_site(a, r, x_site);
        float fat = isnan(r->thickness_mm) ? NAN : an_pf_fat_contrast(a, r->site_x_mm);
        an_pf_band_swap(a, r, &alt);      /* the re-seeded band, the found one's result kept */
        plantar_site(a, r, x_alt);
        float fat_alt = an_pf_fat_contrast(a, r->site_x_mm);
        if (isnan(r->thickness_mm) || (!alt.absent && (isnan(fat_alt) || fat_alt <= fat)))
            an_pf_band_swap(a, r, &alt);
    } else {
        plantar_site(a, r, x_site);
    }
}

static void plantar_site(tl_analyzer *a, tl_analysis_result *r, float x_site)
{
    const bool on_bone = !isnan(x_site);
    if (!on_bone) {
        an_warn(r, "calcaneus not found: thickness measured at the thickest part of the band");
        float best = 0;
        x_site = r->profile_x_mm[0];
        for (uint32_t i = 0; i < r->n_profile; i++)
            if (r->profile_mm[i] > best) {
                best = r->profile_mm[i];
                x_site = r->profile_x_mm[i];
            }
    }
    /* A fibre-less band (a tilted probe): the coarse border replaces a
     * line-and-step one it disagrees with, then near the site the band's
     * top is placed where the fat's septa end (pixel level). */
    float coh = an_band_coherence(a, a->sup_fit, a->deep_fit, x_site, 3.0f);
    /* through a tilt: the edge against the surface's own course, and the
     * deep border placed from the cortex (before the top: the top's
     * searches go up from it) */
    if (coh < PF_FIBRELESS && on_bone) {
        x_site = an_pf_tilted_edge(a, x_site);
        coh = an_band_coherence(a, a->sup_fit, a->deep_fit, x_site, 3.0f);
    }
    float found[AN_MAX_STRIPS];
    memcpy(found, a->deep_fit, a->ns * sizeof(float));
    const bool placed = on_bone && an_pf_deep_on_bone(a, x_site, !(coh < PF_FIBRELESS));
    if (placed) {
        int nw = r->n_warnings;
        an_band_measure(a, r);
        r->n_warnings = nw;
    }
    bool coarse = tilted_top(a, r, x_site, 3.0f, 10.0f);
    if (coh < PF_FIBRELESS && an_pf_spread_border(a, r, x_site))
        an_warn(r, "no fibre echoes in the fascia (probe tilted?): its superficial border is "
                "where the fat pad's septa end");
    else if (coarse)
        an_warn(r, "no fibre echoes in the fascia (probe tilted?): its superficial border is "
                "the fat pad's edge, measured coarsely");
    /* The dip rule (an_plantar_top.c) was tuned against the deep border
     * the search found: its "band's lowest 0.6 mm" is taken there (on the
     * cortex-placed border it put a right top 5 mm up in the fat in its own
     * test); then the placed border again. To be tuned on the placed one. */
    if (placed) {
        for (uint32_t s = 0; s < a->ns; s++)
            if (!isnan(a->deep_fit[s]))
                a->deep_fit[s] = found[s];
        an_plantar_top_over_lesion(a, r, x_site);
        an_pf_deep_on_bone(a, x_site, !(coh < PF_FIBRELESS));
        int nw = r->n_warnings;
        an_band_measure(a, r);
        r->n_warnings = nw;
    } else {
        an_plantar_top_over_lesion(a, r, x_site);
    }
    /* A deep border bulged up onto a lesion's lower edge (an_plantar_deep.c);
     * fibrillar bands only: on fibre-less ones it moved right borders too
     * (plantar only, 2026 case 80 0.07 -> 0.58, 2028 146 0.00 -> 0.60). */
    if (!(coh < PF_FIBRELESS) && an_pf_deep_under_lesion(a, x_site)) {
        int nw = r->n_warnings;
        an_band_measure(a, r);
        r->n_warnings = nw;
    }
    float sd0, site_mm = an_thickness_at(a, x_site, &sd0, NULL);
    if (!isnan(site_mm)) {
        int nw = r->n_warnings;
        an_pf_anterior_deep_border(a, x_site, site_mm);
        an_band_measure(a, r);
        r->n_warnings = nw;
    }
    float z = NAN;
    r->thickness_mm = an_thickness_at(a, x_site, &r->thickness_sd_mm, &z);
    r->site_x_mm = x_site;
    r->site_z_mm = z;
    r->abnormal_limit_mm = 4.0f;
    r->abnormal = r->thickness_mm > 4.0f;
    if (r->hypoechoic)
        an_warn(r, "fascia darker than the heel fat pad (%.1f dB)", r->echogenicity_db);
}
