/* talus sim list | talus sim render: the simulator's presets and a quick look
 * at one frame (envelope, log compression, rough scan conversion) with its
 * ground truth. Independent of imaging/: hw-sim depends only on core. */
#include "commands.h"
#include "tl_sim.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void list_usage(FILE *out)
{
    fprintf(out, "usage: talus sim list [--json]\n"
                 "Lists the simulator presets and each one's parameters with their defaults\n"
                 "and a line of help. --json prints one JSON object instead.\n");
}

static void render_usage(FILE *out)
{
    fprintf(out,
            "usage: talus sim render PRESET [--seed N] [--param k=v ...] [--frame K]\n"
            "                        [--dr DB] -o OUT.png [--truth OUT.json]\n"
            "Renders frame K (default 0) of PRESET with seed N (default 1) and writes a\n"
            "quick B-mode look (envelope, log compression over --dr dB, default 60,\n"
            "scan-converted to a proportional image) and, with --truth, the frame's\n"
            "ground truth as JSON. `talus sim list` shows presets and parameters.\n");
}

int sim_check(int argc, char **argv); /* sim_check.c */

static void sim_usage(FILE *out)
{
    fprintf(out, "usage: talus sim list|render|check [ARGS...]   (talus sim list --help, "
                 "talus sim render --help, talus sim check --help)\n");
}

static int cmd_list(int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            list_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else {
            fprintf(stderr, "talus sim list: unknown option '%s'\n", argv[i]);
            list_usage(stderr);
            return 2;
        }
    }
    cJSON *root = json ? cJSON_CreateObject() : NULL;
    cJSON *arr = root ? cJSON_AddArrayToObject(root, "presets") : NULL;
    for (size_t p = 0; p < tl_sim_preset_count(); p++) {
        const char *name = tl_sim_preset_name(p);
        cJSON *po = NULL, *params = NULL;
        if (json) {
            po = cJSON_CreateObject();
            cJSON_AddStringToObject(po, "name", name);
            cJSON_AddStringToObject(po, "description", tl_sim_preset_description(p));
            params = cJSON_AddArrayToObject(po, "parameters");
            cJSON_AddItemToArray(arr, po);
        } else {
            printf("%s\n  %s\n", name, tl_sim_preset_description(p));
        }
        for (size_t k = 0; k < tl_sim_param_count(name); k++) {
            const char *pn, *def, *help;
            if (tl_sim_param_info(name, k, &pn, &def, &help) != TL_OK)
                continue;
            if (json) {
                cJSON *q = cJSON_CreateObject();
                cJSON_AddStringToObject(q, "name", pn);
                cJSON_AddStringToObject(q, "default", def);
                cJSON_AddStringToObject(q, "help", help);
                cJSON_AddItemToArray(params, q);
            } else {
                printf("    %-22s %-16s %s\n", pn, def[0] ? def : "\"\"", help);
            }
        }
    }
    if (json) {
        char *s = cJSON_PrintUnformatted(root);
        if (s)
            printf("%s\n", s);
        free(s);
        cJSON_Delete(root);
    }
    return 0;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || end == s || *end || s[0] == '-')
        return false;
    *out = v;
    return true;
}

/* Envelope -> dB -> display pixel, scan-converted by inverse mapping. */
static int write_image(const char *path, const tl_geometry *g, const int16_t *rf, float dr)
{
    size_t n = (size_t)g->lines * g->samples;
    float *env = malloc(sizeof(float) * n);
    if (!env)
        return 1;
    tl_sim_envelope(rf, g->lines, g->samples, env);
    /* bounding box of the imaged region */
    float xmin = 1e9f, xmax = -1e9f, zmin = 1e9f, zmax = -1e9f;
    for (int a = 0; a <= 16; a++)
        for (int b = 0; b <= 1; b++) {
            float x, z;
            tl_geometry_sample_xz(g, (float)(g->lines - 1) * (float)a / 16.0f,
                                  b ? (float)(g->samples - 1) : 0.0f, &x, &z);
            xmin = fminf(xmin, x);
            xmax = fmaxf(xmax, x);
            zmin = fminf(zmin, z);
            zmax = fmaxf(zmax, z);
        }
    float px = fmaxf(xmax - xmin, zmax - zmin) / 600.0f;
    /* average the envelope over the samples a pixel spans (no aliasing of the
     * speckle), then log-compress: tissue of RMS 400 (the simulator's 0 dB
     * gain) has a mean envelope of about 500 and sits at about 40% grey,
     * interfaces and bone 20-30 dB above it near white, as on a scanner */
    int box = (int)lroundf(px / tl_geometry_dz_mm(g));
    box = box < 1 ? 1 : box;
    float *line = malloc(sizeof(float) * g->samples);
    if (!line) {
        free(env);
        return 1;
    }
    float top = 20.0f * log10f(500.0f) + 36.0f, bottom = top - dr;
    for (uint32_t l = 0; l < g->lines; l++) {
        float *e = env + (size_t)l * g->samples;
        memcpy(line, e, sizeof(float) * g->samples);
        for (uint32_t k = 0; k < g->samples; k++) {
            int a = (int)k - box / 2, b = a + box;
            a = a < 0 ? 0 : a;
            b = b > (int)g->samples ? (int)g->samples : b;
            float acc = 0.0f;
            for (int q = a; q < b; q++)
                acc += line[q];
            float db = 20.0f * log10f(acc / (float)(b - a) + 1.0f);
            float v = (db - bottom) / dr * 255.0f;
            e[k] = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
        }
    }
    free(line);
    uint32_t w = (uint32_t)((xmax - xmin) / px) + 1, h = (uint32_t)((zmax - zmin) / px) + 1;
    uint8_t *img = calloc((size_t)w * h, 1);
    if (!img) {
        free(env);
        return 1;
    }
    float dz = tl_geometry_dz_mm(g), half = 0.5f * (float)(g->lines - 1);
    for (uint32_t yy = 0; yy < h; yy++)
        for (uint32_t xx = 0; xx < w; xx++) {
            float x = xmin + (float)xx * px, z = zmin + (float)yy * px, line, r;
            if (g->kind == TL_PROBE_CONVEX) {
                float th = atan2f(x, z + g->radius_mm);
                line = th * g->radius_mm / g->pitch_mm + half;
                r = hypotf(x, z + g->radius_mm) - g->radius_mm;
            } else {
                line = x / g->pitch_mm + half;
                r = z;
            }
            float s = (r - g->depth_start_mm) / dz;
            if (line < 0.0f || line > (float)(g->lines - 1) || s < 0.0f ||
                s > (float)(g->samples - 1))
                continue;
            uint32_t l0 = (uint32_t)line, s0 = (uint32_t)s;
            uint32_t l1 = l0 + 1 < g->lines ? l0 + 1 : l0, s1 = s0 + 1 < g->samples ? s0 + 1 : s0;
            float tl = line - (float)l0, ts = s - (float)s0;
            const float *e0 = env + (size_t)l0 * g->samples, *e1 = env + (size_t)l1 * g->samples;
            float v = (e0[s0] * (1 - ts) + e0[s1] * ts) * (1 - tl) +
                      (e1[s0] * (1 - ts) + e1[s1] * ts) * tl;
            img[(size_t)yy * w + xx] = (uint8_t)(v + 0.5f);
        }
    tl_status st = tl_png_write(path, img, w, h, w, 1);
    free(img);
    free(env);
    if (st != TL_OK) {
        fprintf(stderr, "talus sim render: cannot write %s: %s\n", path, tl_strerror(st));
        return 1;
    }
    return 0;
}

static int write_truth(const char *path, const tl_sim_truth *t)
{
    char *json = NULL;
    if (tl_sim_truth_to_json(t, &json) != TL_OK)
        return 1;
    FILE *f = fopen(path, "w");
    int rc = 0;
    if (!f || fprintf(f, "%s\n", json) < 0 || fclose(f) != 0) {
        fprintf(stderr, "talus sim render: cannot write %s: %s\n", path, strerror(errno));
        rc = 1;
    }
    free(json);
    return rc;
}

static int cmd_render(int argc, char **argv)
{
    const char *preset = NULL, *out = NULL, *truth_path = NULL;
    uint64_t seed = 1, frame = 0;
    float dr = 60.0f;
    const char *params[64];
    int np = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            render_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--seed") && more) {
            if (!parse_u64(argv[++i], &seed)) {
                fprintf(stderr, "talus sim render: bad --seed '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--frame") && more) {
            if (!parse_u64(argv[++i], &frame) || frame > UINT32_MAX) {
                fprintf(stderr, "talus sim render: bad --frame '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--dr") && more) {
            dr = strtof(argv[++i], NULL);
            if (!(dr >= 10.0f && dr <= 120.0f)) {
                fprintf(stderr, "talus sim render: --dr must be 10-120 dB\n");
                return 2;
            }
        } else if (!strcmp(a, "--param") && more) {
            if (np >= 64) {
                fprintf(stderr, "talus sim render: too many --param\n");
                return 2;
            }
            params[np++] = argv[++i];
        } else if (!strncmp(a, "--param=", 8)) {
            if (np < 64)
                params[np++] = a + 8;
        } else if (!strcmp(a, "-o") && more) {
            out = argv[++i];
        } else if (!strcmp(a, "--truth") && more) {
            truth_path = argv[++i];
        } else if (a[0] != '-' && !preset) {
            preset = a;
        } else {
            fprintf(stderr, "talus sim render: unexpected argument '%s'\n", a);
            render_usage(stderr);
            return 2;
        }
    }
    if (!preset || !out) {
        fprintf(stderr, "talus sim render: %s\n", !preset ? "no PRESET given" : "no -o OUT.png");
        render_usage(stderr);
        return 2;
    }
    tl_sim *sim = NULL;
    tl_status st = tl_sim_create(preset, seed, &sim);
    if (st != TL_OK) {
        fprintf(stderr, "talus sim render: unknown preset '%s' (talus sim list)\n", preset);
        return 2;
    }
    for (int k = 0; k < np; k++) {
        if (!strchr(params[k], '=')) {
            fprintf(stderr, "talus sim render: --param wants k=v, got '%s'\n", params[k]);
            tl_sim_destroy(sim);
            return 2;
        }
        st = tl_sim_set_param(sim, params[k], NULL);
        if (st != TL_OK) {
            fprintf(stderr, "talus sim render: %s '%s' for preset %s (talus sim list)\n",
                    st == TL_ERR_NOT_FOUND ? "unknown parameter" : "bad value in", params[k],
                    preset);
            tl_sim_destroy(sim);
            return 2;
        }
    }
    tl_geometry g;
    st = tl_sim_get_geometry(sim, &g);
    int16_t *rf = st == TL_OK ? malloc(sizeof(int16_t) * g.lines * g.samples) : NULL;
    tl_sim_truth *truth = calloc(1, sizeof *truth);
    int rc = 1;
    if (st != TL_OK) {
        fprintf(stderr, "talus sim render: parameters do not combine: %s\n", tl_strerror(st));
        rc = 2;
    } else if (!rf || !truth) {
        fprintf(stderr, "talus sim render: out of memory\n");
    } else if ((st = tl_sim_render(sim, (uint32_t)frame, rf, (size_t)g.lines * g.samples,
                                   truth)) != TL_OK) {
        fprintf(stderr, "talus sim render: %s\n", tl_strerror(st));
        rc = st == TL_ERR_INVALID_ARG ? 2 : 1;
    } else {
        rc = write_image(out, &g, rf, dr);
        if (!rc && truth_path)
            rc = write_truth(truth_path, truth);
        if (!rc)
            fprintf(stderr, "talus sim render: %s frame %llu -> %s%s%s\n", preset,
                    (unsigned long long)frame, out, truth_path ? ", " : "",
                    truth_path ? truth_path : "");
    }
    free(rf);
    free(truth);
    tl_sim_destroy(sim);
    return rc;
}

int cmd_sim(int argc, char **argv)
{
    if (argc < 2) {
        sim_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        sim_usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "list"))
        return cmd_list(argc - 1, argv + 1);
    if (!strcmp(argv[1], "render"))
        return cmd_render(argc - 1, argv + 1);
    if (!strcmp(argv[1], "check"))
        return sim_check(argc - 1, argv + 1);
    fprintf(stderr, "talus sim: unknown subcommand '%s'\n", argv[1]);
    sim_usage(stderr);
    return 2;
}
