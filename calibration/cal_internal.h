/* Shared inside tl_calibration. */
#ifndef TL_CAL_INTERNAL_H
#define TL_CAL_INTERNAL_H

#include "tl_calibration.h"

/* Least-squares line y = a*x + b over n points (weights w may be NULL).
 * false when the xs do not spread. */
bool cal_fit_line(const double *x, const double *y, const double *w, size_t n, double *a,
                  double *b);

/* Position of the peak of a parabola through (-1, ym), (0, y0), (1, yp):
 * in [-0.5, 0.5] for a proper peak. */
double cal_parabola_peak(double ym, double y0, double yp);

/* Display position of (line, sample) for geometry g. */
void cal_line_sample_mm(const tl_geometry *g, double line, double sample, float *x, float *z);

/* Approximate median of n values (a sparse sample: enough for thresholds). */
float cal_frame_median(const float *v, size_t n);

#endif
