/* Internal state of an open probe, shared by driver.c (discovery, control
 * requests) and stream.c (USB thread, reassembly, ring, delivery thread). */
#ifndef DRIVER_INTERNAL_H
#define DRIVER_INTERNAL_H

#include "tl_driver.h"
#include "tl_protocol.h"

#include <libusb.h>
#include <pthread.h>
#include <stdatomic.h>

#define DRV_CTRL_TIMEOUT_MS 1000
#define DRV_EVENT_QUEUE 64
#define DRV_MAX_TRANSFERS 64

typedef struct {
    uint8_t *buf;          /* header + payload as received */
    size_t cap;
    size_t len;
    tl_frame frame;        /* filled when published */
} drv_slot;

struct tl_driver {
    tl_driver_options opt;
    char serial[32];
    libusb_context *ctx;
    libusb_device_handle *h;      /* NULL while unplugged; swapped only by the USB thread while streaming */
    pthread_mutex_t hmu;          /* guards h against that swap */
    tl_probe_identity id;
    /* largest |steer_deg| a frame may carry: the identity's (0 = the probe
     * cannot steer); the USB thread reads it, written only before streaming
     * and by the USB thread's reconnect */
    _Atomic float max_steer_deg;

    /* What we asked for, re-sent after a reconnect. */
    tl_probe_params params;
    bool params_set;

    /* ---- streaming ---- */
    bool streaming;               /* application side: between start and stop */
    atomic_bool running;          /* USB thread keeps going */
    atomic_bool connected;
    atomic_bool lost;             /* a transfer saw the device go away */
    atomic_int in_flight;         /* bulk + interrupt transfers submitted */
    pthread_t usb_thread, deliver_thread;
    struct libusb_transfer *xfer[DRV_MAX_TRANSFERS];
    uint8_t *xbuf[DRV_MAX_TRANSFERS];
    uint32_t nxfer;
    struct libusb_transfer *ev_xfer;
    uint8_t ev_buf[TL_PROTO_EVENT_BYTES];
    uint64_t lost_at_ns;
    bool gave_up;

    /* Reassembly (USB thread only). */
    uint8_t *cur;                 /* ring slot buffer or `spare` */
    size_t cur_cap, cur_len;
    bool cur_in_ring;
    bool cur_overflow;            /* more bytes than fit: discard until frame end */
    uint8_t *spare;
    size_t spare_cap;
    size_t frame_cap;             /* header + expected payload */
    bool have_seq;
    bool resync;                  /* first frame after a reconnect */
    bool in_stall;                /* the bulk endpoint is halted (count once) */
    uint32_t last_seq;

    /* Ring (single producer: USB thread; single consumer: delivery thread). */
    drv_slot *slots;
    uint32_t nslots;              /* power of two */
    atomic_uint_fast64_t head, tail;

    /* Delivery thread wake-up and event queue. */
    pthread_mutex_t dmu;
    pthread_cond_t dcv;
    bool deliver_quit;
    tl_probe_event evq[DRV_EVENT_QUEUE];
    int evq_head, evq_count;
    tl_frame_cb frame_cb;
    void *frame_user;
    tl_event_cb event_cb;
    void *event_user;

    pthread_mutex_t smu;          /* stats */
    tl_driver_stats stats;
};

/* driver.c */
tl_status drv_status_from_libusb(int r);
/* Find the probe with this serial (NULL/"" = first) in ctx, open and claim
 * it, read its identity. */
tl_status drv_open_handle(libusb_context *ctx, const char *serial, libusb_device_handle **out,
                          tl_probe_identity *id);
tl_status drv_send_params(libusb_device_handle *h, const tl_probe_params *p);
tl_status drv_simple_request(libusb_device_handle *h, uint8_t req);
tl_status drv_read_params(libusb_device_handle *h, tl_probe_params *out);

/* frame.c: TL_OK when every field of a decoded header (raw: its 80 bytes)
 * is one a well-behaved probe could send; fills f's geometry, type, seq,
 * device time and size. */
tl_status drv_validate_header(const uint8_t *raw, const tl_proto_frame_header *h, float max_steer_deg,
                              tl_frame *f);

/* stream.c */
tl_status drv_stream_start(tl_driver *d);
void drv_stream_stop(tl_driver *d);
void drv_push_event(tl_driver *d, tl_event_kind kind, uint32_t value, uint64_t t_device_us);

#endif
