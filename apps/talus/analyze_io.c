/* Image loading for `talus analyze` (see analyze_io.h). */
#include "analyze_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    if (n < m)
        return false;
    for (size_t i = 0; i < m; i++) {
        char c = s[n - m + i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != suffix[i])
            return false;
    }
    return true;
}

static tl_status load_png(const char *path, float spacing, tl_bmode *img, char *err, size_t errlen)
{
    if (!(spacing > 0)) {
        snprintf(err, errlen, "a PNG carries no pixel size: give --spacing-mm");
        return TL_ERR_INVALID_ARG;
    }
    uint8_t *px = NULL;
    uint32_t w = 0, h = 0;
    tl_status st = tl_png_read(path, 1, &px, &w, &h);
    if (st != TL_OK) {
        snprintf(err, errlen, "cannot read PNG: %s", tl_strerror(st));
        return st;
    }
    memset(img, 0, sizeof *img);
    img->width = w;
    img->height = h;
    img->stride = w;
    img->spacing_mm = spacing;
    img->pixels = px;
    return TL_OK;
}

tl_status analyze_load_image(const char *path, uint32_t frame, float spacing_mm, tl_bmode *img,
                             char *err, size_t errlen)
{
    memset(img, 0, sizeof *img);
    if (ends_with(path, ".png"))
        return load_png(path, spacing_mm, img, err, errlen);
    (void)frame;
    snprintf(err, errlen, "unsupported image file (expected .png, .mha or .mhd)");
    return TL_ERR_UNSUPPORTED;
}

void analyze_free_image(tl_bmode *img)
{
    if (!img)
        return;
    free(img->pixels);
    free(img->valid);
    memset(img, 0, sizeof *img);
}
