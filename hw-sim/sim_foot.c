/* Anatomy models of the heel (plantar fascia, long axis) and the Achilles
 * tendon (long axis, midportion or insertion). Coordinates in mm: x lateral
 * (proximal to the left), z depth below the skin surface. Clinical numbers
 * from docs: fascia 2-4 mm normal at the insertion (the site where it crosses
 * the anterior edge of the inferior calcaneus), heel fat pad above it;
 * Achilles 4-8 mm over Kager's fat pad. */
#include "sim_internal.h"

#include <string.h>

enum { XS = 0, Z0, TH, GAP, INS };

static float skin_fn(const sim_model *m, float x) { (void)m; (void)x; return SIM_SKIN_MM; }
static float dermis_fn(const sim_model *m, float x) { (void)m; (void)x; return SIM_DERMIS_MM; }

static void add_skin(sim_model *m)
{
    sim_curve *c = sim_curve_new(6.0f, 25.0f, TL_BOUNDARY_SKIN);
    if (c) {
        sim_curve_fill(c, -60.0f, 60.0f, skin_fn, m);
        c->fixed = 1;
    }
    sim_model_add_curve(m, c);
    c = sim_curve_new(2.5f, 25.0f, -1);
    if (c) {
        sim_curve_fill(c, -60.0f, 60.0f, dermis_fn, m);
        c->fixed = 1;
    }
    sim_model_add_curve(m, c);
}

static void add_curve(sim_model *m, float amp, float width_deg, int boundary, int bone,
                      float (*fn)(const sim_model *, float))
{
    sim_curve *c = sim_curve_new(amp, width_deg, boundary);
    if (c) {
        sim_curve_fill(c, -60.0f, 60.0f, fn, m);
        c->bone = bone;
        for (int i = 0; i < SIM_CURVE_N; i++)
            if (c->z[i] > 80.0f)
                c->z[i] = NAN;
    }
    sim_model_add_curve(m, c);
}

static void add_lesion(sim_model *m, tl_lesion_kind kind, float cx, float cz, float w, float d,
                       float contrast_db)
{
    if (m->nlesions >= TL_SIM_MAX_LESIONS)
        return;
    tl_sim_lesion *l = &m->lesions[m->nlesions++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->cx_mm = cx;
    l->cz_mm = cz;
    l->width_mm = w;
    l->depth_mm = d;
    l->contrast_db = contrast_db;
}

/* ---- plantar fascia ---------------------------------------------------- */

static float pf_top(const sim_model *m, float x)
{
    float dx = x - m->p[XS];
    return m->p[Z0] + (dx < 0.0f ? 0.006f * dx * dx : -0.0025f * dx * dx);
}

static float pf_thick(const sim_model *m, float x)
{
    float dx = x - m->p[XS];
    return dx < 0.0f ? m->p[TH] : m->p[TH] * (0.65f + 0.35f * expf(-(dx / 10.0f) * (dx / 10.0f)));
}

static float pf_deep(const sim_model *m, float x) { return pf_top(m, x) + pf_thick(m, x); }

static float pf_bone(const sim_model *m, float x)
{
    float dx = x - m->p[XS];
    if (dx < 0.0f)
        return pf_deep(m, x) + m->p[GAP];
    return pf_deep(m, m->p[XS]) + m->p[GAP] + 0.3f * dx * dx;
}

static void pf_medium(const sim_model *m, float x, float z, sim_med *o)
{
    if (sim_med_skin(m, z, o))
        return;
    float zb = sim_curve_eval(m->curves[5], x);
    if (!isnan(zb) && z > zb) {
        sim_med_bone(o);
        return;
    }
    float top = pf_top(m, x);
    if (z < top) {
        sim_med_fat(m, x, z, 0.35f, 16.0f, o);
        return;
    }
    float th = pf_thick(m, x);
    if (z < top + th) {
        /* a thickened fascia is also hypoechoic */
        float k = m->p[TH] > 4.0f ? powf(10.0f, -(m->p[TH] - 4.0f) * 2.5f / 20.0f) : 1.0f;
        float dx = x - m->p[XS];
        float slope = dx < 0.0f ? 0.012f * dx : -0.005f * dx;
        sim_med_band(m, x, z, top, th, slope, 0.28f, 0.8f * k, 7.0f * k, o);
        sim_med_lesion(m, x, z, o);
        return;
    }
    for (int i = 0; i < m->nlesions; i++)
        if (m->lesions[i].kind == TL_LESION_FLUID && tl_sim_lesion_contains(&m->lesions[i], x, z)) {
            sim_med_fluid(o);
            return;
        }
    if (x < m->p[XS] && !isnan(zb)) {     /* thin soft tissue on the periosteum */
        o->echo = 0.6f;
        o->atten = 0.6f;
        o->fib_u = NAN;
        return;
    }
    sim_med_muscle(m, x, z, z < pf_deep(m, x) + 9.0f ? 8.0f : -12.0f, o);
}

tl_status sim_model_plantar(sim_model *m, const sim_params *p)
{
    m->anatomy = TL_ANATOMY_PLANTAR_FASCIA;
    m->medium = pf_medium;
    m->p[XS] = -6.0f;
    m->p[Z0] = 11.0f;
    m->p[TH] = p->thickness_mm;
    m->p[GAP] = 1.0f;
    add_skin(m);                                                           /* 0, 1 */
    add_curve(m, 8.0f, 12.0f, TL_BOUNDARY_FASCIA_SUPERFICIAL, 0, pf_top);  /* 2 */
    add_curve(m, 7.0f, 12.0f, TL_BOUNDARY_FASCIA_DEEP, 0, pf_deep);        /* 3 */
    add_curve(m, 0.0f, 12.0f, -1, 0, pf_deep);                             /* 4 spare */
    add_curve(m, 40.0f, 40.0f, TL_BOUNDARY_CALCANEUS, 1, pf_bone);         /* 5 */
    if (m->ncurves != 6)
        return TL_ERR_NO_MEM;
    float xs = m->p[XS];
    m->thickness_mm = p->thickness_mm;
    m->site_x = xs;
    m->site_z = pf_top(m, xs) + 0.5f * p->thickness_mm;
    if (p->lesion) {
        float lx = xs + 2.5f, th = pf_thick(m, lx);
        float d = fminf(p->lesion_depth_mm, 0.8f * th);
        add_lesion(m, p->lesion_kind ? TL_LESION_ANECHOIC : TL_LESION_HYPOECHOIC, lx,
                   pf_top(m, lx) + 0.5f * th, p->lesion_width_mm, d,
                   p->lesion_kind ? -40.0f : p->lesion_contrast_db);
    }
    if (p->fluid) {
        float fx = xs + 7.0f;
        add_lesion(m, TL_LESION_FLUID, fx, pf_deep(m, fx) + 0.6f, 10.0f, 1.2f, -40.0f);
    }
    m->pivot_x = m->site_x;
    m->pivot_z = m->site_z;
    m->has_target = true;
    m->target_x = p->lesion ? m->lesions[0].cx_mm : xs + 1.0f;
    m->target_z = p->lesion ? m->lesions[0].cz_mm : pf_top(m, xs + 1.0f) + 0.5f * pf_thick(m, xs + 1.0f);
    return TL_OK;
}

/* ---- Achilles tendon --------------------------------------------------- */

static float ach_top(const sim_model *m, float x) { return m->p[Z0] + 0.02f * x; }

static float ach_thick(const sim_model *m, float x)
{
    if (m->p[INS] > 0.5f)
        return m->p[TH];
    float dx = (x - m->p[XS]) / 12.0f;
    return m->p[TH] * (0.85f + 0.15f * expf(-dx * dx));
}

static float ach_deep(const sim_model *m, float x) { return ach_top(m, x) + ach_thick(m, x); }

static float ach_bone(const sim_model *m, float x)
{
    if (m->p[INS] < 0.5f)
        return 33.0f + 0.03f * x;             /* posterior tibia, deep */
    float dx = x - m->p[XS];
    if (dx >= 0.0f)
        return ach_deep(m, x) + 0.3f;
    return ach_deep(m, m->p[XS]) + 0.3f + 0.4f * dx * dx;
}

static void ach_medium(const sim_model *m, float x, float z, sim_med *o)
{
    if (sim_med_skin(m, z, o))
        return;
    float zb = sim_curve_eval(m->curves[4], x);
    if (!isnan(zb) && z > zb) {
        sim_med_bone(o);
        return;
    }
    float top = ach_top(m, x);
    if (z < top) {
        sim_med_fat(m, x, z, 0.25f, 10.0f, o);
        return;
    }
    float th = ach_thick(m, x);
    if (z < top + th) {
        sim_med_band(m, x, z, top, th, 0.02f, 0.22f, 0.5f, 7.5f, o);
        sim_med_lesion(m, x, z, o);
        return;
    }
    float dx = x - m->p[XS];
    if (m->p[INS] > 0.5f && dx > -3.0f && dx < 0.0f && z < top + th + 1.6f) {
        sim_med_fluid(o);                     /* retrocalcaneal bursa */
        return;
    }
    if (z < 21.0f + 0.08f * x || m->p[INS] > 0.5f) {
        sim_med_fat(m, x, z, 0.3f, 14.0f, o);  /* Kager's fat pad */
        return;
    }
    sim_med_muscle(m, x, z, 15.0f, o);        /* flexor hallucis longus */
}

tl_status sim_model_achilles(sim_model *m, const sim_params *p)
{
    m->anatomy = TL_ANATOMY_ACHILLES;
    m->medium = ach_medium;
    bool ins = p->site_insertion != 0;
    m->p[INS] = ins ? 1.0f : 0.0f;
    m->p[XS] = ins ? 4.0f : 0.0f;
    m->p[Z0] = 3.2f;
    float T = p->thickness_set ? p->thickness_mm : ins ? 4.0f : p->thickness_mm;
    m->p[TH] = T;
    add_skin(m);                                                            /* 0, 1 */
    add_curve(m, 9.0f, 12.0f, TL_BOUNDARY_TENDON_SUPERFICIAL, 0, ach_top);  /* 2 */
    add_curve(m, 8.0f, 12.0f, TL_BOUNDARY_TENDON_DEEP, 0, ach_deep);        /* 3 */
    add_curve(m, 35.0f, 40.0f, ins ? TL_BOUNDARY_CALCANEUS : -1, 1, ach_bone); /* 4 */
    if (m->ncurves != 5)
        return TL_ERR_NO_MEM;
    m->achilles_insertion = ins;
    m->thickness_mm = T;
    m->site_x = m->p[XS];
    m->site_z = ach_top(m, m->site_x) + 0.5f * T;
    if (p->lesion) {
        float lx = m->site_x + (ins ? -1.5f : 1.5f), th = ach_thick(m, lx);
        float d = fminf(p->lesion_depth_mm, 0.7f * th);
        add_lesion(m, p->lesion_kind ? TL_LESION_ANECHOIC : TL_LESION_HYPOECHOIC, lx,
                   ach_top(m, lx) + 0.55f * th, p->lesion_width_mm, d,
                   p->lesion_kind ? -40.0f : p->lesion_contrast_db);
    }
    m->pivot_x = m->site_x;
    m->pivot_z = m->site_z;
    m->has_target = true;
    m->target_x = p->lesion ? m->lesions[0].cx_mm : m->site_x;
    m->target_z = p->lesion ? m->lesions[0].cz_mm : m->site_z;
    return TL_OK;
}
