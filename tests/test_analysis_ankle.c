/* Ankle recess effusions through the real chain (simulator RF -> imaging ->
 * analysis): the depth measured along the joint's axis when the probe is
 * tilted (heel-toe) against the joint, and from the recess floor that
 * includes the bottom of the joint gap. Truth: hw-sim/sim_ankle.c (the
 * fluid height over the bony contour smoothed over 5 mm, in the joint's
 * frame, which a tilt rotates about the recess). */
#include "test_analysis_simrun.h"

/* Measure one effusion; returns the signed depth error (mm). */
static float effusion(uint64_t seed, const char *grade, const char *cart, const char *tilt,
                      tl_analysis_result *r, tl_sim_truth *t, float *ox, float *oz)
{
    kv par[] = { { "effusion_grade", grade }, { "cartilage_mm", cart }, { "f0_mhz", "11" },
                 { "depth_mm", "35" }, { "noise_db", "-65" }, { "anisotropy_deg", tilt } };
    float truth = run_full("ankle-recess", TL_AN_ANKLE_RECESS, seed, par, 6, r, t, ox, oz);
    assert_true(r->structure_found);
    if (getenv("TL_TEST_VERBOSE"))
        printf("  seed %llu grade %s tilt %s: truth %.2f depth %.2f grade %d\n",
               (unsigned long long)seed, grade, tilt, truth, r->effusion_depth_mm,
               r->effusion_grade);
    return r->effusion_depth_mm - truth;
}

static bool has_warning(const tl_analysis_result *r, const char *what)
{
    for (uint32_t i = 0; i < r->n_warnings; i++)
        if (strstr(r->warnings[i], what))
            return true;
    return false;
}

/* A grade-3 effusion (6.0 mm) with the probe tilted 13 degrees either way:
 * measured along the beam it read 5.2-5.3 mm (+13) and 6.8-6.9 mm (-13);
 * along the joint's axis it reads within 0.35 mm, the operator is told of
 * the tilt, and the target still sits in the pocket. */
static void test_tilted_effusion(void **state)
{
    (void)state;
    static const char *const tilts[] = { "13", "-13" };
    for (int i = 0; i < 2; i++) {
        tl_analysis_result r;
        tl_sim_truth t;
        float ox, oz;
        float err = effusion(61 + (uint64_t)i, "3", "1.5", tilts[i], &r, &t, &ox, &oz);
        assert_true(fabsf(err) < 0.35f);
        assert_int_equal(r.effusion_grade, 3);
        assert_true(has_warning(&r, "probe tilted"));
        assert_int_equal(t.n_lesions, 1);
        assert_true(r.n_targets >= 1);
        const tl_analysis_target *tg = &r.targets[0];
        assert_int_equal(tg->kind, TL_TARGET_EFFUSION);
        float dx = tg->x_mm + ox - t.lesions[0].cx_mm, dz = tg->z_mm + oz - t.lesions[0].cz_mm;
        assert_true(hypotf(dx, dz) < 2.0f);
    }
}

/* Untilted effusions of grade 2 and 3 over a thick (2.1 mm) cartilage: no
 * tilt is read into a straight probe, and the depth from the floor that
 * includes the bottom of the joint gap has no bias. Bridging tibia to
 * talus under the gap raised the smoothed floor by a fifth of the step
 * from the gap to the cartilage surface: these eight read -0.05 to -0.21
 * mm, a mean of -0.14; now -0.12 to +0.08, mean -0.03. */
static void test_untilted_effusion(void **state)
{
    (void)state;
    float sum = 0;
    for (int i = 0; i < 8; i++) {
        tl_analysis_result r;
        tl_sim_truth t;
        const char *grade = i < 4 ? "2" : "3";
        float err = effusion(71 + (uint64_t)(i % 4), grade, "2.1", "0", &r, &t, NULL, NULL);
        assert_true(fabsf(err) < 0.35f);
        assert_int_equal(r.effusion_grade, i < 4 ? 2 : 3);
        assert_false(has_warning(&r, "probe tilted"));
        sum += err;
    }
    assert_true(fabsf(sum / 8) < 0.08f);
}

/* Heavy electronic noise (-50 dB) at 15 MHz over a 30 mm deep image, a
 * grade-3 effusion: the shadow under the deep joint is noise, not dark, and
 * the bone finder lost the tibia's end and the talar slope by the notch
 * ("no joint notch", or the depth read from a wrong floor), or the whole
 * talar dome. The cortex continued from either side, and seeded from thin
 * bright lines when no notch is found, finds the joint: of these 8 scenes
 * 8 read within 0.35 mm (2 before; 5 with the continuation alone, 7 with
 * the seeding, 8 walking from the cartilage's surface). */
static void test_noisy_joint(void **state)
{
    (void)state;
    int ok = 0;
    for (uint64_t seed = 81; seed < 89; seed++) {
        tl_analysis_result r;
        tl_sim_truth t;
        kv par[] = { { "effusion_grade", "3" }, { "cartilage_mm", "1.04" }, { "f0_mhz", "15" },
                     { "depth_mm", "30" }, { "noise_db", "-50" } };
        float truth = run_full("ankle-recess", TL_AN_ANKLE_RECESS, seed, par, 5, &r, &t, NULL, NULL);
        bool good = r.structure_found && fabsf(r.effusion_depth_mm - truth) < 0.35f;
        if (good)
            assert_int_equal(r.effusion_grade, 3);
        ok += good;
    }
    if (getenv("TL_TEST_VERBOSE"))
        printf("  noisy joints within 0.35 mm: %d of 8\n", ok);
    assert_true(ok >= 7);
}

/* A grade-3 effusion over a 2.1 mm cartilage imaged at 8.2 MHz with +5.7
 * dB of gain: the cartilage's chondrosynovial line is bright enough to end
 * the dark run walked up from the talar cortex, so the strips beside the
 * joint read no fluid and the deepest point moved away from it. Walking
 * from the cartilage's surface: mean error over these six -0.33 mm (-0.61
 * before, one at -1.06). Still thin: an open miss (docs/accuracy.md). */
static void test_bright_cartilage_line(void **state)
{
    (void)state;
    float sum = 0;
    for (uint64_t seed = 91; seed < 97; seed++) {
        tl_analysis_result r;
        kv par[] = { { "effusion_grade", "3" }, { "cartilage_mm", "2.1" }, { "f0_mhz", "8.2" },
                     { "depth_mm", "43" }, { "noise_db", "-55" }, { "gain_db", "5.7" } };
        float truth = run_full("ankle-recess", TL_AN_ANKLE_RECESS, seed, par, 6, &r, NULL, NULL, NULL);
        assert_true(r.structure_found);
        float err = r.effusion_depth_mm - truth;
        if (getenv("TL_TEST_VERBOSE"))
            printf("  seed %llu bright cartilage line: error %.2f\n", (unsigned long long)seed, err);
        assert_true(err > -0.55f && err < 0.35f);
        sum += err;
    }
    assert_true(sum / 6 > -0.45f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tilted_effusion),
        cmocka_unit_test(test_untilted_effusion),
        cmocka_unit_test(test_noisy_joint),
        cmocka_unit_test(test_bright_cartilage_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
