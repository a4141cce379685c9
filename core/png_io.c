#include "tl_core.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libpng reports errors by longjmp; keep every local that outlives the jump
 * in a struct so nothing depends on indeterminate automatic variables. */
struct png_write_ctx {
    FILE *fp;
    png_structp png;
    png_infop info;
};

static tl_status write_png_stream(struct png_write_ctx *ctx, const uint8_t *pixels,
                                  uint32_t width, uint32_t height, uint32_t stride,
                                  int color_type)
{
    errno = 0;
    if (setjmp(png_jmpbuf(ctx->png))) {
        /* A failed fwrite left errno: a full disk must read as TL_ERR_NO_SPACE. */
        tl_status st = tl_status_from_errno(errno);
        return st == TL_OK || st == TL_ERR_INVALID_ARG ? TL_ERR_IO : st;
    }
    png_init_io(ctx->png, ctx->fp);
    png_set_IHDR(ctx->png, ctx->info, width, height, 8, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(ctx->png, 3);
    png_write_info(ctx->png, ctx->info);
    for (uint32_t y = 0; y < height; y++)
        png_write_row(ctx->png, (png_const_bytep)(pixels + (size_t)y * stride));
    png_write_end(ctx->png, NULL);
    return TL_OK;
}

tl_status tl_png_write(const char *path, const uint8_t *pixels, uint32_t width,
                       uint32_t height, uint32_t stride, int channels)
{
    if (!path || !pixels || width == 0 || height == 0)
        return TL_ERR_INVALID_ARG;
    int color_type;
    switch (channels) {
    case 1: color_type = PNG_COLOR_TYPE_GRAY; break;
    case 3: color_type = PNG_COLOR_TYPE_RGB; break;
    case 4: color_type = PNG_COLOR_TYPE_RGBA; break;
    default: return TL_ERR_INVALID_ARG;
    }
    if (stride < width * (uint32_t)channels)
        return TL_ERR_INVALID_ARG;

    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return TL_ERR_NO_MEM;
    snprintf(tmp, n, "%s.tmp%ld", path, (long)getpid());

    struct png_write_ctx ctx = { 0 };
    tl_status st = TL_OK;
    ctx.fp = fopen(tmp, "wb");
    if (!ctx.fp) {
        st = tl_status_from_errno(errno);
        free(tmp);
        return st;
    }
    ctx.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    ctx.info = ctx.png ? png_create_info_struct(ctx.png) : NULL;
    if (!ctx.png || !ctx.info)
        st = TL_ERR_NO_MEM;
    else
        st = write_png_stream(&ctx, pixels, width, height, stride, color_type);
    png_destroy_write_struct(&ctx.png, &ctx.info);

    if (st == TL_OK && fflush(ctx.fp) != 0)
        st = tl_status_from_errno(errno);
    if (st == TL_OK && fsync(fileno(ctx.fp)) != 0)
        st = tl_status_from_errno(errno);
    if (fclose(ctx.fp) != 0 && st == TL_OK)
        st = tl_status_from_errno(errno);
    if (st == TL_OK && rename(tmp, path) != 0)
        st = tl_status_from_errno(errno);
    if (st != TL_OK)
        unlink(tmp);
    free(tmp);
    return st;
}

tl_status tl_png_read(const char *path, int channels, uint8_t **pixels,
                      uint32_t *width, uint32_t *height)
{
    if (!path || !pixels || !width || !height || (channels != 1 && channels != 3))
        return TL_ERR_INVALID_ARG;
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path)) {
        FILE *probe = fopen(path, "rb");
        if (!probe)
            return tl_status_from_errno(errno);
        fclose(probe);
        return TL_ERR_FORMAT;
    }
    image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    if (image.width == 0 || image.height == 0 || image.width > 32768 || image.height > 32768) {
        png_image_free(&image);
        return TL_ERR_FORMAT;
    }
    size_t size = PNG_IMAGE_SIZE(image);
    uint8_t *buf = malloc(size);
    if (!buf) {
        png_image_free(&image);
        return TL_ERR_NO_MEM;
    }
    if (!png_image_finish_read(&image, NULL, buf, 0, NULL)) {
        free(buf);
        png_image_free(&image);
        return TL_ERR_FORMAT;
    }
    *pixels = buf;
    *width = image.width;
    *height = image.height;
    return TL_OK;
}
