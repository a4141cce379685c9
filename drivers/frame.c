/* talus probe driver: validation of a frame header from an untrusted
 * device (docs/protocol.md section 3.1). */
#include "driver_internal.h"

#include <math.h>
#include <zlib.h>

/* TL_OK when every field of a decoded header is one a well-behaved probe
 * could send; the frame geometry is filled in. max_steer_deg: the largest
 * steering angle the probe's identity declared (0: it cannot steer). */
tl_status drv_validate_header(const uint8_t *raw, const tl_proto_frame_header *h, float max_steer_deg,
                              tl_frame *f)
{
    if (h->magic != TL_PROTO_FRAME_MAGIC || h->version != TL_PROTO_VERSION ||
        h->header_bytes != TL_PROTO_FRAME_HEADER_BYTES)
        return TL_ERR_FORMAT;
    if ((uint32_t)crc32(0L, raw, TL_PROTO_HEADER_CRC_SPAN) != h->header_crc32)
        return TL_ERR_FORMAT;
    if (h->reserved0 != 0 || h->probe_kind > TL_PROBE_CONVEX)
        return TL_ERR_FORMAT;
    /* the steering angle decides where every sample lies: a NaN, an angle
     * beyond what this probe said it steers, or a steered convex frame is
     * a bad frame, never a wrongly placed image */
    if (!(fabsf(h->steer_deg) <= max_steer_deg) && h->steer_deg != 0.0f)
        return TL_ERR_FORMAT;
    if (h->lines < 1 || h->lines > TL_PROTO_MAX_LINES || h->samples < 1 || h->samples > TL_PROTO_MAX_SAMPLES)
        return TL_ERR_FORMAT;
    if (h->sample_format > TL_IMAGE_BRIGHTNESS ||
        h->bytes_per_sample != tl_image_type_sample_bytes((tl_image_type)h->sample_format))
        return TL_ERR_FORMAT;
    uint64_t expect = (uint64_t)h->lines * h->samples * h->bytes_per_sample;
    if (expect != h->payload_bytes || expect > TL_PROTO_MAX_PAYLOAD)
        return TL_ERR_FORMAT;
    tl_geometry g = {
        .kind = (tl_probe_kind)h->probe_kind,
        .lines = h->lines,
        .samples = h->samples,
        .pitch_mm = h->pitch_mm,
        .radius_mm = h->radius_mm,
        .f0_hz = h->f0_hz,
        .fs_hz = h->fs_hz,
        .c_m_s = h->c_m_s,
        .depth_start_mm = h->depth_start_mm,
        .steer_deg = h->steer_deg,
    };
    if (tl_geometry_validate(&g) != TL_OK)
        return TL_ERR_FORMAT;
    f->geom = g;
    f->type = (tl_image_type)h->sample_format;
    f->seq = h->seq;
    f->t_device_us = h->t_device_us;
    f->t_processed_ns = 0;
    f->t_displayed_ns = 0;
    f->data_bytes = h->payload_bytes;
    return TL_OK;
}

