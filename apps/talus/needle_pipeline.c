/* Simulated RF -> B-mode for the needle evaluation and benchmark. */
#include "needle_pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void needle_pipe_close(needle_pipe *p)
{
    if (!p)
        return;
    tl_imaging_plan_destroy(p->plan);
    tl_imaging_plan_destroy(p->plan_steered);
    tl_bmode_free(&p->img);
    tl_sim_destroy(p->sim);
    free(p->rf);
    memset(p, 0, sizeof *p);
}

tl_status needle_pipe_open(needle_pipe *p, const char *preset, uint64_t seed,
                           const char *const *params, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    tl_status st = tl_sim_create(preset, seed, &p->sim);
    if (st != TL_OK) {
        snprintf(err, errlen, "simulator preset %s: %s", preset, tl_strerror(st));
        return st;
    }
    for (size_t i = 0; params && params[i]; i++) {
        st = tl_sim_set_param(p->sim, params[i], NULL);
        if (st != TL_OK) {
            snprintf(err, errlen, "simulator parameter %s: %s", params[i], tl_strerror(st));
            needle_pipe_close(p);
            return st;
        }
    }
    /* straight until a scheme says otherwise */
    if ((st = tl_sim_set_param(p->sim, "steer_deg", "0")) != TL_OK ||
        (st = tl_sim_get_geometry(p->sim, &p->geom)) != TL_OK) {
        snprintf(err, errlen, "simulator geometry: %s", tl_strerror(st));
        needle_pipe_close(p);
        return st;
    }
    p->rf_count = (size_t)p->geom.lines * p->geom.samples;
    p->rf = malloc(p->rf_count * sizeof(int16_t));
    tl_imaging_params ip = tl_imaging_params_default();
    st = p->rf ? tl_imaging_plan_create(&p->geom, TL_IMAGE_RF_REAL, &ip, &p->plan) : TL_ERR_NO_MEM;
    if (st == TL_OK)
        st = tl_imaging_bmode_alloc(p->plan, &p->img);
    if (st != TL_OK) {
        snprintf(err, errlen, "imaging plan: %s", tl_strerror(st));
        needle_pipe_close(p);
        return st;
    }
    return TL_OK;
}

tl_status needle_pipe_scheme(needle_pipe *p, const tl_needle_scheme *s, int side, char *err,
                             size_t errlen)
{
    p->scheme = *s;
    p->steer_deg = tl_needle_scheme_steer(s, side, 30.0f);
    tl_imaging_plan_destroy(p->plan_steered);
    p->plan_steered = NULL;
    if (p->steer_deg == 0.0f)
        return TL_OK;
    tl_geometry g = p->geom;
    g.steer_deg = p->steer_deg;
    tl_imaging_params ip = tl_imaging_params_default();
    tl_status st = tl_imaging_plan_create(&g, TL_IMAGE_RF_REAL, &ip, &p->plan_steered);
    if (st != TL_OK)
        snprintf(err, errlen, "imaging plan (steered %.1f deg): %s", (double)p->steer_deg,
                 tl_strerror(st));
    return st;
}

tl_status needle_pipe_frame(needle_pipe *p, uint32_t k, tl_sim_truth *truth)
{
    bool steer = p->plan_steered && !tl_needle_scheme_frame_straight(&p->scheme, k);
    float b = steer ? p->steer_deg : 0.0f;
    char v[32];
    snprintf(v, sizeof v, "%.6g", (double)b);
    tl_status st = tl_sim_set_param(p->sim, "steer_deg", v);
    if (st == TL_OK)
        st = tl_sim_render(p->sim, k, p->rf, p->rf_count, truth);
    if (st != TL_OK)
        return st;
    tl_frame f;
    memset(&f, 0, sizeof f);
    f.geom = p->geom;
    f.geom.steer_deg = b;
    f.type = TL_IMAGE_RF_REAL;
    f.seq = k;
    f.data = p->rf;
    f.data_bytes = p->rf_count * sizeof(int16_t);
    p->img_steer_deg = b;
    return tl_imaging_execute(steer ? p->plan_steered : p->plan, &f, &p->img, NULL);
}

void needle_pipe_to_image(const needle_pipe *p, float x_mm, float z_mm, float *xi, float *zi)
{
    *xi = x_mm - p->img.origin_x_mm;
    *zi = z_mm - p->img.origin_z_mm;
}
