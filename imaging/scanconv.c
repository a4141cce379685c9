/* Scan conversion: depth-major log image (M envelope samples x L lines) to
 * the display raster, bilinear, from tables built once per plan.
 *
 * Every display pixel centre (x, z) in probe mm is mapped back to a
 * fractional (line, sample) of the geometry (tl_geometry in tl_core.h), then
 * to storage order (orientation U reverses lines, N reverses samples) and to
 * envelope samples (k = sample / step). Weights are 8-bit fixed point.
 * Linear arrays are separable (line depends on the column only, sample on
 * the row only), so they use two 1-D tables; convex arrays and steered
 * linear frames use one entry per pixel inside each row's hull. */
#include "imaging_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define TL_HAVE_X86 1
#endif

/* Fractional position f in [0, n-1] -> base index (<= n-2) and weight of
 * base + 1 in 0..256. */
static void split(double f, uint32_t n, uint32_t *base, uint16_t *w)
{
    if (f < 0.0)
        f = 0.0;
    if (f > n - 1)
        f = n - 1;
    uint32_t i = (uint32_t)f;
    long wi = lround((f - i) * 256.0);
    if (wi >= 256 && i + 1 < n) {
        i++;
        wi = 0;
    }
    if (i > n - 2) { /* the last index: weight everything onto it */
        i = n - 2;
        wi = 256;
    }
    *base = i;
    *w = (uint16_t)wi;
}

/* Display pixel -> fractional (line, sample) of the geometry; false outside
 * the scanned area. */
static bool pixel_to_line_sample(const tl_imaging_plan *pl, uint32_t col, uint32_t row,
                                 double *line, double *sample)
{
    const tl_geometry *g = &pl->geom;
    double x = pl->ox + (double)col * pl->spacing;
    double z = pl->oz + (double)row * pl->spacing;
    double dz = tl_geometry_dz_mm(g);
    double half = 0.5 * (g->lines - 1);
    double lf, r;
    if (g->kind == TL_PROBE_CONVEX && g->radius_mm > 0.0f) {
        double R = g->radius_mm;
        double theta = atan2(x, z + R);
        r = hypot(x, z + R) - R;
        lf = theta * R / g->pitch_mm + half;
    } else if (g->steer_deg != 0.0f) {
        /* the steered line through (x, z) and the range along it */
        double b = g->steer_deg * 0.017453292519943295;
        lf = (x - z * tan(b)) / g->pitch_mm + half;
        r = z / cos(b);
    } else {
        lf = x / g->pitch_mm + half;
        r = z;
    }
    double sf = (r - g->depth_start_mm) / dz;
    const double eps = 1e-6;
    if (lf < -eps || lf > g->lines - 1 + eps || sf < -eps || sf > g->samples - 1 + eps)
        return false;
    *line = lf;
    *sample = sf;
    return true;
}

/* Geometry (line, sample) -> storage (line, envelope sample) coordinates. */
static void to_storage(const tl_imaging_plan *pl, double line, double sample, double *ls,
                       double *ks)
{
    tl_orientation o = pl->p.orientation;
    if (o == TL_ORIENT_UF || o == TL_ORIENT_UN)
        line = (pl->L - 1) - line;
    if (o == TL_ORIENT_MN || o == TL_ORIENT_UN)
        sample = (pl->N - 1) - sample;
    *ls = line;
    *ks = sample / pl->step;
}

/* Shuffle tables for the SIMD lateral pass; left unused (scalar path) when
 * the CPU lacks SSSE3 or 8 columns span more than a 16-byte window (display
 * much narrower than the number of lines). */
static tl_status build_groups(tl_imaging_plan *pl)
{
    pl->trow = calloc(pl->L + 16, 1);
    if (!pl->trow)
        return TL_ERR_NO_MEM;
#ifdef TL_HAVE_X86
    if (!__builtin_cpu_supports("ssse3"))
        return TL_OK;
    uint32_t ng = (pl->c1 - pl->c0) / 8;
    pl->grp_base = malloc(sizeof(uint32_t) * (ng + 1));
    pl->grp_ctrl = malloc((size_t)16 * (ng + 1));
    pl->grp_wt = malloc((size_t)16 * (ng + 1));
    if (!pl->grp_base || !pl->grp_ctrl || !pl->grp_wt)
        return TL_ERR_NO_MEM;
    const tl_geometry *g = &pl->geom;
    double half = 0.5 * (g->lines - 1);
    for (uint32_t gi = 0; gi < ng; gi++) {
        uint32_t lo = UINT32_MAX, base;
        uint32_t li[8];
        int w6[8]; /* 6-bit weights 0..64: both of a pair must fit int8 */
        for (int j = 0; j < 8; j++) {
            uint32_t c = pl->c0 + gi * 8 + (uint32_t)j;
            double lf = (pl->ox + (double)c * pl->spacing) / g->pitch_mm + half, ls, ks;
            to_storage(pl, lf, 0.0, &ls, &ks);
            if (ls < 0.0)
                ls = 0.0;
            if (ls > pl->L - 1)
                ls = pl->L - 1;
            li[j] = (uint32_t)ls;
            w6[j] = (int)lround((ls - li[j]) * 64.0);
            if (w6[j] >= 64 && li[j] + 1 < pl->L) {
                li[j]++;
                w6[j] = 0;
            }
            if (li[j] > pl->L - 2) {
                li[j] = pl->L - 2;
                w6[j] = 64;
            }
            if (li[j] < lo)
                lo = li[j];
        }
        base = lo;
        for (int j = 0; j < 8; j++) {
            if (li[j] + 1 - base > 15)
                return TL_OK; /* window too narrow: stay scalar */
            pl->grp_ctrl[16 * gi + 2 * j] = (uint8_t)(li[j] - base);
            pl->grp_ctrl[16 * gi + 2 * j + 1] = (uint8_t)(li[j] + 1 - base);
            pl->grp_wt[16 * gi + 2 * j] = (int8_t)(64 - w6[j]);
            pl->grp_wt[16 * gi + 2 * j + 1] = (int8_t)w6[j];
        }
        pl->grp_base[gi] = base;
    }
    pl->n_groups = ng;
    pl->use_simd = ng > 0;
#endif
    return TL_OK;
}

static tl_status build_separable(tl_imaging_plan *pl)
{
    uint32_t W = pl->W, H = pl->H;
    pl->row_k = malloc(sizeof(uint32_t) * H);
    pl->row_w = malloc(sizeof(uint16_t) * H);
    pl->col_l = malloc(sizeof(uint32_t) * W);
    pl->col_w = malloc(sizeof(uint16_t) * W);
    if (!pl->row_k || !pl->row_w || !pl->col_l || !pl->col_w)
        return TL_ERR_NO_MEM;
    pl->r0 = H;
    pl->r1 = 0;
    pl->c0 = W;
    pl->c1 = 0;
    /* Linear: the line depends on x only and the sample on z only, so the
     * valid area is a rectangle; probe it along row/column through it. */
    const tl_geometry *g = &pl->geom;
    double half = 0.5 * (g->lines - 1), dz = tl_geometry_dz_mm(g);
    for (uint32_t c = 0; c < W; c++) {
        double lf = (pl->ox + (double)c * pl->spacing) / g->pitch_mm + half;
        if (lf < -1e-6 || lf > g->lines - 1 + 1e-6)
            continue;
        if (c < pl->c0)
            pl->c0 = c;
        pl->c1 = c + 1;
        double ls, ks;
        to_storage(pl, lf, 0.0, &ls, &ks);
        split(ls, pl->L, &pl->col_l[c], &pl->col_w[c]);
    }
    for (uint32_t r = 0; r < H; r++) {
        double sf = (pl->oz + (double)r * pl->spacing - g->depth_start_mm) / dz;
        if (sf < -1e-6 || sf > g->samples - 1 + 1e-6)
            continue;
        if (r < pl->r0)
            pl->r0 = r;
        pl->r1 = r + 1;
        double ls, ks;
        to_storage(pl, 0.0, sf, &ls, &ks);
        split(ks, pl->M, &pl->row_k[r], &pl->row_w[r]);
    }
    if (pl->r0 >= pl->r1 || pl->c0 >= pl->c1)
        return TL_ERR_INVALID_ARG;
    for (uint32_t r = pl->r0; r < pl->r1; r++)
        memset(pl->valid + (size_t)r * W + pl->c0, 255, pl->c1 - pl->c0);
    return build_groups(pl);
}

static tl_status build_general(tl_imaging_plan *pl)
{
    uint32_t W = pl->W, H = pl->H;
    pl->hull_c0 = calloc(H, sizeof(uint32_t));
    pl->hull_c1 = calloc(H, sizeof(uint32_t));
    if (!pl->hull_c0 || !pl->hull_c1)
        return TL_ERR_NO_MEM;
    double *lsv = malloc(sizeof(double) * W), *ksv = malloc(sizeof(double) * W);
    if (!lsv || !ksv) {
        free(lsv);
        free(ksv);
        return TL_ERR_NO_MEM;
    }
    size_t cap = 0;
    tl_status st = TL_OK;
    const uint32_t zero_off = pl->M * pl->L;
    for (uint32_t r = 0; r < H && st == TL_OK; r++) {
        uint32_t c0 = W, c1 = 0;
        for (uint32_t c = 0; c < W; c++) {
            double lf, sf;
            if (!pixel_to_line_sample(pl, c, r, &lf, &sf)) {
                lsv[c] = -1.0;
                continue;
            }
            to_storage(pl, lf, sf, &lsv[c], &ksv[c]);
            pl->valid[(size_t)r * W + c] = 255;
            if (c < c0)
                c0 = c;
            c1 = c + 1;
        }
        if (c0 >= c1)
            c0 = c1 = 0;
        pl->hull_c0[r] = c0;
        pl->hull_c1[r] = c1;
        if (pl->n_entries + (c1 - c0) > cap) {
            size_t ncap = cap ? cap * 2 : (size_t)W * 64;
            while (ncap < pl->n_entries + (c1 - c0))
                ncap *= 2;
            tl_sc_entry *e = realloc(pl->entries, ncap * sizeof *e);
            if (!e) {
                st = TL_ERR_NO_MEM;
                break;
            }
            pl->entries = e;
            cap = ncap;
        }
        for (uint32_t c = c0; c < c1; c++) {
            tl_sc_entry *e = &pl->entries[pl->n_entries++];
            if (lsv[c] < 0.0) { /* a hole inside the hull reads the zero block */
                e->off = zero_off;
                e->wl = e->wk = 0;
                continue;
            }
            uint32_t l, k;
            split(lsv[c], pl->L, &l, &e->wl);
            split(ksv[c], pl->M, &k, &e->wk);
            e->off = k * pl->L + l;
        }
    }
    free(lsv);
    free(ksv);
    if (st != TL_OK)
        return st;
    pl->e_off = malloc(sizeof(uint32_t) * (pl->n_entries + 1));
    pl->e_w = malloc(sizeof(uint32_t) * (pl->n_entries + 1));
    if (!pl->e_off || !pl->e_w)
        return TL_ERR_NO_MEM;
    for (size_t i = 0; i < pl->n_entries; i++) {
        pl->e_off[i] = pl->entries[i].off;
        pl->e_w[i] = pl->entries[i].wl | (uint32_t)pl->entries[i].wk << 16;
    }
    free(pl->entries);
    pl->entries = NULL;
#ifdef TL_HAVE_X86
    pl->use_avx2 = __builtin_cpu_supports("avx2");
#endif
    return TL_OK;
}

tl_status tl_imaging_scanconv_build(tl_imaging_plan *pl)
{
    /* The log image plus a zero block of L + 8 bytes: a 2 x 2 neighbourhood
     * starting at zero_off, read as two 4-byte words by the AVX2 gather. */
    pl->logimg_bytes = (size_t)pl->M * pl->L + pl->L + 8;
    pl->logimg = calloc(pl->logimg_bytes, 1);
    pl->valid = calloc((size_t)pl->W * pl->H, 1);
    if (!pl->logimg || !pl->valid)
        return TL_ERR_NO_MEM;
    /* a steered linear frame is not separable (the line depends on x and z) */
    pl->separable = (pl->geom.kind == TL_PROBE_LINEAR || !(pl->geom.radius_mm > 0.0f)) &&
                    pl->geom.steer_deg == 0.0f;
    return pl->separable ? build_separable(pl) : build_general(pl);
}

void tl_imaging_scanconv_free(tl_imaging_plan *pl)
{
    free(pl->logimg);
    free(pl->valid);
    free(pl->row_k);
    free(pl->row_w);
    free(pl->col_l);
    free(pl->col_w);
    free(pl->grp_base);
    free(pl->grp_ctrl);
    free(pl->grp_wt);
    free(pl->trow);
    free(pl->hull_c0);
    free(pl->hull_c1);
    free(pl->entries);
    free(pl->e_off);
    free(pl->e_w);
}

#ifdef TL_HAVE_X86
/* One display row: 8 columns per step from a 16-byte window of the row t. */
__attribute__((target("ssse3"))) static uint32_t lateral_ssse3(const tl_imaging_plan *pl,
                                                               const uint8_t *t, uint8_t *o)
{
    const __m128i round = _mm_set1_epi16(32);
    uint8_t *dst = o + pl->c0;
    for (uint32_t g = 0; g < pl->n_groups; g++) {
        __m128i win = _mm_loadu_si128((const __m128i *)(t + pl->grp_base[g]));
        __m128i ctrl = _mm_loadu_si128((const __m128i *)(pl->grp_ctrl + 16 * g));
        __m128i wt = _mm_loadu_si128((const __m128i *)(pl->grp_wt + 16 * g));
        __m128i pairs = _mm_shuffle_epi8(win, ctrl);
        __m128i v = _mm_maddubs_epi16(pairs, wt); /* a*(64-w) + b*w <= 16320 */
        v = _mm_srli_epi16(_mm_add_epi16(v, round), 6);
        _mm_storel_epi64((__m128i *)(dst + 8 * g), _mm_packus_epi16(v, v));
    }
    return pl->c0 + 8 * pl->n_groups;
}
#endif

/* Linear arrays: per display row, interpolate along depth on the short row
 * of L lines (8-bit, vectorised by GCC), then across lines for every display
 * column: 8 columns per byte shuffle when the CPU has SSSE3, else scalar. */
static void run_separable(const tl_imaging_plan *pl, uint8_t *out, uint32_t stride)
{
    const uint32_t W = pl->W, L = pl->L;
    uint8_t *t = pl->trow;
    for (uint32_t r = 0; r < pl->H; r++) {
        uint8_t *o = out + (size_t)r * stride;
        if (r < pl->r0 || r >= pl->r1) {
            memset(o, 0, W);
            continue;
        }
        const uint8_t *a = pl->logimg + (size_t)pl->row_k[r] * L;
        const uint8_t *b = a + L;
        const uint32_t w = pl->row_w[r], wa = 256 - w;
        for (uint32_t l = 0; l < L; l++)
            t[l] = (uint8_t)((a[l] * wa + b[l] * w + 128u) >> 8);
        memset(o, 0, pl->c0);
        uint32_t c = pl->c0;
#ifdef TL_HAVE_X86
        if (pl->use_simd)
            c = lateral_ssse3(pl, t, o);
#endif
        for (; c < pl->c1; c++) {
            uint32_t l = pl->col_l[c], wc = pl->col_w[c];
            o[c] = (uint8_t)((t[l] * (256 - wc) + t[l + 1] * wc + 128u) >> 8);
        }
        memset(o + pl->c1, 0, W - pl->c1);
    }
}

/* Bilinear from the 2 x 2 neighbourhood p (p[0], p[1] next line, p[L],
 * p[L+1] next sample), rounding to 8 bits after each direction exactly as
 * the AVX2 kernel does, so both paths give the same image. */
static inline uint8_t bilinear(const uint8_t *p, uint32_t L, uint32_t wl, uint32_t wk)
{
    uint32_t top = (p[0] * (256 - wl) + p[1] * wl + 128u) >> 8;
    uint32_t bot = (p[L] * (256 - wl) + p[L + 1] * wl + 128u) >> 8;
    return (uint8_t)((top * (256 - wk) + bot * wk + 128u) >> 8);
}

#ifdef TL_HAVE_X86
/* n pixels, 8 per step: two 32-bit gathers fetch (p00, p01) and (p10, p11),
 * byte shuffles widen them to 16-bit pairs, pmaddwd applies the weights.
 * Returns how many pixels it did (a multiple of 8). */
__attribute__((target("avx2"))) static uint32_t general_avx2(const uint8_t *img, uint32_t L,
                                                             const uint32_t *off,
                                                             const uint32_t *w, uint8_t *o,
                                                             uint32_t n)
{
    const __m256i pairs = _mm256_setr_epi8(0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12, -1, 13,
                                           -1, 0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12, -1,
                                           13, -1);
    const __m256i lo16 = _mm256_set1_epi32(0xffff), c256 = _mm256_set1_epi32(256);
    const __m256i r128 = _mm256_set1_epi32(128);
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i vo = _mm256_loadu_si256((const __m256i *)(off + i));
        __m256i t = _mm256_i32gather_epi32((const int *)img, vo, 1);
        __m256i b = _mm256_i32gather_epi32((const int *)(img + L), vo, 1);
        __m256i vw = _mm256_loadu_si256((const __m256i *)(w + i));
        __m256i wl = _mm256_and_si256(vw, lo16), wk = _mm256_srli_epi32(vw, 16);
        __m256i wlp = _mm256_or_si256(_mm256_sub_epi32(c256, wl), _mm256_slli_epi32(wl, 16));
        __m256i wkp = _mm256_or_si256(_mm256_sub_epi32(c256, wk), _mm256_slli_epi32(wk, 16));
        __m256i top = _mm256_madd_epi16(_mm256_shuffle_epi8(t, pairs), wlp);
        __m256i bot = _mm256_madd_epi16(_mm256_shuffle_epi8(b, pairs), wlp);
        top = _mm256_srli_epi32(_mm256_add_epi32(top, r128), 8);
        bot = _mm256_srli_epi32(_mm256_add_epi32(bot, r128), 8);
        __m256i tb = _mm256_or_si256(top, _mm256_slli_epi32(bot, 16));
        __m256i v = _mm256_srli_epi32(_mm256_add_epi32(_mm256_madd_epi16(tb, wkp), r128), 8);
        v = _mm256_packus_epi32(v, v);
        v = _mm256_packus_epi16(v, v);
        uint32_t lo = (uint32_t)_mm_cvtsi128_si32(_mm256_castsi256_si128(v));
        uint32_t hi = (uint32_t)_mm_cvtsi128_si32(_mm256_extracti128_si256(v, 1));
        memcpy(o + i, &lo, 4);
        memcpy(o + i + 4, &hi, 4);
    }
    return i;
}
#endif

static void run_general(const tl_imaging_plan *pl, uint8_t *out, uint32_t stride)
{
    const uint32_t W = pl->W, L = pl->L;
    const uint8_t *img = pl->logimg;
    size_t e = 0;
    for (uint32_t r = 0; r < pl->H; r++) {
        uint8_t *o = out + (size_t)r * stride;
        uint32_t c0 = pl->hull_c0[r], c1 = pl->hull_c1[r], c = c0;
        memset(o, 0, c0);
#ifdef TL_HAVE_X86
        if (pl->use_avx2) {
            uint32_t done = general_avx2(img, L, pl->e_off + e, pl->e_w + e, o + c0, c1 - c0);
            c += done;
            e += done;
        }
#endif
        for (; c < c1; c++, e++)
            o[c] = bilinear(img + pl->e_off[e], L, pl->e_w[e] & 0xffffu, pl->e_w[e] >> 16);
        memset(o + c1, 0, W - c1);
    }
}

void tl_imaging_scanconv_run(const tl_imaging_plan *pl, uint8_t *out, uint32_t stride)
{
    if (pl->separable)
        run_separable(pl, out, stride);
    else
        run_general(pl, out, stride);
}
