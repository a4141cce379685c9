/* Plantar fascia's superficial border over a lesion in the band's upper
 * part (imaging/analysis an_plantar.c top_over_lesion), through the real
 * chain (simulator RF -> imaging -> analysis). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_analysis_simrun.h"
#include "tl_analysis.h"

/* Heels with a dark lesion under a thin layer of band just anterior of the
 * insertion (the scenes of eval cases 98 and 107 of seed 2026 and 196 and
 * 216 of seed 2027, plantar only, each on simulator seeds 1-3): the
 * superficial border dipped onto the lesion's upper edge and the band was
 * read thin at the site. With the dip put back on the fascia's curve: the
 * superficial border within 0.5 mm of the truth at the site in 9 of 12
 * (7 without), over the lesion's centre in 9 (8 without), thickness error
 * mean 0.72 mm (0.79 without). The misses left: a top in the fat (5.1 mm
 * seed 3, 5.63 mm seed 3) and a dip the rule does not take (2.57 mm seed
 * 3: the tissue under it no darker than the band's lower part).
 * Merged with the deep border placed from the cortex (pdeep,
 * an_pf_deep_on_bone; the rule still judges on the found deep border):
 * 8 of 12 at the site (7 without the rule), 9 over the lesion (9), mean
 * 0.53 mm (0.55); at the site >= 8 since. */
static void test_top_over_lesion(void **state)
{
    (void)state;
    static const char *const cfg[][9] = {
        /* thickness, tilt, lesion width, depth, contrast, kind, f0, depth, gain / noise below */
        { "3.25", "11.6", "7.8", "3.0", "-6.1", "anechoic", "12.6", "28", "1.5" },
        { "5.10", "13.3", "6.2", "2.1", "-16.5", "hypoechoic", "13.3", "29", "-0.4" },
        { "2.57", "4.2", "5.6", "2.7", "-5.2", "hypoechoic", "9.9", "45", "4.1" },
        { "5.63", "-9.4", "2.8", "1.0", "-18.4", "hypoechoic", "8.1", "32", "4.9" },
    };
    static const char *const noise[] = { "-51", "-53", "-57", "-53" };
    int site_ok = 0, les_ok = 0, n = 0;
    double sum = 0;
    for (int c = 0; c < 4; c++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            const kv par[] = { { "thickness_mm", cfg[c][0] },       { "anisotropy_deg", cfg[c][1] },
                               { "lesion", "1" },                   { "lesion_width_mm", cfg[c][2] },
                               { "lesion_depth_mm", cfg[c][3] },    { "lesion_contrast_db", cfg[c][4] },
                               { "lesion_kind", cfg[c][5] },        { "f0_mhz", cfg[c][6] },
                               { "depth_mm", cfg[c][7] },           { "gain_db", cfg[c][8] },
                               { "noise_db", noise[c] } };
            tl_analysis_result r;
            float ox, oz;
            tl_sim_truth *t = calloc(1, sizeof *t);
            assert_non_null(t);
            run_full("plantar-fascia", TL_AN_PLANTAR_FASCIA, seed, par, 11, &r, t, &ox, &oz);
            assert_true(r.structure_found);
            float xs = r.site_x_mm, xl = t->lesions[0].cx_mm - ox;
            float es = tl_polyline_z(r.superficial.x_mm, r.superficial.z_mm, r.superficial.n, xs) -
                       simrun_truth_z(t, TL_BOUNDARY_FASCIA_SUPERFICIAL, ox, oz, xs);
            float el = tl_polyline_z(r.superficial.x_mm, r.superficial.z_mm, r.superficial.n, xl) -
                       simrun_truth_z(t, TL_BOUNDARY_FASCIA_SUPERFICIAL, ox, oz, xl);
            float e = r.thickness_mm - t->thickness_mm;
            if (getenv("TL_TEST_VERBOSE"))
                printf("%s mm, %s deg, lesion %s x %s mm, seed %llu: top %+.2f at the site, %+.2f "
                       "over the lesion, thickness %+.2f mm\n",
                       cfg[c][0], cfg[c][1], cfg[c][2], cfg[c][3], (unsigned long long)seed, es, el, e);
            n++;
            site_ok += fabsf(es) < 0.5f;
            les_ok += fabsf(el) < 0.5f;
            sum += isnan(e) ? 10.0 : fabsf(e);
            free(t);
        }
    if (getenv("TL_TEST_VERBOSE"))
        printf("top over a lesion: %d of %d within 0.5 mm at the site, %d over the lesion, "
               "thickness error mean %.2f mm\n", site_ok, n, les_ok, sum / n);
    assert_true(site_ok >= 8);
    assert_true(les_ok >= 9);
    assert_true(sum / n < 0.76);
}

/* Through a tilted probe the top the band search leaves can be the fat
 * pad's level edge, crossing the tilted band and too deep at the site; the
 * spread border proposes an upward move of 1-2 mm there, used when the top
 * it gives runs parallel to the deep border (an_pf_top_slope). The scenes
 * of the eval cases it fixed (`talus eval tissue --anatomy all --cases 300`,
 * seed 2028 cases 18, 162, 267 and 2031 case 135: 0.5-1.2 mm too deep at
 * the site), as --verbose prints them (rounded: not the eval's frames
 * exactly), on the eval case's simulator seed and on seeds 1-2. */
static void test_parallel_upward_moves(void **state)
{
    (void)state;
    static const char *const scene[] = {
        "thickness_mm=5.64 lesion=1 lesion_width_mm=5.9 lesion_depth_mm=2.1 lesion_contrast_db=-18.1 "
        "lesion_kind=anechoic anisotropy_deg=-14.8 f0_mhz=12.7 depth_mm=33 gain_db=-3.5 noise_db=-66 "
        "fluid=0",
        "thickness_mm=4.75 lesion=0 anisotropy_deg=-6.2 f0_mhz=14.4 depth_mm=27 gain_db=-4.8 "
        "noise_db=-70 fluid=1",
        "thickness_mm=7.22 lesion=0 anisotropy_deg=-6.3 f0_mhz=12.1 depth_mm=40 gain_db=4.8 "
        "noise_db=-65 fluid=0",
        "thickness_mm=3.35 lesion=1 lesion_width_mm=6.2 lesion_depth_mm=1.9 lesion_contrast_db=-8.9 "
        "lesion_kind=hypoechoic anisotropy_deg=-6.2 f0_mhz=9.4 depth_mm=32 gain_db=-1.8 noise_db=-66 "
        "fluid=0",
    };
    static const uint64_t eval_seed[] = { 2028, 2028, 2028, 2031 }, eval_index[] = { 18, 162, 267, 135 };
    int deep = 0, ok = 0, n = 0, deep_eval = 0;
    for (int c = 0; c < 4; c++)
        for (int k = 0; k < 3; k++) {
            uint64_t seed = k ? (uint64_t)k
                              : simrun_eval_sim_seed(eval_seed[c], eval_index[c], TL_AN_PLANTAR_FASCIA);
            char buf[512];
            kv par[20];
            snprintf(buf, sizeof buf, "%s", scene[c]);
            int np = simrun_parse_scene(buf, par, 0, 20);
            float es, e;
            simrun_plantar_errors(seed, par, np, &es, &e, NULL);
            if (getenv("TL_TEST_VERBOSE"))
                printf("parallel scene %d sim seed %d: top %+.2f mm at the site, thickness %+.2f mm\n", c,
                       k, es, e);
            n++;
            ok += fabsf(e) <= 0.35f;
            deep += !(es <= 0.35f);
            deep_eval += k == 0 && !(es <= 0.35f);
        }
    if (getenv("TL_TEST_VERBOSE"))
        printf("parallel upward moves: %d of %d tops over 0.35 mm too deep (%d of the eval's 4), "
               "%d thickness within 0.35 mm\n", deep, n, deep_eval, ok);
    /* with the rule (Release, 08:25): 0 of 12 over 0.35 mm too deep (0 of the
     * eval's 4), 9 within 0.35 mm; without it 3 (1), 6 */
    assert_true(deep_eval == 0);
    assert_true(deep <= 1);
    assert_true(ok >= 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_over_lesion),
        cmocka_unit_test(test_parallel_upward_moves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
