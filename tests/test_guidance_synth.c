/* Synthetic B-mode scenes for the guidance tests (see test_guidance_synth.h). */
#include "test_guidance_synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

synth_scene synth_default(void)
{
    synth_scene s = {
        .width = 800, .height = 600, .spacing_mm = 0.05f, .seed = 1,
        .needle_amp = 0.0f, .reverb = 3, .gain = 1.0f, .offset = 0.0f,
    };
    return s;
}

/* Separable Gaussian blur of a float field in place (sx, sz in pixels). */
static void blur(float *f, float *tmp, int w, int h, float sx, float sz)
{
    int rx = (int)ceilf(2.5f * sx), rz = (int)ceilf(2.5f * sz);
    float kx[64], kz[64];
    float nx = 0.0f, nz = 0.0f;
    for (int i = -rx; i <= rx; i++)
        nx += kx[i + rx] = expf(-0.5f * (float)(i * i) / (sx * sx));
    for (int i = -rz; i <= rz; i++)
        nz += kz[i + rz] = expf(-0.5f * (float)(i * i) / (sz * sz));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float s = 0.0f;
            for (int i = -rx; i <= rx; i++) {
                int xx = x + i < 0 ? 0 : (x + i >= w ? w - 1 : x + i);
                s += f[y * w + xx] * kx[i + rx];
            }
            tmp[y * w + x] = s / nx;
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float s = 0.0f;
            for (int i = -rz; i <= rz; i++) {
                int yy = y + i < 0 ? 0 : (y + i >= h ? h - 1 : y + i);
                s += tmp[yy * w + x] * kz[i + rz];
            }
            f[y * w + x] = s / nz;
        }
}

/* Amplitude of a thin specular line segment at (x, z), all in mm. */
static float segment_echo(float x, float z, float x0, float z0, float x1, float z1,
                          float sig_perp, float sig_end)
{
    float dx = x1 - x0, dz = z1 - z0;
    float len = sqrtf(dx * dx + dz * dz);
    float ux = dx / len, uz = dz / len;
    float t = (x - x0) * ux + (z - z0) * uz;
    float d = -(x - x0) * uz + (z - z0) * ux;
    float across = expf(-0.5f * d * d / (sig_perp * sig_perp));
    float a0 = 0.5f * (1.0f + erff(t / (1.4142f * sig_end)));
    float a1 = 0.5f * (1.0f - erff((t - len) / (1.4142f * sig_end)));
    return across * a0 * a1;
}

int synth_render(const synth_scene *s, tl_bmode *img)
{
    int w = (int)s->width, h = (int)s->height;
    memset(img, 0, sizeof *img);
    float *re = malloc(sizeof(float) * (size_t)w * h);
    float *im = malloc(sizeof(float) * (size_t)w * h);
    float *tmp = malloc(sizeof(float) * (size_t)w * h);
    img->pixels = malloc((size_t)w * h);
    if (!re || !im || !tmp || !img->pixels) {
        free(re);
        free(im);
        free(tmp);
        free(img->pixels);
        img->pixels = NULL;
        return -1;
    }
    tl_rng rng;
    tl_rng_seed(&rng, s->seed);
    float sp = s->spacing_mm;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float xm = (float)x * sp, zm = (float)y * sp;
            float t = 1.0f; /* echogenicity */
            if (s->fascia) {
                float top = 8.0f + 0.08f * xm, bot = top + 3.2f;
                if (zm > top && zm < bot)
                    t = 2.2f + 1.2f * sinf(zm * 2.0f * 3.14159f / 0.5f);
            }
            if (s->tendon) {
                /* fibres tilted by 5 degrees */
                float zr = zm - 0.0875f * xm;
                if (zr > 12.0f && zr < 17.0f)
                    t = 1.8f + 1.5f * sinf(zr * 2.0f * 3.14159f / 0.6f);
            }
            if (s->bone) {
                float surf = 22.0f + 2.5f * sinf(xm / 9.0f);
                if (zm > surf + 0.4f)
                    t = 0.04f;
            }
            re[y * w + x] = (float)tl_rng_normal(&rng) * t;
            im[y * w + x] = (float)tl_rng_normal(&rng) * t;
        }
    /* Speckle grain: ~0.35 mm laterally, ~0.15 mm axially. */
    blur(re, tmp, w, h, 0.15f / sp, 0.07f / sp);
    blur(im, tmp, w, h, 0.15f / sp, 0.07f / sp);
    double rms = 0.0;
    for (int i = 0; i < w * h; i++) {
        re[i] = sqrtf(re[i] * re[i] + im[i] * im[i]);
        rms += (double)re[i] * re[i];
    }
    float tissue = (float)sqrt(rms / (w * h));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float xm = (float)x * sp, zm = (float)y * sp;
            float e = 0.0f;
            if (s->needle_amp > 0.0f) {
                e += s->needle_amp * segment_echo(xm, zm, s->entry_x_mm, s->entry_z_mm,
                                                  s->tip_x_mm, s->tip_z_mm, 0.12f, 0.1f);
                float a = 0.45f;
                for (int k = 1; k <= s->reverb; k++, a *= 0.55f)
                    e += a * s->needle_amp *
                         segment_echo(xm, zm, s->entry_x_mm, s->entry_z_mm + 0.9f * (float)k,
                                      s->tip_x_mm, s->tip_z_mm + 0.9f * (float)k, 0.12f, 0.1f);
            }
            if (s->bone) {
                float surf = 22.0f + 2.5f * sinf(xm / 9.0f);
                float d = zm - surf;
                e += 9.0f * expf(-0.5f * d * d / (0.2f * 0.2f));
            }
            re[y * w + x] += e * tissue;
        }
    /* Log compression: 50 dB shown, tissue mean at about 45% grey. */
    for (int i = 0; i < w * h; i++) {
        float db = 20.0f * log10f(re[i] / tissue + 1e-6f);
        float g = 255.0f * (db + 30.0f) / 50.0f;
        g = g * s->gain + s->offset;
        img->pixels[i] = (uint8_t)(g < 0.0f ? 0.0f : (g > 255.0f ? 255.0f : g + 0.5f));
    }
    free(re);
    free(im);
    free(tmp);
    img->width = s->width;
    img->height = s->height;
    img->stride = s->width;
    img->spacing_mm = sp;
    img->valid = NULL;
    return 0;
}

void synth_free(tl_bmode *img)
{
    free(img->pixels);
    img->pixels = NULL;
}

void synth_jitter(tl_bmode *img, const uint8_t *src, uint32_t frame)
{
    uint32_t st = 2654435761u * (frame + 1u);
    for (size_t i = 0; i < (size_t)img->width * img->height; i++) {
        st = st * 1664525u + 1013904223u;
        int v = (int)src[i] + (int)((st >> 24) % 5u) - 2;
        img->pixels[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}
