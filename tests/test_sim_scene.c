/* hw-sim scenes: the needle (advance, visibility, drift out of plane),
 * anisotropy, lesions, calibration errors of the simulated probe, convex. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_sim.h"
#include "sim_test_util.h"

/* Mean envelope (dB) inside a polygon-free region: points where pred holds. */
typedef bool (*region_fn)(const simt_frame *f, float x, float z, const void *arg);

static double region_db(const simt_frame *f, region_fn in, const void *arg, size_t *count)
{
    double s = 0;
    size_t n = 0;
    for (uint32_t l = 0; l < f->g.lines; l++)
        for (uint32_t k = 0; k < f->g.samples; k += 2) {
            float x, z;
            tl_geometry_sample_xz(&f->g, (float)l, (float)k, &x, &z);
            if (in(f, x, z, arg)) {
                s += f->env[(size_t)l * f->g.samples + k];
                n++;
            }
        }
    if (count)
        *count = n;
    return n ? 20.0 * log10(s / (double)n) : NAN;
}

/* Distance from (x,z) to the needle shaft of the truth. */
static float shaft_dist(const tl_sim_needle *n, float x, float z)
{
    float dx = n->tip_x_mm - n->entry_x_mm, dz = n->tip_z_mm - n->entry_z_mm;
    float len2 = dx * dx + dz * dz;
    float t = len2 > 0 ? ((x - n->entry_x_mm) * dx + (z - n->entry_z_mm) * dz) / len2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    float px = n->entry_x_mm + t * dx - x, pz = n->entry_z_mm + t * dz - z;
    return sqrtf(px * px + pz * pz);
}

static bool on_shaft(const simt_frame *f, float x, float z, const void *arg)
{
    (void)arg;
    return shaft_dist(&f->truth.needle, x, z) < 0.15f;
}

static bool near_shaft(const simt_frame *f, float x, float z, const void *arg)
{
    /* tissue above the shaft (beneath it is the reverberation tail) */
    const tl_sim_needle *n = &f->truth.needle;
    float d = shaft_dist(n, x, z);
    float zs = n->entry_z_mm + (x - n->entry_x_mm) * tanf(n->angle_deg * (float)M_PI / 180);
    (void)arg;
    return d > 1.0f && d < 3.0f && z < zs && x > n->entry_x_mm && x < n->tip_x_mm;
}

static void test_needle_advances_to_target(void **state)
{
    (void)state;
    simt_frame a, b, c;
    simt_render(&a, "needle-insertion", 2, 10, "needle_speed_mm=0.5", NULL);
    simt_render(&b, "needle-insertion", 2, 20, "needle_speed_mm=0.5", NULL);
    simt_render(&c, "needle-insertion", 2, 400, "needle_speed_mm=0.5", NULL);
    const tl_sim_needle *na = &a.truth.needle, *nb = &b.truth.needle, *nc = &c.truth.needle;
    assert_true(na->present && nb->present && nc->present);
    float adv = hypotf(nb->tip_x_mm - na->tip_x_mm, nb->tip_z_mm - na->tip_z_mm);
    assert_float_equal(adv, 5.0, 1e-3);
    assert_float_equal(na->angle_deg, 30.0, 1e-4);
    /* it stops in the lesion it is aimed at */
    assert_true(c.truth.n_lesions >= 1);
    assert_true(tl_sim_lesion_contains(&c.truth.lesions[0], nc->tip_x_mm, nc->tip_z_mm));
    /* the shaft is bright in the rendered frame */
    size_t n1, n2;
    double on = region_db(&b, on_shaft, NULL, &n1), off = region_db(&b, near_shaft, NULL, &n2);
    printf("needle shaft %.1f dB over the tissue beside it (%zu, %zu samples)\n", on - off, n1,
           n2);
    assert_true(n1 > 50 && n2 > 50);
    assert_true(on - off >= 10.0);
    /* before its start frame there is no needle */
    simt_frame d;
    simt_render(&d, "needle-insertion", 2, 3, "needle_start_frame=5", NULL);
    assert_false(d.truth.needle.present);
    simt_free(&a);
    simt_free(&b);
    simt_free(&c);
    simt_free(&d);
}

static void test_needle_visibility_and_drift(void **state)
{
    (void)state;
    simt_frame shallow, steep, gone;
    simt_render(&shallow, "needle-insertion", 4, 30, "needle_angle_deg=20", "needle_speed_mm=1",
                NULL);
    simt_render(&steep, "needle-insertion", 4, 30, "needle_angle_deg=60", "needle_speed_mm=1",
                NULL);
    assert_true(steep.truth.needle.visibility < 0.5f * shallow.truth.needle.visibility);
    double vs = region_db(&shallow, on_shaft, NULL, NULL) -
                region_db(&shallow, near_shaft, NULL, NULL);
    double vt = region_db(&steep, on_shaft, NULL, NULL) - region_db(&steep, near_shaft, NULL, NULL);
    printf("shaft contrast: 20 deg %.1f dB, 60 deg %.1f dB\n", vs, vt);
    assert_true(vs > vt + 6.0);
    /* drifting 0.1 mm per frame: in plane at frame 2, gone by frame 30 */
    simt_frame in;
    simt_render(&in, "needle-insertion", 4, 2, "needle_drift_mm=0.1", NULL);
    simt_render(&gone, "needle-insertion", 4, 30, "needle_drift_mm=0.1", NULL);
    assert_true(in.truth.needle.in_plane);
    assert_false(gone.truth.needle.in_plane);
    assert_float_equal(gone.truth.needle.out_of_plane_mm, 3.0, 1e-4);
    double vg = region_db(&gone, on_shaft, NULL, NULL) - region_db(&gone, near_shaft, NULL, NULL);
    printf("shaft contrast out of plane (3 mm): %.1f dB\n", vg);
    assert_true(vg < 3.0);
    simt_free(&shallow);
    simt_free(&steep);
    simt_free(&in);
    simt_free(&gone);
}

typedef struct {
    tl_boundary_kind top, bottom;
} band_arg;

static bool in_band(const simt_frame *f, float x, float z, const void *arg)
{
    const band_arg *b = arg;
    const tl_sim_boundary *t = simt_boundary(&f->truth, b->top);
    const tl_sim_boundary *d = simt_boundary(&f->truth, b->bottom);
    float zt = simt_boundary_z(t, x), zd = simt_boundary_z(d, x);
    return !isnan(zt) && !isnan(zd) && fabsf(x) < 10.0f && z > zt + 0.3f && z < zd - 0.3f;
}

/* The Achilles darkens when the probe tilts off perpendicular. */
static void test_anisotropy_darkens_tendon(void **state)
{
    (void)state;
    band_arg arg = { TL_BOUNDARY_TENDON_SUPERFICIAL, TL_BOUNDARY_TENDON_DEEP };
    simt_frame flat, tilt;
    simt_render(&flat, "achilles", 9, 0, NULL);
    simt_render(&tilt, "achilles", 9, 0, "anisotropy_deg=12", NULL);
    assert_false(flat.truth.anisotropic);
    assert_true(tilt.truth.anisotropic);
    assert_float_equal(tilt.truth.fibre_tilt_deg, 12.0, 1e-3);
    /* the clinical thickness does not change, only how it looks */
    assert_float_equal(tilt.truth.thickness_mm, flat.truth.thickness_mm, 1e-6);
    double a = region_db(&flat, in_band, &arg, NULL), b = region_db(&tilt, in_band, &arg, NULL);
    printf("tendon echo: perpendicular %.1f dB, tilted 12 deg %.1f dB\n", a, b);
    assert_true(a - b >= 6.0);
    simt_free(&flat);
    simt_free(&tilt);
}

static bool in_lesion(const simt_frame *f, float x, float z, const void *arg)
{
    (void)arg;
    return tl_sim_lesion_contains(&f->truth.lesions[0], x, z);
}

static bool beside_lesion(const simt_frame *f, float x, float z, const void *arg)
{
    tl_sim_lesion l = f->truth.lesions[0];
    (void)arg;
    l.cx_mm += l.width_mm + 1.0f;
    return tl_sim_lesion_contains(&l, x, z);
}

static void test_lesions_are_darker(void **state)
{
    (void)state;
    simt_frame h, a;
    simt_render(&h, "achilles", 5, 0, "lesion=1", "lesion_contrast_db=-12", "thickness_mm=7",
                "lesion_depth_mm=3", NULL);
    simt_render(&a, "achilles", 5, 0, "lesion=1", "lesion_kind=anechoic", "thickness_mm=7",
                "lesion_depth_mm=2", NULL);
    assert_int_equal(h.truth.lesions[0].kind, TL_LESION_HYPOECHOIC);
    assert_int_equal(a.truth.lesions[0].kind, TL_LESION_ANECHOIC);
    double dh = region_db(&h, beside_lesion, NULL, NULL) - region_db(&h, in_lesion, NULL, NULL);
    double da = region_db(&a, beside_lesion, NULL, NULL) - region_db(&a, in_lesion, NULL, NULL);
    printf("lesion darker than the tendon beside it: hypoechoic %.1f dB, anechoic %.1f dB\n", dh,
           da);
    assert_true(dh >= 6.0 && dh <= 25.0);
    assert_true(da >= 15.0);
    simt_free(&h);
    simt_free(&a);
}

/* Calibration errors: a wire appears where a miscalibrated probe puts it. */
static void test_probe_errors(void **state)
{
    (void)state;
    simt_frame f;
    simt_render(&f, "wire-phantom", 1, 0, "sos_error_pct=5", "lateral_offset_mm=0.9",
                "noise_db=-140", NULL);
    /* the wire at true (0.9 + 0, 20): display x = 0, z = 20 / 1.05 */
    float dz = tl_geometry_dz_mm(&f.g);
    bool found = false;
    for (uint32_t w = 0; w < f.truth.n_wires; w++)
        found |= fabsf(f.truth.wire_x_mm[w]) < 1e-4f && fabsf(f.truth.wire_z_mm[w] - 20) < 1e-4f;
    assert_true(found);
    /* wires are at true x = -15..15; the display shifts them by -0.9 mm = 3 lines */
    uint32_t line = (uint32_t)lroundf(-0.9f / f.g.pitch_mm + 0.5f * (float)(f.g.lines - 1));
    const float *e = f.env + (size_t)line * f.g.samples;
    uint32_t k0 = (uint32_t)(17.0f / dz), pk = k0;
    for (uint32_t k = k0; k < (uint32_t)(21.0f / dz); k++)
        if (e[k] > e[pk])
            pk = k;
    printf("wire at true z 20 mm shows at %.3f mm (expected %.3f)\n", pk * dz, 20.0 / 1.05);
    assert_true(fabsf((float)pk * dz - 20.0f / 1.05f) < 2.0f * dz);
    simt_free(&f);
    /* dead element 64: its line is >= 14 dB below its neighbours (in air) */
    simt_render(&f, "in-air", 1, 0, "dead_elements=64", "weak_elements=20", NULL);
    double lv[128] = { 0 };
    for (uint32_t l = 0; l < f.g.lines; l++)
        for (uint32_t k = 0; k < (uint32_t)(6.0f / dz); k++)
            lv[l] += f.env[(size_t)l * f.g.samples + k];
    double dead = 20 * log10(lv[64] / lv[60]), weak = 20 * log10(lv[20] / lv[16]);
    printf("in-air ring-down: dead element %.1f dB, weak element %.1f dB\n", dead, weak);
    assert_true(dead <= -14.0);
    assert_true(weak <= -4.0 && weak >= -8.0);
    simt_free(&f);
    /* gain tilt: +6 dB at the bottom, 0 at the top, linear in depth */
    simt_frame a, b;
    simt_render(&a, "uniform-phantom", 8, 0, "noise_db=-140", NULL);
    simt_render(&b, "uniform-phantom", 8, 0, "noise_db=-140", "gain_tilt_db=6", NULL);
    float zmax = tl_geometry_depth_mm(&a.g);
    double top = tl_sim_band_level_db(b.rf, &b.g, b.g.f0_hz, 2, 6) -
                 tl_sim_band_level_db(a.rf, &a.g, a.g.f0_hz, 2, 6);
    double mid = tl_sim_band_level_db(b.rf, &b.g, b.g.f0_hz, zmax / 2 - 2, zmax / 2 + 2) -
                 tl_sim_band_level_db(a.rf, &a.g, a.g.f0_hz, zmax / 2 - 2, zmax / 2 + 2);
    printf("gain tilt 6 dB: %.2f dB near the top (expect %.2f), %.2f dB mid-depth (3)\n", top,
           6.0 * 4.0 / zmax, mid);
    assert_true(fabs(top - 6.0 * 4.0 / zmax) < 0.3);
    assert_true(fabs(mid - 3.0) < 0.3);
    simt_free(&a);
    simt_free(&b);
}

static void test_convex_and_depth(void **state)
{
    (void)state;
    simt_frame f;
    simt_render(&f, "plantar-fascia", 1, 0, "convex=1", "radius_mm=30", "pitch_mm=0.4",
                "depth_mm=50", "f0_mhz=7.5", NULL);
    assert_int_equal(f.g.kind, TL_PROBE_CONVEX);
    assert_true(fabsf(tl_geometry_depth_mm(&f.g) - 50.0f) < 0.05f);
    assert_true(f.g.fs_hz >= 4 * f.g.f0_hz);
    assert_int_equal(f.truth.geom.kind, TL_PROBE_CONVEX);
    assert_non_null(simt_boundary(&f.truth, TL_BOUNDARY_CALCANEUS));
    /* speckle everywhere in the sector: no dead columns */
    for (uint32_t l = 0; l < f.g.lines; l += 16) {
        double s = 0;
        for (uint32_t k = 200; k < 400; k++)
            s += f.env[(size_t)l * f.g.samples + k];
        assert_true(s / 200 > 50.0);
    }
    simt_free(&f);
}

/* Phantoms have no skin: the uniform phantom is uniform from the face. */
static void test_phantom_has_no_skin(void **state)
{
    (void)state;
    simt_frame f;
    simt_render(&f, "uniform-phantom", 6, 0, "noise_db=-140", NULL);
    float dz = tl_geometry_dz_mm(&f.g);
    double a = 0, b = 0;
    for (uint32_t l = 0; l < f.g.lines; l++) {
        for (uint32_t k = (uint32_t)(0.6f / dz); k < (uint32_t)(1.6f / dz); k++)
            a += f.env[(size_t)l * f.g.samples + k];
        for (uint32_t k = (uint32_t)(3.0f / dz); k < (uint32_t)(4.0f / dz); k++)
            b += f.env[(size_t)l * f.g.samples + k];
    }
    double db = 20 * log10(a / b);
    printf("uniform phantom: 0.6-1.6 mm vs 3-4 mm: %.2f dB\n", db);
    assert_true(fabs(db) < 1.5);
    simt_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_needle_advances_to_target),
        cmocka_unit_test(test_needle_visibility_and_drift),
        cmocka_unit_test(test_anisotropy_darkens_tendon),
        cmocka_unit_test(test_lesions_are_darker),
        cmocka_unit_test(test_probe_errors),
        cmocka_unit_test(test_convex_and_depth),
        cmocka_unit_test(test_phantom_has_no_skin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
