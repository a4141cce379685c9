/* talus stream: stream frames through the driver and count every loss.
 *
 * With --sim the simulated probe (hw-sim/usb) is put on the emulated bus
 * first; either way frames come through the same libusb driver a real probe
 * uses. Prints ONE JSON object (--json) or a short summary. */
#include "commands.h"
#include "tl_driver.h"
#include "tl_simusb.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: talus stream [--sim PRESET] [--serial S] [--frames N | --seconds S] [--fps F]\n"
            "                    [--lines L --samples S] [--fault KIND[,KIND...]] [--fault-every N]\n"
            "                    [--seed N] [--cycle N] [--transfers N] [--transfer-kib K] [--ring N]\n"
            "                    [--json]\n\n"
            "Stream frames from a probe through the libusb driver and count every loss.\n\n"
            "  --sim PRESET     put the simulated probe on an emulated USB bus (umockdev) first\n"
            "                   (presets: talus sim list); without it, the first real probe\n"
            "  --serial S       open the probe with this serial\n"
            "  --frames N       stream N frames (with --sim: the probe sends exactly N); default 300\n"
            "  --seconds S      stream for S seconds instead\n"
            "  --fps F          frame rate; 0 = as fast as possible (default 30)\n"
            "  --lines L        scan lines per frame; --samples S samples per line\n"
            "  --fault LIST     simulated probe faults, injected in turn every --fault-every frames\n"
            "                   (default 40): drop, corrupt, truncate, garbage, stall, late,\n"
            "                   disconnect (unplug, replug ~1 s later), or all\n"
            "  --seed N         simulator seed (default 1)\n"
            "  --cycle N        simulated probe pre-renders N frames and cycles them (default 8 at\n"
            "                   --fps 0, else 0 = render every frame)\n"
            "  --transfers N    bulk transfers in flight (default 8); --transfer-kib K their size\n"
            "  --ring N         frames buffered for the consumer (power of two, default 8)\n"
            "  --json           print one JSON object on stdout\n\n"
            "JSON fields: frames_sent, frames_received, frames_dropped, crc_errors, seq_gaps,\n"
            "bad_headers, truncated, late_frames, stalls, ring_drops, disconnects, reconnects,\n"
            "mb_per_s (payload, first to last frame), cpu_percent (process CPU / wall while\n"
            "streaming, simulator included; 100 = one core), latency_ms {p50, p99, max}\n"
            "(device timestamp -> delivered to the consumer; the simulated probe's clock is the\n"
            "host's monotonic clock).\n");
}

typedef struct {
    pthread_mutex_t mu;
    double *lat_ms;
    size_t n, cap;
    uint64_t first_ns, last_ns;
    uint64_t payload_bytes;      /* after the first frame */
    uint64_t frames;
    bool same_clock;
} stream_ctx;

static void on_frame(const tl_frame *f, void *user)
{
    stream_ctx *c = user;
    uint64_t now = tl_now_ns();
    pthread_mutex_lock(&c->mu);
    if (c->frames == 0)
        c->first_ns = f->t_received_ns;
    else
        c->payload_bytes += f->data_bytes;
    c->last_ns = f->t_received_ns;
    c->frames++;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        double *p = realloc(c->lat_ms, cap * sizeof *p);
        if (p) {
            c->lat_ms = p;
            c->cap = cap;
        }
    }
    if (c->n < c->cap)
        c->lat_ms[c->n++] = ((double)now / 1000.0 - (double)f->t_device_us) / 1000.0;
    pthread_mutex_unlock(&c->mu);
}

static void on_event(const tl_probe_event *e, void *user)
{
    (void)user;
    fprintf(stderr, "talus stream: event %s (%u)\n", tl_event_name(e->kind), e->value);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static bool parse_u(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_f(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

int cmd_stream(int argc, char **argv)
{
    const char *preset = NULL, *serial = NULL, *fault_list = NULL;
    unsigned long frames = 0, lines = 0, samples = 0, seed = 1, fault_every = 40;
    unsigned long transfers = 8, transfer_kib = 256, ring = 8, cycle = 0;
    bool have_cycle = false;
    double seconds = 0, fps = 30;
    bool json = false, have_frames = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = true;
            continue;
        } else if (!strncmp(a, "--sim=", 6)) {
            preset = a + 6;
            continue;
        }
        if (!v) {
            fprintf(stderr, "talus stream: %s needs a value (see --help)\n", a);
            return 2;
        }
        unsigned long u;
        if (!strcmp(a, "--sim"))
            preset = v;
        else if (!strcmp(a, "--serial"))
            serial = v;
        else if (!strcmp(a, "--frames"))
            ok = parse_u(v, 100000000ul, &frames) && frames > 0, have_frames = true;
        else if (!strcmp(a, "--seconds"))
            ok = parse_f(v, 0.001, 86400, &seconds);
        else if (!strcmp(a, "--fps"))
            ok = parse_f(v, 0, 1000, &fps);
        else if (!strcmp(a, "--lines"))
            ok = parse_u(v, 512, &lines) && lines > 0;
        else if (!strcmp(a, "--samples"))
            ok = parse_u(v, 8192, &samples) && samples >= 64;
        else if (!strcmp(a, "--fault"))
            fault_list = v;
        else if (!strcmp(a, "--fault-every"))
            ok = parse_u(v, 1000000, &fault_every) && fault_every >= 2;
        else if (!strcmp(a, "--seed"))
            ok = parse_u(v, ~0ul, &seed);
        else if (!strcmp(a, "--transfers"))
            ok = parse_u(v, 64, &transfers) && transfers > 0;
        else if (!strcmp(a, "--transfer-kib"))
            ok = parse_u(v, 16384, &transfer_kib) && transfer_kib > 0;
        else if (!strcmp(a, "--cycle"))
            ok = parse_u(v, 64, &cycle), have_cycle = true;
        else if (!strcmp(a, "--ring"))
            ok = parse_u(v, 1024, &ring) && ring >= 2 && (ring & (ring - 1)) == 0;
        else {
            fprintf(stderr, "talus stream: unknown option %s (see --help)\n", a);
            return 2;
        }
        (void)u;
        if (!ok) {
            fprintf(stderr, "talus stream: bad value '%s' for %s (see --help)\n", v, a);
            return 2;
        }
        i++;
    }
    if (have_frames && seconds > 0) {
        fprintf(stderr, "talus stream: give --frames or --seconds, not both\n");
        return 2;
    }
    if (!have_frames && seconds <= 0)
        frames = 300;
    uint32_t faults = 0;
    if (fault_list) {
        const char *bad = NULL;
        if (tl_fault_parse(fault_list, &faults, &bad) != TL_OK) {
            fprintf(stderr, "talus stream: unknown fault '%s' (drop, corrupt, truncate, garbage, stall, late, "
                            "disconnect, all)\n", bad ? bad : fault_list);
            return 2;
        }
        if (!preset) {
            fprintf(stderr, "talus stream: --fault needs --sim (a real probe is not told to misbehave)\n");
            return 2;
        }
    }

    tl_simusb *sim = NULL;
    tl_status st;
    if (preset) {
        tl_simusb_config cfg = tl_simusb_config_default();
        cfg.preset = preset;
        cfg.seed = seed;
        cfg.serial = serial ? serial : cfg.serial;
        cfg.lines = (uint32_t)lines;
        cfg.samples = (uint32_t)samples;
        cfg.fps = (float)fps;
        cfg.faults = faults;
        cfg.fault_every = (uint32_t)fault_every;
        cfg.max_frames = frames;
        /* As fast as possible measures the bus and the driver: the probe
         * cycles pre-rendered frames instead of rendering each one. */
        cfg.cycle_frames = have_cycle ? (uint32_t)cycle : fps == 0 ? 8 : 0;
        cfg.truth_keep = 0;
        st = tl_simusb_start(&cfg, &sim);
        if (st != TL_OK) {
            fprintf(stderr, "talus stream: cannot start the simulated probe '%s': %s\n", preset, tl_strerror(st));
            return 1;
        }
    }

    tl_driver_options o = tl_driver_options_default();
    o.transfers = (uint32_t)transfers;
    o.transfer_bytes = (uint32_t)transfer_kib * 1024u;
    o.ring_slots = (uint32_t)ring;
    tl_driver *d = NULL;
    st = tl_driver_open(serial, &o, &d);
    if (st != TL_OK) {
        fprintf(stderr, "talus stream: cannot open the probe%s%s: %s\n", serial ? " " : "", serial ? serial : "",
                tl_strerror(st));
        tl_simusb_stop(sim);
        return 1;
    }
    tl_probe_params p;
    if ((st = tl_driver_get_params(d, &p)) == TL_OK) {
        p.fps = (float)fps;
        if (lines)
            p.lines = (uint32_t)lines;
        if (samples)
            p.samples = (uint32_t)samples;
        st = tl_driver_set_params(d, &p);
    }
    if (st != TL_OK) {
        fprintf(stderr, "talus stream: the probe refused the parameters: %s\n", tl_strerror(st));
        tl_driver_close(d);
        tl_simusb_stop(sim);
        return 1;
    }

    stream_ctx c;
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.mu, NULL);
    tl_driver_set_event_callback(d, on_event, NULL);
    fprintf(stderr, "talus stream: %u x %u at %g frames/s%s\n", p.lines, p.samples, fps, fps == 0 ? " (as fast as possible)" : "");
    uint64_t t0 = tl_now_ns();
    st = tl_driver_start(d, on_frame, &c);
    if (st != TL_OK) {
        fprintf(stderr, "talus stream: cannot start streaming: %s\n", tl_strerror(st));
        tl_driver_close(d);
        tl_simusb_stop(sim);
        return 1;
    }
    /* CPU is measured from the first frame on: set-up (scene building,
     * pre-rendering) is not streaming. */
    double cpu0 = -1;
    uint64_t cpu_t0 = 0;
    uint64_t deadline = seconds > 0 ? t0 + (uint64_t)(seconds * 1e9) : 0;
    uint64_t idle_since = tl_now_ns(), last_count = 0;
    for (;;) {
        tl_sleep_ns(2000000);
        uint64_t now = tl_now_ns();
        tl_driver_stats s;
        tl_driver_stats_get(d, &s);
        if (cpu0 < 0 && s.frames_received > 0) {
            cpu0 = cpu_seconds();
            cpu_t0 = now;
        }
        uint64_t accounted = s.frames_received + s.frames_dropped;
        if (accounted != last_count) {
            last_count = accounted;
            idle_since = now;
        }
        if (deadline && now >= deadline)
            break;
        if (!deadline && sim) {
            tl_simusb_stats ss;
            tl_simusb_stats_get(sim, &ss);
            /* done when every frame the probe made is accounted for, or
             * nothing moved for a while after it finished */
            if (ss.finished && (accounted >= ss.frames_sent || now - idle_since > 500000000ull))
                break;
        } else if (!deadline && s.frames_received >= frames) {
            break;
        }
        if (now - idle_since > 15000000000ull) {
            fprintf(stderr, "talus stream: no frames for 15 s, giving up\n");
            break;
        }
    }
    double cpu1 = cpu_seconds();
    uint64_t t1 = tl_now_ns();
    tl_driver_stop(d);
    tl_driver_stats s;
    tl_driver_stats_get(d, &s);
    uint64_t frames_sent = 0;
    tl_simusb_stats ss;
    memset(&ss, 0, sizeof ss);
    if (sim) {
        tl_simusb_stats_get(sim, &ss);
        frames_sent = ss.frames_sent;
    } else {
        tl_probe_status ps;
        if (tl_driver_status(d, &ps) == TL_OK)
            frames_sent = ps.frames_sent;
    }
    tl_driver_close(d);
    tl_simusb_stop(sim);

    double span_s = c.frames > 1 ? (double)(c.last_ns - c.first_ns) / 1e9 : 0;
    double mb_s = span_s > 0 ? (double)c.payload_bytes / 1e6 / span_s : 0;
    double cpu_pct = cpu0 >= 0 && t1 > cpu_t0 ? 100.0 * (cpu1 - cpu0) / ((double)(t1 - cpu_t0) / 1e9) : 0;
    double p50 = tl_percentile(c.lat_ms, c.n, 50), p99 = tl_percentile(c.lat_ms, c.n, 99),
           pmax = tl_percentile(c.lat_ms, c.n, 100);

    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "probe", preset ? "sim" : "usb");
        if (preset)
            cJSON_AddStringToObject(o, "preset", preset);
        cJSON_AddNumberToObject(o, "seed", (double)seed);
        cJSON_AddNumberToObject(o, "lines", p.lines);
        cJSON_AddNumberToObject(o, "samples", p.samples);
        cJSON_AddNumberToObject(o, "fps", fps);
        cJSON_AddNumberToObject(o, "frames_sent", (double)frames_sent);
        cJSON_AddNumberToObject(o, "frames_received", (double)s.frames_received);
        cJSON_AddNumberToObject(o, "frames_delivered", (double)s.frames_delivered);
        cJSON_AddNumberToObject(o, "frames_dropped", (double)s.frames_dropped);
        cJSON_AddNumberToObject(o, "crc_errors", (double)s.crc_errors);
        cJSON_AddNumberToObject(o, "seq_gaps", (double)s.seq_gaps);
        cJSON_AddNumberToObject(o, "frames_missing", (double)s.frames_missing);
        cJSON_AddNumberToObject(o, "bad_headers", (double)s.bad_headers);
        cJSON_AddNumberToObject(o, "truncated", (double)s.truncated);
        cJSON_AddNumberToObject(o, "oversize", (double)s.oversize);
        cJSON_AddNumberToObject(o, "late_frames", (double)s.late_frames);
        cJSON_AddNumberToObject(o, "stalls", (double)s.stalls);
        cJSON_AddNumberToObject(o, "transfer_errors", (double)s.transfer_errors);
        cJSON_AddNumberToObject(o, "ring_drops", (double)s.ring_drops);
        cJSON_AddNumberToObject(o, "disconnects", (double)s.disconnects);
        cJSON_AddNumberToObject(o, "reconnects", (double)s.reconnects);
        cJSON_AddNumberToObject(o, "events", (double)s.events);
        if (sim) {
            cJSON *fi = cJSON_AddObjectToObject(o, "faults_injected");
            for (int b = 0; b < 7; b++)
                cJSON_AddNumberToObject(fi, tl_fault_name((tl_fault_kind)(1u << b)), (double)ss.faults[b]);
            cJSON_AddNumberToObject(o, "probe_overruns", (double)ss.overruns);
        }
        cJSON_AddNumberToObject(o, "bytes_received", (double)s.bytes_received);
        cJSON_AddNumberToObject(o, "mb_per_s", round(mb_s * 10) / 10);
        cJSON_AddNumberToObject(o, "cpu_percent", round(cpu_pct * 10) / 10);
        cJSON *lat = cJSON_AddObjectToObject(o, "latency_ms");
        cJSON_AddNumberToObject(lat, "p50", isnan(p50) ? 0 : round(p50 * 1000) / 1000);
        cJSON_AddNumberToObject(lat, "p99", isnan(p99) ? 0 : round(p99 * 1000) / 1000);
        cJSON_AddNumberToObject(lat, "max", isnan(pmax) ? 0 : round(pmax * 1000) / 1000);
        cJSON_AddNumberToObject(o, "wall_s", round((double)(t1 - t0) / 1e6) / 1000);
        char *txt = cJSON_Print(o);
        printf("%s\n", txt);
        free(txt);
        cJSON_Delete(o);
    } else {
        printf("frames sent %llu, received %llu, dropped %llu (crc %llu, gaps %llu, bad headers %llu, "
               "truncated %llu, late %llu, ring %llu), reconnects %llu\n",
               (unsigned long long)frames_sent, (unsigned long long)s.frames_received,
               (unsigned long long)s.frames_dropped, (unsigned long long)s.crc_errors,
               (unsigned long long)s.seq_gaps, (unsigned long long)s.bad_headers,
               (unsigned long long)s.truncated, (unsigned long long)s.late_frames,
               (unsigned long long)s.ring_drops, (unsigned long long)s.reconnects);
        printf("%.1f MB/s, CPU %.1f %%, latency p50 %.2f ms p99 %.2f ms\n", mb_s, cpu_pct, p50, p99);
    }
    free(c.lat_ms);
    pthread_mutex_destroy(&c.mu);
    return 0;
}
