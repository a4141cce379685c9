/* talus bench usb: the emulated bus + driver, measured by `talus stream`
 * runs (each its own process, so cpu_percent is that run's alone), against
 * a reference in the same run: one memcpy + zlib crc32 of the same frames,
 * the least work any host must do per byte. */
#include "commands.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "tl_core.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: talus bench usb --sim PRESET [--seconds S] [--json]\n\n"
            "Streams the simulated probe through the emulated USB bus and the driver:\n"
            "  full_rate     256 x 4096 frames as fast as possible (300 frames): MB/s, loss\n"
            "  full_rate_small 128 x 2048 as fast as possible (600 frames)\n"
            "  idle_30fps    128 x 2048 at 30 frames/s for S seconds (default 5): CPU, latency\n"
            "  idle_30fps_prerendered  the same with 8 pre-rendered frames cycled: the CPU of\n"
            "                the bus, the firmware model and the driver without the renderer\n"
            "and a reference measured in the same run: memcpy + crc32 of 2 MiB frames\n"
            "(single thread), with the ratio bus / reference.\n");
}

static cJSON *run_stream(const char *self, const char *preset, const char *args)
{
    char cmd[PATH_MAX + 512];
    snprintf(cmd, sizeof cmd, "'%s' stream --sim '%s' %s --json", self, preset, args);
    fprintf(stderr, "talus bench usb: %s\n", cmd);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - 1 - n, p)) > 0) {
        n += r;
        if (n + 1 == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b)
                break;
            buf = b;
            cap *= 2;
        }
    }
    int rc = pclose(p);
    cJSON *o = NULL;
    if (buf) {
        buf[n] = '\0';
        o = rc == 0 ? cJSON_Parse(buf) : NULL;
    }
    free(buf);
    return o;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* memcpy + crc32 of 2 MiB frames: MB/s. */
static double reference_mb_s(void)
{
    const size_t bytes = 256u * 4096u * 2u;
    uint8_t *a = malloc(bytes), *b = malloc(bytes);
    if (!a || !b) {
        free(a);
        free(b);
        return 0;
    }
    tl_rng rng;
    tl_rng_seed(&rng, 1);
    for (size_t i = 0; i < bytes; i++)
        a[i] = (uint8_t)tl_rng_next(&rng);
    uLong crc = 0;
    uint64_t t0 = tl_now_ns();
    int reps = 0;
    while (tl_now_ns() - t0 < 500000000ull) {
        memcpy(b, a, bytes);
        crc ^= crc32(0L, b, (uInt)bytes);
        reps++;
    }
    double s = (double)(tl_now_ns() - t0) / 1e9;
    free(a);
    free(b);
    return crc == 1 ? 0 : (double)bytes * reps / 1e6 / s;
}

int bench_usb(int argc, char **argv)
{
    const char *preset = NULL;
    double seconds = 5;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--sim") && i + 1 < argc) {
            preset = argv[++i];
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
            if (!(seconds >= 1 && seconds <= 600)) {
                fprintf(stderr, "talus bench usb: --seconds between 1 and 600\n");
                return 2;
            }
        } else {
            fprintf(stderr, "talus bench usb: unknown or incomplete option '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (!preset) {
        fprintf(stderr, "talus bench usb: give --sim PRESET (the bench streams the simulated probe)\n");
        return 2;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "talus bench usb: cannot locate myself\n");
        return 1;
    }
    self[n] = '\0';

    char idle_args[96], bus_args[96];
    snprintf(idle_args, sizeof idle_args, "--fps 30 --lines 128 --samples 2048 --seconds %g", seconds);
    snprintf(bus_args, sizeof bus_args, "--fps 30 --lines 128 --samples 2048 --seconds %g --cycle 8", seconds);
    struct {
        const char *name, *args;
        cJSON *res;
    } runs[] = {
        { "full_rate", "--fps 0 --lines 256 --samples 4096 --frames 300", NULL },
        { "full_rate_small", "--fps 0 --lines 128 --samples 2048 --frames 600", NULL },
        { "idle_30fps", idle_args, NULL },
        { "idle_30fps_prerendered", bus_args, NULL },
    };
    double ref = reference_mb_s();
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "preset", preset);
    cJSON_AddNumberToObject(root, "reference_memcpy_crc32_mb_per_s", (double)(long)ref);
    int failed = 0;
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        runs[i].res = run_stream(self, preset, runs[i].args);
        if (!runs[i].res) {
            fprintf(stderr, "talus bench usb: run %s failed\n", runs[i].name);
            failed = 1;
            continue;
        }
        cJSON *o = cJSON_AddObjectToObject(root, runs[i].name);
        const char *keys[] = { "frames_sent", "frames_received", "frames_dropped", "mb_per_s", "cpu_percent" };
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            cJSON_AddNumberToObject(o, keys[k], num(runs[i].res, keys[k]));
        const cJSON *lat = cJSON_GetObjectItemCaseSensitive(runs[i].res, "latency_ms");
        cJSON_AddNumberToObject(o, "latency_p50_ms", num(lat, "p50"));
        cJSON_AddNumberToObject(o, "latency_p99_ms", num(lat, "p99"));
        double mb = num(runs[i].res, "mb_per_s");
        if (ref > 0 && mb > 0)
            cJSON_AddNumberToObject(o, "ratio_to_reference", (double)(long)(mb / ref * 1000) / 1000);
        fprintf(stderr, "  %-16s %8.1f MB/s  cpu %5.1f %%  dropped %g  latency p50 %.2f ms p99 %.2f ms\n",
                runs[i].name, mb, num(runs[i].res, "cpu_percent"), num(runs[i].res, "frames_dropped"),
                num(lat, "p50"), num(lat, "p99"));
        cJSON_Delete(runs[i].res);
    }
    fprintf(stderr, "  %-16s %8.1f MB/s  (memcpy + crc32, one thread)\n", "reference", ref);
    double load[3] = { 0, 0, 0 };
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
            load[0] = -1;
        fclose(la);
    }
    cJSON_AddNumberToObject(root, "load_average_1min", load[0]);
    if (json) {
        char *txt = cJSON_Print(root);
        printf("%s\n", txt);
        cJSON_free(txt);
    }
    cJSON_Delete(root);
    return failed;
}
