/* tl_analysis through the real pipeline and on real data, via the talus
 * binary: a small `talus eval tissue` (loose bounds; the full figures are
 * in docs/accuracy.md) and `talus analyze` on every image in the shared
 * data (no crash, one JSON object, the bone surface found in the in-vivo
 * MSK frames). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *bin(void)
{
    const char *b = getenv("TALUS_BIN");
    return b ? b : "talus";
}

/* Run a command, return its stdout (malloc'd) and exit status. */
static char *run(const char *cmd, int *status)
{
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t k;
    while ((k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n + 1 >= cap)
            buf = realloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    int st = pclose(f);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return buf;
}

/* Run a command that must exit 0 and print one JSON object; returns it. */
static cJSON *run_json(const char *cmd)
{
    int st = 0;
    char *out = run(cmd, &st);
    assert_int_equal(st, 0);
    cJSON *j = cJSON_Parse(out);
    free(out);
    assert_non_null(j);
    return j;
}

static double num(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        x = cJSON_GetObjectItemCaseSensitive(x, b);
    assert_true(cJSON_IsNumber(x));
    return x->valuedouble;
}

static void test_small_eval(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s eval tissue --anatomy all --cases 12 --seed 5 --json 2>/dev/null", bin());
    cJSON *j = run_json(cmd);
    assert_int_equal((int)num(j, "cases", NULL), 12);
    assert_int_equal((int)num(j, "failed_cases", NULL), 0);
    assert_true(num(j, "structure_found_rate", NULL) >= 0.75);
    assert_true(num(j, "thickness_abs_err_mm", "median") <= 1.0);
    assert_true(num(j, "abnormal_accuracy", NULL) >= 0.6);
    const cJSON *pa = cJSON_GetObjectItemCaseSensitive(j, "per_anatomy");
    assert_non_null(cJSON_GetObjectItemCaseSensitive(pa, "plantar-fascia"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(pa, "achilles"));
    assert_non_null(cJSON_GetObjectItemCaseSensitive(pa, "ankle-recess"));
    /* the speed over the cases: one warm CPU figure per case, ordered (no
     * bound on time here: benches measure speed) */
    assert_int_equal((int)num(j, "analysis_cpu_ms", "n"), 12);
    assert_true(num(j, "analysis_cpu_ms", "median") > 0);
    assert_true(num(j, "analysis_cpu_ms", "median") <= num(j, "analysis_cpu_ms", "p95"));
    assert_true(num(j, "analysis_cpu_ms", "p95") <= num(j, "analysis_cpu_ms", "max"));
    cJSON_Delete(j);
}

/* Width (px) of a PNG, from its IHDR chunk; 0 when unreadable. */
static unsigned png_width(const char *path)
{
    unsigned char h[24];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(h, 1, sizeof h, f);
    fclose(f);
    return n == sizeof h ? (unsigned)h[16] << 24 | (unsigned)h[17] << 16 | (unsigned)h[18] << 8 | h[19]
                         : 0;
}

/* Anisotropy on a simulated heel frame (`talus sim render`, then `talus
 * analyze`): the untilted fascia curves away from the beam far from its
 * insertion (5-8 deg and darker there), which must not ask to tilt the
 * probe; a probe tilted 6 deg darkens the band at the insertion, which
 * must, with the angle measured there (6 +/- 2 deg). */
static void test_anisotropy_on_sim_heel(void **state)
{
    (void)state;
    char png[] = "/tmp/talus_aniso_XXXXXX.png";
    int fd = mkstemps(png, 4);
    assert_true(fd >= 0);
    close(fd);
    for (int seed = 1; seed <= 3; seed++)
        for (int tilt = 0; tilt <= 6; tilt += 6) {
            char cmd[1024];
            snprintf(cmd, sizeof cmd,
                     "%s sim render plantar-fascia --seed %d --param anisotropy_deg=%d -o %s "
                     ">/dev/null 2>&1", bin(), seed, tilt, png);
            assert_int_equal(system(cmd), 0);
            unsigned w = png_width(png);
            assert_true(w > 100);
            /* the preset's probe: 128 lines 0.3 mm apart across the image */
            snprintf(cmd, sizeof cmd,
                     "%s analyze %s --spacing-mm %.6f --anatomy plantar-fascia --json 2>/dev/null",
                     bin(), png, 38.4 / w);
            cJSON *j = run_json(cmd);
            assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "structure_found")));
            const cJSON *an = cJSON_GetObjectItemCaseSensitive(j, "anisotropy");
            const cJSON *ws = cJSON_GetObjectItemCaseSensitive(j, "warnings"), *wv;
            float deg = -1;
            cJSON_ArrayForEach(wv, ws)
            {
                const char *t = cJSON_GetStringValue(wv);
                const char *k = t ? strstr(t, "fibres ") : NULL;
                if (k && strstr(t, "tilt the probe"))
                    deg = strtof(k + 7, NULL);
            }
            if (tilt == 0) {
                assert_true(cJSON_IsFalse(an));
                assert_true(deg < 0);
            } else {
                assert_true(cJSON_IsTrue(an));
                assert_true(deg >= 4.0f && deg <= 8.0f);
            }
            cJSON_Delete(j);
        }
    unlink(png);
}

/* Perifascial fluid where the tissue under it is only 1-1.5 dB above the
 * display floor (eval cases 11 and 112 of seed 2027, plantar only: a
 * 10 x 1.2 mm anechoic layer under the fascia, the tissue 2.5-6 mm deeper
 * at 7-16 times the fluid's grey): found, through sim -> imaging ->
 * analysis. */
static void test_fluid_at_display_floor(void **state)
{
    (void)state;
    static const int cases[] = { 11, 112 };
    for (int i = 0; i < 2; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "%s eval tissue --anatomy plantar-fascia --cases 300 --seed 2027 --case %d --json "
                 "2>/dev/null", bin(), cases[i]);
        cJSON *j = run_json(cmd);
        assert_int_equal((int)num(j, "lesions", NULL), 1);
        assert_true(num(j, "lesion_sensitivity_all", NULL) == 1.0);
        cJSON_Delete(j);
    }
}

static void test_bone_in_real_msk_frames(void **state)
{
    (void)state;
    const char *data = getenv("TALUS_SHARED_DATA");
    if (!data)
        data = "../shared/data";
    for (int frame = 0; frame <= 20; frame += 10) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "%s analyze %s/plus/BoneUltrasound_L14.igs.mha --frame %d --spacing-mm 0.1 "
                 "--anatomy achilles --overlay /tmp/talus_test_analysis_%d.png --json",
                 bin(), data, frame, frame);
        cJSON *j = run_json(cmd);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "bone_found")));
        /* the bright bone dome of this image: its top lies 24-30 mm deep,
         * around the middle of the image */
        const cJSON *bone = cJSON_GetObjectItemCaseSensitive(j, "bone_surface");
        int on_dome = 0;
        const cJSON *pt;
        cJSON_ArrayForEach(pt, bone) {
            double x = cJSON_GetArrayItem(pt, 0)->valuedouble, z = cJSON_GetArrayItem(pt, 1)->valuedouble;
            if (x > 30 && x < 45 && z > 24 && z < 31)
                on_dome++;
        }
        assert_true(on_dome >= 5);
        char path[64];
        snprintf(path, sizeof path, "/tmp/talus_test_analysis_%d.png", frame);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        fclose(f);
        remove(path);
        cJSON_Delete(j);
    }
}

static void test_every_shared_image(void **state)
{
    (void)state;
    const char *data = getenv("TALUS_SHARED_DATA");
    if (!data)
        data = "../shared/data";
    static const char *const files[] = {
        "plus/BoneUltrasound_L14.igs.mha", "plus/fCal_Test_Calibration_3NWires_fCal2.0.igs.mha",
        "plus/NwirePhantomFreehandCropped.igs.mha", "plus/SyntheticVideoBuffer20.igs.mha",
        "plus/UltrasonixLinearRfData.igs.mha", "plus/UltrasonixLinearScanConvertedData.igs.mha",
        "itk/TreeBarkTexture.png",
    };
    static const char *const anat[] = { "plantar-fascia", "achilles", "ankle-recess" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        for (int k = 0; k < 3; k++) {
            char cmd[1024];
            snprintf(cmd, sizeof cmd, "%s analyze %s/%s --spacing-mm 0.1 --anatomy %s --json 2>/dev/null",
                     bin(), data, files[i], anat[k]);
            cJSON *j = run_json(cmd);
            /* one object with the contract's fields; a thickness only with a structure */
            assert_true(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(j, "structure_found")));
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "thickness_mm");
            if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "structure_found")))
                assert_true(cJSON_IsNull(t));
            else if (cJSON_IsNumber(t))
                assert_true(t->valuedouble >= 0 && t->valuedouble < 20);
            assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "targets")));
            assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "warnings")));
            cJSON_Delete(j);
        }
    /* bad input: a clear error, not a crash */
    char cmd[512];
    int st = 0;
    snprintf(cmd, sizeof cmd, "%s analyze /nonexistent.png --spacing-mm 0.1 --anatomy achilles --json 2>/dev/null", bin());
    free(run(cmd, &st));
    assert_int_equal(st, 1);
    snprintf(cmd, sizeof cmd, "%s analyze x.png --anatomy knee --json 2>/dev/null", bin());
    free(run(cmd, &st));
    assert_int_equal(st, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_eval),
        cmocka_unit_test(test_bone_in_real_msk_frames),
        cmocka_unit_test(test_anisotropy_on_sim_heel),
        cmocka_unit_test(test_fluid_at_display_floor),
        cmocka_unit_test(test_every_shared_image),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
