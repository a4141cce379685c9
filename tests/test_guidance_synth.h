/* Synthetic B-mode scenes for the guidance tests: speckle (a blurred complex
 * Gaussian field, log-compressed like a scanner does), a needle with a
 * reverberation tail, and bright linear anatomy as distractors. Drawn in the
 * envelope domain, so brightness relations are those of real echoes. */
#ifndef TEST_GUIDANCE_SYNTH_H
#define TEST_GUIDANCE_SYNTH_H

#include "tl_imaging.h"

typedef struct {
    uint32_t width, height;
    float spacing_mm;
    uint64_t seed;
    /* needle (drawn when needle_amp > 0) */
    float needle_amp;          /* peak echo, in units of the tissue's rms echo */
    float entry_x_mm, entry_z_mm, tip_x_mm, tip_z_mm;
    int reverb;                /* reverberation copies below the shaft */
    /* distractors */
    bool fascia;               /* thick bright fibrillar band, near horizontal */
    bool bone;                 /* bright curved cortex with an acoustic shadow */
    bool tendon;               /* fibrillar band with fibres tilted by 5 degrees */
    float gain;                /* multiplies the displayed grey (1 = as drawn) */
    float offset;              /* added to the displayed grey */
} synth_scene;

synth_scene synth_default(void);

/* Fill img (pixels allocated here with malloc; free with synth_free). */
int synth_render(const synth_scene *s, tl_bmode *img);
void synth_free(tl_bmode *img);

/* img = src (img's own size) plus a little fresh noise for frame (a live
 * image is never bit-identical from frame to frame). */
void synth_jitter(tl_bmode *img, const uint8_t *src, uint32_t frame);

#endif
