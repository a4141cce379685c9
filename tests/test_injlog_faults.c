/* injlog under adverse conditions: an older schema to migrate, a newer one
 * to refuse, a read-only database and folder, a full disk. Each gives a
 * clear status and message and loses nothing already acknowledged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "test_injlog_util.h"

static int count_rows(const char *db, const char *sql)
{
    sqlite3 *h;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -1;
    sqlite3_stmt *s;
    int n = -1;
    if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW)
            n = sqlite3_column_int(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return n;
}

/* The schema as version 1 released it, with a session and an injection. */
static const char *v1_db =
    "CREATE TABLE sessions(id INTEGER PRIMARY KEY, patient_id TEXT NOT NULL,"
    " side TEXT NOT NULL CHECK (side IN ('L','R')), anatomy TEXT NOT NULL,"
    " diagnosis TEXT NOT NULL DEFAULT '', operator TEXT NOT NULL,"
    " started_ms INTEGER NOT NULL, ended_ms INTEGER);"
    "CREATE TABLE injections(id INTEGER PRIMARY KEY,"
    " session_id INTEGER NOT NULL REFERENCES sessions(id), time_ms INTEGER NOT NULL,"
    " anatomy TEXT NOT NULL, side TEXT NOT NULL, target_x_mm REAL, target_z_mm REAL,"
    " tip_x_mm REAL, tip_z_mm REAL, depth_mm REAL, volume_ml REAL, product TEXT NOT NULL,"
    " operator TEXT NOT NULL, image TEXT);"
    "INSERT INTO sessions VALUES (7, 'OLD-1', 'R', 'achilles', 'tendinopathy', 'Dr. V',"
    " 1700000000000, 1700000900000);"
    "INSERT INTO injections VALUES (3, 7, 1700000500000, 'achilles', 'R', 0.5, 6.0, 0.4,"
    " 6.1, 6.1, 0.5, 'betamethasone', 'Dr. V', NULL);"
    "PRAGMA user_version = 1;";

static void test_migrates_version_1(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    char db[600], err[512];
    join(db, sizeof db, dir, "old.db");
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, v1_db, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);

    /* A reader must not migrate behind the owner's back. */
    tl_injlog *log = NULL;
    assert_int_equal(tl_injlog_open(db, TL_INJLOG_READONLY, &log, err, sizeof err),
                     TL_ERR_STATE);
    assert_non_null(strstr(err, "version 1"));
    assert_int_equal(count_rows(db, "PRAGMA user_version"), 1);

    assert_int_equal(tl_injlog_open(db, 0, &log, err, sizeof err), TL_OK);
    assert_int_equal(tl_injlog_schema_version(log), TL_INJLOG_SCHEMA_VERSION);
    assert_int_equal(count_rows(db, "PRAGMA user_version"), TL_INJLOG_SCHEMA_VERSION);
    /* The steps after 1 are recorded, one row each. */
    assert_int_equal(count_rows(db, "SELECT count(*) FROM migrations"),
                     TL_INJLOG_SCHEMA_VERSION - 1);
    assert_int_equal(count_rows(db, "SELECT min(version) FROM migrations"), 2);

    /* The old rows survive, new columns read as "not recorded". */
    tl_injlog_session ses;
    assert_int_equal(tl_injlog_get_session(log, 7, &ses), TL_OK);
    assert_string_equal(ses.patient_id, "OLD-1");
    assert_string_equal(ses.diagnosis, "tendinopathy");
    assert_int_equal(ses.age_years, 0);
    assert_int_equal(ses.sex, 0);
    assert_int_equal(ses.injections, 1);
    tl_injlog_injection inj;
    assert_int_equal(tl_injlog_get_injection(log, 3, &inj), TL_OK);
    assert_string_equal(inj.product.name, "betamethasone");
    assert_string_equal(inj.product.lot, "");
    assert_float_equal(inj.depth_mm, 6.1, 1e-9);
    tl_injlog_product prod;
    assert_int_equal(tl_injlog_last_product(log, &prod), TL_OK);
    assert_string_equal(prod.name, "betamethasone");

    /* And the migrated log takes new records with every field. */
    tl_injlog_session_info si = demo_session("OLD-1");
    int64_t sid, id;
    assert_int_equal(tl_injlog_start_session(log, &si, &sid), TL_OK);
    assert_true(sid > 7);
    tl_injlog_finding_info fi = { "achilles midportion", "thickness", 7.9, "mm", 1, 6.0, NULL };
    assert_int_equal(tl_injlog_add_finding(log, sid, &fi, NULL, NULL), TL_OK);
    tl_injlog_injection_info in = demo_injection(0);
    assert_int_equal(tl_injlog_mark_injection(log, sid, &in, NULL, &id), TL_OK);
    assert_int_equal(tl_injlog_get_injection(log, id, &inj), TL_OK);
    assert_string_equal(inj.product.lot, "LOT-A1");
    tl_injlog_close(log);
    /* Opening again is a no-op for the schema. */
    assert_int_equal(tl_injlog_open(db, 0, &log, err, sizeof err), TL_OK);
    tl_injlog_close(log);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM migrations"),
                     TL_INJLOG_SCHEMA_VERSION - 1);
    assert_true(integrity_ok(db));
    rm_tree(dir);
}

static void test_refuses_newer_schema(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    char db[600], err[512];
    join(db, sizeof db, dir, "new.db");
    tl_injlog *log = NULL;
    assert_int_equal(tl_injlog_open(db, TL_INJLOG_CREATE, &log, err, sizeof err), TL_OK);
    tl_injlog_close(log);
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    assert_int_equal(tl_injlog_open(db, 0, &log, err, sizeof err), TL_ERR_UNSUPPORTED);
    assert_null(log);
    assert_non_null(strstr(err, "newer"));
    assert_int_equal(count_rows(db, "PRAGMA user_version"), 99);
    rm_tree(dir);
}

/* Run fn as user "nobody" in a child (root ignores file modes); returns the
 * child's exit status, 0 = every check passed. */
static int as_nobody(int (*fn)(const char *dir), const char *dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(90);
        _exit(fn(dir));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

static void chown_tree(const char *dir, const char *const *names)
{
    if (getuid() != 0)
        return;
    char p[700];
    assert_int_equal(chown(dir, 65534, 65534), 0);
    for (int i = 0; names[i]; i++) {
        join(p, sizeof p, dir, names[i]);
        if (access(p, F_OK) == 0)
            assert_int_equal(chown(p, 65534, 65534), 0);
    }
}

/* Checks made as an unprivileged user; each failing check has its own code. */
static int readonly_checks(const char *dir)
{
    char db[600], err[512], p[700];
    join(db, sizeof db, dir, "ro.db");
    tl_injlog *log = NULL;
    /* 1. A read-only database is refused at open with a clear sentence. */
    join(p, sizeof p, dir, "ro.db");
    if (chmod(p, 0400) != 0)
        return 1;
    if (tl_injlog_open(db, 0, &log, err, sizeof err) != TL_ERR_PERMISSION || log)
        return 2;
    if (!strstr(err, "read-only") && !strstr(err, "ermission"))
        return 3;
    /* 2. Yet it can be read, with everything acknowledged before. */
    if (chmod(dir, 0500) != 0)
        return 4;
    if (tl_injlog_open(db, TL_INJLOG_READONLY, &log, err, sizeof err) != TL_OK) {
        fprintf(stderr, "readonly open: %s\n", err);
        return 5;
    }
    tl_injlog_session *s = NULL;
    size_t n = 0;
    if (tl_injlog_list_sessions(log, NULL, &s, &n) != TL_OK || n != 1 || s[0].injections != 2)
        return 6;
    free(s);
    tl_injlog_close(log);
    /* 3. A folder that turns read-only mid-session: the image cannot be
     * written, the injection is refused (not half-recorded), the station
     * keeps its handle, and once writable again the next mark works. */
    if (chmod(dir, 0700) != 0 || chmod(p, 0600) != 0)
        return 7;
    if (tl_injlog_open(db, 0, &log, err, sizeof err) != TL_OK)
        return 8;
    int64_t sid = 1, id = -1;
    char imgdir[700];
    snprintf(imgdir, sizeof imgdir, "%s.images", db);
    test_image im;
    make_image(&im, 5);
    tl_injlog_injection_info in = demo_injection(3);
    if (tl_injlog_mark_injection(log, sid, &in, &im.img, &id) != TL_OK)
        return 9;
    id = -1;
    if (chmod(imgdir, 0500) != 0)
        return 9;
    if (tl_injlog_mark_injection(log, sid, &in, &im.img, &id) != TL_ERR_PERMISSION || id != -1)
        return 10;
    if (!strstr(tl_injlog_errmsg(log), "cannot write image"))
        return 11;
    if (chmod(imgdir, 0700) != 0)
        return 12;
    if (tl_injlog_mark_injection(log, sid, &in, &im.img, &id) != TL_OK || id <= 0)
    {
        fprintf(stderr, "check 13: %s\n", tl_injlog_errmsg(log));
        return 13;
    }
    tl_injlog_close(log);
    return 0;
}

static void test_read_only(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    char db[600];
    join(db, sizeof db, dir, "ro.db");
    tl_injlog *log = NULL;
    assert_int_equal(tl_injlog_open(db, TL_INJLOG_CREATE, &log, NULL, 0), TL_OK);
    tl_injlog_session_info si = demo_session("RO");
    int64_t sid, id;
    assert_int_equal(tl_injlog_start_session(log, &si, &sid), TL_OK);
    assert_int_equal(sid, 1);
    test_image im;
    make_image(&im, 1);
    for (int k = 0; k < 2; k++) {
        tl_injlog_injection_info in = demo_injection(k);
        assert_int_equal(tl_injlog_mark_injection(log, sid, &in, &im.img, &id), TL_OK);
    }
    tl_injlog_close(log);
    /* Hand the files to "nobody" so modes apply (tests may run as root). */
    char imgs[700];
    snprintf(imgs, sizeof imgs, "%s.images", db);
    static const char *const names[] = { "ro.db", "ro.db-wal", "ro.db-shm", NULL };
    chown_tree(dir, names);
    if (getuid() == 0) {
        assert_int_equal(chown(imgs, 65534, 65534), 0);
        assert_int_equal(chmod(dir, 0700), 0);
    }
    int rc = as_nobody(readonly_checks, dir);
    if (rc != 0)
        fprintf(stderr, "read-only check %d failed\n", rc);
    assert_int_equal(rc, 0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM injections"), 4);
    assert_true(integrity_ok(db));
    chmod(dir, 0700);
    rm_tree(dir);
}

/* A full disk, made with the file-size limit: past it write() fails with
 * EFBIG (SIGXFSZ ignored), as it fails with ENOSPC on a full disk. */
static void test_full_disk(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    char db[600], err[512];
    join(db, sizeof db, dir, "full.db");
    tl_injlog *log = NULL;
    assert_int_equal(tl_injlog_open(db, TL_INJLOG_CREATE, &log, err, sizeof err), TL_OK);
    tl_injlog_session_info si = demo_session("FULL");
    int64_t sid, ids[8];
    assert_int_equal(tl_injlog_start_session(log, &si, &sid), TL_OK);
    test_image im;
    make_image(&im, 2);
    for (int k = 0; k < 5; k++) {
        tl_injlog_injection_info in = demo_injection(k);
        assert_int_equal(tl_injlog_mark_injection(log, sid, &in, &im.img, &ids[k]), TL_OK);
    }
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 1024;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

    /* With an image: the image (noise: does not compress under the limit)
     * fails first. */
    test_image noisy;
    make_image(&noisy, 3);
    tl_rng rng;
    tl_rng_seed(&rng, 7);
    for (size_t i = 0; i < sizeof noisy.px; i++)
        noisy.px[i] = (uint8_t)tl_rng_next(&rng);
    tl_injlog_injection_info in = demo_injection(9);
    int64_t id = -1;
    tl_status st = tl_injlog_mark_injection(log, sid, &in, &noisy.img, &id);
    const char *m1 = tl_injlog_errmsg(log);
    fprintf(stderr, "full disk, with image: %s: %s\n", tl_error_name(st), m1);
    assert_int_equal(st, TL_ERR_NO_SPACE);
    assert_int_equal(id, -1);
    assert_non_null(strstr(m1, "disk is full"));
    assert_non_null(strstr(m1, "cannot write image"));
    /* Without an image: the WAL append fails. */
    st = tl_injlog_mark_injection(log, sid, &in, NULL, &id);
    fprintf(stderr, "full disk, no image: %s: %s\n", tl_error_name(st), tl_injlog_errmsg(log));
    assert_int_equal(st, TL_ERR_NO_SPACE);
    assert_int_equal(id, -1);
    assert_non_null(strstr(tl_injlog_errmsg(log), "disk is full"));
    /* Reading still works while the disk is full. */
    tl_injlog_injection *list = NULL;
    size_t n = 0;
    assert_int_equal(tl_injlog_list_injections(log, sid, &list, &n), TL_OK);
    assert_int_equal(n, 5);
    free(list);

    /* Space comes back: the same handle records again. */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(tl_injlog_mark_injection(log, sid, &in, &im.img, &ids[5]), TL_OK);
    tl_injlog_close(log);

    assert_true(integrity_ok(db));
    assert_int_equal(tl_injlog_open(db, 0, &log, err, sizeof err), TL_OK);
    assert_int_equal(tl_injlog_list_injections(log, sid, &list, &n), TL_OK);
    assert_int_equal(n, 6);
    for (int k = 0; k < 6; k++)
        assert_int_equal(list[k].id, ids[k]);
    /* Every recorded injection has its image, whole. An image written just
     * before a failed COMMIT stays as an unreferenced file on purpose: a
     * failed fsync may still leave the commit in the WAL, and then the row
     * must find its image. */
    for (int k = 0; k < 6; k++) {
        char p[1024];
        assert_int_equal(tl_injlog_image_path(log, list[k].image, p, sizeof p), TL_OK);
        uint8_t *px = NULL;
        uint32_t w, h;
        assert_int_equal(tl_png_read(p, 3, &px, &w, &h), TL_OK);
        free(px);
    }
    free(list);
    tl_injlog_close(log);
    rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrates_version_1),
        cmocka_unit_test(test_refuses_newer_schema),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_full_disk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
