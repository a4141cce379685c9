/* Border trust for plantar targets: whether a candidate region lies in
 * the fascia at all. The target search takes the band between its two
 * borders as given; where a border has left the band (up into the fat
 * pad, down into the muscle, down the calcaneus's anterior face) the
 * region between it and the band is some other tissue, darker than the
 * fascia's fibre echo, and passes every contrast test. Physical cues
 * say the borders are not the band's there:
 *  - the fascia runs superficial to the calcaneus: nothing deeper than
 *    the cortex beside it is fascia (the dark corner between the bone's
 *    anterior face and the muscle, reached by borders that dive with the
 *    bone);
 *  - a fascia's thickness changes slowly along it (it tapers over
 *    centimetres to about two thirds of its insertion's): borders under
 *    half the site's thickness apart are not its borders, and where the
 *    band reads markedly thicker than just either side of a region
 *    running along one of its borders, that border bulged off the band
 *    and the region is the fat (or muscle) it took
 *    in. A lesion inside the band does not move its borders apart, and
 *    one that fills the band touches both;
 *  - a lesion lies in the fascia's substance, reaching its middle: a
 *    region confined to the band's lower half, on its deep border and no
 *    darker than the tissue under that border is that tissue, the muscle
 *    a deep border run too deep took in. */
#include "an_lesion.h"

/* Strips either side of a region that show the band's own course. */
#define AN_TRUST_NEAR_MM 3.0f
#define AN_TRUST_FAR_MM 8.0f
/* How far laterally (mm) the cortex is looked for beside a region. */
#define AN_TRUST_BONE_MM 2.0f
/* Local thickening of the band over a one-border region (mm) that marks
 * the border as off the band. Tuning seeds 2028/2031, plantar-only 300
 * cases: the layers taken in read the band 0.65-2.9 mm thicker than at
 * its flanks, the one-border lesions hit 0.41 mm or less but for one
 * under a deep border bulged over perifascial fluid (2026 176, kept by
 * the test of the tissue under the border). */
#define AN_TRUST_BULGE_MM 0.6f

/* Thinnest band over a region, against the thickness measured at the
 * site. Tuning seeds 2026-2028/2031, plantar-only 300 cases: the 546 hits
 * lie on bands 0.63-2.4 x the site's, 5 false targets (3 in clean cases)
 * on 0.23-0.49 x, their borders 1.3-5.3 mm off the band there. */
#define AN_TRUST_THIN_RATIO 0.5f

/* Depth of a region's top within the band (0 at the superficial border,
 * 1 at the deep one) from which, on the deep border, it is the lower part
 * of a band whose deep border left the fascia (see deep_half_layer). */
#define AN_TRUST_LOWER_PART 0.5f
/* Least share of its width over which such a region reaches the deep
 * border (a layer taken in where the border leaves the band gradually
 * touches it only at its thick end: 2027 237, 3 of 13 strips). */
#define AN_TRUST_DEEP_TOUCH 0.2f
/* How much darker (dB) than such a region the tissue under the deep border
 * may be for the region to be that tissue: the layers taken in lie within
 * -2.3..+1 dB of it; a lesion reached through a top left up in the fat,
 * over perifascial fluid, lies 4.3 dB above the fluid (survey 3005 25). */
#define AN_TRUST_UNDER_DARKER_DB 3.0f

/* Mean depth of region R's top edge within the band over its strips, as a
 * share of the band's thickness there (0 at the top); NAN when none. */
static float top_share(const tl_analyzer *a, const an_pass *P, const an_region *R)
{
    const uint32_t nc = a->cell_rows;
    double sum = 0;
    uint32_t n = 0;
    for (uint32_t s = R->s0; s <= R->s1; s++) {
        if (isnan(P->sup[s]) || isnan(P->deep[s]) || !(P->deep[s] > P->sup[s]))
            continue;
        for (uint32_t c = R->c0; c <= R->c1; c++)
            if (a->label[(size_t)s * nc + c] == R->id) {
                sum += ((float)c * P->rpc - P->sup[s]) / (P->deep[s] - P->sup[s]);
                n++;
                break;
            }
    }
    return n ? (float)(sum / n) : NAN;
}

/* A region in the band's lower half only, reaching the deep border and no
 * darker than the tissue under that border (within AN_LAYER_UNDER_DB), is
 * that tissue: the deep border ran into the muscle (in front of the
 * calcaneus, where the fascia rises off the bone and the border stays
 * level) and the region is the layer of muscle it took in. pspec's
 * an_deep_layer takes such layers only when weakly dark (> -8.5 dB) and
 * along the deep border over more than half their width: against a thin,
 * bright fascia the muscle is -10 to -15 dB (survey 3006 52, 3005 74),
 * -8.6 dB against a thick one (tuning 2028 48), and where the border
 * leaves the band gradually the layer touches it only at its thick end
 * (2027 237: 3 of 13 strips). Where it lies tells it from a lesion: the
 * layers' tops lie at 0.6-0.85 of the band's thickness, those of the
 * hits along the deep border no brighter than the tissue under it at
 * 0.14-0.33 (survey seeds 3005-3007; the simulator centres its lesions
 * in the band, so a real lesion confined to the fascia's deep half, as
 * dark as the muscle under it, would be refused too). */
static bool deep_half_layer(const tl_analyzer *a, const an_pass *P, const an_region *R,
                            uint32_t at_deep)
{
    const uint32_t w = R->s1 - R->s0 + 1;
    if ((float)at_deep < AN_TRUST_DEEP_TOUCH * (float)w)
        return false;
    if (!(top_share(a, P, R) >= AN_TRUST_LOWER_PART))
        return false;
    float under = an_under_deep_db(a, P, R);
    return under < AN_LAYER_UNDER_DB && under > -AN_TRUST_UNDER_DARKER_DB;
}

/* Mean strip index and mean of v over strips [s0, s1] within the band. */
static bool flank_mean(const float *v, int s0, int s1, int ns, float *ms, float *mv)
{
    double sv = 0, ss = 0;
    int n = 0;
    for (int s = s0 < 0 ? 0 : s0; s <= s1 && s < ns; s++)
        if (!isnan(v[s])) {
            sv += v[s];
            ss += s;
            n++;
        }
    if (n < 3)
        return false;
    *ms = (float)(ss / n);
    *mv = (float)(sv / n);
    return true;
}

/* The band's thickness at the region's middle strip sm as its flanks
 * show it (rows; linear between both sides, else the one side there is);
 * NAN when neither side has enough band. */
static float flank_thickness(const tl_analyzer *a, const an_pass *P, const an_region *R, float sm)
{
    const int ns = (int)a->ns;
    const int f0 = (int)lroundf(AN_TRUST_NEAR_MM / P->strip_mm),
              f1 = (int)lroundf(AN_TRUST_FAR_MM / P->strip_mm);
    float th[AN_MAX_STRIPS];
    for (int s = 0; s < ns; s++)
        th[s] = P->deep[s] - P->sup[s];
    float ls, lv, rs, rv;
    bool left = flank_mean(th, (int)R->s0 - f1, (int)R->s0 - f0, ns, &ls, &lv);
    bool right = flank_mean(th, (int)R->s1 + f0, (int)R->s1 + f1, ns, &rs, &rv);
    if (left && right)
        return lv + (rv - lv) * (sm - ls) / (rs - ls);
    return left ? lv : right ? rv : NAN;
}

bool an_region_off_band(const tl_analyzer *a, const tl_analysis_result *r, const an_pass *P,
                        const an_region *R, float z_mm, float contrast_db)
{
    const int ns = (int)a->ns;
    /* deeper than the cortex beside it */
    const int h = (int)lroundf(AN_TRUST_BONE_MM / P->strip_mm);
    const float zrow = z_mm / a->sp;
    for (int s = (int)R->s0 - h; s <= (int)R->s1 + h; s++)
        if (s >= 0 && s < ns && !isnan(a->bone_row[s]) && zrow > a->bone_row[s])
            return true;
    double th = 0, ss = 0;
    uint32_t n = 0;
    for (uint32_t s = R->s0; s <= R->s1; s++)
        if (!isnan(P->sup[s]) && !isnan(P->deep[s])) {
            th += P->deep[s] - P->sup[s];
            ss += s;
            n++;
        }
    if (!n)
        return false;
    /* a band far thinner than at the site: the fascia tapers away from
     * its insertion to about two thirds, so borders under half the site's
     * thickness apart are on something else; a weakly dark region there
     * is that other tissue (2026 241, 2027 137: -7.0, -5.3 dB), a darker
     * one can be a lesion or fluid the borders missed (survey seed 3000
     * 174: -12.7 dB, hit; 2028 207, -9.9 dB in a clean case, stays) */
    const bool weak = contrast_db > -AN_LAYER_CONTRAST_DB;
    if (weak && r->thickness_mm > 0 &&
        (float)(th / n) * a->sp < AN_TRUST_THIN_RATIO * r->thickness_mm)
        return true;
    uint32_t at_sup, at_deep, w = R->s1 - R->s0 + 1;
    an_region_at_borders(a, R, &at_sup, &at_deep);
    if (deep_half_layer(a, P, R, at_deep))
        return true;
    /* a layer along one border where the band bulges */
    if (!((2 * at_sup > w && 4 * at_deep < w) || (2 * at_deep > w && 4 * at_sup < w)))
        return false;
    float course = flank_thickness(a, P, R, (float)(ss / n));
    if (isnan(course) || ((float)(th / n) - course) * a->sp < AN_TRUST_BULGE_MM)
        return false;
    /* Along the superficial border the layer taken in is the fat pad,
     * weakly dark; a darker region there is a lesion under a wrong top
     * (survey seed 3001 21: -12.8 dB, kept). Under the fascia
     * perifascial fluid can fill a deep border's bulge (2026 176: -10 dB,
     * the tissue under it 6.8 dB brighter): along the deep border the
     * region must also be the tissue under that border (an_deep_layer's
     * test), the muscle it took in. */
    return 2 * at_sup > w ? weak : an_under_deep_db(a, P, R) < AN_LAYER_UNDER_DB;
}
