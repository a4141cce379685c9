/* Envelope of RF frames (through imaging's analytic signal) and the small
 * numeric helpers the procedures share. */
#include "cal_internal.h"
#include "tl_imaging.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

tl_status tl_cal_envelope(const tl_frame *f, float *env)
{
    if (!f || !env || !f->data)
        return TL_ERR_INVALID_ARG;
    const tl_geometry *g = &f->geom;
    size_t n = (size_t)g->lines * g->samples;
    if (n == 0 || f->data_bytes != n * 2)
        return TL_ERR_INVALID_ARG;
    if (f->type == TL_IMAGE_ENVELOPE) {
        const uint16_t *p = f->data;
        for (size_t i = 0; i < n; i++)
            env[i] = (float)p[i];
        return TL_OK;
    }
    if (f->type != TL_IMAGE_RF_REAL)
        return TL_ERR_UNSUPPORTED;
    float *in = malloc(n * sizeof *in), *im = malloc(n * sizeof *im);
    if (!in || !im) {
        free(in);
        free(im);
        return TL_ERR_NO_MEM;
    }
    const int16_t *p = f->data;
    for (size_t i = 0; i < n; i++)
        in[i] = (float)p[i];
    tl_status st = tl_analytic_signal(in, g->samples, g->lines, 1, g->samples, env, im);
    if (st == TL_OK)
        for (size_t i = 0; i < n; i++)
            env[i] = hypotf(env[i], im[i]);
    free(in);
    free(im);
    return st;
}

bool cal_fit_line(const double *x, const double *y, const double *w, size_t n, double *a,
                  double *b)
{
    double sw = 0, sx = 0, sy = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        sw += wi;
        sx += wi * x[i];
        sy += wi * y[i];
    }
    if (sw <= 0)
        return false;
    double mx = sx / sw, my = sy / sw, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        sxx += wi * (x[i] - mx) * (x[i] - mx);
        sxy += wi * (x[i] - mx) * (y[i] - my);
    }
    if (!(sxx > 1e-12 * sw))
        return false;
    *a = sxy / sxx;
    *b = my - *a * mx;
    return true;
}

double cal_parabola_peak(double ym, double y0, double yp)
{
    double den = ym - 2.0 * y0 + yp;
    if (!(den < 0.0))
        return 0.0;
    double d = 0.5 * (ym - yp) / den;
    return d < -0.5 ? -0.5 : d > 0.5 ? 0.5 : d;
}

void cal_line_sample_mm(const tl_geometry *g, double line, double sample, float *x, float *z)
{
    tl_geometry_sample_xz(g, (float)line, (float)sample, x, z);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

float cal_frame_median(const float *v, size_t n)
{
    size_t step = n > 8192 ? n / 4096 : 1, m = 0;
    float *tmp = malloc((n / step + 1) * sizeof *tmp);
    if (!tmp)
        return 0.0f;
    for (size_t i = 0; i < n; i += step)
        tmp[m++] = v[i];
    qsort(tmp, m, sizeof *tmp, cmp_float);
    float med = m ? tmp[m / 2] : 0.0f;
    free(tmp);
    return med;
}
