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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_over_lesion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
