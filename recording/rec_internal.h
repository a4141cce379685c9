/* Shared between the reader and the writer of PLUS sequences. */
#ifndef TL_REC_INTERNAL_H
#define TL_REC_INTERNAL_H

#include "tl_recording.h"

/* MetaImage element type of a talus image type ("MET_SHORT", ...). */
const char *rec_element_type(tl_image_type type);

/* DimSize x and y of a frame of this type and geometry (see tl_recording.h
 * for the layouts). TL_ERR_INVALID_ARG for an unknown type. */
tl_status rec_frame_dims(tl_image_type type, uint32_t lines, uint32_t samples,
                         uint32_t *dim0, uint32_t *dim1);

/* Inverse: lines and samples from DimSize x, y. TL_ERR_FORMAT when the
 * dimensions cannot hold that type (odd I/Q counts). */
tl_status rec_geometry_dims(tl_image_type type, uint32_t dim0, uint32_t dim1,
                            uint32_t *lines, uint32_t *samples);

/* "TalusGeometry" value text and back. */
void rec_geometry_format(const tl_geometry *g, char *buf, size_t size);
tl_status rec_geometry_parse(const char *text, tl_geometry *g);

/* Strict number parsing of a whole (trimmed) string. */
bool rec_parse_u64(const char *s, uint64_t *out);
bool rec_parse_double(const char *s, double *out);
bool rec_parse_bool(const char *s, bool *out);

/* One header line into buf (no \n, \r or trailing blanks): 1 ok, 0 end of
 * file, -1 longer than cap. *consumed counts the bytes read. */
#include <stdio.h>
int rec_read_line(FILE *f, char *buf, size_t cap, size_t *len, uint64_t *consumed);
/* Strip blanks at both ends (in place). */
char *rec_trim(char *s);
/* Exactly n whitespace-separated numbers. */
bool rec_parse_u64_list(const char *s, uint64_t *out, int n);
bool rec_parse_double_list(const char *s, double *out, int n);

/* Keys are letters, digits and '_' only. */
bool rec_valid_key(const char *key);

/* Fsync the directory holding `path`, so a rename into it is durable. */
void rec_fsync_dir(const char *path);

#endif
