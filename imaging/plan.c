/* tl_imaging plans: everything that depends only on the geometry and the
 * parameters is done here once (FFTW plans, log/TGC tables, the display
 * raster and its scan-conversion tables), so tl_imaging_execute() only
 * streams a frame through precomputed work. */
#include "imaging_internal.h"
#include "tl_cv.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* FFTW's planner and wisdom are process-wide and not thread-safe; the
 * station may build plans from several threads (imaging, calibration). */
static pthread_mutex_t fftw_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fftw_once = PTHREAD_ONCE_INIT;

static void fftw_init_once(void)
{
    /* Also protects planner calls made by other code in the process. */
    fftwf_make_planner_thread_safe();
}

void tl_imaging_fftw_lock(void)
{
    pthread_once(&fftw_once, fftw_init_once);
    pthread_mutex_lock(&fftw_mutex);
}

void tl_imaging_fftw_unlock(void)
{
    pthread_mutex_unlock(&fftw_mutex);
}

tl_status tl_bmode_alloc(tl_bmode *img, uint32_t width, uint32_t height)
{
    if (!img || width == 0 || height == 0 || width > 16384 || height > 16384)
        return TL_ERR_INVALID_ARG;
    memset(img, 0, sizeof *img);
    size_t n = (size_t)width * height;
    img->pixels = calloc(n, 1);
    img->valid = calloc(n, 1);
    if (!img->pixels || !img->valid) {
        tl_bmode_free(img);
        return TL_ERR_NO_MEM;
    }
    img->width = width;
    img->height = height;
    img->stride = width;
    return TL_OK;
}

void tl_bmode_free(tl_bmode *img)
{
    if (!img)
        return;
    free(img->pixels);
    free(img->valid);
    img->pixels = NULL;
    img->valid = NULL;
    img->width = img->height = img->stride = 0;
}

int tl_orientation_from_name(const char *name)
{
    if (!name)
        return -1;
    size_t n = strlen(name);
    /* A third letter (PLUS "MFA": the slice axis) does not matter here. */
    if (n != 2 && !(n == 3 && (name[2] == 'A' || name[2] == 'D')))
        return -1;
    char a = name[0], b = name[1];
    /* PLUS names B-mode images lateral-first ("MF") and RF frames, whose
     * first axis is the sample axis, sample-first ("FM", "NM"). */
    if ((a == 'F' || a == 'N') && (b == 'M' || b == 'U')) {
        char t = a;
        a = b;
        b = t;
    }
    if ((a != 'M' && a != 'U') || (b != 'F' && b != 'N'))
        return -1;
    return (a == 'U' ? 2 : 0) + (b == 'N' ? 1 : 0);
}

tl_imaging_params tl_imaging_params_default(void)
{
    tl_imaging_params p = {
        .dynamic_range_db = 60.0f,
        .gain_db = 0.0f,
        .speckle_reduction = false,
        .out_width = 800,
        .out_height = 600,
        .orientation = TL_ORIENT_MF,
        .envelope_samples = 0,
        .fft_effort = 1,
        .wisdom_path = NULL,
        .demodulator = TL_DEMOD_AUTO,
        .reference_level = 0.0f,
    };
    return p;
}

tl_status tl_imaging_default_wisdom_path(char *buf, size_t size)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    char dir[1024];
    if (xdg && xdg[0])
        snprintf(dir, sizeof dir, "%s/talus", xdg);
    else if (home && home[0])
        snprintf(dir, sizeof dir, "%s/.cache/talus", home);
    else
        return TL_ERR_NOT_FOUND;
    if (xdg && xdg[0]) {
        mkdir(xdg, 0755);
    } else {
        char cache[1024];
        snprintf(cache, sizeof cache, "%s/.cache", home);
        mkdir(cache, 0755);
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return tl_status_from_errno(errno);
    int n = snprintf(buf, size, "%s/fftw3f.wisdom", dir);
    return n > 0 && (size_t)n < size ? TL_OK : TL_ERR_INVALID_ARG;
}

/* Smallest n' >= n whose only prime factors are 2, 3, 5, 7 (fast for FFTW). */
static uint32_t fft_friendly(uint32_t n)
{
    for (uint32_t m = n < 1 ? 1 : n;; m++) {
        uint32_t r = m;
        static const uint32_t primes[] = { 2, 3, 5, 7 };
        for (int i = 0; i < 4; i++)
            while (r % primes[i] == 0)
                r /= primes[i];
        if (r == 1)
            return m;
    }
}

/* The display raster: an isotropic grid holding the scanned area's bounding
 * box, centred laterally, near field at row 0. */
static tl_status choose_raster(tl_imaging_plan *pl)
{
    /* A steered linear frame goes onto the raster of the same frame
     * unsteered, so steered and straight frames share one pixel grid (the
     * area no steered line reaches stays black). */
    tl_geometry straight = pl->geom;
    straight.steer_deg = 0.0f;
    const tl_geometry *g = &straight;
    float xmin = INFINITY, xmax = -INFINITY, zmin = INFINITY, zmax = -INFINITY;
    const float lines[3] = { 0.0f, 0.5f * (float)(g->lines - 1), (float)(g->lines - 1) };
    const float samples[2] = { 0.0f, (float)(g->samples - 1) };
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) {
            float x, z;
            tl_geometry_sample_xz(g, lines[i], samples[j], &x, &z);
            xmin = fminf(xmin, x);
            xmax = fmaxf(xmax, x);
            zmin = fminf(zmin, z);
            zmax = fmaxf(zmax, z);
        }
    double wmm = xmax - xmin, hmm = zmax - zmin;
    uint32_t W = pl->p.out_width, H = pl->p.out_height;
    if ((W == 0 && H == 0) || W > 8192 || H > 8192 || (W == 1) || (H == 1))
        return TL_ERR_INVALID_ARG;
    double s;
    if (W == 0) {
        s = hmm / (H - 1);
        W = (uint32_t)floor(wmm / s + 1e-6) + 1; /* every column inside the area */
    } else if (H == 0) {
        s = wmm / (W - 1);
        H = (uint32_t)floor(hmm / s + 1e-6) + 1;
    } else {
        s = fmax(wmm / (W - 1), hmm / (H - 1));
    }
    if (!(s > 0.0) || W > 8192 || H > 8192)
        return TL_ERR_INVALID_ARG;
    pl->W = W;
    pl->H = H;
    pl->spacing = (float)s;
    pl->ox = (float)(0.5 * (xmin + xmax) - 0.5 * (W - 1) * s);
    pl->oz = zmin;
    return TL_OK;
}

/* Envelope samples per line for RF_REAL and which spectrum bins feed them. */
static void choose_demodulation(tl_imaging_plan *pl)
{
    const tl_geometry *g = &pl->geom;
    uint32_t N = pl->N;
    uint32_t M = pl->p.envelope_samples;
    if (M == 0) {
        /* Two envelope samples per display pixel along a line (one already
         * keeps the echo band, but the bilinear display then drifts from
         * the exact envelope: mean 3.8 grey levels on speckle at 128 x 2048
         * against 1.7 with two, 0.6 at full rate), and at least a band of
         * f0 Hz around f0 (100 % fractional bandwidth). Never more than
         * N/2: that is the complete positive half of the spectrum. */
        double range_mm = (N - 1) * (double)tl_geometry_dz_mm(g);
        uint32_t need_disp = (uint32_t)ceil(2.0 * range_mm / pl->spacing) + 1;
        uint32_t need_band = (uint32_t)ceil((double)N * g->f0_hz / g->fs_hz);
        M = need_disp > need_band ? need_disp : need_band;
        M = fft_friendly(M < 16 ? 16 : M);
        if (M > N / 2 && N / 2 >= 16)
            M = N / 2;
    }
    if (M > 8 * N) /* beyond N: band-limited interpolation (zero-padded spectrum) */
        M = 8 * N;
    if (M < 16)
        M = 16;
    pl->M = M;
    pl->step = (double)N / M;
    if (M >= N / 2) {
        /* The whole positive half fits: the exact analytic signal. */
        pl->k_lo = 0;
        pl->k_n = N / 2;
    } else {
        long kc = lround((double)g->f0_hz * N / g->fs_hz);
        long lo = kc - (long)M / 2;
        long hi = (long)N / 2 - (long)M;
        if (lo > hi)
            lo = hi;
        if (lo < 0)
            lo = 0;
        pl->k_lo = (uint32_t)lo;
        pl->k_n = M;
    }
}

/* The per-line buffers and the log image grow with M x L: refuse what
 * would not fit comfortably (a plan is set up once; failing clearly beats
 * paging). */
static tl_status check_sizes(const tl_imaging_plan *pl)
{
    if ((uint64_t)pl->M * pl->L > (1u << 28) || (uint64_t)pl->W * pl->H > (1u << 26))
        return TL_ERR_UNSUPPORTED;
    return TL_OK;
}

static tl_status plan_pair(tl_imaging_plan *pl, uint32_t howmany, unsigned flags,
                           fftwf_plan *fwd, fftwf_plan *inv)
{
    int n = (int)pl->N, m = (int)pl->M, nb = (int)pl->nbins, h = (int)howmany;
    *fwd = fftwf_plan_many_dft_r2c(1, &n, h, pl->rf, NULL, 1, n, pl->spec, NULL, 1, nb, flags);
    /* When the kept bins are contiguous in the spectrum, the inverse reads
     * them there (no copy); otherwise they are copied and zero-padded. */
    if (pl->inv_direct)
        *inv = fftwf_plan_many_dft(1, &m, h, pl->spec + pl->k_lo, NULL, 1, nb, pl->bb, NULL, 1,
                                   m, FFTW_BACKWARD, flags);
    else
        *inv = fftwf_plan_many_dft(1, &m, h, pl->bb, NULL, 1, m, pl->bb, NULL, 1, m,
                                   FFTW_BACKWARD, flags);
    return *fwd && *inv ? TL_OK : TL_ERR_NO_MEM;
}

static tl_status build_fft(tl_imaging_plan *pl)
{
    uint32_t N = pl->N, M = pl->M;
    pl->nbins = N / 2 + 1;
    /* ~128 KB of RF per block; a power of two <= 16 so blocks tile the
     * 16-line groups of the transposed log-image write. */
    pl->blk = 16;
    while (pl->blk > 1 && (size_t)pl->blk * N > 32768)
        pl->blk /= 2;
    pl->tail = pl->L % pl->blk;
    pl->rf = fftwf_malloc(sizeof(float) * pl->blk * N);
    pl->spec = fftwf_malloc(sizeof(fftwf_complex) * pl->blk * pl->nbins);
    pl->bb = fftwf_malloc(sizeof(fftwf_complex) * pl->blk * M);
    if (!pl->rf || !pl->spec || !pl->bb)
        return TL_ERR_NO_MEM;
    unsigned flags = pl->p.fft_effort <= 0 ? FFTW_ESTIMATE
                   : pl->p.fft_effort == 1 ? FFTW_MEASURE : FFTW_PATIENT;
    pl->inv_direct = pl->k_n == M && pl->k_lo + M <= pl->nbins;
    tl_imaging_fftw_lock();
    if (pl->p.wisdom_path && flags != FFTW_ESTIMATE)
        fftwf_import_wisdom_from_filename(pl->p.wisdom_path); /* missing = fine */
    tl_status st = plan_pair(pl, pl->blk, flags, &pl->fwd, &pl->inv);
    if (st == TL_OK && pl->tail)
        st = plan_pair(pl, pl->tail, flags, &pl->fwd_tail, &pl->inv_tail);
    if (st == TL_OK && pl->p.wisdom_path && flags != FFTW_ESTIMATE)
        fftwf_export_wisdom_to_filename(pl->p.wisdom_path); /* a cache: failure is harmless */
    tl_imaging_fftw_unlock();
    return st;
}

/* log_b[k]: gain, TGC and reference level of envelope sample k (storage
 * order, so orientation N puts the deep samples first). */
static tl_status build_log_tables(tl_imaging_plan *pl)
{
    const tl_imaging_params *p = &pl->p;
    pl->log_b = malloc(sizeof(float) * pl->M);
    if (!pl->log_b)
        return TL_ERR_NO_MEM;
    double k255 = 255.0 / p->dynamic_range_db;
    pl->log_a = (float)(k255 * 10.0 * log10(2.0));
    double ref = p->reference_level > 0.0f ? p->reference_level
               : pl->type == TL_IMAGE_ENVELOPE ? 65535.0 : 32767.0;
    /* |bb| of the FFT-demodulated RF is N/2 times the analytic amplitude,
     * the unit-gain FIR's output half of it. */
    double scale = pl->type != TL_IMAGE_RF_REAL ? 1.0 : pl->use_fir ? 2.0 : 2.0 / pl->N;
    bool far_first = p->orientation == TL_ORIENT_MN || p->orientation == TL_ORIENT_UN;
    for (uint32_t k = 0; k < pl->M; k++) {
        double s = k * pl->step;
        if (far_first)
            s = (pl->N - 1) - s;
        double u = s / (pl->N - 1) * (TL_TGC_POINTS - 1);
        if (u < 0.0)
            u = 0.0;
        int i = (int)u;
        if (i >= TL_TGC_POINTS - 1)
            i = TL_TGC_POINTS - 2;
        double f = u - i;
        double tgc = p->tgc_db[i] * (1.0 - f) + p->tgc_db[i + 1] * f;
        pl->log_b[k] = (float)(k255 * (20.0 * log10(scale / ref) + p->gain_db + tgc +
                                       p->dynamic_range_db));
    }
    return TL_OK;
}

tl_status tl_imaging_plan_create(const tl_geometry *geom, tl_image_type type,
                                 const tl_imaging_params *params, tl_imaging_plan **out)
{
    if (!geom || !out)
        return TL_ERR_INVALID_ARG;
    *out = NULL;
    tl_status st = tl_geometry_validate(geom);
    if (st != TL_OK)
        return st;
    if ((unsigned)type > TL_IMAGE_BRIGHTNESS)
        return TL_ERR_INVALID_ARG;
    if (geom->lines < 2)
        return TL_ERR_UNSUPPORTED;
    tl_imaging_params p = params ? *params : tl_imaging_params_default();
    if (!(p.dynamic_range_db >= 1.0f && p.dynamic_range_db <= 200.0f) ||
        !(fabsf(p.gain_db) <= 200.0f) || (unsigned)p.orientation > TL_ORIENT_UN ||
        !(p.reference_level >= 0.0f))
        return TL_ERR_INVALID_ARG;
    for (int i = 0; i < TL_TGC_POINTS; i++)
        if (!(fabsf(p.tgc_db[i]) <= 200.0f))
            return TL_ERR_INVALID_ARG;

    tl_imaging_plan *pl = calloc(1, sizeof *pl);
    if (!pl)
        return TL_ERR_NO_MEM;
    pl->geom = *geom;
    pl->type = type;
    pl->p = p;
    pl->p.wisdom_path = NULL; /* not owned; only used while planning */
    pl->L = geom->lines;
    pl->N = geom->samples;

    st = choose_raster(pl);
    if (st == TL_OK) {
        if (type == TL_IMAGE_RF_REAL)
            choose_demodulation(pl);
        /* AUTO: at M >= N/2 the FFT path is the exact analytic signal;
         * below, both paths band-limit and the FIR is faster (measured in
         * bench/README.md, quality in docs/accuracy.md). */
        pl->use_fir = type == TL_IMAGE_RF_REAL &&
                      (p.demodulator == TL_DEMOD_FIR ||
                       (p.demodulator == TL_DEMOD_AUTO && pl->M < pl->N / 2));
        if (pl->use_fir) {
            st = tl_imaging_fir_build(pl);
            if (st == TL_OK)
                st = check_sizes(pl);
        } else if (type == TL_IMAGE_RF_REAL) {
            st = check_sizes(pl);
            pl->p.wisdom_path = p.wisdom_path;
            if (st == TL_OK)
                st = build_fft(pl);
            pl->p.wisdom_path = NULL;
        } else {
            pl->M = pl->N;
            pl->step = 1.0;
            st = check_sizes(pl);
        }
    }
    if (st == TL_OK) {
        pl->pw = malloc(sizeof(float) * 16 * pl->M);
        pl->ctmp = malloc((size_t)16 * pl->M);
        if (!pl->pw || !pl->ctmp)
            st = TL_ERR_NO_MEM;
    }
    if (st == TL_OK)
        st = build_log_tables(pl);
    if (st == TL_OK && pl->use_fir)
        st = tl_imaging_fir_tables(pl);
    if (st == TL_OK)
        st = tl_imaging_scanconv_build(pl);
    if (st == TL_OK && p.speckle_reduction) {
        pl->speckle_tmp = malloc((size_t)pl->W * pl->H);
        if (!pl->speckle_tmp)
            st = TL_ERR_NO_MEM;
    }
    if (st != TL_OK) {
        tl_imaging_plan_destroy(pl);
        return st;
    }
    *out = pl;
    return TL_OK;
}

void tl_imaging_plan_destroy(tl_imaging_plan *pl)
{
    if (!pl)
        return;
    fftwf_plan plans[4] = { pl->fwd, pl->inv, pl->fwd_tail, pl->inv_tail };
    tl_imaging_fftw_lock();
    for (int i = 0; i < 4; i++)
        if (plans[i])
            fftwf_destroy_plan(plans[i]);
    tl_imaging_fftw_unlock();
    fftwf_free(pl->rf);
    fftwf_free(pl->spec);
    fftwf_free(pl->bb);
    fftwf_free(pl->fir_x);
    fftwf_free(pl->fir_p);
    free(pl->fir_b8);
    free(pl->fir_px);
    free(pl->log_b);
    free(pl->pw);
    free(pl->ctmp);
    tl_imaging_scanconv_free(pl);
    free(pl->speckle_tmp);
    free(pl);
}

tl_status tl_imaging_plan_output(const tl_imaging_plan *pl, uint32_t *width, uint32_t *height,
                                 float *spacing_mm, float *origin_x_mm, float *origin_z_mm)
{
    if (!pl)
        return TL_ERR_INVALID_ARG;
    if (width)
        *width = pl->W;
    if (height)
        *height = pl->H;
    if (spacing_mm)
        *spacing_mm = pl->spacing;
    if (origin_x_mm)
        *origin_x_mm = pl->ox;
    if (origin_z_mm)
        *origin_z_mm = pl->oz;
    return TL_OK;
}

tl_status tl_imaging_bmode_alloc(const tl_imaging_plan *pl, tl_bmode *img)
{
    if (!pl || !img)
        return TL_ERR_INVALID_ARG;
    tl_status st = tl_bmode_alloc(img, pl->W, pl->H);
    if (st != TL_OK)
        return st;
    img->spacing_mm = pl->spacing;
    img->origin_x_mm = pl->ox;
    img->origin_z_mm = pl->oz;
    return TL_OK;
}

uint32_t tl_imaging_plan_envelope_samples(const tl_imaging_plan *pl)
{
    return pl ? pl->M : 0;
}

bool tl_imaging_plan_uses_fir(const tl_imaging_plan *pl)
{
    return pl && pl->use_fir;
}

static bool same_geometry(const tl_geometry *a, const tl_geometry *b)
{
    return a->kind == b->kind && a->lines == b->lines && a->samples == b->samples &&
           a->pitch_mm == b->pitch_mm && a->radius_mm == b->radius_mm &&
           a->fs_hz == b->fs_hz && a->c_m_s == b->c_m_s &&
           a->depth_start_mm == b->depth_start_mm && a->steer_deg == b->steer_deg;
}

tl_status tl_imaging_execute(tl_imaging_plan *pl, const tl_frame *in, tl_bmode *out,
                             tl_imaging_timing *timing)
{
    if (!pl || !in || !out || !out->pixels)
        return TL_ERR_INVALID_ARG;
    if (in->type != pl->type || !same_geometry(&in->geom, &pl->geom))
        return TL_ERR_INVALID_ARG;
    if (out->width != pl->W || out->height != pl->H || out->stride < out->width)
        return TL_ERR_INVALID_ARG;
    uint64_t t0 = tl_now_ns();
    double env_ms = 0.0, comp_ms = 0.0;
    tl_status st = tl_imaging_envelope_compress(pl, in, &env_ms, &comp_ms);
    if (st != TL_OK)
        return st;
    uint64_t t1 = tl_now_ns();
    tl_imaging_scanconv_run(pl, out->pixels, out->stride);
    if (pl->speckle_tmp) {
        tl_cv_image src = { pl->speckle_tmp, pl->W, pl->H, pl->W, TL_CV_U8 };
        tl_cv_image dst = { out->pixels, pl->W, pl->H, out->stride, TL_CV_U8 };
        for (uint32_t r = 0; r < pl->H; r++)
            memcpy(pl->speckle_tmp + (size_t)r * pl->W, out->pixels + (size_t)r * out->stride,
                   pl->W);
        st = tl_cv_speckle_reduce(&src, &dst);
        if (st != TL_OK)
            return st;
    }
    if (out->valid)
        memcpy(out->valid, pl->valid, (size_t)pl->W * pl->H);
    uint64_t t2 = tl_now_ns();
    out->spacing_mm = pl->spacing;
    out->origin_x_mm = pl->ox;
    out->origin_z_mm = pl->oz;
    out->seq = in->seq;
    out->t_device_us = in->t_device_us;
    out->t_received_ns = in->t_received_ns;
    out->t_processed_ns = t2;
    if (timing) {
        timing->envelope_ms = env_ms;
        timing->compress_ms = comp_ms;
        timing->scan_convert_ms = (double)(t2 - t1) * 1e-6;
        timing->total_ms = (double)(t2 - t0) * 1e-6;
    }
    return TL_OK;
}
