/* talus bench sim: frames/s of a changing simulated scene on one core (this
 * thread), against a naive reference in the same run: direct summation of
 * every scatterer's echo (Gaussian-enveloped cosine, Gaussian beam) into
 * every line, at the same scatterer density, for a few frames. */
#include "commands.h"
#include "tl_sim.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: talus bench sim [--lines L] [--samples S] [--frames N] [--preset P]\n"
            "                       [--naive-frames K] [--json]\n"
            "Renders N frames (default 300) of PRESET (default needle-insertion: the\n"
            "needle advances and the speckle decorrelates every frame) on this thread and\n"
            "prints frames/s, then K frames (default 2) of a naive direct per-scatterer\n"
            "summation of the same size and scatterer density, and the speed ratio.\n"
            "Wall-clock and this thread's CPU time are both reported (a loaded machine\n"
            "stretches the first, not the second).\n");
}

static double thread_cpu_ms(void) { return (double)tl_thread_cpu_ns() / 1e6; }

/* Naive reference: each scatterer adds w(dx) * env(t) * cos(2 pi f0 t) to
 * every line and sample it reaches (evaluated directly, no caching). */
static double naive_frame_ms(const tl_geometry *g, float spc, tl_rng *rng, int16_t *rf,
                             double *cpu_ms)
{
    uint32_t L = g->lines, S = g->samples;
    float dz = tl_geometry_dz_mm(g);
    float f0 = g->f0_hz * 1e-6f, fs = g->fs_hz * 1e-6f;
    float sf = 0.6f * f0 / 2.35482f, st = 1.0f / (2.0f * (float)M_PI * sf);
    float sigx = 0.5f * (10.0f / f0) / 2.35482f;
    float fwhm_samples = 2.35482f * st * fs;
    float cell_lines = 2.35482f * sigx / g->pitch_mm;
    size_t n = (size_t)(spc / (cell_lines * fwhm_samples) * (float)L * (float)S);
    float *acc = calloc((size_t)L * S, sizeof(float));
    if (!acc)
        return NAN;
    uint64_t t0 = tl_now_ns();
    double c0 = thread_cpu_ms();
    int half = (int)ceilf(4.0f * st * fs);
    int lr = (int)ceilf(3.0f * sigx / g->pitch_mm);
    for (size_t k = 0; k < n; k++) {
        float u = (float)tl_rng_uniform(rng) * (float)(L - 1);
        float s = (float)tl_rng_uniform(rng) * (float)(S - 1);
        float a = (float)tl_rng_normal(rng);
        float z = s * dz, att = expf(-2.0f * 0.5f / 8.686f * f0 * z / 10.0f);
        int l0 = (int)u;
        for (int l = l0 - lr; l <= l0 + lr + 1; l++) {
            if (l < 0 || l >= (int)L)
                continue;
            float dx = ((float)l - u) * g->pitch_mm;
            float w = a * att * expf(-dx * dx / (2.0f * sigx * sigx));
            float *line = acc + (size_t)l * S;
            for (int q = (int)s - half; q <= (int)s + half + 1; q++) {
                if (q < 0 || q >= (int)S)
                    continue;
                float t = ((float)q - s) / fs;
                line[q] += w * expf(-t * t / (2.0f * st * st)) * cosf(2.0f * (float)M_PI * f0 * t);
            }
        }
    }
    for (size_t i = 0; i < (size_t)L * S; i++) {
        float v = acc[i] * 100.0f;
        rf[i] = (int16_t)(v > 32767.0f ? 32767.0f : v < -32768.0f ? -32768.0f : v);
    }
    double ms = (double)(tl_now_ns() - t0) / 1e6;
    *cpu_ms = thread_cpu_ms() - c0;
    free(acc);
    return ms;
}

static double load_avg(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double v = NAN;
    if (f) {
        if (fscanf(f, "%lf", &v) != 1)
            v = NAN;
        fclose(f);
    }
    return v;
}

int bench_sim(int argc, char **argv)
{
    const char *preset = "needle-insertion";
    const char *lines = NULL, *samples = NULL;
    long frames = 300, naive_frames = 2;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--lines") && more) {
            lines = argv[++i];
        } else if (!strcmp(a, "--samples") && more) {
            samples = argv[++i];
        } else if (!strcmp(a, "--preset") && more) {
            preset = argv[++i];
        } else if (!strcmp(a, "--frames") && more) {
            frames = strtol(argv[++i], NULL, 10);
        } else if (!strcmp(a, "--naive-frames") && more) {
            naive_frames = strtol(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "talus bench sim: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (frames < 1 || frames > 1000000 || naive_frames < 0 || naive_frames > 100) {
        fprintf(stderr, "talus bench sim: --frames 1-1000000, --naive-frames 0-100\n");
        return 2;
    }
    tl_sim *sim = NULL;
    if (tl_sim_create(preset, 1, &sim) != TL_OK) {
        fprintf(stderr, "talus bench sim: unknown preset '%s'\n", preset);
        return 2;
    }
    if ((lines && tl_sim_set_param(sim, "lines", lines) != TL_OK) ||
        (samples && tl_sim_set_param(sim, "samples", samples) != TL_OK)) {
        fprintf(stderr, "talus bench sim: bad --lines (16-1024) or --samples (256-8192)\n");
        tl_sim_destroy(sim);
        return 2;
    }
    tl_geometry g;
    if (tl_sim_get_geometry(sim, &g) != TL_OK) {
        tl_sim_destroy(sim);
        return 2;
    }
    size_t n = (size_t)g.lines * g.samples;
    int16_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        tl_sim_destroy(sim);
        return 1;
    }
    uint64_t t0 = tl_now_ns();
    tl_status st = tl_sim_render(sim, 0, a, n, NULL); /* builds the scene */
    double build_ms = (double)(tl_now_ns() - t0) / 1e6;
    fprintf(stderr, "bench sim: %s %ux%u, scene built in %.1f ms, rendering %ld frames...\n",
            preset, g.lines, g.samples, build_ms, frames);
    uint64_t t1 = tl_now_ns();
    double c1 = thread_cpu_ms();
    size_t changed = 0;
    for (long k = 1; st == TL_OK && k <= frames; k++) {
        int16_t *cur = (k & 1) ? b : a, *prev = (k & 1) ? a : b;
        st = tl_sim_render(sim, (uint32_t)k, cur, n, NULL);
        if (k == frames)
            for (size_t i = 0; i < n; i++)
                changed += cur[i] != prev[i];
    }
    double fast_ms = (double)(tl_now_ns() - t1) / 1e6 / (double)frames;
    double cpu_ms = (thread_cpu_ms() - c1) / (double)frames;
    float spc = tl_sim_scatterers_per_cell(sim);
    if (!(spc > 0.0f))
        spc = 20.0f;
    double naive_ms = NAN, naive_cpu = NAN;
    if (st == TL_OK && naive_frames > 0) {
        fprintf(stderr, "bench sim: naive direct summation, %ld frames...\n", naive_frames);
        tl_rng rng;
        tl_rng_seed(&rng, 99);
        double tot = 0, totc = 0, c = 0;
        for (long k = 0; k < naive_frames; k++) {
            tot += naive_frame_ms(&g, spc, &rng, a, &c);
            totc += c;
        }
        naive_ms = tot / (double)naive_frames;
        naive_cpu = totc / (double)naive_frames;
    }
    tl_sim_destroy(sim);
    free(a);
    free(b);
    if (st != TL_OK) {
        fprintf(stderr, "talus bench sim: render failed: %s\n", tl_strerror(st));
        return 1;
    }
    double fps = 1000.0 / fast_ms, ratio = naive_ms / fast_ms;
    double changed_frac = (double)changed / (double)n;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "preset", preset);
        cJSON_AddNumberToObject(o, "lines", g.lines);
        cJSON_AddNumberToObject(o, "samples", g.samples);
        cJSON_AddNumberToObject(o, "frames", (double)frames);
        cJSON_AddNumberToObject(o, "threads", 1);
        cJSON_AddNumberToObject(o, "scene_build_ms", build_ms);
        cJSON_AddNumberToObject(o, "ms_per_frame", fast_ms);
        cJSON_AddNumberToObject(o, "frames_per_s", fps);
        cJSON_AddNumberToObject(o, "cpu_ms_per_frame", cpu_ms);
        cJSON_AddNumberToObject(o, "frames_per_s_cpu", 1000.0 / cpu_ms);
        cJSON_AddNumberToObject(o, "changed_fraction_last_frame", changed_frac);
        cJSON_AddNumberToObject(o, "scatterers_per_cell", spc);
        cJSON_AddNumberToObject(o, "naive_frames", (double)naive_frames);
        if (isfinite(naive_ms)) {
            cJSON_AddNumberToObject(o, "naive_ms_per_frame", naive_ms);
            cJSON_AddNumberToObject(o, "speedup_vs_naive", ratio);
            cJSON_AddNumberToObject(o, "naive_cpu_ms_per_frame", naive_cpu);
            cJSON_AddNumberToObject(o, "speedup_vs_naive_cpu", naive_cpu / cpu_ms);
        }
        cJSON_AddNumberToObject(o, "load_avg_1m", load_avg());
        char *s = cJSON_PrintUnformatted(o);
        if (s)
            printf("%s\n", s);
        free(s);
        cJSON_Delete(o);
    } else {
        printf("sim %s %ux%u: %.3f ms/frame = %.0f frames/s on one core, %.3f ms of CPU "
               "(scene build %.0f ms; %.0f%% of samples change per frame)\n",
               preset, g.lines, g.samples, fast_ms, fps, cpu_ms, build_ms, 100.0 * changed_frac);
        if (isfinite(naive_ms))
            printf("naive per-scatterer summation: %.0f ms/frame (%.0f ms CPU); speed-up x%.0f "
                   "(x%.0f in CPU time)\n",
                   naive_ms, naive_cpu, ratio, naive_cpu / cpu_ms);
    }
    return 0;
}
