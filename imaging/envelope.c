/* Envelope detection and log compression.
 *
 * RF_REAL: one batched real-to-complex FFT of all lines, then the positive
 * band around f0 is taken as the baseband spectrum (mix down = shift bins,
 * ideal low-pass = keep M bins, decimate = inverse FFT of size M): the
 * analytic signal sampled M times per line, exact when the echo band fits in
 * the kept bins. I/Q and envelope inputs go straight to compression.
 *
 * Compression writes the depth-major 8-bit log image scan conversion reads:
 * pixel = a * log2(power) + b[k], clamped; power avoids the square root and
 * log2 is a bit-trick + polynomial (error < 1e-3 dB), which vectorises. */
#include "imaging_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Lines handled together so the transposed writes fill whole cache lines. */
#define BLOCK 16

#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>
/* Transpose 16 rows of 16 bytes (src rows `sstride` apart) into 16 rows of
 * 16 bytes (dst rows `dstride` apart): four rounds of unpacks (SSE2 is part
 * of x86-64, no runtime check needed). */
static void transpose16(const uint8_t *src, size_t sstride, uint8_t *dst, size_t dstride)
{
    __m128i x[16], t[16], u[16];
    for (int i = 0; i < 16; i++)
        x[i] = _mm_loadu_si128((const __m128i *)(src + i * sstride));
    for (int i = 0; i < 8; i++) {
        t[i] = _mm_unpacklo_epi8(x[2 * i], x[2 * i + 1]);     /* cols 0..7 */
        t[i + 8] = _mm_unpackhi_epi8(x[2 * i], x[2 * i + 1]); /* cols 8..15 */
    }
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 4; i++) {
            u[8 * h + i] = _mm_unpacklo_epi16(t[8 * h + 2 * i], t[8 * h + 2 * i + 1]);
            u[8 * h + 4 + i] = _mm_unpackhi_epi16(t[8 * h + 2 * i], t[8 * h + 2 * i + 1]);
        }
    /* u[4q .. 4q+3]: columns 4q..4q+3, rows in groups of 4. */
    for (int q = 0; q < 4; q++) {
        __m128i *g = u + 4 * q;
        __m128i v0 = _mm_unpacklo_epi32(g[0], g[1]), v1 = _mm_unpackhi_epi32(g[0], g[1]);
        __m128i v2 = _mm_unpacklo_epi32(g[2], g[3]), v3 = _mm_unpackhi_epi32(g[2], g[3]);
        uint8_t *d = dst + (size_t)(4 * q) * dstride;
        _mm_storeu_si128((__m128i *)d, _mm_unpacklo_epi64(v0, v2));
        _mm_storeu_si128((__m128i *)(d + dstride), _mm_unpackhi_epi64(v0, v2));
        _mm_storeu_si128((__m128i *)(d + 2 * dstride), _mm_unpacklo_epi64(v1, v3));
        _mm_storeu_si128((__m128i *)(d + 3 * dstride), _mm_unpackhi_epi64(v1, v3));
    }
}
#define TL_HAVE_TRANSPOSE16 1
#endif

/* Compress the power of nl (<= 16) lines, already in `pw` (nl x M floats),
 * into rows j0.. of `tmp` (16 x M); when the 16-line group is complete (or
 * the frame ends), write it transposed into columns l0.. of the depth-major
 * log image. */
TL_CLONES static void compress_lines(const float *pw, uint8_t *tmp, uint32_t nl, uint32_t M,
                                     float a, const float *b)
{
    for (uint32_t j = 0; j < nl; j++) {
        const float *p = pw + (size_t)j * M;
        uint8_t *t = tmp + (size_t)j * M;
        for (uint32_t k = 0; k < M; k++)
            t[k] = to_pixel(a * fast_log2(p[k]) + b[k]);
    }
}

static void compress_block(tl_imaging_plan *pl, const float *pw, uint8_t *tmp, uint32_t l0,
                           uint32_t j0, uint32_t nl, bool flush)
{
    const uint32_t M = pl->M, L = pl->L;
    compress_lines(pw, tmp + (size_t)j0 * M, nl, M, pl->log_a, pl->log_b);
    if (!flush)
        return;
    uint32_t n = j0 + nl;
    uint8_t *dst = pl->logimg + l0;
    uint32_t k = 0;
#ifdef TL_HAVE_TRANSPOSE16
    if (n == 16)
        for (; k + 16 <= M; k += 16)
            transpose16(tmp + k, M, dst + (size_t)k * L, L);
#endif
    for (; k < M; k++) {
        uint8_t *d = dst + (size_t)k * L;
        for (uint32_t j = 0; j < n; j++)
            d[j] = tmp[(size_t)j * M + k];
    }
}

/* |c|^2 of n interleaved complex values (restrict: lets GCC vectorise). */
TL_CLONES static void power_block(const float *restrict c, float *restrict p, size_t n)
{
    for (size_t k = 0; k < n; k++)
        p[k] = c[2 * k] * c[2 * k] + c[2 * k + 1] * c[2 * k + 1];
}

static size_t expected_bytes(const tl_imaging_plan *pl)
{
    size_t n = (size_t)pl->L * pl->N;
    switch (pl->type) {
    case TL_IMAGE_RF_REAL: return n * 2;
    case TL_IMAGE_RF_IQ_LINE: return n * 4;
    case TL_IMAGE_RF_I_LINE_Q_LINE: return n * 4;
    case TL_IMAGE_ENVELOPE: return n * 2;
    case TL_IMAGE_BRIGHTNESS: return n;
    }
    return 0;
}

/* Power of line l (non-FFT types) into p[0..M). */
static void line_power(const tl_imaging_plan *pl, const uint8_t *data, uint32_t l, float *p)
{
    const uint32_t N = pl->N;
    switch (pl->type) {
    case TL_IMAGE_RF_I_LINE_Q_LINE: {
        const uint8_t *I = data + (size_t)(2 * l) * N * 2;
        const uint8_t *Q = I + (size_t)N * 2;
        for (uint32_t k = 0; k < N; k++) {
            float i = load_i16(I, k), q = load_i16(Q, k);
            p[k] = i * i + q * q;
        }
        break;
    }
    case TL_IMAGE_RF_IQ_LINE: {
        const uint8_t *x = data + (size_t)l * N * 4;
        for (uint32_t k = 0; k < N; k++) {
            float i = load_i16(x, 2 * (size_t)k), q = load_i16(x, 2 * (size_t)k + 1);
            p[k] = i * i + q * q;
        }
        break;
    }
    case TL_IMAGE_ENVELOPE: {
        const uint8_t *x = data + (size_t)l * N * 2;
        for (uint32_t k = 0; k < N; k++) {
            float e = load_u16(x, k);
            p[k] = e * e;
        }
        break;
    }
    default:
        break;
    }
}

tl_status tl_imaging_envelope_compress(tl_imaging_plan *pl, const tl_frame *in,
                                       double *envelope_ms, double *compress_ms)
{
    if (!in->data || in->data_bytes != expected_bytes(pl))
        return TL_ERR_FORMAT;
    const uint8_t *data = in->data;
    const uint32_t L = pl->L, N = pl->N, M = pl->M;
    float *pw = pl->pw;
    uint8_t *tmp = pl->ctmp;
    uint64_t t0 = tl_now_ns();

    if (pl->type == TL_IMAGE_BRIGHTNESS) {
        /* An image already, stored as recording/ reads it: `samples` rows of
         * `lines` pixels, which is the log image's own layout. */
        memcpy(pl->logimg, data, (size_t)L * N);
        *envelope_ms = 0.0;
        *compress_ms = (double)(tl_now_ns() - t0) * 1e-6;
        return TL_OK;
    }

    if (pl->use_fir) {
        tl_imaging_fir_run(pl, data, envelope_ms, compress_ms);
        return TL_OK;
    }

    if (pl->type == TL_IMAGE_RF_REAL) {
        uint64_t t_env = 0, t_comp = 0;
        for (uint32_t l0 = 0; l0 < L; l0 += pl->blk) {
            uint64_t ta = tl_now_ns();
            uint32_t nl = L - l0 < pl->blk ? L - l0 : pl->blk;
            bool tail = nl < pl->blk;
            size_t n = (size_t)nl * N;
            const uint8_t *src = data + (size_t)l0 * N * 2;
            float *rf = pl->rf;
            for (size_t i = 0; i < n; i++)
                rf[i] = (float)load_i16(src, i);
            fftwf_execute(tail ? pl->fwd_tail : pl->fwd);
            if (pl->inv_direct) {
                /* The inverse reads the kept bins straight from the
                 * spectrum; a DC offset of the ADC is not an echo. */
                if (pl->k_lo == 0)
                    for (uint32_t j = 0; j < nl; j++)
                        pl->spec[(size_t)j * pl->nbins][0] =
                            pl->spec[(size_t)j * pl->nbins][1] = 0.0f;
            } else {
                for (uint32_t j = 0; j < nl; j++) {
                    fftwf_complex *d = pl->bb + (size_t)j * M;
                    memcpy(d, pl->spec + (size_t)j * pl->nbins + pl->k_lo,
                           sizeof(fftwf_complex) * pl->k_n);
                    memset(d + pl->k_n, 0, sizeof(fftwf_complex) * (M - pl->k_n));
                    if (pl->k_lo == 0)
                        d[0][0] = d[0][1] = 0.0f;
                }
            }
            fftwf_execute(tail ? pl->inv_tail : pl->inv);
            uint64_t tb = tl_now_ns();
            power_block((const float *)pl->bb, pw, (size_t)nl * M);
            /* Lines gather in groups of 16 for the transposed write. */
            uint32_t g0 = l0 - l0 % 16, j0 = l0 % 16;
            compress_block(pl, pw, tmp, g0, j0, nl, j0 + nl == 16 || l0 + nl == L);
            t_env += tb - ta;
            t_comp += tl_now_ns() - tb;
        }
        *envelope_ms = (double)t_env * 1e-6;
        *compress_ms = (double)t_comp * 1e-6;
        return TL_OK;
    }

    /* I/Q and envelope: the magnitude is at hand; fused with compression. */
    *envelope_ms = 0.0;
    for (uint32_t l0 = 0; l0 < L; l0 += BLOCK) {
        uint32_t nl = L - l0 < BLOCK ? L - l0 : BLOCK;
        for (uint32_t j = 0; j < nl; j++)
            line_power(pl, data, l0 + j, pw + (size_t)j * M);
        compress_block(pl, pw, tmp, l0, 0, nl, true);
    }
    *compress_ms = (double)(tl_now_ns() - t0) * 1e-6;
    return TL_OK;
}

tl_status tl_analytic_signal(const float *in, uint32_t n, uint32_t count, size_t stride,
                             size_t dist, float *re, float *im)
{
    if (!in || !re || !im || n < 1 || count < 1 || stride < 1 || n > (1u << 24) ||
        (size_t)n * count > (1u << 28))
        return TL_ERR_INVALID_ARG;
    size_t total = (size_t)n * count;
    fftwf_complex *buf = fftwf_malloc(sizeof(fftwf_complex) * total);
    if (!buf)
        return TL_ERR_NO_MEM;
    int nn = (int)n;
    tl_imaging_fftw_lock();
    fftwf_plan fwd = fftwf_plan_many_dft(1, &nn, (int)count, buf, NULL, 1, nn, buf, NULL, 1, nn,
                                         FFTW_FORWARD, FFTW_ESTIMATE);
    fftwf_plan inv = fftwf_plan_many_dft(1, &nn, (int)count, buf, NULL, 1, nn, buf, NULL, 1, nn,
                                         FFTW_BACKWARD, FFTW_ESTIMATE);
    tl_imaging_fftw_unlock();
    tl_status st = fwd && inv ? TL_OK : TL_ERR_NO_MEM;
    if (st == TL_OK) {
        for (uint32_t c = 0; c < count; c++)
            for (uint32_t j = 0; j < n; j++) {
                buf[(size_t)c * n + j][0] = in[c * dist + j * stride];
                buf[(size_t)c * n + j][1] = 0.0f;
            }
        fftwf_execute(fwd);
        /* Keep DC (and Nyquist for even n), double the positive half, drop
         * the negative half; 1/n undoes FFTW's unnormalised inverse. */
        uint32_t half = n / 2;
        for (uint32_t c = 0; c < count; c++) {
            fftwf_complex *s = buf + (size_t)c * n;
            for (uint32_t k = 0; k < n; k++) {
                float h;
                if (k == 0 || (n % 2 == 0 && k == half))
                    h = 1.0f;
                else if (k < (n + 1) / 2)
                    h = 2.0f;
                else
                    h = 0.0f;
                s[k][0] *= h / (float)n;
                s[k][1] *= h / (float)n;
            }
        }
        fftwf_execute(inv);
        for (uint32_t c = 0; c < count; c++)
            for (uint32_t j = 0; j < n; j++) {
                re[c * dist + j * stride] = buf[(size_t)c * n + j][0];
                im[c * dist + j * stride] = buf[(size_t)c * n + j][1];
            }
    }
    tl_imaging_fftw_lock();
    if (fwd)
        fftwf_destroy_plan(fwd);
    if (inv)
        fftwf_destroy_plan(inv);
    tl_imaging_fftw_unlock();
    fftwf_free(buf);
    return st;
}
