/* The README demo's scene end to end (talus run headless on the simulated
 * probe, emulated USB bus): a 30 deg needle advancing 0.1 mm a frame through
 * the plantar fascia into its target, where it stops (about frame 230),
 * with the probe calibrated on the wire phantom as run.sh does, streamed at
 * 10 fps so that a sanitizer build follows every frame too (at 30 fps it
 * skips frames, and its tip then depends on which). The probe
 * button is pressed after it stopped; the injection log must have the tip
 * where the simulator put it. (The single image's trace of the shaft ends
 * where it enters the band, which is as bright as the shaft; the tip was
 * kept there, 3.3 mm short, and the demo logged its injection
 * "approaching".) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char *slurp(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 20, n = 0, r;
    char *buf = malloc(cap);
    assert_non_null(buf);
    while ((r = fread(buf + n, 1, cap - 1 - n, p)) > 0)
        n += r;
    buf[n] = '\0';
    int st = pclose(p);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return buf;
}

static void test_demo_needle_in_target(void **state)
{
    (void)state;
    const char *bin = getenv("TALUS_BIN");
    assert_non_null(bin);
    char dir[] = "/tmp/talus-demo-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512], cmd[2048];
    snprintf(path, sizeof path, "%s/demo.script", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("0 session patient=T side=R anatomy=plantar-fascia operator=test\n"
          "0 product name=saline lot=L expiry=2099-12 volume=0.5\n"
          "f240 button\n"
          "f280 button\n"
          "f290 close\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "export TALUS_CAL_DIR='%s'; '%s' calibrate spatial --sim wire-phantom --technician test "
             ">/dev/null 2>&1 && '%s' run --sim needle-insertion "
             "--sim-param anatomy=plantar-fascia,needle_speed_mm=0.1 --headless --frames 300 --fps 10 "
             "--out '%s' --script '%s' --db '%s/t.db' >/dev/null 2>&1 && "
             "'%s' log show 1 --db '%s/t.db' --json",
             dir, bin, bin, dir, path, dir, bin, dir);
    char *out = slurp(cmd);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    const cJSON *inj = cJSON_GetObjectItemCaseSensitive(o, "injections");
    assert_int_equal(cJSON_GetArraySize(inj), 2);
    for (int k = 0; k < 2; k++) {
        const cJSON *i = cJSON_GetArrayItem(inj, k);
        double tx = cJSON_GetObjectItemCaseSensitive(i, "tip_x_mm")->valuedouble;
        double tz = cJSON_GetObjectItemCaseSensitive(i, "tip_z_mm")->valuedouble;
        int in = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(i, "in_target"));
        double gx = cJSON_GetObjectItemCaseSensitive(i, "target_x_mm")->valuedouble;
        double gz = cJSON_GetObjectItemCaseSensitive(i, "target_z_mm")->valuedouble;
        /* the simulator's tip once stopped: (-3.50, 12.45) mm */
        double err = hypot(tx + 3.50, tz - 12.45);
        printf("injection %d: tip (%.2f, %.2f) mm, %.2f mm from the true tip; target (%.2f, "
               "%.2f), in target %d\n",
               k + 1, tx, tz, err, gx, gz, in);
        /* (whether it is "in target" also depends on the analysis's proposed
         * target, which a sanitizer build that skips frames may not have
         * proposed yet: the tip is what is asserted) */
        assert_true(err < 1.0);
    }
    cJSON_Delete(o);
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_needle_in_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
