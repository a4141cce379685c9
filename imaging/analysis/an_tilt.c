/* Texture measures for a band the tilt has robbed of its fibre echoes
 * (an_band.c, an_anatomy.c): fibrillar coherence along the band's course,
 * and texture energy / echo level over a range of rows. */
#include "an_internal.h"

#include <string.h>

/* Mean texture energy and echo level over rows [r0, r1) of strip s (the
 * same measures as an_band_smooth_top). */
void an_texture(tl_analyzer *a, uint32_t s, float r0, float r1, float *energy, float *level)
{
    const int h = (int)a->h, dz = (int)fmaxf(1.0f, 0.25f / a->sp);
    const float *m = an_sm(a, s), *ml = an_sm(a, s > 0 ? s - 1 : 0),
                *mr = an_sm(a, s + 1 < a->ns ? s + 1 : s);
    int i0 = (int)r0, i1 = (int)r1;
    i0 = i0 < dz ? dz : i0;
    i1 = i1 > h - dz ? h - dz : i1;
    double e = 0, l = 0;
    int n = 0;
    for (int r = i0; r < i1; r++) {
        float gz = fabsf(m[r + dz] - m[r - dz]), gx = fabsf(mr[r] - ml[r]);
        if (isnan(gz) || isnan(gx))
            continue;
        e += gz + gx;
        l += m[r];
        n++;
    }
    *energy = n ? (float)(e / n) : NAN;
    *level = n ? (float)(l / n) : NAN;
}

/* Detrended profile of strip s (sm minus its +/-0.3 mm mean) into out. */
static void detrend(tl_analyzer *a, uint32_t s, float *out)
{
    const int h = (int)a->h, k = (int)lroundf(0.3f / a->sp);
    const float *m = an_sm(a, s);
    a->cum[0] = 0;
    for (int r = 0; r < h; r++)
        a->cum[r + 1] = a->cum[r] + (isnan(m[r]) ? 0.0 : m[r]);
    for (int r = 0; r < h; r++) {
        int lo = r - k < 0 ? 0 : r - k, hi = r + k + 1 > h ? h : r + k + 1;
        out[r] = isnan(m[r]) ? 0.0f : m[r] - (float)((a->cum[hi] - a->cum[lo]) / (hi - lo));
    }
}

/* Fibrillar coherence of the band between rows top[] and deep[] over strips
 * within half_mm of x_mm: the correlation of neighbouring strips' detrended
 * profiles along the band's course. Fibre echoes run the band's length
 * (~0.8); speckle and fat septa do not (~0.5). NAN when nothing to measure. */
float an_band_coherence(tl_analyzer *a, const float *top, const float *deep, float x_mm, float half_mm)
{
    const int h = (int)a->h;
    float d0[2048], d1[2048];
    double sum = 0;
    int n = 0, have = 0;
    if (h > 2048)
        return NAN;
    for (uint32_t s = 0; s + 1 < a->ns; s++) {
        if (fabsf(an_strip_x(a, s) - x_mm) > half_mm || isnan(top[s]) || isnan(deep[s]) ||
            isnan(top[s + 1]) || isnan(deep[s + 1])) {
            have = 0;
            continue;
        }
        if (!have)
            detrend(a, s, d0);
        else
            memcpy(d0, d1, (size_t)h * sizeof(float));
        detrend(a, s + 1, d1);
        have = 1;
        int r0 = (int)(top[s] + 0.3f / a->sp), r1 = (int)(deep[s] - 0.3f / a->sp);
        int sh = (int)lroundf(0.5f * (top[s + 1] + deep[s + 1] - top[s] - deep[s]));
        double xy = 0, xx = 0, yy = 0;
        for (int r = r0; r < r1; r++) {
            int r2 = r + sh;
            if (r < 0 || r2 < 0 || r2 >= h)
                continue;
            xy += d0[r] * d1[r2];
            xx += d0[r] * d0[r];
            yy += d1[r2] * d1[r2];
        }
        if (xx > 0 && yy > 0 && r1 - r0 > 4) {
            sum += xy / sqrt(xx * yy);
            n++;
        }
    }
    return n ? (float)(sum / n) : NAN;
}
