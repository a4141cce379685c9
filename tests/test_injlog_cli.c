/* injlog commands: `talus log list|show|export`, `talus report`, `talus trend`
 * run as the user runs them (TALUS_BIN), on a log with three visits of one
 * patient and awkward text (quotes, commas, newlines, HTML, formulas).
 * TALUS_KEEP=1 keeps the folder for a look at the report and the plot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <sys/wait.h>

#include "test_injlog_util.h"

typedef struct {
    char *dir;
    char db[600];
    int64_t sid[3];
    int64_t inj[4];
} fixture;

static const char *awkward_note = "He said \"ok\", then\nleft =1+1";
static const char *html_diag = "<script>alert('x')</script> & fasciitis";

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    fx->dir = tmp_dir();
    join(fx->db, sizeof fx->db, fx->dir, "talus.db");
    tl_injlog *log = NULL;
    assert_int_equal(tl_injlog_open(fx->db, TL_INJLOG_CREATE, &log, NULL, 0), TL_OK);
    /* Three visits six weeks apart: thickening falls after two injections. */
    const double thick[3] = { 5.6, 4.7, 3.6 };
    const int64_t day = 86400000;
    int64_t t0 = (int64_t)tl_wall_time_s() * 1000 - 100 * day;
    int k = 0;
    for (int v = 0; v < 3; v++) {
        tl_injlog_session_info si = demo_session("P-7, \"Smith\"");
        si.diagnosis = html_diag;
        assert_int_equal(tl_injlog_start_session_at(log, &si, t0 + v * 42 * day, &fx->sid[v]),
                         TL_OK);
        test_image im;
        make_image(&im, v);
        tl_injlog_finding_info fi = { "plantar fascia", "thickness", thick[v], "mm",
                                      thick[v] > 4.0, 4.0, v == 0 ? "hypoechoic" : NULL };
        assert_int_equal(tl_injlog_add_finding(log, fx->sid[v], &fi, &im.img, NULL), TL_OK);
        fi.value = thick[v] - 0.4; /* a second, smaller reading: the visit's max counts */
        assert_int_equal(tl_injlog_add_finding(log, fx->sid[v], &fi, NULL, NULL), TL_OK);
        int count = v == 0 ? 2 : v == 1 ? 2 : 0;
        for (int j = 0; j < count; j++, k++) {
            tl_injlog_injection_info in = demo_injection(j);
            in.lot = j == 1 ? "=HYPERLINK(\"x\")" : "LOT-A1";
            make_image(&im, 20 + k);
            assert_int_equal(tl_injlog_mark_injection(log, fx->sid[v], &in, &im.img,
                                                      &fx->inj[k]), TL_OK);
        }
        assert_int_equal(tl_injlog_close_session(log, fx->sid[v], awkward_note), TL_OK);
    }
    tl_injlog_close(log);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    if (getenv("TALUS_KEEP"))
        fprintf(stderr, "kept %s\n", fx->dir), free(fx->dir);
    else
        rm_tree(fx->dir);
    free(fx);
    return 0;
}

/* Run `talus ARGS...`; stdout into *out (malloc'd), stderr into *err. */
static int talus(char **out, char **err, const char *const *args)
{
    const char *bin = getenv("TALUS_BIN");
    assert_non_null(bin);
    char ofile[] = "/tmp/talus-cli-outXXXXXX", efile[] = "/tmp/talus-cli-errXXXXXX";
    int ofd = mkstemp(ofile), efd = mkstemp(efile);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(ofd, 1);
        dup2(efd, 2);
        char *argv[32];
        int n = 0;
        argv[n++] = (char *)bin;
        for (; args[n - 1] && n < 31; n++)
            argv[n] = (char *)args[n - 1];
        argv[n] = NULL;
        unsetenv("TALUS_DB");
        execv(bin, argv);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    char **dst[2] = { out, err };
    int fds[2] = { ofd, efd };
    for (int i = 0; i < 2; i++) {
        off_t len = lseek(fds[i], 0, SEEK_END);
        char *buf = malloc((size_t)len + 1);
        assert_int_equal(pread(fds[i], buf, (size_t)len, 0), len);
        buf[len] = '\0';
        close(fds[i]);
        if (dst[i])
            *dst[i] = buf;
        else
            free(buf);
    }
    unlink(ofile);
    unlink(efile);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    rewind(fp);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* RFC 4180 parse: fields[row][col] (max 16 rows x 40 cols). Returns rows. */
static int parse_csv(const char *s, char cells[16][40][256], int cols[16])
{
    int row = 0, col = 0, len = 0, quoted = 0;
    memset(cols, 0, 16 * sizeof *cols);
    for (; *s && row < 16; s++) {
        char c = *s;
        if (quoted) {
            if (c == '"' && s[1] == '"') {
                cells[row][col][len++] = '"';
                s++;
            } else if (c == '"') {
                quoted = 0;
            } else {
                cells[row][col][len++] = c;
            }
        } else if (c == '"' && len == 0) {
            quoted = 1;
        } else if (c == ',') {
            cells[row][col][len] = '\0';
            col++, len = 0;
        } else if (c == '\r' && s[1] == '\n') {
            cells[row][col][len] = '\0';
            cols[row++] = col + 1;
            col = 0, len = 0;
            s++;
        } else {
            cells[row][col][len++] = c;
        }
        assert_true(len < 255 && col < 40);
    }
    return row;
}

static int file_mode(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int)(sb.st_mode & 0777) : -1;
}

static void test_log_list_show_export(void **state)
{
    fixture *fx = *state;
    char *out, *err, sid[32], path[700];
    snprintf(sid, sizeof sid, "%lld", (long long)fx->sid[0]);

    assert_int_equal(talus(&out, &err, (const char *const[]){ "log", "list", "--db", fx->db,
                                                              NULL }), 0);
    assert_int_equal(strstr(out, "closed") != NULL, 1);
    int lines = 0;
    for (char *p = out; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1 + 3);
    free(out), free(err);

    assert_int_equal(talus(&out, &err, (const char *const[]){ "log", "show", sid, "--db", fx->db,
                                                              NULL }), 0);
    assert_non_null(strstr(out, "LOT-A1"));
    assert_non_null(strstr(out, "injections (2)"));
    free(out), free(err);

    /* CSV: one row per record, 30 columns each, text round-trips. */
    join(path, sizeof path, fx->dir, "s1.csv");
    assert_int_equal(talus(&out, &err, (const char *const[]){ "log", "export", sid, "--format",
                                                              "csv", "-o", path, "--db", fx->db,
                                                              NULL }), 0);
    assert_int_equal(file_mode(path), 0600);
    char *csv = slurp(path);
    static char cells[16][40][256];
    int cols[16];
    int rows = parse_csv(csv, cells, cols);
    assert_int_equal(rows, 1 + 1 + 2 + 2); /* header, session, 2 findings, 2 injections */
    for (int r = 0; r < rows; r++)
        assert_int_equal(cols[r], 30);
    assert_string_equal(cells[0][0], "record");
    assert_string_equal(cells[1][0], "session");
    assert_string_equal(cells[1][4], "P-7, \"Smith\"");
    assert_string_equal(cells[1][7], html_diag);
    assert_string_equal(cells[1][28], awkward_note); /* note column */
    assert_string_equal(cells[2][0], "finding");
    assert_string_equal(cells[2][11], "thickness");
    assert_string_equal(cells[2][12], "5.6");
    assert_string_equal(cells[2][14], "1");   /* abnormal */
    assert_string_equal(cells[2][15], "4");   /* threshold */
    assert_string_equal(cells[4][0], "injection");
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)fx->inj[0]);
    assert_string_equal(cells[4][2], id);
    assert_string_equal(cells[4][20], "8.1");  /* depth */
    assert_string_equal(cells[4][23], "triamcinolone 40 mg/ml");
    assert_string_equal(cells[4][24], "LOT-A1");
    assert_string_equal(cells[4][25], "2027-03");
    assert_string_equal(cells[5][24], "'=HYPERLINK(\"x\")"); /* formula defused */
    assert_true(strlen(cells[4][27]) > 0);                  /* image path */
    free(csv), free(out), free(err);

    /* JSON: one object with the session, findings and injections. */
    assert_int_equal(talus(&out, &err, (const char *const[]){ "log", "export", sid, "--format",
                                                              "json", "--db", fx->db, NULL }), 0);
    cJSON *root = cJSON_Parse(out);
    assert_non_null(root);
    cJSON *ses = cJSON_GetObjectItem(root, "session");
    assert_string_equal(cJSON_GetObjectItem(ses, "patient_id")->valuestring, "P-7, \"Smith\"");
    assert_string_equal(cJSON_GetObjectItem(ses, "note")->valuestring, awkward_note);
    assert_string_equal(cJSON_GetObjectItem(ses, "side")->valuestring, "L");
    cJSON *inj = cJSON_GetObjectItem(root, "injections");
    assert_int_equal(cJSON_GetArraySize(inj), 2);
    cJSON *i0 = cJSON_GetArrayItem(inj, 0);
    assert_int_equal((int64_t)cJSON_GetObjectItem(i0, "id")->valuedouble, fx->inj[0]);
    assert_float_equal(cJSON_GetObjectItem(i0, "volume_ml")->valuedouble, 1.0, 1e-9);
    assert_string_equal(cJSON_GetObjectItem(i0, "expiry")->valuestring, "2027-03");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(i0, "in_target")));
    cJSON *f = cJSON_GetObjectItem(root, "findings");
    assert_int_equal(cJSON_GetArraySize(f), 2);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(f, 0), "abnormal")));
    cJSON_Delete(root);
    free(out), free(err);
}

static void test_report(void **state)
{
    fixture *fx = *state;
    char *out, *err, sid[32], dir[700], path[800];
    snprintf(sid, sizeof sid, "%lld", (long long)fx->sid[1]);
    join(dir, sizeof dir, fx->dir, "report");
    assert_int_equal(talus(&out, &err, (const char *const[]){ "report", sid, "-o", dir, "--db",
                                                              fx->db, NULL }), 0);
    free(out), free(err);
    join(path, sizeof path, dir, "report.html");
    assert_int_equal(file_mode(path), 0600);
    assert_int_equal(file_mode(dir), 0700);
    char *html = slurp(path);
    /* Typed text is escaped, never markup. */
    assert_null(strstr(html, "<script>"));
    assert_non_null(strstr(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; fasciitis"));
    assert_non_null(strstr(html, "P-7, &quot;Smith&quot;"));
    assert_non_null(strstr(html, "Dr. Oh"));
    assert_non_null(strstr(html, "plantar fascia / left"));
    assert_non_null(strstr(html, "ABNORMAL"));
    assert_non_null(strstr(html, "4.70 mm"));
    /* Every injection of the session, each with its image in DIR. */
    for (int k = 2; k < 4; k++) {
        char want[128];
        snprintf(want, sizeof want, "<img src=\"images/injection-%lld.png\"",
                 (long long)fx->inj[k]);
        assert_non_null(strstr(html, want));
        snprintf(path, sizeof path, "%s/images/injection-%lld.png", dir, (long long)fx->inj[k]);
        assert_int_equal(file_mode(path), 0600);
        uint8_t *px;
        uint32_t w, h;
        assert_int_equal(tl_png_read(path, 3, &px, &w, &h), TL_OK);
        test_image want_im;
        make_image(&want_im, 20 + k);
        assert_memory_equal(px, want_im.px, sizeof want_im.px);
        free(px);
    }
    assert_non_null(strstr(html, "Injections (2)"));
    /* Second visit: the trend of the two visits so far is in the report. */
    assert_non_null(strstr(html, "Thickness per visit (2 visits)"));
    snprintf(path, sizeof path, "%s/images/trend.png", dir);
    assert_int_equal(file_mode(path), 0600);
    assert_non_null(strstr(html, "=HYPERLINK(&quot;x&quot;)"));
    /* The other sessions' injections are not in it. */
    char other[64];
    snprintf(other, sizeof other, "injection-%lld.png", (long long)fx->inj[0]);
    assert_null(strstr(html, other));
    free(html);

    /* Unknown session: exit 1 and a sentence, no report. */
    join(dir, sizeof dir, fx->dir, "report-none");
    assert_int_equal(talus(&out, &err, (const char *const[]){ "report", "999", "-o", dir, "--db",
                                                              fx->db, NULL }), 1);
    assert_non_null(strstr(err, "no session 999"));
    free(out), free(err);
}

static void test_trend(void **state)
{
    fixture *fx = *state;
    char *out, *err, png[700];
    join(png, sizeof png, fx->dir, "trend.png");
    assert_int_equal(talus(&out, &err, (const char *const[]){ "trend", "P-7, \"Smith\"", "-o",
                                                              png, "--db", fx->db, "--json",
                                                              NULL }), 0);
    cJSON *root = cJSON_Parse(out);
    assert_non_null(root);
    cJSON *v = cJSON_GetObjectItem(root, "visits");
    assert_int_equal(cJSON_GetArraySize(v), 3);
    const double want[3] = { 5.6, 4.7, 3.6 };
    for (int i = 0; i < 3; i++) {
        cJSON *p = cJSON_GetArrayItem(v, i);
        assert_float_equal(cJSON_GetObjectItem(p, "value")->valuedouble, want[i], 1e-9);
        assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(p, "injected")), i < 2);
        assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(p, "abnormal")), i < 2);
    }
    cJSON_Delete(root);
    free(out), free(err);
    assert_int_equal(file_mode(png), 0600);
    uint8_t *px;
    uint32_t w, h;
    assert_int_equal(tl_png_read(png, 3, &px, &w, &h), TL_OK);
    assert_int_equal(w, 800);
    assert_int_equal(h, 480);
    /* Drawn, not blank: the abnormal red, the normal green, the threshold
     * red-ish dashes and black text are all there. */
    size_t red = 0, green = 0, dark = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) {
        const uint8_t *p = px + i * 3;
        red += p[0] > 200 && p[1] < 70 && p[2] < 70;
        green += p[1] > 140 && p[0] < 60 && p[2] < 100;
        dark += p[0] < 70 && p[1] < 70 && p[2] < 70;
    }
    assert_true(red > 100);
    assert_true(green > 30);
    assert_true(dark > 2000);
    free(px);

    /* Another size, and an unknown patient. */
    assert_int_equal(talus(&out, &err, (const char *const[]){ "trend", "P-7, \"Smith\"", "-o",
                                                              png, "--db", fx->db, "--size",
                                                              "320x200", NULL }), 0);
    free(out), free(err);
    assert_int_equal(tl_png_read(png, 3, &px, &w, &h), TL_OK);
    assert_int_equal(w, 320);
    assert_int_equal(h, 200);
    free(px);
    assert_int_equal(talus(&out, &err, (const char *const[]){ "trend", "NOBODY", "-o", png,
                                                              "--db", fx->db, NULL }), 1);
    assert_non_null(strstr(err, "no session for patient NOBODY"));
    free(out), free(err);
}

static void test_log_check(void **state)
{
    fixture *fx = *state;
    char *out, *err;
    assert_int_equal(talus(&out, &err, (const char *const[]){ "log", "check", "--db", fx->db,
                                                              NULL }), 0);
    cJSON *root = cJSON_Parse(out);
    assert_non_null(root);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(root, "ok")));
    assert_string_equal(cJSON_GetObjectItem(root, "integrity")->valuestring, "ok");
    assert_int_equal(cJSON_GetObjectItem(root, "injections")->valueint, 4);
    assert_int_equal(cJSON_GetObjectItem(root, "images")->valueint, 4 + 3);
    assert_int_equal(cJSON_GetObjectItem(root, "images_missing")->valueint, 0);
    cJSON_Delete(root);
    free(out), free(err);
}

static void test_cli_errors(void **state)
{
    fixture *fx = *state;
    char *out, *err, path[700];
    assert_int_equal(talus(&out, &err, (const char *const[]){ "log", "show", "4242", "--db",
                                                              fx->db, NULL }), 1);
    assert_non_null(strstr(err, "no session 4242"));
    free(out), free(err);
    join(path, sizeof path, fx->dir, "nope/none.db");
    assert_int_equal(talus(&out, &err, (const char *const[]){ "log", "list", "--db", path,
                                                              NULL }), 1);
    assert_non_null(strstr(err, "none.db"));
    assert_int_equal(access(path, F_OK), -1); /* reading never creates a log */
    free(out), free(err);
    assert_int_equal(talus(&out, &err, (const char *const[]){ "log", "export", "1", "--db",
                                                              fx->db, NULL }), 2);
    assert_non_null(strstr(err, "--format"));
    free(out), free(err);
    assert_int_equal(talus(&out, &err, (const char *const[]){ "log", "show", "abc", "--db",
                                                              fx->db, NULL }), 2);
    free(out), free(err);
    assert_int_equal(talus(&out, &err, (const char *const[]){ "report", "--help", NULL }), 0);
    assert_non_null(strstr(out, "usage: talus report"));
    free(out), free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_list_show_export),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_trend),
        cmocka_unit_test(test_log_check),
        cmocka_unit_test(test_cli_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
