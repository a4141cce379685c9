/* Plantar fascia (imaging/analysis an_plantar): the calcaneus and the
 * measurement site on synthetic heels with known geometry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dark_muscle_is_not_calcaneus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
