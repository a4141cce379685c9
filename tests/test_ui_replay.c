/* ui: the headless station on a replayed sequence. A short PLUS .mha is
 * rendered from the simulator (a thickened, hypoechoic plantar fascia with a
 * needle), replayed through the same pipeline and overlay as a probe, with a
 * scripted session that marks two injections by key. Checks the summary,
 * the snapshots, and that the log holds exactly those two injections, each
 * with an image that exists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tl_injlog.h"
#include "tl_recording.h"
#include "tl_sim.h"
#include "tl_ui.h"
#include "test_ui_util.h"

static void make_sequence(const char *path, uint32_t frames)
{
    tl_sim *sim;
    assert_int_equal(tl_sim_create("plantar-fascia", 5, &sim), TL_OK);
    assert_int_equal(tl_sim_set_param(sim, "thickness_mm", "5.5"), TL_OK);
    assert_int_equal(tl_sim_set_param(sim, "lesion", "1"), TL_OK);
    assert_int_equal(tl_sim_set_param(sim, "needle", "1"), TL_OK);
    assert_int_equal(tl_sim_set_param(sim, "needle_speed_mm", "1.0"), TL_OK);
    tl_geometry g;
    assert_int_equal(tl_sim_get_geometry(sim, &g), TL_OK);
    size_t n = (size_t)g.lines * g.samples;
    int16_t *rf = malloc(n * sizeof *rf);
    assert_non_null(rf);
    tl_recording_writer *w;
    assert_int_equal(tl_recording_writer_open(path, &g, TL_IMAGE_RF_REAL, NULL, &w), TL_OK);
    for (uint32_t k = 0; k < frames; k++) {
        assert_int_equal(tl_sim_render(sim, k, rf, n, NULL), TL_OK);
        tl_frame f = { .geom = g, .type = TL_IMAGE_RF_REAL, .seq = k,
                       .t_device_us = k * 33333ull, .data = rf, .data_bytes = n * 2 };
        assert_int_equal(tl_recording_writer_add(w, &f), TL_OK);
    }
    assert_int_equal(tl_recording_writer_close(w), TL_OK);
    free(rf);
    tl_sim_destroy(sim);
}

static void test_headless_replay_session(void **state)
{
    (void)state;
    char mha[512], script[512], db[512], out[512], p[600];
    snprintf(mha, sizeof mha, "%s/heel.mha", dir);
    snprintf(script, sizeof script, "%s/proc.script", dir);
    snprintf(db, sizeof db, "%s/log.db", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    make_sequence(mha, 12);
    /* The session, product and note go through the on-screen forms. */
    write_text(script,
               "0 key s\n0 type T-1\n0 key enter\n0 type R\n0 key enter\n0 key enter\n"
               "0 type \"heel pain\"\n0 key enter\n0 type tester\n0 key enter\n"
               "0 type 4\n0 type 0\n0 key enter\n0 type M\n0 key enter\n"
               "0 key p\n0 type PRP\n0 key tab\n0 type L-9\n0 key tab\n0 type 2026-12\n"
               "0 key tab\n0 key backspace\n0 key backspace\n0 key backspace\n0 type 2\n"
               "0 key enter\n"
               "f10 key space\n"
               "f20 key enter\n"
               "f25 key ?\n"
               "f26 snapshot help.png\n"
               "f27 key ?\n"
               "f28 key o\nf28 type uneventful\nf28 key enter\n"
               "f30 close\n");
    tl_station_config c = tl_station_config_default();
    c.replay_path = mha;
    c.replay_fps = 30;
    c.headless = true;
    c.frames = 45;
    c.out_dir = out;
    c.script_path = script;
    c.db_path = db;
    tl_station_summary s;
    char err[256] = "";
    tl_status st = tl_station_run(&c, &s, err, sizeof err);
    if (st != TL_OK)
        fail_msg("station: %s", err);
    assert_int_equal(s.frames, 45);
    assert_int_equal(s.injections_logged, 2);
    assert_int_equal(s.injections_failed, 0);
    assert_true(s.session_id > 0);
    assert_string_equal(s.db, db);
    assert_true(s.fps > 0);
    assert_true(s.latency_p50_ms > 0 && s.latency_p50_ms <= s.latency_p99_ms);

    /* summary.json carries the named fields */
    snprintf(p, sizeof p, "%s/summary.json", out);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    assert_non_null(j);
    assert_int_equal(cJSON_GetObjectItem(j, "frames")->valueint, 45);
    assert_int_equal(cJSON_GetObjectItem(j, "injections_logged")->valueint, 2);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "latency_ms"), "p99"));
    assert_non_null(cJSON_GetObjectItem(j, "drops"));
    assert_non_null(cJSON_GetObjectItem(j, "fps"));
    assert_int_equal((int64_t)cJSON_GetObjectItem(j, "session_id")->valuedouble, s.session_id);
    assert_string_equal(cJSON_GetObjectItem(j, "db")->valuestring, db);
    cJSON_Delete(j);

    /* snapshots: the scripted one and the last screen, full size */
    uint8_t *px;
    uint32_t w, h;
    snprintf(p, sizeof p, "%s/help.png", out);
    assert_int_equal(tl_png_read(p, 3, &px, &w, &h), TL_OK);
    assert_int_equal(w, 1280);
    assert_int_equal(h, 800);
    free(px);
    snprintf(p, sizeof p, "%s/final.png", out);
    assert_int_equal(tl_png_read(p, 3, &px, &w, &h), TL_OK);
    free(px);

    /* the log: the session closed with its note, exactly two injections
     * with the product and an image each */
    tl_injlog *log;
    assert_int_equal(tl_injlog_open(db, TL_INJLOG_READONLY, &log, NULL, 0), TL_OK);
    tl_injlog_session ses;
    assert_int_equal(tl_injlog_get_session(log, s.session_id, &ses), TL_OK);
    assert_string_equal(ses.patient_id, "T-1");
    assert_int_equal(ses.side, 'R');
    assert_string_equal(ses.diagnosis, "heel pain");
    assert_string_equal(ses.operator_name, "tester");
    assert_int_equal(ses.age_years, 40);
    assert_int_equal(ses.sex, 'M');
    assert_true(ses.ended_ms > 0);
    assert_string_equal(ses.note, "uneventful");
    tl_injlog_injection *inj;
    size_t ni;
    assert_int_equal(tl_injlog_list_injections(log, s.session_id, &inj, &ni), TL_OK);
    assert_int_equal(ni, 2);
    for (size_t i = 0; i < ni; i++) {
        assert_string_equal(inj[i].product.name, "PRP");
        assert_string_equal(inj[i].product.lot, "L-9");
        assert_float_equal(inj[i].volume_ml, 2.0, 1e-9);
        assert_true(inj[i].image[0] != '\0');
        char ip[1024];
        assert_int_equal(tl_injlog_image_path(log, inj[i].image, ip, sizeof ip), TL_OK);
        assert_int_equal(tl_png_read(ip, 3, &px, &w, &h), TL_OK);
        assert_true(w > 400 && h > 300);
        free(px);
    }
    free(inj);
    tl_injlog_close(log);
}

static void test_bad_replay_file_is_a_clear_error(void **state)
{
    (void)state;
    char bad[512], out[512];
    snprintf(bad, sizeof bad, "%s/garbage.mha", dir);
    snprintf(out, sizeof out, "%s/out2", dir);
    write_text(bad, "NDims = 9\nthis is not a sequence\n");
    tl_station_config c = tl_station_config_default();
    c.replay_path = bad;
    c.headless = true;
    c.frames = 5;
    c.out_dir = out;
    tl_station_summary s;
    char err[256] = "";
    assert_int_not_equal(tl_station_run(&c, &s, err, sizeof err), TL_OK);
    assert_non_null(strstr(err, "garbage.mha"));
}

/* A database that cannot be created: the station still shows images and
 * runs to the end, says so, and refuses (counts) the injection instead of
 * pretending it was logged. */
static void test_bad_database_keeps_running(void **state)
{
    (void)state;
    char mha[512], blocker[512], db[600], script[512], out[512];
    snprintf(mha, sizeof mha, "%s/heel.mha", dir); /* from the first test */
    snprintf(blocker, sizeof blocker, "%s/not-a-folder", dir);
    write_text(blocker, "x");
    snprintf(db, sizeof db, "%s/log.db", blocker);
    snprintf(script, sizeof script, "%s/bad.script", dir);
    write_text(script, "f5 key space\n");
    snprintf(out, sizeof out, "%s/out3", dir);
    tl_station_config c = tl_station_config_default();
    c.replay_path = mha;
    c.headless = true;
    c.frames = 20;
    c.out_dir = out;
    c.db_path = db;
    c.script_path = script;
    c.patient = "B-1";
    tl_station_summary s;
    char err[256] = "";
    assert_int_equal(tl_station_run(&c, &s, err, sizeof err), TL_OK);
    assert_int_equal(s.frames, 20);
    assert_int_equal(s.injections_logged, 0);
    assert_int_equal(s.injections_failed, 1);
    assert_non_null(strstr(s.error, "injection log"));
}

static int setup(void **state)
{
    (void)state;
    return setup_dir("replay");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headless_replay_session),
        cmocka_unit_test(test_bad_replay_file_is_a_clear_error),
        cmocka_unit_test(test_bad_database_keeps_running),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
