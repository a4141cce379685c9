/* Overlay: the B-mode in grey with outlines, the measurement site and the
 * targets drawn on top (plain C drawing: a few hundred points a frame). */
#include "an_internal.h"

#include <string.h>

typedef struct {
    uint8_t *rgb;
    uint32_t w, h, stride;
} canvas;

static void dot(const canvas *c, int x, int y, const uint8_t col[3], int r)
{
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++) {
            int xx = x + dx, yy = y + dy;
            if (xx < 0 || yy < 0 || xx >= (int)c->w || yy >= (int)c->h)
                continue;
            memcpy(c->rgb + (size_t)yy * c->stride + (size_t)xx * 3, col, 3);
        }
}

static void line(const canvas *c, float x0, float y0, float x1, float y1, const uint8_t col[3],
                 int r)
{
    float len = fmaxf(fabsf(x1 - x0), fabsf(y1 - y0));
    int n = (int)len + 1;
    if (n > 4096)
        n = 4096;
    for (int i = 0; i <= n; i++) {
        float f = (float)i / (float)n;
        dot(c, (int)lroundf(x0 + f * (x1 - x0)), (int)lroundf(y0 + f * (y1 - y0)), col, r);
    }
}

static void poly(const canvas *c, const tl_analysis_polyline *pl, float sp, const uint8_t col[3])
{
    for (uint32_t i = 0; i + 1 < pl->n; i++) {
        if (pl->x_mm[i + 1] - pl->x_mm[i] > 2.0f || fabsf(pl->z_mm[i + 1] - pl->z_mm[i]) > 2.0f)
            continue;
        line(c, pl->x_mm[i] / sp, pl->z_mm[i] / sp, pl->x_mm[i + 1] / sp, pl->z_mm[i + 1] / sp,
             col, 1);
    }
}

tl_status tl_analysis_draw_overlay(const tl_bmode *img, const tl_analysis_result *r, uint8_t *rgb,
                                   uint32_t stride)
{
    if (!img || !img->pixels || !r || !rgb || stride < img->width * 3 ||
        !(img->spacing_mm > 0))
        return TL_ERR_INVALID_ARG;
    canvas c = { rgb, img->width, img->height, stride };
    for (uint32_t y = 0; y < img->height; y++) {
        const uint8_t *p = img->pixels + (size_t)y * img->stride;
        uint8_t *o = rgb + (size_t)y * stride;
        for (uint32_t x = 0; x < img->width; x++)
            o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = p[x];
    }
    static const uint8_t green[3] = { 40, 220, 60 }, yellow[3] = { 250, 220, 0 },
                         orange[3] = { 255, 140, 0 }, cyan[3] = { 0, 220, 255 },
                         red[3] = { 255, 40, 40 }, magenta[3] = { 230, 60, 230 };
    const float sp = img->spacing_mm;
    poly(&c, &r->superficial, sp, green);
    poly(&c, &r->deep, sp, green);
    poly(&c, &r->bone, sp, yellow);
    poly(&c, &r->bone2, sp, orange);
    if (!isnan(r->site_x_mm) && !isnan(r->thickness_mm) && !isnan(r->site_z_mm)) {
        float x = r->site_x_mm / sp, z = r->site_z_mm / sp, h = 0.5f * r->thickness_mm / sp;
        line(&c, x, z - h, x, z + h, cyan, 1);
        line(&c, x - 6, z - h, x + 6, z - h, cyan, 0);
        line(&c, x - 6, z + h, x + 6, z + h, cyan, 0);
    }
    for (uint32_t i = 0; i < r->n_targets; i++) {
        const tl_analysis_target *t = &r->targets[i];
        const uint8_t *col = (int)i == r->best_target ? red : magenta;
        float cx = t->x_mm / sp, cz = t->z_mm / sp;
        float ax = 0.5f * t->width_mm / sp, az = 0.5f * t->depth_mm / sp;
        for (int k = 0; k < 72; k++) {
            float a0 = (float)k * 2 * (float)M_PI / 72, a1 = (float)(k + 1) * 2 * (float)M_PI / 72;
            line(&c, cx + ax * cosf(a0), cz + az * sinf(a0), cx + ax * cosf(a1),
                 cz + az * sinf(a1), col, (int)i == r->best_target ? 1 : 0);
        }
        if ((int)i == r->best_target) {
            line(&c, cx - 8, cz, cx + 8, cz, col, 0);
            line(&c, cx, cz - 8, cx, cz + 8, col, 0);
        }
    }
    return TL_OK;
}
