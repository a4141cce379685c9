/* tl_station_run: set up the renderer (window or offscreen surface), the log
 * thread, the processing thread and the frame source, then run the UI loop
 * until the run ends. See tl_ui.h for the threads and the contract. */
#include "ui_internal.h"
#include "tl_driver.h"
#include "tl_imaging.h"
#ifdef TL_UI_HAVE_CALIBRATION
#include "tl_calibration.h"
#endif

#include <SDL.h>
#include <SDL_ttf.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

tl_station_config tl_station_config_default(void)
{
    tl_station_config c;
    memset(&c, 0, sizeof c);
    c.anatomy = "plantar-fascia";
    c.volume_ml = -1;
    c.width = 1280;
    c.height = 800;
    return c;
}

/* ---- frame source: the driver (live or simulated probe) ------------------ */

static void on_frame(const tl_frame *f, void *user)
{
    ui_station *st = user;
    ui_pipeline_push(st->pl, f);
}

static void on_event(const tl_probe_event *ev, void *user)
{
    ui_station *st = user;
    atomic_fetch_add(&st->events_seen, 1);
    switch (ev->kind) {
    case TL_EVENT_BUTTON:
        if (ev->value == 1) /* on press, not release */
            atomic_fetch_add(&st->buttons, 1);
        break;
    case TL_EVENT_DISCONNECTED:
        atomic_store(&st->probe_state, 1);
        break;
    case TL_EVENT_RECONNECTED:
        atomic_store(&st->probe_state, 0);
        break;
    case TL_EVENT_GAVE_UP:
        atomic_store(&st->probe_state, 2);
        break;
    default:
        break;
    }
}

/* The probe's stored calibration: shown in the status bar (red when
 * missing, expired, of another probe, failed or unreadable) and applied to
 * its frames when valid. */
static void check_calibration(ui_station *st, const char *serial)
{
#ifdef TL_UI_HAVE_CALIBRATION
    char dir[1024];
    tl_cal_state cs;
    tl_cal_record rec;
    if (tl_cal_default_dir(dir, sizeof dir) != TL_OK ||
        tl_cal_check(dir, serial, tl_wall_time_s(), &cs, &rec) != TL_OK) {
        st->calibration = TL_UI_CAL_MISSING;
        snprintf(st->calibration_text, sizeof st->calibration_text, "missing");
        return;
    }
    st->calibration = cs == TL_CAL_VALID     ? TL_UI_CAL_VALID
                      : cs == TL_CAL_EXPIRED  ? TL_UI_CAL_EXPIRED
                      : cs == TL_CAL_MISMATCH ? TL_UI_CAL_MISMATCH
                                              : TL_UI_CAL_MISSING;
    snprintf(st->calibration_text, sizeof st->calibration_text, "%s", tl_cal_state_name(cs));
    if (cs != TL_CAL_VALID) {
        char msg[200];
        tl_cal_state_message(cs, serial, msg, sizeof msg);
        fprintf(stderr, "talus run: %s\n", msg);
    }
    ui_pipeline_set_calibration(st->pl, cs == TL_CAL_VALID ? &rec : NULL, serial);
#else
    (void)serial;
    st->calibration = TL_UI_CAL_UNKNOWN;
    snprintf(st->calibration_text, sizeof st->calibration_text, "n/a");
#endif
}

#ifdef TL_UI_HAVE_DRIVER
static tl_status open_probe(ui_station *st)
{
    const tl_station_config *c = st->cfg;
    tl_driver *d = NULL;
    tl_status s = tl_driver_open(c->probe_serial, NULL, &d);
    if (s != TL_OK) {
        snprintf(st->err, sizeof st->err, "cannot open probe %s: %s",
                 c->probe_serial && c->probe_serial[0] ? c->probe_serial : "(first found)",
                 tl_strerror(s));
        return s;
    }
    tl_probe_identity id;
    memset(&id, 0, sizeof id);
    if (tl_driver_identify(d, &id) == TL_OK)
        snprintf(st->probe_name, sizeof st->probe_name, "%s", id.serial);
    check_calibration(st, st->probe_name);
    tl_probe_params p = tl_probe_params_default();
    p.fps = c->fps > 0 ? c->fps : 30;
    st->nominal_fps = p.fps;
#ifdef TL_UI_HAVE_GUIDANCE
    /* needle guidance: the needle-enhancement scheme, when the probe steers
     * (the driver re-sends it after a reconnect) */
    if (c->needle_side != 0 && id.max_steer_deg > 0.0f) {
        tl_needle_scheme ns = tl_needle_scheme_default();
        p.steer_deg = tl_needle_scheme_steer(&ns, c->needle_side, id.max_steer_deg);
        p.straight_every = ns.straight_every;
        st->steer_deg = p.steer_deg;
    } else if (c->needle_side != 0) {
        fprintf(stderr, "talus run: probe %s cannot steer its beams: needle guidance on "
                        "straight frames\n", st->probe_name);
    }
#endif
    s = tl_driver_set_params(d, &p);
    if (s == TL_OK)
        s = tl_driver_set_event_callback(d, on_event, st);
    if (s == TL_OK)
        s = tl_driver_start(d, on_frame, st);
    if (s != TL_OK) {
        snprintf(st->err, sizeof st->err, "probe %s refused to stream: %s", st->probe_name,
                 tl_strerror(s));
        tl_driver_close(d);
        return s;
    }
    st->drv = d;
    atomic_store(&st->probe_state, 0);
    return TL_OK;
}
#else
static tl_status open_probe(ui_station *st)
{
    (void)check_calibration;
    (void)on_frame;
    (void)on_event;
    snprintf(st->err, sizeof st->err, "the probe driver is not built in this version");
    return TL_ERR_UNSUPPORTED;
}
#endif

/* ---- renderer ------------------------------------------------------------- */

static tl_status open_renderer(ui_station *st)
{
    const tl_station_config *c = st->cfg;
    st->W = (int)(c->width ? c->width : 1280);
    st->H = (int)(c->height ? c->height : 800);
    if (c->headless) {
        st->surf = SDL_CreateRGBSurfaceWithFormat(0, st->W, st->H, 32, SDL_PIXELFORMAT_ARGB8888);
        st->r = st->surf ? SDL_CreateSoftwareRenderer(st->surf) : NULL;
    } else {
        if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY") && !getenv("SDL_VIDEODRIVER")) {
            snprintf(st->err, sizeof st->err,
                     "no display (DISPLAY is not set): use --headless --out DIR for snapshots");
            return TL_ERR_UNSUPPORTED;
        }
        if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0) {
            snprintf(st->err, sizeof st->err,
                     "no display (%s): use --headless --out DIR for snapshots", SDL_GetError());
            return TL_ERR_UNSUPPORTED;
        }
        /* With no display SDL may fall back to a driver that shows nothing
         * (offscreen, dummy): a station nobody can see is an error, unless
         * that driver was asked for. */
        const char *drv = SDL_GetCurrentVideoDriver();
        if (drv && (!strcmp(drv, "offscreen") || !strcmp(drv, "dummy")) &&
            !getenv("SDL_VIDEODRIVER")) {
            snprintf(st->err, sizeof st->err,
                     "no display (DISPLAY is not set): use --headless --out DIR for snapshots");
            return TL_ERR_UNSUPPORTED;
        }
        st->win = SDL_CreateWindow("talus station", SDL_WINDOWPOS_CENTERED,
                                   SDL_WINDOWPOS_CENTERED, st->W, st->H, SDL_WINDOW_SHOWN);
        if (st->win) {
            /* No vsync: waiting for the retrace would add up to a frame of latency. */
            st->r = SDL_CreateRenderer(st->win, -1, 0); /* SDL_RENDER_DRIVER may choose */
            if (!st->r)
                st->r = SDL_CreateRenderer(st->win, -1, SDL_RENDERER_SOFTWARE);
        }
    }
    if (!st->r) {
        snprintf(st->err, sizeof st->err, "cannot create the renderer: %s", SDL_GetError());
        return TL_ERR_UNSUPPORTED;
    }
    return ui_text_create(st->r, &st->text, st->err, sizeof st->err);
}

static void close_renderer(ui_station *st)
{
    ui_text_destroy(st->text);
    if (st->img_tex)
        SDL_DestroyTexture(st->img_tex);
    if (st->r)
        SDL_DestroyRenderer(st->r);
    if (st->surf)
        SDL_FreeSurface(st->surf);
    /* SDL's video subsystem stays initialised (SDL_InitSubSystem counts
     * references, a later run reuses it): quitting it unloads the X11
     * libraries SDL opened, and what they never freed then shows up as
     * leaks of unknown modules that no suppression can name. */
    if (st->win)
        SDL_DestroyWindow(st->win);
    free(st->argb);
}

/* ---- SDL input ------------------------------------------------------------ */

static const char *key_name(SDL_Keycode k)
{
    switch (k) {
    case SDLK_SPACE: return "space";
    case SDLK_RETURN: case SDLK_KP_ENTER: return "enter";
    case SDLK_PAGEDOWN: return "pagedown";
    case SDLK_F5: return "f5";
    case SDLK_f: return "f";
    case SDLK_LEFT: return "left";
    case SDLK_RIGHT: return "right";
    case SDLK_n: return "n";
    case SDLK_t: return "t";
    case SDLK_c: return "c";
    case SDLK_h: return "h";
    case SDLK_QUESTION: case SDLK_SLASH: return "?";
    case SDLK_ESCAPE: return "esc";
    case SDLK_q: return "q";
    case SDLK_s: return "s";
    case SDLK_p: return "p";
    case SDLK_o: return "o";
    case SDLK_TAB: return "tab";
    case SDLK_BACKSPACE: return "backspace";
    case SDLK_UP: return "up";
    case SDLK_DOWN: return "down";
    case SDLK_1: return "1"; case SDLK_2: return "2"; case SDLK_3: return "3";
    case SDLK_4: return "4"; case SDLK_5: return "5"; case SDLK_6: return "6";
    case SDLK_7: return "7"; case SDLK_8: return "8";
    default: return NULL;
    }
}

static void poll_input(ui_station *st)
{
    SDL_Event e;
    while (SDL_PollEvent(&e)) {
        if (e.type == SDL_QUIT)
            st->quit = true;
        else if (e.type == SDL_TEXTINPUT && st->form.kind != UI_FORM_NONE)
            ui_form_text(st, e.text.text);
        else if (e.type == SDL_KEYDOWN && (!e.key.repeat || st->form.kind != UI_FORM_NONE)) {
            const char *k = key_name(e.key.keysym.sym);
            /* In a form, letters arrive as text input; only control keys act. */
            bool control = k && (!strcmp(k, "esc") || !strcmp(k, "backspace") ||
                                 !strcmp(k, "tab") || !strcmp(k, "enter") ||
                                 !strcmp(k, "up") || !strcmp(k, "down"));
            if (k && (st->form.kind == UI_FORM_NONE || control))
                ui_workflow_key(st, k);
            st->dirty = true;
        } else if (e.type == SDL_MOUSEBUTTONDOWN) {
            ui_workflow_click(st, e.button.x, e.button.y, e.button.button == SDL_BUTTON_RIGHT);
            st->dirty = true;
        }
    }
}

/* ---- the UI loop ------------------------------------------------------------ */

static void cine_push(ui_station *st)
{
    if (!st->cine)
        return;
    int slot = (st->cine_head + st->cine_len) % UI_CINE_FRAMES;
    if (st->cine_len == UI_CINE_FRAMES) {
        slot = st->cine_head;
        st->cine_head = (st->cine_head + 1) % UI_CINE_FRAMES;
    } else {
        st->cine_len++;
    }
    ui_view_copy(&st->cine[slot], &st->view);
}

void ui_show_cine(ui_station *st)
{
    if (!st->cine || st->cine_len == 0)
        return;
    int idx = (st->cine_head + st->cine_len - 1 - st->cine_back) % UI_CINE_FRAMES;
    ui_view_copy(&st->view, &st->cine[idx]);
}

/* One pass: input, events, newest result, compose, captures, present. */
static void loop_once(ui_station *st, bool *composed_new)
{
    *composed_new = false;
    if (st->win)
        poll_input(st);
    unsigned b = atomic_exchange(&st->buttons, 0);
    while (b--)
        ui_workflow_mark(st, "probe button");
    int ps = atomic_load(&st->probe_state);
    if (ps != st->last_probe_state) {
        if (ps == 0 && (st->last_probe_state == 1 || st->last_probe_state == 2))
            st->reconnect_until_ns = tl_now_ns() + 3000000000ull;
        fprintf(stderr, "talus run: probe %s\n",
                ps == 0 ? "reconnected" : ps == 1 ? "UNPLUGGED" : "lost");
        st->last_probe_state = ps;
    }
    ui_workflow_script(st);
    ui_workflow_poll_log(st);

    bool fresh = false;
    if (!st->frozen) {
        fresh = ui_pipeline_latest(st->pl, &st->view_counter, &st->view);
        if (fresh) {
            st->have_view = true;
            st->view.t_device_host_ns = ui_device_to_host_ns(st, &st->view);
            cine_push(st);
            ui_workflow_update(st);
        }
    } else {
        ui_show_cine(st);
        ui_workflow_update(st);
    }
    uint64_t now = tl_now_ns();
    /* Redraw on every new image, and a few times a second otherwise so the
     * clock, banners and "stale" state stay current. */
    static const uint64_t idle_redraw_ns = 100000000ull;
    if (!fresh && now - st->t_last_compose_ns < idle_redraw_ns && !st->mark_requests &&
        !st->dirty)
        return;
    st->dirty = false;
    uint64_t t_c0 = tl_now_ns();
    ui_render(st);
    uint64_t t_composed = tl_now_ns();
    st->compose_ms_sum += (t_composed - t_c0) / 1e6;
    st->n_compose++;
    st->t_last_compose_ns = t_composed;
    if (fresh) {
        if (!st->t_first_ns) {
            st->drops_startup = ui_raw_drops(st);
            st->t_first_ns = t_composed;
        }
        st->frames_shown++;
        st->t_last_shown_ns = t_composed;
        const ui_view *v = &st->view;
        double lat = ((double)t_composed - (double)v->t_device_host_ns) / 1e6;
        st->lat_now = lat;
        ui_record_latency(st, lat, ((double)v->t_received_ns - (double)v->t_device_host_ns) / 1e6,
                       ((double)v->t_processed_ns - (double)v->t_received_ns) / 1e6,
                       ((double)t_composed - (double)v->t_processed_ns) / 1e6);
        *composed_new = true;
    }
    ui_workflow_after_compose(st);
    uint32_t every = st->cfg->snapshot_every ? st->cfg->snapshot_every : 100;
    if (fresh && st->cfg->headless && st->frames_shown % every == 0) {
        char name[64];
        snprintf(name, sizeof name, "frame-%05llu.png", (unsigned long long)st->frames_shown);
        ui_snapshot(st, name);
    }
    if (st->win)
        SDL_RenderPresent(st->r);
    ui_update_rates(st, t_composed);
}

static tl_status check_config(const tl_station_config *c, char *err, size_t len)
{
    int sources = (c->probe_serial != NULL) + (c->replay_path != NULL);
    if (sources != 1) {
        snprintf(err, len, "give exactly one source: a probe or a replay file");
        return TL_ERR_INVALID_ARG;
    }
    if (c->headless && !c->out_dir) {
        snprintf(err, len, "--headless needs --out DIR for the snapshots and summary.json");
        return TL_ERR_INVALID_ARG;
    }
    if (c->out_dir && mkdir(c->out_dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, len, "cannot create %s: %s", c->out_dir, strerror(errno));
        return tl_status_from_errno(errno);
    }
    return TL_OK;
}

tl_status tl_station_run(const tl_station_config *cfg, tl_station_summary *summary,
                         char *err, size_t err_len)
{
    memset(summary, 0, sizeof *summary);
    tl_status s = check_config(cfg, err, err_len);
    if (s != TL_OK)
        return s;
    ui_station *st = calloc(1, sizeof *st);
    if (!st)
        return TL_ERR_NO_MEM;
    st->cfg = cfg;
    st->nominal_fps = cfg->fps > 0 ? cfg->fps : 30;
    st->calibration = TL_UI_CAL_UNKNOWN;
    snprintf(st->calibration_text, sizeof st->calibration_text, "n/a");
    snprintf(st->probe_name, sizeof st->probe_name, "-");
    atomic_init(&st->probe_state, 3);
    atomic_init(&st->buttons, 0);
    atomic_init(&st->events_seen, 0);
    st->last_probe_state = 0;
    st->cine = calloc(UI_CINE_FRAMES, sizeof *st->cine);

    if (cfg->script_path)
        s = tl_script_load(cfg->script_path, &st->script, st->err, sizeof st->err);
    if (s == TL_OK)
        s = open_renderer(st);
    if (s == TL_OK) {
        char jerr[256] = "";
        tl_status js = ui_journal_open(cfg->db_path, &st->jn, summary->db, sizeof summary->db,
                                       jerr, sizeof jerr);
        if (js != TL_OK) {
            /* The station still shows images; every injection will be refused
             * and the operator sees why, in red. */
            st->log_error = true;
            snprintf(st->log_error_text, sizeof st->log_error_text, "LOG: %s", jerr);
            snprintf(summary->error, sizeof summary->error, "injection log: %.230s", jerr);
            fprintf(stderr, "talus run: injection log unavailable: %s\n", jerr);
        }
    }
    int orientation = TL_ORIENT_MF;
    if (s == TL_OK && cfg->replay_path)
        s = ui_replay_open(cfg->replay_path, &st->replay, &orientation, st->err,
                           sizeof st->err);
    if (s == TL_OK) {
        ui_pipeline_params pp = { cfg->anatomy, cfg->age, cfg->sex, orientation,
                                  (uint32_t)(st->H - STATUS_H - KEYS_H - RULER_H - 10) };
        s = ui_pipeline_create(&pp, &st->pl);
        if (s != TL_OK)
            snprintf(st->err, sizeof st->err, "cannot start processing: %s", tl_strerror(s));
    }
    if (s == TL_OK) {
        if (st->replay) {
            const char *slash = strrchr(cfg->replay_path, '/');
            snprintf(st->probe_name, sizeof st->probe_name, "replay %.40s",
                     slash ? slash + 1 : cfg->replay_path);
            st->nominal_fps = cfg->replay_fps > 0 ? cfg->replay_fps : 30;
            s = ui_replay_start(st->replay, st->pl, st->nominal_fps);
            if (s == TL_OK)
                atomic_store(&st->probe_state, 0);
        } else {
            s = open_probe(st);
        }
    }
    if (s == TL_OK) {
        ui_workflow_start(st);
        uint64_t t0 = tl_now_ns();
        while (!st->quit) {
            bool composed;
            loop_once(st, &composed);
            if (cfg->frames && st->frames_shown >= cfg->frames)
                break;
            if (cfg->max_seconds > 0 && (tl_now_ns() - t0) / 1e9 > cfg->max_seconds)
                break;
            if (st->n_snaps == UI_MAX_SNAPS)
                ui_snapshots_flush(st);
            /* Wake on the next result at once; look at input, probe events
             * and the log at least every 5 ms. */
            if (!composed)
                ui_pipeline_wait(st->pl, st->view_counter, 5);
        }
        if (cfg->out_dir && st->frames_shown) {
            /* The last screen, whatever the script asked for. */
            ui_render(st);
            ui_snapshot(st, "final.png");
        }
    }
#ifdef TL_UI_HAVE_DRIVER
    if (st->drv)
        tl_driver_stop(st->drv);
#endif
    ui_replay_close(st->replay);
    st->replay = NULL;
    ui_workflow_finish(st);
    ui_fill_summary(st, summary);
#ifdef TL_UI_HAVE_DRIVER
    if (st->drv)
        tl_driver_close(st->drv);
#endif
    ui_journal_close(st->jn);
    ui_pipeline_destroy(st->pl);
    if (cfg->out_dir) {
        ui_snapshots_flush(st);
        summary->snapshots = st->snapshots;
        if (s == TL_OK)
            ui_write_summary(st, summary);
    }
    close_renderer(st);
    if (st->cine)
        for (int i = 0; i < UI_CINE_FRAMES; i++)
            ui_view_free(&st->cine[i]);
    free(st->cine);
    ui_view_free(&st->view);
    free(st->lat_ms);
    tl_script_free(&st->script);
    if (s != TL_OK)
        snprintf(err, err_len, "%s", st->err[0] ? st->err : tl_strerror(s));
    free(st);
    return s;
}
