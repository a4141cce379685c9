/* talus bench imaging: the B-mode pipeline on synthetic int16 RF, per-stage
 * medians in ms as one JSON object. */
#include "commands.h"
#include "tl_imaging.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: talus bench imaging --lines L --samples S [--frames N] [--json]\n"
            "         [--convex] [--width W] [--height H] [--envelope-samples M]\n"
            "         [--effort 0|1|2] [--demod auto|fft|fir] [--seed N]\n"
            "Runs RF_REAL -> envelope (FFTW) -> log compression -> scan conversion\n"
            "(default 800 x 600, linear) on synthetic speckle RF, single thread, and\n"
            "prints per-stage medians in ms: envelope_ms, compress_ms,\n"
            "scan_convert_ms, total_ms, and frames. FFTW plans use MEASURE (--effort 1)\n"
            "with the wisdom file in ~/.cache/talus. --envelope-samples S disables the\n"
            "demodulation (full-rate analytic signal). --demod picks the envelope path:\n"
            "fft (band of a batched FFT), fir (time-domain IQ demodulator, 31-tap\n"
            "complex FIR, decimated) or auto (fft when it is the exact analytic signal\n"
            "at half rate, else fir).\n");
}

/* Speckle RF: Gaussian scatterers convolved with a Gaussian-windowed pulse
 * at f0, attenuated with depth, scaled to about a quarter of full scale. */
static void synth_rf(int16_t *rf, const tl_geometry *g, tl_rng *rng)
{
    int taps = (int)(3.0f * g->fs_hz / g->f0_hz) | 1; /* ~3 cycles */
    float pulse[129];
    if (taps > 129)
        taps = 129;
    for (int j = 0; j < taps; j++) {
        float t = (float)(j - taps / 2) / g->fs_hz;
        float sig = 1.0f / g->f0_hz;
        pulse[j] = expf(-0.5f * t * t / (sig * sig)) * cosf(6.2831853f * g->f0_hz * t);
    }
    float *sc = malloc(sizeof(float) * g->samples);
    for (uint32_t l = 0; l < g->lines; l++) {
        for (uint32_t s = 0; s < g->samples; s++)
            sc[s] = (float)tl_rng_normal(rng);
        for (uint32_t s = 0; s < g->samples; s++) {
            float acc = 0.0f;
            for (int j = 0; j < taps; j++) {
                long i = (long)s + j - taps / 2;
                if (i >= 0 && i < (long)g->samples)
                    acc += sc[i] * pulse[j];
            }
            float att = expf(-2.0f * (float)s / g->samples);
            float v = acc * 4000.0f * att;
            rf[(size_t)l * g->samples + s] = (int16_t)fmaxf(-32768.0f, fminf(32767.0f, v));
        }
    }
    free(sc);
}

int bench_imaging(int argc, char **argv)
{
    uint32_t lines = 128, samples = 2048, frames = 200, width = 800, height = 600, env = 0;
    int effort = 1, convex = 0, json = 0, demod = TL_DEMOD_AUTO;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--convex") == 0) {
            convex = 1;
        } else if (v && strcmp(a, "--lines") == 0) {
            lines = (uint32_t)strtoul(v, NULL, 10), i++;
        } else if (v && strcmp(a, "--samples") == 0) {
            samples = (uint32_t)strtoul(v, NULL, 10), i++;
        } else if (v && strcmp(a, "--frames") == 0) {
            frames = (uint32_t)strtoul(v, NULL, 10), i++;
        } else if (v && strcmp(a, "--width") == 0) {
            width = (uint32_t)strtoul(v, NULL, 10), i++;
        } else if (v && strcmp(a, "--height") == 0) {
            height = (uint32_t)strtoul(v, NULL, 10), i++;
        } else if (v && strcmp(a, "--envelope-samples") == 0) {
            env = (uint32_t)strtoul(v, NULL, 10), i++;
        } else if (v && strcmp(a, "--effort") == 0) {
            effort = atoi(v), i++;
        } else if (v && strcmp(a, "--demod") == 0) {
            if (strcmp(v, "auto") == 0) {
                demod = TL_DEMOD_AUTO;
            } else if (strcmp(v, "fft") == 0) {
                demod = TL_DEMOD_FFT;
            } else if (strcmp(v, "fir") == 0) {
                demod = TL_DEMOD_FIR;
            } else {
                fprintf(stderr, "talus bench imaging: --demod auto, fft or fir\n");
                return 2;
            }
            i++;
        } else if (v && strcmp(a, "--seed") == 0) {
            seed = strtoull(v, NULL, 10), i++;
        } else {
            fprintf(stderr, "talus bench imaging: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (frames < 1 || frames > 100000) {
        fprintf(stderr, "talus bench imaging: --frames must be 1..100000\n");
        return 2;
    }
    tl_geometry g = tl_geometry_default_linear();
    g.lines = lines;
    g.samples = samples;
    if (convex) {
        g.kind = TL_PROBE_CONVEX;
        g.radius_mm = 40.0f;
        g.pitch_mm = 0.5f;
        g.f0_hz = 5e6f;
        g.fs_hz = 20e6f;
    }
    if (tl_geometry_validate(&g) != TL_OK || lines < 2) {
        fprintf(stderr, "talus bench imaging: --lines 2..4096 and --samples 16..65536\n");
        return 2;
    }
    tl_imaging_params p = tl_imaging_params_default();
    p.out_width = width;
    p.out_height = height;
    p.envelope_samples = env;
    p.fft_effort = effort;
    p.demodulator = demod;
    char wisdom[1100];
    if (tl_imaging_default_wisdom_path(wisdom, sizeof wisdom) == TL_OK)
        p.wisdom_path = wisdom;
    fprintf(stderr, "planning %u x %u (FFTW effort %d, wisdom %s)...\n", lines, samples,
            effort, p.wisdom_path ? p.wisdom_path : "none");
    uint64_t tp = tl_now_ns();
    tl_imaging_plan *plan = NULL;
    tl_status st = tl_imaging_plan_create(&g, TL_IMAGE_RF_REAL, &p, &plan);
    if (st != TL_OK) {
        fprintf(stderr, "talus bench imaging: plan: %s\n", tl_strerror(st));
        return 1;
    }
    double plan_ms = (double)(tl_now_ns() - tp) * 1e-6;

    enum { NBUF = 4 }; /* cycle a few frames, like ring-buffer slots */
    size_t n = (size_t)lines * samples;
    int16_t *rf[NBUF];
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    for (int b = 0; b < NBUF; b++) {
        rf[b] = malloc(n * sizeof(int16_t));
        if (!rf[b]) {
            fprintf(stderr, "talus bench imaging: out of memory\n");
            return 1;
        }
        synth_rf(rf[b], &g, &rng);
    }
    uint32_t W, H;
    tl_imaging_plan_output(plan, &W, &H, NULL, NULL, NULL);
    tl_bmode img;
    if (tl_bmode_alloc(&img, W, H) != TL_OK) {
        fprintf(stderr, "talus bench imaging: out of memory\n");
        return 1;
    }
    double *t[4];
    for (int k = 0; k < 4; k++)
        t[k] = malloc(sizeof(double) * frames);
    int rc = 0;
    for (uint32_t f = 0; f < frames + 3; f++) { /* 3 warm-up frames */
        tl_frame fr = { .geom = g, .type = TL_IMAGE_RF_REAL, .seq = f,
                        .data = rf[f % NBUF], .data_bytes = n * sizeof(int16_t) };
        tl_imaging_timing tm;
        st = tl_imaging_execute(plan, &fr, &img, &tm);
        if (st != TL_OK) {
            fprintf(stderr, "talus bench imaging: execute: %s\n", tl_strerror(st));
            rc = 1;
            break;
        }
        if (f >= 3) {
            t[0][f - 3] = tm.envelope_ms;
            t[1][f - 3] = tm.compress_ms;
            t[2][f - 3] = tm.scan_convert_ms;
            t[3][f - 3] = tm.total_ms;
        }
    }
    if (rc == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "geometry", convex ? "convex" : "linear");
        cJSON_AddStringToObject(o, "demodulator", tl_imaging_plan_uses_fir(plan) ? "fir" : "fft");
        cJSON_AddNumberToObject(o, "lines", lines);
        cJSON_AddNumberToObject(o, "samples", samples);
        cJSON_AddNumberToObject(o, "width", W);
        cJSON_AddNumberToObject(o, "height", H);
        cJSON_AddNumberToObject(o, "envelope_samples", tl_imaging_plan_envelope_samples(plan));
        cJSON_AddNumberToObject(o, "frames", frames);
        cJSON_AddNumberToObject(o, "envelope_ms", tl_median(t[0], frames));
        cJSON_AddNumberToObject(o, "compress_ms", tl_median(t[1], frames));
        cJSON_AddNumberToObject(o, "scan_convert_ms", tl_median(t[2], frames));
        cJSON_AddNumberToObject(o, "total_ms", tl_median(t[3], frames));
        cJSON_AddNumberToObject(o, "total_p95_ms", tl_percentile(t[3], frames, 95.0));
        cJSON_AddNumberToObject(o, "plan_ms", plan_ms);
        char *s = json ? cJSON_Print(o) : NULL;
        if (s)
            printf("%s\n", s);
        else
            printf("imaging %s %ux%u -> %ux%u (envelope samples %u): envelope %.3f ms, "
                   "compress %.3f ms, scan conversion %.3f ms, total %.3f ms median over %u "
                   "frames\n",
                   convex ? "convex" : "linear", lines, samples, W, H,
                   tl_imaging_plan_envelope_samples(plan), tl_median(t[0], frames),
                   tl_median(t[1], frames), tl_median(t[2], frames), tl_median(t[3], frames),
                   frames);
        free(s);
        cJSON_Delete(o);
    }
    for (int k = 0; k < 4; k++)
        free(t[k]);
    for (int b = 0; b < NBUF; b++)
        free(rf[b]);
    tl_bmode_free(&img);
    tl_imaging_plan_destroy(plan);
    return rc;
}
