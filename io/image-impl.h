/* image-impl.h — private to io/: decoded images (png.c to preprocess.c) and errno messages. */
#ifndef QCAL_IMAGE_IMPL_H
#define QCAL_IMAGE_IMPL_H

#include "io.h"

/* Limits on decoded images, so that a hostile header cannot make qcal allocate gigabytes. */
#define QC_IMAGE_MAX_SIDE 16384
#define QC_IMAGE_MAX_PIXELS (64L * 1024 * 1024)

typedef struct {
    int width, height;
    int channels; /* 1 (gray) or 3 (in the order of the colour asked for) */
    float *data;  /* owned: channels planes of height × width, values in 0..255 */
} qc_image;

/* Decodes a PNG held in memory into the colour model asked for (rules atop png.c); name
 * is used in messages. Anything that is not a readable PNG is QC_ERR_INPUT. */
qc_status qc_png_decode(const void *data, size_t size, const char *name, qc_color color,
                        qc_image *out, qc_error *err);
/* Same from a file, read as a stream; a file that cannot be read is QC_ERR_IO. */
qc_status qc_png_read(const char *path, qc_color color, qc_image *out, qc_error *err);
void qc_image_free(qc_image *img);

/* strerror(e) with its first letter in lowercase, as qcal's messages are; into buf. */
const char *qc_errno_text(int e, char *buf, size_t size);

#endif
