/* Helpers shared by the PLUS reader and writer: layouts, geometry field,
 * orientation names and strict number parsing. */
#include "rec_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const char *rec_element_type(tl_image_type type)
{
    switch (type) {
    case TL_IMAGE_RF_REAL:
    case TL_IMAGE_RF_IQ_LINE:
    case TL_IMAGE_RF_I_LINE_Q_LINE: return "MET_SHORT";
    case TL_IMAGE_ENVELOPE: return "MET_USHORT";
    case TL_IMAGE_BRIGHTNESS: return "MET_UCHAR";
    }
    return NULL;
}

tl_status rec_frame_dims(tl_image_type type, uint32_t lines, uint32_t samples,
                         uint32_t *dim0, uint32_t *dim1)
{
    switch (type) {
    case TL_IMAGE_RF_REAL:
    case TL_IMAGE_ENVELOPE: *dim0 = samples; *dim1 = lines; return TL_OK;
    case TL_IMAGE_RF_I_LINE_Q_LINE: *dim0 = samples; *dim1 = 2 * lines; return TL_OK;
    case TL_IMAGE_RF_IQ_LINE: *dim0 = 2 * samples; *dim1 = lines; return TL_OK;
    case TL_IMAGE_BRIGHTNESS: *dim0 = lines; *dim1 = samples; return TL_OK;
    }
    return TL_ERR_INVALID_ARG;
}

tl_status rec_geometry_dims(tl_image_type type, uint32_t dim0, uint32_t dim1,
                            uint32_t *lines, uint32_t *samples)
{
    switch (type) {
    case TL_IMAGE_RF_REAL:
    case TL_IMAGE_ENVELOPE: *samples = dim0; *lines = dim1; return TL_OK;
    case TL_IMAGE_RF_I_LINE_Q_LINE:
        if (dim1 % 2)
            return TL_ERR_FORMAT;   /* I and Q lines come in pairs */
        *samples = dim0; *lines = dim1 / 2; return TL_OK;
    case TL_IMAGE_RF_IQ_LINE:
        if (dim0 % 2)
            return TL_ERR_FORMAT;   /* I,Q samples come in pairs */
        *samples = dim0 / 2; *lines = dim1; return TL_OK;
    case TL_IMAGE_BRIGHTNESS: *lines = dim0; *samples = dim1; return TL_OK;
    }
    return TL_ERR_FORMAT;
}

void rec_geometry_format(const tl_geometry *g, char *buf, size_t size)
{
    /* a steered frame appends its steering angle (older readers and
     * straight frames keep the nine fields) */
    int n = snprintf(buf, size, "%s %u %u %.9g %.9g %.9g %.9g %.9g %.9g",
                     g->kind == TL_PROBE_CONVEX ? "convex" : "linear", g->lines, g->samples,
                     (double)g->pitch_mm, (double)g->radius_mm, (double)g->f0_hz,
                     (double)g->fs_hz, (double)g->c_m_s, (double)g->depth_start_mm);
    if (g->steer_deg != 0.0f && n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " %.9g", (double)g->steer_deg);
}

tl_status rec_geometry_parse(const char *text, tl_geometry *g)
{
    char kind[16];
    unsigned lines, samples;
    float v[6], steer = 0.0f;
    int used = 0, more = 0;
    if (sscanf(text, "%15s %u %u %f %f %f %f %f %f%n", kind, &lines, &samples, &v[0], &v[1],
               &v[2], &v[3], &v[4], &v[5], &used) != 9)
        return TL_ERR_FORMAT;
    /* optional tenth field: the steering angle of a steered frame */
    if (text[used] != '\0' && (sscanf(text + used, " %f%n", &steer, &more) != 1 ||
                                text[used + more] != '\0'))
        return TL_ERR_FORMAT;
    memset(g, 0, sizeof *g);
    if (strcmp(kind, "linear") == 0)
        g->kind = TL_PROBE_LINEAR;
    else if (strcmp(kind, "convex") == 0)
        g->kind = TL_PROBE_CONVEX;
    else
        return TL_ERR_FORMAT;
    g->lines = lines;
    g->samples = samples;
    g->pitch_mm = v[0];
    g->radius_mm = v[1];
    g->f0_hz = v[2];
    g->fs_hz = v[3];
    g->c_m_s = v[4];
    g->depth_start_mm = v[5];
    g->steer_deg = steer;
    return tl_geometry_validate(g) == TL_OK ? TL_OK : TL_ERR_FORMAT;
}

tl_status tl_rec_orientation_parse(const char *text, tl_rec_orientation *out)
{
    if (!text || !out)
        return TL_ERR_INVALID_ARG;
    size_t n = strlen(text);
    if (n < 2 || n > 3 || (n == 3 && text[2] != 'A' && text[2] != 'D'))
        return TL_ERR_FORMAT;
    char lat = 0, dep = 0;
    for (int i = 0; i < 2; i++) {
        char c = text[i];
        if (c == 'M' || c == 'U') {
            if (lat)
                return TL_ERR_FORMAT;
            lat = c;
        } else if (c == 'F' || c == 'N') {
            if (dep)
                return TL_ERR_FORMAT;
            dep = c;
        } else {
            return TL_ERR_FORMAT;
        }
    }
    memset(out, 0, sizeof *out);
    memcpy(out->name, text, n);
    out->normalized[0] = lat;
    out->normalized[1] = dep;
    out->lateral_reversed = lat == 'U';
    out->far_first = dep == 'N';
    return TL_OK;
}

bool rec_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)s[0]))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0')
        return false;
    *out = v;
    return true;
}

bool rec_parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

bool rec_parse_bool(const char *s, bool *out)
{
    if (!s)
        return false;
    if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0) {
        *out = true;
        return true;
    }
    if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0) {
        *out = false;
        return true;
    }
    return false;
}

bool rec_valid_key(const char *key)
{
    if (!key || !*key)
        return false;
    for (const char *p = key; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return false;
    return true;
}

void rec_fsync_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n == 0)
            n = 1;
        if (n >= sizeof dir)
            return;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);   /* best effort: some file systems refuse it */
        close(fd);
    }
}

/* One header line into buf (without \n, \r). 1 ok, 0 end of file, <0 error. */
int rec_read_line(FILE *f, char *buf, size_t cap, size_t *len, uint64_t *consumed)
{
    size_t n = 0;
    int c;
    bool any = false;
    while ((c = getc(f)) != EOF) {
        any = true;
        (*consumed)++;
        if (c == '\n')
            break;
        if (n + 1 >= cap)
            return -1;
        buf[n++] = (char)c;
    }
    if (!any)
        return 0;
    while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    buf[n] = '\0';
    *len = n;
    return 1;
}

char *rec_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Whitespace-separated numbers: exactly n of them. */
bool rec_parse_u64_list(const char *s, uint64_t *out, int n)
{
    for (int i = 0; i < n; i++) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s < '0' || *s > '9')
            return false;
        errno = 0;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || (*end != ' ' && *end != '\t' && *end != '\0'))
            return false;
        out[i] = v;
        s = end;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0';
}

bool rec_parse_double_list(const char *s, double *out, int n)
{
    for (int i = 0; i < n; i++) {
        errno = 0;
        char *end;
        double v = strtod(s, &end);
        if (end == s || errno || !(v == v) ||
            (*end != ' ' && *end != '\t' && *end != '\0'))
            return false;
        out[i] = v;
        s = end;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0';
}
