/* talus: the command-line front of the navigation station.
 *
 * Two binaries are built from these sources: `talus`, which a clinic runs
 * against a real probe, and `talus-sim`, which is linked with umockdev's
 * preload library so the simulated probe can sit on an emulated USB bus.
 * `talus` never carries the interposed libc: when asked for the simulator
 * (`--sim`) it re-executes its sibling `talus-sim`. */
#include "commands.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*command_fn)(int, char **);

static const struct {
    const char *name;
    command_fn fn;
    const char *summary;
} commands[] = {
    { "run", cmd_run, "the navigation station (window, or --headless)" },
    { "sim", cmd_sim, "list simulator presets, render a frame and its ground truth" },
    { "probe", cmd_probe, "list connected probes" },
    { "stream", cmd_stream, "stream frames through the driver and count losses" },
    { "record", cmd_record, "record frames to a PLUS .mha sequence" },
    { "replay", cmd_replay, "read a .mha sequence back" },
    { "bmode", cmd_bmode, "convert a sequence frame to a B-mode PNG" },
    { "analyze", cmd_analyze, "find and measure structures and the needle in an image" },
    { "eval", cmd_eval, "accuracy over randomised simulated cases (tissue, needle)" },
    { "calibrate", cmd_calibrate, "probe calibration and QA" },
    { "log", cmd_log, "injection log: list, show, export" },
    { "report", cmd_report, "procedure report (HTML + images)" },
    { "trend", cmd_trend, "thickness per visit for a patient, as a plot" },
    { "bench", cmd_bench, "speed benchmarks (imaging, sim, usb, analysis, needle)" },
};

static void usage(FILE *out)
{
    fprintf(out, "usage: talus COMMAND [ARGS...]   (talus COMMAND --help for more)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int cmd_not_built(const char *name)
{
    fprintf(stderr, "talus %s: not built yet in this version\n", name);
    return 2;
}

static int wants_simulator(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--sim") == 0 || strncmp(argv[i], "--sim=", 6) == 0)
            return 1;
    return 0;
}

#ifndef TALUS_SIM_BUILD
/* Re-execute as talus-sim, found next to this binary. */
static int exec_sim_sibling(char **argv)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 16);
    if (n <= 0) {
        fprintf(stderr, "talus: cannot locate myself: %s\n", strerror(errno));
        return 1;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    strcpy(slash ? slash + 1 : self, "talus-sim");
    execv(self, argv);
    fprintf(stderr, "talus: cannot start the simulator binary %s: %s\n", self, strerror(errno));
    return 1;
}
#endif

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
#ifndef TALUS_SIM_BUILD
    if (wants_simulator(argc, argv))
        return exec_sim_sibling(argv);
#else
    (void)wants_simulator;
#endif
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "talus: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
