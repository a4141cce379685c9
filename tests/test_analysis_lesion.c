/* Damaged-tissue targets on synthetic B-mode images (log-compressed
 * speckle, known lesions): what must and must not become a target. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "an_internal.h"
#include "test_analysis_synth.h"
#include "tl_analysis.h"

/* Plantar fascia 4 mm thick over the calcaneus, its middle at 10 mm depth. */
static synth_spec heel(uint64_t seed)
{
    synth_spec s = synth_default();
    s.seed = seed;
    s.band_thick_mm = 4.0f;
    s.bone_z_mm = 13.0f;
    s.bone_x0_mm = 0;
    s.bone_x1_mm = 18.0f;
    return s;
}

/* Index of a target within tol mm of (x, z), -1 if none. */
static int target_near(const tl_analysis_result *r, float x, float z, float tol)
{
    for (uint32_t i = 0; i < r->n_targets; i++)
        if (hypotf(r->targets[i].x_mm - x, r->targets[i].z_mm - z) < tol)
            return (int)i;
    return -1;
}

/* The acceptance lesion: 3 mm wide at -6 dB, found in every seed, with
 * its contrast measured about right and a real confidence. */
static void test_lesion_3mm_6db_is_target(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        synth_spec s = heel(seed);
        s.n_ell = 1;
        s.ell[0] = (synth_ellipse){ 25.0f, 10.0f, 3.0f, 1.5f, -6.0f };
        tl_analysis_result r = synth_analyze(&s, TL_AN_PLANTAR_FASCIA);
        assert_true(r.structure_found);
        int k = target_near(&r, 25.0f, 10.0f, 0.7f);
        assert_true(k >= 0);
        assert_int_equal(r.targets[k].kind, TL_TARGET_HYPOECHOIC);
        assert_true(r.targets[k].contrast_db < -5.0f && r.targets[k].contrast_db > -10.0f);
        assert_true(r.targets[k].width_mm > 1.5f && r.targets[k].width_mm < 4.5f);
        assert_true(r.targets[k].confidence > 0.6f);
        assert_int_equal(r.best_target, 0);
    }
}

/* A speckle-sized dark blob, however dark, covers a resolution cell or
 * two: not a target. Neither is plain speckle. */
static void test_speckle_blob_is_not_target(void **state)
{
    (void)state;
    for (uint64_t seed = 11; seed <= 16; seed++) {
        synth_spec s = heel(seed);
        tl_analysis_result r = synth_analyze(&s, TL_AN_PLANTAR_FASCIA);
        assert_true(r.structure_found);
        assert_int_equal(r.n_targets, 0);
        s.n_ell = 2;
        s.ell[0] = (synth_ellipse){ 25.0f, 10.0f, 0.6f, 0.3f, -15.0f };
        s.ell[1] = (synth_ellipse){ 32.0f, 9.0f, 0.4f, 0.4f, -20.0f };
        r = synth_analyze(&s, TL_AN_PLANTAR_FASCIA);
        assert_int_equal(r.n_targets, 0);
    }
}

/* A large area only 2.5 dB darker is measurably different but not
 * hypoechoic tissue: not a target. The same area at -9 dB is. */
static void test_faint_area_is_not_target(void **state)
{
    (void)state;
    for (uint64_t seed = 21; seed <= 23; seed++) {
        synth_spec s = heel(seed);
        s.n_ell = 1;
        s.ell[0] = (synth_ellipse){ 26.0f, 10.0f, 6.0f, 2.0f, -2.5f };
        tl_analysis_result r = synth_analyze(&s, TL_AN_PLANTAR_FASCIA);
        assert_int_equal(r.n_targets, 0);
        s.ell[0].contrast_db = -9.0f;
        r = synth_analyze(&s, TL_AN_PLANTAR_FASCIA);
        int k = target_near(&r, 26.0f, 10.0f, 0.7f);
        assert_true(k >= 0);
        assert_true(r.targets[k].width_mm > 4.5f && r.targets[k].width_mm < 7.5f);
    }
}

/* A lesion across most of a thin band, which takes the band's border
 * echoes with it, is still found (the borders are bridged over it). */
static void test_lesion_filling_thin_band(void **state)
{
    (void)state;
    synth_spec s = heel(31);
    s.band_thick_mm = 2.2f;
    s.bone_z_mm = 11.2f;
    s.n_ell = 1;
    s.ell[0] = (synth_ellipse){ 26.0f, 9.1f, 8.0f, 1.8f, -14.0f };
    tl_analysis_result r = synth_analyze(&s, TL_AN_PLANTAR_FASCIA);
    assert_true(r.structure_found);
    int k = target_near(&r, 26.0f, 9.1f, 1.0f);
    assert_true(k >= 0);
    assert_true(r.targets[k].contrast_db < -8.0f);
}

/* Anisotropy guard: a band with a bump (its flanks about 12 deg off the
 * perpendicular), darkening with its angle by up to 8 dB there: no target
 * on the flanks, and a warning to tilt the probe; a real lesion on the
 * perpendicular top of the bump is still found. */
static void test_anisotropy_is_not_target(void **state)
{
    (void)state;
    for (uint64_t seed = 41; seed <= 43; seed++) {
        synth_spec s = synth_default();
        s.seed = seed;
        s.band_top_mm = 9.0f;
        s.band_thick_mm = 3.5f;
        s.bump_mm = -1.5f;
        s.bump_x_mm = 20.0f;
        s.bump_w_mm = 6.0f;
        s.aniso_db_per_deg2 = 0.08f;
        s.aniso_max_db = 8.0f;
        tl_analysis_result r = synth_analyze(&s, TL_AN_PLANTAR_FASCIA);
        assert_true(r.structure_found);
        assert_int_equal(r.n_targets, 0);
        assert_true(r.anisotropy);
        bool warned = false;
        for (uint32_t i = 0; i < r.n_warnings; i++)
            warned |= strstr(r.warnings[i], "tilt the probe") != NULL;
        assert_true(warned);
        s.n_ell = 1;
        s.ell[0] = (synth_ellipse){ 20.0f, 9.25f, 3.0f, 1.5f, -8.0f };
        r = synth_analyze(&s, TL_AN_PLANTAR_FASCIA);
        assert_true(target_near(&r, 20.0f, 9.25f, 0.8f) >= 0);
    }
}

/* Effusion grade from depth: a film under 1 mm (what grade-0 joints read,
 * 0.6-0.9 mm, from the cartilage surface and the capsule) is grade 0, as it
 * is too small for a target; the simulator's grade-1 effusions (1.6 mm,
 * read 1.2-1.9 mm) stay grade 1, and 2.6 / 4.8 mm separate grades 2 and 3. */
static void test_effusion_grade_cut(void **state)
{
    (void)state;
    static const struct {
        float depth;
        int grade;
    } cases[] = { { 0.0f, 0 },  { 0.61f, 0 }, { 0.93f, 0 }, { 0.99f, 0 }, { 1.0f, 1 },
                  { 1.24f, 1 }, { 1.6f, 1 },  { 2.59f, 1 }, { 2.6f, 2 },  { 3.6f, 2 },
                  { 4.79f, 2 }, { 4.8f, 3 },  { 6.0f, 3 },  { NAN, 0 },   { -1.0f, 0 } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(an_effusion_grade(cases[i].depth), cases[i].grade);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lesion_3mm_6db_is_target),
        cmocka_unit_test(test_speckle_blob_is_not_target),
        cmocka_unit_test(test_faint_area_is_not_target),
        cmocka_unit_test(test_lesion_filling_thin_band),
        cmocka_unit_test(test_anisotropy_is_not_target),
        cmocka_unit_test(test_effusion_grade_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
