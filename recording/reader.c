/* PLUS sequence reader: parse and check the MetaImage header, then decode
 * frames on demand (pread for raw data, sequential inflate for zlib). */
#include "rec_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_LINE (1u << 20)          /* one header line */
#define MAX_HEADER (64u << 20)       /* the whole header */
#define MAX_FIELDS 4000000u
#define MAX_DIM 65536u
#define MAX_FRAMES 10000000u
#define MAX_FRAME_BYTES (1ull << 30)

typedef struct {
    char *key;
    char *value;
    int64_t frame;          /* -1: top-level field */
    const char *name;       /* per-frame: the part after Seq_FrameNNNN_ */
} field;

struct tl_recording {
    tl_recording_info info;
    field *fields;
    size_t n_fields, cap_fields;
    uint32_t *frame_first;  /* per frame: index into order[] of its first field */
    uint32_t *frame_count;  /* per frame: how many fields */
    uint32_t *order;        /* field indices sorted by frame */
    int fd;                 /* data file */
    uint64_t data_offset;
    bool swap;              /* big-endian samples */
    uint8_t *frame;         /* decoded frame */
    /* compressed data */
    uint8_t *zdata;
    z_stream zs;
    bool z_init;
    uint32_t z_next;        /* frame the stream is positioned at */
    bool z_broken;
    uint32_t cached;        /* frame held in r->frame, UINT32_MAX: none */
};

static tl_status add_field(tl_recording *r, const char *key, const char *value)
{
    if (r->n_fields >= MAX_FIELDS)
        return TL_ERR_FORMAT;
    if (r->n_fields == r->cap_fields) {
        size_t cap = r->cap_fields ? r->cap_fields * 2 : 64;
        field *nf = realloc(r->fields, cap * sizeof *nf);
        if (!nf)
            return TL_ERR_NO_MEM;
        r->fields = nf;
        r->cap_fields = cap;
    }
    field *fl = &r->fields[r->n_fields];
    memset(fl, 0, sizeof *fl);
    fl->frame = -1;
    fl->key = strdup(key);
    fl->value = strdup(value);
    if (!fl->key || !fl->value) {
        free(fl->key);
        free(fl->value);
        return TL_ERR_NO_MEM;
    }
    r->n_fields++;
    /* Seq_FrameNNNN_Name */
    if (strncmp(key, "Seq_Frame", 9) == 0) {
        const char *p = key + 9;
        uint64_t idx = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 10) {
            idx = idx * 10 + (uint64_t)(*p - '0');
            p++;
            digits++;
        }
        if (digits == 0 || *p != '_' || p[1] == '\0')
            return TL_ERR_FORMAT;
        fl->frame = (int64_t)idx;
        fl->name = fl->key + (p + 1 - key);
    }
    return TL_OK;
}

static const char *get(const tl_recording *r, const char *key)
{
    for (size_t i = 0; i < r->n_fields; i++)
        if (r->fields[i].frame < 0 && strcmp(r->fields[i].key, key) == 0)
            return r->fields[i].value;
    return NULL;
}

static tl_status parse_header(tl_recording *r, FILE *f, const char **data_file)
{
    char *line = malloc(MAX_LINE);
    if (!line)
        return TL_ERR_NO_MEM;
    tl_status st = TL_OK;
    uint64_t consumed = 0;
    *data_file = NULL;
    for (;;) {
        size_t len;
        int rc = rec_read_line(f, line, MAX_LINE, &len, &consumed);
        if (rc < 0 || consumed > MAX_HEADER) {
            st = TL_ERR_FORMAT;
            break;
        }
        if (rc == 0) {   /* end of file before ElementDataFile */
            st = ferror(f) ? TL_ERR_IO : TL_ERR_FORMAT;
            break;
        }
        if (len == 0)
            continue;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)line[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                st = TL_ERR_FORMAT;   /* binary where text belongs */
                break;
            }
        }
        if (st != TL_OK)
            break;
        char *eq = strchr(line, '=');
        if (!eq) {
            st = TL_ERR_FORMAT;
            break;
        }
        *eq = '\0';
        char *key = rec_trim(line), *value = rec_trim(eq + 1);
        if (!rec_valid_key(key)) {
            st = TL_ERR_FORMAT;
            break;
        }
        if (strncmp(key, "Seq_Frame", 9) != 0 && get(r, key)) {
            st = TL_ERR_FORMAT;   /* a key given twice: which one is meant? */
            break;
        }
        st = add_field(r, key, value);
        if (st != TL_OK)
            break;
        if (strcmp(key, "ElementDataFile") == 0) {
            *data_file = r->fields[r->n_fields - 1].value;
            r->data_offset = consumed;
            break;
        }
    }
    free(line);
    return st;
}

/* Check every top-level field and fill r->info. */
static tl_status check_fields(tl_recording *r)
{
    tl_recording_info *in = &r->info;
    const char *v;
    tl_status st = TL_OK;

    if ((v = get(r, "ObjectType")) && strcmp(v, "Image") != 0)
        return TL_ERR_FORMAT;
    uint64_t nd;
    if (!(v = get(r, "NDims")) || !rec_parse_u64(v, &nd) || nd < 2 || nd > 3)
        return TL_ERR_FORMAT;
    in->ndims = (uint32_t)nd;
    uint64_t dims[3] = { 0, 0, 1 };
    if (!(v = get(r, "DimSize")) || !rec_parse_u64_list(v, dims, (int)nd))
        return TL_ERR_FORMAT;
    if (dims[0] < 1 || dims[0] > MAX_DIM || dims[1] < 1 || dims[1] > MAX_DIM ||
        dims[2] > MAX_FRAMES)
        return TL_ERR_FORMAT;
    for (int i = 0; i < 3; i++)
        in->dim[i] = (uint32_t)dims[i];
    in->width = in->dim[0];
    in->height = in->dim[1];
    in->frames = in->dim[2];

    if (!(v = get(r, "ElementType")))
        return TL_ERR_FORMAT;
    if (strcmp(v, "MET_UCHAR") == 0)
        in->bytes_per_sample = 1;
    else if (strcmp(v, "MET_SHORT") == 0 || strcmp(v, "MET_USHORT") == 0)
        in->bytes_per_sample = 2;
    else if (strncmp(v, "MET_", 4) == 0)
        return TL_ERR_UNSUPPORTED;
    else
        return TL_ERR_FORMAT;
    snprintf(in->element_type, sizeof in->element_type, "%s", v);
    in->frame_bytes = (size_t)in->width * in->height * in->bytes_per_sample;
    if (in->frame_bytes > MAX_FRAME_BYTES)
        return TL_ERR_FORMAT;

    uint64_t ch;
    if ((v = get(r, "ElementNumberOfChannels"))) {
        if (!rec_parse_u64(v, &ch) || ch == 0)
            return TL_ERR_FORMAT;
        if (ch != 1)
            return TL_ERR_UNSUPPORTED;
    }
    bool b;
    if ((v = get(r, "BinaryData"))) {
        if (!rec_parse_bool(v, &b))
            return TL_ERR_FORMAT;
        if (!b)
            return TL_ERR_UNSUPPORTED;   /* ASCII pixel data */
    }
    r->swap = false;
    const char *msb_keys[] = { "BinaryDataByteOrderMSB", "ElementByteOrderMSB" };
    for (int i = 0; i < 2; i++)
        if ((v = get(r, msb_keys[i]))) {
            if (!rec_parse_bool(v, &b))
                return TL_ERR_FORMAT;
            r->swap = r->swap || b;
        }
    in->compressed = false;
    if ((v = get(r, "CompressedData")) && !rec_parse_bool(v, &in->compressed))
        return TL_ERR_FORMAT;
    if (in->compressed) {
        if (!(v = get(r, "CompressedDataSize")) || !rec_parse_u64(v, &in->compressed_size) ||
            in->compressed_size == 0 || in->compressed_size > (1ull << 31))
            return TL_ERR_FORMAT;
    }
    uint64_t hs;
    if ((v = get(r, "HeaderSize")) && (!rec_parse_u64(v, &hs) || hs != 0))
        return TL_ERR_UNSUPPORTED;
    for (int i = 0; i < 3; i++)
        in->spacing[i] = 1.0;
    if ((v = get(r, "ElementSpacing"))) {
        if (!rec_parse_double_list(v, in->spacing, (int)nd))
            return TL_ERR_FORMAT;
        for (uint32_t i = 0; i < nd; i++)
            if (!(in->spacing[i] > 0.0))
                return TL_ERR_FORMAT;
    }
    double tmp[16];
    if ((v = get(r, "TransformMatrix")) && !rec_parse_double_list(v, tmp, (int)(nd * nd)))
        return TL_ERR_FORMAT;
    const char *vec_keys[] = { "Offset", "Position", "Origin", "CenterOfRotation" };
    for (int i = 0; i < 4; i++)
        if ((v = get(r, vec_keys[i])) && !rec_parse_double_list(v, tmp, (int)nd))
            return TL_ERR_FORMAT;

    /* What the samples are. */
    in->type_given = false;
    if ((v = get(r, "UltrasoundImageType")) && strcmp(v, "UNKNOWN") != 0) {
        int t = tl_image_type_from_name(v);
        if (t < 0)
            return TL_ERR_FORMAT;
        in->type = (tl_image_type)t;
        in->type_given = true;
    } else {
        in->type = in->bytes_per_sample == 1 ? TL_IMAGE_BRIGHTNESS
                 : strcmp(in->element_type, "MET_USHORT") == 0 ? TL_IMAGE_ENVELOPE
                 : TL_IMAGE_RF_REAL;
    }
    if (strcmp(rec_element_type(in->type), in->element_type) != 0)
        return TL_ERR_FORMAT;   /* e.g. BRIGHTNESS stored as MET_SHORT */

    v = get(r, "UltrasoundImageOrientation");
    if (!v || strcmp(v, "??") == 0 || strcmp(v, "UNKNOWN") == 0)
        v = in->type == TL_IMAGE_BRIGHTNESS ? "MF" : "FM";
    st = tl_rec_orientation_parse(v, &in->orientation);
    if (st != TL_OK)
        return TL_ERR_FORMAT;

    uint32_t lines, samples;
    st = rec_geometry_dims(in->type, in->width, in->height, &lines, &samples);
    if (st != TL_OK)
        return st;
    in->geometry_known = false;
    in->geom = tl_geometry_default_linear();
    if ((v = get(r, "TalusGeometry"))) {
        if (rec_geometry_parse(v, &in->geom) != TL_OK || in->geom.lines != lines ||
            in->geom.samples != samples)
            return TL_ERR_FORMAT;
        in->geometry_known = true;
    }
    in->geom.lines = lines;
    in->geom.samples = samples;
    in->fields = (uint32_t)r->n_fields;
    return TL_OK;
}

/* Group per-frame fields by frame and check their values. */
static tl_status index_frames(tl_recording *r)
{
    uint32_t nf = r->info.frames;
    r->frame_first = calloc(nf ? nf : 1, sizeof *r->frame_first);
    r->frame_count = calloc(nf ? nf : 1, sizeof *r->frame_count);
    r->order = calloc(r->n_fields ? r->n_fields : 1, sizeof *r->order);
    if (!r->frame_first || !r->frame_count || !r->order)
        return TL_ERR_NO_MEM;
    for (size_t i = 0; i < r->n_fields; i++) {
        field *fl = &r->fields[i];
        if (fl->frame < 0)
            continue;
        if ((uint64_t)fl->frame >= nf)
            return TL_ERR_FORMAT;   /* a field for a frame the file does not hold */
        r->frame_count[fl->frame]++;
    }
    uint32_t pos = 0;
    for (uint32_t k = 0; k < nf; k++) {
        r->frame_first[k] = pos;
        pos += r->frame_count[k];
        r->frame_count[k] = 0;
    }
    for (size_t i = 0; i < r->n_fields; i++) {
        field *fl = &r->fields[i];
        if (fl->frame < 0)
            continue;
        uint32_t k = (uint32_t)fl->frame;
        for (uint32_t j = 0; j < r->frame_count[k]; j++)
            if (strcmp(r->fields[r->order[r->frame_first[k] + j]].name, fl->name) == 0)
                return TL_ERR_FORMAT;   /* the same frame field twice */
        r->order[r->frame_first[k] + r->frame_count[k]++] = (uint32_t)i;
        double d;
        uint64_t u;
        if (strcmp(fl->name, "Timestamp") == 0 && (!rec_parse_double(fl->value, &d) || d < 0))
            return TL_ERR_FORMAT;
        if (strcmp(fl->name, "FrameNumber") == 0 &&
            (!rec_parse_u64(fl->value, &u) || u > UINT32_MAX))
            return TL_ERR_FORMAT;
    }
    return TL_OK;
}

static tl_status open_data(tl_recording *r, const char *path, const char *data_file)
{
    tl_recording_info *in = &r->info;
    in->local_data = strcmp(data_file, "LOCAL") == 0;
    if (!in->local_data) {
        if (strcmp(data_file, "LIST") == 0 || strchr(data_file, '%') || !*data_file)
            return TL_ERR_UNSUPPORTED;   /* one file per slice */
        char full[PATH_MAX];
        const char *slash = strrchr(path, '/');
        int n;
        if (data_file[0] == '/' || !slash)
            n = snprintf(full, sizeof full, "%s", data_file);
        else
            n = snprintf(full, sizeof full, "%.*s/%s", (int)(slash - path), path, data_file);
        if (n < 0 || (size_t)n >= sizeof full)
            return TL_ERR_FORMAT;
        close(r->fd);
        r->fd = open(full, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0)
            return errno == ENOENT ? TL_ERR_NOT_FOUND : tl_status_from_errno(errno);
        r->data_offset = 0;
    }
    struct stat sb;
    if (fstat(r->fd, &sb) != 0)
        return TL_ERR_IO;
    uint64_t avail = (uint64_t)sb.st_size > r->data_offset ? (uint64_t)sb.st_size - r->data_offset : 0;
    if (!in->compressed) {
        if ((uint64_t)in->frame_bytes * in->frames > avail)
            return TL_ERR_FORMAT;   /* the header promises more pixels than the file has */
        return TL_OK;
    }
    if (in->compressed_size > avail)
        return TL_ERR_FORMAT;
    r->zdata = malloc(in->compressed_size);
    if (!r->zdata)
        return TL_ERR_NO_MEM;
    ssize_t got = pread(r->fd, r->zdata, in->compressed_size, (off_t)r->data_offset);
    if (got != (ssize_t)in->compressed_size)
        return TL_ERR_IO;
    return TL_OK;
}

tl_status tl_recording_open(const char *path, tl_recording **out)
{
    if (!path || !out)
        return TL_ERR_INVALID_ARG;
    *out = NULL;
    tl_recording *r = calloc(1, sizeof *r);
    if (!r)
        return TL_ERR_NO_MEM;
    r->cached = UINT32_MAX;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        tl_status st = errno == ENOENT ? TL_ERR_NOT_FOUND : tl_status_from_errno(errno);
        free(r);
        return st;
    }
    int fd2 = dup(r->fd);
    FILE *f = fd2 >= 0 ? fdopen(fd2, "rb") : NULL;
    if (!f) {
        if (fd2 >= 0)
            close(fd2);
        tl_recording_close(r);
        return TL_ERR_IO;
    }
    const char *data_file = NULL;
    tl_status st = parse_header(r, f, &data_file);
    fclose(f);
    if (st == TL_OK)
        st = check_fields(r);
    if (st == TL_OK)
        st = index_frames(r);
    if (st == TL_OK)
        st = open_data(r, path, data_file);
    if (st == TL_OK) {
        r->frame = malloc(r->info.frame_bytes);
        if (!r->frame)
            st = TL_ERR_NO_MEM;
    }
    if (st != TL_OK) {
        tl_recording_close(r);
        return st;
    }
    *out = r;
    return TL_OK;
}

void tl_recording_close(tl_recording *r)
{
    if (!r)
        return;
    if (r->z_init)
        inflateEnd(&r->zs);
    if (r->fd >= 0)
        close(r->fd);
    for (size_t i = 0; i < r->n_fields; i++) {
        free(r->fields[i].key);
        free(r->fields[i].value);
    }
    free(r->fields);
    free(r->frame_first);
    free(r->frame_count);
    free(r->order);
    free(r->frame);
    free(r->zdata);
    free(r);
}

void tl_recording_get_info(const tl_recording *r, tl_recording_info *out)
{
    if (r && out)
        *out = r->info;
}

/* Inflate the next frame of the stream into r->frame. */
static tl_status inflate_next(tl_recording *r)
{
    r->zs.next_out = r->frame;
    r->zs.avail_out = (uInt)r->info.frame_bytes;
    while (r->zs.avail_out > 0) {
        int rc = inflate(&r->zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END && r->zs.avail_out > 0)
            return TL_ERR_FORMAT;   /* fewer pixels than DimSize says */
        if (rc == Z_BUF_ERROR && r->zs.avail_in == 0)
            return TL_ERR_FORMAT;   /* compressed data end early */
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            return rc == Z_MEM_ERROR ? TL_ERR_NO_MEM : TL_ERR_FORMAT;
    }
    r->z_next++;
    return TL_OK;
}

static tl_status read_compressed(tl_recording *r, uint32_t index)
{
    if (r->z_broken)
        return TL_ERR_FORMAT;
    if (!r->z_init || index < r->z_next) {
        if (r->z_init)
            inflateEnd(&r->zs);
        memset(&r->zs, 0, sizeof r->zs);
        if (inflateInit(&r->zs) != Z_OK)
            return TL_ERR_NO_MEM;
        r->z_init = true;
        r->zs.next_in = r->zdata;
        r->zs.avail_in = (uInt)r->info.compressed_size;
        r->z_next = 0;
    }
    while (r->z_next <= index) {
        tl_status st = inflate_next(r);
        if (st != TL_OK) {
            r->z_broken = true;
            return st;
        }
    }
    return TL_OK;
}

tl_status tl_recording_read(tl_recording *r, uint32_t index, tl_frame *out)
{
    if (!r || !out || index >= r->info.frames)
        return TL_ERR_INVALID_ARG;
    tl_status st = TL_OK;
    if (r->cached == index) {
        /* r->frame already holds it (decoded and byte-swapped) */
    } else if (r->info.compressed) {
        r->cached = UINT32_MAX;
        st = read_compressed(r, index);
    } else {
        size_t n = r->info.frame_bytes;
        uint64_t off = r->data_offset + (uint64_t)index * n;
        ssize_t got = pread(r->fd, r->frame, n, (off_t)off);
        r->cached = UINT32_MAX;
        st = got == (ssize_t)n ? TL_OK : got < 0 ? TL_ERR_IO : TL_ERR_FORMAT;
    }
    if (st != TL_OK)
        return st;
    if (r->cached != index && r->swap && r->info.bytes_per_sample == 2) {
        uint8_t *p = r->frame;
        for (size_t i = 0; i + 1 < r->info.frame_bytes; i += 2) {
            uint8_t t = p[i];
            p[i] = p[i + 1];
            p[i + 1] = t;
        }
    }
    r->cached = index;
    memset(out, 0, sizeof *out);
    out->geom = r->info.geom;
    out->type = r->info.type;
    out->seq = index;
    const char *v;
    uint64_t u;
    double d;
    if ((v = tl_recording_frame_field(r, index, "FrameNumber")) && rec_parse_u64(v, &u))
        out->seq = (uint32_t)u;
    if ((v = tl_recording_frame_field(r, index, "Timestamp")) && rec_parse_double(v, &d))
        out->t_device_us = (uint64_t)(d * 1e6 + 0.5);
    /* a frame steered unlike the file's geometry (talus writes the angle of
     * each such frame); a value no probe could send is a corrupt file */
    if ((v = tl_recording_frame_field(r, index, "TalusSteerDeg"))) {
        out->geom.steer_deg = rec_parse_double(v, &d) ? (float)d : NAN;
        if (!r->info.geometry_known || tl_geometry_validate(&out->geom) != TL_OK) {
            memset(out, 0, sizeof *out);
            return TL_ERR_FORMAT;
        }
    }
    out->data = r->frame;
    out->data_bytes = r->info.frame_bytes;
    return TL_OK;
}

const char *tl_recording_field(const tl_recording *r, const char *key)
{
    return r && key ? get(r, key) : NULL;
}

const char *tl_recording_frame_field(const tl_recording *r, uint32_t index, const char *name)
{
    if (!r || !name || index >= r->info.frames)
        return NULL;
    for (uint32_t j = 0; j < r->frame_count[index]; j++) {
        const field *fl = &r->fields[r->order[r->frame_first[index] + j]];
        if (strcmp(fl->name, name) == 0)
            return fl->value;
    }
    return NULL;
}

size_t tl_recording_frame_field_names(const tl_recording *r, uint32_t index,
                                      const char **names, size_t cap)
{
    if (!r || index >= r->info.frames)
        return 0;
    uint32_t n = r->frame_count[index];
    for (uint32_t j = 0; j < n && j < cap; j++)
        names[j] = r->fields[r->order[r->frame_first[index] + j]].name;
    return n;
}
