/* talus replay FILE.mha [--json]: read a PLUS sequence back as a frame
 * source, decoding every frame, and describe it (frames, dimensions,
 * geometry, image type, orientation, per-frame numbers and timestamps). */
#include "commands.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_recording.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: talus replay FILE.mha|FILE.mhd [--json] [--no-frames]\n"
            "  Reads a PLUS sequence (MetaImage; raw or zlib data, LOCAL or .raw) and\n"
            "  decodes every frame as the station would replay it.\n"
            "  --json       print ONE JSON object: frames, width, height, dim_size,\n"
            "               element_type, image_type, orientation, compressed,\n"
            "               geometry {...}, frames_decoded, duration_s and frame_list\n"
            "  --no-frames  leave out frame_list (per-frame index, seq, timestamp_s, mean)\n");
}

static double frame_mean(const tl_frame *f)
{
    double sum = 0.0;
    size_t n = 0;
    if (f->type == TL_IMAGE_BRIGHTNESS) {
        const uint8_t *p = f->data;
        for (n = 0; n < f->data_bytes; n++)
            sum += p[n];
    } else if (f->type == TL_IMAGE_ENVELOPE) {
        const uint16_t *p = f->data;
        for (n = 0; n < f->data_bytes / 2; n++)
            sum += p[n];
    } else {
        const int16_t *p = f->data;   /* RF: mean magnitude */
        for (n = 0; n < f->data_bytes / 2; n++)
            sum += p[n] < 0 ? -(double)p[n] : (double)p[n];
    }
    return n ? sum / (double)n : 0.0;
}

int cmd_replay(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false, frames_list = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--no-frames") == 0) {
            frames_list = false;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "talus replay: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    tl_recording *r;
    tl_status st = tl_recording_open(path, &r);
    if (st != TL_OK) {
        fprintf(stderr, "talus replay: %s: %s\n", path, tl_strerror(st));
        return 1;
    }
    tl_recording_info in;
    tl_recording_get_info(r, &in);

    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "file", path);
    cJSON_AddNumberToObject(root, "frames", in.frames);
    cJSON_AddNumberToObject(root, "width", in.width);
    cJSON_AddNumberToObject(root, "height", in.height);
    cJSON *dims = cJSON_AddArrayToObject(root, "dim_size");
    for (uint32_t i = 0; i < in.ndims; i++)
        cJSON_AddItemToArray(dims, cJSON_CreateNumber(in.dim[i]));
    cJSON_AddStringToObject(root, "element_type", in.element_type);
    cJSON_AddStringToObject(root, "image_type", tl_image_type_name(in.type));
    cJSON_AddBoolToObject(root, "image_type_given", in.type_given);
    cJSON_AddStringToObject(root, "orientation", in.orientation.name);
    cJSON_AddStringToObject(root, "orientation_normalized", in.orientation.normalized);
    cJSON_AddBoolToObject(root, "compressed", in.compressed);
    if (in.compressed)
        cJSON_AddNumberToObject(root, "compressed_size", (double)in.compressed_size);
    cJSON_AddStringToObject(root, "data", in.local_data ? "LOCAL" : tl_recording_field(r, "ElementDataFile"));
    cJSON *sp = cJSON_AddArrayToObject(root, "spacing");
    for (uint32_t i = 0; i < in.ndims; i++)
        cJSON_AddItemToArray(sp, cJSON_CreateNumber(in.spacing[i]));
    cJSON *g = cJSON_AddObjectToObject(root, "geometry");
    cJSON_AddBoolToObject(g, "known", in.geometry_known);
    cJSON_AddStringToObject(g, "kind", in.geom.kind == TL_PROBE_CONVEX ? "convex" : "linear");
    cJSON_AddNumberToObject(g, "lines", in.geom.lines);
    cJSON_AddNumberToObject(g, "samples", in.geom.samples);
    if (in.geometry_known) {
        cJSON_AddNumberToObject(g, "pitch_mm", in.geom.pitch_mm);
        cJSON_AddNumberToObject(g, "radius_mm", in.geom.radius_mm);
        cJSON_AddNumberToObject(g, "f0_hz", in.geom.f0_hz);
        cJSON_AddNumberToObject(g, "fs_hz", in.geom.fs_hz);
        cJSON_AddNumberToObject(g, "c_m_s", in.geom.c_m_s);
        cJSON_AddNumberToObject(g, "depth_start_mm", in.geom.depth_start_mm);
        cJSON_AddNumberToObject(g, "depth_mm", tl_geometry_depth_mm(&in.geom));
        cJSON_AddNumberToObject(g, "width_mm", tl_geometry_width_mm(&in.geom));
    }
    const char *serial = tl_recording_field(r, "ProbeSerial");
    if (serial)
        cJSON_AddStringToObject(root, "probe_serial", serial);

    cJSON *list = frames_list ? cJSON_CreateArray() : NULL;
    uint32_t decoded = 0;
    double t_first = 0, t_last = 0;
    tl_status read_err = TL_OK;
    for (uint32_t i = 0; i < in.frames; i++) {
        tl_frame f;
        st = tl_recording_read(r, i, &f);
        if (st != TL_OK) {
            read_err = st;
            fprintf(stderr, "talus replay: frame %u: %s\n", i, tl_strerror(st));
            break;
        }
        decoded++;
        double t = (double)f.t_device_us / 1e6;
        if (i == 0)
            t_first = t;
        t_last = t;
        if (list) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "index", i);
            cJSON_AddNumberToObject(o, "seq", f.seq);
            cJSON_AddNumberToObject(o, "timestamp_s", t);
            cJSON_AddNumberToObject(o, "mean", frame_mean(&f));
            cJSON_AddItemToArray(list, o);
        }
    }
    cJSON_AddNumberToObject(root, "frames_decoded", decoded);
    cJSON_AddNumberToObject(root, "duration_s", t_last - t_first);
    if (decoded > 1 && t_last > t_first)
        cJSON_AddNumberToObject(root, "fps", (decoded - 1) / (t_last - t_first));
    if (read_err != TL_OK)
        cJSON_AddStringToObject(root, "error", tl_error_name(read_err));
    if (list)
        cJSON_AddItemToObject(root, "frame_list", list);

    if (json) {
        char *text = cJSON_Print(root);
        if (text)
            puts(text);
        free(text);
    } else {
        printf("%s: %u frames of %u x %u %s (%s), orientation %s, %s%s\n", path, in.frames,
               in.width, in.height, tl_image_type_name(in.type), in.element_type,
               in.orientation.name, in.compressed ? "zlib" : "raw",
               in.local_data ? "" : " (separate data file)");
        printf("geometry: %s %u lines x %u samples%s\n",
               in.geom.kind == TL_PROBE_CONVEX ? "convex" : "linear", in.geom.lines,
               in.geom.samples, in.geometry_known ? "" : " (not stored in the file)");
        printf("decoded %u/%u frames over %.3f s\n", decoded, in.frames, t_last - t_first);
    }
    cJSON_Delete(root);
    tl_recording_close(r);
    return read_err == TL_OK ? 0 : 1;
}
