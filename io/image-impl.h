/* image-impl.h — private to io/: decoded images (png.c, jpeg.c and image.c to preprocess.c)
 * and errno messages. */
#ifndef QCAL_IMAGE_IMPL_H
#define QCAL_IMAGE_IMPL_H

#include "io.h"

/* Limits on decoded images, so that a hostile header cannot make qcal allocate gigabytes. */
#define QC_IMAGE_MAX_SIDE 16384
#define QC_IMAGE_MAX_PIXELS (64L * 1024 * 1024)

/* Whether a header's width × height is within the limits; when not, msg says so. */
bool qc_image_size_ok(unsigned long width, unsigned long height, char *msg, size_t size);

typedef struct {
    int width, height;
    int channels; /* 1 (gray) or 3 (in the order of the colour asked for) */
    float *data;  /* owned: channels planes of height × width, values in 0..255 */
} qc_image;

/* Decodes a PNG held in memory into the colour model asked for (rules atop png.c); name
 * is used in messages. Anything that is not a readable PNG is QC_ERR_INPUT. */
qc_status qc_png_decode(const void *data, size_t size, const char *name, qc_color color,
                        qc_image *out, qc_error *err);
/* Same from an open file, read as a stream; a read error is QC_ERR_IO. */
qc_status qc_png_read(FILE *f, const char *name, qc_color color, qc_image *out, qc_error *err);
void qc_image_free(qc_image *img);

/* Decodes a baseline or progressive JPEG from an open file, read as a stream (rules atop
 * jpeg.c); a read error is QC_ERR_IO, anything that is not a readable JPEG (truncated,
 * corrupt, CMYK, too large) is QC_ERR_INPUT naming the file. */
qc_status qc_jpeg_read(FILE *f, const char *name, qc_color color, qc_image *out, qc_error *err);

typedef enum { QC_FORMAT_PNG, QC_FORMAT_JPEG } qc_image_format;
/* The format of a file from its first bytes (at least 8 when the file has them); bytes that
 * are neither give the format the name's extension says, PNG by default, so that its reader
 * names the problem. */
qc_image_format qc_image_format_of(const void *head, size_t size, const char *name);
/* A .png, .jpg or .jpeg name (case-insensitive): what an image set picks up. */
bool qc_is_image_name(const char *name);
/* Reads a PNG or a JPEG file, told apart by its first bytes. */
qc_status qc_image_read(const char *path, qc_color color, qc_image *out, qc_error *err);

/* Decoded samples, interleaved, rows packed: channels 1 (gray) or 3 (RGB), depth 8 or 16
 * (16-bit samples big-endian, as PNG stores them). */
typedef struct {
    int width, height, channels, depth;
    const unsigned char *pixels;
} qc_samples;
/* Fills img (allocating its planes) in the colour model asked for; QC_ERR_IO when out of
 * memory. */
qc_status qc_image_convert(const qc_samples *s, qc_color color, qc_image *img);

/* strerror(e) with its first letter in lowercase, as qcal's messages are; into buf. */
const char *qc_errno_text(int e, char *buf, size_t size);

#endif
