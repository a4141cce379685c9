/* Anterior ankle recess (sagittal): tibia and talar dome cortices, the
 * anechoic effusion in the recess between them with its depth, area and
 * grade, and the talar cartilage over the dome.
 *
 * The cortices are the bone finder's lines; the joint is the notch between
 * them (the deepest bone point with bone rising on both sides). The recess
 * floor is the tibial cortex left of the notch and the cartilage surface
 * (talar cortex minus the cartilage measured on the dome) right of it, with
 * the bottom of the joint gap between them; the effusion depth is the
 * anechoic run from where the echoes end down to that floor smoothed over
 * 5 mm, measured along the joint's own vertical (the probe's tilt, read
 * from the tibial cortex, taken out). */
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
 * shallower within 10 mm on each side (a tilted probe flattens the V), bone
 * over a third of those 10 mm on each side and a neighbour within 0.8 mm
 * (a stray point where the dome leaves the image passed for it). */
static int find_notch(const tl_analyzer *a)
{
    const float sp = a->sp, strip_mm = (float)a->sw * sp;
    const int win = (int)(10.0f / strip_mm), need = win / 3, ns = (int)a->ns;
    const float *b = a->bone_row;
    int best = -1;
    for (int s = 0; s < ns; s++) {
        float z = b[s];
        if (isnan(z))
            continue;
        bool near = (s > 0 && fabsf(b[s - 1] - z) < 0.8f / sp) ||
                    (s + 1 < ns && fabsf(b[s + 1] - z) < 0.8f / sp);
        if (!near)
            continue;
        float lr = 0, rr = 0;
        int nl = 0, nr = 0;
        for (int d = 1; d <= win; d++) {
            if (s - d >= 0 && !isnan(b[s - d])) {
                nl++;
                lr = an_maxf(lr, z - b[s - d]);
            }
            if (s + d < ns && !isnan(b[s + d])) {
                nr++;
                rr = an_maxf(rr, z - b[s + d]);
            }
        }
        if (nl >= need && nr >= need && an_minf(lr, rr) >= 0.7f / sp &&
            (best < 0 || z > b[best]))
            best = s;
    }
    return best;
}

/* Continue the cortex into strips the bone finder left empty next to it:
 * under heavy noise the shadow below the deep joint is noise, not dark, and
 * the finder loses the tibia's end and the talar slope by the notch. From
 * each side, the line's course over the last 2 mm is extended one strip at
 * a time (up to 10 mm) where a thin line stands out there: a peak within
 * 0.4 mm of the prediction, 1.6 x the mean 0.3-0.8 mm above and 0.3-1 mm
 * below it, and at least 0.4 x the cortex's median peak. */
static void continue_cortex(tl_analyzer *a)
{
    const float sp = a->sp, strip_mm = (float)a->sw * sp;
    const int ns = (int)a->ns, h = (int)a->h, back = (int)(2.0f / strip_mm);
    const int maxrun = (int)(10.0f / strip_mm), dw = (int)(0.4f / sp) + 1;
    float pk_ref[AN_MAX_STRIPS];
    int np = 0;
    for (int s = 0; s < ns; s++)
        if (a->bone_line[s] && !isnan(a->bone_row[s]))
            pk_ref[np++] = an_sm(a, (uint32_t)s)[(int)lrintf(a->bone_row[s])];
    if (np < 5 || back < 2)
        return;
    const float ref = an_percentile_f(pk_ref, (uint32_t)np, 50);
    for (int dir = 1; dir >= -1; dir -= 2) {
        int run = 0;
        for (int s = dir > 0 ? 0 : ns - 1; s >= 0 && s < ns; s += dir) {
            if (!isnan(a->bone_row[s])) {
                run = 0;
                continue;
            }
            int p1 = s - dir, p0 = s - dir * back;
            if (p0 < 0 || p0 >= ns || isnan(a->bone_row[p1]) || isnan(a->bone_row[p0]) ||
                run >= maxrun)
                continue;
            float pred = a->bone_row[p1] + (a->bone_row[p1] - a->bone_row[p0]) / (float)(back - 1);
            const float *m = an_sm(a, (uint32_t)s);
            int c = (int)lrintf(pred), pk = -1;
            for (int r = c - dw; r <= c + dw; r++)
                if (r > (int)(1.0f / sp) && r < h - (int)(1.0f / sp) - 1 && (pk < 0 || m[r] > m[pk]))
                    pk = r;
            if (pk < 0)
                continue;
            float up = an_mean(m, (uint32_t)h, (float)pk - 0.8f / sp, (float)pk - 0.3f / sp);
            float dn = an_mean(m, (uint32_t)h, (float)pk + 0.3f / sp, (float)pk + 1.0f / sp);
            if (!(m[pk] > 1.6f * up && m[pk] > 1.6f * dn && m[pk] > 0.4f * ref))
                continue;
            float a0 = m[pk - 1], a1 = m[pk], a2 = m[pk + 1], den = a0 - 2 * a1 + a2;
            float row = (float)pk + (den < 0 ? fmaxf(-0.5f, fminf(0.5f, 0.5f * (a0 - a2) / den)) : 0.0f);
            a->bone_row[s] = a->bone_top[s] = row;
            a->bone_line[s] = true;
            run++;
        }
    }
}

/* The joint's frame: the image rotated by the probe's tilt about the notch,
 * so that depths are measured along the joint's anteroposterior axis (the
 * normal to the capsule and the tendons over it) and not along the beam. */
typedef struct {
    float px, pz;    /* pivot (image mm) */
    float tilt, c, s; /* tilt (rad), its cosine and sine */
} jframe;

static void to_joint(const jframe *f, float x, float z, float *u, float *v)
{
    float dx = x - f->px, dz = z - f->pz;
    *u = f->px + dx * f->c + dz * f->s;
    *v = f->pz - dx * f->s + dz * f->c;
}

static void from_joint(const jframe *f, float u, float v, float *x, float *z)
{
    float du = u - f->px, dv = v - f->pz;
    *x = f->px + du * f->c - dv * f->s;
    *z = f->pz + du * f->s + dv * f->c;
}

/* A contour sampled per strip (image mm, NAN where absent), rotated into
 * the joint's frame and resampled onto the strip grid: linear between
 * consecutive samples no more than gap_mm apart (the shallower where the
 * rotated contour folds over itself), NAN elsewhere. */
static void resample(const tl_analyzer *a, const jframe *f, const float *z, float gap_mm,
                     float *out)
{
    const uint32_t ns = a->ns;
    const float pitch = (float)a->sw * a->sp, x0 = an_strip_x(a, 0);
    for (uint32_t k = 0; k < ns; k++)
        out[k] = NAN;
    float pu = NAN, pv = NAN;
    for (uint32_t s = 0; s < ns; s++) {
        if (isnan(z[s]))
            continue;
        float u, v;
        to_joint(f, an_strip_x(a, s), z[s], &u, &v);
        float lo = isnan(pu) ? u : an_minf(pu, u), hi = isnan(pu) ? u : an_maxf(pu, u);
        if (hi - lo > gap_mm + 1e-3f) {
            lo = hi = u;
        }
        int k0 = (int)ceilf((lo - x0) / pitch - 1e-4f), k1 = (int)floorf((hi - x0) / pitch + 1e-4f);
        for (int k = k0 < 0 ? 0 : k0; k <= k1 && k < (int)ns; k++) {
            float uk = an_strip_x(a, (uint32_t)k), vk;
            if (hi - lo < 1e-6f)
                vk = v;
            else if (fabsf(uk - u) < 1e-4f)
                vk = v;
            else
                vk = pv + (v - pv) * (uk - pu) / (u - pu);
            if (isnan(out[k]) || vk < out[k])
                out[k] = vk;
        }
        pu = u;
        pv = v;
    }
}

/* Smoothed grey at a point of the joint's frame; NAN outside the image. */
static float grey_at(tl_analyzer *a, const jframe *f, float u, float v)
{
    float x, z;
    from_joint(f, u, v, &x, &z);
    int s = (int)lrintf((x / a->sp - 0.5f * (float)(a->sw - 1)) / (float)a->sw);
    int r = (int)(z / a->sp);
    if (s < 0 || s >= (int)a->ns || r < 0 || r >= (int)a->h)
        return NAN;
    return an_sm(a, (uint32_t)s)[r];
}

/* The anterior cortex of the distal tibia descends towards the joint at
 * about 24 degrees to the skin in the standard sagittal view (tan = 0.45:
 * the simulator's anatomy, hw-sim/sim_ankle.c; a real ankle's slope varies
 * from one patient and one dorsiflexion to the next, see accuracy.md). */
#define TIBIA_SLOPE 0.45f

/* The probe's tilt against the joint (rad; positive turns the anatomy
 * clockwise on screen, the simulator's anisotropy_deg): how far the tibial
 * cortex over the 1-15 mm before the notch, fitted by a line (refitted
 * without points more than 0.4 mm off it), is turned from its standard
 * slope. 0 with fewer than 6 tibial strips. The tibia is the one structure
 * of the view that is straight, always seen and bright at any tilt (its
 * echo is rough, not specular); the tendons and capsule over the recess
 * that a sonographer would align the probe with lose their specular echoes
 * beyond a few degrees, and the muscle's pennate fibres draw lines 10
 * degrees off them. */
static float joint_tilt(const tl_analyzer *a, const float *tib, int notch)
{
    const float sp = a->sp, strip_mm = (float)a->sw * sp;
    int s0 = notch - (int)(15.0f / strip_mm), s1 = notch - (int)(1.0f / strip_mm);
    if (s0 < 0)
        s0 = 0;
    float xs[AN_MAX_STRIPS], zs[AN_MAX_STRIPS];
    int n = 0;
    for (int s = s0; s <= s1; s++)
        if (!isnan(tib[s])) {
            xs[n] = an_strip_x(a, (uint32_t)s);
            zs[n++] = tib[s] * sp;
        }
    float slope = NAN, icpt = 0;
    for (int it = 0; it < 3 && n >= 6; it++) {
        double sx = 0, sz = 0, sxx = 0, sxz = 0;
        for (int i = 0; i < n; i++) {
            sx += xs[i];
            sz += zs[i];
            sxx += (double)xs[i] * xs[i];
            sxz += (double)xs[i] * zs[i];
        }
        double den = n * sxx - sx * sx;
        if (den <= 0)
            break;
        slope = (float)((n * sxz - sx * sz) / den);
        icpt = (float)((sz - slope * sx) / n);
        int k = 0;
        for (int i = 0; i < n; i++)
            if (fabsf(zs[i] - (icpt + slope * xs[i])) < 0.4f) {
                xs[k] = xs[i];
                zs[k++] = zs[i];
            }
        if (k == n)
            break;
        n = k;
    }
    if (isnan(slope) || n < 6)
        return 0.0f;
    return atanf(slope) - atanf(TIBIA_SLOPE);
}

/* When no notch is found: seed the cortex where the bone finder saw none
 * at all (under heavy noise a whole talar dome can go missing). In each
 * empty strip, the shallowest thin line at least 0.7 x the cortex's median
 * peak that stands 1.6 x over the mean 0.3-0.8 mm above it and 0.3-1 mm
 * below it, kept only in runs of at least 2 mm whose neighbours lie within
 * 0.3 mm of each other (a bone contour, not a speckle spike); then the
 * cortex is continued from them as above. Returns true when any was
 * seeded. */
static bool seed_cortex(tl_analyzer *a)
{
    const float sp = a->sp, strip_mm = (float)a->sw * sp;
    const int ns = (int)a->ns, h = (int)a->h, minrun = (int)(2.0f / strip_mm);
    float pk_ref[AN_MAX_STRIPS], cand[AN_MAX_STRIPS];
    int np = 0;
    for (int s = 0; s < ns; s++)
        if (a->bone_line[s] && !isnan(a->bone_row[s]))
            pk_ref[np++] = an_sm(a, (uint32_t)s)[(int)lrintf(a->bone_row[s])];
    if (np < 5)
        return false;
    const float ref = an_percentile_f(pk_ref, (uint32_t)np, 50);
    const int r0 = (int)(3.0f / sp), r1 = h - (int)(1.0f / sp) - 1;
    for (int s = 0; s < ns; s++) {
        cand[s] = NAN;
        if (!isnan(a->bone_row[s]))
            continue;
        const float *m = an_sm(a, (uint32_t)s);
        for (int r = r0; r < r1; r++) {
            if (!(m[r] >= 0.7f * ref && m[r] >= m[r - 1] && m[r] >= m[r + 1]))
                continue;
            float up = an_mean(m, (uint32_t)h, (float)r - 0.8f / sp, (float)r - 0.3f / sp);
            float dn = an_mean(m, (uint32_t)h, (float)r + 0.3f / sp, (float)r + 1.0f / sp);
            if (m[r] > 1.6f * up && m[r] > 1.6f * dn) {
                float a0 = m[r - 1], a1 = m[r], a2 = m[r + 1], den = a0 - 2 * a1 + a2;
                cand[s] = (float)r + (den < 0 ? fmaxf(-0.5f, fminf(0.5f, 0.5f * (a0 - a2) / den)) : 0.0f);
                break;
            }
        }
    }
    bool any = false;
    for (int s = 0; s < ns;) {
        int e = s;
        while (e + 1 < ns && !isnan(cand[s]) && !isnan(cand[e + 1]) &&
               fabsf(cand[e + 1] - cand[e]) < 0.3f / sp)
            e++;
        if (!isnan(cand[s]) && e - s + 1 >= minrun) {
            for (int k = s; k <= e; k++) {
                a->bone_row[k] = a->bone_top[k] = cand[k];
                a->bone_line[k] = true;
            }
            any = true;
        }
        s = e + 1;
    }
    return any;
}

void an_ankle(tl_analyzer *a, const tl_analysis_params *p, tl_analysis_result *r)
{
    an_find_bone(a, 3.0f, false);
    continue_cortex(a);
    const uint32_t ns = a->ns, h = a->h;
    const float sp = a->sp, strip_mm = (float)a->sw * sp;
    int notch = find_notch(a);
    if (notch < 0 && seed_cortex(a)) {
        continue_cortex(a);
        notch = find_notch(a);
    }
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
        /* over the talus, from the cartilage's surface: its bright
         * chondrosynovial line ended the dark run there and read the
         * effusion 0 beside the joint (at high gain) */
        if (isnan(tib[s]))
            bone -= cart / sp;
        const float *m = an_sm(a, s);
        /* walk up from just above the cortex while it stays dark, past the
         * line's blurred upper flank */
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
     * notch; the deepest point on a 3-strip mean. Measured in the joint's
     * frame (jframe): the contour and the fluid's top are rotated by the
     * probe's tilt and resampled onto the strip grid, so a tilted probe
     * measures the same depth (measured along the beam, a grade-3 effusion
     * read 0.7-0.9 mm off at 12-15 degrees: the recess floor slopes ~0.5
     * under the pocket, and the beam crosses the pocket along a chord
     * lengthened or shortened by about slope x tilt). */
    float depth[AN_MAX_STRIPS], floor_mm[AN_MAX_STRIPS];
    int s_lo = notch - (int)(3.0f / strip_mm), s_hi = notch + (int)(4.0f / strip_mm);
    if (s_lo < 1)
        s_lo = 1;
    if (s_hi > (int)ns - 2)
        s_hi = (int)ns - 2;
    float raw_floor[AN_MAX_STRIPS];
    /* The notch strip is the floor of the joint gap (the simulator's floor
     * too; leaving it out and bridging tibia to talus under it raised the
     * smoothed floor beside the joint and read effusions 0.1-0.4 mm thin). */
    for (int s = 0; s < (int)ns; s++) {
        raw_floor[s] = NAN;
        if (!isnan(tib[s]))
            raw_floor[s] = tib[s] * sp;
        else if (!isnan(tal[s]))
            raw_floor[s] = tal[s] * sp - cart;
    }
    jframe jf;
    jf.px = an_strip_x(a, (uint32_t)notch);
    jf.pz = tib[notch] * sp;
    jf.tilt = joint_tilt(a, tib, notch);
    jf.c = cosf(jf.tilt);
    jf.s = sinf(jf.tilt);
    /* Gaps in the contour (missed strips) are bridged linearly; then the
     * recess floor is the bony contour smoothed over 5 mm (5 points 1 mm
     * apart), so the depth is measured from the line joining tibia and
     * talus, not from the bottom of the joint gap or the tibial lip under
     * it (the simulator's fluid height is defined over the same smoothed
     * contour). */
    float fill[AN_MAX_STRIPS], top[AN_MAX_STRIPS];
    resample(a, &jf, raw_floor, 3.0f, fill);
    resample(a, &jf, D, 1.0f, top);
    for (int s = 0; s < (int)ns; s++) {
        depth[s] = floor_mm[s] = NAN;
        if (isnan(top[s]))
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
        depth[s] = an_maxf(0.0f, floor_mm[s] - top[s]);
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
            for (float zz = top[s] + 0.2f; zz < floor_mm[s] - 0.2f; zz += 2 * sp) {
                float v = grey_at(a, &jf, an_strip_x(a, (uint32_t)s), zz);
                if (!isnan(v)) {
                    sum += v;
                    cnt++;
                }
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
        from_joint(&jf, an_strip_x(a, (uint32_t)ts), top[ts] + 0.5f * depth[ts], &t.x_mm,
                   &t.z_mm);
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
    if (fabsf(jf.tilt) >= 5.0f * (float)M_PI / 180.0f)
        an_warn(r, "probe tilted %.0f deg against the joint (tibial cortex): effusion depth "
                "measured along the joint's axis", jf.tilt * 180.0f / (float)M_PI);
    r->abnormal_limit_mm = 2.6f;
    r->abnormal = r->effusion_grade >= 2;
    if (r->effusion_grade > 0)
        an_warn(r, "joint effusion grade %d (depth %.1f mm)", r->effusion_grade,
                r->effusion_depth_mm);
}
