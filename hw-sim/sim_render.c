/* Life cycle and the per-frame render (the hot path).
 *
 * Per line: mix the two cached speckle fields with the frame's phase, add
 * the static speculars, the needle and the electronic noise, shade beneath
 * the needle, convolve with the pulse variant of each depth band, apply the
 * gains and quantise to int16. */
#include "sim_internal.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

tl_status tl_sim_create(const char *preset, uint64_t seed, tl_sim **out)
{
    if (!out)
        return TL_ERR_INVALID_ARG;
    *out = NULL;
    int p = sim_preset_from_name(preset);
    if (p < 0)
        return TL_ERR_NOT_FOUND;
    tl_sim *s = calloc(1, sizeof *s);
    if (!s)
        return TL_ERR_NO_MEM;
    s->preset = (sim_preset)p;
    s->seed = seed;
    *out = s;
    return TL_OK;
}

void tl_sim_destroy(tl_sim *sim)
{
    if (!sim)
        return;
    sim_scene_free(&sim->sc);
    for (int k = 0; k < SIM_SCENES - 1; k++)
        sim_scene_free(&sim->cache[k]);
    free(sim->rbuf);
    free(sim->ybuf);
    free(sim);
}

#define SC_OK (1u << 31)

static void swap_scene(tl_sim *sim, int k)
{
    sim_scene t = sim->sc;
    sim_params tp = sim->par;
    uint32_t ok_sc = sim->scenes_ok & SC_OK, ok_k = sim->scenes_ok & (1u << k);
    sim->sc = sim->cache[k];
    sim->par = sim->cache_par[k];
    sim->cache[k] = t;
    sim->cache_par[k] = tp;
    /* the scene's model points at its own parameters */
    sim->sc.model.par = &sim->par;
    sim->cache[k].model.par = &sim->cache_par[k];
    sim->scenes_ok &= ~(SC_OK | (1u << k));
    sim->scenes_ok |= (ok_k ? SC_OK : 0u) | (ok_sc ? (1u << k) : 0u);
}

static tl_status ensure_scene(tl_sim *sim)
{
    sim_params p;
    tl_status st = sim_params_parse(sim, &p);
    if (st != TL_OK)
        return st;
    if (sim->geom_override) {
        const tl_geometry *g = &sim->geom_user;
        p.lines = (int)g->lines;
        p.samples = (int)g->samples;
        p.convex = g->kind == TL_PROBE_CONVEX;
        p.radius_mm = g->radius_mm;
        p.pitch_mm = g->pitch_mm;
        p.f0_mhz = g->f0_hz * 1e-6f;
        p.fs_mhz = g->fs_hz * 1e-6f;
        p.depth_start_mm = g->depth_start_mm;
    }
    /* Steering changes only the beams: a scene built for another angle with
     * the same other parameters is kept (a steered sequence alternates
     * angles frame by frame, and a scene costs ~100x a frame). */
    if ((sim->scenes_ok & SC_OK) && sim->par.steer_deg == p.steer_deg)
        return TL_OK;
    for (int k = 0; k < SIM_SCENES - 1; k++)
        if ((sim->scenes_ok & (1u << k)) && sim->cache_par[k].steer_deg == p.steer_deg) {
            swap_scene(sim, k);
            return TL_OK;
        }
    if (sim->scenes_ok & SC_OK) {
        /* keep the current scene: it becomes the cached one */
        sim_scene_free(&sim->cache[SIM_SCENES - 2]);
        sim->scenes_ok &= ~(1u << (SIM_SCENES - 2));
        swap_scene(sim, SIM_SCENES - 2);
    } else {
        for (int k = 0; k < SIM_SCENES - 1; k++)
            if (!(sim->scenes_ok & (1u << k)))
                sim_scene_free(&sim->cache[k]);
    }
    sim->par = p;
    st = sim_scene_build(&sim->sc, &sim->par, sim->preset, sim->seed);
    if (st != TL_OK)
        return st;
    free(sim->rbuf);
    free(sim->ybuf);
    sim->rbuf = calloc((size_t)sim->sc.S + 2 * (size_t)sim->sc.half + 8, sizeof(float));
    sim->ybuf = calloc((size_t)sim->sc.S, sizeof(float));
    if (!sim->rbuf || !sim->ybuf) {
        sim_scene_free(&sim->sc);
        return TL_ERR_NO_MEM;
    }
    sim->scenes_ok |= SC_OK;
    return TL_OK;
}

tl_status tl_sim_get_geometry(const tl_sim *sim, tl_geometry *out)
{
    if (!sim || !out)
        return TL_ERR_INVALID_ARG;
    sim_params p;
    tl_status st = sim_params_parse(sim, &p);
    if (st != TL_OK)
        return st;
    if (sim->geom_override) {
        *out = sim->geom_user;
        out->steer_deg = p.steer_deg;
        return TL_OK;
    }
    return sim_params_geometry(&p, out);
}

tl_status tl_sim_set_geometry(tl_sim *sim, const tl_geometry *g)
{
    if (!sim || !g || tl_geometry_validate(g) != TL_OK)
        return TL_ERR_INVALID_ARG;
    float f0 = g->f0_hz * 1e-6f, fs = g->fs_hz * 1e-6f;
    if (f0 < 7.5f - 1e-3f || f0 > 15.0f + 1e-3f || fs < 4.0f * f0 - 1e-3f || g->samples < 256 ||
        g->samples > 8192 || g->lines < 16 || g->lines > 1024 || fabsf(g->c_m_s - 1540.0f) > 1.0f)
        return TL_ERR_INVALID_ARG;
    if (!(fabsf(g->steer_deg) <= 30.0f))
        return TL_ERR_INVALID_ARG; /* the simulated array steers up to 30 deg */
    char sv[32];
    snprintf(sv, sizeof sv, "%.4f", (double)g->steer_deg);
    tl_status st = tl_sim_set_param(sim, "steer_deg", sv);
    if (st != TL_OK)
        return st;
    sim->geom_user = *g;
    sim->geom_override = true;
    sim->scenes_ok = 0;
    return TL_OK;
}

float tl_sim_pulse_fwhm_mm(tl_sim *sim)
{
    if (!sim || ensure_scene(sim) != TL_OK)
        return NAN;
    return sim->sc.pulse_fwhm_mm;
}

float tl_sim_scatterers_per_cell(tl_sim *sim)
{
    if (!sim || ensure_scene(sim) != TL_OK)
        return NAN;
    return sim->par.speckle ? sim->sc.spc : 0.0f;
}

static void convolve(const sim_scene *sc, const uint8_t *kidx, const float *rp, float *y)
{
    uint32_t S = sc->S;
    int nt = sc->ntap;
    uint32_t s0 = 0;
    while (s0 < S) {
        uint32_t s1 = s0 + 1;
        while (s1 < S && kidx[s1] == kidx[s0])
            s1++;
        const float *k = sc->kern + (size_t)kidx[s0] * (size_t)nt;
        uint32_t n = s1 - s0;
        float *yy = y + s0;
        const float *rr = rp + s0;
        for (uint32_t s = 0; s < n; s++)
            yy[s] = 0.0f;
        for (int t = 0; t < nt; t++) {
            float kt = k[t];
            const float *src = rr + t;
            for (uint32_t s = 0; s < n; s++)
                yy[s] += kt * src[s];
        }
        s0 = s1;
    }
}

tl_status tl_sim_render(tl_sim *sim, uint32_t index, int16_t *rf, size_t rf_count,
                        tl_sim_truth *truth)
{
    if (!sim || (!rf && !truth))
        return TL_ERR_INVALID_ARG;
    tl_status st = ensure_scene(sim);
    if (st != TL_OK)
        return st;
    const sim_scene *sc = &sim->sc;
    uint32_t L = sc->L, S = sc->S;
    sim_needle_state nd;
    sim_needle_at(sc, &sim->par, sim->preset, index, &nd);
    if (rf) {
        if (rf_count < (size_t)L * S)
            return TL_ERR_INVALID_ARG;
        double ph = (double)sim->par.motion * (double)index;
        float c = (float)cos(ph), sn = (float)sin(ph);
        float *rp = sim->rbuf;          /* padded: half zeros each side */
        float *r = rp + sc->half;
        float *y = sim->ybuf;
        for (uint32_t i = 0; i < L; i++) {
            const float *ls = sc->ls + (size_t)i * S, *la = sc->la + (size_t)i * S,
                        *lb = sc->lb + (size_t)i * S;
            const float *nz = sc->noise + sim_hash(sim->seed ^ ((uint64_t)index << 20), i) %
                                              SIM_NOISE_N;
            float na = sc->noise_amp;
            for (uint32_t s = 0; s < S; s++)
                r[s] = ls[s] + c * la[s] + sn * lb[s];
            uint32_t sh = sim_needle_line(sc, &nd, i, r);
            for (uint32_t s = sh; s < S; s++)
                r[s] *= 0.7f; /* a thin shaft shades only part of the beam */
            /* electronic noise is not shadowed */
            for (uint32_t s = 0; s < S; s++)
                r[s] += na * nz[s];
            convolve(sc, sc->kidx + (size_t)i * S, rp, y);
            const float *gs = sc->sgain;
            float lg = sc->lgain[i];
            int16_t *o = rf + (size_t)i * S;
            for (uint32_t s = 0; s < S; s++) {
                float v = y[s] * gs[s] * lg;
                v = v > 32767.0f ? 32767.0f : v < -32768.0f ? -32768.0f : v;
                o[s] = (int16_t)(v + (v >= 0.0f ? 0.5f : -0.5f));
            }
        }
    }
    if (truth)
        sim_truth_fill(sim, index, &nd, truth);
    return TL_OK;
}
