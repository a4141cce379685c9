/* Temporal stability: a light alpha filter on measurements and outlines and
 * a confirm-by-recurrence rule for targets, so outlines don't jump and a
 * one-frame speckle blob never becomes an injection target. */
#include "an_internal.h"

#include <stdlib.h>
#include <string.h>

#define TRK_MAX 16
#define ALPHA 0.35f

typedef struct {
    tl_analysis_target t;
    uint32_t hits;        /* bit i: seen i frames ago */
    bool used;
} track;

struct tl_analysis_tracker {
    uint32_t frames;
    float thick, var;     /* smoothed thickness and the variance of its innovations */
    tl_analysis_polyline lines[4];
    track tr[TRK_MAX];
};

tl_status tl_analysis_tracker_create(tl_analysis_tracker **out)
{
    if (!out)
        return TL_ERR_INVALID_ARG;
    *out = calloc(1, sizeof **out);
    return *out ? TL_OK : TL_ERR_NO_MEM;
}

void tl_analysis_tracker_destroy(tl_analysis_tracker *t) { free(t); }

void tl_analysis_tracker_reset(tl_analysis_tracker *t)
{
    if (t)
        memset(t, 0, sizeof *t);
}

static float interp_line(const tl_analysis_polyline *pl, float x)
{
    if (pl->n == 0 || x < pl->x_mm[0] - 0.5f || x > pl->x_mm[pl->n - 1] + 0.5f)
        return NAN;
    for (uint32_t i = 0; i + 1 < pl->n; i++)
        if (x <= pl->x_mm[i + 1]) {
            float dx = pl->x_mm[i + 1] - pl->x_mm[i];
            if (dx > 2.0f)   /* a gap in the outline */
                return NAN;
            float f = dx > 0 ? (x - pl->x_mm[i]) / dx : 0;
            return pl->z_mm[i] + f * (pl->z_mm[i + 1] - pl->z_mm[i]);
        }
    return pl->z_mm[pl->n - 1];
}

/* Pull each point towards where the previous smoothed outline was, unless it
 * moved so far that the probe must have moved (then follow at once). */
static void smooth_line(tl_analysis_polyline *prev, tl_analysis_polyline *cur)
{
    for (uint32_t i = 0; i < cur->n; i++) {
        float z0 = interp_line(prev, cur->x_mm[i]);
        if (!isnan(z0) && fabsf(z0 - cur->z_mm[i]) < 2.0f)
            cur->z_mm[i] = z0 + ALPHA * (cur->z_mm[i] - z0);
    }
    *prev = *cur;
}

tl_status tl_analysis_tracker_update(tl_analysis_tracker *t, const tl_analysis_result *frame,
                                     tl_analysis_result *smoothed)
{
    if (!t || !frame || !smoothed)
        return TL_ERR_INVALID_ARG;
    if (smoothed != frame)
        *smoothed = *frame;
    tl_analysis_result *r = smoothed;
    t->frames++;
    /* measurement */
    if (!isnan(r->thickness_mm)) {
        if (t->frames == 1 || isnan(t->thick) || fabsf(r->thickness_mm - t->thick) > 2.0f) {
            t->thick = r->thickness_mm;
            t->var = isnan(r->thickness_sd_mm) ? 0.01f : r->thickness_sd_mm * r->thickness_sd_mm;
        } else {
            float d = r->thickness_mm - t->thick;
            t->thick += ALPHA * d;
            t->var = (1 - ALPHA) * (t->var + ALPHA * d * d);
        }
        r->thickness_mm = t->thick;
        /* the filter's output spread: innovation variance scaled by its gain */
        r->thickness_sd_mm = sqrtf(t->var * ALPHA / (2 - ALPHA) + 0.02f * 0.02f);
        if (!isnan(r->abnormal_limit_mm))
            r->abnormal = r->thickness_mm > r->abnormal_limit_mm;
    }
    smooth_line(&t->lines[0], &r->superficial);
    smooth_line(&t->lines[1], &r->deep);
    smooth_line(&t->lines[2], &r->bone);
    smooth_line(&t->lines[3], &r->bone2);

    /* targets: match, smooth, age */
    for (int k = 0; k < TRK_MAX; k++)
        t->tr[k].hits <<= 1;
    for (uint32_t i = 0; i < frame->n_targets; i++) {
        const tl_analysis_target *c = &frame->targets[i];
        int best = -1;
        float bd = 1e9f;
        for (int k = 0; k < TRK_MAX; k++) {
            if (!t->tr[k].used)
                continue;
            float d = hypotf(t->tr[k].t.x_mm - c->x_mm, t->tr[k].t.z_mm - c->z_mm);
            float gate = fmaxf(2.0f, 0.5f * t->tr[k].t.width_mm);
            if (d < gate && d < bd) {
                bd = d;
                best = k;
            }
        }
        if (best < 0) {
            for (int k = 0; k < TRK_MAX && best < 0; k++)
                if (!t->tr[k].used || (t->tr[k].hits & 0xFu) == 0)
                    best = k;
            if (best < 0)
                continue;
            t->tr[best].used = true;
            t->tr[best].t = *c;
            t->tr[best].hits = 1;
            continue;
        }
        tl_analysis_target *s = &t->tr[best].t;
        s->x_mm += ALPHA * (c->x_mm - s->x_mm);
        s->z_mm += ALPHA * (c->z_mm - s->z_mm);
        s->width_mm += ALPHA * (c->width_mm - s->width_mm);
        s->depth_mm += ALPHA * (c->depth_mm - s->depth_mm);
        s->area_mm2 += ALPHA * (c->area_mm2 - s->area_mm2);
        s->contrast_db += ALPHA * (c->contrast_db - s->contrast_db);
        s->confidence += ALPHA * (c->confidence - s->confidence);
        s->kind = c->kind;
        t->tr[best].hits |= 1;
    }
    /* report targets seen in at least 2 of the last 4 frames (or every frame
     * so far while the tracker is young) */
    r->n_targets = 0;
    for (int k = 0; k < TRK_MAX; k++) {
        if (!t->tr[k].used)
            continue;
        uint32_t h = t->tr[k].hits & 0xFu;
        int cnt = __builtin_popcount(h);
        bool confirmed = cnt >= 2 || (t->frames == 1 && (h & 1));
        if ((h & 0xFu) == 0)
            t->tr[k].used = false;
        if (!confirmed || r->n_targets >= TL_ANALYSIS_MAX_TARGETS)
            continue;
        r->targets[r->n_targets] = t->tr[k].t;
        /* confidence fades when the target was missed lately */
        r->targets[r->n_targets].confidence *= (float)cnt / 4.0f + (h & 1 ? 0.25f : 0.0f);
        if (r->targets[r->n_targets].confidence > 1)
            r->targets[r->n_targets].confidence = 1;
        r->n_targets++;
    }
    for (uint32_t i = 1; i < r->n_targets; i++)
        for (uint32_t j = i; j > 0 && r->targets[j].confidence > r->targets[j - 1].confidence; j--) {
            tl_analysis_target x = r->targets[j];
            r->targets[j] = r->targets[j - 1];
            r->targets[j - 1] = x;
        }
    r->best_target = r->n_targets ? 0 : -1;
    return TL_OK;
}
