/* talus recording: PLUS sequence files (MetaImage .mha / .mhd + .raw).
 *
 * A PLUS sequence is a MetaImage header ("Key = Value" lines) followed by the
 * pixel block of every frame, one after another. Per-frame fields are header
 * lines named Seq_FrameNNNN_<Name> (Timestamp, FrameNumber, ImageStatus,
 * transforms, ...). UltrasoundImageType says what the samples are (RF_REAL,
 * RF_I_LINE_Q_LINE, RF_IQ_LINE, BRIGHTNESS) and UltrasoundImageOrientation
 * which way the image axes run. With CompressedData = True the pixel block is
 * one zlib stream of CompressedDataSize bytes. ElementDataFile = LOCAL puts it
 * right after the header; any other value names a file beside the header
 * (.mhd + .raw).
 *
 * Reading: tl_recording_open() parses and checks every header field (the
 * file is untrusted: any inconsistency is TL_ERR_FORMAT, never a crash), then
 * tl_recording_read() hands out frames as tl_frame (core/tl_core.h), so a
 * recording is a frame source like the driver. Frames are decoded on demand
 * (a compressed stream is inflated sequentially, rewinding only when asked
 * for an earlier frame), so a long recording is never held in memory.
 *
 * Frame layout (tl_frame.data, exactly the file's pixel block of one frame):
 *   RF_REAL           int16, geom.lines rows of geom.samples (file DimSize
 *                     = samples x lines)
 *   RF_I_LINE_Q_LINE  int16, 2*geom.lines rows alternating I line, Q line
 *                     (DimSize = samples x 2*lines)
 *   RF_IQ_LINE        int16, geom.lines rows of geom.samples I,Q pairs
 *                     (DimSize = 2*samples x lines)
 *   ENVELOPE          uint16 (MET_USHORT), like RF_REAL (talus extension)
 *   BRIGHTNESS        uint8 image, top row first: geom.lines = width
 *                     (columns), geom.samples = height (rows); data is
 *                     geom.samples rows of geom.lines pixels, as stored.
 * Sample values are converted to host byte order.
 *
 * Writing: tl_recording_writer_*() writes what the probe streams. Frames are
 * spooled (deflated as they come when compressing) to a temporary file; close
 * writes header + data under a temporary name, fsyncs and renames, so a crash
 * never leaves a half-written sequence under the real name.
 *
 * Geometry: PLUS files carry no probe geometry; talus writes it as
 * "TalusGeometry = linear|convex lines samples pitch_mm radius_mm f0_hz fs_hz
 * c_m_s depth_start_mm" and reads it back. Without it the reader fills
 * tl_geometry_default_linear() values with lines/samples from DimSize
 * (info.geometry_known = false). */
#ifndef TL_RECORDING_H
#define TL_RECORDING_H

#include "tl_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Orientation --------------------------------------------------------- */

/* PLUS UltrasoundImageOrientation names the image axes in file order (x then
 * y, optional third letter for the frame axis): "MF" for a B-mode image
 * (columns lateral, rows near-to-far), "FM"/"NM" for RF (the sample axis is
 * x). M/U: lateral marked side first / reversed; F/N: near first / far first.
 * `normalized` is always lateral letter then depth letter ("MN"), which is
 * what imaging's tl_orientation_from_name() expects. */
typedef struct {
    char name[4];          /* as in the file, e.g. "MFA", "NM"; "MF" if absent */
    char normalized[3];    /* "MF", "MN", "UF" or "UN" */
    bool lateral_reversed; /* U */
    bool far_first;        /* N */
} tl_rec_orientation;

/* Parse a PLUS orientation. TL_ERR_FORMAT when it is not one. */
tl_status tl_rec_orientation_parse(const char *text, tl_rec_orientation *out);

/* ---- Reading ------------------------------------------------------------- */

typedef struct tl_recording tl_recording;

typedef struct {
    uint32_t ndims;            /* 2 or 3 */
    uint32_t dim[3];           /* DimSize (dim[2] = 1 for 2-D files) */
    uint32_t frames;
    uint32_t width, height;    /* pixels of a frame: dim[0] x dim[1] */
    char element_type[16];     /* "MET_UCHAR", "MET_SHORT", "MET_USHORT" */
    size_t bytes_per_sample;
    size_t frame_bytes;        /* width * height * bytes_per_sample */
    tl_image_type type;
    bool type_given;           /* UltrasoundImageType present (else inferred) */
    tl_rec_orientation orientation;
    bool compressed;
    uint64_t compressed_size;  /* CompressedDataSize (0 when not compressed) */
    bool local_data;           /* ElementDataFile = LOCAL */
    double spacing[3];         /* ElementSpacing (1 when absent) */
    tl_geometry geom;          /* frame geometry (see the header comment) */
    bool geometry_known;       /* from a TalusGeometry field */
    uint32_t fields;           /* header fields in total */
} tl_recording_info;

/* Open and check a sequence. TL_ERR_NOT_FOUND / TL_ERR_IO for the file,
 * TL_ERR_FORMAT for anything malformed or inconsistent, TL_ERR_UNSUPPORTED
 * for valid MetaImage this reader does not handle (e.g. MET_FLOAT, several
 * channels). */
tl_status tl_recording_open(const char *path, tl_recording **out);
void tl_recording_close(tl_recording *r);   /* NULL ok */

void tl_recording_get_info(const tl_recording *r, tl_recording_info *out);

/* Frame `index` (0-based). out->data points into the reader and stays valid
 * until the next tl_recording_read() or close. seq comes from
 * Seq_FrameNNNN_FrameNumber (else the index), t_device_us from
 * Seq_FrameNNNN_Timestamp (seconds; else 0). TL_ERR_INVALID_ARG past the
 * end, TL_ERR_FORMAT when the data turn out corrupt (bad zlib stream, short
 * file). */
tl_status tl_recording_read(tl_recording *r, uint32_t index, tl_frame *out);

/* A top-level header field's value ("UltrasoundImageType"), NULL if absent. */
const char *tl_recording_field(const tl_recording *r, const char *key);
/* A per-frame field ("Timestamp" of Seq_FrameNNNN_Timestamp), NULL if absent. */
const char *tl_recording_frame_field(const tl_recording *r, uint32_t index,
                                     const char *name);
/* Names of the per-frame fields frame `index` has (for listing). Returns how
 * many; fills up to cap pointers (valid until close). */
size_t tl_recording_frame_field_names(const tl_recording *r, uint32_t index,
                                      const char **names, size_t cap);

/* ---- Writing ------------------------------------------------------------- */

typedef struct tl_recording_writer tl_recording_writer;

typedef struct {
    bool compress;             /* zlib (CompressedData = True); default true */
    int level;                 /* zlib level 1..9 (default 1: keeps up with a stream) */
    bool separate_data;        /* write FILE.raw beside FILE.mhd instead of LOCAL */
    const char *orientation;   /* default "MF" for BRIGHTNESS, "FM" for RF */
} tl_recording_write_options;

tl_recording_write_options tl_recording_write_options_default(void);

/* Start a sequence of frames of this geometry and type. `path` ends in .mha
 * (LOCAL data) or .mhd (data in the .raw next to it: separate_data is then
 * implied). opts NULL = defaults. */
tl_status tl_recording_writer_open(const char *path, const tl_geometry *geom,
                                   tl_image_type type,
                                   const tl_recording_write_options *opts,
                                   tl_recording_writer **out);

/* A top-level field written into the header (keys of letters, digits and
 * '_'; values on one line). The reserved MetaImage keys are refused. */
tl_status tl_recording_writer_set_field(tl_recording_writer *w, const char *key,
                                        const char *value);

/* Append a frame: its geometry and type must match the writer's, data_bytes
 * the frame size. Writes FrameNumber (seq), Timestamp (t_device_us in s) and
 * ImageStatus = OK for it. */
tl_status tl_recording_writer_add(tl_recording_writer *w, const tl_frame *frame);
/* An extra per-frame field for the frame added last. */
tl_status tl_recording_writer_frame_field(tl_recording_writer *w, const char *name,
                                          const char *value);

uint32_t tl_recording_writer_frames(const tl_recording_writer *w);

/* Finish: header + data under a temporary name, fsync, rename. Frees w
 * whatever happens; on error nothing is left under `path`. */
tl_status tl_recording_writer_close(tl_recording_writer *w);
/* Throw away what was written (temporary files removed). NULL ok. */
void tl_recording_writer_abort(tl_recording_writer *w);

#ifdef __cplusplus
}
#endif
#endif
