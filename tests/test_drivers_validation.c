/* The device is untrusted: hand-made frames sent through the emulated bus
 * (tl_simusb_send_raw) exercise every header check of the driver. Each bad
 * frame must be counted under the right counter and never delivered; good
 * hand-made frames must be delivered byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tl_driver.h"
#include "tl_protocol.h"
#include "tl_simusb.h"

#define LINES 16
#define SAMPLES 256
#define PAYLOAD (LINES * SAMPLES * 2)

typedef struct {
    pthread_mutex_t mu;
    uint32_t delivered;
    uint32_t last_seq;
    uint32_t wrong;            /* delivered frames that are not ours */
    float last_steer;          /* geom.steer_deg of the last delivered frame */
    uint8_t expect[PAYLOAD];
} ctx_t;

static void on_frame(const tl_frame *f, void *user)
{
    ctx_t *c = user;
    pthread_mutex_lock(&c->mu);
    c->delivered++;
    c->last_seq = f->seq;
    c->last_steer = f->geom.steer_deg;
    if (f->seq >= 1000 && (f->data_bytes != PAYLOAD || memcmp(f->data, c->expect, PAYLOAD) != 0 ||
                           f->geom.lines != LINES || f->geom.samples != SAMPLES || f->t_device_us != 123456789u))
        c->wrong++;
    pthread_mutex_unlock(&c->mu);
}

static tl_proto_frame_header good_header(uint32_t seq, const uint8_t *payload)
{
    tl_proto_frame_header h = {
        .magic = TL_PROTO_FRAME_MAGIC, .version = TL_PROTO_VERSION,
        .header_bytes = TL_PROTO_FRAME_HEADER_BYTES, .seq = seq, .t_device_us = 123456789u,
        .lines = LINES, .samples = SAMPLES, .sample_format = TL_IMAGE_RF_REAL, .bytes_per_sample = 2,
        .probe_kind = TL_PROBE_LINEAR, .payload_bytes = PAYLOAD,
        .payload_crc32 = (uint32_t)crc32(0L, payload, PAYLOAD),
        .pitch_mm = 0.3f, .f0_hz = 7.5e6f, .fs_hz = 40e6f, .c_m_s = 1540.0f,
    };
    return h;
}

/* Encode h (+ header CRC unless keep_crc), append payload bytes, send. */
static void send_frame(tl_simusb *sim, tl_proto_frame_header h, bool keep_crc, const uint8_t *payload,
                       size_t payload_len, size_t extra)
{
    size_t len = TL_PROTO_FRAME_HEADER_BYTES + payload_len + extra;
    uint8_t *buf = calloc(1, len);
    tl_proto_encode_frame_header(&h, buf);
    if (!keep_crc)
        tl_proto_put_u32(buf + TL_PROTO_HEADER_CRC_SPAN, (uint32_t)crc32(0L, buf, TL_PROTO_HEADER_CRC_SPAN));
    memcpy(buf + TL_PROTO_FRAME_HEADER_BYTES, payload, payload_len);
    assert_int_equal(tl_simusb_send_raw(sim, buf, len, 3000), TL_OK);
    free(buf);
}

/* Frames the driver has passed judgement on, good or bad. */
static uint64_t verdicts(const tl_driver_stats *s)
{
    return s->frames_received + s->bad_headers + s->crc_errors + s->truncated + s->oversize +
           s->late_frames;
}

/* Wait until the driver has judged `expected` frames in all (each frame we
 * send gets exactly one verdict), then a little longer so a wrong second
 * count would show. Waiting for the verdict itself, not for quiet, keeps the
 * test right on a loaded machine where the driver thread runs late. */
static tl_driver_stats settle(tl_driver *d, uint64_t expected)
{
    tl_driver_stats s;
    for (int i = 0; i < 2000; i++) { /* up to 10 s */
        tl_driver_stats_get(d, &s);
        if (verdicts(&s) >= expected)
            break;
        tl_sleep_ns(5000000);
    }
    tl_sleep_ns(20000000);
    tl_driver_stats_get(d, &s);
    return s;
}

static void test_every_header_check(void **state)
{
    (void)state;
    tl_simusb_config cfg = tl_simusb_config_default();
    cfg.lines = LINES;
    cfg.samples = SAMPLES;
    cfg.fps = 100;
    cfg.max_frames = 1;      /* one regular frame (seq 0), then only ours */
    tl_simusb *sim = NULL;
    assert_int_equal(tl_simusb_start(&cfg, &sim), TL_OK);
    ctx_t *c = calloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    for (size_t i = 0; i < PAYLOAD; i++)
        c->expect[i] = (uint8_t)(i * 7 + 3);
    tl_driver *d = NULL;
    assert_int_equal(tl_driver_open(NULL, NULL, &d), TL_OK);
    assert_int_equal(tl_driver_start(d, on_frame, c), TL_OK);
    assert_int_equal(tl_simusb_wait_finished(sim, 5000), TL_OK);
    uint64_t sent = 1; /* the regular frame */
    tl_driver_stats s0 = settle(d, sent);
    assert_int_equal(s0.frames_received, 1);

    const uint8_t *pl = c->expect;
    tl_proto_frame_header h;
    uint32_t seq = 1000;

    /* a good hand-made frame is delivered */
    send_frame(sim, good_header(seq++, pl), false, pl, PAYLOAD, 0);
    tl_driver_stats s = settle(d, ++sent);
    assert_int_equal(s.frames_received, 2);
    assert_float_equal(c->last_steer, 0.0, 0.0);
    /* a steered frame (the simulated linear probe steers up to 30 deg) is
     * delivered with its angle in the geometry */
    h = good_header(seq++, pl);
    h.steer_deg = -20.0f;
    send_frame(sim, h, false, pl, PAYLOAD, 0);
    s = settle(d, ++sent);
    assert_int_equal(s.frames_received, 3);
    assert_float_equal(c->last_steer, -20.0, 0.0);
    const tl_driver_stats s1 = s;   /* seq 0 -> 1000 was one gap already */

    /* header checks: each one bad field (header CRC recomputed, so only the
     * field check can catch it) */
    uint64_t bad = s.bad_headers;
    for (int k = 0; k < 17; k++) {
        h = good_header(seq, pl);
        switch (k) {
        case 0: h.magic ^= 1; break;
        case 1: h.version = 2; break;
        case 2: h.header_bytes = 64; break;
        case 3: h.lines = 0; break;
        case 4: h.lines = 5000; h.payload_bytes = 5000u * SAMPLES * 2; break;
        case 5: h.samples = 0; h.payload_bytes = 0; break;
        case 6: h.payload_bytes = PAYLOAD + 2; break;
        case 7: h.bytes_per_sample = 1; break;
        case 8: h.sample_format = 9; break;
        case 9: h.probe_kind = 7; break;
        case 10: h.reserved0 = 1; break;
        case 11: h.steer_deg = 60.0f; break;          /* beyond any array */
        case 12: h.fs_hz = NAN; break;
        case 13: h.c_m_s = -1540.0f; break;
        case 14: h.steer_deg = NAN; break;
        case 15: h.steer_deg = 35.0f; break;          /* beyond this probe's 30 */
        case 16: h.probe_kind = TL_PROBE_CONVEX; h.radius_mm = 40.0f; h.steer_deg = 10.0f; break;
        }
        send_frame(sim, h, false, pl, PAYLOAD, 0);
        s = settle(d, ++sent);
        bad++;
        if (s.bad_headers != bad)
            fail_msg("header check %d not counted as a bad header", k);
    }
    /* a header whose CRC does not match its bytes */
    h = good_header(seq, pl);
    h.header_crc32 = 0xDEADBEEF;
    send_frame(sim, h, true, pl, PAYLOAD, 0);
    s = settle(d, ++sent);
    assert_int_equal(s.bad_headers, bad + 1);

    /* payload damaged after the CRC */
    uint8_t *broken = malloc(PAYLOAD);
    memcpy(broken, pl, PAYLOAD);
    broken[100] ^= 0x40;
    send_frame(sim, good_header(seq, pl), false, broken, PAYLOAD, 0);
    free(broken);
    s = settle(d, ++sent);
    assert_int_equal(s.crc_errors, 1);

    /* shorter than announced, longer than announced, shorter than a header */
    send_frame(sim, good_header(seq, pl), false, pl, PAYLOAD / 3, 0);
    s = settle(d, ++sent);
    assert_int_equal(s.truncated, 1);
    send_frame(sim, good_header(seq, pl), false, pl, PAYLOAD, 100);
    s = settle(d, ++sent);
    assert_int_equal(s.oversize, 1);
    assert_int_equal(tl_simusb_send_raw(sim, "TLSF", 4, 3000), TL_OK);
    s = settle(d, ++sent);
    assert_int_equal(s.truncated, 2);
    /* a header announcing a huge (valid-looking) frame with little behind it */
    h = good_header(seq, pl);
    h.lines = 1024;
    h.samples = 16384;
    h.payload_bytes = 1024u * 16384u * 2u;
    send_frame(sim, h, false, pl, PAYLOAD, 0);
    s = settle(d, ++sent);
    assert_int_equal(s.truncated + s.oversize, 3 + 1);

    /* nothing bad was delivered; a good frame still goes through */
    send_frame(sim, good_header(seq + 5, pl), false, pl, PAYLOAD, 0);
    s = settle(d, ++sent);
    assert_int_equal(s.frames_received, 4);
    assert_int_equal(s.seq_gaps - s1.seq_gaps, 1);        /* 1001 -> 1007 */
    assert_int_equal(s.frames_missing - s1.frames_missing, 5);
    /* an old sequence number after a newer one: stale, counted, not delivered */
    send_frame(sim, good_header(1003, pl), false, pl, PAYLOAD, 0);
    s = settle(d, ++sent);
    assert_int_equal(s.late_frames, 1);
    assert_int_equal(s.frames_received, 4);

    assert_int_equal(tl_driver_stop(d), TL_OK);
    tl_driver_stats_get(d, &s);
    assert_int_equal(s.frames_delivered, 4);
    assert_int_equal(c->delivered, 4);
    assert_int_equal(c->wrong, 0);
    assert_int_equal(c->last_seq, 1007);
    assert_float_equal(c->last_steer, 0.0, 0.0);
    tl_driver_close(d);
    tl_simusb_stop(sim);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* A zero-length packet with nothing before it is not a frame. */
static void test_zero_length_packets_ignored(void **state)
{
    (void)state;
    tl_simusb_config cfg = tl_simusb_config_default();
    cfg.lines = LINES;
    cfg.samples = SAMPLES;
    cfg.max_frames = 1;
    tl_simusb *sim = NULL;
    assert_int_equal(tl_simusb_start(&cfg, &sim), TL_OK);
    tl_driver *d = NULL;
    assert_int_equal(tl_driver_open(NULL, NULL, &d), TL_OK);
    assert_int_equal(tl_driver_start(d, NULL, NULL), TL_OK);
    assert_int_equal(tl_simusb_wait_finished(sim, 5000), TL_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tl_simusb_send_raw(sim, NULL, 0, 3000), TL_OK);
    tl_driver_stats s = settle(d, 1);
    tl_sleep_ns(100000000); /* zero-length packets must add no verdict */
    tl_driver_stats_get(d, &s);
    assert_int_equal(s.frames_received, 1);
    assert_int_equal(s.truncated + s.bad_headers + s.oversize + s.crc_errors, 0);
    tl_driver_close(d);
    tl_simusb_stop(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_header_check),
        cmocka_unit_test(test_zero_length_packets_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
