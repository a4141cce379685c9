/* Plantar fascia lesions (imaging/analysis an_lesion.c, the second pass
 * against the band's local level), through the real chain: simulator RF ->
 * imaging -> analysis. */
#include "test_analysis_simrun.h"

/* Is the truth lesion l explained by a target (the eval's rule: centroid
 * within 1.5 mm of its centre or inside it grown by 1 mm)? */
static bool lesion_found(const tl_analysis_result *r, const tl_sim_lesion *l, float ox, float oz)
{
    for (uint32_t k = 0; k < r->n_targets; k++) {
        float x = r->targets[k].x_mm + ox, z = r->targets[k].z_mm + oz;
        if (hypotf(x - l->cx_mm, z - l->cz_mm) < 1.5f)
            return true;
        tl_sim_lesion g = *l;
        g.width_mm += 2.0f;
        g.depth_mm += 2.0f;
        if (tl_sim_lesion_contains(&g, x, z))
            return true;
    }
    return false;
}

/* Thin (2.3-2.9 mm), strongly textured fasciae whose level swings by
 * 6-15 dB along the band, with a -10 or -16 dB lesion 9 mm wide (eval
 * cases 112 of seed 2026 and 16 of seed 2027, plantar only): against the
 * level fitted across the image the texture's spread hides them; against
 * the band's local level they stand out. The same heels without the
 * lesion give no target. */
static void test_thin_band_lesion(void **state)
{
    (void)state;
    static const kv scene[2][9] = {
        { { "thickness_mm", "2.92" }, { "lesion_width_mm", "8.9" }, { "lesion_depth_mm", "1.5" },
          { "lesion_contrast_db", "-10.1" }, { "f0_mhz", "8.1" }, { "depth_mm", "28" },
          { "gain_db", "1.6" }, { "noise_db", "-73" }, { "lesion", "1" } },
        { { "thickness_mm", "2.27" }, { "lesion_width_mm", "9.5" }, { "lesion_depth_mm", "3.9" },
          { "lesion_contrast_db", "-16.3" }, { "f0_mhz", "8.0" }, { "depth_mm", "34" },
          { "gain_db", "4.2" }, { "noise_db", "-70" }, { "lesion", "1" } },
    };
    int found = 0, n = 0, false_calls = 0;
    for (int sc = 0; sc < 2; sc++)
        for (uint64_t seed = 1; seed <= 4; seed++) {
            tl_analysis_result r;
            float ox, oz;
            tl_sim_truth *t = calloc(1, sizeof *t);
            assert_non_null(t);
            run_full("plantar-fascia", TL_AN_PLANTAR_FASCIA, seed, scene[sc], 9, &r, t, &ox, &oz);
            assert_true(r.structure_found);
            assert_int_equal(t->n_lesions, 1);
            bool hit = lesion_found(&r, &t->lesions[0], ox, oz);
            found += hit;
            n++;
            /* the same heel without the lesion */
            kv plain[9];
            memcpy(plain, scene[sc], sizeof plain);
            plain[8].value = "0";
            run_full("plantar-fascia", TL_AN_PLANTAR_FASCIA, seed, plain, 9, &r, t, &ox, &oz);
            false_calls += r.n_targets > 0;
            if (getenv("TL_TEST_VERBOSE"))
                printf("scene %d seed %llu: lesion %s, %u targets without it\n", sc,
                       (unsigned long long)seed, hit ? "found" : "missed", r.n_targets);
            free(t);
        }
    if (getenv("TL_TEST_VERBOSE"))
        printf("thin band: found %d of %d, false calls %d of %d\n", found, n, false_calls, n);
    assert_true(found >= n - 1);
    assert_true(false_calls <= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thin_band_lesion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
