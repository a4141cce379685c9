/* Beam steering of the simulated linear array (steer_deg): the geometry of
 * a steered frame, the needle's specular echo against the beam angle, the
 * anisotropy of flat specular interfaces, and the per-angle scene cache. */
#include "sim_test_util.h"

#include <stdio.h>
#include <string.h>

#define D2R(d) ((float)(d) * 3.14159265f / 180.0f)

/* A wire lands where the steered geometry says: line (x - z tan b)/pitch +
 * (L-1)/2, range z / cos b. */
static void check_wire(const char *steer, float b_deg)
{
    simt_frame f;
    simt_render(&f, "wire-phantom", 1, 0, "noise_db=-140", steer, NULL);
    assert_float_equal(f.g.steer_deg, b_deg, 1e-4);
    float dz = tl_geometry_dz_mm(&f.g), tb = tanf(D2R(b_deg)), cb = cosf(D2R(b_deg));
    int checked = 0;
    for (uint32_t w = 0; w < f.truth.n_wires; w++) {
        float x = f.truth.wire_x_mm[w], z = f.truth.wire_z_mm[w];
        float lf = (x - z * tb) / f.g.pitch_mm + 0.5f * (float)(f.g.lines - 1);
        float sf = z / cb / dz;
        if (lf < 3.0f || lf > (float)f.g.lines - 4.0f || sf < 20.0f ||
            sf > (float)f.g.samples - 20.0f)
            continue;
        /* the brightest sample within +-3 lines and +-1 mm of the prediction */
        int l0 = (int)lroundf(lf), bl = -1, bk = -1;
        float best = 0.0f;
        for (int l = l0 - 3; l <= l0 + 3; l++)
            for (int k = (int)(sf - 1.0f / dz); k <= (int)(sf + 1.0f / dz); k++) {
                float e = f.env[(size_t)l * f.g.samples + (size_t)k];
                if (e > best) {
                    best = e;
                    bl = l;
                    bk = k;
                }
            }
        assert_true(bl > 0 && bk > 0);
        /* sub-line peak across lines (parabola through the three lines) */
        float a = f.env[(size_t)(bl - 1) * f.g.samples + (size_t)bk],
              c = f.env[(size_t)(bl + 1) * f.g.samples + (size_t)bk];
        float d = a - 2.0f * best + c;
        float lpk = (float)bl + (d != 0.0f ? 0.5f * (a - c) / d : 0.0f);
        float kpk = (float)bk + simt_parabolic(f.env + (size_t)bl * f.g.samples, (uint32_t)bk);
        if (checked < 3)
            printf("steer %5.1f wire (%.2f, %.2f): expected line %.2f range %.3f mm, found "
                   "line %.2f range %.3f mm\n",
                   (double)b_deg, (double)x, (double)z, (double)lf, (double)(sf * dz),
                   (double)lpk, (double)(kpk * dz));
        assert_true(fabsf(lpk - lf) <= 0.35f);
        assert_true(fabsf(kpk - sf) * dz <= 0.05f);
        checked++;
    }
    assert_true(checked >= 10);
    simt_free(&f);
}

static void test_wire_lands_on_steered_geometry(void **state)
{
    (void)state;
    check_wire("steer_deg=0", 0.0f);
    check_wire("steer_deg=-20", -20.0f);
    check_wire("steer_deg=25", 25.0f);
}

/* Mean shaft echo (dB of envelope) over the lines that cross the shaft,
 * each read within 0.6 mm of where the steered ray meets it. */
static double shaft_echo_db(const simt_frame *f, int *lines_used)
{
    const tl_sim_needle *n = &f->truth.needle;
    assert_true(n->present);
    float b = D2R(f->g.steer_deg), rdx = sinf(b), rdz = cosf(b);
    float ux = n->tip_x_mm - n->entry_x_mm, uz = n->tip_z_mm - n->entry_z_mm;
    float len = hypotf(ux, uz);
    ux /= len;
    uz /= len;
    float dz = tl_geometry_dz_mm(&f->g);
    double sum = 0.0;
    int used = 0;
    for (uint32_t l = 0; l < f->g.lines; l++) {
        float ox, oz;
        tl_geometry_sample_xz(&f->g, (float)l, 0.0f, &ox, &oz);
        /* o + r d = e + t u */
        float det = -rdx * uz + rdz * ux;
        float bx = n->entry_x_mm - ox, bz = n->entry_z_mm - oz;
        float r = (-bx * uz + bz * ux) / det, t = (rdx * bz - rdz * bx) / det;
        if (t < 1.0f || t > len - 1.5f || r < 3.0f)
            continue;
        float best = 0.0f;
        for (int k = (int)((r - 0.6f) / dz); k <= (int)((r + 0.6f) / dz); k++)
            if (k >= 0 && k < (int)f->g.samples)
                best = fmaxf(best, f->env[(size_t)l * f->g.samples + (size_t)k]);
        sum += 20.0 * log10(best + 1e-6);
        used++;
    }
    *lines_used = used;
    return used ? sum / used : -999.0;
}

static double needle_db(float angle, float steer, float *vis, int *used)
{
    char a[64], s[64];
    snprintf(a, sizeof a, "guide_angle_deg=%.1f", (double)angle);
    snprintf(s, sizeof s, "steer_deg=%.1f", (double)steer);
    simt_frame f;
    simt_render(&f, "needle-guide", 3, 5, a, s, "speckle=0", "noise_db=-140", NULL);
    double db = shaft_echo_db(&f, used);
    *vis = f.truth.needle.visibility;
    simt_free(&f);
    return db;
}

/* A steep needle is much brighter with the beams steered towards it (its
 * normal closer to the beam) and dimmer steered away (+15: 75 deg off its
 * normal; further away the beams run almost along the shaft). */
static void test_needle_brighter_steered_towards_it(void **state)
{
    (void)state;
    float v0, vt, va;
    int n0, nt, na;
    double s0 = needle_db(60.0f, 0.0f, &v0, &n0);
    double st = needle_db(60.0f, -25.0f, &vt, &nt);
    double sa = needle_db(60.0f, 15.0f, &va, &na);
    printf("60 deg needle: straight %.1f dB (vis %.3f, %d lines), steered -25 %.1f dB (vis "
           "%.3f, %d lines), steered +15 %.1f dB (vis %.3f, %d lines)\n",
           s0, (double)v0, n0, st, (double)vt, nt, sa, (double)va, na);
    assert_true(n0 >= 10 && nt >= 10 && na >= 5);
    /* model: incidence 60 -> 35 deg is -14.7 -> -7.7 dB of the normal echo */
    assert_true(st - s0 >= 5.0);
    assert_true(s0 - sa >= 0.5);
    /* 30 deg needle steered by -30: normal incidence, brighter than a
     * straight 30 deg one by the model's 5.8 dB (within 2) */
    double f0 = needle_db(30.0f, 0.0f, &v0, &n0);
    double f1 = needle_db(30.0f, -30.0f, &vt, &nt);
    printf("30 deg needle: straight %.1f dB, steered -30 %.1f dB\n", f0, f1);
    assert_true(f1 - f0 >= 3.8 && f1 - f0 <= 7.8);
}

/* Flat specular interfaces (the fascia) are anisotropic: steering the beams
 * off their normal darkens them, as it does on a real scanner. */
static void test_flat_interface_darker_steered(void **state)
{
    (void)state;
    double lvl[2];
    for (int k = 0; k < 2; k++) {
        simt_frame f;
        simt_render(&f, "plantar-fascia", 4, 0, "speckle=0", "noise_db=-140",
                    k ? "steer_deg=-20" : "steer_deg=0", NULL);
        const tl_sim_boundary *bd = simt_boundary(&f.truth, TL_BOUNDARY_FASCIA_SUPERFICIAL);
        assert_non_null(bd);
        float b = D2R(f.g.steer_deg), dz = tl_geometry_dz_mm(&f.g);
        double sum = 0;
        int n = 0;
        for (uint32_t l = 20; l + 20 < f.g.lines; l++) {
            float ox, oz;
            tl_geometry_sample_xz(&f.g, (float)l, 0.0f, &ox, &oz);
            /* walk the ray to the boundary */
            float r = 1.0f, zb = NAN;
            for (; r < 40.0f; r += 0.02f) {
                zb = simt_boundary_z(bd, ox + r * sinf(b));
                if (!isnan(zb) && r * cosf(b) >= zb)
                    break;
            }
            if (isnan(zb) || r >= 40.0f)
                continue;
            float best = 0;
            for (int s = (int)((r - 0.4f) / dz); s <= (int)((r + 0.4f) / dz); s++)
                best = fmaxf(best, f.env[(size_t)l * f.g.samples + (size_t)s]);
            sum += 20.0 * log10(best + 1e-6);
            n++;
        }
        assert_true(n >= 30);
        lvl[k] = sum / n;
        simt_free(&f);
    }
    printf("fascia surface echo: straight %.1f dB, steered -20 deg %.1f dB\n", lvl[0], lvl[1]);
    assert_true(lvl[0] - lvl[1] >= 3.0);
}

/* A sequence alternating angles renders exactly what a simulator set to
 * each angle alone renders (one scene cached per angle, none mixed up),
 * and a parameter change drops the cached scenes. */
static void test_alternating_angles_same_frames(void **state)
{
    (void)state;
    tl_sim *alt = NULL, *a = NULL, *b = NULL;
    assert_int_equal(tl_sim_create("needle-insertion", 9, &alt), TL_OK);
    assert_int_equal(tl_sim_create("needle-insertion", 9, &a), TL_OK);
    assert_int_equal(tl_sim_create("needle-insertion", 9, &b), TL_OK);
    assert_int_equal(tl_sim_set_param(b, "steer_deg", "-20"), TL_OK);
    tl_geometry g;
    assert_int_equal(tl_sim_get_geometry(alt, &g), TL_OK);
    size_t n = (size_t)g.lines * g.samples;
    int16_t *x = malloc(n * 2), *y = malloc(n * 2);
    assert_non_null(x);
    assert_non_null(y);
    tl_sim_truth t;
    for (uint32_t k = 0; k < 4; k++) {
        tl_sim *ref = (k & 1) ? b : a;
        assert_int_equal(tl_sim_set_param(alt, "steer_deg", (k & 1) ? "-20" : "0"), TL_OK);
        assert_int_equal(tl_sim_render(alt, k, x, n, &t), TL_OK);
        assert_float_equal(t.geom.steer_deg, (k & 1) ? -20.0f : 0.0f, 1e-5);
        assert_int_equal(tl_sim_render(ref, k, y, n, NULL), TL_OK);
        assert_memory_equal(x, y, n * 2);
    }
    /* another parameter: the cached steered scene must not be reused */
    assert_int_equal(tl_sim_set_param(alt, "needle_angle_deg", "50"), TL_OK);
    assert_int_equal(tl_sim_set_param(b, "needle_angle_deg", "50"), TL_OK);
    assert_int_equal(tl_sim_set_param(alt, "steer_deg", "-20"), TL_OK);
    assert_int_equal(tl_sim_render(alt, 5, x, n, NULL), TL_OK);
    assert_int_equal(tl_sim_render(b, 5, y, n, NULL), TL_OK);
    assert_memory_equal(x, y, n * 2);
    /* out of the simulated array's range, and convex arrays do not steer */
    assert_int_equal(tl_sim_set_param(alt, "steer_deg", "31"), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_sim_set_param(alt, "convex", "1"), TL_OK);
    assert_int_not_equal(tl_sim_render(alt, 0, x, n, NULL), TL_OK);
    free(x);
    free(y);
    tl_sim_destroy(alt);
    tl_sim_destroy(a);
    tl_sim_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_lands_on_steered_geometry),
        cmocka_unit_test(test_needle_brighter_steered_towards_it),
        cmocka_unit_test(test_flat_interface_darker_steered),
        cmocka_unit_test(test_alternating_angles_same_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
