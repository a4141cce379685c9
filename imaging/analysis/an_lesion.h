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

#endif
