/* Phantoms: uniform tissue-mimicking gel, a wire grid in water, the probe in
 * air (lens ring-down only) and the gel block of the needle-guide check. */
#include "sim_internal.h"

static void uniform_medium(const sim_model *m, float x, float z, sim_med *o)
{
    (void)x;
    (void)z;
    o->echo = m->p[0];
    o->atten = m->par->attenuation;
    o->fib_u = NAN;
}

static void empty_medium(const sim_model *m, float x, float z, sim_med *o)
{
    (void)m;
    (void)x;
    (void)z;
    o->echo = 0.0f;
    o->atten = 0.0f;
    o->fib_u = NAN;
}

tl_status sim_model_phantom(sim_model *m, const sim_params *p, sim_preset preset)
{
    m->anatomy = TL_ANATOMY_NONE;
    m->thickness_mm = NAN;
    m->site_x = NAN;
    m->site_z = NAN;
    m->medium = uniform_medium;
    m->p[0] = 1.0f;
    switch (preset) {
    case PRESET_WIRE: {
        m->p[0] = 0.03f;       /* water with a trace of scatter */
        static const float xs[5] = { -15.0f, -7.5f, 0.0f, 7.5f, 15.0f };
        for (int r = 0; r < 6; r++)
            for (int c = 0; c < 5; c++) {
                m->wire_x[m->nwires] = xs[c];
                m->wire_z[m->nwires] = 5.0f + 5.0f * (float)r;
                m->nwires++;
            }
        /* two off-grid wires break the grid's symmetry (left/right, up/down) */
        m->wire_x[m->nwires] = -11.25f;
        m->wire_z[m->nwires++] = 7.5f;
        m->wire_x[m->nwires] = 3.75f;
        m->wire_z[m->nwires++] = 22.5f;
        m->wire_amp = 100.0f;
        break;
    }
    case PRESET_AIR:
        m->medium = empty_medium;
        /* lens / matching-layer reverberations: flat, decaying */
        for (int n = 0; n < 10; n++) {
            sim_curve *c = sim_curve_new(30.0f * powf(0.6f, (float)n), 90.0f, -1);
            if (!c)
                return TL_ERR_NO_MEM;
            for (int i = 0; i < SIM_CURVE_N; i++)
                c->z[i] = 0.35f + 0.7f * (float)n;
            sim_model_add_curve(m, c);
        }
        break;
    case PRESET_NEEDLE_GUIDE:
        m->p[0] = 0.6f;        /* gel block */
        m->has_target = false;
        break;
    default:
        break;
    }
    (void)p;
    return TL_OK;
}
