/* Where the simulated probe's frame payloads come from.
 *
 * Frame seq is tl_sim_render(seq) of (preset, seed, sim params) from the
 * physics simulator (hw-sim/tl_sim.h), scaled by the host's gain and TGC.
 * When the physics library is not built yet (TL_SIMUSB_HAVE_SIM undefined:
 * the tl_sim target is still a placeholder), a small deterministic speckle
 * generator stands in behind the same calls.
 *
 * cycle_frames > 0: that many frames are rendered once, with their CRCs, and
 * cycled, so `--fps 0` measures the bus and the driver, not the renderer. */
#include "simusb_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct source {
#ifdef TL_SIMUSB_HAVE_SIM
    tl_sim *sim;
#endif
    tl_geometry g;
    tl_proto_params p;
    uint64_t seed;
    size_t count;            /* samples per frame */
    int16_t *frame;          /* the last rendered frame */
    float *gain;             /* per-sample gain (NULL when 0 dB everywhere) */
    uint32_t ncycle;
    int16_t *cycle;          /* ncycle frames */
    uint32_t *cycle_crc;
    float *cycle_steer;      /* the steering angle of each cycled frame */
    tl_sim_truth *cycle_truth;
    float steer_now;         /* the simulator's current steer_deg (NAN: unset) */
};

/* ---- Stand-in generator (until tl_sim lands) ----------------------------- */
#ifndef TL_SIMUSB_HAVE_SIM

static inline uint32_t hash32(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (uint32_t)x;
}

static void standin_render(const tl_geometry *g, uint64_t seed, uint32_t index, int16_t *rf)
{
    /* Speckle under a depth-decaying envelope with one bright band (a
     * "fascia") that drifts by a sample per frame: deterministic in
     * (seed, index) and cheap. */
    uint32_t band = g->samples / 4 + (index % 16);
    for (uint32_t l = 0; l < g->lines; l++) {
        uint64_t base = (seed * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)index << 40) ^ ((uint64_t)l << 20);
        for (uint32_t i = 0; i < g->samples; i++) {
            int32_t amp = 3000 - (int32_t)(2500u * i / g->samples);
            if (i >= band && i < band + g->samples / 64)
                amp = 12000;
            int32_t noise = (int32_t)(hash32(base + i) & 0xFFFF) - 32768;
            rf[(size_t)l * g->samples + i] = (int16_t)((noise * amp) >> 15);
        }
    }
}
#endif

/* ---- Common ----------------------------------------------------------------- */

tl_status source_base_geometry(const tl_simusb *s, tl_geometry *g)
{
#ifdef TL_SIMUSB_HAVE_SIM
    tl_sim *sim = NULL;
    tl_status st = tl_sim_create(s->preset, s->cfg.seed, &sim);
    if (st != TL_OK)
        return st;
    if (s->sim_params[0]) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", s->sim_params);
        for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
            st = tl_sim_set_param(sim, kv, NULL);
            if (st != TL_OK) {
                tl_sim_destroy(sim);
                return st;
            }
        }
    }
    st = tl_sim_get_geometry(sim, g);
    tl_sim_destroy(sim);
    return st;
#else
    (void)s;
    *g = tl_geometry_default_linear();
    return TL_OK;
#endif
}

static float *gain_table(const tl_proto_params *p)
{
    bool flat = p->gain_db == 0.0f;
    for (int k = 0; k < TL_PROTO_TGC_POINTS; k++)
        flat = flat && p->tgc_db[k] == 0.0f;
    if (flat)
        return NULL;
    float *t = malloc(p->samples * sizeof *t);
    if (!t)
        return NULL;
    for (uint32_t i = 0; i < p->samples; i++) {
        /* TGC points sit at equally spaced depths; linear in between. */
        float pos = (float)i / (float)(p->samples > 1 ? p->samples - 1 : 1) * (TL_PROTO_TGC_POINTS - 1);
        int k = (int)pos;
        if (k >= TL_PROTO_TGC_POINTS - 1)
            k = TL_PROTO_TGC_POINTS - 2;
        float f = pos - (float)k;
        float db = p->gain_db + p->tgc_db[k] * (1.0f - f) + p->tgc_db[k + 1] * f;
        t[i] = powf(10.0f, db / 20.0f);
    }
    return t;
}

static void apply_gain(const float *gain, uint32_t lines, uint32_t samples, int16_t *rf)
{
    if (!gain)
        return;
    for (uint32_t l = 0; l < lines; l++)
        for (uint32_t i = 0; i < samples; i++) {
            float v = (float)rf[(size_t)l * samples + i] * gain[i];
            rf[(size_t)l * samples + i] = (int16_t)(v > 32767.0f ? 32767 : v < -32768.0f ? -32768 : (int)lrintf(v));
        }
}

/* Render frame `index` with the steering the host's sequence gives it
 * (tl_proto_frame_steer); *steer_deg says which, for the frame header. */
static tl_status render(source *src, uint32_t index, int16_t *out, tl_sim_truth *truth,
                        float *steer_deg)
{
    float b = tl_proto_frame_steer(&src->p, index);
    if (steer_deg)
        *steer_deg = b;
#ifdef TL_SIMUSB_HAVE_SIM
    if (!(b == src->steer_now)) {
        /* the simulator keeps one scene per angle: alternating is cheap */
        char v[32];
        snprintf(v, sizeof v, "%.6g", (double)b);
        tl_status sst = tl_sim_set_param(src->sim, "steer_deg", v);
        if (sst != TL_OK)
            return sst;
        src->steer_now = b;
    }
    tl_status st = tl_sim_render(src->sim, index, out, src->count, truth);
    if (st != TL_OK)
        return st;
#else
    standin_render(&src->g, src->seed, index, out);
    if (truth) {
        memset(truth, 0, sizeof *truth);
        truth->frame_index = index;
        truth->seed = src->seed;
        truth->geom = src->g;
        truth->thickness_mm = NAN;
    }
#endif
    apply_gain(src->gain, src->g.lines, src->g.samples, out);
    return TL_OK;
}

void source_destroy(source *src)
{
    if (!src)
        return;
#ifdef TL_SIMUSB_HAVE_SIM
    tl_sim_destroy(src->sim);
#endif
    free(src->frame);
    free(src->gain);
    free(src->cycle);
    free(src->cycle_crc);
    free(src->cycle_steer);
    free(src->cycle_truth);
    free(src);
}

static tl_status source_open(const tl_simusb *s, const tl_proto_params *p, source **out)
{
    source *src = calloc(1, sizeof *src);
    if (!src)
        return TL_ERR_NO_MEM;
    src->p = *p;
    src->seed = s->cfg.seed;
    src->g = s->geom;
    src->g.steer_deg = 0.0f; /* steering is per frame (render) */
    src->steer_now = NAN;
    src->g.lines = p->lines;
    src->g.samples = p->samples;
    if (p->f0_hz > 0.0f)
        src->g.f0_hz = p->f0_hz;
    src->count = (size_t)p->lines * p->samples;
#ifdef TL_SIMUSB_HAVE_SIM
    tl_status st = tl_sim_create(s->preset, s->cfg.seed, &src->sim);
    if (st == TL_OK && s->sim_params[0]) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", s->sim_params);
        for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv && st == TL_OK; kv = strtok_r(NULL, ",", &save))
            st = tl_sim_set_param(src->sim, kv, NULL);
    }
    if (st == TL_OK)
        st = tl_sim_set_geometry(src->sim, &src->g);
    if (st != TL_OK) {
        source_destroy(src);
        return st;
    }
#endif
    src->gain = gain_table(p);
    *out = src;
    return TL_OK;
}

tl_status source_create(const tl_simusb *s, const tl_proto_params *p, source **out)
{
    source *src;
    tl_status st = source_open(s, p, &src);
    if (st != TL_OK)
        return st;
    src->frame = malloc(src->count * sizeof(int16_t));
    if (!src->frame) {
        source_destroy(src);
        return TL_ERR_NO_MEM;
    }
    uint32_t n = s->cfg.cycle_frames;
    if (n) {
        src->cycle = malloc((size_t)n * src->count * sizeof(int16_t));
        src->cycle_crc = malloc(n * sizeof(uint32_t));
        src->cycle_steer = malloc(n * sizeof(float));
        src->cycle_truth = s->cfg.truth_keep ? malloc(n * sizeof(tl_sim_truth)) : NULL;
        if (!src->cycle || !src->cycle_crc || !src->cycle_steer ||
            (s->cfg.truth_keep && !src->cycle_truth)) {
            source_destroy(src);
            return TL_ERR_NO_MEM;
        }
        for (uint32_t k = 0; k < n; k++) {
            int16_t *f = src->cycle + (size_t)k * src->count;
            st = render(src, k, f, src->cycle_truth ? &src->cycle_truth[k] : NULL,
                        &src->cycle_steer[k]);
            if (st != TL_OK) {
                source_destroy(src);
                return st;
            }
            src->cycle_crc[k] = (uint32_t)crc32(0L, (const Bytef *)f, (uInt)(src->count * sizeof(int16_t)));
        }
        src->ncycle = n;
    } else {
        /* Build the scene now (the first render is the expensive one), so
         * frame 0's timestamp is not hundreds of ms ahead of its delivery. */
        st = render(src, 0, src->frame, NULL, NULL);
        if (st != TL_OK) {
            source_destroy(src);
            return st;
        }
    }
    *out = src;
    return TL_OK;
}

tl_status source_frame(source *src, uint32_t seq, const uint8_t **payload, size_t *bytes, uint32_t *crc,
                       float *steer_deg, tl_sim_truth *truth)
{
    *bytes = src->count * sizeof(int16_t);
    if (src->ncycle) {
        uint32_t k = seq % src->ncycle;
        *payload = (const uint8_t *)(src->cycle + (size_t)k * src->count);
        *crc = src->cycle_crc[k];
        *steer_deg = src->cycle_steer[k];
        if (truth && src->cycle_truth)
            *truth = src->cycle_truth[k];
        return TL_OK;
    }
    tl_status st = render(src, seq, src->frame, truth, steer_deg);
    if (st != TL_OK)
        return st;
    *payload = (const uint8_t *)src->frame;
    *crc = (uint32_t)crc32(0L, *payload, (uInt)*bytes);
    return TL_OK;
}

tl_status source_create_reference(const tl_simusb *s, const tl_proto_params *p, source **out)
{
    return source_open(s, p, out);
}

tl_status source_reference(source *src, uint32_t cycle_frames, uint32_t seq, int16_t *buf, size_t count)
{
    if (count < src->count)
        return TL_ERR_INVALID_ARG;
    return render(src, cycle_frames ? seq % cycle_frames : seq, buf, NULL, NULL);
}
