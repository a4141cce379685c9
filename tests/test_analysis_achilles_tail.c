/* The Achilles tail of `talus eval tissue` (branch atail2), through the
 * real chain (simulator RF -> imaging -> analysis): eval scenes rebuilt
 * exactly (their simulator seeds and parameters) where the straight-line
 * fit of a tilted tendon ran into the black margin beside a narrow image or
 * put the top on a line in the fat above the tendon, and where the free
 * search's deep border ramped onto a septum of Kager's fat at the view's
 * edge and the thickest-part site went there (atail3: where it dipped onto
 * one in mid-view, and insertions whose deep border lies on the bone). */
#include "test_analysis_simrun.h"

/* One scene of `talus eval tissue --anatomy achilles --cases 300 --seed
 * S`, case K: its parameters as the eval sets them (%.4f). */
typedef struct {
    uint64_t eval_seed, index;
    const char *thick, *tilt, *f0, *depth, *gain, *noise, *site;
    const char *lw, *ld, *lc, *kind;   /* lesion; NULL: none */
} eval_scene;

typedef struct {
    float thickness;          /* truth */
    float site_x;             /* truth site (image mm) */
    float sup_err, deep_err;  /* result's border - truth's at the result's site (mm, + deeper) */
} outcome;

static bool verbose(void) { return getenv("TL_TEST_VERBOSE") != NULL; }

static void run_eval_scene(const eval_scene *sc, tl_analysis_result *r, outcome *o)
{
    const kv par[] = { { "thickness_mm", sc->thick }, { "anisotropy_deg", sc->tilt },
                       { "f0_mhz", sc->f0 },          { "depth_mm", sc->depth },
                       { "gain_db", sc->gain },       { "noise_db", sc->noise },
                       { "site", sc->site },          { "lesion", sc->lw ? "1" : "0" },
                       { "lesion_width_mm", sc->lw }, { "lesion_depth_mm", sc->ld },
                       { "lesion_contrast_db", sc->lc }, { "lesion_kind", sc->kind } };
    tl_sim_truth *truth = calloc(1, sizeof *truth);
    float ox, oz;
    assert_non_null(truth);
    uint64_t seed = simrun_eval_sim_seed(sc->eval_seed, sc->index, TL_AN_ACHILLES);
    o->thickness = run_full("achilles", TL_AN_ACHILLES, seed, par, sc->lw ? 12 : 8, r, truth, &ox,
                            &oz);
    o->site_x = truth->site_x_mm - ox;
    o->sup_err = tl_polyline_z(r->superficial.x_mm, r->superficial.z_mm, r->superficial.n,
                               r->site_x_mm) -
                 simrun_truth_z(truth, TL_BOUNDARY_TENDON_SUPERFICIAL, ox, oz, r->site_x_mm);
    o->deep_err = tl_polyline_z(r->deep.x_mm, r->deep.z_mm, r->deep.n, r->site_x_mm) -
                  simrun_truth_z(truth, TL_BOUNDARY_TENDON_DEEP, ox, oz, r->site_x_mm);
    free(truth);
    if (verbose())
        printf("seed %llu case %llu: truth %.2f thickness %.2f site %.1f (truth %.1f) borders "
               "%+.2f/%+.2f\n",
               (unsigned long long)sc->eval_seed, (unsigned long long)sc->index, o->thickness,
               r->thickness_mm, r->site_x_mm, o->site_x, o->sup_err, o->deep_err);
}

/* Scene sc measured within 0.35 mm; its result and outcome for more
 * checks. */
static void within(const eval_scene *sc, tl_analysis_result *r, outcome *o)
{
    run_eval_scene(sc, r, o);
    assert_true(r->structure_found);
    assert_true(fabsf(r->thickness_mm - o->thickness) < 0.35f);
}

/* Scenes sc[0..n) each within 0.35 mm and measured within site_mm of the
 * truth's site; their results and outcomes in r[], o[] for more checks. */
static void within_at_site(const eval_scene *sc, size_t n, float site_mm, tl_analysis_result *r,
                           outcome *o)
{
    for (size_t i = 0; i < n; i++) {
        within(&sc[i], &r[i], &o[i]);
        assert_true(fabsf(r[i].site_x_mm - o[i].site_x) < site_mm);
    }
}

/* Narrow images (deep views: the scanned area is 60-75 % of the frame's
 * width), tilted 12-15 deg. Outside the scanned area the smoothed profiles
 * read 0, and the fit's texture map took the black margin for the smoothest
 * tissue in view: the lines and the site ran into it. Seed 2028 case 182,
 * 2031 case 170, 2026 case 233 read 1.25, 0.92 and 0.72 mm off with the
 * margin counted (and the other two changes of the branch in place); now
 * each within 0.35 mm. */
static void test_margin_is_not_tissue(void **state)
{
    (void)state;
    static const eval_scene sc[] = {
        { 2028, 182, "4.9551", "-11.8749", "12.3931", "41.5863", "-1.4787", "-74.6314",
          "midportion", "2.3435", "3.7202", "-7.8124", "hypoechoic" },
        { 2031, 170, "7.4358", "-14.7237", "9.5252", "37.4505", "-0.1260", "-54.4567",
          "midportion", NULL, NULL, NULL, NULL },
        { 2026, 233, "6.9177", "12.2066", "12.6887", "42.3300", "-1.1659", "-55.4031",
          "midportion", NULL, NULL, NULL, NULL },
    };
    for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) {
        tl_analysis_result r;
        outcome o;
        within(&sc[i], &r, &o);
    }
}

/* Thick tilted tendons (5-7.5 mm, 7-13 deg) whose fitted top sat on a line
 * 0.8-1.3 mm up in the fat, parallel to the tendon (survey seeds 3000 cases
 * 148, 251, 41 and 3001 case 234: tops -0.81, -0.94, -0.90 and -1.26 mm,
 * thickness 0.75, 0.81, 0.90 and 0.94 mm over): the mean texture of a 5-7
 * mm layer hardly notices the strip of fat. A top with rough tissue right
 * under it now scores less: each within 0.35 mm, the top not shallower than
 * 0.35 mm at the site, and under 0.2 mm off on average. */
static void test_top_not_on_a_line_in_the_fat(void **state)
{
    (void)state;
    static const eval_scene sc[] = {
        { 3000, 148, "6.6486", "-10.5058", "12.5999", "26.6722", "1.1848", "-50.3311",
          "midportion", NULL, NULL, NULL, NULL },
        { 3000, 251, "6.9079", "-12.5921", "13.1636", "40.8035", "-5.4894", "-64.2548",
          "midportion", NULL, NULL, NULL, NULL },
        { 3000, 41, "5.0128", "-13.0625", "8.5647", "29.0891", "-0.8417", "-69.1290", "insertion",
          "5.8492", "1.6473", "-6.3510", "anechoic" },
        { 3001, 234, "7.2007", "7.4306", "7.6083", "40.3527", "0.7817", "-63.0773", "midportion",
          NULL, NULL, NULL, NULL },
    };
    const size_t n = sizeof sc / sizeof sc[0];
    float sum = 0;
    for (size_t i = 0; i < n; i++) {
        tl_analysis_result r;
        outcome o;
        within(&sc[i], &r, &o);
        assert_true(o.sup_err > -0.35f);
        sum += fabsf(r.thickness_mm - o.thickness);
    }
    assert_true(sum / (float)n < 0.2f);
}

/* Untilted tendons whose free-search deep border ramps onto a septum of
 * Kager's fat at one end of the view, over 2-5 mm rather than in a step
 * (seed 2027 case 133: 2.44 mm read 3.03 at x 11.2, the truth's site at
 * 29.9; 2031 case 208: 6.45 read 7.55 at 34.9, truth 21.4): the site is
 * looked for short of a change of over 0.5 mm within 2.5 mm near either
 * end (1 mm before): each within 0.35 mm and the site within 5 mm of the
 * truth's. */
static void test_edge_ramp_is_not_the_site(void **state)
{
    (void)state;
    static const eval_scene sc[] = {
        { 2027, 133, "2.4411", "0.0000", "8.9074", "44.7741", "4.3081", "-65.8870", "midportion",
          "9.9348", "3.7798", "-13.3141", "anechoic" },
        { 2031, 208, "6.4483", "0.0000", "9.6617", "32.0487", "1.4816", "-53.8603", "midportion",
          NULL, NULL, NULL, NULL },
    };
    tl_analysis_result r[2];
    outcome o[2];
    within_at_site(sc, 2, 5.0f, r, o);
}

/* Insertion views whose free-search deep border lies on the calcaneus's
 * cortex (it reaches 0.1 mm into the echo) all along the bone: the strips
 * where the bone curves away from the tendon were the only bone left, under
 * 4 of them, and the insertion went unseen (seed 2030 case 10: 6.34 mm
 * judged against the midportion limit, site at the image edge; 2032 case
 * 271; 2026 cases 4 and 7: site 3-14 mm off). Each is now an insertion
 * view, its site within 2 mm of the truth's and its thickness within 0.35
 * mm; 2030 case 10 is abnormal (6.34 mm over the insertion limit of a
 * 50-year-old woman, 4.7, under the midportion one, 6.8). */
static void test_insertion_with_deep_border_on_bone(void **state)
{
    (void)state;
    static const eval_scene sc[] = {
        { 2030, 10, "6.3366", "0.0000", "9.2623", "28.9692", "4.0719", "-61.9273", "insertion",
          "3.5609", "2.4315", "-14.3002", "hypoechoic" },
        { 2032, 271, "7.8742", "0.0000", "9.8315", "36.3612", "3.0337", "-51.0445", "insertion",
          NULL, NULL, NULL, NULL },
        { 2026, 4, "3.9489", "0.0000", "8.7698", "34.5631", "3.7550", "-54.6986", "insertion",
          "5.1235", "3.8973", "-16.2710", "hypoechoic" },
        { 2026, 7, "3.5783", "0.0000", "9.2279", "35.1822", "2.1251", "-64.2464", "insertion",
          "3.9173", "1.3098", "-4.7789", "hypoechoic" },
    };
    tl_analysis_result r[4];
    outcome o[4];
    within_at_site(sc, 4, 2.0f, r, o);
    for (size_t i = 0; i < 4; i++)
        assert_true(r[i].insertion_view);
    assert_true(r[0].abnormal);
}

/* Tendons seen square on whose free-search deep border left the tendon for
 * a septum of Kager's fat over 5-8 mm and came back (seed 2032 case 10:
 * 7.33 mm read 8.11 at x 14.0, deep border 0.90 mm deep there, the truth's
 * site at 19.1; 2026 case 130: 0.67 mm deep at 14.5, truth 21.2): the
 * thickest-part site went to the dip. The dip is bridged along the chord
 * between its flanks: each within 0.35 mm, its deep border within 0.35 mm
 * at the site and the site within 2 mm of the truth's. */
static void test_deep_border_off_a_kager_dip(void **state)
{
    (void)state;
    static const eval_scene sc[] = {
        { 2032, 10, "7.3298", "0.0000", "10.9764", "27.5359", "-1.7774", "-69.6779", "midportion",
          NULL, NULL, NULL, NULL },
        { 2026, 130, "7.9010", "0.0000", "13.8255", "31.7721", "1.2290", "-61.1746", "midportion",
          NULL, NULL, NULL, NULL },
    };
    tl_analysis_result r[2];
    outcome o[2];
    within_at_site(sc, 2, 2.0f, r, o);
    for (size_t i = 0; i < 2; i++)
        assert_true(fabsf(o[i].deep_err) < 0.35f);
}

/* A tilted insertion (11 deg) with a -18 dB lesion 3.5 mm deep in its
 * 6.96 mm (survey seed 3003 case 64): the smooth lesion lowered the
 * layer's mean texture, the true top (plain tendon under it) was penalised
 * against it and the top went 2.6 mm down, onto the lesion (4.31 mm, read
 * normal). The penalty's reference is the tendon's own texture: within
 * 0.35 mm and abnormal. */
static void test_top_not_onto_a_lesion(void **state)
{
    (void)state;
    static const eval_scene sc = { 3003, 64, "6.9629", "10.8007", "9.0696", "41.7884",
                                   "-3.8011", "-72.6703", "insertion", "9.1147", "3.5316",
                                   "-18.4249", "hypoechoic" };
    tl_analysis_result r;
    outcome o;
    within(&sc, &r, &o);
    assert_true(r.abnormal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_margin_is_not_tissue),
        cmocka_unit_test(test_top_not_on_a_line_in_the_fat),
        cmocka_unit_test(test_edge_ramp_is_not_the_site),
        cmocka_unit_test(test_insertion_with_deep_border_on_bone),
        cmocka_unit_test(test_deep_border_off_a_kager_dip),
        cmocka_unit_test(test_top_not_onto_a_lesion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
