/* Synthetic B-mode images for the analysis tests: layered tissue with
 * log-compressed speckle, a bright band, bone with shadow, dark ellipses. */
#ifndef TEST_ANALYSIS_SYNTH_H
#define TEST_ANALYSIS_SYNTH_H

#include "tl_analysis.h"
#include "tl_imaging.h"

typedef struct {
    float cx, cz, w, d, contrast_db;   /* mm, dB */
} synth_ellipse;

typedef struct {
    uint32_t width, height;
    float spacing_mm;
    uint64_t seed;
    float band_top_mm, band_thick_mm;   /* at the left edge */
    float band_slope;                   /* dz/dx of the band */
    float bump_mm, bump_x_mm, bump_w_mm; /* + bump * exp(-((x - bump_x) / bump_w)^2) */
    float aniso_db_per_deg2, aniso_max_db;  /* band darkening with its angle (anisotropy) */
    float band_thick_slope;             /* change of thickness per mm of x */
    float band_db, fat_db, deep_db;     /* echo levels (dB below the top of the range) */
    float bone_z_mm;                    /* 0: none */
    float bone_x0_mm, bone_x1_mm;       /* lateral extent of the bone */
    int n_ell;
    synth_ellipse ell[4];
    /* ankle: two bones, a notch with fluid */
    bool ankle;
    float fluid_depth_mm;
} synth_spec;

synth_spec synth_default(void);
/* Fills img (allocates pixels with malloc; free img->pixels). */
void synth_render(const synth_spec *s, tl_bmode *img);
/* Render s and analyse it as `anatomy` with default parameters (a cmocka
 * failure if the analysis errs); TL_TEST_VERBOSE=1 prints the result. */
tl_analysis_result synth_analyze(const synth_spec *s, int anatomy);

#endif
