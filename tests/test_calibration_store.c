/* calibration store: versioned records per serial, history never
 * overwritten, states (valid / missing / expired / mismatched / failed /
 * corrupt), a record never applied to another probe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tl_calibration.h"

#define NOW 1800000000ull
#define DAY 86400ull

static const char *SPATIAL =
    "{\"results\":{\"axial_scale\":1.03,\"lateral_scale\":1.0,\"axial_offset_mm\":0.01,"
    "\"lateral_offset_mm\":0.4,\"speed_of_sound_m_s\":1586.2,\"residual_mm\":0.01},"
    "\"tolerances\":{\"residual_mm\":0.2}}";
static const char *ELEMENTS_BAD = "{\"results\":{\"dead\":[3,4],\"weak\":[]},\"tolerances\":{}}";

static int setup(void **state)
{
    char *dir = malloc(64);
    snprintf(dir, 64, "/tmp/tl_cal_store_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", (char *)*state);
    int rc = system(cmd);
    free(*state);
    return rc == 0 ? 0 : -1;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *b = calloc(1, 1 << 20);
    size_t n = fread(b, 1, (1 << 20) - 1, f);
    (void)n;
    fclose(f);
    return b;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_versions_and_history(void **state)
{
    const char *dir = *state;
    tl_cal_state s;
    tl_cal_record rec;
    assert_int_equal(tl_cal_check(dir, "P123", NOW, &s, &rec), TL_OK);
    assert_int_equal(s, TL_CAL_MISSING);

    tl_cal_procedure sp = { "spatial", SPATIAL, true };
    tl_cal_record r1, r2, r3;
    assert_int_equal(tl_cal_store_write(dir, "P123", "L12", "ann", &sp, 30, NOW, &r1), TL_OK);
    assert_int_equal(r1.version, 1);
    assert_true(r1.has_spatial);
    assert_true(r1.pass);
    assert_string_equal(r1.serial, "P123");
    assert_string_equal(r1.technician, "ann");
    assert_int_equal(r1.expires_s, NOW + 30 * DAY);
    char *v1 = read_all(r1.path);

    assert_int_equal(tl_cal_check(dir, "P123", NOW + DAY, &s, &rec), TL_OK);
    assert_int_equal(s, TL_CAL_VALID);
    assert_int_equal(rec.version, 1);

    /* a failed element check: new version, spatial carried over, state failed */
    tl_cal_procedure el = { "elements", ELEMENTS_BAD, false };
    assert_int_equal(tl_cal_store_write(dir, "P123", "L12", "bob", &el, 30, NOW + 2 * DAY, &r2), TL_OK);
    assert_int_equal(r2.version, 2);
    assert_false(r2.pass);
    assert_true(r2.has_spatial);
    assert_int_equal(tl_cal_check(dir, "P123", NOW + 3 * DAY, &s, &rec), TL_OK);
    assert_int_equal(s, TL_CAL_FAILED);
    char *json = NULL;
    assert_int_equal(tl_cal_record_json(r2.path, &json), TL_OK);
    assert_non_null(strstr(json, "\"spatial\""));
    assert_non_null(strstr(json, "\"elements\""));
    free(json);

    /* version 1 is untouched */
    char *again = read_all(r1.path);
    assert_string_equal(v1, again);
    free(again);
    free(v1);

    /* the elements pass again: valid, 3 versions in the history */
    tl_cal_procedure el_ok = { "elements", "{\"results\":{\"dead\":[],\"weak\":[]}}", true };
    assert_int_equal(tl_cal_store_write(dir, "P123", "L12", "bob", &el_ok, 30, NOW + 4 * DAY, &r3), TL_OK);
    uint32_t count, newest;
    assert_int_equal(tl_cal_history(dir, "P123", &count, &newest), TL_OK);
    assert_int_equal(count, 3);
    assert_int_equal(newest, 3);
    assert_int_equal(tl_cal_check(dir, "P123", NOW + 5 * DAY, &s, &rec), TL_OK);
    assert_int_equal(s, TL_CAL_VALID);
    /* ... until it expires */
    assert_int_equal(tl_cal_check(dir, "P123", NOW + 40 * DAY, &s, &rec), TL_OK);
    assert_int_equal(s, TL_CAL_EXPIRED);
    char msg[200];
    tl_cal_state_message(s, "P123", msg, sizeof msg);
    assert_non_null(strstr(msg, "expired"));
    /* no temporary files are left behind */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s/P123' | grep -v '^cal-00000[123].json$')\"", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_apply_only_to_its_probe(void **state)
{
    const char *dir = *state;
    tl_cal_procedure sp = { "spatial", SPATIAL, true };
    tl_cal_record r;
    assert_int_equal(tl_cal_store_write(dir, "AAA1", "L12", "ann", &sp, 30, NOW, &r), TL_OK);
    tl_geometry g = tl_geometry_default_linear(), g0 = g;
    float off = 0;
    assert_int_equal(tl_cal_apply(&r, "BBB2", NOW, &g, &off), TL_ERR_CALIBRATION);
    assert_memory_equal(&g, &g0, sizeof g);
    assert_int_equal(tl_cal_apply(&r, "AAA1", NOW + 31 * DAY, &g, &off), TL_ERR_CALIBRATION);
    assert_int_equal(tl_cal_apply(&r, "AAA1", NOW, &g, &off), TL_OK);
    assert_float_equal(g.c_m_s, 1540.0f * 1.03f, 0.01f);
    assert_float_equal(off, 0.4f, 1e-6f);
    float x, z;
    tl_cal_correct_point(&r, 1.0f, 10.0f, &x, &z);
    assert_float_equal(x, 1.4f, 1e-5f);
    assert_float_equal(z, 10.31f, 1e-5f);

    /* another probe has nothing */
    tl_cal_state s;
    tl_cal_record rec;
    assert_int_equal(tl_cal_check(dir, "BBB2", NOW, &s, &rec), TL_OK);
    assert_int_equal(s, TL_CAL_MISSING);
    assert_int_equal(rec.has_spatial, false);
    /* a record copied into another probe's folder is recognised, never valid */
    char d2[256], p2[300];
    snprintf(d2, sizeof d2, "%s/BBB2", dir);
    assert_int_equal(mkdir(d2, 0755), 0);
    snprintf(p2, sizeof p2, "%s/cal-000001.json", d2);
    char *text = read_all(r.path);
    write_text(p2, text);
    free(text);
    assert_int_equal(tl_cal_check(dir, "BBB2", NOW, &s, &rec), TL_OK);
    assert_int_equal(s, TL_CAL_MISMATCH);
    assert_int_equal(tl_cal_apply(&rec, "BBB2", NOW, &g, &off), TL_ERR_CALIBRATION);
    /* and writing BBB2's own calibration does not carry AAA1's results over */
    tl_cal_procedure el = { "elements", "{\"results\":{\"dead\":[],\"weak\":[]}}", true };
    tl_cal_record r2;
    assert_int_equal(tl_cal_store_write(dir, "BBB2", "L12", "ann", &el, 30, NOW, &r2), TL_OK);
    assert_int_equal(r2.version, 2);
    assert_false(r2.has_spatial);
    assert_string_equal(r2.serial, "BBB2");
}

static void test_bad_input(void **state)
{
    const char *dir = *state;
    tl_cal_procedure sp = { "spatial", SPATIAL, true };
    tl_cal_record r;
    assert_int_equal(tl_cal_store_write(dir, "../etc", "L", "t", &sp, 30, NOW, &r), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_cal_store_write(dir, "", "L", "t", &sp, 30, NOW, &r), TL_ERR_INVALID_ARG);
    tl_cal_procedure bad = { "spatial", "not json", true };
    assert_int_equal(tl_cal_store_write(dir, "C1", "L", "t", &bad, 30, NOW, &r), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_cal_store_write(dir, "C1", "L", "t", &sp, 0, NOW, &r), TL_ERR_INVALID_ARG);
    /* a corrupt newest version: the older readable one decides */
    assert_int_equal(tl_cal_store_write(dir, "C1", "L", "t", &sp, 30, NOW, &r), TL_OK);
    char p[300];
    snprintf(p, sizeof p, "%s/C1/cal-000002.json", dir);
    write_text(p, "{\"schema\":1,\"version\":2,");
    tl_cal_state s;
    tl_cal_record rec;
    assert_int_equal(tl_cal_check(dir, "C1", NOW, &s, &rec), TL_OK);
    assert_int_equal(s, TL_CAL_VALID);
    assert_int_equal(rec.version, 1);
    assert_int_equal(tl_cal_record_read(p, &rec), TL_ERR_FORMAT);
    /* only corrupt files: corrupt */
    snprintf(p, sizeof p, "%s/C1/cal-000001.json", dir);
    write_text(p, "garbage");
    assert_int_equal(tl_cal_check(dir, "C1", NOW, &s, &rec), TL_OK);
    assert_int_equal(s, TL_CAL_CORRUPT);
    /* a field out of range is not accepted */
    write_text(p, "{\"schema\":1,\"version\":1,\"serial\":\"C1\",\"model\":\"\",\"technician\":\"\","
                  "\"created_s\":5,\"expires_s\":3,\"pass\":true,\"procedures\":{}}");
    assert_int_equal(tl_cal_record_read(p, &rec), TL_ERR_FORMAT);
    /* the next write does not overwrite either bad file */
    assert_int_equal(tl_cal_store_write(dir, "C1", "L", "t", &sp, 30, NOW, &r), TL_OK);
    assert_int_equal(r.version, 3);
    assert_int_equal(tl_cal_check(dir, "C1", NOW, &s, &rec), TL_OK);
    assert_int_equal(s, TL_CAL_VALID);
    /* unwritable store: a clear error */
    if (geteuid() != 0) {
        char ro[300];
        snprintf(ro, sizeof ro, "%s/ro", dir);
        assert_int_equal(mkdir(ro, 0555), 0);
        assert_int_not_equal(tl_cal_store_write(ro, "C2", "L", "t", &sp, 30, NOW, &r), TL_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_versions_and_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_only_to_its_probe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
