/* Internal state of the simulated probe, shared by its three parts:
 *   bus.c       the umockdev ioctl handler (usbdevfs URBs) and plug/unplug
 *   firmware.c  control requests, the pacing thread, frames, faults, events
 *   source.c    where frame payloads come from (tl_sim or cycled frames)
 *
 * Locking: `mu` guards everything below it in struct tl_simusb. The ioctl
 * handler runs on umockdev's worker thread, the pacing thread is ours; both
 * take `mu`. umockdev_ioctl_client_complete() may be called from either. */
#ifndef SIMUSB_INTERNAL_H
#define SIMUSB_INTERNAL_H

#include "tl_simusb.h"
#include "tl_protocol.h"

#include <pthread.h>
#include <stdatomic.h>
#include <umockdev.h>

/* One URB the host submitted and we have not handed back yet. */
typedef struct sim_urb {
    UMockdevIoctlData *data;   /* resolved struct usbdevfs_urb (local copy) */
    uint8_t *buf;              /* the host's buffer: same address space */
    int len;
    int actual;
    int status;                /* 0 or -errno, reported at reap */
    uint8_t ep;
    uint8_t type;
    struct sim_urb *next;
} sim_urb;

typedef struct {
    sim_urb *head, *tail;
} urb_queue;

/* A frame on its way to the bulk endpoint: header bytes then payload. */
typedef struct {
    uint8_t header[TL_PROTO_FRAME_HEADER_BYTES];
    const uint8_t *payload;    /* cycled frame, render buffer or fault copy */
    size_t payload_bytes;      /* bytes actually sent (truncate: less) */
    size_t hlen;               /* bytes of `header` sent (80; 0 for raw test frames) */
    size_t total;              /* hlen + payload_bytes */
    size_t off;                /* bytes already copied into URBs */
    bool unplug_mid;           /* disconnect fault: pull the cable half-way */
} tx_frame;

#define SIM_MAX_PARKED 8
#define SIM_EVENT_QUEUE 64
#define SIM_PARK_NS 10000000ull  /* answer a parked REAPURBNDELAY within 10 ms */

typedef struct source source;    /* source.c */

struct tl_simusb {
    tl_simusb_config cfg;
    char preset[32];
    char serial[32];
    char sim_params[256];

    tl_geometry geom;           /* the preset's geometry (lines/samples: defaults) */

    UMockdevTestbed *tb;
    UMockdevIoctlBase *handler;
    char devnode[64];
    char syspath[128];
    unsigned devnum;

    pthread_t pacer;
    bool pacer_started;
    pthread_t timer;            /* answers parked reaps on time while the pacer renders */
    bool timer_started;
    pthread_cond_t park_cv;
    atomic_bool quit;

    pthread_mutex_t mu;
    pthread_cond_t cv;          /* wakes the pacer */
    pthread_cond_t done_cv;     /* tl_simusb_wait_finished */

    /* ---- bus (under mu) ---- */
    bool plugged;
    bool bulk_halted;
    urb_queue bulk_pending;     /* submitted to EP 0x81, waiting for data */
    urb_queue int_pending;      /* submitted to EP 0x82, waiting for an event */
    urb_queue done;             /* completed, waiting to be reaped */
    UMockdevIoctlClient *parked[SIM_MAX_PARKED];
    uint64_t parked_deadline[SIM_MAX_PARKED];
    int n_parked;
    bool reap_gave_urb;         /* the last reap answered handed back a URB */

    /* ---- firmware (under mu) ---- */
    tl_proto_identity identity;
    tl_proto_params params;
    uint32_t params_id;
    uint8_t last_error;
    bool streaming;
    uint32_t seq;               /* next sequence number */
    uint64_t next_frame_ns;
    uint64_t start_ns;          /* device clock origin */
    tx_frame tx;
    bool tx_active;
    uint32_t pending_faults;    /* injected from code, for the next frame */
    uint32_t fault_rotor;       /* which kind of cfg.faults comes next */
    uint8_t events[SIM_EVENT_QUEUE][TL_PROTO_EVENT_BYTES];
    int ev_head, ev_count;
    uint32_t event_seq;
    uint64_t replug_at_ns;      /* 0 = no replug scheduled */
    bool params_dirty;          /* the source must be rebuilt before the next frame */

    /* late fault: a frame held back and sent after TL_SIMUSB_LATE_BY others */
    uint8_t *late_buf;
    size_t late_cap, late_bytes;
    int late_countdown;         /* frames to send before the held one; <0 none */

    /* tl_simusb_send_raw: bytes sent as one bulk frame, as they are */
    uint8_t *raw_buf;
    size_t raw_len;
    bool raw_pending, raw_sending;

    source *src;
    uint8_t *scratch;           /* fault copies (corrupt, truncate) */
    size_t scratch_cap;
    tl_rng rng;

    tl_sim_truth *truths;       /* ring of cfg.truth_keep */
    uint32_t *truth_seq;
    bool *truth_valid;

    tl_simusb_stats stats;

    /* tl_simusb_reference_frame's own renderer (own lock: it is slow). */
    pthread_mutex_t ref_mu;
    source *ref_src;
    tl_proto_params ref_params;
};

#define TL_SIMUSB_LATE_BY 3

/* bus.c */
gboolean simusb_handle_ioctl(UMockdevIoctlBase *h, UMockdevIoctlClient *c, gpointer user);
tl_status simusb_plug(tl_simusb *s);            /* mu NOT held */
void simusb_unplug_locked(tl_simusb *s);        /* mu held */
void simusb_urb_complete_locked(tl_simusb *s, sim_urb *u); /* to `done`, wake reapers */
void simusb_service_parked_locked(tl_simusb *s, uint64_t now); /* answer what can be */
void *simusb_timer_main(void *arg);
void simusb_queue_push(urb_queue *q, sim_urb *u);
sim_urb *simusb_queue_pop(urb_queue *q);

/* firmware.c */
void simusb_firmware_init(tl_simusb *s);
/* A control URB: setup packet + data in u->buf; sets u->actual/status. */
void simusb_control_locked(tl_simusb *s, sim_urb *u);
void *simusb_pacer_main(void *arg);
void simusb_feed_events_locked(tl_simusb *s);

/* source.c */
tl_status source_create(const tl_simusb *s, const tl_proto_params *p, source **out);
void source_destroy(source *src);
/* Payload of frame `seq` (RF int16, little-endian on the wire), its CRC and
 * the steering angle it was rendered with (the host's sequence,
 * tl_proto_frame_steer); the pointer stays valid until the next call.
 * truth may be NULL. */
tl_status source_frame(source *src, uint32_t seq, const uint8_t **payload,
                       size_t *bytes, uint32_t *crc, float *steer_deg, tl_sim_truth *truth);
/* An independent renderer for tl_simusb_reference_frame (no frame buffers). */
tl_status source_create_reference(const tl_simusb *s, const tl_proto_params *p, source **out);
tl_status source_reference(source *src, uint32_t cycle_frames, uint32_t seq, int16_t *buf, size_t count);
/* The preset's geometry with its default lines and samples. */
tl_status source_base_geometry(const tl_simusb *s, tl_geometry *g);

#endif
