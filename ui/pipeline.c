/* The processing thread: newest frame -> B-mode -> tissue analysis -> needle.
 *
 * Analysis and needle stages are wired in when their libraries are built
 * (TL_UI_HAVE_* set by ui/CMakeLists.txt from the target type), so the
 * station runs with whatever has landed and says on screen what is missing.
 *
 * Hand-off: the frame source copies into a 3-frame inbox (when full the
 * oldest waiting frame is dropped and counted as skipped) and signals; this thread swaps the
 * inbox buffer with its own, processes, and publishes a copy of the view
 * under the lock; the UI copies the newest view out. Nobody waits on anyone
 * for longer than a memcpy. */
#include "ui_internal.h"
#ifdef TL_UI_HAVE_ANALYSIS
#include "tl_analysis.h"
#endif
#ifdef TL_UI_HAVE_GUIDANCE
#include "tl_guidance.h"
#endif
#ifdef TL_UI_HAVE_CALIBRATION
#include "tl_calibration.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UI_INBOX 3

struct ui_pipeline {
    ui_pipeline_params params;
    char anatomy[32];
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;

    /* inbox (under mu): a short FIFO, so a stall of the processing thread
     * of a frame or two (a busy machine) costs latency, not frames; when
     * it is full the oldest frame is dropped and counted. */
    tl_frame in[UI_INBOX];
    void *in_buf[UI_INBOX];
    size_t in_cap[UI_INBOX];
    uint32_t in_head, in_len;
    atomic_uint_fast64_t pushed, skipped;

    /* outbox (under mu) */
    ui_view out;
    uint64_t published;
    pthread_cond_t pub_cv;      /* signalled on publish: wakes the UI at once */

    /* processing-thread state */
    tl_frame work;
    void *work_buf;
    size_t work_cap;
    ui_view view;
    ui_imaging_stage img;
    atomic_uint_fast64_t steered;       /* frames that came steered */
#ifdef TL_UI_HAVE_ANALYSIS
    /* The tissue analysis runs on its own worker at its own pace, on a copy
     * of the newest B-mode it can take; every frame shows the latest result
     * (the structure changes slowly, the needle does not). So the image
     * and the needle never wait for the analysis: a frame costs imaging +
     * needle, and the analysis uses the second core. */
    tl_analyzer *analyzer;
    tl_analysis_tracker *an_tracker;
    tl_analysis_result an_frame, an_smooth;
    pthread_t athread;
    bool astarted;
    pthread_mutex_t amu;
    pthread_cond_t acv;
    bool abusy, astop;          /* under amu */
    tl_bmode abm;               /* the worker's copy of the B-mode */
    uint32_t aseq;
    ui_view aview;              /* worker scratch */
    ui_analysis alatest;        /* under amu */
    double analysis_ms;         /* under amu */
    bool patient_changed;       /* under amu (with anatomy, params.age/sex) */
    bool asteered;              /* under amu: the copy came from a steered frame */
    uint64_t analysed, analysed_steered; /* under amu: frames the worker analysed */
#endif
#ifdef TL_UI_HAVE_GUIDANCE
    /* one detector per steering angle (its time cue compares frames of the
     * same steering), one tracker (guidance/steer.c) */
    tl_needle_follower *follower;
#endif
#ifdef TL_UI_HAVE_CALIBRATION
    bool cal_on;
    tl_cal_record cal;
    char cal_serial[32];
#endif
    float lateral_offset_mm;
    /* per-frame processing times (under mu) */
    double *proc_ms;
    size_t n_proc, cap_proc;
    double stage_sum[3];
};

#ifdef TL_UI_HAVE_ANALYSIS
static void run_analysis(ui_pipeline *pl, ui_view *v, const tl_bmode *bm, int anatomy, int age,
                         char sex)
{
    if (anatomy < 0)
        return;
    tl_analysis_params ap = tl_analysis_params_default(anatomy);
    ap.age_years = (float)age;
    ap.sex = sex;
    if (tl_analyze(pl->analyzer, bm, &ap, &pl->an_frame) != TL_OK)
        return;
    tl_analysis_result *r = &pl->an_smooth;
    if (tl_analysis_tracker_update(pl->an_tracker, &pl->an_frame, r) != TL_OK)
        r = &pl->an_frame;
    ui_view_set_analysis(&v->an, r);
}
#endif

#ifdef TL_UI_HAVE_GUIDANCE
static void run_needle(ui_pipeline *pl, ui_view *v, float steer_deg)
{
    tl_needle_detection d;
    tl_needle_track tr;
    if (tl_needle_follower_frame(pl->follower, &pl->img.bm, steer_deg, NULL, &d, &tr) != TL_OK)
        return;
    ui_view_set_needle(v, &d, &tr);
}
#endif

void ui_pipeline_set_patient(ui_pipeline *pl, const char *anatomy, int age, char sex)
{
#ifdef TL_UI_HAVE_ANALYSIS
    if (ui_anatomy_code(anatomy) < 0)
        return; /* keep analysing what the scan is set up for */
    pthread_mutex_lock(&pl->amu);
    snprintf(pl->anatomy, sizeof pl->anatomy, "%s", anatomy);
    pl->params.age = age;
    pl->params.sex = sex;
    pl->patient_changed = true;
    pthread_mutex_unlock(&pl->amu);
#else
    (void)pl;
    (void)anatomy;
    (void)age;
    (void)sex;
#endif
}

void ui_pipeline_set_calibration(ui_pipeline *pl, const void *record, const char *serial)
{
#ifdef TL_UI_HAVE_CALIBRATION
    pthread_mutex_lock(&pl->mu);
    pl->cal_on = record != NULL;
    if (record) {
        pl->cal = *(const tl_cal_record *)record;
        snprintf(pl->cal_serial, sizeof pl->cal_serial, "%s", serial ? serial : "");
    }
    pthread_mutex_unlock(&pl->mu);
#else
    (void)pl;
    (void)record;
    (void)serial;
#endif
}

#ifdef TL_UI_HAVE_ANALYSIS
static void *analysis_main(void *arg)
{
    ui_pipeline *pl = arg;
    pthread_mutex_lock(&pl->amu);
    for (;;) {
        while (!pl->abusy && !pl->astop)
            pthread_cond_wait(&pl->acv, &pl->amu);
        if (pl->astop)
            break;
        int anatomy = ui_anatomy_code(pl->anatomy), age = pl->params.age;
        char sex = pl->params.sex;
        if (pl->patient_changed) {
            /* Another patient or structure: earlier frames say nothing. */
            tl_analysis_tracker_reset(pl->an_tracker);
            pl->patient_changed = false;
        }
        pthread_mutex_unlock(&pl->amu);
        uint64_t t0 = tl_now_ns();
        run_analysis(pl, &pl->aview, &pl->abm, anatomy, age, sex);
        double ms = (tl_now_ns() - t0) / 1e6;
        pthread_mutex_lock(&pl->amu);
        pl->alatest = pl->aview.an;
        pl->alatest.seq = pl->aseq;
        pl->analysis_ms = ms;
        pl->analysed++;
        pl->analysed_steered += pl->asteered;
        pl->abusy = false;
    }
    pthread_mutex_unlock(&pl->amu);
    return NULL;
}

/* Hand the worker this B-mode if it is free (else it is busy with an
 * earlier one and this frame shows that one's result). */
static void offer_analysis(ui_pipeline *pl, uint32_t seq, bool steered)
{
    pthread_mutex_lock(&pl->amu);
    if (!pl->abusy) {
        const tl_bmode *b = &pl->img.bm;
        if (pl->abm.width != b->width || pl->abm.height != b->height) {
            tl_bmode_free(&pl->abm);
            if (tl_bmode_alloc(&pl->abm, b->width, b->height) != TL_OK) {
                pthread_mutex_unlock(&pl->amu);
                return;
            }
        }
        for (uint32_t r = 0; r < b->height; r++) {
            memcpy(pl->abm.pixels + (size_t)r * pl->abm.stride,
                   b->pixels + (size_t)r * b->stride, b->width);
            if (b->valid && pl->abm.valid)
                memcpy(pl->abm.valid + (size_t)r * pl->abm.stride,
                       b->valid + (size_t)r * b->stride, b->width);
        }
        pl->abm.spacing_mm = b->spacing_mm;
        pl->abm.origin_x_mm = b->origin_x_mm;
        pl->abm.origin_z_mm = b->origin_z_mm;
        pl->abm.seq = b->seq;
        pl->abm.t_device_us = b->t_device_us;
        pl->abm.t_received_ns = b->t_received_ns;
        pl->abm.t_processed_ns = b->t_processed_ns;
        pl->aseq = seq;
        pl->asteered = steered;
        pl->abusy = true;
        pthread_cond_signal(&pl->acv);
    }
    pthread_mutex_unlock(&pl->amu);
}
#endif

static void process_one(ui_pipeline *pl)
{
    ui_view *v = &pl->view;
    tl_frame *f = &pl->work;
    uint64_t t0 = tl_now_ns();
    pl->lateral_offset_mm = 0;
#ifdef TL_UI_HAVE_CALIBRATION
    /* The probe's stored calibration: corrected speed of sound (axial scale)
     * and lateral offset. A record that does not apply changes nothing (the
     * status bar already says so). */
    if (pl->cal_on && tl_cal_apply(&pl->cal, pl->cal_serial, tl_wall_time_s(), &f->geom,
                                   &pl->lateral_offset_mm) != TL_OK)
        pl->lateral_offset_mm = 0;
#endif
    bool steered = f->geom.steer_deg != 0.0f;
    if (ui_imaging_stage_bmode(&pl->img, f) != TL_OK ||
        ui_imaging_stage_grey(&pl->img, steered, v) != TL_OK)
        return;
    if (steered)
        atomic_fetch_add(&pl->steered, 1);
    v->spacing_mm = pl->img.bm.spacing_mm;
    v->origin_x_mm = pl->img.bm.origin_x_mm + pl->lateral_offset_mm;
    v->origin_z_mm = pl->img.bm.origin_z_mm;
    v->seq = f->seq;
    v->t_device_us = f->t_device_us;
    v->t_received_ns = f->t_received_ns;
    v->have_needle = false;
    uint64_t t1 = tl_now_ns();
#ifdef TL_UI_HAVE_ANALYSIS
    /* tissue analysis on straight frames only: steering changes the
     * anisotropy of fascia and tendon (and so thickness and echo level) */
    if (!steered)
        offer_analysis(pl, f->seq, steered);
#endif
#ifdef TL_UI_HAVE_GUIDANCE
    run_needle(pl, v, f->geom.steer_deg);
#endif
    uint64_t t2 = tl_now_ns();
    double analysis_ms = 0;
#ifdef TL_UI_HAVE_ANALYSIS
    pthread_mutex_lock(&pl->amu);
    v->an = pl->alatest;
    analysis_ms = pl->analysis_ms;
    pthread_mutex_unlock(&pl->amu);
    v->an.built = true;
#endif
    v->t_processed_ns = tl_now_ns();
    v->stage_ms[0] = (t1 - t0) / 1e6;
    v->stage_ms[1] = analysis_ms;
    v->stage_ms[2] = (t2 - t1) / 1e6;
    v->proc_ms = (v->t_processed_ns - t0) / 1e6;

    pthread_mutex_lock(&pl->mu);
    if (ui_view_copy(&pl->out, v) == TL_OK) {
        pl->published++;
        pthread_cond_broadcast(&pl->pub_cv);
    }
    if (pl->n_proc == pl->cap_proc) {
        size_t nc = pl->cap_proc ? pl->cap_proc * 2 : 1024;
        double *np = realloc(pl->proc_ms, nc * sizeof *np);
        if (np) {
            pl->proc_ms = np;
            pl->cap_proc = nc;
        }
    }
    if (pl->n_proc < pl->cap_proc) {
        pl->proc_ms[pl->n_proc++] = v->proc_ms;
        for (int k = 0; k < 3; k++)
            pl->stage_sum[k] += v->stage_ms[k];
    }
    pthread_mutex_unlock(&pl->mu);
}

static void *thread_main(void *arg)
{
    ui_pipeline *pl = arg;
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        while (!pl->in_len && !pl->stop)
            pthread_cond_wait(&pl->cv, &pl->mu);
        if (pl->stop)
            break;
        /* Swap buffers: the inbox slot gets our old one. */
        uint32_t h = pl->in_head;
        void *b = pl->work_buf;
        size_t c = pl->work_cap;
        pl->work = pl->in[h];
        pl->work_buf = pl->in_buf[h];
        pl->work_cap = pl->in_cap[h];
        pl->work.data = pl->work_buf;
        pl->in_buf[h] = b;
        pl->in_cap[h] = c;
        pl->in_head = (h + 1) % UI_INBOX;
        pl->in_len--;
        pthread_mutex_unlock(&pl->mu);
        process_one(pl);
        pthread_mutex_lock(&pl->mu);
    }
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

tl_status ui_pipeline_create(const ui_pipeline_params *p, ui_pipeline **out)
{
    *out = NULL;
    ui_pipeline *pl = calloc(1, sizeof *pl);
    if (!pl)
        return TL_ERR_NO_MEM;
    pl->params = *p;
    snprintf(pl->anatomy, sizeof pl->anatomy, "%s", p->anatomy ? p->anatomy : "plantar-fascia");
    pl->params.anatomy = pl->anatomy;
    pl->img.orientation = p->orientation;
    pl->img.out_height = p->out_height;
    pthread_mutex_init(&pl->mu, NULL);
    pthread_cond_init(&pl->cv, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pl->pub_cv, &ca);
    pthread_condattr_destroy(&ca);
#ifdef TL_UI_HAVE_ANALYSIS
    pthread_mutex_init(&pl->amu, NULL);
    pthread_cond_init(&pl->acv, NULL);
#endif
    atomic_init(&pl->pushed, 0);
    atomic_init(&pl->skipped, 0);
    atomic_init(&pl->steered, 0);
    tl_status st = TL_OK;
#ifdef TL_UI_HAVE_ANALYSIS
    if (st == TL_OK)
        st = tl_analyzer_create(&pl->analyzer);
    if (st == TL_OK)
        st = tl_analysis_tracker_create(&pl->an_tracker);
    if (st == TL_OK && pthread_create(&pl->athread, NULL, analysis_main, pl) != 0)
        st = TL_ERR_NO_MEM;
    else if (st == TL_OK)
        pl->astarted = true;
#endif
#ifdef TL_UI_HAVE_GUIDANCE
    if (st == TL_OK) {
        tl_needle_params np = tl_needle_params_default();
        tl_tracker_params tp = tl_tracker_params_default();
        st = tl_needle_follower_create(&np, &tp, &pl->follower);
    }
#endif
    if (st == TL_OK && pthread_create(&pl->thread, NULL, thread_main, pl) != 0)
        st = TL_ERR_NO_MEM;
    else if (st == TL_OK)
        pl->started = true;
    if (st != TL_OK) {
        ui_pipeline_destroy(pl);
        return st;
    }
    *out = pl;
    return TL_OK;
}

void ui_pipeline_destroy(ui_pipeline *pl)
{
    if (!pl)
        return;
    if (pl->started) {
        pthread_mutex_lock(&pl->mu);
        pl->stop = true;
        pthread_cond_broadcast(&pl->cv);
        pthread_mutex_unlock(&pl->mu);
        pthread_join(pl->thread, NULL);
    }
    ui_imaging_stage_free(&pl->img);
#ifdef TL_UI_HAVE_ANALYSIS
    if (pl->astarted) {
        pthread_mutex_lock(&pl->amu);
        pl->astop = true;
        pthread_cond_broadcast(&pl->acv);
        pthread_mutex_unlock(&pl->amu);
        pthread_join(pl->athread, NULL);
    }
    pthread_mutex_destroy(&pl->amu);
    pthread_cond_destroy(&pl->acv);
    tl_bmode_free(&pl->abm);
    ui_view_free(&pl->aview);
    tl_analyzer_destroy(pl->analyzer);
    tl_analysis_tracker_destroy(pl->an_tracker);
#endif
#ifdef TL_UI_HAVE_GUIDANCE
    tl_needle_follower_destroy(pl->follower);
#endif
    for (int i = 0; i < UI_INBOX; i++)
        free(pl->in_buf[i]);
    free(pl->work_buf);
    ui_view_free(&pl->view);
    ui_view_free(&pl->out);
    free(pl->proc_ms);
    pthread_mutex_destroy(&pl->mu);
    pthread_cond_destroy(&pl->cv);
    pthread_cond_destroy(&pl->pub_cv);
    free(pl);
}

void ui_pipeline_push(ui_pipeline *pl, const tl_frame *f)
{
    if (!f || !f->data || f->data_bytes == 0 || f->data_bytes > (64u << 20))
        return;
    pthread_mutex_lock(&pl->mu);
    if (pl->in_len == UI_INBOX) {
        /* Full: the oldest waiting frame is dropped. */
        pl->in_head = (pl->in_head + 1) % UI_INBOX;
        pl->in_len--;
        atomic_fetch_add(&pl->skipped, 1);
    }
    uint32_t slot = (pl->in_head + pl->in_len) % UI_INBOX;
    if (pl->in_cap[slot] < f->data_bytes) {
        void *n = realloc(pl->in_buf[slot], f->data_bytes);
        if (!n) {
            pthread_mutex_unlock(&pl->mu);
            atomic_fetch_add(&pl->skipped, 1);
            return;
        }
        pl->in_buf[slot] = n;
        pl->in_cap[slot] = f->data_bytes;
    }
    pl->in[slot] = *f;
    memcpy(pl->in_buf[slot], f->data, f->data_bytes);
    pl->in[slot].data = pl->in_buf[slot];
    pl->in_len++;
    atomic_fetch_add(&pl->pushed, 1);
    pthread_cond_signal(&pl->cv);
    pthread_mutex_unlock(&pl->mu);
}

bool ui_pipeline_latest(ui_pipeline *pl, uint64_t *last_counter, ui_view *dst)
{
    bool got = false;
    pthread_mutex_lock(&pl->mu);
    if (pl->published > *last_counter && ui_view_copy(dst, &pl->out) == TL_OK) {
        *last_counter = pl->published;
        got = true;
    }
    pthread_mutex_unlock(&pl->mu);
    return got;
}

void ui_pipeline_wait(ui_pipeline *pl, uint64_t last_counter, uint32_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    ts.tv_sec += timeout_ms / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&pl->mu);
    while (pl->published <= last_counter && !pl->stop)
        if (pthread_cond_timedwait(&pl->pub_cv, &pl->mu, &ts) != 0)
            break;
    pthread_mutex_unlock(&pl->mu);
}

void ui_pipeline_analysed(ui_pipeline *pl, uint64_t *frames, uint64_t *steered)
{
    *frames = *steered = 0;
#ifdef TL_UI_HAVE_ANALYSIS
    pthread_mutex_lock(&pl->amu);
    *frames = pl->analysed;
    *steered = pl->analysed_steered;
    pthread_mutex_unlock(&pl->amu);
#else
    (void)pl;
#endif
}

uint64_t ui_pipeline_steered(const ui_pipeline *pl)
{
    return atomic_load(&((ui_pipeline *)pl)->steered);
}

uint64_t ui_pipeline_skipped(const ui_pipeline *pl)
{
    return atomic_load(&((ui_pipeline *)pl)->skipped);
}

uint64_t ui_pipeline_pushed(const ui_pipeline *pl)
{
    return atomic_load(&((ui_pipeline *)pl)->pushed);
}

void ui_pipeline_stage_means(ui_pipeline *pl, double means[3])
{
    pthread_mutex_lock(&pl->mu);
    for (int k = 0; k < 3; k++)
        means[k] = pl->n_proc ? pl->stage_sum[k] / pl->n_proc : 0;
    pthread_mutex_unlock(&pl->mu);
}

double *ui_pipeline_proc_times(ui_pipeline *pl, size_t *n)
{
    pthread_mutex_lock(&pl->mu);
    double *c = malloc((pl->n_proc ? pl->n_proc : 1) * sizeof *c);
    *n = 0;
    if (c && pl->n_proc) {
        memcpy(c, pl->proc_ms, pl->n_proc * sizeof *c);
        *n = pl->n_proc;
    }
    pthread_mutex_unlock(&pl->mu);
    return c;
}
