/* The procedure workflow at the station: session, automatic pre-injection
 * findings, target choice, marking injections (key, foot switch, probe
 * button), the post-procedure note and closing — plus the operator script
 * that drives all of it without a person.
 *
 * Every write goes to the log thread (journal.c). The operator is told an
 * injection is logged only when the log thread reports its commit. */
#include "ui_internal.h"
#ifdef TL_UI_HAVE_GUIDANCE
#include "tl_guidance.h"
#endif

#include <SDL.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ACK_NS 4000000000ull
#define FINDING_STABLE_FRAMES 15

static void set_ack(ui_station *st, uint32_t colour, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_ack(ui_station *st, uint32_t colour, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->ack, sizeof st->ack, fmt, ap);
    va_end(ap);
    st->ack_colour = colour;
    st->ack_until_ns = tl_now_ns() + ACK_NS;
}

static void start_session(ui_station *st)
{
    if (!st->jn)
        return;
    if (st->session_open && !st->closed) {
        ui_job c = { .kind = UI_JOB_CLOSE_SESSION, .session_id = st->session_id };
        snprintf(c.note, sizeof c.note, "%s", st->note);
        ui_journal_submit(st->jn, &c);
    }
    ui_job j = { .kind = UI_JOB_START_SESSION };
    snprintf(j.patient, sizeof j.patient, "%s", st->patient);
    j.side = st->side;
    snprintf(j.anatomy, sizeof j.anatomy, "%s", st->anatomy);
    snprintf(j.operator_name, sizeof j.operator_name, "%s", st->operator_name);
    snprintf(j.diagnosis, sizeof j.diagnosis, "%s", st->diagnosis);
    j.age = st->age;
    j.sex = st->sex;
    st->session_open = false;
    st->closed = false;
    st->findings_done = false;
    st->stable_frames = 0;
    st->note[0] = '\0';
    st->session_wanted = true;
    st->session_ticket = ui_journal_submit(st->jn, &j);
}

void ui_workflow_new_session(ui_station *st, const char *patient, char side,
                             const char *anatomy, const char *diagnosis,
                             const char *operator_name, int age, char sex)
{
    /* Field sizes match the log's limits; longer input is cut, not refused,
     * so a session always starts (the form limits typing to these sizes). */
    snprintf(st->patient, sizeof st->patient, "%.63s", patient);
    st->side = side;
    snprintf(st->anatomy, sizeof st->anatomy, "%.127s", anatomy);
    snprintf(st->diagnosis, sizeof st->diagnosis, "%.255s", diagnosis ? diagnosis : "");
    snprintf(st->operator_name, sizeof st->operator_name, "%.63s", operator_name);
    st->age = age;
    st->sex = sex;
    if (st->pl)
        ui_pipeline_set_patient(st->pl, st->anatomy, age, sex);
    start_session(st);
}

void ui_workflow_start(ui_station *st)
{
    const tl_station_config *c = st->cfg;
    snprintf(st->anatomy, sizeof st->anatomy, "%s", c->anatomy ? c->anatomy : "plantar-fascia");
    st->volume_ml = c->volume_ml > 0 ? c->volume_ml : 1.0;
    if (c->product && c->product[0]) {
        snprintf(st->product, sizeof st->product, "%s", c->product);
        snprintf(st->lot, sizeof st->lot, "%s", c->lot ? c->lot : "");
        snprintf(st->expiry, sizeof st->expiry, "%s", c->expiry ? c->expiry : "");
    } else if (st->jn) {
        /* The last product used is offered again. */
        ui_journal_last_product(st->jn, st->product, sizeof st->product, st->lot,
                                sizeof st->lot, st->expiry, sizeof st->expiry);
    }
    st->target_pick = -1;
    bool script_session = false;
    for (size_t i = 0; i < st->script.n; i++) {
        const tl_script_event *e = &st->script.events[i];
        script_session |= e->action == TL_SCRIPT_SESSION ||
                          (e->action == TL_SCRIPT_KEY && !strcmp(e->text, "s"));
    }
    if (c->patient && c->patient[0]) {
        snprintf(st->patient, sizeof st->patient, "%s", c->patient);
        st->side = c->side ? c->side : 'R';
        snprintf(st->operator_name, sizeof st->operator_name, "%s",
                 c->operator_name && c->operator_name[0] ? c->operator_name : "operator");
        snprintf(st->diagnosis, sizeof st->diagnosis, "%s", c->diagnosis ? c->diagnosis : "");
        st->age = c->age;
        st->sex = c->sex;
        if (st->pl)
            ui_pipeline_set_patient(st->pl, st->anatomy, st->age, st->sex);
        start_session(st);
    } else if (c->demo_session && !script_session) {
        snprintf(st->patient, sizeof st->patient, "DEMO-0001");
        st->side = 'R';
        snprintf(st->operator_name, sizeof st->operator_name, "demo operator");
        snprintf(st->diagnosis, sizeof st->diagnosis, "demo session (simulated probe)");
        st->age = 50;
        st->sex = 'F';
        if (!st->product[0]) {
            snprintf(st->product, sizeof st->product, "demo injectate (saline)");
            snprintf(st->lot, sizeof st->lot, "DEMO-LOT");
            snprintf(st->expiry, sizeof st->expiry, "2099-12");
        }
        if (st->pl)
            ui_pipeline_set_patient(st->pl, st->anatomy, st->age, st->sex);
        start_session(st);
    }
}

static void compute_aim(ui_station *st)
{
    const ui_view *v = &st->view;
    ui_aim *a = &st->aim;
    memset(a, 0, sizeof *a);
    if (st->tap_valid) {
        a->valid = true;
        a->from_tap = true;
        a->index = -1;
        a->target_x = st->tap_x;
        a->target_z = st->tap_z;
        a->radius = 2.0f;
    } else if (v->an.have_analysis && v->an.n_targets > 0) {
        int i = st->target_pick >= 0 && st->target_pick < (int)v->an.n_targets ? st->target_pick
                : v->an.best_target >= 0                                       ? v->an.best_target
                                                                            : 0;
        const ui_target *t = &v->an.targets[i];
        a->valid = true;
        a->index = i;
        a->target_x = t->x;
        a->target_z = t->z;
        float r = fminf(t->w, t->d) / 2;
        a->radius = r < 1.5f ? 1.5f : r;
    }
    if (!a->valid || !v->have_needle || !v->needle_found)
        return;
#ifdef TL_UI_HAVE_GUIDANCE
    tl_target tg = { a->target_x, a->target_z, a->radius };
    tl_polyline bone = { v->an.bone.x, v->an.bone.z, v->an.bone.n };
    tl_path p;
    if (tl_needle_path(v->tip_x, v->tip_z, v->angle_deg, &tg, NULL, v->an.bone.n ? &bone : NULL,
                       5.0f, &p) != TL_OK)
        return;
    a->needle = true;
    a->dist_mm = p.tip_to_target_mm;
    a->depth_mm = p.tip_depth_mm;
    a->cross_x = p.cross_x_mm;
    a->in_target = p.state == TL_PATH_IN_TARGET;
    a->on_path = p.state == TL_PATH_ON_PATH || p.state == TL_PATH_APPROACHING;
    a->passed = p.state == TL_PATH_PASSED;
    a->bone_alert = p.bone_alert;
    snprintf(a->state, sizeof a->state, "%s", tl_path_state_name(p.state));
    float rad = v->angle_deg * (float)M_PI / 180.0f, sgn = v->angle_deg >= 0 ? 1.0f : -1.0f;
    float reach = p.remaining_mm > 2 ? p.remaining_mm + 3 : 8;
    a->path_end_x = v->tip_x + reach * sgn * cosf(rad);
    a->path_end_z = v->tip_z + reach * sgn * sinf(rad);
#endif
}

void ui_workflow_update(ui_station *st)
{
    compute_aim(st);
    const ui_view *v = &st->view;
    if (st->session_open && !st->findings_done && v->an.have_analysis && v->an.structure_found &&
        isfinite(v->an.thickness_mm)) {
        if (++st->stable_frames >= FINDING_STABLE_FRAMES)
            st->mark_requests |= 0x80000000u; /* capture the finding at the next compose */
    } else if (!v->an.structure_found) {
        st->stable_frames = 0;
    }
}

void ui_workflow_mark(ui_station *st, const char *how)
{
    if (!st->session_open) {
        /* Told in red and counted: a mark that was not logged is a failure. */
        st->injections_failed++;
        set_ack(st, 0xB3261EF0u, "NO SESSION - injection (%s) NOT logged", how);
        return;
    }
    st->injections_marked++;
    st->mark_requests++;
    fprintf(stderr, "talus run: injection %u marked (%s)\n", st->injections_marked, how);
}

static void queue_finding(ui_station *st, uint8_t *rgb, int w, int h)
{
    const ui_view *v = &st->view;
    ui_job j = { .kind = UI_JOB_FINDING, .session_id = st->session_id };
    bool ankle = strstr(st->anatomy, "ankle") != NULL;
    snprintf(j.structure, sizeof j.structure, "%s", st->anatomy);
    snprintf(j.measure, sizeof j.measure, "%s", ankle ? "effusion depth" : "thickness");
    snprintf(j.unit, sizeof j.unit, "mm");
    j.value = v->an.thickness_mm;
    j.abnormal = v->an.abnormal;
    j.threshold = isfinite(v->an.limit_mm) && v->an.limit_mm > 0 ? v->an.limit_mm : NAN;
    snprintf(j.note, sizeof j.note, "%s%s%s%s%s", v->an.hypoechoic ? "hypoechoic; " : "",
             v->an.cleft ? "anechoic cleft; " : "", v->an.fluid ? "perifascial fluid; " : "",
             v->an.anisotropy ? "anisotropy (angle) seen; " : "",
             v->an.n_targets ? "damaged-tissue target(s) marked" : "");
    if (ankle) {
        char g[32];
        snprintf(g, sizeof g, "; effusion grade %d", v->an.effusion_grade);
        strncat(j.note, g, sizeof j.note - strlen(j.note) - 1);
    }
    j.rgb = rgb;
    j.w = (uint32_t)w;
    j.h = (uint32_t)h;
    if (ui_journal_submit(st->jn, &j))
        st->findings_done = true;
}

static void queue_injection(ui_station *st, uint8_t *rgb, int w, int h)
{
    const ui_aim *a = &st->aim;
    const ui_view *v = &st->view;
    ui_job j = { .kind = UI_JOB_INJECTION, .session_id = st->session_id };
    /* Positions in probe coordinates (mm), as the log records them. */
    j.target_x = a->valid ? a->target_x + v->origin_x_mm : NAN;
    j.target_z = a->valid ? a->target_z + v->origin_z_mm : NAN;
    bool needle = v->have_needle && v->needle_found;
    j.tip_x = needle ? v->tip_x + v->origin_x_mm : NAN;
    j.tip_z = needle ? v->tip_z + v->origin_z_mm : NAN;
    j.depth_mm = needle ? (a->needle ? a->depth_mm : v->tip_z) : NAN;
    j.in_target = a->in_target;
    j.volume_ml = st->volume_ml;
    snprintf(j.product, sizeof j.product, "%s", st->product[0] ? st->product : "(not entered)");
    snprintf(j.lot, sizeof j.lot, "%s", st->lot);
    snprintf(j.expiry, sizeof j.expiry, "%s", st->expiry);
    j.rgb = rgb;
    j.w = (uint32_t)w;
    j.h = (uint32_t)h;
    uint32_t number = ++st->injections_queued;
    uint32_t t = ui_journal_submit(st->jn, &j);
    if (!t) {
        st->injections_failed++;
        set_ack(st, 0xB3261EF0u, "INJECTION %u NOT LOGGED - log queue full", number);
        return;
    }
    if (st->n_pending < UI_MAX_PENDING)
        st->pending[st->n_pending++] = (ui_pending){ t, number };
    set_ack(st, 0x8A6D00F0u, "Saving injection %u ...", number);
}

void ui_workflow_after_compose(ui_station *st)
{
    if (!st->mark_requests || !st->have_view || !st->jn)
        return;
    /* The image as shown, with its overlay and mm rulers. */
    int x = st->img_x - RULER_W, y = st->img_y - RULER_H;
    int w = st->img_w + RULER_W + 4, h = st->img_h + RULER_H + 4;
    if (x < 0)
        x = 0;
    if (st->mark_requests & 0x80000000u) {
        st->mark_requests &= ~0x80000000u;
        uint8_t *rgb = ui_read_rgb(st, x, y, w, h);
        if (rgb)
            queue_finding(st, rgb, w, h);
    }
    while (st->mark_requests & 0xFFFF) {
        uint8_t *rgb = ui_read_rgb(st, x, y, w, h);
        queue_injection(st, rgb, rgb ? w : 0, rgb ? h : 0);
        st->mark_requests--;
    }
}

void ui_workflow_poll_log(ui_station *st)
{
    ui_job_result r;
    while (st->jn && ui_journal_poll(st->jn, &r)) {
        if (r.status != TL_OK) {
            st->log_error = true;
            snprintf(st->log_error_text, sizeof st->log_error_text, "LOG: %s", r.message);
            fprintf(stderr, "talus run: injection log: %s\n", r.message);
        }
        switch (r.kind) {
        case UI_JOB_START_SESSION:
            if (r.ticket == st->session_ticket && r.status == TL_OK) {
                st->session_id = r.id;
                st->session_open = true;
            }
            break;
        case UI_JOB_FINDING:
            if (r.status == TL_OK)
                st->findings_logged++;
            else
                st->findings_done = false; /* try again */
            break;
        case UI_JOB_INJECTION:
            for (uint32_t i = 0; i < st->n_pending; i++) {
                if (st->pending[i].ticket != r.ticket)
                    continue;
                uint32_t num = st->pending[i].number;
                st->pending[i] = st->pending[--st->n_pending];
                if (r.status == TL_OK) {
                    st->injections_logged++;
                    char hm[16];
                    time_t now = time(NULL);
                    struct tm tmv;
                    localtime_r(&now, &tmv);
                    strftime(hm, sizeof hm, "%H:%M:%S", &tmv);
                    set_ack(st, 0x1E7A3AF0u, "Injection %u LOGGED  %s  (#%lld)", num, hm,
                            (long long)r.id);
                    /* The acknowledgement, for scripts and kill tests: printed only
                     * after the log thread saw the COMMIT return. */
                    fprintf(stderr, "talus run: injection %u logged (#%lld)\n", num,
                            (long long)r.id);
                } else {
                    st->injections_failed++;
                    set_ack(st, 0xB3261EF0u, "INJECTION %u NOT LOGGED - press SPACE again", num);
                    fprintf(stderr, "talus run: injection %u NOT logged: %s\n", num,
                            tl_strerror(r.status));
                }
                break;
            }
            break;
        case UI_JOB_CLOSE_SESSION:
            if (r.status == TL_OK && r.id == st->session_id) {
                st->closed = true;
                st->session_open = false;
            }
            break;
        }
    }
}

void ui_workflow_key(ui_station *st, const char *k)
{
    if (ui_form_key(st, k))
        return;
    if (!strcmp(k, "s"))
        ui_form_open(st, UI_FORM_SESSION);
    else if (!strcmp(k, "p"))
        ui_form_open(st, UI_FORM_PRODUCT);
    else if (!strcmp(k, "o"))
        ui_form_open(st, UI_FORM_NOTE);
    else if (!strcmp(k, "space") || !strcmp(k, "enter") || !strcmp(k, "return") ||
        !strcmp(k, "pagedown") || !strcmp(k, "f5"))
        ui_workflow_mark(st, k);
    else if (!strcmp(k, "f")) {
        st->frozen = !st->frozen;
        st->cine_back = 0;
    } else if (!strcmp(k, "left") && st->frozen && st->cine_back + 1 < st->cine_len)
        st->cine_back++;
    else if (!strcmp(k, "right") && st->frozen && st->cine_back > 0)
        st->cine_back--;
    else if (!strcmp(k, "n") || !strcmp(k, "t")) {
        st->tap_valid = false;
        uint32_t n = st->view.an.n_targets;
        if (n)
            st->target_pick = ((st->aim.index >= 0 ? st->aim.index : -1) + 1) % (int)n;
    } else if (k[0] >= '1' && k[0] <= '8' && !k[1]) {
        st->tap_valid = false;
        st->target_pick = k[0] - '1';
    } else if (!strcmp(k, "c"))
        st->caliper_state = st->caliper_state ? 0 : 1;
    else if (!strcmp(k, "?") || !strcmp(k, "h"))
        st->help = !st->help;
    else if (!strcmp(k, "q") || !strcmp(k, "esc"))
        st->quit = true;
    compute_aim(st);
}

void ui_workflow_click(ui_station *st, int sx, int sy, bool right)
{
    float x, z;
    if (right) {
        st->tap_valid = false;
        st->target_pick = -1;
    } else if (ui_screen_to_mm(st, sx, sy, &x, &z)) {
        if (st->caliper_state == 1 || st->caliper_state == 3) {
            st->cal[0] = x;
            st->cal[1] = z;
            st->caliper_state = 2;
        } else if (st->caliper_state == 2) {
            st->cal[2] = x;
            st->cal[3] = z;
            st->caliper_state = 3;
        } else {
            st->tap_valid = true;
            st->tap_x = x;
            st->tap_z = z;
        }
    }
    compute_aim(st);
}

void ui_snapshot(ui_station *st, const char *name)
{
    if (!st->cfg->out_dir || st->n_snaps >= UI_MAX_SNAPS)
        return;
    uint8_t *rgb = ui_read_rgb(st, 0, 0, 0, 0);
    if (!rgb)
        return;
    /* Written at the end (or when the list is full): a PNG with fsync costs
     * tens of ms, which would show up as latency on the frames behind it. */
    ui_snap *s = &st->snaps[st->n_snaps++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->rgb = rgb;
}

void ui_snapshots_flush(ui_station *st)
{
    for (uint32_t i = 0; i < st->n_snaps; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", st->cfg->out_dir, st->snaps[i].name);
        tl_status s = tl_png_write(path, st->snaps[i].rgb, (uint32_t)st->W, (uint32_t)st->H,
                                   (uint32_t)st->W * 3, 3);
        if (s == TL_OK)
            st->snapshots++;
        else
            fprintf(stderr, "talus run: cannot write %s: %s\n", path, tl_strerror(s));
        free(st->snaps[i].rgb);
    }
    st->n_snaps = 0;
}

static void run_event(ui_station *st, const tl_script_event *e)
{
    const tl_station_hooks *h = &st->cfg->hooks;
    switch (e->action) {
    case TL_SCRIPT_SESSION:
        ui_workflow_new_session(st, e->patient, e->side, e->anatomy, e->diagnosis,
                                e->operator_name, e->age, e->sex);
        break;
    case TL_SCRIPT_TYPE:
        ui_form_text(st, e->text);
        break;
    case TL_SCRIPT_PRODUCT:
        snprintf(st->product, sizeof st->product, "%s", e->product);
        snprintf(st->lot, sizeof st->lot, "%s", e->lot);
        snprintf(st->expiry, sizeof st->expiry, "%s", e->expiry);
        if (e->volume_ml > 0)
            st->volume_ml = e->volume_ml;
        break;
    case TL_SCRIPT_KEY:
        ui_workflow_key(st, e->text);
        break;
    case TL_SCRIPT_BUTTON:
        /* Through the simulated probe's interrupt endpoint: it comes back as a
         * driver event, exactly like a real probe's button. */
        if (!h->press_button || h->press_button(h->user) != TL_OK)
            fprintf(stderr, "talus run: script:%d: no simulated probe to press the button of\n",
                    e->line);
        break;
    case TL_SCRIPT_TAP:
        st->tap_valid = true;
        st->tap_x = e->v[0];
        st->tap_z = e->v[1];
        compute_aim(st);
        break;
    case TL_SCRIPT_CALIPER:
        memcpy(st->cal, e->v, sizeof st->cal);
        st->caliper_state = 3;
        break;
    case TL_SCRIPT_FAULT:
        if (!h->inject_fault || h->inject_fault(h->user, e->text) != TL_OK)
            fprintf(stderr, "talus run: script:%d: cannot inject fault '%s'\n", e->line, e->text);
        break;
    case TL_SCRIPT_NOTE:
        if (st->note[0])
            strncat(st->note, " ", sizeof st->note - strlen(st->note) - 1);
        strncat(st->note, e->text, sizeof st->note - strlen(st->note) - 1);
        break;
    case TL_SCRIPT_CLOSE:
        st->close_requested = true;
        break;
    case TL_SCRIPT_SNAPSHOT:
        /* The screen as it is at this event (frozen, cine position, forms). */
        if (st->frozen)
            ui_show_cine(st);
        ui_render(st);
        ui_snapshot(st, e->text);
        break;
    case TL_SCRIPT_QUIT:
        st->quit = true;
        break;
    case TL_SCRIPT_WAIT:
        break; /* its condition held: see ui_workflow_script */
    }
}

static void close_session(ui_station *st)
{
    if (!st->jn || !st->session_open || st->closed || st->close_ticket)
        return;
    ui_job c = { .kind = UI_JOB_CLOSE_SESSION, .session_id = st->session_id };
    snprintf(c.note, sizeof c.note, "%s", st->note);
    st->close_ticket = ui_journal_submit(st->jn, &c);
}

void ui_workflow_script(ui_station *st)
{
    while (st->script_pos < st->script.n && !st->quit) {
        const tl_script_event *e = &st->script.events[st->script_pos];
        bool due = e->at_frame ? st->frames_shown >= e->frame
                               : st->t_first_ns &&
                                     (tl_now_ns() - st->t_first_ns) / 1e9 >= e->t_s;
        /* Session-dependent events wait for the session's commit so a
         * scripted "button" right after "session" is not refused. */
        if (due && st->session_wanted && !st->session_open && !st->closed &&
            e->action != TL_SCRIPT_SESSION && e->action != TL_SCRIPT_PRODUCT &&
            !st->log_error)
            due = false;
        if (due && e->action == TL_SCRIPT_WAIT) {
            int ps = atomic_load(&st->probe_state);
            due = !strcmp(e->text, "unplugged")   ? ps == 1 || ps == 2
                  : !strcmp(e->text, "connected") ? ps == 0
                                                  : st->injections_logged >= (uint32_t)e->v[0];
        }
        if (!due)
            break;
        run_event(st, e);
        st->script_pos++;
    }
    if (st->close_requested) {
        close_session(st);
        st->close_requested = false;
    }
}

void ui_workflow_finish(ui_station *st)
{
    if (!st->jn)
        return;
    /* Captures asked for but not yet composed still go to the log. */
    ui_workflow_after_compose(st);
    uint64_t t0 = tl_now_ns();
    /* Let a pending session start commit before closing it. */
    while (ui_journal_pending(st->jn) && tl_now_ns() - t0 < 20000000000ull) {
        ui_workflow_poll_log(st);
        tl_sleep_ns(2000000);
    }
    ui_workflow_poll_log(st);
    close_session(st);
    while (ui_journal_pending(st->jn) && tl_now_ns() - t0 < 30000000000ull) {
        ui_workflow_poll_log(st);
        tl_sleep_ns(2000000);
    }
    ui_workflow_poll_log(st);
}
