/* Internal to tl_ui: the view model shared by the processing thread (which
 * fills it), the UI thread (which draws it) and the log thread (which stores
 * what the UI captured). Not a public header. */
#ifndef TL_UI_INTERNAL_H
#define TL_UI_INTERNAL_H

#include "tl_ui.h"
#include "tl_imaging.h"

#include <pthread.h>
#include <stdatomic.h>

#define UI_MAX_POINTS 128
#define UI_MAX_TARGETS 8

typedef struct {
    uint32_t n;
    float x[UI_MAX_POINTS], z[UI_MAX_POINTS];   /* image mm */
} ui_polyline;

typedef struct {
    int kind;                 /* tl_target_kind of analysis (0 hypo, 1 anechoic, 2 fluid, 3 effusion) */
    float x, z, w, d;         /* centre and extent, image mm */
    float confidence;
} ui_target;

/* What the tissue analysis found in one frame. */
typedef struct {
    bool built;                       /* the analysis stage exists in this build */
    bool have_analysis;               /* a result is available */
    uint32_t seq;                     /* frame it was computed on */
    bool structure_found;
    float thickness_mm, thickness_sd_mm, limit_mm;
    bool abnormal;
    float site_x, site_z;
    ui_polyline sup, deep, bone, bone2;
    float fibre_angle_deg;
    bool anisotropy, hypoechoic, cleft, fluid;
    int effusion_grade;
    uint32_t n_targets;
    ui_target targets[UI_MAX_TARGETS];
    int best_target;
    char warning[120];
} ui_analysis;

/* One processed frame: B-mode and everything found in it. Image mm: x from
 * the left edge, z from the top edge. */
typedef struct {
    /* image */
    uint32_t w, h;
    float spacing_mm;
    float origin_x_mm, origin_z_mm;   /* probe coordinates of pixel (0,0) */
    uint8_t *grey;                    /* w*h, owned by the slot */
    size_t grey_cap;
    uint32_t seq;
    uint64_t t_device_us, t_received_ns, t_processed_ns;
    uint64_t t_device_host_ns;        /* device time mapped to the host clock */
    double proc_ms;
    double stage_ms[3];               /* imaging, analysis, needle */

    /* tissue analysis (from this frame or, when the analysis is slower than
     * the frame rate, from a recent one: see an.seq) */
    ui_analysis an;

    /* needle */
    bool have_needle;                 /* the guidance stage ran */
    bool needle_found, out_of_plane;
    float tip_x, tip_z, entry_x, entry_z, angle_deg, needle_conf;
    char track_state[24];
} ui_view;

void ui_view_free(ui_view *v);
/* Deep copy (grows dst's buffer as needed). */
tl_status ui_view_copy(ui_view *dst, const ui_view *src);
/* The analysis' code for an anatomy as an operator may type it; -1 if none. */
int ui_anatomy_code(const char *name);
#ifdef TL_UI_HAVE_ANALYSIS
#include "tl_analysis.h"
/* What the screen shows of an analysis result. */
void ui_view_set_analysis(ui_analysis *an, const tl_analysis_result *r);
#endif
#ifdef TL_UI_HAVE_GUIDANCE
#include "tl_guidance.h"
/* The tracked needle; the entry point from this frame's detection. */
void ui_view_set_needle(ui_view *v, const tl_needle_detection *d, const tl_needle_track *tr);
#endif

/* ---- imaging stage (imaging_stage.c) ------------------------------------- */

#define UI_PLANS 2

/* One plan per steering angle in use (needle enhancement alternates a
 * straight and a steered geometry frame by frame); all draw onto the same
 * raster. Zero-initialised = empty. */
typedef struct {
    int orientation;          /* tl_orientation of the input samples */
    uint32_t out_height;      /* raster rows (0: 640) */
    tl_imaging_plan *plans[UI_PLANS];
    tl_geometry plans_geom[UI_PLANS];
    tl_image_type plans_type[UI_PLANS];
    uint32_t plans_used[UI_PLANS];
    uint32_t plan_clock;
    tl_imaging_plan *plan;    /* the current frame's */
    tl_bmode bm;              /* the current frame's B-mode */
    /* the newest straight frame's image: fills what a steered frame does
     * not cover on the display */
    uint8_t *straight_grey;
    size_t straight_cap;
    uint32_t straight_w, straight_h;
} ui_imaging_stage;

/* The frame's B-mode into s->bm (planning on a new geometry). */
tl_status ui_imaging_stage_bmode(ui_imaging_stage *s, const tl_frame *f);
/* s->bm as the view's grey image (w, h, grey); a steered frame's uncovered
 * area is taken from the newest straight one, which a straight frame
 * replaces. */
tl_status ui_imaging_stage_grey(ui_imaging_stage *s, bool steered, ui_view *v);
void ui_imaging_stage_free(ui_imaging_stage *s);

/* ---- processing thread (pipeline.c) ------------------------------------ */

typedef struct ui_pipeline ui_pipeline;

typedef struct {
    const char *anatomy;      /* analysis anatomy name */
    int age;
    char sex;
    int orientation;          /* tl_orientation of the input samples */
    uint32_t out_height;      /* B-mode raster rows: the screen rows the image gets,
                                 so it is drawn 1:1 (no scaling per frame) */
} ui_pipeline_params;

tl_status ui_pipeline_create(const ui_pipeline_params *p, ui_pipeline **out);
/* Stops and joins the thread. */
void ui_pipeline_destroy(ui_pipeline *pl);
/* The session's patient: the anatomy to analyse (if the analysis knows it)
 * and age/sex for the Achilles percentile limits. */
void ui_pipeline_set_patient(ui_pipeline *pl, const char *anatomy, int age, char sex);
/* Apply this calibration record (a tl_cal_record, NULL = none) to the frames
 * of probe `serial` (no-op when calibration is not built). */
void ui_pipeline_set_calibration(ui_pipeline *pl, const void *record, const char *serial);
/* From the frame source's thread: copy the frame into the 3-frame inbox
 * (when full, the oldest waiting frame is dropped and counted as skipped).
 * Never blocks for long. */
void ui_pipeline_push(ui_pipeline *pl, const tl_frame *frame);
/* From the UI thread: the newest result if it is newer than *last_seq_shown
 * (copied into *dst). */
bool ui_pipeline_latest(ui_pipeline *pl, uint64_t *last_counter, ui_view *dst);
/* From the UI thread: sleep until a result newer than last_counter is
 * published, or timeout_ms. */
void ui_pipeline_wait(ui_pipeline *pl, uint64_t last_counter, uint32_t timeout_ms);
uint64_t ui_pipeline_skipped(const ui_pipeline *pl);
/* Frames processed that came steered (needle enhancement). */
uint64_t ui_pipeline_steered(const ui_pipeline *pl);
/* Frames the tissue analysis worker analysed, and how many were steered
 * (kept at 0: the analysis takes straight frames only). */
void ui_pipeline_analysed(ui_pipeline *pl, uint64_t *frames, uint64_t *steered);
uint64_t ui_pipeline_pushed(const ui_pipeline *pl);
/* Processing times (ms) of every frame so far (copied out, malloc'd). */
double *ui_pipeline_proc_times(ui_pipeline *pl, size_t *n);
/* Mean time of each stage (imaging, analysis, needle) in ms. */
void ui_pipeline_stage_means(ui_pipeline *pl, double means[3]);

/* ---- replay source (replay.c) -------------------------------------------- */

typedef struct ui_replay ui_replay;
tl_status ui_replay_open(const char *path, ui_replay **out, int *orientation, char *err,
                         size_t err_len);
tl_status ui_replay_start(ui_replay *rp, ui_pipeline *pl, float fps);
void ui_replay_close(ui_replay *rp);

/* ---- log thread (journal.c) --------------------------------------------- */

typedef enum {
    UI_JOB_START_SESSION = 1,
    UI_JOB_FINDING,
    UI_JOB_INJECTION,
    UI_JOB_CLOSE_SESSION,
} ui_job_kind;

typedef struct {
    ui_job_kind kind;
    uint32_t ticket;          /* set by submit */
    /* session */
    char patient[64], side, anatomy[128], operator_name[64], diagnosis[256];
    int age;
    char sex;
    int64_t session_id;       /* for finding / injection / close */
    /* finding */
    char structure[128], measure[64], unit[16], note[1024];
    double value, threshold;
    int abnormal;
    /* injection */
    double target_x, target_z, tip_x, tip_z, depth_mm;
    int in_target;
    double volume_ml;
    char product[128], lot[64], expiry[64];
    /* image (RGB, owned by the job) */
    uint8_t *rgb;
    uint32_t w, h;
} ui_job;

typedef struct {
    uint32_t ticket;
    ui_job_kind kind;
    tl_status status;
    int64_t id;               /* session / finding / injection id */
    char message[256];        /* what went wrong, for the screen */
} ui_job_result;

typedef struct ui_journal ui_journal;

/* Open the log at db (NULL = default path) on a new log thread. */
tl_status ui_journal_open(const char *db, ui_journal **out, char *path_out, size_t path_len,
                          char *err, size_t err_len);
/* Finish every queued job, close the log, join the thread. */
void ui_journal_close(ui_journal *j);
/* Queue a job; takes ownership of job->rgb. Returns its ticket (0 = not
 * queued: the journal is not available). */
uint32_t ui_journal_submit(ui_journal *j, ui_job *job);
/* Take one finished job's result (false when none). */
bool ui_journal_poll(ui_journal *j, ui_job_result *res);
/* The last product logged (any session), to offer again. */
bool ui_journal_last_product(ui_journal *j, char *name, size_t nl, char *lot, size_t ll,
                             char *expiry, size_t el);
/* Jobs queued but not yet finished. */
uint32_t ui_journal_pending(ui_journal *j);

/* ---- drawing (render.c, text.c) ------------------------------------------ */

struct SDL_Renderer;
typedef struct ui_text ui_text;

tl_status ui_text_create(struct SDL_Renderer *r, ui_text **out, char *err, size_t err_len);
void ui_text_destroy(ui_text *t);
/* Draw UTF-8 text with its top-left (align 0), centre (1) or right (2) at x.
 * Returns the width drawn. size: one of 16, 20, 26, 34, 52. */
int ui_text_draw(ui_text *t, const char *s, int size, int x, int y, uint32_t rgba, int align);
int ui_text_width(ui_text *t, const char *s, int size);

/* ---- the station (station.c, workflow.c, render.c) ------------------------ */

struct SDL_Window;
struct SDL_Surface;
struct SDL_Texture;
struct tl_driver;

#define UI_CINE_FRAMES 120      /* 4 s at 30 frames/s */
#define UI_MAX_PENDING 32

typedef struct {
    bool valid;
    float target_x, target_z, radius;   /* image mm */
    bool from_tap;
    int index;                          /* into view.targets, -1 for a tapped point */
    /* needle against it */
    bool needle;
    float dist_mm;                      /* tip -> target centre */
    float depth_mm;                     /* tip below the skin */
    float cross_x;                      /* where the path reaches the target depth */
    float path_end_x, path_end_z;       /* end of the drawn predicted path */
    bool in_target, on_path, passed, bone_alert;
    char state[24];
} ui_aim;

typedef struct {
    uint32_t ticket;
    uint32_t number;                    /* injection number shown to the operator */
} ui_pending;

#define UI_MAX_SNAPS 16
#define UI_FORM_FIELDS 8
#define UI_MAX_LABELS 40
#define UI_FORM_VALUE 256

typedef enum { UI_FORM_NONE = 0, UI_FORM_SESSION, UI_FORM_PRODUCT, UI_FORM_NOTE } ui_form_kind;

typedef struct {
    ui_form_kind kind;
    int n, field;
    const char *labels[UI_FORM_FIELDS];
    char values[UI_FORM_FIELDS][UI_FORM_VALUE];
    size_t max[UI_FORM_FIELDS];   /* bytes a field may hold, with its NUL */
    char error[120];
} ui_form;

typedef struct {
    char name[TL_SCRIPT_TEXT_MAX];
    uint8_t *rgb;               /* W x H RGB */
} ui_snap;

typedef struct ui_station {
    const tl_station_config *cfg;
    char err[256];
    /* drawing */
    struct SDL_Window *win;
    struct SDL_Renderer *r;
    struct SDL_Surface *surf;           /* headless target */
    struct SDL_Texture *img_tex;
    uint32_t tex_w, tex_h;
    uint32_t *argb;
    ui_text *text;
    int W, H;
    int img_x, img_y, img_w, img_h;     /* where the B-mode lands on screen */
    float px_per_mm;
    /* data */
    ui_pipeline *pl;
    ui_journal *jn;
    struct tl_driver *drv;
    ui_replay *replay;
    ui_view view;                       /* being shown */
    bool have_view;
    uint64_t view_counter;
    ui_view *cine;                      /* ring of the last UI_CINE_FRAMES shown */
    int cine_head, cine_len, cine_back; /* cine_back: frames back from newest when frozen */
    bool frozen;
    /* probe, set from the driver's thread */
    atomic_int probe_state;             /* 0 live, 1 unplugged, 2 gave up, 3 none */
    atomic_uint buttons;                /* probe-button presses not yet handled */
    atomic_uint events_seen;
    uint64_t reconnect_until_ns;
    int last_probe_state;
    char probe_name[64];
    float steer_deg;                    /* steering asked of the probe (needle scheme), 0 none */
    float nominal_fps;
    int calibration;                    /* TL_UI_CAL_* */
    char calibration_text[64];
    /* stats */
    uint64_t frames_shown;
    uint64_t t_first_ns, t_last_shown_ns;
    double *lat_ms;
    size_t n_lat, cap_lat;
    double fps_now, lat_now;
    uint64_t fps_t0, fps_n0;
    uint64_t drops_total, drops_window[8];
    uint64_t drops_at_window_start;
    uint64_t drops_startup;
    uint64_t window_t0;
    bool clock_shared;                  /* device clock == host monotonic clock */
    int64_t clock_offset_us;            /* host_us - device_us estimate */
    bool clock_known;
    /* workflow */
    bool session_wanted, session_open;
    uint32_t session_ticket;
    int64_t session_id;
    char patient[64], side, anatomy[128], operator_name[64], diagnosis[256];
    int age;
    char sex;
    char product[128], lot[64], expiry[64];
    double volume_ml;
    char note[1024];
    bool close_requested, closed;
    uint32_t close_ticket;
    int target_pick;                    /* -1 proposed, else index */
    bool tap_valid;
    float tap_x, tap_z;
    ui_aim aim;
    int caliper_state;                  /* 0 off, 1 armed, 2 first point, 3 measured */
    float cal[4];
    bool help;
    bool findings_done;
    uint32_t stable_frames;
    uint32_t mark_requests;             /* captures to make at the next compose */
    uint32_t injections_marked, injections_logged, injections_failed, findings_logged;
    ui_pending pending[UI_MAX_PENDING];
    uint32_t n_pending;
    char ack[160];
    uint32_t ack_colour;
    uint64_t ack_until_ns;
    bool log_error;
    char log_error_text[300];
    /* script */
    tl_script script;
    size_t script_pos;
    bool quit;
    uint32_t snapshots;
    ui_snap snaps[UI_MAX_SNAPS];
    uint32_t n_snaps;
    uint32_t injections_queued;
    ui_form form;
    int label_rects[UI_MAX_LABELS][4];  /* labels drawn this frame: x, y, w, h */
    int n_label_rects;
    uint64_t t_last_compose_ns;
    double compose_ms_sum;
    uint64_t n_compose;
    bool dirty;                  /* redraw at the next pass */
} ui_station;

/* station.c: show the cine frame selected while frozen. */
void ui_show_cine(ui_station *st);
/* render.c: compose the whole screen for the current state (no present). */
void ui_render(ui_station *st);
/* Read the composed screen (or a rectangle; w = 0: all) as RGB, malloc'd. */
uint8_t *ui_read_rgb(ui_station *st, int x, int y, int w, int h);
/* Screen position of image mm, and back. */
void ui_mm_to_screen(const ui_station *st, float x_mm, float z_mm, float *sx, float *sy);
bool ui_screen_to_mm(const ui_station *st, int sx, int sy, float *x_mm, float *z_mm);

/* workflow.c */
void ui_workflow_start(ui_station *st);
/* After a new view arrived (or the frozen one changed): aim, findings. */
void ui_workflow_update(ui_station *st);
/* A key by name ("space", "f", "left" ...). */
void ui_workflow_key(ui_station *st, const char *key);
void ui_workflow_click(ui_station *st, int sx, int sy, bool right);
/* Mark an injection now (key, foot switch or probe button). */
void ui_workflow_mark(ui_station *st, const char *how);
/* Called after compose: make requested captures and queue them. */
void ui_workflow_after_compose(ui_station *st);
/* Results from the log thread. */
void ui_workflow_poll_log(ui_station *st);
/* Run script events that are due. */
void ui_workflow_script(ui_station *st);
/* End: close the session, wait for the log. */
void ui_workflow_finish(ui_station *st);
void ui_snapshot(ui_station *st, const char *name);
/* Write the kept snapshots to OUT (end of run, or when full). */
void ui_snapshots_flush(ui_station *st);


/* form.c: the on-screen forms (session, product, note) */
void ui_form_open(ui_station *st, ui_form_kind kind);
/* A control key for the open form (false when no form is open). */
bool ui_form_key(ui_station *st, const char *key);
void ui_form_text(ui_station *st, const char *text);
void ui_draw_form(ui_station *st);
/* workflow.c: start a session with these fields (closing an open one). */
void ui_workflow_new_session(ui_station *st, const char *patient, char side,
                             const char *anatomy, const char *diagnosis,
                             const char *operator_name, int age, char sex);

/* stats.c: the station's figures (fed by the loop in station.c) */
uint64_t ui_device_to_host_ns(ui_station *st, const ui_view *v);
void ui_record_latency(ui_station *st, double total, double usb, double proc, double disp);
uint64_t ui_raw_drops(ui_station *st);
void ui_update_rates(ui_station *st, uint64_t now);
void ui_fill_summary(ui_station *st, tl_station_summary *s);
tl_status ui_write_summary(ui_station *st, const tl_station_summary *s);

/* render.c helpers shared with panels.c */
#define C_WHITE 0xF2F2F2FFu
#define C_GREY 0xA8A8A8FFu
#define C_DIM 0x6E6E6EFFu
#define C_GREEN 0x34D463FFu
#define C_AMBER 0xFFB526FFu
#define C_RED 0xFF4A3DFFu
#define C_CYAN 0x36D6FFFFu
#define C_YELLOW 0xFFE14DFFu
#define C_ORANGE 0xFF9A1FFFu
#define C_BONE 0xE8E0D0FFu

#define STATUS_H 52
#define KEYS_H 40
#define PANEL_W 390
#define RULER_W 58
#define RULER_H 30

void ui_colour(struct SDL_Renderer *r, uint32_t rgba);
void ui_fill(struct SDL_Renderer *r, int x, int y, int w, int h, uint32_t rgba);
void ui_line(struct SDL_Renderer *r, float x0, float y0, float x1, float y1, float w,
             uint32_t rgba);
void ui_ellipse(struct SDL_Renderer *r, float cx, float cy, float rx, float ry, float w,
                uint32_t rgba, bool dashed);
void ui_label(ui_station *st, const char *s, int size, float x, float y, uint32_t rgba,
              int align);
/* panels.c */
void ui_draw_hints(ui_station *st);
void ui_draw_panel(ui_station *st);
void ui_draw_status(ui_station *st);
void ui_draw_keys(ui_station *st);
void ui_draw_banners(ui_station *st);
void ui_draw_help(ui_station *st);

#endif
