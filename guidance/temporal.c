/* Needle detection, time: what changed against a slowly updated background.
 *
 * During an insertion the anatomy under a probe held still is static while
 * the needle advances. A running mean of the work image (the background)
 * therefore holds the fascia, septa, tendon fibres and cortex, and the
 * difference "this frame - background" holds the needle (and the speckle's
 * slow decorrelation, which is noise of zero mean). Lines are searched in
 * that difference when it is usable, so a static bright line gets no votes,
 * and every candidate is asked whether its shaft or its deep end changed.
 *
 * The background is not updated under the tracked needle, so a needle that
 * stops at its target stays "new". When the whole image changes (the probe
 * moved: the difference's spread is close to that of two unrelated speckle
 * patterns) the background restarts from this frame and the frame is
 * searched without the time cue, as a single image. The limits follow from
 * this: a needle already in the image when the stream starts, and held still,
 * is not reported until it moves (moving the needle is what operators do to
 * find it); with a probe that never rests, the detector runs on single
 * images. All levels are relative to the difference's own robust spread. */
#include "guidance_internal.h"

#include <math.h>
#include <string.h>

/* background running mean: the first frames are averaged equally, later
 * ones with this weight (a time constant of ~8 frames) */
#define BG_ALPHA_MIN 0.12f
/* the difference over the residual at the brightest structures above
 * which the probe moved */
#define MOTION_RATIO 0.25f
#define TILE 16
#define TEXTURE_WEIGHT 0.5f
#define MAX_TILES 1024
/* the background is held along a kept needle up to this far past its tip */
#define KEEP_AHEAD_MM 1.5f
/* temporal_tip: a run of new echo beyond a gap of this much unchanged
 * tissue is not the same shaft (1 mm bridged the lesion in front of a
 * stopped tip to a bright layer's speckle beyond it: eval needle seed 1,
 * case 52, 1.6-1.9 mm long on every frame) */
#define TIP_GAP_MM 0.6

void temporal_reset(tl_needle_detector *d)
{
    d->bg_n = 0;
    d->temporal = false;
}

/* Probe motion: the brightest structures of this frame (top 3% of the
 * local residual) should be in the background too, so the difference
 * there is a small part of their residual. After the probe moved it is
 * most of it. (Speckle alone decorrelates too, slowly: that only makes
 * the time cue weaker, and a reset costs one frame.) sample: n floats of
 * scratch. */
static float bright_motion(const tl_needle_detector *d, float resid_sigma, float *sample)
{
    size_t n = (size_t)d->ww * d->wh;
    const float *w = d->work.p, *bg = d->bg.p, *res = d->resid.p;
    const uint8_t *wv = d->wvalid.p;
    size_t ns = 0;
    for (size_t k = 0; k < n; k += 4)
        if (wv[k])
            sample[ns++] = res[k];
    float rthr = ns > 32 ? select_kth(sample, ns, ns - ns / 33) : 1e30f;
    rthr = fmaxf(rthr, 3.0f * resid_sigma);
    ns = 0;
    for (size_t k = 0; k < n; k++)
        if (wv[k] && res[k] >= rthr)
            sample[ns++] = fabsf(w[k] - bg[k]) / res[k];
    return ns >= 16 ? median_inplace(sample, ns) : 0.0f;
}

/* At least 4 tiles with a quarter of their pixels scanned (the tile
 * spreads' own test in temporal_begin). */
static bool tiles_usable(const uint8_t *wv, uint32_t ww, uint32_t wh, uint32_t tx, uint32_t ty)
{
    uint32_t nt = 0;
    for (uint32_t b = 0; b < ty && nt < 4; b++)
        for (uint32_t a = 0; a < tx && nt < 4; a++) {
            size_t ns = 0;
            for (uint32_t j = b * TILE; j < (b + 1) * TILE && j < wh; j++)
                for (uint32_t i = a * TILE; i < (a + 1) * TILE && i < ww; i++)
                    ns += wv[(size_t)j * ww + i] != 0;
            nt += ns >= TILE * TILE / 4;
        }
    return nt >= 4;
}

GD_CLONES tl_status temporal_begin(tl_needle_detector *d, float resid_sigma)
{
    uint32_t ww = d->ww, wh = d->wh;
    size_t n = (size_t)ww * wh;
    float *bg = scratch_get(&d->bg, n * sizeof(float));
    float *df = scratch_get(&d->diff, 2 * n * sizeof(float));
    if (!bg || !df)
        return TL_ERR_NO_MEM;
    const float *w = d->work.p;
    const uint8_t *wv = d->wvalid.p;
    d->temporal = false;
    d->first_look = d->bg_n == 0 || d->bg_w != ww || d->bg_h != wh || d->bg_f != d->factor;
    if (d->first_look) {
        memcpy(bg, w, n * sizeof(float));
        d->bg_w = ww;
        d->bg_h = wh;
        d->bg_f = d->factor;
        d->bg_n = 1;
        d->motion_ratio = 0.0f;
        return TL_OK;
    }
    /* Spread of the difference per tile (3.2 mm at the work scale): bright
     * tissue decorrelates more than the dark, and a bone shadow has none,
     * so one global spread would make every bright region look new. A tile
     * spread is floored at half the typical one (a dark tile's electronic
     * noise must not make anything in it significant). */
    float *sample = df + n;
    uint32_t tx = (ww + TILE - 1) / TILE, ty = (wh + TILE - 1) / TILE;
    if (tx * ty > MAX_TILES)
        return TL_OK;
    const float *res = d->resid.p;
    /* When the brightest structures alone say the probe moved, the frame
     * is searched as a single image whatever the tile spreads are: they are
     * not computed (~0.25 ms of a whole-image search; the frames after a
     * probe movement are the ones searched whole). Same outcome as with
     * them, unless fewer than 4 tiles are usable, which keeps the
     * background (tiles_usable). */
    float bright = bright_motion(d, resid_sigma, sample);
    if (bright > MOTION_RATIO) {
        if (!tiles_usable(wv, ww, wh, tx, ty))
            return TL_OK;
        d->motion_ratio = bright;
        memcpy(bg, w, n * sizeof(float));
        d->bg_n = 1;
        return TL_OK;
    }
    for (size_t k = 0; k < n; k++)
        df[k] = wv[k] ? w[k] - bg[k] : 0.0f;
    float tsig[MAX_TILES], tsort[MAX_TILES], rsort[MAX_TILES];
    uint32_t nt = 0;
    for (uint32_t b = 0; b < ty; b++)
        for (uint32_t a = 0; a < tx; a++) {
            size_t ns = 0;
            for (uint32_t j = b * TILE; j < (b + 1) * TILE && j < wh; j++)
                for (uint32_t i = a * TILE; i < (a + 1) * TILE && i < ww; i++) {
                    size_t k = (size_t)j * ww + i;
                    if (wv[k])
                        sample[ns++] = fabsf(df[k]);
                }
            float sg = ns >= TILE * TILE / 4 ? 1.4826f * median_inplace(sample, ns) : -1.0f;
            tsig[b * tx + a] = sg;
            if (sg > 0.0f) {
                /* the same tile's residual spread (the static texture) */
                size_t nr = 0;
                for (uint32_t j = b * TILE; j < (b + 1) * TILE && j < wh; j++)
                    for (uint32_t i = a * TILE + (j & 1u); i < (a + 1) * TILE && i < ww; i += 2) {
                        size_t k = (size_t)j * ww + i;
                        if (wv[k])
                            sample[nr++] = fabsf(res[k]);
                    }
                rsort[nt] = 1.4826f * median_inplace(sample, nr);
                tsort[nt++] = sg;
            }
        }
    if (nt < 4)
        return TL_OK;
    float typical = median_inplace(tsort, nt);
    float typical_res = fmaxf(median_inplace(rsort, nt), 1e-3f);
    float floor_sig = fmaxf(0.5f * typical, 0.25f);
    d->diff_sigma = 1.0f; /* df holds z-scores from here on */
    for (uint32_t t = 0; t < tx * ty; t++)
        tsig[t] = 1.0f / fmaxf(tsig[t], floor_sig); /* as a factor from here */
    for (uint32_t j = 0; j < wh; j++) {
        const float *trow = tsig + (j / TILE) * tx;
        float *drow = df + (size_t)j * ww;
        for (uint32_t i = 0; i < ww; i++)
            drow[i] *= trow[i / TILE];
    }
    /* and the texture as a whole: a hand-held sweep changes every tile by
     * about as much as the texture itself varies */
    d->motion_ratio = fmaxf(bright, TEXTURE_WEIGHT * typical / typical_res);
    if (d->motion_ratio > MOTION_RATIO) {
        /* the probe moved: start again from this frame. When the texture
         * as a whole changed (not only the brightest structures, which a
         * bright needle arriving changes too) nothing of the old
         * background holds: a line in this frame is judged on one image,
         * as on the first (tl_needle_detection.no_background) */
        d->first_look = TEXTURE_WEIGHT * typical / typical_res > MOTION_RATIO;
        memcpy(bg, w, n * sizeof(float));
        d->bg_n = 1;
        return TL_OK;
    }
    d->temporal = true;
    return TL_OK;
}

/* Perpendicular distance (work pixels) of (x, z) from a line through
 * (px, pz) with direction (ca, sa). */
static inline float line_dist(float x, float z, float px, float pz, float ca, float sa)
{
    return fabsf(-(x - px) * sa + (z - pz) * ca);
}

GD_CLONES void temporal_end(tl_needle_detector *d, const needle_line *keep, int nkeep, float work_mm)
{
    uint32_t ww = d->ww, wh = d->wh;
    if (d->bg_n == 0 || d->bg_w != ww || d->bg_h != wh)
        return;
    float *bg = d->bg.p;
    const float *w = d->work.p;
    float a = fmaxf(1.0f / (float)(d->bg_n + 1), BG_ALPHA_MIN);
    float band = 1.0f / work_mm; /* +/- 1 mm around a kept line */
    float f = (float)d->factor;
    /* Held: the shaft from the image edge to KEEP_AHEAD_MM beyond its tip.
     * The tissue further along the line is static and is learned like the
     * rest: frozen, it drifts away from the decorrelating speckle and its
     * change would read as the needle running on past a tip that stopped. */
    float ahead = KEEP_AHEAD_MM / work_mm;
    float kx[3], kz[3], kc[3], ks[3];
    int nk = nkeep > 3 ? 3 : nkeep;
    for (int i = 0; i < nk; i++) {
        /* full-resolution pixels -> work pixels */
        kx[i] = (float)((keep[i].px + 0.5) / f - 0.5);
        kz[i] = (float)((keep[i].pz + 0.5) / f - 0.5);
        kc[i] = (float)cos(keep[i].a);
        ks[i] = (float)sin(keep[i].a);
        if (ks[i] < 0.0f) { /* (kc, ks) points from the entry to the tip (deeper) */
            kc[i] = -kc[i];
            ks[i] = -ks[i];
        }
    }
    /* Row by row as vector loops: which pixels are held (the distance to
     * each kept line, the same float arithmetic as line_dist), then the
     * update of the others. */
    int32_t hold[1024];
    for (uint32_t j = 0; j < wh; j++) {
        float *brow = bg + (size_t)j * ww;
        const float *wrow = w + (size_t)j * ww;
        if (ww > sizeof hold / sizeof hold[0]) {
            for (uint32_t i = 0; i < ww; i++) {
                bool h = false;
                for (int m = 0; m < nk && !h; m++)
                    h = line_dist((float)i, (float)j, kx[m], kz[m], kc[m], ks[m]) <= band &&
                        ((float)i - kx[m]) * kc[m] + ((float)j - kz[m]) * ks[m] <= ahead;
                if (!h)
                    brow[i] += a * (wrow[i] - brow[i]);
            }
            continue;
        }
        for (uint32_t i = 0; i < ww; i++)
            hold[i] = 0;
        for (int m = 0; m < nk; m++) {
            float zc = ((float)j - kz[m]) * kc[m], px = kx[m], sa = ks[m], ca = kc[m];
            float za = ((float)j - kz[m]) * sa;
            for (uint32_t i = 0; i < ww; i++)
                hold[i] |= (fabsf(-((float)i - px) * sa + zc) <= band) &
                           (((float)i - px) * ca + za <= ahead);
        }
        for (uint32_t i = 0; i < ww; i++) {
            /* a select on the bits (a ternary here becomes a branch) */
            union { float f; uint32_t u; } b = { brow[i] }, n = { b.f + a * (wrow[i] - b.f) };
            uint32_t keep = (uint32_t)-hold[i];
            n.u = (b.u & keep) | (n.u & ~keep);
            brow[i] = n.f;
        }
    }
    if (d->bg_n < 1000)
        d->bg_n++;
}

/* Mean of the difference (in its robust sigmas) along the segment from
 * (x0, z0) to (x1, z1), full-resolution pixels of the searched view, over
 * the whole segment and over its last `tail_mm` (the deep end); and the
 * most negative mean of parallel lines 0.5 and 1 mm to either side. A
 * needle is new echo where there was tissue: nothing darkens beside it.
 * Anatomy that shifted (the probe slid or tilted a little) is bright where
 * it is now and dark where it was: its negative twin lies alongside.
 * twin_shallow: the same on the shallow side only (beneath a needle that
 * has stopped lies its own shadow, dark against the frozen background). */
void temporal_novelty(const tl_needle_detector *d, double x0, double z0, double x1, double z1,
                      float work_mm, float tail_mm, float *all, float *tail, float *twin,
                      float *twin_shallow, float *side)
{
    *all = *tail = *twin = *twin_shallow = *side = 0.0f;
    if (!d->temporal)
        return;
    const float *df = d->diff.p;
    const uint8_t *wv = d->wvalid.p;
    double f = (double)d->factor;
    double ax = (x0 + 0.5) / f - 0.5, az = (z0 + 0.5) / f - 0.5;
    double bx = (x1 + 0.5) / f - 0.5, bz = (z1 + 0.5) / f - 0.5;
    double len = hypot(bx - ax, bz - az);
    int n = (int)ceil(len) + 1;
    double tail_px = tail_mm / work_mm;
    double nx = -(bz - az) / (len > 0 ? len : 1), nz = (bx - ax) / (len > 0 ? len : 1);
    const double offs[4] = { -1.0 / work_mm, -0.5 / work_mm, 0.5 / work_mm, 1.0 / work_mm };
    double s_all = 0.0, s_tail = 0.0, s_off[4] = { 0 };
    int n_all = 0, n_tail = 0, n_off[4] = { 0 };
    int W = (int)d->ww, H = (int)d->wh;
    for (int k = 0; k < n; k++) {
        double t = n > 1 ? (double)k / (n - 1) : 0.0;
        double x = ax + t * (bx - ax), z = az + t * (bz - az);
        int i = (int)lround(x), j = (int)lround(z);
        if (i < 0 || j < 0 || i >= W || j >= H)
            continue;
        size_t q = (size_t)j * d->ww + (size_t)i;
        if (!wv[q])
            continue;
        /* the brightest of three across the line: the fit is good to
         * ~0.1 mm, the work pixel is 0.2 mm */
        float v = df[q];
        for (int s = -1; s <= 1; s += 2) {
            int i2 = (int)lround(x + s * nx), j2 = (int)lround(z + s * nz);
            if (i2 >= 0 && j2 >= 0 && i2 < W && j2 < H)
                v = gd_maxf(v, df[(size_t)j2 * d->ww + (size_t)i2]);
        }
        s_all += v;
        n_all++;
        if ((1.0 - t) * len <= tail_px) {
            s_tail += v;
            n_tail++;
        }
        for (int o = 0; o < 4; o++) {
            int i2 = (int)lround(x + offs[o] * nx), j2 = (int)lround(z + offs[o] * nz);
            if (i2 >= 0 && j2 >= 0 && i2 < W && j2 < H && wv[(size_t)j2 * d->ww + (size_t)i2]) {
                s_off[o] += df[(size_t)j2 * d->ww + (size_t)i2];
                n_off[o]++;
            }
        }
    }
    float sig = d->diff_sigma > 0.0f ? d->diff_sigma : 1.0f;
    if (n_all)
        *all = (float)(s_all / n_all) / sig;
    if (n_tail)
        *tail = (float)(s_tail / n_tail) / sig;
    /* beneath a needle lies its own partial shadow: half weight there.
     * side: the most changed of the shallow-side lines. Above a shaft the
     * tissue is as it was (its reverberations lie beneath); a line cutting
     * across a changed band has change on both sides. */
    *side = -1e30f;
    for (int o = 0; o < 4; o++)
        if (n_off[o] > n_all / 2) {
            bool deep = (offs[o] * nz) > 0.0;
            float m = (float)(s_off[o] / n_off[o]) / sig;
            *twin = fminf(*twin, deep ? 0.5f * m : m);
            if (!deep) {
                *side = fmaxf(*side, m);
                *twin_shallow = fminf(*twin_shallow, m);
            }
        }
    if (*side < -1e29f)
        *side = 0.0f;
}

void profile_smooth(const float *prof, int n, int r, float *out)
{
    for (int k = 0; k < n; k++) {
        float s = 0.0f;
        int c = 0;
        for (int q = k - r; q <= k + r; q++)
            if (q >= 0 && q < n) {
                s += prof[q];
                c++;
            }
        out[k] = s / (float)c;
    }
}

/* Where the new echo ends along the line from (x0, z0) through (x1, z1)
 * (full-resolution pixels of the searched view): walking from the entry
 * towards and past (x1, z1), the last place where the change, smoothed
 * over +/- 0.4 mm, is at least half its level on the shaft, before it
 * stays below that for TIP_GAP_MM. A steep shaft is too faint in one image to
 * show where it ends, but its advance is new echo. False when there is no
 * usable change along the line. */
bool temporal_tip(const tl_needle_detector *d, double x0, double z0, double x1, double z1,
                  float work_mm, double *tx, double *tz, float *rest)
{
    if (!d->temporal)
        return false;
    const float *df = d->diff.p;
    const uint8_t *wv = d->wvalid.p;
    double f = (double)d->factor;
    double ax = (x0 + 0.5) / f - 0.5, az = (z0 + 0.5) / f - 0.5;
    double bx = (x1 + 0.5) / f - 0.5, bz = (z1 + 0.5) / f - 0.5;
    double len = hypot(bx - ax, bz - az);
    if (len < 4.0)
        return false;
    double ux = (bx - ax) / len, uz = (bz - az) / len;
    enum { MAXS = 2048 };
    float prof[MAXS], sm[MAXS];
    int n = 0;
    const double step = 0.5; /* work pixels */
    int W = (int)d->ww, H = (int)d->wh;
    for (; n < MAXS; n++) {
        double x = ax + ux * step * n, z = az + uz * step * n;
        int i = (int)lround(x), j = (int)lround(z);
        if (i < 0 || j < 0 || i >= W || j >= H || !wv[(size_t)j * d->ww + (size_t)i]) {
            /* the entry lies on the edge of the scanned area: a sample or
             * two there may be outside it */
            if (n * step < 3.0 && i >= 0 && j >= 0 && i < W && j < H) {
                prof[n] = 0.0f;
                continue;
            }
            break;
        }
        float v = df[(size_t)j * d->ww + (size_t)i];
        for (int s = -1; s <= 1; s += 2) {
            int i2 = (int)lround(x - s * uz), j2 = (int)lround(z + s * ux);
            if (i2 >= 0 && j2 >= 0 && i2 < W && j2 < H)
                v = gd_maxf(v, df[(size_t)j2 * d->ww + (size_t)i2]);
        }
        prof[n] = v;
    }
    int nshaft = (int)(len / step);
    if (n < 8 || nshaft < 8 || nshaft > n)
        return false;
    profile_smooth(prof, n, (int)lround(0.4 / work_mm / step), sm);
    float tmp[MAXS];
    memcpy(tmp, sm, (size_t)nshaft * sizeof(float));
    float level = median_inplace(tmp, (size_t)nshaft);
    if (level < 2.0f)
        return false;
    float half = 0.5f * level;
    int gap = (int)lround(TIP_GAP_MM / work_mm / step), last = -1, below = 0;
    for (int k = nshaft / 2; k < n; k++) {
        if (sm[k] >= half) {
            last = k;
            below = 0;
        } else if (last >= 0 && ++below > gap) {
            break;
        }
    }
    if (last < 0)
        return false;
    if (rest) {
        double sum = 0.0;
        for (int k = last + 1; k < nshaft; k++)
            sum += sm[k];
        *rest = last + 1 < nshaft ? (float)(sum / (nshaft - last - 1)) : 0.0f;
    }
    double t = step * last;
    *tx = ((ax + ux * t) + 0.5) * f - 0.5;
    *tz = ((az + uz * t) + 0.5) * f - 0.5;
    return true;
}
