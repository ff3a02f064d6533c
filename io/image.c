/* image.c — what PNG and JPEG decoding share: the file format told by its first bytes, and
 * decoded samples to float planes in the colour model asked for (rules 2, 5 and 6 atop png.c,
 * which hold for JPEG too). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "image-impl.h"

static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
static const unsigned char jpeg_magic[3] = {0xff, 0xd8, 0xff}; /* SOI, then a marker */

static bool has_extension(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n > e && strcasecmp(name + n - e, ext) == 0;
}

bool qc_is_image_name(const char *name)
{
    return has_extension(name, ".png") || has_extension(name, ".jpg") ||
           has_extension(name, ".jpeg");
}

qc_image_format qc_image_format_of(const void *head, size_t size, const char *name)
{
    if (size >= sizeof png_magic && !memcmp(head, png_magic, sizeof png_magic))
        return QC_FORMAT_PNG;
    if (size >= sizeof jpeg_magic && !memcmp(head, jpeg_magic, sizeof jpeg_magic))
        return QC_FORMAT_JPEG;
    /* Neither: the name says which reader explains what is wrong. */
    return has_extension(name, ".jpg") || has_extension(name, ".jpeg") ? QC_FORMAT_JPEG
                                                                      : QC_FORMAT_PNG;
}

qc_status qc_image_read(const char *path, qc_color color, qc_image *out, qc_error *err)
{
    char msg[256];
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return qc_fail(err, QC_ERR_IO, "cannot read '%s': %s", path,
                       qc_errno_text(e, msg, sizeof msg));
    }
    unsigned char head[8];
    size_t got = fread(head, 1, sizeof head, f);
    qc_status st;
    if (ferror(f))
        st = qc_fail(err, QC_ERR_IO, "cannot read '%s': %s", path,
                     qc_errno_text(errno ? errno : EIO, msg, sizeof msg));
    else if (got == 0)
        st = qc_fail(err, QC_ERR_INPUT, "cannot read '%s': empty file", path);
    else if (fseek(f, 0, SEEK_SET) != 0)
        st = qc_fail(err, QC_ERR_IO, "cannot read '%s': not a seekable file", path);
    else if (qc_image_format_of(head, got, path) == QC_FORMAT_PNG)
        st = qc_png_read(f, path, color, out, err);
    else if (got < sizeof jpeg_magic || memcmp(head, jpeg_magic, sizeof jpeg_magic))
        st = qc_fail(err, QC_ERR_INPUT, "cannot read '%s': not a JPEG file", path);
    else
        st = qc_jpeg_read(f, path, color, out, err);
    fclose(f);
    return st;
}

bool qc_image_size_ok(unsigned long width, unsigned long height, char *msg, size_t size)
{
    if (width <= QC_IMAGE_MAX_SIDE && height <= QC_IMAGE_MAX_SIDE &&
        (long)(width * height) <= QC_IMAGE_MAX_PIXELS)
        return true;
    snprintf(msg, size, "image too large (%lux%lu pixels; at most %d per side and %ld in all)",
             width, height, QC_IMAGE_MAX_SIDE, QC_IMAGE_MAX_PIXELS);
    return false;
}

static unsigned sample(const unsigned char *row, int depth, size_t i)
{
    return depth == 16 ? (unsigned)row[2 * i] << 8 | row[2 * i + 1] : row[i];
}

qc_status qc_image_convert(const qc_samples *s, qc_color color, qc_image *img)
{
    img->width = s->width;
    img->height = s->height;
    img->channels = color == QC_COLOR_GRAY ? 1 : 3;
    size_t plane = (size_t)s->width * (size_t)s->height;
    img->data = malloc(sizeof(float) * (size_t)img->channels * plane);
    if (!img->data)
        return QC_ERR_IO;
    size_t rowbytes = (size_t)s->width * (size_t)s->channels * (size_t)(s->depth / 8);
    /* Dividing by 257 (not multiplying by 1/257) keeps 257·k exactly k. */
    float div = s->depth == 16 ? 257.0f : 1.0f;
    for (int y = 0; y < s->height; y++) {
        const unsigned char *row = s->pixels + rowbytes * (size_t)y;
        float *out = img->data + (size_t)y * (size_t)s->width;
        for (int x = 0; x < s->width; x++) {
            if (s->channels == 1) {
                float v = (float)sample(row, s->depth, (size_t)x) / div;
                for (int c = 0; c < img->channels; c++)
                    out[plane * (size_t)c + (size_t)x] = v;
                continue;
            }
            unsigned r = sample(row, s->depth, 3 * (size_t)x);
            unsigned g = sample(row, s->depth, 3 * (size_t)x + 1);
            unsigned b = sample(row, s->depth, 3 * (size_t)x + 2);
            if (color == QC_COLOR_GRAY) {
                uint32_t luma = (19595u * r + 38470u * g + 7471u * b + 32768u) >> 16;
                out[x] = (float)luma / div;
            } else {
                float fr = (float)r / div, fg = (float)g / div, fb = (float)b / div;
                out[x] = color == QC_COLOR_BGR ? fb : fr;
                out[plane + (size_t)x] = fg;
                out[2 * plane + (size_t)x] = color == QC_COLOR_BGR ? fr : fb;
            }
        }
    }
    return QC_OK;
}

void qc_image_free(qc_image *img)
{
    free(img->data);
    memset(img, 0, sizeof *img);
}
