/* ui: the probe is unplugged during a session (the simulated probe's
 * disconnect fault on the emulated bus). The station must say so on screen,
 * keep running, show the reconnect, and lose nothing acknowledged: the
 * injection marked before the unplug and the one after the reconnect are
 * both in the log. */
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
#include "test_ui_util.h"

/* Mean colour of a rectangle of an RGB image. */
static void mean_rgb(const uint8_t *px, uint32_t w, int x0, int y0, int x1, int y1, double m[3])
{
    double s[3] = { 0, 0, 0 };
    long n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++, n++)
            for (int c = 0; c < 3; c++)
                s[c] += px[((size_t)y * w + x) * 3 + c];
    for (int c = 0; c < 3; c++)
        m[c] = s[c] / n;
}

static void test_unplug_during_session(void **state)
{
    (void)state;
    char script[512], db[512], out[512], p[600];
    snprintf(script, sizeof script, "%s/unplug.script", dir);
    snprintf(db, sizeof db, "%s/log.db", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fputs("0 session patient=U-1 side=R anatomy=plantar-fascia operator=tester\n"
          "0 product name=saline lot=S1 expiry=2030-01\n"
          "0.5 key space\n"
          "0.5 wait logged 1\n"
          "1.0 fault disconnect\n"
          "1.0 wait unplugged\n"
          "1.0 snapshot unplugged.png\n"
          "1.0 wait connected\n"
          "1.0 snapshot reconnected.png\n"
          "1.0 button\n"
          "1.0 wait logged 2\n"
          "1.0 quit\n",
          f);
    fclose(f);

    tl_simusb_config sc = tl_simusb_config_default();
    sc.preset = "plantar-fascia";
    sc.serial = "TLSIMUP01";
    sc.replug_ms = 1500;
    tl_simusb *sim;
    assert_int_equal(tl_simusb_start(&sc, &sim), TL_OK);

    tl_station_config c = tl_station_config_default();
    c.probe_serial = "TLSIMUP01";
    c.headless = true;
    c.max_seconds = 30;
    c.out_dir = out;
    c.script_path = script;
    c.db_path = db;
    c.hooks = (tl_station_hooks){ sim, press, fault };
    tl_station_summary s;
    char err[256] = "";
    tl_status st = tl_station_run(&c, &s, err, sizeof err);
    tl_simusb_stop(sim);
    if (st != TL_OK)
        fail_msg("station: %s", err);
    assert_int_equal(s.disconnects, 1);
    assert_int_equal(s.reconnects, 1);
    assert_int_equal(s.injections_logged, 2);
    assert_int_equal(s.injections_failed, 0);

    /* On screen while unplugged: a red status bar and the red banner. */
    uint8_t *px;
    uint32_t w, h;
    double m[3];
    snprintf(p, sizeof p, "%s/unplugged.png", out);
    assert_int_equal(tl_png_read(p, 3, &px, &w, &h), TL_OK);
    mean_rgb(px, w, 400, 10, 800, 40, m);      /* status bar */
    assert_true(m[0] > 140 && m[1] < 80 && m[2] < 80);
    mean_rgb(px, w, 50, 100, 120, 190, m);     /* left end of the red banner */
    assert_true(m[0] > 140 && m[1] < 80);
    free(px);
    /* After the reconnect: the red banner is gone, the green "reconnected"
     * one is there. */
    snprintf(p, sizeof p, "%s/reconnected.png", out);
    assert_int_equal(tl_png_read(p, 3, &px, &w, &h), TL_OK);
    mean_rgb(px, w, 190, 100, 250, 150, m);    /* left end of the green banner */
    assert_true(m[1] > 90 && m[0] < 80);
    free(px);

    tl_injlog *log;
    assert_int_equal(tl_injlog_open(db, TL_INJLOG_READONLY, &log, NULL, 0), TL_OK);
    tl_injlog_injection *inj;
    size_t ni;
    assert_int_equal(tl_injlog_list_injections(log, s.session_id, &inj, &ni), TL_OK);
    assert_int_equal(ni, 2);
    free(inj);
    tl_injlog_close(log);
}

static void test_unknown_probe_is_a_clear_error(void **state)
{
    (void)state;
    tl_simusb_config sc = tl_simusb_config_default();
    sc.serial = "TLSIMUP02";
    tl_simusb *sim;
    assert_int_equal(tl_simusb_start(&sc, &sim), TL_OK);
    char out[512];
    snprintf(out, sizeof out, "%s/out-unknown", dir);
    tl_station_config c = tl_station_config_default();
    c.probe_serial = "NOSUCHPROBE";
    c.headless = true;
    c.frames = 5;
    c.out_dir = out;
    tl_station_summary s;
    char err[256] = "";
    tl_status st = tl_station_run(&c, &s, err, sizeof err);
    tl_simusb_stop(sim);
    assert_int_equal(st, TL_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "NOSUCHPROBE"));
}

static int setup(void **state)
{
    (void)state;
    return setup_dir("unplug");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unplug_during_session),
        cmocka_unit_test(test_unknown_probe_is_a_clear_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
