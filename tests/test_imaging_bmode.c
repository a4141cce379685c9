/* imaging: `talus bmode` on PLUS's real Ultrasonix RF (RF_I_LINE_Q_LINE,
 * orientation NM, clipped samples) reproduces PLUS's own B-mode of the same
 * frame: normalised cross-correlation >= 0.80 over its image region after
 * resizing our PNG onto it. Plus the command's error handling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tl_cv.h"
#include "tl_imaging.h"
#include "tl_recording.h"

static char tmpdir[256];

static int run(const char *args)
{
    const char *bin = getenv("TALUS_BIN");
    assert_non_null(bin);
    char cmd[8192];
    int n = snprintf(cmd, sizeof cmd, "'%s' %s 2>>'%s/stderr.txt' >/dev/null", bin, args, tmpdir);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc));
    return WEXITSTATUS(rc);
}

static const char *data_path(const char *name)
{
    static char path[4096];
    const char *dir = getenv("TALUS_SHARED_DATA");
    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/plus/%s", dir, name);
    return path;
}

static double ncc(const uint8_t *a, const uint8_t *b, size_t n)
{
    double ma = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= n;
    mb /= n;
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / sqrt(saa * sbb);
}

static void test_rf_matches_plus_bmode(void **state)
{
    (void)state;
    char args[8192], out[512];
    snprintf(out, sizeof out, "%s/x.png", tmpdir);
    snprintf(args, sizeof args, "bmode '%s' -o '%s'", data_path("UltrasonixLinearRfData.igs.mha"),
             out);
    assert_int_equal(run(args), 0);
    uint8_t *x = NULL;
    uint32_t w, h;
    assert_int_equal(tl_png_read(out, 1, &x, &w, &h), TL_OK);
    assert_true(w > 100 && h > 100);

    tl_recording *rec = NULL;
    assert_int_equal(tl_recording_open(data_path("UltrasonixLinearScanConvertedData.igs.mha"),
                                       &rec), TL_OK);
    tl_frame fr;
    assert_int_equal(tl_recording_read(rec, 0, &fr), TL_OK);
    assert_int_equal(fr.geom.lines, 260); /* width */
    /* PLUS's image region: rows 15..284, columns 25..214. */
    enum { R0 = 15, C0 = 25, RH = 270, RW = 190 };
    uint8_t ref[RH * RW], ours[RH * RW];
    for (int r = 0; r < RH; r++)
        memcpy(ref + r * RW, (const uint8_t *)fr.data + (size_t)(R0 + r) * 260 + C0, RW);
    tl_cv_image src = { x, w, h, w, TL_CV_U8 }, dst = { ours, RW, RH, RW, TL_CV_U8 };
    assert_int_equal(tl_cv_resize(&src, &dst), TL_OK);
    double c = ncc(ours, ref, RH * RW);
    printf("NCC with PLUS's B-mode: %.3f\n", c);
    assert_true(c >= 0.80);

    /* Near field must be at the top: flipping our image upside down (as if
     * the NM orientation were ignored) must correlate far worse. */
    uint8_t flip[RH * RW];
    for (int r = 0; r < RH; r++)
        memcpy(flip + r * RW, ours + (RH - 1 - r) * RW, RW);
    assert_true(ncc(flip, ref, RH * RW) < 0.3);
    tl_recording_close(rec);
    free(x);
}

static void test_brightness_frames_pass_through(void **state)
{
    (void)state;
    char args[8192], out[512];
    snprintf(out, sizeof out, "%s/bone.png", tmpdir);
    snprintf(args, sizeof args, "bmode '%s' --frame 3 -o '%s'",
             data_path("BoneUltrasound_L14.igs.mha"), out);
    assert_int_equal(run(args), 0);
    uint8_t *x = NULL;
    uint32_t w, h;
    assert_int_equal(tl_png_read(out, 1, &x, &w, &h), TL_OK);
    tl_recording *rec = NULL;
    assert_int_equal(tl_recording_open(data_path("BoneUltrasound_L14.igs.mha"), &rec), TL_OK);
    tl_frame fr;
    assert_int_equal(tl_recording_read(rec, 3, &fr), TL_OK);
    assert_int_equal(w, fr.geom.lines);
    assert_int_equal(h, fr.geom.samples);
    assert_memory_equal(x, fr.data, (size_t)w * h); /* MF: nothing to flip */
    tl_recording_close(rec);
    free(x);
}

static void test_bad_input_gives_clear_errors(void **state)
{
    (void)state;
    char args[8192], out[512], bad[512];
    snprintf(out, sizeof out, "%s/none.png", tmpdir);
    snprintf(args, sizeof args, "bmode '%s/missing.mha' -o '%s'", tmpdir, out);
    assert_int_equal(run(args), 1);
    snprintf(args, sizeof args, "bmode '%s' --frame 7 -o '%s'",
             data_path("UltrasonixLinearRfData.igs.mha"), out);
    assert_int_equal(run(args), 2);
    snprintf(args, sizeof args, "bmode '%s' --dynamic-range abc -o '%s'",
             data_path("UltrasonixLinearRfData.igs.mha"), out);
    assert_int_equal(run(args), 2);
    snprintf(args, sizeof args, "bmode '%s'", data_path("UltrasonixLinearRfData.igs.mha"));
    assert_int_equal(run(args), 2);
    /* A truncated copy of the RF file. */
    snprintf(bad, sizeof bad, "%s/short.mha", tmpdir);
    FILE *in = fopen(data_path("UltrasonixLinearRfData.igs.mha"), "rb");
    FILE *o = fopen(bad, "wb");
    assert_non_null(in);
    assert_non_null(o);
    char buf[4096];
    size_t total = 0, n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0 && total < 600000) {
        fwrite(buf, 1, n, o);
        total += n;
    }
    fclose(in);
    fclose(o);
    snprintf(args, sizeof args, "bmode '%s' -o '%s'", bad, out);
    assert_int_equal(run(args), 1);
    assert_int_equal(access(out, F_OK), -1); /* nothing half-written */
    snprintf(args, sizeof args, "bmode --help");
    assert_int_equal(run(args), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/talus-test-bmode-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rf_matches_plus_bmode),
        cmocka_unit_test(test_brightness_frames_pass_through),
        cmocka_unit_test(test_bad_input_gives_clear_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
