/* Damaged-tissue targets: dark connected regions inside the band (against
 * the band's own normal echo level), fluid next to it, and the anisotropy
 * guard that refuses to call an angle-darkened stretch of band a lesion. */
#include "an_internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_REGIONS 64
/* Beam-to-fibre angle (deg) up to which fibres keep their echo. */
#define AN_ANISO_FREE_DEG 4.0f

typedef struct {
    uint32_t n, s0, s1, c0, c1;
    double sx, sz, sum;
    double raw;                /* sum of the cells' own levels */
    bool touches_band_edges;   /* spans the band from one border to the other */
} region;

/* 0 outside, 1 candidate (dark), 2 inside but normal; labels >= 3. */
static int label_regions(tl_analyzer *a, int16_t *lab, region *reg, int max_reg,
                         uint32_t min_cells, const float *trend)
{
    const uint32_t ns = a->ns, nc = a->cell_rows;
    int nreg = 0;
    for (uint32_t s = 0; s < ns; s++)
        for (uint32_t c = 0; c < nc; c++) {
            size_t i = (size_t)s * nc + c;
            if (lab[i] != 1)
                continue;
            int id = nreg + 3;
            region R = { 0, s, s, c, c, 0, 0, 0, 0, false };
            int32_t top = 0;
            a->stack[top++] = (int32_t)i;
            lab[i] = (int16_t)id;
            while (top) {
                int32_t j = a->stack[--top];
                uint32_t js = (uint32_t)j / nc, jc = (uint32_t)j % nc;
                R.n++;
                R.sx += js;
                R.sz += jc;
                R.sum += a->cell[j] - trend[js];
                R.raw += a->cell[j];
                if (js < R.s0) R.s0 = js;
                if (js > R.s1) R.s1 = js;
                if (jc < R.c0) R.c0 = jc;
                if (jc > R.c1) R.c1 = jc;
                const int32_t nb[4] = { j - (int32_t)nc, j + (int32_t)nc, jc > 0 ? j - 1 : -1,
                                        jc + 1 < nc ? j + 1 : -1 };
                for (int k = 0; k < 4; k++)
                    if (nb[k] >= 0 && nb[k] < (int32_t)(ns * nc) && lab[nb[k]] == 1) {
                        lab[nb[k]] = (int16_t)id;
                        a->stack[top++] = nb[k];
                    }
            }
            if (R.n >= min_cells && nreg < max_reg && nreg < 30000)
                reg[nreg++] = R;
            else
                for (uint32_t t = 0; t < ns * nc; t++)
                    if (lab[t] == id)
                        lab[t] = 2;
        }
    return nreg;
}

static void add_target(tl_analysis_result *r, const tl_analysis_target *t)
{
    uint32_t i = r->n_targets;
    if (i == TL_ANALYSIS_MAX_TARGETS) {
        /* full: replace the weakest if this one is stronger */
        uint32_t w = 0;
        for (uint32_t k = 1; k < i; k++)
            if (r->targets[k].confidence < r->targets[w].confidence)
                w = k;
        if (r->targets[w].confidence >= t->confidence)
            return;
        i = w;
    } else {
        r->n_targets++;
    }
    r->targets[i] = *t;
}

static int cmp_target(const void *x, const void *y)
{
    const tl_analysis_target *a = x, *b = y;
    if (a->confidence != b->confidence)
        return a->confidence < b->confidence ? 1 : -1;
    return (a->contrast_db > b->contrast_db) - (a->contrast_db < b->contrast_db);
}

/* Fluid must be this much darker than the tissue beneath it (dB). */
#define AN_FLUID_VS_TISSUE_DB 2.5f

/* Median cell level of the soft tissue 2.5-6 mm deep to the band over
 * strips s0..s1 (above any bone), NAN when there is too little of it. */
static float deep_tissue_level(tl_analyzer *a, uint32_t s0, uint32_t s1)
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
    return n >= 8 ? an_percentile_f(v, n, 50) : NAN;
}

/* Perifascial fluid: an anechoic layer hugging the band's deep border
 * (cells 12 dB or more below the band's normal level). */
static void find_fluid(tl_analyzer *a, const tl_analysis_params *p, tl_analysis_result *r,
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
        /* over the calcaneus the thin periosteal tissue is dark anyway */
        if (!isnan(a->bone_row[s]) && a->bone_row[s] < a->deep_fit[s] + 3.0f / a->sp)
            continue;
        float lim = isnan(a->bone_row[s]) ? INFINITY : a->bone_row[s] - 0.3f / a->sp;
        for (uint32_t c = 0; c < nc; c++) {
            float rc = ((float)c + 0.5f) * rpc;
            bool below = rc > a->deep_fit[s] + 0.1f / a->sp && rc < a->deep_fit[s] + 2.5f / a->sp;
            /* deep side only: above lies the fat pad, whose lobules are dark */
            if (!below || rc > lim)
                continue;
            float v = a->cell[(size_t)s * nc + c];
            /* anechoic: near the display floor, not just darker tissue */
            lab[(size_t)s * nc + c] =
                !isnan(v) && (v - trend[s]) * db < -15.0f && v < 0.25f * trend[s] ? 1 : 2;
        }
    }
    region reg[16];
    uint32_t min_cells = (uint32_t)(2.0f / (strip_mm * AN_CELL_MM)) + 1;
    int nreg = label_regions(a, lab, reg, 16, min_cells, trend);
    for (int k = 0; k < nreg; k++) {
        const region *R = &reg[k];
        /* Fluid is darker than the soft tissue it lies on: the gaps between
         * the fibre lines of a hypoechoic muscle can be as dark against the
         * fascia, but not against the muscle itself. */
        float tissue = deep_tissue_level(a, R->s0, R->s1);
        if (isnan(tissue) || ((float)(R->raw / R->n) - tissue) * db > -AN_FLUID_VS_TISSUE_DB)
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
        add_target(r, &t);
    }
    if (r->perifascial_fluid)
        an_warn(r, "perifascial fluid next to the fascia");
}

void an_find_targets(tl_analyzer *a, const tl_analysis_params *p, tl_analysis_result *r)
{
    const uint32_t ns = a->ns, nc = a->cell_rows;
    const float rpc = AN_CELL_MM / a->sp, db = p->dynamic_range_db / 255.0f;
    const float strip_mm = (float)a->sw * a->sp;
    int16_t *lab = a->label;
    float *vals = a->tmp; /* h floats; cells inside can exceed: bounded below */
    uint32_t nin = 0, cap = a->h;
    memset(lab, 0, (size_t)ns * nc * sizeof *lab);
    float margin = 0.2f / a->sp;
    for (uint32_t s = 0; s < ns; s++) {
        if (isnan(a->sup_fit[s]))
            continue;
        for (uint32_t c = 0; c < nc; c++) {
            float rc = ((float)c + 0.5f) * rpc;
            if (rc < a->sup_fit[s] + margin || rc > a->deep_fit[s] - margin)
                continue;
            float v = a->cell[(size_t)s * nc + c];
            if (isnan(v))
                continue;
            lab[(size_t)s * nc + c] = 2;
            if (nin < cap && ((s + c) % 2 == 0 || nin < cap / 2))
                vals[nin++] = v;
        }
    }
    if (nin < 16)
        return;
    /* The band's normal echo level along it. Depth and attenuation change
     * it slowly across the image (a linear term in x) and fibrillar tissue
     * darkens as the beam leaves the perpendicular (anisotropy: a term in
     * the local band angle squared). Fitted to the per-strip band levels,
     * ignoring strips well below the fit (the lesion itself). */
    float trend[AN_MAX_STRIPS], ang2[AN_MAX_STRIPS], aniso_db[AN_MAX_STRIPS];
    for (uint32_t s = 0; s < ns; s++) {
        ang2[s] = NAN;
        aniso_db[s] = 0;
        if (isnan(a->sup_fit[s]))
            continue;
        uint32_t s0 = s >= 2 ? s - 2 : 0, s1 = s + 2 < ns ? s + 2 : ns - 1;
        while (s0 < s && isnan(a->sup_fit[s0]))
            s0++;
        while (s1 > s && isnan(a->sup_fit[s1]))
            s1--;
        float slope = s1 > s0 ? 0.5f * (a->sup_fit[s1] + a->deep_fit[s1] - a->sup_fit[s0] -
                                        a->deep_fit[s0]) / ((float)(s1 - s0) * (float)a->sw)
                              : 0.0f;
        float deg = atanf(slope) * 180.0f / (float)M_PI;
        /* Specular fibre echoes hold up within a few degrees of the
         * perpendicular: no darkening is put down to angle below that, so
         * a lesion where a straight band gently curves keeps its contrast. */
        float off = an_maxf(0.0f, fabsf(deg) - AN_ANISO_FREE_DEG);
        ang2[s] = off * off;
    }
    double cf[3] = { 0, 0, 0 };
    {
        float gate = 1e9f;
        for (int iter = 0; iter < 4; iter++) {
            double A[3][3] = { { 0 } }, B[3] = { 0 };
            int n = 0;
            for (uint32_t s = 0; s < ns; s++) {
                float v = a->band_level[s];
                if (isnan(v) || isnan(ang2[s]))
                    continue;
                double f[3] = { 1.0, (double)s, ang2[s] };
                if (iter > 0 && v < cf[0] + cf[1] * f[1] + cf[2] * f[2] - gate)
                    continue;
                for (int i = 0; i < 3; i++) {
                    for (int j = 0; j < 3; j++)
                        A[i][j] += f[i] * f[j];
                    B[i] += f[i] * v;
                }
                n++;
            }
            if (n < 6)
                break;
            /* a little ridge on the angle term keeps it tame when the band
             * is straight (all angles alike) */
            A[2][2] += 1e-3 * (A[2][2] + 1.0);
            double det = A[0][0] * (A[1][1] * A[2][2] - A[1][2] * A[2][1]) -
                         A[0][1] * (A[1][0] * A[2][2] - A[1][2] * A[2][0]) +
                         A[0][2] * (A[1][0] * A[2][1] - A[1][1] * A[2][0]);
            if (fabs(det) < 1e-12)
                break;
            for (int col = 0; col < 3; col++) {
                double M[3][3];
                memcpy(M, A, sizeof M);
                for (int i = 0; i < 3; i++)
                    M[i][col] = B[i];
                cf[col] = (M[0][0] * (M[1][1] * M[2][2] - M[1][2] * M[2][1]) -
                           M[0][1] * (M[1][0] * M[2][2] - M[1][2] * M[2][0]) +
                           M[0][2] * (M[1][0] * M[2][1] - M[1][1] * M[2][0])) / det;
            }
            if (cf[2] > 0)
                cf[2] = 0;   /* tilting never brightens fibres */
            gate = 2.0f / db;
        }
        for (uint32_t s = 0; s < ns; s++) {
            float a2 = isnan(ang2[s]) ? 0.0f : ang2[s];
            trend[s] = (float)(cf[0] + cf[1] * s + cf[2] * a2);
            aniso_db[s] = (float)(-cf[2] * a2) * db;
        }
    }
    /* Anisotropy guard: darkening the fibre angle explains is part of the
     * trend, so it is never a target; say so when it is large. */
    {
        float worst = 0;
        uint32_t ws = 0;
        for (uint32_t s = 0; s < ns; s++)
            if (aniso_db[s] > worst) {
                worst = aniso_db[s];
                ws = s;
            }
        if (worst > 3.0f) {
            r->anisotropy = true;
            an_warn(r, "band %.0f dB darker at x=%.1f mm from the fibre angle: anisotropy, "
                    "tilt the probe", worst, an_strip_x(a, ws));
        }
    }
    /* residual spread of single cells against the trend */
    nin = 0;
    for (uint32_t s = 0; s < ns; s++)
        for (uint32_t c = 0; c < nc; c++)
            if (lab[(size_t)s * nc + c] == 2 && nin < cap && ((s + c) & 1))
                vals[nin++] = a->cell[(size_t)s * nc + c] - trend[s];
    if (nin < 16)
        return;
    float med = an_percentile_f(vals, nin, 55);
    float q25 = an_percentile_f(vals, nin, 25);
    float sigma = (med - q25) / 0.674f;
    /* Smoothed deficit over 3 x 3 inside cells, thresholded. */
    float thr_db = an_maxf(3.0f, 0.9f * sigma * db);
    for (uint32_t s = 0; s < ns; s++)
        for (uint32_t c = 0; c < nc; c++) {
            size_t i = (size_t)s * nc + c;
            if (lab[i] != 2)
                continue;
            double sum = 0;
            int n = 0;
            for (int ds = -1; ds <= 1; ds++)
                for (int dc = -1; dc <= 1; dc++) {
                    int ss = (int)s + ds, cc = (int)c + dc;
                    if (ss < 0 || ss >= (int)ns || cc < 0 || cc >= (int)nc)
                        continue;
                    size_t j = (size_t)ss * nc + (size_t)cc;
                    if (lab[j] == 0)
                        continue;
                    sum += a->cell[j] - trend[ss];
                    n++;
                }
            if (n >= 4 && (sum / n - med) * db < -thr_db)
                lab[i] = 1;
        }
    uint32_t band_s0 = ns, band_s1 = 0;
    for (uint32_t s = 0; s < ns; s++)
        if (!isnan(a->sup_fit[s])) {
            band_s0 = s < band_s0 ? s : band_s0;
            band_s1 = s;
        }
    bool edge_warned = false;
    region reg[MAX_REGIONS];
    uint32_t min_cells = (uint32_t)(0.8f / (strip_mm * AN_CELL_MM)) + 1;
    int nreg = label_regions(a, lab, reg, MAX_REGIONS, min_cells, trend);
    for (int k = 0; k < nreg; k++) {
        region *R = &reg[k];
        float contrast = (float)(R->sum / R->n - med) * db;
        float x = ((float)(R->sx / R->n) + 0.5f) * strip_mm - 0.5f * a->sp;
        float z = ((float)(R->sz / R->n) + 0.5f) * AN_CELL_MM;
        tl_analysis_target t;
        t.kind = contrast < -15.0f ? TL_TARGET_ANECHOIC : TL_TARGET_HYPOECHOIC;
        t.x_mm = x;
        t.z_mm = z;
        t.width_mm = (float)(R->s1 - R->s0 + 1) * strip_mm;
        t.depth_mm = (float)(R->c1 - R->c0 + 1) * AN_CELL_MM;
        t.area_mm2 = (float)R->n * strip_mm * AN_CELL_MM;
        t.contrast_db = contrast;
        /* Confidence: how far the mean sits outside the normal spread,
         * given how many cells back it. */
        float zsc = -contrast / fmaxf(sigma * db, 0.5f) * sqrtf((float)R->n / 4.0f);
        float conf = 1.0f - expf(-fmaxf(0.0f, zsc - 2.0f) / 4.0f);
        t.confidence = conf * fminf(1.0f, 0.4f + t.area_mm2 / 5.0f);
        /* Weak, thin or streak-like dark areas are the fibrillar pattern and
         * speckle (a -6 dB lesion measures about -5 dB after the 3 x 3 cell
         * smoothing; -4.5 dB keeps it and drops most speckle clusters), not
         * damage worth a needle. */
        if (t.confidence < 0.3f || contrast > -4.5f || t.depth_mm < 0.9f ||
            t.width_mm > 6.0f * t.depth_mm)
            continue;
        /* A region cut by the edge of the band's extent is not fully in
         * view: not a target (the sonographer should centre it). */
        if (R->s0 <= band_s0 + 1 || R->s1 + 1 >= band_s1) {
            if (!edge_warned)
                an_warn(r, "dark area at the %s edge of the image: centre it to assess",
                        R->s0 <= band_s0 + 1 ? "left" : "right");
            edge_warned = true;
            continue;
        }
        if (t.kind == TL_TARGET_ANECHOIC)
            r->cleft = true;
        add_target(r, &t);
    }
    if (r->anatomy == TL_AN_PLANTAR_FASCIA)
        find_fluid(a, p, r, trend);
    qsort(r->targets, r->n_targets, sizeof r->targets[0], cmp_target);
    r->best_target = r->n_targets ? 0 : -1;
    if (r->n_targets)
        r->hypoechoic = true;
}
