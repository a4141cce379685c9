/* tl_analysis entry points: parameters, the analyzer workspace and the
 * per-frame dispatch to the anatomy-specific analysis. */
#include "an_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const anatomy_names[] = { NULL, "plantar-fascia", "achilles", "ankle-recess" };

const char *tl_analysis_anatomy_name(int anatomy)
{
    return anatomy >= 1 && anatomy <= 3 ? anatomy_names[anatomy] : "unknown";
}

int tl_analysis_anatomy_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int i = 1; i <= 3; i++)
        if (strcmp(name, anatomy_names[i]) == 0)
            return i;
    return -1;
}

const char *tl_target_kind_name(int kind)
{
    static const char *const names[] = { "hypoechoic", "anechoic", "fluid", "effusion" };
    return kind >= 0 && kind <= 3 ? names[kind] : "unknown";
}

tl_analysis_params tl_analysis_params_default(int anatomy)
{
    tl_analysis_params p;
    memset(&p, 0, sizeof p);
    p.anatomy = anatomy;
    p.dynamic_range_db = 60.0f;
    p.achilles_site = TL_ACHILLES_SITE_AUTO;
    return p;
}

void an_warn(tl_analysis_result *r, const char *fmt, ...)
{
    if (r->n_warnings >= TL_ANALYSIS_MAX_WARNINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->warnings[r->n_warnings], TL_ANALYSIS_WARNING_LEN, fmt, ap);
    va_end(ap);
    r->n_warnings++;
}

tl_status tl_analyzer_create(tl_analyzer **out)
{
    if (!out)
        return TL_ERR_INVALID_ARG;
    *out = calloc(1, sizeof **out);
    return *out ? TL_OK : TL_ERR_NO_MEM;
}

void tl_analyzer_destroy(tl_analyzer *a)
{
    if (!a)
        return;
    free(a->prof);
    free(a->sm);
    free(a->tmp);
    free(a->cum);
    free(a->cell);
    free(a->label);
    free(a->stack);
    free(a->les_res);
    free(a->les_z);
    free(a->les_sum);
    free(a->les_cnt);
    free(a->band_is);
    free(a->band_sign);
    free(a->band_cost);
    free(a->band_from);
    free(a);
}

static void result_init(tl_analysis_result *r, int anatomy)
{
    memset(r, 0, sizeof *r);
    r->anatomy = anatomy;
    r->thickness_mm = r->thickness_sd_mm = NAN;
    r->site_x_mm = r->site_z_mm = NAN;
    r->abnormal_limit_mm = NAN;
    r->echogenicity_db = NAN;
    r->midportion_mm = r->insertion_mm = NAN;
    r->effusion_depth_mm = r->effusion_area_mm2 = NAN;
    r->cartilage_mm = NAN;
    r->aniso_x_mm = r->aniso_angle_deg = NAN;
    r->best_target = -1;
}

tl_status tl_analyze(tl_analyzer *a, const tl_bmode *img, const tl_analysis_params *p,
                     tl_analysis_result *out)
{
    if (!a || !img || !p || !out)
        return TL_ERR_INVALID_ARG;
    if (p->anatomy < TL_AN_PLANTAR_FASCIA || p->anatomy > TL_AN_ANKLE_RECESS)
        return TL_ERR_INVALID_ARG;
    tl_analysis_params q = *p;
    if (!(q.dynamic_range_db > 1 && q.dynamic_range_db < 200))
        q.dynamic_range_db = 60.0f;
    result_init(out, p->anatomy);
    tl_status st = an_prepare(a, img);
    if (st != TL_OK)
        return st;
    a->dr_db = q.dynamic_range_db;
    switch (p->anatomy) {
    case TL_AN_PLANTAR_FASCIA:
        an_plantar(a, &q, out);
        break;
    case TL_AN_ACHILLES:
        an_achilles(a, &q, out);
        break;
    default:
        an_ankle(a, &q, out);
        break;
    }
    if (p->anatomy != TL_AN_ANKLE_RECESS && out->structure_found)
        an_find_targets(a, &q, out);
    else if (p->anatomy == TL_AN_ANKLE_RECESS)
        an_effusion_gate(out);
    if (!out->structure_found) {
        out->thickness_mm = NAN;
        out->abnormal = false;
        an_warn(out, "%s not found in this image",
                p->anatomy == TL_AN_ANKLE_RECESS ? "ankle joint (tibia and talus)"
                : p->anatomy == TL_AN_ACHILLES   ? "Achilles tendon"
                                                 : "plantar fascia");
    }
    if (out->fibre_angle_deg > 10.0f && !out->anisotropy && p->anatomy != TL_AN_ANKLE_RECESS)
        an_warn(out, "beam %.0f deg off perpendicular to the fibres: echo may drop "
                "(anisotropy), tilt the probe", out->fibre_angle_deg);
    return TL_OK;
}
