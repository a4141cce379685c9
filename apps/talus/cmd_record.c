/* talus record --sim PRESET --frames N -o FILE.mha
 *
 * Streams frames through the driver (the simulated probe on the emulated USB
 * bus with --sim, else a real probe) into a PLUS sequence; with --sim the
 * ground truth of every recorded frame goes to FILE.truth.json beside it. */
#include "commands.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_driver.h"
#include "tl_recording.h"
#include "tl_simusb.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: talus record [--sim PRESET] --frames N -o FILE.mha|FILE.mhd [options]\n"
            "  Records what the probe streams (through the driver) as a PLUS sequence.\n"
            "  --sim PRESET        the simulated probe (else the first real probe)\n"
            "  --probe SERIAL      the probe to open\n"
            "  --seed N            simulator seed (default 1)\n"
            "  --sim-param K=V     a simulator parameter (repeatable; see talus sim list)\n"
            "  --fps F             frame rate asked of the probe (default 30; 0 = fastest)\n"
            "  --lines L --samples S   frame size (default: the probe's)\n"
            "  --no-compress       raw pixel data instead of zlib\n"
            "  --json              print ONE JSON object (frames, drops, files)\n"
            "  With --sim, FILE.truth.json holds each recorded frame's ground truth.\n");
}

typedef struct {
    pthread_mutex_t mu;
    tl_recording_writer *w;
    tl_simusb *sim;
    cJSON *truths;
    uint32_t want, got;
    tl_status err;
    /* the writer is opened on the first frame, with that frame's geometry
     * (what the driver validated), so the file says exactly what came */
    const char *out;
    tl_recording_write_options wo;
    const tl_probe_identity *id;
    const char *preset;
    uint64_t seed;
} rec_ctx;

static tl_status open_writer(rec_ctx *c, const tl_frame *f)
{
    tl_status st = tl_recording_writer_open(c->out, &f->geom, f->type, &c->wo, &c->w);
    if (st != TL_OK)
        return st;
    tl_recording_writer_set_field(c->w, "ProbeSerial", c->id->serial);
    tl_recording_writer_set_field(c->w, "ProbeModel", c->id->model);
    tl_recording_writer_set_field(c->w, "ProbeFirmware", c->id->firmware);
    if (c->preset) {
        char sb[32];
        snprintf(sb, sizeof sb, "%llu", (unsigned long long)c->seed);
        tl_recording_writer_set_field(c->w, "TalusPreset", c->preset);
        tl_recording_writer_set_field(c->w, "TalusSeed", sb);
    }
    return TL_OK;
}

/* Delivery thread: the frame goes to the writer (zlib level 1 keeps up with
 * a 30 frames/s stream); its truth is fetched now, while the simulated probe
 * still keeps it. */
static void on_frame(const tl_frame *f, void *user)
{
    rec_ctx *c = user;
    pthread_mutex_lock(&c->mu);
    if (c->got < c->want && c->err == TL_OK) {
        if (!c->w)
            c->err = open_writer(c, f);
        if (c->err == TL_OK) {
            c->err = tl_recording_writer_add(c->w, f);
            if (c->err == TL_OK) {
                c->got++;
                tl_sim_truth t;
                char *j = NULL;
                if (c->sim && c->truths && tl_simusb_truth(c->sim, f->seq, &t) == TL_OK &&
                    tl_sim_truth_to_json(&t, &j) == TL_OK) {
                    cJSON *o = cJSON_Parse(j);
                    if (o) {
                        cJSON_AddNumberToObject(o, "seq", f->seq);
                        cJSON_AddItemToArray(c->truths, o);
                    }
                }
                free(j);
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
}

static int write_truth(const char *out, cJSON *root)
{
    char path[4096];
    size_t n = strlen(out);
    snprintf(path, sizeof path, "%.*s.truth.json", (int)(n - 4), out);
    char *text = cJSON_Print(root);
    FILE *f = fopen(path, "wb");
    int rc = 0;
    if (!text || !f || fputs(text, f) < 0)
        rc = 1;
    if (f && fclose(f) != 0)
        rc = 1;
    free(text);
    if (rc)
        fprintf(stderr, "talus record: cannot write %s\n", path);
    return rc;
}

int cmd_record(int argc, char **argv)
{
    const char *preset = NULL, *out = NULL, *serial = NULL;
    uint64_t seed = 1;
    long frames = 0;
    float fps = 30.0f;
    uint32_t lines = 0, samples = 0;
    bool compress = true, json = false;
    char params[256] = "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--no-compress") == 0) {
            compress = false;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (!v) {
            fprintf(stderr, "talus record: %s needs a value\n", a);
            return 2;
        } else if (strcmp(a, "--sim") == 0) {
            preset = argv[++i];
        } else if (strcmp(a, "--frames") == 0) {
            frames = strtol(argv[++i], NULL, 10);
        } else if (strcmp(a, "-o") == 0) {
            out = argv[++i];
        } else if (strcmp(a, "--probe") == 0) {
            serial = argv[++i];
        } else if (strcmp(a, "--seed") == 0) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(a, "--fps") == 0) {
            fps = strtof(argv[++i], NULL);
        } else if (strcmp(a, "--lines") == 0) {
            lines = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(a, "--samples") == 0) {
            samples = (uint32_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(a, "--sim-param") == 0) {
            size_t len = strlen(params);
            if (strchr(v, ',') || len + strlen(v) + 2 > sizeof params) {
                fprintf(stderr, "talus record: bad --sim-param '%s' (lists: spaces)\n", v);
                return 2;
            }
            snprintf(params + len, sizeof params - len, "%s%s", len ? "," : "", v);
            i++;
        } else {
            fprintf(stderr, "talus record: unknown option %s\n", a);
            return 2;
        }
    }
    size_t ol = out ? strlen(out) : 0;
    if (!out || frames < 1 || frames > 100000 || ol < 5 ||
        (strcmp(out + ol - 4, ".mha") != 0 && strcmp(out + ol - 4, ".mhd") != 0) ||
        !(fps >= 0.0f && fps <= 1000.0f)) {
        fprintf(stderr, "talus record: need --frames N (1..100000) and -o FILE.mha|.mhd\n");
        usage(stderr);
        return 2;
    }
    tl_simusb *sim = NULL;
    tl_status st;
    if (preset) {
        tl_simusb_config cfg = tl_simusb_config_default();
        cfg.preset = preset;
        cfg.seed = seed;
        cfg.sim_params = params[0] ? params : NULL;
        if (serial)
            cfg.serial = serial;
        cfg.lines = lines;
        cfg.samples = samples;
        cfg.fps = fps;
        /* The probe stops after N frames: it is then idle (not rendering)
         * when we unplug it, and at fps 0 nothing is dropped while the
         * writer catches up (the ring holds the burst). A frame lost on the
         * way leaves the recording short: kept, and said (exit 1). */
        cfg.max_frames = (uint64_t)frames;
        cfg.truth_keep = 256;
        if ((st = tl_simusb_start(&cfg, &sim)) != TL_OK) {
            fprintf(stderr, "talus record: cannot start the simulated probe: %s\n", tl_strerror(st));
            return 1;
        }
        serial = cfg.serial;
    }
    int rc = 1, rc_short = 0;
    tl_driver_options o = tl_driver_options_default();
    /* room for a whole burst (up to 256 frames) while the writer deflates */
    o.ring_slots = 64;
    while (o.ring_slots < 256 && o.ring_slots < (uint32_t)frames)
        o.ring_slots *= 2;
    tl_driver *d = NULL;
    rec_ctx c = { .sim = sim, .want = (uint32_t)frames };
    pthread_mutex_init(&c.mu, NULL);
    tl_probe_identity id;
    tl_probe_params p = tl_probe_params_default();
    if ((st = tl_driver_open(serial, &o, &d)) != TL_OK || (st = tl_driver_identify(d, &id)) != TL_OK) {
        fprintf(stderr, "talus record: cannot open the probe: %s\n", tl_strerror(st));
        goto done;
    }
    p.fps = fps;
    if (lines)
        p.lines = lines;
    if (samples)
        p.samples = samples;
    if ((st = tl_driver_set_params(d, &p)) != TL_OK || (st = tl_driver_get_params(d, &p)) != TL_OK) {
        fprintf(stderr, "talus record: the probe refused the parameters: %s\n", tl_strerror(st));
        goto done;
    }
    c.out = out;
    c.wo = tl_recording_write_options_default();
    c.wo.compress = compress;
    c.id = &id;
    c.preset = preset;
    c.seed = seed;
    cJSON *troot = NULL;
    if (preset) {
        troot = cJSON_CreateObject();
        cJSON_AddStringToObject(troot, "preset", preset);
        cJSON_AddNumberToObject(troot, "seed", (double)seed);
        cJSON_AddStringToObject(troot, "sim_params", params);
        c.truths = cJSON_AddArrayToObject(troot, "frames");
    }
    st = tl_driver_start(d, on_frame, &c);
    uint64_t t0 = tl_now_ns();
    double limit_s = 10.0 + (fps > 0 ? 3.0 * (double)frames / fps : 0.2 * (double)frames);
    uint32_t last_got = 0;
    uint64_t t_last = t0;
    bool short_stop = false;
    while (st == TL_OK) {
        pthread_mutex_lock(&c.mu);
        bool done = c.got >= c.want || c.err != TL_OK;
        uint32_t got = c.got;
        pthread_mutex_unlock(&c.mu);
        if (done)
            break;
        uint64_t now = tl_now_ns();
        if (got != last_got) {
            last_got = got;
            t_last = now;
        }
        tl_simusb_stats ss;
        if (sim)
            tl_simusb_stats_get(sim, &ss);
        /* the simulated probe sent all it will, and nothing came for 1 s */
        if (sim && ss.finished && now - t_last > 1000000000ull) {
            short_stop = true;
            break;
        }
        if ((double)(now - t0) / 1e9 > limit_s) {
            st = TL_ERR_TIMEOUT;
            break;
        }
        tl_sleep_ns(5000000);
    }
    if (sim)
        tl_simusb_wait_finished(sim, 5000);
    tl_driver_stop(d);
    tl_driver_stats ds;
    tl_driver_stats_get(d, &ds);
    if (st == TL_OK)
        st = c.err;
    if (st == TL_OK && short_stop && c.w) {
        /* keep what came: a valid, shorter sequence, and say so */
        fprintf(stderr, "talus record: the probe stopped after %u of %ld frames reached us "
                "(driver: %llu dropped); keeping those\n", c.got, frames,
                (unsigned long long)ds.frames_dropped);
        rc_short = 1;
    } else if (st == TL_OK && short_stop) {
        st = TL_ERR_TIMEOUT;
    }
    if (st != TL_OK) {
        fprintf(stderr, "talus record: recorded %u of %ld frames: %s (driver: %llu received, "
                "%llu dropped, %llu CRC errors, %llu bad headers)\n", c.got, frames, tl_strerror(st),
                (unsigned long long)ds.frames_received, (unsigned long long)ds.frames_dropped,
                (unsigned long long)ds.crc_errors, (unsigned long long)ds.bad_headers);
        tl_recording_writer_abort(c.w);
        cJSON_Delete(troot);
        goto done;
    }
    st = tl_recording_writer_close(c.w);
    if (st != TL_OK) {
        fprintf(stderr, "talus record: cannot write %s: %s\n", out, tl_strerror(st));
        cJSON_Delete(troot);
        goto done;
    }
    rc = troot ? write_truth(out, troot) : 0;
    if (rc == 0)
        rc = rc_short;
    cJSON_Delete(troot);
    if (json) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "file", out);
        cJSON_AddNumberToObject(r, "frames", c.got);
        cJSON_AddNumberToObject(r, "frames_requested", (double)frames);
        cJSON_AddStringToObject(r, "image_type", tl_image_type_name(p.output));
        cJSON_AddNumberToObject(r, "lines", p.lines);
        cJSON_AddNumberToObject(r, "samples", p.samples);
        cJSON_AddNumberToObject(r, "frames_received", (double)ds.frames_received);
        cJSON_AddNumberToObject(r, "frames_dropped", (double)ds.frames_dropped);
        cJSON_AddNumberToObject(r, "crc_errors", (double)ds.crc_errors);
        cJSON_AddStringToObject(r, "probe_serial", id.serial);
        if (preset) {
            char tp[4096];
            snprintf(tp, sizeof tp, "%.*s.truth.json", (int)(ol - 4), out);
            cJSON_AddStringToObject(r, "truth", tp);
        }
        char *text = cJSON_Print(r);
        if (text)
            puts(text);
        free(text);
        cJSON_Delete(r);
    } else {
        fprintf(stderr, "talus record: %u frames -> %s (dropped %llu)\n", c.got, out,
                (unsigned long long)ds.frames_dropped);
    }
done:
    tl_driver_close(d);
    tl_simusb_stop(sim);
    pthread_mutex_destroy(&c.mu);
    return rc;
}
