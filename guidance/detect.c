/* Needle detection, stage 1: find candidate lines.
 *
 * The image is decimated to ~0.2 mm pixels (averaging also tames speckle),
 * a local-mean residual marks pixels brighter than their neighbourhood (the
 * threshold is a multiple of the residual's own robust spread, so gain and
 * dynamic range do not matter), and each such pixel votes in a Hough space
 * restricted to needle angles -- but only for angles close to its own
 * structure-tensor orientation. That last rule is what keeps long horizontal
 * fascia, tendon fibres and cortex out: their pixels point horizontally and
 * never vote for the oblique line that merely crosses them. The best few
 * peaks are then traced at full resolution (refine.c) and the most
 * convincing one wins. */
#include "guidance_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void *scratch_get(scratch *s, size_t bytes)
{
    if (bytes > s->cap) {
        void *np = realloc(s->p, bytes);
        if (!np)
            return NULL;
        s->p = np;
        s->cap = bytes;
    }
    return s->p;
}

tl_needle_params tl_needle_params_default(void)
{
    tl_needle_params p = {
        .min_angle_deg = 10.0f,
        .max_angle_deg = 72.0f,
        .min_length_mm = 4.0f,
        .gauge = 0.0f,
        .min_confidence = 0.5f,
        .side = 0,
    };
    return p;
}

tl_status tl_needle_detector_create(const tl_needle_params *params,
                                    tl_needle_detector **out)
{
    if (!out)
        return TL_ERR_INVALID_ARG;
    *out = NULL;
    tl_needle_params p = params ? *params : tl_needle_params_default();
    if (!(p.min_angle_deg >= 0.0f) || !(p.max_angle_deg <= 80.0f) ||
        !(p.min_angle_deg < p.max_angle_deg) || !(p.min_length_mm > 0.0f) ||
        !(p.min_confidence >= 0.0f && p.min_confidence <= 1.0f) ||
        (p.gauge != 0.0f && !(p.gauge >= 14.0f && p.gauge <= 34.0f)) ||
        p.side < -1 || p.side > 1)
        return TL_ERR_INVALID_ARG;
    tl_needle_detector *d = calloc(1, sizeof *d);
    if (!d)
        return TL_ERR_NO_MEM;
    d->p = p;
    *out = d;
    return TL_OK;
}

void tl_needle_detector_destroy(tl_needle_detector *d)
{
    if (!d)
        return;
    scratch *all[] = { &d->work, &d->wvalid, &d->resid, &d->acc, &d->cand, &d->prof,
                       &d->bg, &d->diff };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]->p);
    free(d);
}

/* Median and robust spread of the scanned area from a histogram of every
 * second pixel of every second row. */
static void full_stats(const tl_bmode *img, image_stats *st)
{
    /* four histograms in turn, so equal neighbours do not wait on each
     * other's increment; the counts are the same */
    uint32_t h4[4][256] = { { 0 } };
    for (uint32_t r = 0; r < img->height; r += 2) {
        const uint8_t *row = img->pixels + (size_t)r * img->stride;
        const uint8_t *vrow = img->valid ? img->valid + (size_t)r * img->width : NULL;
        uint32_t c = 0;
        if (vrow) {
            for (; c + 6 < img->width; c += 8) {
                h4[0][row[c]] += vrow[c] != 0;
                h4[1][row[c + 2]] += vrow[c + 2] != 0;
                h4[2][row[c + 4]] += vrow[c + 4] != 0;
                h4[3][row[c + 6]] += vrow[c + 6] != 0;
            }
            for (; c < img->width; c += 2)
                h4[0][row[c]] += vrow[c] != 0;
        } else {
            for (; c + 6 < img->width; c += 8) {
                h4[0][row[c]]++;
                h4[1][row[c + 2]]++;
                h4[2][row[c + 4]]++;
                h4[3][row[c + 6]]++;
            }
            for (; c < img->width; c += 2)
                h4[0][row[c]]++;
        }
    }
    uint32_t hist[256], n = 0;
    for (int v = 0; v < 256; v++) {
        hist[v] = h4[0][v] + h4[1][v] + h4[2][v] + h4[3][v];
        n += hist[v];
    }
    st->median = 0.0f;
    st->p1 = 0.0f;
    st->p90 = 255.0f;
    st->sigma = 1.0f;
    st->p99 = 255.0f;
    if (n == 0)
        return;
    uint32_t acc = 0, med = 0;
    for (med = 0; med < 256; med++) {
        acc += hist[med];
        if (acc * 2 >= n)
            break;
    }
    acc = 0;
    bool p1 = false, p90 = false;
    for (uint32_t v = 0; v < 256; v++) {
        acc += hist[v];
        if (!p1 && acc * 100 >= n) {
            st->p1 = (float)v;
            p1 = true;
        }
        if (!p90 && acc * 10 >= n * 9u) {
            st->p90 = (float)v;
            p90 = true;
        }
        if (acc * 100 >= n * 99u) {
            st->p99 = (float)v;
            break;
        }
    }
    /* MAD: walk outwards from the median. */
    uint32_t dev_hist[256] = { 0 };
    for (uint32_t v = 0; v < 256; v++)
        dev_hist[v > med ? v - med : med - v] += hist[v];
    acc = 0;
    uint32_t mad = 0;
    for (mad = 0; mad < 256; mad++) {
        acc += dev_hist[mad];
        if (acc * 2 >= n)
            break;
    }
    st->median = (float)med;
    /* Floor: a flat (saturated or empty) image must not make every faint
     * ripple look significant. */
    st->sigma = fmaxf(1.4826f * (float)mad, fmaxf(2.0f, 0.02f * st->p99));
}

/* Decimate by block averages; a block is valid when most of it was scanned.
 * Column sums over the f rows of a block first (integers: exact), then f
 * columns of those: each pixel is read once, row by row. */
static tl_status build_work(tl_needle_detector *d, const tl_bmode *img)
{
    int f = (int)floorf(0.2f / img->spacing_mm + 0.5f);
    if (f < 1)
        f = 1;
    if (f > 8)
        f = 8;
    uint32_t ww = img->width / (uint32_t)f, wh = img->height / (uint32_t)f;
    if (ww < 16 || wh < 16)
        return TL_ERR_INVALID_ARG;
    float *w = scratch_get(&d->work, (size_t)ww * wh * sizeof(float));
    uint8_t *wv = scratch_get(&d->wvalid, (size_t)ww * wh);
    if (!w || !wv)
        return TL_ERR_NO_MEM;
    uint32_t cw = ww * (uint32_t)f;
    uint32_t *csum = scratch_get(&d->cand, (size_t)cw * 2 * sizeof(uint32_t));
    if (!csum)
        return TL_ERR_NO_MEM;
    uint32_t *cval = csum + cw;
    float inv = 1.0f / (float)(f * f);
    uint32_t half = (uint32_t)(f * f);
    for (uint32_t j = 0; j < wh; j++) {
        memset(csum, 0, (size_t)cw * 2 * sizeof(uint32_t));
        for (int dz = 0; dz < f; dz++) {
            size_t r = (size_t)j * (size_t)f + (size_t)dz;
            const uint8_t *row = img->pixels + r * img->stride;
            for (uint32_t x = 0; x < cw; x++)
                csum[x] += row[x];
            if (img->valid) {
                const uint8_t *vrow = img->valid + r * img->width;
                for (uint32_t x = 0; x < cw; x++)
                    cval[x] += vrow[x] != 0;
            }
        }
        float *wr = w + (size_t)j * ww;
        uint8_t *vr = wv + (size_t)j * ww;
        for (uint32_t i = 0; i < ww; i++) {
            uint32_t sum = 0, nv = 0;
            for (int dx = 0; dx < f; dx++) {
                sum += csum[i * (uint32_t)f + (uint32_t)dx];
                nv += cval[i * (uint32_t)f + (uint32_t)dx];
            }
            wr[i] = (float)sum * inv;
            vr[i] = (uint8_t)(img->valid ? 2 * nv > half : 1);
        }
    }
    d->ww = ww;
    d->wh = wh;
    d->factor = f;
    return TL_OK;
}

/* resid = work - local mean (box of radius r over valid pixels); returns the
 * residual's robust sigma. */
static tl_status local_residual(tl_needle_detector *d, int r, float *sigma)
{
    uint32_t ww = d->ww, wh = d->wh;
    const float *w = d->work.p;
    const uint8_t *wv = d->wvalid.p;
    size_t n1 = (size_t)(ww + 1) * (wh + 1);
    /* resid scratch holds: resid (ww*wh floats), integral sums and counts
     * (n1 doubles + n1 floats), and a sample for the MAD. */
    size_t need = (size_t)ww * wh * sizeof(float) * 2 + n1 * (sizeof(double) + sizeof(float));
    uint8_t *base = scratch_get(&d->resid, need);
    if (!base)
        return TL_ERR_NO_MEM;
    float *res = (float *)base;
    float *sample = res + (size_t)ww * wh;
    double *isum = (double *)(sample + (size_t)ww * wh);
    float *icnt = (float *)(isum + n1);
    for (uint32_t i = 0; i <= ww; i++) {
        isum[i] = 0.0;
        icnt[i] = 0.0f;
    }
    for (uint32_t j = 0; j < wh; j++) {
        double rs = 0.0;
        float rc = 0.0f;
        size_t o = (size_t)(j + 1) * (ww + 1);
        isum[o] = 0.0;
        icnt[o] = 0.0f;
        for (uint32_t i = 0; i < ww; i++) {
            size_t k = (size_t)j * ww + i;
            if (wv[k]) {
                rs += w[k];
                rc += 1.0f;
            }
            isum[o + i + 1] = isum[o - (ww + 1) + i + 1] + rs;
            icnt[o + i + 1] = icnt[o - (ww + 1) + i + 1] + rc;
        }
    }
    size_t ns = 0;
    for (uint32_t j = 0; j < wh; j++) {
        int z0 = (int)j - r, z1 = (int)j + r + 1;
        if (z0 < 0)
            z0 = 0;
        if (z1 > (int)wh)
            z1 = (int)wh;
        for (uint32_t i = 0; i < ww; i++) {
            size_t k = (size_t)j * ww + i;
            if (!wv[k]) {
                res[k] = 0.0f;
                continue;
            }
            int x0 = (int)i - r, x1 = (int)i + r + 1;
            if (x0 < 0)
                x0 = 0;
            if (x1 > (int)ww)
                x1 = (int)ww;
            size_t a = (size_t)z0 * (ww + 1), b = (size_t)z1 * (ww + 1);
            double s = isum[b + x1] - isum[b + x0] - isum[a + x1] + isum[a + x0];
            float c = icnt[b + x1] - icnt[b + x0] - icnt[a + x1] + icnt[a + x0];
            res[k] = w[k] - (float)(s / (c > 0.0f ? c : 1.0f));
            if ((i & 1u) == 0 && ((i >> 1) ^ j) % 2u == 0) /* every 4th pixel */
                sample[ns++] = res[k];
        }
    }
    if (ns < 16)
        return TL_ERR_INVALID_ARG;
    float med = median_inplace(sample, ns);
    for (size_t k = 0; k < ns; k++)
        sample[k] = fabsf(sample[k] - med);
    float mad = median_inplace(sample, ns);
    *sigma = fmaxf(1.4826f * mad, 0.5f);
    return TL_OK;
}

static tl_status detect_in(tl_needle_detector *d, const tl_bmode *img,
                           const tl_needle_guide *guide, float dx, float dz,
                           tl_needle_detection *out);

/* The echo along the tracked (hinted) shaft: the mean local residual over
 * the 5 mm behind the predicted tip, or behind a point TRACK_LEVEL_BACK_MM
 * shallower, whichever is brighter. A prediction runs on past a needle that
 * slowed or stopped (by ~1.5 mm: eval needle seed 1 cases 80 and 192), the
 * part of the 5 mm beyond the true tip is tissue, and the level fell under
 * half its value while seen: the tracker called a needle in plane "out of
 * plane". A shaft leaving the plane fades along its whole length, so the
 * brighter of the two falls as well. */
#define TRACK_LEVEL_BACK_MM 2.0f
static float track_level(const tl_needle_detector *d, const tl_bmode *img, float dx, float dz,
                         float sigma)
{
    float x = d->hint_x - dx, z = d->hint_z - dz;
    double a = d->hint_a * TL_DEG, ux = cos(a), uz = sin(a);
    if (uz < 0.0) { /* (ux, uz) towards the tip (deeper) */
        ux = -ux;
        uz = -uz;
    }
    float at = needle_line_level(d, img, x, z, d->hint_a, 5.0f, sigma);
    float back = needle_line_level(d, img, x - (float)(TRACK_LEVEL_BACK_MM * ux),
                                   z - (float)(TRACK_LEVEL_BACK_MM * uz), d->hint_a, 5.0f, sigma);
    return isfinite(back) && !(at >= back) ? back : at;
}

tl_status tl_needle_detector_hint(tl_needle_detector *d, bool on, float tip_x_mm,
                                  float tip_z_mm, float angle_deg)
{
    if (!d)
        return TL_ERR_INVALID_ARG;
    if (on && !(isfinite(tip_x_mm) && isfinite(tip_z_mm) && isfinite(angle_deg) &&
                fabsf(angle_deg) < 89.0f))
        return TL_ERR_INVALID_ARG;
    d->hint_on = on;
    d->hint_x = tip_x_mm;
    d->hint_z = tip_z_mm;
    d->hint_a = angle_deg;
    return TL_OK;
}

tl_status tl_needle_detect(tl_needle_detector *d, const tl_bmode *img,
                           const tl_needle_guide *guide, tl_needle_detection *out)
{
    if (!d || !img || !out || !img->pixels || img->width < 32 || img->height < 32 ||
        img->stride < img->width || !(img->spacing_mm > 0.001f && img->spacing_mm < 5.0f))
        return TL_ERR_INVALID_ARG;
    uint32_t c0, c1, r0, r1;
    needle_content_box(img, &c0, &c1, &r0, &r1);
    if (c0 == 0 && r0 == 0 && c1 == img->width && r1 == img->height)
        return detect_in(d, img, guide, 0.0f, 0.0f, out);
    tl_bmode view = *img;
    view.pixels = img->pixels + (size_t)r0 * img->stride + c0;
    view.width = c1 - c0;
    view.height = r1 - r0;
    float dx = (float)c0 * img->spacing_mm, dz = (float)r0 * img->spacing_mm;
    tl_needle_guide g2;
    if (guide) {
        /* the guide crosses the view's top at a shifted x */
        g2 = *guide;
        g2.offset_mm = guide->offset_mm - dx + dz / tanf(guide->angle_deg * (float)TL_DEG);
    }
    tl_status s = detect_in(d, &view, guide ? &g2 : NULL, dx, dz, out);
    if (s == TL_OK) {
        out->tip_x_mm += dx;
        out->tip_z_mm += dz;
        out->entry_x_mm += dx;
        out->entry_z_mm += dz;
    }
    return s;
}

static tl_status detect_in(tl_needle_detector *d, const tl_bmode *img,
                           const tl_needle_guide *guide, float dx, float dz,
                           tl_needle_detection *out)
{
    if (img->width < 32 || img->height < 32)
        return TL_ERR_INVALID_ARG;
    if (guide && !(isfinite(guide->angle_deg) && isfinite(guide->offset_mm) &&
                   fabsf(guide->angle_deg) < 89.0f))
        return TL_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    out->reason = "no candidate line";

    image_stats st;
    full_stats(img, &st);
    tl_status s = build_work(d, img);
    if (s != TL_OK)
        return s;
    float work_mm = img->spacing_mm * (float)d->factor;
    int r = (int)ceilf(1.5f / work_mm);
    if (r < 3)
        r = 3;
    float sigma = 1.0f;
    if ((s = local_residual(d, r, &sigma)) != TL_OK)
        return s;
    if ((s = temporal_begin(d, sigma)) != TL_OK)
        return s;

    tl_needle_detection best;
    memset(&best, 0, sizeof best);
    best.reason = "no candidate line";
    bool have = false, best_is_hint = false;
    float nov_best = 0.0f, best_rank = 0.0f;
    needle_line nov_line = { 0 };
    if (d->hint_on) {
        /* the tracked line (image mm -> this view's pixels) */
        needle_line cand = { .px = (d->hint_x - dx) / img->spacing_mm,
                             .pz = (d->hint_z - dz) / img->spacing_mm,
                             .a = d->hint_a * TL_DEG, .votes = 0.0f };
        tl_needle_detection det;
        float geo;
        needle_refine(&d->p, img, &st, &cand, &d->prof, &det, &geo);
        novelty_gate(d, img, work_mm, true, geo, &det, &best_rank);
        time_trace(d, img, work_mm, true, &cand, &det, &best_rank);
        best = det;
        have = true;
        best_is_hint = true;
    }
    /* Once the tracked line holds, the whole-image search is skipped: that
     * is most of the time per frame (a needle being advanced is found
     * where the track says). It runs whenever the track is lost or weak. */
    if (!have || best.confidence < d->p.min_confidence + 0.1f) {
        hough_grid g;
        grid_setup(&d->p, guide, d->ww, d->wh, &g);
        size_t nacc = (size_t)g.na * (size_t)g.nr;
        float *acc = scratch_get(&d->acc, nacc * sizeof(float));
        if (!acc)
            return TL_ERR_NO_MEM;
        memset(acc, 0, nacc * sizeof(float));
        vote(d, &g, acc, sigma, st.p1, (int)lrintf(2.5f / work_mm));

        int pk[MAX_PEAKS], pr[MAX_PEAKS];
        float pv[MAX_PEAKS], score[MAX_PEAKS];
        int np = find_peaks(acc, &g, work_mm, guide, (float)img->width * img->spacing_mm,
                            (float)img->height * img->spacing_mm, MAX_PEAKS, pk, pr, pv);
        /* Rank by the quick needle-likeness score; keep the best few. */
        for (int i = 0; i < np; i++) {
            double a = (-g.amax + (float)pk[i] * HOUGH_STEP_DEG) * TL_DEG;
            double rho = (double)(pr[i] - g.r0);
            score[i] = needle_prescreen(d, g.cx - rho * sin(a), g.cz + rho * cos(a), a, sigma,
                                        work_mm);
        }
        if (d->temporal) {
            /* With time the votes count only what is new, and a faint steep
             * shaft scores low in the single-image prescreen: interleave the
             * two orders (a peak's score is its better place in either). */
            int ord[MAX_PEAKS];
            float pos[MAX_PEAKS];
            for (int i = 0; i < np; i++)
                ord[i] = i;
            for (int i = 1; i < np; i++)
                for (int j = i; j > 0 && score[ord[j]] > score[ord[j - 1]]; j--) {
                    int t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t;
                }
            for (int i = 0; i < np; i++)
                pos[ord[i]] = score[ord[i]] > 0.0f ? 1.0f / (float)(i + 1) : 0.0f;
            /* pv is already strongest first */
            for (int i = 0; i < np; i++)
                score[i] = fmaxf(pos[i], 1.0f / (float)(i + 1) - 1e-4f);
        }
        for (int i = 1; i < np; i++)
            for (int j = i; j > 0 && score[j] > score[j - 1]; j--) {
                float ts = score[j]; score[j] = score[j - 1]; score[j - 1] = ts;
                float tv = pv[j]; pv[j] = pv[j - 1]; pv[j - 1] = tv;
                int tk = pk[j]; pk[j] = pk[j - 1]; pk[j - 1] = tk;
                int tr = pr[j]; pr[j] = pr[j - 1]; pr[j - 1] = tr;
            }
        /* Greedy suppression by score: 1.5 degrees / 0.5 mm apart (a
         * reverberation copy ~0.8 mm under the shaft must not hide it). */
        {
            int dr = (int)ceilf(0.5f / work_mm), dk = (int)(1.5f / HOUGH_STEP_DEG), m = 0;
            for (int i = 0; i < np && m < MAX_CANDIDATES; i++) {
                if (score[i] <= 0.0f)
                    break;
                bool close = false;
                for (int j = 0; j < m; j++)
                    if (abs(pk[i] - pk[j]) <= dk && abs(pr[i] - pr[j]) <= dr)
                        close = true;
                if (close)
                    continue;
                pk[m] = pk[i];
                pr[m] = pr[i];
                pv[m] = pv[i];
                score[m] = score[i];
                m++;
            }
            np = m;
        }

        double f = (double)d->factor;
        bool laddered = false;
        for (int i = 0; i < np; i++) {
            double a = (-g.amax + (float)pk[i] * HOUGH_STEP_DEG) * TL_DEG;
            double rho = (double)(pr[i] - g.r0);
            double wx = g.cx - rho * sin(a), wz = g.cz + rho * cos(a);
            needle_line cand = { .px = (wx + 0.5) * f - 0.5, .pz = (wz + 0.5) * f - 0.5,
                                 .a = a, .votes = pv[i] };
            tl_needle_detection det;
            float geo;
            needle_refine(&d->p, img, &st, &cand, &d->prof, &det, &geo);
            float rank;
            float nov = novelty_gate(d, img, work_mm, false, geo, &det, &rank);
            time_trace(d, img, work_mm, false, &cand, &det, &rank);
            /* a row of new echo along the beam: the ends of a needle's
             * reverberation ladder, the shaft through its top (ladder.c) */
            tl_needle_detection ld;
            float lrank;
            if (!laddered &&
                ladder_try(d, img, &st, work_mm, &det, nov, &d->prof, &ld, &lrank)) {
                laddered = true;
                if (lrank > rank) {
                    det = ld;
                    rank = lrank;
                }
            }
            if (nov >= NOVELTY_FULL && nov > nov_best && det.length_mm >= 2.0f) {
                nov_best = nov;
                nov_line = (needle_line){ .px = det.tip_x_mm / img->spacing_mm,
                                          .pz = det.tip_z_mm / img->spacing_mm,
                                          .a = det.angle_deg * TL_DEG };
            }
            if (!have || rank > best_rank) {
                best_rank = rank;
                best = det;
                have = true;
                best_is_hint = false;
            }
        }
    }
    /* A line the search chose may be a reverberation copy of the shaft
     * (parallel.c): the shallowest copy above it along the beam that
     * passes as a needle is the shaft. (The tracked line was checked when
     * its track began.) */
    needle_line up;
    if (have && !best_is_hint && best.confidence >= d->p.min_confidence &&
        needle_shallower_line(d, img, &best, work_mm, &up)) {
        tl_needle_detection det;
        float geo, rank;
        needle_refine(&d->p, img, &st, &up, &d->prof, &det, &geo);
        novelty_gate(d, img, work_mm, false, geo, &det, &rank);
        time_trace(d, img, work_mm, false, &up, &det, &rank);
        /* Its shadow test looks at what lies beneath: the copies and the
         * needle's shadow over a cortex. The copy below passed as a needle,
         * so a shaft that fails only that test, as bright, stands. */
        bool shadow_only = det.reason && strcmp(det.reason, "shadow beneath (bone)") == 0 &&
                           det.length_mm >= d->p.min_length_mm &&
                           det.contrast >= 0.5f * best.contrast;
        if (shadow_only) {
            det.confidence = best.confidence;
            det.reason = "ok";
        }
        if (det.confidence >= d->p.min_confidence && det.length_mm > 0.0f &&
            fabsf(det.angle_deg - best.angle_deg) < 3.0f &&
            fabsf(det.tip_x_mm - best.tip_x_mm) < 2.5f)
            best = det;
    }
    *out = best;
    out->found = have && best.confidence >= d->p.min_confidence && best.length_mm > 0.0f;
    out->track_level = d->hint_on ? track_level(d, img, dx, dz, sigma) : NAN;
    /* one walk along the reported line, after the search */
    out->change = have ? novelty_of_line(d, img, work_mm, best_is_hint, out) : NAN;
    out->no_background = d->first_look;
    if (have && !out->found && best.reason && strcmp(best.reason, "ok") == 0)
        out->reason = "low confidence";
    /* the background learns everything but the needle */
    needle_line keep[3];
    int nk = 0;
    if (nov_best > 0.0f) /* something new, maybe a needle not yet confirmed */
        keep[nk++] = nov_line;
    if (d->hint_on)
        keep[nk++] = (needle_line){ .px = (d->hint_x - dx) / img->spacing_mm,
                                    .pz = (d->hint_z - dz) / img->spacing_mm,
                                    .a = d->hint_a * TL_DEG };
    if (out->found)
        keep[nk++] = (needle_line){ .px = out->tip_x_mm / img->spacing_mm,
                                    .pz = out->tip_z_mm / img->spacing_mm,
                                    .a = out->angle_deg * TL_DEG };
    temporal_end(d, keep, nk, work_mm);
    return TL_OK;
}
