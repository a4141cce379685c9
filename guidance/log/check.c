/* tl_injlog_check: integrity_check plus "every image a row names is there
 * and whole", and the count of unreferenced image files. */
#include "injlog_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A whole PNG starts with the signature and ends with the IEND chunk; a
 * file cut short by a crash or a full disk fails one of the two. */
static int png_whole(const char *path)
{
    static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    static const uint8_t iend[12] = { 0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82 };
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    uint8_t head[8], tail[12];
    off_t size = lseek(fd, 0, SEEK_END);
    int ok = size >= 20 && pread(fd, head, 8, 0) == 8 && pread(fd, tail, 12, size - 12) == 12 &&
             memcmp(head, sig, 8) == 0 && memcmp(tail, iend, 12) == 0;
    close(fd);
    return ok;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static tl_status count(tl_injlog *log, const char *sql, size_t *n)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(log->db, sql, -1, &s, NULL) != SQLITE_OK)
        return injlog_db_fail(log, "cannot check the log");
    int rc = sqlite3_step(s);
    *n = rc == SQLITE_ROW ? (size_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? TL_OK : injlog_db_fail(log, "cannot check the log");
}

static tl_status integrity(tl_injlog *log, tl_injlog_check_result *out)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(log->db, "PRAGMA integrity_check", -1, &s, NULL) != SQLITE_OK)
        return injlog_db_fail(log, "cannot run integrity_check");
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(s, 0);
        injlog_copy(out->integrity, sizeof out->integrity, r);
        out->integrity_ok = r && strcmp(r, "ok") == 0;
    } else {
        injlog_copy(out->integrity, sizeof out->integrity, sqlite3_errmsg(log->db));
    }
    sqlite3_finalize(s);
    return TL_OK;
}

/* Check each named image; keep the names (malloc'd, sorted) for orphans. */
static tl_status named_images(tl_injlog *log, tl_injlog_check_result *out, char ***names,
                              size_t *n)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(log->db,
                           "SELECT 'i', id, image FROM injections WHERE image IS NOT NULL"
                           " UNION ALL SELECT 'f', id, image FROM findings"
                           " WHERE image IS NOT NULL", -1, &s, NULL) != SQLITE_OK)
        return injlog_db_fail(log, "cannot check the images");
    size_t cap = 0;
    tl_status st = TL_OK;
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *img = (const char *)sqlite3_column_text(s, 2);
        char path[4096];
        if (!img || !*img)
            continue;
        out->images++;
        if (tl_injlog_image_path(log, img, path, sizeof path) != TL_OK || !png_whole(path)) {
            out->images_missing++;
            const char *kind = (const char *)sqlite3_column_text(s, 0);
            if (kind && kind[0] == 'i' && !out->first_missing_injection)
                out->first_missing_injection = sqlite3_column_int64(s, 1);
        }
        const char *slash = strrchr(img, '/');
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(*names, cap * sizeof **names);
            if (!grown) {
                st = TL_ERR_NO_MEM;
                break;
            }
            *names = grown;
        }
        if (!((*names)[*n] = strdup(slash ? slash + 1 : img))) {
            st = TL_ERR_NO_MEM;
            break;
        }
        (*n)++;
    }
    sqlite3_finalize(s);
    if (*n)
        qsort(*names, *n, sizeof **names, cmp_str);
    return st;
}

tl_status tl_injlog_check(tl_injlog *log, tl_injlog_check_result *out)
{
    if (!log || !out)
        return TL_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    log->err[0] = '\0';
    tl_status st = integrity(log, out);
    if (st != TL_OK)
        return st;
    if (!out->integrity_ok) /* counting a damaged file would only fail again */
        return injlog_fail(log, TL_OK, "integrity_check: %s", out->integrity);
    if ((st = count(log, "SELECT count(*) FROM sessions", &out->sessions)) ||
        (st = count(log, "SELECT count(*) FROM findings", &out->findings)) ||
        (st = count(log, "SELECT count(*) FROM injections", &out->injections)))
        return st;
    char **names = NULL;
    size_t n = 0;
    st = named_images(log, out, &names, &n);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", log->dir, log->image_rel);
    DIR *d = st == TL_OK ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        const char *key = e->d_name;
        if (!n || !bsearch(&key, names, n, sizeof *names, cmp_str))
            out->images_orphaned++;
    }
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (st == TL_ERR_NO_MEM)
        return injlog_fail(log, st, "out of memory checking the images");
    return st;
}
