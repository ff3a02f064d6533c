/* jpeg.c — JPEG files to float pixels (libjpeg-turbo through its libjpeg API).
 *
 * Conversion rules, chosen to match PIL (Image.open(p).convert(...)) on the same library:
 *
 *   1. Decoding is fixed, not left to library defaults: the accurate integer IDCT
 *      (JDCT_ISLOW), fancy (triangular) chroma upsampling, block smoothing on, no colour
 *      quantization, no scaling. These are PIL's and djpeg's defaults, so the same file gives
 *      the same bytes in qcal and in a PyTorch pipeline on the same libjpeg-turbo.
 *   2. YCbCr and RGB files are decoded to RGB, gray files to gray; the colour model asked for
 *      then follows rules 5 and 6 atop png.c (gray from RGB by PIL's integer BT.601 luma of
 *      the decoded RGB, not by libjpeg's Y channel, as PIL's convert("L") does).
 *   3. CMYK and YCCK files are refused by name: their conversion to RGB depends on a colour
 *      profile that qcal does not apply.
 *   4. EXIF orientation (and every other APPn segment) is ignored: pixels are taken in stored
 *      order, as torchvision's ImageFolder loader does.
 *   5. A file libjpeg calls corrupt, even where it would go on (a truncated file it pads
 *      with gray, bad Huffman data, extraneous bytes), is refused: no guessed pixels reach a
 *      statistic.
 *
 * Limits: the image sides and pixel count of png.c (checked from the header, before any
 * pixel buffer exists), libjpeg's own working memory (a progressive file's coefficients)
 * bounded by --max-memory, and at most JPEG_MAX_SCANS scans, so that a hostile progressive
 * file cannot make decoding take minutes.
 *
 * The libjpeg API is used rather than TurboJPEG: it decodes from a FILE stream, lets the
 * header be checked before anything is allocated by its sizes, names the colour space and
 * exposes the decoding choices of rule 1 one by one.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "image-impl.h"

/* Real progressive files have about ten scans; libjpeg itself accepts any number. */
#define JPEG_MAX_SCANS 256

/* libjpeg's error manager, extended with where to jump and what went wrong. */
typedef struct {
    struct jpeg_error_mgr mgr;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    bool out_of_memory; /* the machine's, not --max-memory's: an I/O error, not bad input */
    char msg[JMSG_LENGTH_MAX + 64];
} jpeg_failure;

/* What libjpeg produced: rows of 8-bit gray or RGB samples, owned by the caller of
 * read_raw (freed whether or not decoding succeeded). */
typedef struct {
    int width, height, channels;
    unsigned char *pixels;
} jpeg_raw;

static void lowercase_first(char *m)
{
    if (m[0] >= 'A' && m[0] <= 'Z' && !(m[1] >= 'A' && m[1] <= 'Z'))
        m[0] = (char)(m[0] - 'A' + 'a');
}

static void fail_with(j_common_ptr cinfo, const char *msg)
{
    jpeg_failure *f = (jpeg_failure *)cinfo->err;
    snprintf(f->msg, sizeof f->msg, "%s", msg);
    longjmp(f->jump, 1);
}

static void on_error(j_common_ptr cinfo)
{
    jpeg_failure *f = (jpeg_failure *)cinfo->err;
    if (cinfo->err->msg_code == JERR_OUT_OF_MEMORY) {
        snprintf(f->msg, sizeof f->msg, "decoding needs more than --max-memory (%.0f MiB)",
                 (double)qc_memory_limit() / 1048576.0);
        longjmp(f->jump, 1);
    }
    char text[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, text);
    lowercase_first(text);
    snprintf(f->msg, sizeof f->msg, "corrupt JPEG file (%s)", text);
    longjmp(f->jump, 1);
}

/* Rule 5: a warning about the data (level -1) is an error; trace messages are dropped,
 * since library code never prints. */
static void on_message(j_common_ptr cinfo, int level)
{
    if (level < 0)
        on_error(cinfo);
}

static void on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->is_decompressor && d->input_scan_number > JPEG_MAX_SCANS) {
        char msg[96];
        snprintf(msg, sizeof msg, "too many scans (more than %d)", JPEG_MAX_SCANS);
        fail_with(cinfo, msg);
    }
}

static const char *space_name(J_COLOR_SPACE s)
{
    return s == JCS_CMYK ? "CMYK" : s == JCS_YCCK ? "YCCK" : "unknown";
}

/* The one function that calls setjmp. Errors longjmp back here, which only returns false:
 * no local is read after a longjmp, and everything allocated goes to *d (destroyed by the
 * caller, even half-created) and *raw. */
static bool read_raw(struct jpeg_decompress_struct *d, FILE *f, jpeg_raw *raw)
{
    jpeg_failure *failure = (jpeg_failure *)d->err;
    if (setjmp(failure->jump))
        return false;
    jpeg_create_decompress(d);
    /* libjpeg's working memory: with no backing store, a request above this fails. */
    size_t limit = qc_memory_limit();
    d->mem->max_memory_to_use = (long)(limit < (size_t)LONG_MAX ? limit : (size_t)LONG_MAX);
    failure->progress.progress_monitor = on_progress;
    d->progress = &failure->progress;
    jpeg_stdio_src(d, f);
    jpeg_read_header(d, TRUE);
    if (d->jpeg_color_space == JCS_CMYK || d->jpeg_color_space == JCS_YCCK ||
        (d->num_components != 1 && d->num_components != 3)) {
        char what[160];
        snprintf(what, sizeof what,
                 "%s JPEG (%d components) is not supported: convert it to RGB first",
                 space_name(d->jpeg_color_space), d->num_components);
        fail_with((j_common_ptr)d, what);
    }
    char msg[160];
    if (!qc_image_size_ok(d->image_width, d->image_height, msg, sizeof msg))
        fail_with((j_common_ptr)d, msg);
    /* Rule 1. */
    d->out_color_space = d->num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    d->dct_method = JDCT_ISLOW;
    d->do_fancy_upsampling = TRUE;
    d->do_block_smoothing = TRUE;
    d->quantize_colors = FALSE;
    d->scale_num = d->scale_denom = 1;
    jpeg_start_decompress(d);
    raw->width = (int)d->output_width;
    raw->height = (int)d->output_height;
    raw->channels = d->output_components;
    if (raw->channels != 1 && raw->channels != 3)
        fail_with((j_common_ptr)d, "unsupported JPEG layout");
    size_t rowbytes = (size_t)raw->width * (size_t)raw->channels;
    raw->pixels = malloc(rowbytes * (size_t)raw->height);
    if (!raw->pixels) {
        failure->out_of_memory = true;
        fail_with((j_common_ptr)d, "out of memory");
    }
    while (d->output_scanline < d->output_height) {
        JSAMPROW row = raw->pixels + rowbytes * d->output_scanline;
        jpeg_read_scanlines(d, &row, 1);
    }
    /* Reading to EOI catches a file cut after the last scan line. */
    jpeg_finish_decompress(d);
    return true;
}

qc_status qc_jpeg_read(FILE *f, const char *name, qc_color color, qc_image *out, qc_error *err)
{
    char text[256];
    memset(out, 0, sizeof *out);
    struct jpeg_decompress_struct d;
    memset(&d, 0, sizeof d); /* d.mem NULL: destroying it before creation is safe */
    jpeg_failure failure;
    memset(&failure, 0, sizeof failure);
    d.err = jpeg_std_error(&failure.mgr);
    failure.mgr.error_exit = on_error;
    failure.mgr.emit_message = on_message;
    jpeg_raw raw = {0};
    qc_status st = QC_OK;
    bool ok = read_raw(&d, f, &raw);
    jpeg_destroy_decompress(&d);
    if (!ok) {
        if (ferror(f))
            st = qc_fail(err, QC_ERR_IO, "cannot read '%s': %s", name,
                         qc_errno_text(errno ? errno : EIO, text, sizeof text));
        else if (failure.out_of_memory)
            st = qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", name);
        else
            st = qc_fail(err, QC_ERR_INPUT, "cannot read '%s': %s", name, failure.msg);
        goto end;
    }
    qc_samples samples = {raw.width, raw.height, raw.channels, 8, raw.pixels};
    if (qc_image_convert(&samples, color, out) != QC_OK)
        st = qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", name);
end:
    free(raw.pixels);
    if (st != QC_OK)
        qc_image_free(out);
    return st;
}

