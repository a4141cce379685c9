/* talus station: the SDL2 navigation station and its headless twin.
 *
 * One call, tl_station_run(), runs a whole session at the station: frames
 * arrive through the probe driver (drivers/tl_driver.h; the simulated probe is
 * a USB device on an emulated bus, seen exactly like a real one) or from a
 * PLUS .mha replay; a processing thread turns each into B-mode, finds the
 * structure, its thickness, the damaged-tissue targets and the needle; the UI
 * thread composes the overlay of the newest result (SDL2 renderer: a window,
 * or a software renderer on a surface when headless — the same drawing code)
 * and runs the procedure workflow (session, findings, injections). Every
 * write to the injection log goes through one log thread, and an injection
 * is shown as logged only after the log has committed it.
 *
 * Threads: the driver's USB thread only moves buffers into its ring; the
 * driver's delivery thread copies a frame into the station's mailbox (never
 * waits); the processing thread takes the newest frame; the UI thread shows
 * the newest result. Shared state is guarded by mutexes or atomics.
 *
 * Operator script (--script FILE), one event a line, '#' starts a comment:
 *
 *     AT  ACTION [ARGS...]
 *
 * AT is seconds since the first frame was shown ("2.5") or a count of frames
 * shown ("f90"). Events run in file order, each when its time has come.
 * Values with spaces are quoted ("plantar fascia"). Actions:
 *     session  patient=ID side=L|R anatomy=NAME operator=NAME
 *              [diagnosis=TEXT] [age=YEARS] [sex=M|F]   start a session
 *     product  name=NAME [lot=LOT] [expiry=DATE] [volume=ML]
 *     key      NAME          a key press: space enter f left right t c ? esc
 *                            n (next target), 1-8 (pick target k), q (quit),
 *                            s p o (session / product / note form), tab,
 *                            backspace, up, down, pagedown, f5
 *     type     TEXT          text typed into the open form
 *     wait     unplugged | connected | logged N
 *                            hold the events after it until the probe is
 *                            unplugged / streaming again, or N injections
 *                            have been logged (acknowledged)
 *     button                 press the probe's button (its interrupt endpoint)
 *     tap      X_MM Z_MM     tap a point on the image (image mm) as the target
 *     caliper  X0 Z0 X1 Z1   measure between two points (image mm)
 *     fault    NAME          inject a simulated-probe fault (drop, disconnect ...)
 *     note     TEXT          post-procedure note
 *     close                  close the session (with the note)
 *     snapshot NAME.png      write the composed screen to OUT/NAME.png
 *     quit                   end the run
 * Errors name the line ("script:7: unknown action 'jump'"). */
#ifndef TL_UI_H
#define TL_UI_H

#include "tl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Operator script ---------------------------------------------------- */

typedef enum {
    TL_SCRIPT_SESSION = 1,
    TL_SCRIPT_PRODUCT,
    TL_SCRIPT_KEY,
    TL_SCRIPT_BUTTON,
    TL_SCRIPT_TAP,
    TL_SCRIPT_CALIPER,
    TL_SCRIPT_FAULT,
    TL_SCRIPT_NOTE,
    TL_SCRIPT_CLOSE,
    TL_SCRIPT_SNAPSHOT,
    TL_SCRIPT_QUIT,
    TL_SCRIPT_TYPE,
    TL_SCRIPT_WAIT,
} tl_script_action;

#define TL_SCRIPT_TEXT_MAX 256

typedef struct {
    int line;                   /* in the file, for messages */
    bool at_frame;              /* true: `frame`; false: `t_s` */
    double t_s;
    uint32_t frame;
    tl_script_action action;
    /* session / product fields (empty when not given) */
    char patient[64], side, anatomy[128], operator_name[64], diagnosis[256];
    int age;                    /* 0 = not given */
    char sex;                   /* 0 = not given */
    char product[128], lot[64], expiry[64];
    double volume_ml;           /* < 0 = not given */
    /* key name, fault name, note text, snapshot file */
    char text[TL_SCRIPT_TEXT_MAX];
    float v[4];                 /* tap / caliper coordinates (image mm) */
} tl_script_event;

typedef struct {
    tl_script_event *events;
    size_t n;
} tl_script;

/* Parse script text. On error returns TL_ERR_FORMAT and writes a sentence
 * naming the line into err. Free with tl_script_free(). */
tl_status tl_script_parse(const char *text, tl_script *out, char *err, size_t err_len);
/* Read and parse a file (TL_ERR_NOT_FOUND / TL_ERR_IO when unreadable). */
tl_status tl_script_load(const char *path, tl_script *out, char *err, size_t err_len);
void tl_script_free(tl_script *s);

/* ---- Clinical display rules (pure functions, tested) -------------------- */

typedef enum {
    TL_LEVEL_OK = 0,      /* green: within normal limits */
    TL_LEVEL_BORDER = 1,  /* amber: within 10 % below the limit */
    TL_LEVEL_ABNORMAL = 2,/* red: beyond the limit */
    TL_LEVEL_UNKNOWN = 3, /* grey: not measured */
} tl_level;

/* Colour class of a thickness against its clinical limit (both mm). */
tl_level tl_ui_thickness_level(float thickness_mm, float limit_mm);

/* What the status bar judges. */
typedef struct {
    bool probe_connected;
    bool probe_reconnecting;
    double frame_age_ms;         /* now - newest frame shown */
    double expected_period_ms;   /* 1000 / nominal frame rate */
    uint64_t drops_recent;       /* frames lost in the last few seconds */
    int calibration;             /* TL_UI_CAL_* */
    bool log_error;              /* the injection log refused a write */
} tl_ui_health;

enum {
    TL_UI_CAL_UNKNOWN = 0,   /* calibration module not available */
    TL_UI_CAL_VALID = 1,
    TL_UI_CAL_MISSING = 2,
    TL_UI_CAL_EXPIRED = 3,
    TL_UI_CAL_MISMATCH = 4,
};

/* Trouble flags (bit mask; 0 = all well) and the most urgent message. */
enum {
    TL_UI_TROUBLE_NO_PROBE = 1 << 0,
    TL_UI_TROUBLE_STALE = 1 << 1,
    TL_UI_TROUBLE_DROPS = 1 << 2,
    TL_UI_TROUBLE_CALIBRATION = 1 << 3,
    TL_UI_TROUBLE_LOG = 1 << 4,
};
unsigned tl_ui_trouble(const tl_ui_health *h, const char **message);

/* ---- The station -------------------------------------------------------- */

/* Hooks into a simulated probe (cmd_run wires them to hw-sim/usb); NULL for
 * a real probe. They return a tl_status. */
typedef struct {
    void *user;
    int (*press_button)(void *user);                 /* via the interrupt endpoint */
    int (*inject_fault)(void *user, const char *name);
} tl_station_hooks;

typedef struct {
    /* Source: exactly one. */
    const char *probe_serial;     /* open through the driver ("" = first probe) */
    const char *replay_path;      /* PLUS .mha sequence */
    float replay_fps;             /* replay rate (0 = 30) */
    const char *anatomy;          /* what is scanned: plantar-fascia, achilles,
                                     ankle-recess (default plantar-fascia) */
    /* Acquisition */
    float fps;                    /* frames/s asked of the probe (0 = 30) */
    /* Needle guidance with needle enhancement: the side the needle is
     * inserted from (+1 the left of the image, -1 the right, 0 = off:
     * straight frames only). With a probe that steers (TL_CAP_STEER) the
     * station asks for the needle scheme of guidance/tl_guidance.h
     * (tl_needle_scheme_default: beams steered towards that side, one
     * straight frame in 4 for the display and the tissue analysis), the
     * same scheme `talus eval needle` measures. */
    int needle_side;
    /* Output */
    bool headless;                /* software renderer, no window */
    uint32_t frames;              /* stop after this many frames shown (0 = until quit) */
    double max_seconds;           /* stop after this long (0 = no limit) */
    const char *out_dir;          /* snapshots + summary.json (NULL = none) */
    uint32_t snapshot_every;      /* headless: a PNG every N frames (0 = 100) */
    const char *script_path;      /* operator events (NULL = none) */
    const char *db_path;          /* injection log (NULL = default, see tl_injlog.h) */
    uint32_t width, height;       /* window / surface (0 = 1280 x 800) */
    /* Session from the command line (a script's `session` overrides). */
    const char *patient, *operator_name, *diagnosis;
    char side;
    int age;
    char sex;
    const char *product, *lot, *expiry;
    double volume_ml;             /* < 0 = not given */
    bool demo_session;            /* start a demo patient's session if none is given */
    tl_station_hooks hooks;
} tl_station_config;

tl_station_config tl_station_config_default(void);

typedef struct {
    uint64_t frames;              /* frames shown (overlay composed) */
    uint64_t frames_received;     /* frames that reached the station */
    double fps;                   /* frames shown per second */
    double latency_p50_ms, latency_p99_ms, latency_max_ms; /* device -> overlay composed */
    /* p50 and p99 of its parts: [1] device -> received (USB), [2] received ->
     * processed (inbox wait + B-mode + needle), [3] processed -> composed
     * (UI pickup + overlay); [0] is the total. */
    double stage_latency_ms[4][2];
    double processing_p50_ms;     /* B-mode + analysis + needle per frame */
    double imaging_ms, analysis_ms, needle_ms, compose_ms; /* means per stage */
    uint64_t drops;               /* frames lost: driver + skipped by processing */
    uint64_t skipped;             /* of which the processing thread skipped */
    uint64_t startup_drops;       /* lost before the first image was shown (not in drops) */
    uint64_t disconnects, reconnects;
    uint64_t steered_frames;      /* frames processed that came steered */
    uint64_t analysed_frames;     /* frames the tissue analysis took ... */
    uint64_t analysed_steered;    /* ... of which steered (the analysis takes straight ones) */
    float steer_deg;              /* the steering asked of the probe (0 = none) */
    uint32_t injections_logged;   /* committed by the log */
    uint32_t injections_failed;   /* refused by the log (shown in red) */
    uint32_t findings_logged;
    int64_t session_id;           /* 0 = none */
    char db[512];
    char error[256];              /* why the run stopped early ("" = it did not) */
    uint32_t snapshots;
} tl_station_summary;

/* Run the station until the frame count, the time limit, `quit` (script,
 * q/Esc, window closed) or a fatal error. Bad input (unknown probe, bad
 * database path, bad script) returns an error and a sentence in err; a
 * probe unplugged during the run is not an error (it is shown and the
 * station waits for it). *summary is filled in every case. */
tl_status tl_station_run(const tl_station_config *cfg, tl_station_summary *summary,
                         char *err, size_t err_len);

/* The summary as one JSON object (frames, fps, latency_ms {p50, p99, max},
 * drops, injections_logged, session_id, db, ...). malloc'd; free() it. */
char *tl_station_summary_json(const tl_station_summary *s);

#ifdef __cplusplus
}
#endif
#endif
