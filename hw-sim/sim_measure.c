/* Measurement helpers for quick looks, tests and `talus sim check` (the
 * imaging chain has its own, faster envelope). */
#include "sim_internal.h"

tl_status tl_sim_envelope(const int16_t *rf, uint32_t lines, uint32_t samples, float *env)
{
    if (!rf || !env || lines == 0 || samples < 16)
        return TL_ERR_INVALID_ARG;
    enum { M = 31 };
    float h[2 * M + 1];
    for (int n = -M; n <= M; n++) {
        /* windowed ideal Hilbert transformer (Blackman) */
        float w = 0.42f + 0.5f * cosf((float)M_PI * (float)n / (float)(M + 1)) +
                  0.08f * cosf(2.0f * (float)M_PI * (float)n / (float)(M + 1));
        h[n + M] = (n % 2) ? w * 2.0f / ((float)M_PI * (float)n) : 0.0f;
    }
    for (uint32_t l = 0; l < lines; l++) {
        const int16_t *x = rf + (size_t)l * samples;
        float *e = env + (size_t)l * samples;
        for (uint32_t s = 0; s < samples; s++) {
            float q = 0.0f;
            int lo = (int)s + M - (int)samples + 1, hi = (int)s + M;
            lo = lo < 0 ? 0 : lo;
            hi = hi > 2 * M ? 2 * M : hi;
            for (int n = lo; n <= hi; n++)
                q += h[n] * (float)x[(int)s + M - n];
            float i = (float)x[s];
            e[s] = sqrtf(i * i + q * q);
        }
    }
    return TL_OK;
}

double tl_sim_band_level_db(const int16_t *rf, const tl_geometry *g, float f_hz, float z0_mm,
                            float z1_mm)
{
    if (!rf || !g || tl_geometry_validate(g) != TL_OK || !(f_hz > 0.0f))
        return NAN;
    enum { H = 60 };
    float w[2 * H + 1];
    for (int n = -H; n <= H; n++)
        w[n + H] = expf(-(float)(n * n) / (2.0f * 20.0f * 20.0f));
    float dz = tl_geometry_dz_mm(g), ph = 2.0f * (float)M_PI * f_hz / g->fs_hz;
    double acc = 0;
    size_t cnt = 0;
    int k0 = (int)((z0_mm - g->depth_start_mm) / dz), k1 = (int)((z1_mm - g->depth_start_mm) / dz);
    for (uint32_t l = 0; l < g->lines; l++)
        for (int k = k0 < H ? H : k0; k < k1 && k + H < (int)g->samples; k += 8) {
            const int16_t *x = rf + (size_t)l * g->samples;
            double i = 0, q = 0;
            for (int n = -H; n <= H; n++) {
                float v = w[n + H] * (float)x[k + n];
                float a = ph * (float)(k + n);
                i += v * cosf(a);
                q += v * sinf(a);
            }
            acc += i * i + q * q;
            cnt++;
        }
    return cnt ? 10.0 * log10(acc / (double)cnt) : NAN;
}
