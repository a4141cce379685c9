/* talus trend PATIENT -o PLOT.png [--db FILE]: a measure (thickness) per
 * visit over time, drawn as a plot, so follow-up after injections shows. */
#include "commands.h"
#include "injlog_cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: talus trend PATIENT -o PLOT.png [--db FILE] [--measure NAME]\n"
            "                   [--threshold MM] [--size WxH] [--json]\n\n"
            "Plots the patient's measurement per visit (the largest of each session's\n"
            "findings of that measure) against the visit date: points coloured abnormal /\n"
            "normal, visits with an injection marked, the clinical threshold as a dashed\n"
            "line. The PNG is private (0600).\n"
            "  --measure NAME   finding measure to plot (default thickness)\n"
            "  --threshold MM   threshold line (default 4.0, the plantar-fascia cut-off;\n"
            "                   'none' for no line)\n"
            "  --size WxH       image size (default 800x480, at least 240x160)\n"
            "  --json           print the points as one JSON object on stdout\n"
            "  --db FILE        the database (default $TALUS_DB, else\n"
            "                   ~/.local/share/talus/talus.db)\n"
            "Exit status: 0 ok, 1 failed (unknown patient, database, write), 2 usage.\n");
}

static int print_points(const char *patient, const char *measure, const char *png,
                        const tl_injlog_trend_point *p, size_t n)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "patient_id", patient);
    cJSON_AddStringToObject(root, "measure", measure);
    cJSON_AddStringToObject(root, "plot", png);
    cJSON *arr = cJSON_AddArrayToObject(root, "visits");
    for (size_t i = 0; i < n; i++) {
        char t[40];
        injlog_cli_time(p[i].time_ms, t, sizeof t);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "session_id", (double)p[i].session_id);
        cJSON_AddStringToObject(o, "date", t);
        cJSON_AddNumberToObject(o, "value", p[i].value);
        cJSON_AddStringToObject(o, "unit", p[i].unit);
        cJSON_AddBoolToObject(o, "abnormal", p[i].abnormal);
        cJSON_AddBoolToObject(o, "injected", p[i].injected);
        cJSON_AddItemToArray(arr, o);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return 1;
    puts(text);
    free(text);
    return 0;
}

int cmd_trend(int argc, char **argv)
{
    const char *db = NULL, *out = NULL, *patient = NULL, *measure = "thickness";
    double threshold = 4.0;
    unsigned w = 800, h = 480;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--db") == 0 && more) {
            db = argv[++i];
        } else if (strcmp(a, "-o") == 0 && more) {
            out = argv[++i];
        } else if (strcmp(a, "--measure") == 0 && more) {
            measure = argv[++i];
        } else if (strcmp(a, "--threshold") == 0 && more) {
            char *end;
            const char *v = argv[++i];
            threshold = strcmp(v, "none") == 0 ? NAN : strtod(v, &end);
            if (strcmp(v, "none") != 0 && (*end || !isfinite(threshold) || threshold < 0)) {
                fprintf(stderr, "talus trend: bad --threshold %s\n", v);
                return 2;
            }
        } else if (strcmp(a, "--size") == 0 && more) {
            if (sscanf(argv[++i], "%ux%u", &w, &h) != 2 || w < 240 || h < 160 || w > 8192 ||
                h > 8192) {
                fprintf(stderr, "talus trend: --size wants WxH, 240x160 to 8192x8192\n");
                return 2;
            }
        } else if (a[0] == '-' || patient) {
            fprintf(stderr, "talus trend: unexpected argument %s\n", a);
            usage(stderr);
            return 2;
        } else {
            patient = a;
        }
    }
    if (!patient || !out) {
        fprintf(stderr, "talus trend: PATIENT and -o PLOT.png are required\n");
        usage(stderr);
        return 2;
    }
    umask(077);
    tl_injlog *log;
    if (injlog_cli_open("trend", db, &log))
        return 1;
    tl_injlog_trend_point *p = NULL;
    size_t n = 0;
    if (tl_injlog_trend(log, patient, measure, &p, &n) != TL_OK) {
        fprintf(stderr, "talus trend: %s\n", tl_injlog_errmsg(log));
        tl_injlog_close(log);
        return 1;
    }
    tl_injlog_close(log);
    char title[256];
    snprintf(title, sizeof title, "%s: %s%s%s per visit", patient, n ? p[0].structure : "",
             n ? " " : "", measure);
    tl_status st = tl_injlog_plot_trend(p, n, threshold, title, w, h, out);
    int rc = 0;
    if (st != TL_OK) {
        fprintf(stderr, "talus trend: cannot write %s: %s\n", out, tl_strerror(st));
        rc = 1;
    } else if (json) {
        rc = print_points(patient, measure, out, p, n);
    } else {
        printf("talus trend: wrote %s (%zu visits with a %s)\n", out, n, measure);
    }
    if (n == 0 && rc == 0)
        fprintf(stderr, "talus trend: patient %s has sessions but no %s finding\n", patient,
                measure);
    free(p);
    return rc;
}
