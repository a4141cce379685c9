/* The in-plane needle: a straight shaft from a skin entry point, advancing
 * with the frame index, optionally drifting out of the imaging plane.
 *
 * Echo model per scan line crossing the shaft: a specular echo from the near
 * wall, a weaker one from the far wall, a comet-tail reverberation in the
 * lumen (spacing = the shaft's vertical extent), a brighter bevel at the tip
 * and a partial shadow beneath. Its strength falls with the elevational
 * distance from the plane (slice profile ~1 mm at -6 dB) and with the
 * insertion angle, as two parts (needle_angle_gain below):
 *  - specular: the mirror echo of the smooth shaft leaves the receive
 *    aperture as the shaft tilts, exp(-(angle / 32 deg)^2);
 *  - diffuse: surface roughness and machining marks of a standard
 *    stainless shaft scatter in all directions, a floor of 0.16 (-16 dB)
 *    of the echo at normal incidence that does not depend on the angle.
 * Sum, relative to normal incidence: 20 deg -2.7 dB, 30 deg -5.8 dB,
 * 45 deg -11 dB, 60 deg -14.7 dB, 75 deg -15.8 dB: close to a fall linear
 * in dB (-0.3 dB per degree beyond 10 deg). Anchors: visibility of
 * standard needles falls steadily with the insertion angle (Schafhalter-
 * Zoppoth et al., Reg Anesth Pain Med 2004;29:480, 17-22 G, 0-65 deg,
 * 15 MHz linear: "decreased linearly with steeper insertion angles"), a
 * standard needle is near the phantom's background at a 75 deg insertion
 * (Nichols et al., J Vasc Interv Radiol 2003;14:1553: 60-76 echogenicity
 * units perpendicular, 5 at 15 deg of insonation), visibility problems
 * start beyond ~30 deg (Chin et al., Reg Anesth Pain Med 2008;33:532), and
 * the 10-20 dB fall from 0-30 deg to 60 deg that this gives sits in the
 * range those grey-level figures imply (they are not dB: the displays
 * compress ~60 dB into 256 levels). The bevel is a set of edges, so more
 * of its echo is diffuse (floor 0.25). The comet tail stays proportional
 * to the shaft echo: the lumen reverberation has to come back through the
 * same tilted walls (Reusz et al., Br J Anaesth 2014;112:794), so it is not
 * made angle-independent. Before 2026-11-24 the whole echo was
 * exp(-(angle/38)^2): -22 dB at 60 deg, below the figures above.
 * "Angle" above is the angle between the beam and the shaft's normal: the
 * insertion angle for straight beams; a linear array that steers its beams
 * by b towards the needle meets it at |angle + b| (needle enhancement). */
#include "sim_internal.h"

#include <string.h>

#define SHAFT_DIFFUSE 0.16f  /* -16 dB: roughness of a standard shaft */
#define BEVEL_DIFFUSE 0.25f  /* -12 dB: the bevel's edges */
#define SPECULAR_WIDTH_DEG 32.0f

/* Echo of the shaft at insertion angle `deg` relative to normal incidence:
 * the specular part that leaves the aperture plus the diffuse floor. */
static float needle_angle_gain(float deg, float diffuse)
{
    float a = deg / SPECULAR_WIDTH_DEG;
    return (1.0f - diffuse) * expf(-a * a) + diffuse;
}

/* Angle (deg) between the beams of geometry g and the normal of a shaft
 * running in direction (dx, dz): for straight linear beams (0, 1) this is
 * the insertion angle. A convex array's beams fan out; its needle keeps
 * the insertion angle (the probe's centre beam), as before. */
static float needle_incidence_deg(const tl_geometry *g, float dx, float dz)
{
    if (g->kind == TL_PROBE_CONVEX)
        return fabsf(atan2f(dz, dx)) * 180.0f / (float)M_PI;
    float b = DEG2RAD(g->steer_deg);
    float c = fabsf(-dz * sinf(b) + dx * cosf(b)); /* |beam . normal(-dz, dx)| */
    return acosf(c > 1.0f ? 1.0f : c) * 180.0f / (float)M_PI;
}

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
    /* the specular part depends on the angle between the beam and the
     * shaft's normal: the insertion angle for straight beams, less when a
     * linear array steers its beams towards the needle (needle enhancement) */
    float inc = needle_incidence_deg(&sc->g, n->dx, n->dz);
    n->visibility = needle_angle_gain(inc, SHAFT_DIFFUSE) * n->elev;
    n->bevel = needle_angle_gain(inc, BEVEL_DIFFUSE) * n->elev;
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
    float g = sqrtf(n->diameter_mm / 0.718f) * at;
    float a0 = 35.0f * n->visibility * g;
    if (t > n->len - 0.6f)
        a0 = 1.6f * 35.0f * n->bevel * g; /* the bevel */
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
