/* Plantar fascia through a tilted probe (imaging/analysis an_plantar): the
 * band's deep border over the calcaneus and the insertion site, through
 * the real chain (simulator RF -> imaging -> analysis) with the
 * simulator's truth. */
#include "test_analysis_simrun.h"

/* Tilted heels (4-15 deg, no fibre echoes in the band), scene parameters as
 * the eval draws them (taken from cases of the tuning seeds 2026 / 2027). */
static const char *const tilted[][6] = {
    /* thickness, tilt, f0, depth, gain, noise */
    { "5.18", "13.4", "12.7", "39", "2.0", "-60" },
    { "6.53", "14.5", "7.9", "29", "3.4", "-59" },
    { "3.41", "-9.5", "8.3", "30", "2.6", "-62" },
    { "2.02", "-12.5", "10.8", "43", "0.9", "-73" },
    { "4.06", "12.5", "11.2", "32", "-3.4", "-67" },
    { "7.00", "-8.4", "12.2", "35", "0.0", "-62" },
};
#define N_TILTED (int)(sizeof tilted / sizeof tilted[0])

/* Tilted heels whose site was found 3.5-6 mm off the insertion edge in the
 * eval (seed 2026, plantar only, cases 0, 134, 145, 289, 47). */
static const char *const tilted_site[][6] = {
    { "6.21", "-14.8", "8.0", "35", "3.2", "-56" },
    { "2.20", "-13.6", "9.5", "28", "-2.1", "-71" },
    { "6.45", "-6.0", "7.9", "30", "5.2", "-53" },
    { "3.34", "-9.2", "8.6", "27", "2.8", "-65" },
    { "5.89", "-12.7", "10.9", "35", "0.2", "-58" },
};
#define N_TILTED_SITE (int)(sizeof tilted_site / sizeof tilted_site[0])

typedef struct {
    int n, deep_near, site_near, site_far;
} tally;

static void run_tilted(const char *const cfg[6], uint64_t seed, tally *T)
{
    const kv par[] = { { "thickness_mm", cfg[0] }, { "anisotropy_deg", cfg[1] },
                       { "f0_mhz", cfg[2] },       { "depth_mm", cfg[3] },
                       { "gain_db", cfg[4] },      { "noise_db", cfg[5] } };
    tl_analysis_result r;
    float ox, oz;
    tl_sim_truth *t = calloc(1, sizeof *t);
    assert_non_null(t);
    run_full("plantar-fascia", TL_AN_PLANTAR_FASCIA, seed, par, 6, &r, t, &ox, &oz);
    assert_true(r.structure_found);
    /* the truth site in image mm; the calcaneus lies on its left
     * (posterior) */
    const float xs = t->site_x_mm - ox;
    int near = 0;
    for (float dx = -4.0f; dx <= 0.0f; dx += 2.0f) {
        float x = xs + dx;
        float e = tl_polyline_z(r.deep.x_mm, r.deep.z_mm, r.deep.n, x) -
                  simrun_truth_z(t, TL_BOUNDARY_FASCIA_DEEP, ox, oz, x);
        near += fabsf(e) < 0.3f;
        if (getenv("TL_TEST_VERBOSE"))
            printf("  site%+.0f mm: deep border %+.2f mm\n", dx, e);
    }
    bool site = fabsf(r.site_x_mm - xs) < 1.5f;
    if (getenv("TL_TEST_VERBOSE"))
        printf("%s mm tilted %s deg, seed %llu: thickness %.2f (truth %.2f), site %+.2f mm, "
               "deep border within 0.3 mm at %d of 3\n",
               cfg[0], cfg[1], (unsigned long long)seed, r.thickness_mm,
               t->thickness_mm, r.site_x_mm - xs, near);
    T->n++;
    T->deep_near += near;
    T->site_near += site;
    T->site_far += !(fabsf(r.site_x_mm - xs) <= 4.0f);
    free(t);
}

/* The deep border at the site and 2 and 4 mm posterior of it, over the
 * calcaneus: within 0.3 mm of the truth (it ran on speckle 0.3-2.6 mm off
 * before it was placed from the cortex). */
static void test_tilted_deep_border(void **state)
{
    (void)state;
    tally T = { 0, 0, 0, 0 };
    for (int c = 0; c < N_TILTED; c++)
        for (uint64_t seed = 1; seed <= 2; seed++)
            run_tilted(tilted[c], seed, &T);
    if (getenv("TL_TEST_VERBOSE"))
        printf("deep border within 0.3 mm at %d of %d places\n", T.deep_near, 3 * T.n);
    assert_true(T.deep_near >= 30);
}

/* The site within 1.5 mm of the insertion edge (5 of 15 before: a tilt
 * made the flat surface read as the edge) and never over 4 mm off (2 of 15
 * before: cortex-top spikes read as the edge, 6-7 mm posterior). */
static void test_tilted_site(void **state)
{
    (void)state;
    tally T = { 0, 0, 0, 0 };
    for (int c = 0; c < N_TILTED_SITE; c++)
        for (uint64_t seed = 1; seed <= 3; seed++)
            run_tilted(tilted_site[c], seed, &T);
    if (getenv("TL_TEST_VERBOSE"))
        printf("site within 1.5 mm in %d of %d, over 4 mm off in %d\n", T.site_near, T.n,
               T.site_far);
    assert_true(T.site_near >= 8);
    assert_int_equal(T.site_far, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tilted_deep_border),
        cmocka_unit_test(test_tilted_site),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
