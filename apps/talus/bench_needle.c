/* talus bench needle: time needle detection + tracking + path per B-mode
 * frame (real frames from the simulator through the imaging chain), and in
 * the same run the textbook OpenCV finder (medianBlur 5 + Canny +
 * HoughLinesP) on the same frames as the reference. ONE JSON object. */
#include "commands.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "needle_pipeline.h"
#include "tl_cv.h"

#define DISTINCT 16

static void usage(FILE *out)
{
    fprintf(out,
            "usage: talus bench needle [--frames N] [--json]\n"
            "Renders %d needle-insertion frames (simulator -> imaging, 800 x 600) with the\n"
            "station's needle-guidance acquisition (tl_needle_scheme_default), then\n"
            "times detection + tracking + path on N frames (default 300), one core, and\n"
            "the OpenCV reference (medianBlur 5 + Canny + HoughLinesP) on the same\n"
            "frames. Prints ONE JSON object: ms per frame (median, p95, mean) of both,\n"
            "wall clock and thread CPU time, their ratios, search_cpu_ms (the same\n"
            "frames with the whole-image search every time, as before lock), the\n"
            "frame size and the\n"
            "1-minute load average (wall-clock figures taken while other work runs are\n"
            "noisy: rerun on a quiet machine).\n",
            DISTINCT);
}

static double load1(void)
{
    double l = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1.0;
        fclose(f);
    }
    return l;
}

static cJSON *timing(const double *ms, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += ms[i];
    cJSON_AddNumberToObject(o, "median", tl_median(ms, n));
    cJSON_AddNumberToObject(o, "p95", tl_percentile(ms, n, 95.0));
    cJSON_AddNumberToObject(o, "mean", n ? sum / (double)n : 0.0);
    return o;
}

int bench_needle(int argc, char **argv)
{
    long frames = 300;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            continue;
        } else if (strcmp(argv[i], "--frames") == 0 && i + 1 < argc) {
            frames = strtol(argv[++i], &end, 10);
            if (*end || frames < 1 || frames > 100000) {
                fprintf(stderr, "talus bench needle: --frames wants 1..100000\n");
                return 2;
            }
        } else {
            fprintf(stderr, "talus bench needle: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    const char *params[] = { "anatomy=plantar-fascia", "needle_angle_deg=30",
                             "needle_start_mm=16", "needle_speed_mm=0.4", NULL };
    needle_pipe p;
    char err[256];
    if (needle_pipe_open(&p, "needle-insertion", 11, params, err, sizeof err) != TL_OK) {
        fprintf(stderr, "talus bench needle: %s\n", err);
        return 1;
    }
    /* the station's needle-guidance acquisition (steered frames, one
     * straight in 4), as `talus eval needle` measures it */
    tl_needle_scheme scheme = tl_needle_scheme_default();
    if (needle_pipe_scheme(&p, &scheme, +1, err, sizeof err) != TL_OK) {
        fprintf(stderr, "talus bench needle: %s\n", err);
        needle_pipe_close(&p);
        return 1;
    }
    float steer[DISTINCT];
    size_t npx = (size_t)p.img.stride * p.img.height;
    uint8_t *store = malloc(npx * DISTINCT);
    double *ours = malloc(sizeof(double) * (size_t)frames);
    double *ref = malloc(sizeof(double) * (size_t)frames);
    double *ours_cpu = malloc(sizeof(double) * (size_t)frames);
    double *ref_cpu = malloc(sizeof(double) * (size_t)frames);
    tl_needle_follower *fol = NULL;
    int rc = 1;
    if (!store || !ours || !ref || !ours_cpu || !ref_cpu ||
        tl_needle_follower_create(NULL, NULL, &fol) != TL_OK) {
        fprintf(stderr, "talus bench needle: out of memory\n");
        goto done;
    }
    fprintf(stderr, "  bench needle: rendering %d frames\n", DISTINCT);
    for (int k = 0; k < DISTINCT; k++) {
        if (needle_pipe_frame(&p, (uint32_t)k, NULL) != TL_OK) {
            fprintf(stderr, "talus bench needle: frame %d failed\n", k);
            goto done;
        }
        memcpy(store + npx * (size_t)k, p.img.pixels, npx);
        steer[k] = p.img_steer_deg;
    }
    tl_bmode img = p.img;
    tl_target tg = { .x_mm = 0.5f * (float)img.width * img.spacing_mm,
                     .z_mm = 0.5f * (float)img.height * img.spacing_mm, .radius_mm = 1.5f };
    long found = 0;
    for (long i = 0; i < frames; i++) {
        img.pixels = store + npx * (size_t)(i % DISTINCT);
        uint64_t t0 = tl_now_ns(), c0 = tl_thread_cpu_ns();
        tl_needle_detection d;
        tl_needle_track t;
        tl_path path;
        tl_needle_follower_frame(fol, &img, steer[i % DISTINCT], NULL, &d, &t);
        if (t.found)
            tl_needle_path(t.tip_x_mm, t.tip_z_mm, t.angle_deg, &tg, NULL, NULL, 0.0f, &path);
        ours[i] = (double)(tl_now_ns() - t0) * 1e-6;
        ours_cpu[i] = (double)(tl_thread_cpu_ns() - c0) * 1e-6;
        found += t.found;
    }
    /* The same frames searched whole every time (no track to follow): what
     * a frame costs before lock and after the needle is lost. */
    double *search_cpu = malloc(sizeof(double) * (size_t)frames);
    tl_needle_detector *det2 = NULL;
    if (!search_cpu || tl_needle_detector_create(NULL, &det2) != TL_OK) {
        fprintf(stderr, "talus bench needle: out of memory\n");
        free(search_cpu);
        goto done;
    }
    for (long i = 0; i < frames; i++) {
        img.pixels = store + npx * (size_t)(i % DISTINCT);
        uint64_t c0 = tl_thread_cpu_ns();
        tl_needle_detection d;
        tl_needle_detect(det2, &img, NULL, &d);
        search_cpu[i] = (double)(tl_thread_cpu_ns() - c0) * 1e-6;
    }
    tl_needle_detector_destroy(det2);
    float lines[4 * 64];
    for (long i = 0; i < frames; i++) {
        tl_cv_image ci = { store + npx * (size_t)(i % DISTINCT), img.width, img.height,
                           img.stride, TL_CV_U8 };
        int n = 0;
        uint64_t t0 = tl_now_ns(), c0 = tl_thread_cpu_ns();
        tl_cv_needle_reference(&ci, 50.0, 150.0, 60, 40.0, 8.0, lines, 64, &n);
        ref[i] = (double)(tl_now_ns() - t0) * 1e-6;
        ref_cpu[i] = (double)(tl_thread_cpu_ns() - c0) * 1e-6;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "width", img.width);
    cJSON_AddNumberToObject(o, "height", img.height);
    cJSON_AddNumberToObject(o, "frames", (double)frames);
    cJSON_AddItemToObject(o, "detect_track_path_ms", timing(ours, (size_t)frames));
    cJSON_AddItemToObject(o, "opencv_reference_ms", timing(ref, (size_t)frames));
    double mo = tl_median(ours, (size_t)frames), mr = tl_median(ref, (size_t)frames);
    cJSON_AddNumberToObject(o, "ratio_to_reference", mr > 0.0 ? mo / mr : 0.0);
    cJSON_AddItemToObject(o, "detect_track_path_cpu_ms", timing(ours_cpu, (size_t)frames));
    cJSON_AddItemToObject(o, "opencv_reference_cpu_ms", timing(ref_cpu, (size_t)frames));
    double co = tl_median(ours_cpu, (size_t)frames), cr = tl_median(ref_cpu, (size_t)frames);
    cJSON_AddNumberToObject(o, "cpu_ratio_to_reference", cr > 0.0 ? co / cr : 0.0);
    cJSON_AddItemToObject(o, "search_cpu_ms", timing(search_cpu, (size_t)frames));
    free(search_cpu);
    cJSON_AddNumberToObject(o, "budget_ms", 3.0);
    cJSON_AddNumberToObject(o, "steer_deg", p.steer_deg);
    cJSON_AddNumberToObject(o, "straight_every", scheme.straight_every);
    cJSON_AddNumberToObject(o, "found_rate", (double)found / (double)frames);
    cJSON_AddNumberToObject(o, "load_1min", load1());
    char *text = cJSON_PrintUnformatted(o);
    if (text)
        printf("%s\n", text);
    free(text);
    cJSON_Delete(o);
    rc = 0;
done:
    tl_needle_follower_destroy(fol);
    free(store);
    free(ours);
    free(ref);
    free(ours_cpu);
    free(ref_cpu);
    needle_pipe_close(&p);
    return rc;
}
