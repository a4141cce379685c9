/* Every `talus` subcommand is one function in its own file, called with the
 * arguments after the subcommand name (argv[0] is the subcommand). Each
 * returns a process exit code: 0 ok, 1 the job failed, 2 bad usage. */
#ifndef TALUS_COMMANDS_H
#define TALUS_COMMANDS_H

int cmd_sim(int argc, char **argv);        /* sim list | sim render            */
int cmd_probe(int argc, char **argv);      /* probe list                       */
int cmd_stream(int argc, char **argv);     /* stream --sim PRESET ... --json   */
int cmd_record(int argc, char **argv);     /* record --sim PRESET -o FILE.mha  */
int cmd_replay(int argc, char **argv);     /* replay FILE.mha --json           */
int cmd_bmode(int argc, char **argv);      /* bmode FILE.mha -o OUT.png        */
int cmd_bench(int argc, char **argv);      /* bench imaging|sim|usb|analysis|needle */
int cmd_analyze(int argc, char **argv);    /* analyze IMAGE --spacing-mm S     */
int cmd_eval(int argc, char **argv);       /* eval tissue|needle               */
int cmd_run(int argc, char **argv);        /* run: the navigation station      */
int cmd_log(int argc, char **argv);        /* log list|show|export             */
int cmd_report(int argc, char **argv);     /* report SESSION -o DIR            */
int cmd_trend(int argc, char **argv);      /* trend PATIENT -o PLOT.png        */
int cmd_calibrate(int argc, char **argv);  /* calibrate spatial|elements|...   */

/* Benchmarks and evaluations, one file each, dispatched by cmd_bench/cmd_eval. */
int bench_imaging(int argc, char **argv);
int bench_sim(int argc, char **argv);
int bench_usb(int argc, char **argv);
int bench_analysis(int argc, char **argv);
int bench_needle(int argc, char **argv);
int eval_tissue(int argc, char **argv);
int eval_needle(int argc, char **argv);

/* `talus analyze --needle`: adds the "needle" object for a B-mode image
 * (a tl_bmode, see imaging/tl_imaging.h) to the JSON root. 0 ok. */
struct cJSON;
struct tl_bmode_s;
int analyze_add_needle(const struct tl_bmode_s *img, struct cJSON *root);

/* Shared by commands that are not built yet: says so on stderr, returns 2. */
int cmd_not_built(const char *name);

#endif
