/* talus simulated probe: the firmware model of a talus probe (wire protocol
 * drivers/tl_protocol.h) on a umockdev-emulated USB bus, so unmodified
 * libusb — and the unmodified driver (drivers/tl_driver.h) — see it as a
 * real USB device.
 *
 * The process must be linked with umockdev's preload library
 * (-Wl,--no-as-needed -lumockdev-preload: the talus-sim binary and tests
 * registered with tl_test(... USB)); otherwise tl_simusb_start() returns
 * TL_ERR_UNSUPPORTED. Everything runs in-process: the testbed, the device's
 * ioctl handler (umockdev's worker thread) and the firmware's pacing thread.
 *
 *     tl_simusb_config c = tl_simusb_config_default();
 *     c.preset = "plantar-fascia"; c.seed = 3;
 *     tl_simusb *sim; tl_simusb_start(&c, &sim);   // probe now on the bus
 *     ... tl_driver_open(c.serial, NULL, &d) ... stream ...
 *     tl_simusb_press_button(sim);                  // interrupt event
 *     tl_simusb_truth(sim, frame->seq, &truth);     // ground truth of a frame
 *     tl_simusb_stop(sim);                          // close the driver first
 *
 * Frames come from the physics simulator (hw-sim/tl_sim.h): frame with
 * sequence number seq is tl_sim_render(seq) of (preset, seed, params), unless
 * cycle_frames > 0 (then frame seq is render (seq % cycle_frames), all
 * pre-rendered at start so the bus, not the renderer, is what is measured).
 *
 * Each tl_simusb owns its umockdev testbed, and a testbed is process-wide
 * (it sets $UMOCKDEV_DIR): one simulated probe per process at a time. No
 * other global state. */
#ifndef TL_SIMUSB_H
#define TL_SIMUSB_H

#include "tl_core.h"
#include "tl_sim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tl_simusb tl_simusb;

/* Faults the firmware can inject (bit mask). */
typedef enum {
    TL_FAULT_DROP = 1u << 0,       /* skip a frame: its sequence number is never sent */
    TL_FAULT_CORRUPT = 1u << 1,    /* flip payload bytes after the CRC was computed */
    TL_FAULT_TRUNCATE = 1u << 2,   /* end the transfer half-way through the payload */
    TL_FAULT_GARBAGE = 1u << 3,    /* send random bytes instead of the header */
    TL_FAULT_STALL = 1u << 4,      /* halt the bulk endpoint (EPIPE) once */
    TL_FAULT_LATE = 1u << 5,       /* hold a frame back ~5 frame periods */
    TL_FAULT_DISCONNECT = 1u << 6, /* unplug mid-stream, replug after replug_ms */
} tl_fault_kind;
#define TL_FAULT_ALL 0x7Fu

/* "drop", "corrupt", ... ; NULL for an unknown or multi-bit value. */
const char *tl_fault_name(tl_fault_kind kind);
/* Parse "drop,corrupt,late" (or "all") into a mask. TL_ERR_INVALID_ARG names
 * nothing it knows; *bad (optional) then points at the offending word. */
tl_status tl_fault_parse(const char *list, uint32_t *mask, const char **bad);

typedef struct {
    const char *preset;        /* tl_sim preset (default "plantar-fascia") */
    uint64_t seed;             /* default 1 */
    const char *sim_params;    /* "key=value,key=value" for tl_sim_set_param, or NULL */
    const char *serial;        /* default "TLSIM0001" */
    /* Initial imaging parameters (the host may change them with SET_PARAMS);
     * 0 = the preset's geometry / 30 frames/s. */
    uint32_t lines, samples;
    float fps;
    /* Faults: the listed kinds are injected in turn, one every fault_every
     * frames (default 40), starting at frame fault_every/2. */
    uint32_t faults;
    uint32_t fault_every;
    uint32_t replug_ms;        /* disconnect fault: back after this (default 1000) */
    /* Stop after this many frames (sequence numbers) have been produced; 0 =
     * until STOP. */
    uint64_t max_frames;
    /* >0: pre-render this many frames at start and cycle them. */
    uint32_t cycle_frames;
    /* Keep the ground truth of the last truth_keep frames (default 64). */
    uint32_t truth_keep;
} tl_simusb_config;

tl_simusb_config tl_simusb_config_default(void);

/* Create the testbed and plug the probe in. The pacing thread is running
 * when this returns, so a driver may open the probe at once.
 * TL_ERR_NOT_FOUND for an unknown preset, TL_ERR_INVALID_ARG for a bad
 * config, TL_ERR_UNSUPPORTED without umockdev's preload. */
tl_status tl_simusb_start(const tl_simusb_config *cfg, tl_simusb **out);
/* Unplug and free. Close drivers using it first. NULL ok. */
void tl_simusb_stop(tl_simusb *sim);

/* Interrupt events, as the real probe raises them. */
tl_status tl_simusb_press_button(tl_simusb *sim);   /* a press then a release */
tl_status tl_simusb_raise_event(tl_simusb *sim, int kind /* TL_PEV_* */, uint16_t value);

/* Inject one fault into the next frame (from tests), independent of
 * cfg.faults. TL_FAULT_DISCONNECT unplugs now and replugs after replug_ms. */
tl_status tl_simusb_inject(tl_simusb *sim, tl_fault_kind kind);
/* Explicit unplug / replug (for tests that need control over the timing). */
tl_status tl_simusb_unplug(tl_simusb *sim);
tl_status tl_simusb_replug(tl_simusb *sim);

/* Send `bytes` on the frame endpoint as one bulk frame, exactly as given
 * (ended by a short or zero-length packet), between two regular frames, to
 * test the host's validation with hand-made headers. Needs the stream
 * started; returns once the bytes are handed to the bus (TL_ERR_TIMEOUT
 * after timeout_ms, TL_ERR_BUSY if another raw frame is queued). */
tl_status tl_simusb_send_raw(tl_simusb *sim, const void *bytes, size_t len, uint32_t timeout_ms);

/* Ground truth of the frame with this sequence number if it is among the
 * last truth_keep produced; TL_ERR_NOT_FOUND otherwise. */
tl_status tl_simusb_truth(tl_simusb *sim, uint32_t seq, tl_sim_truth *out);

/* Render, independently of the streaming thread, the payload the firmware
 * sends for sequence number seq with the current parameters (for bit-exact
 * checks). `buf` must hold lines*samples int16. */
tl_status tl_simusb_reference_frame(tl_simusb *sim, uint32_t seq, int16_t *buf, size_t count);

typedef struct {
    uint64_t frames_sent;      /* sequence numbers produced (including dropped ones) */
    uint64_t frames_complete;  /* frames fully handed to the bus intact */
    uint64_t bytes_sent;
    uint64_t faults[7];        /* per kind, index = bit position of tl_fault_kind */
    uint64_t overruns;         /* frames lost in the probe: the host had not taken the previous one */
    uint64_t events_sent;
    uint64_t unplugs, replugs;
    bool plugged;
    bool streaming;
    bool finished;             /* max_frames reached */
} tl_simusb_stats;

void tl_simusb_stats_get(tl_simusb *sim, tl_simusb_stats *out);

/* Block until max_frames have been produced (or timeout_ms passes):
 * TL_OK or TL_ERR_TIMEOUT. */
tl_status tl_simusb_wait_finished(tl_simusb *sim, uint32_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
