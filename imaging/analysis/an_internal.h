/* Internal to tl_analysis: the per-frame workspace and the steps shared by
 * the anatomy-specific analyses. */
#ifndef AN_INTERNAL_H
#define AN_INTERNAL_H

#include "tl_analysis.h"

#include <math.h>

/* Columns are averaged into vertical strips about 0.5 mm wide: that tames
 * speckle while keeping the lateral detail lesions need, and keeps every
 * later step proportional to strips x rows instead of pixels. */
#define AN_STRIP_MM 0.5f
#define AN_MAX_STRIPS 1024
/* Lesion map cells: one strip wide, AN_CELL_MM tall. */
#define AN_CELL_MM 0.25f

struct tl_analyzer {
    /* Band border search (an_band.c): interface map and path DP buffers. */
    uint32_t band_q;               /* rows per grid step */
    int band_nr, band_maxstep;     /* grid rows; max path step per strip */
    float band_strength;           /* mean strength along the weaker border */
    float *band_is;                /* ns x nr interface strength */
    int8_t *band_sign;             /* ns x nr: 2 line, +1/-1 step darker above/below */
    float *band_cost;              /* 2 x nr */
    int16_t *band_from;            /* ns x nr */
    size_t band_cap;
    uint32_t cap_strips, cap_rows, cap_cells;
    /* Current frame. */
    const tl_bmode *img;           /* its pixels: set by an_prepare, valid during tl_analyze */
    uint32_t w, h, sw, ns, nr;     /* image size, strip width px, strips, rows */
    float sp;                      /* mm per pixel */
    float dr_db;                   /* display dynamic range (grey 255 = dr_db) */
    float *prof;                   /* ns x h strip means, NAN where invalid */
    float *sm;                     /* ns x h, vertically smoothed (edges) */
    float *tmp;                    /* 8 h (an_strip_profiles; h elsewhere) */
    double *cum;                   /* 4 (h + 1) prefix sums (h + 1 elsewhere) */
    /* Per strip. */
    float bone_row[AN_MAX_STRIPS];     /* cortex surface; NAN: no bone in this strip */
    float bone2_row[AN_MAX_STRIPS];
    float bone_top[AN_MAX_STRIPS];     /* top of the cortex echo (grey half level) */
    bool bone_line[AN_MAX_STRIPS];     /* a cortex line (not just a shadow edge) */
    float sup_row[AN_MAX_STRIPS];      /* band borders (raw, per strip) */
    float deep_row[AN_MAX_STRIPS];
    float sup_fit[AN_MAX_STRIPS];      /* smoothed across strips */
    float deep_fit[AN_MAX_STRIPS];
    /* Lesion map: ns x ncell_rows cells of AN_CELL_MM. */
    uint32_t cell_rows;
    float *cell;                   /* mean grey per cell */
    int16_t *label;                /* connected components */
    int32_t *stack;
    /* Target search (an_lesion.c): per-cell residual and best z, box-sum
     * tables; grown there on the first frame of a size. */
    float *les_res, *les_z;
    double *les_sum, *les_cnt;
    size_t les_cap;
};

/* Runtime-dispatched AVX2 clones of the hot kernels (floor and ceil are
 * one instruction there, vectors twice as wide); the same IEEE operations
 * in the same order (-std=c11 keeps FMA contraction off): same results. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define AN_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define AN_CLONES
#endif

/* Branch-light min/max for hot loops (libm's fmaxf is a call here). */
static inline float an_maxf(float a, float b) { return a > b ? a : b; }
static inline float an_minf(float a, float b) { return a < b ? a : b; }

/* Strip centre in image mm. */
static inline float an_strip_x(const tl_analyzer *a, uint32_t s)
{
    return ((float)s * (float)a->sw + 0.5f * (float)(a->sw - 1)) * a->sp;
}

static inline float *an_prof(tl_analyzer *a, uint32_t s) { return a->prof + (size_t)s * a->h; }
static inline float *an_sm(tl_analyzer *a, uint32_t s) { return a->sm + (size_t)s * a->h; }

/* The grey level of a step's edge between grey levels g1 and g2 of an image
 * log-compressed over dr_db (255 grey = dr_db): where the echo amplitude is
 * halfway between the two sides. */
static inline float an_amp_mid(float g1, float g2, float dr_db)
{
    const float k = dr_db / 255.0f / 20.0f * 2.302585f;   /* grey -> ln amplitude */
    float lo = an_minf(g1, g2), hi = an_maxf(g1, g2);
    return hi + logf(0.5f * (1.0f + expf((lo - hi) * k))) / k;
}

/* an_kernels.c: strip means of one row (valid: NULL or that row's mask;
 * NAN where fewer than half the strip's pixels are valid), and two passes
 * of a box filter of half width k over h rows (NAN as 0). */
void an_row_strip_means(const uint8_t *px, const uint8_t *vm, uint32_t width, uint32_t ns,
                        uint32_t sw, float *out);
void an_box2(const float *in, float *out, float *tmp, double *cum, uint32_t h, uint32_t k);
/* For every strip: the profile smoothed by an_box2 into sm, and the
 * lesion-map cells (mean of the valid rows of each cell) into cell, from
 * the same prefix sums, four strips at a time. cum: 4 (h + 1) doubles, tmp:
 * 8 h floats. */
void an_strip_profiles(const float *prof, float *sm, float *cell, uint32_t ns, uint32_t h,
                       uint32_t k, uint32_t cell_rows, float rows_per_cell, double *cum,
                       float *tmp);

/* an_profile.c */
tl_status an_prepare(tl_analyzer *a, const tl_bmode *img);
float an_mean(const float *p, uint32_t h, float r0, float r1);   /* mean over rows [r0, r1), NAN-safe */
float an_median_rows(const float *p, uint32_t h, float r0, float r1, float *scratch);
/* image_depth: the shadow test ends at the image's depth (its last valid
 * row), not at the frame's bottom (plantar only so far: see an_profile.c) */
void an_find_bone(tl_analyzer *a, float min_depth_mm, bool image_depth);
/* on_bone_mm > 0: where the band runs over flat bone its deep border lies
 * within on_bone_mm above limit_row, and it is found first. */
void an_find_band(tl_analyzer *a, float min_depth_mm, float max_thick_mm, float top_max_mm,
                  const float *limit_row, float on_bone_mm);
void an_band_smooth_top(tl_analyzer *a, float min_depth_mm, float max_thick_mm, float *top_out);

/* an_tilt.c */
float an_band_coherence(tl_analyzer *a, const float *top, const float *deep, float x_mm, float half_mm);
void an_texture(tl_analyzer *a, uint32_t s, float r0, float r1, float *energy, float *level);
void an_smooth_strips(const float *in, float *out, uint32_t n, uint32_t half);
float an_interp_strips(const float *v, uint32_t n, const tl_analyzer *a, float x_mm);
void an_polyline(const tl_analyzer *a, const float *rows, tl_analysis_polyline *pl);
float an_percentile_f(float *v, uint32_t n, float p); /* in-place partial sort */
/* Two percentiles of the same values for about the cost of one and a half
 * (the second is selected on the side of v the first left it on). */
void an_percentile_pair(float *v, uint32_t n, float p1, float p2, float *out1, float *out2);

/* an_lesion.c */
void an_find_targets(tl_analyzer *a, const tl_analysis_params *p, tl_analysis_result *r);

/* an_fluid.c */
void an_find_fluid(tl_analyzer *a, const tl_analysis_params *p, tl_analysis_result *r,
                   const float *trend);
void an_effusion_gate(tl_analysis_result *r);
/* The smallest effusion (depth mm over the recess floor): a thinner film is
 * what the cartilage surface, the capsule's partial volume and a normal
 * joint show (grade-0 joints read 0.6-0.9 mm), not an effusion. */
#define AN_EFFUSION_MIN_DEPTH_MM 1.0f
/* EULAR-OMERACT grade 0-3 from the effusion's depth (design.md gives no
 * validated mm cut-off: 1.0 mm is the detection floor above, 2.6 and 4.8 mm
 * stand in for "above the bony joint line" and "distending the capsule"). */
int an_effusion_grade(float depth_mm);

/* an_achilles.c: the tilted tendon as two parallel straight lines (rows per
 * strip; the angle in deg), and the Achilles analysis's use of it: replaces
 * the band found when it has no fibre echoes and the lines are tilted;
 * line_top (ns rows) gets the fitted top line before its clip at the
 * dermis (valid only when it returns true). */
bool an_ach_tilted(tl_analyzer *a, tl_analysis_result *r, float min_depth_mm, float top_max_mm,
                   float max_thick_mm, float *line_top);
/* The free search's deep border dipping onto a septum of Kager's fat for a
 * few mm, bridged (an_achilles.c); true when it was. */
bool an_ach_deep_dip(tl_analyzer *a);
bool an_ach_straight(tl_analyzer *a, float min_depth_mm, float top_max_mm, float max_thick_mm,
                     float *theta_deg, float *top_row, float *deep_row);

/* an_plantar.c */
void an_plantar(tl_analyzer *a, const tl_analysis_params *p, tl_analysis_result *r);
/* an_plantar_deep.c (plantar only; an_plantar.c says when): cortex-top
 * spikes evened out; the insertion edge found with the bone surface's
 * slope taken out (x0 when none); the deep border over the calcaneus from
 * its cortex (fibrillar: only where the found one is off), and in front of
 * the insertion. */
void an_pf_despike_bone(tl_analyzer *a);
/* the side of x_site without bone within 8 mm (+1: right): anterior */
int an_pf_anterior_dir(const tl_analyzer *a, float x_site);
/* least-squares line z = c + k * dx (rows) through the strips of z with
 * dx = (x - x0) * dir in [lo_mm, hi_mm]; returns the strip count, 0 when
 * they fix no line */
int an_pf_line_before(const tl_analyzer *a, const float *z, float x0, int dir, float lo_mm, float hi_mm,
                      double *k, double *c);
float an_pf_tilted_edge(tl_analyzer *a, float x0);
bool an_pf_deep_on_bone(tl_analyzer *a, float x_site, bool fibrillar);
void an_pf_anterior_deep_border(tl_analyzer *a, float x_site, float site_mm);
/* The deep border put back on its line where it bulged up onto a lesion's
 * lower edge near x_site; returns whether it did (remeasure the band). */
bool an_pf_deep_under_lesion(tl_analyzer *a, float x_site);
/* an_plantar_tilt.c: a band that a tilted fascia crosses (not on the bone
 * behind x_site, or its top off the cortex's course) replaced by one
 * seeded along the cortex; returns whether it did (remeasure, find the
 * site again), the band found and r then saved in *found. The state the
 * plantar measurement changes (borders, bone, r), swapped with a saved
 * one; the fat's roughness over the fibre-less band under the top at x
 * (texture energy ratio, +/-1 mm). */
typedef struct {
    float sup_fit[AN_MAX_STRIPS], deep_fit[AN_MAX_STRIPS], sup_row[AN_MAX_STRIPS],
        deep_row[AN_MAX_STRIPS], bone_row[AN_MAX_STRIPS], bone_top[AN_MAX_STRIPS];
    tl_analysis_result r;
    bool absent;   /* the band found was not on the bone behind x_site */
} an_pf_band;
bool an_pf_band_along_bone(tl_analyzer *a, const tl_analysis_result *r, float x_site,
                           an_pf_band *found);
void an_pf_band_swap(tl_analyzer *a, tl_analysis_result *r, an_pf_band *b);
float an_pf_fat_contrast(tl_analyzer *a, float x);
/* an_bump.c: the run of strips where border z stands off its fit by
 * min_mm or more (dir +1: deeper, -1: shallower) nearest x_site (starting
 * within 3 mm of it), extended while off by over 0.25 mm, at most max_w_mm
 * wide, with strips used by the fit (use) over 2 mm either side; false
 * when there is none. */
#define AN_BUMP_FLANK_MM 2.0f  /* border on the fit this far either side (an_border_bump) */
bool an_border_bump(const tl_analyzer *a, const float *z, const float *fit, const bool *use, float x_site,
                    int dir, float min_mm, float max_w_mm, int *lo, int *hi);
/* an_plantar_top.c: puts the superficial border back on the fascia's curve
 * where it dipped onto a lesion's upper edge near x_site (remeasures the
 * band); returns whether it did. */
bool an_plantar_top_over_lesion(tl_analyzer *a, tl_analysis_result *r, float x_site);
/* the slope (mm/mm) of the band thickness a top (rows per strip) gives
 * over the deep border, 5 mm posterior to 1 mm anterior of x_site (NAN: too
 * few strips): near 0 when the top runs parallel to the deep border */
float an_pf_thickness_slope(const tl_analyzer *a, const float *top, float x_site);
/* an_plantar_fat.c: upward bumps of the spread border's per-strip offsets
 * (a septum gap in the fat over the band) taken out, in place. */
void an_pf_open_offsets(const tl_analyzer *a, float *off);
/* The fibre-less band's top placed at pixel level near the site from the
 * spread of the pixels (an_plantar_spread.c); returns whether it moved it. */
bool an_pf_spread_border(tl_analyzer *a, tl_analysis_result *r, float x_site);
/* the offset at the site, else the nearest strip's within 2.5 mm (NAN: none) */
float an_pf_site_offset(const tl_analyzer *a, const float *sm, float x_site);
/* the site's offset o_site capped at a low percentile of the offsets sm
 * posterior of the site, where that lowers it by 0.3 mm or more (grid
 * steps, as sm) */
float an_pf_posterior_cap(const tl_analyzer *a, const float *sm, float x_site, float o_site);
/* where the spread border's site offset agrees with the top there within
 * this, the cap is used even where its own move is not */
#define PF_FAT_AGREE_MM 0.2f
/* off near x_site lowered to cap (no-op where cap is not lower) */
void an_pf_apply_cap(const tl_analyzer *a, float *off, float cap, float x_site);

/* an_anatomy.c: the band over the bone found by an_find_bone (its deep
 * border search ends gap_mm above the cortex echo's top), the x of the
 * bone run's insertion edge (NAN: no bone), the band's echo against the
 * tissue above it (dB). */
void an_band_over_bone(tl_analyzer *a, float min_depth_mm, float max_thick_mm, float top_max_mm,
                       float gap_mm, float on_bone_mm);
float an_insertion_edge(tl_analyzer *a);
float an_band_vs_above(tl_analyzer *a, const tl_analysis_params *p);
void an_achilles(tl_analyzer *a, const tl_analysis_params *p, tl_analysis_result *r);
void an_ankle(tl_analyzer *a, const tl_analysis_params *p, tl_analysis_result *r);
void an_band_measure(tl_analyzer *a, tl_analysis_result *r);
float an_thickness_at(tl_analyzer *a, float x_mm, float *sd_mm, float *z_mm);

/* analysis.c */
void an_warn(tl_analysis_result *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
