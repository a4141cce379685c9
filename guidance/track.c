/* Needle tracking: a Kalman filter on the shaft's angle, its perpendicular
 * offset and the tip's position along the shaft (constant velocity: the
 * needle advances). Offsets are measured from a reference point fixed when
 * the track starts (near the first tip seen), so angle noise does not leak
 * into the offset. A measurement too far from the prediction is gated out
 * (one bad frame does not move the overlay); a run of them re-acquires. */
#include "guidance_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Measurement noise (1 sigma) of one detection at full confidence. */
#define R_ANGLE_DEG 0.5f
#define R_OFFSET_MM 0.12f
#define R_TIP_MM 0.3f
/* Gate on the tip along the shaft: the needle may be pushed quickly. */
#define GATE_TIP_MM 4.0f
#define REACQUIRE_AFTER 3
/* out of plane at once when the shaft's echo falls below this part of its
 * level while seen (a level of LEVEL_MIN sigmas at least) */
#define LEVEL_GONE 0.5f
#define LEVEL_MIN 1.5f
/* A coasting frame whose echo along the predicted shaft holds at this part
 * of its level while seen or more does not count towards the coast limit:
 * the shaft is still there, the detector merely failed on it (a steep,
 * dotted shaft near its target whose trace breaks: "shaft too short"). Up
 * to HOLD_MAX such frames in a row, so a line the needle left behind that
 * stays bright (a cortex it ran along) is let go in the end. */
#define LEVEL_HOLD 0.7f
#define HOLD_MAX 12u
/* A line the detector traced but did not report (confidence under its
 * bar, at least WEAK_CONF) that lies on the tracked line -- within
 * WEAK_GATE_DEG and WEAK_GATE_MM of it, tighter than the gate of a
 * detection -- is the tracked needle seen faintly: it moves the track at
 * its low weight and holds the coast like an echo that holds. */
#define WEAK_CONF 0.2f
#define WEAK_GATE_DEG 2.0f
#define WEAK_GATE_MM 0.5f
/* ... but its tip only when within this of the predicted one (or of
 * where the needle would be had it gone on at the speed last measured: the
 * coasting tip is held back on purpose): a faint line's end is where its
 * trace broke (seed 7 case 17: 3.5 mm short) or, on a straight frame of a
 * steering scheme, where the steep shaft's weak echo merges with its tail
 * (cases 21, 41: ~1 mm long) */
#define WEAK_TIP_MM 0.6f
/* A track begun on a frame without any time background (the detector's
 * first frame: no_background) has only single images for it,
 * and a straight, bright anatomical line looks like a needle in one image
 * (seed 19 case 39: a tendon's deep border at 12 deg, confidence 0.73 on
 * frame 0, then followed as a still needle on all 12 frames: the tracked
 * line is not asked to have changed, it may have stopped). Such a track is
 * confirmed by a detection on it that changed by CHANGE_SEEN robust sigmas
 * or more (a needle that came or advances: 2-47 on the eval's frames;
 * static lines 0-1.5); until then it is not shown, and after
 * STILL_RELEASE frames with the cue that saw no such change it is let go.
 * Where the cue never speaks (a probe that moves all the time) it is shown
 * as before, from its NOCUE_SHOW-th sighting. The conservative side: a needle
 * already in the plane and still when the stream starts is not shown
 * until it moves. */
#define CHANGE_SEEN 2.6f
#define STILL_RELEASE 3u
#define NOCUE_SHOW 3u

struct tl_needle_tracker {
    tl_tracker_params p;
    tl_track_state state;
    float ref_x, ref_z;          /* offsets are measured from here */
    float th, p_th;              /* angle (deg) and its variance */
    float c, p_c;                /* perpendicular offset (mm) */
    float s, v;                  /* tip along the shaft (mm) and its speed (mm/frame) */
    float pss, psv, pvv;         /* covariance of (s, v) */
    float conf;
    uint32_t hits, misses, rejects, frames, first_frame;
    uint32_t held;               /* coasting frames in a row the echo held */
    /* the last detection gated out, and how many gated out in a row agree
     * with each other (one line elsewhere: the needle, the track wrong) */
    float rej_th, rej_x, rej_z;
    uint32_t rej_agree;
    /* the tip along the shaft and its speed when last measured, and the
     * frames since */
    float s_meas, v_meas;
    uint32_t since_meas;
    uint32_t frames_to_lock;
    uint32_t frame_no;
    float ref_level;             /* brightest track_level while the needle was seen */
    /* begun without the time cue and not yet seen to change; its
     * detections without the cue, and with the cue but unchanged */
    bool unconfirmed;
    uint32_t nocue, still;
    bool cue_seen;               /* ... and a frame of it had the cue */
};

const char *tl_track_state_name(tl_track_state s)
{
    switch (s) {
    case TL_TRACK_NONE: return "none";
    case TL_TRACK_ACQUIRING: return "acquiring";
    case TL_TRACK_LOCKED: return "locked";
    case TL_TRACK_COASTING: return "coasting";
    case TL_TRACK_OUT_OF_PLANE: return "out of plane";
    }
    return "unknown";
}

tl_tracker_params tl_tracker_params_default(void)
{
    tl_tracker_params p = {
        .lock_hits = 2,
        .gate_angle_deg = 4.0f,
        .gate_mm = 1.5f,
        .coast_frames = 4,
        .angle_noise_deg = 0.15f,
        .offset_noise_mm = 0.05f,
        .tip_noise_mm = 0.3f,
    };
    return p;
}

tl_status tl_needle_tracker_create(const tl_tracker_params *params, tl_needle_tracker **out)
{
    if (!out)
        return TL_ERR_INVALID_ARG;
    *out = NULL;
    tl_tracker_params p = params ? *params : tl_tracker_params_default();
    if (p.lock_hits < 1 || p.lock_hits > 50 || !(p.gate_angle_deg > 0.0f) ||
        !(p.gate_mm > 0.0f) || p.coast_frames > 1000 || !(p.angle_noise_deg >= 0.0f) ||
        !(p.offset_noise_mm >= 0.0f) || !(p.tip_noise_mm >= 0.0f))
        return TL_ERR_INVALID_ARG;
    tl_needle_tracker *t = calloc(1, sizeof *t);
    if (!t)
        return TL_ERR_NO_MEM;
    t->p = p;
    *out = t;
    return TL_OK;
}

void tl_needle_tracker_destroy(tl_needle_tracker *tr)
{
    free(tr);
}

void tl_needle_tracker_reset(tl_needle_tracker *tr)
{
    if (!tr)
        return;
    tl_tracker_params p = tr->p;
    memset(tr, 0, sizeof *tr);
    tr->p = p;
}

/* Measurement of (angle, offset, along) from a detection, relative to ref. */
static void measure(const tl_needle_tracker *t, const tl_needle_detection *d, float *th,
                    float *c, float *s)
{
    double a = d->angle_deg * TL_DEG;
    double dx = d->tip_x_mm - t->ref_x, dz = d->tip_z_mm - t->ref_z;
    *th = d->angle_deg;
    *c = (float)(-dx * sin(a) + dz * cos(a));
    *s = (float)(dx * cos(a) + dz * sin(a));
}

static void start_track(tl_needle_tracker *t, const tl_needle_detection *d)
{
    t->ref_x = d->tip_x_mm;
    t->ref_z = d->tip_z_mm;
    t->th = d->angle_deg;
    t->c = 0.0f;
    t->s = 0.0f;
    t->v = 0.0f;
    t->p_th = R_ANGLE_DEG * R_ANGLE_DEG;
    t->p_c = R_OFFSET_MM * R_OFFSET_MM;
    t->pss = R_TIP_MM * R_TIP_MM;
    t->psv = 0.0f;
    t->pvv = 1.0f; /* speed unknown: ~1 mm/frame spread */
    t->hits = 1;
    t->misses = 0;
    t->held = 0;
    t->rejects = 0;
    t->rej_agree = 0;
    t->s_meas = 0.0f;
    t->v_meas = 0.0f;
    t->since_meas = 0;
    t->first_frame = t->frame_no;
    t->conf = d->confidence;
    t->state = TL_TRACK_ACQUIRING;
    t->frames_to_lock = 0;
    t->ref_level = 0.0f;
    /* a search candidate with the cue has changed (the detector's novelty
     * gate); on a detector's first frame nothing says it is not static
     * anatomy. (A frame whose background restarted because its brightest
     * structures changed -- the probe moved, or a bright needle arrived --
     * begins a track as before: test_guidance_follow's needle trips it.) */
    t->unconfirmed = d->no_background;
    t->nocue = t->unconfirmed ? 1u : 0u;
    t->still = 0;
    t->cue_seen = false;
}

/* The time cue on a detection on the track (accepted, or a faint line on
 * it): confirm it, or count a frame that saw it unchanged. */
static void change_evidence(tl_needle_tracker *t, const tl_needle_detection *d)
{
    if (!t->unconfirmed)
        return;
    if (isnan(d->change))
        t->nocue++;
    else if (d->change >= CHANGE_SEEN)
        t->unconfirmed = false;
    else
        t->still++;
}

static void predict(tl_needle_tracker *t)
{
    t->since_meas++;
    float qa = t->p.angle_noise_deg, qc = t->p.offset_noise_mm, qs = t->p.tip_noise_mm;
    t->p_th += qa * qa;
    t->p_c += qc * qc;
    /* constant velocity, white acceleration of spread qs per frame */
    t->s += t->v;
    float pss = t->pss + 2.0f * t->psv + t->pvv, psv = t->psv + t->pvv, pvv = t->pvv;
    t->pss = pss + 0.25f * qs * qs;
    t->psv = psv + 0.5f * qs * qs;
    t->pvv = pvv + qs * qs;
}

static void correct(tl_needle_tracker *t, float th, float c, float s, float conf)
{
    float w = 1.0f / fmaxf(conf, 0.3f);
    float ra = R_ANGLE_DEG * R_ANGLE_DEG * w, rc = R_OFFSET_MM * R_OFFSET_MM * w;
    float rs = R_TIP_MM * R_TIP_MM * w;
    float k = t->p_th / (t->p_th + ra);
    t->th += k * (th - t->th);
    t->p_th *= 1.0f - k;
    k = t->p_c / (t->p_c + rc);
    t->c += k * (c - t->c);
    t->p_c *= 1.0f - k;
    float inn = s - t->s;
    /* Huber: a tip that jumps further than the prediction's own spread
     * plus 0.5 mm is believed less (a frame whose echo runs on along a bright
     * layer); a real change of speed is followed over a few frames. */
    float hub = 0.5f + 1.0f * sqrtf(t->pss + rs);
    if (fabsf(inn) > hub)
        rs *= fabsf(inn) / hub;
    float sden = t->pss + rs;
    float k0 = t->pss / sden, k1 = t->psv / sden;
    t->s += k0 * inn;
    t->v += k1 * inn;
    float pss = (1.0f - k0) * t->pss, psv = (1.0f - k0) * t->psv;
    float pvv = t->pvv - k1 * t->psv;
    t->pss = pss;
    t->psv = psv;
    t->pvv = pvv;
    t->conf = 0.7f * t->conf + 0.3f * conf;
    t->s_meas = t->s;
    t->v_meas = t->v;
    t->since_meas = 0;
}

static bool consistent(const tl_needle_tracker *t, float th, float c, float s)
{
    float ga = t->p.gate_angle_deg + 3.0f * sqrtf(t->p_th);
    float gc = t->p.gate_mm + 3.0f * sqrtf(t->p_c);
    float gs = GATE_TIP_MM + 3.0f * sqrtf(t->pss);
    return fabsf(th - t->th) <= ga && fabsf(c - t->c) <= gc && fabsf(s - t->s) <= gs;
}

static void output(const tl_needle_tracker *t, bool det_found, tl_needle_track *o)
{
    memset(o, 0, sizeof *o);
    o->state = t->state;
    double a = t->th * TL_DEG;
    o->tip_x_mm = (float)(t->ref_x - t->c * sin(a) + t->s * cos(a));
    o->tip_z_mm = (float)(t->ref_z + t->c * cos(a) + t->s * sin(a));
    o->angle_deg = t->th;
    o->confidence = t->conf;
    /* speed towards the deep end, whichever side the needle came from */
    o->tip_speed_mm = sin(a) >= 0.0 ? t->v : -t->v;
    o->frames_seen = t->hits;
    o->frames_to_lock = t->frames_to_lock;
    switch (t->state) {
    case TL_TRACK_LOCKED:
    case TL_TRACK_COASTING:
        o->found = true;
        break;
    case TL_TRACK_ACQUIRING:
        o->found = det_found;
        break;
    case TL_TRACK_OUT_OF_PLANE:
        o->out_of_plane = true;
        break;
    default:
        break;
    }
    if (!o->found && t->state != TL_TRACK_OUT_OF_PLANE)
        o->confidence = 0.0f;
}

/* The tip at position s along the track's line, and the angle. */
static void estimate(const tl_needle_tracker *t, float s, float *tip_x_mm, float *tip_z_mm,
                     float *angle_deg)
{
    double a = t->th * TL_DEG;
    *tip_x_mm = (float)(t->ref_x - t->c * sin(a) + s * cos(a));
    *tip_z_mm = (float)(t->ref_z + t->c * cos(a) + s * sin(a));
    *angle_deg = t->th;
}

tl_status tl_needle_tracker_predict(const tl_needle_tracker *t, float *tip_x_mm,
                                    float *tip_z_mm, float *angle_deg)
{
    if (!t || !tip_x_mm || !tip_z_mm || !angle_deg)
        return TL_ERR_INVALID_ARG;
    if (t->state != TL_TRACK_LOCKED && t->state != TL_TRACK_COASTING)
        return TL_ERR_STATE;
    estimate(t, t->s + t->v, tip_x_mm, tip_z_mm, angle_deg); /* one frame ahead */
    return TL_OK;
}

tl_status tl_needle_tracker_update(tl_needle_tracker *t, const tl_needle_detection *d,
                                   tl_needle_track *out)
{
    if (!t || !d || !out)
        return TL_ERR_INVALID_ARG;
    bool found = d->found && isfinite(d->tip_x_mm) && isfinite(d->tip_z_mm) &&
                 isfinite(d->angle_deg) && fabsf(d->angle_deg) < 90.0f;
    t->frame_no++;
    bool rejected = false;
    switch (t->state) {
    case TL_TRACK_NONE:
    case TL_TRACK_OUT_OF_PLANE:
        if (found)
            start_track(t, d);
        break;
    case TL_TRACK_ACQUIRING:
        predict(t);
        if (found) {
            float th, c, s;
            measure(t, d, &th, &c, &s);
            if (consistent(t, th, c, s)) {
                correct(t, th, c, s, d->confidence);
                t->hits++;
                t->misses = 0;
                change_evidence(t, d);
            } else {
                start_track(t, d); /* the first sighting was a fluke */
            }
        } else if (++t->misses > 2) {
            t->state = TL_TRACK_NONE;
        }
        if (t->state == TL_TRACK_ACQUIRING && t->hits >= t->p.lock_hits) {
            t->state = TL_TRACK_LOCKED;
            t->frames_to_lock = t->frame_no - t->first_frame + 1;
        }
        break;
    case TL_TRACK_LOCKED:
    case TL_TRACK_COASTING:
        predict(t);
        if (found) {
            float th, c, s;
            measure(t, d, &th, &c, &s);
            if (consistent(t, th, c, s)) {
                correct(t, th, c, s, d->confidence);
                t->hits++;
                t->misses = 0;
                t->held = 0;
                t->rejects = 0;
                t->state = TL_TRACK_LOCKED;
                if (isfinite(d->track_level))
                    t->ref_level = fmaxf(t->ref_level, d->track_level);
                change_evidence(t, d);
                break;
            }
            rejected = true;
            /* does it lie on the line the previous gated-out one did? */
            double ra = t->rej_th * TL_DEG;
            float perp = (float)(-(d->tip_x_mm - t->rej_x) * sin(ra) +
                                 (d->tip_z_mm - t->rej_z) * cos(ra));
            bool agree = t->rejects > 0 && fabsf(d->angle_deg - t->rej_th) <= t->p.gate_angle_deg &&
                         fabsf(perp) <= t->p.gate_mm;
            t->rej_agree = agree ? t->rej_agree + 1 : 1;
            t->rej_th = d->angle_deg;
            t->rej_x = d->tip_x_mm;
            t->rej_z = d->tip_z_mm;
            if (++t->rejects >= REACQUIRE_AFTER) {
                /* The needle really is somewhere else now (re-inserted,
                 * or the track locked on a wrong first line). When the
                 * detections it was gated out on agree with each other,
                 * they are more than a lock needs: locked at once, not
                 * acquired again (which a steep shaft's next missed frames
                 * would drop). */
                bool relock = t->rej_agree >= REACQUIRE_AFTER;
                start_track(t, d);
                if (relock && t->p.lock_hits <= REACQUIRE_AFTER) {
                    t->state = TL_TRACK_LOCKED;
                    t->hits = REACQUIRE_AFTER;
                    t->frames_to_lock = REACQUIRE_AFTER;
                }
                break;
            }
        }
        /* nothing reported, but a faint line on the tracked one */
        bool weak = false, weak_tip = false;
        if (!found && d->confidence >= WEAK_CONF && d->length_mm > 0.0f &&
            isfinite(d->tip_x_mm) && isfinite(d->tip_z_mm) && fabsf(d->angle_deg) < 90.0f) {
            float th, c, s;
            measure(t, d, &th, &c, &s);
            weak = fabsf(th - t->th) <= WEAK_GATE_DEG && fabsf(c - t->c) <= WEAK_GATE_MM &&
                   consistent(t, th, c, s);
            float s_full = t->s_meas + t->v_meas * (float)t->since_meas;
            weak_tip = weak && s >= t->s - WEAK_TIP_MM && s <= fmaxf(t->s, s_full) + WEAK_TIP_MM;
            if (weak_tip)
                correct(t, th, c, s, d->confidence);
            /* a faint line on a track not yet confirmed is its line seen
             * again: unchanged, it counts towards letting it go (eval
             * needle seed 118 case 69: a 12 deg tendon border coasted on
             * such lines, 0.36-0.48, change 0.2-0.7, for 6 frames) */
            if (weak && !isnan(d->change))
                change_evidence(t, d);
        }

        /* nothing seen while the echo along the predicted shaft holds:
         * missed, not gone (does not count towards the coast limit) */
        bool level_known = t->ref_level >= LEVEL_MIN && isfinite(d->track_level);
        bool holds = weak || (level_known && d->track_level >= LEVEL_HOLD * t->ref_level);
        if (!found && holds && t->held < HOLD_MAX)
            t->held++;
        else
            t->misses++;
        t->state = TL_TRACK_COASTING;
        /* Nothing seen: the needle may have stopped (at its target) as
         * well as gone on, so the tip is not run on at full speed: half the
         * step, and half the speed for the next. (A detection gated out
         * elsewhere says nothing about that: full speed.) */
        if (!found && !weak_tip) {
            t->s -= 0.5f * t->v;
            t->v *= 0.5f;
        }
        if (t->misses > t->p.coast_frames)
            t->state = found ? TL_TRACK_ACQUIRING : TL_TRACK_OUT_OF_PLANE;
        /* Nothing found, and the echo along the tracked shaft has fallen
         * below half its level while it was seen: the shaft left the
         * slice, it is not merely missed. Say so now rather than coast on a
         * needle that is gone -- even when a faint line lies on the track:
         * a shaft fading out of the plane leaves such lines for a frame or
         * two (seed 7 cases 83, 132, 146, 167: 0.22-0.46 while their echo
         * was at 0.23-0.48 of its level), and "out of plane" must come when
         * the echo goes, not a frame later. */
        if (!found && level_known && d->track_level < LEVEL_GONE * t->ref_level)
            t->state = TL_TRACK_OUT_OF_PLANE;
        if (t->state == TL_TRACK_ACQUIRING)
            start_track(t, d);
        break;
    }
    if (t->state == TL_TRACK_ACQUIRING && t->p.lock_hits <= 1 && t->hits >= 1) {
        t->state = TL_TRACK_LOCKED;
        t->frames_to_lock = 1;
    }
    if (t->unconfirmed && !isnan(d->change))
        t->cue_seen = true;
    bool hide = false;
    if (t->state != TL_TRACK_NONE && t->state != TL_TRACK_OUT_OF_PLANE && t->unconfirmed) {
        if (t->still >= STILL_RELEASE) {
            /* the cue saw it unchanged, frame after frame: anatomy */
            tl_tracker_params p = t->p;
            uint32_t fn = t->frame_no;
            memset(t, 0, sizeof *t);
            t->p = p;
            t->frame_no = fn;
        } else {
            /* shown from its NOCUE_SHOW-th sighting only where the cue
             * has not been usable on any frame of it (a probe that keeps
             * moving); where it was, the cue did not see it change */
            hide = t->cue_seen || t->nocue < NOCUE_SHOW;
        }
    }
    output(t, found, out);
    if (hide) {
        /* followed (the detector is hinted along it and measures its
         * change), not shown: "a needle seen, not yet confirmed" */
        out->state = TL_TRACK_ACQUIRING;
        out->found = false;
        out->confidence = 0.0f;
        out->frames_to_lock = 0;
    }
    out->rejected = rejected;
    return TL_OK;
}

tl_status tl_needle_follow(tl_needle_detector *det, tl_needle_tracker *tr, const tl_bmode *img,
                           const tl_needle_guide *guide, tl_needle_detection *d,
                           tl_needle_track *out)
{
    if (!det || !tr || !d || !out)
        return TL_ERR_INVALID_ARG;
    float hx = 0.0f, hz = 0.0f, ha = 0.0f;
    bool hint = tl_needle_tracker_predict(tr, &hx, &hz, &ha) == TL_OK;
    tl_status st = tl_needle_detector_hint(det, hint, hx, hz, ha);
    if (st == TL_OK)
        st = tl_needle_detect(det, img, guide, d);
    return st == TL_OK ? tl_needle_tracker_update(tr, d, out) : st;
}
