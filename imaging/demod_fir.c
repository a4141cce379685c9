/* Time-domain IQ demodulation of RF_REAL (params.demodulator =
 * TL_DEMOD_FIR), the alternative to the FFT path in envelope.c.
 *
 * Mix down + low-pass + decimate as one complex FIR g[j] = h[j] e^{i w0 j}
 * (h: Hann-windowed sinc, half-band f0/2, i.e. a 100 % band around f0)
 * evaluated only at every D-th sample: |sum g[j] x[n-j]| is the envelope,
 * the mixing phase drops out of the magnitude. Eight lines go through at
 * once: the frame is transposed to sample-major float rows of 8 lines, so
 * each tap is one vector multiply-add and the power lands directly in the
 * depth-major layout the log image needs (no transpose afterwards).
 *
 * It is not bit-for-bit the analytic signal: the band edges of a 32-tap
 * filter roll off (-1.4 dB at f0 +- 0.4 f0). `talus bench imaging --demod
 * fir` measures it against the FFT path. */
#include "imaging_internal.h"

#include <math.h>
#include <stdlib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define TL_FIR_X86 1
#endif

#define FIR_LANES 8

tl_status tl_imaging_fir_build(tl_imaging_plan *pl)
{
    const tl_geometry *g = &pl->geom;
    uint32_t N = pl->N;
    /* Integer decimation so output k sits exactly on input sample k*D. */
    uint32_t D = (uint32_t)floor((double)N / pl->M);
    if (D < 1)
        D = 1;
    pl->M = (N - 1) / D + 1;
    pl->step = D;
    int T = TL_FIR_TAPS;
    double bw = 0.5 * g->f0_hz / g->fs_hz; /* low-pass half-band, cycles/sample */
    if (bw > 0.45)
        bw = 0.45;
    double sum = 0.0, h[TL_FIR_TAPS];
    for (int j = 0; j < T; j++) {
        double t = j - (T - 1) / 2.0;
        double sinc = fabs(t) < 1e-12 ? 2.0 * bw : sin(2.0 * M_PI * bw * t) / (M_PI * t);
        double w = 0.5 - 0.5 * cos(2.0 * M_PI * (j + 0.5) / T);
        h[j] = sinc * w;
        sum += h[j];
    }
    double w0 = 2.0 * M_PI * g->f0_hz / g->fs_hz;
    for (int j = 0; j < T; j++) {
        double t = j - (T - 1) / 2.0;
        pl->fir_re[j] = (float)(h[j] / sum * cos(w0 * t));
        pl->fir_im[j] = (float)(h[j] / sum * sin(w0 * t));
    }
    /* 8 lines of N samples plus T zero samples either side. */
    pl->fir_x = fftwf_malloc(sizeof(float) * FIR_LANES * (N + 2 * (size_t)T + 8));
    pl->fir_p = fftwf_malloc(sizeof(float) * FIR_LANES * pl->M);
    if (!pl->fir_x || !pl->fir_p)
        return TL_ERR_NO_MEM;
    memset(pl->fir_x, 0, sizeof(float) * FIR_LANES * (N + 2 * (size_t)T + 8));
#ifdef TL_FIR_X86
    pl->fir_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return TL_OK;
}

/* Lines l0 .. l0+nl-1 (nl <= 8) into X[(s + T) * 8 + j]; missing lanes 0. */
static void transpose_lines(const tl_imaging_plan *pl, const uint8_t *data, uint32_t l0,
                            uint32_t nl, float *X)
{
    const uint32_t N = pl->N;
    float *x = X + (size_t)TL_FIR_TAPS * FIR_LANES;
    for (uint32_t j = 0; j < FIR_LANES; j++) {
        if (j >= nl) {
            for (uint32_t s = 0; s < N; s++)
                x[(size_t)s * FIR_LANES + j] = 0.0f;
            continue;
        }
        const uint8_t *line = data + (size_t)(l0 + j) * N * 2;
        for (uint32_t s = 0; s < N; s++)
            x[(size_t)s * FIR_LANES + j] = (float)load_i16(line, s);
    }
}

static void fir_scalar(const tl_imaging_plan *pl, const float *X, float *P)
{
    const uint32_t D = (uint32_t)pl->step;
    const float *gr = pl->fir_re, *gi = pl->fir_im;
    for (uint32_t k = 0; k < pl->M; k++) {
        const float *x = X + (size_t)(k * D + TL_FIR_TAPS - TL_FIR_TAPS / 2) * FIR_LANES;
        float re[FIR_LANES] = { 0 }, im[FIR_LANES] = { 0 };
        for (int j = 0; j < TL_FIR_TAPS; j++)
            for (int q = 0; q < FIR_LANES; q++) {
                re[q] += gr[j] * x[j * FIR_LANES + q];
                im[q] += gi[j] * x[j * FIR_LANES + q];
            }
        for (int q = 0; q < FIR_LANES; q++)
            P[(size_t)k * FIR_LANES + q] = re[q] * re[q] + im[q] * im[q];
    }
}

#ifdef TL_FIR_X86
/* 8 full lines: SSE2 8 x 8 int16 transposes, then int16 -> float. */
__attribute__((target("avx2,fma"))) static void transpose8_avx2(const tl_imaging_plan *pl,
                                                                const uint8_t *data,
                                                                uint32_t l0, float *X)
{
    const uint32_t N = pl->N;
    float *x = X + (size_t)TL_FIR_TAPS * FIR_LANES;
    const uint8_t *base = data + (size_t)l0 * N * 2;
    uint32_t s = 0;
    for (; s + 8 <= N; s += 8) {
        __m128i r[8];
        for (int j = 0; j < 8; j++)
            r[j] = _mm_loadu_si128((const __m128i *)(base + ((size_t)j * N + s) * 2));
        __m128i a0 = _mm_unpacklo_epi16(r[0], r[1]), a1 = _mm_unpackhi_epi16(r[0], r[1]);
        __m128i a2 = _mm_unpacklo_epi16(r[2], r[3]), a3 = _mm_unpackhi_epi16(r[2], r[3]);
        __m128i a4 = _mm_unpacklo_epi16(r[4], r[5]), a5 = _mm_unpackhi_epi16(r[4], r[5]);
        __m128i a6 = _mm_unpacklo_epi16(r[6], r[7]), a7 = _mm_unpackhi_epi16(r[6], r[7]);
        __m128i b0 = _mm_unpacklo_epi32(a0, a2), b1 = _mm_unpackhi_epi32(a0, a2);
        __m128i b2 = _mm_unpacklo_epi32(a1, a3), b3 = _mm_unpackhi_epi32(a1, a3);
        __m128i b4 = _mm_unpacklo_epi32(a4, a6), b5 = _mm_unpackhi_epi32(a4, a6);
        __m128i b6 = _mm_unpacklo_epi32(a5, a7), b7 = _mm_unpackhi_epi32(a5, a7);
        __m128i c[8] = { _mm_unpacklo_epi64(b0, b4), _mm_unpackhi_epi64(b0, b4),
                         _mm_unpacklo_epi64(b1, b5), _mm_unpackhi_epi64(b1, b5),
                         _mm_unpacklo_epi64(b2, b6), _mm_unpackhi_epi64(b2, b6),
                         _mm_unpacklo_epi64(b3, b7), _mm_unpackhi_epi64(b3, b7) };
        for (int q = 0; q < 8; q++)
            _mm256_storeu_ps(x + (size_t)(s + q) * 8,
                             _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(c[q])));
    }
    for (; s < N; s++)
        for (uint32_t j = 0; j < 8; j++)
            x[(size_t)s * 8 + j] = (float)load_i16(base + (size_t)j * N * 2, s);
}

__attribute__((target("avx2,fma"))) static void fir_avx2(const tl_imaging_plan *pl,
                                                         const float *X, float *P)
{
    const uint32_t D = (uint32_t)pl->step;
    __m256 gr[TL_FIR_TAPS], gi[TL_FIR_TAPS];
    for (int j = 0; j < TL_FIR_TAPS; j++) {
        gr[j] = _mm256_set1_ps(pl->fir_re[j]);
        gi[j] = _mm256_set1_ps(pl->fir_im[j]);
    }
    for (uint32_t k = 0; k < pl->M; k++) {
        const float *x = X + (size_t)(k * D + TL_FIR_TAPS - TL_FIR_TAPS / 2) * 8;
        __m256 re = _mm256_setzero_ps(), im = _mm256_setzero_ps();
        for (int j = 0; j < TL_FIR_TAPS; j++) {
            __m256 v = _mm256_loadu_ps(x + j * 8);
            re = _mm256_fmadd_ps(gr[j], v, re);
            im = _mm256_fmadd_ps(gi[j], v, im);
        }
        _mm256_storeu_ps(P + (size_t)k * 8, _mm256_fmadd_ps(re, re, _mm256_mul_ps(im, im)));
    }
}
#endif

TL_CLONES static void fir_compress(const float *restrict p, const float *restrict b8,
                                   uint8_t *restrict px, size_t n, float a)
{
    for (size_t i = 0; i < n; i++)
        px[i] = to_pixel(a * fast_log2(p[i]) + b8[i]);
}

tl_status tl_imaging_fir_tables(tl_imaging_plan *pl)
{
    pl->fir_b8 = malloc(sizeof(float) * FIR_LANES * pl->M);
    pl->fir_px = malloc((size_t)FIR_LANES * pl->M);
    if (!pl->fir_b8 || !pl->fir_px)
        return TL_ERR_NO_MEM;
    for (uint32_t k = 0; k < pl->M; k++)
        for (int q = 0; q < FIR_LANES; q++)
            pl->fir_b8[(size_t)k * FIR_LANES + q] = pl->log_b[k];
    return TL_OK;
}

void tl_imaging_fir_run(tl_imaging_plan *pl, const uint8_t *data, double *envelope_ms,
                        double *compress_ms)
{
    const uint32_t L = pl->L, M = pl->M;
    uint64_t t_env = 0, t_comp = 0;
    for (uint32_t l0 = 0; l0 < L; l0 += FIR_LANES) {
        uint64_t ta = tl_now_ns();
        uint32_t nl = L - l0 < FIR_LANES ? L - l0 : FIR_LANES;
#ifdef TL_FIR_X86
        if (pl->fir_avx2) {
            if (nl == FIR_LANES)
                transpose8_avx2(pl, data, l0, pl->fir_x);
            else
                transpose_lines(pl, data, l0, nl, pl->fir_x);
            fir_avx2(pl, pl->fir_x, pl->fir_p);
        } else
#endif
        {
            transpose_lines(pl, data, l0, nl, pl->fir_x);
            fir_scalar(pl, pl->fir_x, pl->fir_p);
        }
        uint64_t tb = tl_now_ns();
        /* Power is already depth-major: one flat vectorised pass to pixels
         * (log_b expanded per lane), then 8-byte rows into the log image. */
        uint8_t *px = pl->fir_px;
        fir_compress(pl->fir_p, pl->fir_b8, px, (size_t)M * FIR_LANES, pl->log_a);
        uint8_t *d = pl->logimg + l0;
        if (nl == FIR_LANES)
            for (uint32_t k = 0; k < M; k++)
                memcpy(d + (size_t)k * L, px + (size_t)k * FIR_LANES, FIR_LANES);
        else
            for (uint32_t k = 0; k < M; k++)
                memcpy(d + (size_t)k * L, px + (size_t)k * FIR_LANES, nl);
        t_env += tb - ta;
        t_comp += tl_now_ns() - tb;
    }
    *envelope_ms = (double)t_env * 1e-6;
    *compress_ms = (double)t_comp * 1e-6;
}
