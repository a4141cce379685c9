/* `talus stream` and `talus probe list` end to end: talus re-executes
 * talus-sim, which puts the simulated probe on the emulated bus; the JSON
 * they print is checked field by field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static int run(const char *args, char **out)
{
    const char *bin = getenv("TALUS_BIN");
    assert_non_null(bin);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>/dev/null", bin, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, n = 0, r;
    char *buf = malloc(cap);
    while ((r = fread(buf + n, 1, cap - 1 - n, p)) > 0)
        n += r;
    buf[n] = '\0';
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void test_stream_zero_loss(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(run("stream --sim plantar-fascia --frames 60 --fps 120 --lines 64 --samples 1024 --json", &out), 0);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    assert_true(num(o, "frames_sent") == 60);
    assert_true(num(o, "frames_received") == 60);
    assert_true(num(o, "frames_dropped") == 0);
    assert_true(num(o, "crc_errors") + num(o, "seq_gaps") + num(o, "bad_headers") + num(o, "reconnects") == 0);
    assert_true(num(o, "mb_per_s") > 0);
    assert_true(num(o, "cpu_percent") > 0);
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(o, "latency_ms");
    assert_true(num(lat, "p50") > 0 && num(lat, "p99") >= num(lat, "p50"));
    cJSON_Delete(o);
    free(out);
}

static void test_stream_all_faults(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(run("stream --sim achilles --frames 90 --fps 100 --lines 32 --samples 512 "
                         "--fault all --fault-every 10 --json", &out), 0);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    const cJSON *fi = cJSON_GetObjectItemCaseSensitive(o, "faults_injected");
    const char *kinds[] = { "drop", "corrupt", "truncate", "garbage", "stall", "late", "disconnect" };
    for (int k = 0; k < 7; k++)
        assert_true(num(fi, kinds[k]) >= 1);
    assert_true(num(o, "crc_errors") >= 1);
    assert_true(num(o, "bad_headers") >= 1);
    assert_true(num(o, "truncated") >= 1);
    assert_true(num(o, "late_frames") >= 1);
    assert_true(num(o, "stalls") >= 1);
    assert_true(num(o, "reconnects") == 1);
    assert_true(num(o, "frames_dropped") >= 7);
    /* every frame accounted for */
    assert_true(num(o, "frames_received") + num(o, "frames_dropped") == num(o, "frames_sent"));
    assert_true(num(o, "frames_received") >= 60);
    cJSON_Delete(o);
    free(out);
}

static void test_probe_list_and_usage(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(run("probe list --sim plantar-fascia --serial CLI42 --json", &out), 0);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "probes");
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    const cJSON *p0 = cJSON_GetArrayItem(arr, 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(p0, "serial")->valuestring, "CLI42");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(p0, "usb_id")->valuestring, "1209:0001");
    cJSON_Delete(o);
    free(out);

    assert_int_equal(run("stream --help", &out), 0);
    assert_non_null(strstr(out, "--fault"));
    free(out);
    assert_int_equal(run("stream --sim plantar-fascia --fault bogus --json", &out), 2);
    free(out);
    assert_int_equal(run("stream --sim no-such-preset --frames 3 --json", &out), 1);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_zero_loss),
        cmocka_unit_test(test_stream_all_faults),
        cmocka_unit_test(test_probe_list_and_usage),
    };
    if (getenv("TL_TEST_FILTER"))
        cmocka_set_test_filter(getenv("TL_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
