/* talus calibrate, end to end: the simulated probe on the emulated USB bus
 * (talus re-executes talus-sim for --sim), the driver, the procedures, the
 * store and `show`, checked from the JSON the commands print. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char store[64];

/* Run `talus ARGS` with the test store; parse stdout as JSON. */
static cJSON *run(const char *args, int *exit_code)
{
    const char *bin = getenv("TALUS_BIN");
    assert_non_null(bin);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "TALUS_CAL_DIR='%s' '%s' %s", store, bin, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 22, n = 0;
    char *buf = malloc(cap);
    size_t k;
    while ((k = fread(buf + n, 1, cap - 1 - n, p)) > 0)
        n += k;
    buf[n] = '\0';
    int st = pclose(p);
    *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    cJSON *j = cJSON_Parse(buf);
    if (!j)
        fail_msg("not JSON from `talus %s`: %.200s", args, buf);
    free(buf);
    return j;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(it))
        fail_msg("no number '%s'", k);
    return it->valuedouble;
}

static bool flag(const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsBool(it));
    return cJSON_IsTrue(it);
}

static void ints(const cJSON *o, const char *k, const int *want, int n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsArray(a));
    assert_int_equal(cJSON_GetArraySize(a), n);
    for (int i = 0; i < n; i++)
        assert_int_equal(cJSON_GetArrayItem(a, i)->valueint, want[i]);
}

static void test_spatial(void **state)
{
    (void)state;
    int rc;
    cJSON *j = run("calibrate spatial --sim wire-phantom --sim-sos-error-pct 3 "
                   "--sim-lateral-offset-mm 0.4 --frames 3 --json", &rc);
    assert_int_equal(rc, 0);
    assert_true(fabs(num(j, "axial_scale_err_pct") - 3.0) <= 0.3);
    assert_true(fabs(num(j, "lateral_offset_mm") - 0.4) <= 0.1);
    assert_true(num(j, "residual_mm") <= 0.2);
    assert_true(fabs(num(j, "speed_of_sound_m_s") - 1586.2) < 5);
    assert_true(flag(j, "pass"));
    const cJSON *rec = cJSON_GetObjectItemCaseSensitive(j, "record");
    assert_true(cJSON_IsString(rec));
    struct stat sb;
    assert_int_equal(stat(rec->valuestring, &sb), 0);
    cJSON_Delete(j);

    j = run("calibrate spatial --sim wire-phantom --probe TLSIM0002 --frames 3 --json", &rc);
    assert_int_equal(rc, 0);
    assert_true(fabs(num(j, "axial_scale_err_pct")) <= 0.3);
    assert_true(fabs(num(j, "lateral_offset_mm")) <= 0.1);
    assert_true(flag(j, "pass"));
    cJSON_Delete(j);
}

static void test_elements(void **state)
{
    (void)state;
    int rc;
    cJSON *j = run("calibrate elements --sim in-air --sim-dead-elements 10,50,90 "
                   "--sim-weak-elements 30,31 --frames 3 --json", &rc);
    assert_int_equal(rc, 1);   /* a QA failure */
    const int dead[] = { 10, 50, 90 }, weak[] = { 30, 31 };
    ints(j, "dead", dead, 3);
    ints(j, "weak", weak, 2);
    assert_false(flag(j, "pass"));
    assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "record")));
    cJSON_Delete(j);
}

static void test_uniformity_and_guide(void **state)
{
    (void)state;
    int rc;
    cJSON *j = run("calibrate uniformity --sim uniform-phantom --sim-gain-tilt-db 6 --json "
                   "--probe TLSIM0003 --frames 6", &rc);
    assert_true(fabs(num(j, "tilt_db") - 6.0) <= 1.0);
    assert_true(fabs(num(j, "corrected_tilt_db")) <= 1.0);
    assert_int_equal(rc, flag(j, "pass") ? 0 : 1);
    cJSON_Delete(j);
    j = run("calibrate needle-guide --sim needle-guide --sim-guide-angle-deg 35 --json "
            "--probe TLSIM0003 --frames 3", &rc);
    assert_int_equal(rc, 0);
    assert_true(fabs(num(j, "angle_deg") - 35.0) <= 0.5);
    assert_true(isfinite(num(j, "offset_mm")));
    cJSON_Delete(j);
}

static const char *state_of(const char *serial)
{
    static char st[32];
    char args[128];
    int rc;
    snprintf(args, sizeof args, "calibrate show --probe %s --json", serial);
    cJSON *j = run(args, &rc);
    assert_int_equal(rc, 0);
    snprintf(st, sizeof st, "%s", cJSON_GetObjectItemCaseSensitive(j, "state")->valuestring);
    cJSON_Delete(j);
    return st;
}

static void test_show_states(void **state)
{
    (void)state;
    /* TLSIM0001: spatial passed, then elements failed */
    assert_string_equal(state_of("TLSIM0001"), "failed");
    assert_string_equal(state_of("TLSIM0002"), "valid");
    assert_string_equal(state_of("NOSUCHPROBE"), "missing");
    int rc;
    cJSON *j = run("calibrate show --probe TLSIM0003 --json", &rc);
    const cJSON *cur = cJSON_GetObjectItemCaseSensitive(j, "current");
    const cJSON *procs = cJSON_GetObjectItemCaseSensitive(cur, "procedures");
    assert_non_null(cJSON_GetObjectItemCaseSensitive(procs, "uniformity"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(procs, "needle-guide"));
    assert_int_equal(num(j, "versions"), 2);
    cJSON_Delete(j);
}

/* The command's JSON on a small real clip (the fCal >= 90 % figure is
 * asserted on all 190 frames in test_calibration_dots). */
static void test_detect_wires_json(void **state)
{
    (void)state;
    char args[4096];
    snprintf(args, sizeof args,
             "calibrate detect-wires '%s/plus/NwirePhantomFreehandCropped.igs.mha' "
             "--wires 2 --no-layers --json", getenv("TALUS_SHARED_DATA"));
    int rc;
    cJSON *j = run(args, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(num(j, "frames"), 20);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "dots_per_frame");
    assert_int_equal(cJSON_GetArraySize(list), 20);
    int complete = 0;
    const cJSON *fr;
    cJSON_ArrayForEach(fr, list) {
        int n = (int)num(fr, "found");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(fr, "dots")), n);
        complete += n == 2;
    }
    assert_int_equal(num(j, "frames_with_all_wires"), complete);
    assert_true(complete >= 18);   /* two wire dots in view throughout the clip */
    cJSON_Delete(j);
}

static void test_bad_usage(void **state)
{
    (void)state;
    const char *bin = getenv("TALUS_BIN");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' calibrate spatial --sim wire-phantom --sim-dead-elements x,1 "
             ">/dev/null 2>&1", bin);
    int st = system(cmd);
    assert_int_equal(WEXITSTATUS(st), 2);
    snprintf(cmd, sizeof cmd, "'%s' calibrate bogus >/dev/null 2>&1", bin);
    st = system(cmd);
    assert_int_equal(WEXITSTATUS(st), 2);
    snprintf(cmd, sizeof cmd, "'%s' calibrate detect-wires /nonexistent.mha --wires 9 >/dev/null 2>&1", bin);
    st = system(cmd);
    assert_int_equal(WEXITSTATUS(st), 1);
}

int main(void)
{
    snprintf(store, sizeof store, "/tmp/tl_cal_cli_XXXXXX");
    if (!mkdtemp(store))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spatial),
        cmocka_unit_test(test_elements),
        cmocka_unit_test(test_uniformity_and_guide),
        cmocka_unit_test(test_show_states),
        cmocka_unit_test(test_detect_wires_json),
        cmocka_unit_test(test_bad_usage),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", store);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
