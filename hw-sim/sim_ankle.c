/* Anatomy model of the anterior ankle, sagittal: extensor tendon, distal
 * tibia (left), talar dome with its anechoic cartilage (right), the anterior
 * recess with its fat pad under the capsule, and an effusion of grade 0-3
 * (EULAR-OMERACT: 1 at or below the bony joint line, 2 above it without
 * capsular distension, 3 convex capsule) that pushes the fat pad up. */
#include "sim_internal.h"

#include <string.h>

enum { CART = 0, H, W, JX, GRADE };

#define TIB_END (-2.0f)
#define TAL_START (-1.5f)

static float tibia(const sim_model *m, float x)
{
    (void)m;
    return x <= TIB_END ? 9.0f + 0.45f * (x + 19.0f) : NAN;
}

static float talus(const sim_model *m, float x)
{
    (void)m;
    if (x < TAL_START)
        return NAN;
    float d = x - 9.0f;
    return 13.5f + 0.03f * d * d + (x > 15.0f ? 0.05f * (x - 15.0f) * (x - 15.0f) : 0.0f);
}

static float cartilage(const sim_model *m, float x) { return talus(m, x) - m->p[CART]; }

/* Floor of the recess: tibia surface, then the cartilage surface. */
static float floor_z(const sim_model *m, float x)
{
    if (x <= TIB_END)
        return tibia(m, x);
    if (x < TAL_START)
        return tibia(m, TIB_END) + 0.5f;
    return cartilage(m, x);
}

static float fluid_h(const sim_model *m, float x)
{
    if (m->p[H] <= 0.0f)
        return 0.0f;
    float d = (x - m->p[JX]) / m->p[W];
    return m->p[H] * expf(-d * d);
}

static float capsule(const sim_model *m, float x)
{
    /* straight from the tibia's anterior surface to the talar neck... */
    float x0 = -13.0f, x1 = 16.0f;
    float z0 = tibia(m, x0) - 0.6f, z1 = floor_z(m, x1) - 1.0f;
    float z = z0 + (z1 - z0) * (x - x0) / (x1 - x0);
    /* ...never closer than 1 mm to the bone or cartilage... */
    z = fminf(z, floor_z(m, x) - 1.0f);
    /* ...and pushed into a convex bulge by a grade 3 effusion */
    float f = floor_z(m, x) - fluid_h(m, x) - 1.2f;
    if (m->p[GRADE] >= 3.0f && f < z)
        z = f;
    return z;
}

static float tendon_top(const sim_model *m, float x) { (void)m; return 3.4f + 0.03f * x; }
static float tendon_deep(const sim_model *m, float x) { return tendon_top(m, x) + 3.0f; }

static void ankle_medium(const sim_model *m, float x, float z, sim_med *o)
{
    if (sim_med_skin(m, z, o))
        return;
    float tb = tibia(m, x), ta = talus(m, x);
    if ((!isnan(tb) && z > tb) || (!isnan(ta) && z > ta)) {
        sim_med_bone(o);
        return;
    }
    if (!isnan(ta) && z > ta - m->p[CART]) {   /* hyaline cartilage: anechoic */
        o->echo = 0.02f;
        o->atten = 0.3f;
        o->fib_u = NAN;
        return;
    }
    if (x > TIB_END && x < TAL_START && z > tibia(m, TIB_END) + 0.5f) {
        o->echo = 0.05f;                       /* joint space */
        o->atten = 3.0f;
        o->fib_u = NAN;
        return;
    }
    float tt = tendon_top(m, x);
    if (z < tt) {
        sim_med_fat(m, x, z, 0.25f, 10.0f, o);
        return;
    }
    if (z < tendon_deep(m, x)) {
        sim_med_band(m, x, z, tt, 3.0f, 0.03f, 0.22f, 0.5f, 7.5f, o);
        return;
    }
    float cap = capsule(m, x);
    if (z < cap) {
        sim_med_muscle(m, x, z, 10.0f, o);     /* extensor muscle / soft tissue */
        return;
    }
    /* the fluid's top follows a smoothed floor (no steps at the joint) */
    float fl = 0.0f;
    for (int k = -2; k <= 2; k++)
        fl += 0.2f * floor_z(m, x + 1.0f * (float)k);
    if (z > fl - fluid_h(m, x)) {
        sim_med_fluid(o);                      /* effusion */
        return;
    }
    sim_med_fat(m, x, z, 0.5f, 14.0f, o);       /* intra-articular fat pad */
}

tl_status sim_model_ankle(sim_model *m, const sim_params *p)
{
    m->anatomy = TL_ANATOMY_ANKLE_RECESS;
    m->medium = ankle_medium;
    static const float heights[4] = { 0.0f, 1.6f, 3.6f, 6.0f };
    static const float widths[4] = { 1.0f, 4.0f, 6.0f, 8.0f };
    int g = p->effusion_grade;
    m->p[CART] = p->cartilage_mm;
    m->p[H] = heights[g];
    m->p[W] = widths[g];
    m->p[JX] = -1.0f;
    m->p[GRADE] = (float)g;
    sim_curve *c = sim_curve_new(3.0f, 25.0f, TL_BOUNDARY_SKIN);
    if (c) {
        for (int i = 0; i < SIM_CURVE_N; i++)
            c->z[i] = SIM_SKIN_MM;
        c->fixed = 1;
    }
    sim_model_add_curve(m, c);
    struct {
        float (*fn)(const sim_model *, float);
        float amp, w;
        int kind, bone;
    } cs[] = {
        { tendon_top, 4.0f, 12.0f, -1, 0 },
        { tendon_deep, 3.5f, 12.0f, -1, 0 },
        { capsule, 2.5f, 20.0f, TL_BOUNDARY_CAPSULE, 0 },
        { tibia, 35.0f, 45.0f, TL_BOUNDARY_TIBIA, 1 },
        { talus, 35.0f, 45.0f, TL_BOUNDARY_TALUS, 1 },
        { cartilage, 3.0f, 30.0f, TL_BOUNDARY_CARTILAGE, 0 },
    };
    for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
        c = sim_curve_new(cs[k].amp, cs[k].w, cs[k].kind);
        if (c) {
            sim_curve_fill(c, -60.0f, 60.0f, cs[k].fn, m);
            c->bone = cs[k].bone;
        }
        sim_model_add_curve(m, c);
    }
    if (m->ncurves != 7)
        return TL_ERR_NO_MEM;
    m->effusion_grade = g;
    m->cartilage_mm = p->cartilage_mm;
    m->thickness_mm = m->p[H];
    m->site_x = m->p[JX];
    m->site_z = floor_z(m, m->p[JX]) - 0.5f * m->p[H];
    if (g > 0) {
        tl_sim_lesion *l = &m->lesions[m->nlesions++];
        memset(l, 0, sizeof *l);
        l->kind = TL_LESION_EFFUSION;
        l->cx_mm = m->site_x;
        l->cz_mm = m->site_z;
        l->width_mm = 2.0f * 0.83f * m->p[W] * 1.2f;
        l->depth_mm = m->p[H];
        l->contrast_db = -40.0f;
    }
    m->pivot_x = m->site_x;
    m->pivot_z = m->site_z;
    m->has_target = true;
    m->target_x = m->site_x;
    m->target_z = g > 0 ? m->site_z : floor_z(m, m->site_x) - 1.0f;
    return TL_OK;
}
