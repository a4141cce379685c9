/* The text around the image: status bar, clinical panel, key bar, banners,
 * hints over the image and the `?` help. Large type for the numbers the
 * operator reads from a distance with gloved hands busy. */
#include "ui_internal.h"

#include <SDL.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const key_help[][2] = {
    { "SPACE / ENTER", "mark injection (also foot switch, probe button)" },
    { "N  or  1-8", "next target / pick target k" },
    { "click on image", "tap a point as the target" },
    { "right click", "back to the proposed target" },
    { "C", "caliper: then click two points" },
    { "F", "freeze / live" },
    { "LEFT / RIGHT", "cine review while frozen" },
    { "S / P / O", "start session / injectate / note (forms)" },
    { "?", "this list" },
    { "Q / ESC", "close session and quit" },
};

static const char *target_kind(int k)
{
    static const char *names[] = { "hypoechoic", "anechoic cleft", "fluid", "effusion" };
    return k >= 0 && k < 4 ? names[k] : "target";
}

void ui_draw_hints(ui_station *st)
{
    /* Along the top of the image, under the rulers: the bottom is where the
     * injection acknowledgement appears. */
    const ui_view *v = &st->view;
    int y = st->img_y + 8;
    if (v->an.have_analysis && v->an.structure_found && v->an.anisotropy) {
        char buf[96];
        snprintf(buf, sizeof buf, "ANISOTROPY: beam %.0f\xC2\xB0 off the fibres - tilt the probe",
                 fabsf(v->an.fibre_angle_deg));
        ui_label(st, buf, 20, st->img_x + 10, y, C_AMBER, 0);
        y += 34;
    }
    if (v->have_needle && v->out_of_plane) {
        ui_label(st, "NEEDLE OUT OF PLANE - slide or rotate the probe onto the shaft", 20,
                 st->img_x + 10, y, C_AMBER, 0);
        y += 34;
    }
    if (v->an.have_analysis && !v->an.structure_found && v->an.warning[0])
        ui_label(st, v->an.warning, 20, st->img_x + 10, y, C_AMBER, 0);
}

static int section(ui_station *st, const char *title, int x, int y)
{
    ui_text_draw(st->text, title, 16, x, y, C_GREY, 0);
    ui_fill(st->r, x, y + 22, PANEL_W - 30, 1, C_DIM);
    return y + 28;
}

void ui_draw_panel(ui_station *st)
{
    const ui_view *v = &st->view;
    int x0 = st->W - PANEL_W, x = x0 + 16, y = STATUS_H + 10;
    ui_fill(st->r, x0, STATUS_H, PANEL_W, st->H - STATUS_H - KEYS_H, 0x1A1D21FFu);
    char buf[160];

    snprintf(buf, sizeof buf, "%s%s%s", st->anatomy[0] ? st->anatomy : "-",
             st->side ? "  " : "", st->side == 'L' ? "LEFT" : st->side == 'R' ? "RIGHT" : "");
    ui_text_draw(st->text, buf, 26, x, y, C_WHITE, 0);
    y += 40;

    y = section(st, "THICKNESS", x, y);
    if (!v->an.have_analysis) {
        ui_text_draw(st->text, v->an.built ? "measuring ..." : "analysis not available", 20, x,
                     y, C_GREY, 0);
        y += 34;
    } else if (!v->an.structure_found || !isfinite(v->an.thickness_mm)) {
        ui_text_draw(st->text, "structure not found", 26, x, y, C_AMBER, 0);
        y += 40;
    } else {
        tl_level lv = tl_ui_thickness_level(v->an.thickness_mm, v->an.limit_mm);
        uint32_t c = lv == TL_LEVEL_OK ? C_GREEN : lv == TL_LEVEL_BORDER ? C_AMBER : C_RED;
        snprintf(buf, sizeof buf, "%.1f mm", v->an.thickness_mm);
        int w = ui_text_draw(st->text, buf, 52, x, y - 4, c, 0);
        if (v->an.thickness_sd_mm >= 0.05f) {
            snprintf(buf, sizeof buf, "\xC2\xB1%.1f", v->an.thickness_sd_mm);
            ui_text_draw(st->text, buf, 20, x + w + 8, y + 28, C_GREY, 0);
        }
        y += 62;
        snprintf(buf, sizeof buf, "%s  (limit %.1f mm)",
                 lv == TL_LEVEL_ABNORMAL ? "ABNORMAL" : lv == TL_LEVEL_BORDER ? "BORDERLINE"
                                                                            : "normal",
                 v->an.limit_mm);
        ui_text_draw(st->text, buf, 20, x, y, c, 0);
        y += 28;
        buf[0] = '\0';
        if (v->an.hypoechoic)
            strcat(buf, "hypoechoic  ");
        if (v->an.cleft)
            strcat(buf, "cleft  ");
        if (v->an.fluid)
            strcat(buf, "fluid  ");
        if (buf[0]) {
            ui_text_draw(st->text, buf, 20, x, y, C_AMBER, 0);
            y += 28;
        }
        if (v->an.anisotropy) {
            ui_text_draw(st->text, "anisotropy: check the angle", 20, x, y, C_AMBER, 0);
            y += 28;
        }
    }
    y += 6;

    y = section(st, "TARGET", x, y);
    if (st->aim.valid) {
        if (st->aim.from_tap)
            snprintf(buf, sizeof buf, "tapped point  %.1f, %.1f mm", st->aim.target_x,
                     st->aim.target_z);
        else
            snprintf(buf, sizeof buf, "%d of %u  %s%s", st->aim.index + 1, v->an.n_targets,
                     target_kind(v->an.targets[st->aim.index].kind),
                     st->aim.index == v->an.best_target ? " (proposed)" : "");
        ui_text_draw(st->text, buf, 20, x, y, C_GREEN, 0);
    } else {
        ui_text_draw(st->text, "none - tap the image to set one", 20, x, y, C_GREY, 0);
    }
    y += 34;

    y = section(st, "NEEDLE", x, y);
    if (!v->have_needle) {
        ui_text_draw(st->text, "needle detection not available", 20, x, y, C_GREY, 0);
        y += 34;
    } else if (!v->needle_found) {
        ui_text_draw(st->text, v->out_of_plane ? "out of plane" : "not seen", 26, x, y,
                     v->out_of_plane ? C_AMBER : C_GREY, 0);
        y += 40;
    } else if (st->aim.valid && st->aim.needle) {
        if (st->aim.in_target) {
            ui_fill(st->r, x - 4, y - 2, PANEL_W - 24, 58, 0x1E7A3AFFu);
            ui_text_draw(st->text, "IN TARGET", 52, x + 4, y - 2, C_WHITE, 0);
            y += 64;
        } else {
            snprintf(buf, sizeof buf, "%.1f mm", st->aim.dist_mm);
            ui_text_draw(st->text, buf, 52, x, y - 4, C_CYAN, 0);
            y += 60;
        }
        snprintf(buf, sizeof buf, "%s   tip depth %.1f mm", st->aim.state, st->aim.depth_mm);
        ui_text_draw(st->text, buf, 20, x, y,
                     st->aim.on_path || st->aim.in_target ? C_GREEN : C_AMBER, 0);
        y += 28;
        if (st->aim.bone_alert) {
            ui_text_draw(st->text, "BONE on the path", 20, x, y, C_RED, 0);
            y += 28;
        }
    } else {
        snprintf(buf, sizeof buf, "tip at depth %.1f mm (%s)", v->tip_z, v->track_state);
        ui_text_draw(st->text, buf, 20, x, y, C_CYAN, 0);
        y += 34;
    }
    y += 6;

    y = section(st, "INJECTIONS", x, y);
    snprintf(buf, sizeof buf, "%u logged%s", st->injections_logged,
             st->n_pending ? "  (saving...)" : "");
    ui_text_draw(st->text, buf, 26, x, y, st->injections_failed ? C_RED : C_WHITE, 0);
    y += 38;
    snprintf(buf, sizeof buf, "%s", st->product[0] ? st->product : "product: not set");
    ui_text_draw(st->text, buf, 20, x, y, st->product[0] ? C_WHITE : C_AMBER, 0);
    y += 26;
    snprintf(buf, sizeof buf, "lot %s  exp %s  %.1f ml", st->lot[0] ? st->lot : "-",
             st->expiry[0] ? st->expiry : "-", st->volume_ml > 0 ? st->volume_ml : 0.0);
    ui_text_draw(st->text, buf, 20, x, y, C_GREY, 0);
    y += 34;

    y = section(st, "SESSION", x, y);
    if (st->session_open)
        snprintf(buf, sizeof buf, "#%lld  %s  op %s", (long long)st->session_id, st->patient,
                 st->operator_name);
    else if (st->closed)
        snprintf(buf, sizeof buf, "session closed");
    else if (st->session_wanted)
        snprintf(buf, sizeof buf, "starting...");
    else
        snprintf(buf, sizeof buf, "no session");
    ui_text_draw(st->text, buf, 20, x, y, st->session_open ? C_WHITE : C_AMBER, 0);
}

void ui_draw_status(ui_station *st)
{
    tl_ui_health h = {
        .probe_connected = atomic_load(&st->probe_state) == 0,
        .probe_reconnecting = atomic_load(&st->probe_state) == 1,
        .frame_age_ms = st->t_last_shown_ns ? (tl_now_ns() - st->t_last_shown_ns) / 1e6 : 0,
        .expected_period_ms = 1000.0 / (st->nominal_fps > 0 ? st->nominal_fps : 30),
        .drops_recent = st->drops_window[0],
        .calibration = st->calibration,
        .log_error = st->log_error,
    };
    if (st->frozen)
        h.frame_age_ms = 0; /* a frozen image is stale on purpose */
    const char *msg = NULL;
    unsigned trouble = tl_ui_trouble(&h, &msg);
    ui_fill(st->r, 0, 0, st->W, STATUS_H, trouble ? 0xB3261EFFu : 0x23272DFFu);
    char buf[160];
    int x = 14, y = 12;
    uint32_t c = C_WHITE;
    snprintf(buf, sizeof buf, "PROBE %s %s", st->probe_name,
             h.probe_connected ? "" : h.probe_reconnecting ? "UNPLUGGED" : "LOST");
    x += ui_text_draw(st->text, buf, 20, x, y, c, 0) + 26;
    snprintf(buf, sizeof buf, "%.0f fps", st->fps_now);
    x += ui_text_draw(st->text, buf, 20, x, y, c, 0) + 22;
    snprintf(buf, sizeof buf, "latency %.0f ms", st->lat_now);
    x += ui_text_draw(st->text, buf, 20, x, y, c, 0) + 22;
    snprintf(buf, sizeof buf, "drops %llu", (unsigned long long)st->drops_total);
    x += ui_text_draw(st->text, buf, 20, x, y, c, 0) + 22;
    snprintf(buf, sizeof buf, "CAL %s", st->calibration_text);
    x += ui_text_draw(st->text, buf, 20, x, y, c, 0) + 22;
    time_t now = time(NULL);
    struct tm tmv;
    localtime_r(&now, &tmv);
    strftime(buf, sizeof buf, "%H:%M:%S", &tmv);
    int clock_w = ui_text_draw(st->text, buf, 20, st->W - 14, y, C_WHITE, 2);
    /* The message where it fits between the figures and the clock (the red
     * bar and the banners say it anyway). */
    if (trouble && msg && x + 6 + ui_text_width(st->text, msg, 20) < st->W - 14 - clock_w - 20)
        ui_text_draw(st->text, msg, 20, x + 6, y, C_WHITE, 0);
}

void ui_draw_keys(ui_station *st)
{
    int y = st->H - KEYS_H;
    ui_fill(st->r, 0, y, st->W, KEYS_H, 0x23272DFFu);
    ui_text_draw(st->text,
                 "SPACE mark injection   N target   C caliper   F freeze   "
                 "\xE2\x86\x90\xE2\x86\x92 cine   S session   P product   ? keys   Q quit",
                 20, 14, y + 8, C_WHITE, 0);
}

void ui_draw_banners(ui_station *st)
{
    uint64_t now = tl_now_ns();
    int cx = (st->W - PANEL_W) / 2, y = STATUS_H + RULER_H + 14;
    int ps = atomic_load(&st->probe_state);
    if (ps == 1 || ps == 2) {
        ui_fill(st->r, cx - 400, y, 800, 96, 0xB3261EF0u);
        ui_text_draw(st->text, ps == 1 ? "PROBE DISCONNECTED" : "PROBE LOST", 34, cx, y + 6,
                     C_WHITE, 1);
        ui_text_draw(st->text,
                     ps == 1 ? "reconnect the cable - waiting for it; logged injections are safe"
                             : "no probe: check the cable; logged injections are safe",
                     20, cx, y + 56, C_WHITE, 1);
        y += 108;
    } else if (now < st->reconnect_until_ns) {
        ui_fill(st->r, cx - 260, y, 520, 56, 0x1E7A3AF0u);
        ui_text_draw(st->text, "PROBE RECONNECTED", 34, cx, y + 6, C_WHITE, 1);
        y += 68;
    }
    if (st->frozen) {
        char buf[64];
        int fy = st->H - KEYS_H - 130;
        snprintf(buf, sizeof buf, "FROZEN   cine %d / %d", st->cine_len - st->cine_back,
                 st->cine_len);
        ui_fill(st->r, cx - 220, fy, 440, 50, 0x0F5B78F0u);
        ui_text_draw(st->text, buf, 26, cx, fy + 8, C_WHITE, 1);
    }
    if (st->ack[0] && (now < st->ack_until_ns || st->n_pending)) {
        int w = ui_text_width(st->text, st->ack, 26) + 40;
        ui_fill(st->r, cx - w / 2, st->H - KEYS_H - 70, w, 54, st->ack_colour);
        ui_text_draw(st->text, st->ack, 26, cx, st->H - KEYS_H - 62, C_WHITE, 1);
    }
    if (st->log_error) {
        int w = ui_text_width(st->text, st->log_error_text, 20) + 30;
        ui_fill(st->r, cx - w / 2, st->H - KEYS_H - 176, w, 36, 0xB3261EF0u);
        ui_text_draw(st->text, st->log_error_text, 20, cx, st->H - KEYS_H - 170, C_WHITE, 1);
    }
}

void ui_draw_help(ui_station *st)
{
    int n = (int)(sizeof key_help / sizeof key_help[0]);
    int w = 1100, h = 90 + n * 44, x = (st->W - w) / 2, y = (st->H - h) / 2;
    ui_fill(st->r, x, y, w, h, 0x000000E8u);
    ui_text_draw(st->text, "KEYS", 34, x + w / 2, y + 14, C_WHITE, 1);
    for (int i = 0; i < n; i++) {
        ui_text_draw(st->text, key_help[i][0], 26, x + 30, y + 70 + i * 44, C_YELLOW, 0);
        ui_text_draw(st->text, key_help[i][1], 26, x + 300, y + 70 + i * 44, C_WHITE, 0);
    }
}
