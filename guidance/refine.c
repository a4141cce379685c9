/* Needle detection, stage 2: trace a candidate line at full resolution.
 *
 * The line is walked along its major axis (columns for lines flatter than
 * 45 degrees, rows for steeper ones) so every step reads whole pixels. At
 * each step we find the ridge (sub-pixel peak across the line), fit a line
 * to the ridge points of the brightest run (the shaft), then read the echo
 * along the fitted line and, for comparison, parallel "control" lines in
 * the tissue just above it: the shaft is the run clearly brighter than its
 * controls, and the tip is where the echo falls to half-way between the
 * shaft's level near its end and the background. All thresholds come from
 * the control profiles, i.e. from this image. */
#include "refine_internal.h"

#include <math.h>
#include <string.h>

void needle_refine(const tl_needle_params *p, const tl_bmode *img, const image_stats *st,
                   const needle_line *cand, scratch *prof, tl_needle_detection *out,
                   float *geo_conf)
{
    memset(out, 0, sizeof *out);
    *geo_conf = 0.0f;
    out->reason = "candidate outside the image";
    walker w = { .img = img, .sp = img->spacing_mm };
    double a = cand->a;
    w.shallow = fabs(a) <= 0.25 * M_PI;
    if (w.shallow) {
        w.nu = (int)img->width;
        w.nv = (int)img->height;
        w.m = tan(a);
        w.u0 = cand->px;
        w.v0 = cand->pz;
    } else {
        w.nu = (int)img->height;
        w.nv = (int)img->width;
        w.m = 1.0 / tan(a);
        w.u0 = cand->pz;
        w.v0 = cand->px;
    }
    w.cosb = 1.0 / sqrt(1.0 + w.m * w.m);
    /* +1: "above" (shallower) is towards larger v. */
    int above = w.shallow ? -1 : (a > 0 ? 1 : -1);
    /* +1: the deep end of the shaft is towards larger u. */
    int deeper = w.shallow ? (a > 0 ? 1 : -1) : 1;
    double px_perp = w.sp * w.cosb;      /* mm across the line per v pixel */
    double sina = fmax(fabs(sin(a)), 0.1);
    double px_along = w.sp / w.cosb;     /* mm along the line per u step */

    int nu = w.nu;
    float *buf = scratch_get(prof, (size_t)nu * 20 * sizeof(float) + (size_t)nu * 2);
    if (!buf) {
        out->reason = "out of memory";
        return;
    }
    float *rv = buf, *itip = buf + nu, *cmax = buf + 2 * nu, *I = buf + 3 * nu;
    float *ctl = buf + 4 * nu /* NCTL nu */, *below = buf + 8 * nu;
    float *ism = buf + 9 * nu, *tmp = buf + 10 * nu; /* tmp: 4 nu */
    float *bgl = buf + 14 * nu, *ex = buf + 15 * nu, *sdc = buf + 16 * nu; /* 2 nu */
    float *below3 = buf + 18 * nu, *below2 = buf + 19 * nu;
    uint8_t *in = (uint8_t *)(buf + 20 * nu), *on = in + nu;

    int rs, re, lo, hi;
    float bsig;

    /* 1. Echo along the Hough line (a band wide enough for its ~0.2 mm
     * uncertainty) against control lines on its shallow side. */
    int hw = iround(0.25 / px_perp);
    out->reason = "candidate outside the image";
    if (!sample_line(&w, above, sina, hw < 1 ? 1 : hw, false, I, ctl, sdc, below, below2, below3, in,
                     &lo, &hi))
        return;
    int rsm = iround(0.3 / px_along);
    smooth_along(I, in, 1, lo, hi, rsm, ism);
    background(ism, ctl, in, lo, hi, rsm, nu, st, tmp, bgl, ex, cmax, &bsig);
    out->reason = "no bright run along the line";
    if (max_interval(ex, in, lo, hi, 1.5f * bsig, 5.0f * bsig, &rs, &re) <= 0.0f)
        return;
    if ((re - rs) * px_along < 0.6 * p->min_length_mm)
        return;

    /* 2. Ridge (sub-pixel peak across the line) over the interval, then a
     * robust line fit through it. */
    int uv = (int)ceil(0.5 / px_perp);
    if (uv < 2)
        uv = 2;
    for (int u = lo; u <= hi; u++)
        on[u] = u >= rs && u <= re && in[u] && ex[u] > 0.0f && ridge_at(&w, u, uv, &rv[u]);
    double fa = 0.0, fb = 0.0, rms_px = 0.0;
    out->reason = "ridge not straight";
    if (!fit_line(rv, on, rs, re, tmp, &fa, &fb, &rms_px))
        return;
    w.u0 = 0.0;
    w.v0 = fa;
    w.m = fb;
    /* A steep shaft is a dotted line (one echo per scan line crossing it):
     * between the dots the ridge finds speckle and the fit wanders. Then
     * take the line along which the echo sums highest, near the fit. */
    double fit_rms_mm = rms_px * px_perp;
    if (fit_rms_mm > 0.1)
        fine_line(&w, rs, re, px_perp);
    w.cosb = 1.0 / sqrt(1.0 + w.m * w.m);
    px_perp = w.sp * w.cosb;
    px_along = w.sp / w.cosb;

    /* 3. Echo along the fitted line, narrow band; the shaft interval with
     * tau at half the shaft's own level. */
    hw = iround(0.1 / px_perp);
    out->reason = "candidate outside the image";
    if (!sample_line(&w, above, sina, hw < 1 ? 1 : hw, true, I, ctl, sdc, below, below2, below3, in,
                     &lo, &hi))
        return;
    smooth_along(I, in, 1, lo, hi, rsm, ism);
    background(ism, ctl, in, lo, hi, rsm, nu, st, tmp, bgl, ex, cmax, &bsig);
    smooth_along(I, in, 1, lo, hi, iround(0.2 / px_along), itip);
    /* Excess at the finer scale, for the tip, against the stricter of the
     * two backgrounds (shallow side, and same depth: beyond the tip a line
     * crossing a fibrillar tendon is bright only because the layers are). */
    smooth_along(sdc, in, 2, lo, hi, rsm, tmp);
    smooth_along(sdc + nu, in, 2, lo, hi, rsm, tmp + nu);
    for (int u = lo; u <= hi; u++)
        if (in[u]) {
            float b = bgl[u];
            if (in[u] == 2 && sdc[u] >= 0.0f && sdc[nu + u] >= 0.0f)
                b = gd_maxf(b, 0.5f * (tmp[u] + tmp[nu + u]));
            itip[u] -= b;
        }
    float cap = 5.0f * bsig;
    out->reason = "no bright run along the line";
    if (max_interval(ex, in, lo, hi, 1.5f * bsig, cap, &rs, &re) <= 0.0f)
        return;
    float shaft = 0.0f;
    for (int it = 0; it < 2; it++) {
        double sum = 0.0;
        int n = 0;
        for (int u = rs; u <= re; u++)
            if (in[u]) {
                sum += gd_minf(ex[u], cap);
                n++;
            }
        shaft = n ? (float)(sum / n) : 0.0f;
        float tau = fmaxf(0.5f * shaft, 1.0f * bsig);
        if (max_interval(ex, in, lo, hi, tau, cap, &rs, &re) <= 0.0f)
            return;
    }
    float t2 = fmaxf(0.5f * shaft, 1.0f * bsig);

    /* 4. The tip: walking from the shallow end of the shaft, the first place
     * where the fine-scale echo stays below half the shaft's level for
     * 0.8 mm (a dotted shaft dips between scan lines, a septum beside it
     * dips the excess; a bright layer the line crosses further on must not
     * extend it). */
    int ue = deeper > 0 ? re : rs, us = deeper > 0 ? rs : re;
    int n = 0;
    for (int k = rs; k <= re; k++)
        if (in[k])
            tmp[n++] = itip[k];
    float half = 0.5f * (n ? median_inplace(tmp, (size_t)n) : shaft);
    int ulast = -1, below_run = 0, need = iround(0.8 / px_along);
    for (int uu = us; uu >= lo && uu <= hi && in[uu]; uu += deeper) {
        if (itip[uu] >= half) {
            ulast = uu;
            below_run = 0;
        } else if (ulast >= 0 && ++below_run > need) {
            break;
        }
    }
    if (ulast >= 0) {
        /* the shaft ends where its own echo does, not where the interval did */
        if (deeper > 0)
            re = ulast;
        else
            rs = ulast;
        ue = ulast;
    }
    double ut = ue;
    if (ulast >= 0) {
        int un = ulast + deeper;
        ut = ulast;
        if (un >= lo && un <= hi && in[un]) {
            float d = itip[ulast] - itip[un];
            double t = d > 1e-6f ? (itip[ulast] - half) / d : 0.5;
            ut = ulast + deeper * clampf((float)t, 0.0f, 1.0f);
        }
    }

    /* 5. Features and confidence. */
    double len = fabs(ut - us) * px_along;
    /* A needle comes from outside the image: its shallow end lies near where
     * the line leaves the image (or the scanned area). Fibres, septa and
     * bone flanks are segments that start and end inside the tissue. */
    int u_border = deeper > 0 ? lo : hi;
    /* Where nothing echoes behind the shallow end (an acoustic shadow: the
     * line at the image's black level), a shaft would not be seen either:
     * that stretch is no gap (an ankle needle that comes out from under
     * the tibia's edge). A needle in anechoic fluid is still seen. */
    float dark_lvl = st->p1 + 0.1f * (st->p90 - st->p1);
    int gap_n = 0;
    for (int u = u_border; u != us; u += deeper)
        gap_n += !in[u] || ism[u] > dark_lvl;
    double entry_gap = gap_n * px_along;
    n = 0;
    for (int k = rs; k <= re; k++)
        if (in[k])
            tmp[n++] = ex[k];
    float contrast = (n ? median_inplace(tmp, (size_t)n) : 0.0f) / bsig;
    (void)t2;
    int filled = 0, ridge = 0, span = re - rs + 1;
    int nbel = 0;
    n = 0;
    for (int k = rs; k <= re; k++) {
        if (!in[k])
            continue;
        if (ex[k] > t2)
            filled++;
        if (ism[k] > cmax[k])
            ridge++;
        if (in[k] == 2) {
            tmp[n++] = below[k];
            tmp[nu + nbel] = bgl[k];
            tmp[2 * nu + nbel] = below3[k];
            tmp[3 * nu + nbel++] = below2[k];
        }
    }
    float below_med = n ? median_inplace(tmp, (size_t)n) : 0.0f;
    float above_med = nbel ? median_inplace(tmp + nu, (size_t)nbel) : 0.0f;
    float below3_med = nbel ? median_inplace(tmp + 2 * nu, (size_t)nbel) : 0.0f;
    float below2_med = nbel ? median_inplace(tmp + 3 * nu, (size_t)nbel) : 0.0f;
    float fill = span > 0 ? (float)filled / (float)span : 0.0f;
    float ridgefrac = span > 0 ? (float)ridge / (float)span : 0.0f;
    /* Straightness of the ridge over the final run. */
    /* Straightness: rms distance of the ridge from the fitted line. */
    double ss = 0.0;
    int nr = 0;
    int uvb = (int)ceil(0.5 / px_perp);
    for (int k = rs; k <= re; k++)
        if (in[k] && ex[k] > t2 && ridge_at(&w, k, uvb < 2 ? 2 : uvb, &rv[k])) {
            double r = rv[k] - (w.v0 + w.m * k);
            if (fabs(r) < 0.7 / px_perp) {
                ss += r * r;
                nr++;
            }
        }
    double rms_mm = nr > 3 ? sqrt(ss / nr) * px_perp : 1.0;
    /* the single-image straightness test judges the ridge as found, not
     * the line the fine search chose through it */
    rms_mm = fmax(rms_mm, fit_rms_mm);

    double vt = w.v0 + w.m * ut, ve = w.v0 + w.m * us;
    double ang;
    if (w.shallow) {
        ang = atan(w.m);
        out->tip_x_mm = (float)(ut * w.sp);
        out->tip_z_mm = (float)(vt * w.sp);
        out->entry_x_mm = (float)(us * w.sp);
        out->entry_z_mm = (float)(ve * w.sp);
    } else {
        ang = atan2(1.0, w.m);
        if (ang > 0.5 * M_PI)
            ang -= M_PI;
        out->tip_x_mm = (float)(vt * w.sp);
        out->tip_z_mm = (float)(ut * w.sp);
        out->entry_x_mm = (float)(ve * w.sp);
        out->entry_z_mm = (float)(us * w.sp);
    }
    out->angle_deg = (float)(ang / TL_DEG);
    out->length_mm = (float)len;
    out->contrast = contrast;

    /* Per-sample contrast, and the evidence of the whole shaft (samples
     * about 0.4 mm apart are independent speckle). */
    float z_tot = contrast * sqrtf((float)len / 0.4f);
    /* Flat lines (10-14 degrees) are where tilted fascia and tendon fibres
     * live: ask them for a clearly brighter echo. */
    float c0 = 1.2f + 2.5f * clampf((14.0f - fabsf((float)(ang / TL_DEG))) / 4.0f, 0.0f, 1.0f);
    float s_con = clampf((contrast - c0) / 1.5f, 0.0f, 1.0f) *
                  clampf((z_tot - 6.0f) / 6.0f, 0.0f, 1.0f);
    float s_len = sqrtf(clampf((float)len / (2.0f * p->min_length_mm), 0.0f, 1.0f));
    float s_str = clampf(1.0f - ((float)rms_mm - 0.08f) / 0.2f, 0.0f, 1.0f);
    float s_fill = clampf((fill - 0.4f) / 0.3f, 0.0f, 1.0f);
    float s_ridge = clampf((ridgefrac - 0.4f) / 0.3f, 0.0f, 1.0f);
    /* Bone: black beneath, both just under the echo and further down. A
     * needle has its reverberation tail (or plain tissue) just beneath it,
     * and at most a partial shadow further down. */
    float dark = st->p1, ref = above_med - dark;
    float r1 = n && ref > 1.0f ? (below_med - dark) / ref : 1.0f;
    float r2 = n && ref > 1.0f ? (below2_med - dark) / ref : 1.0f;
    float r3 = n && ref > 1.0f ? (below3_med - dark) / ref : 1.0f;
    /* dark 3 mm down is bone unless a reverberation tail fills 1-2 mm (a
     * thick cortex echo can fill 1 mm, not 2) */
    float s_shadow = clampf((fmaxf(r3, fminf(r1, r2)) - 0.25f) / 0.3f, 0.0f, 1.0f);
    float fa_deg = fabsf(out->angle_deg);
    bool angle_ok = fa_deg >= p->min_angle_deg - 0.25f && fa_deg <= p->max_angle_deg + 1.0f;
    float s_entry = clampf(1.0f - ((float)entry_gap - 4.0f) / 4.0f, 0.0f, 1.0f);
    /* A needle is among the brightest echoes of the image, not only
     * brighter than the dark tissue around it. */
    n = 0;
    for (int k = rs; k <= re; k++)
        if (in[k])
            tmp[n++] = ism[k];
    float level = n ? median_inplace(tmp, (size_t)n) : 0.0f;
    float span_hi = fmaxf(st->p90 - st->median, 1.0f);
    float s_abs = clampf(((level - st->median) / span_hi - 0.4f) / 0.4f, 0.0f, 1.0f);
    /* A shaft that comes out from under a bone's cortex shows only 2-4 mm
     * beyond the cortex echo, and has the cortex's shadow beneath it. Its
     * reverberation ladder (ladder.c: equally spaced copies parallel to it,
     * drawn into the shadow too, also under the part hidden in the cortex)
     * is what no cortex, fascia or tendon has: it stands for the missing
     * length and for what lies beneath. */
    bool ladder = false;
    if (w.shallow && fa_deg <= LADDER_MAX_DEG && angle_ok && len >= LADDER_MIN_LEN_MM &&
        (len < p->min_length_mm || s_shadow < 0.5f)) {
        ladder_info li;
        int back = iround(LADDER_BEHIND_MM / px_along);
        ladder = ladder_under(&w, us - deeper * back, iround(ut), &li) &&
                 ladder_holds(&li, st);
        if (ladder) {
            s_len = 1.0f;
            s_shadow = 1.0f;
        }
    }
    out->confidence =
        sqrtf(s_con) * s_len * s_str * s_fill * s_ridge * s_shadow * s_entry * sqrtf(s_abs);
    double min_len = ladder ? LADDER_MIN_LEN_MM : p->min_length_mm;
    *geo_conf = len >= min_len && angle_ok ? s_len * s_shadow * s_entry : 0.0f;
    out->reason = "ok";
    if (len < min_len) {
        out->reason = "shaft too short";
        out->confidence *= 0.5f;
    } else if (!angle_ok) {
        out->reason = "angle out of range";
        out->confidence = 0.0f;
    } else if (s_entry < 0.5f) {
        out->reason = "shaft does not come from the image edge";
    } else if (s_abs < 0.3f) {
        out->reason = "not among the bright echoes of the image";
    } else if (s_shadow < 0.5f) {
        out->reason = "shadow beneath (bone)";
    } else if (s_str < 0.5f) {
        out->reason = "ridge not straight";
    } else if (s_ridge < 0.5f) {
        out->reason = "not brighter than the tissue beside it";
    } else if (s_con < 0.3f) {
        out->reason = "low contrast";
    }
}
