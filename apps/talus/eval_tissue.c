/* talus eval tissue --anatomy A|all --cases N --seed S --json
 *
 * Randomised simulated cases through the real pipeline: tl_sim renders RF
 * with ground truth, tl_imaging makes the B-mode, tl_analysis measures it.
 * Prints ONE JSON object with per-anatomy and overall figures; a progress
 * bar goes to stderr. */
#include "commands.h"
#include "eval_tissue_case.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: talus eval tissue [--anatomy plantar-fascia|achilles|ankle-recess|all]\n"
            "                         [--cases N] [--seed S] [--verbose] [--case K] [--dump DIR] --json\n"
            "  Randomised simulated cases (thickness 2-8 mm, lesions in about half, 2-10 mm,\n"
            "  -3 to -20 dB or anechoic, depth/gain/frequency/noise varied, anisotropy on\n"
            "  some) rendered as RF, imaged and analysed. Prints ONE JSON object: per anatomy\n"
            "  and overall thickness_abs_err_mm {median, p95}, abnormal_accuracy,\n"
            "  lesion_sensitivity (lesions >= 3 mm at <= -6 dB), lesion_sensitivity_all,\n"
            "  lesion_specificity, lesion_centroid_err_mm {median, p95},\n"
            "  anisotropy_false_lesions, cases, analysis_cpu_ms {median, p95, max} (thread\n"
            "  CPU of a warm tl_analyze per case). --verbose: two lines per case on stderr\n"
            "  (scene; the band's border errors superficial/deep at the measurement site,\n"
            "  truth lesions and targets with the border errors at them).\n"
            "  --case K: only case K of the run (same scene as in the full run).\n"
            "  --dump DIR: write each case's image and overlay, DIR/case_NNNN{,_ov}.png\n"
            "  (the overlay also dots the truth band borders: superficial red, deep magenta).\n"
            "  defaults: --anatomy all --cases 100 --seed 1\n");
}

typedef struct {
    double *terr, *cerr, *cpu;
    size_t n_terr, n_cerr, n_cpu;
    int cases, found, abn_ok;
    int les_big, les_big_hit, les_all, les_all_hit;
    int clean, clean_ok;
    int aniso_clean, aniso_false;
    double ms_sum;
} stats;

static void add_case(stats *s, const eval_case_result *c)
{
    s->cases++;
    s->found += c->found;
    if (!isnan(c->thickness_err))
        s->terr[s->n_terr++] = c->thickness_err;
    s->abn_ok += c->abnormal_ok;
    s->les_big += c->lesions_big;
    s->les_big_hit += c->lesions_big_hit;
    s->les_all += c->lesions;
    s->les_all_hit += c->lesions_hit;
    for (int i = 0; i < c->n_centroid; i++)
        s->cerr[s->n_cerr++] = c->centroid_err[i];
    if (c->lesions == 0) {
        s->clean++;
        s->clean_ok += !c->lesion_called;
        if (c->anisotropic) {
            s->aniso_clean++;
            s->aniso_false += c->lesion_called;
        }
    }
    s->ms_sum += c->analysis_ms;
    if (!isnan(c->analysis_cpu_ms))
        s->cpu[s->n_cpu++] = c->analysis_cpu_ms;
}

static cJSON *ratio(int num, int den)
{
    return den ? cJSON_CreateNumber(round(1e4 * num / den) / 1e4) : cJSON_CreateNull();
}

static cJSON *med_p95(const double *v, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    if (n == 0) {
        cJSON_AddNullToObject(o, "median");
        cJSON_AddNullToObject(o, "p95");
    } else {
        cJSON_AddNumberToObject(o, "median", round(1e4 * tl_median(v, n)) / 1e4);
        cJSON_AddNumberToObject(o, "p95", round(1e4 * tl_percentile(v, n, 95)) / 1e4);
    }
    cJSON_AddNumberToObject(o, "n", (double)n);
    return o;
}

static cJSON *stats_json(const stats *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "cases", s->cases);
    cJSON_AddItemToObject(o, "structure_found_rate", ratio(s->found, s->cases));
    cJSON_AddItemToObject(o, "thickness_abs_err_mm", med_p95(s->terr, s->n_terr));
    cJSON_AddItemToObject(o, "abnormal_accuracy", ratio(s->abn_ok, s->cases));
    cJSON_AddItemToObject(o, "lesion_sensitivity", ratio(s->les_big_hit, s->les_big));
    cJSON_AddNumberToObject(o, "lesions_3mm_6db", s->les_big);
    cJSON_AddItemToObject(o, "lesion_sensitivity_all", ratio(s->les_all_hit, s->les_all));
    cJSON_AddNumberToObject(o, "lesions", s->les_all);
    cJSON_AddItemToObject(o, "lesion_specificity", ratio(s->clean_ok, s->clean));
    cJSON_AddNumberToObject(o, "cases_without_lesion", s->clean);
    cJSON_AddItemToObject(o, "lesion_centroid_err_mm", med_p95(s->cerr, s->n_cerr));
    cJSON_AddItemToObject(o, "anisotropy_false_lesions", ratio(s->aniso_false, s->aniso_clean));
    cJSON_AddNumberToObject(o, "anisotropic_cases_without_lesion", s->aniso_clean);
    cJSON_AddNumberToObject(o, "analysis_ms_mean", s->cases ? round(1e3 * s->ms_sum / s->cases) / 1e3 : 0);
    /* speed over the random scenes (the bench times a few fixed frames) */
    cJSON *cpu = med_p95(s->cpu, s->n_cpu);
    double worst = 0;
    for (size_t i = 0; i < s->n_cpu; i++)
        worst = fmax(worst, s->cpu[i]);
    cJSON_AddNumberToObject(cpu, "max", round(1e4 * worst) / 1e4);
    cJSON_AddItemToObject(o, "analysis_cpu_ms", cpu);
    return o;
}

int eval_tissue(int argc, char **argv)
{
    long cases = 100;
    unsigned long long seed = 1;
    int only = 0;
    bool verbose = false;
    long only_case = -1;
    const char *dump = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
        } else if (strcmp(a, "--verbose") == 0) {
            verbose = true;
        } else if (v && strcmp(a, "--dump") == 0) {
            dump = v;
            i++;
        } else if (v && strcmp(a, "--case") == 0) {
            only_case = strtol(v, &end, 10);
            if (*end || only_case < 0) {
                fprintf(stderr, "talus eval tissue: --case must be a case index >= 0\n");
                return 2;
            }
            i++;
        } else if (v && strcmp(a, "--cases") == 0) {
            cases = strtol(v, &end, 10);
            if (*end || cases < 1 || cases > 100000) {
                fprintf(stderr, "talus eval tissue: --cases must be 1..100000\n");
                return 2;
            }
            i++;
        } else if (v && strcmp(a, "--seed") == 0) {
            seed = strtoull(v, &end, 10);
            if (*end || !*v) {
                fprintf(stderr, "talus eval tissue: --seed must be a non-negative integer\n");
                return 2;
            }
            i++;
        } else if (v && strcmp(a, "--anatomy") == 0) {
            only = strcmp(v, "all") == 0 ? 0 : tl_analysis_anatomy_from_name(v);
            if (only < 0) {
                fprintf(stderr, "talus eval tissue: unknown anatomy '%s'\n", v);
                return 2;
            }
            i++;
        } else {
            fprintf(stderr, "talus eval tissue: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    stats per[4];
    memset(per, 0, sizeof per);
    for (int k = 0; k < 4; k++) {
        per[k].terr = calloc((size_t)cases, sizeof(double));
        per[k].cerr = calloc((size_t)cases * EVAL_MAX_LESIONS, sizeof(double));
        per[k].cpu = calloc((size_t)cases, sizeof(double));
        if (!per[k].terr || !per[k].cerr || !per[k].cpu) {
            fprintf(stderr, "talus eval tissue: out of memory\n");
            return 1;
        }
    }
    eval_ctx *ctx = NULL;
    if (eval_ctx_create(&ctx) != TL_OK) {
        fprintf(stderr, "talus eval tissue: cannot create the analysis workspace\n");
        return 1;
    }
    eval_ctx_set_dump(ctx, dump);
    int failed = 0;
    for (long i = 0; i < cases; i++) {
        if (only_case >= 0 && i != only_case)
            continue;
        int anatomy = only ? only : (int)(i % 3) + 1;
        eval_case_result c;
        char err[160] = "";
        tl_status st = eval_run_case(ctx, anatomy, seed, (uint64_t)i, &c, err, sizeof err);
        if (st != TL_OK) {
            fprintf(stderr, "\ncase %ld: %s (%s)\n", i, err, tl_strerror(st));
            failed++;
            continue;
        }
        add_case(&per[0], &c);
        add_case(&per[anatomy], &c);
        if (verbose)
            fprintf(stderr, "\ncase %ld %s: %s\n  %s", i, tl_analysis_anatomy_name(anatomy),
                    c.summary, c.detail);
        int done = (int)(40 * (i + 1) / cases);
        fprintf(stderr, "\r[%.*s%*s] %ld/%ld", done, "########################################",
                40 - done, "", i + 1, cases);
    }
    fprintf(stderr, "\n");
    eval_ctx_destroy(ctx);

    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "anatomy", only ? tl_analysis_anatomy_name(only) : "all");
    cJSON_AddNumberToObject(root, "seed", (double)seed);
    cJSON_AddNumberToObject(root, "failed_cases", failed);
    cJSON *overall = stats_json(&per[0]);
    for (cJSON *it = overall->child; it; it = it->next)
        cJSON_AddItemToObject(root, it->string, cJSON_Duplicate(it, true));
    cJSON_Delete(overall);
    cJSON *pa = cJSON_AddObjectToObject(root, "per_anatomy");
    for (int k = 1; k <= 3; k++)
        if (per[k].cases)
            cJSON_AddItemToObject(pa, tl_analysis_anatomy_name(k), stats_json(&per[k]));
    char *text = cJSON_PrintUnformatted(root);
    if (text)
        printf("%s\n", text);
    free(text);
    cJSON_Delete(root);
    for (int k = 0; k < 4; k++) {
        free(per[k].terr);
        free(per[k].cerr);
        free(per[k].cpu);
    }
    return failed == cases ? 1 : 0;
}
