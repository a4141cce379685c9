/* Plantar fascia through a tilted probe: a top left up in septum-poor fat
 * over the whole stretch near the site, capped at the posterior strips'
 * low percentile (imaging/analysis an_plantar_fat.c an_pf_posterior_cap),
 * on its own and through the real chain (simulator RF -> imaging ->
 * analysis) with the simulator's truth. */
#include "an_internal.h"
#include "test_analysis_simrun.h"

/* An analyzer with only its strip geometry: 0.5 mm strips from x = 0,
 * offsets in 0.1 mm grid steps. */
static tl_analyzer *geometry(void)
{
    tl_analyzer *a = calloc(1, sizeof *a);
    assert_non_null(a);
    a->ns = 60;
    a->sw = 5;
    a->sp = 0.1f;
    a->band_q = 1;
    return a;
}

/* The cap on known offsets: the posterior 6 mm's 25th percentile where it
 * lowers the site's offset by 0.3 mm or more and the site stands 0.15 mm
 * or more over the strips within 2 mm posterior of it; anterior strips (a
 * band that thins there) and NAN strips do not count; too few posterior
 * strips, or a lowering under 0.3 mm, leave the site's offset. */
static void test_cap_on_known_offsets(void **state)
{
    (void)state;
    tl_analyzer *a = geometry();
    float sm[AN_MAX_STRIPS];
    const float x_site = an_strip_x(a, 40);
    for (uint32_t s = 0; s < a->ns; s++)
        sm[s] = 60.0f;   /* 6 mm over the deep border */
    /* posterior of the site: a third of the strips 1 mm lower (septa down
     * to the band there) */
    for (uint32_t s = 0; s < a->ns; s++) {
        float dx = an_strip_x(a, s) - x_site;
        if (dx <= 0.0f && dx >= -6.0f && s % 3 == 0)
            sm[s] = 50.0f;
        if (dx > 0.0f)
            sm[s] = 30.0f;   /* thinning anterior: not counted */
    }
    float cap = an_pf_posterior_cap(a, sm, x_site, 60.0f);
    assert_true(cap >= 50.0f && cap <= 60.0f - 3.0f);
    /* the site level with the strips within 2 mm posterior of it (the low
     * strips only further back): left */
    for (uint32_t s = 0; s < a->ns; s++) {
        float dx = an_strip_x(a, s) - x_site;
        if (dx <= 0.0f && dx >= -2.0f)
            sm[s] = 60.0f;
        else if (dx < -2.0f && dx >= -6.0f)
            sm[s] = 50.0f;
    }
    assert_float_equal(an_pf_posterior_cap(a, sm, x_site, 60.0f), 60.0f, 1e-6);
    sm[39] = 59.0f;   /* 0.1 mm under the site: still level */
    assert_float_equal(an_pf_posterior_cap(a, sm, x_site, 60.0f), 60.0f, 1e-6);
    sm[39] = 55.0f;   /* a ramp up to the site: capped */
    assert_true(an_pf_posterior_cap(a, sm, x_site, 60.0f) <= 57.0f);
    /* the same with the lower strips only 0.2 mm lower: under 0.3 mm */
    for (uint32_t s = 0; s < a->ns; s++)
        if (sm[s] == 50.0f)
            sm[s] = 58.0f;
    assert_float_equal(an_pf_posterior_cap(a, sm, x_site, 60.0f), 60.0f, 1e-6);
    /* a site offset already low stays */
    assert_float_equal(an_pf_posterior_cap(a, sm, x_site, 40.0f), 40.0f, 1e-6);
    /* fewer than 4 posterior strips: none */
    for (uint32_t s = 0; s < a->ns; s++)
        if (an_strip_x(a, s) - x_site <= 0.0f)
            sm[s] = NAN;
    sm[39] = sm[38] = sm[37] = 10.0f;
    assert_float_equal(an_pf_posterior_cap(a, sm, x_site, 60.0f), 60.0f, 1e-6);
    free(a);
}

/* The cap applied along the strips: in full within 3 mm of the site,
 * half at 4 mm, none from 5 mm; offsets under the cap and NAN strips stay;
 * no cap (NAN) changes nothing. */
static void test_cap_applied_near_site(void **state)
{
    (void)state;
    tl_analyzer *a = geometry();
    float off[AN_MAX_STRIPS];
    const float x_site = an_strip_x(a, 30);
    for (uint32_t s = 0; s < a->ns; s++)
        off[s] = 60.0f;
    off[29] = 40.0f;
    off[31] = NAN;
    an_pf_apply_cap(a, off, NAN, x_site);
    assert_float_equal(off[30], 60.0f, 1e-6);
    an_pf_apply_cap(a, off, 50.0f, x_site);
    for (uint32_t s = 0; s < a->ns; s++) {
        const float dx = fabsf(an_strip_x(a, s) - x_site);
        if (s == 29)
            assert_float_equal(off[s], 40.0f, 1e-6);
        else if (s == 31)
            assert_true(isnan(off[s]));
        else if (dx <= 3.0f)
            assert_float_equal(off[s], 50.0f, 1e-4);
        else if (dx >= 5.0f)
            assert_float_equal(off[s], 60.0f, 1e-6);
    }
    assert_float_equal(off[38], 55.0f, 1e-4);   /* 4 mm from the site */
    free(a);
}

/* An eval case: its scene (the plantar keys of `talus eval tissue
 * --verbose`'s params) and where it came from (`--anatomy plantar-fascia
 * --cases 300`: seed, index). */
typedef struct {
    const char *scene;
    uint64_t seed, index;
} eval_case;

/* Tilted cases of seeds 2026-2028 whose spread top lay 0.4-1.5 mm up in
 * the fat over the whole stretch near the site (the cap fixed them in the
 * eval). Here (the scene rounded to the printed digits, so not the eval's
 * image even on its simulator seed) on the eval case's simulator seed and
 * seeds 1-2: with the cap 11 of 36 tops over 0.35 mm shallow, mean
 * thickness error 0.35 mm, 23 within 0.35 mm; without it 14, 0.41 mm, 21
 * (no heel worse by more than 0.05 mm). */
#define LES(w, d, c, k) " lesion=1 lesion_width_mm=" w " lesion_depth_mm=" d " lesion_contrast_db=" c " lesion_kind=" k
static const eval_case fat[] = {
    { "thickness_mm=6.05 lesion=0 anisotropy_deg=-5.9 f0_mhz=11.0 depth_mm=34 gain_db=5.0 noise_db=-59 fluid=0", 2026, 50 },
    { "thickness_mm=6.04" LES("5.3", "1.6", "-3.9", "hypoechoic")
      " anisotropy_deg=11.2 f0_mhz=13.4 depth_mm=26 gain_db=2.9 noise_db=-68 fluid=0", 2026, 109 },
    { "thickness_mm=2.20 lesion=0 anisotropy_deg=-13.6 f0_mhz=9.5 depth_mm=28 gain_db=-2.1 noise_db=-71 fluid=0", 2026, 134 },
    { "thickness_mm=5.45 lesion=0 anisotropy_deg=11.1 f0_mhz=13.8 depth_mm=38 gain_db=2.5 noise_db=-73 fluid=0", 2026, 154 },
    { "thickness_mm=2.90" LES("5.5", "1.3", "-18.0", "hypoechoic")
      " anisotropy_deg=11.3 f0_mhz=14.0 depth_mm=27 gain_db=-2.6 noise_db=-61 fluid=0", 2026, 260 },
    { "thickness_mm=5.48 lesion=0 anisotropy_deg=-11.7 f0_mhz=12.7 depth_mm=39 gain_db=4.7 noise_db=-63 fluid=0", 2027, 15 },
    { "thickness_mm=4.65 lesion=0 anisotropy_deg=-14.4 f0_mhz=8.8 depth_mm=29 gain_db=-1.8 noise_db=-53 fluid=0", 2027, 95 },
    { "thickness_mm=4.03 lesion=0 anisotropy_deg=-10.4 f0_mhz=11.9 depth_mm=30 gain_db=-0.9 noise_db=-73 fluid=0", 2027, 154 },
    { "thickness_mm=5.62" LES("6.4", "3.2", "-13.5", "hypoechoic")
      " anisotropy_deg=-11.5 f0_mhz=10.3 depth_mm=38 gain_db=0.3 noise_db=-62 fluid=0", 2028, 93 },
    { "thickness_mm=5.17" LES("4.5", "1.8", "-16.0", "anechoic")
      " anisotropy_deg=9.1 f0_mhz=12.3 depth_mm=26 gain_db=0.6 noise_db=-63 fluid=0", 2028, 189 },
    { "thickness_mm=5.21 lesion=0 anisotropy_deg=-9.5 f0_mhz=10.0 depth_mm=36 gain_db=2.1 noise_db=-66 fluid=0", 2028, 235 },
    { "thickness_mm=4.62 lesion=0 anisotropy_deg=11.7 f0_mhz=13.7 depth_mm=39 gain_db=3.3 noise_db=-70 fluid=1", 2028, 128 },
};

typedef struct {
    int n, near, shallow;
    double sum;
} tally;

static void run_scene(const eval_case *c, uint64_t seed, tally *T)
{
    char buf[320];
    kv par[16];
    snprintf(buf, sizeof buf, "%s", c->scene);
    int np = simrun_parse_scene(buf, par, 0, 16);
    tl_analysis_result r;
    float es, et;
    simrun_plantar_errors(seed, par, np, &es, &et, &r);
    if (getenv("TL_TEST_VERBOSE"))
        printf("eval %llu/%llu, seed %llu: thickness %.2f (%+.2f), top %+.2f\n",
               (unsigned long long)c->seed, (unsigned long long)c->index, (unsigned long long)seed,
               r.thickness_mm, et, es);
    T->n++;
    T->near += fabsf(et) <= 0.35f;
    T->shallow += !(es > -0.35f);
    T->sum += isnan(et) ? 10.0 : fabsf(et);
}

static void test_top_capped_posterior(void **state)
{
    (void)state;
    tally T = { 0 };
    const int n = (int)(sizeof fat / sizeof fat[0]);
    for (int c = 0; c < n; c++) {
        run_scene(&fat[c], simrun_eval_sim_seed(fat[c].seed, fat[c].index, TL_AN_PLANTAR_FASCIA), &T);
        for (uint64_t seed = 1; seed <= 2; seed++)
            run_scene(&fat[c], seed, &T);
    }
    if (getenv("TL_TEST_VERBOSE"))
        printf("thickness within 0.35 mm %d, top over 0.35 mm shallow %d, of %d; mean error %.2f mm\n",
               T.near, T.shallow, T.n, T.sum / T.n);
    assert_true(T.shallow <= 12);
    assert_true(T.near >= 23);
    assert_true(T.sum / T.n < 0.385);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_on_known_offsets),
        cmocka_unit_test(test_cap_applied_near_site),
        cmocka_unit_test(test_top_capped_posterior),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
