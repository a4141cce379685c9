#include "tl_core.h"

#include <errno.h>

const char *tl_strerror(tl_status status)
{
    switch (status) {
    case TL_OK: return "success";
    case TL_ERR_INVALID_ARG: return "invalid argument";
    case TL_ERR_NO_MEM: return "out of memory";
    case TL_ERR_IO: return "input/output error";
    case TL_ERR_NOT_FOUND: return "not found";
    case TL_ERR_FORMAT: return "malformed data";
    case TL_ERR_CRC: return "checksum mismatch";
    case TL_ERR_TIMEOUT: return "timed out";
    case TL_ERR_DISCONNECTED: return "probe disconnected";
    case TL_ERR_USB: return "USB error";
    case TL_ERR_UNSUPPORTED: return "not supported";
    case TL_ERR_BUSY: return "busy";
    case TL_ERR_OVERFLOW: return "buffer full";
    case TL_ERR_DB: return "database error";
    case TL_ERR_NO_SPACE: return "no space left on device";
    case TL_ERR_CALIBRATION: return "calibration missing, expired or for another probe";
    case TL_ERR_STATE: return "operation not valid in the current state";
    case TL_ERR_PERMISSION: return "permission denied or read-only";
    }
    return "unknown error";
}

const char *tl_error_name(tl_status status)
{
    switch (status) {
    case TL_OK: return "TL_OK";
    case TL_ERR_INVALID_ARG: return "TL_ERR_INVALID_ARG";
    case TL_ERR_NO_MEM: return "TL_ERR_NO_MEM";
    case TL_ERR_IO: return "TL_ERR_IO";
    case TL_ERR_NOT_FOUND: return "TL_ERR_NOT_FOUND";
    case TL_ERR_FORMAT: return "TL_ERR_FORMAT";
    case TL_ERR_CRC: return "TL_ERR_CRC";
    case TL_ERR_TIMEOUT: return "TL_ERR_TIMEOUT";
    case TL_ERR_DISCONNECTED: return "TL_ERR_DISCONNECTED";
    case TL_ERR_USB: return "TL_ERR_USB";
    case TL_ERR_UNSUPPORTED: return "TL_ERR_UNSUPPORTED";
    case TL_ERR_BUSY: return "TL_ERR_BUSY";
    case TL_ERR_OVERFLOW: return "TL_ERR_OVERFLOW";
    case TL_ERR_DB: return "TL_ERR_DB";
    case TL_ERR_NO_SPACE: return "TL_ERR_NO_SPACE";
    case TL_ERR_CALIBRATION: return "TL_ERR_CALIBRATION";
    case TL_ERR_STATE: return "TL_ERR_STATE";
    case TL_ERR_PERMISSION: return "TL_ERR_PERMISSION";
    }
    return "TL_ERR_UNKNOWN";
}

tl_status tl_status_from_errno(int err)
{
    switch (err) {
    case 0: return TL_OK;
    case ENOMEM: return TL_ERR_NO_MEM;
    case ENOENT: case ENOTDIR: return TL_ERR_NOT_FOUND;
    case ENOSPC: case EDQUOT: case EFBIG: return TL_ERR_NO_SPACE;
    case EACCES: case EPERM: case EROFS: return TL_ERR_PERMISSION;
    case EINVAL: return TL_ERR_INVALID_ARG;
    case ETIMEDOUT: return TL_ERR_TIMEOUT;
    case EBUSY: return TL_ERR_BUSY;
    case ENODEV: return TL_ERR_DISCONNECTED;
    default: return TL_ERR_IO;
    }
}
