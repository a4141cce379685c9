/* Schema versions and the steps between them.
 *
 * PRAGMA user_version holds the version. Each step runs in one transaction
 * together with the new user_version and a row in `migrations`, so a crash
 * mid-migration leaves the database at the previous version, never between.
 * Append steps; never edit a released one (databases in clinics ran it). */
#include "injlog_internal.h"

#include <stdio.h>

static const struct {
    int version;
    const char *what;
    const char *sql;
} steps[] = {
    { 1, "sessions and injections",
      "CREATE TABLE sessions("
      " id INTEGER PRIMARY KEY,"
      " patient_id TEXT NOT NULL,"
      " side TEXT NOT NULL CHECK (side IN ('L','R')),"
      " anatomy TEXT NOT NULL,"
      " diagnosis TEXT NOT NULL DEFAULT '',"
      " operator TEXT NOT NULL,"
      " started_ms INTEGER NOT NULL,"
      " ended_ms INTEGER);"
      "CREATE TABLE injections("
      " id INTEGER PRIMARY KEY,"
      " session_id INTEGER NOT NULL REFERENCES sessions(id),"
      " time_ms INTEGER NOT NULL,"
      " anatomy TEXT NOT NULL,"
      " side TEXT NOT NULL,"
      " target_x_mm REAL, target_z_mm REAL, tip_x_mm REAL, tip_z_mm REAL,"
      " depth_mm REAL,"
      " volume_ml REAL,"
      " product TEXT NOT NULL,"
      " operator TEXT NOT NULL,"
      " image TEXT);" },
    { 2, "findings; product lot and expiry",
      "ALTER TABLE injections ADD COLUMN lot TEXT NOT NULL DEFAULT '';"
      "ALTER TABLE injections ADD COLUMN expiry TEXT NOT NULL DEFAULT '';"
      "CREATE TABLE findings("
      " id INTEGER PRIMARY KEY,"
      " session_id INTEGER NOT NULL REFERENCES sessions(id),"
      " time_ms INTEGER NOT NULL,"
      " structure TEXT NOT NULL,"
      " measure TEXT NOT NULL,"
      " value REAL NOT NULL,"
      " unit TEXT NOT NULL DEFAULT '',"
      " abnormal INTEGER NOT NULL DEFAULT 0,"
      " threshold REAL,"
      " note TEXT NOT NULL DEFAULT '',"
      " image TEXT);" },
    { 3, "age/sex, post-procedure note, in-target flag, indexes",
      "ALTER TABLE sessions ADD COLUMN age_years INTEGER;"
      "ALTER TABLE sessions ADD COLUMN sex TEXT CHECK (sex IS NULL OR sex IN ('M','F'));"
      "ALTER TABLE sessions ADD COLUMN note TEXT NOT NULL DEFAULT '';"
      "ALTER TABLE injections ADD COLUMN in_target INTEGER NOT NULL DEFAULT 0;"
      "CREATE INDEX sessions_patient ON sessions(patient_id, started_ms);"
      "CREATE INDEX injections_session ON injections(session_id, time_ms);"
      "CREATE INDEX findings_session ON findings(session_id, time_ms);" },
};

/* A version-0 file must be empty: refuse to build our tables into some
 * other program's database. */
static tl_status check_empty(tl_injlog *log)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(log->db,
                           "SELECT count(*) FROM sqlite_master WHERE name <> 'migrations'",
                           -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return injlog_db_fail(log, "cannot read the schema");
    }
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (n > 0)
        return injlog_fail(log, TL_ERR_FORMAT,
                           "%s is an SQLite database but not a talus injection log", log->path);
    return TL_OK;
}

static tl_status apply_step(tl_injlog *log, int i)
{
    tl_status st = injlog_exec(log, "BEGIN IMMEDIATE", "cannot start a migration");
    if (st != TL_OK)
        return st;
    /* Another process may have migrated while we waited for the lock. */
    sqlite3_stmt *q = NULL;
    int now = -1;
    if (sqlite3_prepare_v2(log->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        now = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (now >= steps[i].version) {
        sqlite3_exec(log->db, "COMMIT", NULL, NULL, NULL);
        log->version = now;
        return TL_OK;
    }
    char sql[256];
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS migrations(version INTEGER PRIMARY KEY,"
             " what TEXT NOT NULL, applied_ms INTEGER NOT NULL);"
             "INSERT INTO migrations VALUES (%d, '%s', %lld);"
             "PRAGMA user_version = %d;",
             steps[i].version, steps[i].what, (long long)injlog_now_ms(), steps[i].version);
    char what[96];
    snprintf(what, sizeof what, "migration to schema version %d failed", steps[i].version);
    st = injlog_exec(log, steps[i].sql, what);
    if (st == TL_OK)
        st = injlog_exec(log, sql, what);
    if (st == TL_OK)
        st = injlog_exec(log, "COMMIT", what);
    if (st != TL_OK) {
        sqlite3_exec(log->db, "ROLLBACK", NULL, NULL, NULL);
        return st;
    }
    log->version = steps[i].version;
    return TL_OK;
}

tl_status injlog_migrate(tl_injlog *log)
{
    const int latest = steps[sizeof steps / sizeof steps[0] - 1].version;
    _Static_assert(sizeof steps / sizeof steps[0] == TL_INJLOG_SCHEMA_VERSION,
                   "one migration step per schema version");
    if (log->version > latest)
        return injlog_fail(log, TL_ERR_UNSUPPORTED,
                           "%s has schema version %d, newer than this talus (%d): "
                           "use a newer talus", log->path, log->version, latest);
    if (log->version == latest)
        return TL_OK;
    if (log->flags & TL_INJLOG_READONLY)
        return injlog_fail(log, TL_ERR_STATE,
                           "%s has schema version %d and needs migrating to %d: "
                           "open it once read-write", log->path, log->version, latest);
    if (log->version == 0) {
        tl_status st = check_empty(log);
        if (st != TL_OK)
            return st;
    }
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (steps[i].version <= log->version)
            continue;
        tl_status st = apply_step(log, (int)i);
        if (st != TL_OK)
            return st;
    }
    return TL_OK;
}
