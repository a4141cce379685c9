/* Opening and closing the log, error mapping, paths. */
#include "injlog_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

tl_status injlog_fail(tl_injlog *log, tl_status st, const char *fmt, ...)
{
    if (log) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(log->err, sizeof log->err, fmt, ap);
        va_end(ap);
    }
    return st;
}

tl_status injlog_status_from_sqlite(int rc, int sys_errno)
{
    switch (rc & 0xff) {
    case SQLITE_OK: case SQLITE_DONE: case SQLITE_ROW: return TL_OK;
    case SQLITE_FULL: return TL_ERR_NO_SPACE;
    case SQLITE_READONLY: case SQLITE_PERM: case SQLITE_AUTH: return TL_ERR_PERMISSION;
    case SQLITE_BUSY: case SQLITE_LOCKED: return TL_ERR_BUSY;
    case SQLITE_NOMEM: return TL_ERR_NO_MEM;
    case SQLITE_NOTADB: case SQLITE_CORRUPT: return TL_ERR_FORMAT;
    case SQLITE_CONSTRAINT: case SQLITE_MISMATCH: case SQLITE_RANGE: case SQLITE_TOOBIG:
        return TL_ERR_INVALID_ARG;
    case SQLITE_IOERR: case SQLITE_CANTOPEN: {
        /* The OS reason is the useful part: ENOSPC/EFBIG is a full disk,
         * EROFS/EACCES a read-only or forbidden file. */
        tl_status st = tl_status_from_errno(sys_errno);
        if (st == TL_ERR_NO_SPACE || st == TL_ERR_PERMISSION || st == TL_ERR_NOT_FOUND)
            return st;
        return (rc & 0xff) == SQLITE_IOERR ? TL_ERR_IO : TL_ERR_DB;
    }
    default: return TL_ERR_DB;
    }
}

tl_status injlog_db_fail(tl_injlog *log, const char *what)
{
    /* Read errno before any call can change it: SQLite's own record of the
     * OS error is sometimes reset by the rollback that follows a failed
     * write, while errno still says ENOSPC/EFBIG. */
    int saved_errno = errno;
    int rc = sqlite3_extended_errcode(log->db);
    int sys = sqlite3_system_errno(log->db);
    if (sys == 0 && ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_FULL) &&
        (saved_errno == ENOSPC || saved_errno == EFBIG || saved_errno == EDQUOT ||
         saved_errno == EROFS))
        sys = saved_errno;
    tl_status st = injlog_status_from_sqlite(rc, sys);
    if (st == TL_OK)
        st = TL_ERR_DB;
    const char *hint = "";
    if (st == TL_ERR_NO_SPACE)
        hint = " - the disk is full; free space and retry (nothing already recorded is lost)";
    else if (st == TL_ERR_PERMISSION)
        hint = " - the database or its folder is read-only";
    if (sys != 0)
        return injlog_fail(log, st, "%s: %s [%s] (%s)%s", what, sqlite3_errmsg(log->db),
                           strerror(sys), log->path, hint);
    return injlog_fail(log, st, "%s: %s (%s)%s", what, sqlite3_errmsg(log->db), log->path,
                       hint);
}

int64_t injlog_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void injlog_copy(char *dst, size_t cap, const char *src)
{
    if (!cap)
        return;
    if (!src)
        src = "";
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

tl_status injlog_exec(tl_injlog *log, const char *sql, const char *what)
{
    if (sqlite3_exec(log->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return injlog_db_fail(log, what);
    return TL_OK;
}

tl_status injlog_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return tl_status_from_errno(errno);
    tl_status st = TL_OK;
    if (fsync(fd) != 0 && errno != EINVAL)
        st = tl_status_from_errno(errno);
    close(fd);
    return st;
}

static char *dup_range(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* mkdir -p with mode 0700 for the folders we create (patient data). */
static tl_status make_dirs(const char *dir)
{
    char *p = dup_range(dir, strlen(dir));
    if (!p)
        return TL_ERR_NO_MEM;
    tl_status st = TL_OK;
    for (char *s = p + 1; ; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            st = tl_status_from_errno(errno);
            break;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    free(p);
    return st;
}

static void set_open_err(char *err, size_t err_len, const char *fmt, const char *path,
                         const char *why)
{
    if (err && err_len)
        snprintf(err, err_len, fmt, path, why);
}

/* SQLite copies the database's mode to -wal/-shm when it creates them; if
 * the database was once read-only, a -shm of mode 0400 would make every
 * later write fail. Ours are 0600, always. */
static void fix_companions(const char *path)
{
    static const char *const suffix[] = { "-wal", "-shm" };
    size_t n = strlen(path) + 8;
    char *p = malloc(n);
    if (!p)
        return;
    for (int i = 0; i < 2; i++) {
        struct stat sb;
        snprintf(p, n, "%s%s", path, suffix[i]);
        if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 0777) != 0600)
            chmod(p, 0600); /* if this fails, the write fails later with a clear error */
    }
    free(p);
}

/* Make sure the file exists with mode 0600 before SQLite sees it: SQLite
 * gives its -wal and -shm files the database file's permissions, so this
 * one open() decides the mode of all three. */
static tl_status prepare_file(const char *path, const char *dir, unsigned flags, char *err,
                              size_t err_len)
{
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode)) {
            set_open_err(err, err_len, "injection log %s: %s", path, "not a regular file");
            return TL_ERR_FORMAT;
        }
        if (!(flags & TL_INJLOG_READONLY) && (sb.st_mode & 077) &&
            chmod(path, sb.st_mode & 0700) != 0) {
            tl_status st = tl_status_from_errno(errno);
            set_open_err(err, err_len, "injection log %s: cannot make it private (%s)",
                         path, strerror(errno));
            return st;
        }
        if (!(flags & TL_INJLOG_READONLY))
            fix_companions(path);
        return TL_OK;
    }
    if (errno != ENOENT || !(flags & TL_INJLOG_CREATE) || (flags & TL_INJLOG_READONLY)) {
        tl_status st = tl_status_from_errno(errno);
        set_open_err(err, err_len, "injection log %s: %s", path,
                     errno == ENOENT ? "no such file (nothing has been logged there)"
                                     : strerror(errno));
        return st;
    }
    tl_status st = make_dirs(dir);
    if (st != TL_OK) {
        set_open_err(err, err_len, "injection log %s: cannot create its folder (%s)", path,
                     tl_strerror(st));
        return st;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) {
        st = tl_status_from_errno(errno);
        set_open_err(err, err_len, "injection log %s: cannot create it (%s)", path,
                     strerror(errno));
        return st;
    }
    if (fd >= 0)
        close(fd);
    /* The new name must survive a crash like the rows in it. */
    injlog_fsync_dir(dir);
    return TL_OK;
}

static tl_status split_path(tl_injlog *log, const char *path)
{
    log->path = dup_range(path, strlen(path));
    const char *slash = strrchr(path, '/');
    if (!slash)
        log->dir = dup_range(".", 1);
    else if (slash == path)
        log->dir = dup_range("/", 1);
    else
        log->dir = dup_range(path, (size_t)(slash - path));
    const char *base = slash ? slash + 1 : path;
    size_t n = strlen(base) + sizeof ".images";
    log->image_rel = malloc(n);
    if (log->image_rel)
        snprintf(log->image_rel, n, "%s.images", base);
    return log->path && log->dir && log->image_rel ? TL_OK : TL_ERR_NO_MEM;
}

static tl_status configure(tl_injlog *log)
{
    sqlite3_busy_timeout(log->db, 5000);
    sqlite3_extended_result_codes(log->db, 1);
    /* Reading the header first tells "not a database" apart from the rest. */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(log->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        tl_status s = injlog_db_fail(log, "cannot read the injection log");
        if (s == TL_ERR_FORMAT)
            return injlog_fail(log, s, "%s is not a talus injection log (or it is corrupt)",
                               log->path);
        return s;
    }
    log->version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (log->flags & TL_INJLOG_READONLY)
        return TL_OK;
    if (sqlite3_db_readonly(log->db, "main") == 1)
        return injlog_fail(log, TL_ERR_PERMISSION,
                           "injection log %s is read-only: cannot record anything "
                           "(check the file, its folder and the disk)", log->path);
    char mode[16] = "";
    if (sqlite3_prepare_v2(log->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        injlog_copy(mode, sizeof mode, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (strcmp(mode, "wal") != 0)
        return injlog_db_fail(log, "cannot switch the injection log to WAL");
    tl_status s = injlog_exec(log, "PRAGMA synchronous=FULL", "cannot set synchronous=FULL");
    if (s == TL_OK)
        s = injlog_exec(log, "PRAGMA foreign_keys=ON", "cannot enable foreign keys");
    return s;
}

tl_status tl_injlog_open(const char *path, unsigned flags, tl_injlog **out, char *err,
                         size_t err_len)
{
    if (err && err_len)
        err[0] = '\0';
    if (!out)
        return TL_ERR_INVALID_ARG;
    *out = NULL;
    if (!path || !*path) {
        set_open_err(err, err_len, "injection log %s: %s", "(none)", "no database path given");
        return TL_ERR_INVALID_ARG;
    }
    tl_injlog *log = calloc(1, sizeof *log);
    if (!log)
        return TL_ERR_NO_MEM;
    log->flags = flags;
    tl_status st = split_path(log, path);
    if (st == TL_OK)
        st = prepare_file(path, log->dir, flags, err, err_len);
    if (st != TL_OK) {
        tl_injlog_close(log);
        return st;
    }
    int oflags = (flags & TL_INJLOG_READONLY) ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    int rc = sqlite3_open_v2(path, &log->db, oflags, NULL);
    if (rc != SQLITE_OK) {
        st = log->db ? injlog_db_fail(log, "cannot open the injection log")
                     : TL_ERR_NO_MEM;
    } else {
        st = configure(log);
        if (st == TL_OK)
            st = injlog_migrate(log);
    }
    if (st != TL_OK) {
        if (err && err_len)
            snprintf(err, err_len, "%s", log->err[0] ? log->err : tl_strerror(st));
        tl_injlog_close(log);
        return st;
    }
    *out = log;
    return TL_OK;
}

void tl_injlog_close(tl_injlog *log)
{
    if (!log)
        return;
    if (log->db)
        sqlite3_close_v2(log->db);
    free(log->path);
    free(log->dir);
    free(log->image_rel);
    free(log);
}

const char *tl_injlog_errmsg(const tl_injlog *log)
{
    return log ? log->err : "no injection log";
}

const char *tl_injlog_path(const tl_injlog *log)
{
    return log ? log->path : NULL;
}

int tl_injlog_schema_version(const tl_injlog *log)
{
    return log ? log->version : 0;
}

tl_status tl_injlog_image_path(const tl_injlog *log, const char *image, char *buf,
                               size_t buf_len)
{
    if (!log || !image || !*image || !buf || !buf_len)
        return TL_ERR_INVALID_ARG;
    int n = image[0] == '/' ? snprintf(buf, buf_len, "%s", image)
                            : snprintf(buf, buf_len, "%s/%s", log->dir, image);
    return n < 0 || (size_t)n >= buf_len ? TL_ERR_OVERFLOW : TL_OK;
}

tl_status tl_injlog_default_path(char *buf, size_t buf_len)
{
    if (!buf || !buf_len)
        return TL_ERR_INVALID_ARG;
    const char *env = getenv("TALUS_DB");
    int n;
    if (env && *env) {
        n = snprintf(buf, buf_len, "%s", env);
    } else {
        const char *home = getenv("HOME");
        if (!home || !*home)
            return TL_ERR_NOT_FOUND;
        n = snprintf(buf, buf_len, "%s/.local/share/talus/talus.db", home);
    }
    return n < 0 || (size_t)n >= buf_len ? TL_ERR_OVERFLOW : TL_OK;
}
