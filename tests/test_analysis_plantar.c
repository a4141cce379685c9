/* Plantar fascia (imaging/analysis an_plantar): the calcaneus and the
 * measurement site on synthetic heels with known geometry; the band's deep
 * border in front of the insertion and the lesions it decides, through the
 * real chain (simulator RF -> imaging -> analysis). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_analysis_simrun.h"
#include "test_analysis_synth.h"
#include "tl_analysis.h"

/* The fascia on the calcaneus (x 0-18 mm), the flexor muscle under it in
 * front of the insertion near the display floor (gain turned down): dark
 * to the bottom like a shadow, but with no cortex line on top. It used to
 * pass for bone, the longer "bone" run, and the site moved onto it. */
static void test_dark_muscle_is_not_calcaneus(void **state)
{
    (void)state;
    const float th[] = { 2.5f, 3.9f, 5.0f };
    for (int i = 0; i < 3; i++) {
        synth_spec s = synth_default();
        s.seed = 40 + (uint64_t)i;
        s.band_thick_mm = th[i];
        s.bone_z_mm = 8.0f + th[i] + 1.0f;
        s.bone_x0_mm = 0;
        s.bone_x1_mm = 18.0f;
        s.deep_db = -58.0f;
        tl_analysis_result r = synth_analyze(&s, TL_AN_PLANTAR_FASCIA);
        if (getenv("TL_TEST_VERBOSE"))
            printf("thick %.1f: site %.1f mm, thickness %.2f mm\n", th[i], r.site_x_mm, r.thickness_mm);
        assert_true(r.structure_found);
        assert_true(fabsf(r.site_x_mm - 18.0f) < 1.5f);
        assert_true(fabsf(r.thickness_mm - th[i]) < 0.3f);
    }
}

/* Untilted heels with a large hypoechoic lesion just anterior of the
 * insertion (eval case 62 of seed 2026, plantar only): the fascia thins in
 * front of the insertion and its deep border ran on a muscle line 1.5-4 mm
 * too deep 10-20 mm anterior of the site; the band's level then swung so
 * much that a -10 dB, 9.5 mm lesion was not significant. The deep border
 * 12-20 mm in front of the site is within 0.5 mm of the truth and the
 * lesion is found. */
static void test_anterior_deep_border(void **state)
{
    (void)state;
    static const kv par[] = { { "thickness_mm", "4.32" }, { "lesion", "1" },
                              { "lesion_width_mm", "9.5" }, { "lesion_depth_mm", "3.2" },
                              { "lesion_contrast_db", "-10.5" }, { "f0_mhz", "10.5" },
                              { "depth_mm", "29" }, { "gain_db", "3.7" }, { "noise_db", "-73" } };
    int near = 0, n = 0, found = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        tl_analysis_result r;
        float ox, oz;
        tl_sim_truth *t = calloc(1, sizeof *t);
        assert_non_null(t);
        run_full("plantar-fascia", TL_AN_PLANTAR_FASCIA, seed, par, 9, &r, t, &ox, &oz);
        assert_true(r.structure_found);
        assert_true(fabsf(r.thickness_mm - t->thickness_mm) < 0.35f);
        for (float dx = 12.0f; dx <= 20.0f; dx += 4.0f) {
            float x = r.site_x_mm + dx;
            float e = tl_polyline_z(r.deep.x_mm, r.deep.z_mm, r.deep.n, x) -
                      simrun_truth_z(t, TL_BOUNDARY_FASCIA_DEEP, ox, oz, x);
            if (getenv("TL_TEST_VERBOSE"))
                printf("  site%+.0f mm: deep border %+.2f mm\n", dx, e);
            n += !isnan(e);
            near += fabsf(e) < 0.5f;
        }
        const tl_sim_lesion *l = &t->lesions[0];
        for (uint32_t k = 0; k < r.n_targets; k++)
            if (hypotf(r.targets[k].x_mm + ox - l->cx_mm, r.targets[k].z_mm + oz - l->cz_mm) < 1.5f) {
                found++;
                break;
            }
        free(t);
    }
    if (getenv("TL_TEST_VERBOSE"))
        printf("deep border within 0.5 mm: %d of %d; lesion found %d of 8\n", near, n, found);
    /* without the anterior search: 17 of 24 (seeds 3, 6, 7, 8 1.3-3.2 mm off) */
    assert_true(n >= 20);
    assert_true(near >= n - 2);
    assert_true(found >= 7);
}

/* A thick hypoechoic fascia only ~5 dB above the display floor with a
 * -20 dB lesion (eval case 14 of seed 2027, plantar only: a 7.7 mm fascia,
 * an 8.7 x 3.9 mm lesion at the floor, "-4.9 dB"): the lesion's contrast is
 * clipped by the display, and it is a target however small the measured
 * contrast; plain band at the same level gives none. */
static void test_lesion_at_display_floor(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        synth_spec s = synth_default();
        s.seed = 60 + (uint64_t)i;
        s.band_thick_mm = 6.5f;
        s.bone_z_mm = 8.0f + 6.5f + 1.0f;
        s.bone_x0_mm = 0;
        s.bone_x1_mm = 18.0f;
        s.band_db = -55.5f;
        s.fat_db = -50.0f;
        s.deep_db = -52.0f;
        tl_analysis_result r0 = synth_analyze(&s, TL_AN_PLANTAR_FASCIA);
        s.n_ell = 1;
        s.ell[0] = (synth_ellipse){ 25.0f, 11.25f, 7.0f, 3.5f, -20.0f };
        tl_analysis_result r = synth_analyze(&s, TL_AN_PLANTAR_FASCIA);
        if (getenv("TL_TEST_VERBOSE"))
            printf("floor: %u targets without the lesion, %u with (%.1f dB at %.1f, %.1f)\n",
                   r0.n_targets, r.n_targets, r.n_targets ? r.targets[0].contrast_db : 0.0f,
                   r.n_targets ? r.targets[0].x_mm : 0.0f, r.n_targets ? r.targets[0].z_mm : 0.0f);
        assert_true(r0.structure_found && r.structure_found);
        assert_int_equal(r0.n_targets, 0);
        assert_true(r.n_targets >= 1);
        assert_true(hypotf(r.targets[0].x_mm - 25.0f, r.targets[0].z_mm - 11.25f) < 1.0f);
    }
}

/* Tilted heels without fibre echoes (the scenes of eval cases 204, 198,
 * 138 and 118 of seed 2026, plantar only, without their lesions and fluid,
 * each on simulator seeds 1-3): the coarse border (an_band_smooth_top) put
 * the band's top 1-3 mm up in the fat pad in half of them. With the top
 * where the fat's septa end (spread_border): 6 of 12 within 0.5 mm, 2 over
 * 1 mm, mean error 0.73 mm, 8 abnormal calls right; without it 3, 6, 1.45
 * mm and 6. Since the deep border over the calcaneus is placed from the
 * cortex (an_pf_deep_on_bone): 7 within 0.5 mm, 2 over 1 mm, 0.66 mm, 7
 * right (a 4.58 mm band whose top lies 0.3-0.9 mm low had read right with
 * its deep border as low: 3.68 mm now); without the spread border 2, 4,
 * 1.50 mm and 3. */
static void test_tilted_top_where_septa_end(void **state)
{
    (void)state;
    static const char *const cfg[][7] = {
        /* thickness, tilt, f0, depth, gain, noise (as the eval's cases) */
        { "3.59", "10.7", "9.3", "38", "-4.7", "-53" },
        { "3.98", "11.1", "13.5", "32", "1.9", "-67" },
        { "4.58", "-6.5", "9.6", "43", "3.3", "-66" },
        { "3.73", "15.0", "11.4", "28", "-3.9", "-59" },
    };
    int within = 0, right = 0, n = 0, over1 = 0;
    double sum = 0;
    for (int c = 0; c < 4; c++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            const kv par[] = { { "thickness_mm", cfg[c][0] }, { "anisotropy_deg", cfg[c][1] },
                               { "f0_mhz", cfg[c][2] },       { "depth_mm", cfg[c][3] },
                               { "gain_db", cfg[c][4] },      { "noise_db", cfg[c][5] } };
            tl_analysis_result r;
            tl_sim_truth *t = calloc(1, sizeof *t);
            assert_non_null(t);
            run_full("plantar-fascia", TL_AN_PLANTAR_FASCIA, seed, par, 6, &r, t, NULL, NULL);
            assert_true(r.structure_found);
            float e = r.thickness_mm - t->thickness_mm;
            if (getenv("TL_TEST_VERBOSE"))
                printf("tilted %s mm at %s deg, seed %llu: %.2f mm (%+.2f)\n", cfg[c][0], cfg[c][1],
                       (unsigned long long)seed, r.thickness_mm, e);
            n++;
            within += fabsf(e) < 0.5f;
            over1 += !(fabsf(e) <= 1.0f);
            sum += isnan(e) ? 10.0 : fabsf(e);
            right += r.abnormal == (t->thickness_mm > 4.0f);
            free(t);
        }
    if (getenv("TL_TEST_VERBOSE"))
        printf("tilted: %d of %d within 0.5 mm, %d over 1 mm, mean %.2f mm, abnormal right %d\n",
               within, n, over1, sum / n, right);
    assert_true(within >= 5);
    assert_true(over1 <= 3);
    assert_true(sum / n < 1.0);
    assert_true(right >= 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dark_muscle_is_not_calcaneus),
        cmocka_unit_test(test_anterior_deep_border),
        cmocka_unit_test(test_lesion_at_display_floor),
        cmocka_unit_test(test_tilted_top_where_septa_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
