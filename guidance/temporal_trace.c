/* Needle detection, time: trace a candidate line in the difference image
 * alone. A steep shaft at speckle level gives the single-image trace
 * (refine.c) no run of echo to measure, but its arrival is a run of new
 * echo along the line. This finds that run (the same maximum-interval rule
 * refine.c uses, on the difference in its robust sigmas), straightens the
 * line through it (a local Radon search on the difference), and places
 * the entry and the tip at the run's ends. Split from temporal.c. */
#include "refine_internal.h"

#include <math.h>
#include <string.h>

#define STEP 0.5        /* work pixels per sample along the line */
#define MAXS 4096

/* Bilinear sample of the difference; false outside the scanned area. */
static inline bool diff_at(const tl_needle_detector *d, double x, double z, float *v)
{
    return work_sample(d, d->diff.p, x, z, v);
}

/* Mean difference along the segment p + t u, t in [t0, t1] (work px). */
static float seg_mean(const tl_needle_detector *d, double px, double pz, double ux, double uz,
                      double t0, double t1, double dt)
{
    double s = 0.0;
    int n = 0;
    for (double t = t0; t <= t1; t += dt) {
        float v;
        if (diff_at(d, px + t * ux, pz + t * uz, &v)) {
            s += v;
            n++;
        }
    }
    return n ? (float)(s / n) : -1e9f;
}

/* A steep shaft's new echo is dotted: the middle of its run may fall in a
 * gap (below the bar) or on a bright dot (half of which is more than the
 * rest of the shaft), and the run walked out from there ends short (eval
 * needle seed 11: case 0, a 57 deg shaft in heel fat, never found; case
 * 73, 52 deg Achilles, traced 2 mm of 5). The run again by the first
 * pass's maximum-interval rule, on the straightened line's smoothed
 * change sm, when its mean is clearly above the bar (2 tau, as the walk
 * asks of its middle) and it starts where the line enters the scanned
 * area (within edge samples): a needle seen by the time cue alone comes in
 * from the edge, while the copies of its comet tail beneath it begin
 * deeper along their line (their depth under the shaft / sin(angle):
 * 0.7-1.7 mm; test_guidance_sim's stopped needle was locked on one 1.3 mm
 * in). Only for lines of DOTTED_MIN_DEG or steeper: flatter shafts
 * meet the beams near normal incidence and are not dotted (and on
 * test_guidance_sim's 35 deg stopped needle a fallback line chosen on
 * its first frame, as good as the one chosen before, led its track 2.7 mm
 * short ten frames later). in: m bytes of scratch. */
#define DOTTED_MIN_DEG 40.0
static bool dotted_run(const float *sm, int m, float tau, float cap, int edge, uint8_t *in,
                       int *k0, int *k1)
{
    int r0 = -1, r1 = -1;
    memset(in, 1, (size_t)m);
    max_interval(sm, in, 0, m - 1, tau, cap, &r0, &r1);
    if (r0 < 0 || r1 <= r0 || r0 > edge)
        return false;
    double s = 0.0;
    for (int k = r0; k <= r1; k++)
        s += sm[k];
    if (s / (r1 - r0 + 1) < 2.0 * tau)
        return false;
    *k0 = r0;
    *k1 = r1;
    return true;
}

bool temporal_trace(const tl_needle_detector *d, const needle_line *cand, float work_mm,
                    float min_len_mm, tl_needle_detection *out)
{
    if (!d->temporal)
        return false;
    double f = (double)d->factor;
    /* the candidate in work pixels; direction going deeper */
    double px = (cand->px + 0.5) / f - 0.5, pz = (cand->pz + 0.5) / f - 0.5;
    double ux = cos(cand->a), uz = sin(cand->a);
    if (uz < 0.0) {
        ux = -ux;
        uz = -uz;
    }
    /* back to where the line leaves the scanned area, then along it */
    double t0 = 0.0;
    float v;
    while (t0 > -4000.0 && diff_at(d, px + (t0 - STEP) * ux, pz + (t0 - STEP) * uz, &v))
        t0 -= STEP;
    float prof[MAXS];
    int n = 0;
    for (; n < MAXS; n++) {
        double t = t0 + STEP * n, x = px + t * ux, z = pz + t * uz;
        if (!diff_at(d, x, z, &prof[n]))
            break;
        /* the brightest of three across the line (the candidate is good to
         * about a work pixel) */
        float a, b;
        if (diff_at(d, x - uz, z + ux, &a))
            prof[n] = fmaxf(prof[n], a);
        if (diff_at(d, x + uz, z - ux, &b))
            prof[n] = fmaxf(prof[n], b);
    }
    if (n < 16)
        return false;
    /* the run of new echo: maximum of sum(min(v, cap) - tau) (refine_line.c) */
    const float tau = 1.5f, cap = 6.0f;
    uint8_t inside[MAXS];
    memset(inside, 1, (size_t)n);
    int rs = -1, re = -1;
    max_interval(prof, inside, 0, n - 1, tau, cap, &rs, &re);
    double len_mm = (re - rs) * STEP * work_mm;
    if (rs < 0 || len_mm < min_len_mm)
        return false;
    /* straighten: angle +/- 3 deg, offset +/- 0.4 mm about the run's
     * middle, for the highest mean difference; coarse (1 deg, 0.1 mm,
     * every second sample), then fine (0.25 deg, 0.05 mm) */
    double tm = t0 + STEP * 0.5 * (rs + re), half = STEP * 0.5 * (re - rs);
    double cx = px + tm * ux, cz = pz + tm * uz, a0 = atan2(uz, ux);
    double ba = a0, bo = 0.0;
    float bm = -1e9f;
    for (int ka = -3; ka <= 3; ka++) {
        double a = a0 + ka * TL_DEG, vx = cos(a), vz = sin(a);
        for (int ko = -4; ko <= 4; ko++) {
            double o = ko * 0.1 / work_mm;
            float mm = seg_mean(d, cx - o * vz, cz + o * vx, vx, vz, -half, half, 2.0);
            if (mm > bm) {
                bm = mm;
                ba = a;
                bo = o;
            }
        }
    }
    double ca = ba, co = bo;
    bm = -1e9f;
    for (int ka = -3; ka <= 3; ka++) {
        double a = ca + ka * 0.25 * TL_DEG, vx = cos(a), vz = sin(a);
        for (int ko = -2; ko <= 2; ko++) {
            double o = co + ko * 0.05 / work_mm;
            float mm = seg_mean(d, cx - o * vz, cz + o * vx, vx, vz, -half, half, 1.0);
            if (mm > bm) {
                bm = mm;
                ba = a;
                bo = o;
            }
        }
    }
    double vx = cos(ba), vz = sin(ba);
    double ox = cx - bo * vz, oz = cz + bo * vx;
    /* ends along the straightened line: the run again, on it */
    int m = 0;
    double u0 = 0.0;
    while (u0 > -4000.0 && diff_at(d, ox + (u0 - STEP) * vx, oz + (u0 - STEP) * vz, &v))
        u0 -= STEP;
    for (; m < MAXS; m++)
        if (!diff_at(d, ox + (u0 + STEP * m) * vx, oz + (u0 + STEP * m) * vz, &prof[m]))
            break;
    /* smooth over +/- 0.4 mm, then the run above half its own level */
    float sm[MAXS];
    profile_smooth(prof, m, (int)lround(0.4 / work_mm / STEP), sm);
    int kc = (int)lround((-u0) / STEP);
    if (kc < 0 || kc >= m)
        return false;
    int k0 = kc, k1 = kc;
    if (sm[kc] >= 2.0f * tau) {
        float lvl = 0.5f * sm[kc];
        int gap = (int)lround(1.0 / work_mm / STEP), below = 0;
        for (int k = kc; k < m; k++) {
            if (sm[k] >= lvl) {
                k1 = k;
                below = 0;
            } else if (++below > gap) {
                break;
            }
        }
        below = 0;
        for (int k = kc; k >= 0; k--) {
            if (sm[k] >= lvl) {
                k0 = k;
                below = 0;
            } else if (++below > gap) {
                break;
            }
        }
    }
    len_mm = (k1 - k0) * STEP * work_mm;
    if (len_mm < min_len_mm &&
        !(fabs(vz) >= sin(DOTTED_MIN_DEG * TL_DEG) &&
          dotted_run(sm, m, tau, cap, (int)lround(0.5 / work_mm / STEP), inside, &k0, &k1)))
        return false;
    len_mm = (k1 - k0) * STEP * work_mm;
    if (len_mm < min_len_mm)
        return false;
    /* a needle comes from the image edge: its shallow end is near where the
     * line enters the scanned area */
    double gap_mm = k0 * STEP * work_mm;
    memset(out, 0, sizeof *out);
    double e = u0 + STEP * k0, t = u0 + STEP * k1;
    /* work pixels -> view mm */
    double wmm = work_mm, off = 0.5 * (f - 1.0) * (wmm / f);
    out->entry_x_mm = (float)((ox + e * vx) * wmm + off);
    out->entry_z_mm = (float)((oz + e * vz) * wmm + off);
    out->tip_x_mm = (float)((ox + t * vx) * wmm + off);
    out->tip_z_mm = (float)((oz + t * vz) * wmm + off);
    double ang = ba;
    if (ang > 0.5 * M_PI)
        ang -= M_PI;
    if (ang < -0.5 * M_PI)
        ang += M_PI;
    out->angle_deg = (float)(ang / TL_DEG);
    out->length_mm = (float)len_mm;
    out->contrast = bm;
    out->confidence = clampf(1.0f - ((float)gap_mm - 4.0f) / 4.0f, 0.0f, 1.0f);
    out->reason = out->confidence >= 0.5f ? "ok" : "shaft does not come from the image edge";
    return true;
}
