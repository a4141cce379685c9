/* Pictures for the technician (--plot): the B-mode (imaging's pipeline) with
 * detected wires against expected ones or the fitted guide line, element
 * sensitivity bars, the depth profile before and after correction. Plain
 * RGB rasters written with core's tl_png_write. */
#include "calibrate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_imaging.h"

typedef struct {
    uint32_t w, h;
    uint8_t *px;   /* RGB */
} canvas;

static int canvas_new(canvas *c, uint32_t w, uint32_t h, uint8_t grey)
{
    c->w = w;
    c->h = h;
    c->px = malloc((size_t)w * h * 3);
    if (!c->px)
        return 1;
    memset(c->px, grey, (size_t)w * h * 3);
    return 0;
}

static void put(canvas *c, int x, int y, const uint8_t rgb[3])
{
    if (x < 0 || y < 0 || x >= (int)c->w || y >= (int)c->h)
        return;
    memcpy(c->px + ((size_t)y * c->w + (size_t)x) * 3, rgb, 3);
}

static void line(canvas *c, double x0, double y0, double x1, double y1, const uint8_t rgb[3])
{
    double len = fmax(fabs(x1 - x0), fabs(y1 - y0));
    int n = (int)ceil(len) + 1;
    if (n > 100000)
        n = 100000;
    for (int i = 0; i <= n; i++) {
        double t = n ? (double)i / n : 0;
        put(c, (int)lround(x0 + t * (x1 - x0)), (int)lround(y0 + t * (y1 - y0)), rgb);
    }
}

static void circle(canvas *c, double cx, double cy, double r, const uint8_t rgb[3])
{
    for (int k = 0; k < 64; k++) {
        double a0 = k * 2 * M_PI / 64, a1 = (k + 1) * 2 * M_PI / 64;
        line(c, cx + r * cos(a0), cy + r * sin(a0), cx + r * cos(a1), cy + r * sin(a1), rgb);
    }
}

static void rect(canvas *c, int x0, int y0, int x1, int y1, const uint8_t rgb[3])
{
    for (int y = y0 < y1 ? y0 : y1; y <= (y0 < y1 ? y1 : y0); y++)
        for (int x = x0; x <= x1; x++)
            put(c, x, y, rgb);
}

static int save(canvas *c, const char *path)
{
    tl_status st = tl_png_write(path, c->px, c->w, c->h, c->w * 3, 3);
    free(c->px);
    if (st != TL_OK) {
        fprintf(stderr, "talus calibrate: cannot write %s: %s\n", path, tl_strerror(st));
        return 1;
    }
    return 0;
}

static const uint8_t RED[3] = { 255, 60, 60 }, GREEN[3] = { 60, 230, 90 },
                     YELLOW[3] = { 250, 210, 40 }, BLUE[3] = { 80, 150, 255 },
                     GREY[3] = { 110, 110, 110 }, WHITE[3] = { 235, 235, 235 };

/* B-mode of frame 0 on a canvas, with its mm -> pixel mapping. */
typedef struct {
    float spacing, ox, oz;
} mapping;

static int bmode_canvas(const cal_frames *f, canvas *c, mapping *m)
{
    tl_imaging_params p = tl_imaging_params_default();
    p.fft_effort = 0;
    tl_imaging_plan *plan;
    tl_status st = tl_imaging_plan_create(&f->geom, TL_IMAGE_RF_REAL, &p, &plan);
    if (st != TL_OK) {
        fprintf(stderr, "talus calibrate: imaging plan: %s\n", tl_strerror(st));
        return 1;
    }
    uint32_t w, h;
    tl_imaging_plan_output(plan, &w, &h, &m->spacing, &m->ox, &m->oz);
    tl_bmode img;
    memset(&img, 0, sizeof img);
    st = tl_bmode_alloc(&img, w, h);
    tl_frame fr = { .geom = f->geom, .type = TL_IMAGE_RF_REAL, .data = f->rf[0],
                    .data_bytes = (size_t)f->geom.lines * f->geom.samples * sizeof(int16_t) };
    if (st == TL_OK)
        st = tl_imaging_execute(plan, &fr, &img, NULL);
    tl_imaging_plan_destroy(plan);
    if (st != TL_OK || canvas_new(c, w, h, 0)) {
        tl_bmode_free(&img);
        fprintf(stderr, "talus calibrate: B-mode for the plot: %s\n", tl_strerror(st));
        return 1;
    }
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++) {
            uint8_t v = img.pixels[(size_t)y * img.stride + x];
            uint8_t rgb[3] = { v, v, v };
            put(c, (int)x, (int)y, rgb);
        }
    tl_bmode_free(&img);
    return 0;
}

static double px_x(const mapping *m, double x_mm) { return (x_mm - m->ox) / m->spacing; }
static double px_y(const mapping *m, double z_mm) { return (z_mm - m->oz) / m->spacing; }

int cal_plot_spatial(const char *path, const cal_frames *f, const tl_cal_spatial_result *r)
{
    canvas c;
    mapping m;
    if (bmode_canvas(f, &c, &m))
        return 1;
    for (uint32_t w = 0; w < r->n_listed; w++) {
        /* green: where the wire is; red: where the uncorrected image shows it */
        double ex = px_x(&m, r->wire_x_mm[w]), ey = px_y(&m, r->wire_z_mm[w]);
        circle(&c, ex, ey, 7, GREEN);
        if (!isfinite(r->wire_residual_mm[w]))
            continue;
        double fx = px_x(&m, r->found_x_mm[w]), fy = px_y(&m, r->found_z_mm[w]);
        line(&c, fx - 4, fy, fx + 4, fy, RED);
        line(&c, fx, fy - 4, fx, fy + 4, RED);
        line(&c, fx, fy, ex, ey, YELLOW);
    }
    return save(&c, path);
}

int cal_plot_guide(const char *path, const cal_frames *f, const tl_cal_guide_result *r)
{
    canvas c;
    mapping m;
    if (bmode_canvas(f, &c, &m))
        return 1;
    double th = r->angle_deg * M_PI / 180.0;
    double z1 = tl_geometry_depth_mm(&f->geom);
    double x1 = r->offset_mm + z1 / tan(th);
    line(&c, px_x(&m, r->offset_mm), px_y(&m, 0), px_x(&m, x1), px_y(&m, z1), GREEN);
    return save(&c, path);
}

int cal_plot_elements(const char *path, const tl_cal_elements_result *r)
{
    const int bw = r->elements <= 128 ? 6 : 2, left = 20, top = 20, H = 300;
    canvas c;
    if (canvas_new(&c, (uint32_t)(left * 2 + bw * (int)r->elements), H + 2 * top, 24))
        return 1;
    /* 0 dB at the top line, -30 dB at the bottom; dead/weak thresholds grey */
    double scale = H / 30.0;
    line(&c, left, top, left + bw * r->elements, top, WHITE);
    line(&c, left, top + 4.5 * scale, left + bw * r->elements, top + 4.5 * scale, GREY);
    line(&c, left, top + 12 * scale, left + bw * r->elements, top + 12 * scale, GREY);
    for (uint32_t e = 0; e < r->elements; e++) {
        double db = r->sensitivity_db[e];
        db = db > 3 ? 3 : db < -30 ? -30 : db;
        const uint8_t *col = GREEN;
        for (uint32_t k = 0; k < r->n_dead; k++)
            if (r->dead[k] == e)
                col = RED;
        for (uint32_t k = 0; k < r->n_weak; k++)
            if (r->weak[k] == e)
                col = YELLOW;
        int x0 = left + (int)e * bw;
        /* bar from the bottom up to the element's level */
        rect(&c, x0, top + (int)(-db * scale), x0 + bw - 2, top + H, col);
    }
    return save(&c, path);
}

int cal_plot_uniformity(const char *path, const tl_cal_uniformity_result *r)
{
    const int W = 640, H = 360, m = 30;
    canvas c;
    if (canvas_new(&c, W, H, 24))
        return 1;
    /* x: depth z0..z1; y: -10..+10 dB */
    double zr = r->z1_mm - r->z0_mm;
    if (!(zr > 0) || r->points < 2)
        return save(&c, path);
#define PX(z) (m + ((z) - r->z0_mm) / zr * (W - 2 * m))
#define PY(db) (H / 2.0 - (db) * (H - 2 * m) / 20.0)
    line(&c, m, PY(0), W - m, PY(0), GREY);
    line(&c, m, PY(1), W - m, PY(1), GREY);
    line(&c, m, PY(-1), W - m, PY(-1), GREY);
    for (uint32_t i = 1; i < r->points; i++) {
        line(&c, PX(r->depth_mm[i - 1]), PY(r->level_db[i - 1]), PX(r->depth_mm[i]),
             PY(r->level_db[i]), RED);
        line(&c, PX(r->depth_mm[i - 1]), PY(r->correction_db[i - 1]), PX(r->depth_mm[i]),
             PY(r->correction_db[i]), BLUE);
        line(&c, PX(r->depth_mm[i - 1]), PY(r->corrected_db[i - 1]), PX(r->depth_mm[i]),
             PY(r->corrected_db[i]), GREEN);
    }
#undef PX
#undef PY
    return save(&c, path);
}
