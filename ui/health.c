/* Display rules the operator relies on (what is red, what is amber), kept as
 * pure functions so tests can pin them, and the run summary as JSON. */
#include "tl_ui.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

tl_level tl_ui_thickness_level(float thickness_mm, float limit_mm)
{
    if (!isfinite(thickness_mm) || thickness_mm <= 0 || !isfinite(limit_mm) || limit_mm <= 0)
        return TL_LEVEL_UNKNOWN;
    if (thickness_mm > limit_mm)
        return TL_LEVEL_ABNORMAL;
    if (thickness_mm > 0.9f * limit_mm)
        return TL_LEVEL_BORDER;
    return TL_LEVEL_OK;
}

unsigned tl_ui_trouble(const tl_ui_health *h, const char **message)
{
    unsigned t = 0;
    const char *msg = NULL;
    /* Most urgent first: the message shown is the first that applies. */
    if (!h->probe_connected) {
        t |= TL_UI_TROUBLE_NO_PROBE;
        msg = h->probe_reconnecting ? "PROBE UNPLUGGED - waiting for it" : "NO PROBE";
    }
    double period = h->expected_period_ms > 0 ? h->expected_period_ms : 33.3;
    /* Stale: no new image for 5 frame periods (and at least 250 ms). */
    if (h->probe_connected && h->frame_age_ms > fmax(5 * period, 250.0)) {
        t |= TL_UI_TROUBLE_STALE;
        if (!msg)
            msg = "IMAGE STALE - not live";
    }
    if (h->log_error) {
        t |= TL_UI_TROUBLE_LOG;
        if (!msg)
            msg = "INJECTION LOG ERROR";
    }
    if (h->calibration == TL_UI_CAL_MISSING || h->calibration == TL_UI_CAL_EXPIRED ||
        h->calibration == TL_UI_CAL_MISMATCH) {
        t |= TL_UI_TROUBLE_CALIBRATION;
        if (!msg)
            msg = h->calibration == TL_UI_CAL_MISSING   ? "CALIBRATION MISSING"
                  : h->calibration == TL_UI_CAL_EXPIRED ? "CALIBRATION EXPIRED"
                                                        : "CALIBRATION OF ANOTHER PROBE";
    }
    if (h->drops_recent > 0) {
        t |= TL_UI_TROUBLE_DROPS;
        if (!msg)
            msg = "FRAMES DROPPED";
    }
    if (message)
        *message = msg;
    return t;
}

char *tl_station_summary_json(const tl_station_summary *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "frames", (double)s->frames);
    cJSON_AddNumberToObject(o, "frames_received", (double)s->frames_received);
    cJSON_AddNumberToObject(o, "fps", round(s->fps * 100) / 100);
    cJSON *lat = cJSON_AddObjectToObject(o, "latency_ms");
    cJSON_AddNumberToObject(lat, "p50", round(s->latency_p50_ms * 100) / 100);
    cJSON_AddNumberToObject(lat, "p99", round(s->latency_p99_ms * 100) / 100);
    cJSON_AddNumberToObject(lat, "max", round(s->latency_max_ms * 100) / 100);
    static const char *const parts[] = { "usb", "processing", "display" };
    for (int k = 1; k < 4; k++) {
        cJSON *part = cJSON_AddObjectToObject(lat, parts[k - 1]);
        cJSON_AddNumberToObject(part, "p50", round(s->stage_latency_ms[k][0] * 100) / 100);
        cJSON_AddNumberToObject(part, "p99", round(s->stage_latency_ms[k][1] * 100) / 100);
    }
    cJSON_AddNumberToObject(o, "processing_p50_ms", round(s->processing_p50_ms * 100) / 100);
    cJSON *stg = cJSON_AddObjectToObject(o, "stage_mean_ms");
    cJSON_AddNumberToObject(stg, "imaging", round(s->imaging_ms * 100) / 100);
    cJSON_AddNumberToObject(stg, "analysis", round(s->analysis_ms * 100) / 100);
    cJSON_AddNumberToObject(stg, "needle", round(s->needle_ms * 100) / 100);
    cJSON_AddNumberToObject(stg, "compose", round(s->compose_ms * 100) / 100);
    cJSON_AddNumberToObject(o, "drops", (double)s->drops);
    cJSON_AddNumberToObject(o, "skipped", (double)s->skipped);
    cJSON_AddNumberToObject(o, "steered_frames", (double)s->steered_frames);
    cJSON_AddNumberToObject(o, "steer_deg", (double)s->steer_deg);
    cJSON_AddNumberToObject(o, "analysed_frames", (double)s->analysed_frames);
    cJSON_AddNumberToObject(o, "analysed_steered", (double)s->analysed_steered);
    cJSON_AddNumberToObject(o, "startup_drops", (double)s->startup_drops);
    cJSON_AddNumberToObject(o, "disconnects", (double)s->disconnects);
    cJSON_AddNumberToObject(o, "reconnects", (double)s->reconnects);
    cJSON_AddNumberToObject(o, "injections_logged", s->injections_logged);
    cJSON_AddNumberToObject(o, "injections_failed", s->injections_failed);
    cJSON_AddNumberToObject(o, "findings_logged", s->findings_logged);
    cJSON_AddNumberToObject(o, "session_id", (double)s->session_id);
    cJSON_AddStringToObject(o, "db", s->db);
    cJSON_AddNumberToObject(o, "snapshots", s->snapshots);
    if (s->error[0])
        cJSON_AddStringToObject(o, "error", s->error);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}
