/* Reading the log back: sessions, findings, injections, last product, trend. */
#include "injlog_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COL_TEXT(s, i) ((const char *)sqlite3_column_text((s), (i)))

static double col_real(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

static char col_char(sqlite3_stmt *s, int i)
{
    const char *t = COL_TEXT(s, i);
    return t ? t[0] : 0;
}

static tl_status begin_read(tl_injlog *log, const char *sql, sqlite3_stmt **s)
{
    if (!log)
        return TL_ERR_INVALID_ARG;
    log->err[0] = '\0';
    if (sqlite3_prepare_v2(log->db, sql, -1, s, NULL) != SQLITE_OK)
        return injlog_db_fail(log, "cannot read the injection log");
    return TL_OK;
}

/* Step through rows, growing a malloc'd array of `size`-byte records that
 * `fill` writes. */
static tl_status collect(tl_injlog *log, sqlite3_stmt *s, size_t size,
                         void (*fill)(sqlite3_stmt *, void *), void **out, size_t *n)
{
    size_t cap = 0, count = 0;
    char *arr = NULL;
    tl_status st = TL_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            char *grown = realloc(arr, ncap * size);
            if (!grown) {
                st = injlog_fail(log, TL_ERR_NO_MEM, "out of memory reading the log");
                break;
            }
            arr = grown;
            cap = ncap;
        }
        memset(arr + count * size, 0, size);
        fill(s, arr + count * size);
        count++;
    }
    if (st == TL_OK && rc != SQLITE_DONE)
        st = injlog_db_fail(log, "cannot read the injection log");
    sqlite3_finalize(s);
    if (st != TL_OK) {
        free(arr);
        return st;
    }
    if (count == 0) {
        free(arr);
        arr = NULL;
    }
    *out = arr;
    *n = count;
    return TL_OK;
}

#define SESSION_COLS                                                                      \
    "SELECT s.id, s.patient_id, s.side, s.anatomy, s.diagnosis, s.operator, s.age_years,"  \
    " s.sex, s.started_ms, s.ended_ms, s.note,"                                            \
    " (SELECT count(*) FROM findings f WHERE f.session_id = s.id),"                        \
    " (SELECT count(*) FROM injections i WHERE i.session_id = s.id) FROM sessions s "

static void fill_session(sqlite3_stmt *s, void *p)
{
    tl_injlog_session *o = p;
    o->id = sqlite3_column_int64(s, 0);
    injlog_copy(o->patient_id, sizeof o->patient_id, COL_TEXT(s, 1));
    o->side = col_char(s, 2);
    injlog_copy(o->anatomy, sizeof o->anatomy, COL_TEXT(s, 3));
    injlog_copy(o->diagnosis, sizeof o->diagnosis, COL_TEXT(s, 4));
    injlog_copy(o->operator_name, sizeof o->operator_name, COL_TEXT(s, 5));
    o->age_years = sqlite3_column_int(s, 6);
    o->sex = col_char(s, 7);
    o->started_ms = sqlite3_column_int64(s, 8);
    o->ended_ms = sqlite3_column_int64(s, 9);
    injlog_copy(o->note, sizeof o->note, COL_TEXT(s, 10));
    o->findings = sqlite3_column_int(s, 11);
    o->injections = sqlite3_column_int(s, 12);
}

tl_status tl_injlog_get_session(tl_injlog *log, int64_t session_id, tl_injlog_session *out)
{
    sqlite3_stmt *s;
    if (!out)
        return TL_ERR_INVALID_ARG;
    tl_status st = begin_read(log, SESSION_COLS "WHERE s.id = ?", &s);
    if (st != TL_OK)
        return st;
    sqlite3_bind_int64(s, 1, session_id);
    void *arr;
    size_t n;
    if ((st = collect(log, s, sizeof *out, fill_session, &arr, &n)))
        return st;
    if (n == 0)
        return injlog_fail(log, TL_ERR_NOT_FOUND, "no session %lld in %s",
                           (long long)session_id, log->path);
    *out = *(tl_injlog_session *)arr;
    free(arr);
    return TL_OK;
}

tl_status tl_injlog_list_sessions(tl_injlog *log, const char *patient_id,
                                  tl_injlog_session **out, size_t *n)
{
    sqlite3_stmt *s;
    if (!out || !n)
        return TL_ERR_INVALID_ARG;
    tl_status st = begin_read(log, patient_id ? SESSION_COLS "WHERE s.patient_id = ?"
                                                " ORDER BY s.started_ms, s.id"
                                              : SESSION_COLS "ORDER BY s.started_ms, s.id", &s);
    if (st != TL_OK)
        return st;
    if (patient_id)
        sqlite3_bind_text(s, 1, patient_id, -1, SQLITE_TRANSIENT);
    return collect(log, s, sizeof **out, fill_session, (void **)out, n);
}

/* TL_OK if the session exists (so an empty list is told apart from a typo). */
static tl_status session_exists(tl_injlog *log, int64_t id)
{
    tl_injlog_session tmp;
    return tl_injlog_get_session(log, id, &tmp);
}

static void fill_finding(sqlite3_stmt *s, void *p)
{
    tl_injlog_finding *o = p;
    o->id = sqlite3_column_int64(s, 0);
    o->session_id = sqlite3_column_int64(s, 1);
    o->time_ms = sqlite3_column_int64(s, 2);
    injlog_copy(o->structure, sizeof o->structure, COL_TEXT(s, 3));
    injlog_copy(o->measure, sizeof o->measure, COL_TEXT(s, 4));
    o->value = col_real(s, 5);
    injlog_copy(o->unit, sizeof o->unit, COL_TEXT(s, 6));
    o->abnormal = sqlite3_column_int(s, 7);
    o->threshold = col_real(s, 8);
    injlog_copy(o->note, sizeof o->note, COL_TEXT(s, 9));
    injlog_copy(o->image, sizeof o->image, COL_TEXT(s, 10));
}

tl_status tl_injlog_list_findings(tl_injlog *log, int64_t session_id,
                                  tl_injlog_finding **out, size_t *n)
{
    if (!out || !n)
        return TL_ERR_INVALID_ARG;
    tl_status st = session_exists(log, session_id);
    sqlite3_stmt *s;
    if (st == TL_OK)
        st = begin_read(log, "SELECT id, session_id, time_ms, structure, measure, value, unit,"
                             " abnormal, threshold, note, image FROM findings"
                             " WHERE session_id = ? ORDER BY time_ms, id", &s);
    if (st != TL_OK)
        return st;
    sqlite3_bind_int64(s, 1, session_id);
    return collect(log, s, sizeof **out, fill_finding, (void **)out, n);
}

#define INJECTION_COLS                                                                    \
    "SELECT id, session_id, time_ms, anatomy, side, target_x_mm, target_z_mm, tip_x_mm,"  \
    " tip_z_mm, depth_mm, in_target, volume_ml, product, lot, expiry, operator, image"     \
    " FROM injections "

static void fill_injection(sqlite3_stmt *s, void *p)
{
    tl_injlog_injection *o = p;
    o->id = sqlite3_column_int64(s, 0);
    o->session_id = sqlite3_column_int64(s, 1);
    o->time_ms = sqlite3_column_int64(s, 2);
    injlog_copy(o->anatomy, sizeof o->anatomy, COL_TEXT(s, 3));
    o->side = col_char(s, 4);
    o->target_x_mm = col_real(s, 5);
    o->target_z_mm = col_real(s, 6);
    o->tip_x_mm = col_real(s, 7);
    o->tip_z_mm = col_real(s, 8);
    o->depth_mm = col_real(s, 9);
    o->in_target = sqlite3_column_int(s, 10);
    o->volume_ml = col_real(s, 11);
    injlog_copy(o->product.name, sizeof o->product.name, COL_TEXT(s, 12));
    injlog_copy(o->product.lot, sizeof o->product.lot, COL_TEXT(s, 13));
    injlog_copy(o->product.expiry, sizeof o->product.expiry, COL_TEXT(s, 14));
    injlog_copy(o->operator_name, sizeof o->operator_name, COL_TEXT(s, 15));
    injlog_copy(o->image, sizeof o->image, COL_TEXT(s, 16));
}

tl_status tl_injlog_list_injections(tl_injlog *log, int64_t session_id,
                                    tl_injlog_injection **out, size_t *n)
{
    if (!out || !n)
        return TL_ERR_INVALID_ARG;
    tl_status st = session_exists(log, session_id);
    sqlite3_stmt *s;
    if (st == TL_OK)
        st = begin_read(log, INJECTION_COLS "WHERE session_id = ? ORDER BY time_ms, id", &s);
    if (st != TL_OK)
        return st;
    sqlite3_bind_int64(s, 1, session_id);
    return collect(log, s, sizeof **out, fill_injection, (void **)out, n);
}

tl_status tl_injlog_get_injection(tl_injlog *log, int64_t injection_id, tl_injlog_injection *out)
{
    sqlite3_stmt *s;
    if (!out)
        return TL_ERR_INVALID_ARG;
    tl_status st = begin_read(log, INJECTION_COLS "WHERE id = ?", &s);
    if (st != TL_OK)
        return st;
    sqlite3_bind_int64(s, 1, injection_id);
    void *arr;
    size_t n;
    if ((st = collect(log, s, sizeof *out, fill_injection, &arr, &n)))
        return st;
    if (n == 0)
        return injlog_fail(log, TL_ERR_NOT_FOUND, "no injection %lld in %s",
                           (long long)injection_id, log->path);
    *out = *(tl_injlog_injection *)arr;
    free(arr);
    return TL_OK;
}

tl_status tl_injlog_last_product(tl_injlog *log, tl_injlog_product *product)
{
    sqlite3_stmt *s;
    if (!product)
        return TL_ERR_INVALID_ARG;
    tl_status st = begin_read(log, "SELECT product, lot, expiry FROM injections"
                                   " ORDER BY time_ms DESC, id DESC LIMIT 1", &s);
    if (st != TL_OK)
        return st;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        injlog_copy(product->name, sizeof product->name, COL_TEXT(s, 0));
        injlog_copy(product->lot, sizeof product->lot, COL_TEXT(s, 1));
        injlog_copy(product->expiry, sizeof product->expiry, COL_TEXT(s, 2));
    } else if (rc == SQLITE_DONE) {
        st = injlog_fail(log, TL_ERR_NOT_FOUND, "no injection recorded yet");
    } else {
        st = injlog_db_fail(log, "cannot read the last product");
    }
    sqlite3_finalize(s);
    return st;
}

static void fill_trend(sqlite3_stmt *s, void *p)
{
    tl_injlog_trend_point *o = p;
    o->session_id = sqlite3_column_int64(s, 0);
    o->time_ms = sqlite3_column_int64(s, 1);
    o->value = col_real(s, 2);
    o->abnormal = sqlite3_column_int(s, 3);
    o->injected = sqlite3_column_int(s, 4) > 0;
    injlog_copy(o->structure, sizeof o->structure, COL_TEXT(s, 5));
    injlog_copy(o->unit, sizeof o->unit, COL_TEXT(s, 6));
}

tl_status tl_injlog_trend(tl_injlog *log, const char *patient_id, const char *measure,
                          tl_injlog_trend_point **out, size_t *n)
{
    if (!patient_id || !measure || !out || !n)
        return TL_ERR_INVALID_ARG;
    sqlite3_stmt *s;
    tl_status st = begin_read(log, "SELECT count(*) FROM sessions WHERE patient_id = ?", &s);
    if (st != TL_OK)
        return st;
    sqlite3_bind_text(s, 1, patient_id, -1, SQLITE_TRANSIENT);
    int sessions = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
    sqlite3_finalize(s);
    if (sessions < 0)
        return injlog_db_fail(log, "cannot read the sessions");
    if (sessions == 0)
        return injlog_fail(log, TL_ERR_NOT_FOUND, "no session for patient %s in %s",
                           patient_id, log->path);
    /* The visit's value is its largest measurement of that kind (SQLite
     * takes the bare columns from the row holding max()). */
    st = begin_read(log,
                    "SELECT s.id, s.started_ms, max(f.value), f.abnormal,"
                    " (SELECT count(*) FROM injections i WHERE i.session_id = s.id),"
                    " f.structure, f.unit"
                    " FROM sessions s JOIN findings f ON f.session_id = s.id"
                    " WHERE s.patient_id = ? AND f.measure = ?"
                    " GROUP BY s.id ORDER BY s.started_ms, s.id", &s);
    if (st != TL_OK)
        return st;
    sqlite3_bind_text(s, 1, patient_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, measure, -1, SQLITE_TRANSIENT);
    return collect(log, s, sizeof **out, fill_trend, (void **)out, n);
}
