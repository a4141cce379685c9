/* talus hardware simulator — physics half.
 *
 * Renders beamformed RF frames (int16, line after line, tl_geometry layout)
 * of simulated anatomy and phantoms, with per-frame ground truth in probe
 * coordinates (mm; x lateral, 0 on the probe axis; z depth below the face).
 *
 * Life cycle: tl_sim_create(preset, seed) -> tl_sim_set_param()* ->
 * tl_sim_render(frame_index)* -> tl_sim_destroy(). Rendering frame k is a
 * pure function of (preset, seed, params, k): the scene changes over k (the
 * needle advances, the probe breathes), but rendering k twice gives the same
 * samples. One tl_sim per thread; no global state. */
#ifndef TL_SIM_H
#define TL_SIM_H

#include "tl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tl_sim tl_sim;

typedef enum {
    TL_ANATOMY_NONE = 0,          /* phantoms */
    TL_ANATOMY_PLANTAR_FASCIA = 1,
    TL_ANATOMY_ACHILLES = 2,
    TL_ANATOMY_ANKLE_RECESS = 3,
} tl_anatomy;

const char *tl_anatomy_name(tl_anatomy a);  /* "plantar-fascia", "achilles", ... */
int tl_anatomy_from_name(const char *name);  /* -1 if unknown */

/* Named boundaries a ground truth may carry. */
typedef enum {
    TL_BOUNDARY_SKIN = 0,
    TL_BOUNDARY_FASCIA_SUPERFICIAL,   /* plantar fascia, skin side */
    TL_BOUNDARY_FASCIA_DEEP,          /* plantar fascia, deep side */
    TL_BOUNDARY_CALCANEUS,            /* calcaneus cortex surface */
    TL_BOUNDARY_TENDON_SUPERFICIAL,   /* Achilles, skin side (posterior) */
    TL_BOUNDARY_TENDON_DEEP,          /* Achilles, deep side (anterior) */
    TL_BOUNDARY_TIBIA,                /* distal tibia cortex */
    TL_BOUNDARY_TALUS,                /* talar dome cortex (bone) */
    TL_BOUNDARY_CARTILAGE,            /* talar cartilage surface */
    TL_BOUNDARY_CAPSULE,              /* anterior joint capsule */
    TL_BOUNDARY_COUNT
} tl_boundary_kind;

const char *tl_boundary_name(tl_boundary_kind k);

#define TL_SIM_MAX_POINTS 128
#define TL_SIM_MAX_BOUNDARIES 12
#define TL_SIM_MAX_LESIONS 8
#define TL_SIM_MAX_WIRES 32

typedef struct {
    tl_boundary_kind kind;
    uint32_t n;                        /* points, left to right */
    float x_mm[TL_SIM_MAX_POINTS];
    float z_mm[TL_SIM_MAX_POINTS];
} tl_sim_boundary;

typedef enum {
    TL_LESION_HYPOECHOIC = 0,   /* darker than the structure */
    TL_LESION_ANECHOIC = 1,     /* a cleft / partial tear: no echoes */
    TL_LESION_FLUID = 2,        /* perifascial fluid */
    TL_LESION_EFFUSION = 3,     /* joint effusion in the recess */
} tl_lesion_kind;

/* A lesion is an ellipse (axis-aligned, then rotated by angle_deg about its
 * centre); its mask is tl_sim_lesion_contains(). */
typedef struct {
    tl_lesion_kind kind;
    float cx_mm, cz_mm;          /* centroid */
    float width_mm, depth_mm;    /* full lateral and axial extent (before rotation) */
    float angle_deg;             /* rotation, positive going deeper to the right */
    float contrast_db;           /* echo level against the surrounding structure (<0) */
} tl_sim_lesion;

bool tl_sim_lesion_contains(const tl_sim_lesion *l, float x_mm, float z_mm);

typedef struct {
    bool present;                /* a needle is in the scene */
    bool in_plane;               /* its shaft is in the imaging plane (visible) */
    float out_of_plane_mm;       /* elevational distance of the shaft from the plane */
    float entry_x_mm, entry_z_mm;/* where the shaft enters the image (skin) */
    float tip_x_mm, tip_z_mm;    /* the tip */
    float angle_deg;             /* from the horizontal, positive going deeper to the right */
    float gauge;                 /* 21..27 */
    float visibility;            /* 0..1, falls with steeper angles */
} tl_sim_needle;

/* Ground truth of one rendered frame, in probe coordinates (mm). */
typedef struct {
    tl_anatomy anatomy;
    char preset[32];
    uint64_t seed;
    uint32_t frame_index;
    tl_geometry geom;            /* the geometry the frame was rendered with */

    uint32_t n_boundaries;
    tl_sim_boundary boundaries[TL_SIM_MAX_BOUNDARIES];

    /* The clinical thickness at the standard site: fascia at the calcaneal
     * insertion, Achilles maximum AP thickness at the chosen site, ankle:
     * effusion depth (0 when none). NAN for phantoms. The site is where
     * it was measured (x, z of the measurement's midpoint). */
    float thickness_mm;
    float site_x_mm, site_z_mm;
    bool achilles_insertion;     /* Achilles: insertion (true) or midportion */

    uint32_t n_lesions;
    tl_sim_lesion lesions[TL_SIM_MAX_LESIONS];

    int effusion_grade;          /* ankle: 0-3 */
    float cartilage_mm;          /* ankle: talar cartilage thickness */

    bool anisotropic;            /* fibres tilted away from perpendicular */
    float fibre_tilt_deg;        /* beam-to-fibre deviation from 90 degrees */

    tl_sim_needle needle;

    uint32_t n_wires;            /* wire phantom: wire centres */
    float wire_x_mm[TL_SIM_MAX_WIRES];
    float wire_z_mm[TL_SIM_MAX_WIRES];
} tl_sim_truth;

/* ---- Presets and parameters -------------------------------------------- */

size_t tl_sim_preset_count(void);
const char *tl_sim_preset_name(size_t i);
const char *tl_sim_preset_description(size_t i);

/* Parameters of a preset: name, default (as text), one-line help. */
size_t tl_sim_param_count(const char *preset);
tl_status tl_sim_param_info(const char *preset, size_t i, const char **name,
                            const char **default_value, const char **help);

/* ---- Life cycle -------------------------------------------------------- */

tl_status tl_sim_create(const char *preset, uint64_t seed, tl_sim **out);
void tl_sim_destroy(tl_sim *sim);

/* Set a parameter by name from text ("thickness_mm", "5.2"); also accepts
 * "key=value" in `key` with value NULL. TL_ERR_NOT_FOUND for an unknown key,
 * TL_ERR_INVALID_ARG for a value out of range. Invalidates cached scenes. */
tl_status tl_sim_set_param(tl_sim *sim, const char *key, const char *value);

/* The geometry frames are rendered with (from the preset and parameters). */
tl_status tl_sim_get_geometry(const tl_sim *sim, tl_geometry *out);
tl_status tl_sim_set_geometry(tl_sim *sim, const tl_geometry *g);

/* Render frame `index` into rf (lines*samples int16, line after line) and,
 * if truth is not NULL, fill its ground truth. */
tl_status tl_sim_render(tl_sim *sim, uint32_t index, int16_t *rf, size_t rf_count,
                        tl_sim_truth *truth);

/* Ground truth as a JSON object (cJSON text, malloc'd; free() it). */
tl_status tl_sim_truth_to_json(const tl_sim_truth *truth, char **json);

/* ---- Additions for tests and tools ------------------------------------- */

/* The -6 dB (half amplitude) axial length of the pulse envelope, in mm of
 * display depth (NAN if the parameters are invalid). Builds the scene. */
float tl_sim_pulse_fwhm_mm(tl_sim *sim);
/* Random scatterers per resolution cell (-6 dB beam width x pulse length);
 * 0 when speckle=0. Builds the scene. */
float tl_sim_scatterers_per_cell(tl_sim *sim);
/* Envelope (|analytic signal|, windowed FIR Hilbert transformer) of RF
 * frames, lines x samples, into env (same layout). For quick looks and
 * tests; the imaging chain has its own. */
tl_status tl_sim_envelope(const int16_t *rf, uint32_t lines, uint32_t samples, float *env);
/* Mean power (dB, 10 log10) of the component at f_hz of RF frames (geometry
 * g) over depths [z0_mm, z1_mm) of every line: quadrature demodulation with a
 * Gaussian window of 20 samples (sigma). Attenuation is specified per
 * frequency, so without TGC this level falls by exactly 2 a f dB/cm. NAN on
 * bad input or an empty range. */
double tl_sim_band_level_db(const int16_t *rf, const tl_geometry *g, float f_hz, float z0_mm,
                            float z1_mm);

#ifdef __cplusplus
}
#endif
#endif
