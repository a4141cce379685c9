/* Path and target: extrapolate the shaft beyond the tip, measure how far it
 * passes from the target, where it reaches the target's depth, and whether
 * it meets bone first. Also the needle-guide line and the comparison of the
 * detected needle with it. Pure geometry, no state. */
#include "guidance_internal.h"

#include <math.h>
#include <string.h>

const char *tl_path_state_name(tl_path_state s)
{
    switch (s) {
    case TL_PATH_NONE: return "none";
    case TL_PATH_OFF_PATH: return "off path";
    case TL_PATH_ON_PATH: return "on path";
    case TL_PATH_APPROACHING: return "approaching";
    case TL_PATH_IN_TARGET: return "in target";
    case TL_PATH_PASSED: return "passed";
    }
    return "unknown";
}

/* Unit direction in which the needle advances (towards depth). */
static void advance_dir(float angle_deg, double *dx, double *dz)
{
    double a = angle_deg * TL_DEG;
    *dx = cos(a);
    *dz = sin(a);
    if (*dz < 0.0) {
        *dx = -*dx;
        *dz = -*dz;
    }
}

static bool polyline_ok(const tl_polyline *p)
{
    if (!p || p->n < 2 || !p->x_mm || !p->z_mm)
        return false;
    for (uint32_t i = 0; i < p->n; i++)
        if (!isfinite(p->x_mm[i]) || !isfinite(p->z_mm[i]))
            return false;
    return true;
}

/* z of the polyline at x (clamped to its ends), and its local slope. */
static float polyline_z(const tl_polyline *p, float x, float *slope)
{
    uint32_t i = 0;
    while (i + 2 < p->n && x > p->x_mm[i + 1])
        i++;
    float x0 = p->x_mm[i], x1 = p->x_mm[i + 1];
    float dz = p->z_mm[i + 1] - p->z_mm[i];
    float dx = x1 - x0;
    *slope = fabsf(dx) > 1e-6f ? dz / dx : 0.0f;
    if (x <= p->x_mm[0])
        return p->z_mm[0];
    if (x >= p->x_mm[p->n - 1])
        return p->z_mm[p->n - 1];
    return fabsf(dx) > 1e-6f ? p->z_mm[i] + dz * (x - x0) / dx : p->z_mm[i];
}

/* First crossing of the ray tip + t dir (0 <= t <= tmax) with the polyline. */
static bool ray_hits(const tl_polyline *p, double tx, double tz, double dx, double dz,
                     double tmax, double *hit_t)
{
    bool hit = false;
    double best = tmax;
    for (uint32_t i = 0; i + 1 < p->n; i++) {
        double ex = p->x_mm[i + 1] - p->x_mm[i], ez = p->z_mm[i + 1] - p->z_mm[i];
        double den = dx * ez - dz * ex;
        if (fabs(den) < 1e-12)
            continue;
        double qx = p->x_mm[i] - tx, qz = p->z_mm[i] - tz;
        double t = (qx * ez - qz * ex) / den;
        double u = (qx * dz - qz * dx) / den;
        if (t >= 0.0 && t <= best && u >= 0.0 && u <= 1.0) {
            best = t;
            hit = true;
        }
    }
    *hit_t = best;
    return hit;
}

tl_status tl_needle_path(float tip_x_mm, float tip_z_mm, float angle_deg,
                         const tl_target *target, const tl_polyline *skin,
                         const tl_polyline *bone, float approach_mm, tl_path *out)
{
    if (!out || !target)
        return TL_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (!isfinite(tip_x_mm) || !isfinite(tip_z_mm) || !isfinite(angle_deg) ||
        fabsf(angle_deg) >= 90.0f || !isfinite(target->x_mm) || !isfinite(target->z_mm) ||
        !(target->radius_mm >= 0.0f))
        return TL_ERR_INVALID_ARG;
    if ((skin && !polyline_ok(skin)) || (bone && !polyline_ok(bone)))
        return TL_ERR_INVALID_ARG;
    if (!(approach_mm > 0.0f))
        approach_mm = 5.0f;

    double dx, dz;
    advance_dir(angle_deg, &dx, &dz);
    double qx = target->x_mm - tip_x_mm, qz = target->z_mm - tip_z_mm;
    double dist = hypot(qx, qz);
    double along = qx * dx + qz * dz;          /* to the closest approach */
    double perp = fabs(qx * dz - qz * dx);
    out->tip_to_target_mm = (float)dist;
    out->remaining_mm = (float)fmax(along, 0.0);
    out->miss_mm = (float)(along >= 0.0 ? perp : dist);
    if (dz > 1e-6) {
        double t = qz / dz;
        out->cross_x_mm = (float)(tip_x_mm + t * dx);
        out->miss_at_depth_mm = out->cross_x_mm - target->x_mm;
    } else {
        out->cross_x_mm = NAN;
        out->miss_at_depth_mm = NAN;
    }

    float skin_slope = 0.0f, skin_z = 0.0f;
    if (skin) {
        /* Where the shaft line meets the skin: step back from the tip. */
        float sx = tip_x_mm, sz = tip_z_mm;
        for (int i = 0; i < 400; i++) {
            float zs = polyline_z(skin, sx, &skin_slope);
            if (sz <= zs)
                break;
            sx -= (float)(dx * 0.25);
            sz -= (float)(dz * 0.25);
        }
        float dummy;
        skin_z = polyline_z(skin, tip_x_mm, &dummy);
    }
    out->tip_depth_mm = tip_z_mm - skin_z;
    float skin_deg = (float)(atan(skin_slope) / TL_DEG);
    out->insertion_angle_deg = fabsf(angle_deg - skin_deg);

    if (bone) {
        double hit_t;
        double tmax = fmax(along, 0.0);
        if (ray_hits(bone, tip_x_mm, tip_z_mm, dx, dz, tmax, &hit_t)) {
            out->bone_alert = true;
            out->bone_x_mm = (float)(tip_x_mm + hit_t * dx);
            out->bone_z_mm = (float)(tip_z_mm + hit_t * dz);
        }
    }

    if (dist <= target->radius_mm)
        out->state = TL_PATH_IN_TARGET;
    else if (along < 0.0)
        out->state = TL_PATH_PASSED;
    else if (perp > target->radius_mm)
        out->state = TL_PATH_OFF_PATH;
    else if (dist <= approach_mm)
        out->state = TL_PATH_APPROACHING;
    else
        out->state = TL_PATH_ON_PATH;
    return TL_OK;
}

static bool guide_ok(const tl_needle_guide *g)
{
    return g && isfinite(g->angle_deg) && isfinite(g->offset_mm) && fabsf(g->angle_deg) < 89.0f &&
           fabsf(g->angle_deg) > 0.5f && g->tol_deg >= 0.0f && g->tol_mm >= 0.0f;
}

tl_status tl_needle_guide_segment(const tl_needle_guide *g, float width_mm, float height_mm,
                                  float *x0, float *z0, float *x1, float *z1)
{
    if (!guide_ok(g) || !(width_mm > 0.0f) || !(height_mm > 0.0f) || !x0 || !z0 || !x1 || !z1)
        return TL_ERR_INVALID_ARG;
    /* x(z) = offset + z / tan(a); clip z to where x stays inside. */
    double cot = 1.0 / tan(g->angle_deg * TL_DEG);
    double za = 0.0, zb = height_mm;
    /* z range where 0 <= x <= width */
    double zl = (0.0 - g->offset_mm) / cot, zr = (width_mm - g->offset_mm) / cot;
    double zmin = fmin(zl, zr), zmax = fmax(zl, zr);
    za = fmax(za, zmin);
    zb = fmin(zb, zmax);
    if (za >= zb)
        return TL_ERR_NOT_FOUND; /* the guide line misses the image */
    *z0 = (float)za;
    *x0 = (float)(g->offset_mm + za * cot);
    *z1 = (float)zb;
    *x1 = (float)(g->offset_mm + zb * cot);
    return TL_OK;
}

tl_status tl_needle_guide_compare(const tl_needle_guide *g, float tip_x_mm, float tip_z_mm,
                                  float angle_deg, tl_guide_check *out)
{
    if (!guide_ok(g) || !out || !isfinite(tip_x_mm) || !isfinite(tip_z_mm) ||
        !isfinite(angle_deg))
        return TL_ERR_INVALID_ARG;
    float d = angle_deg - g->angle_deg;
    while (d >= 90.0f)
        d -= 180.0f;
    while (d < -90.0f)
        d += 180.0f;
    double a = g->angle_deg * TL_DEG;
    out->angle_diff_deg = d;
    out->offset_mm = (float)fabs(-(tip_x_mm - g->offset_mm) * sin(a) + tip_z_mm * cos(a));
    out->on_guide = fabsf(d) <= g->tol_deg && out->offset_mm <= g->tol_mm;
    return TL_OK;
}
