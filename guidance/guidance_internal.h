/* Internals shared by the guidance sources (not installed, not public). */
#ifndef TL_GUIDANCE_INTERNAL_H
#define TL_GUIDANCE_INTERNAL_H

#include "tl_guidance.h"

#include <stddef.h>

#define TL_DEG (3.14159265358979323846 / 180.0)

/* Hough grid: 0.5 degree angle bins; a pixel votes within +/- VOTE_TOL of its
 * own structure-tensor orientation, so horizontal fascia never votes for an
 * oblique line that merely crosses it. */
#define HOUGH_STEP_DEG 0.5f
#define HOUGH_VOTE_TOL_DEG 5.0f
#define MAX_CANDIDATES 8
#define MAX_PEAKS 128

/* A candidate line in full-resolution pixel coordinates: through (px, pz)
 * with direction angle a (radians, image axes, z down). */
typedef struct {
    double px, pz;
    double a;
    float votes;
} needle_line;

/* Growable scratch buffer (bytes); grows, never shrinks. */
typedef struct {
    void *p;
    size_t cap;
} scratch;

void *scratch_get(scratch *s, size_t bytes);

struct tl_needle_detector {
    tl_needle_params p;
    /* work (decimated) image and its statistics */
    scratch work, wvalid, resid, acc, cand /* build_work column sums */, prof;
    uint32_t ww, wh;
    int factor;
    bool hint_on;                  /* trace this line too (from the tracker) */
    float hint_x, hint_z, hint_a;  /* tip (mm, image) and angle (deg) */
    /* time (temporal.c): background of the work image, this frame's
     * difference against it and its spread */
    scratch bg, diff;
    uint32_t bg_w, bg_h, bg_n;
    int bg_f;
    bool temporal;                 /* the difference is usable this frame */
    bool first_look;               /* no background before this frame: the first,
                                      or the texture as a whole changed (restart) */
    float diff_sigma, motion_ratio;
};

/* Image statistics of the full-resolution scanned area. */
typedef struct {
    float median;
    float sigma;      /* 1.4826 * MAD, floored */
    float p1, p90, p99; /* black level, bright tissue, highlight */
} image_stats;

/* Trace a candidate line at full resolution, fit it, find the run of shaft
 * echo and its tip, and score it. Fills `out` (found is decided by the
 * caller from confidence). prof: scratch for per-step profiles. */
void needle_refine(const tl_needle_params *p, const tl_bmode *img, const image_stats *st,
                   const needle_line *cand, scratch *prof, tl_needle_detection *out,
                   float *geo_conf);
/* geo_conf: the part of the confidence that is about where the shaft is
 * (long enough, from the image edge, no bone shadow beneath, needle
 * angle), without the brightness and shape tests a faint, dotted steep
 * shaft fails; the time cue (detect.c) may stand in for those. */

/* Quick score of a Hough peak (line through work pixel (wx, wz) at angle a,
 * radians) on the work image: how needle-like it looks (screen.c). */
float needle_prescreen(const tl_needle_detector *d, double wx, double wz, double a,
                       float sigma, float work_mm);
/* Bilinear sample of a work-resolution map (screen.c). */
bool work_sample(const tl_needle_detector *d, const float *map, double x, double z, float *out);
/* Box average of a profile over +/- r samples (temporal.c). */
void profile_smooth(const float *prof, int n, int r, float *out);
/* Crop of a black canvas around the scanned area (no valid mask given). */
void needle_content_box(const tl_bmode *img, uint32_t *c0, uint32_t *c1, uint32_t *r0,
                        uint32_t *r1);

typedef struct {
    float amin, amax;      /* searched |angle| range, degrees */
    int na, nr, r0;        /* angle bins over [-amax, amax], rho bins, rho of bin 0 */
    float cx, cz;          /* rho origin (work pixels) */
    float sin_t[512], cos_t[512];
    uint8_t allowed[512];
} hough_grid;

/* hough.c */
void grid_setup(const tl_needle_params *p, const tl_needle_guide *guide, uint32_t ww,
                uint32_t wh, hough_grid *g);
void vote(tl_needle_detector *d, const hough_grid *g, float *acc, float sigma, float dark,
          int shadow_off);
int find_peaks(const float *acc, const hough_grid *g, float work_mm, const tl_needle_guide *guide,
               float img_w_mm, float img_h_mm, int max, int *pk, int *pr, float *pv);

/* parallel.c: a line above the chosen one along the beam, as bright as
 * half of it or more, with a dip between (the shaft over its own
 * reverberation copies); false when there is none. */
bool needle_shallower_line(const tl_needle_detector *d, const tl_bmode *img,
                           const tl_needle_detection *det, float work_mm, needle_line *out);

/* parallel.c: mean local residual (in units of sigma) along back_mm of the
 * line behind a tip (view mm); NAN when most of it is outside the image. */
float needle_line_level(const tl_needle_detector *d, const tl_bmode *img, float tip_x_mm,
                        float tip_z_mm, float angle_deg, float back_mm, float sigma);

/* ladder.c: a streak of new echo along the beam (a candidate near the
 * beam's direction) that is the row of a reverberation ladder's ends under
 * an advancing needle's tip: the shaft through its top, at the angle of the
 * rungs (min_deg..max_deg from the insertion side; side 0: the side the
 * streak leans away from; st: the image's levels). False when no line
 * there has a ladder beneath it. */
bool needle_ladder_shaft(const tl_bmode *img, const image_stats *st, int side,
                         const tl_needle_detection *streak, float min_deg, float max_deg,
                         needle_line *out);

/* ladder.c: when `streak` (a traced search candidate, nov its novelty) is
 * such a row of ladder ends, the shaft it implies, traced and judged like
 * any candidate (out, rank); false when it is not. */
bool ladder_try(const tl_needle_detector *d, const tl_bmode *img, const image_stats *st,
                float work_mm, const tl_needle_detection *streak, float nov, scratch *prof,
                tl_needle_detection *out, float *rank);

/* temporal.c */
void temporal_reset(tl_needle_detector *d);
/* After build_work + local_residual: difference against the background
 * (d->diff), its spread; d->temporal says whether it is usable. */
tl_status temporal_begin(tl_needle_detector *d, float resid_sigma);
/* Update the background, except within 1 mm of the kept lines (the
 * tracked and the detected needle). */
void temporal_end(tl_needle_detector *d, const needle_line *keep, int nkeep, float work_mm);
void temporal_novelty(const tl_needle_detector *d, double x0, double z0, double x1, double z1,
                      float work_mm, float tail_mm, float *all, float *tail, float *twin,
                      float *twin_shallow, float *side);
/* Where the change along the line from (x0, z0) through (x1, z1) ends
 * (full-resolution pixels); false without a usable change. rest (may be
 * NULL): the mean change (robust sigmas) from that end to (x1, z1), 0 when
 * the end lies at or beyond it: whether what the line runs on along is
 * static (learned anatomy, ~0-1) or still new echo. */
bool temporal_tip(const tl_needle_detector *d, double x0, double z0, double x1, double z1,
                  float work_mm, double *tx, double *tz, float *rest);
/* temporal_trace.c: the candidate traced in the difference alone (entry,
 * tip, angle, length; confidence = "comes from the image edge"); false
 * when there is no run of new echo of min_len_mm along it. */
bool temporal_trace(const tl_needle_detector *d, const needle_line *cand, float work_mm,
                    float min_len_mm, tl_needle_detection *out);
/* from this novelty a candidate counts as wholly new (needle-free frames
 * candidates reach ~1.9) */
#define NOVELTY_FULL 2.6f
/* novelty.c: the time cue's verdict on a traced candidate det (geo: its
 * position score); sets det's confidence, reason and tip, returns its
 * novelty (robust sigmas) and its rank among candidates in *rank. */
float novelty_gate(const tl_needle_detector *d, const tl_bmode *img, float work_mm,
                   bool is_hint, float geo, tl_needle_detection *det, float *rank);
/* novelty.c: the time cue's evidence on a reported line (its change,
 * tl_needle_detection.change): NAN without a usable cue or a traced line.
 * is_hint: the tracked line (its own shadow beneath it is no twin). */
float novelty_of_line(const tl_needle_detector *d, const tl_bmode *img, float work_mm,
                      bool is_hint, const tl_needle_detection *det);
/* novelty.c: a candidate too faint for the single-image trace, traced in
 * the difference alone; replaces det/rank when it ranks higher. */
void time_trace(const tl_needle_detector *d, const tl_bmode *img, float work_mm,
                bool is_hint, const needle_line *cand, tl_needle_detection *det,
                float *rank);

/* The k-th smallest of v[0..n) (select.c: the same value as
 * tl_select_kth_f, faster on speckle); v is left permuted. */
float select_kth(float *v, size_t n, size_t k);

static inline float median_inplace(float *v, size_t n)
{
    return n ? select_kth(v, n, n / 2) : 0.0f;
}

/* The per-step loops get a runtime-dispatched AVX2 clone: floor() is one
 * instruction there (SSE4.1) instead of ~18, conversions and the vector
 * loops are wider. The same IEEE operations in the same order (no FMA:
 * -std=c11 keeps contraction off), so the same results to the bit. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GD_CLONES
#endif

/* fmaxf / fminf exactly as libm computes them on x86-64 (maxss / minss:
 * x when x > y (x < y), else y; the other operand when one is NaN), but
 * inline: without -ffinite-math-only GCC emits a library call for each,
 * which cost ~4% of a whole-image search in the per-step profile loops. */
static inline float gd_maxf(float x, float y)
{
    return x > y ? x : (y == y ? y : x);
}

static inline float gd_minf(float x, float y)
{
    return x < y ? x : (y == y ? y : x);
}

static inline float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

#endif
