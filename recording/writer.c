/* PLUS sequence writer: frames are spooled (deflated on the fly when
 * compressing) to a temporary file because the header, which comes first,
 * needs the frame count and the compressed size. close() writes header +
 * data under a temporary name, fsyncs and renames. */
#include "rec_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

typedef struct {
    char *name;
    char *value;
} kv;

typedef struct {
    uint32_t seq;
    uint64_t t_device_us;
    kv *extra;
    size_t n_extra;
} frame_meta;

struct tl_recording_writer {
    char path[PATH_MAX];
    char spool_path[PATH_MAX + 32];
    int spool_fd;
    tl_geometry geom;
    tl_image_type type;
    tl_recording_write_options opts;
    char orientation[4];
    uint32_t dim0, dim1;
    size_t frame_bytes;
    frame_meta *frames;
    uint32_t n_frames, cap_frames;
    kv *fields;
    size_t n_fields;
    z_stream zs;
    bool z_init;
    uint64_t data_bytes;    /* bytes in the spool */
    uint8_t zbuf[1 << 16];
};

tl_recording_write_options tl_recording_write_options_default(void)
{
    tl_recording_write_options o = { .compress = true, .level = 1, .separate_data = false,
                                     .orientation = NULL };
    return o;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static tl_status write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return tl_status_from_errno(errno);
        }
        p += w;
        n -= (size_t)w;
    }
    return TL_OK;
}

static void free_writer(tl_recording_writer *w)
{
    if (w->z_init)
        deflateEnd(&w->zs);
    if (w->spool_fd >= 0) {
        close(w->spool_fd);
        unlink(w->spool_path);
    }
    for (uint32_t i = 0; i < w->n_frames; i++) {
        for (size_t j = 0; j < w->frames[i].n_extra; j++) {
            free(w->frames[i].extra[j].name);
            free(w->frames[i].extra[j].value);
        }
        free(w->frames[i].extra);
    }
    free(w->frames);
    for (size_t j = 0; j < w->n_fields; j++) {
        free(w->fields[j].name);
        free(w->fields[j].value);
    }
    free(w->fields);
    free(w);
}

tl_status tl_recording_writer_open(const char *path, const tl_geometry *geom,
                                   tl_image_type type,
                                   const tl_recording_write_options *opts,
                                   tl_recording_writer **out)
{
    if (!path || !geom || !out)
        return TL_ERR_INVALID_ARG;
    *out = NULL;
    bool mhd = ends_with(path, ".mhd");
    if (!mhd && !ends_with(path, ".mha"))
        return TL_ERR_INVALID_ARG;
    if (!rec_element_type(type) || strlen(path) >= PATH_MAX - 8)
        return TL_ERR_INVALID_ARG;
    if (type == TL_IMAGE_BRIGHTNESS) {
        if (geom->lines < 1 || geom->lines > 65536 || geom->samples < 1 || geom->samples > 65536)
            return TL_ERR_INVALID_ARG;
    } else if (tl_geometry_validate(geom) != TL_OK) {
        return TL_ERR_INVALID_ARG;
    }
    tl_recording_writer *w = calloc(1, sizeof *w);
    if (!w)
        return TL_ERR_NO_MEM;
    w->spool_fd = -1;
    w->opts = opts ? *opts : tl_recording_write_options_default();
    if (mhd)
        w->opts.separate_data = true;
    if (w->opts.level < 1 || w->opts.level > 9)
        w->opts.level = 1;
    const char *orient = w->opts.orientation ? w->opts.orientation
                       : type == TL_IMAGE_BRIGHTNESS ? "MF" : "FM";
    tl_rec_orientation o;
    if (tl_rec_orientation_parse(orient, &o) != TL_OK) {
        free_writer(w);
        return TL_ERR_INVALID_ARG;
    }
    w->opts.orientation = NULL;   /* not owned: keep our copy only */
    snprintf(w->orientation, sizeof w->orientation, "%s", orient);
    snprintf(w->path, sizeof w->path, "%s", path);
    w->geom = *geom;
    w->type = type;
    rec_frame_dims(type, geom->lines, geom->samples, &w->dim0, &w->dim1);
    w->frame_bytes = (size_t)w->dim0 * w->dim1 * tl_image_type_sample_bytes(type);
    snprintf(w->spool_path, sizeof w->spool_path, "%s.spool-XXXXXX", path);
    w->spool_fd = mkstemp(w->spool_path);
    if (w->spool_fd < 0) {
        tl_status st = tl_status_from_errno(errno);
        free_writer(w);
        return st;
    }
    if (w->opts.compress) {
        if (deflateInit(&w->zs, w->opts.level) != Z_OK) {
            free_writer(w);
            return TL_ERR_NO_MEM;
        }
        w->z_init = true;
    }
    *out = w;
    return TL_OK;
}

static bool reserved_key(const char *key)
{
    static const char *const reserved[] = {
        "ObjectType", "NDims", "DimSize", "ElementType", "ElementDataFile", "BinaryData",
        "BinaryDataByteOrderMSB", "ElementByteOrderMSB", "CompressedData",
        "CompressedDataSize", "ElementNumberOfChannels", "HeaderSize",
        "UltrasoundImageType", "UltrasoundImageOrientation", "TalusGeometry",
    };
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(key, reserved[i]) == 0)
            return true;
    return strncmp(key, "Seq_Frame", 9) == 0;
}

static bool one_line(const char *v)
{
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t')
            return false;
    return strlen(v) < 65536;
}

static tl_status kv_push(kv **arr, size_t *n, const char *name, const char *value)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*arr)[i].name, name) == 0) {
            char *nv = strdup(value);
            if (!nv)
                return TL_ERR_NO_MEM;
            free((*arr)[i].value);
            (*arr)[i].value = nv;
            return TL_OK;
        }
    kv *na = realloc(*arr, (*n + 1) * sizeof *na);
    if (!na)
        return TL_ERR_NO_MEM;
    *arr = na;
    na[*n].name = strdup(name);
    na[*n].value = strdup(value);
    if (!na[*n].name || !na[*n].value) {
        free(na[*n].name);
        free(na[*n].value);
        return TL_ERR_NO_MEM;
    }
    (*n)++;
    return TL_OK;
}

tl_status tl_recording_writer_set_field(tl_recording_writer *w, const char *key,
                                        const char *value)
{
    if (!w || !rec_valid_key(key) || !value || reserved_key(key) || !one_line(value))
        return TL_ERR_INVALID_ARG;
    return kv_push(&w->fields, &w->n_fields, key, value);
}

static tl_status spool(tl_recording_writer *w, const void *data, size_t n, int flush)
{
    if (!w->opts.compress) {
        tl_status st = write_all(w->spool_fd, data, n);
        if (st == TL_OK)
            w->data_bytes += n;
        return st;
    }
    w->zs.next_in = (Bytef *)(uintptr_t)data;
    w->zs.avail_in = (uInt)n;
    int rc;
    do {
        w->zs.next_out = w->zbuf;
        w->zs.avail_out = sizeof w->zbuf;
        rc = deflate(&w->zs, flush);
        if (rc == Z_STREAM_ERROR)
            return TL_ERR_FORMAT;
        size_t have = sizeof w->zbuf - w->zs.avail_out;
        tl_status st = write_all(w->spool_fd, w->zbuf, have);
        if (st != TL_OK)
            return st;
        w->data_bytes += have;
    } while (w->zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    return TL_OK;
}

tl_status tl_recording_writer_add(tl_recording_writer *w, const tl_frame *f)
{
    if (!w || !f || !f->data)
        return TL_ERR_INVALID_ARG;
    if (f->type != w->type || f->geom.lines != w->geom.lines ||
        f->geom.samples != w->geom.samples || f->data_bytes != w->frame_bytes)
        return TL_ERR_INVALID_ARG;
    /* a frame steered unlike the file's geometry (an alternating sequence)
     * keeps its angle in a per-frame field */
    bool own_steer = f->geom.steer_deg != w->geom.steer_deg;
    if (own_steer) {
        tl_geometry g = w->geom;
        g.steer_deg = f->geom.steer_deg;
        if (w->type == TL_IMAGE_BRIGHTNESS || tl_geometry_validate(&g) != TL_OK)
            return TL_ERR_INVALID_ARG;
    }
    if (w->n_frames == w->cap_frames) {
        uint32_t cap = w->cap_frames ? w->cap_frames * 2 : 64;
        frame_meta *nf = realloc(w->frames, cap * sizeof *nf);
        if (!nf)
            return TL_ERR_NO_MEM;
        w->frames = nf;
        w->cap_frames = cap;
    }
    /* The samples go to the file in little-endian order (MSB = False). */
    tl_status st = spool(w, f->data, f->data_bytes, Z_NO_FLUSH);
    if (st != TL_OK)
        return st;
    frame_meta *m = &w->frames[w->n_frames++];
    memset(m, 0, sizeof *m);
    m->seq = f->seq;
    m->t_device_us = f->t_device_us;
    if (own_steer) {
        char v[32];
        snprintf(v, sizeof v, "%.9g", (double)f->geom.steer_deg);
        return kv_push(&m->extra, &m->n_extra, "TalusSteerDeg", v);
    }
    return TL_OK;
}

tl_status tl_recording_writer_frame_field(tl_recording_writer *w, const char *name,
                                          const char *value)
{
    if (!w || w->n_frames == 0 || !rec_valid_key(name) || !value || !one_line(value) ||
        strcmp(name, "FrameNumber") == 0 || strcmp(name, "Timestamp") == 0 ||
        strcmp(name, "ImageStatus") == 0)
        return TL_ERR_INVALID_ARG;
    frame_meta *m = &w->frames[w->n_frames - 1];
    return kv_push(&m->extra, &m->n_extra, name, value);
}

uint32_t tl_recording_writer_frames(const tl_recording_writer *w)
{
    return w ? w->n_frames : 0;
}

/* Growable text buffer for the header. */
typedef struct {
    char *p;
    size_t n, cap;
    bool failed;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->failed = true;
            return;
        }
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)k;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

static void build_header(tl_recording_writer *w, sbuf *b, const char *data_name)
{
    sb_printf(b, "ObjectType = Image\nNDims = 3\nAnatomicalOrientation = RAI\n");
    sb_printf(b, "BinaryData = True\nBinaryDataByteOrderMSB = False\n");
    sb_printf(b, "CenterOfRotation = 0 0 0\n");
    sb_printf(b, "CompressedData = %s\n", w->opts.compress ? "True" : "False");
    if (w->opts.compress)
        sb_printf(b, "CompressedDataSize = %llu\n", (unsigned long long)w->data_bytes);
    sb_printf(b, "DimSize = %u %u %u\n", w->dim0, w->dim1, w->n_frames);
    sb_printf(b, "Kinds = domain domain list\nElementNumberOfChannels = 1\n");
    if (w->type == TL_IMAGE_BRIGHTNESS) {
        sb_printf(b, "ElementSpacing = 1 1 1\n");
    } else {
        /* mm per sample along the line, mm per line across */
        double dz = (double)tl_geometry_dz_mm(&w->geom);
        double dx = (double)w->geom.pitch_mm;
        if (w->type == TL_IMAGE_RF_IQ_LINE)
            sb_printf(b, "ElementSpacing = %.9g %.9g 1\n", dz / 2, dx);
        else if (w->type == TL_IMAGE_RF_I_LINE_Q_LINE)
            sb_printf(b, "ElementSpacing = %.9g %.9g 1\n", dz, dx / 2);
        else
            sb_printf(b, "ElementSpacing = %.9g %.9g 1\n", dz, dx);
    }
    sb_printf(b, "ElementType = %s\n", rec_element_type(w->type));
    sb_printf(b, "Offset = 0 0 0\nTransformMatrix = 1 0 0 0 1 0 0 0 1\n");
    sb_printf(b, "UltrasoundImageOrientation = %s\n", w->orientation);
    sb_printf(b, "UltrasoundImageType = %s\n", tl_image_type_name(w->type));
    char g[256];
    rec_geometry_format(&w->geom, g, sizeof g);
    sb_printf(b, "TalusGeometry = %s\n", g);
    for (size_t j = 0; j < w->n_fields; j++)
        sb_printf(b, "%s = %s\n", w->fields[j].name, w->fields[j].value);
    for (uint32_t i = 0; i < w->n_frames; i++) {
        const frame_meta *m = &w->frames[i];
        sb_printf(b, "Seq_Frame%04u_FrameNumber = %u\n", i, m->seq);
        sb_printf(b, "Seq_Frame%04u_Timestamp = %llu.%06llu\n", i,
                  (unsigned long long)(m->t_device_us / 1000000),
                  (unsigned long long)(m->t_device_us % 1000000));
        for (size_t j = 0; j < m->n_extra; j++)
            sb_printf(b, "Seq_Frame%04u_%s = %s\n", i, m->extra[j].name, m->extra[j].value);
        sb_printf(b, "Seq_Frame%04u_ImageStatus = OK\n", i);
    }
    sb_printf(b, "ElementDataFile = %s\n", data_name);
}

/* Copy the spool after `prefix` into a new temporary file, fsync, rename to
 * `dest`. */
static tl_status commit_file(const char *dest, const void *prefix, size_t prefix_n, int spool_fd)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", dest);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return tl_status_from_errno(errno);
    tl_status st = prefix_n ? write_all(fd, prefix, prefix_n) : TL_OK;
    if (st == TL_OK && spool_fd >= 0) {
        if (lseek(spool_fd, 0, SEEK_SET) != 0)
            st = TL_ERR_IO;
        uint8_t buf[1 << 16];
        while (st == TL_OK) {
            ssize_t r = read(spool_fd, buf, sizeof buf);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                st = TL_ERR_IO;
            if (r <= 0)
                break;
            st = write_all(fd, buf, (size_t)r);
        }
    }
    if (st == TL_OK && fchmod(fd, 0644) != 0)
        st = tl_status_from_errno(errno);
    if (st == TL_OK && fsync(fd) != 0)
        st = tl_status_from_errno(errno);
    if (close(fd) != 0 && st == TL_OK)
        st = tl_status_from_errno(errno);
    if (st == TL_OK && rename(tmp, dest) != 0)
        st = tl_status_from_errno(errno);
    if (st != TL_OK)
        unlink(tmp);
    else
        rec_fsync_dir(dest);
    return st;
}

tl_status tl_recording_writer_close(tl_recording_writer *w)
{
    if (!w)
        return TL_ERR_INVALID_ARG;
    tl_status st = TL_OK;
    if (w->opts.compress)
        st = spool(w, NULL, 0, Z_FINISH);
    sbuf b = { 0 };
    if (st == TL_OK && w->opts.separate_data) {
        /* FILE.mhd + FILE.raw: the data first, so the header never names a
         * file that is not there yet. */
        char raw[PATH_MAX];
        snprintf(raw, sizeof raw, "%.*s.raw", (int)(strlen(w->path) - 4), w->path);
        const char *base = strrchr(raw, '/');
        base = base ? base + 1 : raw;
        st = commit_file(raw, NULL, 0, w->spool_fd);
        if (st == TL_OK) {
            build_header(w, &b, base);
            st = b.failed ? TL_ERR_NO_MEM : commit_file(w->path, b.p, b.n, -1);
            if (st != TL_OK)
                unlink(raw);
        }
    } else if (st == TL_OK) {
        build_header(w, &b, "LOCAL");
        st = b.failed ? TL_ERR_NO_MEM : commit_file(w->path, b.p, b.n, w->spool_fd);
    }
    free(b.p);
    free_writer(w);
    return st;
}

void tl_recording_writer_abort(tl_recording_writer *w)
{
    if (w)
        free_writer(w);
}
