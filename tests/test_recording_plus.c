/* recording: every PLUS sample file in ../shared/data/plus opens with the
 * right dimensions, type and orientation, and every frame decodes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_recording.h"

static void data_path(char *buf, size_t n, const char *name)
{
    const char *root = getenv("TALUS_SHARED_DATA");
    assert_non_null(root);   /* ctest sets it: a missing data dir is a failure */
    snprintf(buf, n, "%s/plus/%s", root, name);
}

typedef struct {
    const char *file;
    uint32_t w, h, frames;
    tl_image_type type;
    const char *elem;
    const char *orient_norm;
    bool compressed;
} expect;

static const expect files[] = {
    { "UltrasonixLinearRfData.igs.mha", 2080, 256, 1, TL_IMAGE_RF_I_LINE_Q_LINE, "MET_SHORT", "MN", false },
    { "UltrasonixLinearScanConvertedData.igs.mha", 260, 400, 1, TL_IMAGE_BRIGHTNESS, "MET_UCHAR", "MF", false },
    { "BoneUltrasound_L14.igs.mha", 820, 616, 21, TL_IMAGE_BRIGHTNESS, "MET_UCHAR", "MF", true },
    { "fCal_Test_Calibration_3NWires_fCal2.0.igs.mha", 820, 616, 190, TL_IMAGE_BRIGHTNESS, "MET_UCHAR", "MF", true },
    { "NwirePhantomFreehandCropped.igs.mha", 200, 150, 20, TL_IMAGE_BRIGHTNESS, "MET_UCHAR", "MF", true },
    { "SyntheticVideoBuffer20.igs.mha", 320, 240, 20, TL_IMAGE_BRIGHTNESS, "MET_UCHAR", "MF", true },
};

static void test_every_file(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        const expect *e = &files[k];
        char path[4096];
        data_path(path, sizeof path, e->file);
        tl_recording *r = NULL;
        tl_status st = tl_recording_open(path, &r);
        if (st != TL_OK)
            fail_msg("%s: %s", e->file, tl_strerror(st));
        tl_recording_info in;
        tl_recording_get_info(r, &in);
        assert_int_equal(in.width, e->w);
        assert_int_equal(in.height, e->h);
        assert_int_equal(in.frames, e->frames);
        assert_int_equal(in.type, e->type);
        assert_string_equal(in.element_type, e->elem);
        assert_string_equal(in.orientation.normalized, e->orient_norm);
        assert_int_equal(in.compressed, e->compressed);
        assert_int_equal(in.frame_bytes, (size_t)e->w * e->h * (e->type == TL_IMAGE_BRIGHTNESS ? 1 : 2));
        /* Every frame decodes, and frames differ where the file is a clip. */
        uint64_t prev_sum = 0;
        int differing = 0;
        for (uint32_t i = 0; i < in.frames; i++) {
            tl_frame f;
            st = tl_recording_read(r, i, &f);
            if (st != TL_OK)
                fail_msg("%s frame %u: %s", e->file, i, tl_strerror(st));
            assert_int_equal(f.data_bytes, in.frame_bytes);
            assert_int_equal(f.type, e->type);
            uint64_t sum = 0;
            const uint8_t *p = f.data;
            for (size_t j = 0; j < f.data_bytes; j += 97)
                sum += p[j];
            if (i > 0 && sum != prev_sum)
                differing++;
            prev_sum = sum;
        }
        if (in.frames > 2)
            assert_true(differing >= (int)in.frames / 2);
        tl_frame f;
        assert_int_equal(tl_recording_read(r, in.frames, &f), TL_ERR_INVALID_ARG);
        tl_recording_close(r);
    }
}

/* The RF file: 128 lines of 2080 I/Q samples, orientation NM (far first),
 * about 1165 samples clipped at +/-32767 (shared/data/README.md). */
static void test_rf_content(void **state)
{
    (void)state;
    char path[4096];
    data_path(path, sizeof path, "UltrasonixLinearRfData.igs.mha");
    tl_recording *r;
    assert_int_equal(tl_recording_open(path, &r), TL_OK);
    tl_recording_info in;
    tl_recording_get_info(r, &in);
    assert_int_equal(in.geom.lines, 128);
    assert_int_equal(in.geom.samples, 2080);
    assert_string_equal(in.orientation.name, "NM");
    assert_true(in.orientation.far_first);
    assert_false(in.orientation.lateral_reversed);
    tl_frame f;
    assert_int_equal(tl_recording_read(r, 0, &f), TL_OK);
    const int16_t *s = f.data;
    size_t clipped = 0;
    for (size_t i = 0; i < f.data_bytes / 2; i++)
        if (s[i] >= 32767 || s[i] <= -32767)
            clipped++;
    assert_in_range(clipped, 1000, 1400);
    assert_string_equal(tl_recording_frame_field(r, 0, "ImageStatus"), "OK");
    assert_null(tl_recording_frame_field(r, 0, "NoSuchField"));
    assert_string_equal(tl_recording_field(r, "UltrasoundImageType"), "RF_I_LINE_Q_LINE");
    tl_recording_close(r);
}

/* The scan-converted image is black outside rows 15..284, columns 25..214. */
static void test_bmode_content(void **state)
{
    (void)state;
    char path[4096];
    data_path(path, sizeof path, "UltrasonixLinearScanConvertedData.igs.mha");
    tl_recording *r;
    assert_int_equal(tl_recording_open(path, &r), TL_OK);
    tl_frame f;
    assert_int_equal(tl_recording_read(r, 0, &f), TL_OK);
    const uint8_t *p = f.data;
    uint64_t inside = 0, outside = 0;
    for (uint32_t y = 0; y < 400; y++)
        for (uint32_t x = 0; x < 260; x++) {
            bool in = y >= 15 && y <= 284 && x >= 25 && x <= 214;
            if (in)
                inside += p[y * 260 + x];
            else
                outside += p[y * 260 + x];
        }
    assert_int_equal(outside, 0);
    assert_true(inside > 270ull * 190 * 10);
    tl_recording_close(r);
}

/* Timestamps and frame numbers of the synthetic clip (0.5 s per frame step). */
static void test_frame_fields(void **state)
{
    (void)state;
    char path[4096];
    data_path(path, sizeof path, "SyntheticVideoBuffer20.igs.mha");
    tl_recording *r;
    assert_int_equal(tl_recording_open(path, &r), TL_OK);
    tl_frame f;
    assert_int_equal(tl_recording_read(r, 10, &f), TL_OK);
    assert_int_equal(f.seq, 10);
    assert_int_equal(f.t_device_us, 5500000);
    /* going back rewinds the zlib stream and gives the same pixels */
    uint8_t *copy = malloc(f.data_bytes);
    memcpy(copy, f.data, f.data_bytes);
    assert_int_equal(tl_recording_read(r, 3, &f), TL_OK);
    assert_int_equal(tl_recording_read(r, 10, &f), TL_OK);
    assert_memory_equal(copy, f.data, f.data_bytes);
    free(copy);
    tl_recording_info in;
    tl_recording_get_info(r, &in);
    assert_float_equal(in.spacing[0], 0.3, 1e-9);
    tl_recording_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_file),
        cmocka_unit_test(test_rf_content),
        cmocka_unit_test(test_bmode_content),
        cmocka_unit_test(test_frame_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
