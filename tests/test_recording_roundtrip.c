/* recording: write/read round trip of every image type, compressed or not,
 * LOCAL or .mhd + .raw; corrupt files give TL_ERR_FORMAT and never crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tl_recording.h"

typedef struct {
    char dir[256];
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/tl_rec_test_XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0)
        return -1;
    free(fx);
    return 0;
}

static size_t frame_bytes(tl_image_type t, const tl_geometry *g)
{
    size_t n = (size_t)g->lines * g->samples * tl_image_type_sample_bytes(t);
    return (t == TL_IMAGE_RF_IQ_LINE || t == TL_IMAGE_RF_I_LINE_Q_LINE) ? 2 * n : n;
}

static void fill(uint8_t *p, size_t n, uint32_t k)
{
    uint32_t x = 0x9e3779b9u * (k + 1);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        p[i] = (uint8_t)(x >> 7);
    }
}

static void roundtrip(const char *dir, const char *name, tl_image_type type, bool compress)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tl_geometry g = tl_geometry_default_linear();
    g.lines = 16;
    g.samples = 64;
    g.kind = TL_PROBE_CONVEX;
    g.radius_mm = 42.5f;
    g.depth_start_mm = 1.25f;
    tl_recording_write_options o = tl_recording_write_options_default();
    o.compress = compress;
    tl_recording_writer *w;
    assert_int_equal(tl_recording_writer_open(path, &g, type, &o, &w), TL_OK);
    assert_int_equal(tl_recording_writer_set_field(w, "ProbeSerial", "TLSIM0001"), TL_OK);
    assert_int_equal(tl_recording_writer_set_field(w, "DimSize", "1 2 3"), TL_ERR_INVALID_ARG);
    size_t n = frame_bytes(type, &g);
    uint8_t *buf = malloc(n);
    const uint32_t frames = 5;
    for (uint32_t k = 0; k < frames; k++) {
        fill(buf, n, k);
        tl_frame f = { .geom = g, .type = type, .seq = 100 + k,
                       .t_device_us = 1000000ull * k + 33333, .data = buf, .data_bytes = n };
        assert_int_equal(tl_recording_writer_add(w, &f), TL_OK);
        char v[32];
        snprintf(v, sizeof v, "%u", k * 7);
        assert_int_equal(tl_recording_writer_frame_field(w, "Marker", v), TL_OK);
    }
    tl_frame bad = { .geom = g, .type = type, .data = buf, .data_bytes = n - 1 };
    assert_int_equal(tl_recording_writer_add(w, &bad), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_recording_writer_frames(w), frames);
    assert_int_equal(tl_recording_writer_close(w), TL_OK);

    tl_recording *r;
    assert_int_equal(tl_recording_open(path, &r), TL_OK);
    tl_recording_info in;
    tl_recording_get_info(r, &in);
    assert_int_equal(in.frames, frames);
    assert_int_equal(in.type, type);
    assert_true(in.type_given);
    assert_true(in.geometry_known);
    assert_int_equal(in.compressed, compress);
    assert_int_equal(in.geom.kind, TL_PROBE_CONVEX);
    assert_int_equal(in.geom.lines, 16);
    assert_int_equal(in.geom.samples, 64);
    assert_float_equal(in.geom.radius_mm, 42.5, 1e-6);
    assert_float_equal(in.geom.depth_start_mm, 1.25, 1e-6);
    assert_float_equal(in.geom.fs_hz, g.fs_hz, 1.0);
    assert_string_equal(tl_recording_field(r, "ProbeSerial"), "TLSIM0001");
    /* read out of order: the zlib stream rewinds */
    const uint32_t order[] = { 3, 0, 4, 1, 2, 2 };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        uint32_t k = order[i];
        tl_frame f;
        assert_int_equal(tl_recording_read(r, k, &f), TL_OK);
        fill(buf, n, k);
        assert_int_equal(f.data_bytes, n);
        assert_memory_equal(f.data, buf, n);
        assert_int_equal(f.seq, 100 + k);
        assert_int_equal(f.t_device_us, 1000000ull * k + 33333);
        char v[32];
        snprintf(v, sizeof v, "%u", k * 7);
        assert_string_equal(tl_recording_frame_field(r, k, "Marker"), v);
    }
    tl_recording_close(r);
    free(buf);
}

static void test_roundtrip_types(void **state)
{
    fixture *fx = *state;
    roundtrip(fx->dir, "rf.mha", TL_IMAGE_RF_REAL, true);
    roundtrip(fx->dir, "rf_raw.mha", TL_IMAGE_RF_REAL, false);
    roundtrip(fx->dir, "iq.mha", TL_IMAGE_RF_IQ_LINE, true);
    roundtrip(fx->dir, "iqlines.mha", TL_IMAGE_RF_I_LINE_Q_LINE, false);
    roundtrip(fx->dir, "env.mha", TL_IMAGE_ENVELOPE, true);
    roundtrip(fx->dir, "b.mha", TL_IMAGE_BRIGHTNESS, true);
    roundtrip(fx->dir, "sep.mhd", TL_IMAGE_RF_REAL, false);
    roundtrip(fx->dir, "sepz.mhd", TL_IMAGE_RF_REAL, true);
    char p[512];
    struct stat sb;
    snprintf(p, sizeof p, "%s/sep.raw", fx->dir);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_size, 5 * 16 * 64 * 2);
}

/* Write a small valid file and return its bytes. */
static uint8_t *small_file(const char *dir, bool compress, size_t *len, size_t *header_len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/small%d.mha", dir, (int)compress);
    tl_geometry g = tl_geometry_default_linear();
    g.lines = 4;
    g.samples = 32;
    tl_recording_write_options o = tl_recording_write_options_default();
    o.compress = compress;
    tl_recording_writer *w;
    assert_int_equal(tl_recording_writer_open(path, &g, TL_IMAGE_RF_REAL, &o, &w), TL_OK);
    int16_t s[4 * 32];
    for (int k = 0; k < 3; k++) {
        fill((uint8_t *)s, sizeof s, (uint32_t)k);
        tl_frame f = { .geom = g, .type = TL_IMAGE_RF_REAL, .seq = (uint32_t)k, .data = s,
                       .data_bytes = sizeof s };
        assert_int_equal(tl_recording_writer_add(w, &f), TL_OK);
    }
    assert_int_equal(tl_recording_writer_close(w), TL_OK);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    rewind(fp);
    uint8_t *b = malloc(*len + 1);
    assert_int_equal(fread(b, 1, *len, fp), *len);
    fclose(fp);
    b[*len] = 0;
    char *e = strstr((char *)b, "ElementDataFile = LOCAL\n");
    assert_non_null(e);
    *header_len = (size_t)(e - (char *)b) + strlen("ElementDataFile = LOCAL\n");
    return b;
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, n, fp), n);
    fclose(fp);
}

/* Open and read every frame: the first error, or TL_OK. */
static tl_status open_read_all(const char *path)
{
    tl_recording *r;
    tl_status st = tl_recording_open(path, &r);
    if (st != TL_OK)
        return st;
    tl_recording_info in;
    tl_recording_get_info(r, &in);
    for (uint32_t i = 0; i < in.frames && st == TL_OK; i++) {
        tl_frame f;
        st = tl_recording_read(r, i, &f);
    }
    tl_recording_close(r);
    return st;
}

/* Replace the first occurrence of `from` in the header with `to`. */
static tl_status edited(const char *dir, const uint8_t *b, size_t len, size_t hl,
                        const char *from, const char *to)
{
    char *copy = malloc(len + 256);
    const char *at = strstr((const char *)b, from);
    assert_non_null(at);
    assert_true((size_t)(at - (const char *)b) < hl);
    size_t pre = (size_t)(at - (const char *)b);
    memcpy(copy, b, pre);
    memcpy(copy + pre, to, strlen(to));
    size_t rest = len - pre - strlen(from);
    memcpy(copy + pre + strlen(to), at + strlen(from), rest);
    char path[512];
    snprintf(path, sizeof path, "%s/edited.mha", dir);
    write_bytes(path, copy, pre + strlen(to) + rest);
    free(copy);
    return open_read_all(path);
}

static void test_corrupt_headers(void **state)
{
    fixture *fx = *state;
    size_t len, hl;
    uint8_t *b = small_file(fx->dir, false, &len, &hl);
    const char *d = fx->dir;
    /* a clean copy reads */
    assert_int_equal(edited(d, b, len, hl, "NDims = 3", "NDims = 3"), TL_OK);
    assert_int_equal(edited(d, b, len, hl, "NDims = 3", "NDims = 7"), TL_ERR_FORMAT);
    assert_int_equal(edited(d, b, len, hl, "NDims = 3", "NDims = x"), TL_ERR_FORMAT);
    assert_int_equal(edited(d, b, len, hl, "DimSize = 32 4 3", "DimSize = 32 4 4"), TL_ERR_FORMAT);
    assert_int_equal(edited(d, b, len, hl, "DimSize = 32 4 3", "DimSize = 32 4"), TL_ERR_FORMAT);
    assert_int_equal(edited(d, b, len, hl, "DimSize = 32 4 3", "DimSize = 32 -4 3"), TL_ERR_FORMAT);
    assert_int_equal(edited(d, b, len, hl, "DimSize = 32 4 3", "DimSize = 99999999999 4 3"), TL_ERR_FORMAT);
    assert_int_equal(edited(d, b, len, hl, "ElementType = MET_SHORT", "ElementType = MET_UCHAR"), TL_ERR_FORMAT);
    assert_int_equal(edited(d, b, len, hl, "ElementType = MET_SHORT", "ElementType = BOGUS"), TL_ERR_FORMAT);
    assert_int_equal(edited(d, b, len, hl, "ElementType = MET_SHORT", "ElementType = MET_FLOAT"), TL_ERR_UNSUPPORTED);
    assert_int_equal(edited(d, b, len, hl, "RF_REAL", "RF_SURREAL"), TL_ERR_FORMAT);
    assert_int_equal(edited(d, b, len, hl, "Orientation = FM", "Orientation = QQ"), TL_ERR_FORMAT);
    assert_int_equal(edited(d, b, len, hl, "Orientation = FM", "Orientation = MU"), TL_ERR_FORMAT);
    assert_int_equal(edited(d, b, len, hl, "TalusGeometry = linear 4", "TalusGeometry = linear 5"), TL_ERR_FORMAT);
    assert_int_equal(edited(d, b, len, hl, "Seq_Frame0002_FrameNumber", "Seq_Frame0009_FrameNumber"), TL_ERR_FORMAT);
    assert_int_equal(edited(d, b, len, hl, "Seq_Frame0001_Timestamp = 0", "Seq_Frame0001_Timestamp = zz"), TL_ERR_FORMAT);
    assert_int_equal(edited(d, b, len, hl, "ObjectType = Image", "ObjectType = Image\nNDims = 3"), TL_ERR_FORMAT);
    assert_int_equal(edited(d, b, len, hl, "ObjectType = Image", "ObjectType Image"), TL_ERR_FORMAT);
    assert_int_equal(edited(d, b, len, hl, "ElementDataFile = LOCAL", "ElementDataFile = missing.raw"), TL_ERR_NOT_FOUND);
    assert_int_equal(edited(d, b, len, hl, "ElementDataFile = LOCAL", "ElementDataFil = LOCAL"), TL_ERR_FORMAT);
    /* data shorter than DimSize promises */
    char path[512];
    snprintf(path, sizeof path, "%s/short.mha", fx->dir);
    write_bytes(path, b, len - 1);
    assert_int_equal(open_read_all(path), TL_ERR_FORMAT);
    write_bytes(path, b, hl / 2);
    assert_int_equal(open_read_all(path), TL_ERR_FORMAT);
    write_bytes(path, "", 0);
    assert_int_equal(open_read_all(path), TL_ERR_FORMAT);
    snprintf(path, sizeof path, "%s/none.mha", fx->dir);
    assert_int_equal(open_read_all(path), TL_ERR_NOT_FOUND);
    free(b);
}

static void test_corrupt_compressed(void **state)
{
    fixture *fx = *state;
    size_t len, hl;
    uint8_t *b = small_file(fx->dir, true, &len, &hl);
    char path[512];
    snprintf(path, sizeof path, "%s/z.mha", fx->dir);
    write_bytes(path, b, len);
    assert_int_equal(open_read_all(path), TL_OK);
    /* zlib data damaged in the middle: the frame read says so */
    uint8_t *c = malloc(len);
    memcpy(c, b, len);
    for (size_t i = hl + 4; i < len - 8; i += 3)
        c[i] ^= 0x5a;
    write_bytes(path, c, len);
    assert_int_equal(open_read_all(path), TL_ERR_FORMAT);
    /* CompressedDataSize larger than the file */
    write_bytes(path, b, len - 10);
    assert_int_equal(open_read_all(path), TL_ERR_FORMAT);
    /* Random byte flips anywhere: any status, never a crash or a leak. */
    uint32_t x = 12345;
    int ok = 0, bad = 0;
    for (int trial = 0; trial < 300; trial++) {
        memcpy(c, b, len);
        for (int k = 0; k < 3; k++) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            c[x % len] = (uint8_t)(x >> 9);
        }
        write_bytes(path, c, len);
        tl_status st = open_read_all(path);
        if (st == TL_OK)
            ok++;
        else
            bad++;
        assert_true(st == TL_OK || st == TL_ERR_FORMAT || st == TL_ERR_UNSUPPORTED ||
                    st == TL_ERR_NOT_FOUND);
    }
    assert_true(bad > 100);
    free(c);
    free(b);
}

static void test_writer_refuses(void **state)
{
    fixture *fx = *state;
    char path[512];
    snprintf(path, sizeof path, "%s/x.png", fx->dir);
    tl_geometry g = tl_geometry_default_linear();
    tl_recording_writer *w;
    assert_int_equal(tl_recording_writer_open(path, &g, TL_IMAGE_RF_REAL, NULL, &w), TL_ERR_INVALID_ARG);
    snprintf(path, sizeof path, "%s/nodir/x.mha", fx->dir);
    assert_int_equal(tl_recording_writer_open(path, &g, TL_IMAGE_RF_REAL, NULL, &w), TL_ERR_NOT_FOUND);
    g.samples = 2;
    snprintf(path, sizeof path, "%s/x.mha", fx->dir);
    assert_int_equal(tl_recording_writer_open(path, &g, TL_IMAGE_RF_REAL, NULL, &w), TL_ERR_INVALID_ARG);
    /* abort leaves nothing behind */
    g = tl_geometry_default_linear();
    assert_int_equal(tl_recording_writer_open(path, &g, TL_IMAGE_RF_REAL, NULL, &w), TL_OK);
    tl_recording_writer_abort(w);
    struct stat sb;
    assert_int_not_equal(stat(path, &sb), 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls '%s' | grep -e spool -e tmp)\"", fx->dir);
    assert_int_equal(system(cmd), 0);
}

/* Steering survives a recording: a steered file's geometry (tenth
 * TalusGeometry field) and, in an alternating sequence, each frame's own
 * angle; an angle no probe can steer is a corrupt file. */
static void test_steering_kept(void **state)
{
    fixture *fx = *state;
    char path[512];
    snprintf(path, sizeof path, "%s/steer.mha", fx->dir);
    tl_geometry g = tl_geometry_default_linear();
    g.lines = 4;
    g.samples = 32;
    g.steer_deg = -20.0f;
    tl_recording_writer *w;
    assert_int_equal(tl_recording_writer_open(path, &g, TL_IMAGE_RF_REAL, NULL, &w), TL_OK);
    int16_t s[4 * 32];
    memset(s, 0, sizeof s);
    const float angles[4] = { -20.0f, 0.0f, -20.0f, 12.5f };
    for (int k = 0; k < 4; k++) {
        tl_frame f = { .geom = g, .type = TL_IMAGE_RF_REAL, .seq = (uint32_t)k, .data = s,
                       .data_bytes = sizeof s };
        f.geom.steer_deg = angles[k];
        assert_int_equal(tl_recording_writer_add(w, &f), TL_OK);
    }
    tl_frame bad = { .geom = g, .type = TL_IMAGE_RF_REAL, .data = s, .data_bytes = sizeof s };
    bad.geom.steer_deg = 60.0f;
    assert_int_equal(tl_recording_writer_add(w, &bad), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_recording_writer_close(w), TL_OK);
    tl_recording *r;
    assert_int_equal(tl_recording_open(path, &r), TL_OK);
    tl_recording_info in;
    tl_recording_get_info(r, &in);
    assert_int_equal(in.frames, 4);
    assert_float_equal(in.geom.steer_deg, -20.0, 1e-6);
    for (uint32_t k = 0; k < 4; k++) {
        tl_frame f;
        assert_int_equal(tl_recording_read(r, k, &f), TL_OK);
        assert_float_equal(f.geom.steer_deg, angles[k], 1e-6);
    }
    tl_recording_close(r);
    /* the per-frame angle edited to one no probe steers: refused on read */
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    rewind(fp);
    char *b = malloc((size_t)len + 1);
    assert_int_equal(fread(b, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    b[len] = 0;
    char *e = strstr(b, "TalusSteerDeg = 12.5");
    assert_non_null(e);
    memcpy(e + strlen("TalusSteerDeg = "), "92.5", 4);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    free(b);
    assert_int_equal(tl_recording_open(path, &r), TL_OK);
    tl_frame f;
    assert_int_equal(tl_recording_read(r, 1, &f), TL_OK);
    assert_int_equal(tl_recording_read(r, 3, &f), TL_ERR_FORMAT);
    tl_recording_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_compressed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_steering_kept, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
