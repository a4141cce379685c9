/* talus OpenCV wrapper: the only door to OpenCV's C++ API.
 *
 * Plain C functions on caller-owned 8-bit / float images (row-major, explicit
 * stride in bytes). Nothing else in the project includes OpenCV headers.
 * Each module adds what it needs in its own section below (keep sections
 * apart so parallel work merges cleanly). */
#ifndef TL_CV_H
#define TL_CV_H

#include "tl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A view of an image the caller owns. type: 1 = uint8 grey, 3 = uint8 RGB,
 * 5 = float32 grey. */
typedef struct {
    void *data;
    uint32_t width, height;
    uint32_t stride;   /* bytes per row */
    int type;
} tl_cv_image;

#define TL_CV_U8 1
#define TL_CV_RGB8 3
#define TL_CV_F32 5

/* ---- imaging ----------------------------------------------------------- */

/* Speckle reduction of an 8-bit B-mode: 3 x 3 median then a light 3 x 3
 * Gaussian. src and dst must not overlap (same size, TL_CV_U8). */
tl_status tl_cv_speckle_reduce(const tl_cv_image *src, tl_cv_image *dst);

/* Bilinear resize of an 8-bit or float image into dst's size (INTER_LINEAR). */
tl_status tl_cv_resize(const tl_cv_image *src, tl_cv_image *dst);


/* ---- analysis ---------------------------------------------------------- */

/* Gaussian blur (ksize x ksize, odd) of an 8-bit image into dst (same size,
 * may not alias src): `talus bench analysis` times it as the reference cost
 * of one OpenCV filter pass over a frame. */
tl_status tl_cv_analysis_gaussian(const tl_cv_image *src, tl_cv_image *dst, int ksize);


/* ---- guidance (needle) ------------------------------------------------- */

/* The textbook needle-line finder, kept as the speed reference of
 * `talus bench needle` (guidance/ itself does not use OpenCV): medianBlur
 * (ksize 5) + Canny(canny_lo, canny_hi) + HoughLinesP(1 px, 1 degree,
 * threshold, min_len_px, max_gap_px) on an 8-bit image. Writes up to
 * max_lines segments as x0, y0, x1, y1 (pixels) and their count. */
tl_status tl_cv_needle_reference(const tl_cv_image *img, double canny_lo, double canny_hi,
                                 int threshold, double min_len_px, double max_gap_px,
                                 float *lines, int max_lines, int *n_lines);

/* ---- calibration ------------------------------------------------------- */


/* ---- ui ---------------------------------------------------------------- */


#ifdef __cplusplus
}
#endif
#endif
