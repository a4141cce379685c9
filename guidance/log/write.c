/* Writing: sessions, findings, injections and their images.
 *
 * Order for anything with an image: PNG written + fsynced (tl_png_write),
 * its folder fsynced, THEN the row committed. The caller gets the row id
 * only after COMMIT returned. */
#include "injlog_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static tl_status check_text(tl_injlog *log, const char *field, const char *v, size_t cap,
                            int required)
{
    if (!v || !*v) {
        if (required)
            return injlog_fail(log, TL_ERR_INVALID_ARG, "%s is required", field);
        return TL_OK;
    }
    if (strlen(v) >= cap)
        return injlog_fail(log, TL_ERR_INVALID_ARG, "%s is too long (%zu bytes, at most %zu)",
                           field, strlen(v), cap - 1);
    return TL_OK;
}

static tl_status check_side(tl_injlog *log, char side, int allow_none)
{
    if (side == 'L' || side == 'R' || (allow_none && side == 0))
        return TL_OK;
    return injlog_fail(log, TL_ERR_INVALID_ARG, "side must be L or R");
}

static tl_status writable(tl_injlog *log)
{
    if (!log)
        return TL_ERR_INVALID_ARG;
    log->err[0] = '\0';
    if (log->flags & TL_INJLOG_READONLY)
        return injlog_fail(log, TL_ERR_PERMISSION, "%s was opened read-only", log->path);
    return TL_OK;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_TRANSIENT);
}

/* Bind a double; NAN/inf become NULL ("not measured"). */
static void bind_real(sqlite3_stmt *s, int i, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

/* Run one prepared write inside BEGIN IMMEDIATE ... COMMIT; finalizes it. */
static tl_status commit_one(tl_injlog *log, sqlite3_stmt *s, const char *what,
                            int64_t *rowid)
{
    tl_status st = injlog_exec(log, "BEGIN IMMEDIATE", what);
    if (st != TL_OK) {
        sqlite3_finalize(s);
        return st;
    }
    if (sqlite3_step(s) != SQLITE_DONE) {
        st = injlog_db_fail(log, what);
    } else {
        if (rowid)
            *rowid = sqlite3_last_insert_rowid(log->db);
        if (sqlite3_exec(log->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            st = injlog_db_fail(log, what);
    }
    sqlite3_finalize(s);
    if (st != TL_OK && !sqlite3_get_autocommit(log->db))
        sqlite3_exec(log->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

static tl_status prepare(tl_injlog *log, const char *sql, sqlite3_stmt **s, const char *what)
{
    if (sqlite3_prepare_v2(log->db, sql, -1, s, NULL) != SQLITE_OK)
        return injlog_db_fail(log, what);
    return TL_OK;
}

tl_status tl_injlog_start_session(tl_injlog *log, const tl_injlog_session_info *info,
                                  int64_t *session_id)
{
    return tl_injlog_start_session_at(log, info, 0, session_id);
}

tl_status tl_injlog_start_session_at(tl_injlog *log, const tl_injlog_session_info *info,
                                     int64_t started_ms, int64_t *session_id)
{
    tl_status st = writable(log);
    if (st != TL_OK)
        return st;
    if (!info || !session_id)
        return injlog_fail(log, TL_ERR_INVALID_ARG, "session information missing");
    if ((st = check_text(log, "patient ID", info->patient_id, TL_INJLOG_ID_MAX, 1)) ||
        (st = check_side(log, info->side, 0)) ||
        (st = check_text(log, "anatomy", info->anatomy, TL_INJLOG_NAME_MAX, 1)) ||
        (st = check_text(log, "diagnosis", info->diagnosis, TL_INJLOG_TEXT_MAX, 0)) ||
        (st = check_text(log, "operator", info->operator_name, TL_INJLOG_ID_MAX, 1)))
        return st;
    if (info->age_years < 0 || info->age_years > 130)
        return injlog_fail(log, TL_ERR_INVALID_ARG, "age %d out of range", info->age_years);
    if (info->sex != 0 && info->sex != 'M' && info->sex != 'F')
        return injlog_fail(log, TL_ERR_INVALID_ARG, "sex must be M or F (or not given)");
    if (started_ms < 0 || started_ms > injlog_now_ms() + 60000)
        return injlog_fail(log, TL_ERR_INVALID_ARG, "session start time is in the future");
    sqlite3_stmt *s;
    if ((st = prepare(log,
                      "INSERT INTO sessions(patient_id, side, anatomy, diagnosis, operator,"
                      " started_ms, age_years, sex) VALUES (?,?,?,?,?,?,?,?)",
                      &s, "cannot start the session")))
        return st;
    char side[2] = { info->side, 0 }, sex[2] = { info->sex, 0 };
    bind_text(s, 1, info->patient_id);
    bind_text(s, 2, side);
    bind_text(s, 3, info->anatomy);
    bind_text(s, 4, info->diagnosis);
    bind_text(s, 5, info->operator_name);
    sqlite3_bind_int64(s, 6, started_ms > 0 ? started_ms : injlog_now_ms());
    if (info->age_years > 0)
        sqlite3_bind_int(s, 7, info->age_years);
    if (info->sex)
        bind_text(s, 8, sex);
    return commit_one(log, s, "cannot start the session", session_id);
}

/* The session's defaults, and whether it is still open. */
typedef struct {
    char side;
    char anatomy[TL_INJLOG_NAME_MAX];
    char operator_name[TL_INJLOG_ID_MAX];
    int closed;
} session_state;

static tl_status load_session(tl_injlog *log, int64_t id, session_state *ss)
{
    sqlite3_stmt *s;
    tl_status st = prepare(log, "SELECT side, anatomy, operator, ended_ms FROM sessions"
                                " WHERE id = ?", &s, "cannot read the session");
    if (st != TL_OK)
        return st;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *side = (const char *)sqlite3_column_text(s, 0);
        ss->side = side ? side[0] : 0;
        injlog_copy(ss->anatomy, sizeof ss->anatomy, (const char *)sqlite3_column_text(s, 1));
        injlog_copy(ss->operator_name, sizeof ss->operator_name,
                    (const char *)sqlite3_column_text(s, 2));
        ss->closed = sqlite3_column_type(s, 3) != SQLITE_NULL;
    } else if (rc == SQLITE_DONE) {
        st = injlog_fail(log, TL_ERR_NOT_FOUND, "no session %lld in %s", (long long)id,
                         log->path);
    } else {
        st = injlog_db_fail(log, "cannot read the session");
    }
    sqlite3_finalize(s);
    return st;
}

static tl_status open_session(tl_injlog *log, int64_t id, session_state *ss)
{
    tl_status st = load_session(log, id, ss);
    if (st == TL_OK && ss->closed)
        st = injlog_fail(log, TL_ERR_STATE, "session %lld is closed: start a new session",
                         (long long)id);
    return st;
}

tl_status tl_injlog_close_session(tl_injlog *log, int64_t session_id, const char *note)
{
    tl_status st = writable(log);
    if (st != TL_OK)
        return st;
    session_state ss;
    if ((st = check_text(log, "note", note, TL_INJLOG_TEXT_MAX, 0)) ||
        (st = open_session(log, session_id, &ss)))
        return st;
    sqlite3_stmt *s;
    if ((st = prepare(log, "UPDATE sessions SET ended_ms = ?, note = ? WHERE id = ?", &s,
                      "cannot close the session")))
        return st;
    sqlite3_bind_int64(s, 1, injlog_now_ms());
    bind_text(s, 2, note);
    sqlite3_bind_int64(s, 3, session_id);
    return commit_one(log, s, "cannot close the session", NULL);
}

static tl_status image_dir_ready(tl_injlog *log, char *abs, size_t cap)
{
    if ((size_t)snprintf(abs, cap, "%s/%s", log->dir, log->image_rel) >= cap)
        return injlog_fail(log, TL_ERR_OVERFLOW, "image folder path too long");
    if (log->image_dir_ready)
        return TL_OK;
    if (mkdir(abs, 0700) != 0) {
        if (errno != EEXIST)
            return injlog_fail(log, tl_status_from_errno(errno),
                               "cannot create image folder %s: %s", abs, strerror(errno));
        chmod(abs, 0700); /* patient images: private, whoever made the folder */
    }
    /* Make the folder's own name durable before anything refers to it. */
    tl_status st = injlog_fsync_dir(log->dir);
    if (st != TL_OK)
        return injlog_fail(log, st, "cannot sync folder %s: %s", log->dir, tl_strerror(st));
    log->image_dir_ready = 1;
    return TL_OK;
}

static tl_status store_image(tl_injlog *log, int64_t sid, const char *kind,
                             const tl_injlog_image *img, char *rel, size_t rel_cap)
{
    if (!img->pixels || img->width == 0 || img->height == 0 || img->width > 16384 ||
        img->height > 16384 || (img->channels != 1 && img->channels != 3 && img->channels != 4) ||
        img->stride < img->width * (uint32_t)img->channels)
        return injlog_fail(log, TL_ERR_INVALID_ARG, "image: bad size, stride or channels");
    char dir[TL_INJLOG_PATH_MAX + 512];
    tl_status st = image_dir_ready(log, dir, sizeof dir);
    if (st != TL_OK)
        return st;
    char name[128], full[sizeof dir + sizeof name + 2];
    int64_t ms = injlog_now_ms();
    /* Unique per handle by sequence, across processes by time and pid. */
    for (;;) {
        snprintf(name, sizeof name, "s%lld-%s-%lld-%ld-%llu.png", (long long)sid, kind,
                 (long long)ms, (long)getpid(), (unsigned long long)++log->image_seq);
        snprintf(full, sizeof full, "%s/%s", dir, name);
        if (access(full, F_OK) != 0)
            break;
    }
    if ((size_t)snprintf(rel, rel_cap, "%s/%s", log->image_rel, name) >= rel_cap)
        return injlog_fail(log, TL_ERR_OVERFLOW, "image path too long");
    st = tl_png_write(full, img->pixels, img->width, img->height, img->stride, img->channels);
    if (st == TL_OK && chmod(full, 0600) != 0)
        st = tl_status_from_errno(errno);
    if (st == TL_OK)
        st = injlog_fsync_dir(dir);
    if (st != TL_OK) {
        unlink(full);
        return injlog_fail(log, st, "cannot write image %s: %s%s", full, tl_strerror(st),
                           st == TL_ERR_NO_SPACE ? " - the disk is full; free space and retry"
                                                   " (nothing already recorded is lost)"
                                                 : "");
    }
    return TL_OK;
}

tl_status tl_injlog_add_finding(tl_injlog *log, int64_t session_id,
                                const tl_injlog_finding_info *info,
                                const tl_injlog_image *image, int64_t *finding_id)
{
    tl_status st = writable(log);
    if (st != TL_OK)
        return st;
    if (!info)
        return injlog_fail(log, TL_ERR_INVALID_ARG, "finding missing");
    if ((st = check_text(log, "structure", info->structure, TL_INJLOG_NAME_MAX, 1)) ||
        (st = check_text(log, "measure", info->measure, TL_INJLOG_NAME_MAX, 1)) ||
        (st = check_text(log, "unit", info->unit, TL_INJLOG_ID_MAX, 0)) ||
        (st = check_text(log, "note", info->note, TL_INJLOG_TEXT_MAX, 0)))
        return st;
    if (!isfinite(info->value))
        return injlog_fail(log, TL_ERR_INVALID_ARG, "finding value is not a number");
    session_state ss;
    if ((st = open_session(log, session_id, &ss)))
        return st;
    char rel[TL_INJLOG_PATH_MAX] = "";
    if (image && (st = store_image(log, session_id, "finding", image, rel, sizeof rel)))
        return st;
    sqlite3_stmt *s;
    if ((st = prepare(log,
                      "INSERT INTO findings(session_id, time_ms, structure, measure, value,"
                      " unit, abnormal, threshold, note, image) VALUES (?,?,?,?,?,?,?,?,?,?)",
                      &s, "cannot record the finding")))
        return st;
    sqlite3_bind_int64(s, 1, session_id);
    sqlite3_bind_int64(s, 2, injlog_now_ms());
    bind_text(s, 3, info->structure);
    bind_text(s, 4, info->measure);
    sqlite3_bind_double(s, 5, info->value);
    bind_text(s, 6, info->unit);
    sqlite3_bind_int(s, 7, info->abnormal ? 1 : 0);
    bind_real(s, 8, info->threshold);
    bind_text(s, 9, info->note);
    if (rel[0])
        bind_text(s, 10, rel);
    int64_t id = 0;
    st = commit_one(log, s, "cannot record the finding", &id);
    if (st == TL_OK && finding_id)
        *finding_id = id;
    return st;
}

tl_status tl_injlog_mark_injection(tl_injlog *log, int64_t session_id,
                                   const tl_injlog_injection_info *info,
                                   const tl_injlog_image *image, int64_t *injection_id)
{
    tl_status st = writable(log);
    if (st != TL_OK)
        return st;
    if (!info || !injection_id)
        return injlog_fail(log, TL_ERR_INVALID_ARG, "injection information missing");
    if ((st = check_text(log, "anatomy", info->anatomy, TL_INJLOG_NAME_MAX, 0)) ||
        (st = check_side(log, info->side, 1)) ||
        (st = check_text(log, "product", info->product, TL_INJLOG_NAME_MAX, 1)) ||
        (st = check_text(log, "lot", info->lot, TL_INJLOG_ID_MAX, 0)) ||
        (st = check_text(log, "expiry", info->expiry, TL_INJLOG_ID_MAX, 0)) ||
        (st = check_text(log, "operator", info->operator_name, TL_INJLOG_ID_MAX, 0)))
        return st;
    if (isfinite(info->volume_ml) && (info->volume_ml < 0 || info->volume_ml > 100))
        return injlog_fail(log, TL_ERR_INVALID_ARG, "volume %.3g ml out of range",
                           info->volume_ml);
    session_state ss;
    if ((st = open_session(log, session_id, &ss)))
        return st;
    char rel[TL_INJLOG_PATH_MAX] = "";
    if (image && (st = store_image(log, session_id, "inj", image, rel, sizeof rel)))
        return st;
    sqlite3_stmt *s;
    if ((st = prepare(log,
                      "INSERT INTO injections(session_id, time_ms, anatomy, side,"
                      " target_x_mm, target_z_mm, tip_x_mm, tip_z_mm, depth_mm, volume_ml,"
                      " product, lot, expiry, operator, image, in_target)"
                      " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      &s, "cannot record the injection")))
        return st;
    char side[2] = { info->side ? info->side : ss.side, 0 };
    sqlite3_bind_int64(s, 1, session_id);
    sqlite3_bind_int64(s, 2, injlog_now_ms());
    bind_text(s, 3, info->anatomy && *info->anatomy ? info->anatomy : ss.anatomy);
    bind_text(s, 4, side);
    bind_real(s, 5, info->target_x_mm);
    bind_real(s, 6, info->target_z_mm);
    bind_real(s, 7, info->tip_x_mm);
    bind_real(s, 8, info->tip_z_mm);
    bind_real(s, 9, info->depth_mm);
    bind_real(s, 10, info->volume_ml);
    bind_text(s, 11, info->product);
    bind_text(s, 12, info->lot);
    bind_text(s, 13, info->expiry);
    bind_text(s, 14, info->operator_name && *info->operator_name ? info->operator_name
                                                                 : ss.operator_name);
    if (rel[0])
        bind_text(s, 15, rel);
    sqlite3_bind_int(s, 16, info->in_target ? 1 : 0);
    int64_t id = 0;
    st = commit_one(log, s, "cannot record the injection", &id);
    /* Acknowledge only now: COMMIT has returned. */
    if (st == TL_OK)
        *injection_id = id;
    return st;
}
