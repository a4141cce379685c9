/* Tissue-analysis tests through the real chain: simulator RF -> imaging
 * -> analysis (header-only, static functions; test_analysis_borders.c,
 * test_analysis_ankle.c). */
#ifndef TEST_ANALYSIS_SIMRUN_H
#define TEST_ANALYSIS_SIMRUN_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_analysis.h"
#include "tl_imaging.h"
#include "tl_sim.h"

typedef struct {
    const char *key, *value;
} kv;

/* Render one frame of preset with params, image it as the station does and
 * analyse it; returns the simulator's truth thickness. truth_out (may be
 * NULL): the whole truth; ox, oz (may be NULL): the image origin (mm), to
 * take the truth's probe coordinates to the result's image coordinates. */
static float run_full(const char *preset, int anatomy, uint64_t seed, const kv *par, int npar,
                      tl_analysis_result *r, tl_sim_truth *truth_out, float *ox, float *oz)
{
    tl_sim *sim = NULL;
    assert_int_equal(tl_sim_create(preset, seed, &sim), TL_OK);
    for (int i = 0; i < npar; i++)
        assert_int_equal(tl_sim_set_param(sim, par[i].key, par[i].value), TL_OK);
    tl_geometry g;
    assert_int_equal(tl_sim_get_geometry(sim, &g), TL_OK);
    size_t n = (size_t)g.lines * g.samples;
    int16_t *rf = malloc(n * sizeof *rf);
    tl_sim_truth *truth = calloc(1, sizeof *truth);
    assert_non_null(rf);
    assert_non_null(truth);
    assert_int_equal(tl_sim_render(sim, 0, rf, n, truth), TL_OK);
    tl_sim_destroy(sim);
    tl_imaging_params ip = tl_imaging_params_default();
    tl_imaging_plan *plan = NULL;
    assert_int_equal(tl_imaging_plan_create(&g, TL_IMAGE_RF_REAL, &ip, &plan), TL_OK);
    tl_bmode img;
    assert_int_equal(tl_imaging_bmode_alloc(plan, &img), TL_OK);
    tl_frame f;
    memset(&f, 0, sizeof f);
    f.geom = g;
    f.type = TL_IMAGE_RF_REAL;
    f.data = rf;
    f.data_bytes = n * sizeof *rf;
    assert_int_equal(tl_imaging_execute(plan, &f, &img, NULL), TL_OK);
    tl_imaging_plan_destroy(plan);
    tl_analyzer *a = NULL;
    assert_int_equal(tl_analyzer_create(&a), TL_OK);
    tl_analysis_params p = tl_analysis_params_default(anatomy);
    p.age_years = 50;
    p.sex = 'F';
    assert_int_equal(tl_analyze(a, &img, &p, r), TL_OK);
    tl_analyzer_destroy(a);
    const char *dump = getenv("TL_TEST_DUMP");   /* a directory: the frames, for eyes */
    if (dump) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s_%llu.png", dump, preset, (unsigned long long)seed);
        assert_int_equal(tl_png_write(path, img.pixels, img.width, img.height, img.stride, 1), TL_OK);
        snprintf(path, sizeof path, "%s/%s_%llu_valid.png", dump, preset, (unsigned long long)seed);
        if (img.valid)
            assert_int_equal(tl_png_write(path, img.valid, img.width, img.height, img.stride, 1), TL_OK);
        snprintf(path, sizeof path, "%s/%s_%llu.txt", dump, preset, (unsigned long long)seed);
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        fprintf(fp, "spacing_mm %.6f origin_x_mm %.4f origin_z_mm %.4f\n", img.spacing_mm,
                img.origin_x_mm, img.origin_z_mm);
        fclose(fp);
    }
    if (ox)
        *ox = img.origin_x_mm;
    if (oz)
        *oz = img.origin_z_mm;
    tl_bmode_free(&img);
    free(rf);
    float t = truth->thickness_mm;
    if (truth_out)
        *truth_out = *truth;
    free(truth);
    if (getenv("TL_TEST_VERBOSE"))
        printf("%s seed %llu: truth %.2f found %d thickness %.2f\n", preset,
               (unsigned long long)seed, t, r->structure_found, r->thickness_mm);
    return t;
}

/* The simulator seed of `talus eval tissue --seed S` case K of one anatomy:
 * that case's speckle (apps/talus/eval_tissue_case.c draws it first, with
 * this same mixing), so a test can rebuild an eval case exactly. */
static inline uint64_t simrun_eval_sim_seed(uint64_t eval_seed, uint64_t index, int anatomy)
{
    tl_rng r;
    tl_rng_seed(&r, eval_seed * 0x9E3779B97F4A7C15ull + index * 0xBF58476D1CE4E5B9ull + (uint64_t)anatomy);
    return tl_rng_next(&r);
}

/* Truth border (kind) depth at image x, in image mm (origin ox, oz). */
static inline float simrun_truth_z(const tl_sim_truth *t, int kind, float ox, float oz, float x)
{
    for (uint32_t b = 0; b < t->n_boundaries; b++)
        if ((int)t->boundaries[b].kind == kind)
            return tl_polyline_z(t->boundaries[b].x_mm, t->boundaries[b].z_mm, t->boundaries[b].n,
                                 x + ox) - oz;
    return NAN;
}

static inline float run(const char *preset, int anatomy, uint64_t seed, const kv *par, int npar,
                        tl_analysis_result *r)
{
    return run_full(preset, anatomy, seed, par, npar, r, NULL, NULL, NULL);
}

/* Append the "key=value key=value" pairs of a scene string (as `talus
 * eval tissue --verbose` prints a case's params) to par[np..max): buf is
 * cut up in place and must outlive par. Returns the new count. */
static inline int simrun_parse_scene(char *buf, kv *par, int np, int max)
{
    char *save = NULL;
    for (char *tok = strtok_r(buf, " ", &save); tok && np < max; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        assert_non_null(eq);
        *eq = '\0';
        par[np++] = (kv){ tok, eq + 1 };
    }
    return np;
}

/* Run a plantar scene (par[0..np)) on simulator seed and return, at the
 * site it measured, how far its top border lies from the truth's (mm;
 * positive: too deep, the band read thin) and its thickness error (mm).
 * r (may be NULL): the result. */
static inline void simrun_plantar_errors(uint64_t seed, const kv *par, int np, float *top_err,
                                         float *thickness_err, tl_analysis_result *r)
{
    tl_analysis_result own;
    tl_analysis_result *res = r ? r : &own;
    float ox, oz;
    tl_sim_truth *t = calloc(1, sizeof *t);
    assert_non_null(t);
    run_full("plantar-fascia", TL_AN_PLANTAR_FASCIA, seed, par, np, res, t, &ox, &oz);
    assert_true(res->structure_found);
    const float xs = res->site_x_mm;
    *top_err = tl_polyline_z(res->superficial.x_mm, res->superficial.z_mm, res->superficial.n, xs) -
               simrun_truth_z(t, TL_BOUNDARY_FASCIA_SUPERFICIAL, ox, oz, xs);
    *thickness_err = res->thickness_mm - t->thickness_mm;
    free(t);
}

#endif
