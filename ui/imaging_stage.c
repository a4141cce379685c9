/* The processing thread's first stage: frame -> B-mode raster -> the grey
 * image a view shows. Kept apart from the thread plumbing in pipeline.c: it
 * owns the imaging plans (one per steering angle in use) and the newest
 * straight image that fills what a steered frame does not cover. */
#include "ui_internal.h"

#include <stdlib.h>
#include <string.h>

static bool same_geom(const tl_geometry *a, const tl_geometry *b)
{
    return a->kind == b->kind && a->lines == b->lines && a->samples == b->samples &&
           a->pitch_mm == b->pitch_mm && a->radius_mm == b->radius_mm && a->fs_hz == b->fs_hz &&
           a->f0_hz == b->f0_hz && a->c_m_s == b->c_m_s && a->depth_start_mm == b->depth_start_mm &&
           a->steer_deg == b->steer_deg;
}

/* The plan for this frame's geometry: a cached one, or a new one replacing
 * the least recently used. */
static tl_status pick_plan(ui_imaging_stage *s, const tl_frame *f)
{
    int slot = -1;
    for (int i = 0; i < UI_PLANS; i++)
        if (s->plans[i] && same_geom(&s->plans_geom[i], &f->geom) && s->plans_type[i] == f->type)
            slot = i;
    if (slot < 0) {
        slot = 0;
        for (int i = 1; i < UI_PLANS; i++)
            if (!s->plans[i] || (s->plans[slot] && s->plans_used[i] < s->plans_used[slot]))
                slot = i;
        tl_imaging_plan_destroy(s->plans[slot]);
        s->plans[slot] = NULL;
        tl_imaging_params ip = tl_imaging_params_default();
        /* Quick planning: the plan is built on the first frame while the
         * probe streams; FFTW_MEASURE would stall the first image. */
        ip.fft_effort = 0;
        ip.orientation = (tl_orientation)s->orientation;
        /* Height fixed, width from the scanned area: no black margins, and
         * about one raster pixel per screen pixel in the station's layout.
         * A steered frame gets the raster of the same frame straight. */
        ip.out_width = 0;
        ip.out_height = s->out_height ? s->out_height : 640;
        tl_status st = tl_imaging_plan_create(&f->geom, f->type, &ip, &s->plans[slot]);
        if (st != TL_OK)
            return st;
        s->plans_geom[slot] = f->geom;
        s->plans_type[slot] = f->type;
    }
    s->plans_used[slot] = ++s->plan_clock;
    s->plan = s->plans[slot];
    return TL_OK;
}

tl_status ui_imaging_stage_bmode(ui_imaging_stage *s, const tl_frame *f)
{
    tl_status st = pick_plan(s, f);
    if (st != TL_OK)
        return st;
    uint32_t W, H;
    if ((st = tl_imaging_plan_output(s->plan, &W, &H, NULL, NULL, NULL)) != TL_OK)
        return st;
    if (s->bm.width != W || s->bm.height != H) {
        tl_bmode_free(&s->bm);
        if ((st = tl_imaging_bmode_alloc(s->plan, &s->bm)) != TL_OK)
            return st;
    }
    return tl_imaging_execute(s->plan, f, &s->bm, NULL);
}

tl_status ui_imaging_stage_grey(ui_imaging_stage *s, bool steered, ui_view *v)
{
    const tl_bmode *bm = &s->bm;
    v->w = bm->width;
    v->h = bm->height;
    size_t need = (size_t)v->w * v->h;
    if (v->grey_cap < need) {
        uint8_t *n = realloc(v->grey, need);
        if (!n)
            return TL_ERR_NO_MEM;
        v->grey = n;
        v->grey_cap = need;
    }
    for (uint32_t r = 0; r < v->h; r++)
        memcpy(v->grey + (size_t)r * v->w, bm->pixels + (size_t)r * bm->stride, v->w);
    if (!steered) {
        /* keep it: the next steered frames show it where they see nothing */
        if (s->straight_cap < need) {
            uint8_t *n = realloc(s->straight_grey, need);
            if (n) {
                s->straight_grey = n;
                s->straight_cap = need;
            }
        }
        if (s->straight_cap >= need) {
            memcpy(s->straight_grey, v->grey, need);
            s->straight_w = v->w;
            s->straight_h = v->h;
        }
    } else if (bm->valid && s->straight_w == v->w && s->straight_h == v->h) {
        /* the area no steered line reaches (black, not valid) is shown from
         * the newest straight frame rather than flickering black */
        for (uint32_t r = 0; r < v->h; r++) {
            const uint8_t *vr = bm->valid + (size_t)r * bm->stride;
            uint8_t *g = v->grey + (size_t)r * v->w;
            const uint8_t *sg = s->straight_grey + (size_t)r * v->w;
            for (uint32_t c = 0; c < v->w; c++)
                if (!vr[c])
                    g[c] = sg[c];
        }
    }
    return TL_OK;
}

void ui_imaging_stage_free(ui_imaging_stage *s)
{
    for (int i = 0; i < UI_PLANS; i++)
        tl_imaging_plan_destroy(s->plans[i]);
    tl_bmode_free(&s->bm);
    free(s->straight_grey);
    memset(s, 0, sizeof *s);
}
