/* A small `talus eval needle` through the real chain (simulated RF ->
 * imaging -> detection and tracking), with bounds looser than the
 * acceptance figures (10 cases, not 200) but tight enough to catch a broken
 * detector, tracker or scoring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static double num(const cJSON *o, const char *k, const char *k2)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (k2)
        v = cJSON_GetObjectItemCaseSensitive(v, k2);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void test_small_eval(void **state)
{
    (void)state;
    const char *bin = getenv("TALUS_BIN");
    assert_non_null(bin);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s eval needle --cases 10 --seed 5 --json 2>/dev/null", bin);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    static char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    assert_int_equal(pclose(f), 0);
    printf("  %s\n", buf);
    cJSON *o = cJSON_Parse(buf);
    assert_non_null(o);
    assert_int_equal((int)num(o, "cases", NULL), 10);
    assert_true(num(o, "in_plane_frames", NULL) > 20);
    assert_true(num(o, "needle_free_frames", NULL) > 20);
    assert_true(num(o, "tip_err_mm", "median") <= 0.6);
    assert_true(num(o, "angle_err_deg", "median") <= 1.0);
    assert_true(num(o, "false_positive_rate", NULL) <= 0.05);
    assert_true(num(o, "detection_rate", NULL) >= 0.2);
    assert_true(num(o, "miss_distance_err_mm", "median") <= 1.0);
    cJSON_Delete(o);
    /* Bad usage is refused with exit status 2. */
    snprintf(cmd, sizeof cmd, "%s eval needle --cases 0 >/dev/null 2>&1", bin);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_eval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
