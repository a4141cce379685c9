/* Internal to tl_imaging: the plan record shared by plan.c, envelope.c and
 * scanconv.c. Not part of the public API. */
#ifndef TL_IMAGING_INTERNAL_H
#define TL_IMAGING_INTERNAL_H

#include "tl_imaging.h"

#include <fftw3.h>
#include <string.h>

/* One display pixel of the general (convex) scan-conversion table: the
 * top-left neighbour in the depth-major log image and 8-bit fixed-point
 * weights (0..256) towards the next line and the next sample. */
/* Taps of the time-domain demodulator: odd, so the filter centre is a
 * sample. */
#define TL_FIR_TAPS 31

typedef struct {
    uint32_t off;
    uint16_t wl, wk;
} tl_sc_entry;

struct tl_imaging_plan {
    tl_geometry geom;
    tl_image_type type;
    tl_imaging_params p;

    uint32_t L, N;          /* lines, samples per line of the input */
    uint32_t M;             /* envelope samples per line after demodulation */
    uint32_t nbins;         /* N/2 + 1 spectrum bins (RF_REAL) */
    uint32_t k_lo;          /* first spectrum bin mapped to baseband bin 0 */
    uint32_t k_n;           /* spectrum bins copied (<= M; the rest is zero) */
    double step;            /* input samples per envelope sample (N / M) */

    /* RF_REAL buffers (fftwf_malloc'd) and plans. Lines go through in
     * blocks of `blk` (<= 16) so a block's RF, spectrum and baseband stay in
     * the L2 cache; the last block of L % blk lines has its own plans. */
    uint32_t blk, tail;
    float *rf;              /* blk x N real */
    fftwf_complex *spec;    /* blk x nbins */
    fftwf_complex *bb;      /* blk x M baseband analytic signal */
    fftwf_plan fwd, inv, fwd_tail, inv_tail;
    bool inv_direct;        /* inverse reads the kept bins in place in spec */

    /* Time-domain demodulator (demod_fir.c), when params ask for it. */
    bool use_fir, fir_avx2;
    float fir_re[TL_FIR_TAPS], fir_im[TL_FIR_TAPS];
    float *fir_x;           /* (N + 2 T + 8) x 8 lines, sample-major */
    float *fir_p;           /* M x 8 power */
    float *fir_b8;          /* log_b, 8 copies per sample */
    uint8_t *fir_px;        /* M x 8 pixels */

    /* Compression scratch: power and pixels of a block of 16 lines. */
    float *pw;              /* 16 x M */
    uint8_t *ctmp;          /* 16 x M */

    /* Log compression: pixel = a * log2(power) + b[k] (clamped to 0..255),
     * b holding gain, TGC and the reference level per envelope sample k in
     * storage order. */
    float log_a;
    float *log_b;           /* M */

    /* Depth-major log image: M rows of L bytes, followed by a zero block so
     * table entries for holes inside a row's hull read zeros. */
    uint8_t *logimg;
    size_t logimg_bytes;

    /* Display raster. */
    uint32_t W, H;
    float spacing, ox, oz;
    uint8_t *valid;         /* W x H mask */

    /* Linear geometry: separable tables. Valid rectangle rows [r0, r1),
     * cols [c0, c1). */
    bool separable;
    uint32_t r0, r1, c0, c1;
    uint32_t *row_k;        /* per valid row: envelope sample (storage) */
    uint16_t *row_w;        /* weight of row_k + 1 (0..256) */
    uint32_t *col_l;        /* per valid col: line (storage) */
    uint16_t *col_w;
    /* SSSE3 lateral pass: groups of 8 display columns, each reading a
     * 16-byte window of the depth-interpolated row at grp_base, gathered by
     * a byte shuffle (pairs line, line+1) and weighted by pmaddubsw with
     * 6-bit weights (0..64, 1/64 line). */
    bool use_simd;
    uint32_t n_groups;
    uint32_t *grp_base;
    uint8_t *grp_ctrl;      /* 16 per group */
    int8_t *grp_wt;         /* 16 per group */
    uint8_t *trow;          /* L + 16 bytes, scratch */

    /* General tables: per row the hull [hull_c0, hull_c1) of valid pixels and
     * one entry per pixel of that hull, rows one after another, as arrays
     * (offset; weights wl | wk << 16) so AVX2 can gather 8 at a time. */
    uint32_t *hull_c0, *hull_c1;
    tl_sc_entry *entries;   /* while building */
    size_t n_entries;
    uint32_t *e_off, *e_w;
    bool use_avx2;

    uint8_t *speckle_tmp;   /* W x H scratch for the speckle filter */
};

/* ---- Shared per-sample helpers (envelope.c, demod_fir.c) ---------------- */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* Runtime-dispatched AVX2 clone of the hot compression loops (8 floats a
 * vector instead of 4); the default clone is plain x86-64. */
#define TL_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TL_CLONES
#endif


/* log2(x) for x > 0: exponent bits + a degree-4 minimax-style polynomial of
 * the mantissa on [1, 2) (max error 2e-4, i.e. 6e-4 dB). x = 0 gives -127. */
static inline float fast_log2(float x)
{
    uint32_t i;
    memcpy(&i, &x, sizeof i);
    float e = (float)(int32_t)(i >> 23) - 127.0f; /* power >= 0: no sign bit */
    uint32_t mi = (i & 0x007fffffu) | 0x3f800000u;
    float m;
    memcpy(&m, &mi, sizeof m);
    return e + (-2.4967737f + m * (4.0283728f + m * (-2.0810602f +
                m * (0.62881571f + m * -0.07915036f))));
}

/* v is bounded (log2 of a finite power lies in [-127, 128] and the plan
 * validates gain, TGC and range), so the int conversion is defined; the
 * integer clamp, unlike a float one, lets GCC vectorise the loop. */
static inline uint8_t to_pixel(float v)
{
    int32_t i = (int32_t)(v + 0.5f);
    i = i < 0 ? 0 : i;
    i = i > 255 ? 255 : i;
    return (uint8_t)i;
}

static inline int16_t load_i16(const uint8_t *p, size_t i)
{
    int16_t v;
    memcpy(&v, p + 2 * i, sizeof v); /* frames may sit at any byte offset */
    return v;
}

static inline uint16_t load_u16(const uint8_t *p, size_t i)
{
    uint16_t v;
    memcpy(&v, p + 2 * i, sizeof v);
    return v;
}

/* envelope.c: envelope + log compression into plan->logimg. Returns the
 * envelope and compression times in ms through the pointers. */
tl_status tl_imaging_envelope_compress(tl_imaging_plan *plan, const tl_frame *in,
                                       double *envelope_ms, double *compress_ms);

/* demod_fir.c: set up (adjusts M to an integer decimation) and run. */
tl_status tl_imaging_fir_build(tl_imaging_plan *plan);
tl_status tl_imaging_fir_tables(tl_imaging_plan *plan); /* after the log tables */
void tl_imaging_fir_run(tl_imaging_plan *plan, const uint8_t *data, double *envelope_ms,
                        double *compress_ms);

/* scanconv.c */
tl_status tl_imaging_scanconv_build(tl_imaging_plan *plan);
void tl_imaging_scanconv_free(tl_imaging_plan *plan);
void tl_imaging_scanconv_run(const tl_imaging_plan *plan, uint8_t *out, uint32_t stride);

/* Serialises FFTW's planner (it is not thread-safe) and owns wisdom I/O. */
void tl_imaging_fftw_lock(void);
void tl_imaging_fftw_unlock(void);

#endif
