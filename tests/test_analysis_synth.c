/* Synthetic B-mode generator shared by the analysis tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_analysis_synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

synth_spec synth_default(void)
{
    synth_spec s;
    memset(&s, 0, sizeof s);
    s.width = 600;
    s.height = 450;
    s.spacing_mm = 0.067f;
    s.seed = 1;
    s.band_top_mm = 8.0f;
    s.band_thick_mm = 3.0f;
    s.band_db = -18.0f;
    s.fat_db = -36.0f;
    s.deep_db = -33.0f;
    return s;
}

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static double unif(uint64_t *x) { return (double)(next(x) >> 11) / 9007199254740992.0 + 1e-12; }

void synth_render(const synth_spec *s, tl_bmode *img)
{
    memset(img, 0, sizeof *img);
    img->width = s->width;
    img->height = s->height;
    img->stride = s->width;
    img->spacing_mm = s->spacing_mm;
    img->pixels = malloc((size_t)s->width * s->height);
    uint64_t st = s->seed * 2654435761u + 12345;
    const float sp = s->spacing_mm;
    /* speckle: Rayleigh amplitudes on cells ~0.2 mm lateral x 0.1 mm axial,
     * bilinearly interpolated (correlated like a real PSF) */
    uint32_t cw = (uint32_t)(s->width * sp / 0.2f) + 2, ch = (uint32_t)(s->height * sp / 0.1f) + 2;
    float *sk = malloc((size_t)cw * ch * sizeof *sk);
    for (size_t i = 0; i < (size_t)cw * ch; i++) {
        double u1 = unif(&st), u2 = unif(&st);
        double g1 = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2), g2 = sqrt(-2 * log(u1)) * sin(2 * M_PI * u2);
        sk[i] = (float)sqrt(g1 * g1 + g2 * g2);
    }
    for (uint32_t r = 0; r < s->height; r++) {
        float z = r * sp;
        for (uint32_t c = 0; c < s->width; c++) {
            float x = c * sp;
            float u = s->bump_w_mm > 0 ? (x - s->bump_x_mm) / s->bump_w_mm : 0.0f;
            float bump = s->bump_mm * expf(-u * u);
            float top = s->band_top_mm + s->band_slope * x + bump;
            float th = s->band_thick_mm + s->band_thick_slope * x;
            float db = z < top ? s->fat_db : z < top + th ? s->band_db : s->deep_db;
            if (z >= top && z < top + th && s->aniso_db_per_deg2 > 0) {
                float slope = s->band_slope +
                              (s->bump_w_mm > 0 ? -2.0f * u / s->bump_w_mm * bump : 0.0f);
                float deg = atanf(slope) * 57.29578f;
                db -= fminf(s->aniso_max_db, s->aniso_db_per_deg2 * deg * deg);
            }
            if (z < 0.5f)
                db = -12;
            bool bone_here = s->bone_z_mm > 0 && x >= s->bone_x0_mm && x <= s->bone_x1_mm;
            float bz = s->bone_z_mm;
            if (s->ankle) {
                /* tibia on the left at bone_z, talus dome on the right, notch in between */
                float mid = 0.5f * (s->bone_x0_mm + s->bone_x1_mm);
                bone_here = fabsf(x - mid) > 2.5f;
                bz = x < mid ? s->bone_z_mm : s->bone_z_mm + 1.0f + 0.02f * (x - mid - 8) * (x - mid - 8);
                if (x > mid && z > bz - 1.2f && z < bz - 0.15f)
                    db = -50;            /* cartilage */
                if (x > mid && z > bz - 1.45f && z <= bz - 1.2f)
                    db = -14;            /* chondrosynovial line */
                if (s->fluid_depth_mm > 0 && fabsf(x - mid) < 6 &&
                    z > bz - (x < mid ? 0.3f : 1.5f) - s->fluid_depth_mm && z < (bone_here ? bz - (x < mid ? 0.3f : 1.5f) : bz + 3))
                    db = -58;
            }
            if (bone_here && z >= bz && z < bz + 0.6f)
                db = -3;
            else if (bone_here && z >= bz + 0.6f)
                db = -60;
            for (int k = 0; k < s->n_ell; k++) {
                const synth_ellipse *e = &s->ell[k];
                float u = (x - e->cx) / (0.5f * e->w), v = (z - e->cz) / (0.5f * e->d);
                if (u * u + v * v <= 1)
                    db += e->contrast_db;
            }
            float fx = x / 0.2f, fz = z / 0.1f;
            uint32_t ix = (uint32_t)fx, iz = (uint32_t)fz;
            float ax = fx - ix, az = fz - iz;
            float a = sk[(size_t)iz * cw + ix] * (1 - ax) * (1 - az) + sk[(size_t)iz * cw + ix + 1] * ax * (1 - az) +
                      sk[(size_t)(iz + 1) * cw + ix] * (1 - ax) * az + sk[(size_t)(iz + 1) * cw + ix + 1] * ax * az;
            float out = db + 20.0f * log10f(a / 1.25f + 1e-3f);
            float g = (out + 60.0f) * 255.0f / 60.0f;
            img->pixels[(size_t)r * s->width + c] = (uint8_t)(g < 0 ? 0 : g > 255 ? 255 : g);
        }
    }
    free(sk);
}

tl_analysis_result synth_analyze(const synth_spec *s, int anatomy)
{
    tl_bmode img;
    synth_render(s, &img);
    tl_analyzer *a = NULL;
    assert_int_equal(tl_analyzer_create(&a), TL_OK);
    tl_analysis_params p = tl_analysis_params_default(anatomy);
    tl_analysis_result r;
    assert_int_equal(tl_analyze(a, &img, &p, &r), TL_OK);
    tl_analyzer_destroy(a);
    free(img.pixels);
    if (getenv("TL_TEST_VERBOSE")) {
        printf("seed %llu found %d thick %.3f sd %.3f site %.2f,%.2f abn %d targets %u warn %u "
               "aniso %d angle %.1f echo %.1f\n",
               (unsigned long long)s->seed, r.structure_found, r.thickness_mm, r.thickness_sd_mm,
               r.site_x_mm, r.site_z_mm, r.abnormal, r.n_targets, r.n_warnings, r.anisotropy,
               r.fibre_angle_deg, r.echogenicity_db);
        for (uint32_t i = 0; i < r.n_targets; i++)
            printf("  target %d %.2f,%.2f %.1fx%.1f %.1f dB conf %.2f\n", r.targets[i].kind,
                   r.targets[i].x_mm, r.targets[i].z_mm, r.targets[i].width_mm,
                   r.targets[i].depth_mm, r.targets[i].contrast_db, r.targets[i].confidence);
        for (uint32_t i = 0; i < r.n_warnings; i++)
            printf("  warn: %s\n", r.warnings[i]);
    }
    return r;
}
