/* talus injection log: every procedure session, its pre-injection findings
 * and each injection, kept in SQLite so nothing acknowledged is ever lost.
 *
 * Durability contract
 *   - The database runs in WAL mode with synchronous=FULL: a function that
 *     writes returns TL_OK only after SQLite's COMMIT has returned, i.e. the
 *     row is on stable storage. tl_injlog_mark_injection() hands back the new
 *     row id only then, so the station acknowledges an injection on screen
 *     exactly when it can no longer be lost.
 *   - Images are PNG files in a folder next to the database
 *     ("<db>.images/", mode 0700). Each is written with tl_png_write (temp
 *     file, fsync, rename), then the folder itself is fsynced, and only then
 *     is the row that references it committed. A crash in between leaves at
 *     most an unreferenced image, never a row without its image.
 *   - The database, its -wal/-shm files and every image are created mode
 *     0600 (the log holds patient data).
 *
 * Errors: every function returns a tl_status (core/tl_core.h); the handle
 * keeps a sentence saying what went wrong (tl_injlog_errmsg). Typical codes:
 *   TL_ERR_NOT_FOUND   unknown session / record, database file missing
 *   TL_ERR_PERMISSION  read-only database, file or file system; access denied
 *   TL_ERR_NO_SPACE    disk (or the file-size limit) full
 *   TL_ERR_STATE       session already closed
 *   TL_ERR_FORMAT      not a talus database, or corrupt
 *   TL_ERR_UNSUPPORTED schema newer than this program
 *   TL_ERR_INVALID_ARG missing or too-long field, side not L/R ...
 *   TL_ERR_DB          any other SQLite failure
 * After any failure the handle stays usable: once space is freed the next
 * write works, and everything committed before is still there.
 *
 * One handle per thread (SQLite connections are not shared); several
 * processes may open the same database (WAL: readers never block the writer). */
#ifndef TL_INJLOG_H
#define TL_INJLOG_H

#include "tl_core.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Schema version this library writes (PRAGMA user_version). Older databases
 * are migrated step by step on open; newer ones are refused. */
#define TL_INJLOG_SCHEMA_VERSION 3

/* Field sizes (bytes, with the terminating NUL). Longer input is refused
 * with TL_ERR_INVALID_ARG rather than silently cut. */
#define TL_INJLOG_ID_MAX 64       /* patient ID, operator, lot, expiry */
#define TL_INJLOG_NAME_MAX 128    /* anatomy, product, structure, measure */
#define TL_INJLOG_TEXT_MAX 1024   /* diagnosis, notes */
#define TL_INJLOG_PATH_MAX 512    /* image path relative to the database folder */

typedef struct tl_injlog tl_injlog;

/* ---- Open / close ---------------------------------------------------- */

enum {
    TL_INJLOG_CREATE = 1 << 0,   /* create the database (and its folder) if missing */
    TL_INJLOG_READONLY = 1 << 1, /* never write: for list/report/trend */
};

/* Open (and with TL_INJLOG_CREATE create, mode 0600) the log at `path`,
 * migrating an older schema. On failure *out is NULL and `err` (if given)
 * holds a sentence naming the path and the cause. A database that is
 * read-only on disk is refused unless TL_INJLOG_READONLY is asked for
 * (TL_ERR_PERMISSION), so the station learns it at start, not at the first
 * injection. */
tl_status tl_injlog_open(const char *path, unsigned flags, tl_injlog **out,
                         char *err, size_t err_len);
void tl_injlog_close(tl_injlog *log);

/* The last error sentence ("" when none). Valid until the next call. */
const char *tl_injlog_errmsg(const tl_injlog *log);
/* The database path as given to open. */
const char *tl_injlog_path(const tl_injlog *log);
/* Absolute-or-as-given path of a stored image (as returned in a record's
 * `image` field) into buf. TL_ERR_OVERFLOW if buf is too small. */
tl_status tl_injlog_image_path(const tl_injlog *log, const char *image, char *buf,
                               size_t buf_len);
/* Schema version of the open database (TL_INJLOG_SCHEMA_VERSION after open). */
int tl_injlog_schema_version(const tl_injlog *log);

/* The default database: $TALUS_DB, else $HOME/.local/share/talus/talus.db.
 * TL_ERR_NOT_FOUND if neither is set; TL_ERR_OVERFLOW if buf is short. */
tl_status tl_injlog_default_path(char *buf, size_t buf_len);

/* ---- Images ------------------------------------------------------------ */

/* Pixels to store with a finding or injection (not owned; may be NULL). */
typedef struct {
    const uint8_t *pixels;
    uint32_t width, height;
    uint32_t stride;        /* bytes per row */
    int channels;           /* 1 grey, 3 RGB, 4 RGBA */
} tl_injlog_image;

/* ---- Sessions ---------------------------------------------------------- */

/* What the operator enters when a session starts. Strings are copied. */
typedef struct {
    const char *patient_id;  /* required */
    char side;               /* 'L' or 'R' (required) */
    const char *anatomy;     /* required, e.g. "plantar fascia" */
    const char *diagnosis;   /* may be NULL */
    const char *operator_name; /* required */
    int age_years;           /* 0 = not given (Achilles tables need it) */
    char sex;                /* 'M', 'F' or 0 = not given */
} tl_injlog_session_info;

typedef struct {
    int64_t id;
    char patient_id[TL_INJLOG_ID_MAX];
    char side;
    char anatomy[TL_INJLOG_NAME_MAX];
    char diagnosis[TL_INJLOG_TEXT_MAX];
    char operator_name[TL_INJLOG_ID_MAX];
    int age_years;           /* 0 = not recorded */
    char sex;                /* 0 = not recorded */
    int64_t started_ms;      /* Unix time, milliseconds */
    int64_t ended_ms;        /* 0 while the session is open */
    char note[TL_INJLOG_TEXT_MAX]; /* post-procedure note */
    int findings;            /* counts, filled by list/get */
    int injections;
} tl_injlog_session;

/* Start a session now; *session_id on commit. */
tl_status tl_injlog_start_session(tl_injlog *log, const tl_injlog_session_info *info,
                                  int64_t *session_id);
/* The same for a visit that took place at started_ms (Unix ms, not in the
 * future): entering earlier visits from paper charts, so the trend has them. */
tl_status tl_injlog_start_session_at(tl_injlog *log, const tl_injlog_session_info *info,
                                     int64_t started_ms, int64_t *session_id);
/* Close it with the post-procedure note (may be NULL). TL_ERR_STATE if it
 * is already closed, TL_ERR_NOT_FOUND if unknown. */
tl_status tl_injlog_close_session(tl_injlog *log, int64_t session_id, const char *note);

/* ---- Findings (pre-injection measurements) ----------------------------- */

typedef struct {
    const char *structure;   /* "plantar fascia", "achilles midportion" ... required */
    const char *measure;     /* "thickness", "effusion grade" ... required */
    double value;
    const char *unit;        /* "mm", "grade" ... may be NULL */
    int abnormal;            /* 1 beyond the clinical threshold */
    double threshold;        /* the threshold applied; NAN if none */
    const char *note;        /* e.g. "hypoechoic", may be NULL */
} tl_injlog_finding_info;

typedef struct {
    int64_t id, session_id;
    int64_t time_ms;
    char structure[TL_INJLOG_NAME_MAX];
    char measure[TL_INJLOG_NAME_MAX];
    double value;
    char unit[TL_INJLOG_ID_MAX];
    int abnormal;
    double threshold;        /* NAN if none */
    char note[TL_INJLOG_TEXT_MAX];
    char image[TL_INJLOG_PATH_MAX]; /* "" if none; see tl_injlog_image_path */
} tl_injlog_finding;

tl_status tl_injlog_add_finding(tl_injlog *log, int64_t session_id,
                                const tl_injlog_finding_info *info,
                                const tl_injlog_image *image, int64_t *finding_id);

/* ---- Injections -------------------------------------------------------- */

/* The injectate: product-agnostic, traceable (21 CFR 1271.290). */
typedef struct {
    char name[TL_INJLOG_NAME_MAX];   /* "triamcinolone 40 mg/ml", "PRP" ... */
    char lot[TL_INJLOG_ID_MAX];
    char expiry[TL_INJLOG_ID_MAX];   /* as printed, e.g. "2027-03" */
} tl_injlog_product;

typedef struct {
    const char *anatomy;     /* NULL = the session's */
    char side;               /* 0 = the session's */
    double target_x_mm, target_z_mm;   /* probe coordinates (core/tl_core.h) */
    double tip_x_mm, tip_z_mm;
    double depth_mm;         /* tip depth below the skin */
    int in_target;           /* 1 if the tip was in the target at the mark */
    double volume_ml;
    const char *product;     /* required */
    const char *lot;         /* may be NULL/"" (then recorded empty) */
    const char *expiry;      /* may be NULL/"" */
    const char *operator_name; /* NULL = the session's */
} tl_injlog_injection_info;

typedef struct {
    int64_t id, session_id;
    int64_t time_ms;
    char anatomy[TL_INJLOG_NAME_MAX];
    char side;
    double target_x_mm, target_z_mm, tip_x_mm, tip_z_mm, depth_mm;
    int in_target;
    double volume_ml;
    tl_injlog_product product;
    char operator_name[TL_INJLOG_ID_MAX];
    char image[TL_INJLOG_PATH_MAX];  /* "" if none */
} tl_injlog_injection;

/* Record an injection now, with the image shown at that moment (overlay
 * included; may be NULL). Writes and fsyncs the image, then commits the row;
 * *injection_id is set only after COMMIT returned, so TL_OK means
 * "acknowledged: survives a crash or power loss". On any failure nothing
 * is half-recorded and earlier injections are untouched. TL_ERR_STATE if
 * the session is closed. */
tl_status tl_injlog_mark_injection(tl_injlog *log, int64_t session_id,
                                   const tl_injlog_injection_info *info,
                                   const tl_injlog_image *image, int64_t *injection_id);

/* The product of the most recent injection (any session), so the station
 * can offer it again. TL_ERR_NOT_FOUND when the log has no injection. */
tl_status tl_injlog_last_product(tl_injlog *log, tl_injlog_product *product);

/* ---- Reading back -------------------------------------------------------- */

/* One session. TL_ERR_NOT_FOUND if unknown. */
tl_status tl_injlog_get_session(tl_injlog *log, int64_t session_id, tl_injlog_session *out);
/* Sessions, oldest first; patient_id NULL = all patients. *out is malloc'd
 * (free() it; NULL when *n is 0). */
tl_status tl_injlog_list_sessions(tl_injlog *log, const char *patient_id,
                                  tl_injlog_session **out, size_t *n);
/* Findings / injections of one session in time order (malloc'd, free()).
 * TL_ERR_NOT_FOUND if the session is unknown. */
tl_status tl_injlog_list_findings(tl_injlog *log, int64_t session_id,
                                  tl_injlog_finding **out, size_t *n);
tl_status tl_injlog_list_injections(tl_injlog *log, int64_t session_id,
                                    tl_injlog_injection **out, size_t *n);
/* One injection by id. TL_ERR_NOT_FOUND if unknown. */
tl_status tl_injlog_get_injection(tl_injlog *log, int64_t injection_id,
                                  tl_injlog_injection *out);

/* ---- Checking ------------------------------------------------------------ */

typedef struct {
    int integrity_ok;            /* PRAGMA integrity_check said "ok" */
    char integrity[256];         /* its first complaint otherwise */
    size_t sessions, findings, injections;
    size_t images;               /* rows that name an image */
    size_t images_missing;       /* ... whose file is missing or not a whole PNG */
    int64_t first_missing_injection; /* an injection id with a missing image, 0 if none */
    size_t images_orphaned;      /* files in the image folder no row names (left by a
                                    crash before COMMIT; harmless) */
} tl_injlog_check_result;

/* Check the database (integrity_check) and that every image a row names is
 * there and whole (PNG signature and IEND trailer). TL_OK means the check
 * ran; look at the result for what it found. */
tl_status tl_injlog_check(tl_injlog *log, tl_injlog_check_result *out);

/* ---- Trend ------------------------------------------------------------- */

/* One visit's value of a measure (largest of the session's findings). */
typedef struct {
    int64_t session_id;
    int64_t time_ms;         /* the session's start */
    double value;
    int abnormal;
    int injected;            /* 1 if the session has at least one injection */
    char structure[TL_INJLOG_NAME_MAX];
    char unit[TL_INJLOG_ID_MAX];
} tl_injlog_trend_point;

/* The patient's `measure` (e.g. "thickness") per session, oldest first
 * (malloc'd, free()). Sessions without that measure are left out.
 * TL_ERR_NOT_FOUND if the patient has no session at all. */
tl_status tl_injlog_trend(tl_injlog *log, const char *patient_id, const char *measure,
                          tl_injlog_trend_point **out, size_t *n);

/* Draw the points as a plot (axes with ticks and dates, value axis in the
 * points' unit, a dashed threshold line at `threshold` unless NAN, points
 * joined by lines, filled points where abnormal, injected visits marked)
 * into an RGB image of width x height (>= 240 x 160) and write it as a PNG
 * (mode 0600). Works for n == 0 (empty axes saying "no data"). */
tl_status tl_injlog_plot_trend(const tl_injlog_trend_point *pts, size_t n, double threshold,
                               const char *title, uint32_t width, uint32_t height,
                               const char *png_path);

#ifdef __cplusplus
}
#endif
#endif
