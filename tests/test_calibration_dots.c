/* calibration: wire dots in B-mode frames. Synthetic dots at known positions
 * are found to sub-pixel precision; the real fCal N-wire phantom frames give
 * 9 dots in >= 90 % of the frames; frames with no phantom give none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_calibration.h"
#include "tl_recording.h"

static void blob(uint8_t *img, uint32_t w, uint32_t h, float cx, float cy, float amp)
{
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            float dx = ((float)x - cx) / 6.0f, dy = ((float)y - cy) / 2.5f;
            float v = img[y * w + x] + amp * expf(-(dx * dx + dy * dy));
            img[y * w + x] = (uint8_t)(v > 255 ? 255 : v);
        }
}

static void test_synthetic_layers(void **state)
{
    (void)state;
    const uint32_t w = 400, h = 300;
    uint8_t *img = calloc(w, h);
    /* three layers of three, slightly tilted, plus a big bright band (a
     * phantom wall: not a wire) and a lone speck */
    const float xs[3][3] = { { 80, 190, 320 }, { 70, 230, 330 }, { 90, 150, 300 } };
    const float ys[3] = { 60, 140, 220 };
    for (int l = 0; l < 3; l++)
        for (int k = 0; k < 3; k++)
            blob(img, w, h, xs[l][k], ys[l] + 0.05f * xs[l][k], 180);
    for (uint32_t x = 20; x < 380; x++)
        for (uint32_t y = 270; y < 276; y++)
            img[y * w + x] = 220;
    blob(img, w, h, 200, 100, 60);
    tl_cal_dot d[9];
    uint32_t n;
    assert_int_equal(tl_cal_find_dots(img, w, h, w, NULL, 9, d, &n), TL_OK);
    assert_int_equal(n, 9);
    for (int l = 0; l < 3; l++)
        for (int k = 0; k < 3; k++) {
            const tl_cal_dot *p = &d[3 * l + k];
            assert_true(fabsf(p->x - xs[l][k]) < 0.5f);
            assert_true(fabsf(p->y - (ys[l] + 0.05f * xs[l][k])) < 0.5f);
        }
    /* one dot of the middle layer missing: that layer cannot be complete */
    memset(img, 0, (size_t)w * h);
    for (int l = 0; l < 3; l++)
        for (int k = 0; k < 3; k++)
            if (!(l == 1 && k == 1))
                blob(img, w, h, xs[l][k], ys[l], 180);
    assert_int_equal(tl_cal_find_dots(img, w, h, w, NULL, 9, d, &n), TL_OK);
    assert_true(n < 9);
    assert_int_equal(tl_cal_find_dots(img, w, h, w, NULL, 0, d, &n), TL_ERR_INVALID_ARG);
    free(img);
}

static uint32_t complete_frames(const char *name, uint32_t *frames)
{
    const char *root = getenv("TALUS_SHARED_DATA");
    assert_non_null(root);
    char path[4096];
    snprintf(path, sizeof path, "%s/plus/%s", root, name);
    tl_recording *r;
    assert_int_equal(tl_recording_open(path, &r), TL_OK);
    tl_recording_info in;
    tl_recording_get_info(r, &in);
    uint32_t all = 0;
    for (uint32_t i = 0; i < in.frames; i++) {
        tl_frame f;
        assert_int_equal(tl_recording_read(r, i, &f), TL_OK);
        tl_cal_dot d[9];
        uint32_t n;
        assert_int_equal(tl_cal_find_dots(f.data, in.width, in.height, in.width, NULL, 9, d, &n), TL_OK);
        if (n == 9) {
            all++;
            /* three layers top to bottom, well apart */
            assert_true(d[0].y < d[3].y && d[3].y < d[6].y);
            assert_true(d[0].x < d[1].x && d[1].x < d[2].x);
        }
    }
    *frames = in.frames;
    tl_recording_close(r);
    return all;
}

static void test_fcal_frames(void **state)
{
    (void)state;
    uint32_t frames;
    uint32_t all = complete_frames("fCal_Test_Calibration_3NWires_fCal2.0.igs.mha", &frames);
    assert_int_equal(frames, 190);
    assert_true(all * 10 >= frames * 9);
    /* in-vivo bone: no N-wire pattern */
    all = complete_frames("BoneUltrasound_L14.igs.mha", &frames);
    assert_int_equal(all, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synthetic_layers),
        cmocka_unit_test(test_fcal_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
