/* Shared by the `talus calibrate` files (cmd_calibrate.c, calibrate_*.c). */
#ifndef TALUS_CALIBRATE_H
#define TALUS_CALIBRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "tl_calibration.h"
#include "tl_driver.h"
#include "tl_sim.h"

/* Where frames come from: the simulated probe (talus-sim, emulated USB bus)
 * or a real probe, both read through the driver. */
typedef struct {
    const char *preset;        /* NULL: a real probe */
    uint64_t seed;
    char sim_params[256];      /* "key=value,key=value" for the simulated probe */
    const char *serial;        /* probe to open (NULL: the first found) */
    uint32_t frames;
    bool set_tgc;
    float tgc_db[8];
} cal_source;

typedef struct {
    tl_probe_identity id;
    tl_geometry geom;
    uint32_t n;                /* frames held */
    int16_t **rf;              /* n frames of lines*samples, RF_REAL */
    bool have_truth;
    tl_sim_truth *truth;       /* of the first frame (simulated probe only) */
} cal_frames;

/* Acquire src->frames RF frames. 0 ok; prints the reason and returns 1. */
int cal_acquire(const cal_source *src, cal_frames *out);
void cal_frames_free(cal_frames *f);
/* Envelope of frames [from, to) handed to fn(acc, env). 0 ok. */
int cal_each_envelope(const cal_frames *f, uint32_t from, uint32_t to,
                      tl_status (*fn)(void *, const float *), void *acc);
/* Phantom wires from {"wires":[{"x_mm":..,"z_mm":..},..]}. 0 ok. */
int cal_load_phantom(const char *path, float *wx, float *wz, uint32_t *n);

/* Pictures for the technician (PNG). 0 ok. */
int cal_plot_spatial(const char *path, const cal_frames *f, const tl_cal_spatial_result *r);
int cal_plot_elements(const char *path, const tl_cal_elements_result *r);
int cal_plot_uniformity(const char *path, const tl_cal_uniformity_result *r);
int cal_plot_guide(const char *path, const cal_frames *f, const tl_cal_guide_result *r);

/* `talus calibrate detect-wires` and `show`. */
int cal_cmd_detect_wires(int argc, char **argv);
int cal_cmd_show(int argc, char **argv);
/* `talus calibrate eval`: accuracy over randomised simulated cases. */
int cal_cmd_eval(int argc, char **argv);

#endif
