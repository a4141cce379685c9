/* talus bmode FILE.mha [--frame K] [--dynamic-range DB] -o OUT.png
 *
 * One frame of a recorded or third-party PLUS sequence (RF, I/Q, envelope or
 * B-mode) as an 8-bit display PNG: near field at the top, lateral axis left
 * to right, whatever the file's orientation. */
#include "commands.h"
#include "tl_imaging.h"
#include "tl_recording.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: talus bmode FILE.mha [--frame K] [--dynamic-range DB] [--gain DB]\n"
            "                   [--width W] [--height H] [--speckle] [--json] -o OUT.png\n"
            "Converts frame K (default 0) of a PLUS sequence into an 8-bit B-mode PNG,\n"
            "near field at the top, lateral axis left to right.\n"
            "  RF_REAL: FFT envelope; RF_I_LINE_Q_LINE, RF_IQ_LINE, ENVELOPE: magnitude;\n"
            "  then log compression (--dynamic-range, default 60 dB, 0 dB = full scale,\n"
            "  --gain adds to it) and scan conversion to an isotropic raster\n"
            "  (--height default 600 pixels; width follows the scanned area unless\n"
            "  --width is given). The geometry is the file's TalusGeometry, else\n"
            "  talus's default linear probe. BRIGHTNESS frames are already images:\n"
            "  only reoriented.\n"
            "  --json prints the image size and calibration (mm) on stdout.\n");
}

static bool parse_float(const char *s, float *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end)
        return false;
    *out = (float)v;
    return true;
}

static bool parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > 100000000ul)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* A B-mode frame as stored (`samples` rows of `lines` pixels), flipped to
 * near-at-top, marked-side-left. */
static tl_status reorient_brightness(const tl_frame *fr, tl_orientation o, tl_bmode *img)
{
    uint32_t w = fr->geom.lines, h = fr->geom.samples;
    if (fr->data_bytes != (size_t)w * h)
        return TL_ERR_FORMAT;
    tl_status st = tl_bmode_alloc(img, w, h);
    if (st != TL_OK)
        return st;
    bool flip_x = o == TL_ORIENT_UF || o == TL_ORIENT_UN;
    bool flip_y = o == TL_ORIENT_MN || o == TL_ORIENT_UN;
    const uint8_t *src = fr->data;
    for (uint32_t r = 0; r < h; r++) {
        const uint8_t *s = src + (size_t)(flip_y ? h - 1 - r : r) * w;
        uint8_t *d = img->pixels + (size_t)r * img->stride;
        for (uint32_t c = 0; c < w; c++)
            d[c] = s[flip_x ? w - 1 - c : c];
    }
    memset(img->valid, 255, (size_t)w * h);
    img->seq = fr->seq;
    return TL_OK;
}

int cmd_bmode(int argc, char **argv)
{
    const char *in_path = NULL, *out_path = NULL;
    uint32_t frame = 0;
    bool json = false;
    tl_imaging_params p = tl_imaging_params_default();
    p.out_width = 0; /* follow the scanned area */
    p.out_height = 600;
    p.fft_effort = 0; /* one frame: planning must not cost more than it saves */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--speckle") == 0) {
            p.speckle_reduction = true;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            ok = v != NULL;
            out_path = v;
            i++;
        } else if (strcmp(a, "--frame") == 0) {
            ok = v && parse_u32(v, &frame);
            i++;
        } else if (strcmp(a, "--dynamic-range") == 0) {
            ok = v && parse_float(v, &p.dynamic_range_db) && p.dynamic_range_db >= 1.0f &&
                 p.dynamic_range_db <= 200.0f;
            i++;
        } else if (strcmp(a, "--gain") == 0) {
            ok = v && parse_float(v, &p.gain_db) && p.gain_db >= -200.0f && p.gain_db <= 200.0f;
            i++;
        } else if (strcmp(a, "--width") == 0) {
            ok = v && parse_u32(v, &p.out_width) && p.out_width >= 2 && p.out_width <= 8192;
            i++;
        } else if (strcmp(a, "--height") == 0) {
            ok = v && parse_u32(v, &p.out_height) && p.out_height >= 2 && p.out_height <= 8192;
            i++;
        } else if (a[0] == '-') {
            ok = false;
        } else if (!in_path) {
            in_path = a;
        } else {
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "talus bmode: bad or incomplete argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!in_path || !out_path) {
        fprintf(stderr, "talus bmode: need an input FILE.mha and -o OUT.png\n");
        usage(stderr);
        return 2;
    }

    tl_recording *rec = NULL;
    tl_status st = tl_recording_open(in_path, &rec);
    if (st != TL_OK) {
        fprintf(stderr, "talus bmode: cannot read %s: %s\n", in_path, tl_strerror(st));
        return 1;
    }
    tl_recording_info info;
    tl_recording_get_info(rec, &info);
    if (frame >= info.frames) {
        fprintf(stderr, "talus bmode: %s has %u frame(s); --frame %u is past the end\n", in_path,
                info.frames, frame);
        tl_recording_close(rec);
        return 2;
    }
    tl_frame fr;
    st = tl_recording_read(rec, frame, &fr);
    if (st != TL_OK) {
        fprintf(stderr, "talus bmode: frame %u of %s: %s\n", frame, in_path, tl_strerror(st));
        tl_recording_close(rec);
        return 1;
    }
    int o = tl_orientation_from_name(info.orientation.normalized);
    p.orientation = o < 0 ? TL_ORIENT_MF : (tl_orientation)o;

    tl_bmode img = { 0 };
    tl_imaging_plan *plan = NULL;
    if (fr.type == TL_IMAGE_BRIGHTNESS) {
        st = reorient_brightness(&fr, p.orientation, &img);
        /* The file's ElementSpacing is its pixel size when it is isotropic. */
        img.spacing_mm = info.spacing[0] == info.spacing[1] ? (float)info.spacing[0] : 0.0f;
    } else {
        st = tl_imaging_plan_create(&fr.geom, fr.type, &p, &plan);
        uint32_t w = 0, h = 0;
        if (st == TL_OK)
            st = tl_imaging_plan_output(plan, &w, &h, NULL, NULL, NULL);
        if (st == TL_OK)
            st = tl_bmode_alloc(&img, w, h);
        if (st == TL_OK)
            st = tl_imaging_execute(plan, &fr, &img, NULL);
    }
    if (st == TL_OK)
        st = tl_png_write(out_path, img.pixels, img.width, img.height, img.stride, 1);
    if (st != TL_OK) {
        fprintf(stderr, "talus bmode: %s frame %u (%s) -> %s: %s\n", in_path, frame,
                tl_image_type_name(fr.type), out_path, tl_strerror(st));
    } else if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "input", in_path);
        cJSON_AddNumberToObject(j, "frame", frame);
        cJSON_AddStringToObject(j, "type", tl_image_type_name(fr.type));
        cJSON_AddStringToObject(j, "orientation", info.orientation.name);
        cJSON_AddBoolToObject(j, "geometry_known", info.geometry_known);
        cJSON_AddStringToObject(j, "output", out_path);
        cJSON_AddNumberToObject(j, "width", img.width);
        cJSON_AddNumberToObject(j, "height", img.height);
        cJSON_AddNumberToObject(j, "spacing_mm", img.spacing_mm);
        cJSON_AddNumberToObject(j, "origin_x_mm", img.origin_x_mm);
        cJSON_AddNumberToObject(j, "origin_z_mm", img.origin_z_mm);
        char *s = cJSON_Print(j);
        if (s)
            printf("%s\n", s);
        free(s);
        cJSON_Delete(j);
    } else {
        fprintf(stderr, "talus bmode: %s frame %u (%s, %s) -> %s (%u x %u, %.4f mm/pixel)\n",
                in_path, frame, tl_image_type_name(fr.type), info.orientation.name, out_path,
                img.width, img.height, img.spacing_mm);
    }
    tl_bmode_free(&img);
    tl_imaging_plan_destroy(plan);
    tl_recording_close(rec);
    return st == TL_OK ? 0 : 1;
}
