/* talus guidance: find the needle in the B-mode image, track it, project
 * its path onto the target.
 *
 * Everything is in image millimetres, the axes the tissue analysis uses:
 * x lateral from the image's left edge (col * spacing_mm), z depth from the
 * top edge (row * spacing_mm). Angles are from the horizontal, positive when
 * the shaft goes deeper to the right (a needle inserted from the left).
 *
 * Life cycle (FFTW style: set-up once, no allocation per frame):
 *   tl_needle_detector_create() -> tl_needle_detect()* -> _destroy()
 *   tl_needle_tracker_create()  -> tl_needle_tracker_update()* -> _destroy()
 *   tl_needle_path() / tl_needle_guide_compare(): plain functions.
 * One detector and one tracker per stream (per thread); no global state. */
#ifndef TL_GUIDANCE_H
#define TL_GUIDANCE_H

#include "tl_core.h"
#include "tl_imaging.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Detection ---------------------------------------------------------- */

typedef struct {
    float min_angle_deg;    /* shallowest |angle| searched (default 10): flatter lines
                               are fascia, tendon fibres and cortex, never a needle */
    float max_angle_deg;    /* steepest |angle| searched (default 72) */
    float min_length_mm;    /* shortest visible shaft reported (default 4) */
    float gauge;            /* needle gauge if known (21..27), 0 = unknown */
    float min_confidence;   /* report a needle at or above this (default 0.5) */
    int side;               /* 0 = either side, +1 = inserted from the left
                               (angle > 0), -1 = from the right (angle < 0) */
} tl_needle_params;

tl_needle_params tl_needle_params_default(void);

/* One frame's answer. When found is false there is no needle in the plane
 * (or nothing we would bet on), and none is invented; the fields then
 * describe the best rejected line (length_mm 0: none traced) with its
 * confidence and reason -- the tracker takes a faint one lying on its
 * track as the tracked needle seen faintly. */
typedef struct {
    bool found;
    float tip_x_mm, tip_z_mm;      /* the deep end of the shaft echo */
    float entry_x_mm, entry_z_mm;  /* the shallow end of the visible shaft */
    float angle_deg;               /* of the shaft */
    float length_mm;               /* visible shaft length */
    float contrast;                /* shaft echo above the tissue beside it, in
                                      robust standard deviations of that tissue */
    float confidence;              /* 0..1 */
    const char *reason;            /* static text: why the best candidate was
                                      rejected (or "ok") */
    float track_level;             /* with a hint (tl_needle_detector_hint): the echo
                                      along the 5 mm of shaft behind the hinted tip, mean
                                      local residual in its robust sigmas, whatever was
                                      found; NAN without a hint. The tracker compares it
                                      with the shaft's level while it was seen: a shaft
                                      that faded leaves the plane. */
    float change;                  /* the time cue on the reported line (length_mm > 0):
                                      how much it changed against the detector's
                                      background, mean difference along the shaft or over
                                      its deep 3 mm, whichever is more, in the
                                      difference's robust sigmas (a needle that came or
                                      advanced: >= ~3; static anatomy: ~0-1); NAN when
                                      the cue is not usable on this frame (the
                                      detector's first frame, or the probe moved). The
                                      tracker does not show a track begun on a frame
                                      without any background (no_background) until
                                      the cue sees it change, and lets it go when the
                                      cue finds it unchanged. */
    bool no_background;            /* the detector had no time background on this
                                      frame: its first since created or reset (or of a
                                      new image size), or the texture as a whole
                                      changed against it (the probe moved; on a
                                      scheme's straight frames, 4 frames apart, the
                                      speckle's own decorrelation may do it): a line
                                      in it was judged on this one image alone */
} tl_needle_detection;

typedef struct tl_needle_detector tl_needle_detector;

tl_status tl_needle_detector_create(const tl_needle_params *params,
                                    tl_needle_detector **out);
void tl_needle_detector_destroy(tl_needle_detector *det);

/* Find the in-plane shaft and its tip in one B-mode image. Thresholds come
 * from the image's own statistics (median and spread of the scanned area),
 * so gain and dynamic range do not matter. Scratch buffers grow to the
 * largest image seen; later frames of that size do not allocate.
 * Optional `guide`: search only near this line (angle_deg, x at z = 0),
 * within +/- tol; pass NULL for a free-hand search. */
typedef struct {
    float angle_deg;     /* calibrated guide angle (same convention) */
    float offset_mm;     /* x where the guide line crosses z = 0 (image top) */
    float tol_deg;       /* how far a needle may deviate and still be "on guide" */
    float tol_mm;        /* perpendicular distance tolerance */
} tl_needle_guide;

tl_status tl_needle_detect(tl_needle_detector *det, const tl_bmode *img,
                           const tl_needle_guide *guide, tl_needle_detection *out);

/* Where the tracker expects the needle (tl_needle_tracker_predict): the
 * next tl_needle_detect() also traces that line, so a faint shaft the
 * search does not single out is still measured once it is being tracked.
 * The traced line must pass the same tests as any other. on = false clears
 * the hint. */
tl_status tl_needle_detector_hint(tl_needle_detector *det, bool on, float tip_x_mm,
                                  float tip_z_mm, float angle_deg);

/* ---- Tracking ----------------------------------------------------------- */

typedef enum {
    TL_TRACK_NONE = 0,       /* nothing seen yet */
    TL_TRACK_ACQUIRING,      /* a needle seen, not yet confirmed */
    TL_TRACK_LOCKED,         /* confirmed: overlay is steady */
    TL_TRACK_COASTING,       /* locked, this frame's measurement missing or rejected */
    TL_TRACK_OUT_OF_PLANE,   /* was locked, has vanished: "needle out of plane" */
} tl_track_state;

const char *tl_track_state_name(tl_track_state s);  /* "locked", ... */

typedef struct {
    uint32_t lock_hits;       /* consistent detections needed to lock (default 2) */
    float gate_angle_deg;     /* a measurement further than this ... (default 4) */
    float gate_mm;            /* ... or this far from the prediction is an outlier (1.5) */
    uint32_t coast_frames;    /* frames to coast before "out of plane" (default 4) */
    float angle_noise_deg;    /* process noise per frame (default 0.15) */
    float offset_noise_mm;    /* (default 0.05) */
    float tip_noise_mm;       /* tip acceleration noise per frame (default 0.3) */
} tl_tracker_params;

tl_tracker_params tl_tracker_params_default(void);

typedef struct {
    tl_track_state state;
    bool found;               /* a needle is shown (acquiring with a strong
                                 detection, locked or coasting) */
    bool out_of_plane;        /* show "needle out of plane" */
    float tip_x_mm, tip_z_mm; /* filtered */
    float angle_deg;          /* filtered */
    float confidence;         /* 0..1 */
    float tip_speed_mm;       /* along the shaft per frame, filtered */
    uint32_t frames_seen;     /* detections since the track started */
    uint32_t frames_to_lock;  /* frames from the first detection to lock (0 until locked) */
    bool rejected;            /* this frame's detection was gated out */
} tl_needle_track;

typedef struct tl_needle_tracker tl_needle_tracker;

tl_status tl_needle_tracker_create(const tl_tracker_params *params,
                                   tl_needle_tracker **out);
void tl_needle_tracker_destroy(tl_needle_tracker *tr);
void tl_needle_tracker_reset(tl_needle_tracker *tr);
/* The tip and angle the track expects in the next frame; TL_ERR_STATE
 * unless the track is locked or coasting. */
tl_status tl_needle_tracker_predict(const tl_needle_tracker *tr, float *tip_x_mm,
                                    float *tip_z_mm, float *angle_deg);
/* Feed one frame's detection (found or not); get the steady estimate. */
tl_status tl_needle_tracker_update(tl_needle_tracker *tr, const tl_needle_detection *det,
                                   tl_needle_track *out);
/* One frame of following a needle: the tracker's prediction becomes the
 * detector's hint, then the frame is detected and the track updated. Use
 * this wherever frames arrive in sequence, so no caller loses the hint
 * (without it a still or faint shaft is dropped). */
tl_status tl_needle_follow(tl_needle_detector *det, tl_needle_tracker *tr, const tl_bmode *img,
                           const tl_needle_guide *guide, tl_needle_detection *det_out,
                           tl_needle_track *out);

/* ---- Needle enhancement (beam steering) --------------------------------- */

/* The acquisition scheme for needle guidance with a linear probe that can
 * steer its beams (the station and `talus eval needle` run the same one):
 * frames steered by steer_deg towards the side the needle comes from, one
 * straight frame in straight_every (display and tissue analysis; 0 = no
 * straight frames). See docs/architecture.md, "Needle guidance". */
typedef struct {
    float steer_deg;          /* magnitude of the steering (default 15) */
    uint32_t straight_every;  /* one straight frame in N (default 4) */
} tl_needle_scheme;

tl_needle_scheme tl_needle_scheme_default(void);
/* The probe's steer_deg for a needle from `side` (+1 the left: angle > 0,
 * -1 the right; 0 unknown -> 0), limited to what the probe steers. */
float tl_needle_scheme_steer(const tl_needle_scheme *s, int side, float max_steer_deg);
/* Whether the frame with sequence number seq is a straight one (the probe's
 * rule, tl_proto_frame_steer; the frame's own geometry is what counts). */
bool tl_needle_scheme_frame_straight(const tl_needle_scheme *s, uint32_t seq);

/* Following a needle through frames of several steering angles: one
 * detector per angle (its time cue compares frames of the same steering),
 * one tracker. */
typedef struct tl_needle_follower tl_needle_follower;

tl_status tl_needle_follower_create(const tl_needle_params *dp, const tl_tracker_params *tp,
                                    tl_needle_follower **out);
void tl_needle_follower_destroy(tl_needle_follower *f);
/* Forget the needle and every time background (a new scene). */
void tl_needle_follower_reset(tl_needle_follower *f);
/* One frame (img made from a frame steered by steer_deg): tl_needle_follow
 * with that angle's detector and the shared tracker. */
tl_status tl_needle_follower_frame(tl_needle_follower *f, const tl_bmode *img, float steer_deg,
                                   const tl_needle_guide *guide, tl_needle_detection *d,
                                   tl_needle_track *out);
/* The shared tracker (for predict/reset by callers that need it). */
tl_needle_tracker *tl_needle_follower_tracker(tl_needle_follower *f);

/* ---- Path and target ---------------------------------------------------- */

typedef struct {
    float x_mm, z_mm;         /* target centre */
    float radius_mm;          /* "in target" when the tip is within this */
} tl_target;

/* A polyline (skin or bone surface), points left to right. */
typedef struct {
    const float *x_mm;
    const float *z_mm;
    uint32_t n;
} tl_polyline;

typedef enum {
    TL_PATH_NONE = 0,         /* no needle */
    TL_PATH_OFF_PATH,         /* the extrapolated shaft misses the target */
    TL_PATH_ON_PATH,          /* it will hit; the tip is still far */
    TL_PATH_APPROACHING,      /* on path and within approach_mm of the target */
    TL_PATH_IN_TARGET,        /* the tip is in the target */
    TL_PATH_PASSED,           /* the tip went beyond the target's depth */
} tl_path_state;

const char *tl_path_state_name(tl_path_state s);  /* "on path", ... */

typedef struct {
    tl_path_state state;
    float tip_to_target_mm;   /* straight-line distance tip -> target centre */
    float miss_mm;            /* closest approach of the extrapolated shaft to
                                 the target centre (>= 0) */
    float miss_at_depth_mm;   /* signed lateral miss where the path reaches the
                                 target's depth (+ = passes right of it); NAN
                                 for a path that cannot reach that depth */
    float cross_x_mm;         /* where the path reaches the target depth */
    float insertion_angle_deg;/* |angle| of the shaft from the skin surface */
    float tip_depth_mm;       /* tip depth below the skin (below z = 0 without skin) */
    float remaining_mm;       /* along the path from the tip to the closest approach */
    bool bone_alert;          /* the path meets bone before the target */
    float bone_x_mm, bone_z_mm;/* where (when bone_alert) */
} tl_path;

/* Needle tip and angle (from a detection or a track), a target, optional
 * skin and bone polylines (NULL = none). approach_mm: distance under which
 * an on-path tip is "approaching" (<= 0 means 5 mm). */
tl_status tl_needle_path(float tip_x_mm, float tip_z_mm, float angle_deg,
                         const tl_target *target, const tl_polyline *skin,
                         const tl_polyline *bone, float approach_mm, tl_path *out);

/* ---- Needle-guide mode --------------------------------------------------- */

typedef struct {
    float angle_diff_deg;     /* detected - guide */
    float offset_mm;          /* perpendicular distance of the detected tip from the guide line */
    bool on_guide;            /* both within the guide's tolerances */
} tl_guide_check;

/* Where the guide line crosses the image: two end points (for the overlay). */
tl_status tl_needle_guide_segment(const tl_needle_guide *guide, float width_mm,
                                  float height_mm, float *x0, float *z0, float *x1,
                                  float *z1);
tl_status tl_needle_guide_compare(const tl_needle_guide *guide, float tip_x_mm,
                                  float tip_z_mm, float angle_deg, tl_guide_check *out);

#ifdef __cplusplus
}
#endif
#endif
