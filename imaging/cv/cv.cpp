// talus OpenCV wrapper (C++17): implements tl_cv.h. Exceptions never cross
// into C: every entry point catches cv::Exception and returns a tl_status.
#include "tl_cv.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace {

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
[[maybe_unused]] bool as_mat(const tl_cv_image *img, cv::Mat &out)
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


/* ---- analysis ---------------------------------------------------------- */


/* ---- guidance (needle) ------------------------------------------------- */


/* ---- calibration ------------------------------------------------------- */


/* ---- ui ---------------------------------------------------------------- */

