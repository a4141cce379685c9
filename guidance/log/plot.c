/* The trend plot: a measure per visit over time, drawn into an RGB buffer
 * (axes, ticks, dates, the clinical threshold, points and lines, a legend)
 * with the 5x7 font of font.c, written with tl_png_write. */
#include "injlog_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef struct {
    uint8_t *px;
    int w, h;
} canvas;

typedef struct { uint8_t r, g, b; } rgb;

static const rgb WHITE = { 255, 255, 255 }, BLACK = { 20, 20, 20 }, GRID = { 225, 225, 225 },
                 AXIS = { 60, 60, 60 }, LINE = { 40, 90, 200 }, ABNORMAL = { 210, 40, 40 },
                 NORMAL = { 30, 160, 70 }, THRESH = { 220, 60, 60 }, INJECT = { 130, 50, 170 };

static void put(canvas *c, int x, int y, rgb col)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h)
        return;
    uint8_t *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    p[0] = col.r;
    p[1] = col.g;
    p[2] = col.b;
}

static void fill_rect(canvas *c, int x0, int y0, int x1, int y1, rgb col)
{
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            put(c, x, y, col);
}

/* Bresenham, each step stamped as a thick x thick square; dash > 0 draws
 * `dash` pixels on, `dash` off. */
static void line(canvas *c, int x0, int y0, int x1, int y1, rgb col, int thick, int dash)
{
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
    int dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
    int err = dx + dy, step = 0;
    for (;;) {
        if (dash <= 0 || (step / dash) % 2 == 0)
            fill_rect(c, x0 - thick / 2, y0 - thick / 2, x0 + (thick - 1) / 2,
                      y0 + (thick - 1) / 2, col);
        step++;
        if (x0 == x1 && y0 == y1)
            break;
        int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

static void disc(canvas *c, int cx, int cy, int r, rgb col)
{
    for (int y = -r; y <= r; y++)
        for (int x = -r; x <= r; x++)
            if (x * x + y * y <= r * r)
                put(c, cx + x, cy + y, col);
}

/* Downward triangle with its tip at (cx, tip_y). */
static void triangle_down(canvas *c, int cx, int tip_y, int size, rgb col)
{
    for (int row = 0; row <= size; row++) {
        int half = row;
        int y = tip_y - row;
        for (int x = -half; x <= half; x++)
            put(c, cx + x, y, col);
    }
}

static int text_width(const char *s, int scale)
{
    int n = (int)strlen(s);
    return n ? (n * 6 - 1) * scale : 0;
}

static void text(canvas *c, int x, int y, const char *s, int scale, rgb col)
{
    for (; *s; s++, x += 6 * scale) {
        const uint8_t *g = injlog_glyph(*s);
        for (int row = 0; row < 7; row++)
            for (int bit = 0; bit < 5; bit++)
                if (g[row] & (0x10 >> bit))
                    fill_rect(c, x + bit * scale, y + row * scale, x + bit * scale + scale - 1,
                              y + row * scale + scale - 1, col);
    }
}

static void text_centred(canvas *c, int cx, int y, const char *s, int scale, rgb col)
{
    int w = text_width(s, scale);
    int x = cx - w / 2;
    if (x + w > c->w - 2)
        x = c->w - 2 - w;
    if (x < 2)
        x = 2;
    text(c, x, y, s, scale, col);
}

/* 1, 2 or 5 times a power of ten, at least raw. */
static double nice_step(double raw)
{
    if (!(raw > 0))
        return 1;
    double p = pow(10, floor(log10(raw)));
    double m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

static void format_date(int64_t ms, char *buf, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, cap, "%Y-%m-%d", &tm) == 0)
        snprintf(buf, cap, "?");
}

typedef struct {
    int left, right, top, bottom; /* plot area in pixels (inclusive) */
    double t0, t1, y0, y1;        /* data range shown */
} frame;

static int px_x(const frame *f, double t)
{
    return f->left + (int)lround((t - f->t0) / (f->t1 - f->t0) * (f->right - f->left));
}

static int px_y(const frame *f, double v)
{
    return f->bottom - (int)lround((v - f->y0) / (f->y1 - f->y0) * (f->bottom - f->top));
}

static void draw_axes(canvas *c, const frame *f, const char *unit, double step)
{
    char buf[64];
    /* Value axis: grid line, tick and label at every step. */
    for (double v = f->y0; v <= f->y1 + step * 1e-6; v += step) {
        int y = px_y(f, v);
        line(c, f->left + 1, y, f->right, y, GRID, 1, 0);
        line(c, f->left - 5, y, f->left, y, AXIS, 1, 0);
        snprintf(buf, sizeof buf, step < 1 ? "%.1f" : "%.0f", v);
        text(c, f->left - 9 - text_width(buf, 1), y - 3, buf, 1, BLACK);
    }
    snprintf(buf, sizeof buf, "%s", unit && *unit ? unit : "value");
    text(c, f->left - 9 - text_width(buf, 1), f->top - 16, buf, 1, BLACK);
    /* Time axis: evenly spaced dated ticks. */
    int ticks = (f->right - f->left) / 110;
    if (ticks < 2)
        ticks = 2;
    if (ticks > 7)
        ticks = 7;
    for (int i = 0; i < ticks; i++) {
        double t = f->t0 + (f->t1 - f->t0) * (i + 0.5) / ticks;
        int x = px_x(f, t);
        line(c, x, f->bottom, x, f->bottom + 5, AXIS, 1, 0);
        format_date((int64_t)t, buf, sizeof buf);
        text_centred(c, x, f->bottom + 10, buf, 1, BLACK);
    }
    line(c, f->left, f->top, f->left, f->bottom, AXIS, 2, 0);
    line(c, f->left, f->bottom, f->right, f->bottom, AXIS, 2, 0);
    text_centred(c, (f->left + f->right) / 2, f->bottom + 24, "visit date (UTC)", 1, BLACK);
}

/* The legend, wrapped onto as many rows as the width needs; with draw == 0
 * only counts the rows. Rows are 13 px apart, starting at y. */
static int legend(canvas *c, int y, int draw)
{
    static const char *const label[4] = { "abnormal", "normal", "injected at this visit",
                                          "threshold" };
    int x = 12, rows = 1;
    for (int i = 0; i < 4; i++) {
        int w = 24 + text_width(label[i], 1);
        if (x + w > c->w - 4 && x > 12) {
            x = 12;
            y += 13;
            rows++;
        }
        if (draw) {
            if (i == 0 || i == 1)
                disc(c, x + 4, y + 3, 4, i == 0 ? ABNORMAL : NORMAL);
            else if (i == 2)
                triangle_down(c, x + 4, y + 7, 5, INJECT);
            else
                line(c, x - 2, y + 3, x + 12, y + 3, THRESH, 2, 4);
            text(c, x + 16, y, label[i], 1, BLACK);
        }
        x += w + 8;
    }
    return rows;
}

static void data_range(const tl_injlog_trend_point *pts, size_t n, double threshold,
                       frame *f, double *step)
{
    double vmax = isfinite(threshold) ? threshold : 1.0;
    int64_t tmin = n ? pts[0].time_ms : 0, tmax = tmin;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(pts[i].value) && pts[i].value > vmax)
            vmax = pts[i].value;
        if (pts[i].time_ms < tmin)
            tmin = pts[i].time_ms;
        if (pts[i].time_ms > tmax)
            tmax = pts[i].time_ms;
    }
    /* Start at 0: a thickness axis that starts elsewhere exaggerates change. */
    *step = nice_step(vmax * 1.15 / 8);
    f->y0 = 0;
    f->y1 = ceil(vmax * 1.15 / *step) * *step;
    const double day = 86400e3;
    double span = (double)(tmax - tmin);
    double pad = span < day ? 14 * day : span * 0.08;
    if (n == 0) {
        tmin = (int64_t)injlog_now_ms();
        tmax = tmin;
        pad = 14 * day;
    }
    f->t0 = (double)tmin - pad;
    f->t1 = (double)tmax + pad;
}

/* 1 if a point (with its value label under it) lies near the box. */
static int crowded(const frame *f, const tl_injlog_trend_point *pts, size_t n, int x0, int x1,
                   int y0, int y1)
{
    for (size_t i = 0; i < n; i++) {
        int x = px_x(f, (double)pts[i].time_ms), y = px_y(f, pts[i].value);
        if (x + 14 >= x0 && x - 14 <= x1 && y + 20 >= y0 && y - 18 <= y1)
            return 1;
    }
    return 0;
}

/* The threshold's label: right end above the line, else left end, else
 * below it, whichever first keeps clear of the points and their values. */
static void place_label(canvas *c, const frame *f, const tl_injlog_trend_point *pts, size_t n,
                        const char *label, int y)
{
    int w = text_width(label, 1);
    const int xs[4] = { f->right - w - 2, f->left + 6, f->right - w - 2, f->left + 6 };
    const int ys[4] = { y - 11, y - 11, y + 5, y + 5 };
    int k = 0;
    while (k < 3 && crowded(f, pts, n, xs[k], xs[k] + w, ys[k], ys[k] + 7))
        k++;
    text(c, xs[k], ys[k], label, 1, THRESH);
}

tl_status tl_injlog_plot_trend(const tl_injlog_trend_point *pts, size_t n, double threshold,
                               const char *title, uint32_t width, uint32_t height,
                               const char *png_path)
{
    if ((!pts && n) || !png_path || width < 240 || height < 160 || width > 8192 ||
        height > 8192)
        return TL_ERR_INVALID_ARG;
    canvas c = { malloc((size_t)width * height * 3), (int)width, (int)height };
    if (!c.px)
        return TL_ERR_NO_MEM;
    fill_rect(&c, 0, 0, c.w - 1, c.h - 1, WHITE);

    int tscale = title && text_width(title, 2) <= c.w - 20 ? 2 : 1;
    if (title)
        text_centred(&c, c.w / 2, 10, title, tscale, BLACK);
    int legend_rows = legend(&c, 0, 0);
    frame f = { 64, c.w - 24, 30 + 7 * tscale + 10, c.h - 50 - 13 * legend_rows, 0, 1, 0, 1 };
    double step;
    data_range(pts, n, threshold, &f, &step);
    draw_axes(&c, &f, n ? pts[0].unit : "", step);

    if (isfinite(threshold)) {
        int y = px_y(&f, threshold);
        line(&c, f.left + 2, y, f.right, y, THRESH, 2, 6);
        char buf[128];
        snprintf(buf, sizeof buf, "threshold %.1f %s", threshold, n ? pts[0].unit : "");
        place_label(&c, &f, pts, n, buf, y);
    }
    if (n == 0)
        text_centred(&c, (f.left + f.right) / 2, (f.top + f.bottom) / 2, "no data", 2, BLACK);
    for (size_t i = 0; i + 1 < n; i++)
        line(&c, px_x(&f, (double)pts[i].time_ms), px_y(&f, pts[i].value),
             px_x(&f, (double)pts[i + 1].time_ms), px_y(&f, pts[i + 1].value), LINE, 2, 0);
    for (size_t i = 0; i < n; i++) {
        int x = px_x(&f, (double)pts[i].time_ms), y = px_y(&f, pts[i].value);
        disc(&c, x, y, 6, BLACK);
        disc(&c, x, y, 4, pts[i].abnormal ? ABNORMAL : NORMAL);
        char buf[32];
        snprintf(buf, sizeof buf, "%.1f", pts[i].value);
        if (n <= 24)
            text_centred(&c, x, y + 10, buf, 1, BLACK);
        if (pts[i].injected)
            triangle_down(&c, x, y - 10, 5, INJECT);
    }
    legend(&c, c.h - 4 - 13 * legend_rows, 1);

    tl_status st = tl_png_write(png_path, c.px, width, height, width * 3, 3);
    free(c.px);
    if (st == TL_OK && chmod(png_path, 0600) != 0)
        st = tl_status_from_errno(errno);
    return st;
}
