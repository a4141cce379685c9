/* talus sim list / render and talus bench sim, run as a user would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tl_core.h"

static const char *bin(void)
{
    const char *b = getenv("TALUS_BIN");
    return b ? b : "talus";
}

/* Run a command line, capture stdout (up to cap bytes), return exit code. */
static int run(const char *args, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s 2>/dev/null", bin(), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = 0;
    if (out) {
        n = fread(out, 1, cap - 1, p);
        out[n] = '\0';
    } else {
        char buf[4096];
        while (fread(buf, 1, sizeof buf, p) > 0) {
        }
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_list(void **state)
{
    (void)state;
    static char out[1 << 16];
    assert_int_equal(run("sim list", out, sizeof out), 0);
    assert_non_null(strstr(out, "needle-insertion"));
    assert_non_null(strstr(out, "thickness_mm"));
    assert_int_equal(run("sim list --json", out, sizeof out), 0);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "presets")), 8);
    cJSON_Delete(o);
    assert_int_equal(run("sim list --help", out, sizeof out), 0);
    assert_non_null(strstr(out, "usage"));
    assert_int_equal(run("sim render --help", out, sizeof out), 0);
    assert_non_null(strstr(out, "--truth"));
}

static void test_render(void **state)
{
    (void)state;
    char dir[] = "/tmp/talus-simcli-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char args[1024], png[64], js[64];
    snprintf(png, sizeof png, "%s/a.png", dir);
    snprintf(js, sizeof js, "%s/a.json", dir);
    snprintf(args, sizeof args,
             "sim render achilles --seed 4 --param thickness_mm=6.5 --param lesion=1 "
             "--frame 2 -o %s --truth %s",
             png, js);
    assert_int_equal(run(args, NULL, 0), 0);
    uint8_t *px = NULL;
    uint32_t w, h;
    assert_int_equal(tl_png_read(png, 1, &px, &w, &h), TL_OK);
    assert_true(w > 300 && h > 300);
    /* not blank: a good share of bright and of dark pixels */
    size_t bright = 0, dark = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) {
        bright += px[i] > 150;
        dark += px[i] < 40;
    }
    assert_true(bright > (size_t)w * h / 100 && dark > (size_t)w * h / 100);
    free(px);
    FILE *f = fopen(js, "r");
    assert_non_null(f);
    static char buf[1 << 17];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    cJSON *o = cJSON_Parse(buf);
    assert_non_null(o);
    assert_float_equal(cJSON_GetObjectItem(o, "thickness_mm")->valuedouble, 6.5, 1e-4);
    assert_int_equal(cJSON_GetObjectItem(o, "frame_index")->valueint, 2);
    cJSON_Delete(o);
    /* bad input: clear refusal, exit 2, nothing written */
    char bad[64];
    snprintf(bad, sizeof bad, "%s/b.png", dir);
    snprintf(args, sizeof args, "sim render achilles --param bogus=1 -o %s", bad);
    assert_int_equal(run(args, NULL, 0), 2);
    snprintf(args, sizeof args, "sim render achilles --param thickness_mm=-3 -o %s", bad);
    assert_int_equal(run(args, NULL, 0), 2);
    snprintf(args, sizeof args, "sim render nosuch -o %s", bad);
    assert_int_equal(run(args, NULL, 0), 2);
    assert_int_equal(run("sim render achilles", NULL, 0), 2);
    assert_int_equal(access(bad, F_OK), -1);
    unlink(png);
    unlink(js);
    rmdir(dir);
}

static void test_bench(void **state)
{
    (void)state;
    static char out[4096];
    assert_int_equal(run("bench sim --lines 32 --samples 512 --frames 20 --naive-frames 1 --json",
                         out, sizeof out),
                     0);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    assert_true(cJSON_GetObjectItem(o, "frames_per_s")->valuedouble > 0);
    assert_true(cJSON_GetObjectItem(o, "speedup_vs_naive")->valuedouble > 1.0);
    assert_true(cJSON_GetObjectItem(o, "changed_fraction_last_frame")->valuedouble > 0.1);
    assert_int_equal(cJSON_GetObjectItem(o, "lines")->valueint, 32);
    cJSON_Delete(o);
    assert_int_equal(run("bench sim --lines 3 --json", out, sizeof out), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_bench),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
