/* talus calibrate detect-wires FILE.mha --wires N [--json]
 * talus calibrate show [--probe SERIAL] [--json] [--cal-dir DIR] */
#include "calibrate.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tl_recording.h"

int cal_cmd_detect_wires(int argc, char **argv)
{
    const char *path = NULL;
    uint32_t wires = 9;
    bool json = false, layers_set = false, layers = true;
    float min_peak = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: talus calibrate detect-wires FILE.mha --wires N [--json]\n"
                   "       [--min-peak V] [--no-layers]\n"
                   "  Finds N bright wire dots in every B-mode frame of a PLUS sequence.\n"
                   "  With N a multiple of 3 the dots must form N/3 collinear triplets (the\n"
                   "  layers of an N-wire phantom such as fCal's); --no-layers takes the N\n"
                   "  strongest compact blobs instead. Prints frames, frames_with_all_wires\n"
                   "  and the dots of every frame (pixel coordinates x = column, y = row).\n");
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--no-layers") == 0) {
            layers_set = true;
            layers = false;
        } else if (strcmp(argv[i], "--wires") == 0 && i + 1 < argc) {
            long v = strtol(argv[++i], NULL, 10);
            if (v < 1 || v > TL_CAL_MAX_WIRES) {
                fprintf(stderr, "talus calibrate detect-wires: --wires must be 1..%d\n",
                        TL_CAL_MAX_WIRES);
                return 2;
            }
            wires = (uint32_t)v;
        } else if (strcmp(argv[i], "--min-peak") == 0 && i + 1 < argc) {
            min_peak = strtof(argv[++i], NULL);
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            fprintf(stderr, "talus calibrate detect-wires: unexpected '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: talus calibrate detect-wires FILE.mha --wires N [--json]\n");
        return 2;
    }
    tl_recording *r;
    tl_status st = tl_recording_open(path, &r);
    if (st != TL_OK) {
        fprintf(stderr, "talus calibrate detect-wires: %s: %s\n", path, tl_strerror(st));
        return 1;
    }
    tl_recording_info in;
    tl_recording_get_info(r, &in);
    if (in.type != TL_IMAGE_BRIGHTNESS) {
        fprintf(stderr, "talus calibrate detect-wires: %s holds %s frames; B-mode (BRIGHTNESS) "
                        "needed\n", path, tl_image_type_name(in.type));
        tl_recording_close(r);
        return 1;
    }
    tl_cal_dot_params p = tl_cal_dot_params_default(wires);
    if (layers_set)
        p.nwire_layers = layers;
    if (min_peak > 0)
        p.min_peak = min_peak;
    if (p.nwire_layers && wires % 3) {
        fprintf(stderr, "talus calibrate detect-wires: layers need a multiple of 3 wires "
                        "(or --no-layers)\n");
        tl_recording_close(r);
        return 2;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "file", path);
    cJSON_AddNumberToObject(root, "wires", wires);
    cJSON_AddBoolToObject(root, "nwire_layers", p.nwire_layers);
    cJSON *list = cJSON_CreateArray();
    uint32_t all = 0, done = 0;
    int rc = 0;
    for (uint32_t i = 0; i < in.frames; i++) {
        tl_frame f;
        if ((st = tl_recording_read(r, i, &f)) != TL_OK) {
            fprintf(stderr, "talus calibrate detect-wires: frame %u: %s\n", i, tl_strerror(st));
            rc = 1;
            break;
        }
        tl_cal_dot d[TL_CAL_MAX_WIRES];
        uint32_t n = 0;
        if ((st = tl_cal_find_dots(f.data, in.width, in.height, in.width, &p, wires, d, &n)) !=
            TL_OK) {
            fprintf(stderr, "talus calibrate detect-wires: frame %u: %s\n", i, tl_strerror(st));
            rc = 1;
            break;
        }
        done++;
        all += n == wires;
        cJSON *fo = cJSON_CreateObject();
        cJSON_AddNumberToObject(fo, "frame", i);
        cJSON_AddNumberToObject(fo, "found", n);
        cJSON *dots = cJSON_AddArrayToObject(fo, "dots");
        for (uint32_t k = 0; k < n; k++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "x", round(d[k].x * 100) / 100);
            cJSON_AddNumberToObject(o, "y", round(d[k].y * 100) / 100);
            cJSON_AddNumberToObject(o, "peak", round(d[k].peak * 10) / 10);
            cJSON_AddItemToArray(dots, o);
        }
        cJSON_AddItemToArray(list, fo);
    }
    cJSON_AddNumberToObject(root, "frames", done);
    cJSON_AddNumberToObject(root, "frames_with_all_wires", all);
    cJSON_AddNumberToObject(root, "fraction", done ? round(1000.0 * all / done) / 1000 : 0);
    cJSON_AddItemToObject(root, "dots_per_frame", list);
    if (json) {
        char *t = cJSON_Print(root);
        if (t)
            puts(t);
        free(t);
    } else {
        printf("%s: %u of %u frames with all %u wire dots\n", path, all, done, wires);
    }
    cJSON_Delete(root);
    tl_recording_close(r);
    return rc;
}

static void iso(uint64_t t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One probe's state as JSON (and the current record in full when asked). */
static cJSON *probe_state(const char *dir, const char *serial, bool full)
{
    tl_cal_state s;
    tl_cal_record rec;
    tl_cal_check(dir, serial, tl_wall_time_s(), &s, &rec);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "serial", serial);
    cJSON_AddStringToObject(o, "state", tl_cal_state_name(s));
    char msg[256];
    tl_cal_state_message(s, serial, msg, sizeof msg);
    cJSON_AddStringToObject(o, "message", msg);
    uint32_t count = 0, newest = 0;
    tl_cal_history(dir, serial, &count, &newest);
    cJSON_AddNumberToObject(o, "versions", count);
    if (rec.version) {
        char d[32];
        cJSON_AddStringToObject(o, "record", rec.path);
        cJSON_AddNumberToObject(o, "version", rec.version);
        iso(rec.created_s, d, sizeof d);
        cJSON_AddStringToObject(o, "created", d);
        iso(rec.expires_s, d, sizeof d);
        cJSON_AddStringToObject(o, "expires", d);
        cJSON_AddStringToObject(o, "technician", rec.technician);
        cJSON_AddBoolToObject(o, "pass", rec.pass);
        cJSON_AddBoolToObject(o, "spatial_correction", rec.has_spatial);
        if (full) {
            char *text = NULL;
            if (tl_cal_record_json(rec.path, &text) == TL_OK) {
                cJSON *j = cJSON_Parse(text);
                if (j)
                    cJSON_AddItemToObject(o, "current", j);
            }
            free(text);
        }
    } else {
        cJSON_AddNullToObject(o, "record");
    }
    return o;
}

int cal_cmd_show(int argc, char **argv)
{
    const char *serial = NULL, *cal_dir = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: talus calibrate show [--probe SERIAL] [--json] [--cal-dir DIR]\n"
                   "  The current calibration record of a probe and its state (valid,\n"
                   "  missing, expired, mismatched, failed, corrupt); without --probe every\n"
                   "  probe in the store.\n");
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--probe") == 0 && i + 1 < argc) {
            serial = argv[++i];
        } else if (strcmp(argv[i], "--cal-dir") == 0 && i + 1 < argc) {
            cal_dir = argv[++i];
        } else {
            fprintf(stderr, "talus calibrate show: unexpected '%s'\n", argv[i]);
            return 2;
        }
    }
    char dir[1024];
    if (cal_dir)
        snprintf(dir, sizeof dir, "%s", cal_dir);
    else if (tl_cal_default_dir(dir, sizeof dir) != TL_OK) {
        fprintf(stderr, "talus calibrate show: no store directory: set TALUS_CAL_DIR\n");
        return 1;
    }
    cJSON *root;
    if (serial) {
        root = probe_state(dir, serial, true);
    } else {
        root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "dir", dir);
        cJSON *arr = cJSON_AddArrayToObject(root, "probes");
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (e->d_name[0] != '.')
                cJSON_AddItemToArray(arr, probe_state(dir, e->d_name, false));
        if (d)
            closedir(d);
    }
    if (json) {
        char *t = cJSON_Print(root);
        if (t)
            puts(t);
        free(t);
    } else if (serial) {
        cJSON *st = cJSON_GetObjectItem(root, "state"), *rec = cJSON_GetObjectItem(root, "record");
        cJSON *msg = cJSON_GetObjectItem(root, "message");
        printf("probe %s: calibration %s%s%s\n", serial, st->valuestring,
               cJSON_IsString(rec) ? ", record " : "", cJSON_IsString(rec) ? rec->valuestring : "");
        if (msg->valuestring[0])
            printf("warning: %s\n", msg->valuestring);
    } else {
        cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItem(root, "probes"))
            printf("%-16s %s\n", cJSON_GetObjectItem(p, "serial")->valuestring,
                   cJSON_GetObjectItem(p, "state")->valuestring);
    }
    cJSON_Delete(root);
    return 0;
}
