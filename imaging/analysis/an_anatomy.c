/* Anatomy-specific measurement: where the standard site is and what counts
 * as abnormal (design.md section 2). The band measurement and the bone
 * helpers the fascia (an_plantar.c) and the tendon share; the Achilles. */
#include "an_internal.h"

#include <string.h>


/* Achilles 97.5th percentiles (mm) at 20 and 80 years (design.md 2). */
static const float ach_p975[2][2][2] = {
    /* midportion: men, women */ { { 6.0f, 8.4f }, { 5.6f, 8.0f } },
    /* insertion:  men, women */ { { 4.8f, 5.7f }, { 4.2f, 5.2f } },
};

float tl_achilles_limit_mm(bool insertion, float age_years, char sex)
{
    const int site = insertion ? 1 : 0;
    float lim = 0;
    for (int sx = 0; sx < 2; sx++) {
        if ((sex == 'M' || sex == 'm') && sx != 0)
            continue;
        if ((sex == 'F' || sex == 'f') && sx != 1)
            continue;
        const float *v = ach_p975[site][sx];
        float l;
        if (!(age_years > 0)) {
            l = fmaxf(v[0], v[1]);   /* unknown age: the upper end of the range */
        } else {
            float t = (age_years - 20.0f) / 60.0f;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            l = v[0] + t * (v[1] - v[0]);
        }
        lim = fmaxf(lim, l);
    }
    return lim;
}

/* Perpendicular thickness per strip from the fitted borders (mm), and the
 * band's inclination (degrees). */
static void perp_thickness(tl_analyzer *a, float *thick, float *angle)
{
    for (uint32_t s = 0; s < a->ns; s++) {
        thick[s] = angle[s] = NAN;
        if (isnan(a->sup_fit[s]))
            continue;
        uint32_t s0 = s >= 2 ? s - 2 : 0, s1 = s + 2 < a->ns ? s + 2 : a->ns - 1;
        while (s0 < s && isnan(a->sup_fit[s0]))
            s0++;
        while (s1 > s && isnan(a->sup_fit[s1]))
            s1--;
        float slope = 0;
        if (s1 > s0) {
            float m1 = a->sup_fit[s1] + a->deep_fit[s1], m0 = a->sup_fit[s0] + a->deep_fit[s0];
            slope = 0.5f * (m1 - m0) / ((float)(s1 - s0) * (float)a->sw);
        }
        float th = atanf(slope);
        angle[s] = th * 180.0f / (float)M_PI;
        thick[s] = (a->deep_fit[s] - a->sup_fit[s]) * a->sp * cosf(th);
    }
}

float an_thickness_at(tl_analyzer *a, float x_mm, float *sd_mm, float *z_mm)
{
    float thick[AN_MAX_STRIPS], ang[AN_MAX_STRIPS];
    perp_thickness(a, thick, ang);
    double sum = 0, zs = 0, var = 0;
    int n = 0;
    for (uint32_t s = 0; s < a->ns; s++) {
        if (isnan(thick[s]) || fabsf(an_strip_x(a, s) - x_mm) > 1.0f)
            continue;
        sum += thick[s];
        zs += 0.5f * (a->sup_fit[s] + a->deep_fit[s]) * a->sp;
        if (!isnan(a->sup_row[s])) {
            float raw = (a->deep_row[s] - a->sup_row[s]) * a->sp * cosf(ang[s] * (float)M_PI / 180.0f);
            var += (raw - thick[s]) * (raw - thick[s]);
        }
        n++;
    }
    if (!n) {
        *sd_mm = NAN;
        return NAN;
    }
    if (z_mm)
        *z_mm = (float)(zs / n);
    /* Strip scatter about the fit, shrunk by the strips averaged, plus a
     * floor for the edge model itself. */
    *sd_mm = sqrtf((float)(var / n) / (float)n + 0.05f * 0.05f);
    return (float)(sum / n);
}

void an_band_measure(tl_analyzer *a, tl_analysis_result *r)
{
    float thick[AN_MAX_STRIPS], ang[AN_MAX_STRIPS];
    perp_thickness(a, thick, ang);
    an_polyline(a, a->sup_fit, &r->superficial);
    an_polyline(a, a->deep_fit, &r->deep);
    r->n_profile = 0;
    uint32_t step = (a->ns + TL_ANALYSIS_MAX_POINTS - 1) / TL_ANALYSIS_MAX_POINTS;
    float maxang = 0;
    for (uint32_t s = 0; s < a->ns; s++) {
        if (isnan(thick[s]))
            continue;
        maxang = fmaxf(maxang, fabsf(ang[s]));
        if (s % step == 0 && r->n_profile < TL_ANALYSIS_MAX_POINTS) {
            r->profile_x_mm[r->n_profile] = an_strip_x(a, s);
            r->profile_mm[r->n_profile] = thick[s];
            r->n_profile++;
        }
    }
    r->fibre_angle_deg = maxang;
    r->structure_found = r->n_profile >= 4;
}

/* Longest run of strips with bone; returns its length, ends in *s0, *s1. */
static uint32_t bone_run(const tl_analyzer *a, const float *rows, uint32_t *s0, uint32_t *s1)
{
    uint32_t best = 0, start = 0;
    for (uint32_t s = 0; s <= a->ns; s++) {
        bool on = s < a->ns && !isnan(rows[s]);
        if (on && (s == 0 || isnan(rows[s - 1])))
            start = s;
        if (!on && s > 0 && !isnan(rows[s - 1]) && s - start > best) {
            best = s - start;
            *s0 = start;
            *s1 = s - 1;
        }
    }
    return best;
}

/* Where the bone surface leaves the band: walking along the run towards
 * `dir` (+1 right, -1 left), the first place its surface turns away from
 * the band (local slope over 1 mm steeper than ~20 deg) or ends. */
static float bone_knee(const tl_analyzer *a, uint32_t s0, uint32_t s1, int dir)
{
    int span = (int)lroundf(1.0f / (a->sp * (float)a->sw));
    if (span < 1)
        span = 1;
    int start = (int)(s0 + s1) / 2, end = dir > 0 ? (int)s1 : (int)s0;
    for (int s = start; s != end; s += dir) {
        int t = s + dir * span;
        if (dir > 0 ? t > end : t < end)
            break;
        if (isnan(a->bone_row[s]) || isnan(a->bone_row[t]))
            continue;
        float slope = (a->bone_row[t] - a->bone_row[s]) / (float)(span * (int)a->sw);
        if (slope > 0.35f)
            return an_strip_x(a, (uint32_t)s) + (float)dir * 0.5f * (float)span * (float)a->sw * a->sp;
    }
    return an_strip_x(a, (uint32_t)end);
}

/* The bone run under the band and the side on which the band carries on
 * without it (anterior for the fascia, the insertion side for the tendon):
 * returns the x of the insertion edge, NAN when there is no bone. */
float an_insertion_edge(tl_analyzer *a)
{
    uint32_t s0 = 0, s1 = 0;
    /* bone cannot lie inside the band: what does is the band's own edge */
    for (uint32_t s = 0; s < a->ns; s++)
        if (!isnan(a->bone_row[s]) && !isnan(a->deep_fit[s]) &&
            a->bone_row[s] < a->deep_fit[s] + 0.4f / a->sp)
            a->bone_row[s] = NAN;
    if (bone_run(a, a->bone_row, &s0, &s1) < 4)
        return NAN;
    /* band strips with no bone close beneath, on each side of the run */
    uint32_t left = 0, right = 0;
    for (uint32_t s = 0; s < a->ns; s++) {
        if (isnan(a->deep_fit[s]))
            continue;
        bool free = isnan(a->bone_row[s]) || a->bone_row[s] - a->deep_fit[s] > 3.0f / a->sp;
        if (!free)
            continue;
        if (s <= (s0 + s1) / 2)
            left++;
        else
            right++;
    }
    int dir = right >= left ? 1 : -1;
    float k = bone_knee(a, s0, s1, dir);
    return isnan(k) ? an_strip_x(a, dir > 0 ? s1 : s0) : k;
}

/* Band above the bone found (an_find_bone), bone limiting the depth: the
 * search ends gap_mm above the top of the cortex echo (negative: below it). */
void an_band_over_bone(tl_analyzer *a, float min_depth_mm, float max_thick_mm, float top_max_mm,
                       float gap_mm, float on_bone_mm)
{
    float lim[AN_MAX_STRIPS];
    /* the band's measurements relate to the top of the cortex echo */
    memcpy(a->bone_row, a->bone_top, a->ns * sizeof(float));
    for (uint32_t s = 0; s < a->ns; s++)
        lim[s] = isnan(a->bone_row[s]) ? NAN : a->bone_row[s] - gap_mm / a->sp;
    an_find_band(a, min_depth_mm, max_thick_mm, top_max_mm, lim, on_bone_mm);
}

/* Echo level of the band (the median grey inside it, 0.2 mm clear of its
 * borders) against the tissue above it, in dB. */
float an_band_vs_above(tl_analyzer *a, const tl_analysis_params *p)
{
    float d[AN_MAX_STRIPS];
    uint32_t n = 0;
    for (uint32_t s = 0; s < a->ns; s++) {
        if (isnan(a->sup_fit[s]) || isnan(a->deep_fit[s]))
            continue;
        float level = an_median_rows(an_sm(a, s), a->h, a->sup_fit[s] + 0.2f / a->sp,
                                     a->deep_fit[s] - 0.2f / a->sp, a->tmp);
        if (isnan(level))
            continue;
        float fat = an_mean(an_sm(a, s), a->h, 0.8f / a->sp, a->sup_fit[s] - 0.5f / a->sp);
        if (!isnan(fat))
            d[n++] = level - fat;
    }
    return an_percentile_f(d, n, 50) * p->dynamic_range_db / 255.0f;
}

/* A tendon's thickness changes by ~15 % over 20 mm: a step of over 0.5 mm
 * within 2.5 mm of the profile is a border that left the tendon. Near the
 * edge of the view, where the free search's path has neighbours on one
 * side only, its deep border can run on a septum of Kager's fat 1-2 mm
 * under the tendon (seed 2026 case 112: 6.7 mm read 8.5 at the image
 * edge, where the thickest-part site then went), as a step or a ramp over
 * 2-4 mm (seed 2027 case 133: 2.3 mm read 2.9, 0.6 mm over 2 mm; 2031 case
 * 208: 6.4 read 7.6, 1.2 mm over 5 mm; within 1 mm neither step passed 0.5
 * mm). The profile without such end stretches (a step within the outer
 * third of the band at either end), [*x0, *x1] mm; a step in the middle (a
 * lesion under a border) stays. */
#define ACH_STEP_MM 0.5f
#define ACH_STEP_SPAN_MM 2.5f
static void ach_stretch(const tl_analysis_result *r, float *x0, float *x1)
{
    *x0 = -INFINITY;
    *x1 = INFINITY;
    const uint32_t n = r->n_profile;
    if (n < 4)
        return;
    const float *x = r->profile_x_mm, *t = r->profile_mm;
    const float third = (x[n - 1] - x[0]) / 3.0f;
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j-- > 0 && x[i] - x[j] <= ACH_STEP_SPAN_MM;)
            if (fabsf(t[i] - t[j]) > ACH_STEP_MM) {
                if (x[i] < x[0] + third)
                    *x0 = x[i];                     /* the last step near the left end */
                else if (x[j] > x[n - 1] - third && x[j] < *x1)
                    *x1 = x[j];                     /* the first near the right end */
                break;
            }
}

/* Bone casts a shadow: under the calcaneus of an insertion view the 1-4 mm
 * below the cortex read 0.00-0.01 of the 0.5-3 mm above it. In midportion
 * views with no bone in the image an_find_bone falls back to bright ridges
 * (bright_ridge_bone, for scanners whose shadows are filled) and takes the
 * tendon's own deep echo over the darker Kager's fat for bone (ratio
 * 0.36-0.64, seed 2028 cases 23, 41 and 230 of `--anatomy achilles --cases
 * 300`); the band search then stops above it and the deep border runs
 * 0.6 mm shallow, or the thickest-part site goes to the image edge. A run of
 * bone (strips within 1 mm of each other) whose median ratio is over this
 * is not bone here (0.2-0.4 gave the same cases). Per run, not per strip:
 * the strips where the calcaneus curves away read 0.16-0.49 and are part
 * of the insertion (runs join strips up to 3 mm apart in depth across
 * gaps of 2 strips: that steep slope steps 1-2.7 mm a strip and has holes;
 * test_analysis_borders' insertion lost its view without that). Only within the band search's reach (top
 * <= 8 mm, thickness <= 12 mm): real scanners fill bone shadows (the
 * dome 30 mm deep in shared data's BoneUltrasound_L14 reads 1.05), and the
 * tendon's echo is never that deep. */
#define ACH_SHADOW_MAX 0.3f
#define ACH_SHADOW_DEPTH_MM 20.0f
static void ach_no_shadow(tl_analyzer *a)
{
    float ratio[AN_MAX_STRIPS], tmp[AN_MAX_STRIPS];
    for (uint32_t s = 0; s < a->ns; s++) {
        ratio[s] = NAN;
        if (isnan(a->bone_row[s]))
            continue;
        const float *m = an_sm(a, s);
        float below = an_mean(m, a->h, a->bone_row[s] + 1.0f / a->sp, a->bone_row[s] + 4.0f / a->sp);
        float above = an_mean(m, a->h, a->bone_row[s] - 3.0f / a->sp, a->bone_row[s] - 0.5f / a->sp);
        ratio[s] = above > 0 && !isnan(below) ? below / above : 0.0f;   /* cannot tell: keep */
    }
    for (uint32_t s0 = 0; s0 < a->ns;) {
        if (isnan(ratio[s0])) {
            s0++;
            continue;
        }
        /* the run: strips with bone up to 3 mm apart in depth, across gaps
         * of up to 2 strips */
        uint32_t last = s0, s1 = s0 + 1, n = 1;
        tmp[0] = ratio[s0];
        for (; s1 < a->ns && s1 - last <= 3; s1++)
            if (!isnan(ratio[s1])) {
                if (fabsf(a->bone_row[s1] - a->bone_row[last]) >= 3.0f / a->sp)
                    break;
                tmp[n++] = ratio[s1];
                last = s1;
            }
        s1 = last + 1;
        float med = an_percentile_f(tmp, n, 50);
        if (med > ACH_SHADOW_MAX && a->bone_row[last] * a->sp < ACH_SHADOW_DEPTH_MM)
            for (uint32_t s = s0; s < s1; s++) {
                a->bone_row[s] = a->bone_top[s] = NAN;
                a->bone_line[s] = false;
            }
        s0 = s1;
    }
}

/* an_insertion_edge with the deep border lifted by lift_mm meanwhile. */
static float ach_insertion_edge(tl_analyzer *a, float lift_mm)
{
    float keep[AN_MAX_STRIPS];
    memcpy(keep, a->deep_fit, a->ns * sizeof(float));
    for (uint32_t s = 0; s < a->ns; s++)
        a->deep_fit[s] -= lift_mm / a->sp;
    float x = an_insertion_edge(a);
    memcpy(a->deep_fit, keep, a->ns * sizeof(float));
    return x;
}

void an_achilles(tl_analyzer *a, const tl_analysis_params *p, tl_analysis_result *r)
{
    /* the first structure under the skin and a thin subcutaneous layer */
    /* The tendon inserts on the calcaneus: its deep border there merges
     * with the top of the cortex echo, so the search reaches 0.1 mm into it
     * (the fascia has soft tissue between it and the bone: 0.15 mm short).
     * No bone prior: the deep Kager/muscle boundary passes for bone too
     * often in midportion views. */
    an_find_bone(a, 3.0f, false);
    ach_no_shadow(a);   /* the tendon's deep echo is not bone */
    an_band_over_bone(a, 2.2f, 12.0f, 8.0f, -0.1f, 0.0f);
    an_band_measure(a, r);
    /* A tilted probe: a band without fibre echoes, found again as two
     * straight lines (an_achilles.c). */
    float line_top[AN_MAX_STRIPS];
    bool fitted = an_ach_tilted(a, r, 2.2f, 8.0f, 12.0f, line_top);
    if (!fitted && r->structure_found && an_ach_deep_dip(a)) {
        int nw = r->n_warnings;
        an_band_measure(a, r);
        r->n_warnings = nw;
    }
    an_polyline(a, a->bone_row, &r->bone);
    if (!r->structure_found)
        return;
    r->echogenicity_db = an_band_vs_above(a, p);
    /* Insertion view: the calcaneus right under the tendon over >= 2 mm. */
    uint32_t under = 0;
    for (uint32_t s = 0; s < a->ns; s++)
        under += !isnan(a->bone_row[s]) && !isnan(a->deep_fit[s]) &&
                 a->bone_row[s] - a->deep_fit[s] < 2.0f / a->sp;
    bool bone = (float)under * (float)a->sw * a->sp >= 2.0f;
    /* A fitted deep border lies on the cortex (an_ach_tilted), where
     * an_insertion_edge would take the bone for the band's own edge: it looks
     * from 0.5 mm above it. The free search's deep border can lie on it
     * too (it reaches 0.1 mm into the cortex echo): then the only bone left
     * is where the calcaneus curves away from the tendon, and where that was
     * under 4 strips the insertion went unseen (seed 2030 case 10 of `talus
     * eval tissue --anatomy achilles --cases 300`: a 6.34 mm insertion
     * judged against the midportion limit). Then, and only then, the edge is
     * looked for again from 0.5 mm above: where the first look finds it, its
     * site lies ~3 mm short of the truth's, clear of the bone, where the
     * deep border reads truer than over the bone (0.1-0.2 mm deep there:
     * lifting always broke 2 cases of seed 2026 and fixed none). */
    float bone_found[AN_MAX_STRIPS];
    memcpy(bone_found, a->bone_row, a->ns * sizeof(float));
    float x_ins = bone ? ach_insertion_edge(a, fitted ? 0.5f : 0.0f) : NAN;
    if (bone && isnan(x_ins) && !fitted) {
        memcpy(a->bone_row, bone_found, a->ns * sizeof(float));
        x_ins = ach_insertion_edge(a, 0.5f);
    }
    bone = bone && !isnan(x_ins);
    r->insertion_view = bone;

    /* Maximum AP thickness along the tendon away from the insertion: the
     * maximum of the profile averaged over +/-2.5 mm (the maximum of the
     * raw profile would also pick the largest measurement noise), on the
     * band short of a step near either end (ach_stretch). */
    float seg0, seg1;
    ach_stretch(r, &seg0, &seg1);
    float best = -1, bx = NAN;
    for (uint32_t i = 0; i < r->n_profile; i++) {
        if ((bone && fabsf(r->profile_x_mm[i] - x_ins) < 3.0f) || r->profile_x_mm[i] < seg0 ||
            r->profile_x_mm[i] > seg1)
            continue;
        double sum = 0;
        int k = 0;
        for (uint32_t j = 0; j < r->n_profile; j++)
            if (fabsf(r->profile_x_mm[j] - r->profile_x_mm[i]) <= 2.5f &&
                r->profile_x_mm[j] >= seg0 && r->profile_x_mm[j] <= seg1 &&
                !(bone && fabsf(r->profile_x_mm[j] - x_ins) < 3.0f)) {
                sum += r->profile_mm[j];
                k++;
            }
        if (k && sum / k > best) {
            best = (float)(sum / k);
            bx = r->profile_x_mm[i];
        }
    }
    float sd = NAN, z = NAN;
    r->midportion_mm = isnan(bx) ? NAN : an_thickness_at(a, bx, &sd, &z);
    if (!isnan(r->midportion_mm))
        r->midportion_mm = best;
    float sd_i = NAN, z_i = NAN;
    /* On fitted lines the insertion is read between the two lines: where
     * the tilt takes the top line up into the dermis, the outline's top is
     * clipped there (an_ach_tilted) but the clip is not the tendon's top
     * (seed 2026 of `--anatomy achilles --cases 300`, cases 224 and 285:
     * 7.08 mm read 6.68, 6.23 read 5.73). The thickness is constant near
     * the insertion, so the line a few mm on is the measure. */
    float keep[AN_MAX_STRIPS];
    if (bone && fitted) {
        memcpy(keep, a->sup_fit, a->ns * sizeof(float));
        memcpy(a->sup_fit, line_top, a->ns * sizeof(float));
    }
    r->insertion_mm = bone ? an_thickness_at(a, x_ins, &sd_i, &z_i) : NAN;
    if (bone && fitted)
        memcpy(a->sup_fit, keep, a->ns * sizeof(float));
    bool ins = p->achilles_site == TL_ACHILLES_SITE_INSERTION ||
               (p->achilles_site == TL_ACHILLES_SITE_AUTO && bone && !isnan(r->insertion_mm));
    if (ins && isnan(r->insertion_mm)) {
        an_warn(r, "insertion asked for but the calcaneus is not in view: midportion measured");
        ins = false;
    }
    r->thickness_mm = ins ? r->insertion_mm : r->midportion_mm;
    r->thickness_sd_mm = ins ? sd_i : sd;
    r->site_x_mm = ins ? x_ins : bx;
    r->site_z_mm = ins ? z_i : z;
    r->abnormal_limit_mm = tl_achilles_limit_mm(ins, p->age_years, p->sex);
    if (!(p->age_years > 0) || !(p->sex == 'M' || p->sex == 'F' || p->sex == 'm' || p->sex == 'f'))
        an_warn(r, "no patient age/sex: judged against the conservative %.1f mm limit",
                r->abnormal_limit_mm);
    r->abnormal = r->thickness_mm > r->abnormal_limit_mm;
    /* Fusiform: a spindle, thick in the middle and thinner at both ends. */
    if (r->n_profile >= 8) {
        float ends = fminf(r->profile_mm[1], r->profile_mm[r->n_profile - 2]);
        float mx = 0;
        uint32_t im = 0;
        for (uint32_t i = 0; i < r->n_profile; i++)
            if (r->profile_mm[i] > mx) {
                mx = r->profile_mm[i];
                im = i;
            }
        r->fusiform = !bone && mx > 1.3f * ends && im > r->n_profile / 5 && im < 4 * r->n_profile / 5;
        if (r->fusiform)
            an_warn(r, "fusiform swelling of the tendon (%.1f mm vs %.1f mm)", mx, ends);
    }
}
