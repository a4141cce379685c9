/* Beam steering through the emulated bus and the real driver: the host asks
 * the simulated linear probe for a sequence (steered, one straight frame
 * every N), each frame's header says its angle, the payload is the
 * simulator's render at that angle, and requests the probe cannot honour
 * are refused. */
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

typedef struct {
    pthread_mutex_t mu;
    tl_simusb *sim;
    uint32_t frames, mismatches, wrong_angle, straight, steered;
    int16_t *ref;
    size_t ref_count;
} ctx_t;

static void on_frame(const tl_frame *f, void *user)
{
    ctx_t *c = user;
    pthread_mutex_lock(&c->mu);
    /* the sequence the host asked for: seq % 3 == 0 straight, else -20 */
    float want = f->seq % 3 == 0 ? 0.0f : -20.0f;
    if (f->geom.steer_deg != want)
        c->wrong_angle++;
    c->straight += f->geom.steer_deg == 0.0f;
    c->steered += f->geom.steer_deg == -20.0f;
    /* bit-exact against an independent render of that frame */
    if (tl_simusb_reference_frame(c->sim, f->seq, c->ref, c->ref_count) != TL_OK ||
        memcmp(c->ref, f->data, f->data_bytes) != 0)
        c->mismatches++;
    c->frames++;
    pthread_mutex_unlock(&c->mu);
}

static void test_steered_sequence(void **state)
{
    (void)state;
    tl_simusb_config cfg = tl_simusb_config_default();
    cfg.preset = "needle-insertion";
    cfg.lines = 32;
    cfg.samples = 512;
    cfg.fps = 0;
    tl_simusb *sim = NULL;
    assert_int_equal(tl_simusb_start(&cfg, &sim), TL_OK);
    ctx_t c;
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.mu, NULL);
    c.sim = sim;
    c.ref_count = 32u * 512u;
    c.ref = malloc(c.ref_count * sizeof(int16_t));
    tl_driver_options o = tl_driver_options_default();
    o.ring_slots = 64;
    tl_driver *d = NULL;
    assert_int_equal(tl_driver_open(NULL, &o, &d), TL_OK);
    tl_probe_identity id;
    assert_int_equal(tl_driver_identify(d, &id), TL_OK);
    assert_true(id.capabilities & TL_CAP_STEER);
    assert_float_equal(id.max_steer_deg, 30.0, 0.0);

    tl_probe_params p = tl_probe_params_default();
    p.lines = 32;
    p.samples = 512;
    p.fps = 0;
    p.steer_deg = 31.0f; /* beyond the probe */
    assert_int_equal(tl_driver_set_params(d, &p), TL_ERR_INVALID_ARG);
    p.steer_deg = -20.0f;
    p.straight_every = TL_PROTO_MAX_STRAIGHT_EVERY + 1;
    assert_int_equal(tl_driver_set_params(d, &p), TL_ERR_INVALID_ARG);
    p.straight_every = 3;
    assert_int_equal(tl_driver_set_params(d, &p), TL_OK);
    tl_probe_params back;
    assert_int_equal(tl_driver_get_params(d, &back), TL_OK);
    assert_float_equal(back.steer_deg, -20.0, 0.0);
    assert_int_equal(back.straight_every, 3);

    assert_int_equal(tl_driver_start(d, on_frame, &c), TL_OK);
    for (int i = 0; i < 400; i++) {
        pthread_mutex_lock(&c.mu);
        uint32_t n = c.frames;
        pthread_mutex_unlock(&c.mu);
        if (n >= 30)
            break;
        tl_sleep_ns(10000000);
    }
    assert_int_equal(tl_driver_stop(d), TL_OK);
    printf("%u frames: %u straight, %u steered -20, %u wrong angle, %u payload mismatches\n",
           c.frames, c.straight, c.steered, c.wrong_angle, c.mismatches);
    assert_true(c.frames >= 30);
    assert_int_equal(c.wrong_angle, 0);
    assert_int_equal(c.mismatches, 0);
    assert_true(c.straight >= 9 && c.steered >= 18);
    tl_driver_close(d);
    tl_simusb_stop(sim);
    free(c.ref);
    pthread_mutex_destroy(&c.mu);
}

/* A convex probe does not steer: it says so and refuses a steered request. */
static void test_convex_cannot_steer(void **state)
{
    (void)state;
    tl_simusb_config cfg = tl_simusb_config_default();
    cfg.sim_params = "convex=1";
    cfg.lines = 32;
    cfg.samples = 512;
    tl_simusb *sim = NULL;
    assert_int_equal(tl_simusb_start(&cfg, &sim), TL_OK);
    tl_driver *d = NULL;
    assert_int_equal(tl_driver_open(NULL, NULL, &d), TL_OK);
    tl_probe_identity id;
    assert_int_equal(tl_driver_identify(d, &id), TL_OK);
    assert_false(id.capabilities & TL_CAP_STEER);
    assert_float_equal(id.max_steer_deg, 0.0, 0.0);
    tl_probe_params p = tl_probe_params_default();
    p.lines = 32;
    p.samples = 512;
    p.steer_deg = 10.0f;
    assert_int_equal(tl_driver_set_params(d, &p), TL_ERR_INVALID_ARG);
    tl_driver_close(d);
    tl_simusb_stop(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steered_sequence),
        cmocka_unit_test(test_convex_cannot_steer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
