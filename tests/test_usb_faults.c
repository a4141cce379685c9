/* Fault injection through the emulated bus: every fault kind is counted by
 * the driver, never delivered as a good frame, and the stream recovers.
 * Unplug then replug -> automatic reconnect. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_driver.h"
#include "tl_protocol.h"
#include "tl_simusb.h"

#define LINES 32
#define SAMPLES 512

typedef struct {
    pthread_mutex_t mu;
    tl_simusb *sim;
    uint32_t frames, mismatches;
    uint32_t last_seq;
    int16_t ref[LINES * SAMPLES];
    int disconnected, reconnected;
    uint8_t seen[4096];       /* delivered sequence numbers, for the log */
} ctx_t;

static void on_frame(const tl_frame *f, void *user)
{
    ctx_t *c = user;
    pthread_mutex_lock(&c->mu);
    /* Every delivered frame must be exactly what the simulator rendered. */
    if (f->data_bytes != sizeof c->ref ||
        tl_simusb_reference_frame(c->sim, f->seq, c->ref, LINES * SAMPLES) != TL_OK ||
        memcmp(c->ref, f->data, sizeof c->ref) != 0)
        c->mismatches++;
    if (c->frames && f->seq <= c->last_seq)
        c->mismatches++;        /* out of order delivery is a bug too */
    c->last_seq = f->seq;
    if (f->seq < sizeof c->seen)
        c->seen[f->seq] = 1;
    c->frames++;
    pthread_mutex_unlock(&c->mu);
}

static void on_event(const tl_probe_event *e, void *user)
{
    ctx_t *c = user;
    pthread_mutex_lock(&c->mu);
    c->disconnected += e->kind == TL_EVENT_DISCONNECTED;
    c->reconnected += e->kind == TL_EVENT_RECONNECTED;
    pthread_mutex_unlock(&c->mu);
}

static uint32_t frames_seen(ctx_t *c)
{
    pthread_mutex_lock(&c->mu);
    uint32_t n = c->frames;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static void wait_frames(ctx_t *c, uint32_t n, int timeout_ms)
{
    for (int i = 0; i < timeout_ms / 5 && frames_seen(c) < n; i++)
        tl_sleep_ns(5000000);
}

/* Stream at 200 frames/s, inject `kind` after 15 good frames, stop once 20
 * more have been delivered (the recovery), then account for every frame the
 * probe made (stop lets the frame in flight land). */
static void run_fault(tl_fault_kind kind, tl_driver_stats *s, tl_simusb_stats *ss, ctx_t *c)
{
    tl_simusb_config cfg = tl_simusb_config_default();
    cfg.lines = LINES;
    cfg.samples = SAMPLES;
    cfg.fps = 200;
    cfg.replug_ms = 300;
    assert_int_equal(tl_simusb_start(&cfg, &c->sim), TL_OK);
    /* build the checking renderer now, not in the first frame callback */
    assert_int_equal(tl_simusb_reference_frame(c->sim, 0, c->ref, LINES * SAMPLES), TL_OK);
    tl_driver_options o = tl_driver_options_default();
    o.ring_slots = 64;   /* the checking callback may be slow (sanitizers) */
    tl_driver *d = NULL;
    assert_int_equal(tl_driver_open(NULL, &o, &d), TL_OK);
    assert_int_equal(tl_driver_set_event_callback(d, on_event, c), TL_OK);
    assert_int_equal(tl_driver_start(d, on_frame, c), TL_OK);
    wait_frames(c, 15, 3000);
    assert_true(frames_seen(c) >= 15);
    uint32_t before = frames_seen(c);
    assert_int_equal(tl_simusb_inject(c->sim, kind), TL_OK);
    wait_frames(c, before + 20, 8000);
    /* recovered: frames kept coming after the fault */
    assert_true(frames_seen(c) >= before + 20);
    assert_int_equal(tl_driver_stop(d), TL_OK);
    tl_driver_stats_get(d, s);
    tl_simusb_stats_get(c->sim, ss);
    /* for the log when an assertion below fails */
    fprintf(stderr, "  %s: sent %llu received %llu dropped %llu missing %llu gaps %llu crc %llu bad %llu "
            "trunc %llu late %llu stalls %llu ring %llu reconnects %llu overruns %llu delivered %u\n",
            tl_fault_name(kind), (unsigned long long)ss->frames_sent, (unsigned long long)s->frames_received,
            (unsigned long long)s->frames_dropped, (unsigned long long)s->frames_missing,
            (unsigned long long)s->seq_gaps, (unsigned long long)s->crc_errors,
            (unsigned long long)s->bad_headers, (unsigned long long)s->truncated,
            (unsigned long long)s->late_frames, (unsigned long long)s->stalls,
            (unsigned long long)s->ring_drops, (unsigned long long)s->reconnects,
            (unsigned long long)ss->overruns, frames_seen(c));
    fprintf(stderr, "    not delivered:");
    for (uint64_t q = 0; q < ss->frames_sent && q < sizeof c->seen; q++)
        if (!c->seen[q])
            fprintf(stderr, " %llu", (unsigned long long)q);
    fprintf(stderr, "\n");
    assert_int_equal(c->mismatches, 0);
    assert_int_equal(s->frames_delivered, s->frames_received);
    assert_int_equal(s->ring_drops, 0);
    tl_driver_close(d);
    tl_simusb_stop(c->sim);
    c->sim = NULL;
}

static ctx_t *new_ctx(void)
{
    ctx_t *c = calloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static void free_ctx(ctx_t *c)
{
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void test_drop(void **state)
{
    (void)state;
    ctx_t *c = new_ctx();
    tl_driver_stats s;
    tl_simusb_stats ss;
    run_fault(TL_FAULT_DROP, &s, &ss, c);
    assert_int_equal(ss.faults[0], 1);
    assert_int_equal(s.frames_missing, 1 + ss.overruns);
    assert_int_equal(s.frames_dropped, 1 + ss.overruns);
    assert_int_equal(s.frames_received + s.frames_dropped, ss.frames_sent);
    free_ctx(c);
}

static void test_corrupt(void **state)
{
    (void)state;
    ctx_t *c = new_ctx();
    tl_driver_stats s;
    tl_simusb_stats ss;
    run_fault(TL_FAULT_CORRUPT, &s, &ss, c);
    assert_int_equal(ss.faults[1], 1);
    assert_int_equal(s.crc_errors, 1);
    assert_int_equal(s.bad_headers + s.truncated, 0);
    assert_int_equal(s.frames_dropped, 1 + ss.overruns);
    assert_int_equal(s.frames_received + s.frames_dropped, ss.frames_sent);
    free_ctx(c);
}

static void test_truncate(void **state)
{
    (void)state;
    ctx_t *c = new_ctx();
    tl_driver_stats s;
    tl_simusb_stats ss;
    run_fault(TL_FAULT_TRUNCATE, &s, &ss, c);
    assert_int_equal(ss.faults[2], 1);
    assert_int_equal(s.truncated, 1);
    assert_int_equal(s.crc_errors + s.bad_headers, 0);
    assert_int_equal(s.frames_received + s.frames_dropped, ss.frames_sent);
    free_ctx(c);
}

static void test_garbage(void **state)
{
    (void)state;
    ctx_t *c = new_ctx();
    tl_driver_stats s;
    tl_simusb_stats ss;
    run_fault(TL_FAULT_GARBAGE, &s, &ss, c);
    assert_int_equal(ss.faults[3], 1);
    assert_int_equal(s.bad_headers, 1);
    assert_int_equal(s.crc_errors + s.truncated, 0);
    assert_int_equal(s.frames_received + s.frames_dropped, ss.frames_sent);
    free_ctx(c);
}

static void test_stall(void **state)
{
    (void)state;
    ctx_t *c = new_ctx();
    tl_driver_stats s;
    tl_simusb_stats ss;
    run_fault(TL_FAULT_STALL, &s, &ss, c);
    assert_int_equal(ss.faults[4], 1);
    assert_true(s.stalls >= 1);
    assert_int_equal(s.frames_dropped, 1 + ss.overruns);
    assert_int_equal(s.frames_received + s.frames_dropped, ss.frames_sent);
    free_ctx(c);
}

static void test_late(void **state)
{
    (void)state;
    ctx_t *c = new_ctx();
    tl_driver_stats s;
    tl_simusb_stats ss;
    run_fault(TL_FAULT_LATE, &s, &ss, c);
    assert_int_equal(ss.faults[5], 1);
    assert_int_equal(s.late_frames, 1);     /* arrived, recognised as stale */
    assert_int_equal(s.frames_dropped, 1 + ss.overruns);  /* and not delivered */
    assert_int_equal(s.frames_received + s.frames_dropped, ss.frames_sent);
    free_ctx(c);
}

static void test_disconnect_reconnect(void **state)
{
    (void)state;
    ctx_t *c = new_ctx();
    tl_driver_stats s;
    tl_simusb_stats ss;
    run_fault(TL_FAULT_DISCONNECT, &s, &ss, c);
    assert_int_equal(ss.faults[6], 1);
    assert_int_equal(ss.unplugs, 1);
    assert_int_equal(ss.replugs, 1);
    assert_int_equal(s.disconnects, 1);
    assert_int_equal(s.reconnects, 1);
    assert_int_equal(c->disconnected, 1);
    assert_int_equal(c->reconnected, 1);
    /* the frame on the wire when the cable went is counted, not lost silently */
    assert_int_equal(s.frames_received + s.frames_dropped, ss.frames_sent);
    free_ctx(c);
}

/* Explicit unplug with the driver idle-streaming, replug later. */
static void test_unplug_replug(void **state)
{
    (void)state;
    ctx_t *c = new_ctx();
    tl_simusb_config cfg = tl_simusb_config_default();
    cfg.lines = LINES;
    cfg.samples = SAMPLES;
    cfg.fps = 100;
    assert_int_equal(tl_simusb_start(&cfg, &c->sim), TL_OK);
    assert_int_equal(tl_simusb_reference_frame(c->sim, 0, c->ref, LINES * SAMPLES), TL_OK);
    tl_driver *d = NULL;
    assert_int_equal(tl_driver_open(NULL, NULL, &d), TL_OK);
    tl_probe_params p = tl_probe_params_default();
    p.lines = LINES;
    p.samples = SAMPLES;
    p.fps = 100;
    assert_int_equal(tl_driver_set_params(d, &p), TL_OK);
    assert_int_equal(tl_driver_set_event_callback(d, on_event, c), TL_OK);
    assert_int_equal(tl_driver_start(d, on_frame, c), TL_OK);
    wait_frames(c, 10, 3000);
    assert_int_equal(tl_simusb_unplug(c->sim), TL_OK);
    for (int i = 0; i < 200 && tl_driver_connected(d); i++)
        tl_sleep_ns(5000000);
    assert_false(tl_driver_connected(d));
    tl_probe_identity id;
    assert_int_equal(tl_driver_identify(d, &id), TL_ERR_DISCONNECTED);
    tl_driver_stats s0, s1;
    tl_driver_stats_get(d, &s0);
    tl_sleep_ns(200000000);
    tl_driver_stats_get(d, &s1);
    assert_int_equal(s1.frames_received, s0.frames_received);   /* nothing while unplugged */
    uint32_t before = frames_seen(c);
    assert_int_equal(tl_simusb_replug(c->sim), TL_OK);
    wait_frames(c, before + 10, 3000);
    assert_true(frames_seen(c) >= before + 10);
    assert_true(tl_driver_connected(d));
    assert_int_equal(tl_driver_identify(d, &id), TL_OK);
    /* the parameters were re-sent after the reconnect */
    tl_probe_params back;
    assert_int_equal(tl_driver_stop(d), TL_OK);
    assert_int_equal(tl_driver_get_params(d, &back), TL_OK);
    assert_int_equal(back.lines, LINES);
    assert_true(back.fps == 100.0f);
    tl_driver_stats s;
    tl_driver_stats_get(d, &s);
    assert_int_equal(s.disconnects, 1);
    assert_int_equal(s.reconnects, 1);
    assert_int_equal(c->disconnected, 1);
    assert_int_equal(c->reconnected, 1);
    assert_int_equal(c->mismatches, 0);
    tl_driver_close(d);
    tl_simusb_stop(c->sim);
    free_ctx(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_stall),
        cmocka_unit_test(test_late),
        cmocka_unit_test(test_disconnect_reconnect),
        cmocka_unit_test(test_unplug_replug),
    };
    if (getenv("TL_TEST_FILTER"))
        cmocka_set_test_filter(getenv("TL_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
