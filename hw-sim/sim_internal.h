/* Internal structures of the simulator (not part of the public API).
 *
 * The render is split in two stages so frames are cheap:
 *  1. scene build (once per parameter change): the anatomy model is sampled
 *     on a grid of SIM_SUB sub-columns per scan line x one cell per RF sample;
 *     random point scatterers are deposited in it, weighted by the local echo
 *     level and the round-trip attenuation, specular reflectors (interfaces,
 *     fibres, bone, wires) are deposited coherently, and the lateral beam
 *     profile folds the sub-columns into one reflectivity signal per line
 *     (two independent speckle fields + one static specular field).
 *  2. frame (per index): mix the two speckle fields with a slowly turning
 *     phase (decorrelation over time at constant statistics), add the needle,
 *     its shadow and the electronic noise, convolve with the pulse (a short
 *     FIR whose centre frequency falls with the attenuation crossed), apply
 *     TGC/gain and quantise. */
#ifndef SIM_INTERNAL_H
#define SIM_INTERNAL_H

#include "tl_sim.h"

#include <math.h>
#include <stdint.h>

#define SIM_SUB 4            /* lateral sub-columns per scan line */
#define SIM_MAX_CURVES 16
#define SIM_CURVE_N 1201     /* curve samples: x from -60 to +60 mm */
#define SIM_CURVE_X0 (-60.0f)
#define SIM_CURVE_DX 0.1f
#define SIM_MAX_DEAD 64
#define SIM_NKERN 24         /* pulse variants along the attenuation axis */
#define SIM_NOISE_N 65536

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif
#define DEG2RAD(d) ((float)(d) * (float)M_PI / 180.0f)

typedef enum {
    PRESET_PLANTAR = 0,
    PRESET_ACHILLES,
    PRESET_ANKLE,
    PRESET_WIRE,
    PRESET_UNIFORM,
    PRESET_AIR,
    PRESET_NEEDLE_INSERTION,
    PRESET_NEEDLE_GUIDE,
    PRESET_COUNT
} sim_preset;

/* Every parameter, parsed. Text values live in tl_sim.values[]. */
typedef struct {
    float thickness_mm;
    int thickness_set;           /* thickness_mm given explicitly */
    int lesion;
    float lesion_width_mm, lesion_depth_mm, lesion_contrast_db;
    int lesion_kind;             /* TL_LESION_HYPOECHOIC / ANECHOIC */
    int fluid;
    int effusion_grade;
    float cartilage_mm;
    int site_insertion;
    float anisotropy_deg;
    float f0_mhz, fs_mhz, depth_mm, gain_db, noise_db;
    int speckle;
    int lines, samples;
    int convex;
    float radius_mm, pitch_mm;
    int anatomy;                 /* tl_anatomy, for needle-insertion */
    int needle;
    float needle_angle_deg, needle_gauge, needle_speed_mm, needle_drift_mm;
    int needle_start_frame;
    float needle_start_mm;       /* shaft length inside the skin at the start frame */
    float sos_error_pct, lateral_offset_mm;
    int n_dead, n_weak;
    int dead[SIM_MAX_DEAD], weak[SIM_MAX_DEAD];
    float gain_tilt_db, guide_angle_deg;
    float attenuation;           /* dB/cm/MHz of the phantom / soft tissue */
    float tgc_db_cm;             /* <0: auto (compensates soft tissue) */
    float bandwidth;             /* fractional -6 dB bandwidth */
    float beam_mm;               /* lateral -6 dB beam width at f0=10 MHz */
    float scatterers_per_cell;
    float motion;                /* speckle decorrelation per frame (rad) */
    float steer_deg;             /* linear beam steering (deg, + towards +x) */
    float depth_start_mm;        /* from tl_sim_set_geometry only */
} sim_params;

/* A curve z(x) in anatomy coordinates, uniformly sampled; NAN = absent. */
typedef struct {
    float z[SIM_CURVE_N];
    float amp;                   /* specular echo amplitude (x tissue RMS) */
    float width_rad;             /* angular width of the specular lobe */
    int boundary;                /* tl_boundary_kind for the truth, -1: none */
    int bone;                    /* cortex: adds the cortical thickness echoes */
    int fixed;                   /* on the probe face (skin): does not tilt */
} sim_curve;

/* What the medium is at one point. */
typedef struct {
    float echo;                  /* diffuse scattering amplitude (1 = tissue) */
    float atten;                 /* dB/cm/MHz */
    float fib_u;                 /* fibre coordinate: reflectors at integers; NAN none */
    float fib_amp;               /* fibre echo amplitude */
    float fib_nx, fib_nz;        /* fibre normal (unit, anatomy coordinates) */
    float fib_w;                 /* angular width of the fibre reflection (rad) */
    float fib_k;                 /* diffuse darkening weight with angle (0..1) */
    float fib_rough;             /* incoherent (rough) share of the reflector (0..1) */
} sim_med;

typedef struct sim_model sim_model;
typedef void (*sim_medium_fn)(const sim_model *m, float x, float z, sim_med *out);

struct sim_model {
    sim_medium_fn medium;
    uint64_t seed;
    int ncurves;
    sim_curve *curves[SIM_MAX_CURVES];   /* owned */
    int nlesions;
    tl_sim_lesion lesions[TL_SIM_MAX_LESIONS];   /* anatomy coordinates */
    /* probe tilt against the anatomy (anisotropy), about the pivot */
    float rot_rad, pivot_x, pivot_z;
    float convex_r;              /* convex face radius (skin follows the face), 0 linear */
    /* clinical truth (anatomy coordinates) */
    tl_anatomy anatomy;
    float thickness_mm, site_x, site_z;
    bool achilles_insertion;
    int effusion_grade;
    float cartilage_mm;
    /* wires (point reflectors) */
    int nwires;
    float wire_x[TL_SIM_MAX_WIRES], wire_z[TL_SIM_MAX_WIRES];
    float wire_amp;
    /* needle target (anatomy coordinates) */
    bool has_target;
    float target_x, target_z;
    /* model-specific numbers the medium function reads */
    float p[32];
    const sim_params *par;
};

/* The needle of one frame, in physical probe coordinates. */
typedef struct {
    bool present;
    float ex, ez;                /* skin entry */
    float dx, dz;                /* unit direction */
    float len;                   /* shaft length from the entry to the tip */
    float angle_deg, gauge, diameter_mm;
    float out_of_plane_mm, visibility, elev;
    float bevel;                 /* the bevel's echo gain (angle, elevation) */
} sim_needle_state;

/* The cached scene: everything that does not change with the frame index. */
typedef struct {
    tl_geometry g;
    uint32_t L, S;
    float dz_disp;               /* display mm per sample */
    float *ls, *la, *lb;         /* L*S specular / speckle A / speckle B */
    float *att;                  /* L*S round-trip amplitude factor (centre column) */
    uint8_t *kidx;               /* L*S pulse variant per sample */
    float *sgain;                /* S: TGC, gain, tilt, output scale */
    float *lgain;                /* L: dead/weak elements */
    float *kern;                 /* SIM_NKERN * ntap */
    int ntap, half;
    float *noise;                /* SIM_NOISE_N + S */
    float noise_amp;
    float pulse_fwhm_mm, spc;    /* -6 dB pulse length; scatterers per cell */
    float sigma_f_mhz;
    float sos_scale, lat_off;    /* true/assumed speed of sound; lateral offset (mm) */
    sim_model model;
} sim_scene;

typedef struct {
    const char *name;
    const char *def;             /* default text (may be overridden per preset) */
    const char *help;
    char type;                   /* 'f' float, 'i' int, 'b' bool, 'e' enum, 'l' list */
    double lo, hi;
    const char *choices;         /* enum: "a|b|c" */
    unsigned presets;            /* bit mask of presets it applies to */
} sim_param_def;

#define SIM_NPARAMS 48
#define SIM_SCENES 2         /* scenes cached, one per steering angle */

struct tl_sim {
    sim_preset preset;
    uint64_t seed;
    char values[SIM_NPARAMS][96];
    /* sc/par: the scene of the current steering angle; the cache holds one
     * scene per angle for the same other parameters (bit k of scenes_ok:
     * cache[k] is built; bit 31: sc is built). */
    uint32_t scenes_ok;
    bool geom_override;
    tl_geometry geom_user;
    sim_params par;
    sim_scene sc;
    sim_params cache_par[SIM_SCENES - 1];
    sim_scene cache[SIM_SCENES - 1];
    float *rbuf, *ybuf;          /* per-line work buffers */
};

/* sim_params.c */
extern const sim_param_def sim_param_table[];
int sim_param_total(void);
int sim_param_index(const char *name);
const char *sim_param_default(sim_preset p, int idx);
bool sim_param_applies(sim_preset p, int idx);
int sim_preset_from_name(const char *name);
const char *sim_preset_name_of(sim_preset p);
tl_status sim_params_parse(const tl_sim *sim, sim_params *out);
tl_status sim_params_geometry(const sim_params *p, tl_geometry *g);

/* sim_util.c */
uint64_t sim_hash(uint64_t a, uint64_t b);
float sim_hash01(uint64_t a, uint64_t b);
float sim_noise2(uint64_t seed, float x, float z);
float sim_noise1(uint64_t seed, float x);
sim_curve *sim_curve_new(float amp, float width_deg, int boundary);
float sim_curve_eval(const sim_curve *c, float x);
float sim_curve_slope(const sim_curve *c, float x);
void sim_curve_fill(sim_curve *c, float xmin, float xmax, float (*fn)(const sim_model *, float),
                    const sim_model *m);
int sim_model_add_curve(sim_model *m, sim_curve *c);
void sim_model_free(sim_model *m);
float sim_lesion_weight(const sim_model *m, float x, float z, float *contrast_lin, int *kind);

/* sim_tissue.c: textures (see there) */
#define SIM_SKIN_MM 0.4f
#define SIM_DERMIS_MM 1.6f
bool sim_med_skin(const sim_model *m, float z, sim_med *o);
void sim_med_fat(const sim_model *m, float x, float z, float echo, float septa, sim_med *o);
void sim_med_muscle(const sim_model *m, float x, float z, float pennation_deg, sim_med *o);
void sim_med_band(const sim_model *m, float x, float z, float top, float thick, float slope,
                  float spacing, float echo, float fib_amp, sim_med *o);
void sim_med_fluid(sim_med *o);
void sim_med_bone(sim_med *o);
void sim_med_lesion(const sim_model *m, float x, float z, sim_med *o);

/* sim_foot.c, sim_ankle.c, sim_phantom.c: fill a model for a preset */
tl_status sim_model_plantar(sim_model *m, const sim_params *p);
tl_status sim_model_achilles(sim_model *m, const sim_params *p);
tl_status sim_model_ankle(sim_model *m, const sim_params *p);
tl_status sim_model_phantom(sim_model *m, const sim_params *p, sim_preset preset);

/* sim_pulse.c */
float sim_att_amp(float A_np_mhz, float f0, float sf);
tl_status sim_pulse_build(sim_scene *sc, const sim_params *p);
int sim_kernel_index(const sim_scene *sc, float A_np_mhz);

/* sim_scene.c */
tl_status sim_scene_build(sim_scene *sc, const sim_params *p, sim_preset preset, uint64_t seed);
void sim_scene_free(sim_scene *sc);
void sim_probe_to_anatomy(const sim_model *m, float px, float pz, float *ax, float *az);
void sim_anatomy_to_probe(const sim_model *m, float ax, float az, float *px, float *pz);
void sim_probe_to_face(const sim_model *m, float px, float pz, float *fx, float *fz);
void sim_face_to_probe(const sim_model *m, float fx, float fz, float *px, float *pz);
void sim_column_ray(const tl_geometry *g, float u, float off, float *ox, float *oz, float *dx,
                    float *dz);
void sim_deposit(float *col, uint32_t S, float pos, float amp);

/* sim_needle.c */
void sim_needle_at(const sim_scene *sc, const sim_params *p, sim_preset preset, uint32_t frame,
                   sim_needle_state *n);
/* Deposit the needle echoes into line i's reflectivity r (length S) and
 * return the first sample shadowed by it (S if none). */
uint32_t sim_needle_line(const sim_scene *sc, const sim_needle_state *n, uint32_t line, float *r);

/* sim_truth.c */
void sim_truth_fill(const tl_sim *sim, uint32_t frame, const sim_needle_state *n,
                    tl_sim_truth *t);

#endif
