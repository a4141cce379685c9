/* tl_simusb public API: create the testbed, plug the probe in, drive it. */
#include "simusb_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const fault_names[7] = { "drop", "corrupt", "truncate", "garbage", "stall", "late", "disconnect" };

const char *tl_fault_name(tl_fault_kind kind)
{
    for (int b = 0; b < 7; b++)
        if ((uint32_t)kind == (1u << b))
            return fault_names[b];
    return NULL;
}

tl_status tl_fault_parse(const char *list, uint32_t *mask, const char **bad)
{
    *mask = 0;
    if (bad)
        *bad = NULL;
    if (!list)
        return TL_ERR_INVALID_ARG;
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        bool found = false;
        if (n == 3 && strncasecmp(p, "all", 3) == 0) {
            *mask |= TL_FAULT_ALL;
            found = true;
        }
        for (int b = 0; b < 7 && !found; b++)
            if (strlen(fault_names[b]) == n && strncasecmp(p, fault_names[b], n) == 0) {
                *mask |= 1u << b;
                found = true;
            }
        if (!found && n > 0) {
            if (bad)
                *bad = p;
            return TL_ERR_INVALID_ARG;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return *mask ? TL_OK : TL_ERR_INVALID_ARG;
}

tl_simusb_config tl_simusb_config_default(void)
{
    tl_simusb_config c;
    memset(&c, 0, sizeof c);
    c.preset = "plantar-fascia";
    c.seed = 1;
    c.serial = "TLSIM0001";
    c.fps = 30.0f;
    c.fault_every = 40;
    c.replug_ms = 1000;
    c.truth_keep = 64;
    return c;
}

static void free_queue(urb_queue *q)
{
    sim_urb *u;
    while ((u = simusb_queue_pop(q)) != NULL) {
        g_object_unref(u->data);
        free(u);
    }
}

void tl_simusb_stop(tl_simusb *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    if (getenv("TL_SIMUSB_DEBUG")) {
        int nb = 0, nd = 0, ni = 0;
        for (sim_urb *u = s->bulk_pending.head; u; u = u->next) nb++;
        for (sim_urb *u = s->done.head; u; u = u->next) nd++;
        for (sim_urb *u = s->int_pending.head; u; u = u->next) ni++;
        fprintf(stderr, "tl_simusb: stop: plugged %d streaming %d tx_active %d (off %zu/%zu) bulk %d int %d done %d parked %d seq %u\n",
                s->plugged, s->streaming, s->tx_active, s->tx.off, s->tx.total, nb, ni, nd, s->n_parked, s->seq);
    }
    atomic_store(&s->quit, true);
    pthread_cond_broadcast(&s->cv);
    pthread_cond_broadcast(&s->park_cv);
    pthread_mutex_unlock(&s->mu);
    if (s->pacer_started)
        pthread_join(s->pacer, NULL);
    if (s->timer_started)
        pthread_join(s->timer, NULL);
    atomic_store(&s->quit, true);
    if (s->tb) {
        pthread_mutex_lock(&s->mu);
        simusb_unplug_locked(s);
        simusb_service_parked_locked(s, UINT64_MAX);
        free_queue(&s->bulk_pending);
        free_queue(&s->int_pending);
        free_queue(&s->done);
        pthread_mutex_unlock(&s->mu);
    }
    if (s->handler)
        g_object_unref(s->handler);
    if (s->tb)
        g_object_unref(s->tb);
    source_destroy(s->src);
    source_destroy(s->ref_src);
    pthread_mutex_destroy(&s->ref_mu);
    free(s->scratch);
    free(s->raw_buf);
    free(s->late_buf);
    free(s->truths);
    free(s->truth_seq);
    free(s->truth_valid);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->done_cv);
    pthread_cond_destroy(&s->park_cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

tl_status tl_simusb_start(const tl_simusb_config *cfg_in, tl_simusb **out)
{
    *out = NULL;
    tl_simusb_config cfg = cfg_in ? *cfg_in : tl_simusb_config_default();
    tl_simusb_config def = tl_simusb_config_default();
    if (!cfg.preset)
        cfg.preset = def.preset;
    if (!cfg.serial || !cfg.serial[0])
        cfg.serial = def.serial;
    if (!(cfg.fps >= 0.0f && cfg.fps <= 1000.0f))
        return TL_ERR_INVALID_ARG;
    if (strlen(cfg.preset) >= 32 || strlen(cfg.serial) >= 32 || (cfg.sim_params && strlen(cfg.sim_params) >= 256))
        return TL_ERR_INVALID_ARG;
    if (cfg.lines > 512 || cfg.samples > 8192 || (cfg.samples && cfg.samples < 64) || cfg.cycle_frames > 64)
        return TL_ERR_INVALID_ARG;

    tl_simusb *s = calloc(1, sizeof *s);
    if (!s)
        return TL_ERR_NO_MEM;
    s->cfg = cfg;
    snprintf(s->preset, sizeof s->preset, "%s", cfg.preset);
    snprintf(s->serial, sizeof s->serial, "%s", cfg.serial);
    snprintf(s->sim_params, sizeof s->sim_params, "%s", cfg.sim_params ? cfg.sim_params : "");
    s->cfg.preset = s->preset;
    s->cfg.serial = s->serial;
    s->cfg.sim_params = s->sim_params;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->ref_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);   /* tl_now_ns() deadlines */
    pthread_cond_init(&s->cv, &ca);
    pthread_cond_init(&s->done_cv, &ca);
    pthread_cond_init(&s->park_cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&s->quit, false);
    tl_rng_seed(&s->rng, cfg.seed ^ 0x5EEDF00Dull);
    s->late_countdown = -1;
    s->start_ns = tl_now_ns();

    tl_status st = source_base_geometry(s, &s->geom);
    if (st != TL_OK) {
        tl_simusb_stop(s);
        return st;
    }
    if (cfg.truth_keep) {
        s->truths = calloc(cfg.truth_keep, sizeof *s->truths);
        s->truth_seq = calloc(cfg.truth_keep, sizeof *s->truth_seq);
        s->truth_valid = calloc(cfg.truth_keep, sizeof *s->truth_valid);
        if (!s->truths || !s->truth_seq || !s->truth_valid) {
            tl_simusb_stop(s);
            return TL_ERR_NO_MEM;
        }
    }

    s->tb = umockdev_testbed_new();
    /* Only true once a testbed exists, and only with the preload linked. */
    if (!s->tb || !umockdev_in_mock_environment()) {
        fprintf(stderr, "tl_simusb: not linked with umockdev's preload library "
                        "(-Wl,--no-as-needed -lumockdev-preload): no emulated USB bus\n");
        tl_simusb_stop(s);
        return TL_ERR_UNSUPPORTED;
    }
    s->handler = umockdev_ioctl_base_new();
    g_signal_connect(s->handler, "handle-ioctl", G_CALLBACK(simusb_handle_ioctl), s);

    /* The pacing thread before the device exists (design.md section 5). */
    if (pthread_create(&s->pacer, NULL, simusb_pacer_main, s) != 0) {
        tl_simusb_stop(s);
        return TL_ERR_NO_MEM;
    }
    s->pacer_started = true;
    if (pthread_create(&s->timer, NULL, simusb_timer_main, s) != 0) {
        tl_simusb_stop(s);
        return TL_ERR_NO_MEM;
    }
    s->timer_started = true;
    st = simusb_plug(s);
    if (st != TL_OK) {
        tl_simusb_stop(s);
        return st;
    }
    *out = s;
    return TL_OK;
}

tl_status tl_simusb_raise_event(tl_simusb *s, int kind, uint16_t value)
{
    if (!s || kind < TL_PEV_BUTTON || kind > TL_PEV_FAULT)
        return TL_ERR_INVALID_ARG;
    pthread_mutex_lock(&s->mu);
    tl_status st = TL_OK;
    if (!s->plugged) {
        st = TL_ERR_DISCONNECTED;
    } else if (s->ev_count == SIM_EVENT_QUEUE) {
        st = TL_ERR_OVERFLOW;
    } else {
        tl_proto_event e = { .kind = (uint8_t)kind, .value = value, .seq = s->event_seq++,
                             .t_device_us = tl_now_ns() / 1000u };
        tl_proto_encode_event(&e, s->events[(s->ev_head + s->ev_count) % SIM_EVENT_QUEUE]);
        s->ev_count++;
        s->stats.events_sent++;
        simusb_feed_events_locked(s);
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

tl_status tl_simusb_press_button(tl_simusb *s)
{
    tl_status st = tl_simusb_raise_event(s, TL_PEV_BUTTON, 1);
    return st == TL_OK ? tl_simusb_raise_event(s, TL_PEV_BUTTON, 0) : st;
}

tl_status tl_simusb_inject(tl_simusb *s, tl_fault_kind kind)
{
    if (!s || !tl_fault_name(kind))
        return TL_ERR_INVALID_ARG;
    pthread_mutex_lock(&s->mu);
    s->pending_faults |= (uint32_t)kind;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return TL_OK;
}

tl_status tl_simusb_unplug(tl_simusb *s)
{
    if (!s)
        return TL_ERR_INVALID_ARG;
    pthread_mutex_lock(&s->mu);
    simusb_unplug_locked(s);
    s->replug_at_ns = 0;
    pthread_mutex_unlock(&s->mu);
    return TL_OK;
}

tl_status tl_simusb_replug(tl_simusb *s)
{
    return s ? simusb_plug(s) : TL_ERR_INVALID_ARG;
}

tl_status tl_simusb_truth(tl_simusb *s, uint32_t seq, tl_sim_truth *out)
{
    if (!s || !out)
        return TL_ERR_INVALID_ARG;
    if (!s->cfg.truth_keep)
        return TL_ERR_NOT_FOUND;
    pthread_mutex_lock(&s->mu);
    uint32_t slot = seq % s->cfg.truth_keep;
    tl_status st = TL_ERR_NOT_FOUND;
    if (s->truth_valid[slot] && s->truth_seq[slot] == seq) {
        *out = s->truths[slot];
        st = TL_OK;
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

tl_status tl_simusb_reference_frame(tl_simusb *s, uint32_t seq, int16_t *buf, size_t count)
{
    if (!s || !buf)
        return TL_ERR_INVALID_ARG;
    pthread_mutex_lock(&s->mu);
    tl_proto_params p = s->params;
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_lock(&s->ref_mu);
    tl_status st = TL_OK;
    if (!s->ref_src || memcmp(&p, &s->ref_params, sizeof p) != 0) {
        source_destroy(s->ref_src);
        s->ref_src = NULL;
        st = source_create_reference(s, &p, &s->ref_src);
        s->ref_params = p;
    }
    if (st == TL_OK)
        st = source_reference(s->ref_src, s->cfg.cycle_frames, seq, buf, count);
    pthread_mutex_unlock(&s->ref_mu);
    return st;
}

void tl_simusb_stats_get(tl_simusb *s, tl_simusb_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    out->plugged = s->plugged;
    out->streaming = s->streaming;
    pthread_mutex_unlock(&s->mu);
}

tl_status tl_simusb_wait_finished(tl_simusb *s, uint32_t timeout_ms)
{
    uint64_t deadline = tl_now_ns() + (uint64_t)timeout_ms * 1000000u;
    struct timespec ts = { (time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u) };
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    while (!(s->stats.finished && !s->tx_active && s->late_countdown < 0) && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->done_cv, &s->mu, &ts);
    bool ok = s->stats.finished && !s->tx_active;
    pthread_mutex_unlock(&s->mu);
    return ok ? TL_OK : TL_ERR_TIMEOUT;
}

tl_status tl_simusb_send_raw(tl_simusb *s, const void *bytes, size_t len, uint32_t timeout_ms)
{
    if (!s || (!bytes && len) || len > 64u * 1024u * 1024u)
        return TL_ERR_INVALID_ARG;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return TL_ERR_NO_MEM;
    if (len)
        memcpy(copy, bytes, len);
    pthread_mutex_lock(&s->mu);
    if (s->raw_pending || s->raw_sending) {
        pthread_mutex_unlock(&s->mu);
        free(copy);
        return TL_ERR_BUSY;
    }
    free(s->raw_buf);
    s->raw_buf = copy;
    s->raw_len = len;
    s->raw_pending = true;
    pthread_cond_broadcast(&s->cv);
    uint64_t deadline = tl_now_ns() + (uint64_t)timeout_ms * 1000000u;
    struct timespec ts = { (time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u) };
    int rc = 0;
    while ((s->raw_pending || s->raw_sending) && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->done_cv, &s->mu, &ts);
    tl_status st = (s->raw_pending || s->raw_sending) ? TL_ERR_TIMEOUT : TL_OK;
    pthread_mutex_unlock(&s->mu);
    return st;
}
