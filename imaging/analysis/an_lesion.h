/* Internal to tl_analysis: connected dark regions of the lesion cell map,
 * shared by the target search (an_lesion.c) and the fluid checks
 * (an_fluid.c). */
#ifndef AN_LESION_H
#define AN_LESION_H

#include "an_internal.h"

typedef struct {
    uint32_t n, s0, s1, c0, c1;
    double sx, sz;
    double sum;                /* sum of the cells' residuals (grey) */
    double raw;                /* sum of the cells' own levels */
    float zmin;                /* most significant (lowest) window z inside */
    int16_t id;                /* its label in the map */
} an_region;

/* Label the 4-connected components of cells marked 1 in lab (0 outside,
 * 2 inside but normal); every component gets a label >= 3, those of at
 * least min_cells also an entry in reg (up to max_reg). res: the
 * per-cell residual summed into an_region.sum; z (may be NULL): per-cell z
 * whose minimum goes to an_region.zmin, and then only regions with a
 * negative zmin (significant) are kept. Returns the number of regions. */
int an_label_regions(tl_analyzer *a, int16_t *lab, an_region *reg, int max_reg,
                     uint32_t min_cells, const float *res, const float *z);

/* Add a target to the result; when full, it replaces the least confident
 * one if it is more confident. */
void an_add_target(tl_analysis_result *r, const tl_analysis_target *t);

/* Grow the target search's buffers to this frame's cell map; false when
 * out of memory. */
bool an_cells_grow(tl_analyzer *a);

/* Solve the n x n system A x = b (n <= 4); false when singular. */
bool an_solve(int n, double A[4][4], double *b, double *x);

/* Box-sum tables over the band's cells (lab != 0) of v. */
void an_cells_tables(tl_analyzer *a, const int16_t *lab, const float *v);

/* Mean of the band cells in the window of half sizes (hs, hc) about (s, c);
 * NAN when less than half the window lies in the band. */
static inline float an_box_mean(const tl_analyzer *a, int s, int c, int hs, int hc)
{
    const int ns = (int)a->ns, nc = (int)a->cell_rows, W = nc + 1;
    int s0 = s - hs < 0 ? 0 : s - hs, s1 = s + hs + 1 > ns ? ns : s + hs + 1;
    int c0 = c - hc < 0 ? 0 : c - hc, c1 = c + hc + 1 > nc ? nc : c + hc + 1;
    const double *S = a->les_sum, *C = a->les_cnt;
    double n = C[(size_t)s1 * W + c1] - C[(size_t)s0 * W + c1] - C[(size_t)s1 * W + c0] +
               C[(size_t)s0 * W + c0];
    if (2.0 * n < (double)((2 * hs + 1) * (2 * hc + 1)))
        return NAN;
    double v = S[(size_t)s1 * W + c1] - S[(size_t)s0 * W + c1] - S[(size_t)s1 * W + c0] +
               S[(size_t)s0 * W + c0];
    return (float)(v / n);
}

/* Shrink R (label id) to its cells where the smoothed residual b3 is below
 * half the region's minimum (its half-maximum extent); false when nothing
 * is left. */
bool an_half_max_extent(const tl_analyzer *a, const int16_t *lab, int16_t id, const float *b3,
                        const float *res, an_region *R);

/* Robust spreads of v (reordered): (q75 - median) / 0.674 from the upper
 * half, where a dark lesion never is; (median - q25) / 0.674 from the lower
 * half, the dark tail a target must stand out of. median may be NULL. */
float an_upper_sigma(float *v, uint32_t n, float *median);
float an_lower_sigma(float *v, uint32_t n, float *median);

/* What the searches share: the band (bridged borders), its normal level
 * across the image, and the second pass's local correction to it. */
typedef struct {
    const float *sup, *deep, *lat;
    const float *loc;          /* NULL in the first pass */
    float db, strip_mm, rpc;
    uint32_t band_s0, band_s1, edge;
    bool edge_warned;
} an_pass;

/* The band's local level (second pass), as a per-strip correction loc to
 * the level across the image that res (the first pass's residual, over the
 * band cells lab != 0) is taken against; false when the band is too short
 * for one. */
bool an_local_level(const tl_analyzer *a, const int16_t *lab, const float *res, float *loc);

/* May region R (label R->id in a->label), found by the second pass with
 * residual res (against the local level P->loc), become target t? */
bool an_local_region_ok(const tl_analyzer *a, const tl_analysis_result *r, const an_pass *P,
                        const float *res, const an_region *R, const tl_analysis_target *t);

/* Is first-pass region R (contrast_db below the band) the dark layer under
 * the band that a deep border run too deep took in: along the deep border,
 * weakly dark and no darker than the tissue just under that border? */
bool an_deep_layer(const tl_analyzer *a, const an_pass *P, const an_region *R, float contrast_db);

/* How much brighter (dB) the tissue 0.25-1.5 mm under the deep border is
 * than region R over its strips (NAN when too little is seen): within
 * AN_LAYER_UNDER_DB or darker, R is that same tissue. */
#define AN_LAYER_UNDER_DB 1.0f
/* A layer of tissue taken in (muscle along the deep border, fat along the
 * superficial one) is weakly darker than the band: contrasts of -5.3 to
 * -8 dB on the tuning seeds; lesions under such borders are darker. */
#define AN_LAYER_CONTRAST_DB 8.5f
float an_under_deep_db(const tl_analyzer *a, const an_pass *P, const an_region *R);

/* In how many of its strips region R (label R->id in a->label) reaches
 * the band's superficial edge (at_sup) and its deep edge (at_deep). */
void an_region_at_borders(const tl_analyzer *a, const an_region *R, uint32_t *at_sup,
                          uint32_t *at_deep);

/* Is plantar region R (centroid depth z_mm, contrast_db below the band)
 * outside the band, its borders there not to be trusted: deeper than the
 * calcaneus's cortex beside it, weakly dark between borders under half the
 * site's thickness apart, or a layer along one border where that border
 * bulges off the band's course (an_lesion_trust.c)? */
bool an_region_off_band(const tl_analyzer *a, const tl_analysis_result *r, const an_pass *P,
                        const an_region *R, float z_mm, float contrast_db);

#endif
