/* talus imaging: RF / envelope / brightness frames -> calibrated B-mode.
 *
 * FFTW-style: tl_imaging_plan_create() does all heavy set-up once per
 * geometry and parameter set (FFTW plans, TGC and log tables, scan-conversion
 * maps); tl_imaging_execute() then runs per frame without allocating. */
#ifndef TL_IMAGING_H
#define TL_IMAGING_H

#include "tl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A B-mode display image with its spatial calibration. Pixel (col, row)
 * centre lies at probe coordinates
 *     x_mm = origin_x_mm + col * spacing_mm,  z_mm = origin_z_mm + row * spacing_mm
 * (near field at the top, lateral axis left to right). Image coordinates used
 * by analysis/guidance JSON are x from the left edge = col * spacing_mm and
 * z from the top edge = row * spacing_mm. */
typedef struct tl_bmode_s {
    uint32_t width, height;     /* pixels */
    uint32_t stride;            /* bytes per row (>= width) */
    float spacing_mm;           /* isotropic pixel size */
    float origin_x_mm;          /* probe x of pixel (0,0) */
    float origin_z_mm;          /* probe z of pixel (0,0) */
    uint8_t *pixels;            /* 8-bit grey */
    uint8_t *valid;             /* 255 inside the scanned area, 0 outside (may be NULL = all valid);
                                 * width x height bytes, rows `width` apart */
    uint32_t seq;               /* from the source frame */
    uint64_t t_device_us, t_received_ns, t_processed_ns;
} tl_bmode;

/* Allocate / free pixels (and the valid mask) for a width x height image. */
tl_status tl_bmode_alloc(tl_bmode *img, uint32_t width, uint32_t height);
void tl_bmode_free(tl_bmode *img);

/* PLUS UltrasoundImageOrientation of the input: first letter is the lateral
 * axis (M = left to right, U = reversed), second the sample axis (F = near to
 * far, N = far to near). */
typedef enum {
    TL_ORIENT_MF = 0,
    TL_ORIENT_MN,
    TL_ORIENT_UF,
    TL_ORIENT_UN,
} tl_orientation;

int tl_orientation_from_name(const char *name); /* "MF" ... ; -1 if unknown */

#define TL_TGC_POINTS 8

/* RF_REAL envelope: band of the FFT kept as baseband (exact analytic signal
 * in the band), or a 31-tap complex FIR (mix down + low-pass) evaluated at
 * every D-th sample (time domain; band edges roll off slightly). AUTO: the
 * FFT when the display wants half the samples or more (then it is the exact
 * analytic signal), else the FIR (both band-limit; the FIR is faster). */
enum { TL_DEMOD_AUTO = 0, TL_DEMOD_FFT = 1, TL_DEMOD_FIR = 2 };

typedef struct {
    float dynamic_range_db;     /* displayed range below the reference (default 60) */
    float gain_db;              /* overall gain (default 0) */
    float tgc_db[TL_TGC_POINTS];/* extra gain at evenly spaced depths, interpolated */
    bool speckle_reduction;     /* OpenCV filter after scan conversion */
    uint32_t out_width;         /* display raster (default 800 x 600) */
    uint32_t out_height;
    tl_orientation orientation; /* of the input samples */
    /* Added by imaging (after the fields above, so designated initialisers
     * keep working): */
    uint32_t envelope_samples;  /* RF_REAL: envelope samples per line after
                                 * demodulation; 0 = auto (enough for the
                                 * display rows and a 100 % band around f0),
                                 * `samples` = full-rate analytic signal,
                                 * up to 8 x samples = band-limited upsampling */
    int fft_effort;             /* 0 = FFTW_ESTIMATE (fast set-up),
                                 * 1 = FFTW_MEASURE (default), 2 = PATIENT */
    const char *wisdom_path;    /* FFTW wisdom file read before and written
                                 * after planning; NULL = none */
    int demodulator;            /* RF_REAL: TL_DEMOD_AUTO (default), _FFT, _FIR */
    float reference_level;      /* amplitude shown at 0 dB (before gain);
                                 * 0 = full scale of the input type
                                 * (32767 for int16 RF, 65535 for envelope) */
} tl_imaging_params;

tl_imaging_params tl_imaging_params_default(void);

typedef struct tl_imaging_plan tl_imaging_plan;

/* Build a plan for frames of this geometry and image type.
 * Frame layouts (as recording/ reads them): RF_REAL / ENVELOPE `lines` rows
 * of `samples` int16 / uint16; RF_I_LINE_Q_LINE 2*lines rows alternating I
 * and Q; RF_IQ_LINE `lines` rows of `samples` I,Q pairs; BRIGHTNESS an image
 * of `samples` rows of `lines` pixels. data_bytes must match exactly. */
tl_status tl_imaging_plan_create(const tl_geometry *geom, tl_image_type type,
                                 const tl_imaging_params *params,
                                 tl_imaging_plan **out);
void tl_imaging_plan_destroy(tl_imaging_plan *plan);

/* The output image size and calibration this plan produces. */
tl_status tl_imaging_plan_output(const tl_imaging_plan *plan, uint32_t *width,
                                 uint32_t *height, float *spacing_mm,
                                 float *origin_x_mm, float *origin_z_mm);

/* Allocate img (tl_bmode_alloc) for the image this plan produces, with its
 * spacing and origin set: ready for tl_imaging_execute. */
tl_status tl_imaging_bmode_alloc(const tl_imaging_plan *plan, tl_bmode *img);

/* Per-stage times of the last execute, in ms. */
typedef struct {
    double envelope_ms, compress_ms, scan_convert_ms, total_ms;
} tl_imaging_timing;

/* Run the plan on one frame (its geometry and type must match the plan's).
 * `out` must be allocated to the plan's output size. */
tl_status tl_imaging_execute(tl_imaging_plan *plan, const tl_frame *in, tl_bmode *out,
                             tl_imaging_timing *timing);

/* Envelope samples per line the plan computes (RF_REAL: after demodulation;
 * other types: the input samples). */
uint32_t tl_imaging_plan_envelope_samples(const tl_imaging_plan *plan);
/* True when the plan demodulates RF with the time-domain FIR. */
bool tl_imaging_plan_uses_fir(const tl_imaging_plan *plan);

/* The analytic signal x + i H{x} of `count` real sequences of length n, the
 * way scipy.signal.hilbert / ITK's AnalyticSignalImageFilter compute it
 * (FFT, keep DC and Nyquist, double positive frequencies, inverse).
 * Element j of sequence i is in[i*dist + j*stride]; re/im use the same
 * layout. Plans with FFTW_ESTIMATE and allocates: a one-off helper (tests,
 * tools); per-frame work uses a plan. */
tl_status tl_analytic_signal(const float *in, uint32_t n, uint32_t count, size_t stride,
                             size_t dist, float *re, float *im);

/* Default FFTW wisdom file: $XDG_CACHE_HOME/talus/fftw3f.wisdom or
 * $HOME/.cache/talus/fftw3f.wisdom (written into buf; TL_ERR_NOT_FOUND when
 * neither variable is set). The directory is created if missing. */
tl_status tl_imaging_default_wisdom_path(char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
