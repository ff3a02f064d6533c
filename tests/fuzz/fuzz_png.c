/* fuzz_png.c — image bytes (PNG or JPEG, told apart by their first bytes) → decode and
 * preprocess. The first four bytes choose the colour model, the resize and the crop, so that every geometry meets every decoding path. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "io/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    qc_preprocess pp;
    const int channels = data[0] & 1 ? 3 : 1;
    qc_preprocess_default(&pp, channels);
    if (channels == 3 && data[0] & 2)
        pp.color = QC_COLOR_BGR;
    if (data[1] & 0x80) {
        pp.resize_h = 1 + data[1] % 48;
        pp.resize_w = 1 + data[2] % 48;
    }
    if (data[3] & 0x80) {
        pp.crop_h = 1 + data[3] % 40;
        pp.crop_w = 1 + data[2] / 6 % 40;
    }
    const int h = pp.crop_h ? pp.crop_h : pp.resize_h ? pp.resize_h : 16;
    const int w = pp.crop_w ? pp.crop_w : pp.resize_w ? pp.resize_w : 16;
    /* the decoder reads files: an anonymous one in memory */
    int fd = memfd_create("fuzz.png", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data + 4, size - 4) == (ssize_t)(size - 4)) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        float *dst = malloc(sizeof(float) * (size_t)channels * (size_t)h * (size_t)w);
        qc_error err;
        if (dst)
            (void)qc_image_load(path, &pp, channels, h, w, dst, &err);
        free(dst);
    }
    close(fd);
    return 0;
}
