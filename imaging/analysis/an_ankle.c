/* Anterior ankle recess (sagittal): tibia and talar dome cortices, the
 * anechoic effusion in the recess between them with its depth, area and
 * grade, and the talar cartilage over the dome.
 *
 * The cortices are the bone finder's lines; the joint is the notch between
 * them (the deepest bone point with bone rising on both sides). The recess
 * floor is the tibial cortex left of the notch and the cartilage surface
 * (talar cortex minus the cartilage measured on the dome) right of it; the
 * effusion depth is the anechoic run from where the echoes end down to that
 * floor. */
#include "an_internal.h"

#include <string.h>

/* The top of a dark layer (fluid, cartilage) whose first row brighter
 * than thr going up is rr - 1: a line's peak when a line caps it, else the
 * step's edge, where the echo amplitude is halfway between the tissue above
 * and the dark layer (the grey half level of a log-compressed step lies
 * well inside the dark side). Returns a row; NAN when out of the image. */
static float dark_top(const float *m, int h, float sp, int rr, float dr_db)
{
    if (rr < (int)(0.8f / sp) + 2 || rr >= h - (int)(0.5f / sp))
        return NAN;
    float up = an_mean(m, (uint32_t)h, (float)rr - 0.7f / sp, (float)rr - 0.25f / sp);
    float dn = an_mean(m, (uint32_t)h, (float)rr + 0.1f / sp, (float)rr + 0.4f / sp);
    int pk = rr - 1;
    for (int r = rr - 1; r >= rr - (int)(0.3f / sp); r--)
        if (m[r] > m[pk])
            pk = r;
    if (m[pk] > 1.4f * up && m[pk] >= m[pk - 1] && m[pk] >= m[pk + 1]) {
        float a0 = m[pk - 1], a1 = m[pk], a2 = m[pk + 1], den = a0 - 2 * a1 + a2;
        return (float)pk + (den < 0 ? fmaxf(-0.5f, fminf(0.5f, 0.5f * (a0 - a2) / den)) : 0.0f);
    }
    float mid = an_amp_mid(up, dn, dr_db);
    int r2 = rr, lim = rr - (int)(0.6f / sp);
    while (r2 > lim && m[r2 - 1] < mid)
        r2--;
    if (m[r2 - 1] >= mid && m[r2] < mid)
        return (float)r2 - 1 + (m[r2 - 1] - mid) / (m[r2 - 1] - m[r2] + 1e-6f);
    return (float)rr - 0.5f;
}

/* Talar cartilage on one strip (rows): from the cortex up through the dark
 * cartilage to its top (the chondrosynovial line or the step into the
 * tissue over it). */
static float cartilage_rows(const float *m, int h, float sp, float bone, float dr_db)
{
    int b = (int)bone, lo = b - (int)(3.0f / sp), hi = b - (int)(0.15f / sp);
    if (lo < 2 || hi >= h - 1 || hi <= lo + 2)
        return NAN;
    float dark = INFINITY;
    int dr = hi;
    for (int r = hi; r >= b - (int)(1.0f / sp) && r > lo; r--)
        if (m[r] < dark) {
            dark = m[r];
            dr = r;
        }
    for (int r = dr - 1; r > lo; r--)
        if (m[r] - dark > 8.0f)
            return bone - dark_top(m, h, sp, r + 1, dr_db);
    return NAN;
}

/* The joint notch: the deepest bone strip with bone at least 0.7 mm
 * shallower within 10 mm on each side (a tilted probe flattens the V). */
static int find_notch(const tl_analyzer *a)
{
    const float sp = a->sp, strip_mm = (float)a->sw * sp;
    const int win = (int)(10.0f / strip_mm);
    int best = -1;
    for (int s = 0; s < (int)a->ns; s++) {
        float z = a->bone_row[s];
        if (isnan(z) || (best >= 0 && z <= a->bone_row[best]))
            continue;
        bool left = false, right = false;
        for (int d = 1; d <= win; d++) {
            if (s - d >= 0 && a->bone_row[s - d] < z - 0.7f / sp)
                left = true;
            if (s + d < (int)a->ns && a->bone_row[s + d] < z - 0.7f / sp)
                right = true;
        }
        if (left && right)
            best = s;
    }
    return best;
}

void an_ankle(tl_analyzer *a, const tl_analysis_params *p, tl_analysis_result *r)
{
    an_find_bone(a, 3.0f);
    const uint32_t ns = a->ns, h = a->h;
    const float sp = a->sp, strip_mm = (float)a->sw * sp;
    int notch = find_notch(a);
    if (notch < 0) {
        an_polyline(a, a->bone_row, &r->bone);
        an_warn(r, "no joint notch between tibia and talus: centre the anterior joint");
        return;
    }
    /* Tibia: bone strips left of the notch; talus: right of it. */
    float tib[AN_MAX_STRIPS], tal[AN_MAX_STRIPS];
    uint32_t ntib = 0, ntal = 0;
    for (uint32_t s = 0; s < ns; s++) {
        tib[s] = tal[s] = NAN;
        if (isnan(a->bone_row[s]))
            continue;
        if ((int)s <= notch) {
            tib[s] = a->bone_row[s];
            ntib++;
        } else {
            tal[s] = a->bone_row[s];
            ntal++;
        }
    }
    /* Where the echoes end above the bone (fat pad -> fluid or cartilage). */
    uint32_t nt = 0;
    for (uint32_t s = 0; s < ns; s += 3)
        for (uint32_t rr = (uint32_t)(2.0f / sp); rr < h; rr += 6) {
            float v = an_sm(a, s)[rr];
            if (!isnan(v) && v > 1.0f && nt < h)
                a->tmp[nt++] = v;
        }
    float tissue = an_percentile_f(a->tmp, nt, 50);
    float thr = 0.3f * tissue;
    float D[AN_MAX_STRIPS];
    for (uint32_t s = 0; s < ns; s++) {
        D[s] = NAN;
        float bone = !isnan(tib[s]) ? tib[s] : tal[s];
        if (isnan(bone))
            continue;
        const float *m = an_sm(a, s);
        /* walk up from just above the cortex while it stays dark */
        /* past the cortex line's blurred upper flank */
        int rr = (int)(bone - 0.2f / sp), stop = (int)(bone - 1.0f / sp);
        while (rr > stop && rr > 2 && !(m[rr] < thr))
            rr--;
        if (rr < 2 || rr >= (int)h || !(m[rr] < thr)) {
            D[s] = bone * sp;
            continue;
        }
        int lim = (int)(2.0f / sp);
        while (rr > lim && m[rr - 1] < thr)
            rr--;
        float top = dark_top(m, (int)h, sp, rr, p->dynamic_range_db);
        D[s] = isnan(top) ? (float)rr * sp : top * sp;
    }
    /* Cartilage: on the dome away from the notch, where its line is seen. */
    float cv[AN_MAX_STRIPS];
    uint32_t nc = 0;
    for (uint32_t s = (uint32_t)notch + (uint32_t)(3.0f / strip_mm); s < ns; s++)
        if (!isnan(tal[s]) && a->bone_line[s]) {
            float c = cartilage_rows(an_sm(a, s), (int)h, sp, tal[s], p->dynamic_range_db) * sp;
            if (c > 0.2f && c < 3.0f)
                cv[nc++] = c;
        }
    r->cartilage_mm = nc >= 3 ? an_percentile_f(cv, nc, 50) : NAN;
    float cart = isnan(r->cartilage_mm) ? 1.1f : r->cartilage_mm;
    memcpy(a->bone_row, tib, ns * sizeof(float));
    memcpy(a->bone2_row, tal, ns * sizeof(float));
    an_polyline(a, a->bone_row, &r->bone);
    an_polyline(a, a->bone2_row, &r->bone2);
    r->structure_found = ntib >= 4 && ntal >= 4;
    if (!r->structure_found) {
        an_warn(r, "tibia and talar dome not both seen: centre the anterior joint");
        return;
    }
    /* Effusion depth: recess floor minus the end of the echoes, around the
     * notch; the deepest point on a 3-strip mean. */
    float depth[AN_MAX_STRIPS], floor_mm[AN_MAX_STRIPS];
    int s_lo = notch - (int)(3.0f / strip_mm), s_hi = notch + (int)(4.0f / strip_mm);
    if (s_lo < 1)
        s_lo = 1;
    if (s_hi > (int)ns - 2)
        s_hi = (int)ns - 2;
    float raw_floor[AN_MAX_STRIPS];
    for (int s = 0; s < (int)ns; s++) {
        raw_floor[s] = NAN;
        if (s == notch)
            continue;   /* the joint gap itself: no floor to measure from */
        if (!isnan(tib[s]))
            raw_floor[s] = tib[s] * sp;
        else if (!isnan(tal[s]))
            raw_floor[s] = tal[s] * sp - cart;
    }
    /* Gaps in the contour (the joint gap, missed strips) are bridged
     * linearly; then the recess floor is the bony contour smoothed over
     * 5 mm (5 points 1 mm apart), so the depth is measured from the line
     * joining tibia and talus, not from the bottom of the joint gap or the
     * tibial lip under it (the simulator's fluid height is defined over the
     * same smoothed contour). */
    float fill[AN_MAX_STRIPS];
    int prev = -1;
    for (int s = 0; s < (int)ns; s++) {
        fill[s] = raw_floor[s];
        if (isnan(raw_floor[s]))
            continue;
        if (prev >= 0 && s - prev > 1 && (float)(s - prev) * strip_mm <= 3.0f)
            for (int k = prev + 1; k < s; k++)
                fill[k] = raw_floor[prev] + (raw_floor[s] - raw_floor[prev]) *
                                                (float)(k - prev) / (float)(s - prev);
        prev = s;
    }
    for (int s = 0; s < (int)ns; s++) {
        depth[s] = floor_mm[s] = NAN;
        if (isnan(D[s]))
            continue;
        float sum = 0;
        int k = 0;
        for (int d = -2; d <= 2; d++) {
            float v = an_interp_strips(fill, ns, a, an_strip_x(a, (uint32_t)s) + (float)d);
            if (!isnan(v)) {
                sum += v;
                k++;
            }
        }
        if (k < 4)
            continue;
        floor_mm[s] = sum / (float)k;
        depth[s] = an_maxf(0.0f, floor_mm[s] - D[s]);
    }
    float best = 0;
    int bs = -1;
    for (int s = s_lo; s <= s_hi; s++) {
        float sum = 0;
        int k = 0;
        for (int d = -1; d <= 1; d++)
            if (!isnan(depth[s + d])) {
                sum += depth[s + d];
                k++;
            }
        if (k >= 2 && !isnan(depth[s]) && sum / (float)k > best) {
            best = sum / (float)k;
            bs = s;
        }
    }
    float dmax = best >= AN_EFFUSION_MIN_DEPTH_MM ? best : 0.0f;
    r->effusion_depth_mm = dmax;
    r->thickness_mm = dmax;
    r->thickness_sd_mm = 0.15f;
    r->effusion_area_mm2 = 0;
    r->effusion_grade = 0;
    if (dmax > 0) {
        int e0 = bs, e1 = bs;
        while (e0 > 0 && !isnan(depth[e0 - 1]) && depth[e0 - 1] > 0.4f)
            e0--;
        while (e1 < (int)ns - 1 && !isnan(depth[e1 + 1]) && depth[e1 + 1] > 0.4f)
            e1++;
        double area = 0, sum = 0;
        int cnt = 0;
        for (int s = e0; s <= e1; s++) {
            area += depth[s] * strip_mm;
            const float *m = an_sm(a, (uint32_t)s);
            for (float zz = D[s] + 0.2f; zz < floor_mm[s] - 0.2f; zz += 2 * sp) {
                sum += m[(int)(zz / sp)];
                cnt++;
            }
        }
        r->effusion_area_mm2 = (float)area;
        /* Depth stands in for the EULAR-OMERACT grade (1 at or below the bony
         * joint line, 2 above it, 3 distending the capsule). */
        r->effusion_grade = an_effusion_grade(dmax);
        /* the pocket's centre: over the talus just past the joint, where the
         * floor is the cartilage (the recess proper) */
        int ts = bs;
        for (int s = notch + 1; s <= notch + 3 && s < (int)ns; s++)
            if (!isnan(depth[s]) && depth[s] > 0.5f * dmax && (ts == bs || depth[s] > depth[ts]))
                ts = s;
        tl_analysis_target t;
        t.kind = TL_TARGET_EFFUSION;
        t.x_mm = an_strip_x(a, (uint32_t)ts);
        t.z_mm = D[ts] + 0.5f * depth[ts];
        t.width_mm = (float)(e1 - e0 + 1) * strip_mm;
        t.depth_mm = dmax;
        t.area_mm2 = (float)area;
        float lvl = cnt ? (float)(sum / cnt) : 0.0f;
        t.contrast_db = (an_maxf(lvl, 0.5f) - tissue) * p->dynamic_range_db / 255.0f;
        t.confidence = an_minf(1.0f, 0.4f + dmax / 4.0f);
        r->targets[0] = t;
        r->n_targets = 1;
        r->best_target = 0;
        r->site_x_mm = t.x_mm;
        r->site_z_mm = t.z_mm;
    } else {
        r->site_x_mm = an_strip_x(a, (uint32_t)notch);
        r->site_z_mm = tib[notch] * sp;
    }
    r->abnormal_limit_mm = 2.6f;
    r->abnormal = r->effusion_grade >= 2;
    if (r->effusion_grade > 0)
        an_warn(r, "joint effusion grade %d (depth %.1f mm)", r->effusion_grade,
                r->effusion_depth_mm);
}
