/* imaging/cv: the OpenCV wrapper turns bad arguments and OpenCV's own
 * exceptions into a tl_status; nothing unwinds into C, and valid calls work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "tl_cv.h"

enum { W = 64, H = 48 };

static void test_bad_views_are_invalid_args(void **state)
{
    (void)state;
    static uint8_t a[W * H], b[W * H];
    static float f[W * H];
    tl_cv_image src = { a, W, H, W, TL_CV_U8 };
    tl_cv_image dst = { b, W, H, W, TL_CV_U8 };
    tl_cv_image small = { b, W / 2, H, W, TL_CV_U8 };
    tl_cv_image fl = { f, W, H, W * sizeof(float), TL_CV_F32 };
    tl_cv_image nodata = { NULL, W, H, W, TL_CV_U8 };
    tl_cv_image badtype = { b, W, H, W, 7 };

    assert_int_equal(tl_cv_speckle_reduce(&src, &small), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_cv_speckle_reduce(&fl, &dst), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_cv_speckle_reduce(&nodata, &dst), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_cv_resize(&src, &fl), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_cv_resize(&badtype, &dst), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_cv_analysis_gaussian(&src, &dst, 4), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_cv_analysis_gaussian(&src, &src, 3), TL_ERR_INVALID_ARG);
    int n = -1;
    assert_int_equal(tl_cv_needle_reference(&src, 10, 30, 10, 5, 2, NULL, 4, &n),
                     TL_ERR_INVALID_ARG);
    assert_int_equal(tl_cv_needle_reference(&fl, 10, 30, 10, 5, 2, NULL, 0, &n),
                     TL_ERR_INVALID_ARG);
}

/* A stride shorter than a row passes the wrapper's own checks, but OpenCV's
 * Mat constructor raises cv::Exception for it: each entry point must return
 * an error instead of letting the exception unwind into C. */
static void test_opencv_exception_becomes_status(void **state)
{
    (void)state;
    static uint8_t a[W * H], b[W * H];
    tl_cv_image bad = { a, W, H, W / 2, TL_CV_U8 };
    tl_cv_image dst = { b, W, H, W, TL_CV_U8 };
    float lines[16];
    int n = -1;
    assert_int_equal(tl_cv_speckle_reduce(&bad, &dst), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_cv_resize(&bad, &dst), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_cv_analysis_gaussian(&bad, &dst, 3), TL_ERR_INVALID_ARG);
    assert_int_equal(tl_cv_needle_reference(&bad, 10, 30, 10, 5, 2, lines, 4, &n),
                     TL_ERR_INVALID_ARG);
    assert_int_equal(n, 0);
}

/* Valid calls do their job: a bright horizontal line is found by the
 * reference finder, and a blur spreads a single bright pixel. */
static void test_valid_calls_work(void **state)
{
    (void)state;
    static uint8_t a[W * H], b[W * H];
    memset(a, 0, sizeof a);
    for (int x = 8; x < 56; x++)
        for (int y = 23; y <= 25; y++)
            a[y * W + x] = 255;
    tl_cv_image src = { a, W, H, W, TL_CV_U8 };
    float lines[4 * 8];
    int n = 0;
    assert_int_equal(tl_cv_needle_reference(&src, 50, 150, 10, 20, 2, lines, 8, &n), TL_OK);
    assert_true(n >= 1);
    assert_true(lines[1] > 20.0f && lines[1] < 28.0f && lines[3] > 20.0f && lines[3] < 28.0f);

    memset(a, 0, sizeof a);
    a[24 * W + 32] = 255;
    tl_cv_image dst = { b, W, H, W, TL_CV_U8 };
    assert_int_equal(tl_cv_analysis_gaussian(&src, &dst, 5), TL_OK);
    assert_true(b[24 * W + 32] < 255 && b[24 * W + 33] > 0 && b[26 * W + 32] > 0);
    assert_int_equal(b[0], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_views_are_invalid_args),
        cmocka_unit_test(test_opencv_exception_becomes_status),
        cmocka_unit_test(test_valid_calls_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
