// talus OpenCV wrapper (C++17): implements tl_cv.h. Exceptions never cross
// into C (unwinding through a C caller is undefined): every entry point runs
// its body through guarded(), which turns any exception into a tl_status.
#include "tl_cv.h"

#include <new>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace {

template <class Body> tl_status guarded(Body body) noexcept
{
    try {
        return body();
    } catch (const std::bad_alloc &) {
        return TL_ERR_NO_MEM;
    } catch (const cv::Exception &e) {
        return e.code == cv::Error::StsNoMem ? TL_ERR_NO_MEM : TL_ERR_INVALID_ARG;
    } catch (...) {
        return TL_ERR_INVALID_ARG;
    }
}

int cv_type(int t)
{
    switch (t) {
    case TL_CV_U8: return CV_8UC1;
    case TL_CV_RGB8: return CV_8UC3;
    case TL_CV_F32: return CV_32FC1;
    default: return -1;
    }
}

// A cv::Mat header over caller memory (no copy).
bool as_mat(const tl_cv_image *img, cv::Mat &out)
{
    if (!img || !img->data || img->width == 0 || img->height == 0)
        return false;
    int t = cv_type(img->type);
    if (t < 0)
        return false;
    out = cv::Mat((int)img->height, (int)img->width, t, img->data, img->stride);
    return true;
}

} // namespace

/* ---- imaging ----------------------------------------------------------- */

tl_status tl_cv_speckle_reduce(const tl_cv_image *src, tl_cv_image *dst)
{
    return guarded([&] {
        cv::Mat s, d;
        if (!as_mat(src, s) || !as_mat(dst, d) || src->type != TL_CV_U8 ||
            dst->type != TL_CV_U8 || s.size() != d.size())
            return TL_ERR_INVALID_ARG;
        cv::medianBlur(s, d, 3);
        cv::GaussianBlur(d, d, cv::Size(3, 3), 0.0);
        return TL_OK;
    });
}

tl_status tl_cv_resize(const tl_cv_image *src, tl_cv_image *dst)
{
    return guarded([&] {
        cv::Mat s, d;
        if (!as_mat(src, s) || !as_mat(dst, d) || src->type != dst->type)
            return TL_ERR_INVALID_ARG;
        cv::resize(s, d, d.size(), 0.0, 0.0, cv::INTER_LINEAR);
        return TL_OK;
    });
}


/* ---- analysis ---------------------------------------------------------- */

tl_status tl_cv_analysis_gaussian(const tl_cv_image *src, tl_cv_image *dst, int ksize)
{
    if (!src || !dst || src->type != TL_CV_U8 || dst->type != TL_CV_U8 || ksize < 1 ||
        ksize % 2 == 0 || src->width != dst->width || src->height != dst->height ||
        src->data == dst->data)
        return TL_ERR_INVALID_ARG;
    return guarded([&] {
        cv::Mat s, d;
        if (!as_mat(src, s) || !as_mat(dst, d))
            return TL_ERR_INVALID_ARG;
        cv::GaussianBlur(s, d, cv::Size(ksize, ksize), 0);
        return TL_OK;
    });
}


/* ---- guidance (needle) ------------------------------------------------- */

tl_status tl_cv_needle_reference(const tl_cv_image *img, double canny_lo, double canny_hi,
                                 int threshold, double min_len_px, double max_gap_px,
                                 float *lines, int max_lines, int *n_lines)
{
    if (!n_lines || !img || img->type != TL_CV_U8 || max_lines < 0 || (max_lines > 0 && !lines))
        return TL_ERR_INVALID_ARG;
    *n_lines = 0;
    return guarded([&] {
        cv::Mat src, blur, edges;
        if (!as_mat(img, src))
            return TL_ERR_INVALID_ARG;
        cv::medianBlur(src, blur, 5);
        cv::Canny(blur, edges, canny_lo, canny_hi);
        std::vector<cv::Vec4i> segs;
        cv::HoughLinesP(edges, segs, 1.0, CV_PI / 180.0, threshold, min_len_px, max_gap_px);
        int n = 0;
        for (const cv::Vec4i &s : segs) {
            if (n >= max_lines)
                break;
            for (int k = 0; k < 4; k++)
                lines[4 * n + k] = (float)s[k];
            n++;
        }
        *n_lines = n;
        return TL_OK;
    });
}

/* ---- calibration ------------------------------------------------------- */


/* ---- ui ---------------------------------------------------------------- */

