/* talus probe driver: libusb-1.0 host side of the probe wire protocol
 * (drivers/tl_protocol.h, docs/protocol.md).
 *
 * The same code talks to a real probe and to the simulated one on the
 * umockdev-emulated bus (hw-sim/usb/tl_simusb.h): nothing here knows which.
 *
 * Life cycle (libuvc style):
 *     tl_driver_list()                      probes on the bus
 *     tl_driver_open(serial, NULL, &d)      claim one
 *     tl_driver_identify(d, &id)            what it is
 *     tl_driver_set_params(d, &params)      how to image
 *     tl_driver_set_event_callback(d, ...)  button / freeze / temperature / unplug
 *     tl_driver_start(d, frame_cb, user)    frames flow to frame_cb
 *     tl_driver_stop(d)
 *     tl_driver_close(d)
 *
 * Threads: tl_driver_start() starts two threads owned by the driver. The USB
 * thread runs libusb's event loop with several bulk transfers in flight; it
 * only reassembles, validates (every header field and length: the device is
 * untrusted), checks the CRC and copies a good frame into a bounded ring. It
 * never waits for the consumer: when the ring is full the frame is dropped
 * and counted (ring_drops). The delivery thread takes frames from the ring
 * and calls frame_cb, so a slow callback costs frames, never USB transfers.
 * Event callbacks run on the delivery thread too.
 *
 * Unplug: when the probe disappears the driver reports TL_EVENT_DISCONNECTED,
 * keeps looking for a probe with the same serial, and when it returns reopens
 * it, re-sends the parameters, restarts streaming and reports
 * TL_EVENT_RECONNECTED (counted in stats.reconnects). Frames missed meanwhile
 * show as a sequence gap only if the device kept counting; a restarted
 * device begins a new sequence (not counted as a gap).
 *
 * All functions are thread-safe with respect to the driver's own threads;
 * one tl_driver must not be used by two application threads at once.
 * Errors: tl_status (core/tl_core.h), tl_strerror() for a sentence. */
#ifndef TL_DRIVER_H
#define TL_DRIVER_H

#include "tl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tl_driver tl_driver;

/* ---- Discovery ----------------------------------------------------------- */

typedef struct {
    char model[32];
    char serial[32];
    char firmware[16];
    uint16_t vid, pid;
    uint8_t bus, address;
} tl_probe_info;

/* Probes with the talus VID/PID on the bus: fills up to `cap` entries of
 * `out` and sets *n to how many were found (may exceed cap). Each probe is
 * briefly opened to read its identity; a probe that cannot be opened (busy,
 * no permission: see drivers/70-talus-probe.rules) is still listed with
 * model "?" and serial from the USB string descriptor when readable. */
tl_status tl_driver_list(tl_probe_info *out, size_t cap, size_t *n);

/* ---- Open / identify / parameters --------------------------------------- */

typedef struct {
    uint32_t transfers;        /* bulk transfers in flight (default 8) */
    uint32_t transfer_bytes;   /* size of each, multiple of 512 (default 256 KiB) */
    uint32_t ring_slots;       /* frames buffered for the consumer (default 8, power of 2) */
    bool reconnect;            /* reopen the probe after an unplug (default true) */
    uint32_t reconnect_timeout_ms; /* give up after this long (default 10000; 0 = never) */
} tl_driver_options;

tl_driver_options tl_driver_options_default(void);

/* Open the probe with this serial (NULL or "" = the first one found).
 * opts NULL = defaults. TL_ERR_NOT_FOUND when no such probe,
 * TL_ERR_PERMISSION when the device node cannot be opened, TL_ERR_BUSY when
 * another program holds the interface. */
tl_status tl_driver_open(const char *serial, const tl_driver_options *opts, tl_driver **out);

/* Stops streaming if needed, releases the interface, frees everything. NULL ok. */
void tl_driver_close(tl_driver *d);

/* What the probe says it is (validated: strings printable, numbers in range). */
typedef struct {
    uint32_t protocol_version;
    uint32_t capabilities;       /* TL_CAP_* of tl_protocol.h */
    char model[32];
    char serial[32];
    char firmware[16];
    tl_probe_kind kind;
    uint32_t elements;
    float pitch_mm;
    float radius_mm;
    float f0_hz;                 /* centre frequency */
    float fs_hz;                 /* sampling frequency */
    float max_depth_mm;
    uint32_t max_lines;
    uint32_t max_samples;
    float max_fps;
    float max_steer_deg;         /* largest beam steering (TL_CAP_STEER), 0 = cannot steer */
} tl_probe_identity;

tl_status tl_driver_identify(tl_driver *d, tl_probe_identity *out);

/* Imaging parameters. Zero fields mean "the probe's default" when sent. */
typedef struct {
    float depth_mm;
    float gain_db;
    float tgc_db[8];             /* gain at 8 equally spaced depths */
    float f0_hz;
    float fps;                   /* 0 = as fast as possible */
    uint32_t lines;
    uint32_t samples;
    tl_image_type output;        /* TL_IMAGE_RF_REAL or TL_IMAGE_ENVELOPE */
    /* Beam steering of a linear probe (TL_CAP_STEER, |steer_deg| <=
     * identity.max_steer_deg): every frame at steer_deg, or with
     * straight_every = N >= 2 the frames whose seq % N == 0 straight and the
     * others steered. Each delivered frame's geom.steer_deg says which. */
    float steer_deg;
    uint32_t straight_every;
} tl_probe_params;

/* 30 frames/s, 128 x 2048 RF, 0 dB, flat TGC, probe's centre frequency. */
tl_probe_params tl_probe_params_default(void);

/* Send parameters (not while streaming: TL_ERR_STATE). The probe checks them
 * against its identity; TL_ERR_INVALID_ARG when it refuses. The accepted set
 * is kept and re-sent after a reconnect. */
tl_status tl_driver_set_params(tl_driver *d, const tl_probe_params *p);
/* Read back what the probe is using. */
tl_status tl_driver_get_params(tl_driver *d, tl_probe_params *out);

typedef struct {
    bool streaming;
    int last_error;              /* TL_PERR_* of the last rejected request */
    uint32_t frames_sent;        /* device count since start */
    float temperature_c;
    uint32_t uptime_ms;
    uint32_t params_id;
} tl_probe_status;

tl_status tl_driver_status(tl_driver *d, tl_probe_status *out);

/* ---- Streaming ------------------------------------------------------------ */

/* A good frame: header validated, payload CRC matched. frame->data points
 * into a ring slot that stays valid only until the callback returns (copy
 * what you keep). frame->t_device_us is the probe's clock, t_received_ns the
 * host monotonic clock when the last byte arrived. */
typedef void (*tl_frame_cb)(const tl_frame *frame, void *user);

typedef enum {
    TL_EVENT_BUTTON = 1,        /* value 1 pressed, 0 released */
    TL_EVENT_FREEZE = 2,        /* value 1 frozen, 0 live */
    TL_EVENT_OVER_TEMP = 3,     /* value: 0.1 °C */
    TL_EVENT_FAULT = 4,         /* value: device fault code */
    TL_EVENT_DISCONNECTED = 16, /* host side: the probe went away */
    TL_EVENT_RECONNECTED = 17,  /* host side: it is back and streaming again */
    TL_EVENT_GAVE_UP = 18,      /* host side: not back within reconnect_timeout_ms */
} tl_event_kind;

typedef struct {
    tl_event_kind kind;
    uint32_t value;
    uint64_t t_device_us;       /* 0 for host-side events */
    uint64_t t_received_ns;
} tl_probe_event;

typedef void (*tl_event_cb)(const tl_probe_event *ev, void *user);

const char *tl_event_name(tl_event_kind kind);   /* "button", "disconnected", ... */

/* Events are listened for from tl_driver_start() until tl_driver_stop(). */
tl_status tl_driver_set_event_callback(tl_driver *d, tl_event_cb cb, void *user);

/* Start streaming; frame_cb may be NULL (frames are then only counted). */
tl_status tl_driver_start(tl_driver *d, tl_frame_cb frame_cb, void *user);
/* Stop streaming and join the driver's threads. Frames already in the ring
 * are delivered before it returns. Safe to call when not streaming. */
tl_status tl_driver_stop(tl_driver *d);

/* Counters since open (they survive reconnects). Every frame the probe sent
 * either arrives good (frames_received) or is counted as lost somewhere. */
typedef struct {
    uint64_t frames_received;   /* good frames (header + CRC + order ok) queued for delivery */
    uint64_t frames_delivered;  /* handed to frame_cb */
    uint64_t frames_dropped;    /* lost: missing sequence numbers + ring_drops */
    uint64_t seq_gaps;          /* gap events (seq != last + 1) */
    uint64_t frames_missing;    /* sum of gap sizes */
    uint64_t crc_errors;        /* payload CRC mismatch */
    uint64_t bad_headers;       /* magic/version/field/header-CRC invalid */
    uint64_t truncated;         /* transfer ended before header + payload */
    uint64_t oversize;          /* more bytes than the header announced */
    uint64_t late_frames;       /* arrived after a newer frame: stale, not delivered */
    uint64_t ring_drops;        /* good frames dropped because the ring was full */
    uint64_t stalls;            /* bulk endpoint halted (cleared and resumed) */
    uint64_t transfer_errors;   /* stalls, timeouts, other libusb errors */
    uint64_t disconnects;
    uint64_t reconnects;
    uint64_t events;            /* interrupt events received */
    uint64_t bytes_received;    /* every byte from the bulk endpoint */
} tl_driver_stats;

void tl_driver_stats_get(tl_driver *d, tl_driver_stats *out);

/* true while the probe is attached (false between an unplug and the reconnect). */
bool tl_driver_connected(tl_driver *d);

#ifdef __cplusplus
}
#endif
#endif
