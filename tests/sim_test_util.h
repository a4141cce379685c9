/* Helpers shared by the hw-sim tests (header-only, static functions). */
#ifndef SIM_TEST_UTIL_H
#define SIM_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "tl_sim.h"

typedef struct {
    tl_geometry g;
    int16_t *rf;
    float *env;
    tl_sim_truth truth;
    tl_sim *sim;             /* destroyed by simt_free */
} simt_frame;

/* Render frame `frame` of preset with params "k=v" (NULL-terminated list);
 * fails the test on any error. Returns the simulator (owned by f). */
static inline tl_sim *simt_render(simt_frame *f, const char *preset, uint64_t seed, uint32_t frame,
                           ...)
{
    tl_sim *sim = NULL;
    assert_int_equal(tl_sim_create(preset, seed, &sim), TL_OK);
    va_list ap;
    va_start(ap, frame);
    const char *kv;
    while ((kv = va_arg(ap, const char *)) != NULL)
        assert_int_equal(tl_sim_set_param(sim, kv, NULL), TL_OK);
    va_end(ap);
    assert_int_equal(tl_sim_get_geometry(sim, &f->g), TL_OK);
    size_t n = (size_t)f->g.lines * f->g.samples;
    f->rf = malloc(n * sizeof(int16_t));
    f->env = malloc(n * sizeof(float));
    assert_non_null(f->rf);
    assert_non_null(f->env);
    assert_int_equal(tl_sim_render(sim, frame, f->rf, n, &f->truth), TL_OK);
    assert_int_equal(tl_sim_envelope(f->rf, f->g.lines, f->g.samples, f->env), TL_OK);
    f->sim = sim;
    return sim;
}

static inline void simt_free(simt_frame *f)
{
    free(f->rf);
    free(f->env);
    tl_sim_destroy(f->sim);
    f->sim = NULL;
    f->rf = NULL;
    f->env = NULL;
}

static inline const tl_sim_boundary *simt_boundary(const tl_sim_truth *t, tl_boundary_kind k)
{
    for (uint32_t i = 0; i < t->n_boundaries; i++)
        if (t->boundaries[i].kind == k)
            return &t->boundaries[i];
    return NULL;
}

/* z of a boundary polyline at x (linear interpolation), NAN outside. */
static inline float simt_boundary_z(const tl_sim_boundary *b, float x)
{
    for (uint32_t i = 0; i + 1 < b->n; i++) {
        float x0 = b->x_mm[i], x1 = b->x_mm[i + 1];
        if ((x >= x0 && x <= x1) || (x >= x1 && x <= x0)) {
            float t = x1 != x0 ? (x - x0) / (x1 - x0) : 0.0f;
            return b->z_mm[i] + t * (b->z_mm[i + 1] - b->z_mm[i]);
        }
    }
    return NAN;
}

/* Sub-sample offset of a peak at k by a parabola through k-1, k, k+1. */
static inline float simt_parabolic(const float *e, uint32_t k)
{
    float a = e[k - 1], b = e[k], c = e[k + 1];
    float d = a - 2.0f * b + c;
    return d != 0.0f ? 0.5f * (a - c) / d : 0.0f;
}

#endif
