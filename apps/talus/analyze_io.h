/* Loading one B-mode image for `talus analyze` and `talus bench analysis`:
 * a PNG, or frame K of a PLUS sequence (B-mode directly, RF/envelope through
 * the imaging chain). */
#ifndef TALUS_ANALYZE_IO_H
#define TALUS_ANALYZE_IO_H

#include "tl_imaging.h"

#include <stddef.h>

/* spacing_mm <= 0: take it from the file if it knows it (else an error).
 * On failure err says why. Free with analyze_free_image(). */
tl_status analyze_load_image(const char *path, uint32_t frame, float spacing_mm, tl_bmode *img,
                             char *err, size_t errlen);
void analyze_free_image(tl_bmode *img);

#endif
