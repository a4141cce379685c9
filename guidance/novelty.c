/* Needle detection, the time cue applied to a candidate line: has it
 * changed since the background was learned (a needle that came), or is it
 * static anatomy; and where does its new echo end. Called by detect.c for
 * every traced candidate and for the tracked line. */
#include "guidance_internal.h"

#include <math.h>
#include <string.h>

/* With time. A candidate found by the search must have changed -- along
 * its shaft, or at its deep end (a needle present from the start shows
 * only its advance); a static septum, cortex or fascia line does not. A
 * candidate that changed strongly may stand on the time cue and its
 * position alone (a steep shaft is faint and dotted: it fails the
 * brightness and straightness tests of a single image, not this one). The
 * tracked line (is_hint) is not asked to have changed: it may have
 * stopped at its target. Levels in the difference's robust sigmas. */
#define NOVELTY_MIN 1.6f    /* (NOVELTY_FULL: guidance_internal.h) */
#define NOVELTY_ALONE 2.2f  /* from here the time cue can stand in ... */
#define NOVELTY_ALONE_FULL 3.5f /* ... fully from here */
/* a line's run-on beyond its new echo is static (cortex, fascia learned
 * long ago: ~0-1 sigmas) below this mean change */
#define STATIC_REST_SIGMAS 2.0f
/* a traced shaft this many robust sigmas above the tissue beside it has a
 * measured end */
#define MEASURED_CONTRAST 5.0f
/* How much the line changed since the background was learned: its new
 * echo along the shaft or at its deep end, discounted by change in its
 * twin beside it (anatomy that moved, not a needle that came). all, twin
 * and side are the parts novelty_gate weighs further. */
static float line_change(const tl_needle_detector *d, const tl_bmode *img, float work_mm,
                         bool is_hint, const tl_needle_detection *det, float *all, float *twin,
                         float *side)
{
    float tail, twin_sh;
    double sp = img->spacing_mm;
    temporal_novelty(d, det->entry_x_mm / sp, det->entry_z_mm / sp, det->tip_x_mm / sp,
                     det->tip_z_mm / sp, work_mm, 3.0f, all, &tail, twin, &twin_sh, side);
    /* The tracked line's background is frozen while it is tracked, so a
     * needle that stopped has its own partial shadow beneath it as "dark
     * and new": only the shallow side speaks of anatomy that shifted. */
    if (is_hint)
        *twin = twin_sh;
    return fmaxf(*all, tail) + 2.0f * *twin;
}

float novelty_gate(const tl_needle_detector *d, const tl_bmode *img, float work_mm,
                   bool is_hint, float geo, tl_needle_detection *det, float *rank)
{
    /* Rank among candidates: a single-image pass first (a straight, bright
     * ridge is the best-measured line), then lines accepted on time alone
     * by how much new echo they collect (every line through a new shaft and
     * its reverberation band is new; the one along the shaft collects the
     * most), then the rest by confidence. */
    float c_in = det->confidence;
    *rank = det->confidence;
    if (!d->temporal || det->length_mm <= 0.0f) {
        if (c_in >= d->p.min_confidence)
            *rank = 2.0f + c_in;
        return 0.0f;
    }
    float all, twin, side;
    double sp = img->spacing_mm;
    float nov = line_change(d, img, work_mm, is_hint, det, &all, &twin, &side);
    float s_new = is_hint ? 1.0f
                          : clampf((nov - NOVELTY_MIN) / (NOVELTY_FULL - NOVELTY_MIN), 0.0f, 1.0f);
    /* standing on time alone asks the whole shaft to be new, not its end */
    /* The tracked line has its own evidence (the track locked on two
     * stricter detections and predicts it here): the bar of "new" that
     * any search candidate must clear is enough for it to stand on. */
    float lo = is_hint ? 2.0f : NOVELTY_ALONE, hi = is_hint ? 3.2f : NOVELTY_ALONE_FULL;
    float s_alone = clampf((all + 2.0f * twin - lo) / (hi - lo), 0.0f, 1.0f);
    /* ... and the change to be a line: clearly less of it on the shallow
     * side than on the line itself */
    float s_line = all > 0.0f ? clampf(((all - side) / all - 0.3f) / 0.3f, 0.0f, 1.0f) : 0.0f;
    /* (and little of it at all: a line under a new shaft, through its tip
     * and reverberations, has the shaft itself on its shallow side) */
    s_line *= clampf((4.5f - side) / 1.5f, 0.0f, 1.0f);
    s_alone *= s_line;
    float c_static = det->confidence * s_new, c_time = geo * s_alone;
    if (c_static >= d->p.min_confidence)
        *rank = 2.0f + c_static;
    else if (c_time >= d->p.min_confidence)
        *rank = 1.0f + clampf(all * det->length_mm / 100.0f, 0.0f, 0.99f);
    else
        *rank = fmaxf(c_static, c_time);
    /* the single image traced this shaft and found where its echo ends
     * (clearly brighter than the tissue beside it: its straightness and
     * the rest of the confidence are not about where it ends) */
    bool measured = det->length_mm >= d->p.min_length_mm && det->contrast >= MEASURED_CONTRAST;
    if (c_time > c_static) {
        det->confidence = c_time;
        det->reason = "ok";
        /* a faint shaft's end is where its new echo ends. A shaft the image
         * measured is not shortened by it (but for the pull-back below: the
         * new echo's end fell 2-4 mm short where the change along a bright
         * shaft was uneven, ntip 2026-11-24), yet is lengthened by it: the
         * image's trace ends where the shaft enters a layer as bright as
         * itself (the README demo's slow needle, stopped in its target in
         * the plantar fascia, was shown 3.3 mm short at the band's top:
         * tests/test_ui_demo.c) */
        double tx, tz;
        if (temporal_tip(d, det->entry_x_mm / sp, det->entry_z_mm / sp, det->tip_x_mm / sp,
                         det->tip_z_mm / sp, work_mm, &tx, &tz, NULL)) {
            float nx = (float)(tx * sp), nz = (float)(tz * sp);
            float ln = hypotf(nx - det->entry_x_mm, nz - det->entry_z_mm);
            if (!measured || ln > det->length_mm) {
                det->tip_x_mm = nx;
                det->tip_z_mm = nz;
                det->length_mm = ln;
            }
        }
    } else {
        det->confidence = c_static;
        if (s_new < 0.5f && det->reason && strcmp(det->reason, "ok") == 0)
            det->reason = "static line (no change over time)";
    }
    /* A shaft traced in the image that runs on along a static bright line
     * (the tibia cortex beside an ankle needle, a fascia band) ends, as a
     * needle, where its new echo ends: pull such a tip back (by > 1 mm;
     * not forward: a bright shaft's own end is better measured in the
     * image), and only where what it runs on along is static: a shaft
     * whose change is merely weaker there (a tile its tail fills has a
     * larger spread) is new echo all along. */
    double tx, tz;
    float rest = 0.0f;
    if (det->confidence >= d->p.min_confidence && (c_static >= c_time || measured) &&
        temporal_tip(d, det->entry_x_mm / sp, det->entry_z_mm / sp, det->tip_x_mm / sp,
                     det->tip_z_mm / sp, work_mm, &tx, &tz, &rest) &&
        rest < STATIC_REST_SIGMAS) {
        float nx = (float)(tx * sp), nz = (float)(tz * sp);
        float ln = hypotf(nx - det->entry_x_mm, nz - det->entry_z_mm);
        if (ln < det->length_mm - 1.0f && ln >= d->p.min_length_mm) {
            det->tip_x_mm = nx;
            det->tip_z_mm = nz;
            det->length_mm = ln;
        }
    }
    return nov;
}

float novelty_of_line(const tl_needle_detector *d, const tl_bmode *img, float work_mm,
                      bool is_hint, const tl_needle_detection *det)
{
    if (!d->temporal || !(det->length_mm > 0.0f))
        return NAN;
    float all, twin, side;
    return line_change(d, img, work_mm, is_hint, det, &all, &twin, &side);
}

/* A candidate the single-image trace could not measure (too faint): trace
 * it in the difference alone; it stands on the time cue (novelty_gate with
 * its position score as geo). Replaces det/rank when it ranks higher. */
void time_trace(const tl_needle_detector *d, const tl_bmode *img, float work_mm,
                bool is_hint, const needle_line *cand, tl_needle_detection *det,
                float *rank)
{
    if (!d->temporal || det->confidence >= d->p.min_confidence)
        return;
    tl_needle_detection t;
    bool ok = temporal_trace(d, cand, work_mm, d->p.min_length_mm, &t);
    if (!ok)
        return;
    float fa = fabsf(t.angle_deg);
    if (fa < d->p.min_angle_deg || fa > d->p.max_angle_deg ||
        (d->p.side > 0 && t.angle_deg < 0.0f) || (d->p.side < 0 && t.angle_deg > 0.0f))
        return;
    float geo = t.confidence, r;
    t.confidence = 0.0f; /* no single-image evidence */
    novelty_gate(d, img, work_mm, is_hint, geo, &t, &r);
    if (r > *rank) {
        *det = t;
        *rank = r;
    }
}
