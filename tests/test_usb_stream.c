/* The simulated probe through umockdev and the real libusb driver:
 * discovery, identity, parameter round trip, 300 frames bit-exact, button. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tl_driver.h"
#include "tl_protocol.h"
#include "tl_simusb.h"

typedef struct {
    pthread_mutex_t mu;
    tl_simusb *sim;
    uint32_t frames, mismatches, bad_meta;
    uint32_t first_seq, last_seq;
    int16_t *ref;
    size_t ref_count;
    uint64_t last_t_device;
    int buttons_down, buttons_up;
    int freeze, over_temp_value, faults;
} ctx_t;

static void on_frame(const tl_frame *f, void *user)
{
    ctx_t *c = user;
    pthread_mutex_lock(&c->mu);
    if (c->frames == 0)
        c->first_seq = f->seq;
    c->last_seq = f->seq;
    if (f->type != TL_IMAGE_RF_REAL || f->geom.lines != 32 || f->geom.samples != 512 ||
        f->data_bytes != 32u * 512u * 2u || f->t_received_ns == 0 || f->t_device_us <= c->last_t_device)
        c->bad_meta++;
    c->last_t_device = f->t_device_us;
    /* bit-exact against an independent render of the same sequence number */
    if (tl_simusb_reference_frame(c->sim, f->seq, c->ref, c->ref_count) != TL_OK ||
        memcmp(c->ref, f->data, f->data_bytes) != 0)
        c->mismatches++;
    c->frames++;
    pthread_mutex_unlock(&c->mu);
}

static void on_event(const tl_probe_event *e, void *user)
{
    ctx_t *c = user;
    pthread_mutex_lock(&c->mu);
    if (e->kind == TL_EVENT_BUTTON) {
        if (e->value)
            c->buttons_down++;
        else
            c->buttons_up++;
    }
    if (e->kind == TL_EVENT_FREEZE)
        c->freeze += (int)e->value;
    if (e->kind == TL_EVENT_OVER_TEMP)
        c->over_temp_value = (int)e->value;
    if (e->kind == TL_EVENT_FAULT)
        c->faults++;
    if (e->t_device_us == 0 || e->t_received_ns == 0)
        c->faults += 100;   /* every probe event carries both clocks */
    pthread_mutex_unlock(&c->mu);
}

static void test_identify_params(void **state)
{
    (void)state;
    tl_simusb_config cfg = tl_simusb_config_default();
    cfg.serial = "TLTEST01";
    cfg.lines = 32;      /* small scenes: the test must stay fast under sanitizers */
    cfg.samples = 512;
    tl_simusb *sim = NULL;
    assert_int_equal(tl_simusb_start(&cfg, &sim), TL_OK);

    tl_probe_info infos[4];
    size_t n = 0;
    assert_int_equal(tl_driver_list(infos, 4, &n), TL_OK);
    assert_int_equal(n, 1);
    assert_string_equal(infos[0].serial, "TLTEST01");
    assert_int_equal(infos[0].vid, TL_PROTO_VID);

    tl_driver *d = NULL;
    assert_int_equal(tl_driver_open("NOSUCH", NULL, &d), TL_ERR_NOT_FOUND);
    assert_int_equal(tl_driver_open("TLTEST01", NULL, &d), TL_OK);
    tl_probe_identity id;
    assert_int_equal(tl_driver_identify(d, &id), TL_OK);
    assert_string_equal(id.serial, "TLTEST01");
    assert_int_equal(id.protocol_version, TL_PROTO_VERSION);
    assert_true(id.capabilities & TL_CAP_RF);
    assert_true(id.fs_hz > 1e6f && id.f0_hz > 1e6f && id.pitch_mm > 0.0f);

    tl_probe_params p = tl_probe_params_default();
    p.lines = 96;
    p.samples = 1536;
    p.fps = 42.5f;
    p.gain_db = 6.0f;
    for (int k = 0; k < 8; k++)
        p.tgc_db[k] = (float)k * 1.5f;
    p.depth_mm = 40.0f;
    p.f0_hz = 7.5e6f;
    assert_int_equal(tl_driver_set_params(d, &p), TL_OK);
    tl_probe_params back;
    assert_int_equal(tl_driver_get_params(d, &back), TL_OK);
    assert_int_equal(back.lines, 96);
    assert_int_equal(back.samples, 1536);
    assert_true(back.fps == 42.5f && back.gain_db == 6.0f && back.depth_mm == 40.0f && back.f0_hz == 7.5e6f);
    for (int k = 0; k < 8; k++)
        assert_true(back.tgc_db[k] == (float)k * 1.5f);
    assert_int_equal(back.output, TL_IMAGE_RF_REAL);

    /* The probe refuses what it cannot do, and keeps the last good set. */
    tl_probe_params bad = p;
    bad.lines = 5000;
    assert_int_equal(tl_driver_set_params(d, &bad), TL_ERR_INVALID_ARG);
    bad = p;
    bad.output = TL_IMAGE_BRIGHTNESS;
    assert_int_equal(tl_driver_set_params(d, &bad), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_driver_get_params(d, &back), TL_OK);
    assert_int_equal(back.lines, 96);
    tl_probe_status st;
    assert_int_equal(tl_driver_status(d, &st), TL_OK);
    assert_false(st.streaming);
    assert_int_equal(st.last_error, TL_PERR_BAD_PARAMS);
    assert_int_equal(st.params_id, 1);

    tl_driver_close(d);
    tl_simusb_stop(sim);
}

static void test_300_frames_bit_exact(void **state)
{
    (void)state;
    tl_simusb_config cfg = tl_simusb_config_default();
    cfg.lines = 32;
    cfg.samples = 512;
    cfg.fps = 0;          /* as fast as possible */
    cfg.max_frames = 300;
    tl_simusb *sim = NULL;
    assert_int_equal(tl_simusb_start(&cfg, &sim), TL_OK);

    ctx_t c;
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.mu, NULL);
    c.sim = sim;
    c.ref_count = 32u * 512u;
    c.ref = malloc(c.ref_count * sizeof(int16_t));
    tl_driver_options o = tl_driver_options_default();
    o.ring_slots = 512;   /* the checking callback is slow: never drop here */
    tl_driver *d = NULL;
    assert_int_equal(tl_driver_open(NULL, &o, &d), TL_OK);
    assert_int_equal(tl_driver_set_event_callback(d, on_event, &c), TL_OK);
    assert_int_equal(tl_driver_start(d, on_frame, &c), TL_OK);
    assert_int_equal(tl_simusb_press_button(sim), TL_OK);
    assert_int_equal(tl_simusb_raise_event(sim, TL_PEV_FREEZE, 1), TL_OK);
    assert_int_equal(tl_simusb_raise_event(sim, TL_PEV_OVER_TEMP, 431), TL_OK);
    assert_int_equal(tl_simusb_raise_event(sim, TL_PEV_FAULT, 7), TL_OK);
    assert_int_equal(tl_simusb_raise_event(sim, 99, 0), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_simusb_wait_finished(sim, 20000), TL_OK);
    for (int i = 0; i < 200; i++) {
        tl_driver_stats s;
        tl_driver_stats_get(d, &s);
        if (s.frames_delivered >= 300)
            break;
        tl_sleep_ns(10000000);
    }
    assert_int_equal(tl_driver_stop(d), TL_OK);
    tl_driver_stats s;
    tl_driver_stats_get(d, &s);
    tl_simusb_stats ss;
    tl_simusb_stats_get(sim, &ss);
    assert_int_equal(ss.frames_sent, 300);
    assert_int_equal(s.frames_received, 300);
    assert_int_equal(s.frames_delivered, 300);
    assert_int_equal(s.frames_dropped, 0);
    assert_int_equal(s.crc_errors + s.bad_headers + s.truncated + s.seq_gaps, 0);
    assert_int_equal(c.frames, 300);
    assert_int_equal(c.mismatches, 0);
    assert_int_equal(c.bad_meta, 0);
    assert_int_equal(c.first_seq, 0);
    assert_int_equal(c.last_seq, 299);
    assert_int_equal(c.buttons_down, 1);
    assert_int_equal(c.buttons_up, 1);
    assert_int_equal(s.events, 5);
    assert_int_equal(c.freeze, 1);
    assert_int_equal(c.over_temp_value, 431);
    assert_int_equal(c.faults, 1);
    /* ground truth of recent frames is kept (truth_keep = 64), old ones not */
    tl_sim_truth *truth = malloc(sizeof *truth);
    assert_int_equal(tl_simusb_truth(sim, 299, truth), TL_OK);
    assert_int_equal(truth->frame_index, 299);
    assert_int_equal(truth->geom.lines, 32);
    assert_int_equal(tl_simusb_truth(sim, 236, truth), TL_OK);
    assert_int_equal(tl_simusb_truth(sim, 10, truth), TL_ERR_NOT_FOUND);
    free(truth);
    tl_driver_close(d);
    tl_simusb_stop(sim);
    free(c.ref);
    pthread_mutex_destroy(&c.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identify_params),
        cmocka_unit_test(test_300_frames_bit_exact),
    };
    if (getenv("TL_TEST_FILTER"))
        cmocka_set_test_filter(getenv("TL_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
