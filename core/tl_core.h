/* talus core: error codes, probe geometry, the frame record, time, seeded
 * random numbers, small statistics and PNG I/O shared by every module.
 *
 * Everything here is plain C11 and has no global mutable state. */
#ifndef TL_CORE_H
#define TL_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Errors ------------------------------------------------------------ */

/* Negative codes, 0 = success (libusb style). Keep tl_strerror() in sync. */
typedef enum {
    TL_OK = 0,
    TL_ERR_INVALID_ARG = -1,   /* a caller passed something out of range */
    TL_ERR_NO_MEM = -2,
    TL_ERR_IO = -3,            /* read/write/fsync failed */
    TL_ERR_NOT_FOUND = -4,     /* file, probe, session, record ... */
    TL_ERR_FORMAT = -5,        /* malformed file, header or frame */
    TL_ERR_CRC = -6,           /* payload checksum mismatch */
    TL_ERR_TIMEOUT = -7,
    TL_ERR_DISCONNECTED = -8,  /* the probe went away */
    TL_ERR_USB = -9,           /* any other libusb failure */
    TL_ERR_UNSUPPORTED = -10,  /* valid but not handled (e.g. image type) */
    TL_ERR_BUSY = -11,
    TL_ERR_OVERFLOW = -12,     /* a buffer or ring is full */
    TL_ERR_DB = -13,           /* SQLite failure */
    TL_ERR_NO_SPACE = -14,     /* disk full */
    TL_ERR_CALIBRATION = -15,  /* calibration missing, expired or mismatched */
    TL_ERR_STATE = -16,        /* call not valid in the object's current state */
    TL_ERR_PERMISSION = -17,   /* read-only file system, access denied */
} tl_status;

/* Human-readable sentence for a status ("frame checksum mismatch"). */
const char *tl_strerror(tl_status status);
/* The enum name ("TL_ERR_CRC"), for logs and JSON. */
const char *tl_error_name(tl_status status);
/* Map an errno value to the closest tl_status. */
tl_status tl_status_from_errno(int err);

/* ---- Geometry ---------------------------------------------------------- */

typedef enum {
    TL_PROBE_LINEAR = 0,
    TL_PROBE_CONVEX = 1,
} tl_probe_kind;

/* What the samples of a frame are (names follow PLUS UltrasoundImageType). */
typedef enum {
    TL_IMAGE_RF_REAL = 0,          /* int16 beamformed RF, one line after another */
    TL_IMAGE_RF_IQ_LINE = 1,       /* int16 I,Q interleaved along each line */
    TL_IMAGE_RF_I_LINE_Q_LINE = 2, /* int16 rows alternate I line, Q line */
    TL_IMAGE_ENVELOPE = 3,         /* uint16 detected amplitude (linear) */
    TL_IMAGE_BRIGHTNESS = 4,       /* uint8 display image (already B-mode) */
} tl_image_type;

/* The acquisition geometry every frame carries.
 *
 * Probe coordinates (mm): x is lateral, 0 on the probe's axis, positive to
 * the right of the image; z is depth below the transducer face, positive
 * into the body. For a linear array line i sits at
 *     x_i = (i - (lines-1)/2) * pitch_mm,
 * for a convex array line i leaves the face at angle
 *     theta_i = (i - (lines-1)/2) * pitch_mm / radius_mm   (radians)
 * from an apex radius_mm above the face centre (x=0, z=-radius_mm).
 * Sample s lies at range depth_start_mm + s * c/(2 fs) along its line.
 * A linear array may steer its beams (needle enhancement): every line of the
 * frame then leaves x_i in direction (sin b, cos b), b = steer_deg (positive
 * towards +x), so sample s of line i lies at (x_i + r sin b, r cos b). The
 * angle travels with each frame; 0 (the zero-initialised value) = straight. */
typedef struct {
    tl_probe_kind kind;
    uint32_t lines;           /* scan lines in the frame */
    uint32_t samples;         /* samples per line */
    float pitch_mm;           /* line spacing on the face (linear and convex) */
    float radius_mm;          /* convex face radius; 0 for linear */
    float f0_hz;              /* transmit centre frequency */
    float fs_hz;              /* sampling frequency of the samples axis */
    float c_m_s;              /* speed of sound the beamformer assumed */
    float depth_start_mm;     /* range of sample 0 */
    float steer_deg;          /* linear beam steering angle; 0 for convex */
} tl_geometry;

/* Largest beam steering angle a frame may carry (degrees). */
#define TL_MAX_STEER_DEG 45.0f

/* Axial distance between samples: c / (2 fs), in mm. */
float tl_geometry_dz_mm(const tl_geometry *g);
/* Range of the last sample: depth_start + (samples-1)*dz, in mm. */
float tl_geometry_depth_mm(const tl_geometry *g);
/* Lateral span of the face, (lines-1)*pitch, in mm. */
float tl_geometry_width_mm(const tl_geometry *g);
/* Where sample s of line i lies in probe coordinates (mm). */
void tl_geometry_sample_xz(const tl_geometry *g, float line, float sample,
                           float *x_mm, float *z_mm);
/* TL_OK when every field is in a plausible range (the device is untrusted). */
tl_status tl_geometry_validate(const tl_geometry *g);
/* Defaults: linear, 128 lines x 2048 samples, 0.3 mm pitch, 10 MHz, 40 MHz,
 * 1540 m/s. */
tl_geometry tl_geometry_default_linear(void);
/* z of the polyline (x[i], z[i]), i < n, at x: linear between its points, in
 * either x direction; NAN outside its x range or when n < 2. Used to compare a
 * measured outline with the simulator's truth at the same x. */
float tl_polyline_z(const float *x, const float *z, uint32_t n, float at_x);

/* ---- Frames ------------------------------------------------------------ */

/* One acquired frame and its timestamps, so latency is measured per stage.
 * The frame does not own `data` unless the API that produced it says so. */
typedef struct {
    tl_geometry geom;
    tl_image_type type;
    uint32_t seq;               /* device sequence number */
    uint64_t t_device_us;       /* device clock at acquisition */
    uint64_t t_received_ns;     /* host monotonic clock: frame complete */
    uint64_t t_processed_ns;    /* host: B-mode ready */
    uint64_t t_displayed_ns;    /* host: overlay composed / shown */
    void *data;                 /* samples, line after line */
    size_t data_bytes;
} tl_frame;

/* Bytes per sample for an image type (2 for RF/envelope, 1 for brightness). */
size_t tl_image_type_sample_bytes(tl_image_type type);
/* PLUS name ("RF_REAL", "BRIGHTNESS", ...) and back; -1 if unknown. */
const char *tl_image_type_name(tl_image_type type);
int tl_image_type_from_name(const char *name);

/* ---- Time -------------------------------------------------------------- */

uint64_t tl_now_ns(void);          /* CLOCK_MONOTONIC */
/* CPU time of the calling thread: the work done, whatever else shares the
 * core (benchmarks on a shared machine). */
uint64_t tl_thread_cpu_ns(void);
uint64_t tl_wall_time_s(void);     /* CLOCK_REALTIME seconds (for records) */
void tl_sleep_ns(uint64_t ns);

/* ---- Seeded random numbers --------------------------------------------- */

/* xoshiro256** state; seed it with tl_rng_seed. Each user owns its own. */
typedef struct { uint64_t s[4]; } tl_rng;

void tl_rng_seed(tl_rng *rng, uint64_t seed);
uint64_t tl_rng_next(tl_rng *rng);
double tl_rng_uniform(tl_rng *rng);                 /* [0, 1) */
double tl_rng_range(tl_rng *rng, double lo, double hi);
double tl_rng_normal(tl_rng *rng);                  /* N(0, 1) */

/* ---- Statistics -------------------------------------------------------- */

/* Percentile p in [0,100] of n doubles (linear interpolation). Sorts a copy;
 * returns NAN when n == 0. */
double tl_percentile(const double *values, size_t n, double p);
double tl_median(const double *values, size_t n);
/* In-place k-th smallest (0-based) of n floats, reordering v (quickselect,
 * no allocation, for per-frame medians). Needs n > 0 and k < n. Afterwards
 * v[0..k) <= v[k] <= v[k+1..n), so the next order statistic is the minimum
 * of v[k+1..n). */
float tl_select_kth_f(float *v, size_t n, size_t k);

/* ---- PNG --------------------------------------------------------------- */

/* Write 8-bit grey (channels=1), RGB (3) or RGBA (4) pixels, rows of
 * `stride` bytes. The file is written to a temporary name, fsynced and
 * renamed, so a crash never leaves half an image under the real name. */
tl_status tl_png_write(const char *path, const uint8_t *pixels, uint32_t width,
                       uint32_t height, uint32_t stride, int channels);
/* Read any PNG as 8-bit grey (channels=1) or RGB (3). *pixels is malloc'd
 * (width*channels bytes a row); free() it. */
tl_status tl_png_read(const char *path, int channels, uint8_t **pixels,
                      uint32_t *width, uint32_t *height);

#ifdef __cplusplus
}
#endif
#endif
