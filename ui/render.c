/* Composing the station screen with the SDL2 renderer: the same code draws
 * into the window and, headless, into a software renderer's surface.
 *
 * Layout (1280 x 800): status bar on top, keys at the bottom, the B-mode with
 * its mm rulers on the left, the clinical panel on the right. Text is large
 * and bold where it carries a number the operator reads from a distance. */
#include "ui_internal.h"

#include <SDL.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void ui_colour(SDL_Renderer *r, uint32_t c)
{
    SDL_SetRenderDrawColor(r, c >> 24, (c >> 16) & 255, (c >> 8) & 255, c & 255);
}

void ui_fill(SDL_Renderer *r, int x, int y, int w, int h, uint32_t c)
{
    SDL_Rect rc = { x, y, w, h };
    ui_colour(r, c);
    /* Opaque fills skip blending (a plain fill is several times faster in
     * the software renderer). */
    bool opaque = (c & 255u) == 255u;
    if (opaque)
        SDL_SetRenderDrawBlendMode(r, SDL_BLENDMODE_NONE);
    SDL_RenderFillRect(r, &rc);
    if (opaque)
        SDL_SetRenderDrawBlendMode(r, SDL_BLENDMODE_BLEND);
}

/* A line of some thickness: parallel one-pixel lines, shifted across the
 * line's major axis. (SDL's software renderer fills a triangle by testing
 * every pixel of its bounding box; a long diagonal quad cost milliseconds.) */
void ui_line(SDL_Renderer *r, float x0, float y0, float x1, float y1, float w, uint32_t c)
{
    float dx = x1 - x0, dy = y1 - y0;
    if (fabsf(dx) < 0.01f && fabsf(dy) < 0.01f)
        return;
    ui_colour(r, c);
    int n = (int)lroundf(w);
    if (n < 1)
        n = 1;
    bool horizontal = fabsf(dx) >= fabsf(dy);
    for (int i = 0; i < n; i++) {
        float o = i - (n - 1) / 2.0f;
        if (horizontal)
            SDL_RenderDrawLineF(r, x0, y0 + o, x1, y1 + o);
        else
            SDL_RenderDrawLineF(r, x0 + o, y0, x1 + o, y1);
    }
}

static void dashed_line(SDL_Renderer *r, float x0, float y0, float x1, float y1, float w,
                        float dash, uint32_t c)
{
    float dx = x1 - x0, dy = y1 - y0, len = sqrtf(dx * dx + dy * dy);
    if (len < 0.01f)
        return;
    for (float s = 0; s < len; s += 2 * dash) {
        float e = s + dash < len ? s + dash : len;
        ui_line(r, x0 + dx * s / len, y0 + dy * s / len, x0 + dx * e / len,
                   y0 + dy * e / len, w, c);
    }
}

void ui_ellipse(SDL_Renderer *r, float cx, float cy, float rx, float ry, float w,
                    uint32_t c, bool dashed)
{
    const int n = 40;
    for (int i = 0; i < n; i++) {
        if (dashed && (i & 1))
            continue;
        float a0 = 2 * (float)M_PI * i / n, a1 = 2 * (float)M_PI * (i + 1) / n;
        ui_line(r, cx + rx * cosf(a0), cy + ry * sinf(a0), cx + rx * cosf(a1),
                   cy + ry * sinf(a1), w, c);
    }
}

void ui_mm_to_screen(const ui_station *st, float x_mm, float z_mm, float *sx, float *sy)
{
    *sx = st->img_x + x_mm * st->px_per_mm;
    *sy = st->img_y + z_mm * st->px_per_mm;
}

bool ui_screen_to_mm(const ui_station *st, int sx, int sy, float *x_mm, float *z_mm)
{
    if (st->px_per_mm <= 0 || sx < st->img_x || sy < st->img_y ||
        sx >= st->img_x + st->img_w || sy >= st->img_y + st->img_h)
        return false;
    *x_mm = (sx - st->img_x) / st->px_per_mm;
    *z_mm = (sy - st->img_y) / st->px_per_mm;
    return true;
}

/* Text on a dark box, for labels over the image. */
static bool overlaps(const ui_station *st, int x, int y, int w, int h)
{
    for (int i = 0; i < st->n_label_rects; i++) {
        const int *r = st->label_rects[i];
        if (x < r[0] + r[2] && r[0] < x + w && y < r[1] + r[3] && r[1] < y + h)
            return true;
    }
    return false;
}

/* Text on a dark box, for labels over the image. Labels of one frame do not
 * cover each other: a label that would land on an earlier one moves below,
 * above or to the left of its anchor; none leaves the image. */
void ui_label(ui_station *st, const char *s, int size, float x, float y, uint32_t c,
                  int align)
{
    int w = ui_text_width(st->text, s, size), h = size + 8;
    int bx = (int)x - (align == 1 ? w / 2 : align == 2 ? w : 0) - 4;
    int by = (int)y - 1;
    const int dx[] = { 0, 0, 0, -(w + 36), -(w + 36), 0 };
    const int dy[] = { 0, h + 4, -(h + 4), 0, h + 4, 2 * (h + 4) };
    int px = bx, py = by;
    for (int k = 0; k < 6; k++) {
        int cx = bx + dx[k], cy = by + dy[k];
        if (st->img_w > 0) {
            if (cx + w + 8 > st->img_x + st->img_w)
                cx = st->img_x + st->img_w - w - 8;
            if (cx < st->img_x)
                cx = st->img_x;
            if (cy < st->img_y)
                cy = st->img_y;
            if (cy + h > st->img_y + st->img_h)
                cy = st->img_y + st->img_h - h;
        }
        if (k == 0) {
            px = cx;
            py = cy;
        }
        if (!overlaps(st, cx, cy, w + 8, h)) {
            px = cx;
            py = cy;
            break;
        }
    }
    if (st->n_label_rects < UI_MAX_LABELS) {
        int *r = st->label_rects[st->n_label_rects++];
        r[0] = px;
        r[1] = py;
        r[2] = w + 8;
        r[3] = h;
    }
    SDL_SetRenderDrawBlendMode(st->r, SDL_BLENDMODE_BLEND);
    ui_fill(st->r, px, py, w + 8, h, 0x000000B0u);
    ui_text_draw(st->text, s, size, px + 4, py + 1, c, 0);
}

static void layout(ui_station *st)
{
    const ui_view *v = &st->view;
    int ax = RULER_W, ay = STATUS_H + RULER_H;
    int aw = st->W - PANEL_W - RULER_W - 12, ah = st->H - STATUS_H - KEYS_H - RULER_H - 10;
    float wmm = v->w * v->spacing_mm, hmm = v->h * v->spacing_mm;
    if (wmm <= 0 || hmm <= 0) {
        st->px_per_mm = 0;
        return;
    }
    /* Whole screen pixels per raster pixel when the raster fits (it is made
     * for this area): a plain copy, no per-frame scaling. */
    float k = (float)aw / v->w < (float)ah / v->h ? (float)aw / v->w : (float)ah / v->h;
    if (k >= 1.0f)
        k = floorf(k);
    st->px_per_mm = k / v->spacing_mm;
    st->img_w = (int)lroundf(v->w * k);
    st->img_h = (int)lroundf(v->h * k);
    st->img_x = ax + (aw - st->img_w) / 2;
    st->img_y = ay;
}

static void draw_image(ui_station *st)
{
    const ui_view *v = &st->view;
    if (!v->grey || !v->w || !v->h)
        return;
    if (!st->img_tex || st->tex_w != v->w || st->tex_h != v->h) {
        if (st->img_tex)
            SDL_DestroyTexture(st->img_tex);
        st->img_tex = SDL_CreateTexture(st->r, SDL_PIXELFORMAT_ARGB8888,
                                        SDL_TEXTUREACCESS_STREAMING, (int)v->w, (int)v->h);
        free(st->argb);
        st->argb = malloc((size_t)v->w * v->h * 4);
        st->tex_w = v->w;
        st->tex_h = v->h;
        if (!st->img_tex || !st->argb)
            return;
    }
    size_t n = (size_t)v->w * v->h;
    for (size_t i = 0; i < n; i++) {
        uint32_t g = v->grey[i];
        st->argb[i] = 0xFF000000u | g << 16 | g << 8 | g;
    }
    SDL_UpdateTexture(st->img_tex, NULL, st->argb, (int)v->w * 4);
    SDL_Rect dst = { st->img_x, st->img_y, st->img_w, st->img_h };
    SDL_RenderCopy(st->r, st->img_tex, NULL, &dst);
}

static void draw_rulers(ui_station *st)
{
    const ui_view *v = &st->view;
    float hmm = v->h * v->spacing_mm, wmm = v->w * v->spacing_mm;
    char buf[32];
    for (int mm = 0; mm <= (int)hmm; mm++) {
        float y = st->img_y + mm * st->px_per_mm;
        int len = mm % 10 == 0 ? 16 : mm % 5 == 0 ? 10 : 5;
        ui_fill(st->r, st->img_x - len - 2, (int)y, len, mm % 5 == 0 ? 2 : 1, C_GREY);
        if (mm % 10 == 0 && mm > 0) {
            snprintf(buf, sizeof buf, "%d", mm);
            ui_text_draw(st->text, buf, 20, st->img_x - 22, (int)y - 11, C_WHITE, 2);
        }
    }
    ui_text_draw(st->text, "mm", 16, st->img_x - 22, st->img_y + 2, C_GREY, 2);
    for (int mm = 0; mm <= (int)wmm; mm++) {
        float x = st->img_x + mm * st->px_per_mm;
        int len = mm % 10 == 0 ? 14 : mm % 5 == 0 ? 9 : 4;
        ui_fill(st->r, (int)x, st->img_y - len - 2, mm % 5 == 0 ? 2 : 1, len, C_GREY);
        if (mm % 10 == 0) {
            snprintf(buf, sizeof buf, "%d", mm);
            ui_text_draw(st->text, buf, 16, (int)x, st->img_y - RULER_H, C_WHITE, 1);
        }
    }
}

static void polyline(ui_station *st, const ui_polyline *p, float w, uint32_t c, bool dashed)
{
    for (uint32_t i = 0; i + 1 < p->n; i++) {
        if (dashed && (i & 1))
            continue;
        float x0, y0, x1, y1;
        ui_mm_to_screen(st, p->x[i], p->z[i], &x0, &y0);
        ui_mm_to_screen(st, p->x[i + 1], p->z[i + 1], &x1, &y1);
        ui_line(st->r, x0, y0, x1, y1, w, c);
    }
}

static uint32_t level_colour(tl_level l)
{
    return l == TL_LEVEL_OK ? C_GREEN : l == TL_LEVEL_BORDER ? C_AMBER
           : l == TL_LEVEL_ABNORMAL ? C_RED : C_GREY;
}

static void draw_structure(ui_station *st)
{
    const ui_view *v = &st->view;
    if (!v->an.have_analysis || !v->an.structure_found)
        return;
    polyline(st, &v->an.bone, 3, C_BONE, true);
    polyline(st, &v->an.bone2, 3, C_BONE, true);
    polyline(st, &v->an.sup, 3, C_YELLOW, false);
    polyline(st, &v->an.deep, 3, C_YELLOW, false);
    if (isfinite(v->an.thickness_mm) && v->an.thickness_mm > 0) {
        tl_level lv = tl_ui_thickness_level(v->an.thickness_mm, v->an.limit_mm);
        uint32_t c = level_colour(lv);
        float x, y0, y1;
        ui_mm_to_screen(st, v->an.site_x, v->an.site_z - v->an.thickness_mm / 2, &x, &y0);
        ui_mm_to_screen(st, v->an.site_x, v->an.site_z + v->an.thickness_mm / 2, &x, &y1);
        ui_line(st->r, x, y0, x, y1, 4, c);
        ui_line(st->r, x - 9, y0, x + 9, y0, 3, c);
        ui_line(st->r, x - 9, y1, x + 9, y1, 3, c);
        char buf[48];
        snprintf(buf, sizeof buf, "%.1f mm", v->an.thickness_mm);
        ui_label(st, buf, 26, x + 14, (y0 + y1) / 2 - 16, c, 0);
    }
}

static void draw_targets(ui_station *st)
{
    const ui_view *v = &st->view;
    const ui_aim *a = &st->aim;
    char buf[16];
    for (uint32_t i = 0; v->an.have_analysis && i < v->an.n_targets; i++) {
        const ui_target *t = &v->an.targets[i];
        bool chosen = a->valid && !a->from_tap && a->index == (int)i;
        float cx, cy;
        ui_mm_to_screen(st, t->x, t->z, &cx, &cy);
        float rx = t->w / 2 * st->px_per_mm + 4, ry = t->d / 2 * st->px_per_mm + 4;
        ui_ellipse(st->r, cx, cy, rx, ry, chosen ? 4 : 2, chosen ? C_GREEN : C_ORANGE, !chosen);
        snprintf(buf, sizeof buf, "%u", i + 1);
        ui_label(st, buf, chosen ? 26 : 20, cx + rx + 6, cy - ry - 10, chosen ? C_GREEN : C_ORANGE,
              0);
    }
    if (a->valid && a->from_tap) {
        float cx, cy;
        ui_mm_to_screen(st, a->target_x, a->target_z, &cx, &cy);
        float rr = a->radius * st->px_per_mm;
        ui_ellipse(st->r, cx, cy, rr, rr, 4, C_GREEN, false);
        ui_line(st->r, cx - rr - 8, cy, cx - rr + 6, cy, 3, C_GREEN);
        ui_line(st->r, cx + rr - 6, cy, cx + rr + 8, cy, 3, C_GREEN);
        ui_label(st, "tapped target", 20, cx + rr + 8, cy - rr - 10, C_GREEN, 0);
    }
}

static void draw_needle(ui_station *st)
{
    const ui_view *v = &st->view;
    const ui_aim *a = &st->aim;
    if (!v->have_needle || !v->needle_found)
        return;
    float ex, ey, tx, ty;
    ui_mm_to_screen(st, v->entry_x, v->entry_z, &ex, &ey);
    ui_mm_to_screen(st, v->tip_x, v->tip_z, &tx, &ty);
    if (a->valid && a->needle) {
        float px, py;
        ui_mm_to_screen(st, a->path_end_x, a->path_end_z, &px, &py);
        dashed_line(st->r, tx, ty, px, py, 3, 9, a->on_path ? C_GREEN : C_AMBER);
    }
    ui_line(st->r, ex, ey, tx, ty, 5, C_CYAN);
    ui_ellipse(st->r, tx, ty, 8, 8, 3, a->in_target ? C_GREEN : C_CYAN, false);
    if (a->valid && a->needle) {
        char buf[48];
        if (a->in_target)
            snprintf(buf, sizeof buf, "IN TARGET");
        else
            snprintf(buf, sizeof buf, "%.1f mm to target", a->dist_mm);
        ui_label(st, buf, 26, tx + 14, ty + 10, a->in_target ? C_GREEN : C_CYAN, 0);
    }
}

static void draw_caliper(ui_station *st)
{
    if (st->caliper_state < 2)
        return;
    float x0, y0, x1, y1;
    ui_mm_to_screen(st, st->cal[0], st->cal[1], &x0, &y0);
    ui_ellipse(st->r, x0, y0, 5, 5, 2, C_WHITE, false);
    if (st->caliper_state < 3)
        return;
    ui_mm_to_screen(st, st->cal[2], st->cal[3], &x1, &y1);
    ui_ellipse(st->r, x1, y1, 5, 5, 2, C_WHITE, false);
    dashed_line(st->r, x0, y0, x1, y1, 2, 6, C_WHITE);
    float d = hypotf(st->cal[2] - st->cal[0], st->cal[3] - st->cal[1]);
    char buf[40];
    snprintf(buf, sizeof buf, "caliper %.1f mm", d);
    /* Next to the second point, away from the structure's own labels. */
    ui_label(st, buf, 20, x1 + 12, y1 + 8, C_WHITE, 0);
}

/* What labels must not cover: the targets and the needle tip. */
static void keep_clear(ui_station *st)
{
    const ui_view *v = &st->view;
    for (uint32_t i = 0; v->an.have_analysis && i < v->an.n_targets; i++) {
        const ui_target *t = &v->an.targets[i];
        float cx, cy;
        ui_mm_to_screen(st, t->x, t->z, &cx, &cy);
        float rx = t->w / 2 * st->px_per_mm + 6, ry = t->d / 2 * st->px_per_mm + 6;
        if (st->n_label_rects < UI_MAX_LABELS) {
            int *r = st->label_rects[st->n_label_rects++];
            r[0] = (int)(cx - rx);
            r[1] = (int)(cy - ry);
            r[2] = (int)(2 * rx);
            r[3] = (int)(2 * ry);
        }
    }
    if (v->have_needle && v->needle_found && st->n_label_rects < UI_MAX_LABELS) {
        float tx, ty;
        ui_mm_to_screen(st, v->tip_x, v->tip_z, &tx, &ty);
        int *r = st->label_rects[st->n_label_rects++];
        r[0] = (int)tx - 12;
        r[1] = (int)ty - 12;
        r[2] = 24;
        r[3] = 24;
    }
}

void ui_render(ui_station *st)
{
    SDL_Renderer *r = st->r;
    st->n_label_rects = 0;
    SDL_SetRenderDrawBlendMode(r, SDL_BLENDMODE_BLEND);
    ui_colour(r, 0x101214FFu);
    SDL_RenderClear(r);
    if (st->have_view) {
        layout(st);
        if (st->px_per_mm > 0) {
            draw_image(st);
            SDL_Rect clip = { st->img_x, st->img_y, st->img_w, st->img_h };
            SDL_RenderSetClipRect(r, &clip);
            keep_clear(st);
            draw_structure(st);
            draw_targets(st);
            draw_needle(st);
            draw_caliper(st);
            ui_draw_hints(st);
            SDL_RenderSetClipRect(r, NULL);
            draw_rulers(st);
        }
    } else {
        ui_text_draw(st->text, "waiting for the first image ...", 34,
                     (st->W - PANEL_W) / 2, st->H / 2 - 20, C_GREY, 1);
    }
    ui_draw_panel(st);
    ui_draw_status(st);
    ui_draw_keys(st);
    ui_draw_banners(st);
    if (st->help)
        ui_draw_help(st);
    ui_draw_form(st);
}

uint8_t *ui_read_rgb(ui_station *st, int x, int y, int w, int h)
{
    if (w <= 0 || h <= 0) {
        x = 0;
        y = 0;
        w = st->W;
        h = st->H;
    }
    uint8_t *px = malloc((size_t)w * h * 3);
    if (!px)
        return NULL;
    SDL_Rect rc = { x, y, w, h };
    if (SDL_RenderReadPixels(st->r, &rc, SDL_PIXELFORMAT_RGB24, px, w * 3) != 0) {
        free(px);
        return NULL;
    }
    return px;
}
