/* Small helpers of the anatomy models: hashing, smooth value noise (seeded,
 * stateless, so any point can be evaluated in any order), sampled curves and
 * lesion masks. */
#include "sim_internal.h"

#include <stdlib.h>
#include <string.h>

uint64_t sim_hash(uint64_t a, uint64_t b)
{
    /* splitmix64 finaliser over a combined key */
    uint64_t z = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull + (a << 6) + (a >> 2));
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float sim_hash01(uint64_t a, uint64_t b)
{
    return (float)(sim_hash(a, b) >> 40) * (1.0f / 16777216.0f);
}

static float smooth(float t) { return t * t * (3.0f - 2.0f * t); }

static float lattice(uint64_t seed, int32_t ix, int32_t iz)
{
    return sim_hash01(seed, ((uint64_t)(uint32_t)ix << 32) | (uint32_t)iz);
}

/* Value noise in [0, 1) with unit lattice spacing. */
float sim_noise2(uint64_t seed, float x, float z)
{
    float fx = floorf(x), fz = floorf(z);
    int32_t ix = (int32_t)fx, iz = (int32_t)fz;
    float tx = smooth(x - fx), tz = smooth(z - fz);
    float a = lattice(seed, ix, iz), b = lattice(seed, ix + 1, iz);
    float c = lattice(seed, ix, iz + 1), d = lattice(seed, ix + 1, iz + 1);
    return (a + (b - a) * tx) * (1.0f - tz) + (c + (d - c) * tx) * tz;
}

float sim_noise1(uint64_t seed, float x)
{
    float fx = floorf(x);
    int32_t ix = (int32_t)fx;
    float t = smooth(x - fx);
    float a = lattice(seed, ix, 0), b = lattice(seed, ix + 1, 0);
    return a + (b - a) * t;
}

sim_curve *sim_curve_new(float amp, float width_deg, int boundary)
{
    sim_curve *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    for (int i = 0; i < SIM_CURVE_N; i++)
        c->z[i] = NAN;
    c->amp = amp;
    c->width_rad = DEG2RAD(width_deg);
    c->boundary = boundary;
    c->bone = 0;
    c->fixed = 0;
    return c;
}

float sim_curve_eval(const sim_curve *c, float x)
{
    float f = (x - SIM_CURVE_X0) / SIM_CURVE_DX;
    if (!(f >= 0.0f) || f > (float)(SIM_CURVE_N - 1))
        return NAN;
    int i = (int)f;
    if (i >= SIM_CURVE_N - 1)
        return c->z[SIM_CURVE_N - 1];
    float t = f - (float)i;
    return c->z[i] + (c->z[i + 1] - c->z[i]) * t;
}

float sim_curve_slope(const sim_curve *c, float x)
{
    float a = sim_curve_eval(c, x - 0.1f), b = sim_curve_eval(c, x + 0.1f);
    if (isnan(a) || isnan(b)) {
        a = sim_curve_eval(c, x);
        b = sim_curve_eval(c, x + 0.1f);
        if (isnan(a) || isnan(b))
            return (sim_curve_eval(c, x) - sim_curve_eval(c, x - 0.1f)) / 0.1f;
        return (b - a) / 0.1f;
    }
    return (b - a) / 0.2f;
}

void sim_curve_fill(sim_curve *c, float xmin, float xmax, float (*fn)(const sim_model *, float),
                    const sim_model *m)
{
    for (int i = 0; i < SIM_CURVE_N; i++) {
        float x = SIM_CURVE_X0 + SIM_CURVE_DX * (float)i;
        c->z[i] = (x >= xmin && x <= xmax) ? fn(m, x) : NAN;
    }
}

int sim_model_add_curve(sim_model *m, sim_curve *c)
{
    if (!c)
        return -1;
    if (m->ncurves >= SIM_MAX_CURVES) {
        free(c);
        return -1;
    }
    m->curves[m->ncurves] = c;
    return m->ncurves++;
}

void sim_model_free(sim_model *m)
{
    for (int i = 0; i < m->ncurves; i++)
        free(m->curves[i]);
    m->ncurves = 0;
}

bool tl_sim_lesion_contains(const tl_sim_lesion *l, float x_mm, float z_mm)
{
    if (!l || !(l->width_mm > 0.0f) || !(l->depth_mm > 0.0f))
        return false;
    float a = DEG2RAD(l->angle_deg);
    float dx = x_mm - l->cx_mm, dz = z_mm - l->cz_mm;
    /* rotate the point into the ellipse's own axes */
    float u = dx * cosf(a) + dz * sinf(a);
    float v = -dx * sinf(a) + dz * cosf(a);
    float ru = 0.5f * l->width_mm, rv = 0.5f * l->depth_mm;
    return (u * u) / (ru * ru) + (v * v) / (rv * rv) <= 1.0f;
}

/* 1 inside a lesion (soft edge over ~0.15 mm), its linear echo factor and kind.
 * Returns 0 when the point is in no lesion. */
float sim_lesion_weight(const sim_model *m, float x, float z, float *contrast_lin, int *kind)
{
    for (int i = 0; i < m->nlesions; i++) {
        const tl_sim_lesion *l = &m->lesions[i];
        if (tl_sim_lesion_contains(l, x, z)) {
            *contrast_lin = powf(10.0f, l->contrast_db / 20.0f);
            *kind = (int)l->kind;
            return 1.0f;
        }
    }
    return 0.0f;
}
