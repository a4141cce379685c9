/* Plantar fascia through a tilted probe: the superficial border where the
 * fat pad's septa end (imaging/analysis an_plantar.c spread_border), its
 * small upward moves (0.3-1 mm) on a top read just inside the band, through
 * the real chain (simulator RF -> imaging -> analysis). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_analysis_simrun.h"
#include "tl_analysis.h"

/* Run a plantar scene: the key=value pairs of `fixed` then of `scene`, on
 * simulator seed; the top's error at the site and the thickness error. */
static void scene_errors(const char *fixed, const char *scene, uint64_t seed, float *es, float *e)
{
    char buf[640];
    kv par[24];
    snprintf(buf, sizeof buf, "%s %s", fixed, scene);
    int np = simrun_parse_scene(buf, par, 0, 24);
    simrun_plantar_errors(seed, par, np, es, e, NULL);
}

/* The scenes of eval cases (plantar only, 300 cases) whose fibre-less
 * band's top was read 0.4-0.9 mm too deep at the site and whose spread
 * border proposed a 0.3-1 mm upward move: 2026 150, 77, 244, 26; 2027 291,
 * 130; 2028 273, 49. Each on simulator seeds 1-2 (other speckle: not every
 * frame has the fault or the move). With the small moves: thickness within
 * 0.35 mm in 13 of 16, 1 top over 0.35 mm too deep, mean error 0.79 mm (one
 * frame without a band counted as 10 mm); without them 10, 4, 0.90 mm. One
 * frame got worse (scene 1 seed 1: +0.40 -> +1.03 mm, the top up in the
 * fat): the cost the eval shows too. */
static void test_small_upward_moves(void **state)
{
    (void)state;
    static const char *const scene[] = {
        "thickness_mm=4.88 anisotropy_deg=5.8 f0_mhz=11.3 depth_mm=45 gain_db=-1.0 noise_db=-58",
        "thickness_mm=3.76 anisotropy_deg=-13.0 f0_mhz=11.7 depth_mm=29 gain_db=3.8 noise_db=-63",
        "thickness_mm=6.88 anisotropy_deg=8.7 f0_mhz=11.4 depth_mm=42 gain_db=1.1 noise_db=-52",
        "thickness_mm=5.44 anisotropy_deg=-6.4 f0_mhz=12.6 depth_mm=39 gain_db=-3.6 noise_db=-60",
        "thickness_mm=7.21 anisotropy_deg=-9.2 f0_mhz=10.4 depth_mm=32 gain_db=-4.8 noise_db=-53",
        "thickness_mm=6.06 anisotropy_deg=-9.3 f0_mhz=8.7 depth_mm=35 gain_db=1.4 noise_db=-55",
        "thickness_mm=5.60 anisotropy_deg=5.8 f0_mhz=10.3 depth_mm=36 gain_db=3.3 noise_db=-55",
        "thickness_mm=7.30 anisotropy_deg=-6.6 f0_mhz=13.5 depth_mm=28 gain_db=-1.0 noise_db=-51",
    };
    const int nsc = (int)(sizeof scene / sizeof scene[0]);
    int ok = 0, n = 0, deep = 0;
    double sum = 0;
    for (int c = 0; c < nsc; c++)
        for (uint64_t seed = 1; seed <= 2; seed++) {
            float es, e;
            scene_errors("lesion=0", scene[c], seed, &es, &e);
            if (getenv("TL_TEST_VERBOSE"))
                printf("scene %d seed %llu: top %+.2f mm at the site, thickness %+.2f mm\n", c,
                       (unsigned long long)seed, es, e);
            n++;
            ok += fabsf(e) <= 0.35f;
            deep += es > 0.35f;
            sum += isnan(e) ? 10.0 : fabsf(e);
        }
    if (getenv("TL_TEST_VERBOSE"))
        printf("small upward moves: %d of %d within 0.35 mm, %d tops over 0.35 mm too deep, "
               "thickness error mean %.2f mm\n", ok, n, deep, sum / n);
    assert_true(ok >= 12);
    assert_true(deep <= 1);
}

/* An anechoic lesion in a fibre-less band: the spread border's thinning
 * move put the top under the lesion (eval seed 2027 case 180: 4.25 mm thin)
 * and is refused (takes_out_lesion). The scenes of 2027 cases 180 and 282
 * on the eval's own simulator seed for them and on simulator seeds 1-2.
 * Without the rule case 180's scene reads its top 3.78 mm too deep (under
 * the lesion), with it 0.01 mm; the other five frames (the fault not
 * reproduced) stay within 0.2 mm either way. */
static void test_thinning_past_lesion(void **state)
{
    (void)state;
    static const char *const scene[] = {
        "thickness_mm=6.53 lesion_width_mm=7.0 lesion_depth_mm=1.6 lesion_contrast_db=-15.5 "
        "anisotropy_deg=14.5 f0_mhz=7.9 depth_mm=29 gain_db=3.4 noise_db=-59 "
        "fluid=0",
        "thickness_mm=4.78 lesion_width_mm=8.2 lesion_depth_mm=2.4 lesion_contrast_db=-7.5 "
        "anisotropy_deg=5.9 f0_mhz=11.8 depth_mm=35 gain_db=2.5 noise_db=-72 "
        "fluid=0",
    };
    static const uint64_t eval_index[] = { 180, 282 };
    int deep = 0, n = 0, deep_eval = 0;
    for (int c = 0; c < 2; c++)
        for (int k = 0; k < 3; k++) {
            uint64_t seed = (uint64_t)k;
            if (k == 0)     /* the eval's: talus eval tissue --seed 2027, case index */
                seed = simrun_eval_sim_seed(2027, eval_index[c], TL_AN_PLANTAR_FASCIA);
            float es, e;
            scene_errors("lesion=1 lesion_kind=anechoic", scene[c], seed, &es, &e);
            if (getenv("TL_TEST_VERBOSE"))
                printf("lesion scene %d sim seed %d: top %+.2f mm at the site, thickness %+.2f mm\n", c,
                       k, es, e);
            n++;
            deep += !(es <= 1.0f);
            deep_eval += k == 0 && !(es <= 1.0f);
        }
    if (getenv("TL_TEST_VERBOSE"))
        printf("thinning past a lesion: %d of %d tops over 1 mm too deep (%d of the eval's 2)\n", deep, n,
               deep_eval);
    assert_true(deep_eval == 0);
    assert_true(deep == 0);
}

/* A lesion just under the top of a fibre-less band: across a dark lesion's
 * edges the pixels' spread is high too, and the spread border took the
 * lesion's upper edge for the fat's rise, 0.5-4 mm into the band (eval
 * `--anatomy all` seed 2032 cases 252 and 297: 4.98 read 2.37, 6.73 read
 * 2.69; 2030 case 141: 5.63 read 5.06). Windows whose darker pixels are a
 * lesion's (p20 under half the band's and the fat's) no longer count for
 * the rise. Each scene on the eval's own simulator seed and on seeds 1-2. */
static void test_lesion_edge_not_fat(void **state)
{
    (void)state;
    static const char *const scene[] = {
        "thickness_mm=4.98 lesion_width_mm=8.3 lesion_depth_mm=1.1 lesion_contrast_db=-17.7 "
        "lesion_kind=hypoechoic anisotropy_deg=-8.9 f0_mhz=8.7 depth_mm=31 gain_db=0.1 "
        "noise_db=-53 fluid=1",
        "thickness_mm=6.73 lesion_width_mm=9.1 lesion_depth_mm=3.5 lesion_contrast_db=-5.1 "
        "lesion_kind=anechoic anisotropy_deg=9.7 f0_mhz=11.8 depth_mm=29 gain_db=1.0 "
        "noise_db=-59 fluid=0",
        "thickness_mm=5.63 lesion_width_mm=4.7 lesion_depth_mm=1.3 lesion_contrast_db=-19.4 "
        "lesion_kind=anechoic anisotropy_deg=-6.5 f0_mhz=13.4 depth_mm=35 gain_db=4.4 "
        "noise_db=-62 fluid=0",
    };
    static const uint64_t eval_seed[] = { 2032, 2032, 2030 }, eval_index[] = { 252, 297, 141 };
    const int nsc = (int)(sizeof scene / sizeof scene[0]);
    int ok = 0, thin = 0, n = 0, ok_eval = 0;
    for (int c = 0; c < nsc; c++)
        for (int k = 0; k < 3; k++) {
            uint64_t seed = (uint64_t)k;
            if (k == 0)
                seed = simrun_eval_sim_seed(eval_seed[c], eval_index[c], TL_AN_PLANTAR_FASCIA);
            float es, e;
            scene_errors("lesion=1", scene[c], seed, &es, &e);
            if (getenv("TL_TEST_VERBOSE"))
                printf("lesion-edge scene %d sim seed %d: top %+.2f mm at the site, thickness %+.2f mm\n",
                       c, k, es, e);
            n++;
            ok += fabsf(e) <= 0.35f;
            ok_eval += k == 0 && fabsf(e) <= 0.35f;
            thin += !(es <= 0.35f);
        }
    if (getenv("TL_TEST_VERBOSE"))
        printf("lesion edge: %d of %d within 0.35 mm (%d of the eval's %d), %d tops over 0.35 mm too deep\n",
               ok, n, ok_eval, nsc, thin);
    assert_true(ok_eval >= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_upward_moves),
        cmocka_unit_test(test_thinning_past_lesion),
        cmocka_unit_test(test_lesion_edge_not_fat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
