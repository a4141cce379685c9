/* Acquisition rules of the needle detector on single images with known
 * truth (synthetic scenes, test_guidance_synth.c): a needle comes from
 * outside the image, so a shaft must start at the image edge -- or where
 * nothing echoes behind it (an acoustic shadow hides the shaft as well:
 * ankle needles that come out from under the tibia's edge). A bright
 * segment that starts in plain tissue is still not a needle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_guidance_synth.h"
#include "tl_guidance.h"
#include "tl_imaging.h"

#define ANG_DEG 18.0f
#define CORTEX_DEG 30.0f
#define CORTEX_END_MM 16.0f /* the bone's edge (x): the needle emerges here */
#define TIP_X_MM 28.0f

static float needle_z(float x)
{
    return 10.0f + x * tanf(ANG_DEG * 3.14159265f / 180.0f);
}

static float cortex_z(float x)
{
    return 6.0f + x * tanf(CORTEX_DEG * 3.14159265f / 180.0f);
}

/* A needle at 18 deg from the left edge (z 10 mm) to x = tip_x (no needle
 * when tip_x is 0). With `bone`: a cortex descending at 30 deg from (0, 6)
 * to x = 16 mm above it, everything beneath the cortex black (its shadow),
 * so the shaft is seen only from x = 16 mm on. Without: the same visible
 * shaft drawn from x = 16 mm in plain tissue, nothing behind it. */
static void scene(bool bone, float tip_x, tl_bmode *img)
{
    synth_scene s = synth_default();
    s.needle_amp = tip_x > 0.0f ? 5.0f : 0.0f;
    s.entry_x_mm = bone ? 0.0f : CORTEX_END_MM;
    s.entry_z_mm = needle_z(s.entry_x_mm);
    s.tip_x_mm = tip_x;
    s.tip_z_mm = needle_z(tip_x);
    assert_int_equal(synth_render(&s, img), 0);
    if (!bone)
        return;
    uint32_t st = 12345u;
    for (uint32_t y = 0; y < img->height; y++)
        for (uint32_t x = 0; x < img->width; x++) {
            float xm = (float)x * img->spacing_mm, zm = (float)y * img->spacing_mm;
            if (xm > CORTEX_END_MM)
                continue;
            float d = zm - cortex_z(xm);
            uint8_t *p = img->pixels + (size_t)y * img->stride + x;
            if (fabsf(d) < 0.25f) {
                *p = 235;
            } else if (d >= 0.25f) {
                st = st * 1664525u + 1013904223u;
                *p = (uint8_t)((st >> 24) % 4u); /* the shadow: black level */
            }
        }
}

/* Three frames without the needle, then three with it advancing 1 mm a
 * frame (tip x 26, 27, 28 mm). Returns in how many of those it was found;
 * *worst: the worst tip error (mm) of those found. */
static int follow(bool bone, float *worst)
{
    tl_bmode empty, img;
    scene(bone, 0.0f, &empty);
    scene(bone, 0.0f, &img);
    tl_needle_detector *d = NULL;
    assert_int_equal(tl_needle_detector_create(NULL, &d), TL_OK);
    int found = 0;
    *worst = 0.0f;
    for (uint32_t k = 0; k < 6; k++) {
        float tip_x = k < 3 ? 0.0f : TIP_X_MM - 2.0f + (float)(k - 3);
        tl_bmode src;
        if (k < 3)
            src = empty;
        else
            scene(bone, tip_x, &src);
        synth_jitter(&img, src.pixels, k);
        if (k >= 3)
            synth_free(&src);
        tl_needle_detection det;
        assert_int_equal(tl_needle_detect(d, &img, NULL, &det), TL_OK);
        printf("  %s, frame %u: found %d tip (%.2f, %.2f) %.1f deg len %.1f conf %.2f (%s)\n",
               bone ? "out of the bone's shadow" : "starts in tissue", k, det.found,
               (double)det.tip_x_mm, (double)det.tip_z_mm, (double)det.angle_deg,
               (double)det.length_mm, (double)det.confidence, det.reason);
        if (k < 3) {
            assert_false(det.found);
            continue;
        }
        if (det.found) {
            found++;
            *worst = fmaxf(*worst, hypotf(det.tip_x_mm - tip_x, det.tip_z_mm - needle_z(tip_x)));
            assert_true(fabsf(det.angle_deg - ANG_DEG) < 1.0f);
        }
    }
    tl_needle_detector_destroy(d);
    synth_free(&empty);
    synth_free(&img);
    return found;
}

static void test_shaft_out_of_shadow_is_a_needle(void **state)
{
    (void)state;
    float worst;
    int n = follow(true, &worst);
    printf("  found in %d of 3 frames, worst tip error %.2f mm\n", n, (double)worst);
    assert_true(n >= 2);
    assert_true(worst < 0.5f);
}

static void test_shaft_from_tissue_is_not(void **state)
{
    (void)state;
    float worst;
    assert_int_equal(follow(false, &worst), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shaft_out_of_shadow_is_a_needle),
        cmocka_unit_test(test_shaft_from_tissue_is_not),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
