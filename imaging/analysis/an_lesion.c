/* Damaged-tissue targets: dark connected regions inside the band, tested
 * for significance against the band's own normal echo level and texture,
 * and the anisotropy guard that refuses to call an angle-darkened stretch
 * of band a lesion.
 *
 * The band's normal level is a robust fit over its cells (across the image,
 * with depth, and with the fibre angle: the darkening the angle explains is
 * anisotropy, never a target). The residual is tested at a few window sizes
 * (about 1.5 x 0.75 mm up to 4.5 x 1.75 mm): each window's mean is compared
 * with the spread that window's mean shows over this band, measured in the
 * same image. Speckle and the fibrillar pattern make a small window's mean
 * swing by several dB, while a lesion of 3 mm covers many resolution cells
 * and pulls a large window's mean down far beyond its spread, so the test
 * is size-aware without assuming a speckle model or a brightness. */
#include "an_lesion.h"

#include <stdlib.h>
#include <string.h>

#define MAX_REGIONS 64
/* Angular width (deg) of the fibres' specular echo: tendon and fascia lose
 * most of their fibre echo within a few degrees of the perpendicular. */
#define AN_ANISO_WIDTH_DEG 7.0f
/* Angle-explained darkening (dB) worth a warning, and how far from the
 * measurement site (mm) it calls for tilting the probe. */
#define AN_ANISO_WARN_DB 3.0f
#define AN_ANISO_SITE_MM 6.0f
/* Windows (half sizes, mm: lateral, axial) of the significance test. */
#define AN_NWIN 4
static const float win_mm[AN_NWIN][2] = { { 0.75f, 0.375f }, { 1.25f, 0.5f }, { 2.25f, 0.875f },
                                          { 1.75f, 0.25f } };
/* Cells whose smallest-window z is below this seed candidate regions. */
#define AN_Z_CANDIDATE 1.5f
/* Smallest area (at half its depth of contrast) of a target: a few
 * resolution cells, well under a 3 mm lesion's. */
#define AN_MIN_AREA_MM2 0.8f
/* Smallest axial extent (mm, at half its depth of contrast) of a target. */
#define AN_MIN_DEPTH_MM 1.0f
/* Smallest contrast (dB below the band's normal level) of a target. */
#define AN_MIN_CONTRAST_DB 5.0f
/* A region whose own grey is under this share of the band's normal level,
 * in a band at least AN_FLOOR_BAND_DB above the display floor, is at the
 * floor: its contrast is clipped and the AN_MIN_CONTRAST_DB rule does not
 * apply (texture never averages to the floor over a region). */
#define AN_FLOOR_SHARE 0.15f
#define AN_FLOOR_BAND_DB 3.0f
/* Excess over the expected extreme of the band's own windows (in z) a
 * region needs to be a target. */
#define AN_Z_MARGIN 0.5f

static int cmp_target(const void *x, const void *y)
{
    const tl_analysis_target *a = x, *b = y;
    if (a->confidence != b->confidence)
        return a->confidence < b->confidence ? 1 : -1;
    return (a->contrast_db > b->contrast_db) - (a->contrast_db < b->contrast_db);
}

/* The band borders for the target search, with gaps of up to 15 mm bridged
 * linearly: a large dark lesion takes the band's texture and often its
 * border echoes with it, so the border search leaves a hole exactly where
 * the target is. */
static void bridge_borders(const tl_analyzer *a, float *sup, float *deep)
{
    const uint32_t ns = a->ns;
    const float strip_mm = (float)a->sw * a->sp;
    memcpy(sup, a->sup_fit, ns * sizeof *sup);
    memcpy(deep, a->deep_fit, ns * sizeof *deep);
    int last = -1;
    for (int s = 0; s < (int)ns; s++) {
        if (isnan(sup[s]) || isnan(deep[s]))
            continue;
        if (last >= 0 && s - last > 1 && (float)(s - last) * strip_mm <= 15.0f)
            for (int k = last + 1; k < s; k++) {
                float t = (float)(k - last) / (float)(s - last);
                sup[k] = sup[last] + t * (sup[s] - sup[last]);
                deep[k] = deep[last] + t * (deep[s] - deep[last]);
            }
        last = s;
    }
}

/* Per-strip fibre-angle term: the share of the fibre echo the band's angle
 * to the beam takes away, 1 - exp(-(deg / width)^2). */
static void fibre_angle_term(const tl_analyzer *a, const float *sup,
                             float *ang2)
{
    const uint32_t ns = a->ns;
    /* the band's direction over about 4 mm, from its superficial border: the
     * fibres run along the band, and the deep border also follows the
     * thickness (a tapering fascia, a bulge), which the fibres near the top
     * don't */
    const uint32_t hw = (uint32_t)lroundf(2.0f / ((float)a->sw * a->sp)) + 1;
    for (uint32_t s = 0; s < ns; s++) {
        ang2[s] = NAN;
        if (isnan(sup[s]))
            continue;
        uint32_t s0 = s >= hw ? s - hw : 0, s1 = s + hw < ns ? s + hw : ns - 1;
        while (s0 < s && isnan(sup[s0]))
            s0++;
        while (s1 > s && isnan(sup[s1]))
            s1--;
        float slope = s1 > s0 ? (sup[s1] - sup[s0]) / ((float)(s1 - s0) * (float)a->sw) : 0.0f;
        float deg = atanf(slope) * 180.0f / (float)M_PI;
        /* the fibre echo's share lost at this angle (a Gaussian lobe) */
        float u = deg / AN_ANISO_WIDTH_DEG;
        ang2[s] = 1.0f - expf(-u * u);
    }
}

/* The angle (deg) behind an angle term 1 - exp(-(deg / width)^2). */
static float fibre_deg(float ang2)
{
    return AN_ANISO_WIDTH_DEG * sqrtf(-logf(1.0f - an_minf(an_maxf(ang2, 0.0f), 0.9999f)));
}

/* One search for targets over the band cells (lab 2 inside, 0 outside)
 * with residual res against the band's normal level. With P->loc (the
 * second pass, against the local level), a region must also be darker
 * than the band either side of it at the same place across the band, and
 * not repeat a target already found. */
static void search_pass(tl_analyzer *a, tl_analysis_result *r, an_pass *P, float *res)
{
    const uint32_t ns = a->ns, nc = a->cell_rows;
    const float db = P->db, strip_mm = P->strip_mm;
    const float *lat = P->lat;
    int16_t *lab = a->label;
    float *zmap = a->les_z, *clean = a->les_res + a->les_cap, *scratch = a->les_res + 2 * a->les_cap;
    uint32_t nin = 0;
    for (uint32_t i = 0; i < ns * nc; i++)
        nin += lab[i] != 0;
    float gate, sigma = 0, med = 0;
    /* dark clusters: the 3 x 3 smoothed residual 3 spreads (of its upper
     * half) below its centre */
    gate = 3.0f;
    {
        an_cells_tables(a, lab, res);
        uint32_t k = 0;
        for (uint32_t s = 0; s < ns; s++)
            for (uint32_t c = 0; c < nc; c++) {
                size_t i = (size_t)s * nc + c;
                if (!lab[i])
                    continue;
                zmap[i] = an_box_mean(a, (int)s, (int)c, 1, 1);
                if (!isnan(zmap[i]))
                    scratch[k++] = zmap[i];
            }
        float m3 = 0, s3 = k >= 16 ? an_upper_sigma(scratch, k, &m3) : 0.0f;
        for (uint32_t i = 0; i < ns * nc; i++)
            if (lab[i])
                zmap[i] = isnan(zmap[i]) || !(s3 > 0) ? 0.0f : (zmap[i] - m3) / s3;
    }
    /* The band's normal texture: the residual with the dark clusters set
     * to the normal level, so a large lesion doesn't
     * widen the spread it is tested against. */
    {
        float *fv = scratch;
        uint32_t k = 0;
        for (uint32_t i = 0; i < ns * nc; i++)
            if (lab[i] && !(zmap[i] < -gate))
                fv[k++] = res[i];
        sigma = an_lower_sigma(fv, k, &med);
        for (uint32_t i = 0; i < ns * nc; i++)
            clean[i] = lab[i] && zmap[i] < -gate ? med : res[i];
    }
    /* Window statistics: each window size's mean over the band, its centre
     * and lower spread, and the z it must beat: the expected extreme of
     * that many independent windows of this band (sqrt(2 ln M)) plus a
     * margin. */
    an_cells_tables(a, lab, clean);
    int hs[AN_NWIN], hc[AN_NWIN];
    float wmed[AN_NWIN], wsig[AN_NWIN], zneed[AN_NWIN];
    for (int w = 0; w < AN_NWIN; w++) {
        hs[w] = (int)lroundf(win_mm[w][0] / strip_mm);
        hc[w] = (int)lroundf(win_mm[w][1] / AN_CELL_MM);
        if (hs[w] < 1)
            hs[w] = 1;
        if (hc[w] < 1)
            hc[w] = 1;
        float *fv = scratch;
        uint32_t k = 0;
        for (uint32_t s = 0; s < ns; s++)
            for (uint32_t c = 0; c < nc; c++)
                if (lab[(size_t)s * nc + c]) {
                    float b = an_box_mean(a, (int)s, (int)c, hs[w], hc[w]);
                    if (!isnan(b))
                        fv[k++] = b;
                }
        /* (the second pass takes the upper half's spread: against the local
         * level a band whose stretches are dark for a quarter or more of
         * its length — lesions, dark layers — would widen the lower one) */
        wsig[w] = k < 16   ? NAN
                  : P->loc ? an_upper_sigma(fv, k, &wmed[w])
                           : an_lower_sigma(fv, k, &wmed[w]);
        float M = (float)nin / (float)((2 * hs[w] + 1) * (2 * hc[w] + 1));
        zneed[w] = sqrtf(2.0f * logf(an_maxf(M, 2.0f))) + AN_Z_MARGIN;
    }
    an_cells_tables(a, lab, res);
    /* z map: the most significant margin over the windows (negative is
     * significant), and candidates where the smallest window is dark. */
    for (uint32_t s = 0; s < ns; s++)
        for (uint32_t c = 0; c < nc; c++) {
            size_t i = (size_t)s * nc + c;
            if (!lab[i])
                continue;
            float best = INFINITY, z0 = 0;
            for (int w = 0; w < AN_NWIN; w++) {
                if (!(wsig[w] > 0))
                    continue;
                float b = an_box_mean(a, (int)s, (int)c, hs[w], hc[w]);
                if (isnan(b))
                    continue;
                float z = (b - wmed[w]) / wsig[w];
                if (w == 0)
                    z0 = z;
                best = an_minf(best, z + zneed[w]);
            }
            zmap[i] = isfinite(best) ? best : 0.0f;
            float b3 = an_box_mean(a, (int)s, (int)c, 1, 1);
            clean[i] = isnan(b3) ? 0.0f : b3 - med;
            if (z0 < -AN_Z_CANDIDATE)
                lab[i] = 1;
        }
    const uint32_t band_s0 = P->band_s0, band_s1 = P->band_s1, edge = P->edge;
    an_region reg[MAX_REGIONS];
    uint32_t min_cells = (uint32_t)(0.8f / (strip_mm * AN_CELL_MM)) + 1;
    int nreg = an_label_regions(a, lab, reg, MAX_REGIONS, min_cells, res, zmap);
    for (int k = 0; k < nreg; k++) {
        an_region *R = &reg[k];
        if (!(R->zmin < 0))
            continue;
        /* The candidate area is the significance test's footprint, wider
         * than the lesion: its extent is where the smoothed residual is
         * below half its own deepest value (half maximum). */
        float zmin = R->zmin;
        if (!an_half_max_extent(a, lab, R->id, clean, res, R))
            continue;
        R->zmin = zmin;
        float contrast = (float)(R->sum / R->n - med) * db;
        tl_analysis_target t;
        t.kind = contrast < -15.0f ? TL_TARGET_ANECHOIC : TL_TARGET_HYPOECHOIC;
        t.x_mm = ((float)(R->sx / R->n) + 0.5f) * strip_mm - 0.5f * a->sp;
        t.z_mm = ((float)(R->sz / R->n) + 0.5f) * AN_CELL_MM;
        t.width_mm = (float)(R->s1 - R->s0 + 1) * strip_mm;
        t.depth_mm = (float)(R->c1 - R->c0 + 1) * AN_CELL_MM;
        t.area_mm2 = (float)R->n * strip_mm * AN_CELL_MM;
        t.contrast_db = contrast;
        /* Significance: how far the best window beats the band's own
         * extreme (zmin < 0), as a confidence 0.5 at the limit -> 1. */
        t.confidence = 1.0f - 0.5f * expf(R->zmin);
        (void)sigma;
        /* Hypoechoic means visibly darker than the normal band: a region
         * within AN_MIN_CONTRAST_DB of it is texture, however significant.
         * Dark streaks under 1 mm thick along the band are gaps between
         * fibre bundles (or the band's floor where its deep border runs
         * a little too deep), not a lesion to put a needle in. */
        /* A region at the display floor in a band well above it is as dark
         * as the display can show: its contrast is clipped (a thick
         * hypoechoic band 5 dB above the floor shows a -18 dB lesion as
         * -5 dB), a lower bound, not texture. */
        float band_here = lat[(R->s0 + R->s1) / 2];
        /* (not in the second pass: its flank test compares dB levels, which
         * the floor clips too) */
        bool floor = !P->loc && R->raw / R->n < AN_FLOOR_SHARE * band_here &&
                     band_here * db >= AN_FLOOR_BAND_DB;
        if ((contrast > -AN_MIN_CONTRAST_DB && !floor) || t.depth_mm < AN_MIN_DEPTH_MM ||
            t.area_mm2 < AN_MIN_AREA_MM2)
            continue;
        /* A region within 2 mm of the end of the band's extent is not fully
         * in view (and the band's borders are least sure there): not a
         * target, the sonographer should centre it. */
        if (R->s0 <= band_s0 + edge || R->s1 + edge >= band_s1) {
            if (!P->edge_warned)
                an_warn(r, "dark area at the %s edge of the image: centre it to assess",
                        R->s0 <= band_s0 + edge ? "left" : "right");
            P->edge_warned = true;
            continue;
        }
        if (P->loc && !an_local_region_ok(a, r, P, res, R, &t))
            continue;
        if (!P->loc && r->anatomy == TL_AN_PLANTAR_FASCIA && an_deep_layer(a, P, R, contrast))
            continue;
        /* a region where the band's borders have left the band (bone
         * beside it, a border bulged off the band's course) is not in the
         * fascia (an_lesion_trust.c) */
        if (r->anatomy == TL_AN_PLANTAR_FASCIA && an_region_off_band(a, r, P, R, t.z_mm, contrast))
            continue;
        if (t.kind == TL_TARGET_ANECHOIC)
            r->cleft = true;
        an_add_target(r, &t);
    }
}

void an_find_targets(tl_analyzer *a, const tl_analysis_params *p, tl_analysis_result *r)
{
    const uint32_t ns = a->ns, nc = a->cell_rows;
    const float rpc = AN_CELL_MM / a->sp, db = p->dynamic_range_db / 255.0f;
    const float strip_mm = (float)a->sw * a->sp;
    if (!an_cells_grow(a))
        return;
    int16_t *lab = a->label;
    float sup[AN_MAX_STRIPS], deep[AN_MAX_STRIPS];
    bridge_borders(a, sup, deep);
    float *res = a->les_res, *scratch = a->les_res + 2 * a->les_cap;
    memset(lab, 0, (size_t)ns * nc * sizeof *lab);
    float margin = 0.2f / a->sp;
    uint32_t nin = 0;
    for (uint32_t s = 0; s < ns; s++) {
        if (isnan(sup[s]))
            continue;
        for (uint32_t c = 0; c < nc; c++) {
            float rc = ((float)c + 0.5f) * rpc;
            if (rc < sup[s] + margin || rc > deep[s] - margin)
                continue;
            if (isnan(a->cell[(size_t)s * nc + c]))
                continue;
            lab[(size_t)s * nc + c] = 2;
            nin++;
        }
    }
    if (nin < 32)
        return;
    /* The band's normal echo level. Across the image: the per-strip median
     * of its cells against x (depth and attenuation change it slowly) and
     * the fibre angle (fibrillar tissue darkens as the beam leaves the
     * perpendicular: anisotropy), refitted without strips well below the
     * fit (a lesion filling most of the band there). Within the band: a
     * slope with depth (attenuation in a thick band), which a lesion in its
     * middle doesn't tilt. */
    float ang2[AN_MAX_STRIPS], aniso_db[AN_MAX_STRIPS], level[AN_MAX_STRIPS];
    float smed[AN_MAX_STRIPS], cmid[AN_MAX_STRIPS], lat[AN_MAX_STRIPS];
    fibre_angle_term(a, sup, ang2);
    double sm = 0;
    uint32_t nstrips = 0;
    for (uint32_t s = 0; s < ns; s++) {
        smed[s] = NAN;
        cmid[s] = isnan(sup[s]) ? NAN : 0.5f * (sup[s] + deep[s]) / rpc - 0.5f;
        uint32_t k = 0;
        for (uint32_t c = 0; c < nc; c++)
            if (lab[(size_t)s * nc + c])
                scratch[k++] = a->cell[(size_t)s * nc + c];
        if (k >= 3 && !isnan(ang2[s])) {
            smed[s] = an_percentile_f(scratch, k, 50);
            sm += s;
            nstrips++;
        }
    }
    if (nstrips < 6)
        return;
    sm /= nstrips;
    double cf[3] = { 0, 0, 0 };
    float gate = INFINITY;
    for (int iter = 0; iter < 4; iter++) {
        double A[4][4] = { { 0 } }, B[4] = { 0 }, x[4] = { 0, 0, 0, 0 };
        uint32_t n = 0;
        for (uint32_t s = 0; s < ns; s++) {
            if (isnan(smed[s]))
                continue;
            double f[3] = { 1.0, (double)s - sm, ang2[s] };
            if (iter > 0 && smed[s] - (cf[0] + cf[1] * f[1] + cf[2] * f[2]) < -gate - 1e-4f)
                continue;
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++)
                    A[i][j] += f[i] * f[j];
                B[i] += f[i] * smed[s];
            }
            n++;
        }
        if (n < 6)
            break;
        /* a little ridge on the angle term keeps it tame when the band is
         * straight (all angles alike) */
        A[2][2] += 1e-3 * (A[2][2] + 1.0);
        double A2[4][4], B2[4];
        memcpy(A2, A, sizeof A2);
        memcpy(B2, B, sizeof B2);
        if (!an_solve(3, A, B, x))
            break;
        if (x[2] > 0) {
            /* tilting never brightens fibres: no angle term */
            x[2] = 0;
            if (!an_solve(2, A2, B2, x))
                break;
        }
        memcpy(cf, x, sizeof cf);
        uint32_t k = 0;
        for (uint32_t s = 0; s < ns; s++)
            if (!isnan(smed[s]))
                scratch[k++] = smed[s] - (float)(cf[0] + cf[1] * ((double)s - sm) + cf[2] * ang2[s]);
        /* Next fit: after the first (all strips), leave out the darkest
         * 30 % (a lesion can fill a quarter of the band, and pulls a plain
         * fit down); then, from that cleaner fit, only strips below 2.5
         * spreads of the upper half (a lesion sits in the lower half and
         * would widen it). */
        float smid = an_percentile_f(scratch, k, 50), q75 = an_percentile_f(scratch, k, 75);
        if (iter == 0)
            gate = -an_percentile_f(scratch, k, 30);
        else
            gate = an_maxf(2.5f * (q75 - smid) / 0.674f, 1.0f / db) - smid;
    }
    for (uint32_t s = 0; s < ns; s++) {
        float a2 = isnan(ang2[s]) ? 0.0f : ang2[s];
        lat[s] = (float)(cf[0] + cf[1] * ((double)s - sm) + cf[2] * a2);
        aniso_db[s] = (float)(-cf[2] * a2) * db;
        level[s] = lat[s];
    }
    /* depth slope within the band, from cells within 2.5 sigma */
    {
        uint32_t k = 0;
        for (uint32_t s = 0; s < ns; s++)
            for (uint32_t c = 0; c < nc; c++)
                if (lab[(size_t)s * nc + c])
                    scratch[k++] = a->cell[(size_t)s * nc + c] - lat[s];
        float m0, s0 = an_upper_sigma(scratch, k, &m0);
        double sxx = 0, sxy = 0, sx = 0, sy = 0, n = 0;
        for (uint32_t s = 0; s < ns; s++)
            for (uint32_t c = 0; c < nc; c++) {
                size_t i = (size_t)s * nc + c;
                float r0 = a->cell[i] - lat[s];
                if (!lab[i] || fabsf(r0 - m0) > 2.5f * s0)
                    continue;
                double xx = (double)c - cmid[s];
                sxx += xx * xx;
                sxy += xx * r0;
                sx += xx;
                sy += r0;
                n++;
            }
        double den = n * sxx - sx * sx;
        double d1 = n > 16 && den > 1e-9 ? (n * sxy - sx * sy) / den : 0.0;
        for (uint32_t s = 0; s < ns; s++)
            for (uint32_t c = 0; c < nc; c++) {
                size_t i = (size_t)s * nc + c;
                if (lab[i])
                    res[i] = a->cell[i] - lat[s] - (float)(d1 * ((double)c - cmid[s]));
            }
    }
    /* Anisotropy guard: darkening the fibre angle explains is part of the
     * normal level, so it is never a target. Where it is large near the
     * measurement site, "tilt the probe" brings the fibres there back to
     * the perpendicular. Farther along a band that curves (the fascia
     * leaving the calcaneus runs 5 deg off the beam 18 mm from its
     * insertion) it is expected: tilting would only move the dark part
     * onto the site, so it is a note, not a call to tilt. */
    {
        float worst = 0, near = 0;
        uint32_t ws = 0, wn = 0;
        const float site = r->site_x_mm;
        for (uint32_t s = 0; s < ns; s++) {
            if (aniso_db[s] > worst) {
                worst = aniso_db[s];
                ws = s;
            }
            if (aniso_db[s] > near &&
                (isnan(site) || fabsf(an_strip_x(a, s) - site) <= AN_ANISO_SITE_MM)) {
                near = aniso_db[s];
                wn = s;
            }
        }
        if (near > AN_ANISO_WARN_DB) {
            r->anisotropy = true;
            r->aniso_x_mm = an_strip_x(a, wn);
            r->aniso_angle_deg = fibre_deg(ang2[wn]);
            an_warn(r, "band %.0f dB darker at x=%.1f mm, fibres %.0f deg off the beam: "
                    "anisotropy, tilt the probe", near, r->aniso_x_mm, r->aniso_angle_deg);
        } else if (worst > AN_ANISO_WARN_DB) {
            an_warn(r, "band %.0f dB darker at x=%.1f mm where it curves %.0f deg off the beam "
                    "(anisotropy, not a lesion)", worst, an_strip_x(a, ws), fibre_deg(ang2[ws]));
        }
    }
    an_pass P = { sup, deep, lat, NULL, db, strip_mm, rpc, ns, 0, 0, false };
    for (uint32_t s = 0; s < ns; s++)
        if (!isnan(sup[s])) {
            P.band_s0 = s < P.band_s0 ? s : P.band_s0;
            P.band_s1 = s;
        }
    P.edge = (uint32_t)lroundf(2.0f / strip_mm);
    search_pass(a, r, &P, res);
    if (r->anatomy == TL_AN_PLANTAR_FASCIA) {
        /* A second pass against the band's local level (an_lesion_local.c):
         * thin fasciae whose level swings along the band hide lesions from
         * the first. Plantar only: the Achilles misses are border errors,
         * and its figures are met without it. */
        float loc[AN_MAX_STRIPS];
        if (an_local_level(a, lab, res, loc)) {
            for (uint32_t s = 0; s < ns; s++)
                for (uint32_t c = 0; c < nc; c++) {
                    size_t i = (size_t)s * nc + c;
                    if (lab[i]) {
                        lab[i] = 2;
                        res[i] -= loc[s];
                    }
                }
            P.loc = loc;
            search_pass(a, r, &P, res);
        }
    }
    if (r->anatomy == TL_AN_PLANTAR_FASCIA)
        an_find_fluid(a, p, r, level);
    qsort(r->targets, r->n_targets, sizeof r->targets[0], cmp_target);
    r->best_target = r->n_targets ? 0 : -1;
    if (r->n_targets)
        r->hypoechoic = true;
}
