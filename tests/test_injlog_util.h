/* Helpers shared by the injection-log tests (header-only, static). */
#ifndef TEST_INJLOG_UTIL_H
#define TEST_INJLOG_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tl_injlog.h"

#ifdef SQLITE_OK
/* 1 when PRAGMA integrity_check on db says "ok". Opened read-write: after a
 * crash the first connection must be able to recover the WAL index. */
static inline int integrity_ok(const char *db)
{
    sqlite3 *h;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "integrity: cannot open %s: %s\n", db, sqlite3_errmsg(h));
        sqlite3_close(h);
        return 0;
    }
    sqlite3_stmt *s;
    int ok = 0;
    if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK) {
        int rc = sqlite3_step(s);
        const char *r = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0)
                                         : sqlite3_errmsg(h);
        ok = rc == SQLITE_ROW && r && strcmp(r, "ok") == 0;
        if (!ok)
            fprintf(stderr, "integrity_check: %s\n", r ? r : "(null)");
        sqlite3_finalize(s);
    } else {
        fprintf(stderr, "integrity_check: %s\n", sqlite3_errmsg(h));
    }
    sqlite3_close(h);
    return ok;
}
#endif

/* A fresh private folder under $TMPDIR or /tmp; caller frees with rm_tree. */
static inline char *tmp_dir(void)
{
    const char *base = getenv("TMPDIR");
    char buf[512];
    snprintf(buf, sizeof buf, "%s/talus-injlog-XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(buf);
    return d ? strdup(d) : NULL;
}

/* Remove a folder and everything below it (no symlinks are followed). */
static inline void rm_rf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            size_t n = strlen(path) + strlen(e->d_name) + 2;
            char *sub = malloc(n);
            if (!sub)
                break;
            snprintf(sub, n, "%s/%s", path, e->d_name);
            rm_rf(sub);
            free(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static inline void rm_tree(char *dir)
{
    if (!dir)
        return;
    rm_rf(dir);
    free(dir);
}

static inline void join(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* A small RGB test image with a recognisable pattern (value k). */
typedef struct {
    uint8_t px[48 * 32 * 3];
    tl_injlog_image img;
} test_image;

static inline void make_image(test_image *t, int k)
{
    for (int i = 0; i < 48 * 32 * 3; i++)
        t->px[i] = (uint8_t)(i * 7 + k * 31);
    t->img.pixels = t->px;
    t->img.width = 48;
    t->img.height = 32;
    t->img.stride = 48 * 3;
    t->img.channels = 3;
}

static inline tl_injlog_session_info demo_session(const char *patient)
{
    tl_injlog_session_info s = { 0 };
    s.patient_id = patient;
    s.side = 'L';
    s.anatomy = "plantar fascia";
    s.diagnosis = "plantar fasciitis";
    s.operator_name = "Dr. Oh";
    s.age_years = 52;
    s.sex = 'F';
    return s;
}

static inline tl_injlog_injection_info demo_injection(int k)
{
    tl_injlog_injection_info in = { 0 };
    in.target_x_mm = 1.5 + k;
    in.target_z_mm = 8.0;
    in.tip_x_mm = 1.6 + k;
    in.tip_z_mm = 8.1;
    in.depth_mm = 8.1;
    in.in_target = 1;
    in.volume_ml = 1.0;
    in.product = "triamcinolone 40 mg/ml";
    in.lot = "LOT-A1";
    in.expiry = "2027-03";
    return in;
}

#endif
