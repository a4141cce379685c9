/* Private to tl_injlog: the handle and helpers shared by its source files. */
#ifndef TL_INJLOG_INTERNAL_H
#define TL_INJLOG_INTERNAL_H

#include "tl_injlog.h"

#include <sqlite3.h>
#include <stdarg.h>

struct tl_injlog {
    sqlite3 *db;
    unsigned flags;
    int version;            /* user_version after open/migration */
    char *path;             /* as given */
    char *dir;              /* folder holding the database ("." if none) */
    char *image_rel;        /* "<basename>.images": image folder, relative to dir */
    int image_dir_ready;    /* created and its parent fsynced in this handle */
    uint64_t image_seq;     /* makes image names unique within this handle */
    char err[768];
};

/* Record a message (printf-style) and return `st`. */
tl_status injlog_fail(tl_injlog *log, tl_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Map the connection's last SQLite error to a status and a sentence
 * "<what>: <sqlite message> (<path>)". */
tl_status injlog_db_fail(tl_injlog *log, const char *what);
/* Status for a SQLite result code (extended) plus its system errno. */
tl_status injlog_status_from_sqlite(int rc, int sys_errno);

/* Run the migration steps up to TL_INJLOG_SCHEMA_VERSION (migrate.c). */
tl_status injlog_migrate(tl_injlog *log);

/* Unix time now in milliseconds. */
int64_t injlog_now_ms(void);
/* Copy a possibly-NULL column/string into a fixed field (always NUL-ended). */
void injlog_copy(char *dst, size_t cap, const char *src);
/* Run one SQL statement without results; TL_OK or injlog_db_fail(what). */
tl_status injlog_exec(tl_injlog *log, const char *sql, const char *what);
/* fsync a folder so a rename or create inside it is durable. */
tl_status injlog_fsync_dir(const char *dir);

/* The 5x7 glyph of c (font.c): 7 rows, bit 4 = leftmost column. */
const uint8_t *injlog_glyph(char c);

#endif
