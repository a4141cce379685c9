/* Needle enhancement: the acquisition scheme the station and the needle
 * evaluation share, and following a needle through frames of several beam
 * steering angles.
 *
 * A steep shaft sends its mirror echo away from a straight beam (60 deg:
 * -15 dB of the echo at normal incidence); steering the beams of a linear
 * array towards the insertion side meets it nearer perpendicular. The
 * scheme: every frame steered by steer_deg towards the side the needle comes
 * from, except one straight frame in straight_every (display and tissue
 * analysis stay on straight frames: steering changes the anisotropy of
 * fascia and tendon). The needle is followed on both kinds: one detector per
 * steering angle, because the detector's time cue compares a frame with a
 * background of earlier frames and a steered frame differs from a straight
 * one everywhere (other speckle, other anisotropy); one tracker, because the
 * needle is the same whatever the beams did. */
#include "tl_guidance.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FOLLOWER_ANGLES 4
/* A track flatter than this must be confirmed by the straight frames: its
 * incidence on straight beams is under 25 deg (the echo within -5 dB of
 * normal incidence), so a straight frame traced along the predicted line
 * (the tracker's hint) shows it. A "needle" only steered frames see at such
 * an angle is texture that steering made line-like (the near field of a
 * steered frame, whose anisotropic tissue went dark around it). */
#define CONFIRM_BELOW_DEG 25.0f
/* A track steeper than this is not refuted by a straight frame that misses
 * it: its incidence on straight beams is 30 deg or more (-6 dB and less of
 * the echo at normal incidence; 60 deg: -15 dB, at speckle level), 15 deg
 * less on the steered frames around it. Such a straight frame says nothing
 * about the needle, so a track being acquired is shown through it as the
 * steered frames left it (the straight frame still counts as a miss). */
#define STRAIGHT_BLIND_DEG 30.0f
/* ... "shows" it: the echo along the predicted shaft (track_level, mean
 * local residual over its last 5 mm in the image's robust sigmas) at least
 * this, even when the detector's tests fail on that frame (a shaft from
 * under the tibia's edge, a fascia band beside it). Refuted tracks of the
 * eval's seeds 1 / 7 whose needle had left the plane had -0.9 to 1.7, but
 * three 2.5, 47 and 74 (ankle lines along the tibia cortex: those now
 * coast until the tracker lets them go); in-plane needles 1.8-116. */
#define CONFIRM_LEVEL 2.0f

tl_needle_scheme tl_needle_scheme_default(void)
{
    tl_needle_scheme s = { .steer_deg = 15.0f, .straight_every = 4 };
    return s;
}

float tl_needle_scheme_steer(const tl_needle_scheme *s, int side, float max_steer_deg)
{
    if (!s || side == 0 || !(max_steer_deg > 0.0f) || !(s->steer_deg > 0.0f))
        return 0.0f;
    float b = fminf(s->steer_deg, max_steer_deg);
    /* a needle from the left (angle > 0) goes deeper to the right: its
     * normal leans left, so the beams lean left (negative angle) */
    return side > 0 ? -b : b;
}

bool tl_needle_scheme_frame_straight(const tl_needle_scheme *s, uint32_t seq)
{
    return s && s->straight_every >= 2 && seq % s->straight_every == 0;
}

struct tl_needle_follower {
    tl_needle_params dp;
    tl_needle_tracker *tr;
    int n;
    float angle[FOLLOWER_ANGLES];
    tl_needle_detector *det[FOLLOWER_ANGLES];
    uint32_t last_used[FOLLOWER_ANGLES];
    uint32_t frames;
    /* a flat line the straight frames refuted: not taken again from steered
     * frames until a straight frame shows a needle */
    bool refuted;
    float ref_angle, ref_off; /* angle (deg), x where the line meets z = 0 */
    /* the previous frame's output: shown, angle, confidence */
    bool prev_found;
    float prev_angle, prev_conf;
};

static float line_x0(float x, float z, float angle_deg)
{
    float t = tanf(angle_deg * 0.017453292f);
    return fabsf(t) > 1e-3f ? x - z / t : x;
}

tl_status tl_needle_follower_create(const tl_needle_params *dp, const tl_tracker_params *tp,
                                    tl_needle_follower **out)
{
    if (!out)
        return TL_ERR_INVALID_ARG;
    *out = NULL;
    tl_needle_follower *f = calloc(1, sizeof *f);
    if (!f)
        return TL_ERR_NO_MEM;
    f->dp = dp ? *dp : tl_needle_params_default();
    /* the straight detector now, so a bad parameter is refused here */
    tl_status st = tl_needle_detector_create(&f->dp, &f->det[0]);
    if (st == TL_OK)
        st = tl_needle_tracker_create(tp, &f->tr);
    if (st != TL_OK) {
        tl_needle_follower_destroy(f);
        return st;
    }
    f->n = 1;
    f->angle[0] = 0.0f;
    *out = f;
    return TL_OK;
}

void tl_needle_follower_destroy(tl_needle_follower *f)
{
    if (!f)
        return;
    for (int i = 0; i < FOLLOWER_ANGLES; i++)
        tl_needle_detector_destroy(f->det[i]);
    tl_needle_tracker_destroy(f->tr);
    free(f);
}

void tl_needle_follower_reset(tl_needle_follower *f)
{
    if (!f)
        return;
    /* fresh detectors (their time backgrounds belong to the old scene) */
    for (int i = 1; i < FOLLOWER_ANGLES; i++) {
        tl_needle_detector_destroy(f->det[i]);
        f->det[i] = NULL;
    }
    tl_needle_detector *d0 = NULL;
    if (tl_needle_detector_create(&f->dp, &d0) == TL_OK) {
        tl_needle_detector_destroy(f->det[0]);
        f->det[0] = d0;
    }
    f->n = 1;
    f->angle[0] = 0.0f;
    f->refuted = false;
    f->prev_found = false;
    tl_needle_tracker_reset(f->tr);
}

/* The detector of this steering angle: an existing one, a new one, or the
 * least recently used one recycled (a new scheme). */
static tl_status detector_for(tl_needle_follower *f, float steer_deg, tl_needle_detector **out)
{
    for (int i = 0; i < f->n; i++)
        if (f->angle[i] == steer_deg) {
            f->last_used[i] = f->frames;
            *out = f->det[i];
            return TL_OK;
        }
    int slot = f->n;
    if (slot == FOLLOWER_ANGLES) {
        slot = 0;
        for (int i = 1; i < f->n; i++)
            if (f->last_used[i] < f->last_used[slot])
                slot = i;
        tl_needle_detector_destroy(f->det[slot]);
        f->det[slot] = NULL;
    } else {
        f->n++;
    }
    tl_status st = tl_needle_detector_create(&f->dp, &f->det[slot]);
    if (st != TL_OK) {
        /* keep the table consistent: drop the empty slot */
        f->det[slot] = f->det[f->n - 1];
        f->angle[slot] = f->angle[f->n - 1];
        f->det[f->n - 1] = NULL;
        f->n--;
        return st;
    }
    f->angle[slot] = steer_deg;
    f->last_used[slot] = f->frames;
    *out = f->det[slot];
    return TL_OK;
}

tl_status tl_needle_follower_frame(tl_needle_follower *f, const tl_bmode *img, float steer_deg,
                                   const tl_needle_guide *guide, tl_needle_detection *d,
                                   tl_needle_track *out)
{
    if (!f || !img || !d || !out || !(fabsf(steer_deg) <= 90.0f))
        return TL_ERR_INVALID_ARG;
    f->frames++;
    tl_needle_detector *det = NULL;
    tl_status st = detector_for(f, steer_deg, &det);
    if (st != TL_OK)
        return st;
    /* tl_needle_follow, with the straight frames' say over flat lines */
    float px = 0.0f, pz = 0.0f, pa = 0.0f;
    bool tracking = tl_needle_tracker_predict(f->tr, &px, &pz, &pa) == TL_OK;
    bool shallow_track = tracking && fabsf(pa) < CONFIRM_BELOW_DEG;
    st = tl_needle_detector_hint(det, tracking, px, pz, pa);
    if (st == TL_OK)
        st = tl_needle_detect(det, img, guide, d);
    if (st != TL_OK)
        return st;
    bool straight = steer_deg == 0.0f, scheme = f->n > 1;
    if (scheme && !straight && !tracking && d->found && f->refuted &&
        fabsf(d->angle_deg - f->ref_angle) < 4.0f &&
        fabsf(line_x0(d->tip_x_mm, d->tip_z_mm, d->angle_deg) - f->ref_off) < 2.0f) {
        d->found = false;
        d->reason = "refuted by the straight frames";
    }
    if (straight && d->found)
        f->refuted = false;
    /* the echo along the tracked shaft (track_level) is compared by the
     * tracker with its level while seen: a straight frame of a scheme sees
     * a steep shaft far weaker than the steered frames did, which is not
     * the shaft leaving the plane */
    float straight_level = d->track_level;
    if (scheme && straight)
        d->track_level = NAN;
    st = tl_needle_tracker_update(f->tr, d, out);
    if (st == TL_OK && scheme && straight && shallow_track && !d->found &&
        !(straight_level >= CONFIRM_LEVEL)) {
        /* a flat track the straight frame does not show along its
         * predicted line (no line passed the detector, and the echo along
         * the predicted shaft is weak): drop it, and do not take it up
         * again from the steered frames alone */
        f->refuted = true;
        f->ref_angle = pa;
        f->ref_off = line_x0(px, pz, pa);
        tl_needle_tracker_reset(f->tr);
        out->state = TL_TRACK_NONE;
        out->found = false;
        out->out_of_plane = false;
        out->confidence = 0.0f;
    }
    if (st == TL_OK && scheme && straight && !d->found && !out->found &&
        out->state == TL_TRACK_ACQUIRING && f->prev_found &&
        fabsf(f->prev_angle) >= STRAIGHT_BLIND_DEG) {
        /* a steep needle the steered frames showed, on a straight frame
         * that cannot: shown where the track predicts it */
        out->found = true;
        out->confidence = f->prev_conf;
    }
    if (st == TL_OK) {
        f->prev_found = out->found;
        f->prev_angle = out->angle_deg;
        f->prev_conf = out->confidence;
    }
    return st;
}

tl_needle_tracker *tl_needle_follower_tracker(tl_needle_follower *f)
{
    return f ? f->tr : NULL;
}
