/* talus probe driver: discovery, open/close, control requests. */
#include "driver_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tl_status drv_status_from_libusb(int r)
{
    switch (r) {
    case LIBUSB_SUCCESS: return TL_OK;
    case LIBUSB_ERROR_INVALID_PARAM: return TL_ERR_INVALID_ARG;
    case LIBUSB_ERROR_ACCESS: return TL_ERR_PERMISSION;
    case LIBUSB_ERROR_NO_DEVICE: return TL_ERR_DISCONNECTED;
    case LIBUSB_ERROR_NOT_FOUND: return TL_ERR_NOT_FOUND;
    case LIBUSB_ERROR_BUSY: return TL_ERR_BUSY;
    case LIBUSB_ERROR_TIMEOUT: return TL_ERR_TIMEOUT;
    case LIBUSB_ERROR_OVERFLOW: return TL_ERR_OVERFLOW;
    case LIBUSB_ERROR_NO_MEM: return TL_ERR_NO_MEM;
    case LIBUSB_ERROR_NOT_SUPPORTED: return TL_ERR_UNSUPPORTED;
    case LIBUSB_ERROR_IO: return TL_ERR_IO;
    default: return TL_ERR_USB;
    }
}

tl_driver_options tl_driver_options_default(void)
{
    tl_driver_options o = {
        .transfers = 8,
        .transfer_bytes = 256u * 1024u,
        .ring_slots = 8,
        .reconnect = true,
        .reconnect_timeout_ms = 10000,
    };
    return o;
}

tl_probe_params tl_probe_params_default(void)
{
    tl_probe_params p;
    memset(&p, 0, sizeof p);
    p.fps = 30.0f;
    p.lines = 128;
    p.samples = 2048;
    p.output = TL_IMAGE_RF_REAL;
    return p;
}

static bool in_range(float v, float lo, float hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

/* The device is untrusted: an identity outside these bounds is refused. */
static tl_status identity_from_wire(const uint8_t *raw, int n, tl_probe_identity *id)
{
    if (n != (int)TL_PROTO_IDENTITY_BYTES)
        return TL_ERR_FORMAT;
    tl_proto_identity w;
    tl_proto_decode_identity(raw, &w);
    if (w.protocol_version != TL_PROTO_VERSION || w.struct_bytes != TL_PROTO_IDENTITY_BYTES)
        return TL_ERR_FORMAT;
    if (w.probe_kind > TL_PROBE_CONVEX || w.elements < 1 || w.elements > 4096 ||
        !in_range(w.pitch_mm, 0.01f, 5.0f) || !in_range(w.radius_mm, 0.0f, 500.0f) ||
        !in_range(w.f0_hz, 0.1e6f, 100e6f) || !in_range(w.fs_hz, 0.5e6f, 1e9f) ||
        !in_range(w.max_depth_mm, 1.0f, 2000.0f) || w.max_lines < 1 || w.max_lines > TL_PROTO_MAX_LINES ||
        w.max_samples < 1 || w.max_samples > TL_PROTO_MAX_SAMPLES || !in_range(w.max_fps, 0.0f, 100000.0f) ||
        w.serial[0] == '\0')
        return TL_ERR_FORMAT;
    /* steering: declared by a linear probe with the capability, within what
     * an array steers; anything else is refused */
    bool steers = (w.capabilities & TL_CAP_STEER) != 0;
    if (w.max_steer_deg > TL_MAX_STEER_DEG || (steers != (w.max_steer_deg > 0)) ||
        (steers && w.probe_kind != TL_PROBE_LINEAR))
        return TL_ERR_FORMAT;
    memset(id, 0, sizeof *id);
    id->protocol_version = w.protocol_version;
    id->capabilities = w.capabilities;
    memcpy(id->model, w.model, sizeof id->model);
    memcpy(id->serial, w.serial, sizeof id->serial);
    memcpy(id->firmware, w.firmware, sizeof id->firmware);
    id->kind = (tl_probe_kind)w.probe_kind;
    id->elements = w.elements;
    id->pitch_mm = w.pitch_mm;
    id->radius_mm = w.radius_mm;
    id->f0_hz = w.f0_hz;
    id->fs_hz = w.fs_hz;
    id->max_depth_mm = w.max_depth_mm;
    id->max_lines = w.max_lines;
    id->max_samples = w.max_samples;
    id->max_fps = w.max_fps;
    id->max_steer_deg = (float)w.max_steer_deg;
    return TL_OK;
}

static tl_status read_identity(libusb_device_handle *h, tl_probe_identity *id)
{
    uint8_t raw[TL_PROTO_IDENTITY_BYTES];
    int r = libusb_control_transfer(h, TL_PROTO_RT_IN, TL_REQ_GET_IDENTITY, 0, TL_PROTO_INTERFACE, raw,
                                    sizeof raw, DRV_CTRL_TIMEOUT_MS);
    if (r < 0)
        return drv_status_from_libusb(r);
    return identity_from_wire(raw, r, id);
}

static bool is_probe(libusb_device *dev)
{
    struct libusb_device_descriptor dd;
    return libusb_get_device_descriptor(dev, &dd) == 0 && dd.idVendor == TL_PROTO_VID &&
           dd.idProduct == TL_PROTO_PID;
}

tl_status drv_open_handle(libusb_context *ctx, const char *serial, libusb_device_handle **out,
                          tl_probe_identity *id)
{
    *out = NULL;
    libusb_device **list = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);
    if (n < 0)
        return drv_status_from_libusb((int)n);
    tl_status result = TL_ERR_NOT_FOUND;
    for (ssize_t i = 0; i < n && !*out; i++) {
        if (!is_probe(list[i]))
            continue;
        libusb_device_handle *h = NULL;
        int r = libusb_open(list[i], &h);
        if (r != 0) {
            if (result == TL_ERR_NOT_FOUND)
                result = drv_status_from_libusb(r);
            continue;
        }
        tl_probe_identity tmp;
        tl_status st = read_identity(h, &tmp);
        if (st == TL_OK && serial && serial[0] && strcmp(tmp.serial, serial) != 0)
            st = TL_ERR_NOT_FOUND;
        if (st == TL_OK) {
            r = libusb_claim_interface(h, TL_PROTO_INTERFACE);
            st = drv_status_from_libusb(r);
        }
        if (st == TL_OK) {
            *out = h;
            *id = tmp;
            result = TL_OK;
        } else {
            if (st != TL_ERR_NOT_FOUND)
                result = st;
            libusb_close(h);
        }
    }
    libusb_free_device_list(list, 1);
    return result;
}

tl_status tl_driver_list(tl_probe_info *out, size_t cap, size_t *count)
{
    *count = 0;
    libusb_context *ctx = NULL;
    int r = libusb_init(&ctx);
    if (r != 0)
        return drv_status_from_libusb(r);
    libusb_device **list = NULL;
    ssize_t n = libusb_get_device_list(ctx, &list);
    if (n < 0) {
        libusb_exit(ctx);
        return drv_status_from_libusb((int)n);
    }
    size_t found = 0;
    for (ssize_t i = 0; i < n; i++) {
        if (!is_probe(list[i]))
            continue;
        if (found < cap) {
            tl_probe_info *info = &out[found];
            memset(info, 0, sizeof *info);
            info->vid = TL_PROTO_VID;
            info->pid = TL_PROTO_PID;
            info->bus = libusb_get_bus_number(list[i]);
            info->address = libusb_get_device_address(list[i]);
            snprintf(info->model, sizeof info->model, "?");
            libusb_device_handle *h = NULL;
            if (libusb_open(list[i], &h) == 0) {
                tl_probe_identity id;
                if (read_identity(h, &id) == TL_OK) {
                    memcpy(info->model, id.model, sizeof info->model);
                    memcpy(info->serial, id.serial, sizeof info->serial);
                    memcpy(info->firmware, id.firmware, sizeof info->firmware);
                }
                libusb_close(h);
            }
        }
        found++;
    }
    libusb_free_device_list(list, 1);
    libusb_exit(ctx);
    *count = found;
    return TL_OK;
}

tl_status tl_driver_open(const char *serial, const tl_driver_options *opts, tl_driver **out)
{
    *out = NULL;
    tl_driver_options o = opts ? *opts : tl_driver_options_default();
    if (o.transfers < 1 || o.transfers > DRV_MAX_TRANSFERS || o.transfer_bytes < TL_PROTO_BULK_MAX_PACKET ||
        o.transfer_bytes % TL_PROTO_BULK_MAX_PACKET != 0 || o.transfer_bytes > 16u * 1024u * 1024u ||
        o.ring_slots < 2 || o.ring_slots > 1024 || (o.ring_slots & (o.ring_slots - 1)) != 0)
        return TL_ERR_INVALID_ARG;
    if (serial && strlen(serial) >= 32)
        return TL_ERR_INVALID_ARG;
    tl_driver *d = calloc(1, sizeof *d);
    if (!d)
        return TL_ERR_NO_MEM;
    d->opt = o;
    pthread_mutex_init(&d->dmu, NULL);
    pthread_cond_init(&d->dcv, NULL);
    pthread_mutex_init(&d->smu, NULL);
    pthread_mutex_init(&d->hmu, NULL);
    atomic_init(&d->running, false);
    atomic_init(&d->connected, false);
    atomic_init(&d->lost, false);
    atomic_init(&d->in_flight, 0);
    atomic_init(&d->head, 0);
    atomic_init(&d->tail, 0);
    int r = libusb_init(&d->ctx);
    if (r != 0) {
        tl_status st = drv_status_from_libusb(r);
        tl_driver_close(d);
        return st;
    }
    tl_status st = drv_open_handle(d->ctx, serial, &d->h, &d->id);
    atomic_store(&d->max_steer_deg, st == TL_OK ? d->id.max_steer_deg : 0.0f);
    if (st != TL_OK) {
        tl_driver_close(d);
        return st;
    }
    /* Reconnect looks for this exact probe, even if opened as "the first". */
    snprintf(d->serial, sizeof d->serial, "%s", d->id.serial);
    atomic_store(&d->connected, true);
    *out = d;
    return TL_OK;
}

void tl_driver_close(tl_driver *d)
{
    if (!d)
        return;
    if (d->streaming)
        tl_driver_stop(d);
    if (d->h) {
        libusb_release_interface(d->h, TL_PROTO_INTERFACE);
        libusb_close(d->h);
    }
    if (d->ctx)
        libusb_exit(d->ctx);
    pthread_mutex_destroy(&d->dmu);
    pthread_cond_destroy(&d->dcv);
    pthread_mutex_destroy(&d->smu);
    pthread_mutex_destroy(&d->hmu);
    free(d);
}

tl_status tl_driver_identify(tl_driver *d, tl_probe_identity *out)
{
    if (!d || !out)
        return TL_ERR_INVALID_ARG;
    pthread_mutex_lock(&d->hmu);
    tl_probe_identity id;
    tl_status st = d->h ? read_identity(d->h, &id) : TL_ERR_DISCONNECTED;
    if (st == TL_OK) {
        d->id = id;
        *out = id;
    }
    pthread_mutex_unlock(&d->hmu);
    return st;
}

static uint8_t last_device_error(libusb_device_handle *h)
{
    uint8_t raw[TL_PROTO_STATUS_BYTES];
    int r = libusb_control_transfer(h, TL_PROTO_RT_IN, TL_REQ_GET_STATUS, 0, TL_PROTO_INTERFACE, raw,
                                    sizeof raw, DRV_CTRL_TIMEOUT_MS);
    return r == (int)TL_PROTO_STATUS_BYTES ? raw[1] : TL_PERR_INTERNAL;
}

tl_status drv_send_params(libusb_device_handle *h, const tl_probe_params *p)
{
    tl_proto_params w;
    memset(&w, 0, sizeof w);
    w.depth_mm = p->depth_mm;
    w.gain_db = p->gain_db;
    memcpy(w.tgc_db, p->tgc_db, sizeof w.tgc_db);
    w.f0_hz = p->f0_hz;
    w.fps = p->fps;
    w.lines = p->lines;
    w.samples = p->samples;
    w.output = (uint8_t)p->output;
    w.steer_deg = p->steer_deg;
    w.straight_every = (uint8_t)p->straight_every;
    uint8_t raw[TL_PROTO_PARAMS_BYTES];
    tl_proto_encode_params(&w, raw);
    int r = libusb_control_transfer(h, TL_PROTO_RT_OUT, TL_REQ_SET_PARAMS, 0, TL_PROTO_INTERFACE, raw,
                                    sizeof raw, DRV_CTRL_TIMEOUT_MS);
    if (r == LIBUSB_ERROR_PIPE) {
        uint8_t e = last_device_error(h);
        return e == TL_PERR_BUSY ? TL_ERR_BUSY : TL_ERR_INVALID_ARG;
    }
    if (r < 0)
        return drv_status_from_libusb(r);
    return r == (int)TL_PROTO_PARAMS_BYTES ? TL_OK : TL_ERR_USB;
}

tl_status drv_read_params(libusb_device_handle *h, tl_probe_params *out)
{
    uint8_t raw[TL_PROTO_PARAMS_BYTES];
    int r = libusb_control_transfer(h, TL_PROTO_RT_IN, TL_REQ_GET_PARAMS, 0, TL_PROTO_INTERFACE, raw,
                                    sizeof raw, DRV_CTRL_TIMEOUT_MS);
    if (r < 0)
        return drv_status_from_libusb(r);
    if (r != (int)TL_PROTO_PARAMS_BYTES)
        return TL_ERR_FORMAT;
    tl_proto_params w;
    tl_proto_decode_params(raw, &w);
    if (w.lines < 1 || w.lines > TL_PROTO_MAX_LINES || w.samples < 1 || w.samples > TL_PROTO_MAX_SAMPLES ||
        !in_range(w.fps, 0.0f, 100000.0f) || !in_range(w.gain_db, -100.0f, 100.0f) ||
        !in_range(w.f0_hz, 0.0f, 100e6f) || !in_range(w.depth_mm, 0.0f, 2000.0f) ||
        (w.output != TL_IMAGE_RF_REAL && w.output != TL_IMAGE_ENVELOPE) ||
        !in_range(w.steer_deg, -TL_MAX_STEER_DEG, TL_MAX_STEER_DEG) ||
        w.straight_every > TL_PROTO_MAX_STRAIGHT_EVERY)
        return TL_ERR_FORMAT;
    memset(out, 0, sizeof *out);
    out->depth_mm = w.depth_mm;
    out->gain_db = w.gain_db;
    for (int k = 0; k < TL_PROTO_TGC_POINTS; k++) {
        if (!in_range(w.tgc_db[k], -100.0f, 100.0f))
            return TL_ERR_FORMAT;
        out->tgc_db[k] = w.tgc_db[k];
    }
    out->f0_hz = w.f0_hz;
    out->fps = w.fps;
    out->lines = w.lines;
    out->samples = w.samples;
    out->output = (tl_image_type)w.output;
    out->steer_deg = w.steer_deg;
    out->straight_every = w.straight_every;
    return TL_OK;
}

tl_status drv_simple_request(libusb_device_handle *h, uint8_t req)
{
    int r = libusb_control_transfer(h, TL_PROTO_RT_OUT, req, 0, TL_PROTO_INTERFACE, NULL, 0, DRV_CTRL_TIMEOUT_MS);
    return r < 0 ? drv_status_from_libusb(r) : TL_OK;
}

tl_status tl_driver_set_params(tl_driver *d, const tl_probe_params *p)
{
    if (!d || !p)
        return TL_ERR_INVALID_ARG;
    if (d->streaming)
        return TL_ERR_STATE;
    if (!atomic_load(&d->connected) || !d->h)
        return TL_ERR_DISCONNECTED;
    tl_status st = drv_send_params(d->h, p);
    if (st == TL_OK) {
        d->params = *p;
        d->params_set = true;
    }
    return st;
}

tl_status tl_driver_get_params(tl_driver *d, tl_probe_params *out)
{
    if (!d || !out)
        return TL_ERR_INVALID_ARG;
    pthread_mutex_lock(&d->hmu);
    tl_status st = d->h ? drv_read_params(d->h, out) : TL_ERR_DISCONNECTED;
    pthread_mutex_unlock(&d->hmu);
    return st;
}

tl_status tl_driver_status(tl_driver *d, tl_probe_status *out)
{
    if (!d || !out)
        return TL_ERR_INVALID_ARG;
    uint8_t raw[TL_PROTO_STATUS_BYTES];
    pthread_mutex_lock(&d->hmu);
    int r = !d->h ? LIBUSB_ERROR_NO_DEVICE : libusb_control_transfer(d->h, TL_PROTO_RT_IN, TL_REQ_GET_STATUS, 0, TL_PROTO_INTERFACE, raw,
                                    sizeof raw, DRV_CTRL_TIMEOUT_MS);
    pthread_mutex_unlock(&d->hmu);
    if (r < 0)
        return drv_status_from_libusb(r);
    if (r != (int)TL_PROTO_STATUS_BYTES)
        return TL_ERR_FORMAT;
    tl_proto_status w;
    tl_proto_decode_status(raw, &w);
    out->streaming = w.streaming != 0;
    out->last_error = w.last_error;
    out->frames_sent = w.frames_sent;
    out->temperature_c = (float)w.temperature_mc / 1000.0f;
    out->uptime_ms = w.uptime_ms;
    out->params_id = w.params_id;
    return TL_OK;
}

void tl_driver_stats_get(tl_driver *d, tl_driver_stats *out)
{
    pthread_mutex_lock(&d->smu);
    *out = d->stats;
    out->frames_dropped = out->frames_missing + out->ring_drops;
    pthread_mutex_unlock(&d->smu);
}

bool tl_driver_connected(tl_driver *d)
{
    return d && atomic_load(&d->connected);
}

const char *tl_event_name(tl_event_kind kind)
{
    switch (kind) {
    case TL_EVENT_BUTTON: return "button";
    case TL_EVENT_FREEZE: return "freeze";
    case TL_EVENT_OVER_TEMP: return "over-temperature";
    case TL_EVENT_FAULT: return "fault";
    case TL_EVENT_DISCONNECTED: return "disconnected";
    case TL_EVENT_RECONNECTED: return "reconnected";
    case TL_EVENT_GAVE_UP: return "gave-up";
    }
    return "unknown";
}

tl_status tl_driver_set_event_callback(tl_driver *d, tl_event_cb cb, void *user)
{
    if (!d)
        return TL_ERR_INVALID_ARG;
    pthread_mutex_lock(&d->dmu);
    d->event_cb = cb;
    d->event_user = user;
    pthread_mutex_unlock(&d->dmu);
    return TL_OK;
}

tl_status tl_driver_start(tl_driver *d, tl_frame_cb cb, void *user)
{
    if (!d)
        return TL_ERR_INVALID_ARG;
    if (d->streaming)
        return TL_ERR_STATE;
    if (!atomic_load(&d->connected) || !d->h)
        return TL_ERR_DISCONNECTED;
    d->frame_cb = cb;
    d->frame_user = user;
    tl_status st = drv_stream_start(d);
    if (st == TL_OK)
        d->streaming = true;
    return st;
}

tl_status tl_driver_stop(tl_driver *d)
{
    if (!d)
        return TL_ERR_INVALID_ARG;
    if (!d->streaming)
        return TL_OK;
    drv_stream_stop(d);
    d->streaming = false;
    return TL_OK;
}
