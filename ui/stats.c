/* The station's figures: device clock to host time, per-frame latency,
 * dropped frames and frame rate, and the summary written at the end of a run
 * (summary.json). Split from station.c, which owns the loop that feeds them. */
#include "ui_internal.h"
#include "tl_driver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Device clock -> host monotonic ns. The simulated probe stamps frames with
 * the host's own monotonic clock (same machine), which we recognise by the
 * first frame arriving within 2 s of its stamp; a real probe's clock gets
 * an offset estimated from the fastest transfer seen (min of received -
 * device), the usual one-way clock-sync estimate. */
uint64_t ui_device_to_host_ns(ui_station *st, const ui_view *v)
{
    int64_t recv_us = (int64_t)(v->t_received_ns / 1000);
    int64_t off = recv_us - (int64_t)v->t_device_us;
    if (!st->clock_known) {
        st->clock_known = true;
        st->clock_shared = off >= 0 && off < 2000000;
        st->clock_offset_us = off;
    }
    if (st->clock_shared)
        return v->t_device_us * 1000;
    if (off < st->clock_offset_us)
        st->clock_offset_us = off;
    return (uint64_t)((int64_t)v->t_device_us + st->clock_offset_us) * 1000;
}

/* Per frame: total (device -> composed) and its parts: USB (device ->
 * received), processing (received -> B-mode, analysis, needle ready, with
 * the wait in the inbox), display (ready -> composed, with the UI's pickup). */
void ui_record_latency(ui_station *st, double total, double usb, double proc, double disp)
{
    if (st->n_lat == st->cap_lat) {
        size_t nc = st->cap_lat ? st->cap_lat * 2 : 4096;
        double *n = realloc(st->lat_ms, nc * 4 * sizeof *n);
        if (!n)
            return;
        st->lat_ms = n;
        st->cap_lat = nc;
    }
    double *row = st->lat_ms + st->n_lat * 4;
    row[0] = total;
    row[1] = usb;
    row[2] = proc;
    row[3] = disp;
    st->n_lat++;
}

/* Frames lost since the first image was shown: the driver's count plus the
 * frames the processing thread skipped. What is lost while the pipeline is
 * first planned (before anything is on screen) is reported as startup. */
uint64_t ui_raw_drops(ui_station *st)
{
    uint64_t d = ui_pipeline_skipped(st->pl);
#ifdef TL_UI_HAVE_DRIVER
    if (st->drv) {
        tl_driver_stats s;
        tl_driver_stats_get(st->drv, &s);
        d += s.frames_dropped;
    }
#endif
    return d;
}

static uint64_t total_drops(ui_station *st)
{
    return st->t_first_ns ? ui_raw_drops(st) - st->drops_startup : 0;
}

/* Once a second: frames/s and the drops of the last few seconds. */
void ui_update_rates(ui_station *st, uint64_t now)
{
    if (!st->fps_t0) {
        st->fps_t0 = now;
        st->fps_n0 = st->frames_shown;
        st->window_t0 = now;
        return;
    }
    if (now - st->fps_t0 >= 1000000000ull) {
        st->fps_now = (st->frames_shown - st->fps_n0) * 1e9 / (double)(now - st->fps_t0);
        st->fps_t0 = now;
        st->fps_n0 = st->frames_shown;
        uint64_t d = total_drops(st);
        memmove(st->drops_window + 1, st->drops_window, 7 * sizeof st->drops_window[0]);
        st->drops_window[1] = d - st->drops_at_window_start;
        st->drops_at_window_start = d;
        /* drops_window[0]: dropped in the last 3 s (red while > 0). */
        st->drops_window[0] = st->drops_window[1] + st->drops_window[2] + st->drops_window[3];
    }
    st->drops_total = total_drops(st);
}

void ui_fill_summary(ui_station *st, tl_station_summary *s)
{
    s->frames = st->frames_shown;
    s->steer_deg = st->steer_deg;
    s->frames_received = st->pl ? ui_pipeline_pushed(st->pl) : 0;
    double span = st->t_last_shown_ns > st->t_first_ns
                      ? (st->t_last_shown_ns - st->t_first_ns) / 1e9 : 0;
    s->fps = span > 0 && st->frames_shown > 1 ? (st->frames_shown - 1) / span : 0;
    if (st->n_lat) {
        double *col = malloc(st->n_lat * sizeof *col);
        for (int k = 0; col && k < 4; k++) {
            for (size_t i = 0; i < st->n_lat; i++)
                col[i] = st->lat_ms[i * 4 + k];
            s->stage_latency_ms[k][0] = tl_percentile(col, st->n_lat, 50);
            s->stage_latency_ms[k][1] = tl_percentile(col, st->n_lat, 99);
            if (k == 0)
                s->latency_max_ms = tl_percentile(col, st->n_lat, 100);
        }
        free(col);
        s->latency_p50_ms = s->stage_latency_ms[0][0];
        s->latency_p99_ms = s->stage_latency_ms[0][1];
    }
    if (st->pl) {
        size_t n;
        double *p = ui_pipeline_proc_times(st->pl, &n);
        if (p && n)
            s->processing_p50_ms = tl_median(p, n);
        free(p);
        double m[3];
        ui_pipeline_stage_means(st->pl, m);
        s->imaging_ms = m[0];
        s->analysis_ms = m[1];
        s->needle_ms = m[2];
        s->skipped = ui_pipeline_skipped(st->pl);
        s->steered_frames = ui_pipeline_steered(st->pl);
        ui_pipeline_analysed(st->pl, &s->analysed_frames, &s->analysed_steered);
        s->drops = total_drops(st);
        s->startup_drops = st->drops_startup;
    }
#ifdef TL_UI_HAVE_DRIVER
    if (st->drv) {
        tl_driver_stats ds;
        tl_driver_stats_get(st->drv, &ds);
        s->disconnects = ds.disconnects;
        s->reconnects = ds.reconnects;
    }
#endif
    s->compose_ms = st->n_compose ? st->compose_ms_sum / st->n_compose : 0;
    s->injections_logged = st->injections_logged;
    s->injections_failed = st->injections_failed;
    s->findings_logged = st->findings_logged;
    s->session_id = st->session_id;
    s->snapshots = st->snapshots;
}

tl_status ui_write_summary(ui_station *st, const tl_station_summary *s)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/summary.json", st->cfg->out_dir);
    char *json = tl_station_summary_json(s);
    if (!json)
        return TL_ERR_NO_MEM;
    FILE *f = fopen(path, "w");
    tl_status r = TL_OK;
    if (!f || fputs(json, f) < 0 || fputc('\n', f) == EOF)
        r = tl_status_from_errno(errno);
    if (f && fclose(f) != 0 && r == TL_OK)
        r = tl_status_from_errno(errno);
    if (r != TL_OK)
        fprintf(stderr, "talus run: cannot write %s: %s\n", path, tl_strerror(r));
    free(json);
    return r;
}

