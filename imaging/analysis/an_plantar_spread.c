/* Plantar fascia through a tilted probe: the fibre-less band's superficial
 * border placed at pixel level from the spread of the pixels (split from
 * an_plantar.c; an_plantar_fat.c caps and opens its per-strip offsets). */
#include "an_internal.h"

#include <string.h>

/* The fibre-less band's superficial border at pixel level. The heel fat pad
 * is speckle crossed by bright septa at every angle; the fascia seen
 * through a tilted probe is plain speckle of about the same mean level. The
 * spread of the pixels (p90 - p20) over ~1 mm tells them apart where strip
 * means do not: 45-80 grey in the fat, 25-40 in the band (an_band_smooth_top
 * works on strip means and stopped where the septa thin out, 0.4-7 mm into
 * the fat). Per strip, the spread of the window [z, z + 1 mm) with z moving
 * up from the deep border on the band grid (0.1 mm); the top is where that
 * spread, averaged over +/-3 mm along the band, first rises and stays (0.7
 * mm) above 0.4 of the way from the band's level (just above the deep
 * border) to the fat's (9-12 mm above it). */
#define PF_TEX_SPAN_MM 12.0f   /* searched above the deep border */
#define PF_TEX_HALF_MM 3.0f    /* strips averaged either side */
/* Used on fibre-less bands (PF_FIBRELESS) over the strips within
 * PF_SPREAD_REACH_MM of the site; further out the band keeps its
 * border (the fascia thins and curves away from the site). */
#define PF_SPREAD_REACH_MM 6.0f
#define PF_SPREAD_THIN_MM 0.5f
#define PF_SPREAD_UP_MM 3.0f
/* Small upward moves, measured on the deep border placed from the cortex
 * (an_pf_deep_on_bone; before it, half of the tops they moved up wrongly
 * were right tops over a deep border as much too deep): moves of 0.3-1 mm
 * are used, 1-3 mm are not (they were as often wrong as right). */
#define PF_SPREAD_UP_SMALL_MM 0.3f
#define PF_SPREAD_UP_SMALL_MAX_MM 1.0f
/* Upward moves of 1-3 mm are used when the spread top runs parallel to
 * the deep border near the site (thickness slope within PF_SPREAD_PAR_SLOPE
 * mm/mm, an_pf_thickness_slope) and the top it replaces does not
 * (PF_SPREAD_CROSS_SLOPE or more): that top crossed the tilted band (the
 * fat pad's level edge read as the top, too deep at the site). Of the 1-3
 * mm moves on seeds 2026-2028, 2031 (`--anatomy all --cases 300`) and
 * survey seeds 3001-3002 (plantar only, 300 cases) the wrong ones gave a
 * spread top that was not parallel (slope 0.13-0.29: a right top moved up
 * into fat with few septa) or replaced a parallel top (0.015-0.019); of the
 * 13 moves both tests pass, 12 were right (to within 0.35 mm in 11) and one
 * wrong (2026 267, a thin band at 14 deg: 0.89 -> 1.17 mm). */
#define PF_SPREAD_PAR_SLOPE 0.12f
#define PF_SPREAD_CROSS_SLOPE 0.05f

/* A rank in a sliding histogram, followed as the window moves: the bin v
 * and the count of values in bins 0..v (values enter and leave one at a
 * time, so the bin moves a few steps instead of the histogram being walked
 * again at each step). */
typedef struct {
    int v, below;
} rank_bin;

static void rank_count(rank_bin *t, int x, int d)
{
    if (x <= t->v)
        t->below += d;
}

/* The smallest bin whose cumulative count exceeds k. */
static int rank_settle(rank_bin *t, const uint16_t *hist, int k)
{
    while (t->below <= k && t->v < 255)
        t->below += hist[++t->v];
    while (t->v > 0 && t->below - hist[t->v] > k)
        t->below -= hist[t->v--];
    return t->v;
}

/* Spread profile of strip s upwards from row `deep`: out[o], o = 0..no-1
 * grid steps (NAN where the window leaves the image or has too few valid
 * pixels): p90 - p20 of the window's pixels, stored as -1 - spread where
 * the window holds a dark lesion (lesion_window). A sliding histogram:
 * each step adds the rows entering at the top and removes those leaving at
 * the bottom. */
#define PF_FAT_FROM_MM 9.0f       /* the fat's level: 9-12 mm above the deep border */
/* A lesion's window: p20 under PF_LESION_LOW_FRAC of both the fat's (median
 * p20 9-12 mm up) and the band's (upper quartile 0.5-3 mm up: a lesion may
 * fill part of that); not tested where that level is under
 * PF_LESION_LOW_MIN grey (a dark band at the display floor: band and lesion
 * both clip to 0 there). */
#define PF_LESION_LOW_FRAC 0.5f
#define PF_LESION_LOW_MIN 5.0f
static void spread_profile(const tl_analyzer *a, uint32_t s, float deep, int no, float *out)
{
    const tl_bmode *img = a->img;
    const int q = (int)a->band_q, h = (int)a->h, W = (int)lroundf(1.0f / a->sp);
    const uint32_t c0 = s * a->sw, c1 = c0 + a->sw < a->w ? c0 + a->sw : a->w;
    const int z0 = (int)lroundf(deep);
    uint16_t hist[256];
    memset(hist, 0, sizeof hist);
    rank_bin p20 = { 0, 0 }, p90 = { 0, 0 };
    float low[256];   /* each window's 20th percentile */
    int n = 0, top = -1, bot = -1;   /* window rows [top, bot) in hist */
    for (int o = 0; o < no; o++) {
        const int z = z0 - o * q, zb = z + W > h ? h : z + W;
        out[o] = NAN;
        low[o] = NAN;
        if (z < 0 || zb <= z)
            continue;
        int add_end = zb;
        if (top >= 0) {
            for (int r = zb > top ? zb : top; r < bot; r++) {
                const uint8_t *px = img->pixels + (size_t)r * img->stride;
                const uint8_t *vm = img->valid ? img->valid + (size_t)r * img->width : NULL;
                for (uint32_t c = c0; c < c1; c++)
                    if (!vm || vm[c]) {
                        hist[px[c]]--;
                        rank_count(&p20, px[c], -1);
                        rank_count(&p90, px[c], -1);
                        n--;
                    }
            }
            add_end = zb < top ? zb : top;
        }
        for (int r = z; r < add_end; r++) {
            const uint8_t *px = img->pixels + (size_t)r * img->stride;
            const uint8_t *vm = img->valid ? img->valid + (size_t)r * img->width : NULL;
            for (uint32_t c = c0; c < c1; c++)
                if (!vm || vm[c]) {
                    hist[px[c]]++;
                    rank_count(&p20, px[c], 1);
                    rank_count(&p90, px[c], 1);
                    n++;
                }
        }
        top = z;
        bot = zb;
        if (n < 8)
            continue;
        int lo = rank_settle(&p20, hist, (int)(0.2f * (float)n));
        int hi = rank_settle(&p90, hist, (int)(0.9f * (float)n));
        out[o] = (float)(hi - lo);
        low[o] = (float)lo;
    }
    /* Windows holding a dark lesion: the fat's septa raise the spread by
     * brightening the upper pixels (p90) over a fat no darker than the
     * band (its p20 is the band's or above); a hypoechoic or anechoic
     * lesion raises it by darkening the lower ones, and its upper edge
     * under a thin layer of band passed for the fat's rise (the top placed
     * 0.3-4 mm into the band: seed 2032 cases 252, 297). Such windows are
     * marked: they still count for the band's and the fat's levels, not
     * for the rise (spread_top). */
    float fl[64], bl[64];
    uint32_t nf = 0, nb = 0;
    const float step_mm = (float)q * a->sp;
    const int f0 = (int)lroundf(PF_FAT_FROM_MM / step_mm), b0 = (int)lroundf(0.5f / step_mm),
              b1 = (int)lroundf(3.0f / step_mm);
    for (int o = f0; o < no && nf < 64; o++)
        if (!isnan(low[o]))
            fl[nf++] = low[o];
    for (int o = b0; o <= b1 && o < no && nb < 64; o++)
        if (!isnan(low[o]))
            bl[nb++] = low[o];
    if (nf < 3 || nb < 3)
        return;
    const float dark = PF_LESION_LOW_FRAC * fminf(an_percentile_f(fl, nf, 50), an_percentile_f(bl, nb, 75));
    if (dark < PF_LESION_LOW_MIN)
        return;
    for (int o = 0; o < no; o++)
        if (low[o] < dark)
            out[o] = -1.0f - out[o];
}

/* A spread profile's value (spread_profile) and whether its window holds a
 * dark lesion (stored as -1 - spread). */
static inline float window_spread(float e) { return e < 0 ? -1.0f - e : e; }
static inline bool lesion_window(float e) { return e < 0; }

/* The band's top as an offset above the deep border (grid steps) from the
 * mean spread profile P[0..no): NAN when the fat is not rougher. The band's
 * level is taken 1.2-2 mm above the deep border (the window clear of the
 * bone's echo), the fat's 9-12 mm above it; the rise on R, the mean over
 * the windows without a lesion (NAN where most hold one). */
static float spread_top(const float *P, const float *R, int no, float step_mm)
{
    const int lo = (int)lroundf(1.2f / step_mm), b1 = (int)lroundf(2.0f / step_mm);
    const int f0 = (int)lroundf(9.0f / step_mm), L = (int)lroundf(0.7f / step_mm);
    float bv[64], fv[64];
    uint32_t nb = 0, nf = 0;
    for (int o = lo; o < b1 && o < no && nb < 64; o++)
        if (!isnan(P[o]))
            bv[nb++] = P[o];
    for (int o = f0; o < no && nf < 64; o++)
        if (!isnan(P[o]))
            fv[nf++] = P[o];
    if (nb < 3 || nf < 3)
        return NAN;
    float b = an_percentile_f(bv, nb, 50), f = an_percentile_f(fv, nf, 60);
    if (!(f > 1.2f * b))
        return NAN;
    const float T = b + 0.4f * (f - b);
    for (int o = lo; o + L <= no; o++) {
        int k = o;
        while (k < o + L && !isnan(R[k]) && R[k] > T)
            k++;
        if (k == o + L)
            return (float)o;
    }
    return NAN;
}

/* A thinning move that takes a lesion out of the band: the spread of the
 * pixels is high across a dark lesion's edges, and the spread border then
 * lies under (or beside) the lesion, the layer it takes out holding band
 * and lesion. The fat over a fibre-less band is brighter than the band; a
 * lesion is darker. Per strip within PF_TEX_HALF_MM of the site: the
 * darkest 0.5 mm of the layer between the old top and the new one (0.1 mm
 * clear of each) against the band's level under the new top (0.1-1 mm, the
 * median over the strips); a lesion where it is PF_SPREAD_DARK_DB darker
 * over ~1 mm of strips. 10 dB: an anechoic lesion; the fat's darkest gaps
 * between septa reached 8.8 dB (at 6 dB five right thinning moves of seeds
 * 2026 / 2027 were refused, 0.1-0.5 -> 1.0-5.0 mm). off[s]: the new top's
 * offset above the deep border (grid steps). */
#define PF_SPREAD_DARK_DB 10.0f
static bool takes_out_lesion(tl_analyzer *a, const float *off, float x_site)
{
    const float sp = a->sp, q = (float)a->band_q, w = 0.5f / sp;
    float lo[AN_MAX_STRIPS], dn[AN_MAX_STRIPS];
    uint32_t n = 0;
    for (uint32_t s = 0; s < a->ns; s++) {
        if (fabsf(an_strip_x(a, s) - x_site) > PF_TEX_HALF_MM || isnan(off[s]) ||
            isnan(a->deep_fit[s]) || isnan(a->sup_fit[s]))
            continue;
        const float top = a->deep_fit[s] - off[s] * q, *m = an_sm(a, s);
        float d = an_mean(m, a->h, top + 0.1f / sp, fminf(top + 1.0f / sp, a->deep_fit[s] - 0.2f / sp));
        float l = NAN;
        for (float z = a->sup_fit[s] + 0.1f / sp; z + w <= top - 0.1f / sp; z += 0.1f / sp) {
            float v = an_mean(m, a->h, z, z + w);
            if (!isnan(v) && !(v >= l))
                l = v;
        }
        if (isnan(d) || isnan(l))
            continue;
        lo[n] = l;
        dn[n++] = d;
    }
    if (n < 3)
        return false;
    /* the band's level under the new top: the median over the strips (a
     * strip's own may still be in the lesion's blurred lower edge) */
    float band = an_percentile_f(dn, n, 50);
    int dark = 0;
    for (uint32_t k = 0; k < n; k++)
        dark += (band - lo[k]) * a->dr_db / 255.0f >= PF_SPREAD_DARK_DB;
    return (float)dark * (float)a->sw * sp >= 0.9f;
}

/* Replaces the superficial border by the spread border over the strips
 * within reach_mm of the site (the deep border stays) and remeasures the
 * band. Returns whether it found one at the site. */
bool an_pf_spread_border(tl_analyzer *a, tl_analysis_result *r, float x_site)
{
    const float reach_mm = PF_SPREAD_REACH_MM;
    const int ns = (int)a->ns, nr = a->band_nr, q = (int)a->band_q;
    const float step_mm = (float)q * a->sp;
    const int no = (int)(PF_TEX_SPAN_MM / step_mm) + 1;
    if (no > nr || no > 256 || !a->img)
        return false;
    /* the second half of band_cost is free after the band search */
    float *E = a->band_cost + (size_t)ns * (size_t)nr;
    bool near[AN_MAX_STRIPS];
    for (int s = 0; s < ns; s++) {
        float dx = fabsf(an_strip_x(a, (uint32_t)s) - x_site);
        near[s] = dx <= reach_mm;
        if (!isnan(a->deep_fit[s]) && dx <= reach_mm + PF_TEX_HALF_MM + 1.0f)
            spread_profile(a, (uint32_t)s, a->deep_fit[s], no, E + (size_t)s * (size_t)nr);
    }
    const int half = (int)lroundf(PF_TEX_HALF_MM / (a->sp * (float)a->sw));
    float off[AN_MAX_STRIPS] = { 0 }, sm[AN_MAX_STRIPS], P[256], R[256];
    int cnt[256], cnt_r[256];
    for (int s = 0; s < ns; s++) {
        off[s] = NAN;
        if (isnan(a->deep_fit[s]) || !near[s])
            continue;
        int used = 0, tot = 0;
        for (int o = 0; o < no; o++) {
            P[o] = R[o] = 0;
            cnt[o] = cnt_r[o] = 0;
        }
        for (int k = s - half; k <= s + half; k++) {
            if (k < 0 || k >= ns)
                continue;
            tot++;
            if (isnan(a->deep_fit[k]))
                continue;
            used++;
            const float *e = E + (size_t)k * (size_t)nr;
            for (int o = 0; o < no; o++)
                if (!isnan(e[o])) {
                    P[o] += window_spread(e[o]);
                    cnt[o]++;
                    if (!lesion_window(e[o])) {
                        R[o] += e[o];
                        cnt_r[o]++;
                    }
                }
        }
        if (2 * used < tot)
            continue;
        for (int o = 0; o < no; o++) {
            P[o] = 2 * cnt[o] >= used && cnt[o] > 0 ? P[o] / (float)cnt[o] : NAN;
            R[o] = 2 * cnt_r[o] >= used && cnt_r[o] > 0 ? R[o] / (float)cnt_r[o] : NAN;
        }
        off[s] = spread_top(P, R, no, step_mm);
    }
    an_pf_open_offsets(a, off);
    uint32_t sh = (uint32_t)lroundf(1.5f / (a->sp * (float)a->sw));
    an_smooth_strips(off, sm, a->ns, sh < 1 ? 1 : sh);
    float o_site = an_pf_site_offset(a, sm, x_site);
    float d_site = an_interp_strips(a->deep_fit, a->ns, a, x_site);
    float t_site = an_interp_strips(a->sup_fit, a->ns, a, x_site);
    if (isnan(o_site) || isnan(d_site) || isnan(t_site))
        return false;
    /* Trusted where it thins the band by PF_SPREAD_THIN_MM or more (the
     * failure it is for: a top in the fat pad), moves its top up by
     * PF_SPREAD_UP_MM or more (a line inside the band, a hypoechoic thick
     * fascia read thin) or by 0.3-1 mm (PF_SPREAD_UP_SMALL_MM: a top on a
     * line or step just inside the band). Upward moves of 1-3 mm are within
     * its own errors (it reads 0.5-1.5 mm high where the fat just above the
     * band has few septa). On the placed deep border, seeds 2026 / 2027 /
     * 2028 (plantar only, 300 cases), the 0.3-1 mm moves took the cases over
     * 0.35 mm from 35 / 42 / 44 to 28 / 40 / 42 (simulated from the proposed
     * moves; they also move some right tops 0.3-0.8 mm into such fat). */
    float move_mm = (d_site - o_site * (float)q - t_site) * a->sp;
    bool parallel_up = false;
    if (move_mm < -PF_SPREAD_UP_SMALL_MAX_MM && move_mm > -PF_SPREAD_UP_MM) {
        float top[AN_MAX_STRIPS];
        for (int s = 0; s < ns; s++)
            top[s] = a->deep_fit[s] - sm[s] * (float)q;
        parallel_up = fabsf(an_pf_thickness_slope(a, top, x_site)) <= PF_SPREAD_PAR_SLOPE &&
                      !(fabsf(an_pf_thickness_slope(a, a->sup_fit, x_site)) < PF_SPREAD_CROSS_SLOPE);
    }
    /* A whole stretch of septum-poor fat over the band: the site's offset
     * capped by the posterior strips' (an_plantar_fat.c); used also where
     * the spread border agrees with the top there (both read that fat). */
    const float cap = an_pf_posterior_cap(a, sm, x_site, o_site);
    const bool capped = cap < o_site && fabsf(move_mm) <= PF_FAT_AGREE_MM;
    if (!(move_mm >= PF_SPREAD_THIN_MM || move_mm <= -PF_SPREAD_UP_MM || parallel_up ||
          (move_mm <= -PF_SPREAD_UP_SMALL_MM && move_mm >= -PF_SPREAD_UP_SMALL_MAX_MM) || capped))
        return false;
    if (move_mm >= PF_SPREAD_THIN_MM && takes_out_lesion(a, sm, x_site))
        return false;
    /* one border near the site: where no step was found (a window short of
     * fat), the nearest offset found */
    for (int s = 0; s < ns; s++) {
        off[s] = NAN;
        for (int d = 0; d < ns && near[s] && isnan(off[s]); d++) {
            if (s - d >= 0 && !isnan(sm[s - d]))
                off[s] = sm[s - d];
            else if (s + d < ns && !isnan(sm[s + d]))
                off[s] = sm[s + d];
        }
    }
    an_pf_apply_cap(a, off, cap < o_site ? cap : NAN, x_site);
    for (int s = 0; s < ns; s++)
        if (!isnan(off[s]) && !isnan(a->deep_fit[s])) {
            a->sup_fit[s] = a->deep_fit[s] - off[s] * (float)q;
            a->sup_row[s] = NAN;   /* no per-strip scatter: a smoothed texture step */
        }
    int nw = r->n_warnings;
    an_band_measure(a, r);
    r->n_warnings = nw;
    return true;
}
