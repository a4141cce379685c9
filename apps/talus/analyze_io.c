/* Image loading for `talus analyze` (see analyze_io.h). */
#include "analyze_io.h"

#include "tl_recording.h"

#include <stdio.h>
#include <stdlib.h>
#include <math.h>
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

/* RF / envelope frames: through the imaging chain with default parameters. */
static tl_status image_frame(const tl_frame *f, float spacing, const char *orient, tl_bmode *img,
                             char *err, size_t errlen)
{
    tl_imaging_params ip = tl_imaging_params_default();
    int o = tl_orientation_from_name(orient);
    if (o >= 0)
        ip.orientation = (tl_orientation)o;
    tl_imaging_plan *plan = NULL;
    tl_status st = tl_imaging_plan_create(&f->geom, f->type, &ip, &plan);
    if (st == TL_OK)
        st = tl_imaging_bmode_alloc(plan, img);
    if (st == TL_OK)
        st = tl_imaging_execute(plan, f, img, NULL);
    tl_imaging_plan_destroy(plan);
    if (st != TL_OK) {
        snprintf(err, errlen, "imaging the %s frame failed: %s", tl_image_type_name(f->type),
                 tl_strerror(st));
        tl_bmode_free(img);
        return st;
    }
    if (spacing > 0 && fabsf(spacing - img->spacing_mm) > 1e-4f)
        fprintf(stderr, "talus analyze: note: RF imaged at %.4f mm/pixel; --spacing-mm ignored\n",
                img->spacing_mm);
    return TL_OK;
}

static tl_status load_sequence(const char *path, uint32_t frame, float spacing, tl_bmode *img,
                               char *err, size_t errlen)
{
    tl_recording *rec = NULL;
    tl_status st = tl_recording_open(path, &rec);
    if (st != TL_OK) {
        snprintf(err, errlen, "cannot open sequence: %s", tl_strerror(st));
        return st;
    }
    tl_recording_info info;
    tl_recording_get_info(rec, &info);
    if (frame >= info.frames) {
        snprintf(err, errlen, "frame %u out of range (the sequence has %u)", frame, info.frames);
        tl_recording_close(rec);
        return TL_ERR_INVALID_ARG;
    }
    tl_frame f;
    st = tl_recording_read(rec, frame, &f);
    if (st != TL_OK) {
        snprintf(err, errlen, "cannot read frame %u: %s", frame, tl_strerror(st));
        tl_recording_close(rec);
        return st;
    }
    if (f.type != TL_IMAGE_BRIGHTNESS) {
        st = image_frame(&f, spacing, info.orientation.normalized, img, err, errlen);
        tl_recording_close(rec);
        return st;
    }
    if (!(spacing > 0)) {
        /* PLUS files usually say ElementSpacing = 1 (unknown); trust anything else */
        if (info.spacing[0] > 0 && fabs(info.spacing[0] - 1.0) > 1e-6 &&
            fabs(info.spacing[0] - info.spacing[1]) < 1e-6 * info.spacing[0])
            spacing = (float)info.spacing[0];
        else {
            snprintf(err, errlen, "the sequence does not give its pixel size: give --spacing-mm");
            tl_recording_close(rec);
            return TL_ERR_INVALID_ARG;
        }
    }
    uint32_t w = f.geom.lines, h = f.geom.samples;
    if ((size_t)w * h > f.data_bytes || w == 0 || h == 0) {
        snprintf(err, errlen, "frame %u is smaller than its %ux%u size", frame, w, h);
        tl_recording_close(rec);
        return TL_ERR_FORMAT;
    }
    st = tl_bmode_alloc(img, w, h);
    if (st == TL_OK) {
        for (uint32_t r = 0; r < h; r++)
            memcpy(img->pixels + (size_t)r * img->stride, (const uint8_t *)f.data + (size_t)r * w, w);
        /* no mask: analysis tells black padding from tissue itself */
        free(img->valid);
        img->valid = NULL;
        img->spacing_mm = spacing;
        img->seq = f.seq;
    } else {
        snprintf(err, errlen, "out of memory");
    }
    tl_recording_close(rec);
    return st;
}

tl_status analyze_load_image(const char *path, uint32_t frame, float spacing_mm, tl_bmode *img,
                             char *err, size_t errlen)
{
    memset(img, 0, sizeof *img);
    if (ends_with(path, ".png"))
        return load_png(path, spacing_mm, img, err, errlen);
    if (ends_with(path, ".mha") || ends_with(path, ".mhd"))
        return load_sequence(path, frame, spacing_mm, img, err, errlen);
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
