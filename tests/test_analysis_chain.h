/* The real chain for the analysis tests: one simulator frame -> imaging ->
 * tl_analyze, with the simulator's truth. */
#ifndef TEST_ANALYSIS_CHAIN_H
#define TEST_ANALYSIS_CHAIN_H

#include "tl_analysis.h"
#include "tl_sim.h"

typedef struct {
    const char *key, *value;
} kv;

/* Render frame 0 of preset (seed, params) as the station images it and
 * analyse it as anatomy (age 50, 'F'). Returns the truth (free() it); the
 * image origin (mm, truth coordinates of the image's top-left corner) in
 * *ox, *oz when not NULL. TL_TEST_DUMP=DIR writes the frame, its valid mask
 * and spacing; TL_TEST_VERBOSE=1 prints the thickness. A cmocka failure on
 * any error. */
tl_sim_truth *chain_run(const char *preset, int anatomy, uint64_t seed, const kv *par, int npar,
                        tl_analysis_result *r, float *ox, float *oz);
/* Truth border (kind, a tl_boundary_kind) depth at image x, in image mm;
 * NAN where it does not reach. */
float chain_truth_z(const tl_sim_truth *t, int kind, float ox, float oz, float x_mm);
/* A polyline's z at x (linear between points), NAN outside it. */
float chain_poly_z(const tl_analysis_polyline *pl, float x_mm);

#endif
