/* talus tissue analysis: find and measure the plantar fascia, the Achilles
 * tendon and the anterior ankle recess on one B-mode frame, and mark the
 * damaged tissue to inject.
 *
 * Frame-based: tl_analyze() looks at one tl_bmode and fills a fixed-size
 * tl_analysis_result (no allocation per frame once the analyzer has seen a
 * frame of that size). A tl_analysis_tracker smooths results across frames
 * and attaches uncertainties. All coordinates in results are image
 * coordinates in mm: x lateral from the image's left edge (col * spacing),
 * z depth from the top edge (row * spacing). */
#ifndef TL_ANALYSIS_H
#define TL_ANALYSIS_H

#include "tl_core.h"
#include "tl_imaging.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Same numbers as the simulator's tl_anatomy, so the two convert by cast. */
typedef enum {
    TL_AN_PLANTAR_FASCIA = 1,
    TL_AN_ACHILLES = 2,
    TL_AN_ANKLE_RECESS = 3,
} tl_analysis_anatomy;

const char *tl_analysis_anatomy_name(int anatomy);      /* "plantar-fascia" ... */
int tl_analysis_anatomy_from_name(const char *name);    /* -1 if unknown */

typedef enum {
    TL_ACHILLES_SITE_AUTO = 0,        /* insertion when the calcaneus is in view */
    TL_ACHILLES_SITE_MIDPORTION = 1,
    TL_ACHILLES_SITE_INSERTION = 2,
} tl_achilles_site;

typedef struct {
    int anatomy;               /* tl_analysis_anatomy */
    float age_years;           /* patient age; <= 0 unknown */
    char sex;                  /* 'M', 'F'; 0 unknown */
    float dynamic_range_db;    /* dB spanned by grey 0..255 (default 60) */
    int achilles_site;         /* tl_achilles_site */
} tl_analysis_params;

tl_analysis_params tl_analysis_params_default(int anatomy);

#define TL_ANALYSIS_MAX_POINTS 128
#define TL_ANALYSIS_MAX_TARGETS 8
#define TL_ANALYSIS_MAX_WARNINGS 8
#define TL_ANALYSIS_WARNING_LEN 120

/* An outline, left to right, in image mm. */
typedef struct {
    uint32_t n;
    float x_mm[TL_ANALYSIS_MAX_POINTS];
    float z_mm[TL_ANALYSIS_MAX_POINTS];
} tl_analysis_polyline;

typedef enum {
    TL_TARGET_HYPOECHOIC = 0,  /* darker than the normal structure */
    TL_TARGET_ANECHOIC = 1,    /* no echoes: cleft / partial tear */
    TL_TARGET_FLUID = 2,       /* fluid next to the structure (perifascial) */
    TL_TARGET_EFFUSION = 3,    /* joint effusion in the recess */
} tl_target_kind;

const char *tl_target_kind_name(int kind);

typedef struct {
    int kind;                  /* tl_target_kind */
    float x_mm, z_mm;          /* centroid */
    float width_mm, depth_mm;  /* lateral and axial extent */
    float area_mm2;
    float contrast_db;         /* mean echo level against the normal structure */
    float confidence;          /* 0..1 */
} tl_analysis_target;

typedef struct {
    int anatomy;
    bool structure_found;
    /* The clinical measurement at the standard site (NAN when not found):
     * fascia at the calcaneal insertion, Achilles max AP thickness at the
     * site used, ankle: effusion depth (0 with no effusion). */
    float thickness_mm;
    float thickness_sd_mm;     /* uncertainty (1 SD) of thickness_mm */
    float site_x_mm, site_z_mm;
    bool abnormal;
    float abnormal_limit_mm;   /* the threshold thickness_mm was judged against */

    tl_analysis_polyline superficial;   /* band borders (fascia/tendon/capsule) */
    tl_analysis_polyline deep;
    tl_analysis_polyline bone;          /* calcaneus / tibia cortex */
    tl_analysis_polyline bone2;         /* ankle: talar dome cortex */

    /* Thickness along the band, perpendicular to it. */
    uint32_t n_profile;
    float profile_x_mm[TL_ANALYSIS_MAX_POINTS];
    float profile_mm[TL_ANALYSIS_MAX_POINTS];

    float fibre_angle_deg;     /* largest beam-to-fibre deviation from 90 deg */
    bool anisotropy;           /* a dark part of the band explained by the angle, near
                                  the measurement site: "tilt the probe" */
    float aniso_x_mm;          /* where that darkening is largest (NAN: none) */
    float aniso_angle_deg;     /* the band's beam-to-fibre deviation there */

    float echogenicity_db;     /* band vs heel fat pad / subcutis (fascia, tendon) */
    bool hypoechoic;           /* band darker than the fat pad, or a dark area inside */
    bool perifascial_fluid;

    float midportion_mm, insertion_mm;  /* Achilles (NAN when not in view) */
    bool insertion_view;       /* Achilles: the calcaneus is in view */
    bool fusiform;             /* Achilles: spindle-shaped swelling */
    bool cleft;                /* an anechoic cleft (partial tear) */

    int effusion_grade;        /* ankle 0-3 */
    float effusion_depth_mm, effusion_area_mm2;
    float cartilage_mm;        /* ankle: talar cartilage (NAN when not seen) */

    uint32_t n_targets;        /* ranked, best first */
    tl_analysis_target targets[TL_ANALYSIS_MAX_TARGETS];
    int best_target;           /* index into targets, -1 none */

    uint32_t n_warnings;
    char warnings[TL_ANALYSIS_MAX_WARNINGS][TL_ANALYSIS_WARNING_LEN];
} tl_analysis_result;

/* The Achilles 97.5th-percentile thickness (mm) for age/sex at the
 * midportion or insertion, interpolated linearly in age between 20 and 80 y
 * (clamped outside). Unknown age or sex gives the largest (conservative)
 * bound over the unknowns. */
float tl_achilles_limit_mm(bool insertion, float age_years, char sex);

/* ---- Per-frame analysis ------------------------------------------------ */

typedef struct tl_analyzer tl_analyzer;

tl_status tl_analyzer_create(tl_analyzer **out);
void tl_analyzer_destroy(tl_analyzer *a);

/* Analyse one frame. Work buffers grow to the image size on first use and
 * are reused afterwards. TL_ERR_INVALID_ARG for an empty or uncalibrated
 * image or an unknown anatomy; a frame where the structure is not seen is
 * TL_OK with structure_found = false and a warning. */
tl_status tl_analyze(tl_analyzer *a, const tl_bmode *img, const tl_analysis_params *p,
                     tl_analysis_result *out);

/* ---- Temporal stability ------------------------------------------------ */

typedef struct tl_analysis_tracker tl_analysis_tracker;

tl_status tl_analysis_tracker_create(tl_analysis_tracker **out);
void tl_analysis_tracker_destroy(tl_analysis_tracker *t);
void tl_analysis_tracker_reset(tl_analysis_tracker *t);

/* Feed one frame's result; `smoothed` gets outlines and measurements
 * smoothed over recent frames, thickness_sd_mm the spread they show, and
 * only targets seen in enough recent frames (may alias `frame`). */
tl_status tl_analysis_tracker_update(tl_analysis_tracker *t, const tl_analysis_result *frame,
                                     tl_analysis_result *smoothed);

/* ---- Overlay ----------------------------------------------------------- */

/* Draw the image in grey with the result on top into an RGB buffer
 * (width*3 <= stride bytes a row, img->height rows). */
tl_status tl_analysis_draw_overlay(const tl_bmode *img, const tl_analysis_result *r,
                                   uint8_t *rgb, uint32_t stride);

#ifdef __cplusplus
}
#endif
#endif
