/* talus probe wire protocol, version 1 — shared by the host driver (drivers/)
 * and the simulated probe's firmware (hw-sim/usb/). docs/protocol.md is the
 * prose version for hardware makers; this header is the normative layout.
 *
 * Every multi-byte field is little-endian; floats are IEEE-754 binary32.
 * Structures are never sent as C structs: the tl_proto_put_* / get_* helpers
 * encode and decode them byte by byte, so padding and host byte order never
 * reach the wire.
 *
 * USB shape: one vendor-class interface (bInterfaceClass 0xFF), number 0,
 *   EP 0x81 bulk IN      frames (header + payload, one frame per transfer,
 *                        ended by a short packet or a zero-length packet)
 *   EP 0x82 interrupt IN events (16 bytes each)
 *   EP 0    vendor control requests (below), wIndex = 0 (the interface). */
#ifndef TL_PROTOCOL_H
#define TL_PROTOCOL_H

#include <stdint.h>
#include <string.h>

#define TL_PROTO_VID 0x1209u          /* pid.codes */
#define TL_PROTO_PID 0x0001u          /* pid.codes test PID (replace for a product) */
#define TL_PROTO_VERSION 1u
#define TL_PROTO_INTERFACE 0
#define TL_PROTO_EP_FRAMES 0x81u
#define TL_PROTO_EP_EVENTS 0x82u
#define TL_PROTO_BULK_MAX_PACKET 512u /* high speed */
#define TL_PROTO_EVENT_MAX_PACKET 16u

/* Control requests: bmRequestType 0xC1 (IN, vendor, interface) for GET_*,
 * 0x41 (OUT, vendor, interface) for the others. A request the device cannot
 * honour is answered with a STALL; GET_STATUS then says why (last_error). */
enum {
    TL_REQ_GET_IDENTITY = 0x01, /* IN,  TL_PROTO_IDENTITY_BYTES */
    TL_REQ_SET_PARAMS = 0x02,   /* OUT, TL_PROTO_PARAMS_BYTES */
    TL_REQ_GET_PARAMS = 0x03,   /* IN,  TL_PROTO_PARAMS_BYTES */
    TL_REQ_START = 0x04,        /* OUT, no data: start streaming frames */
    TL_REQ_STOP = 0x05,         /* OUT, no data: stop after the current frame */
    TL_REQ_GET_STATUS = 0x06,   /* IN,  TL_PROTO_STATUS_BYTES */
};
#define TL_PROTO_RT_IN 0xC1u
#define TL_PROTO_RT_OUT 0x41u

/* Device-side error codes reported in status.last_error. */
enum {
    TL_PERR_NONE = 0,
    TL_PERR_BAD_REQUEST = 1,  /* unknown request or wrong length */
    TL_PERR_BAD_PARAMS = 2,   /* a parameter out of the identity's range */
    TL_PERR_BUSY = 3,         /* SET_PARAMS while streaming */
    TL_PERR_INTERNAL = 4,
};

/* Capability bits of the identity. */
enum {
    TL_CAP_RF = 1u << 0,        /* RF_REAL int16 output */
    TL_CAP_ENVELOPE = 1u << 1,  /* ENVELOPE uint16 output */
    TL_CAP_TGC = 1u << 2,       /* honours the 8-point TGC curve */
    TL_CAP_BUTTON = 1u << 3,    /* has a probe button (events) */
    TL_CAP_TEMPERATURE = 1u << 4,
    TL_CAP_STEER = 1u << 5,     /* linear array: steers its beams (params.steer_deg) */
};

/* ---- Frame header (bulk IN), 80 bytes ----------------------------------- */
#define TL_PROTO_FRAME_MAGIC 0x46534C54u   /* bytes 'T','L','S','F' */
#define TL_PROTO_FRAME_HEADER_BYTES 80u
/* Limits a host enforces before trusting a header. */
#define TL_PROTO_MAX_LINES 1024u
#define TL_PROTO_MAX_SAMPLES 16384u
#define TL_PROTO_MAX_PAYLOAD (64u * 1024u * 1024u)

/* Frame flags. */
enum {
    TL_FRAME_FLAG_FROZEN = 1u << 0,  /* the probe is frozen (same image repeated) */
};

typedef struct {
    uint32_t magic;            /*  0 TL_PROTO_FRAME_MAGIC */
    uint16_t version;          /*  4 TL_PROTO_VERSION */
    uint16_t header_bytes;     /*  6 80 for version 1 */
    uint32_t seq;              /*  8 frame sequence number, +1 per frame, wraps */
    uint32_t flags;            /* 12 TL_FRAME_FLAG_* */
    uint64_t t_device_us;      /* 16 device clock (µs) at acquisition */
    uint32_t lines;            /* 24 */
    uint32_t samples;          /* 28 samples per line */
    uint8_t sample_format;     /* 32 tl_image_type value (core/tl_core.h) */
    uint8_t bytes_per_sample;  /* 33 2 for RF/envelope, 1 for brightness */
    uint8_t probe_kind;        /* 34 0 linear, 1 convex */
    uint8_t reserved0;         /* 35 0 */
    uint32_t payload_bytes;    /* 36 = lines * samples * bytes_per_sample */
    uint32_t payload_crc32;    /* 40 zlib crc32 of the payload */
    uint32_t params_id;        /* 44 increments with each accepted SET_PARAMS */
    float pitch_mm;            /* 48 */
    float radius_mm;           /* 52 0 for linear */
    float f0_hz;               /* 56 */
    float fs_hz;               /* 60 */
    float c_m_s;               /* 64 */
    float depth_start_mm;      /* 68 */
    float steer_deg;           /* 72 beam steering of THIS frame (linear; + towards +x);
                                     0 = straight (a device that cannot steer sends 0,
                                     the bytes this field had as reserved) */
    uint32_t header_crc32;     /* 76 zlib crc32 of bytes 0..75 */
} tl_proto_frame_header;

/* ---- Identity (GET_IDENTITY), 128 bytes ---------------------------------- */
#define TL_PROTO_IDENTITY_BYTES 128u
typedef struct {
    uint16_t protocol_version; /*   0 */
    uint16_t struct_bytes;     /*   2 128 */
    uint32_t capabilities;     /*   4 TL_CAP_* */
    char model[32];            /*   8 NUL-padded ASCII */
    char serial[32];           /*  40 NUL-padded ASCII */
    char firmware[16];         /*  72 NUL-padded ASCII */
    uint8_t probe_kind;        /*  88 0 linear, 1 convex */
    uint8_t max_steer_deg;     /*  89 largest |steer_deg| (TL_CAP_STEER), else 0 */
    uint8_t reserved[2];       /*  90 */
    uint32_t elements;         /*  92 transducer elements */
    float pitch_mm;            /*  96 element pitch */
    float radius_mm;           /* 100 convex radius, 0 for linear */
    float f0_hz;               /* 104 centre frequency */
    float fs_hz;               /* 108 sampling frequency */
    float max_depth_mm;        /* 112 */
    uint32_t max_lines;        /* 116 */
    uint32_t max_samples;      /* 120 */
    float max_fps;             /* 124 */
} tl_proto_identity;

/* ---- Imaging parameters (SET_PARAMS / GET_PARAMS), 64 bytes -------------- */
#define TL_PROTO_PARAMS_BYTES 64u
#define TL_PROTO_TGC_POINTS 8
typedef struct {
    float depth_mm;            /*  0 imaging depth (informative when samples != 0) */
    float gain_db;             /*  4 overall gain */
    float tgc_db[TL_PROTO_TGC_POINTS]; /* 8 gain at 8 equally spaced depths */
    float f0_hz;               /* 40 transmit frequency */
    float fps;                 /* 44 frame rate; 0 = as fast as possible */
    uint32_t lines;            /* 48 */
    uint32_t samples;          /* 52 */
    uint8_t output;            /* 56 tl_image_type: RF_REAL or ENVELOPE */
    uint8_t straight_every;    /* 57 0/1: every frame at steer_deg; N >= 2: the frames
                                     whose seq % N == 0 are straight, the others steered */
    uint8_t reserved[2];       /* 58 0 */
    float steer_deg;           /* 60 beam steering (deg, + towards +x; TL_CAP_STEER) */
} tl_proto_params;

/* Largest straight_every a device accepts. */
#define TL_PROTO_MAX_STRAIGHT_EVERY 16u

/* The steering angle of the frame with sequence number seq under params p:
 * the device's sequence rule (the header still says, per frame). */
static inline float tl_proto_frame_steer(const tl_proto_params *p, uint32_t seq)
{
    if (p->straight_every >= 2 && seq % p->straight_every == 0)
        return 0.0f;
    return p->steer_deg;
}

/* ---- Status (GET_STATUS), 32 bytes -------------------------------------- */
#define TL_PROTO_STATUS_BYTES 32u
typedef struct {
    uint8_t streaming;         /*  0 1 while frames flow */
    uint8_t last_error;        /*  1 TL_PERR_* of the last rejected request */
    uint16_t reserved;         /*  2 */
    uint32_t frames_sent;      /*  4 since START */
    int32_t temperature_mc;    /*  8 face temperature, milli-°C */
    uint32_t uptime_ms;        /* 12 */
    uint32_t params_id;        /* 16 */
    uint32_t events_sent;      /* 20 */
    uint8_t reserved2[8];      /* 24 */
} tl_proto_status;

/* ---- Events (interrupt IN), 16 bytes ------------------------------------ */
#define TL_PROTO_EVENT_BYTES 16u
enum {
    TL_PEV_BUTTON = 1,      /* value: 1 pressed, 0 released */
    TL_PEV_FREEZE = 2,      /* value: 1 frozen, 0 live */
    TL_PEV_OVER_TEMP = 3,   /* value: temperature in 0.1 °C */
    TL_PEV_FAULT = 4,       /* value: device fault code */
};
typedef struct {
    uint8_t kind;              /*  0 TL_PEV_* */
    uint8_t reserved;          /*  1 */
    uint16_t value;            /*  2 */
    uint32_t seq;              /*  4 event counter */
    uint64_t t_device_us;      /*  8 */
} tl_proto_event;

/* ---- Byte-level helpers -------------------------------------------------- */

static inline void tl_proto_put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void tl_proto_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void tl_proto_put_u64(uint8_t *p, uint64_t v)
{
    tl_proto_put_u32(p, (uint32_t)v);
    tl_proto_put_u32(p + 4, (uint32_t)(v >> 32));
}
static inline void tl_proto_put_f32(uint8_t *p, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    tl_proto_put_u32(p, v);
}
static inline uint16_t tl_proto_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t tl_proto_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t tl_proto_get_u64(const uint8_t *p)
{
    return (uint64_t)tl_proto_get_u32(p) | ((uint64_t)tl_proto_get_u32(p + 4) << 32);
}
static inline float tl_proto_get_f32(const uint8_t *p)
{
    uint32_t v = tl_proto_get_u32(p);
    float f;
    memcpy(&f, &v, 4);
    return f;
}
/* Copy a fixed-size NUL-padded string field; always NUL-terminates dst. */
static inline void tl_proto_get_str(char *dst, size_t cap, const uint8_t *p, size_t field)
{
    size_t n = 0;
    while (n < field && n + 1 < cap && p[n] != 0) {
        char c = (char)p[n];
        dst[n] = (c >= 32 && c < 127) ? c : '?';  /* untrusted: printable only */
        n++;
    }
    dst[n] = '\0';
}
static inline void tl_proto_put_str(uint8_t *p, size_t field, const char *s)
{
    memset(p, 0, field);
    size_t n = strlen(s);
    memcpy(p, s, n < field - 1 ? n : field - 1);
}

/* Encode/decode (static inline so the firmware and the driver share one
 * definition without a link dependency). The frame header's header_crc32
 * is computed by the caller (zlib crc32 of the first 76 encoded bytes), so
 * this header needs no zlib. */
#define TL_PROTO_HEADER_CRC_SPAN 76u

static inline void tl_proto_encode_frame_header(const tl_proto_frame_header *h, uint8_t *o)
{
    memset(o, 0, TL_PROTO_FRAME_HEADER_BYTES);
    tl_proto_put_u32(o + 0, h->magic);
    tl_proto_put_u16(o + 4, h->version);
    tl_proto_put_u16(o + 6, h->header_bytes);
    tl_proto_put_u32(o + 8, h->seq);
    tl_proto_put_u32(o + 12, h->flags);
    tl_proto_put_u64(o + 16, h->t_device_us);
    tl_proto_put_u32(o + 24, h->lines);
    tl_proto_put_u32(o + 28, h->samples);
    o[32] = h->sample_format;
    o[33] = h->bytes_per_sample;
    o[34] = h->probe_kind;
    o[35] = h->reserved0;
    tl_proto_put_u32(o + 36, h->payload_bytes);
    tl_proto_put_u32(o + 40, h->payload_crc32);
    tl_proto_put_u32(o + 44, h->params_id);
    tl_proto_put_f32(o + 48, h->pitch_mm);
    tl_proto_put_f32(o + 52, h->radius_mm);
    tl_proto_put_f32(o + 56, h->f0_hz);
    tl_proto_put_f32(o + 60, h->fs_hz);
    tl_proto_put_f32(o + 64, h->c_m_s);
    tl_proto_put_f32(o + 68, h->depth_start_mm);
    tl_proto_put_f32(o + 72, h->steer_deg);
    tl_proto_put_u32(o + 76, h->header_crc32);
}

static inline void tl_proto_decode_frame_header(const uint8_t *i, tl_proto_frame_header *h)
{
    h->magic = tl_proto_get_u32(i + 0);
    h->version = tl_proto_get_u16(i + 4);
    h->header_bytes = tl_proto_get_u16(i + 6);
    h->seq = tl_proto_get_u32(i + 8);
    h->flags = tl_proto_get_u32(i + 12);
    h->t_device_us = tl_proto_get_u64(i + 16);
    h->lines = tl_proto_get_u32(i + 24);
    h->samples = tl_proto_get_u32(i + 28);
    h->sample_format = i[32];
    h->bytes_per_sample = i[33];
    h->probe_kind = i[34];
    h->reserved0 = i[35];
    h->payload_bytes = tl_proto_get_u32(i + 36);
    h->payload_crc32 = tl_proto_get_u32(i + 40);
    h->params_id = tl_proto_get_u32(i + 44);
    h->pitch_mm = tl_proto_get_f32(i + 48);
    h->radius_mm = tl_proto_get_f32(i + 52);
    h->f0_hz = tl_proto_get_f32(i + 56);
    h->fs_hz = tl_proto_get_f32(i + 60);
    h->c_m_s = tl_proto_get_f32(i + 64);
    h->depth_start_mm = tl_proto_get_f32(i + 68);
    h->steer_deg = tl_proto_get_f32(i + 72);
    h->header_crc32 = tl_proto_get_u32(i + 76);
}

static inline void tl_proto_encode_identity(const tl_proto_identity *d, uint8_t *o)
{
    memset(o, 0, TL_PROTO_IDENTITY_BYTES);
    tl_proto_put_u16(o + 0, d->protocol_version);
    tl_proto_put_u16(o + 2, d->struct_bytes);
    tl_proto_put_u32(o + 4, d->capabilities);
    tl_proto_put_str(o + 8, 32, d->model);
    tl_proto_put_str(o + 40, 32, d->serial);
    tl_proto_put_str(o + 72, 16, d->firmware);
    o[88] = d->probe_kind;
    o[89] = d->max_steer_deg;
    tl_proto_put_u32(o + 92, d->elements);
    tl_proto_put_f32(o + 96, d->pitch_mm);
    tl_proto_put_f32(o + 100, d->radius_mm);
    tl_proto_put_f32(o + 104, d->f0_hz);
    tl_proto_put_f32(o + 108, d->fs_hz);
    tl_proto_put_f32(o + 112, d->max_depth_mm);
    tl_proto_put_u32(o + 116, d->max_lines);
    tl_proto_put_u32(o + 120, d->max_samples);
    tl_proto_put_f32(o + 124, d->max_fps);
}

static inline void tl_proto_decode_identity(const uint8_t *i, tl_proto_identity *d)
{
    memset(d, 0, sizeof *d);
    d->protocol_version = tl_proto_get_u16(i + 0);
    d->struct_bytes = tl_proto_get_u16(i + 2);
    d->capabilities = tl_proto_get_u32(i + 4);
    tl_proto_get_str(d->model, sizeof d->model, i + 8, 32);
    tl_proto_get_str(d->serial, sizeof d->serial, i + 40, 32);
    tl_proto_get_str(d->firmware, sizeof d->firmware, i + 72, 16);
    d->probe_kind = i[88];
    d->max_steer_deg = i[89];
    d->elements = tl_proto_get_u32(i + 92);
    d->pitch_mm = tl_proto_get_f32(i + 96);
    d->radius_mm = tl_proto_get_f32(i + 100);
    d->f0_hz = tl_proto_get_f32(i + 104);
    d->fs_hz = tl_proto_get_f32(i + 108);
    d->max_depth_mm = tl_proto_get_f32(i + 112);
    d->max_lines = tl_proto_get_u32(i + 116);
    d->max_samples = tl_proto_get_u32(i + 120);
    d->max_fps = tl_proto_get_f32(i + 124);
}

static inline void tl_proto_encode_params(const tl_proto_params *p, uint8_t *o)
{
    memset(o, 0, TL_PROTO_PARAMS_BYTES);
    tl_proto_put_f32(o + 0, p->depth_mm);
    tl_proto_put_f32(o + 4, p->gain_db);
    for (int k = 0; k < TL_PROTO_TGC_POINTS; k++)
        tl_proto_put_f32(o + 8 + 4 * k, p->tgc_db[k]);
    tl_proto_put_f32(o + 40, p->f0_hz);
    tl_proto_put_f32(o + 44, p->fps);
    tl_proto_put_u32(o + 48, p->lines);
    tl_proto_put_u32(o + 52, p->samples);
    o[56] = p->output;
    o[57] = p->straight_every;
    tl_proto_put_f32(o + 60, p->steer_deg);
}

static inline void tl_proto_decode_params(const uint8_t *i, tl_proto_params *p)
{
    memset(p, 0, sizeof *p);
    p->depth_mm = tl_proto_get_f32(i + 0);
    p->gain_db = tl_proto_get_f32(i + 4);
    for (int k = 0; k < TL_PROTO_TGC_POINTS; k++)
        p->tgc_db[k] = tl_proto_get_f32(i + 8 + 4 * k);
    p->f0_hz = tl_proto_get_f32(i + 40);
    p->fps = tl_proto_get_f32(i + 44);
    p->lines = tl_proto_get_u32(i + 48);
    p->samples = tl_proto_get_u32(i + 52);
    p->output = i[56];
    p->straight_every = i[57];
    p->steer_deg = tl_proto_get_f32(i + 60);
}

static inline void tl_proto_encode_status(const tl_proto_status *s, uint8_t *o)
{
    memset(o, 0, TL_PROTO_STATUS_BYTES);
    o[0] = s->streaming;
    o[1] = s->last_error;
    tl_proto_put_u32(o + 4, s->frames_sent);
    tl_proto_put_u32(o + 8, (uint32_t)s->temperature_mc);
    tl_proto_put_u32(o + 12, s->uptime_ms);
    tl_proto_put_u32(o + 16, s->params_id);
    tl_proto_put_u32(o + 20, s->events_sent);
}

static inline void tl_proto_decode_status(const uint8_t *i, tl_proto_status *s)
{
    memset(s, 0, sizeof *s);
    s->streaming = i[0];
    s->last_error = i[1];
    s->frames_sent = tl_proto_get_u32(i + 4);
    s->temperature_mc = (int32_t)tl_proto_get_u32(i + 8);
    s->uptime_ms = tl_proto_get_u32(i + 12);
    s->params_id = tl_proto_get_u32(i + 16);
    s->events_sent = tl_proto_get_u32(i + 20);
}

static inline void tl_proto_encode_event(const tl_proto_event *e, uint8_t *o)
{
    memset(o, 0, TL_PROTO_EVENT_BYTES);
    o[0] = e->kind;
    tl_proto_put_u16(o + 2, e->value);
    tl_proto_put_u32(o + 4, e->seq);
    tl_proto_put_u64(o + 8, e->t_device_us);
}

static inline void tl_proto_decode_event(const uint8_t *i, tl_proto_event *e)
{
    memset(e, 0, sizeof *e);
    e->kind = i[0];
    e->value = tl_proto_get_u16(i + 2);
    e->seq = tl_proto_get_u32(i + 4);
    e->t_device_us = tl_proto_get_u64(i + 8);
}

#endif
