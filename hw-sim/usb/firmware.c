/* The simulated probe's firmware: answers control requests, paces frames at
 * the set rate with device timestamps, moves them into bulk URBs, raises
 * interrupt events and injects faults. See docs/protocol.md.
 *
 * The device clock is the host's CLOCK_MONOTONIC in microseconds (same
 * machine), so latency from acquisition to delivery is directly measurable.
 *
 * Everything named *_locked runs with s->mu held. */
#include "simusb_internal.h"

#include <errno.h>
#include <math.h>
#include <sys/ioctl.h>
#include <linux/usbdevice_fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX_LINES 512u
#define MAX_SAMPLES 8192u
#define MAX_FPS 1000.0f

void simusb_firmware_init(tl_simusb *s)
{
    tl_geometry g = s->geom;
    tl_proto_identity *id = &s->identity;
    memset(id, 0, sizeof *id);
    id->protocol_version = TL_PROTO_VERSION;
    id->struct_bytes = TL_PROTO_IDENTITY_BYTES;
    id->capabilities = TL_CAP_RF | TL_CAP_TGC | TL_CAP_BUTTON | TL_CAP_TEMPERATURE;
    snprintf(id->model, sizeof id->model, "talus-sim %s", g.kind == TL_PROBE_CONVEX ? "C5-2" : "L12-5");
    snprintf(id->serial, sizeof id->serial, "%s", s->serial);
    snprintf(id->firmware, sizeof id->firmware, "sim-1.0.0");
    id->probe_kind = (uint8_t)g.kind;
    id->elements = g.lines;
    id->pitch_mm = g.pitch_mm;
    id->radius_mm = g.radius_mm;
    id->f0_hz = g.f0_hz;
    id->fs_hz = g.fs_hz;
    id->max_depth_mm = g.depth_start_mm + (float)(MAX_SAMPLES - 1) * g.c_m_s * 1000.0f / (2.0f * g.fs_hz);
    id->max_lines = MAX_LINES;
    id->max_samples = MAX_SAMPLES;
    id->max_fps = MAX_FPS;
    if (g.kind == TL_PROBE_LINEAR) {
        /* the simulated linear array steers up to 30 deg (hw-sim steer_deg) */
        id->capabilities |= TL_CAP_STEER;
        id->max_steer_deg = 30;
    }

    tl_proto_params *p = &s->params;
    memset(p, 0, sizeof *p);
    p->lines = s->cfg.lines ? s->cfg.lines : g.lines;
    p->samples = s->cfg.samples ? s->cfg.samples : g.samples;
    p->fps = s->cfg.fps >= 0 ? s->cfg.fps : 30.0f;
    p->f0_hz = g.f0_hz;
    p->depth_mm = tl_geometry_depth_mm(&g);
    p->output = TL_IMAGE_RF_REAL;
    s->params_dirty = true;
    s->streaming = false;
    s->tx_active = false;
    s->last_error = TL_PERR_NONE;
    s->late_countdown = -1;
}

static bool params_valid(const tl_simusb *s, const tl_proto_params *p)
{
    const tl_proto_identity *id = &s->identity;
    if (p->lines < 1 || p->lines > id->max_lines || p->samples < 64 || p->samples > id->max_samples)
        return false;
    if (!(p->fps >= 0.0f && p->fps <= id->max_fps))       /* also rejects NaN */
        return false;
    if (!(p->gain_db >= -40.0f && p->gain_db <= 60.0f))
        return false;
    for (int k = 0; k < TL_PROTO_TGC_POINTS; k++)
        if (!(p->tgc_db[k] >= -40.0f && p->tgc_db[k] <= 60.0f))
            return false;
    if (!(p->f0_hz == 0.0f || (p->f0_hz >= 1e6f && p->f0_hz <= 30e6f)))
        return false;
    if (!(p->depth_mm >= 0.0f && p->depth_mm <= 300.0f))
        return false;
    if (!(fabsf(p->steer_deg) <= (float)id->max_steer_deg) ||
        p->straight_every > TL_PROTO_MAX_STRAIGHT_EVERY)
        return false;
    return p->output == TL_IMAGE_RF_REAL;
}

/* USB string descriptor (UTF-16LE of ASCII). */
static int string_descriptor(const tl_simusb *s, int index, uint8_t *out, int cap)
{
    uint8_t d[2 + 2 * 40];
    int n;
    if (index == 0) {
        d[0] = 4; d[1] = 3; d[2] = 0x09; d[3] = 0x04;   /* English (US) */
        n = 4;
    } else {
        const char *str = index == 1 ? "talus" : index == 2 ? s->identity.model : index == 3 ? s->serial : NULL;
        if (!str)
            return -1;
        size_t len = strlen(str);
        if (len > 40)
            len = 40;
        n = (int)(2 + 2 * len);
        d[0] = (uint8_t)n;
        d[1] = 3;
        for (size_t i = 0; i < len; i++) {
            d[2 + 2 * i] = (uint8_t)str[i];
            d[3 + 2 * i] = 0;
        }
    }
    if (n > cap)
        n = cap;
    memcpy(out, d, (size_t)n);
    return n;
}

void simusb_control_locked(tl_simusb *s, sim_urb *u)
{
    const uint8_t *setup = u->buf;
    uint8_t rt = setup[0], req = setup[1];
    uint16_t wvalue = tl_proto_get_u16(setup + 2);
    uint16_t wlength = tl_proto_get_u16(setup + 6);
    uint8_t *data = u->buf + 8;
    int room = u->len - 8;
    if (wlength > room) {          /* the host's buffer is shorter than it says */
        u->status = -EPIPE;
        return;
    }
    u->status = 0;
    u->actual = 0;  /* libusb copies actual_length bytes back: data only, never the setup */

    if (rt == 0x80 && req == 6 && (wvalue >> 8) == 3) {          /* GET_DESCRIPTOR(string) */
        int n = string_descriptor(s, wvalue & 0xFF, data, wlength);
        if (n < 0)
            u->status = -EPIPE;
        else
            u->actual = n;
        return;
    }
    if (rt == TL_PROTO_RT_IN) {
        uint8_t tmp[TL_PROTO_IDENTITY_BYTES];
        size_t need = 0;
        if (req == TL_REQ_GET_IDENTITY) {
            tl_proto_encode_identity(&s->identity, tmp);
            need = TL_PROTO_IDENTITY_BYTES;
        } else if (req == TL_REQ_GET_PARAMS) {
            tl_proto_encode_params(&s->params, tmp);
            need = TL_PROTO_PARAMS_BYTES;
        } else if (req == TL_REQ_GET_STATUS) {
            tl_proto_status st = {
                .streaming = s->streaming,
                .last_error = s->last_error,
                .frames_sent = (uint32_t)s->stats.frames_sent,
                .temperature_mc = 31500,
                .uptime_ms = (uint32_t)((tl_now_ns() - s->start_ns) / 1000000u),
                .params_id = s->params_id,
                .events_sent = s->event_seq,
            };
            tl_proto_encode_status(&st, tmp);
            need = TL_PROTO_STATUS_BYTES;
        }
        if (need == 0 || wlength < need) {
            s->last_error = TL_PERR_BAD_REQUEST;
            u->status = -EPIPE;
            return;
        }
        memcpy(data, tmp, need);
        u->actual = (int)need;
        return;
    }
    if (rt == TL_PROTO_RT_OUT) {
        if (req == TL_REQ_SET_PARAMS) {
            if (wlength != TL_PROTO_PARAMS_BYTES) {
                s->last_error = TL_PERR_BAD_REQUEST;
                u->status = -EPIPE;
                return;
            }
            if (s->streaming) {
                s->last_error = TL_PERR_BUSY;
                u->status = -EPIPE;
                return;
            }
            tl_proto_params p;
            tl_proto_decode_params(data, &p);
            if (p.lines == 0)
                p.lines = s->params.lines;
            if (p.samples == 0)
                p.samples = s->params.samples;
            if (p.f0_hz == 0.0f)
                p.f0_hz = s->identity.f0_hz;
            if (!params_valid(s, &p)) {
                s->last_error = TL_PERR_BAD_PARAMS;
                u->status = -EPIPE;
                return;
            }
            /* Rebuild the frame source only when the frames change (not for
             * a new rate or depth label): building a scene is slow. */
            tl_proto_params a = s->params, b = p;
            a.fps = b.fps = 0.0f;
            a.depth_mm = b.depth_mm = 0.0f;
            bool same = a.lines == b.lines && a.samples == b.samples && a.f0_hz == b.f0_hz &&
                        a.gain_db == b.gain_db && a.output == b.output &&
                        a.steer_deg == b.steer_deg && a.straight_every == b.straight_every &&
                        memcmp(a.tgc_db, b.tgc_db, sizeof a.tgc_db) == 0;
            s->params = p;
            s->params_id++;
            s->params_dirty = s->params_dirty || !same;
            s->last_error = TL_PERR_NONE;
            u->actual = (int)wlength;
            return;
        }
        if ((req == TL_REQ_START || req == TL_REQ_STOP) && wlength == 0) {
            s->streaming = req == TL_REQ_START;
            if (s->streaming) {
                s->next_frame_ns = tl_now_ns();
                s->stats.streaming = true;
            }
            s->last_error = TL_PERR_NONE;
            pthread_cond_broadcast(&s->cv);
            return;
        }
    }
    s->last_error = TL_PERR_BAD_REQUEST;
    u->status = -EPIPE;
}

void simusb_feed_events_locked(tl_simusb *s)
{
    while (s->ev_count > 0 && s->int_pending.head) {
        sim_urb *u = simusb_queue_pop(&s->int_pending);
        int n = u->len < (int)TL_PROTO_EVENT_BYTES ? u->len : (int)TL_PROTO_EVENT_BYTES;
        memcpy(u->buf, s->events[s->ev_head], (size_t)n);
        u->actual = n;
        s->ev_head = (s->ev_head + 1) % SIM_EVENT_QUEUE;
        s->ev_count--;
        simusb_urb_complete_locked(s, u);
    }
}

/* ---- Frames -------------------------------------------------------------- */

static void bump_fault(tl_simusb *s, uint32_t kind)
{
    for (int b = 0; b < 7; b++)
        if (kind == (1u << b))
            s->stats.faults[b]++;
}

/* Which fault (one kind, or 0) hits the frame with this sequence number. */
static uint32_t fault_for_frame_locked(tl_simusb *s, uint32_t seq)
{
    if (s->pending_faults) {
        uint32_t k = s->pending_faults & (~s->pending_faults + 1u);   /* lowest bit */
        s->pending_faults &= ~k;
        return k;
    }
    uint32_t every = s->cfg.fault_every ? s->cfg.fault_every : 40;
    if (!s->cfg.faults || seq < every / 2 || (seq - every / 2) % every != 0)
        return 0;
    for (int tries = 0; tries < 7; tries++) {
        uint32_t k = 1u << (s->fault_rotor++ % 7);
        if (s->cfg.faults & k)
            return k;
    }
    return 0;
}

static bool ensure_cap(uint8_t **buf, size_t *cap, size_t need)
{
    if (*cap >= need)
        return true;
    uint8_t *p = realloc(*buf, need);
    if (!p)
        return false;
    *buf = p;
    *cap = need;
    return true;
}

static void build_header_locked(tl_simusb *s, uint32_t seq, uint64_t t_us, uint32_t crc, size_t bytes,
                                float steer_deg, uint8_t *out)
{
    const tl_geometry g = s->geom;
    tl_proto_frame_header h = {
        .magic = TL_PROTO_FRAME_MAGIC,
        .version = TL_PROTO_VERSION,
        .header_bytes = TL_PROTO_FRAME_HEADER_BYTES,
        .seq = seq,
        .t_device_us = t_us,
        .lines = s->params.lines,
        .samples = s->params.samples,
        .sample_format = TL_IMAGE_RF_REAL,
        .bytes_per_sample = 2,
        .probe_kind = (uint8_t)g.kind,
        .payload_bytes = (uint32_t)bytes,
        .payload_crc32 = crc,
        .params_id = s->params_id,
        .pitch_mm = g.pitch_mm,
        .radius_mm = g.radius_mm,
        .f0_hz = s->params.f0_hz,
        .fs_hz = g.fs_hz,
        .c_m_s = g.c_m_s,
        .depth_start_mm = g.depth_start_mm,
        .steer_deg = steer_deg,
    };
    tl_proto_encode_frame_header(&h, out);
    h.header_crc32 = (uint32_t)crc32(0L, out, TL_PROTO_HEADER_CRC_SPAN);
    tl_proto_put_u32(out + TL_PROTO_HEADER_CRC_SPAN, h.header_crc32);
}

static void start_tx_locked(tl_simusb *s, const uint8_t *header, const uint8_t *payload, size_t bytes)
{
    memcpy(s->tx.header, header, TL_PROTO_FRAME_HEADER_BYTES);
    s->tx.payload = payload;
    s->tx.payload_bytes = bytes;
    s->tx.hlen = TL_PROTO_FRAME_HEADER_BYTES;
    s->tx.total = TL_PROTO_FRAME_HEADER_BYTES + bytes;
    s->tx.off = 0;
    s->tx.unplug_mid = false;
    s->tx_active = true;
}

/* Produce the next frame (mu held on entry and exit; released to render). */
static void produce_frame_locked(tl_simusb *s, tl_sim_truth *truth_tmp)
{
    uint32_t seq = s->seq++;
    s->stats.frames_sent++;
    if (s->cfg.max_frames && s->stats.frames_sent >= s->cfg.max_frames) {
        s->stats.finished = true;
        pthread_cond_broadcast(&s->done_cv);
    }
    uint32_t fault = fault_for_frame_locked(s, seq);
    if (fault)
        bump_fault(s, fault);
    if (fault == TL_FAULT_DROP)
        return;
    if (fault == TL_FAULT_STALL) {
        /* The endpoint halts: queued URBs fail with EPIPE until CLEAR_HALT;
         * this frame is lost. */
        s->bulk_halted = true;
        sim_urb *u;
        while ((u = simusb_queue_pop(&s->bulk_pending)) != NULL) {
            u->status = -EPIPE;
            simusb_urb_complete_locked(s, u);
        }
        return;
    }
    if (!s->src)
        return;
    uint64_t t_us = tl_now_ns() / 1000u;
    const uint8_t *payload;
    size_t bytes;
    uint32_t crc;
    float steer = 0.0f;
    pthread_mutex_unlock(&s->mu);
    tl_status st = source_frame(s->src, seq, &payload, &bytes, &crc, &steer,
                                s->cfg.truth_keep ? truth_tmp : NULL);
    pthread_mutex_lock(&s->mu);
    if (st != TL_OK || !s->plugged)
        return;
    if (s->cfg.truth_keep) {
        uint32_t slot = seq % s->cfg.truth_keep;
        s->truths[slot] = *truth_tmp;
        s->truth_seq[slot] = seq;
        s->truth_valid[slot] = true;
    }
    uint8_t header[TL_PROTO_FRAME_HEADER_BYTES];
    build_header_locked(s, seq, t_us, crc, bytes, steer, header);

    switch (fault) {
    case TL_FAULT_CORRUPT:
        if (!ensure_cap(&s->scratch, &s->scratch_cap, bytes))
            return;
        memcpy(s->scratch, payload, bytes);
        for (int k = 0; k < 8; k++)
            s->scratch[tl_rng_next(&s->rng) % bytes] ^= (uint8_t)(1u + tl_rng_next(&s->rng) % 255u);
        payload = s->scratch;
        break;
    case TL_FAULT_TRUNCATE:
        bytes /= 2;   /* header still announces the full length */
        break;
    case TL_FAULT_GARBAGE:
        for (size_t i = 0; i < sizeof header; i++)
            header[i] = (uint8_t)tl_rng_next(&s->rng);
        if (tl_proto_get_u32(header) == TL_PROTO_FRAME_MAGIC)
            header[0] ^= 0xFF;
        break;
    case TL_FAULT_LATE:
        if (!ensure_cap(&s->late_buf, &s->late_cap, TL_PROTO_FRAME_HEADER_BYTES + bytes))
            return;
        memcpy(s->late_buf, header, TL_PROTO_FRAME_HEADER_BYTES);
        memcpy(s->late_buf + TL_PROTO_FRAME_HEADER_BYTES, payload, bytes);
        s->late_bytes = bytes;
        s->late_countdown = TL_SIMUSB_LATE_BY;
        return;
    default:
        break;
    }
    start_tx_locked(s, header, payload, bytes);
    s->tx.unplug_mid = fault == TL_FAULT_DISCONNECT;
}

/* Copy the frame in flight into queued bulk URBs. */
static void fill_bulk_locked(tl_simusb *s)
{
    tx_frame *t = &s->tx;
    while (s->tx_active && s->bulk_pending.head && s->plugged) {
        sim_urb *u = s->bulk_pending.head;
        if (t->off == t->total) {            /* only a zero-length packet is owed */
            simusb_queue_pop(&s->bulk_pending);
            u->actual = 0;
            simusb_urb_complete_locked(s, u);
            s->tx_active = false;
            s->stats.frames_complete++;
            break;
        }
        size_t room = (size_t)(u->len - u->actual);
        size_t n = t->total - t->off;
        if (n > room)
            n = room;
        size_t done = 0;
        if (t->off < t->hlen) {
            size_t h = t->hlen - t->off;
            if (h > n)
                h = n;
            memcpy(u->buf + u->actual, t->header + t->off, h);
            done = h;
        }
        if (done < n)
            memcpy(u->buf + u->actual + done, t->payload + (t->off + done - t->hlen), n - done);
        u->actual += (int)n;
        t->off += n;
        s->stats.bytes_sent += n;
        if (t->unplug_mid && t->off >= t->total / 2) {
            uint32_t ms = s->cfg.replug_ms ? s->cfg.replug_ms : 1000;
            simusb_unplug_locked(s);       /* kills u and the rest */
            s->replug_at_ns = tl_now_ns() + (uint64_t)ms * 1000000u;
            return;
        }
        bool frame_end = t->off == t->total;
        bool full = u->actual == u->len;
        if (frame_end || full) {
            simusb_queue_pop(&s->bulk_pending);
            simusb_urb_complete_locked(s, u);
        }
        if (frame_end) {
            /* A frame that filled its last URB exactly and is a multiple of
             * the packet size ends with a zero-length packet. */
            if (full && t->total % TL_PROTO_BULK_MAX_PACKET == 0)
                continue;   /* loop sends the ZLP into the next URB */
            s->tx_active = false;
            s->stats.frames_complete++;
        }
    }
}

/* After a frame went out: send a held-back (late) frame when its turn comes. */
static void after_frame_locked(tl_simusb *s)
{
    if (s->late_countdown > 0)
        s->late_countdown--;
    if (s->late_countdown == 0 && !s->tx_active) {
        s->late_countdown = -1;
        start_tx_locked(s, s->late_buf, s->late_buf + TL_PROTO_FRAME_HEADER_BYTES, s->late_bytes);
    }
}

static void deadline_min(uint64_t *d, uint64_t t)
{
    if (t && (*d == 0 || t < *d))
        *d = t;
}

void *simusb_pacer_main(void *arg)
{
    tl_simusb *s = arg;
    tl_sim_truth *truth_tmp = calloc(1, sizeof *truth_tmp);
    pthread_mutex_lock(&s->mu);
    while (!atomic_load(&s->quit)) {
        uint64_t now = tl_now_ns();

        if (s->replug_at_ns && now >= s->replug_at_ns) {
            s->replug_at_ns = 0;
            pthread_mutex_unlock(&s->mu);
            simusb_plug(s);
            pthread_mutex_lock(&s->mu);
            continue;
        }

        /* New parameters: rebuild the frame source (scene, pre-rendered
         * cycle) here, not in the control request, which must answer fast;
         * and only once streaming is asked for (listing a probe should not
         * build a scene). */
        if (s->params_dirty && s->streaming) {
            source *old = s->src;
            s->src = NULL;
            s->params_dirty = false;
            tl_proto_params p = s->params;
            pthread_mutex_unlock(&s->mu);
            source_destroy(old);
            source *fresh = NULL;
            if (source_create(s, &p, &fresh) != TL_OK)
                fresh = NULL;
            pthread_mutex_lock(&s->mu);
            if (s->params_dirty)
                source_destroy(fresh);    /* changed again meanwhile */
            else
                s->src = fresh;
            continue;
        }

        /* A raw test frame goes out between two regular ones. */
        if (s->raw_pending && !s->tx_active && s->plugged && s->streaming) {
            s->raw_pending = false;
            s->raw_sending = true;
            start_tx_locked(s, s->tx.header, s->raw_buf, s->raw_len);
            s->tx.hlen = 0;
            s->tx.total = s->raw_len;
        }

        /* Frames: at the set rate, or back to back at fps 0. */
        bool can_produce = s->plugged && s->streaming && !s->stats.finished && truth_tmp && s->src;
        float fps = s->params.fps;
        if (can_produce && !s->tx_active && s->late_countdown != 0 && (fps <= 0.0f || now >= s->next_frame_ns)) {
            if (fps > 0.0f) {
                uint64_t period = (uint64_t)(1e9 / fps);
                s->next_frame_ns += period;
                if (s->next_frame_ns + period < now)   /* fell behind: do not burst */
                    s->next_frame_ns = now + period;
            }
            bool was_active = s->tx_active;
            produce_frame_locked(s, truth_tmp);
            if (!was_active && !s->tx_active)   /* dropped / stalled / held */
                after_frame_locked(s);
        } else if (can_produce && s->tx_active && fps > 0.0f && now >= s->next_frame_ns + (uint64_t)(1e9 / fps)) {
            /* Acquisition does not wait for the host: a frame whose slot came
             * while the previous one is still queued is lost (seq consumed). */
            s->next_frame_ns += (uint64_t)(1e9 / fps);
            s->seq++;
            s->stats.frames_sent++;
            s->stats.overruns++;
            if (s->cfg.max_frames && s->stats.frames_sent >= s->cfg.max_frames) {
                s->stats.finished = true;
                pthread_cond_broadcast(&s->done_cv);
            }
        }

        if (s->tx_active) {
            fill_bulk_locked(s);
            if (!s->tx_active) {
                if (s->raw_sending) {
                    s->raw_sending = false;
                    pthread_cond_broadcast(&s->done_cv);
                }
                after_frame_locked(s);
                if (s->stats.finished)
                    pthread_cond_broadcast(&s->done_cv);
                continue;   /* maybe the next frame (or the late one) at once */
            }
        }
        simusb_feed_events_locked(s);

        /* Sleep until something is due; submits, events and stop wake us
         * (parked reaps are the timer thread's). */
        uint64_t wake = 0;
        deadline_min(&wake, s->replug_at_ns);
        if (s->plugged && s->streaming && !s->stats.finished && s->src && fps > 0.0f)
            deadline_min(&wake, s->next_frame_ns + (s->tx_active ? (uint64_t)(1e9 / fps) : 0));
        if (s->tx_active && s->bulk_pending.head)
            continue;
        if (!s->tx_active && s->plugged && s->streaming && !s->stats.finished && s->src && fps <= 0.0f &&
            s->late_countdown != 0)
            continue;
        /* mu was released while rendering: a stop may have been signalled
         * then; check under the lock we wait with, or the wake-up is lost. */
        if (atomic_load(&s->quit))
            break;
        if (wake == 0) {
            pthread_cond_wait(&s->cv, &s->mu);
        } else if (wake > now) {
            struct timespec ts = { (time_t)(wake / 1000000000u), (long)(wake % 1000000000u) };
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
    }
    pthread_mutex_unlock(&s->mu);
    free(truth_tmp);
    return NULL;
}
