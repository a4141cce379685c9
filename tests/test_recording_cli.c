/* talus record / replay end to end: the simulated probe streams through the
 * emulated USB bus and the driver into a .mha; every recorded frame is
 * bit-exact against the simulator's own render of that sequence number; the
 * truth JSON sits beside it; replay reads it back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tl_recording.h"
#include "tl_sim.h"

static char dir[64];

static char *run(const char *args, int *rc)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>/dev/null", getenv("TALUS_BIN"), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 22, n = 0, k;
    char *buf = malloc(cap);
    while ((k = fread(buf + n, 1, cap - 1 - n, p)) > 0)
        n += k;
    buf[n] = '\0';
    int st = pclose(p);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return buf;
}

static void test_record_replay(void **state)
{
    (void)state;
    char args[512], path[256];
    snprintf(path, sizeof path, "%s/heel.mha", dir);
    snprintf(args, sizeof args, "record --sim plantar-fascia --seed 5 --frames 12 --lines 64 "
             "--samples 512 --fps 0 -o %s --json", path);
    int rc;
    char *out = run(args, &rc);
    assert_int_equal(rc, 0);
    cJSON *j = cJSON_Parse(out);
    free(out);
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "frames")->valueint, 12);
    assert_int_equal(cJSON_GetObjectItem(j, "frames_dropped")->valueint, 0);
    cJSON_Delete(j);

    tl_recording *r;
    assert_int_equal(tl_recording_open(path, &r), TL_OK);
    tl_recording_info in;
    tl_recording_get_info(r, &in);
    assert_int_equal(in.frames, 12);
    assert_int_equal(in.type, TL_IMAGE_RF_REAL);
    assert_true(in.geometry_known);
    assert_int_equal(in.geom.lines, 64);
    assert_int_equal(in.geom.samples, 512);
    assert_string_equal(tl_recording_field(r, "ProbeSerial"), "TLSIM0001");
    tl_sim *sim;
    assert_int_equal(tl_sim_create("plantar-fascia", 5, &sim), TL_OK);
    assert_int_equal(tl_sim_set_geometry(sim, &in.geom), TL_OK);
    int16_t *ref = malloc(64 * 512 * sizeof *ref);
    uint32_t prev = 0;
    for (uint32_t i = 0; i < in.frames; i++) {
        tl_frame f;
        assert_int_equal(tl_recording_read(r, i, &f), TL_OK);
        if (i > 0)
            assert_true(f.seq > prev);      /* in order */
        prev = f.seq;
        assert_int_equal(tl_sim_render(sim, f.seq, ref, 64 * 512, NULL), TL_OK);
        assert_memory_equal(f.data, ref, f.data_bytes);
    }
    free(ref);
    tl_sim_destroy(sim);
    tl_recording_close(r);

    /* ground truth beside it, one entry per recorded frame */
    char tp[300];
    snprintf(tp, sizeof tp, "%s/heel.truth.json", dir);
    FILE *f = fopen(tp, "rb");
    assert_non_null(f);
    char *text = calloc(1, 1 << 22);
    size_t n = fread(text, 1, (1 << 22) - 1, f);
    fclose(f);
    assert_true(n > 0);
    cJSON *t = cJSON_Parse(text);
    free(text);
    assert_non_null(t);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(t, "frames")), 12);
    cJSON_Delete(t);

    snprintf(args, sizeof args, "replay %s --json", path);
    out = run(args, &rc);
    assert_int_equal(rc, 0);
    j = cJSON_Parse(out);
    free(out);
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "frames")->valueint, 12);
    assert_int_equal(cJSON_GetObjectItem(j, "frames_decoded")->valueint, 12);
    assert_string_equal(cJSON_GetObjectItem(j, "image_type")->valuestring, "RF_REAL");
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "geometry"), "lines")->valueint, 64);
    cJSON_Delete(j);

    /* a damaged copy: replay says so and fails */
    char cmd[800];
    snprintf(cmd, sizeof cmd, "head -c 5000 %s > %s/cut.mha", path, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(args, sizeof args, "replay %s/cut.mha --json", dir);
    out = run(args, &rc);
    free(out);
    assert_int_equal(rc, 1);
}

static void test_replay_plus_files(void **state)
{
    (void)state;
    char args[4096];
    snprintf(args, sizeof args, "replay '%s/plus/UltrasonixLinearRfData.igs.mha' --json",
             getenv("TALUS_SHARED_DATA"));
    int rc;
    char *out = run(args, &rc);
    assert_int_equal(rc, 0);
    cJSON *j = cJSON_Parse(out);
    free(out);
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "frames")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(j, "width")->valueint, 2080);
    assert_int_equal(cJSON_GetObjectItem(j, "height")->valueint, 256);
    assert_string_equal(cJSON_GetObjectItem(j, "image_type")->valuestring, "RF_I_LINE_Q_LINE");
    assert_string_equal(cJSON_GetObjectItem(j, "orientation")->valuestring, "NM");
    cJSON_Delete(j);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/tl_rec_cli_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_replay),
        cmocka_unit_test(test_replay_plus_files),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
