/* Ground truth of a frame (probe coordinates, mm, physical: a point shown at
 * display (x, z) is at (x + lateral_offset_mm, z * (1 + sos_error_pct/100)))
 * and its JSON form. */
#include "sim_internal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tl_anatomy_name(tl_anatomy a)
{
    switch (a) {
    case TL_ANATOMY_NONE: return "none";
    case TL_ANATOMY_PLANTAR_FASCIA: return "plantar-fascia";
    case TL_ANATOMY_ACHILLES: return "achilles";
    case TL_ANATOMY_ANKLE_RECESS: return "ankle-recess";
    }
    return "unknown";
}

int tl_anatomy_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int a = TL_ANATOMY_NONE; a <= TL_ANATOMY_ANKLE_RECESS; a++)
        if (strcmp(name, tl_anatomy_name((tl_anatomy)a)) == 0)
            return a;
    return -1;
}

const char *tl_boundary_name(tl_boundary_kind k)
{
    static const char *const names[TL_BOUNDARY_COUNT] = {
        "skin", "fascia_superficial", "fascia_deep", "calcaneus", "tendon_superficial",
        "tendon_deep", "tibia", "talus", "cartilage", "capsule",
    };
    return (unsigned)k < TL_BOUNDARY_COUNT ? names[k] : "unknown";
}

static const char *lesion_kind_name(tl_lesion_kind k)
{
    switch (k) {
    case TL_LESION_HYPOECHOIC: return "hypoechoic";
    case TL_LESION_ANECHOIC: return "anechoic";
    case TL_LESION_FLUID: return "fluid";
    case TL_LESION_EFFUSION: return "effusion";
    }
    return "unknown";
}

/* Is a physical point inside the imaged sector/rectangle? */
static bool in_image(const sim_scene *sc, float px, float pz)
{
    const tl_geometry *g = &sc->g;
    float x = px - sc->lat_off, z = pz / sc->sos_scale;
    float r0 = g->depth_start_mm, r1 = tl_geometry_depth_mm(g);
    float half = 0.5f * (float)(g->lines - 1);
    if (g->kind == TL_PROBE_CONVEX) {
        /* the range scaling applies along the ray: undo it on the range */
        float rr = hypotf(px - sc->lat_off, pz + g->radius_mm) - g->radius_mm;
        float th = atan2f(x, pz + g->radius_mm);
        float u = th * g->radius_mm / g->pitch_mm;
        rr /= sc->sos_scale;
        return fabsf(u) <= half && rr >= r0 && rr <= r1;
    }
    return fabsf(x) <= half * g->pitch_mm && z >= r0 && z <= r1;
}

static void curve_to_probe(const sim_model *m, const sim_curve *cv, float x, float z, float *px,
                           float *pz)
{
    if (cv->fixed)
        sim_face_to_probe(m, x, z, px, pz);
    else
        sim_anatomy_to_probe(m, x, z, px, pz);
}

static void truth_boundary(const sim_scene *sc, const sim_curve *cv, tl_sim_boundary *b)
{
    const sim_model *m = &sc->model;
    /* longest run of curve samples inside the image */
    int best0 = 0, bestn = 0, run0 = -1;
    for (int i = 0; i <= SIM_CURVE_N; i++) {
        bool in = false;
        if (i < SIM_CURVE_N && !isnan(cv->z[i])) {
            float px, pz;
            curve_to_probe(m, cv, SIM_CURVE_X0 + SIM_CURVE_DX * (float)i, cv->z[i], &px, &pz);
            in = in_image(sc, px, pz);
        }
        if (in && run0 < 0)
            run0 = i;
        if (!in && run0 >= 0) {
            if (i - run0 > bestn) {
                best0 = run0;
                bestn = i - run0;
            }
            run0 = -1;
        }
    }
    b->kind = (tl_boundary_kind)cv->boundary;
    b->n = 0;
    if (bestn < 2)
        return;
    uint32_t n = bestn < TL_SIM_MAX_POINTS ? (uint32_t)bestn : TL_SIM_MAX_POINTS;
    for (uint32_t k = 0; k < n; k++) {
        int i = best0 + (int)((double)k * (bestn - 1) / (double)(n - 1) + 0.5);
        curve_to_probe(m, cv, SIM_CURVE_X0 + SIM_CURVE_DX * (float)i, cv->z[i], &b->x_mm[k],
                       &b->z_mm[k]);
    }
    b->n = n;
}

void sim_truth_fill(const tl_sim *sim, uint32_t frame, const sim_needle_state *n,
                    tl_sim_truth *t)
{
    const sim_scene *sc = &sim->sc;
    const sim_model *m = &sc->model;
    memset(t, 0, sizeof *t);
    t->anatomy = m->anatomy;
    snprintf(t->preset, sizeof t->preset, "%s", sim_preset_name_of(sim->preset));
    t->seed = sim->seed;
    t->frame_index = frame;
    t->geom = sc->g;
    for (int k = 0; k < m->ncurves && t->n_boundaries < TL_SIM_MAX_BOUNDARIES; k++) {
        if (m->curves[k]->boundary < 0)
            continue;
        truth_boundary(sc, m->curves[k], &t->boundaries[t->n_boundaries]);
        if (t->boundaries[t->n_boundaries].n >= 2)
            t->n_boundaries++;
    }
    t->thickness_mm = m->thickness_mm;
    if (!isnan(m->site_x))
        sim_anatomy_to_probe(m, m->site_x, m->site_z, &t->site_x_mm, &t->site_z_mm);
    else
        t->site_x_mm = t->site_z_mm = NAN;
    t->achilles_insertion = m->achilles_insertion;
    float rot_deg = m->rot_rad * 180.0f / (float)M_PI;
    for (int k = 0; k < m->nlesions; k++) {
        tl_sim_lesion l = m->lesions[k];
        sim_anatomy_to_probe(m, l.cx_mm, l.cz_mm, &l.cx_mm, &l.cz_mm);
        l.angle_deg += rot_deg;
        t->lesions[t->n_lesions++] = l;
    }
    t->effusion_grade = m->effusion_grade;
    t->cartilage_mm = m->anatomy == TL_ANATOMY_ANKLE_RECESS ? m->cartilage_mm : NAN;
    t->fibre_tilt_deg = m->anatomy != TL_ANATOMY_NONE ? rot_deg : 0.0f;
    t->anisotropic = fabsf(t->fibre_tilt_deg) > 2.0f;
    if (n->present) {
        tl_sim_needle *o = &t->needle;
        o->present = true;
        o->in_plane = n->elev >= 0.5f;
        o->out_of_plane_mm = n->out_of_plane_mm;
        o->tip_x_mm = n->ex + n->dx * n->len;
        o->tip_z_mm = n->ez + n->dz * n->len;
        o->entry_x_mm = n->ex;
        o->entry_z_mm = n->ez;
        /* where the shaft enters the image, if it does */
        for (float s = 0.0f; s <= n->len; s += 0.05f) {
            float px = n->ex + n->dx * s, pz = n->ez + n->dz * s;
            if (in_image(sc, px, pz)) {
                o->entry_x_mm = px;
                o->entry_z_mm = pz;
                break;
            }
        }
        o->angle_deg = n->angle_deg;
        o->gauge = n->gauge;
        o->visibility = n->visibility;
    }
    /* the wires the frame images (a shallow depth cuts off the deep rows) */
    for (int k = 0; k < m->nwires && k < TL_SIM_MAX_WIRES; k++) {
        float px, pz;
        sim_anatomy_to_probe(m, m->wire_x[k], m->wire_z[k], &px, &pz);
        if (!in_image(sc, px, pz))
            continue;
        t->wire_x_mm[t->n_wires] = px;
        t->wire_z_mm[t->n_wires] = pz;
        t->n_wires++;
    }
}

/* Truth is float: print it to 1e-5 (not 0.300000011920929), NAN as null. */
static cJSON *num(double v)
{
    if (!isfinite(v))
        return cJSON_CreateNull();
    return cJSON_CreateNumber(fabs(v) < 1e9 ? round(v * 1e5) / 1e5 : v);
}

tl_status tl_sim_truth_to_json(const tl_sim_truth *t, char **json)
{
    if (!t || !json)
        return TL_ERR_INVALID_ARG;
    *json = NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return TL_ERR_NO_MEM;
    cJSON_AddStringToObject(o, "anatomy", tl_anatomy_name(t->anatomy));
    cJSON_AddStringToObject(o, "preset", t->preset);
    cJSON_AddNumberToObject(o, "seed", (double)t->seed);
    cJSON_AddNumberToObject(o, "frame_index", t->frame_index);
    cJSON *g = cJSON_AddObjectToObject(o, "geometry");
    if (g) {
        cJSON_AddStringToObject(g, "kind", t->geom.kind == TL_PROBE_CONVEX ? "convex" : "linear");
        cJSON_AddNumberToObject(g, "lines", t->geom.lines);
        cJSON_AddNumberToObject(g, "samples", t->geom.samples);
        cJSON_AddItemToObject(g, "pitch_mm", num(t->geom.pitch_mm));
        cJSON_AddItemToObject(g, "radius_mm", num(t->geom.radius_mm));
        cJSON_AddNumberToObject(g, "f0_hz", t->geom.f0_hz);
        cJSON_AddNumberToObject(g, "fs_hz", t->geom.fs_hz);
        cJSON_AddNumberToObject(g, "c_m_s", t->geom.c_m_s);
        cJSON_AddItemToObject(g, "depth_start_mm", num(t->geom.depth_start_mm));
    }
    cJSON *bs = cJSON_AddArrayToObject(o, "boundaries");
    for (uint32_t k = 0; bs && k < t->n_boundaries && k < TL_SIM_MAX_BOUNDARIES; k++) {
        const tl_sim_boundary *b = &t->boundaries[k];
        cJSON *bo = cJSON_CreateObject();
        cJSON_AddStringToObject(bo, "kind", tl_boundary_name(b->kind));
        uint32_t n = b->n < TL_SIM_MAX_POINTS ? b->n : TL_SIM_MAX_POINTS;
        cJSON *xs = cJSON_AddArrayToObject(bo, "x_mm"), *zs = cJSON_AddArrayToObject(bo, "z_mm");
        for (uint32_t i = 0; i < n; i++) {
            cJSON_AddItemToArray(xs, num(b->x_mm[i]));
            cJSON_AddItemToArray(zs, num(b->z_mm[i]));
        }
        cJSON_AddItemToArray(bs, bo);
    }
    cJSON_AddItemToObject(o, "thickness_mm", num(t->thickness_mm));
    cJSON *site = cJSON_AddObjectToObject(o, "site");
    if (site) {
        cJSON_AddItemToObject(site, "x_mm", num(t->site_x_mm));
        cJSON_AddItemToObject(site, "z_mm", num(t->site_z_mm));
    }
    cJSON_AddBoolToObject(o, "achilles_insertion", t->achilles_insertion);
    cJSON *ls = cJSON_AddArrayToObject(o, "lesions");
    for (uint32_t k = 0; ls && k < t->n_lesions && k < TL_SIM_MAX_LESIONS; k++) {
        const tl_sim_lesion *l = &t->lesions[k];
        cJSON *lo = cJSON_CreateObject();
        cJSON_AddStringToObject(lo, "kind", lesion_kind_name(l->kind));
        cJSON_AddItemToObject(lo, "cx_mm", num(l->cx_mm));
        cJSON_AddItemToObject(lo, "cz_mm", num(l->cz_mm));
        cJSON_AddItemToObject(lo, "width_mm", num(l->width_mm));
        cJSON_AddItemToObject(lo, "depth_mm", num(l->depth_mm));
        cJSON_AddItemToObject(lo, "angle_deg", num(l->angle_deg));
        cJSON_AddItemToObject(lo, "contrast_db", num(l->contrast_db));
        cJSON_AddItemToArray(ls, lo);
    }
    cJSON_AddNumberToObject(o, "effusion_grade", t->effusion_grade);
    cJSON_AddItemToObject(o, "cartilage_mm", num(t->cartilage_mm));
    cJSON_AddBoolToObject(o, "anisotropic", t->anisotropic);
    cJSON_AddItemToObject(o, "fibre_tilt_deg", num(t->fibre_tilt_deg));
    cJSON *nd = cJSON_AddObjectToObject(o, "needle");
    if (nd) {
        const tl_sim_needle *n = &t->needle;
        cJSON_AddBoolToObject(nd, "present", n->present);
        cJSON_AddBoolToObject(nd, "in_plane", n->in_plane);
        cJSON_AddItemToObject(nd, "out_of_plane_mm", num(n->out_of_plane_mm));
        cJSON_AddItemToObject(nd, "entry_x_mm", num(n->entry_x_mm));
        cJSON_AddItemToObject(nd, "entry_z_mm", num(n->entry_z_mm));
        cJSON_AddItemToObject(nd, "tip_x_mm", num(n->tip_x_mm));
        cJSON_AddItemToObject(nd, "tip_z_mm", num(n->tip_z_mm));
        cJSON_AddItemToObject(nd, "angle_deg", num(n->angle_deg));
        cJSON_AddItemToObject(nd, "gauge", num(n->gauge));
        cJSON_AddItemToObject(nd, "visibility", num(n->visibility));
    }
    cJSON *ws = cJSON_AddArrayToObject(o, "wires");
    for (uint32_t k = 0; ws && k < t->n_wires && k < TL_SIM_MAX_WIRES; k++) {
        cJSON *w = cJSON_CreateObject();
        cJSON_AddItemToObject(w, "x_mm", num(t->wire_x_mm[k]));
        cJSON_AddItemToObject(w, "z_mm", num(t->wire_z_mm[k]));
        cJSON_AddItemToArray(ws, w);
    }
    *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return *json ? TL_OK : TL_ERR_NO_MEM;
}
