/* preprocess.c — an image file to a model input: colour, resize, center crop, normalization.
 *
 * Each step follows PyTorch and torchvision, so that identical pixels give the tensors a
 * PyTorch pipeline computes, bit for bit (the bundled models' reference accuracy comes from
 * (p * scale - mean) / std in float32):
 *
 *   resize  as F.interpolate(mode="bilinear", align_corners=False, antialias=False) on the
 *           CPU (its generic kernel), in float32. Pixel centers sit at i + 0.5, so output
 *           index i reads source coordinate s = (in/out)·(i + 0.5) − 0.5, clamped below at 0;
 *           i0 = min(floor(s), in − 1), i1 = min(i0 + 1, in − 1), λ1 = s − i0, λ0 = 1 − λ1;
 *           a row is r(y) = p[y][x0]·λx0 + p[y][x1]·λx1 and the value r(y0)·λy0 + r(y1)·λy1.
 *           No antialiasing when shrinking. The same size gives the input back exactly.
 *           (PyTorch's other kernels, channels-last or separable, may round differently.)
 *           With a shorter side S (--resize S), an h × w image becomes S × ⌊S·w/h⌋ when h ≤ w,
 *           else ⌊S·h/w⌋ × S: torchvision's Resize(S) sizes, then the same filter (as
 *           torchvision's resize of a tensor with antialias=False; PIL's bilinear antialiases
 *           when shrinking, so it is not this filter).
 *   crop    as torchvision's CenterCrop: offset round((size − crop) / 2) with Python's
 *           round (half to even); a crop larger than the image pads with pixel value 0.
 *   values  x = (p · scale − mean[c]) / std[c] in float32, in exactly that order.
 *
 * Resizing and cropping are done in one pass: only the cropped window of the resized
 * image is computed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image-impl.h"

static qc_layout image_layout = QC_LAYOUT_AUTO;

void qc_set_image_layout(qc_layout layout)
{
    image_layout = layout;
}

bool qc_is_channels_last(const int64_t dims[4])
{
    if (image_layout != QC_LAYOUT_AUTO)
        return image_layout == QC_LAYOUT_NHWC;
    /* [N, 3, H, 3] would be both: it is taken as channels-first */
    return (dims[3] == 1 || dims[3] == 3) && dims[1] != 1 && dims[1] != 3;
}

static const char *scored_output; /* --output: NULL for the first output */

void qc_set_scored_output(const char *name)
{
    scored_output = name;
}

/* A float 4-D input with 1 or 3 channels in either layout. */
static bool looks_like_image(const qc_tensor *t)
{
    const int64_t *d = t->value.dims;
    return t->value.dtype == QC_FLOAT && t->value.rank == 4 && !(t->symbolic & 0xe) &&
           (d[1] == 1 || d[1] == 3 || d[3] == 1 || d[3] == 3);
}

/* The input images are fed to: the only input not bound to a constant, or among several the
 * first image-shaped one; -1 when every input is bound. */
static int image_input_index(const qc_graph *g)
{
    const int fed = qc_graph_fed_count(g);
    for (int k = 0; fed > 1 && k < fed; k++)
        if (looks_like_image(&g->tensors[qc_graph_fed_input(g, k)]))
            return qc_graph_fed_input(g, k);
    return fed > 0 ? qc_graph_fed_input(g, 0) : -1;
}

/* The image input (image_input_index), every other input bound. */
static qc_status image_tensor(const qc_graph *g, const char *path, const char *command, int *image,
                              qc_error *err)
{
    const int fed = qc_graph_fed_count(g);
    *image = image_input_index(g);
    if (*image < 0)
        return qc_fail(err, QC_ERR_INPUT, "'%s' has no input left to feed images to: %s needs one image input",
                       path, command);
    for (int k = 0; k < fed; k++) {
        const int t = qc_graph_fed_input(g, k);
        if (t != *image)
            return qc_fail(err, QC_ERR_INPUT, "'%s': model input '%s' needs --input %s=FILE.npy (the images go to '%s')",
                           path, g->tensors[t].name, g->tensors[t].name, g->tensors[*image].name);
    }
    return QC_OK;
}

/* The output read as class scores: --output's, or the first; an unknown name lists them. */
static qc_status scored_output_of(const qc_graph *g, const char *path, int *output, qc_error *err)
{
    *output = 0;
    if (!scored_output)
        return QC_OK;
    char names[600] = "";
    for (int k = 0; k < g->n_outputs; k++) {
        const char *name = g->tensors[g->outputs[k]].name;
        if (!strcmp(name, scored_output)) {
            *output = k;
            return QC_OK;
        }
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s'%s'", k ? ", " : "", name);
    }
    return qc_fail(err, QC_ERR_USAGE, "'%s' has no output '%s' (its outputs: %s)", path, scored_output, names);
}

int64_t qc_input_batch(const qc_graph *g)
{
    const int image = image_input_index(g);
    if (image < 0)
        return 1;
    const qc_tensor *t = &g->tensors[image];
    return t->value.rank >= 1 && !(t->symbolic & 1) && t->value.dims[0] > 1 ? t->value.dims[0] : 1;
}

qc_status qc_image_input_of(const qc_graph *g, const char *path, const char *command,
                            bool classifier, qc_image_input *in, qc_error *err)
{
    qc_status st = image_tensor(g, path, command, &in->input, err);
    if (st == QC_OK)
        st = scored_output_of(g, path, &in->output, err);
    if (st != QC_OK)
        return st;
    const qc_tensor *t = &g->tensors[in->input];
    if (t->value.dtype != QC_FLOAT || t->value.rank != 4 || (t->symbolic & 0xe))
        return qc_fail(err, QC_ERR_INPUT,
                       "'%s': input '%s' is not a float N x C x H x W (or N x H x W x C) tensor of "
                       "fixed channels and size",
                       path, t->name);
    in->batch = qc_input_batch(g);
    if (in->batch > QC_MAX_FIXED_BATCH)
        return qc_fail(err, QC_ERR_INPUT, "'%s': input '%s' has a fixed batch of %lld, more than %d", path,
                       t->name, (long long)in->batch, QC_MAX_FIXED_BATCH);
    /* a constant input's tensors would not carry the batch's rows the statistics split */
    for (int k = 0; in->batch > 1 && k < g->n_inputs; k++)
        if (g->inputs[k] != in->input)
            return qc_fail(err, QC_ERR_INPUT, "'%s': input '%s' has a fixed batch of %lld, which qcal runs only with "
                           "the image as the model's sole input ('%s' is given by --input): export it with a "
                           "dynamic batch", path, t->name, (long long)in->batch, g->tensors[g->inputs[k]].name);
    const int64_t *d = t->value.dims;
    in->channels_last = qc_is_channels_last(d);
    in->channels = (int)(in->channels_last ? d[3] : d[1]);
    in->height = (int)(in->channels_last ? d[1] : d[2]);
    in->width = (int)(in->channels_last ? d[2] : d[3]);
    for (int k = 0; k < 4; k++)
        in->dims[k] = k == 0 ? 1 : d[k];
    in->classes = 0;
    if (g->n_outputs >= 1) {
        const qc_tensor *o = &g->tensors[g->outputs[in->output]];
        int64_t n = qc_value_count(&o->value); /* one image's scores: its share of the batch's */
        if (o->value.dtype == QC_FLOAT && o->value.rank >= 1 && n >= in->batch && n % in->batch == 0 &&
            n / in->batch <= INT32_MAX)
            in->classes = (int)(n / in->batch);
    }
    if (classifier && in->classes < 1)
        return qc_fail(err, QC_ERR_INPUT, "'%s': output '%s' is not a float vector of class scores",
                       path, g->n_outputs ? g->tensors[g->outputs[in->output]].name : "(none)");
    return QC_OK;
}

void qc_preprocess_default(qc_preprocess *pp, int channels)
{
    memset(pp, 0, sizeof *pp);
    pp->color = channels == 1 ? QC_COLOR_GRAY : QC_COLOR_RGB;
    pp->scale = 1.0f / 255.0f;
    for (int c = 0; c < 3; c++) {
        pp->mean[c] = 0.0f;
        pp->std[c] = 1.0f;
    }
}

/* Source indices and weights along one axis for output positions first..first+n-1 of a
 * resize from in to out samples (the formula atop this file). Positions outside 0..out-1
 * are padding: index -1. */
typedef struct {
    int i0, i1;
    float l0, l1;
} axis_tap;

static void axis_taps(int in, int out, int first, int n, axis_tap *taps)
{
    float scale = (float)in / (float)out;
    for (int k = 0; k < n; k++) {
        int i = first + k;
        if (i < 0 || i >= out) {
            taps[k] = (axis_tap){-1, -1, 0.0f, 0.0f};
            continue;
        }
        float s = scale * ((float)i + 0.5f) - 0.5f;
        if (s < 0.0f)
            s = 0.0f;
        int i0 = (int)s < in - 1 ? (int)s : in - 1;
        int i1 = i0 + (i0 < in - 1 ? 1 : 0);
        float l1 = s - (float)i0;
        if (l1 > 1.0f)
            l1 = 1.0f;
        taps[k] = (axis_tap){i0, i1, 1.0f - l1, l1};
    }
}

/* Python's round() of half an integer d, i.e. of d / 2 with ties to even. */
static int half_round_even(int d)
{
    int q = d / 2;
    if (d % 2 != 0 && q % 2 != 0)
        q++;
    return q;
}

/* The offset of a centered window of size crop in size samples; negative when the
 * window is larger (then the image is padded on both sides, the smaller pad first, as
 * torchvision pads by (crop − size) // 2 before cropping). */
static int crop_offset(int size, int crop)
{
    return crop <= size ? half_round_even(size - crop) : -((crop - size) / 2);
}

static qc_status geometry(const qc_image *img, int rh, int rw, int top, int left, int h, int w,
                          float *dst)
{
    axis_tap *ty = malloc(sizeof *ty * (size_t)h), *tx = malloc(sizeof *tx * (size_t)w);
    if (!ty || !tx) {
        free(ty);
        free(tx);
        return QC_ERR_IO;
    }
    axis_taps(img->height, rh, top, h, ty);
    axis_taps(img->width, rw, left, w, tx);
    size_t plane = (size_t)img->width * (size_t)img->height;
    for (int c = 0; c < img->channels; c++) {
        const float *src = img->data + plane * (size_t)c;
        float *out = dst + (size_t)c * (size_t)h * (size_t)w;
        for (int y = 0; y < h; y++) {
            /* a padding row (index -1) has no row pointer: it is never read */
            const float *r0 = ty[y].i0 < 0 ? src : src + (size_t)ty[y].i0 * (size_t)img->width;
            const float *r1 = ty[y].i0 < 0 ? src : src + (size_t)ty[y].i1 * (size_t)img->width;
            for (int x = 0; x < w; x++) {
                if (ty[y].i0 < 0 || tx[x].i0 < 0) {
                    out[(size_t)y * (size_t)w + (size_t)x] = 0.0f;
                    continue;
                }
                float a = r0[tx[x].i0] * tx[x].l0 + r0[tx[x].i1] * tx[x].l1;
                float b = r1[tx[x].i0] * tx[x].l0 + r1[tx[x].i1] * tx[x].l1;
                out[(size_t)y * (size_t)w + (size_t)x] = a * ty[y].l0 + b * ty[y].l1;
            }
        }
    }
    free(ty);
    free(tx);
    return QC_OK;
}

/* torchvision's Resize(s) sizes: the shorter side to s, the longer one ⌊s·long/short⌋ (at
 * least 1, at most QC_IMAGE_MAX_SIDE), in exact integer arithmetic. */
static void shorter_side_to(int h, int w, int s, int *rh, int *rw)
{
    int shorter = h <= w ? h : w, longer = h <= w ? w : h;
    int64_t other = (int64_t)s * longer / shorter;
    other = other < 1 ? 1 : other > QC_IMAGE_MAX_SIDE ? QC_IMAGE_MAX_SIDE : other;
    *rh = h <= w ? s : (int)other;
    *rw = h <= w ? (int)other : s;
}

static const char *color_name(qc_color color)
{
    return color == QC_COLOR_GRAY ? "gray" : color == QC_COLOR_RGB ? "rgb" : "bgr";
}

qc_status qc_image_load(const char *path, const qc_preprocess *pp, int channels, int height,
                        int width, float *dst, qc_error *err)
{
    if (pp->color != QC_COLOR_GRAY && pp->color != QC_COLOR_RGB && pp->color != QC_COLOR_BGR)
        return qc_fail(err, QC_ERR_INPUT, "cannot load '%s': unknown colour model %d", path,
                       (int)pp->color);
    int pp_channels = pp->color == QC_COLOR_GRAY ? 1 : 3;
    if (pp_channels != channels)
        return qc_fail(err, QC_ERR_INPUT,
                       "cannot load '%s': colour \"%s\" gives %d channel%s but the model takes %d",
                       path, color_name(pp->color), pp_channels, pp_channels == 1 ? "" : "s",
                       channels);
    if (height < 1 || width < 1)
        return qc_fail(err, QC_ERR_INPUT, "cannot load '%s': bad model input size %dx%d",
                       path, height, width);
    qc_image img;
    qc_status st = qc_image_read(path, pp->color, &img, err);
    if (st != QC_OK)
        return st;
    bool resize = (pp->resize_h > 0 && pp->resize_w > 0) || pp->resize_short > 0;
    bool crop = pp->crop_h > 0 && pp->crop_w > 0;
    int rh = resize ? pp->resize_h : img.height, rw = resize ? pp->resize_w : img.width;
    if (pp->resize_short > 0)
        shorter_side_to(img.height, img.width, pp->resize_short, &rh, &rw);
    int h = crop ? pp->crop_h : rh, w = crop ? pp->crop_w : rw;
    if (!resize && !crop && (h != height || w != width)) {
        /* Nothing asked for: fit the image to the model. */
        rh = h = height;
        rw = w = width;
    }
    if (h != height || w != width) {
        qc_image_free(&img);
        return qc_fail(err, QC_ERR_INPUT,
                       "cannot load '%s': preprocessing gives %dx%d pixels but the model "
                       "takes %dx%d",
                       path, h, w, height, width);
    }
    int top = crop ? crop_offset(rh, h) : 0, left = crop ? crop_offset(rw, w) : 0;
    st = geometry(&img, rh, rw, top, left, h, w, dst);
    qc_image_free(&img);
    if (st != QC_OK)
        return qc_fail(err, st, "cannot load '%s': out of memory", path);
    size_t plane = (size_t)h * (size_t)w;
    for (int c = 0; c < channels; c++) {
        float scale = pp->scale, mean = pp->mean[c], std = pp->std[c];
        float *x = dst + plane * (size_t)c;
        for (size_t i = 0; i < plane; i++)
            x[i] = (x[i] * scale - mean) / std;
    }
    return QC_OK;
}

qc_status qc_image_load_input(const qc_image_input *in, const char *path, const qc_preprocess *pp,
                              float *dst, qc_error *err)
{
    qc_status st = qc_image_load(path, pp, in->channels, in->height, in->width, dst, err);
    if (st != QC_OK || !in->channels_last || in->channels == 1)
        return st; /* one channel: CHW and HWC are the same bytes */
    size_t plane = (size_t)in->height * (size_t)in->width, n = plane * (size_t)in->channels;
    float *chw = malloc(n * sizeof *chw);
    if (!chw)
        return qc_fail(err, QC_ERR_IO, "cannot load '%s': out of memory", path);
    memcpy(chw, dst, n * sizeof *chw);
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < in->channels; c++)
            dst[i * (size_t)in->channels + (size_t)c] = chw[(size_t)c * plane + i];
    free(chw);
    return QC_OK;
}
