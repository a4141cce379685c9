/* The in-plane needle: a straight shaft from a skin entry point, advancing
 * with the frame index, optionally drifting out of the imaging plane.
 *
 * Echo model per scan line crossing the shaft: a specular echo from the near
 * wall, a weaker one from the far wall, a comet-tail reverberation in the
 * lumen (spacing = the shaft's vertical extent), a brighter bevel at the tip
 * and a partial shadow beneath. Its strength falls with the insertion angle
 * (the specular echo leaves the aperture) and with the elevational distance
 * from the plane (slice profile ~1 mm at -6 dB). */
#include "sim_internal.h"

#include <string.h>

static float gauge_to_mm(float gauge)
{
    static const float od[13] = { 1.270f, 1.067f, 0.908f, 0.819f, 0.718f, 0.642f, 0.565f,
                                  0.515f, 0.464f, 0.413f, 0.362f, 0.337f, 0.311f };
    float f = gauge - 18.0f;
    if (f <= 0.0f)
        return od[0];
    if (f >= 12.0f)
        return od[12];
    int i = (int)f;
    return od[i] + (od[i + 1] - od[i]) * (f - (float)i);
}

void sim_needle_at(const sim_scene *sc, const sim_params *p, sim_preset preset, uint32_t frame,
                   sim_needle_state *n)
{
    memset(n, 0, sizeof *n);
    bool guide = preset == PRESET_NEEDLE_GUIDE;
    if (!p->needle || (int64_t)frame < (int64_t)p->needle_start_frame)
        return;
    if (!guide && !sc->model.has_target)
        return;
    float k = (float)((int64_t)frame - (int64_t)p->needle_start_frame);
    float ang = guide ? p->guide_angle_deg : p->needle_angle_deg;
    float th = DEG2RAD(ang);
    n->dx = cosf(th);
    n->dz = sinf(th);
    float maxlen = 1e9f;
    if (guide) {
        /* the bracket holds the needle 5 mm beyond the probe's left end */
        n->ex = -0.5f * tl_geometry_width_mm(&sc->g) - 5.0f;
        n->ez = 0.0f;
    } else {
        float tx, tz;
        sim_anatomy_to_probe(&sc->model, sc->model.target_x, sc->model.target_z, &tx, &tz);
        n->ex = tx - tz / tanf(th);
        n->ez = 0.0f;
        maxlen = hypotf(tx - n->ex, tz - n->ez);
    }
    /* a spinal needle is 90 mm: the shaft never gets longer than that */
    n->len = fminf(fminf(p->needle_start_mm + p->needle_speed_mm * k, maxlen), 90.0f);
    n->present = n->len > 0.0f;
    n->angle_deg = ang;
    n->gauge = p->needle_gauge;
    n->diameter_mm = gauge_to_mm(p->needle_gauge);
    n->out_of_plane_mm = p->needle_drift_mm * k;
    float d = n->out_of_plane_mm;
    n->elev = expf(-4.0f * 0.693147f * d * d);
    float a = ang / 38.0f;
    n->visibility = expf(-a * a) * n->elev;
}

uint32_t sim_needle_line(const sim_scene *sc, const sim_needle_state *n, uint32_t line, float *r)
{
    uint32_t S = sc->S;
    if (!n->present || n->visibility < 1e-4f)
        return S;
    float ox, oz, dx, dz;
    sim_column_ray(&sc->g, (float)line, sc->lat_off, &ox, &oz, &dx, &dz);
    /* o + rr d = e + t u  ->  solve for rr (range) and t (along the shaft) */
    float det = -dx * n->dz + dz * n->dx;
    if (fabsf(det) < 1e-6f)
        return S;
    float bx = n->ex - ox, bz = n->ez - oz;
    float rr = (-bx * n->dz + bz * n->dx) / det;
    float t = (dx * bz - dz * bx) / det;
    if (t < 0.0f || t > n->len || rr <= 0.0f)
        return S;
    float pos = (rr / sc->sos_scale - sc->g.depth_start_mm) / sc->dz_disp;
    if (pos < 1.0f || pos >= (float)S - 2.0f)
        return S;
    float at = sc->att[(size_t)line * S + (size_t)pos];
    /* a thicker shaft returns more (22 G = 1) */
    float a0 = 35.0f * n->visibility * sqrtf(n->diameter_mm / 0.718f) * at;
    if (t > n->len - 0.6f)
        a0 *= 1.6f; /* the bevel */
    /* vertical extent of the shaft along this beam, in samples */
    float cosb = fabsf(dx * n->dz - dz * n->dx); /* |sin| of beam-shaft angle */
    float ext = n->diameter_mm / fmaxf(cosb, 0.2f) / (sc->dz_disp * sc->sos_scale);
    sim_deposit(r, S, pos, a0);
    sim_deposit(r, S, pos + ext, 0.5f * a0);
    float amp = 0.35f * a0;
    float p2 = pos + ext;
    for (int k = 0; k < 8 && p2 < (float)S - 3.0f; k++) {
        p2 += ext;
        sim_deposit(r, S, p2, amp);
        amp *= 0.6f;
    }
    uint32_t sh = (uint32_t)(p2 + 3.0f);
    return sh < S ? sh : S;
}
