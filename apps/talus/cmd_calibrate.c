/* talus calibrate spatial|elements|uniformity|needle-guide|detect-wires|show
 *
 * Each procedure acquires frames through the driver (the simulated probe on
 * the emulated bus with --sim, else a real probe), runs the calibration
 * library, stores a new record version for the probe's serial and prints ONE
 * JSON object with the estimates, residuals, `pass` and `record`. */
#include "commands.h"
#include "calibrate.h"
#include "tl_protocol.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *proc;
    cal_source src;
    bool json;
    const char *plot;
    const char *technician;
    uint32_t valid_days;
    const char *cal_dir;
    bool no_store;
    float nominal_deg;
    const char *phantom;
    /* the simulated probe's errors, echoed as sim_truth */
    cJSON *sim_errors;
} opts;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: talus calibrate PROCEDURE [options]\n"
        "  spatial       wire phantom: scale, offset, speed of sound   (--sim wire-phantom)\n"
        "  elements      in-air ring-down: dead and weak elements      (--sim in-air)\n"
        "  uniformity    uniform phantom: depth tilt and TGC correction (--sim uniform-phantom)\n"
        "  needle-guide  guide bracket line: angle and offset          (--sim needle-guide)\n"
        "  detect-wires FILE.mha --wires N [--json]   wire dots in B-mode frames\n"
        "  show [--probe SERIAL] [--json]             stored record and its state\n"
        "  eval [--cases N] [--seed S] [--json]       accuracy over randomised simulated cases\n"
        "options of the procedures:\n"
        "  --sim PRESET            the simulated probe (else a real probe through the driver)\n"
        "  --probe SERIAL          the probe to open (simulated: its serial, default TLSIM0001)\n"
        "  --seed N                simulator seed (default 1)\n"
        "  --frames N              frames to acquire (default 8; uniformity: 12 + 12 to check)\n"
        "  --json                  print ONE JSON object\n"
        "  --plot OUT.png          a picture for the technician\n"
        "  --technician NAME       stored in the record (default $USER)\n"
        "  --valid-days D          record validity (default 365)\n"
        "  --cal-dir DIR           record store (default $TALUS_CAL_DIR or\n"
        "                          ~/.local/share/talus/calibration)\n"
        "  --no-store              do not write a record\n"
        "  --nominal-deg A         needle-guide: the bracket's marked angle (pass within 2 deg)\n"
        "  --phantom FILE.json     spatial with a real probe: {\"wires\":[{\"x_mm\":..,\"z_mm\":..}]}\n"
        "  --sim-param K=V         any other simulator parameter (e.g. convex=1; repeatable)\n"
        "simulated probe errors:\n"
        "  --sim-sos-error-pct P  --sim-lateral-offset-mm D  --sim-dead-elements I,J,..\n"
        "  --sim-weak-elements I,J,..  --sim-gain-tilt-db G  --sim-guide-angle-deg A\n"
        "exit status: 0 pass, 1 fail or error, 2 bad usage\n");
}

static bool add_sim_param(opts *o, const char *key, const char *value)
{
    size_t len = strlen(o->src.sim_params);
    int n = snprintf(o->src.sim_params + len, sizeof o->src.sim_params - len, "%s%s=%s",
                     len ? "," : "", key, value);
    return n > 0 && (size_t)n < sizeof o->src.sim_params - len;
}

/* "3,17,90" -> "3 17 90" (the simulator's list syntax; commas separate
 * parameters on the way to the simulated probe). */
static bool element_list(const char *in, char *out, size_t size, cJSON *arr)
{
    if (!*in || strlen(in) >= size)
        return false;
    for (size_t i = 0; in[i]; i++) {
        if (!isdigit((unsigned char)in[i]) && in[i] != ',')
            return false;
        out[i] = in[i] == ',' ? ' ' : in[i];
        out[i + 1] = '\0';
    }
    for (const char *p = in; *p;) {
        while (*p == ',')
            p++;
        if (!*p)
            break;
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(strtol(p, (char **)&p, 10)));
    }
    return true;
}

/* Numbers as a person wrote them (no float noise like 0.20000000298). */
static double r6(double v) { return round(v * 1e6) / 1e6; }

static bool parse_float(const char *s, float *v)
{
    char *end;
    double d = strtod(s, &end);
    if (end == s || *end || !isfinite(d))
        return false;
    *v = (float)d;
    return true;
}

static int parse(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->src.seed = 1;
    o->valid_days = 365;
    o->nominal_deg = NAN;
    o->sim_errors = cJSON_CreateObject();
    o->technician = getenv("USER") ? getenv("USER") : "unknown";
    o->proc = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        float f;
        char buf[200];
        if (strcmp(a, "--json") == 0) { o->json = true; continue; }
        if (strcmp(a, "--no-store") == 0) { o->no_store = true; continue; }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { usage(stdout); return 0; }
        if (!v) {
            fprintf(stderr, "talus calibrate: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--sim") == 0) o->src.preset = v;
        else if (strcmp(a, "--probe") == 0) o->src.serial = v;
        else if (strcmp(a, "--seed") == 0) o->src.seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--frames") == 0) o->src.frames = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--plot") == 0) o->plot = v;
        else if (strcmp(a, "--technician") == 0) o->technician = v;
        else if (strcmp(a, "--valid-days") == 0) o->valid_days = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--cal-dir") == 0) o->cal_dir = v;
        else if (strcmp(a, "--phantom") == 0) o->phantom = v;
        else if (strcmp(a, "--sim-param") == 0) {
            /* any other simulator parameter, e.g. convex=1 (lists: spaces) */
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || strchr(v, ',') ||
                strlen(o->src.sim_params) + strlen(v) + 2 > sizeof o->src.sim_params)
                goto bad;
            size_t len = strlen(o->src.sim_params);
            snprintf(o->src.sim_params + len, sizeof o->src.sim_params - len, "%s%s",
                     len ? "," : "", v);
        }
        else if (strcmp(a, "--nominal-deg") == 0) {
            if (!parse_float(v, &o->nominal_deg)) goto bad;
        } else if (strncmp(a, "--sim-", 6) == 0) {
            static const struct { const char *opt, *key; bool list; } map[] = {
                { "--sim-sos-error-pct", "sos_error_pct", false },
                { "--sim-lateral-offset-mm", "lateral_offset_mm", false },
                { "--sim-dead-elements", "dead_elements", true },
                { "--sim-weak-elements", "weak_elements", true },
                { "--sim-gain-tilt-db", "gain_tilt_db", false },
                { "--sim-guide-angle-deg", "guide_angle_deg", false },
            };
            size_t k = 0;
            while (k < sizeof map / sizeof map[0] && strcmp(a, map[k].opt) != 0)
                k++;
            if (k == sizeof map / sizeof map[0]) {
                fprintf(stderr, "talus calibrate: unknown option %s\n", a);
                return 2;
            }
            if (map[k].list) {
                cJSON *arr = cJSON_AddArrayToObject(o->sim_errors, map[k].key);
                if (!element_list(v, buf, sizeof buf, arr) || !add_sim_param(o, map[k].key, buf))
                    goto bad;
            } else {
                if (!parse_float(v, &f) || !add_sim_param(o, map[k].key, v))
                    goto bad;
                cJSON_AddNumberToObject(o->sim_errors, map[k].key, strtod(v, NULL));
            }
        } else {
            fprintf(stderr, "talus calibrate: unknown option %s\n", a);
            return 2;
        }
        continue;
    bad:
        fprintf(stderr, "talus calibrate: bad value for %s: '%s'\n", a, v);
        return 2;
    }
    if (o->src.sim_params[0] && !o->src.preset) {
        fprintf(stderr, "talus calibrate: --sim-* options need --sim PRESET\n");
        return 2;
    }
    if (o->valid_days == 0 || o->valid_days > 3650) {
        fprintf(stderr, "talus calibrate: --valid-days must be 1..3650\n");
        return 2;
    }
    return -1;   /* go on */
}

static cJSON *num_array(const float *v, uint32_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(isfinite(v[i]) ? round(v[i] * 1e4) / 1e4 : 0));
    return a;
}

static tl_status add_spatial(void *a, const float *e) { return tl_cal_spatial_add(a, e); }
static tl_status add_elements(void *a, const float *e) { return tl_cal_elements_add(a, e); }
static tl_status add_uniformity(void *a, const float *e) { return tl_cal_uniformity_add(a, e); }
static tl_status add_guide(void *a, const float *e) { return tl_cal_guide_add(a, e); }

static int run_spatial(opts *o, const cal_frames *f, cJSON *res, cJSON *tol, bool *pass,
                       tl_cal_spatial_result *r)
{
    float wx[TL_CAL_MAX_WIRES], wz[TL_CAL_MAX_WIRES];
    uint32_t nw = 0;
    if (o->phantom) {
        if (cal_load_phantom(o->phantom, wx, wz, &nw))
            return 1;
    } else if (f->have_truth && f->truth->n_wires >= 4) {
        nw = f->truth->n_wires < TL_CAL_MAX_WIRES ? f->truth->n_wires : TL_CAL_MAX_WIRES;
        memcpy(wx, f->truth->wire_x_mm, nw * sizeof *wx);
        memcpy(wz, f->truth->wire_z_mm, nw * sizeof *wz);
    } else {
        fprintf(stderr, "talus calibrate spatial: the phantom's wires are unknown: use "
                        "--sim wire-phantom or --phantom FILE.json\n");
        return 1;
    }
    tl_cal_spatial *sp;
    tl_status st = tl_cal_spatial_create(wx, wz, nw, &f->geom, &sp);
    if (st != TL_OK) {
        fprintf(stderr, "talus calibrate spatial: %s\n", tl_strerror(st));
        return 1;
    }
    tl_cal_spatial_tol t = tl_cal_spatial_tol_default();
    int rc = cal_each_envelope(f, 0, f->n, add_spatial, sp);
    if (rc == 0 && (st = tl_cal_spatial_finish(sp, &t, r)) != TL_OK) {
        fprintf(stderr, "talus calibrate spatial: only %u wires matched: %s\n", r->n_matched,
                tl_strerror(st));
        rc = 1;
    }
    tl_cal_spatial_destroy(sp);
    if (rc)
        return rc;
    cJSON_AddNumberToObject(res, "speed_of_sound_m_s", round(r->speed_of_sound_m_s * 100) / 100);
    cJSON_AddNumberToObject(res, "axial_scale_err_pct", round(r->axial_scale_err_pct * 1e4) / 1e4);
    cJSON_AddNumberToObject(res, "lateral_offset_mm", round(r->lateral_offset_mm * 1e4) / 1e4);
    cJSON_AddNumberToObject(res, "residual_mm", round(r->residual_mm * 1e4) / 1e4);
    cJSON_AddNumberToObject(res, "residual_before_mm", round(r->residual_before_mm * 1e4) / 1e4);
    cJSON_AddNumberToObject(res, "residual_max_mm", round(r->residual_max_mm * 1e4) / 1e4);
    cJSON_AddNumberToObject(res, "axial_scale", r->axial_scale);
    cJSON_AddNumberToObject(res, "lateral_scale", r->lateral_scale);
    cJSON_AddNumberToObject(res, "lateral_scale_err_pct", round(r->lateral_scale_err_pct * 1e4) / 1e4);
    cJSON_AddNumberToObject(res, "axial_offset_mm", round(r->axial_offset_mm * 1e4) / 1e4);
    cJSON_AddNumberToObject(res, "wires_total", r->n_wires);
    cJSON_AddNumberToObject(res, "wires_matched", r->n_matched);
    cJSON *ws = cJSON_AddArrayToObject(res, "wires");
    for (uint32_t w = 0; w < nw; w++) {
        cJSON *o1 = cJSON_CreateObject();
        cJSON_AddNumberToObject(o1, "x_mm", r->wire_x_mm[w]);
        cJSON_AddNumberToObject(o1, "z_mm", r->wire_z_mm[w]);
        if (isfinite(r->wire_residual_mm[w])) {
            cJSON_AddNumberToObject(o1, "found_x_mm", round(r->found_x_mm[w] * 1e4) / 1e4);
            cJSON_AddNumberToObject(o1, "found_z_mm", round(r->found_z_mm[w] * 1e4) / 1e4);
            cJSON_AddNumberToObject(o1, "residual_mm", round(r->wire_residual_mm[w] * 1e4) / 1e4);
        } else {
            cJSON_AddNullToObject(o1, "residual_mm");
        }
        cJSON_AddItemToArray(ws, o1);
    }
    cJSON_AddNumberToObject(tol, "residual_mm", r6(t.residual_mm));
    cJSON_AddNumberToObject(tol, "max_scale_err_pct", r6(t.max_scale_err_pct));
    cJSON_AddNumberToObject(tol, "max_offset_mm", r6(t.max_offset_mm));
    cJSON_AddNumberToObject(tol, "min_matched_frac", r6(t.min_matched_frac));
    *pass = r->pass;
    if (o->plot && cal_plot_spatial(o->plot, f, r))
        return 1;
    return 0;
}

static cJSON *uint_array(const uint32_t *v, uint32_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static int run_elements(opts *o, const cal_frames *f, cJSON *res, cJSON *tol, bool *pass)
{
    uint32_t elements = f->id.elements ? f->id.elements : f->geom.lines;
    tl_cal_elements *e;
    tl_status st = tl_cal_elements_create(&f->geom, elements, &e);
    if (st != TL_OK) {
        fprintf(stderr, "talus calibrate elements: %s\n", tl_strerror(st));
        return 1;
    }
    tl_cal_elements_tol t = tl_cal_elements_tol_default();
    tl_cal_elements_result *r = malloc(sizeof *r);
    int rc = r ? cal_each_envelope(f, 0, f->n, add_elements, e) : 1;
    if (rc == 0 && (st = tl_cal_elements_finish(e, &t, r)) != TL_OK) {
        fprintf(stderr, "talus calibrate elements: %s\n", tl_strerror(st));
        rc = 1;
    }
    tl_cal_elements_destroy(e);
    if (rc == 0) {
        cJSON_AddItemToObject(res, "dead", uint_array(r->dead, r->n_dead));
        cJSON_AddItemToObject(res, "weak", uint_array(r->weak, r->n_weak));
        cJSON_AddNumberToObject(res, "elements", r->elements);
        cJSON_AddNumberToObject(res, "ringdown_mm", round(r->ringdown_mm * 1000) / 1000);
        cJSON_AddNumberToObject(res, "neighbour_loss_db", round(r->neighbour_loss_db * 1000) / 1000);
        cJSON_AddItemToObject(res, "sensitivity_db", num_array(r->sensitivity_db, r->elements));
        cJSON_AddNumberToObject(tol, "dead_db", r6(t.dead_db));
        cJSON_AddNumberToObject(tol, "weak_db", r6(t.weak_db));
        cJSON_AddNumberToObject(tol, "max_weak", t.max_weak);
        *pass = r->pass;
        if (o->plot && cal_plot_elements(o->plot, r))
            rc = 1;
    }
    free(r);
    return rc;
}

static int run_uniformity(opts *o, cal_frames *f, cJSON *res, cJSON *tol, bool *pass)
{
    tl_cal_uniformity *u;
    tl_status st = tl_cal_uniformity_create(&f->geom, &u);
    if (st != TL_OK) {
        fprintf(stderr, "talus calibrate uniformity: %s\n", tl_strerror(st));
        return 1;
    }
    tl_cal_uniformity_tol t = tl_cal_uniformity_tol_default();
    tl_cal_uniformity_result r;
    int rc = cal_each_envelope(f, 0, f->n, add_uniformity, u);
    /* the check: new frames from the probe with the correction loaded as its
     * TGC when it honours one, else corrected here */
    bool probe_tgc = (f->id.capabilities & TL_CAP_TGC) != 0;
    cal_frames chk;
    memset(&chk, 0, sizeof chk);
    if (rc == 0 && (st = tl_cal_uniformity_fit(u, probe_tgc)) != TL_OK)
        rc = 1;
    if (rc == 0) {
        cal_source s2 = o->src;
        s2.seed = o->src.seed + 1000;   /* independent speckle */
        if (probe_tgc) {
            s2.set_tgc = true;
            tl_cal_uniformity_tgc(u, s2.tgc_db);
        }
        rc = cal_acquire(&s2, &chk);
    }
    if (rc == 0)
        rc = cal_each_envelope(&chk, 0, chk.n, add_uniformity, u);
    if (rc == 0 && (st = tl_cal_uniformity_finish(u, &t, &r)) != TL_OK) {
        fprintf(stderr, "talus calibrate uniformity: %s\n", tl_strerror(st));
        rc = 1;
    }
    cal_frames_free(&chk);
    tl_cal_uniformity_destroy(u);
    if (rc)
        return rc;
    cJSON_AddNumberToObject(res, "tilt_db", round(r.tilt_db * 1000) / 1000);
    cJSON_AddNumberToObject(res, "corrected_tilt_db", round(r.corrected_tilt_db * 1000) / 1000);
    cJSON_AddNumberToObject(res, "lateral_db", round(r.lateral_db * 1000) / 1000);
    cJSON_AddStringToObject(res, "correction_applied", probe_tgc ? "probe_tgc" : "software");
    cJSON_AddNumberToObject(res, "frames_fit", r.frames);
    cJSON_AddNumberToObject(res, "frames_check", r.check_frames);
    cJSON_AddNumberToObject(res, "z0_mm", round(r.z0_mm * 1000) / 1000);
    cJSON_AddNumberToObject(res, "z1_mm", round(r.z1_mm * 1000) / 1000);
    cJSON_AddItemToObject(res, "tgc_db", num_array(r.tgc_db, 8));
    cJSON_AddItemToObject(res, "depth_mm", num_array(r.depth_mm, r.points));
    cJSON_AddItemToObject(res, "level_db", num_array(r.level_db, r.points));
    cJSON_AddItemToObject(res, "correction_db", num_array(r.correction_db, r.points));
    cJSON_AddItemToObject(res, "corrected_db", num_array(r.corrected_db, r.points));
    cJSON_AddNumberToObject(tol, "max_tilt_db", r6(t.max_tilt_db));
    cJSON_AddNumberToObject(tol, "max_lateral_db", r6(t.max_lateral_db));
    *pass = r.pass;
    if (o->plot && cal_plot_uniformity(o->plot, &r))
        return 1;
    return 0;
}

static int run_guide(opts *o, const cal_frames *f, cJSON *res, cJSON *tol, bool *pass)
{
    tl_cal_guide *g;
    tl_status st = tl_cal_guide_create(&f->geom, &g);
    if (st != TL_OK) {
        fprintf(stderr, "talus calibrate needle-guide: %s\n", tl_strerror(st));
        return 1;
    }
    tl_cal_guide_tol t = { .max_angle_err_deg = 2.0f };
    tl_cal_guide_result r;
    int rc = cal_each_envelope(f, 0, f->n, add_guide, g);
    if (rc == 0 && (st = tl_cal_guide_finish(g, o->nominal_deg, &t, &r)) != TL_OK) {
        fprintf(stderr, "talus calibrate needle-guide: no needle line found: %s\n",
                tl_strerror(st));
        rc = 1;
    }
    tl_cal_guide_destroy(g);
    if (rc)
        return rc;
    cJSON_AddNumberToObject(res, "angle_deg", round(r.angle_deg * 1e4) / 1e4);
    cJSON_AddNumberToObject(res, "offset_mm", round(r.offset_mm * 1e4) / 1e4);
    cJSON_AddNumberToObject(res, "residual_mm", round(r.residual_mm * 1e4) / 1e4);
    cJSON_AddNumberToObject(res, "points", r.points);
    if (isfinite(r.nominal_deg))
        cJSON_AddNumberToObject(res, "nominal_deg", r.nominal_deg);
    cJSON_AddNumberToObject(tol, "max_angle_err_deg", r6(t.max_angle_err_deg));
    cJSON_AddNumberToObject(tol, "max_residual_mm", 0.3);
    *pass = r.pass;
    if (o->plot && cal_plot_guide(o->plot, f, &r))
        return 1;
    return 0;
}

/* What the simulator says the truth is, next to the estimates. */
static void add_truth(cJSON *root, const opts *o, const cal_frames *f)
{
    cJSON *t = cJSON_Duplicate(o->sim_errors, true);
    if (f->have_truth && f->truth->needle.present) {
        const tl_sim_needle *n = &f->truth->needle;
        double th = n->angle_deg * M_PI / 180.0;
        cJSON_AddNumberToObject(t, "needle_angle_deg", n->angle_deg);
        cJSON_AddNumberToObject(t, "needle_offset_mm",
                                round((n->entry_x_mm - n->entry_z_mm / tan(th)) * 1e4) / 1e4);
    }
    cJSON_AddItemToObject(root, "sim_truth", t);
}

static const char *default_preset(const char *proc)
{
    if (strcmp(proc, "spatial") == 0) return "wire-phantom";
    if (strcmp(proc, "elements") == 0) return "in-air";
    if (strcmp(proc, "uniformity") == 0) return "uniform-phantom";
    return "needle-guide";
}

int cmd_calibrate(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "detect-wires") == 0)
        return cal_cmd_detect_wires(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return cal_cmd_show(argc - 1, argv + 1);
    if (strcmp(argv[1], "eval") == 0)
        return cal_cmd_eval(argc - 1, argv + 1);
    const char *procs[] = { "spatial", "elements", "uniformity", "needle-guide" };
    bool known = false;
    for (int i = 0; i < 4; i++)
        known = known || strcmp(argv[1], procs[i]) == 0;
    if (!known) {
        fprintf(stderr, "talus calibrate: unknown procedure '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc >= 0) {
        cJSON_Delete(o.sim_errors);
        return rc;
    }
    if (o.src.frames == 0)
        o.src.frames = strcmp(o.proc, "uniformity") == 0 ? 12 : 8;
    if (o.src.preset && strcmp(o.src.preset, default_preset(o.proc)) != 0)
        fprintf(stderr, "talus calibrate %s: note: preset %s (the procedure expects %s)\n",
                o.proc, o.src.preset, default_preset(o.proc));
    char dir[1024];
    if (!o.no_store) {
        if (o.cal_dir)
            snprintf(dir, sizeof dir, "%s", o.cal_dir);
        else if (tl_cal_default_dir(dir, sizeof dir) != TL_OK) {
            fprintf(stderr, "talus calibrate: no store directory: set TALUS_CAL_DIR or --cal-dir\n");
            cJSON_Delete(o.sim_errors);
            return 1;
        }
    }
    cal_frames f;
    if (cal_acquire(&o.src, &f)) {
        cJSON_Delete(o.sim_errors);
        return 1;
    }
    fprintf(stderr, "talus calibrate %s: %u frames of %u x %u from %s %s\n", o.proc, f.n,
            f.geom.lines, f.geom.samples, f.id.model, f.id.serial);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "procedure", o.proc);
    cJSON *probe = cJSON_AddObjectToObject(root, "probe");
    cJSON_AddStringToObject(probe, "serial", f.id.serial);
    cJSON_AddStringToObject(probe, "model", f.id.model);
    cJSON_AddStringToObject(probe, "firmware", f.id.firmware);
    cJSON_AddStringToObject(root, "source", o.src.preset ? "simulated probe (USB)" : "probe (USB)");
    if (o.src.preset) {
        cJSON_AddStringToObject(root, "preset", o.src.preset);
        cJSON_AddNumberToObject(root, "seed", (double)o.src.seed);
    }
    cJSON_AddNumberToObject(root, "frames", f.n);
    cJSON *res = cJSON_CreateObject(), *tol = cJSON_CreateObject();
    bool pass = false;
    tl_cal_spatial_result sres;
    if (strcmp(o.proc, "spatial") == 0)
        rc = run_spatial(&o, &f, res, tol, &pass, &sres);
    else if (strcmp(o.proc, "elements") == 0)
        rc = run_elements(&o, &f, res, tol, &pass);
    else if (strcmp(o.proc, "uniformity") == 0)
        rc = run_uniformity(&o, &f, res, tol, &pass);
    else
        rc = run_guide(&o, &f, res, tol, &pass);
    if (rc == 0) {
        /* the estimates at the top level, as the issue names them */
        cJSON *it;
        cJSON_ArrayForEach(it, res)
            cJSON_AddItemToObject(root, it->string, cJSON_Duplicate(it, true));
        cJSON_AddItemToObject(root, "tolerances", cJSON_Duplicate(tol, true));
        cJSON_AddBoolToObject(root, "pass", pass);
        if (o.src.preset)
            add_truth(root, &o, &f);
        if (o.no_store) {
            cJSON_AddNullToObject(root, "record");
        } else {
            cJSON *pj = cJSON_CreateObject();
            cJSON_AddItemToObject(pj, "results", cJSON_Duplicate(res, true));
            cJSON_AddItemToObject(pj, "tolerances", cJSON_Duplicate(tol, true));
            cJSON_AddNumberToObject(pj, "frames", f.n);
            cJSON_AddStringToObject(pj, "source", o.src.preset ? o.src.preset : "probe");
            char *pt = cJSON_PrintUnformatted(pj);
            cJSON_Delete(pj);
            tl_cal_procedure proc = { .name = o.proc, .json = pt, .pass = pass };
            tl_cal_record rec;
            tl_status st = pt ? tl_cal_store_write(dir, f.id.serial, f.id.model, o.technician,
                                                   &proc, o.valid_days, tl_wall_time_s(), &rec)
                              : TL_ERR_NO_MEM;
            free(pt);
            if (st != TL_OK) {
                fprintf(stderr, "talus calibrate: cannot store the record in %s: %s\n", dir,
                        tl_strerror(st));
                cJSON_AddNullToObject(root, "record");
                rc = 1;
            } else {
                cJSON_AddStringToObject(root, "record", rec.path);
                cJSON_AddNumberToObject(root, "record_version", rec.version);
                char date[32];
                time_t e = (time_t)rec.expires_s;
                struct tm tm;
                gmtime_r(&e, &tm);
                strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
                cJSON_AddStringToObject(root, "expires", date);
            }
        }
        if (o.json) {
            char *text = cJSON_Print(root);
            if (text)
                puts(text);
            free(text);
        } else {
            cJSON *rec = cJSON_GetObjectItem(root, "record");
            printf("%s calibration of %s: %s%s%s\n", o.proc, f.id.serial, pass ? "PASS" : "FAIL",
                   cJSON_IsString(rec) ? ", record " : "",
                   cJSON_IsString(rec) ? rec->valuestring : "");
            char *text = cJSON_Print(res);
            if (text)
                puts(text);
            free(text);
        }
    }
    cJSON_Delete(res);
    cJSON_Delete(tol);
    cJSON_Delete(root);
    cJSON_Delete(o.sim_errors);
    cal_frames_free(&f);
    if (rc)
        return rc;
    return pass ? 0 : 1;
}
