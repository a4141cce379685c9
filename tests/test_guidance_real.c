/* The detector on real B-mode frames from other systems (../shared/data):
 * an in-vivo musculoskeletal clip (fibrillar tissue over bone) and a wire
 * phantom, both needle-free: no needle may be reported. There are no real
 * needle images with a usable licence in shared/data, so a needle echo is
 * implanted into the real in-vivo frames (as bright as the image's own
 * brightest echoes, with a blurred tip) to check that the real texture
 * does not hide or displace it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_guidance.h"
#include "tl_recording.h"

#define DEG (3.14159265358979 / 180.0)

static char *data_path(const char *name)
{
    const char *root = getenv("TALUS_SHARED_DATA");
    if (!root) {
        fprintf(stderr, "TALUS_SHARED_DATA is not set (ctest sets it)\n");
        return NULL;
    }
    size_t n = strlen(root) + strlen(name) + 8;
    char *p = malloc(n);
    snprintf(p, n, "%s/plus/%s", root, name);
    return p;
}

/* Count frames (every `step`-th) where a needle is reported. */
static int false_needles(const char *file, float spacing, uint32_t step, uint32_t *frames)
{
    char *path = data_path(file);
    assert_non_null(path);
    tl_recording *r = NULL;
    assert_int_equal(tl_recording_open(path, &r), TL_OK);
    free(path);
    tl_recording_info info;
    tl_recording_get_info(r, &info);
    tl_needle_detector *d = NULL;
    assert_int_equal(tl_needle_detector_create(NULL, &d), TL_OK);
    int found = 0;
    *frames = 0;
    for (uint32_t i = 0; i < info.frames; i += step) {
        tl_frame f;
        assert_int_equal(tl_recording_read(r, i, &f), TL_OK);
        tl_bmode img = { .width = info.width, .height = info.height, .stride = info.width,
                         .spacing_mm = spacing, .pixels = f.data };
        tl_needle_detection det;
        assert_int_equal(tl_needle_detect(d, &img, NULL, &det), TL_OK);
        if (det.found)
            printf("  %s frame %u at %.3f mm/px: needle? tip (%.1f, %.1f) %.1f deg conf %.2f\n",
                   file, i, spacing, det.tip_x_mm, det.tip_z_mm, det.angle_deg, det.confidence);
        found += det.found;
        (*frames)++;
    }
    tl_needle_detector_destroy(d);
    tl_recording_close(r);
    return found;
}

static void test_no_needle_in_real_frames(void **state)
{
    (void)state;
    /* this clip is ~37 mm wide (465 px): ~0.08 mm/px; +-25% */
    const float spacings[] = { 0.06f, 0.08f, 0.10f };
    for (int s = 0; s < 3; s++) {
        uint32_t n1, n2;
        int f1 = false_needles("BoneUltrasound_L14.igs.mha", spacings[s], 1, &n1);
        int f2 = false_needles("fCal_Test_Calibration_3NWires_fCal2.0.igs.mha", spacings[s], 3, &n2);
        printf("  %.2f mm/px: %d of %u in-vivo frames, %d of %u phantom frames with a needle\n",
               spacings[s], f1, n1, f2, n2);
        assert_int_equal(n1, 21);
        assert_true(n2 >= 60);
        assert_int_equal(f1, 0);
        assert_int_equal(f2, 0);
    }
}

/* Paint a needle echo from the left edge of the scanned area (column c0) at
 * angle a down to (tx, tz) (pixels): a thin line as bright as the image's
 * 99.5th percentile, blended by a Gaussian profile, with its tip blurred
 * over ~0.2 mm like a real beam would. */
static void implant(uint8_t *px, uint32_t w, uint32_t h, float sp, int c0, float a_deg, float tx,
                    float tz)
{
    uint32_t hist[256] = { 0 };
    for (size_t i = 0; i < (size_t)w * h; i++)
        hist[px[i]]++;
    uint32_t acc = 0, lvl = 255;
    for (uint32_t v = 0; v < 256; v++) {
        acc += hist[v];
        if (acc >= (uint32_t)((double)w * h * 0.995)) {
            lvl = v;
            break;
        }
    }
    double ux = cos(a_deg * DEG), uz = sin(a_deg * DEG);
    double sig = 0.08 / sp, sig_end = 0.1 / sp;
    for (uint32_t r = 0; r < h; r++)
        for (uint32_t c = (uint32_t)c0; c < w; c++) {
            double dx = c - tx, dz = r - tz;
            double t = dx * ux + dz * uz;     /* along, 0 at the tip, < 0 on the shaft */
            double d = -dx * uz + dz * ux;    /* across */
            if (fabs(d) > 4 * sig || t > 4 * sig_end)
                continue;
            double along = 0.5 * erfc(t / (1.4142 * sig_end));
            double wgt = exp(-0.5 * d * d / (sig * sig)) * along;
            double v = px[(size_t)r * w + c] * (1 - wgt) + lvl * wgt;
            px[(size_t)r * w + c] = (uint8_t)(v + 0.5);
        }
}

static void test_implanted_needle_in_real_tissue(void **state)
{
    (void)state;
    char *path = data_path("BoneUltrasound_L14.igs.mha");
    assert_non_null(path);
    tl_recording *r = NULL;
    assert_int_equal(tl_recording_open(path, &r), TL_OK);
    free(path);
    tl_recording_info info;
    tl_recording_get_info(r, &info);
    uint32_t w = info.width, h = info.height;
    uint8_t *px = malloc((size_t)w * h);
    assert_non_null(px);
    tl_needle_detector *d = NULL;
    assert_int_equal(tl_needle_detector_create(NULL, &d), TL_OK);
    const float sp = 0.08f;
    const int c0 = 177; /* left edge of the scanned area in this clip */
    const float angles[] = { 15.0f, 30.0f, 45.0f };
    const uint32_t frames[] = { 0, 10, 20 };
    int found = 0, good_tip = 0, good_angle = 0;
    for (int ai = 0; ai < 3; ai++)
        for (int fi = 0; fi < 3; fi++) {
            tl_frame f;
            assert_int_equal(tl_recording_read(r, frames[fi], &f), TL_OK);
            memcpy(px, f.data, (size_t)w * h);
            float a = angles[ai];
            /* a 14 mm shaft entering at 3 mm depth */
            float tx = c0 + (float)(14.0 * cos(a * DEG) / sp);
            float tz = (float)((3.0 + 14.0 * sin(a * DEG)) / sp);
            implant(px, w, h, sp, c0, a, tx, tz);
            tl_bmode img = { .width = w, .height = h, .stride = w, .spacing_mm = sp,
                             .pixels = px };
            tl_needle_detection det;
            assert_int_equal(tl_needle_detect(d, &img, NULL, &det), TL_OK);
            if (getenv("TL_DUMP_IMPLANT"))
                tl_png_write(getenv("TL_DUMP_IMPLANT"), px, w, h, w, 1);
            float err = hypotf(det.tip_x_mm - tx * sp, det.tip_z_mm - tz * sp);
            printf("  frame %u, %.0f deg: found %d tip (%.2f, %.2f) truth (%.2f, %.2f) error %.2f mm angle error %.2f deg "
                   "conf %.2f\n",
                   frames[fi], a, det.found, det.tip_x_mm, det.tip_z_mm, tx * sp, tz * sp, err, det.angle_deg - a, det.confidence);
            found += det.found;
            good_tip += det.found && err < 0.5f;
            good_angle += det.found && fabsf(det.angle_deg - a) < 1.0f;
        }
    printf("  implanted: found %d/9, tip < 0.5 mm %d/9, angle < 1 deg %d/9\n", found,
           good_tip, good_angle);
    /* Measured: found 7/9, tip 5/9, angle 6/9. The misses are the 15 degree
     * shafts, which run into a superficial fascia band at nearly their own
     * angle: the tip is placed where the shaft merges with the band (see
     * docs/accuracy.md, Needle). */
    assert_true(found >= 6);
    assert_true(good_tip >= 4);
    assert_true(good_angle >= 5);
    tl_needle_detector_destroy(d);
    tl_recording_close(r);
    free(px);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_needle_in_real_frames),
        cmocka_unit_test(test_implanted_needle_in_real_tissue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
