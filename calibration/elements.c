/* Element check in air: with nothing against the lens, each line sees only
 * the lens / matching-layer ring-down (reverberations close to the face) and
 * electronic noise. The ring-down energy of a line follows its element's
 * transmit/receive sensitivity, so comparing lines against the median line
 * finds dead and weak elements. The depth window is where the across-line
 * median profile stands well above the deeper noise. */
#include "cal_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

tl_cal_elements_tol tl_cal_elements_tol_default(void)
{
    tl_cal_elements_tol t = { .dead_db = -12.0f, .weak_db = -4.5f, .max_weak = 0 };
    return t;
}

struct tl_cal_elements {
    tl_geometry g;
    uint32_t elements;
    uint32_t frames;
    double *power;           /* lines x samples: summed env^2 over frames */
};

tl_status tl_cal_elements_create(const tl_geometry *g, uint32_t elements, tl_cal_elements **out)
{
    if (!g || !out || g->lines < 8 || g->samples < 16)
        return TL_ERR_INVALID_ARG;
    if (elements == 0)
        elements = g->lines;
    if (elements > TL_CAL_MAX_ELEMENTS)
        return TL_ERR_INVALID_ARG;
    tl_cal_elements *e = calloc(1, sizeof *e);
    if (!e)
        return TL_ERR_NO_MEM;
    e->power = calloc((size_t)g->lines * g->samples, sizeof *e->power);
    if (!e->power) {
        free(e);
        return TL_ERR_NO_MEM;
    }
    e->g = *g;
    e->elements = elements;
    *out = e;
    return TL_OK;
}

void tl_cal_elements_destroy(tl_cal_elements *e)
{
    if (!e)
        return;
    free(e->power);
    free(e);
}

tl_status tl_cal_elements_add(tl_cal_elements *e, const float *env)
{
    if (!e || !env)
        return TL_ERR_INVALID_ARG;
    size_t n = (size_t)e->g.lines * e->g.samples;
    for (size_t i = 0; i < n; i++)
        e->power[i] += (double)env[i] * env[i];
    e->frames++;
    return TL_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

tl_status tl_cal_elements_finish(tl_cal_elements *e, const tl_cal_elements_tol *tol,
                                 tl_cal_elements_result *r)
{
    if (!e || !r)
        return TL_ERR_INVALID_ARG;
    tl_cal_elements_tol t = tol ? *tol : tl_cal_elements_tol_default();
    memset(r, 0, sizeof *r);
    r->frames = e->frames;
    r->elements = e->elements;
    if (e->frames == 0)
        return TL_ERR_NOT_FOUND;
    const uint32_t L = e->g.lines, S = e->g.samples;
    double *tmp = malloc(sizeof *tmp * (L > S ? L : S));
    double *prof = malloc(sizeof *prof * S);
    double *level = malloc(sizeof *level * L);
    if (!tmp || !prof || !level) {
        free(tmp);
        free(prof);
        free(level);
        return TL_ERR_NO_MEM;
    }
    /* median-over-lines power at each depth: robust to the bad lines */
    double pmax = 0;
    uint32_t smax = 0;
    for (uint32_t s = 0; s < S; s++) {
        for (uint32_t i = 0; i < L; i++)
            tmp[i] = e->power[(size_t)i * S + s];
        prof[s] = median_of(tmp, L);
        if (prof[s] > pmax) {
            pmax = prof[s];
            smax = s;
        }
    }
    /* the ring-down window: from the face to the last depth (in the upper
     * half) still within 30 dB of the strongest reverberation */
    uint32_t s_end = smax;
    for (uint32_t s = smax; s < S / 2; s++)
        if (prof[s] >= pmax * 1e-3)
            s_end = s;
    for (uint32_t i = 0; i < L; i++) {
        double sum = 0;
        for (uint32_t s = 0; s <= s_end; s++)
            sum += e->power[(size_t)i * S + s];
        level[i] = 10.0 * log10(sum + 1e-30);
    }
    memcpy(tmp, level, sizeof *tmp * L);
    double med = median_of(tmp, L);
    float x, z;
    cal_line_sample_mm(&e->g, 0, s_end, &x, &z);
    r->ringdown_mm = z;
    bool *is_dead = calloc(e->elements, sizeof *is_dead);
    if (!is_dead) {
        free(tmp);
        free(prof);
        free(level);
        return TL_ERR_NO_MEM;
    }
    for (uint32_t el = 0; el < e->elements; el++) {
        /* the line whose centre falls on this element */
        uint32_t line = (uint32_t)(((double)el + 0.5) * L / e->elements);
        if (line >= L)
            line = L - 1;
        r->sensitivity_db[el] = (float)(level[line] - med);
        /* clearly dead: well below the dead threshold even if darkened by
         * dead neighbours' share of its line */
        is_dead[el] = r->sensitivity_db[el] < t.dead_db - 3.0f;
    }
    /* A line is formed by a few neighbouring elements, so a dead element
     * also darkens its neighbours' lines. That loss is measured on the
     * neighbours of the clearly dead elements (the least darkened one: a
     * neighbour may itself be weak) and given back before the others are
     * called dead or weak, so a healthy element next to (or between) dead
     * ones is not "weak", and a weak one between two dead ones not "dead". */
    float loss = 0.0f;
    bool any = false;
    for (uint32_t el = 0; el < e->elements; el++) {
        if (is_dead[el])
            continue;
        int nd = (el > 0 && is_dead[el - 1]) + (el + 1 < e->elements && is_dead[el + 1]);
        if (nd == 1 && (!any || r->sensitivity_db[el] > loss)) {
            loss = r->sensitivity_db[el];
            any = true;
        }
    }
    loss = loss > 0.0f ? 0.0f : loss < t.weak_db + 0.5f ? t.weak_db + 0.5f : loss;
    r->neighbour_loss_db = loss;
    for (uint32_t el = 0; el < e->elements; el++) {
        int nd = (el > 0 && is_dead[el - 1]) + (el + 1 < e->elements && is_dead[el + 1]);
        float db = is_dead[el] ? r->sensitivity_db[el] : r->sensitivity_db[el] - (float)nd * loss;
        if (db < t.dead_db)
            r->dead[r->n_dead++] = el;
        else if (db < t.weak_db)
            r->weak[r->n_weak++] = el;
    }
    free(is_dead);
    r->pass = r->n_dead == 0 && r->n_weak <= t.max_weak;
    free(tmp);
    free(prof);
    free(level);
    return TL_OK;
}
