/* Tissue textures shared by the anatomy models: skin, lobular fat with
 * septa, pennate muscle, fibrillar bands (tendon, fascia), fluid and bone.
 * Each fills a sim_med for one point; echo levels are relative to a
 * reference soft tissue (1.0), attenuation in dB/cm/MHz. */
#include "sim_internal.h"

static float katt(const sim_model *m) { return m->par->attenuation / 0.5f; }

bool sim_med_skin(const sim_model *m, float z, sim_med *o)
{
    if (z < SIM_SKIN_MM) {          /* coupling gel */
        o->echo = 0.0f;
        o->atten = 0.002f;
        return true;
    }
    if (z < SIM_DERMIS_MM) {        /* dermis: bright, fine-grained */
        o->echo = 1.5f;
        o->atten = 0.8f * katt(m);
        return true;
    }
    return false;
}

void sim_med_fat(const sim_model *m, float x, float z, float echo, float septa, sim_med *o)
{
    uint64_t sd = m->seed ^ 0xFA7u;
    const float sx = 1.0f / 2.4f, sz = 1.0f / 1.3f, e = 0.05f;
    float n0 = sim_noise2(sd, x * sx, z * sz);
    float nx = sim_noise2(sd, (x + e) * sx, z * sz) - n0;
    float nz = sim_noise2(sd, x * sx, (z + e) * sz) - n0;
    float g = sqrtf(nx * nx + nz * nz);
    o->echo = echo;
    o->atten = 0.6f * katt(m);
    o->fib_u = 5.0f * n0;
    o->fib_amp = septa;
    o->fib_nx = g > 0.0f ? nx / g : 0.0f;
    o->fib_nz = g > 0.0f ? nz / g : 1.0f;
    o->fib_w = DEG2RAD(30.0f);
    o->fib_k = 0.0f;
    o->fib_rough = 0.7f;
}

void sim_med_muscle(const sim_model *m, float x, float z, float pennation_deg, sim_med *o)
{
    float tp = tanf(DEG2RAD(pennation_deg));
    float nrm = 1.0f / sqrtf(1.0f + tp * tp);
    o->echo = 0.18f;
    o->atten = 0.65f * katt(m);
    o->fib_u = (z - x * tp) / 0.9f + 0.8f * sim_noise2(m->seed ^ 0x3A5Cu, x / 3.0f, z / 2.0f);
    o->fib_amp = 7.0f;
    o->fib_nx = -tp * nrm;
    o->fib_nz = nrm;
    o->fib_w = DEG2RAD(14.0f);
    o->fib_k = 0.3f;
    o->fib_rough = 0.3f;
}

void sim_med_band(const sim_model *m, float x, float z, float top, float thick, float slope,
                  float spacing, float echo, float fib_amp, sim_med *o)
{
    float nrm = 1.0f / sqrtf(1.0f + slope * slope);
    float nf = thick / spacing;
    float wav = 0.6f * sim_noise2(m->seed ^ 0xB4Du, x / 5.0f, (z - top) / 0.8f);
    o->echo = echo;
    o->atten = 0.9f * katt(m);
    o->fib_u = (z - top) / thick * nf + wav;
    o->fib_amp = fib_amp;
    o->fib_nx = -slope * nrm;
    o->fib_nz = nrm;
    o->fib_w = DEG2RAD(7.0f);
    o->fib_k = 0.65f;
}

void sim_med_fluid(sim_med *o)
{
    o->echo = 0.015f;
    o->atten = 0.02f;
    o->fib_u = NAN;
}

void sim_med_bone(sim_med *o)
{
    o->echo = 0.0f;
    o->atten = 30.0f;
    o->fib_u = NAN;
}

/* Apply the lesions of the model to a point inside a structure. */
void sim_med_lesion(const sim_model *m, float x, float z, sim_med *o)
{
    float c;
    int kind;
    if (sim_lesion_weight(m, x, z, &c, &kind) <= 0.0f)
        return;
    if (kind == TL_LESION_HYPOECHOIC) {
        o->echo *= c;
        o->fib_amp *= c * 0.5f; /* loss of the fibrillar pattern */
    } else {
        sim_med_fluid(o);
    }
}
