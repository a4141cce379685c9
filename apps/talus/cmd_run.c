/* talus run: the navigation station (ui/tl_ui.h).
 *
 *   talus run [--sim PRESET [--seed N] | --probe SERIAL | --replay FILE.mha]
 *             [--headless --frames N --out DIR] [--script FILE] [--db FILE] ...
 *
 * With --sim this runs as talus-sim: the simulated probe is put on the
 * emulated USB bus here, and the station opens it through the driver like
 * any probe. The script's "button" and "fault" events are wired to that
 * probe's interrupt endpoint and fault injection. */
#include "commands.h"
#include "tl_simusb.h"
#include "tl_ui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: talus run [--sim PRESET [--seed N] [--sim-param K=V,...] [--faults LIST]\n"
            "                        [--sim-cycle N]\n"
            "                 | --probe SERIAL | --replay FILE.mha [--replay-fps F]]\n"
            "                 [--headless --frames N --out DIR] [--script FILE] [--db FILE]\n"
            "                 [--fps F] [--seconds S] [--snapshot-every N] [--size WxH]\n"
            "                 [--anatomy plantar-fascia|achilles|ankle-recess]\n"
            "                 [--needle-side L|R|off]\n"
            "                 [--patient ID --side L|R --operator NAME [--diagnosis TEXT]\n"
            "                  [--age YEARS] [--sex M|F]]\n"
            "                 [--product NAME [--lot LOT] [--expiry DATE] [--volume ML]]\n\n"
            "Opens the SDL2 navigation station on a probe (--sim: the simulated probe on\n"
            "an emulated USB bus), or headless (--headless) rendering the same overlay\n"
            "offscreen, writing PNG snapshots and OUT/summary.json (frames, fps,\n"
            "latency_ms {p50, p99}, drops, injections_logged, session_id, db), which is\n"
            "also printed on stdout. --script FILE replays operator events (format in\n"
            "ui/README.md). Every headless or simulated run records a session (a demo\n"
            "patient unless --patient or the script gives one).\n"
            "--sim-cycle N pre-renders N simulator frames and cycles them, so the\n"
            "simulator's own rendering does not compete with the station for the CPU\n"
            "(a real probe does its acoustics in hardware): use it to measure latency.\n"
            "--needle-side L|R: needle guidance with needle enhancement for a needle\n"
            "inserted from the image's left (L) or right (R): a probe that steers its\n"
            "beams is asked for the scheme `talus eval needle` measures (steered towards\n"
            "that side, one straight frame in 4 for display and tissue analysis).\n");
}

typedef struct {
    tl_simusb *sim;
} sim_ctx;

static int hook_button(void *user)
{
    sim_ctx *c = user;
    return c->sim ? tl_simusb_press_button(c->sim) : TL_ERR_NOT_FOUND;
}

static int hook_fault(void *user, const char *name)
{
    sim_ctx *c = user;
    uint32_t mask;
    if (!c->sim || tl_fault_parse(name, &mask, NULL) != TL_OK || !mask)
        return TL_ERR_INVALID_ARG;
    for (uint32_t bit = 1; bit && bit <= mask; bit <<= 1)
        if (mask & bit) {
            tl_status s = tl_simusb_inject(c->sim, (tl_fault_kind)bit);
            if (s != TL_OK)
                return s;
        }
    return TL_OK;
}

static int parse_num(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end;
    double d = v ? strtod(v, &end) : 0;
    if (!v || end == v || *end || d < lo || d > hi) {
        fprintf(stderr, "talus run: %s needs a number in [%g, %g], got '%s'\n", opt, lo, hi,
                v ? v : "");
        return -1;
    }
    *out = d;
    return 0;
}

int cmd_run(int argc, char **argv)
{
    tl_station_config cfg = tl_station_config_default();
    const char *preset = NULL, *sim_params = NULL, *faults = NULL;
    double seed = 1, v;
    uint32_t sim_cycle = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE() (i++, val)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--headless"))
            cfg.headless = true;
        else if (!val) {
            fprintf(stderr, "talus run: %s needs a value (or is unknown)\n\n", a);
            usage(stderr);
            return 2;
        } else if (!strcmp(a, "--sim"))
            preset = TAKE();
        else if (!strcmp(a, "--seed")) {
            if (parse_num(a, TAKE(), 0, 1e15, &seed))
                return 2;
        } else if (!strcmp(a, "--sim-param"))
            sim_params = TAKE();
        else if (!strcmp(a, "--sim-cycle")) {
            if (parse_num(a, TAKE(), 1, 600, &v))
                return 2;
            sim_cycle = (uint32_t)v;
        } else if (!strcmp(a, "--faults"))
            faults = TAKE();
        else if (!strcmp(a, "--probe"))
            cfg.probe_serial = TAKE();
        else if (!strcmp(a, "--replay"))
            cfg.replay_path = TAKE();
        else if (!strcmp(a, "--replay-fps")) {
            if (parse_num(a, TAKE(), 1, 500, &v))
                return 2;
            cfg.replay_fps = (float)v;
        } else if (!strcmp(a, "--frames")) {
            if (parse_num(a, TAKE(), 1, 1e8, &v))
                return 2;
            cfg.frames = (uint32_t)v;
        } else if (!strcmp(a, "--seconds")) {
            if (parse_num(a, TAKE(), 0.1, 1e6, &cfg.max_seconds))
                return 2;
        } else if (!strcmp(a, "--fps")) {
            if (parse_num(a, TAKE(), 1, 200, &v))
                return 2;
            cfg.fps = (float)v;
        } else if (!strcmp(a, "--snapshot-every")) {
            if (parse_num(a, TAKE(), 1, 1e8, &v))
                return 2;
            cfg.snapshot_every = (uint32_t)v;
        } else if (!strcmp(a, "--size")) {
            unsigned w, h;
            const char *s = TAKE();
            if (sscanf(s, "%ux%u", &w, &h) != 2 || w < 1024 || h < 700 || w > 8192 || h > 8192) {
                fprintf(stderr, "talus run: --size needs WxH of at least 1024x700\n");
                return 2;
            }
            cfg.width = w;
            cfg.height = h;
        } else if (!strcmp(a, "--out"))
            cfg.out_dir = TAKE();
        else if (!strcmp(a, "--script"))
            cfg.script_path = TAKE();
        else if (!strcmp(a, "--db"))
            cfg.db_path = TAKE();
        else if (!strcmp(a, "--anatomy"))
            cfg.anatomy = TAKE();
        else if (!strcmp(a, "--patient"))
            cfg.patient = TAKE();
        else if (!strcmp(a, "--operator"))
            cfg.operator_name = TAKE();
        else if (!strcmp(a, "--diagnosis"))
            cfg.diagnosis = TAKE();
        else if (!strcmp(a, "--side")) {
            const char *s = TAKE();
            if ((s[0] != 'L' && s[0] != 'R') || s[1]) {
                fprintf(stderr, "talus run: --side is L or R\n");
                return 2;
            }
            cfg.side = s[0];
        } else if (!strcmp(a, "--needle-side")) {
            const char *s = TAKE();
            if (!strcmp(s, "L") || !strcmp(s, "left"))
                cfg.needle_side = 1;
            else if (!strcmp(s, "R") || !strcmp(s, "right"))
                cfg.needle_side = -1;
            else if (!strcmp(s, "off"))
                cfg.needle_side = 0;
            else {
                fprintf(stderr, "talus run: --needle-side is L, R or off\n");
                return 2;
            }
        } else if (!strcmp(a, "--sex")) {
            const char *s = TAKE();
            if ((s[0] != 'M' && s[0] != 'F') || s[1]) {
                fprintf(stderr, "talus run: --sex is M or F\n");
                return 2;
            }
            cfg.sex = s[0];
        } else if (!strcmp(a, "--age")) {
            if (parse_num(a, TAKE(), 1, 120, &v))
                return 2;
            cfg.age = (int)v;
        } else if (!strcmp(a, "--product"))
            cfg.product = TAKE();
        else if (!strcmp(a, "--lot"))
            cfg.lot = TAKE();
        else if (!strcmp(a, "--expiry"))
            cfg.expiry = TAKE();
        else if (!strcmp(a, "--volume")) {
            if (parse_num(a, TAKE(), 0.01, 100, &cfg.volume_ml))
                return 2;
        } else {
            fprintf(stderr, "talus run: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
#undef TAKE
    }
    int sources = (preset != NULL) + (cfg.probe_serial != NULL) + (cfg.replay_path != NULL);
    if (sources != 1) {
        fprintf(stderr, "talus run: give exactly one of --sim PRESET, --probe SERIAL, "
                        "--replay FILE.mha\n");
        return 2;
    }
    if (cfg.headless && (!cfg.out_dir || (!cfg.frames && cfg.max_seconds <= 0 &&
                                          !cfg.script_path))) {
        fprintf(stderr, "talus run: --headless needs --out DIR and --frames N (or --seconds, "
                        "or a script that quits)\n");
        return 2;
    }

    sim_ctx sc = { NULL };
    if (preset) {
        tl_simusb_config sim = tl_simusb_config_default();
        sim.preset = preset;
        sim.seed = (uint64_t)seed;
        sim.sim_params = sim_params;
        sim.fps = cfg.fps > 0 ? cfg.fps : 30;
        sim.cycle_frames = sim_cycle;
        if (faults) {
            const char *bad = NULL;
            if (tl_fault_parse(faults, &sim.faults, &bad) != TL_OK) {
                fprintf(stderr, "talus run: unknown fault '%s'\n", bad ? bad : faults);
                return 2;
            }
        }
        tl_status s = tl_simusb_start(&sim, &sc.sim);
        if (s != TL_OK) {
            fprintf(stderr, "talus run: cannot start the simulated probe '%s': %s\n", preset,
                    tl_strerror(s));
            return s == TL_ERR_NOT_FOUND || s == TL_ERR_INVALID_ARG ? 2 : 1;
        }
        cfg.probe_serial = sim.serial;
        cfg.hooks = (tl_station_hooks){ &sc, hook_button, hook_fault };
        cfg.demo_session = true;
        /* The anatomy follows the preset unless given. */
        int an = tl_anatomy_from_name(preset);
        bool anatomy_given = false;
        for (int i = 1; i < argc; i++)
            anatomy_given |= !strcmp(argv[i], "--anatomy");
        /* needle-insertion and other scenes take it from their anatomy= */
        char sim_anatomy[32];
        const char *ap = sim_params ? strstr(sim_params, "anatomy=") : NULL;
        if (ap && (ap == sim_params || ap[-1] == ',')) {
            size_t n = strcspn(ap + 8, ",");
            snprintf(sim_anatomy, sizeof sim_anatomy, "%.*s", (int)n, ap + 8);
            an = tl_anatomy_from_name(sim_anatomy);
        }
        if (!anatomy_given && an > 0)
            cfg.anatomy = tl_anatomy_name((tl_anatomy)an);
    }
    if (cfg.headless)
        cfg.demo_session = true;

    tl_station_summary sum;
    char err[512] = "";
    tl_status s = tl_station_run(&cfg, &sum, err, sizeof err);
    tl_simusb_stop(sc.sim);
    if (s != TL_OK) {
        fprintf(stderr, "talus run: %s\n", err);
        return s == TL_ERR_INVALID_ARG || s == TL_ERR_FORMAT ? 2 : 1;
    }
    char *json = tl_station_summary_json(&sum);
    if (json) {
        printf("%s\n", json);
        free(json);
    }
    fprintf(stderr, "talus run: %llu frames, %.1f fps, latency p50 %.1f ms p99 %.1f ms, "
                    "drops %llu, injections logged %u%s%s\n",
            (unsigned long long)sum.frames, sum.fps, sum.latency_p50_ms, sum.latency_p99_ms,
            (unsigned long long)sum.drops, sum.injections_logged,
            sum.error[0] ? "; " : "", sum.error);
    /* A refused injection is a failure of the run: the operator was told,
     * and so is whoever scripted it. */
    return sum.injections_failed || sum.error[0] ? 1 : 0;
}
