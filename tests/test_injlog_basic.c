/* injlog: open/create, file modes, sessions, findings, injections, reading
 * back, and the clear errors (unknown session, bad path, not a log). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <sqlite3.h>

#include "test_injlog_util.h"

static int mode_of(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return -1;
    return (int)(sb.st_mode & 0777);
}

static void test_procedure_round_trip(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    assert_non_null(dir);
    char db[600], p[700];
    join(db, sizeof db, dir, "sub/talus.db"); /* folder created too */
    tl_injlog *log = NULL;
    char err[256];
    assert_int_equal(tl_injlog_open(db, TL_INJLOG_CREATE, &log, err, sizeof err), TL_OK);
    assert_int_equal(tl_injlog_schema_version(log), TL_INJLOG_SCHEMA_VERSION);

    tl_injlog_product prod;
    assert_int_equal(tl_injlog_last_product(log, &prod), TL_ERR_NOT_FOUND);

    tl_injlog_session_info si = demo_session("P-001");
    int64_t sid = 0;
    assert_int_equal(tl_injlog_start_session(log, &si, &sid), TL_OK);
    assert_true(sid > 0);

    test_image im;
    make_image(&im, 1);
    tl_injlog_finding_info fi = { "plantar fascia", "thickness", 5.2, "mm", 1, 4.0,
                                  "hypoechoic", };
    int64_t fid = 0;
    assert_int_equal(tl_injlog_add_finding(log, sid, &fi, &im.img, &fid), TL_OK);
    assert_true(fid > 0);

    int64_t ids[3];
    for (int k = 0; k < 3; k++) {
        tl_injlog_injection_info in = demo_injection(k);
        if (k == 2) {
            in.product = "PRP";
            in.lot = "B-77";
            in.expiry = "2026-12-31";
        }
        make_image(&im, 10 + k);
        ids[k] = -1;
        assert_int_equal(tl_injlog_mark_injection(log, sid, &in, &im.img, &ids[k]), TL_OK);
        assert_true(ids[k] > 0);
    }
    assert_int_equal(tl_injlog_last_product(log, &prod), TL_OK);
    assert_string_equal(prod.name, "PRP");
    assert_string_equal(prod.lot, "B-77");
    assert_string_equal(prod.expiry, "2026-12-31");

    /* Files: database, -wal, -shm 0600; image folder 0700; images 0600. */
    assert_int_equal(mode_of(db), 0600);
    snprintf(p, sizeof p, "%s-wal", db);
    assert_int_equal(mode_of(p), 0600);
    snprintf(p, sizeof p, "%s-shm", db);
    assert_int_equal(mode_of(p), 0600);
    snprintf(p, sizeof p, "%s.images", db);
    assert_int_equal(mode_of(p), 0700);

    tl_injlog_injection *inj = NULL;
    size_t n = 0;
    assert_int_equal(tl_injlog_list_injections(log, sid, &inj, &n), TL_OK);
    assert_int_equal(n, 3);
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(inj[k].id, ids[k]);
        assert_string_equal(inj[k].anatomy, "plantar fascia"); /* session default */
        assert_int_equal(inj[k].side, 'L');
        assert_string_equal(inj[k].operator_name, "Dr. Oh");
        assert_float_equal(inj[k].target_x_mm, 1.5 + (double)k, 1e-9);
        assert_float_equal(inj[k].depth_mm, 8.1, 1e-9);
        assert_int_equal(inj[k].in_target, 1);
        assert_true(inj[k].image[0] != '\0');
        assert_int_equal(tl_injlog_image_path(log, inj[k].image, p, sizeof p), TL_OK);
        assert_int_equal(mode_of(p), 0600);
        uint8_t *px = NULL;
        uint32_t w = 0, h = 0;
        assert_int_equal(tl_png_read(p, 3, &px, &w, &h), TL_OK);
        assert_int_equal(w, 48);
        assert_int_equal(h, 32);
        test_image want;
        make_image(&want, 10 + (int)k);
        assert_memory_equal(px, want.px, sizeof want.px);
        free(px);
    }
    assert_string_equal(inj[0].product.name, "triamcinolone 40 mg/ml");
    assert_string_equal(inj[0].product.lot, "LOT-A1");
    free(inj);

    tl_injlog_finding *f = NULL;
    assert_int_equal(tl_injlog_list_findings(log, sid, &f, &n), TL_OK);
    assert_int_equal(n, 1);
    assert_string_equal(f[0].measure, "thickness");
    assert_float_equal(f[0].value, 5.2, 1e-9);
    assert_float_equal(f[0].threshold, 4.0, 1e-9);
    assert_int_equal(f[0].abnormal, 1);
    assert_string_equal(f[0].note, "hypoechoic");
    free(f);

    assert_int_equal(tl_injlog_close_session(log, sid, "tolerated well"), TL_OK);
    tl_injlog_session ses;
    assert_int_equal(tl_injlog_get_session(log, sid, &ses), TL_OK);
    assert_string_equal(ses.patient_id, "P-001");
    assert_string_equal(ses.note, "tolerated well");
    assert_true(ses.ended_ms >= ses.started_ms);
    assert_int_equal(ses.injections, 3);
    assert_int_equal(ses.findings, 1);
    assert_int_equal(ses.age_years, 52);
    assert_int_equal(ses.sex, 'F');

    /* A closed session takes no more injections, and says why. */
    tl_injlog_injection_info in = demo_injection(0);
    int64_t late = -1;
    assert_int_equal(tl_injlog_mark_injection(log, sid, &in, NULL, &late), TL_ERR_STATE);
    assert_int_equal(late, -1);
    assert_non_null(strstr(tl_injlog_errmsg(log), "closed"));
    assert_int_equal(tl_injlog_close_session(log, sid, NULL), TL_ERR_STATE);
    tl_injlog_close(log);

    /* Everything is still there after reopening read-only. */
    assert_int_equal(tl_injlog_open(db, TL_INJLOG_READONLY, &log, err, sizeof err), TL_OK);
    tl_injlog_session *all = NULL;
    assert_int_equal(tl_injlog_list_sessions(log, NULL, &all, &n), TL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(all[0].injections, 3);
    free(all);
    assert_int_equal(tl_injlog_list_sessions(log, "nobody", &all, &n), TL_OK);
    assert_int_equal(n, 0);
    assert_null(all);
    int64_t x;
    assert_int_equal(tl_injlog_start_session(log, &si, &x), TL_ERR_PERMISSION);
    tl_injlog_close(log);
    rm_tree(dir);
}

static void test_unknown_session_and_bad_input(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    char db[600];
    join(db, sizeof db, dir, "t.db");
    tl_injlog *log = NULL;
    assert_int_equal(tl_injlog_open(db, TL_INJLOG_CREATE, &log, NULL, 0), TL_OK);
    tl_injlog_injection_info in = demo_injection(0);
    int64_t id = -1;
    assert_int_equal(tl_injlog_mark_injection(log, 4242, &in, NULL, &id), TL_ERR_NOT_FOUND);
    assert_int_equal(id, -1);
    assert_non_null(strstr(tl_injlog_errmsg(log), "no session 4242"));
    tl_injlog_session ses;
    assert_int_equal(tl_injlog_get_session(log, 4242, &ses), TL_ERR_NOT_FOUND);
    tl_injlog_injection *list = NULL;
    size_t n;
    assert_int_equal(tl_injlog_list_injections(log, 4242, &list, &n), TL_ERR_NOT_FOUND);

    tl_injlog_session_info si = demo_session("P-2");
    si.side = 'X';
    int64_t sid;
    assert_int_equal(tl_injlog_start_session(log, &si, &sid), TL_ERR_INVALID_ARG);
    assert_non_null(strstr(tl_injlog_errmsg(log), "side"));
    si = demo_session("");
    assert_int_equal(tl_injlog_start_session(log, &si, &sid), TL_ERR_INVALID_ARG);
    char longid[200];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    si = demo_session(longid);
    assert_int_equal(tl_injlog_start_session(log, &si, &sid), TL_ERR_INVALID_ARG);
    assert_non_null(strstr(tl_injlog_errmsg(log), "too long"));

    si = demo_session("P-2");
    int64_t future = (int64_t)tl_wall_time_s() * 1000 + 3600 * 1000;
    assert_int_equal(tl_injlog_start_session_at(log, &si, future, &sid), TL_ERR_INVALID_ARG);
    assert_non_null(strstr(tl_injlog_errmsg(log), "future"));
    assert_int_equal(tl_injlog_start_session_at(log, &si, 1700000000000, &sid), TL_OK);
    assert_int_equal(tl_injlog_get_session(log, sid, &ses), TL_OK);
    assert_int_equal(ses.started_ms, 1700000000000);
    assert_int_equal(tl_injlog_start_session(log, &si, &sid), TL_OK);
    in.product = NULL;
    assert_int_equal(tl_injlog_mark_injection(log, sid, &in, NULL, &id), TL_ERR_INVALID_ARG);
    in = demo_injection(0);
    in.side = 'Q';
    assert_int_equal(tl_injlog_mark_injection(log, sid, &in, NULL, &id), TL_ERR_INVALID_ARG);
    in = demo_injection(0);
    test_image im;
    make_image(&im, 0);
    im.img.channels = 2;
    assert_int_equal(tl_injlog_mark_injection(log, sid, &in, &im.img, &id), TL_ERR_INVALID_ARG);
    /* No image is fine (recorded without one); NAN positions become "not measured". */
    in.target_x_mm = NAN;
    assert_int_equal(tl_injlog_mark_injection(log, sid, &in, NULL, &id), TL_OK);
    tl_injlog_injection got;
    assert_int_equal(tl_injlog_get_injection(log, id, &got), TL_OK);
    assert_true(isnan(got.target_x_mm));
    assert_string_equal(got.image, "");
    assert_int_equal(tl_injlog_list_injections(log, sid, &list, &n), TL_OK);
    assert_int_equal(n, 1); /* the refused ones left nothing behind */
    free(list);
    tl_injlog_close(log);
    rm_tree(dir);
}

static void test_bad_paths(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    char p[700], err[512];
    tl_injlog *log = (tl_injlog *)1;
    /* Missing file without CREATE. */
    join(p, sizeof p, dir, "missing.db");
    assert_int_equal(tl_injlog_open(p, 0, &log, err, sizeof err), TL_ERR_NOT_FOUND);
    assert_null(log);
    assert_non_null(strstr(err, "missing.db"));
    assert_int_equal(access(p, F_OK), -1); /* not created behind our back */
    /* A folder where the file should be. */
    assert_int_equal(tl_injlog_open(dir, TL_INJLOG_CREATE, &log, err, sizeof err),
                     TL_ERR_FORMAT);
    /* Under a regular file: cannot create the folder. */
    join(p, sizeof p, dir, "plain");
    FILE *fp = fopen(p, "w");
    fputs("hello, not a database, just some text that is long enough to matter\n", fp);
    fclose(fp);
    char q[800];
    snprintf(q, sizeof q, "%s/x/talus.db", p);
    tl_status st = tl_injlog_open(q, TL_INJLOG_CREATE, &log, err, sizeof err);
    assert_true(st == TL_ERR_NOT_FOUND || st == TL_ERR_IO);
    assert_true(strlen(err) > 0);
    /* A text file is not a database. */
    assert_int_equal(tl_injlog_open(p, 0, &log, err, sizeof err), TL_ERR_FORMAT);
    assert_non_null(strstr(err, "not a talus injection log"));
    /* Some other program's SQLite database is refused, not altered. */
    join(p, sizeof p, dir, "other.db");
    sqlite3 *o;
    assert_int_equal(sqlite3_open(p, &o), SQLITE_OK);
    assert_int_equal(sqlite3_exec(o, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(o);
    assert_int_equal(tl_injlog_open(p, 0, &log, err, sizeof err), TL_ERR_FORMAT);
    /* Empty path. */
    assert_int_equal(tl_injlog_open("", TL_INJLOG_CREATE, &log, err, sizeof err),
                     TL_ERR_INVALID_ARG);
    rm_tree(dir);
}

static void test_default_path(void **state)
{
    (void)state;
    char buf[512];
    setenv("TALUS_DB", "/x/y.db", 1);
    assert_int_equal(tl_injlog_default_path(buf, sizeof buf), TL_OK);
    assert_string_equal(buf, "/x/y.db");
    unsetenv("TALUS_DB");
    setenv("HOME", "/home/pod", 1);
    assert_int_equal(tl_injlog_default_path(buf, sizeof buf), TL_OK);
    assert_string_equal(buf, "/home/pod/.local/share/talus/talus.db");
    assert_int_equal(tl_injlog_default_path(buf, 8), TL_ERR_OVERFLOW);
}

static void test_check_finds_missing_and_orphaned_images(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    char db[600], p[1200];
    join(db, sizeof db, dir, "c.db");
    tl_injlog *log = NULL;
    assert_int_equal(tl_injlog_open(db, TL_INJLOG_CREATE, &log, NULL, 0), TL_OK);
    tl_injlog_session_info si = demo_session("C");
    int64_t sid, ids[3];
    assert_int_equal(tl_injlog_start_session(log, &si, &sid), TL_OK);
    test_image im;
    make_image(&im, 4);
    tl_injlog_finding_info fi = { "plantar fascia", "thickness", 4.5, "mm", 1, 4.0, NULL };
    assert_int_equal(tl_injlog_add_finding(log, sid, &fi, &im.img, NULL), TL_OK);
    for (int k = 0; k < 3; k++) {
        tl_injlog_injection_info in = demo_injection(k);
        assert_int_equal(tl_injlog_mark_injection(log, sid, &in, &im.img, &ids[k]), TL_OK);
    }
    tl_injlog_check_result r;
    assert_int_equal(tl_injlog_check(log, &r), TL_OK);
    assert_true(r.integrity_ok);
    assert_string_equal(r.integrity, "ok");
    assert_int_equal(r.sessions, 1);
    assert_int_equal(r.findings, 1);
    assert_int_equal(r.injections, 3);
    assert_int_equal(r.images, 4);
    assert_int_equal(r.images_missing, 0);
    assert_int_equal(r.images_orphaned, 0);

    /* Lose one image, cut another short, leave a stray file. */
    tl_injlog_injection inj;
    assert_int_equal(tl_injlog_get_injection(log, ids[1], &inj), TL_OK);
    assert_int_equal(tl_injlog_image_path(log, inj.image, p, sizeof p), TL_OK);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(tl_injlog_get_injection(log, ids[2], &inj), TL_OK);
    assert_int_equal(tl_injlog_image_path(log, inj.image, p, sizeof p), TL_OK);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(truncate(p, sb.st_size - 20), 0);
    snprintf(p, sizeof p, "%s.images/stray.png.tmp123", db);
    FILE *fp = fopen(p, "w");
    fputs("x", fp);
    fclose(fp);
    assert_int_equal(tl_injlog_check(log, &r), TL_OK);
    assert_true(r.integrity_ok);
    assert_int_equal(r.images_missing, 2);
    assert_int_equal(r.first_missing_injection, ids[1]);
    assert_int_equal(r.images_orphaned, 1);
    tl_injlog_close(log);
    rm_tree(dir);
}

static void test_check_finds_a_damaged_database(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    char db[600];
    join(db, sizeof db, dir, "d.db");
    tl_injlog *log = NULL;
    assert_int_equal(tl_injlog_open(db, TL_INJLOG_CREATE, &log, NULL, 0), TL_OK);
    tl_injlog_session_info si = demo_session("D");
    int64_t sid, id;
    assert_int_equal(tl_injlog_start_session(log, &si, &sid), TL_OK);
    for (int k = 0; k < 300; k++) {
        tl_injlog_injection_info in = demo_injection(k);
        assert_int_equal(tl_injlog_mark_injection(log, sid, &in, NULL, &id), TL_OK);
    }
    tl_injlog_close(log); /* checkpoints everything into the file */
    char wal[700];
    snprintf(wal, sizeof wal, "%s-wal", db);
    assert_int_equal(access(wal, F_OK), -1);
    struct stat sb;
    assert_int_equal(stat(db, &sb), 0);
    assert_true(sb.st_size > 8 * 4096);
    /* Scribble over a page in the middle, as a failing disk might. */
    FILE *fp = fopen(db, "r+b");
    assert_non_null(fp);
    fseek(fp, 5 * 4096, SEEK_SET);
    for (int i = 0; i < 4096; i++)
        fputc((i * 37 + 11) & 0xff, fp);
    fclose(fp);
    /* Opening reads only the first page, so it works; the check says what
     * is wrong instead of failing on it. */
    assert_int_equal(tl_injlog_open(db, 0, &log, NULL, 0), TL_OK);
    tl_injlog_check_result r;
    assert_int_equal(tl_injlog_check(log, &r), TL_OK);
    assert_false(r.integrity_ok);
    assert_true(strlen(r.integrity) > 0);
    assert_string_not_equal(r.integrity, "ok");
    tl_injlog_close(log);
    rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_procedure_round_trip),
        cmocka_unit_test(test_unknown_session_and_bad_input),
        cmocka_unit_test(test_bad_paths),
        cmocka_unit_test(test_default_path),
        cmocka_unit_test(test_check_finds_missing_and_orphaned_images),
        cmocka_unit_test(test_check_finds_a_damaged_database),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
