/* Plantar fascia: the band under the heel fat pad on the inferior
 * calcaneus, measured at the insertion (design.md section 2): the cortex
 * rule for the calcaneus, the tilted (fibre-less) band's superficial
 * border, and the deep border in front of the insertion. */
#include "an_internal.h"

#include <string.h>

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
    if (!(coh < 0.42f))
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

static void anterior_deep_border(tl_analyzer *a, float x_site, float site_mm)
{
    const int ns = (int)a->ns, h = (int)a->h;
    const float sp = a->sp, step_db = 6.0f * 255.0f / a->dr_db;
    double *cs = a->cum, *cn = a->cum + h + 1;   /* 4 (h + 1) doubles */
    int nb[2] = { 0, 0 };
    for (int s = 0; s < ns; s++) {
        float dx = an_strip_x(a, (uint32_t)s) - x_site;
        if (!isnan(a->bone_row[s]) && fabsf(dx) < 8.0f)
            nb[dx > 0]++;
    }
    const int dir = nb[1] <= nb[0] ? 1 : -1;   /* the side without bone */
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

void an_plantar(tl_analyzer *a, const tl_analysis_params *p, tl_analysis_result *r)
{
    /* under the heel fat pad, on the inferior calcaneus at its origin */
    an_find_bone(a, 3.0f);
    drop_lineless_bone(a);
    an_band_over_bone(a, 3.0f, 10.0f, 0.0f, 0.15f, 2.5f);
    an_band_measure(a, r);
    an_polyline(a, a->bone_row, &r->bone);
    if (!r->structure_found)
        return;
    r->echogenicity_db = an_band_vs_above(a, p);
    r->hypoechoic = r->echogenicity_db < 0;
    /* Insertion: the anterior edge of the inferior calcaneus, where its
     * surface leaves the band. */
    float x_site = an_insertion_edge(a);
    if (isnan(x_site)) {
        an_warn(r, "calcaneus not found: thickness measured at the thickest part of the band");
        float best = 0;
        x_site = r->profile_x_mm[0];
        for (uint32_t i = 0; i < r->n_profile; i++)
            if (r->profile_mm[i] > best) {
                best = r->profile_mm[i];
                x_site = r->profile_x_mm[i];
            }
    }
    if (tilted_top(a, r, x_site, 3.0f, 10.0f))
        an_warn(r, "no fibre echoes in the fascia (probe tilted?): its superficial border is "
                "the fat pad's edge, measured coarsely");
    float sd0, site_mm = an_thickness_at(a, x_site, &sd0, NULL);
    if (!isnan(site_mm)) {
        int nw = r->n_warnings;
        anterior_deep_border(a, x_site, site_mm);
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
