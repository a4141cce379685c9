#include "tl_core.h"

#include <math.h>

float tl_geometry_dz_mm(const tl_geometry *g)
{
    /* c [m/s] / (2 fs [1/s]) is metres per sample; x1000 for mm. */
    return g->c_m_s / (2.0f * g->fs_hz) * 1000.0f;
}

float tl_geometry_depth_mm(const tl_geometry *g)
{
    return g->depth_start_mm + (float)(g->samples - 1) * tl_geometry_dz_mm(g);
}

float tl_geometry_width_mm(const tl_geometry *g)
{
    return (float)(g->lines - 1) * g->pitch_mm;
}

void tl_geometry_sample_xz(const tl_geometry *g, float line, float sample,
                           float *x_mm, float *z_mm)
{
    float u = line - 0.5f * (float)(g->lines - 1);
    float r = g->depth_start_mm + sample * tl_geometry_dz_mm(g);
    if (g->kind == TL_PROBE_CONVEX && g->radius_mm > 0.0f) {
        float theta = u * g->pitch_mm / g->radius_mm;
        float rr = g->radius_mm + r;
        *x_mm = rr * sinf(theta);
        *z_mm = rr * cosf(theta) - g->radius_mm;
    } else if (g->steer_deg != 0.0f) {
        float b = g->steer_deg * 0.017453292519943295f;
        *x_mm = u * g->pitch_mm + r * sinf(b);
        *z_mm = r * cosf(b);
    } else {
        *x_mm = u * g->pitch_mm;
        *z_mm = r;
    }
}

tl_status tl_geometry_validate(const tl_geometry *g)
{
    if (!g)
        return TL_ERR_INVALID_ARG;
    if (g->kind != TL_PROBE_LINEAR && g->kind != TL_PROBE_CONVEX)
        return TL_ERR_FORMAT;
    if (g->lines < 1 || g->lines > 4096 || g->samples < 16 || g->samples > 65536)
        return TL_ERR_FORMAT;
    if (!(g->pitch_mm > 0.005f && g->pitch_mm < 5.0f))
        return TL_ERR_FORMAT;
    if (g->kind == TL_PROBE_CONVEX && !(g->radius_mm > 1.0f && g->radius_mm < 500.0f))
        return TL_ERR_FORMAT;
    if (!(g->f0_hz > 1e5f && g->f0_hz < 1e8f) || !(g->fs_hz > 1e5f && g->fs_hz < 1e9f))
        return TL_ERR_FORMAT;
    if (!(g->c_m_s > 1000.0f && g->c_m_s < 2500.0f))
        return TL_ERR_FORMAT;
    if (!(g->depth_start_mm >= 0.0f && g->depth_start_mm < 500.0f))
        return TL_ERR_FORMAT;
    /* steering: linear arrays only, within what an array can steer */
    if (!(fabsf(g->steer_deg) <= TL_MAX_STEER_DEG) ||
        (g->kind == TL_PROBE_CONVEX && g->steer_deg != 0.0f))
        return TL_ERR_FORMAT;
    return TL_OK;
}

tl_geometry tl_geometry_default_linear(void)
{
    tl_geometry g = {
        .kind = TL_PROBE_LINEAR,
        .lines = 128,
        .samples = 2048,
        .pitch_mm = 0.3f,
        .radius_mm = 0.0f,
        .f0_hz = 10e6f,
        .fs_hz = 40e6f,
        .c_m_s = 1540.0f,
        .depth_start_mm = 0.0f,
    };
    return g;
}

size_t tl_image_type_sample_bytes(tl_image_type type)
{
    return type == TL_IMAGE_BRIGHTNESS ? 1 : 2;
}

static const char *const image_type_names[] = {
    [TL_IMAGE_RF_REAL] = "RF_REAL",
    [TL_IMAGE_RF_IQ_LINE] = "RF_IQ_LINE",
    [TL_IMAGE_RF_I_LINE_Q_LINE] = "RF_I_LINE_Q_LINE",
    [TL_IMAGE_ENVELOPE] = "ENVELOPE",
    [TL_IMAGE_BRIGHTNESS] = "BRIGHTNESS",
};

float tl_polyline_z(const float *x, const float *z, uint32_t n, float at_x)
{
    for (uint32_t i = 0; i + 1 < n; i++)
        if ((at_x >= x[i] && at_x <= x[i + 1]) || (at_x <= x[i] && at_x >= x[i + 1])) {
            float dx = x[i + 1] - x[i];
            float t = fabsf(dx) > 1e-6f ? (at_x - x[i]) / dx : 0.0f;
            return z[i] + t * (z[i + 1] - z[i]);
        }
    return NAN;
}

const char *tl_image_type_name(tl_image_type type)
{
    if ((unsigned)type < sizeof image_type_names / sizeof image_type_names[0])
        return image_type_names[type];
    return "UNKNOWN";
}

int tl_image_type_from_name(const char *name)
{
    if (!name)
        return -1;
    for (unsigned i = 0; i < sizeof image_type_names / sizeof image_type_names[0]; i++) {
        const char *a = image_type_names[i], *b = name;
        while (*a && *b && *a == *b) { a++; b++; }
        if (*a == 0 && *b == 0)
            return (int)i;
    }
    return -1;
}
