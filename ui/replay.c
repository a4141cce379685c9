/* Replay source: a PLUS .mha sequence fed to the processing thread at a
 * steady rate, looping at the end, so a recorded scan drives the station
 * exactly as a probe would. The "device" time of a replayed frame is when
 * the reader hands it over (the file's timestamps are from another
 * machine's clock and say nothing about this station's latency). */
#include "ui_internal.h"
#include "tl_imaging.h"
#include "tl_recording.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ui_replay {
    tl_recording *rec;
    tl_recording_info info;
    ui_pipeline *pl;
    float fps;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_uint_fast64_t errors;
};

tl_status ui_replay_open(const char *path, ui_replay **out, int *orientation, char *err,
                         size_t err_len)
{
    *out = NULL;
    ui_replay *rp = calloc(1, sizeof *rp);
    if (!rp)
        return TL_ERR_NO_MEM;
    tl_status s = tl_recording_open(path, &rp->rec);
    if (s != TL_OK) {
        snprintf(err, err_len, "cannot replay %s: %s", path, tl_strerror(s));
        free(rp);
        return s;
    }
    tl_recording_get_info(rp->rec, &rp->info);
    if (rp->info.frames == 0) {
        snprintf(err, err_len, "cannot replay %s: it holds no frames", path);
        tl_recording_close(rp->rec);
        free(rp);
        return TL_ERR_FORMAT;
    }
    int o = tl_orientation_from_name(rp->info.orientation.normalized);
    *orientation = o < 0 ? TL_ORIENT_MF : o;
    atomic_init(&rp->stop, false);
    atomic_init(&rp->errors, 0);
    *out = rp;
    return TL_OK;
}

static void *thread_main(void *arg)
{
    ui_replay *rp = arg;
    uint64_t period = (uint64_t)(1e9 / rp->fps), next = tl_now_ns();
    uint32_t seq = 0;
    for (uint32_t i = 0; !atomic_load(&rp->stop); i = (i + 1) % rp->info.frames) {
        tl_frame f;
        if (tl_recording_read(rp->rec, i, &f) == TL_OK) {
            uint64_t now = tl_now_ns();
            f.seq = seq++;
            f.t_device_us = now / 1000;
            f.t_received_ns = now;
            ui_pipeline_push(rp->pl, &f);
        } else {
            atomic_fetch_add(&rp->errors, 1);
        }
        next += period;
        uint64_t now = tl_now_ns();
        if (next > now)
            tl_sleep_ns(next - now);
        else
            next = now;
    }
    return NULL;
}

tl_status ui_replay_start(ui_replay *rp, ui_pipeline *pl, float fps)
{
    rp->pl = pl;
    rp->fps = fps > 0 && fps <= 500 ? fps : 30;
    if (pthread_create(&rp->thread, NULL, thread_main, rp) != 0)
        return TL_ERR_NO_MEM;
    rp->started = true;
    return TL_OK;
}

void ui_replay_close(ui_replay *rp)
{
    if (!rp)
        return;
    if (rp->started) {
        atomic_store(&rp->stop, true);
        pthread_join(rp->thread, NULL);
    }
    tl_recording_close(rp->rec);
    free(rp);
}
