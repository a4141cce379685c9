/* The log thread: every write to the injection log (guidance/log) happens
 * here, in submission order, on the one SQLite connection this thread owns.
 * The UI thread queues a job and polls for its result; an injection is shown
 * as logged only when its result says the commit returned TL_OK. Writing
 * (PNG + fsync + COMMIT) takes tens of milliseconds and must not stall the
 * image. */
#include "ui_internal.h"
#ifdef TL_UI_HAVE_INJLOG
#include "tl_injlog.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 64

struct ui_journal {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    bool opened;                 /* the open on the thread has finished */
    tl_status open_status;
    char open_err[256];
    char db[512];
    ui_job queue[QUEUE_MAX];
    uint32_t q_head, q_len;
    ui_job_result done[QUEUE_MAX];
    uint32_t d_head, d_len;
    uint32_t next_ticket;
    uint32_t busy;               /* a job is being written */
    bool have_last;
    char last_name[128], last_lot[64], last_expiry[64];
};

#ifdef TL_UI_HAVE_INJLOG
static tl_status do_job(tl_injlog *log, ui_job *j, ui_job_result *res)
{
    tl_injlog_image img = { .pixels = j->rgb, .width = j->w, .height = j->h,
                            .stride = j->w * 3, .channels = 3 };
    tl_injlog_image *imgp = j->rgb ? &img : NULL;
    switch (j->kind) {
    case UI_JOB_START_SESSION: {
        tl_injlog_session_info si = {
            .patient_id = j->patient, .side = j->side, .anatomy = j->anatomy,
            .diagnosis = j->diagnosis[0] ? j->diagnosis : NULL,
            .operator_name = j->operator_name, .age_years = j->age, .sex = j->sex,
        };
        return tl_injlog_start_session(log, &si, &res->id);
    }
    case UI_JOB_FINDING: {
        tl_injlog_finding_info fi = {
            .structure = j->structure, .measure = j->measure, .value = j->value,
            .unit = j->unit[0] ? j->unit : NULL, .abnormal = j->abnormal,
            .threshold = j->threshold, .note = j->note[0] ? j->note : NULL,
        };
        return tl_injlog_add_finding(log, j->session_id, &fi, imgp, &res->id);
    }
    case UI_JOB_INJECTION: {
        tl_injlog_injection_info ii = {
            .anatomy = NULL, .side = 0, .target_x_mm = j->target_x, .target_z_mm = j->target_z,
            .tip_x_mm = j->tip_x, .tip_z_mm = j->tip_z, .depth_mm = j->depth_mm,
            .in_target = j->in_target, .volume_ml = j->volume_ml, .product = j->product,
            .lot = j->lot, .expiry = j->expiry, .operator_name = NULL,
        };
        return tl_injlog_mark_injection(log, j->session_id, &ii, imgp, &res->id);
    }
    case UI_JOB_CLOSE_SESSION:
        res->id = j->session_id;
        return tl_injlog_close_session(log, j->session_id, j->note[0] ? j->note : NULL);
    }
    return TL_ERR_INVALID_ARG;
}
#endif

static void *thread_main(void *arg)
{
    ui_journal *jn = arg;
#ifdef TL_UI_HAVE_INJLOG
    tl_injlog *log = NULL;
    char err[256] = "";
    tl_status st = tl_injlog_open(jn->db, TL_INJLOG_CREATE, &log, err, sizeof err);
    tl_injlog_product last;
    bool have_last = st == TL_OK && tl_injlog_last_product(log, &last) == TL_OK;
    pthread_mutex_lock(&jn->mu);
    jn->open_status = st;
    snprintf(jn->open_err, sizeof jn->open_err, "%s", err);
    if (have_last) {
        jn->have_last = true;
        snprintf(jn->last_name, sizeof jn->last_name, "%s", last.name);
        snprintf(jn->last_lot, sizeof jn->last_lot, "%s", last.lot);
        snprintf(jn->last_expiry, sizeof jn->last_expiry, "%s", last.expiry);
    }
#else
    pthread_mutex_lock(&jn->mu);
    jn->open_status = TL_ERR_UNSUPPORTED;
    snprintf(jn->open_err, sizeof jn->open_err,
             "the injection log (guidance/log) is not built in this version");
#endif
    jn->opened = true;
    pthread_cond_broadcast(&jn->cv);
    for (;;) {
        while (jn->q_len == 0 && !jn->stop)
            pthread_cond_wait(&jn->cv, &jn->mu);
        if (jn->q_len == 0 && jn->stop)
            break;
        ui_job job = jn->queue[jn->q_head];
        jn->q_head = (jn->q_head + 1) % QUEUE_MAX;
        jn->q_len--;
        jn->busy = 1;
        pthread_mutex_unlock(&jn->mu);

        ui_job_result res = { .ticket = job.ticket, .kind = job.kind };
#ifdef TL_UI_HAVE_INJLOG
        if (log) {
            res.status = do_job(log, &job, &res);
            if (res.status != TL_OK)
                snprintf(res.message, sizeof res.message, "%s", tl_injlog_errmsg(log));
        } else {
            res.status = jn->open_status;
            snprintf(res.message, sizeof res.message, "%s", jn->open_err);
        }
#else
        res.status = TL_ERR_UNSUPPORTED;
        snprintf(res.message, sizeof res.message, "%s", jn->open_err);
#endif
        if (res.status != TL_OK && !res.message[0])
            snprintf(res.message, sizeof res.message, "%s", tl_strerror(res.status));
        free(job.rgb);

        pthread_mutex_lock(&jn->mu);
        jn->busy = 0;
        if (res.status == TL_OK && job.kind == UI_JOB_INJECTION) {
            jn->have_last = true;
            snprintf(jn->last_name, sizeof jn->last_name, "%s", job.product);
            snprintf(jn->last_lot, sizeof jn->last_lot, "%s", job.lot);
            snprintf(jn->last_expiry, sizeof jn->last_expiry, "%s", job.expiry);
        }
        if (jn->d_len < QUEUE_MAX) {
            jn->done[(jn->d_head + jn->d_len) % QUEUE_MAX] = res;
            jn->d_len++;
        }
    }
    pthread_mutex_unlock(&jn->mu);
#ifdef TL_UI_HAVE_INJLOG
    tl_injlog_close(log);
#endif
    return NULL;
}

tl_status ui_journal_open(const char *db, ui_journal **out, char *path_out, size_t path_len,
                          char *err, size_t err_len)
{
    *out = NULL;
    ui_journal *jn = calloc(1, sizeof *jn);
    if (!jn)
        return TL_ERR_NO_MEM;
    if (db && db[0])
        snprintf(jn->db, sizeof jn->db, "%s", db);
#ifdef TL_UI_HAVE_INJLOG
    else if (tl_injlog_default_path(jn->db, sizeof jn->db) != TL_OK) {
        snprintf(err, err_len, "no database given (--db) and neither TALUS_DB nor HOME is set");
        free(jn);
        return TL_ERR_NOT_FOUND;
    }
#endif
    if (path_out)
        snprintf(path_out, path_len, "%s", jn->db);
    pthread_mutex_init(&jn->mu, NULL);
    pthread_cond_init(&jn->cv, NULL);
    jn->next_ticket = 1;
    if (pthread_create(&jn->thread, NULL, thread_main, jn) != 0) {
        pthread_mutex_destroy(&jn->mu);
        pthread_cond_destroy(&jn->cv);
        free(jn);
        return TL_ERR_NO_MEM;
    }
    pthread_mutex_lock(&jn->mu);
    while (!jn->opened)
        pthread_cond_wait(&jn->cv, &jn->mu);
    tl_status st = jn->open_status;
    if (st != TL_OK)
        snprintf(err, err_len, "%s", jn->open_err);
    pthread_mutex_unlock(&jn->mu);
    *out = jn;
    /* The journal is returned even when the open failed: the station keeps
     * running (and says so in red); jobs then fail with the open error. */
    return st;
}

void ui_journal_close(ui_journal *jn)
{
    if (!jn)
        return;
    pthread_mutex_lock(&jn->mu);
    jn->stop = true;
    pthread_cond_broadcast(&jn->cv);
    pthread_mutex_unlock(&jn->mu);
    pthread_join(jn->thread, NULL);
    while (jn->q_len) {
        free(jn->queue[jn->q_head].rgb);
        jn->q_head = (jn->q_head + 1) % QUEUE_MAX;
        jn->q_len--;
    }
    pthread_mutex_destroy(&jn->mu);
    pthread_cond_destroy(&jn->cv);
    free(jn);
}

uint32_t ui_journal_submit(ui_journal *jn, ui_job *job)
{
    uint32_t ticket = 0;
    pthread_mutex_lock(&jn->mu);
    if (jn->q_len < QUEUE_MAX && !jn->stop) {
        ticket = job->ticket = jn->next_ticket++;
        jn->queue[(jn->q_head + jn->q_len) % QUEUE_MAX] = *job;
        jn->q_len++;
        job->rgb = NULL;
        pthread_cond_signal(&jn->cv);
    }
    pthread_mutex_unlock(&jn->mu);
    if (!ticket) {
        free(job->rgb);
        job->rgb = NULL;
    }
    return ticket;
}

bool ui_journal_poll(ui_journal *jn, ui_job_result *res)
{
    bool got = false;
    pthread_mutex_lock(&jn->mu);
    if (jn->d_len) {
        *res = jn->done[jn->d_head];
        jn->d_head = (jn->d_head + 1) % QUEUE_MAX;
        jn->d_len--;
        got = true;
    }
    pthread_mutex_unlock(&jn->mu);
    return got;
}

bool ui_journal_last_product(ui_journal *jn, char *name, size_t nl, char *lot, size_t ll,
                             char *expiry, size_t el)
{
    pthread_mutex_lock(&jn->mu);
    bool have = jn->have_last;
    if (have) {
        snprintf(name, nl, "%s", jn->last_name);
        snprintf(lot, ll, "%s", jn->last_lot);
        snprintf(expiry, el, "%s", jn->last_expiry);
    }
    pthread_mutex_unlock(&jn->mu);
    return have;
}

uint32_t ui_journal_pending(ui_journal *jn)
{
    pthread_mutex_lock(&jn->mu);
    uint32_t n = jn->q_len + jn->busy;
    pthread_mutex_unlock(&jn->mu);
    return n;
}
