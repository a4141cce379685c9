/* talus bench analysis: tl_analyze per frame on simulated 800 x 600 B-mode
 * frames of each anatomy (sim -> imaging, rendered once), timed per call,
 * with a reference in the same run: one OpenCV 5x5 Gaussian blur of the same
 * frame. Wall time and thread CPU time (the machine is shared: CPU time is
 * what the analysis itself costs), medians and p95, and the ratio to the
 * 3 ms per-frame budget. ONE JSON object on stdout. */
#include "commands.h"
#include "tl_analysis.h"
#include "tl_cv.h"
#include "tl_sim.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUDGET_MS 3.0

static void usage(FILE *f)
{
    fprintf(f,
            "usage: talus bench analysis [--frames N] [--width W --height H] [--seed S] [--only NAME] --json\n"
            "  Renders one frame per anatomy (plantar-fascia, achilles, ankle-recess) and a\n"
            "  plantar frame through a 12 degree tilt (plantar-fascia-tilted) through\n"
            "  the simulator and the imaging chain (default 800 x 600), then times tl_analyze\n"
            "  N times on each (default 200) on one thread, against a reference in the same\n"
            "  run (OpenCV 5x5 GaussianBlur of the same frame). Prints wall and thread-CPU\n"
            "  medians/p95 in ms, the ratio to the reference and to the 3 ms budget.\n"
            "  --only NAME: that frame alone (for profiling), e.g. plantar-fascia-tilted.\n");
}

static double cpu_ms(void) { return (double)tl_thread_cpu_ns() / 1e6; }

static double wall_ms(void) { return (double)tl_now_ns() / 1e6; }

/* The frames timed: each anatomy with a lesion (an effusion for the ankle),
 * and a plantar frame through a 12 degree tilt, which takes the slower path
 * (fibre-less band: coarse top, bone-anchored deep border, the re-seeded
 * second band of an_plantar_tilt.c). */
typedef struct {
    const char *name, *preset;
    tl_analysis_anatomy anatomy;
    const char *tilt_deg; /* NULL: untilted */
} bench_case;

static const bench_case k_cases[] = {
    { "plantar-fascia", "plantar-fascia", TL_AN_PLANTAR_FASCIA, NULL },
    { "achilles", "achilles", TL_AN_ACHILLES, NULL },
    { "ankle-recess", "ankle-recess", TL_AN_ANKLE_RECESS, NULL },
    { "plantar-fascia-tilted", "plantar-fascia", TL_AN_PLANTAR_FASCIA, "12" },
};

/* One simulated frame of case `c` imaged to width x height. */
static tl_status render(const bench_case *c, uint64_t seed, uint32_t width, uint32_t height,
                        tl_bmode *img)
{
    tl_sim *sim = NULL;
    tl_status st = tl_sim_create(c->preset, seed, &sim);
    if (st != TL_OK)
        return st;
    if (c->anatomy == TL_AN_ANKLE_RECESS)
        st = tl_sim_set_param(sim, "effusion_grade", "2");
    else
        st = tl_sim_set_param(sim, "lesion", "1");
    if (st == TL_OK && c->tilt_deg)
        st = tl_sim_set_param(sim, "anisotropy_deg", c->tilt_deg);
    tl_geometry g;
    if (st == TL_OK)
        st = tl_sim_get_geometry(sim, &g);
    int16_t *rf = NULL;
    size_t n = 0;
    if (st == TL_OK) {
        n = (size_t)g.lines * g.samples;
        rf = malloc(n * sizeof *rf);
        st = rf ? tl_sim_render(sim, 0, rf, n, NULL) : TL_ERR_NO_MEM;
    }
    tl_sim_destroy(sim);
    tl_imaging_plan *plan = NULL;
    tl_imaging_params ip = tl_imaging_params_default();
    ip.out_width = width;
    ip.out_height = height;
    if (st == TL_OK)
        st = tl_imaging_plan_create(&g, TL_IMAGE_RF_REAL, &ip, &plan);
    if (st == TL_OK)
        st = tl_imaging_bmode_alloc(plan, img);
    if (st == TL_OK) {
        tl_frame f;
        memset(&f, 0, sizeof f);
        f.geom = g;
        f.type = TL_IMAGE_RF_REAL;
        f.data = rf;
        f.data_bytes = n * sizeof *rf;
        st = tl_imaging_execute(plan, &f, img, NULL);
    }
    tl_imaging_plan_destroy(plan);
    free(rf);
    return st;
}

static cJSON *stats(const double *v, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "median", round(tl_median(v, n) * 1e4) / 1e4);
    cJSON_AddNumberToObject(o, "p95", round(tl_percentile(v, n, 95) * 1e4) / 1e4);
    return o;
}

int bench_analysis(int argc, char **argv)
{
    uint32_t frames = 200, width = 800, height = 600;
    uint64_t seed = 1;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
        } else if (v && strcmp(a, "--only") == 0) {
            only = v;
            i++;
        } else if (v && (strcmp(a, "--frames") == 0 || strcmp(a, "--width") == 0 ||
                         strcmp(a, "--height") == 0 || strcmp(a, "--seed") == 0)) {
            unsigned long long x = strtoull(v, &end, 10);
            if (*end || x == 0 || x > 100000) {
                fprintf(stderr, "talus bench analysis: bad value for %s: %s\n", a, v);
                return 2;
            }
            if (strcmp(a, "--frames") == 0)
                frames = (uint32_t)x;
            else if (strcmp(a, "--width") == 0)
                width = (uint32_t)x;
            else if (strcmp(a, "--height") == 0)
                height = (uint32_t)x;
            else
                seed = x;
            i++;
        } else {
            fprintf(stderr, "talus bench analysis: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    bool known = only == NULL;
    for (size_t k = 0; k < sizeof k_cases / sizeof k_cases[0]; k++)
        known = known || strcmp(only, k_cases[k].name) == 0;
    if (!known) {
        fprintf(stderr, "talus bench analysis: no frame named '%s'\n", only);
        usage(stderr);
        return 2;
    }
    double *wall = malloc(sizeof(double) * frames), *cpu = malloc(sizeof(double) * frames);
    double *ref = malloc(sizeof(double) * frames);
    tl_analyzer *an = NULL;
    if (!wall || !cpu || !ref || tl_analyzer_create(&an) != TL_OK) {
        fprintf(stderr, "talus bench analysis: out of memory\n");
        free(wall);
        free(cpu);
        free(ref);
        return 1;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "bench", "analysis");
    cJSON_AddNumberToObject(root, "frames", frames);
    cJSON_AddNumberToObject(root, "budget_ms", BUDGET_MS);
    cJSON *per = cJSON_AddObjectToObject(root, "per_anatomy");
    double worst = 0;
    int rc = 0;
    for (size_t k = 0; k < sizeof k_cases / sizeof k_cases[0]; k++) {
        const bench_case *c = &k_cases[k];
        if (only && strcmp(only, c->name) != 0)
            continue;
        tl_bmode img;
        memset(&img, 0, sizeof img);
        tl_status st = render(c, seed, width, height, &img);
        uint8_t *blur = st == TL_OK ? malloc((size_t)img.width * img.height) : NULL;
        if (st != TL_OK || !blur) {
            fprintf(stderr, "talus bench analysis: cannot render %s: %s\n", c->name,
                    tl_strerror(st != TL_OK ? st : TL_ERR_NO_MEM));
            tl_bmode_free(&img);
            rc = 1;
            break;
        }
        tl_analysis_params p = tl_analysis_params_default(c->anatomy);
        tl_analysis_result r;
        tl_analyze(an, &img, &p, &r);   /* warm-up: grows the workspace */
        tl_cv_image src = { img.pixels, img.width, img.height, img.stride, TL_CV_U8 };
        tl_cv_image dst = { blur, img.width, img.height, img.width, TL_CV_U8 };
        for (uint32_t i = 0; i < frames; i++) {
            double w0 = wall_ms(), c0 = cpu_ms();
            tl_analyze(an, &img, &p, &r);
            double c1 = cpu_ms(), w1 = wall_ms();
            tl_cv_analysis_gaussian(&src, &dst, 5);
            ref[i] = cpu_ms() - c1;
            wall[i] = w1 - w0;
            cpu[i] = c1 - c0;
            if (i % 20 == 0)
                fprintf(stderr, "\r%s %u/%u", c->name, i + 1, frames);
        }
        fprintf(stderr, "\r%s %u/%u\n", c->name, frames, frames);
        cJSON *o = cJSON_AddObjectToObject(per, c->name);
        cJSON_AddNumberToObject(o, "width", img.width);
        cJSON_AddNumberToObject(o, "height", img.height);
        cJSON_AddBoolToObject(o, "structure_found", r.structure_found);
        cJSON_AddItemToObject(o, "wall_ms", stats(wall, frames));
        cJSON_AddItemToObject(o, "cpu_ms", stats(cpu, frames));
        cJSON_AddItemToObject(o, "reference_gaussian5_cpu_ms", stats(ref, frames));
        double med = tl_median(cpu, frames), rmed = tl_median(ref, frames);
        cJSON_AddNumberToObject(o, "ratio_to_reference", round(med / rmed * 100) / 100);
        cJSON_AddNumberToObject(o, "ratio_to_budget", round(med / BUDGET_MS * 1000) / 1000);
        worst = fmax(worst, med);
        free(blur);
        tl_bmode_free(&img);
    }
    cJSON_AddNumberToObject(root, "worst_cpu_median_ms", round(worst * 1e4) / 1e4);
    cJSON_AddBoolToObject(root, "within_budget", worst <= BUDGET_MS);
    char *text = cJSON_PrintUnformatted(root);
    if (text && rc == 0)
        printf("%s\n", text);
    free(text);
    cJSON_Delete(root);
    tl_analyzer_destroy(an);
    free(wall);
    free(cpu);
    free(ref);
    return rc;
}
