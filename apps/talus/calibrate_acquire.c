/* Frames for `talus calibrate`: through the driver, from the simulated probe
 * on the emulated USB bus (--sim: the process is talus-sim) or a real one. */
#include "calibrate.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_simusb.h"

typedef struct {
    pthread_mutex_t mu;
    cal_frames *out;
    uint32_t want;
    uint32_t first_seq, last_seq;
    size_t frame_bytes;
    uint32_t bad;
} collect_ctx;

/* Runs on the driver's delivery thread: copy what we need, nothing more. */
static void on_frame(const tl_frame *f, void *user)
{
    collect_ctx *c = user;
    pthread_mutex_lock(&c->mu);
    if (c->out->n < c->want) {
        if (f->type != TL_IMAGE_RF_REAL || f->data_bytes != c->frame_bytes ||
            f->geom.lines != c->out->geom.lines || f->geom.samples != c->out->geom.samples) {
            c->bad++;
        } else {
            if (c->out->n == 0) {
                c->first_seq = f->seq;
                c->out->geom = f->geom;
            }
            c->last_seq = f->seq;
            memcpy(c->out->rf[c->out->n], f->data, c->frame_bytes);
            c->out->n++;
        }
    }
    pthread_mutex_unlock(&c->mu);
}

void cal_frames_free(cal_frames *f)
{
    if (!f)
        return;
    /* rf is NULL-terminated (one spare slot) */
    for (uint32_t i = 0; f->rf && f->rf[i]; i++)
        free(f->rf[i]);
    free(f->rf);
    free(f->truth);
    memset(f, 0, sizeof *f);
}

int cal_acquire(const cal_source *src, cal_frames *out)
{
    memset(out, 0, sizeof *out);
    if (src->frames == 0 || src->frames > 256) {
        fprintf(stderr, "talus calibrate: --frames must be 1..256\n");
        return 1;
    }
    tl_simusb *sim = NULL;
    tl_status st;
    const char *serial = src->serial;
    if (src->preset) {
        tl_simusb_config cfg = tl_simusb_config_default();
        cfg.preset = src->preset;
        cfg.seed = src->seed;
        cfg.sim_params = src->sim_params[0] ? src->sim_params : NULL;
        if (serial)
            cfg.serial = serial;
        cfg.fps = 0;
        cfg.truth_keep = 64;
        /* The probe stops by itself after our frames, so it is idle (not
         * rendering) when we unplug it; the ring below holds them all. */
        cfg.max_frames = src->frames;
        st = tl_simusb_start(&cfg, &sim);
        if (st != TL_OK) {
            fprintf(stderr, "talus calibrate: cannot start the simulated probe (%s, %s): %s\n",
                    src->preset, src->sim_params, tl_strerror(st));
            return 1;
        }
        serial = cfg.serial;
    }
    tl_driver_options o = tl_driver_options_default();
    o.ring_slots = 16;
    while (o.ring_slots < 256 && o.ring_slots < src->frames)
        o.ring_slots *= 2;
    o.reconnect = false;
    tl_driver *d = NULL;
    int rc = 1;
    st = tl_driver_open(serial, &o, &d);
    if (st != TL_OK) {
        fprintf(stderr, "talus calibrate: cannot open probe %s: %s\n", serial ? serial : "(first)",
                tl_strerror(st));
        goto done;
    }
    st = tl_driver_identify(d, &out->id);
    tl_probe_params p = tl_probe_params_default();
    p.output = TL_IMAGE_RF_REAL;
    p.fps = 0;   /* as fast as the probe goes: a calibration is a few frames */
    if (src->set_tgc)
        memcpy(p.tgc_db, src->tgc_db, sizeof p.tgc_db);
    if (st == TL_OK)
        st = tl_driver_set_params(d, &p);
    if (st == TL_OK)
        st = tl_driver_get_params(d, &p);
    if (st != TL_OK) {
        fprintf(stderr, "talus calibrate: probe set-up failed: %s\n", tl_strerror(st));
        goto done;
    }
    out->geom.lines = p.lines;
    out->geom.samples = p.samples;
    out->rf = calloc(src->frames + 1, sizeof *out->rf);
    size_t bytes = (size_t)p.lines * p.samples * sizeof(int16_t);
    for (uint32_t i = 0; out->rf && i < src->frames; i++)
        if (!(out->rf[i] = malloc(bytes))) {
            free(out->rf[i]);
            out->rf[i] = NULL;
            break;
        }
    if (!out->rf || !out->rf[src->frames - 1]) {
        fprintf(stderr, "talus calibrate: out of memory\n");
        goto done;
    }
    collect_ctx c = { .out = out, .want = src->frames, .frame_bytes = bytes };
    pthread_mutex_init(&c.mu, NULL);
    st = tl_driver_start(d, on_frame, &c);
    uint64_t t0 = tl_now_ns(), t_last = t0;
    uint32_t last_n = 0;
    while (st == TL_OK) {
        pthread_mutex_lock(&c.mu);
        uint32_t n = out->n;
        pthread_mutex_unlock(&c.mu);
        if (n >= src->frames)
            break;
        uint64_t now = tl_now_ns();
        if (n != last_n) {
            last_n = n;
            t_last = now;
        }
        tl_simusb_stats ss;
        if (sim)
            tl_simusb_stats_get(sim, &ss);
        /* the simulated probe sent all it will and nothing came for 1 s, or
         * nothing at all for 30 s */
        if ((sim && ss.finished && now - t_last > 1000000000ull) ||
            now - t0 > 30ull * 1000000000ull) {
            st = TL_ERR_TIMEOUT;
            break;
        }
        tl_sleep_ns(2000000);
    }
    if (sim)
        tl_simusb_wait_finished(sim, 5000);
    tl_status st2 = tl_driver_stop(d);
    if (st == TL_OK)
        st = st2;
    pthread_mutex_destroy(&c.mu);
    if (st != TL_OK || out->n < src->frames) {
        fprintf(stderr, "talus calibrate: got %u of %u frames: %s\n", out->n, src->frames,
                tl_strerror(st != TL_OK ? st : TL_ERR_TIMEOUT));
        goto done;
    }
    if (c.bad)
        fprintf(stderr, "talus calibrate: %u frames of an unexpected format ignored\n", c.bad);
    /* the frames' own geometry (from the driver) is what calibration uses */
    if (sim) {
        out->truth = malloc(sizeof *out->truth);
        /* the phantoms are static: any kept frame's truth describes them */
        if (out->truth && (tl_simusb_truth(sim, c.last_seq, out->truth) == TL_OK ||
                           tl_simusb_truth(sim, c.first_seq, out->truth) == TL_OK))
            out->have_truth = true;
    }
    rc = 0;
done:
    tl_driver_close(d);
    tl_simusb_stop(sim);
    if (rc != 0)
        cal_frames_free(out);
    return rc;
}

/* Envelope of every frame, handed to fn. */
int cal_each_envelope(const cal_frames *f, uint32_t from, uint32_t to,
                         tl_status (*fn)(void *, const float *), void *acc)
{
    size_t n = (size_t)f->geom.lines * f->geom.samples;
    float *env = malloc(n * sizeof *env);
    if (!env)
        return 1;
    for (uint32_t i = from; i < to; i++) {
        tl_frame fr = { .geom = f->geom, .type = TL_IMAGE_RF_REAL, .data = f->rf[i],
                        .data_bytes = n * sizeof(int16_t) };
        tl_status st = tl_cal_envelope(&fr, env);
        if (st == TL_OK)
            st = fn(acc, env);
        if (st != TL_OK) {
            fprintf(stderr, "talus calibrate: frame %u: %s\n", i, tl_strerror(st));
            free(env);
            return 1;
        }
    }
    free(env);
    return 0;
}

/* Phantom wires from a JSON file ({"wires":[{"x_mm":..,"z_mm":..},..]}). */
int cal_load_phantom(const char *path, float *wx, float *wz, uint32_t *n)
{
    FILE *fp = fopen(path, "rb");
    char *text = fp ? malloc(1 << 20) : NULL;
    size_t len = text ? fread(text, 1, (1 << 20) - 1, fp) : 0;
    if (fp)
        fclose(fp);
    if (!text) {
        fprintf(stderr, "talus calibrate: cannot read %s\n", path);
        return 1;
    }
    text[len] = '\0';
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *ws = cJSON_GetObjectItemCaseSensitive(root, "wires"), *w;
    *n = 0;
    cJSON_ArrayForEach(w, ws) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(w, "x_mm");
        const cJSON *z = cJSON_GetObjectItemCaseSensitive(w, "z_mm");
        if (!cJSON_IsNumber(x) || !cJSON_IsNumber(z) || *n >= TL_CAL_MAX_WIRES)
            break;
        wx[*n] = (float)x->valuedouble;
        wz[*n] = (float)z->valuedouble;
        (*n)++;
    }
    cJSON_Delete(root);
    if (*n < 4) {
        fprintf(stderr, "talus calibrate: %s: need at least 4 wires {x_mm, z_mm}\n", path);
        return 1;
    }
    return 0;
}
