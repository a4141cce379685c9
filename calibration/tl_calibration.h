/* talus calibration: probe calibration and QA for technicians, stored per
 * probe serial and checked by the station.
 *
 * Procedures (each works on frames the caller acquires — through the driver
 * from a real or simulated probe, or from a recording):
 *   spatial       wire (pin) phantom of known geometry: wire echoes detected,
 *                 matched to the phantom, axial/lateral scale, origin offset
 *                 and effective speed of sound fitted; residual per wire.
 *   elements      in-air acquisition: per-element sensitivity from the lens
 *                 ring-down; dead and weak elements.
 *   uniformity    uniform phantom: mean echo level against depth and across
 *                 the width; tilt, a TGC correction curve, corrected tilt.
 *   needle-guide  a needle through the guide bracket: the guide line's angle
 *                 and offset.
 *   wire dots     bright wire cross-sections in 8-bit B-mode images (real
 *                 fCal N-wire phantom frames).
 * Accumulators take frames one by one (no frame is kept), then *_finish()
 * computes the result.
 *
 * Store: one JSON record per probe serial and version, in
 * DIR/<serial>/cal-NNNNNN.json; a new calibration is a new version (history
 * kept, nothing overwritten); each file is written to a temporary name,
 * fsynced and linked into place (link() refuses to replace). The station
 * asks tl_cal_check() for the state (valid / missing / expired / mismatched
 * / failed) and applies the record only to the probe whose serial it names.
 *
 * Conventions: probe coordinates of core/tl_core.h (mm; x lateral, z depth).
 * "Display" positions are where the image shows a point with the geometry the
 * probe reports; "true" positions are the phantom's. The spatial model of a
 * linear array is
 *     x_true = lateral_scale * x_disp + lateral_offset_mm
 *     z_true = axial_scale   * z_disp + axial_offset_mm
 * and of a convex array: the range along each ray r_true = axial_scale *
 * r_disp + axial_offset_mm, then x_true += lateral_offset_mm (lateral_scale
 * 1). Either way a speed of sound higher than assumed shows as axial_scale > 1
 * and the effective speed of sound is c_assumed * axial_scale. */
#ifndef TL_CALIBRATION_H
#define TL_CALIBRATION_H

#include "tl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TL_CAL_MAX_WIRES 64
#define TL_CAL_MAX_ELEMENTS 1024
#define TL_CAL_CURVE_POINTS 64

/* ---- Envelope helper ------------------------------------------------------- */

/* Envelope (|analytic signal| along each line) of an RF_REAL int16 frame or
 * a copy of an ENVELOPE frame, as float lines x samples (line after line).
 * env must hold lines*samples floats. */
tl_status tl_cal_envelope(const tl_frame *frame, float *env);

/* ---- Spatial calibration (wire phantom) ------------------------------------ */

typedef struct {
    float x_mm, z_mm;        /* display position (sub-sample centroid) */
    float amplitude;         /* envelope peak */
} tl_cal_echo;

/* Point echoes (wire cross-sections) in one envelope frame: local maxima far
 * above the background, refined to sub-sample precision. Fills up to cap,
 * strongest first; *n = how many were kept. */
tl_status tl_cal_find_echoes(const float *env, const tl_geometry *g, tl_cal_echo *out,
                             uint32_t cap, uint32_t *n);

typedef struct {
    float residual_mm;          /* rms residual after correction (default 0.2) */
    float max_scale_err_pct;    /* |axial or lateral scale error| (default 5) */
    float max_offset_mm;        /* |lateral or axial offset| (default 2) */
    float min_matched_frac;     /* wires that must be found (default 0.9) */
} tl_cal_spatial_tol;

tl_cal_spatial_tol tl_cal_spatial_tol_default(void);

typedef struct {
    uint32_t n_wires;           /* in the phantom (inside the image) */
    uint32_t n_matched;         /* found and matched */
    uint32_t frames;
    double axial_scale, lateral_scale;
    double axial_scale_err_pct, lateral_scale_err_pct;   /* (scale - 1) * 100 */
    double axial_offset_mm, lateral_offset_mm;
    double speed_of_sound_m_s;  /* c assumed * axial_scale */
    double residual_before_mm;  /* rms true vs display, no correction */
    double residual_mm;         /* rms after correction */
    double residual_max_mm;
    /* per phantom wire (n_listed of them): true position, mean display
     * position, residual after correction (NAN when the wire was not found) */
    uint32_t n_listed;
    float wire_x_mm[TL_CAL_MAX_WIRES], wire_z_mm[TL_CAL_MAX_WIRES];
    float found_x_mm[TL_CAL_MAX_WIRES], found_z_mm[TL_CAL_MAX_WIRES];
    float wire_residual_mm[TL_CAL_MAX_WIRES];
    bool pass;
} tl_cal_spatial_result;

typedef struct tl_cal_spatial tl_cal_spatial;

/* The phantom's wires (true positions, mm) and the geometry frames will have. */
tl_status tl_cal_spatial_create(const float *wire_x_mm, const float *wire_z_mm,
                                uint32_t n_wires, const tl_geometry *g,
                                tl_cal_spatial **out);
void tl_cal_spatial_destroy(tl_cal_spatial *s);
/* Add one envelope frame (tl_cal_envelope()). */
tl_status tl_cal_spatial_add(tl_cal_spatial *s, const float *env);
/* Match echoes to wires (averaged over the frames) and fit. TL_ERR_NOT_FOUND
 * when fewer than 4 wires could be matched. */
tl_status tl_cal_spatial_finish(tl_cal_spatial *s, const tl_cal_spatial_tol *tol,
                                tl_cal_spatial_result *out);

/* ---- Element check (in air) ------------------------------------------------ */

typedef struct {
    float dead_db;              /* below the median: dead (default -12) */
    float weak_db;              /* below the median: weak (default -4.5) */
    uint32_t max_weak;          /* pass allows this many weak (default 0) */
} tl_cal_elements_tol;

tl_cal_elements_tol tl_cal_elements_tol_default(void);

typedef struct {
    uint32_t elements;          /* per-element entries below */
    uint32_t frames;
    float sensitivity_db[TL_CAL_MAX_ELEMENTS]; /* against the median element */
    uint32_t dead[TL_CAL_MAX_ELEMENTS], n_dead;
    uint32_t weak[TL_CAL_MAX_ELEMENTS], n_weak;
    float ringdown_mm;          /* depth window used */
    float neighbour_loss_db;    /* loss of a dead element's neighbours (measured,
                                 * given back before weak ones are called) */
    bool pass;                  /* no dead, at most max_weak weak */
} tl_cal_elements_result;

typedef struct tl_cal_elements tl_cal_elements;

/* elements: the array's element count (lines are mapped onto elements when
 * they differ; 0 = one element per line). */
tl_status tl_cal_elements_create(const tl_geometry *g, uint32_t elements,
                                 tl_cal_elements **out);
void tl_cal_elements_destroy(tl_cal_elements *e);
tl_status tl_cal_elements_add(tl_cal_elements *e, const float *env);
tl_status tl_cal_elements_finish(tl_cal_elements *e, const tl_cal_elements_tol *tol,
                                 tl_cal_elements_result *out);

/* ---- Uniformity / TGC ------------------------------------------------------ */

typedef struct {
    float max_tilt_db;          /* |corrected tilt| allowed (default 1) */
    float max_lateral_db;       /* lateral peak-to-peak allowed (default 3) */
} tl_cal_uniformity_tol;

tl_cal_uniformity_tol tl_cal_uniformity_tol_default(void);

typedef struct {
    uint32_t frames;            /* used for the fit */
    uint32_t check_frames;      /* independent frames the correction was checked on */
    float z0_mm, z1_mm;         /* depth range analysed */
    float tilt_db;              /* level change from z0 to z1 (linear fit) */
    float corrected_tilt_db;    /* same on check frames with the correction applied */
    float lateral_db;           /* peak-to-peak of the smoothed lateral profile */
    uint32_t points;            /* depth profile / correction curve points */
    float depth_mm[TL_CAL_CURVE_POINTS];
    float level_db[TL_CAL_CURVE_POINTS];      /* mean level, relative to its mean */
    float correction_db[TL_CAL_CURVE_POINTS]; /* gain to add at that depth */
    float corrected_db[TL_CAL_CURVE_POINTS];  /* check frames, corrected */
    float tgc_db[8];            /* the correction at 8 evenly spaced depths (probe TGC) */
    bool pass;                  /* |tilt_db| within tolerance, or corrected within it */
} tl_cal_uniformity_result;

typedef struct tl_cal_uniformity tl_cal_uniformity;

tl_status tl_cal_uniformity_create(const tl_geometry *g, tl_cal_uniformity **out);
void tl_cal_uniformity_destroy(tl_cal_uniformity *u);
/* Frames for the fit, then (after tl_cal_uniformity_fit) frames the
 * correction is checked on. */
tl_status tl_cal_uniformity_add(tl_cal_uniformity *u, const float *env);
/* Fit the depth profile and the correction; later add() calls go to the
 * check. probe_applies: the check frames come from the probe with the
 * correction loaded as its TGC (result tgc_db), so they are taken as they
 * are; otherwise the correction is applied to them here. */
tl_status tl_cal_uniformity_fit(tl_cal_uniformity *u, bool probe_applies);
/* The 8-point TGC (dB at evenly spaced depths from the first to the last
 * sample) that flattens the profile; valid after tl_cal_uniformity_fit(). */
tl_status tl_cal_uniformity_tgc(const tl_cal_uniformity *u, float tgc_db[8]);
tl_status tl_cal_uniformity_finish(tl_cal_uniformity *u, const tl_cal_uniformity_tol *tol,
                                   tl_cal_uniformity_result *out);

/* ---- Needle guide ---------------------------------------------------------- */

typedef struct {
    float max_angle_err_deg;    /* against the nominal angle, if given (default 2) */
} tl_cal_guide_tol;

typedef struct {
    uint32_t frames;
    uint32_t points;            /* shaft points fitted */
    float angle_deg;            /* from the skin line, positive going deeper to the right */
    float offset_mm;            /* x where the guide line crosses z = 0 (the face) */
    float residual_mm;          /* rms perpendicular distance of the points */
    float nominal_deg;          /* NAN when no nominal angle was given */
    bool pass;
} tl_cal_guide_result;

typedef struct tl_cal_guide tl_cal_guide;

tl_status tl_cal_guide_create(const tl_geometry *g, tl_cal_guide **out);
void tl_cal_guide_destroy(tl_cal_guide *n);
tl_status tl_cal_guide_add(tl_cal_guide *n, const float *env);
/* nominal_deg: the bracket's marked angle (NAN = none: pass on fit quality). */
tl_status tl_cal_guide_finish(tl_cal_guide *n, float nominal_deg, const tl_cal_guide_tol *tol,
                              tl_cal_guide_result *out);

/* ---- Wire dots in B-mode images (real N-wire phantom frames) --------------- */

typedef struct {
    float x, y;                 /* pixel coordinates (column, row), intensity-weighted */
    float peak;                 /* smoothed peak intensity */
    uint32_t area;              /* pixels above half the peak */
} tl_cal_dot;

typedef struct {
    float min_peak;             /* smoothed intensity a dot must reach (default 40) */
    uint32_t max_extent_px;     /* larger blobs are not wires (default 80) */
    uint32_t min_area_px;       /* (default 4) */
    uint32_t border_px;         /* blobs touching this margin are cut off (default 3) */
    bool nwire_layers;          /* want = 3k: dots must form k collinear triplets
                                 * (N-wire layers, as the fCal phantom); default
                                 * true when want % 3 == 0 */
} tl_cal_dot_params;

tl_cal_dot_params tl_cal_dot_params_default(uint32_t want);

/* Find `want` wire dots in an 8-bit image. *found = dots written (<= want;
 * == want means all were found, in row-major order of their layers). */
tl_status tl_cal_find_dots(const uint8_t *img, uint32_t width, uint32_t height,
                           uint32_t stride, const tl_cal_dot_params *p, uint32_t want,
                           tl_cal_dot *out, uint32_t *found);

/* ---- Store ----------------------------------------------------------------- */

typedef enum {
    TL_CAL_VALID = 0,
    TL_CAL_MISSING = 1,         /* no record for this serial */
    TL_CAL_EXPIRED = 2,         /* newest record past its expiry */
    TL_CAL_MISMATCH = 3,        /* the record names another serial: never applied */
    TL_CAL_FAILED = 4,          /* newest record has a failed procedure */
    TL_CAL_CORRUPT = 5,         /* the newest record cannot be read */
} tl_cal_state;

const char *tl_cal_state_name(tl_cal_state s);   /* "valid", "missing", ... */
/* One sentence for the station's warning ("no calibration for probe X:
 * distances use the nominal geometry"); empty for TL_CAL_VALID. */
void tl_cal_state_message(tl_cal_state s, const char *serial, char *buf, size_t size);

/* A stored record. Procedures are cJSON text of their results (NULL when the
 * record does not hold that procedure); the typed values the station applies
 * are copied out. */
typedef struct {
    int schema;                 /* record format version (1) */
    uint32_t version;           /* record number for this serial, from 1 */
    char serial[32];
    char model[32];
    char technician[64];
    uint64_t created_s;         /* UTC seconds */
    uint64_t expires_s;
    bool pass;                  /* every procedure in it passed */
    /* applied corrections (from the newest passed spatial calibration) */
    bool has_spatial;
    double axial_scale, lateral_scale, axial_offset_mm, lateral_offset_mm;
    double speed_of_sound_m_s;
    char path[1024];            /* file it was read from / written to */
} tl_cal_record;

/* Default store directory: $TALUS_CAL_DIR, else $XDG_DATA_HOME/talus/calibration,
 * else $HOME/.local/share/talus/calibration. TL_ERR_NOT_FOUND if none. */
tl_status tl_cal_default_dir(char *buf, size_t size);

/* A procedure's result to store: name ("spatial", ...), its JSON object text
 * (results, tolerances, pass) and whether it passed. */
typedef struct {
    const char *name;
    const char *json;
    bool pass;
} tl_cal_procedure;

/* Write a new version for `serial`: the newest record's other procedures are
 * carried over (with their own dates), `proc` replaces its namesake. The
 * record expires valid_days after now. Fills *out (path, version, ...).
 * TL_ERR_INVALID_ARG for a serial that is not [A-Za-z0-9._-]{1,31}. */
tl_status tl_cal_store_write(const char *dir, const char *serial, const char *model,
                             const char *technician, const tl_cal_procedure *proc,
                             uint32_t valid_days, uint64_t now_s, tl_cal_record *out);

/* Read one record file. TL_ERR_FORMAT when it is not a valid record. */
tl_status tl_cal_record_read(const char *path, tl_cal_record *out);
/* The record's full JSON text (malloc'd; free()). */
tl_status tl_cal_record_json(const char *path, char **json);

/* The state of `serial`'s calibration at now_s, and its newest record (when
 * there is one). Never fails for a missing or bad record: that is the state.
 * TL_ERR_INVALID_ARG only for bad arguments. */
tl_status tl_cal_check(const char *dir, const char *serial, uint64_t now_s,
                       tl_cal_state *state, tl_cal_record *rec);

/* How many versions `serial` has (history), newest number in *newest. */
tl_status tl_cal_history(const char *dir, const char *serial, uint32_t *count,
                         uint32_t *newest);

/* Apply a record to frames of the probe `probe_serial`: corrects the speed of
 * sound in *geom (c * axial_scale) and returns the lateral offset to add to
 * image x. TL_ERR_CALIBRATION (nothing changed) when the record names another
 * serial, is expired at now_s, or holds no passed spatial calibration. */
tl_status tl_cal_apply(const tl_cal_record *rec, const char *probe_serial, uint64_t now_s,
                       tl_geometry *geom, float *lateral_offset_mm);

/* Correct a display point with a record's spatial model (linear arrays; no
 * checks). */
void tl_cal_correct_point(const tl_cal_record *rec, float x_disp, float z_disp,
                          float *x_true, float *z_true);

#ifdef __cplusplus
}
#endif
#endif
