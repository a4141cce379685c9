/* The real chain the needle evaluation and benchmark run: simulated RF
 * (tl_sim) -> B-mode (tl_imaging) -> needle detection/tracking (tl_guidance).
 * Shared by eval_needle.c and bench_needle.c only. */
#ifndef TALUS_NEEDLE_PIPELINE_H
#define TALUS_NEEDLE_PIPELINE_H

#include "tl_guidance.h"
#include "tl_imaging.h"
#include "tl_sim.h"

typedef struct {
    tl_sim *sim;
    tl_geometry geom;            /* straight */
    tl_imaging_plan *plan;       /* straight frames */
    tl_imaging_plan *plan_steered;
    tl_bmode img;                /* the last frame (both kinds share its grid) */
    float img_steer_deg;         /* the steering of the frame in img */
    /* The station's acquisition scheme (guidance/steer.c): frame k steered
     * by steer_deg unless tl_needle_scheme_frame_straight(k). */
    tl_needle_scheme scheme;
    float steer_deg;
    int16_t *rf;
    size_t rf_count;
} needle_pipe;

/* Create the simulator for preset/seed with "key=value" params (NULL-ended),
 * then the imaging plan for its geometry. On failure everything is freed
 * and a message is written to err. */
tl_status needle_pipe_open(needle_pipe *p, const char *preset, uint64_t seed,
                           const char *const *params, char *err, size_t errlen);
void needle_pipe_close(needle_pipe *p);

/* Use the needle-enhancement scheme s for a needle from `side` (+1 left,
 * -1 right) from now on (the simulated probe steers up to 30 deg); a
 * scheme with steer_deg 0 is straight frames only. */
tl_status needle_pipe_scheme(needle_pipe *p, const tl_needle_scheme *s, int side, char *err,
                             size_t errlen);

/* Render frame k (at the scheme's steering for k) and turn it into p->img
 * (p->img_steer_deg says how it was steered); truth may be NULL. */
tl_status needle_pipe_frame(needle_pipe *p, uint32_t k, tl_sim_truth *truth);

/* Probe coordinates (mm) -> image coordinates of p->img (x from the left
 * edge, z from the top). */
void needle_pipe_to_image(const needle_pipe *p, float x_mm, float z_mm, float *xi, float *zi);

#endif
