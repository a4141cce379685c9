/* ui: the real SDL2 window under Xvfb, the simulated probe on the emulated
 * USB bus, a scripted procedure: start a session, pick the target, let the
 * simulated needle advance, mark three injections with the PROBE BUTTON
 * (the simulated probe's interrupt endpoint -> driver event -> station),
 * take a screenshot. Then the log must hold exactly those three injections,
 * each with its image. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tl_injlog.h"
#include "tl_simusb.h"
#include "tl_ui.h"

static char dir[256];

static int press(void *user)
{
    return tl_simusb_press_button(user);
}

static int fault(void *user, const char *name)
{
    uint32_t mask;
    if (tl_fault_parse(name, &mask, NULL) != TL_OK)
        return TL_ERR_INVALID_ARG;
    return tl_simusb_inject(user, (tl_fault_kind)mask);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_window_procedure_with_probe_button(void **state)
{
    (void)state;
    assert_non_null(getenv("DISPLAY")); /* registered DISPLAY: runs under xvfb-run */
    char script[512], db[512], out[512], p[600];
    snprintf(script, sizeof script, "%s/proc.script", dir);
    snprintf(db, sizeof db, "%s/log.db", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    write_text(script,
               "0 session patient=X-3 side=L anatomy=plantar-fascia operator=\"Dr Xvfb\" "
               "diagnosis=\"plantar fasciitis\" age=61 sex=F\n"
               "0 product name=\"triamcinolone 40 mg/ml\" lot=T-77 expiry=2027-01 volume=1\n"
               "f10 key n\n"
               "f30 button\n"
               "f45 button\n"
               "f60 button\n"
               "f75 snapshot station.png\n"
               "f78 note three injections, no complications\n"
               "f78 close\n"
               "f80 quit\n");

    tl_simusb_config sc = tl_simusb_config_default();
    sc.preset = "plantar-fascia";
    sc.seed = 7;
    sc.sim_params = "thickness_mm=5.5,lesion=1,needle=1,needle_speed_mm=0.3";
    sc.serial = "TLSIMUI01";
    tl_simusb *sim;
    assert_int_equal(tl_simusb_start(&sc, &sim), TL_OK);

    tl_station_config c = tl_station_config_default();
    c.probe_serial = "TLSIMUI01";
    c.headless = false; /* the real window */
    c.max_seconds = 60;
    c.out_dir = out;
    c.script_path = script;
    c.db_path = db;
    c.hooks = (tl_station_hooks){ sim, press, fault };
    tl_station_summary s;
    char err[256] = "";
    tl_status st = tl_station_run(&c, &s, err, sizeof err);
    tl_simusb_stats ss;
    tl_simusb_stats_get(sim, &ss);
    tl_simusb_stop(sim);
    if (st != TL_OK)
        fail_msg("station: %s", err);
    assert_true(s.frames >= 80);
    assert_int_equal(ss.events_sent >= 3, 1);   /* the presses went over the bus */
    assert_int_equal(s.injections_logged, 3);
    assert_int_equal(s.injections_failed, 0);

    /* the screenshot of the window */
    snprintf(p, sizeof p, "%s/station.png", out);
    uint8_t *px;
    uint32_t w, h;
    assert_int_equal(tl_png_read(p, 3, &px, &w, &h), TL_OK);
    assert_int_equal(w, 1280);
    assert_int_equal(h, 800);
    /* not blank: the B-mode area has texture */
    long sum = 0, sum2 = 0, n = 0;
    for (uint32_t y = 200; y < 600; y += 4)
        for (uint32_t x = 200; x < 700; x += 4) {
            int v = px[(y * w + x) * 3];
            sum += v;
            sum2 += v * v;
            n++;
        }
    double mean = (double)sum / n, var = (double)sum2 / n - mean * mean;
    assert_true(mean > 10 && var > 50);
    free(px);

    /* the log: exactly those three, each with an image file */
    tl_injlog *log;
    assert_int_equal(tl_injlog_open(db, TL_INJLOG_READONLY, &log, NULL, 0), TL_OK);
    tl_injlog_session *ses;
    size_t ns;
    assert_int_equal(tl_injlog_list_sessions(log, NULL, &ses, &ns), TL_OK);
    assert_int_equal(ns, 1);
    assert_string_equal(ses[0].patient_id, "X-3");
    assert_int_equal(ses[0].side, 'L');
    assert_int_equal(ses[0].injections, 3);
    assert_true(ses[0].ended_ms > 0);
    tl_injlog_injection *inj;
    size_t ni;
    assert_int_equal(tl_injlog_list_injections(log, ses[0].id, &inj, &ni), TL_OK);
    assert_int_equal(ni, 3);
    for (size_t i = 0; i < ni; i++) {
        assert_string_equal(inj[i].product.name, "triamcinolone 40 mg/ml");
        assert_string_equal(inj[i].product.lot, "T-77");
        assert_string_equal(inj[i].operator_name, "Dr Xvfb");
        char ip[1024];
        assert_int_equal(tl_injlog_image_path(log, inj[i].image, ip, sizeof ip), TL_OK);
        assert_int_equal(tl_png_read(ip, 3, &px, &w, &h), TL_OK);
        assert_true(w > 400 && h > 400);
        free(px);
        if (i)
            assert_true(inj[i].time_ms >= inj[i - 1].time_ms);
    }
    free(inj);
    free(ses);
    tl_injlog_close(log);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/talus-ui-station-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (getenv("TALUS_KEEP_TEST_DIR")) {
        fprintf(stderr, "kept %s\n", dir);
        return 0;
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_procedure_with_probe_button),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
