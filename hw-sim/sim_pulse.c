/* The transmit pulse and frequency-dependent attenuation.
 *
 * The pulse is a Gaussian-enveloped cosine at f0 (Gaussian spectrum of
 * standard deviation sf). Travelling through tissue with attenuation
 * alpha(f) = a f, the echo spectrum is multiplied by exp(-A f) where A (Np/MHz)
 * is the attenuation integrated over the round trip. For a Gaussian spectrum
 * that product is again Gaussian: the centre frequency falls to f0 - A sf^2
 * and the amplitude is exp(-A f0 + A^2 sf^2 / 2). So each depth gets the
 * pulse variant of the attenuation crossed so far (SIM_NKERN variants), and
 * the scene carries the amplitude factor. */
#include "sim_internal.h"

#include <stdlib.h>
#include <string.h>

#define FC_MIN_FRAC 0.45f

static float a_max(float f0, float sf) { return (1.0f - FC_MIN_FRAC) * f0 / (sf * sf); }

float sim_att_amp(float A, float f0, float sf)
{
    float am = a_max(f0, sf);
    if (A <= am)
        return expf(-A * f0 + 0.5f * A * A * sf * sf);
    float base = expf(-am * f0 + 0.5f * am * am * sf * sf);
    return base * expf(-(A - am) * FC_MIN_FRAC * f0);
}

int sim_kernel_index(const sim_scene *sc, float A)
{
    float am = a_max(sc->g.f0_hz * 1e-6f, sc->sigma_f_mhz);
    int k = (int)lroundf(A / am * (float)(SIM_NKERN - 1));
    return k < 0 ? 0 : k >= SIM_NKERN ? SIM_NKERN - 1 : k;
}

tl_status sim_pulse_build(sim_scene *sc, const sim_params *p)
{
    float f0 = p->f0_mhz, fs = p->fs_mhz;
    float sf = p->bandwidth * f0 / 2.35482f;      /* MHz */
    float st = 1.0f / (2.0f * (float)M_PI * sf);  /* us */
    sc->sigma_f_mhz = sf;
    sc->half = (int)ceilf(4.0f * st * fs);
    sc->ntap = 2 * sc->half + 1;
    free(sc->kern);
    sc->kern = malloc(sizeof(float) * (size_t)sc->ntap * SIM_NKERN);
    if (!sc->kern)
        return TL_ERR_NO_MEM;
    float am = a_max(f0, sf);
    for (int k = 0; k < SIM_NKERN; k++) {
        float A = am * (float)k / (float)(SIM_NKERN - 1);
        float fc = f0 - A * sf * sf;
        for (int n = 0; n < sc->ntap; n++) {
            float t = (float)(n - sc->half) / fs; /* us */
            sc->kern[k * sc->ntap + n] =
                expf(-t * t / (2.0f * st * st)) * cosf(2.0f * (float)M_PI * fc * t);
        }
    }
    /* -6 dB (half amplitude) envelope width, in display mm */
    sc->pulse_fwhm_mm = 2.35482f * st * 1e-6f * 1540.0f / 2.0f * 1e3f;
    return TL_OK;
}
