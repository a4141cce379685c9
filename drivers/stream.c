/* talus probe driver: the streaming half.
 *
 * USB thread: runs libusb's event loop. Bulk transfer callbacks append bytes
 * to the frame being assembled; a short transfer (or zero-length packet)
 * ends a frame, which is then validated field by field, CRC-checked,
 * sequence-checked and published into a power-of-two ring (airspy style: the
 * callback never waits for the consumer; a full ring costs a counted drop).
 * The frame is assembled directly in the next free ring slot, so a good
 * frame costs one copy (transfer buffer -> slot).
 *
 * Delivery thread: takes frames from the ring and calls the application's
 * frame callback, and delivers events.
 *
 * Unplug: a transfer completing with LIBUSB_TRANSFER_NO_DEVICE marks the
 * probe lost; once every transfer is back the handle is closed, the
 * application is told, and the USB thread looks for the same serial every
 * 100 ms until it returns (or reconnect_timeout_ms passes). */
#include "driver_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define RECONNECT_POLL_NS 100000000ull

/* TL_DRIVER_DEBUG=1: say why the probe was considered lost (diagnostics). */
static void mark_lost(tl_driver *d, const char *why)
{
    if (!atomic_exchange(&d->lost, true) && getenv("TL_DRIVER_DEBUG"))
        fprintf(stderr, "tl_driver: probe lost (%s)\n", why);
}

static void stat_add(tl_driver *d, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&d->smu);
    *field += n;
    pthread_mutex_unlock(&d->smu);
}

void drv_push_event(tl_driver *d, tl_event_kind kind, uint32_t value, uint64_t t_device_us)
{
    pthread_mutex_lock(&d->dmu);
    if (d->evq_count < DRV_EVENT_QUEUE) {
        tl_probe_event *e = &d->evq[(d->evq_head + d->evq_count) % DRV_EVENT_QUEUE];
        e->kind = kind;
        e->value = value;
        e->t_device_us = t_device_us;
        e->t_received_ns = tl_now_ns();
        d->evq_count++;
    }
    pthread_cond_signal(&d->dcv);
    pthread_mutex_unlock(&d->dmu);
}

static void begin_frame(tl_driver *d)
{
    uint64_t head = atomic_load_explicit(&d->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&d->tail, memory_order_acquire);
    if (head - tail < d->nslots) {
        d->cur = d->slots[head & (d->nslots - 1)].buf;
        d->cur_in_ring = true;
    } else {
        d->cur = d->spare;
        d->cur_in_ring = false;
    }
    d->cur_cap = d->frame_cap;
    d->cur_len = 0;
    d->cur_overflow = false;
}

static bool publish(tl_driver *d, const tl_frame *f, const uint8_t *buf, size_t len)
{
    uint64_t head = atomic_load_explicit(&d->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&d->tail, memory_order_acquire);
    drv_slot *slot = &d->slots[head & (d->nslots - 1)];
    if (!d->cur_in_ring) {
        /* Assembled in the spare because the ring was full; the consumer
         * may have caught up since. */
        if (head - tail >= d->nslots) {
            stat_add(d, &d->stats.ring_drops, 1);
            return false;
        }
        memcpy(slot->buf, buf, len);
    }
    slot->len = len;
    slot->frame = *f;
    slot->frame.data = slot->buf + TL_PROTO_FRAME_HEADER_BYTES;
    atomic_store_explicit(&d->head, head + 1, memory_order_release);
    pthread_mutex_lock(&d->dmu);
    pthread_cond_signal(&d->dcv);
    pthread_mutex_unlock(&d->dmu);
    return true;
}

/* A transfer ended short: whatever was assembled is one frame. */
static void end_frame(tl_driver *d)
{
    if (!d->cur)
        return;                       /* zero-length packet after an exact fit */
    uint64_t now = tl_now_ns();
    uint8_t *buf = d->cur;
    size_t len = d->cur_len;
    bool overflow = d->cur_overflow;
    d->cur = NULL;
    d->cur_len = 0;
    d->cur_overflow = false;
    if (overflow) {
        stat_add(d, &d->stats.oversize, 1);
        return;
    }
    if (len == 0)
        return;
    if (len < TL_PROTO_FRAME_HEADER_BYTES) {
        stat_add(d, &d->stats.truncated, 1);
        return;
    }
    tl_proto_frame_header h;
    tl_proto_decode_frame_header(buf, &h);
    tl_frame f;
    memset(&f, 0, sizeof f);
    if (drv_validate_header(buf, &h, atomic_load(&d->max_steer_deg), &f) != TL_OK) {
        stat_add(d, &d->stats.bad_headers, 1);
        return;
    }
    size_t expect = TL_PROTO_FRAME_HEADER_BYTES + (size_t)h.payload_bytes;
    if (len < expect) {
        stat_add(d, &d->stats.truncated, 1);
        return;
    }
    if (len > expect) {
        stat_add(d, &d->stats.oversize, 1);
        return;
    }
    if ((uint32_t)crc32(0L, buf + TL_PROTO_FRAME_HEADER_BYTES, h.payload_bytes) != h.payload_crc32) {
        stat_add(d, &d->stats.crc_errors, 1);
        return;
    }
    pthread_mutex_lock(&d->smu);
    bool late = false;
    if (d->have_seq) {
        int32_t delta = (int32_t)(h.seq - d->last_seq);
        if (d->resync && delta <= 0) {
            /* first frame after a reconnect from a restarted device */
        } else if (delta <= 0) {
            late = true;                /* older than one already delivered */
            d->stats.late_frames++;
        } else if (delta > 1) {
            d->stats.seq_gaps++;
            d->stats.frames_missing += (uint64_t)(delta - 1);
        }
    }
    if (!late) {
        d->resync = false;
        d->have_seq = true;
        d->last_seq = h.seq;
    }
    pthread_mutex_unlock(&d->smu);
    if (late)
        return;
    f.t_received_ns = now;
    if (publish(d, &f, buf, len))
        stat_add(d, &d->stats.frames_received, 1);
}

static void consume(tl_driver *d, const uint8_t *data, size_t n)
{
    if (!d->cur)
        begin_frame(d);
    if (d->cur_overflow)
        return;
    if (n > d->cur_cap - d->cur_len) {
        d->cur_overflow = true;
        return;
    }
    memcpy(d->cur + d->cur_len, data, n);
    d->cur_len += n;
}

static void discard_partial(tl_driver *d)
{
    if (d->cur && d->cur_len > 0)
        stat_add(d, &d->stats.truncated, 1);
    d->cur = NULL;
    d->cur_len = 0;
    d->cur_overflow = false;
}

/* ---- Transfer callbacks (run on whichever thread handles libusb events) --- */

static void resubmit(tl_driver *d, struct libusb_transfer *x)
{
    if (atomic_load(&d->running) && !atomic_load(&d->lost)) {
        int r = libusb_submit_transfer(x);
        if (r == 0)
            return;
        if (r == LIBUSB_ERROR_NO_DEVICE)
            mark_lost(d, "resubmit: no device");
        else
            stat_add(d, &d->stats.transfer_errors, 1);
    }
    atomic_fetch_sub(&d->in_flight, 1);
}

static void LIBUSB_CALL bulk_cb(struct libusb_transfer *x)
{
    tl_driver *d = x->user_data;
    switch (x->status) {
    case LIBUSB_TRANSFER_COMPLETED:
        d->in_stall = false;
        stat_add(d, &d->stats.bytes_received, (uint64_t)x->actual_length);
        if (x->actual_length > 0)
            consume(d, x->buffer, (size_t)x->actual_length);
        if (x->actual_length < x->length)
            end_frame(d);
        break;
    case LIBUSB_TRANSFER_STALL:
        /* Every queued transfer fails with the halt: count the halt once. */
        if (!d->in_stall) {
            d->in_stall = true;
            pthread_mutex_lock(&d->smu);
            d->stats.stalls++;
            d->stats.transfer_errors++;
            pthread_mutex_unlock(&d->smu);
        }
        discard_partial(d);
        libusb_clear_halt(x->dev_handle, TL_PROTO_EP_FRAMES);
        break;
    case LIBUSB_TRANSFER_NO_DEVICE:
        mark_lost(d, "bulk transfer: no device");
        discard_partial(d);
        break;
    case LIBUSB_TRANSFER_CANCELLED:
        discard_partial(d);
        atomic_fetch_sub(&d->in_flight, 1);
        return;
    default:                              /* error, timeout, overflow */
        stat_add(d, &d->stats.transfer_errors, 1);
        discard_partial(d);
        break;
    }
    resubmit(d, x);
}

static void LIBUSB_CALL event_cb(struct libusb_transfer *x)
{
    tl_driver *d = x->user_data;
    if (x->status == LIBUSB_TRANSFER_COMPLETED) {
        tl_proto_event e;
        if (x->actual_length == (int)TL_PROTO_EVENT_BYTES) {
            tl_proto_decode_event(x->buffer, &e);
            if (e.kind >= TL_PEV_BUTTON && e.kind <= TL_PEV_FAULT) {
                stat_add(d, &d->stats.events, 1);
                drv_push_event(d, (tl_event_kind)e.kind, e.value, e.t_device_us);
            } else {
                stat_add(d, &d->stats.transfer_errors, 1);
            }
        } else if (x->actual_length != 0) {
            stat_add(d, &d->stats.transfer_errors, 1);   /* malformed event */
        }
    } else if (x->status == LIBUSB_TRANSFER_NO_DEVICE) {
        mark_lost(d, "event transfer: no device");
    } else if (x->status == LIBUSB_TRANSFER_CANCELLED) {
        atomic_fetch_sub(&d->in_flight, 1);
        return;
    } else {
        stat_add(d, &d->stats.transfer_errors, 1);
    }
    resubmit(d, x);
}

/* Fill and submit every transfer on the current handle. */
static tl_status submit_all(tl_driver *d)
{
    for (uint32_t i = 0; i < d->nxfer; i++) {
        libusb_fill_bulk_transfer(d->xfer[i], d->h, TL_PROTO_EP_FRAMES, d->xbuf[i], (int)d->opt.transfer_bytes,
                                  bulk_cb, d, 0);
        atomic_fetch_add(&d->in_flight, 1);
        int r = libusb_submit_transfer(d->xfer[i]);
        if (r != 0) {
            atomic_fetch_sub(&d->in_flight, 1);
            return drv_status_from_libusb(r);
        }
    }
    libusb_fill_interrupt_transfer(d->ev_xfer, d->h, TL_PROTO_EP_EVENTS, d->ev_buf, sizeof d->ev_buf, event_cb, d, 0);
    atomic_fetch_add(&d->in_flight, 1);
    int r = libusb_submit_transfer(d->ev_xfer);
    if (r != 0) {
        atomic_fetch_sub(&d->in_flight, 1);
        return drv_status_from_libusb(r);
    }
    return TL_OK;
}

static void cancel_all(tl_driver *d)
{
    for (uint32_t i = 0; i < d->nxfer; i++)
        libusb_cancel_transfer(d->xfer[i]);
    if (d->ev_xfer)
        libusb_cancel_transfer(d->ev_xfer);
}

/* ---- Reconnect ---------------------------------------------------------------- */

static void close_lost_handle(tl_driver *d)
{
    pthread_mutex_lock(&d->hmu);
    if (d->h) {
        libusb_release_interface(d->h, TL_PROTO_INTERFACE);
        libusb_close(d->h);
        d->h = NULL;
    }
    atomic_store(&d->connected, false);
    pthread_mutex_unlock(&d->hmu);
    d->cur = NULL;
    d->cur_len = 0;
    d->lost_at_ns = tl_now_ns();
    stat_add(d, &d->stats.disconnects, 1);
    drv_push_event(d, TL_EVENT_DISCONNECTED, 0, 0);
}

static bool try_reconnect(tl_driver *d)
{
    libusb_device_handle *h = NULL;
    tl_probe_identity id;
    tl_status st = drv_open_handle(d->ctx, d->serial, &h, &id);
    if (getenv("TL_DRIVER_DEBUG"))
        fprintf(stderr, "tl_driver: reconnect attempt: %s\n", tl_strerror(st));
    if (st != TL_OK)
        return false;
    if ((d->params_set && drv_send_params(h, &d->params) != TL_OK)) {
        libusb_release_interface(h, TL_PROTO_INTERFACE);
        libusb_close(h);
        return false;
    }
    pthread_mutex_lock(&d->hmu);
    d->h = h;
    d->id = id;
    pthread_mutex_unlock(&d->hmu);
    atomic_store(&d->max_steer_deg, id.max_steer_deg);
    atomic_store(&d->lost, false);
    /* A device that restarted its sequence is a new session, not a gap;
     * one that kept counting shows what the unplug cost. */
    d->resync = true;
    if (submit_all(d) != TL_OK || drv_simple_request(h, TL_REQ_START) != TL_OK) {
        mark_lost(d, "restart after reconnect failed");
        return false;
    }
    atomic_store(&d->connected, true);
    stat_add(d, &d->stats.reconnects, 1);
    drv_push_event(d, TL_EVENT_RECONNECTED, 0, 0);
    return true;
}

static void *usb_main(void *arg)
{
    tl_driver *d = arg;
    uint64_t last_try = 0;
    while (atomic_load(&d->running) || atomic_load(&d->in_flight) > 0) {
        if (d->h) {
            struct timeval tv = { 0, 100000 };
            libusb_handle_events_timeout_completed(d->ctx, &tv, NULL);
            if (!atomic_load(&d->running))
                cancel_all(d);   /* also catches a resubmit that raced stop */
            if (atomic_load(&d->lost) && atomic_load(&d->in_flight) == 0)
                close_lost_handle(d);
            continue;
        }
        if (atomic_load(&d->in_flight) > 0) {   /* cannot happen without a handle */
            atomic_store(&d->in_flight, 0);
            continue;
        }
        if (!atomic_load(&d->running))
            break;
        if (!d->opt.reconnect || d->gave_up) {
            tl_sleep_ns(RECONNECT_POLL_NS);
            continue;
        }
        uint64_t now = tl_now_ns();
        if (d->opt.reconnect_timeout_ms &&
            now - d->lost_at_ns > (uint64_t)d->opt.reconnect_timeout_ms * 1000000u) {
            d->gave_up = true;
            drv_push_event(d, TL_EVENT_GAVE_UP, 0, 0);
            continue;
        }
        if (now - last_try >= RECONNECT_POLL_NS) {
            last_try = now;
            if (try_reconnect(d))
                continue;
        }
        tl_sleep_ns(RECONNECT_POLL_NS / 5);
    }
    return NULL;
}

/* ---- Delivery -------------------------------------------------------------------- */

static void *deliver_main(void *arg)
{
    tl_driver *d = arg;
    for (;;) {
        tl_probe_event evs[DRV_EVENT_QUEUE];
        int nev = 0;
        pthread_mutex_lock(&d->dmu);
        while (!d->deliver_quit && d->evq_count == 0 &&
               atomic_load_explicit(&d->head, memory_order_acquire) == atomic_load(&d->tail))
            pthread_cond_wait(&d->dcv, &d->dmu);
        bool quit = d->deliver_quit;
        while (d->evq_count > 0) {
            evs[nev++] = d->evq[d->evq_head];
            d->evq_head = (d->evq_head + 1) % DRV_EVENT_QUEUE;
            d->evq_count--;
        }
        tl_event_cb ecb = d->event_cb;
        void *euser = d->event_user;
        pthread_mutex_unlock(&d->dmu);

        for (int i = 0; i < nev; i++)
            if (ecb)
                ecb(&evs[i], euser);
        uint64_t tail = atomic_load(&d->tail);
        while (tail != atomic_load_explicit(&d->head, memory_order_acquire)) {
            drv_slot *slot = &d->slots[tail & (d->nslots - 1)];
            if (d->frame_cb)
                d->frame_cb(&slot->frame, d->frame_user);
            stat_add(d, &d->stats.frames_delivered, 1);
            atomic_store_explicit(&d->tail, ++tail, memory_order_release);
        }
        if (quit) {
            pthread_mutex_lock(&d->dmu);
            bool more = d->evq_count > 0;
            pthread_mutex_unlock(&d->dmu);
            if (!more && atomic_load(&d->tail) == atomic_load(&d->head))
                break;
        }
    }
    return NULL;
}

/* ---- Start / stop ------------------------------------------------------------------ */

static void free_stream(tl_driver *d)
{
    for (uint32_t i = 0; i < d->nxfer; i++) {
        libusb_free_transfer(d->xfer[i]);
        free(d->xbuf[i]);
        d->xfer[i] = NULL;
        d->xbuf[i] = NULL;
    }
    d->nxfer = 0;
    if (d->ev_xfer)
        libusb_free_transfer(d->ev_xfer);
    d->ev_xfer = NULL;
    if (d->slots)
        for (uint32_t i = 0; i < d->nslots; i++)
            free(d->slots[i].buf);
    free(d->slots);
    d->slots = NULL;
    free(d->spare);
    d->spare = NULL;
}

/* The USB thread is gone: let the delivery thread drain the ring, join it,
 * free the stream's buffers. */
static void finish_delivery(tl_driver *d)
{
    pthread_mutex_lock(&d->dmu);
    d->deliver_quit = true;
    pthread_cond_signal(&d->dcv);
    pthread_mutex_unlock(&d->dmu);
    pthread_join(d->deliver_thread, NULL);
    free_stream(d);
}

tl_status drv_stream_start(tl_driver *d)
{
    tl_probe_params p;
    tl_status st = drv_read_params(d->h, &p);
    if (st != TL_OK)
        return st;
    d->frame_cap = TL_PROTO_FRAME_HEADER_BYTES + (size_t)p.lines * p.samples * 2u;
    d->nslots = d->opt.ring_slots;
    d->slots = calloc(d->nslots, sizeof *d->slots);
    d->spare = malloc(d->frame_cap);
    bool ok = d->slots && d->spare;
    for (uint32_t i = 0; ok && i < d->nslots; i++) {
        d->slots[i].buf = malloc(d->frame_cap);
        d->slots[i].cap = d->frame_cap;
        ok = d->slots[i].buf != NULL;
    }
    d->nxfer = d->opt.transfers;
    for (uint32_t i = 0; ok && i < d->nxfer; i++) {
        d->xfer[i] = libusb_alloc_transfer(0);
        d->xbuf[i] = malloc(d->opt.transfer_bytes);
        ok = d->xfer[i] && d->xbuf[i];
    }
    d->ev_xfer = ok ? libusb_alloc_transfer(0) : NULL;
    if (!ok || !d->ev_xfer) {
        free_stream(d);
        return TL_ERR_NO_MEM;
    }
    atomic_store(&d->head, 0);
    atomic_store(&d->tail, 0);
    d->cur = NULL;
    d->cur_len = 0;
    d->have_seq = false;
    d->resync = false;
    d->gave_up = false;
    d->deliver_quit = false;
    atomic_store(&d->lost, false);
    atomic_store(&d->in_flight, 0);
    atomic_store(&d->running, true);

    if (pthread_create(&d->deliver_thread, NULL, deliver_main, d) != 0) {
        atomic_store(&d->running, false);
        free_stream(d);
        return TL_ERR_NO_MEM;
    }
    st = submit_all(d);
    if (st == TL_OK)
        st = drv_simple_request(d->h, TL_REQ_START);
    if (pthread_create(&d->usb_thread, NULL, usb_main, d) != 0) {
        st = TL_ERR_NO_MEM;
        atomic_store(&d->running, false);
        cancel_all(d);
        while (atomic_load(&d->in_flight) > 0) {
            struct timeval tv = { 0, 100000 };
            libusb_handle_events_timeout_completed(d->ctx, &tv, NULL);
        }
    } else if (st != TL_OK) {
        atomic_store(&d->running, false);
        cancel_all(d);
        pthread_join(d->usb_thread, NULL);
    }
    if (st != TL_OK)
        finish_delivery(d);
    return st;
}

void drv_stream_stop(tl_driver *d)
{
    pthread_mutex_lock(&d->hmu);
    tl_status stop_st = d->h && atomic_load(&d->connected) ? drv_simple_request(d->h, TL_REQ_STOP) : TL_ERR_DISCONNECTED;
    bool stopped = stop_st == TL_OK;
    pthread_mutex_unlock(&d->hmu);
    if (!stopped && getenv("TL_DRIVER_DEBUG"))
        fprintf(stderr, "tl_driver: STOP not sent: %s\n", tl_strerror(stop_st));
    /* The probe finishes the frame it is sending: let it land (until the
     * bulk endpoint has been quiet for 30 ms, at most 500 ms) rather than
     * cancel it half-way and count a frame that was never lost. */
    if (stopped) {
        uint64_t t0 = tl_now_ns(), quiet_since = t0, last = UINT64_MAX;
        while (tl_now_ns() - t0 < 500000000ull && tl_now_ns() - quiet_since < 100000000ull) {
            pthread_mutex_lock(&d->smu);
            uint64_t b = d->stats.bytes_received;
            pthread_mutex_unlock(&d->smu);
            if (b != last) {
                last = b;
                quiet_since = tl_now_ns();
            }
            tl_sleep_ns(2000000);
        }
    }
    atomic_store(&d->running, false);
    cancel_all(d);
    pthread_join(d->usb_thread, NULL);
    finish_delivery(d);
}
