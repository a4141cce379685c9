/* Fluid next to the structure: perifascial fluid under the plantar fascia,
 * and the gate that keeps a sub-millimetre pocket in the ankle recess from
 * becoming an injection target. */
#include "an_lesion.h"

#include <string.h>

/* Fluid must be this much darker than the tissue beneath it (dB), and
 * nearer the display floor than half that tissue's grey level. */
#define AN_FLUID_VS_TISSUE_DB 2.5f
#define AN_FLUID_VS_TISSUE_GREY 0.5f
/* At the display floor dB differences are squeezed by the clipping: fluid
 * whose grey is under this share of the tissue's beneath it is fluid when
 * that tissue is AN_FLUID_FLOOR_DB or more above the floor (the fluid is
 * then mostly at it). A difference of AN_FLUID_FLOOR_DB, as before, asked
 * the same tissue for ~1.2 dB and put fluid over 1.15 dB tissue (the
 * region one cell row larger once the dark muscle beneath it no longer
 * passed for bone) on the wrong side of the line. */
#define AN_FLUID_FLOOR_RATIO 0.15f
#define AN_FLUID_FLOOR_DB 1.0f

/* Perifascial fluid hugs the fascia: over at least this share of its
 * width a region's top lies within AN_FLUID_HUG_MM of the band's deep
 * border. At the calcaneus's anterior corner the dark wedge between the
 * fascia, the bone's sloping edge and the muscle is as dark as fluid
 * against the tissue beneath it, but lies under 0.4-1 mm of brighter
 * tissue (plantar-only 300-case runs of seeds 2026/2027: such wedges hug
 * the border over 0-17 % of their width, the 54 fluid layers found over
 * 36-100 %). */
#define AN_FLUID_HUG_MM 0.5f
#define AN_FLUID_HUG_SHARE 0.25f
/* Fluid at the display floor over muscle at it (low gain): a layer at
 * least AN_FLUID_LAYER_MM thick (4 cells; the muscle's fibre lines lie
 * 0.9 mm apart down the image, so no gap between them is) from the deep
 * border down, over AN_FLUID_LAYER_WIDTH_MM along the band. Survey seeds
 * 3003/3004, plantar only: the 4 fluid layers the level test missed are
 * such layers over 4.9-7.1 mm; the dark regions under the band in clean
 * cases as dark against the muscle's lines, over 3.3 mm at most. */
#define AN_FLUID_LAYER_MM 1.0f
#define AN_FLUID_LAYER_WIDTH_MM 4.0f

/* Share of the strips of region R (label R->id in lab) whose top cell lies
 * within AN_FLUID_HUG_MM of the deep border. */
static float hug_share(const tl_analyzer *a, const int16_t *lab, const an_region *R)
{
    const uint32_t nc = a->cell_rows;
    const float rpc = AN_CELL_MM / a->sp;
    uint32_t n = 0, near = 0;
    for (uint32_t s = R->s0; s <= R->s1; s++)
        for (uint32_t c = R->c0; c <= R->c1; c++)
            if (lab[(size_t)s * nc + c] == R->id) {
                float rc = ((float)c + 0.5f) * rpc;
                near += (rc - a->deep_fit[s]) * a->sp <= AN_FLUID_HUG_MM;
                n++;
                break;
            }
    return n ? (float)near / (float)n : 0.0f;
}

/* Percentile pct of the cell levels of the soft tissue 2.5-6 mm deep to
 * the band over strips s0..s1 (above any bone), NAN when there is too
 * little of it. */
static float deep_tissue_level(tl_analyzer *a, uint32_t s0, uint32_t s1, float pct)
{
    const uint32_t nc = a->cell_rows;
    const float rpc = AN_CELL_MM / a->sp;
    float v[512];
    uint32_t n = 0;
    for (uint32_t s = s0; s <= s1 && s < a->ns; s++) {
        if (isnan(a->deep_fit[s]))
            continue;
        float lim = isnan(a->bone_row[s]) ? (float)a->h : a->bone_row[s] - 0.5f / a->sp;
        for (uint32_t c = 0; c < nc && n < 512; c++) {
            float rc = ((float)c + 0.5f) * rpc;
            if (rc < a->deep_fit[s] + 2.5f / a->sp || rc > a->deep_fit[s] + 6.0f / a->sp || rc > lim)
                continue;
            float x = a->cell[(size_t)s * nc + c];
            if (!isnan(x))
                v[n++] = x;
        }
    }
    return n >= 8 ? an_percentile_f(v, n, pct) : NAN;
}

/* Longest stretch (mm) of strips along which region R (label R->id in
 * lab) is a layer at least AN_FLUID_LAYER_MM thick, starting within
 * AN_FLUID_HUG_MM of the deep border (a gap of one strip bridged). */
static float floor_layer_mm(const tl_analyzer *a, const int16_t *lab, const an_region *R)
{
    const uint32_t nc = a->cell_rows;
    const float rpc = AN_CELL_MM / a->sp, strip_mm = (float)a->sw * a->sp;
    const uint32_t need = (uint32_t)ceilf(AN_FLUID_LAYER_MM / AN_CELL_MM);
    uint32_t best = 0, cur = 0, miss = 0;
    for (uint32_t s = R->s0; s <= R->s1; s++) {
        uint32_t c = R->c0, run = 0;
        while (c <= R->c1 && lab[(size_t)s * nc + c] != R->id)
            c++;
        if (c <= R->c1 && (((float)c + 0.5f) * rpc - a->deep_fit[s]) * a->sp <= AN_FLUID_HUG_MM)
            while (c + run < nc && lab[(size_t)s * nc + c + run] == R->id)
                run++;
        if (run >= need) {
            cur += 1 + miss;
            miss = 0;
        } else if (cur && !miss) {
            miss = 1;
            continue;
        } else {
            cur = miss = 0;
        }
        best = cur > best ? cur : best;
    }
    return (float)best * strip_mm;
}

/* Is dark region R (label R->id in lab, mean grey level) a fluid layer
 * at the display floor where the tissue beneath is at the floor as well
 * but for its echo lines (their grey: lines): under AN_FLUID_FLOOR_RATIO
 * of the lines, the lines visibly above the floor (db: dB per grey), and
 * a layer along the deep border over AN_FLUID_LAYER_WIDTH_MM? */
static bool floor_layer(const tl_analyzer *a, const int16_t *lab, const an_region *R, float level,
                        float lines, float db)
{
    return level < AN_FLUID_FLOOR_RATIO * lines && lines * db > AN_FLUID_FLOOR_DB &&
           floor_layer_mm(a, lab, R) >= AN_FLUID_LAYER_WIDTH_MM;
}

/* Perifascial fluid: an anechoic layer hugging the band's deep border
 * (cells 12 dB or more below the band's normal level). */
void an_find_fluid(tl_analyzer *a, const tl_analysis_params *p, tl_analysis_result *r,
                   const float *trend)
{
    const uint32_t ns = a->ns, nc = a->cell_rows;
    const float rpc = AN_CELL_MM / a->sp, db = p->dynamic_range_db / 255.0f;
    const float strip_mm = (float)a->sw * a->sp;
    int16_t *lab = a->label;
    memset(lab, 0, (size_t)ns * nc * sizeof *lab);
    for (uint32_t s = 0; s < ns; s++) {
        if (isnan(a->sup_fit[s]))
            continue;
        float lim = isnan(a->bone_row[s]) ? INFINITY : a->bone_row[s] - 0.3f / a->sp;
        for (uint32_t c = 0; c < nc; c++) {
            float rc = ((float)c + 0.5f) * rpc;
            bool below = rc > a->deep_fit[s] + 0.1f / a->sp && rc < a->deep_fit[s] + 2.5f / a->sp;
            /* deep side only: above lies the fat pad, whose lobules are dark */
            if (!below || rc > lim)
                continue;
            float v = a->cell[(size_t)s * nc + c];
            a->les_res[(size_t)s * nc + c] = v - trend[s];
            /* anechoic: near the display floor, not just darker tissue (15 dB
             * below the band, or at the floor under a band that is itself
             * within 15 dB of it: a thick hypoechoic fascia at low gain) */
            float drop = (trend[s] - v) * db;
            lab[(size_t)s * nc + c] =
                !isnan(v) && v < 0.25f * trend[s] &&
                        (drop > 15.0f || (v < 0.1f * trend[s] && drop > 5.0f)) ? 1 : 2;
        }
    }
    an_region reg[16];
    uint32_t min_cells = (uint32_t)(2.0f / (strip_mm * AN_CELL_MM)) + 1;
    int nreg = an_label_regions(a, lab, reg, 16, min_cells, a->les_res, NULL);
    for (int k = 0; k < nreg; k++) {
        const an_region *R = &reg[k];
        /* Fluid is darker than the soft tissue it lies on: the gaps between
         * the fibre lines of a hypoechoic muscle can be as dark against the
         * fascia, but not against the muscle itself. */
        float tissue = deep_tissue_level(a, R->s0, R->s1, 50.0f);
        float fl = (float)(R->raw / R->n), drop = (tissue - fl) * db;
        /* (near the display floor dB differences are squeezed: fluid at the
         * floor under tissue with nearly seven times its grey needs only
         * that tissue to be visibly above the floor) */
        bool darker = fl < AN_FLUID_FLOOR_RATIO * tissue ? tissue * db > AN_FLUID_FLOOR_DB
                                                          : drop > AN_FLUID_VS_TISSUE_DB &&
                                                                fl < AN_FLUID_VS_TISSUE_GREY * tissue;
        /* At low gain the muscle beneath is at the display floor as well,
         * its median level as dark as fluid, but for its fibre lines
         * (every 0.9 mm down, at any depth): fluid is the layer at the
         * floor against those lines that hugs the band thicker than any
         * gap between them, over several mm (floor_layer). */
        if (!darker && !isnan(tissue))
            darker = floor_layer(a, lab, R, fl, deep_tissue_level(a, R->s0, R->s1, 90.0f), db);
        if (isnan(tissue) || !darker || hug_share(a, lab, R) < AN_FLUID_HUG_SHARE)
            continue;
        tl_analysis_target t;
        t.kind = TL_TARGET_FLUID;
        t.x_mm = ((float)(R->sx / R->n) + 0.5f) * strip_mm - 0.5f * a->sp;
        t.z_mm = ((float)(R->sz / R->n) + 0.5f) * AN_CELL_MM;
        t.width_mm = (float)(R->s1 - R->s0 + 1) * strip_mm;
        t.depth_mm = (float)(R->c1 - R->c0 + 1) * AN_CELL_MM;
        t.area_mm2 = (float)R->n * strip_mm * AN_CELL_MM;
        t.contrast_db = (float)(R->sum / R->n) * db;
        /* a layer, not a speck: at least 3 mm along the band */
        if (t.width_mm < 3.0f)
            continue;
        t.confidence = an_minf(1.0f, 0.3f + t.width_mm / 15.0f);
        r->perifascial_fluid = true;
        an_add_target(r, &t);
    }
    if (r->perifascial_fluid)
        an_warn(r, "perifascial fluid next to the fascia");
}

/* A joint effusion worth a needle: the recess analysis reports the anechoic
 * run above the floor; a pocket under 1 mm deep or 1 mm^2 in area is
 * within what the cartilage surface, the capsule's partial volume and a
 * normal joint's film of fluid show, not an effusion of grade 1 or more. */
#define AN_EFFUSION_MIN_AREA_MM2 1.0f

int an_effusion_grade(float depth_mm)
{
    if (!(depth_mm >= AN_EFFUSION_MIN_DEPTH_MM))
        return 0;
    return depth_mm < 2.6f ? 1 : depth_mm < 4.8f ? 2 : 3;
}

void an_effusion_gate(tl_analysis_result *r)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->n_targets; i++) {
        const tl_analysis_target *t = &r->targets[i];
        if (t->kind == TL_TARGET_EFFUSION &&
            (t->depth_mm < AN_EFFUSION_MIN_DEPTH_MM || t->area_mm2 < AN_EFFUSION_MIN_AREA_MM2)) {
            an_warn(r, "fluid pocket %.1f mm deep, %.1f mm^2 in the recess: too small for an "
                    "injection target", t->depth_mm, t->area_mm2);
            continue;
        }
        r->targets[k++] = *t;
    }
    if (k < r->n_targets) {
        r->n_targets = k;
        r->best_target = k ? 0 : -1;
    }
}
