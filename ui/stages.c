/* The view a frame publishes: its lifetime and how each stage's result is
 * written into it. Kept apart from the thread plumbing in pipeline.c so the
 * mapping from library results to what the screen shows reads in one place. */
#include "ui_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ui_view_free(ui_view *v)
{
    free(v->grey);
    v->grey = NULL;
    v->grey_cap = 0;
}

tl_status ui_view_copy(ui_view *dst, const ui_view *src)
{
    uint8_t *keep = dst->grey;
    size_t cap = dst->grey_cap;
    size_t need = (size_t)src->w * src->h;
    if (need > cap) {
        uint8_t *n = realloc(keep, need);
        if (!n)
            return TL_ERR_NO_MEM;
        keep = n;
        cap = need;
    }
    *dst = *src;
    dst->grey = keep;
    dst->grey_cap = cap;
    if (need && src->grey)
        memcpy(dst->grey, src->grey, need);
    return TL_OK;
}

#ifdef TL_UI_HAVE_ANALYSIS
static void copy_poly(ui_polyline *d, const tl_analysis_polyline *s)
{
    d->n = s->n < UI_MAX_POINTS ? s->n : UI_MAX_POINTS;
    memcpy(d->x, s->x_mm, d->n * sizeof(float));
    memcpy(d->z, s->z_mm, d->n * sizeof(float));
}

/* The analysis' name for an anatomy as an operator may type it
 * ("Plantar fascia" -> "plantar-fascia"); -1 if it is none it knows. */
int ui_anatomy_code(const char *name)
{
    char norm[32];
    size_t i = 0;
    for (; name && name[i] && i + 1 < sizeof norm; i++)
        norm[i] = name[i] == ' ' || name[i] == '_' ? '-' : (char)tolower((unsigned char)name[i]);
    norm[i] = '\0';
    return tl_analysis_anatomy_from_name(norm);
}

void ui_view_set_analysis(ui_analysis *an, const tl_analysis_result *r)
{
    an->have_analysis = true;
    an->structure_found = r->structure_found;
    an->thickness_mm = r->thickness_mm;
    an->thickness_sd_mm = r->thickness_sd_mm;
    an->limit_mm = r->abnormal_limit_mm;
    an->abnormal = r->abnormal;
    an->site_x = r->site_x_mm;
    an->site_z = r->site_z_mm;
    copy_poly(&an->sup, &r->superficial);
    copy_poly(&an->deep, &r->deep);
    copy_poly(&an->bone, &r->bone);
    copy_poly(&an->bone2, &r->bone2);
    /* the banner's angle: where the angle darkens the band near the site */
    an->fibre_angle_deg = r->anisotropy && !isnan(r->aniso_angle_deg)
                              ? r->aniso_angle_deg
                              : r->fibre_angle_deg;
    an->anisotropy = r->anisotropy;
    an->hypoechoic = r->hypoechoic;
    an->cleft = r->cleft;
    an->fluid = r->perifascial_fluid;
    an->effusion_grade = r->effusion_grade;
    an->n_targets = r->n_targets < UI_MAX_TARGETS ? r->n_targets : UI_MAX_TARGETS;
    for (uint32_t i = 0; i < an->n_targets; i++) {
        const tl_analysis_target *t = &r->targets[i];
        an->targets[i] = (ui_target){ t->kind, t->x_mm, t->z_mm, t->width_mm, t->depth_mm,
                                     t->confidence };
    }
    an->best_target = r->best_target < (int)an->n_targets ? r->best_target : -1;
    an->warning[0] = '\0';
    if (r->n_warnings)
        snprintf(an->warning, sizeof an->warning, "%s", r->warnings[0]);
}
#else
int ui_anatomy_code(const char *name)
{
    (void)name;
    return -1;
}
#endif

#ifdef TL_UI_HAVE_GUIDANCE
void ui_view_set_needle(ui_view *v, const tl_needle_detection *d, const tl_needle_track *tr)
{
    v->have_needle = true;
    v->needle_found = tr->found;
    v->out_of_plane = tr->out_of_plane;
    v->tip_x = tr->tip_x_mm;
    v->tip_z = tr->tip_z_mm;
    v->angle_deg = tr->angle_deg;
    v->needle_conf = tr->confidence;
    /* Entry: back along the shaft (direction sign(a)*(cos a, sin a), deeper
     * as it goes) by the visible length. */
    float len = d->found ? d->length_mm : 15.0f;
    float a = tr->angle_deg * (float)M_PI / 180.0f;
    float sgn = tr->angle_deg >= 0 ? 1.0f : -1.0f;
    v->entry_x = tr->tip_x_mm - len * sgn * cosf(a);
    v->entry_z = tr->tip_z_mm - len * sgn * sinf(a);
    if (d->found) {
        v->entry_x = d->entry_x_mm;
        v->entry_z = d->entry_z_mm;
    }
    snprintf(v->track_state, sizeof v->track_state, "%s", tl_track_state_name(tr->state));
}
#endif
