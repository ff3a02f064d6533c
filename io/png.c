/* png.c — PNG files to float pixels (libpng), and 8-bit PNG writing for tests and tools.
 *
 * Conversion rules, chosen to match what PyTorch pipelines see through PIL
 * (Image.open(p).convert(...)), and to be exact:
 *
 *   1. Samples are taken as stored. No gamma, sRGB, iCCP, cHRM or sBIT chunk changes a
 *      value (PIL ignores them too).
 *   2. A value v in 0..255: an 8-bit sample is v itself; a 16-bit sample s gives
 *      v = (float)s / 257 (so 257·k gives exactly k); 1-, 2- and 4-bit gray samples are
 *      scaled to 8 bits first (s · 255 / (2^bits − 1): 1-bit 1 → 255, 4-bit 1 → 17).
 *   3. Palette images take the palette's RGB colour.
 *   4. Alpha is ignored: the alpha channel and tRNS transparency are dropped, as PIL's
 *      convert("RGB") / convert("L") and torchvision's ImageFolder loader do.
 *   5. RGB to gray uses ITU-R BT.601 luma in PIL's integer form, at the sample's own bit
 *      depth: Y = (19595·R + 38470·G + 7471·B + 32768) >> 16. The weights sum to 65536,
 *      so a gray pixel (k, k, k) stays k; for 8-bit data this is bit-identical to PIL.
 *   6. Gray to RGB/BGR repeats the value in the three channels; BGR reverses R and B.
 *
 * libpng's simplified png_image reader is not used for decoding because it is not exact
 * in this sense: it treats 16-bit data as linear and gamma-encodes it when producing
 * 8-bit output, honours gAMA chunks, premultiplies alpha in its 16-bit formats and
 * converts RGB to gray in linear light. The low-level reader with only the expansions
 * above applies no arithmetic of its own. Its error handling (longjmp) is confined to
 * read_raw(). The simplified writer is used for qc_png_write, whose 8-bit data it stores
 * as is.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "image-impl.h"

/* Where the PNG bytes come from (a stream, so that a huge file or /dev/zero is never read
 * whole), and the message of the error that ended the decoding. */
typedef struct {
    FILE *f; /* read from f when not NULL, else from data */
    const unsigned char *data;
    size_t size, pos;
    int read_errno;   /* a failed read: an I/O error, not bad input */
    bool own_message; /* msg comes from this file, not from libpng */
    char msg[200];
} png_source;

/* What libpng produced: gray or RGB rows of 8- or 16-bit samples. Owned by the caller of
 * read_raw (freed whether or not decoding succeeded). */
typedef struct {
    int width, height, channels, depth;
    size_t rowbytes;
    unsigned char *pixels;
    png_bytep *rows;
} png_raw;

static void on_error(png_structp png, png_const_charp msg)
{
    png_source *src = png_get_error_ptr(png);
    if (src->own_message) {
        snprintf(src->msg, sizeof src->msg, "%s", msg);
    } else {
        /* libpng's messages are sentences ("Image width is zero in IHDR") or start with a
         * chunk name ("IDAT: CRC error"); lowercase the former only. */
        snprintf(src->msg, sizeof src->msg, "corrupt PNG file (%s)", msg);
        char *m = src->msg + strlen("corrupt PNG file (");
        if (m[0] >= 'A' && m[0] <= 'Z' && !(m[1] >= 'A' && m[1] <= 'Z'))
            m[0] = (char)(m[0] - 'A' + 'a');
    }
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    /* Library code never prints; warnings (a bad ancillary chunk) do not stop decoding. */
    (void)png;
    (void)msg;
}

static void own_error(png_structp png, const char *msg)
{
    png_source *src = png_get_error_ptr(png);
    src->own_message = true;
    png_error(png, msg);
}

static size_t source_read(png_source *src, unsigned char *dst, size_t n)
{
    if (src->f) {
        size_t got = fread(dst, 1, n, src->f);
        if (got < n && ferror(src->f))
            src->read_errno = errno ? errno : EIO;
        return got;
    }
    size_t got = n < src->size - src->pos ? n : src->size - src->pos;
    memcpy(dst, src->data + src->pos, got);
    src->pos += got;
    return got;
}

/* Limits on what a file's chunks may make libpng allocate (IDAT is streamed and not bounded
 * by this): text, palettes, ICC profiles and the like of real images are far smaller. */
#define PNG_MAX_CHUNK_BYTES (8u << 20)
#define PNG_MAX_ANCILLARY_CHUNKS 1000

static void on_read(png_structp png, png_bytep dst, size_t n)
{
    png_source *src = png_get_io_ptr(png);
    if (source_read(src, dst, n) < n)
        own_error(png, src->read_errno ? "read error" : "truncated file");
}

/* The one function that calls setjmp. libpng reports errors by longjmp-ing back here,
 * which only returns false: no local is read after a longjmp, and everything decoded
 * (and allocated) goes to *raw, which the caller frees. */
static bool read_raw(png_structp png, png_infop info, png_raw *raw)
{
    if (setjmp(png_jmpbuf(png)))
        return false;
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    char msg[160];
    if (!qc_image_size_ok(w, h, msg, sizeof msg))
        own_error(png, msg);
    /* Only expansions that need no arithmetic choice (rules 2 to 4 atop this file). */
    png_set_palette_to_rgb(png);
    png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    raw->width = (int)w;
    raw->height = (int)h;
    raw->channels = png_get_channels(png, info);
    raw->depth = png_get_bit_depth(png, info);
    raw->rowbytes = png_get_rowbytes(png, info);
    if ((raw->channels != 1 && raw->channels != 3) || (raw->depth != 8 && raw->depth != 16) ||
        raw->rowbytes != (size_t)w * (size_t)raw->channels * (size_t)(raw->depth / 8))
        own_error(png, "unsupported PNG layout");
    raw->pixels = malloc(raw->rowbytes * h);
    raw->rows = malloc(sizeof *raw->rows * h);
    if (!raw->pixels || !raw->rows)
        own_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++)
        raw->rows[y] = raw->pixels + raw->rowbytes * y;
    png_read_image(png, raw->rows);
    /* Reading to IEND checks the CRCs of the chunks after the pixels and catches
     * truncation there. */
    png_read_end(png, NULL);
    return true;
}

static qc_status decode(png_source *src, const char *name, qc_color color, qc_image *out,
                        qc_error *err)
{
    char msg[256];
    memset(out, 0, sizeof *out);
    unsigned char sig[8];
    size_t got = source_read(src, sig, sizeof sig);
    if (src->read_errno)
        return qc_fail(err, QC_ERR_IO, "cannot read '%s': %s", name,
                       qc_errno_text(src->read_errno, msg, sizeof msg));
    if (got == 0)
        return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': empty file", name);
    if (got < sizeof sig || png_sig_cmp(sig, 0, sizeof sig) != 0)
        return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': not a PNG file", name);
    png_raw raw = {0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, src, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", name);
    }
    png_set_read_fn(png, src, on_read);
    png_set_sig_bytes(png, sizeof sig);
    /* Before any chunk is read. libpng allocates a text, palette-suggestion, ICC or Exif
     * chunk's claimed length (up to 2 GiB) before reading it, so those chunks, which qcal does
     * not use, are skipped unread (the bytes are streamed through the CRC, never allocated);
     * the remaining chunks are bounded. Dimensions are checked after png_read_info (which
     * allocates nothing by them), with qcal's own limits and message. */
    static const png_byte skipped[] = "tEXt\0zTXt\0iTXt\0sPLT\0iCCP\0eXIf";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, skipped, (int)(sizeof skipped / 5));
    png_set_chunk_cache_max(png, PNG_MAX_ANCILLARY_CHUNKS);
    png_set_chunk_malloc_max(png, PNG_MAX_CHUNK_BYTES);
    bool ok = read_raw(png, info, &raw);
    png_destroy_read_struct(&png, &info, NULL);
    qc_status st = QC_OK;
    if (!ok) {
        if (src->read_errno)
            st = qc_fail(err, QC_ERR_IO, "cannot read '%s': %s", name,
                         qc_errno_text(src->read_errno, msg, sizeof msg));
        else
            st = qc_fail(err, QC_ERR_INPUT, "cannot read '%s': %s", name, src->msg);
        goto end;
    }
    qc_samples samples = {raw.width, raw.height, raw.channels, raw.depth, raw.pixels};
    if (qc_image_convert(&samples, color, out) != QC_OK)
        st = qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", name);
end:
    free(raw.pixels);
    free(raw.rows);
    if (st != QC_OK)
        qc_image_free(out);
    return st;
}

qc_status qc_png_decode(const void *data, size_t size, const char *name, qc_color color,
                        qc_image *out, qc_error *err)
{
    png_source src = {.data = data, .size = size};
    return decode(&src, name, color, out, err);
}

qc_status qc_png_read(FILE *f, const char *name, qc_color color, qc_image *out, qc_error *err)
{
    png_source src = {.f = f};
    return decode(&src, name, color, out, err);
}

qc_status qc_png_write(const char *path, const unsigned char *pixels, int width, int height,
                       int channels, qc_error *err)
{
    static const png_uint_32 formats[] = {0, PNG_FORMAT_GRAY, PNG_FORMAT_GA, PNG_FORMAT_RGB,
                                          PNG_FORMAT_RGBA};
    if (channels < 1 || channels > 4 || width < 1 || height < 1 ||
        width > QC_IMAGE_MAX_SIDE || height > QC_IMAGE_MAX_SIDE)
        return qc_fail(err, QC_ERR_INPUT,
                       "cannot write '%s': unsupported image (%dx%d, %d channels)", path, width,
                       height, channels);
    qc_file file;
    qc_status st = qc_file_begin(&file, path, err);
    if (st != QC_OK)
        return st;
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)width;
    image.height = (png_uint_32)height;
    image.format = formats[channels];
    if (!png_image_write_to_stdio(&image, file.f, 0, pixels, 0, NULL)) {
        char *m = image.message;
        if (m[0] >= 'A' && m[0] <= 'Z' && !(m[1] >= 'A' && m[1] <= 'Z'))
            m[0] = (char)(m[0] - 'A' + 'a');
        qc_fail(err, QC_ERR_IO, "cannot write '%s': %s", path, m);
        png_image_free(&image);
        qc_file_abort(&file);
        return QC_ERR_IO;
    }
    return qc_file_commit(&file, err);
}
