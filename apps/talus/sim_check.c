/* talus sim check: the simulator's physics acceptance figures over many
 * seeds and randomised settings, as median / p5 / p95 (the tests run a
 * handful of fixed cases; this is the evaluation behind docs/accuracy.md). */
#include "tl_sim.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sim_check(int argc, char **argv);

typedef struct {
    tl_sim *sim;
    tl_geometry g;
    int16_t *rf;
    float *env;
} frame;

static int render(frame *f, const char *preset, uint64_t seed, const char *const *kv)
{
    memset(f, 0, sizeof *f);
    if (tl_sim_create(preset, seed, &f->sim) != TL_OK)
        return -1;
    for (; kv && *kv; kv++)
        if (tl_sim_set_param(f->sim, *kv, NULL) != TL_OK)
            return -1;
    if (tl_sim_get_geometry(f->sim, &f->g) != TL_OK)
        return -1;
    size_t n = (size_t)f->g.lines * f->g.samples;
    f->rf = malloc(n * sizeof *f->rf);
    f->env = malloc(n * sizeof *f->env);
    if (!f->rf || !f->env || tl_sim_render(f->sim, 0, f->rf, n, NULL) != TL_OK)
        return -1;
    return tl_sim_envelope(f->rf, f->g.lines, f->g.samples, f->env) == TL_OK ? 0 : -1;
}

static void release(frame *f)
{
    tl_sim_destroy(f->sim);
    free(f->rf);
    free(f->env);
}

static double speckle_snr(uint64_t seed)
{
    frame f = { 0 };
    const char *kv[] = { "noise_db=-140", NULL };
    double r = NAN;
    if (render(&f, "uniform-phantom", seed, kv) == 0) {
        float dz = tl_geometry_dz_mm(&f.g);
        double s = 0, s2 = 0;
        size_t n = 0;
        for (uint32_t l = 16; l + 16 < f.g.lines; l++)
            for (uint32_t k = (uint32_t)(8 / dz); k < (uint32_t)(16 / dz); k++, n++) {
                double e = f.env[(size_t)l * f.g.samples + k];
                s += e;
                s2 += e * e;
            }
        double m = s / (double)n;
        r = m / sqrt(s2 / (double)n - m * m);
    }
    release(&f);
    return r;
}

/* Relative error of the fitted echo slopes (2-14 mm, no TGC) against the
 * configured -2 a f0: at f0 (narrowband) and broadband (mean envelope, which
 * falls slower as the spectrum's centre moves down with depth). */
static void slope_error(uint64_t seed, tl_rng *rng, double *at_f0, double *broad)
{
    float a = (float)tl_rng_range(rng, 0.3, 1.0), f0 = (float)tl_rng_range(rng, 7.5, 12.0);
    char sa[64], sf[64];
    snprintf(sa, sizeof sa, "attenuation_db_cm_mhz=%.3f", a);
    snprintf(sf, sizeof sf, "f0_mhz=%.2f", f0);
    const char *kv[] = { "noise_db=-140", "tgc_db_cm=0", sa, sf, NULL };
    frame f = { 0 };
    *at_f0 = *broad = NAN;
    if (render(&f, "uniform-phantom", seed, kv) == 0) {
        float dz = tl_geometry_dz_mm(&f.g);
        double sx = 0, sy = 0, sxx = 0, sxy = 0, sn = 0, sxn = 0;
        int nb = 0;
        for (float z = 2.0f; z < 14.0f; z += 1.0f, nb++) {
            double m = 0;
            size_t n = 0;
            for (uint32_t l = 0; l < f.g.lines; l++)
                for (uint32_t k = (uint32_t)(z / dz); k < (uint32_t)((z + 1) / dz); k++, n++)
                    m += f.env[(size_t)l * f.g.samples + k];
            double y = 20 * log10(m / (double)n), x = z + 0.5;
            double yn = tl_sim_band_level_db(f.rf, &f.g, f.g.f0_hz, z, z + 1.0f);
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
            sn += yn;
            sxn += x * yn;
        }
        double den = nb * sxx - sx * sx, expect = -2.0 * a * f0 / 10.0;
        *broad = ((nb * sxy - sx * sy) / den - expect) / fabs(expect);
        *at_f0 = ((nb * sxn - sx * sn) / den - expect) / fabs(expect);
    }
    release(&f);
}

/* Relative error of a wire's axial -6 dB width against the pulse's. */
static double width_error(uint64_t seed, tl_rng *rng)
{
    float f0 = (float)tl_rng_range(rng, 7.5, 15.0);
    char sf[64];
    snprintf(sf, sizeof sf, "f0_mhz=%.2f", f0);
    const char *kv[] = { "noise_db=-140", sf, NULL };
    frame f = { 0 };
    double r = NAN;
    if (render(&f, "wire-phantom", seed, kv) == 0) {
        float dz = tl_geometry_dz_mm(&f.g);
        const float *e = f.env + (size_t)(f.g.lines / 2) * f.g.samples;
        uint32_t pk = (uint32_t)(8 / dz);
        for (uint32_t k = pk; k < (uint32_t)(12 / dz); k++)
            if (e[k] > e[pk])
                pk = k;
        float h = 0.5f * e[pk];
        uint32_t a = pk, b = pk;
        while (a > 0 && e[a] > h)
            a--;
        while (b + 1 < f.g.samples && e[b] > h)
            b++;
        float za = (float)a + (h - e[a]) / (e[a + 1] - e[a]);
        float zb = (float)(b - 1) + (e[b - 1] - h) / (e[b - 1] - e[b]);
        float fw = tl_sim_pulse_fwhm_mm(f.sim);
        r = ((zb - za) * dz - fw) / fw;
    }
    release(&f);
    return r;
}

static double shadow_db(uint64_t seed)
{
    frame f = { 0 };
    double r = NAN;
    tl_sim_truth *t = calloc(1, sizeof *t);
    if (t && render(&f, "plantar-fascia", seed, NULL) == 0 &&
        tl_sim_render(f.sim, 0, NULL, 0, t) == TL_OK) {
        float dz = tl_geometry_dz_mm(&f.g);
        const tl_sim_boundary *b = NULL;
        for (uint32_t i = 0; i < t->n_boundaries; i++)
            if (t->boundaries[i].kind == TL_BOUNDARY_CALCANEUS)
                b = &t->boundaries[i];
        double up = 0, dn = 0;
        size_t nu = 0, nd = 0;
        for (uint32_t l = 0; b && l < f.g.lines; l++) {
            float x, z;
            tl_geometry_sample_xz(&f.g, (float)l, 0, &x, &z);
            if (x > t->site_x_mm - 2.0f)
                continue;
            float zb = NAN;
            for (uint32_t i = 0; i + 1 < b->n; i++)
                if (x >= b->x_mm[i] && x <= b->x_mm[i + 1])
                    zb = b->z_mm[i] + (b->z_mm[i + 1] - b->z_mm[i]) * (x - b->x_mm[i]) /
                                          (b->x_mm[i + 1] - b->x_mm[i]);
            if (isnan(zb))
                continue;
            for (uint32_t k = (uint32_t)(3 / dz); k < (uint32_t)((zb - 5) / dz); k++, nu++)
                up += f.env[(size_t)l * f.g.samples + k];
            for (uint32_t k = (uint32_t)((zb + 2) / dz); k < (uint32_t)((zb + 10) / dz); k++, nd++)
                dn += f.env[(size_t)l * f.g.samples + k];
        }
        if (nu && nd)
            r = 20 * log10((up / (double)nu) / (dn / (double)nd));
    }
    free(t);
    release(&f);
    return r;
}

/* Truth thickness minus the noise-free rendered one, in samples. */
static double thickness_error(uint64_t seed, tl_rng *rng)
{
    float th = (float)tl_rng_range(rng, 1.5, 7.0);
    char st[64];
    snprintf(st, sizeof st, "thickness_mm=%.3f", th);
    const char *kv[] = { "speckle=0", "noise_db=-140", st, NULL };
    frame f = { 0 };
    double r = NAN;
    tl_sim_truth *t = calloc(1, sizeof *t);
    if (t && render(&f, "plantar-fascia", seed, kv) == 0 &&
        tl_sim_render(f.sim, 0, NULL, 0, t) == TL_OK) {
        float dz = tl_geometry_dz_mm(&f.g);
        uint32_t l = (uint32_t)lroundf(t->site_x_mm / f.g.pitch_mm + 0.5f * (float)(f.g.lines - 1));
        const float *e = f.env + (size_t)l * f.g.samples;
        /* in a noise-free heel the echoes below the dermis are the fascia's
         * two surfaces, then the calcaneus: take the first two */
        float mx = 0;
        for (uint32_t k = (uint32_t)(3 / dz); k < f.g.samples; k++)
            mx = e[k] > mx ? e[k] : mx;
        float pk[2];
        int np = 0;
        for (uint32_t k = (uint32_t)(3 / dz); k + 1 < f.g.samples && np < 2; k++)
            if (e[k] > e[k - 1] && e[k] >= e[k + 1] && e[k] > 0.05f * mx) {
                float d = e[k - 1] - 2 * e[k] + e[k + 1];
                pk[np++] = (float)k + (d != 0 ? 0.5f * (e[k - 1] - e[k + 1]) / d : 0.0f);
            }
        if (np >= 2)
            r = ((pk[1] - pk[0]) * dz - t->thickness_mm) / dz;
    }
    free(t);
    release(&f);
    return r;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static cJSON *stats(const char *name, double *v, int n, double *p5, double *med, double *p95)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    *p5 = tl_percentile(v, (size_t)n, 5);
    *med = tl_median(v, (size_t)n);
    *p95 = tl_percentile(v, (size_t)n, 95);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "p5", *p5);
    cJSON_AddNumberToObject(o, "median", *med);
    cJSON_AddNumberToObject(o, "p95", *p95);
    cJSON_AddNumberToObject(o, "min", v[0]);
    cJSON_AddNumberToObject(o, "max", v[n - 1]);
    (void)name;
    return o;
}

int sim_check(int argc, char **argv)
{
    int seeds = 20;
    uint64_t first = 1;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: talus sim check [--seeds N] [--first-seed S] [--json]\n"
                   "Physics acceptance over N seeds (default 20) with randomised settings:\n"
                   "speckle SNR (Rayleigh 1.91), attenuation slope error (a 0.3-1.0,\n"
                   "f0 7.5-12), wire axial width vs pulse (f0 7.5-15), bone shadow depth,\n"
                   "fascia thickness truth vs noise-free render (1.5-7 mm, in samples).\n");
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--seeds") && i + 1 < argc) {
            seeds = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--first-seed") && i + 1 < argc) {
            first = strtoull(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "talus sim check: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (seeds < 1 || seeds > 10000) {
        fprintf(stderr, "talus sim check: --seeds must be 1-10000\n");
        return 2;
    }
    enum { NM = 6 };
    static const char *const names[NM] = {
        "speckle_snr",           "attenuation_slope_rel_error_at_f0",
        "attenuation_slope_rel_error_broadband", "axial_width_rel_error",
        "bone_shadow_db",        "thickness_error_samples"
    };
    double *v[NM];
    for (int m = 0; m < NM; m++)
        v[m] = malloc(sizeof(double) * (size_t)seeds);
    tl_rng rng;
    tl_rng_seed(&rng, first * 7919u);
    for (int k = 0; k < seeds; k++) {
        uint64_t s = first + (uint64_t)k;
        v[0][k] = speckle_snr(s);
        slope_error(s, &rng, &v[1][k], &v[2][k]);
        v[3][k] = width_error(s, &rng);
        v[4][k] = shadow_db(s);
        v[5][k] = thickness_error(s, &rng);
        for (int m = 0; m < NM; m++)
            if (isnan(v[m][k]))
                fprintf(stderr, "\nsim check: seed %llu: %s failed\n", (unsigned long long)s,
                        names[m]);
        fprintf(stderr, "\rsim check: seed %llu (%d/%d)", (unsigned long long)s, k + 1, seeds);
    }
    fprintf(stderr, "\n");
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "seeds", seeds);
    cJSON_AddNumberToObject(root, "first_seed", (double)first);
    int failed = 0;
    for (int m = 0; m < NM; m++) {
        double p5, med, p95;
        for (int k = 0; k < seeds; k++)
            failed += isnan(v[m][k]);
        cJSON_AddItemToObject(root, names[m], stats(names[m], v[m], seeds, &p5, &med, &p95));
        if (!json)
            printf("%-38s median %8.4f   p5 %8.4f   p95 %8.4f\n", names[m], med, p5, p95);
        free(v[m]);
    }
    cJSON_AddNumberToObject(root, "failed_cases", failed);
    if (json) {
        char *s = cJSON_PrintUnformatted(root);
        if (s)
            printf("%s\n", s);
        free(s);
    }
    cJSON_Delete(root);
    return failed ? 1 : 0;
}
