/* Spatial calibration with a wire phantom: point echoes found in each
 * envelope frame (local maxima far above the water background, refined with
 * a parabola on the log amplitude, exact for the Gaussian-like beam and
 * pulse), matched to the phantom's wires in stages (shallow wires first,
 * where scale errors move echoes least, gates narrowing as the model
 * improves), then x and z fitted by least squares. */
#include "cal_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ECHOES_PER_FRAME 96
#define MAX_FRAMES 512

tl_cal_spatial_tol tl_cal_spatial_tol_default(void)
{
    tl_cal_spatial_tol t = { .residual_mm = 0.2f, .max_scale_err_pct = 5.0f,
                             .max_offset_mm = 2.0f, .min_matched_frac = 0.9f };
    return t;
}

static int by_amp(const void *a, const void *b)
{
    float x = ((const tl_cal_echo *)a)->amplitude, y = ((const tl_cal_echo *)b)->amplitude;
    return (x < y) - (x > y);
}

tl_status tl_cal_find_echoes(const float *env, const tl_geometry *g, tl_cal_echo *out,
                             uint32_t cap, uint32_t *n_out)
{
    if (!env || !g || !out || !n_out || g->lines < 3 || g->samples < 16)
        return TL_ERR_INVALID_ARG;
    *n_out = 0;
    const uint32_t L = g->lines, S = g->samples;
    size_t n = (size_t)L * S;
    float mx = 0.0f;
    for (size_t i = 0; i < n; i++)
        if (env[i] > mx)
            mx = env[i];
    float med = cal_frame_median(env, n);
    float thr = fmaxf(0.08f * mx, 12.0f * med);
    if (!(thr > 0.0f))
        return TL_OK;
    int ws = (int)lroundf(2.0f * g->fs_hz / g->f0_hz); /* about two periods */
    if (ws < 4)
        ws = 4;
    const int wl = 2;
    uint32_t cnt = 0;
    tl_cal_echo *tmp = malloc(sizeof *tmp * 4096);
    if (!tmp)
        return TL_ERR_NO_MEM;
    for (uint32_t i = 1; i + 1 < L; i++) {
        const float *col = env + (size_t)i * S;
        for (uint32_t s = 1; s + 1 < S; s++) {
            float v = col[s];
            if (v < thr || v < col[s - 1] || v < col[s + 1])
                continue;
            bool peak = true;
            for (int di = -wl; di <= wl && peak; di++) {
                int li = (int)i + di;
                if (li < 0 || li >= (int)L)
                    continue;
                for (int ds = -ws; ds <= ws; ds++) {
                    int si = (int)s + ds;
                    if (si < 0 || si >= (int)S || (di == 0 && ds == 0))
                        continue;
                    float u = env[(size_t)li * S + (size_t)si];
                    /* ties go to the earliest sample, so a plateau gives one peak */
                    if (u > v || (u == v && (di < 0 || (di == 0 && ds < 0)))) {
                        peak = false;
                        break;
                    }
                }
            }
            if (!peak || cnt >= 4096)
                continue;
            double l0 = log(v);
            double dl = cal_parabola_peak(log(fmaxf(env[(size_t)(i - 1) * S + s], 1e-6f)), l0,
                                          log(fmaxf(env[(size_t)(i + 1) * S + s], 1e-6f)));
            double dsub = cal_parabola_peak(log(fmaxf(col[s - 1], 1e-6f)), l0,
                                            log(fmaxf(col[s + 1], 1e-6f)));
            float x, z;
            cal_line_sample_mm(g, i + dl, s + dsub, &x, &z);
            tmp[cnt].x_mm = x;
            tmp[cnt].z_mm = z;
            tmp[cnt].amplitude = v;
            cnt++;
        }
    }
    qsort(tmp, cnt, sizeof *tmp, by_amp);
    /* one echo per wire: drop weaker maxima within 1 mm of a stronger one */
    uint32_t k = 0;
    for (uint32_t a = 0; a < cnt && k < cap; a++) {
        bool near = false;
        for (uint32_t b = 0; b < k && !near; b++)
            near = hypotf(tmp[a].x_mm - out[b].x_mm, tmp[a].z_mm - out[b].z_mm) < 1.0f;
        if (!near)
            out[k++] = tmp[a];
    }
    free(tmp);
    *n_out = k;
    return TL_OK;
}

struct tl_cal_spatial {
    tl_geometry g;
    uint32_t n_wires;
    float wx[TL_CAL_MAX_WIRES], wz[TL_CAL_MAX_WIRES];
    uint32_t frames;
    uint32_t n_echoes[MAX_FRAMES];
    tl_cal_echo *echoes;     /* MAX_FRAMES x MAX_ECHOES_PER_FRAME */
};

tl_status tl_cal_spatial_create(const float *wx, const float *wz, uint32_t n_wires,
                                const tl_geometry *g, tl_cal_spatial **out)
{
    if (!wx || !wz || !g || !out || n_wires == 0 || n_wires > TL_CAL_MAX_WIRES)
        return TL_ERR_INVALID_ARG;
    if (tl_geometry_validate(g) != TL_OK)
        return TL_ERR_INVALID_ARG;
    tl_cal_spatial *s = calloc(1, sizeof *s);
    if (!s)
        return TL_ERR_NO_MEM;
    s->echoes = malloc(sizeof *s->echoes * MAX_FRAMES * MAX_ECHOES_PER_FRAME);
    if (!s->echoes) {
        free(s);
        return TL_ERR_NO_MEM;
    }
    s->g = *g;
    s->n_wires = n_wires;
    memcpy(s->wx, wx, n_wires * sizeof *wx);
    memcpy(s->wz, wz, n_wires * sizeof *wz);
    *out = s;
    return TL_OK;
}

void tl_cal_spatial_destroy(tl_cal_spatial *s)
{
    if (!s)
        return;
    free(s->echoes);
    free(s);
}

tl_status tl_cal_spatial_add(tl_cal_spatial *s, const float *env)
{
    if (!s || !env)
        return TL_ERR_INVALID_ARG;
    if (s->frames >= MAX_FRAMES)
        return TL_ERR_OVERFLOW;
    uint32_t n;
    tl_status st = tl_cal_find_echoes(env, &s->g,
                                      s->echoes + (size_t)s->frames * MAX_ECHOES_PER_FRAME,
                                      MAX_ECHOES_PER_FRAME, &n);
    if (st != TL_OK)
        return st;
    s->n_echoes[s->frames++] = n;
    return TL_OK;
}

/* Linear array: z_true = a z_disp + bz, x_true = sx x_disp + bx.
 * Convex array (apex R above the face centre): the range along each ray is
 * what a speed-of-sound error scales, so r_true = a r_disp + bz on the ray's
 * angle, then x_true = x + bx (sx stays 1). */
typedef struct {
    double a, bz, sx, bx;
    bool convex;
    double R;
} model;

/* display -> true */
static void model_apply(const model *m, double xd, double zd, double *xt, double *zt)
{
    if (!m->convex) {
        *xt = m->sx * xd + m->bx;
        *zt = m->a * zd + m->bz;
        return;
    }
    double th = atan2(xd, zd + m->R), rd = hypot(xd, zd + m->R) - m->R;
    double rt = m->a * rd + m->bz;
    *xt = (m->R + rt) * sin(th) + m->bx;
    *zt = (m->R + rt) * cos(th) - m->R;
}

/* true -> display */
static void model_inverse(const model *m, double xt, double zt, double *xd, double *zd)
{
    if (!m->convex) {
        *xd = (xt - m->bx) / m->sx;
        *zd = (zt - m->bz) / m->a;
        return;
    }
    double x = xt - m->bx;
    double th = atan2(x, zt + m->R), rt = hypot(x, zt + m->R) - m->R;
    double rd = (rt - m->bz) / m->a;
    *xd = (m->R + rd) * sin(th);
    *zd = (m->R + rd) * cos(th) - m->R;
}

/* Least squares for the convex model: linear in (a, bz, bx) once each
 * display point is written in polar form. */
static bool fit_convex(const double *xd, const double *zd, const double *xt, const double *zt,
                       uint32_t n, model *m)
{
    double A[3][3] = { { 0 } }, B[3] = { 0 };
    for (uint32_t i = 0; i < 2 * n; i++) {
        uint32_t k = i / 2;
        double th = atan2(xd[k], zd[k] + m->R), rd = hypot(xd[k], zd[k] + m->R) - m->R;
        double row[3], y;
        if (i % 2 == 0) {   /* x equation */
            row[0] = rd * sin(th);
            row[1] = sin(th);
            row[2] = 1.0;
            y = xt[k] - m->R * sin(th);
        } else {            /* z equation */
            row[0] = rd * cos(th);
            row[1] = cos(th);
            row[2] = 0.0;
            y = zt[k] + m->R - m->R * cos(th);
        }
        for (int r = 0; r < 3; r++) {
            B[r] += row[r] * y;
            for (int c = 0; c < 3; c++)
                A[r][c] += row[r] * row[c];
        }
    }
    /* Cramer's rule on the 3 x 3 normal equations */
    double det = A[0][0] * (A[1][1] * A[2][2] - A[1][2] * A[2][1]) -
                 A[0][1] * (A[1][0] * A[2][2] - A[1][2] * A[2][0]) +
                 A[0][2] * (A[1][0] * A[2][1] - A[1][1] * A[2][0]);
    if (!(fabs(det) > 1e-9))
        return false;
    double sol[3];
    for (int c = 0; c < 3; c++) {
        double M[3][3];
        memcpy(M, A, sizeof M);
        for (int r = 0; r < 3; r++)
            M[r][c] = B[r];
        sol[c] = (M[0][0] * (M[1][1] * M[2][2] - M[1][2] * M[2][1]) -
                  M[0][1] * (M[1][0] * M[2][2] - M[1][2] * M[2][0]) +
                  M[0][2] * (M[1][0] * M[2][1] - M[1][1] * M[2][0])) / det;
    }
    m->a = sol[0];
    m->bz = sol[1];
    m->bx = sol[2];
    m->sx = 1.0;
    return true;
}

/* Mean display position of wire w over the frames: the nearest echo within
 * `gate` mm of where the model puts it. false when found in under half. */
static bool locate(const tl_cal_spatial *s, const model *m, uint32_t w, double gate,
                   float *x, float *z)
{
    double px, pz;
    model_inverse(m, s->wx[w], s->wz[w], &px, &pz);
    double sx = 0, sz = 0;
    uint32_t hits = 0;
    for (uint32_t f = 0; f < s->frames; f++) {
        const tl_cal_echo *e = s->echoes + (size_t)f * MAX_ECHOES_PER_FRAME;
        double best = gate;
        int bi = -1;
        for (uint32_t k = 0; k < s->n_echoes[f]; k++) {
            double d = hypot(e[k].x_mm - px, e[k].z_mm - pz);
            if (d < best) {
                best = d;
                bi = (int)k;
            }
        }
        if (bi >= 0) {
            sx += e[bi].x_mm;
            sz += e[bi].z_mm;
            hits++;
        }
    }
    if (hits == 0 || 2 * hits < s->frames)
        return false;
    *x = (float)(sx / hits);
    *z = (float)(sz / hits);
    return true;
}

/* The wire lies inside the scanned area (nominal geometry), not at its edge. */
static bool in_view(const tl_cal_spatial *s, uint32_t w)
{
    const tl_geometry *g = &s->g;
    double x = s->wx[w], z = s->wz[w], line, range;
    if (g->kind == TL_PROBE_CONVEX) {
        double th = atan2(x, z + g->radius_mm);
        line = th * g->radius_mm / g->pitch_mm + 0.5 * (g->lines - 1);
        range = hypot(x, z + g->radius_mm) - g->radius_mm;
    } else {
        line = x / g->pitch_mm + 0.5 * (g->lines - 1);
        range = z;
    }
    double r0 = g->depth_start_mm, r1 = tl_geometry_depth_mm(g);
    double margin = 0.5 / g->pitch_mm;   /* 0.5 mm of lines */
    return line > margin && line < g->lines - 1 - margin && range > r0 + 0.5 && range < r1 - 0.5;
}

tl_status tl_cal_spatial_finish(tl_cal_spatial *s, const tl_cal_spatial_tol *tol,
                                tl_cal_spatial_result *r)
{
    if (!s || !r)
        return TL_ERR_INVALID_ARG;
    tl_cal_spatial_tol t = tol ? *tol : tl_cal_spatial_tol_default();
    memset(r, 0, sizeof *r);
    r->frames = s->frames;
    if (s->frames == 0)
        return TL_ERR_NOT_FOUND;
    model m = { 1.0, 0.0, 1.0, 0.0, s->g.kind == TL_PROBE_CONVEX, s->g.radius_mm };
    static const double z_limit[] = { 12.0, 22.0, 1e9, 1e9, 1e9 };
    static const double gate[] = { 2.0, 1.5, 1.0, 0.6, 0.5 };
    bool found[TL_CAL_MAX_WIRES];
    float fx[TL_CAL_MAX_WIRES], fz[TL_CAL_MAX_WIRES];
    uint32_t matched = 0;
    for (int stage = 0; stage < 5; stage++) {
        double xd[TL_CAL_MAX_WIRES], zd[TL_CAL_MAX_WIRES], xt[TL_CAL_MAX_WIRES],
            zt[TL_CAL_MAX_WIRES];
        matched = 0;
        for (uint32_t w = 0; w < s->n_wires; w++) {
            found[w] = false;
            if (!in_view(s, w) || s->wz[w] - s->g.depth_start_mm > z_limit[stage])
                continue;
            if (!locate(s, &m, w, gate[stage], &fx[w], &fz[w]))
                continue;
            found[w] = true;
            xd[matched] = fx[w];
            zd[matched] = fz[w];
            xt[matched] = s->wx[w];
            zt[matched] = s->wz[w];
            matched++;
        }
        model nm = m;
        bool ok = matched >= 3 &&
                  (m.convex ? fit_convex(xd, zd, xt, zt, matched, &nm)
                            : cal_fit_line(zd, zt, NULL, matched, &nm.a, &nm.bz) &&
                                  cal_fit_line(xd, xt, NULL, matched, &nm.sx, &nm.bx));
        if (ok && nm.a > 0.5 && nm.a < 2 && nm.sx > 0.5 && nm.sx < 2)
            m = nm;
    }
    for (uint32_t w = 0; w < s->n_wires; w++)
        r->n_wires += in_view(s, w);
    r->n_matched = matched;
    if (matched < 4)
        return TL_ERR_NOT_FOUND;
    r->axial_scale = m.a;
    r->lateral_scale = m.sx;
    r->axial_offset_mm = m.bz;
    r->lateral_offset_mm = m.bx;
    r->axial_scale_err_pct = (m.a - 1.0) * 100.0;
    r->lateral_scale_err_pct = (m.sx - 1.0) * 100.0;
    r->speed_of_sound_m_s = s->g.c_m_s * m.a;
    double before = 0, after = 0, worst = 0;
    r->n_listed = s->n_wires;
    for (uint32_t w = 0; w < s->n_wires && w < TL_CAL_MAX_WIRES; w++) {
        r->wire_x_mm[w] = s->wx[w];
        r->wire_z_mm[w] = s->wz[w];
        if (!found[w]) {
            r->found_x_mm[w] = r->found_z_mm[w] = r->wire_residual_mm[w] = NAN;
            continue;
        }
        r->found_x_mm[w] = fx[w];
        r->found_z_mm[w] = fz[w];
        double d0 = hypot(fx[w] - s->wx[w], fz[w] - s->wz[w]);
        double cx, cz;
        model_apply(&m, fx[w], fz[w], &cx, &cz);
        double d1 = hypot(cx - s->wx[w], cz - s->wz[w]);
        r->wire_residual_mm[w] = (float)d1;
        before += d0 * d0;
        after += d1 * d1;
        if (d1 > worst)
            worst = d1;
    }
    r->residual_before_mm = sqrt(before / matched);
    r->residual_mm = sqrt(after / matched);
    r->residual_max_mm = worst;
    r->pass = (double)matched >= t.min_matched_frac * r->n_wires &&
              r->residual_mm <= t.residual_mm &&
              fabs(r->axial_scale_err_pct) <= t.max_scale_err_pct &&
              fabs(r->lateral_scale_err_pct) <= t.max_scale_err_pct &&
              fabs(r->lateral_offset_mm) <= t.max_offset_mm &&
              fabs(r->axial_offset_mm) <= t.max_offset_mm;
    return TL_OK;
}
