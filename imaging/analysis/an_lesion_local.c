/* Targets against the band's local level: the second pass of the target
 * search (an_lesion.c) for bands whose echo level swings along them, and
 * the rules its regions must pass to become targets. Thin plantar fasciae
 * swing by 6-15 dB along the band (the specular fibre echo with the band's
 * curve, the calcaneus's edge); a level fitted across the image leaves
 * that in the residual, whose spread then hides -6 to -15 dB lesions.
 * Against a local level they stand out, but so do the dark layers that
 * borders run off the band take in, hence the rules. */
#include "an_lesion.h"

/* The local level: the 75th percentile of the band's strip medians within
 * +/-6 mm (set on the tuning seeds 2026/2027, plantar only: +/-10 mm found
 * 2 + 2 fewer lesions of 141 + 161 there, +/-4 to 8 mm within one or two of
 * +/-6; a band's level swings over 5-10 mm). */
#define AN_LOCAL_HALF_MM 6.0f
#define AN_LOCAL_PCT 75.0f

/* Per strip, the 75th percentile of the strip medians of the residual
 * within +/-6 mm. */
bool an_local_level(const tl_analyzer *a, const int16_t *lab, const float *res, float *loc)
{
    const uint32_t ns = a->ns, nc = a->cell_rows;
    const float strip_mm = (float)a->sw * a->sp;
    float rm[AN_MAX_STRIPS], v[AN_MAX_STRIPS], col[512];
    uint32_t n = 0;
    for (uint32_t s = 0; s < ns; s++) {
        uint32_t k = 0;
        for (uint32_t c = 0; c < nc && k < 512; c++)
            if (lab[(size_t)s * nc + c])
                col[k++] = res[(size_t)s * nc + c];
        rm[s] = k >= 3 ? an_percentile_f(col, k, 50) : NAN;
        n += k >= 3;
    }
    if (n < 12)
        return false;
    const int hw = (int)lroundf(AN_LOCAL_HALF_MM / strip_mm);
    for (int s = 0; s < (int)ns; s++) {
        uint32_t k = 0;
        for (int q = s - hw; q <= s + hw; q++)
            if (q >= 0 && q < (int)ns && !isnan(rm[q]))
                v[k++] = rm[q];
        loc[s] = k >= (uint32_t)hw ? an_percentile_f(v, k, AN_LOCAL_PCT) : 0.0f;
    }
    return true;
}

/* Does t lie on a target already found (either centroid inside the
 * other's extent)? */
static bool repeats(const tl_analysis_result *r, const tl_analysis_target *t)
{
    for (uint32_t k = 0; k < r->n_targets; k++) {
        const tl_analysis_target *u = &r->targets[k];
        if ((fabsf(t->x_mm - u->x_mm) <= 0.5f * u->width_mm && fabsf(t->z_mm - u->z_mm) <= 0.5f * u->depth_mm) ||
            (fabsf(t->x_mm - u->x_mm) <= 0.5f * t->width_mm && fabsf(t->z_mm - u->z_mm) <= 0.5f * t->depth_mm))
            return true;
    }
    return false;
}

/* Flanks of the local test: band cells 0.5-5 mm beyond either end of the
 * region at the same depth below the superficial border; the region must
 * be this much darker than each flank there is. */
#define AN_FLANK_GAP_MM 0.5f
#define AN_FLANK_MM 5.0f
#define AN_FLANK_DB 5.0f
/* Steepest band (rise over run, ~20 deg) the second pass searches. */
#define AN_STEEP_SLOPE 0.36f

void an_region_at_borders(const tl_analyzer *a, const an_region *R, uint32_t *at_sup,
                          uint32_t *at_deep)
{
    const uint32_t nc = a->cell_rows;
    const int16_t *lab = a->label;
    *at_sup = *at_deep = 0;
    for (uint32_t s = R->s0; s <= R->s1; s++) {
        bool top = false, bottom = false;
        for (uint32_t c = R->c0; c <= R->c1; c++) {
            size_t i = (size_t)s * nc + c;
            if (lab[i] != R->id)
                continue;
            top |= c == 0 || !lab[i - 1];
            bottom |= c + 1 == nc || !lab[i + 1];
        }
        *at_sup += top;
        *at_deep += bottom;
    }
}

/* Is region R darker than the band on both sides of it, at the same place
 * across the band? A lesion is a bounded dark area in the band; a dark
 * layer the borders took in (muscle under a deep border run too deep, fat
 * over a superficial one) runs on beside it. res is the local residual
 * (the first pass's plus loc). */
static bool flanks_darker(const tl_analyzer *a, const an_pass *P, const float *res,
                          const an_region *R)
{
    const uint32_t ns = a->ns, nc = a->cell_rows;
    const int16_t *lab = a->label;
    float u0 = INFINITY, u1 = -INFINITY;
    double sr = 0;
    uint32_t nr = 0;
    for (uint32_t s = R->s0; s <= R->s1; s++) {
        if (isnan(P->sup[s]))
            continue;
        for (uint32_t c = R->c0; c <= R->c1; c++) {
            size_t i = (size_t)s * nc + c;
            if (lab[i] != R->id)
                continue;
            float u = ((float)c + 0.5f) * P->rpc - P->sup[s];
            u0 = an_minf(u0, u);
            u1 = an_maxf(u1, u);
            sr += res[i] + P->loc[s];
            nr++;
        }
    }
    if (!nr)
        return false;
    /* Along one border over more than half its width while touching the
     * other over under a quarter: a dark layer on the band's surface.
     * Against the local level the layer of muscle (or fat) that a border
     * run 1-3 mm off the band takes in looks the same, and the flank test
     * does not reliably reject it (plantar-only 2027 case 46: the deep
     * border 1.8 mm into the muscle in front of the insertion). Those are
     * left to the first pass. A lesion filling a thin band's thickness
     * touches both borders. */
    uint32_t at_sup, at_deep, w = R->s1 - R->s0 + 1, seen = 0;
    an_region_at_borders(a, R, &at_sup, &at_deep);
    for (uint32_t s = R->s0; s <= R->s1; s++)
        seen += !isnan(a->sup_fit[s]) && !isnan(a->deep_fit[s]);
    if ((2 * at_sup > w && 4 * at_deep < w) || (2 * at_deep > w && 4 * at_sup < w))
        return false;
    /* where the band was bridged over most of the region (no borders seen:
     * a bone shadow, the band leaving the image), what lies between the
     * bridged borders is not known to be band */
    if (2 * seen < w)
        return false;
    /* a band running steeply through the image there (its borders bridged
     * down a bone's edge) is not a fascia seen along its fibres */
    {
        int h = (int)lroundf(2.0f / P->strip_mm);
        int q0 = (int)R->s0 - h < (int)P->band_s0 ? (int)P->band_s0 : (int)R->s0 - h;
        int q1 = (int)R->s1 + h > (int)P->band_s1 ? (int)P->band_s1 : (int)R->s1 + h;
        while (q0 < q1 && isnan(P->sup[q0]))
            q0++;
        while (q1 > q0 && isnan(P->sup[q1]))
            q1--;
        if (q1 > q0 && fabsf(P->sup[q1] - P->sup[q0]) * a->sp >
                           AN_STEEP_SLOPE * (float)(q1 - q0) * P->strip_mm)
            return false;
    }
    const float mean = (float)(sr / nr);
    const int gap = (int)lroundf(AN_FLANK_GAP_MM / P->strip_mm) + 1;
    const int far = (int)lroundf(AN_FLANK_MM / P->strip_mm);
    int sides = 0;
    for (int side = -1; side <= 1; side += 2) {
        double sf = 0;
        uint32_t nf = 0;
        for (int k = gap; k <= far; k++) {
            int s = side < 0 ? (int)R->s0 - k : (int)R->s1 + k;
            if (s < 0 || s >= (int)ns)
                break;
            if (isnan(P->sup[s]))
                continue;
            for (uint32_t c = 0; c < nc; c++) {
                size_t i = (size_t)s * nc + c;
                if (!lab[i])
                    continue;
                float u = ((float)c + 0.5f) * P->rpc - P->sup[s];
                if (u < u0 || u > u1)
                    continue;
                sf += res[i] + P->loc[s];
                nf++;
            }
        }
        if (nf < nr / 4 + 4)
            continue;
        if ((float)(sf / nf) - mean < AN_FLANK_DB / P->db)
            return false;
        sides++;
    }
    return sides > 0;
}

/* The layer under the band a deep border run too deep takes in (first
 * pass, plantar): in front of the insertion the fascia thins over the
 * flexor muscle, and where the deep border runs 1-3 mm into the muscle a
 * stretch of it becomes a region along the deep border, only weakly
 * darker than the band (the muscle is 5-8 dB under it) and as dark as the
 * tissue just under the border, which is the same muscle. A lesion on the
 * deep border is either darker than the muscle beneath or far darker than
 * the band. Plantar-only 300-case runs of seeds 2026/2027: the rule takes
 * 13 false targets (59, 187, 291, 297 of 2026 and 181 of 2027 in cases
 * without a lesion; 74, 122, 124, 262 / 2, 48, 103, 278 in cases with
 * one), all with the deep border 0.5-2.6 mm too deep, levels within
 * -4.7..+1.0 dB of the tissue under it and contrasts of -5.4..-8 dB; the
 * 19 hits lying on the deep border have contrasts of -8.7 dB or more or
 * lie 1.6 dB or more above the tissue under it. */
#define AN_LAYER_UNDER_MM0 0.25f
#define AN_LAYER_UNDER_MM1 1.5f

float an_under_deep_db(const tl_analyzer *a, const an_pass *P, const an_region *R)
{
    const uint32_t nc = a->cell_rows, w = R->s1 - R->s0 + 1;
    double su = 0, sr = 0;
    uint32_t nu = 0, nr = 0;
    for (uint32_t s = R->s0; s <= R->s1; s++) {
        /* the region's level: its cells within its half-maximum extent */
        for (uint32_t c = R->c0; c <= R->c1; c++)
            if (a->label[(size_t)s * nc + c] == R->id) {
                sr += a->cell[(size_t)s * nc + c];
                nr++;
            }
        if (isnan(P->deep[s]))
            continue;
        for (uint32_t c = 0; c < nc; c++) {
            float rc = ((float)c + 0.5f) * P->rpc, v = a->cell[(size_t)s * nc + c];
            if (rc > P->deep[s] + AN_LAYER_UNDER_MM0 / a->sp &&
                rc < P->deep[s] + AN_LAYER_UNDER_MM1 / a->sp && !isnan(v)) {
                su += v;
                nu++;
            }
        }
    }
    if (nu < w || !nr)
        return NAN;
    return (float)(su / nu - sr / nr) * P->db;
}

bool an_deep_layer(const tl_analyzer *a, const an_pass *P, const an_region *R, float contrast_db)
{
    if (contrast_db < -AN_LAYER_CONTRAST_DB)
        return false;
    uint32_t at_sup, at_deep, w = R->s1 - R->s0 + 1;
    an_region_at_borders(a, R, &at_sup, &at_deep);
    if (!(2 * at_deep > w && 4 * at_sup < w))
        return false;
    return an_under_deep_db(a, P, R) < AN_LAYER_UNDER_DB;
}

/* Widest band (its mean thickness over the region, against the thickness
 * measured at the site) the second pass searches. The plantar fascia is
 * thickest at its insertion and thins away from it; a band that reads far
 * thicker than at the site has a border off the band there (plantar-only
 * 2027 case 116: the superficial border 4.25 mm up in the fat pad, the
 * band 6.8 mm for 3.0 at the site, a region of fat against the local
 * level). Seeds 2026/2027: the 27 second-pass hits lie on bands 0.9-1.36 x
 * the site's thickness, that false call on 2.3 x. */
#define AN_LOCAL_MAX_THICK_RATIO 1.6f

static bool band_thicker_than_site(const tl_analyzer *a, const tl_analysis_result *r,
                                   const an_pass *P, const an_region *R)
{
    if (!(r->thickness_mm > 0))
        return false;
    double th = 0;
    uint32_t n = 0;
    for (uint32_t s = R->s0; s <= R->s1; s++)
        if (!isnan(P->sup[s]) && !isnan(P->deep[s])) {
            th += (P->deep[s] - P->sup[s]) * a->sp;
            n++;
        }
    return n && th / n > AN_LOCAL_MAX_THICK_RATIO * r->thickness_mm;
}

bool an_local_region_ok(const tl_analyzer *a, const tl_analysis_result *r, const an_pass *P,
                        const float *res, const an_region *R, const tl_analysis_target *t)
{
    return !repeats(r, t) && !band_thicker_than_site(a, r, P, R) && flanks_darker(a, P, res, R);
}
