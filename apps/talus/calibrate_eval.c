/* talus calibrate eval [--cases N] [--seed S] [--frames F] [--json]
 *
 * Accuracy of the four procedures over randomised simulated cases: random
 * probe errors, random simulator seeds, frames rendered by the physics
 * simulator directly (the USB path is exercised by the procedures
 * themselves; here the algorithms are measured). Prints median / p95 of each
 * error and how many cases met the bounds. */
#include "calibrate.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    tl_sim *sim;
    tl_geometry g;
    int16_t *rf;
    float *env;
    tl_sim_truth *truth;
} ev_scene;

static int ev_open(ev_scene *s, const char *preset, uint64_t seed, char params[][64], int np)
{
    memset(s, 0, sizeof *s);
    if (tl_sim_create(preset, seed, &s->sim) != TL_OK)
        return 1;
    for (int i = 0; i < np; i++)
        if (tl_sim_set_param(s->sim, params[i], NULL) != TL_OK) {
            fprintf(stderr, "talus calibrate eval: bad simulator parameter %s\n", params[i]);
            return 1;
        }
    tl_sim_get_geometry(s->sim, &s->g);
    size_t n = (size_t)s->g.lines * s->g.samples;
    s->rf = malloc(n * sizeof *s->rf);
    s->env = malloc(n * sizeof *s->env);
    s->truth = malloc(sizeof *s->truth);
    return s->rf && s->env && s->truth ? 0 : 1;
}

static const float *ev_env(ev_scene *s, uint32_t k)
{
    size_t n = (size_t)s->g.lines * s->g.samples;
    if (tl_sim_render(s->sim, k, s->rf, n, s->truth) != TL_OK)
        return NULL;
    tl_frame f = { .geom = s->g, .type = TL_IMAGE_RF_REAL, .data = s->rf, .data_bytes = n * 2 };
    return tl_cal_envelope(&f, s->env) == TL_OK ? s->env : NULL;
}

static void ev_close(ev_scene *s)
{
    tl_sim_destroy(s->sim);
    free(s->rf);
    free(s->env);
    free(s->truth);
}

static void stat_add(cJSON *o, const char *name, double *v, int n)
{
    cJSON *s = cJSON_AddObjectToObject(o, name);
    cJSON_AddNumberToObject(s, "median", round(tl_median(v, (size_t)n) * 1e4) / 1e4);
    cJSON_AddNumberToObject(s, "p95", round(tl_percentile(v, (size_t)n, 95) * 1e4) / 1e4);
    double mx = 0;
    for (int i = 0; i < n; i++)
        mx = fmax(mx, v[i]);
    cJSON_AddNumberToObject(s, "max", round(mx * 1e4) / 1e4);
}

int cal_cmd_eval(int argc, char **argv)
{
    int cases = 20;
    uint64_t seed = 1;
    uint32_t frames = 4;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: talus calibrate eval [--cases N] [--seed S] [--frames F] [--json]\n"
                   "  Randomised simulated cases per procedure (default 20, 4 frames each):\n"
                   "  spatial (sos error -4..4 %%, lateral offset -1..1 mm), elements (0-4\n"
                   "  dead, 0-3 weak), uniformity (gain tilt -8..8 dB), needle guide\n"
                   "  (20..60 deg). Prints median / p95 / max of each error.\n");
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--cases") == 0 && i + 1 < argc) {
            cases = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--frames") == 0 && i + 1 < argc) {
            frames = (uint32_t)atoi(argv[++i]);
        } else {
            fprintf(stderr, "talus calibrate eval: unexpected '%s'\n", argv[i]);
            return 2;
        }
    }
    if (cases < 1 || cases > 1000 || frames < 1 || frames > 64) {
        fprintf(stderr, "talus calibrate eval: --cases 1..1000, --frames 1..64\n");
        return 2;
    }
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    double *a = calloc((size_t)cases, sizeof *a), *b = calloc((size_t)cases, sizeof *b),
           *c = calloc((size_t)cases, sizeof *c);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "cases", cases);
    cJSON_AddNumberToObject(root, "seed", (double)seed);
    cJSON_AddNumberToObject(root, "frames", frames);
    int rc = 0;

    /* spatial */
    int ok = 0;
    for (int i = 0; i < cases && rc == 0; i++) {
        double e = tl_rng_range(&rng, -4, 4), d = tl_rng_range(&rng, -1, 1);
        char p[2][64];
        snprintf(p[0], 64, "sos_error_pct=%.4f", e);
        snprintf(p[1], 64, "lateral_offset_mm=%.4f", d);
        ev_scene s;
        tl_cal_spatial *sp = NULL;
        tl_cal_spatial_result r;
        const float *env;
        rc = ev_open(&s, "wire-phantom", tl_rng_next(&rng), p, 2) || !(env = ev_env(&s, 0)) ||
             tl_cal_spatial_create(s.truth->wire_x_mm, s.truth->wire_z_mm, s.truth->n_wires,
                                   &s.g, &sp) != TL_OK;
        for (uint32_t k = 0; k < frames && rc == 0; k++)
            rc = !(env = ev_env(&s, k)) || tl_cal_spatial_add(sp, env) != TL_OK;
        if (rc == 0 && tl_cal_spatial_finish(sp, NULL, &r) != TL_OK)
            r.axial_scale_err_pct = r.lateral_offset_mm = r.residual_mm = INFINITY;
        a[i] = fabs(r.axial_scale_err_pct - e);
        b[i] = fabs(r.lateral_offset_mm - d);
        c[i] = r.residual_mm;
        ok += a[i] <= 0.3 && b[i] <= 0.1 && c[i] <= 0.2;
        tl_cal_spatial_destroy(sp);
        ev_close(&s);
    }
    cJSON *o = cJSON_AddObjectToObject(root, "spatial");
    stat_add(o, "axial_scale_err_pct_abs_error", a, cases);
    stat_add(o, "lateral_offset_mm_abs_error", b, cases);
    stat_add(o, "residual_mm", c, cases);
    cJSON_AddNumberToObject(o, "cases_within_bounds", ok);

    /* elements */
    ok = 0;
    for (int i = 0; i < cases && rc == 0; i++) {
        bool used[128] = { false };
        int dead[4], weak[3], nd = (int)(tl_rng_next(&rng) % 5), nw = (int)(tl_rng_next(&rng) % 4);
        char p[2][64] = { "dead_elements=", "weak_elements=" };
        for (int k = 0; k < nd + nw; k++) {
            int e;
            do
                e = (int)(tl_rng_next(&rng) % 128);
            while (used[e]);
            used[e] = true;
            if (k < nd)
                dead[k] = e;
            else
                weak[k - nd] = e;
            snprintf(p[k < nd ? 0 : 1] + strlen(p[k < nd ? 0 : 1]), 16, "%s%d",
                     (k == 0 || k == nd) ? "" : " ", e);
        }
        int np = 0;
        char q[2][64];
        if (nd)
            memcpy(q[np++], p[0], 64);
        if (nw)
            memcpy(q[np++], p[1], 64);
        ev_scene s;
        tl_cal_elements *el = NULL;
        tl_cal_elements_result *r = malloc(sizeof *r);
        const float *env;
        rc = !r || ev_open(&s, "in-air", tl_rng_next(&rng), q, np) ||
             tl_cal_elements_create(&s.g, 128, &el) != TL_OK;
        for (uint32_t k = 0; k < frames && rc == 0; k++)
            rc = !(env = ev_env(&s, k)) || tl_cal_elements_add(el, env) != TL_OK;
        bool exact = false;
        if (rc == 0 && tl_cal_elements_finish(el, NULL, r) == TL_OK &&
            r->n_dead == (uint32_t)nd && r->n_weak == (uint32_t)nw) {
            exact = true;
            for (int k = 0; k < nd; k++) {
                bool f = false;
                for (uint32_t m = 0; m < r->n_dead; m++)
                    f = f || r->dead[m] == (uint32_t)dead[k];
                exact = exact && f;
            }
            for (int k = 0; k < nw; k++) {
                bool f = false;
                for (uint32_t m = 0; m < r->n_weak; m++)
                    f = f || r->weak[m] == (uint32_t)weak[k];
                exact = exact && f;
            }
            exact = exact && r->pass == (nd == 0 && nw == 0);
        }
        ok += exact;
        if (!exact)
            fprintf(stderr, "elements case %d not exact: %s / %s\n", i, nd ? p[0] : "-",
                    nw ? p[1] : "-");
        free(r);
        tl_cal_elements_destroy(el);
        ev_close(&s);
    }
    o = cJSON_AddObjectToObject(root, "elements");
    cJSON_AddNumberToObject(o, "cases_exact", ok);

    /* uniformity: fit on frames 0.., check on frames 100.. */
    ok = 0;
    for (int i = 0; i < cases && rc == 0; i++) {
        double t = tl_rng_range(&rng, -8, 8);
        char p[1][64];
        snprintf(p[0], 64, "gain_tilt_db=%.4f", t);
        ev_scene s;
        tl_cal_uniformity *u = NULL;
        tl_cal_uniformity_result r;
        const float *env;
        rc = ev_open(&s, "uniform-phantom", tl_rng_next(&rng), p, 1) ||
             tl_cal_uniformity_create(&s.g, &u) != TL_OK;
        for (uint32_t k = 0; k < 2 * frames && rc == 0; k++) {
            if (k == frames)
                tl_cal_uniformity_fit(u, false);
            rc = !(env = ev_env(&s, k < frames ? k : 100 + k)) ||
                 tl_cal_uniformity_add(u, env) != TL_OK;
        }
        if (rc == 0 && tl_cal_uniformity_finish(u, NULL, &r) != TL_OK)
            r.tilt_db = r.corrected_tilt_db = INFINITY;
        a[i] = fabs(r.tilt_db - t);
        b[i] = fabs(r.corrected_tilt_db);
        ok += a[i] <= 1.0 && b[i] <= 1.0;
        tl_cal_uniformity_destroy(u);
        ev_close(&s);
    }
    o = cJSON_AddObjectToObject(root, "uniformity");
    stat_add(o, "tilt_db_abs_error", a, cases);
    stat_add(o, "corrected_tilt_db_abs", b, cases);
    cJSON_AddNumberToObject(o, "cases_within_bounds", ok);

    /* needle guide */
    ok = 0;
    for (int i = 0; i < cases && rc == 0; i++) {
        double ang = tl_rng_range(&rng, 20, 60);
        char p[1][64];
        snprintf(p[0], 64, "guide_angle_deg=%.4f", ang);
        ev_scene s;
        tl_cal_guide *g = NULL;
        tl_cal_guide_result r;
        const float *env;
        rc = ev_open(&s, "needle-guide", tl_rng_next(&rng), p, 1) ||
             tl_cal_guide_create(&s.g, &g) != TL_OK;
        for (uint32_t k = 0; k < frames && rc == 0; k++)
            rc = !(env = ev_env(&s, k)) || tl_cal_guide_add(g, env) != TL_OK;
        if (rc == 0 && tl_cal_guide_finish(g, NAN, NULL, &r) != TL_OK)
            r.angle_deg = r.offset_mm = INFINITY;
        double th = s.truth->needle.angle_deg * M_PI / 180.0;
        double x0 = s.truth->needle.entry_x_mm - s.truth->needle.entry_z_mm / tan(th);
        a[i] = fabs(r.angle_deg - ang);
        b[i] = fabs(r.offset_mm - x0);
        ok += a[i] <= 0.5;
        tl_cal_guide_destroy(g);
        ev_close(&s);
    }
    o = cJSON_AddObjectToObject(root, "needle_guide");
    stat_add(o, "angle_deg_abs_error", a, cases);
    stat_add(o, "offset_mm_abs_error", b, cases);
    cJSON_AddNumberToObject(o, "cases_within_bounds", ok);

    if (rc)
        fprintf(stderr, "talus calibrate eval: a case could not be run\n");
    char *text = cJSON_Print(root);
    if (text && (json || rc == 0))
        puts(text);
    free(text);
    cJSON_Delete(root);
    free(a);
    free(b);
    free(c);
    return rc ? 1 : 0;
}
