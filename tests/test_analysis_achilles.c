/* The Achilles tendon through a tilted probe, through the real chain
 * (simulator RF -> imaging -> analysis): the tendon without fibre echoes is
 * found as two straight parallel lines (an_achilles.c) instead of a band of
 * Kager's fat; an untilted tendon keeps the free border search; a lesion in
 * the tilted tendon is still a target. Scenes are the simulator's, with
 * known truth. */
#include "test_analysis_simrun.h"

typedef struct {
    const char *thick, *tilt, *f0, *depth, *site;
    uint64_t seed;
} scene;

typedef struct {
    float thickness, lesion_x, lesion_z;   /* truth (image mm); lesion NAN when none */
    float ox, oz;
    float deep_err;   /* result's deep border - truth's at the site (mm, + deeper) */
} truth_t;

/* Render scene sc (with a lesion when lesion_db is given), image it as the
 * station does and analyse it (a 50-year-old woman). */
static void run_scene(const scene *sc, const char *lesion_db, tl_analysis_result *r, truth_t *t)
{
    const kv par[] = { { "thickness_mm", sc->thick }, { "anisotropy_deg", sc->tilt },
                       { "f0_mhz", sc->f0 },          { "depth_mm", sc->depth },
                       { "site", sc->site },          { "lesion", "1" },
                       { "lesion_width_mm", "6" },    { "lesion_depth_mm", "1.8" },
                       { "lesion_contrast_db", lesion_db } };
    tl_sim_truth *truth = calloc(1, sizeof *truth);
    assert_non_null(truth);
    t->thickness = run_full("achilles", TL_AN_ACHILLES, sc->seed, par, lesion_db ? 9 : 5, r,
                            truth, &t->ox, &t->oz);
    t->lesion_x = t->lesion_z = NAN;
    if (truth->n_lesions > 0) {
        t->lesion_x = truth->lesions[0].cx_mm - t->ox;
        t->lesion_z = truth->lesions[0].cz_mm - t->oz;
    }
    t->deep_err = tl_polyline_z(r->deep.x_mm, r->deep.z_mm, r->deep.n, r->site_x_mm) -
                  simrun_truth_z(truth, TL_BOUNDARY_TENDON_DEEP, t->ox, t->oz, r->site_x_mm);
    free(truth);
}

static bool straight(const tl_analysis_result *r)
{
    for (uint32_t i = 0; i < r->n_warnings; i++)
        if (strstr(r->warnings[i], "fitted as straight lines"))
            return true;
    return false;
}

static bool verbose(void) { return getenv("TL_TEST_VERBOSE") != NULL; }

/* What a set of scenes must show: each thickness within max_err (and the
 * mean error under mean_err), the straight-line fit used or not (fit: 1
 * yes, 0 no, -1 either; at least min_fit of the scenes when 1), the view
 * recognised as an insertion when the scenes are insertions, and (judge)
 * the abnormal call right against the 97.5th percentile (F, 50); and
 * (deep_short) the deep border not too shallow at the site on average. */
typedef struct {
    const char *name;
    float max_err, mean_err;
    int fit, min_fit;
    bool judge;
    float deep_short;   /* > 0: the mean deep border error at the site above -deep_short */
} expect;

static void check_scenes(const scene *sc, size_t n, const expect *e)
{
    int fitted = 0;
    float sum = 0, deep = 0;
    for (size_t i = 0; i < n; i++) {
        tl_analysis_result r;
        truth_t t;
        run_scene(&sc[i], NULL, &r, &t);
        bool ins = strcmp(sc[i].site, "insertion") == 0;
        float err = fabsf(r.thickness_mm - t.thickness);
        if (verbose())
            printf("%s %zu: truth %.2f thickness %.2f deep border %+.2f straight %d view %d\n",
                   e->name, i, t.thickness, r.thickness_mm, t.deep_err, straight(&r),
                   r.insertion_view);
        assert_true(r.structure_found);
        assert_true(err < e->max_err);
        if (e->fit == 0)
            assert_false(straight(&r));
        if (ins)
            assert_true(r.insertion_view);
        if (e->judge)
            assert_int_equal(r.abnormal, t.thickness > tl_achilles_limit_mm(ins, 50, 'F'));
        sum += err;
        deep += t.deep_err;
        fitted += straight(&r);
    }
    if (e->deep_short > 0)
        assert_true(deep / (float)n > -e->deep_short);
    if (e->fit == 1)
        assert_true(fitted >= e->min_fit);   /* the tilt is seen and said */
    assert_true(sum / (float)n < e->mean_err);
}

/* Tilted midportions where the free search measured a band of Kager's fat
 * under the tendon (seed 2026 of `talus eval tissue`: 2.4 mm read 8.2 mm,
 * 2.6 read 7.4, 4.4 read 11.9; here, without the straight-line search,
 * the first scene reads 11.1 mm): the tendon is measured within 0.35 mm on
 * average (each within 0.6 mm: the fitted superficial border is the
 * coarse one) and judged normal against the 97.5th percentile. */
static void test_tilted_midportion(void **state)
{
    (void)state;
    static const scene sc[] = {
        { "2.4", "13.9", "12", "38", "midportion", 3 }, { "2.6", "10.4", "8.2", "39", "midportion", 4 },
        { "4.4", "-13.2", "12.4", "35", "midportion", 5 }, { "3.2", "-9.8", "11", "40", "midportion", 6 },
        { "5.0", "11.5", "10", "35", "midportion", 7 }, { "3.0", "-11", "13", "30", "midportion", 8 },
    };
    const expect e = { "midportion", 0.6f, 0.35f, 1, 5, true, 0 };
    check_scenes(sc, sizeof sc / sizeof sc[0], &e);
}

/* Tilted insertions (the tendon on the calcaneus): the superficial border
 * no longer lands 2-4 mm deep in the tendon or on a fat septum above it,
 * and the view is still recognised as the insertion (the fitted deep border
 * lies on the cortex: 2 of these 4 were judged as midportions until the
 * insertion was looked for from above it); abnormal against the insertion
 * limit. */
static void test_tilted_insertion(void **state)
{
    (void)state;
    static const scene sc[] = {
        { "6.4", "9.9", "11", "35", "insertion", 3 }, { "3.9", "-11.6", "12", "38", "insertion", 4 },
        { "7.0", "-7.7", "10.5", "31", "insertion", 5 }, { "5.0", "12", "12", "36", "insertion", 6 },
    };
    const expect e = { "insertion", 0.5f, 0.5f, -1, 0, true, 0 };
    check_scenes(sc, sizeof sc / sizeof sc[0], &e);
}

/* A tendon seen square on keeps its fibre echoes: the free search stands
 * (no straight-line fit) and measures it within 0.35 mm. */
static void test_untilted_keeps_free_search(void **state)
{
    (void)state;
    static const scene sc[] = {
        { "6.7", "0", "12", "40", "midportion", 3 }, { "4.9", "0", "10", "35", "midportion", 4 },
        { "3.0", "0", "14", "30", "insertion", 5 },
    };
    const expect e = { "untilted", 0.35f, 0.35f, 0, 0, false, 0 };
    check_scenes(sc, sizeof sc / sizeof sc[0], &e);
}

/* The superficial border of a tilted tendon is its (weak) interface echo,
 * not only the texture step under it: the echo line reads as rough tissue
 * to the texture measure, which put the border 0.3-0.6 mm inside the
 * tendon (a thin tendon at 11 deg: 2.5 mm read 1.95; each of these within
 * 0.35 mm, mean under 0.2 mm; with the texture step alone they read 0.55
 * mm thin and 0.40 mm thick). And the deep border of a thick tendon
 * follows its bulge at the midportion: refined only within 0.6 mm of the
 * line fitted through the whole view it stopped 0.2 mm short there on
 * average (mean of these three -0.17 mm; -0.09 now, the bound is -0.12).
 * The thick scenes are held to 0.45 mm each (mean under 0.2): since the
 * straight-line fit leaves a narrow image's margin out (branch atail2,
 * docs/accuracy.md) seed 202 takes 15 deg instead of 14 for its angle and
 * reads 6.90 for 6.50 (0.22 before); on the eval's Achilles scenes that
 * change and its companion took the cases over 0.35 mm from 68 to 53. */
static void test_tilted_echo_top_and_bulge(void **state)
{
    (void)state;
    static const scene thin[] = {
        { "2.5", "11", "14", "28", "midportion", 300 }, { "2.5", "11", "14", "28", "midportion", 301 },
    };
    static const scene thick[] = {
        { "6.5", "12", "8", "35", "midportion", 200 }, { "6.5", "12", "8", "35", "midportion", 201 },
        { "6.5", "12", "8", "35", "midportion", 202 },
    };
    const expect et = { "thin, echo top", 0.35f, 0.2f, 1, 2, true, 0 };
    const expect ek = { "thick, bulge", 0.45f, 0.2f, 1, 3, false, 0.12f };
    check_scenes(thin, sizeof thin / sizeof thin[0], &et);
    check_scenes(thick, sizeof thick / sizeof thick[0], &ek);
}

/* A lesion in a tilted tendon lies inside the fitted band and is a target
 * there (the free search's band of fat had it at its top edge or outside). */
static void test_tilted_lesion(void **state)
{
    (void)state;
    static const scene sc[] = {
        { "4.4", "-13.2", "12.4", "35", "midportion", 5 }, { "6.4", "9.9", "11", "35", "insertion", 3 },
        { "3.5", "13.9", "11.5", "38", "midportion", 9 },
    };
    for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) {
        tl_analysis_result r;
        truth_t t;
        run_scene(&sc[i], "-14", &r, &t);
        float best = INFINITY;
        for (uint32_t k = 0; k < r.n_targets; k++)
            best = fminf(best, hypotf(r.targets[k].x_mm - t.lesion_x, r.targets[k].z_mm - t.lesion_z));
        if (verbose())
            printf("lesion %zu: truth %.1f,%.1f targets %u nearest %.2f mm straight %d\n", i,
                   t.lesion_x, t.lesion_z, r.n_targets, best, straight(&r));
        assert_true(r.structure_found);
        assert_true(best < 1.5f);
    }
}

/* Thick tendons at 5-6 deg, where the fibres half show: the deep border's
 * bulge alone took an angle 2-4 deg off and the top, fitted at that angle,
 * ran 1.3 mm too shallow at the end of the view where the site went (7.0
 * mm read 7.71; 7.5 mm read 8.21 when the wrong angle fell under 3 deg and
 * the free search stood) until the angle was judged by both borders
 * within 4 deg instead of 2: each within 0.35 mm. */
static void test_thick_low_tilt_angle(void **state)
{
    (void)state;
    static const scene sc[] = {
        { "7.0", "6", "11.6", "34", "midportion", 921 }, { "7.5", "5", "11", "34", "midportion", 933 },
    };
    const expect e = { "thick, 5-6 deg", 0.35f, 0.35f, 1, 2, false, 0 };
    check_scenes(sc, sizeof sc / sizeof sc[0], &e);
}

/* An untilted midportion whose deep border, over the first 9 mm of the
 * view, ran on a septum of Kager's fat 1.8 mm under the tendon (case 112
 * of `talus eval tissue --anatomy all --cases 300 --seed 2026`, this scene
 * with its simulator seed and parameters): the thickest-part site went to
 * that stretch at the image edge and read 8.5 mm for 6.7. A step of over
 * 0.5 mm in the thickness profile near either end of the band now ends the
 * stretch the site is looked for on: measured within 0.35 mm. */
static void test_edge_step_is_not_the_site(void **state)
{
    (void)state;
    const kv par[] = { { "thickness_mm", "6.68" }, { "anisotropy_deg", "0" },
                       { "f0_mhz", "11.9" },       { "depth_mm", "40" },
                       { "gain_db", "0.7" },       { "noise_db", "-61" },
                       { "site", "midportion" },   { "lesion", "0" } };
    tl_analysis_result r;
    float t = run("achilles", TL_AN_ACHILLES, 18354536820297674262ull, par, 8, &r);
    if (verbose())
        printf("edge step: truth %.2f thickness %.2f site %.1f mm\n", t, r.thickness_mm,
               r.site_x_mm);
    assert_true(r.structure_found);
    assert_true(fabsf(r.thickness_mm - t) < 0.35f);
    assert_true(r.site_x_mm > 12.0f);   /* off the stretch at the left edge (x < 9 mm) */
}

/* Tilted insertions whose top line runs up into the dermis at the
 * insertion (seed 2026 cases 224 and 285 of `talus eval tissue --anatomy
 * achilles --cases 300`: 7.08 mm read 6.68, 6.23 read 5.73). The fitted top
 * is clipped at the dermis there for the outline, but the thickness at the
 * insertion is read between the two fitted lines: the clip is not the
 * tendon's top. */
static void test_insertion_top_under_dermis(void **state)
{
    (void)state;
    static const scene sc[] = {
        { "6.2", "-13.9", "12", "40", "insertion", 21 }, { "7.0", "-12", "11.7", "39", "insertion", 22 },
        { "5.8", "-14.5", "10", "36", "insertion", 23 }, { "6.6", "13.5", "12", "38", "insertion", 24 },
    };
    const expect e = { "insertion under the dermis", 0.35f, 0.25f, 1, 4, true, 0 };
    check_scenes(sc, sizeof sc / sizeof sc[0], &e);
}

/* Untilted midportions (no bone in the view) whose deep echo over the
 * darker Kager's fat was taken for bone by an_find_bone's bright-ridge
 * fallback: seed 2028 cases 23, 41, 126 and 230 of `talus eval tissue
 * --anatomy achilles --cases 300` (these scenes, with their simulator seeds
 * and parameters): 4.93 mm read 3.92, 4.93 read 4.40 at the image edge,
 * 2.19 read 2.78, 2.29 read 1.45; the band search stopped above that
 * "bone". No bone run without a shadow under it is kept: each within 0.35
 * mm, the deep border not shallow on average, the view not an insertion. */
static void test_deep_echo_is_not_bone(void **state)
{
    (void)state;
    static const struct {
        const char *thick, *f0, *depth, *gain, *noise, *lesion, *lw, *ld, *lc, *kind;
        uint64_t seed;
    } sc[] = {
        { "4.9325", "8.3109", "30.7309", "-2.0351", "-60.8676", "1", "2.6375", "1.5769", "-11.3349",
          "anechoic", 11797154896013428170ull },
        { "4.9306", "9.9157", "34.5301", "0.4635", "-57.8254", "0", "", "", "", "",
          5571847350720782805ull },
        { "2.1880", "9.9260", "35.0127", "-3.4925", "-50.2088", "0", "", "", "", "",
          12308970664009416842ull },
        { "2.2932", "9.1223", "30.8949", "-1.0511", "-60.9824", "1", "3.8938", "3.5467", "-13.1855",
          "hypoechoic", 568783919469061016ull },
    };
    const size_t n = sizeof sc / sizeof sc[0];
    float deep = 0;
    for (size_t i = 0; i < n; i++) {
        const kv par[] = { { "thickness_mm", sc[i].thick }, { "anisotropy_deg", "0.0000" },
                           { "f0_mhz", sc[i].f0 },          { "depth_mm", sc[i].depth },
                           { "gain_db", sc[i].gain },       { "noise_db", sc[i].noise },
                           { "site", "midportion" },        { "lesion", sc[i].lesion },
                           { "lesion_width_mm", sc[i].lw }, { "lesion_depth_mm", sc[i].ld },
                           { "lesion_contrast_db", sc[i].lc }, { "lesion_kind", sc[i].kind } };
        tl_analysis_result r;
        tl_sim_truth *truth = calloc(1, sizeof *truth);
        float ox, oz;
        assert_non_null(truth);
        const int npar = strcmp(sc[i].lesion, "1") == 0 ? 12 : 8;
        float t = run_full("achilles", TL_AN_ACHILLES, sc[i].seed, par, npar, &r, truth, &ox, &oz);
        float de = tl_polyline_z(r.deep.x_mm, r.deep.z_mm, r.deep.n, r.site_x_mm) -
                   simrun_truth_z(truth, TL_BOUNDARY_TENDON_DEEP, ox, oz, r.site_x_mm);
        free(truth);
        if (verbose())
            printf("deep echo %zu: truth %.2f thickness %.2f deep border %+.2f site %.1f view %d\n", i, t,
                   r.thickness_mm, de, r.site_x_mm, r.insertion_view);
        assert_true(r.structure_found);
        assert_false(r.insertion_view);
        assert_true(fabsf(r.thickness_mm - t) < 0.35f);
        deep += de;
    }
    assert_true(deep / (float)n > -0.1f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tilted_midportion),
        cmocka_unit_test(test_tilted_insertion),
        cmocka_unit_test(test_untilted_keeps_free_search),
        cmocka_unit_test(test_tilted_lesion),
        cmocka_unit_test(test_tilted_echo_top_and_bulge),
        cmocka_unit_test(test_edge_step_is_not_the_site),
        cmocka_unit_test(test_thick_low_tilt_angle),
        cmocka_unit_test(test_insertion_top_under_dermis),
        cmocka_unit_test(test_deep_echo_is_not_bone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
