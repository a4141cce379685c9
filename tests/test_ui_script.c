/* ui: the operator-script parser and the display rules the operator relies
 * on (threshold colours, what turns the status bar red). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tl_ui.h"

static void test_parses_a_procedure(void **state)
{
    (void)state;
    const char *text =
        "# a whole procedure\n"
        "0   session patient=P-17 side=L anatomy=\"plantar fascia\" operator=\"Dr Ames\" "
        "age=52 sex=F diagnosis=\"plantar fasciitis\"\n"
        "0.5 product name=\"triamcinolone 40 mg/ml\" lot=A123 expiry=2027-03 volume=1.5\n"
        "f30 key n\n"
        "1.25 button   # the probe's button\n"
        "2 tap 12.5 8\n"
        "2 caliper 1 2 3 4\n"
        "3 fault disconnect\n"
        "4 note no complications, patient tolerated well\n"
        "5 close\n"
        "5 snapshot end.png\n"
        "5.5 wait logged 3\n"
        "6 quit\n";
    tl_script s;
    char err[256] = "";
    assert_int_equal(tl_script_parse(text, &s, err, sizeof err), TL_OK);
    assert_int_equal(s.n, 12);
    const tl_script_event *e = s.events;
    assert_int_equal(e[0].action, TL_SCRIPT_SESSION);
    assert_string_equal(e[0].patient, "P-17");
    assert_int_equal(e[0].side, 'L');
    assert_string_equal(e[0].anatomy, "plantar fascia");
    assert_string_equal(e[0].operator_name, "Dr Ames");
    assert_string_equal(e[0].diagnosis, "plantar fasciitis");
    assert_int_equal(e[0].age, 52);
    assert_int_equal(e[0].sex, 'F');
    assert_int_equal(e[1].action, TL_SCRIPT_PRODUCT);
    assert_string_equal(e[1].product, "triamcinolone 40 mg/ml");
    assert_string_equal(e[1].lot, "A123");
    assert_float_equal(e[1].volume_ml, 1.5, 1e-9);
    assert_true(e[2].at_frame);
    assert_int_equal(e[2].frame, 30);
    assert_string_equal(e[2].text, "n");
    assert_false(e[3].at_frame);
    assert_float_equal(e[3].t_s, 1.25, 1e-9);
    assert_int_equal(e[3].action, TL_SCRIPT_BUTTON);
    assert_int_equal(e[3].line, 5);
    assert_float_equal(e[4].v[0], 12.5, 1e-6);
    assert_float_equal(e[5].v[3], 4, 1e-6);
    assert_string_equal(e[6].text, "disconnect");
    assert_string_equal(e[7].text, "no complications, patient tolerated well");
    assert_int_equal(e[8].action, TL_SCRIPT_CLOSE);
    assert_string_equal(e[9].text, "end.png");
    assert_int_equal(e[10].action, TL_SCRIPT_WAIT);
    assert_string_equal(e[10].text, "logged");
    assert_float_equal(e[10].v[0], 3, 1e-6);
    assert_int_equal(e[11].action, TL_SCRIPT_QUIT);
    tl_script_free(&s);
}

/* Each bad line is refused with the line number in the message. */
static void test_rejects_bad_lines(void **state)
{
    (void)state;
    static const struct {
        const char *text, *needle;
    } bad[] = {
        { "1 jump\n", "script:1: unknown action 'jump'" },
        { "\n\nx button\n", "script:3: bad time" },
        { "1 key warp\n", "unknown key 'warp'" },
        { "1 session patient=P side=X anatomy=a operator=o\n", "bad value for side" },
        { "1 session patient=P side=L\n", "needs patient=, side=, anatomy= and operator=" },
        { "1 product lot=1\n", "product needs name=" },
        { "1 product name=x volume=-2\n", "bad value for volume" },
        { "1 tap 3\n", "tap takes 2 to 2 arguments" },
        { "1 tap 3 nan\n", "bad coordinate" },
        { "1 note \"unterminated\n", "unterminated quote" },
        { "1 snapshot ../../etc/x.png\n", "plain NAME.png" },
        { "1 button now\n", "button takes 0 to 0 arguments" },
        { "f-3 button\n", "bad frame time" },
        { "1 session patient=P side=L anatomy=a operator=o colour=red\n", "unknown field" },
        { "1 wait forever\n", "wait takes" },
        { "1 wait logged x\n", "wait takes" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tl_script s;
        char err[256] = "";
        assert_int_equal(tl_script_parse(bad[i].text, &s, err, sizeof err), TL_ERR_FORMAT);
        if (!strstr(err, bad[i].needle))
            fail_msg("case %zu: '%s' does not say '%s'", i, err, bad[i].needle);
        assert_null(s.events);
    }
}

static void test_load_reports_missing_file(void **state)
{
    (void)state;
    tl_script s;
    char err[256] = "";
    assert_int_equal(tl_script_load("/nonexistent/x.script", &s, err, sizeof err),
                     TL_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "/nonexistent/x.script"));
}

static void test_thickness_levels(void **state)
{
    (void)state;
    /* plantar fascia: limit 4.0 mm */
    assert_int_equal(tl_ui_thickness_level(3.0f, 4.0f), TL_LEVEL_OK);
    assert_int_equal(tl_ui_thickness_level(3.8f, 4.0f), TL_LEVEL_BORDER);
    assert_int_equal(tl_ui_thickness_level(4.0f, 4.0f), TL_LEVEL_BORDER);
    assert_int_equal(tl_ui_thickness_level(4.01f, 4.0f), TL_LEVEL_ABNORMAL);
    assert_int_equal(tl_ui_thickness_level(NAN, 4.0f), TL_LEVEL_UNKNOWN);
    assert_int_equal(tl_ui_thickness_level(5.0f, NAN), TL_LEVEL_UNKNOWN);
}

static void test_trouble_turns_red(void **state)
{
    (void)state;
    tl_ui_health ok = { .probe_connected = true, .frame_age_ms = 30, .expected_period_ms = 33.3,
                        .calibration = TL_UI_CAL_VALID };
    const char *msg = "x";
    assert_int_equal(tl_ui_trouble(&ok, &msg), 0);
    assert_null(msg);

    tl_ui_health h = ok;
    h.probe_connected = false;
    h.probe_reconnecting = true;
    assert_true(tl_ui_trouble(&h, &msg) & TL_UI_TROUBLE_NO_PROBE);
    assert_non_null(strstr(msg, "UNPLUGGED"));

    h = ok;
    h.frame_age_ms = 400;
    assert_int_equal(tl_ui_trouble(&h, &msg), TL_UI_TROUBLE_STALE);
    h.frame_age_ms = 100; /* 3 periods late is jitter, not stale */
    assert_int_equal(tl_ui_trouble(&h, &msg), 0);

    h = ok;
    h.calibration = TL_UI_CAL_EXPIRED;
    assert_int_equal(tl_ui_trouble(&h, &msg), TL_UI_TROUBLE_CALIBRATION);
    assert_string_equal(msg, "CALIBRATION EXPIRED");
    h.calibration = TL_UI_CAL_MISSING;
    tl_ui_trouble(&h, &msg);
    assert_string_equal(msg, "CALIBRATION MISSING");
    h.calibration = TL_UI_CAL_UNKNOWN; /* no calibration module: not red */
    assert_int_equal(tl_ui_trouble(&h, &msg), 0);

    h = ok;
    h.drops_recent = 2;
    assert_int_equal(tl_ui_trouble(&h, &msg), TL_UI_TROUBLE_DROPS);
    h.log_error = true;
    assert_int_equal(tl_ui_trouble(&h, &msg), TL_UI_TROUBLE_DROPS | TL_UI_TROUBLE_LOG);
    assert_string_equal(msg, "INJECTION LOG ERROR"); /* the more urgent one */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parses_a_procedure),
        cmocka_unit_test(test_rejects_bad_lines),
        cmocka_unit_test(test_load_reports_missing_file),
        cmocka_unit_test(test_thickness_levels),
        cmocka_unit_test(test_trouble_turns_red),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
