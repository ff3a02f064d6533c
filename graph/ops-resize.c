/* ops-resize.c — Resize (opsets 10 to 19) and Upsample (7 to 9) on float tensors: nearest,
 * linear and cubic interpolation, applied one axis at a time (kernels/fp32 qc_f32_resize_axis);
 * nearest also on uint8 and int8 codes (kernels/int8 qc_resize_nearest_axis_u8). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph-impl.h"

typedef enum { MODE_NEAREST, MODE_LINEAR, MODE_CUBIC } resize_mode;
typedef enum {
    COORD_HALF_PIXEL,
    COORD_HALF_PIXEL_SYMMETRIC,
    COORD_PYTORCH_HALF_PIXEL,
    COORD_ALIGN_CORNERS,
    COORD_ASYMMETRIC,
    COORD_TF_HALF_PIXEL_FOR_NN,
    COORD_TF_CROP_AND_RESIZE,
} coord_mode;
typedef enum { NEAREST_ROUND_PREFER_FLOOR, NEAREST_ROUND_PREFER_CEIL, NEAREST_FLOOR, NEAREST_CEIL } nearest_mode;

static const char *const MODES[] = {"nearest", "linear", "cubic", NULL};
static const char *const COORDS[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                                     "align_corners", "asymmetric", "tf_half_pixel_for_nn",
                                     "tf_crop_and_resize", NULL};
static const char *const NEAREST[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil", NULL};
static const char *const POLICIES[] = {"stretch", "not_larger", "not_smaller", NULL};

typedef struct {
    resize_mode mode;
    coord_mode coord;
    nearest_mode nearest;
    int policy;         /* index in POLICIES */
    float cubic_a;
    bool exclude_outside;
    float extrapolation;
    bool legacy;        /* Upsample and Resize-10: scales only, asymmetric, nearest by floor */
    int scales_input;   /* input index of scales (-1: the attribute, Upsample-7) */
} resize_attrs;

/* Index of the string attribute's value in names; fallback when absent, -1 when unknown. */
static int attr_choice(const qc_node *n, const char *name, const char *const *names, int fallback)
{
    const qc_attr *a = qc_node_attr(n, name);
    if (!a)
        return fallback;
    if (a->type != QC_ATTR_STRING)
        return -1;
    for (int i = 0; names[i]; i++)
        if (!strcmp(a->s, names[i]))
            return i;
    return !strcmp(name, "mode") && !strcmp(a->s, "bilinear") ? MODE_LINEAR : -1; /* Upsample-7 */
}

static qc_status parse_attrs(const qc_graph *g, const qc_node *n, resize_attrs *ra, qc_error *err)
{
    bool upsample = !strcmp(n->op_type, "Upsample");
    int64_t opset = g->opset;
    memset(ra, 0, sizeof *ra);
    ra->legacy = upsample || (opset > 0 && opset < 11);
    ra->scales_input = ra->legacy ? (upsample && opset > 0 && opset < 9 ? -1 : 1) : 2;
    int mode = attr_choice(n, "mode", MODES, MODE_NEAREST);
    int coord = attr_choice(n, "coordinate_transformation_mode", COORDS, COORD_HALF_PIXEL);
    int nearest = attr_choice(n, "nearest_mode", NEAREST, NEAREST_ROUND_PREFER_FLOOR);
    ra->policy = attr_choice(n, "keep_aspect_ratio_policy", POLICIES, 0);
    if (mode < 0 || (ra->legacy && mode == MODE_CUBIC))
        return qc_node_fail(err, n, "attribute mode must be nearest, linear%s", ra->legacy ? "" : " or cubic");
    if (coord < 0)
        return qc_node_fail(err, n, "attribute coordinate_transformation_mode is not one ONNX defines");
    if (nearest < 0)
        return qc_node_fail(err, n, "attribute nearest_mode must be round_prefer_floor, round_prefer_ceil, floor or ceil");
    if (ra->policy < 0)
        return qc_node_fail(err, n, "attribute keep_aspect_ratio_policy must be stretch, not_larger or not_smaller");
    if (qc_node_attr_int(n, "antialias", 0) != 0)
        return qc_node_fail(err, n, "antialias=1 is not supported (no exporter of the supported "
                                    "models writes it; a filter that widens with the scale)");
    ra->mode = (resize_mode)mode;
    ra->coord = ra->legacy ? COORD_ASYMMETRIC : (coord_mode)coord;
    ra->nearest = ra->legacy ? NEAREST_FLOOR : (nearest_mode)nearest;
    ra->cubic_a = qc_node_attr_float(n, "cubic_coeff_a", -0.75f);
    ra->exclude_outside = qc_node_attr_int(n, "exclude_outside", 0) != 0;
    ra->extrapolation = qc_node_attr_float(n, "extrapolation_value", 0);
    return QC_OK;
}

/* The attributes, parsed once (n->state): the opset decides how the inputs read. */
static qc_status resize_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    resize_attrs ra;
    qc_status s = parse_attrs(g, n, &ra, err);
    if (s != QC_OK)
        return s;
    if (ra.scales_input < 0) {
        const qc_attr *a = qc_node_attr(n, "scales");
        if (!a || a->type != QC_ATTR_FLOATS)
            return qc_node_fail(err, n, "attribute scales is required before opset 9");
        s = qc_node_check_arity(n, 1, 1, 1, err);
    } else {
        s = qc_node_check_arity(n, ra.legacy ? 2 : 1, ra.legacy ? 2 : 4, 1, err);
    }
    if (s != QC_OK)
        return s;
    resize_attrs *state = malloc(sizeof *state);
    if (!state)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    *state = ra;
    n->state = state;
    return QC_OK;
}

static void resize_release(qc_node *n)
{
    free(n->state);
    n->state = NULL;
}

/* Output sizes, per-axis scales and the crop box (tf_crop_and_resize). */
typedef struct {
    int rank;
    int64_t out[QC_MAX_RANK];
    float scale[QC_MAX_RANK];
    float roi_start[QC_MAX_RANK], roi_end[QC_MAX_RANK];
} resize_plan;

static const qc_value *input_or_null(const qc_node *n, const qc_value *const *in, int k)
{
    return k >= 0 && k < n->n_inputs && in[k] && qc_value_count(in[k]) > 0 ? in[k] : NULL;
}

/* The axes the scales or sizes list (opset 18's axes attribute), all axes by default. */
static qc_status listed_axes(const qc_node *n, int rank, int count, int *axes, qc_error *err)
{
    const qc_attr *a = qc_node_attr(n, "axes");
    if (!a) {
        if (count != rank)
            return qc_node_fail(err, n, "scales or sizes have %d values for rank %d", count, rank);
        for (int i = 0; i < rank; i++)
            axes[i] = i;
        return QC_OK;
    }
    bool seen[QC_MAX_RANK] = {false};
    if (a->type != QC_ATTR_INTS || a->n != count)
        return qc_node_fail(err, n, "attribute axes must list the %d axes of the scales or sizes", count);
    for (int i = 0; i < count; i++) {
        if (!qc_axis(a->ints[i], rank, &axes[i]) || seen[axes[i]])
            return qc_node_fail(err, n, "axis %lld is out of range or repeated", (long long)a->ints[i]);
        seen[axes[i]] = true;
    }
    return QC_OK;
}

static qc_status plan_from_sizes(const qc_node *n, const resize_attrs *ra, const qc_value *x,
                                 const qc_value *sizes_v, resize_plan *p, qc_error *err)
{
    int64_t sizes[QC_MAX_RANK];
    int axes[QC_MAX_RANK], count = qc_read_ints(sizes_v, sizes, QC_MAX_RANK);
    if (count < 0)
        return qc_node_fail(err, n, "sizes must be an int64 vector of at most %d values", QC_MAX_RANK);
    qc_status s = listed_axes(n, x->rank, count, axes, err);
    if (s != QC_OK)
        return s;
    double common = ra->policy == 1 ? INFINITY : 0; /* not_larger: the smallest ratio */
    for (int i = 0; i < count; i++) {
        if (sizes[i] < 0 || sizes[i] > QC_MAX_DIM || (x->dims[axes[i]] == 0 && sizes[i] > 0))
            return qc_node_fail(err, n, "size %lld does not fit axis %d", (long long)sizes[i], axes[i]);
        double ratio = x->dims[axes[i]] ? (double)sizes[i] / (double)x->dims[axes[i]] : 1;
        common = ra->policy == 1 ? fmin(common, ratio) : fmax(common, ratio);
    }
    for (int i = 0; i < count; i++) {
        int64_t d = x->dims[axes[i]];
        if (ra->policy == 0) {
            p->out[axes[i]] = sizes[i];
            p->scale[axes[i]] = d ? (float)sizes[i] / (float)d : 1;
        } else {
            p->scale[axes[i]] = (float)common;
            p->out[axes[i]] = (int64_t)floor((double)(float)common * (double)d + 0.5);
        }
    }
    return QC_OK;
}

static qc_status plan_from_scales(const qc_node *n, const resize_attrs *ra, const qc_value *x,
                                  const float *scales, int count, resize_plan *p, qc_error *err)
{
    int axes[QC_MAX_RANK];
    qc_status s = listed_axes(n, x->rank, count, axes, err);
    if (s != QC_OK)
        return s;
    for (int i = 0; i < count; i++) {
        int a = axes[i];
        double span = ra->coord == COORD_TF_CROP_AND_RESIZE ? (double)p->roi_end[a] - p->roi_start[a] : 1;
        double out = floor((double)x->dims[a] * span * (double)scales[i]);
        if (!(scales[i] > 0) || !(out >= 0 && out <= (double)QC_MAX_DIM))
            return qc_node_fail(err, n, "scale %g does not fit axis %d", (double)scales[i], a);
        p->scale[a] = scales[i];
        p->out[a] = (int64_t)out;
    }
    return QC_OK;
}

/* Fills p from the inputs; *known false when scales or sizes arrive at run time. */
static qc_status make_plan(const qc_node *n, const qc_value *const *in, const resize_attrs *ra,
                           resize_plan *p, bool *known, qc_error *err)
{
    const qc_value *x = in[0];
    *known = true;
    bool codes = (x->dtype == QC_UINT8 || x->dtype == QC_INT8) && ra->mode == MODE_NEAREST &&
                 ra->coord != COORD_TF_CROP_AND_RESIZE; /* copies rows, never extrapolates */
    if (x->dtype != QC_FLOAT && !codes)
        return qc_node_fail(err, n, "takes float32 data (uint8 or int8 in nearest mode), %s given",
                            qc_dtype_name(x->dtype));
    p->rank = x->rank;
    for (int i = 0; i < x->rank; i++) {
        p->out[i] = x->dims[i];
        p->scale[i] = 1;
        p->roi_start[i] = 0;
        p->roi_end[i] = 1;
    }
    const qc_value *roi = ra->legacy ? NULL : input_or_null(n, in, 1);
    const qc_value *scales = input_or_null(n, in, ra->scales_input);
    const qc_value *sizes = ra->legacy ? NULL : input_or_null(n, in, 3);
    if ((roi && !roi->data) || (scales && !scales->data) || (sizes && !sizes->data)) {
        *known = false;
        return QC_OK;
    }
    if (ra->coord == COORD_TF_CROP_AND_RESIZE && roi) {
        int64_t count = qc_value_count(roi), half = count / 2;
        const qc_attr *axes = qc_node_attr(n, "axes");
        if (roi->dtype != QC_FLOAT || count % 2 || half != (axes ? axes->n : x->rank))
            return qc_node_fail(err, n, "roi must be float32 starts and ends for each resized axis");
        for (int64_t i = 0; i < half; i++) {
            int a;
            if (!qc_axis(axes ? axes->ints[i] : i, x->rank, &a))
                return qc_node_fail(err, n, "an axis is out of range");
            p->roi_start[a] = ((const float *)roi->data)[i];
            p->roi_end[a] = ((const float *)roi->data)[half + i];
        }
    }
    if (ra->scales_input < 0) {
        const qc_attr *a = qc_node_attr(n, "scales");
        return plan_from_scales(n, ra, x, a->floats, a->n, p, err);
    }
    if ((scales != NULL) == (sizes != NULL))
        return qc_node_fail(err, n, "exactly one of scales and sizes must be given");
    if (sizes)
        return plan_from_sizes(n, ra, x, sizes, p, err);
    if (scales->dtype != QC_FLOAT || qc_value_count(scales) > QC_MAX_RANK)
        return qc_node_fail(err, n, "scales must be a float32 vector of at most %d values", QC_MAX_RANK);
    return plan_from_scales(n, ra, x, scales->data, (int)qc_value_count(scales), p, err);
}

static qc_status resize_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                              qc_error *err)
{
    resize_plan p;
    bool known;
    qc_status s = make_plan(n, in, n->state, &p, &known, err);
    if (s != QC_OK)
        return s;
    out[0] = (qc_value){.dtype = in[0]->dtype, .rank = known ? p.rank : -1};
    memcpy(out[0].dims, p.out, sizeof p.out);
    return QC_OK;
}

/* ---- the taps of one axis -------------------------------------------------------------------- */

/* Where output index j (of out_len) samples the input (of in_len), ONNX's
 * coordinate_transformation_mode equations. As in ONNX's reference, the resized length in them
 * is scale · in_len before rounding down (the same as out_len when sizes are given). */
static double source_coordinate(const resize_attrs *ra, const resize_plan *p, int a, int64_t j,
                                int64_t in_len, int64_t out_len)
{
    double scale = p->scale[a], x = (double)j, resized = scale * (double)in_len;
    switch (ra->coord) {
    case COORD_HALF_PIXEL_SYMMETRIC: {
        double adjust = (double)out_len / (scale * (double)in_len), center = (double)in_len / 2;
        return center * (1 - adjust) + (x + 0.5) / scale - 0.5;
    }
    case COORD_PYTORCH_HALF_PIXEL: return resized > 1 ? (x + 0.5) / scale - 0.5 : 0;
    case COORD_ALIGN_CORNERS: return resized == 1 ? 0 : x * (double)(in_len - 1) / (resized - 1);
    case COORD_ASYMMETRIC: return x / scale;
    case COORD_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / scale;
    case COORD_TF_CROP_AND_RESIZE: {
        double start = p->roi_start[a], end = p->roi_end[a];
        return resized > 1 ? start * (double)(in_len - 1) + x * (end - start) * (double)(in_len - 1) / (resized - 1)
                           : 0.5 * (start + end) * (double)(in_len - 1);
    }
    default: return (x + 0.5) / scale - 0.5;
    }
}

static int64_t nearest_index(nearest_mode mode, double x)
{
    double f = floor(x);
    switch (mode) {
    case NEAREST_FLOOR: return (int64_t)f;
    case NEAREST_CEIL: return (int64_t)ceil(x);
    case NEAREST_ROUND_PREFER_CEIL: return (int64_t)(x - f >= 0.5 ? f + 1 : f);
    default: return (int64_t)(x - f > 0.5 ? f + 1 : f);
    }
}

/* Cubic convolution weights of the four taps floor(x)-1 .. floor(x)+2 for t = x - floor(x). */
static void cubic_weights(double a, double t, double *w)
{
    double d[4] = {t + 1, t, 1 - t, 2 - t};
    for (int i = 0; i < 4; i++) {
        double s = d[i];
        w[i] = s <= 1 ? ((a + 2) * s - (a + 3)) * s * s + 1 : ((a * s - 5 * a) * s + 8 * a) * s - 4 * a;
    }
}

static int64_t clamp_index(int64_t i, int64_t len)
{
    return i < 0 ? 0 : i >= len ? len - 1 : i;
}

/* Taps of output index j; false when it is an extrapolated one (tf_crop_and_resize). */
static bool taps_of(const resize_attrs *ra, const resize_plan *p, int a, int64_t j, int64_t in_len,
                    int64_t out_len, int taps, int64_t *index, float *weight)
{
    double x = source_coordinate(ra, p, a, j, in_len, out_len);
    if (ra->coord == COORD_TF_CROP_AND_RESIZE && (x < 0 || x > (double)(in_len - 1)))
        return false;
    if (ra->mode == MODE_NEAREST) {
        index[0] = clamp_index(nearest_index(ra->nearest, x), in_len);
        weight[0] = 1;
        return true;
    }
    double base = floor(x), t = x - base, w[4] = {1 - t, t, 0, 0}, sum = 0;
    int64_t first = (int64_t)base - (taps == 4);
    if (taps == 4)
        cubic_weights(ra->cubic_a, t, w);
    for (int k = 0; k < taps; k++) {
        int64_t i = first + k;
        if (ra->exclude_outside && (i < 0 || i >= in_len))
            w[k] = 0;
        sum += w[k];
    }
    for (int k = 0; k < taps; k++) {
        index[k] = clamp_index(first + k, in_len);
        weight[k] = (float)(ra->exclude_outside && sum != 0 ? w[k] / sum : w[k]);
    }
    return true;
}

/* Resizes axis a of the current tensor (dims) into dst, with index and weight tables of
 * out_len x taps; false when the axis maps onto itself and is left as it is. */
static bool resize_one_axis(const resize_attrs *ra, const resize_plan *p, int a, const int64_t *dims,
                            const void *src, void *dst, bool codes, int64_t *index, float *weight)
{
    int taps = ra->mode == MODE_NEAREST ? 1 : ra->mode == MODE_LINEAR ? 2 : 4;
    int64_t in_len = dims[a], out_len = p->out[a], outer = 1, inner = 1;
    for (int i = 0; i < a; i++)
        outer *= dims[i];
    for (int i = a + 1; i < p->rank; i++)
        inner *= dims[i];
    bool identity = out_len == in_len;
    for (int64_t j = 0; j < out_len; j++) {
        if (!taps_of(ra, p, a, j, in_len, out_len, taps, index + j * taps, weight + j * taps)) {
            index[j * taps] = -1;
            identity = false;
            continue;
        }
        for (int k = 0; k < taps; k++)
            identity &= weight[j * taps + k] == 0 || (weight[j * taps + k] == 1 && index[j * taps + k] == j);
    }
    if (!identity && codes)
        qc_resize_nearest_axis_u8(src, dst, outer, in_len, out_len, inner, index);
    else if (!identity)
        qc_f32_resize_axis(src, dst, outer, in_len, out_len, inner, taps, index, weight, ra->extrapolation);
    return !identity;
}

static qc_status resize_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                            qc_error *err)
{
    const resize_attrs *ra = n->state;
    resize_plan p;
    bool known;
    qc_status s = make_plan(n, in, ra, &p, &known, err);
    if (s != QC_OK)
        return s;
    /* scratch: two ping-pong buffers as large as the largest intermediate, then the taps */
    int taps = ra->mode == MODE_NEAREST ? 1 : ra->mode == MODE_LINEAR ? 2 : 4;
    int64_t dims[QC_MAX_RANK], largest = qc_value_count(&out[0]), count = qc_value_count(in[0]);
    int64_t longest = 1;
    memcpy(dims, in[0]->dims, sizeof dims);
    for (int a = 0; a < p.rank; a++) {
        count = dims[a] ? count / dims[a] * p.out[a] : 0;
        dims[a] = p.out[a];
        largest = count > largest ? count : largest;
        longest = p.out[a] > longest ? p.out[a] : longest;
    }
    const size_t esize = qc_dtype_size(in[0]->dtype);
    size_t data_bytes = 2 * (size_t)largest * esize;
    data_bytes = (data_bytes + 63) & ~(size_t)63;
    char *scratch = qc_exec_scratch(x, data_bytes + (size_t)(longest * taps) * (sizeof(int64_t) + sizeof(float)));
    if (!scratch)
        return qc_node_fail(err, n, "out of memory");
    char *buffers[2] = {scratch, scratch + (size_t)largest * esize};
    int64_t *index = (int64_t *)(scratch + data_bytes);
    float *weight = (float *)(index + longest * taps);
    const void *src = in[0]->data;
    int next = 0;
    memcpy(dims, in[0]->dims, sizeof dims);
    for (int a = 0; a < p.rank; a++) {
        if (resize_one_axis(ra, &p, a, dims, src, buffers[next], esize == 1, index, weight)) {
            src = buffers[next];
            next ^= 1;
        }
        dims[a] = p.out[a];
    }
    memcpy(out[0].data, src, qc_value_bytes(&out[0]));
    return QC_OK;
}

const qc_op qc_ops_resize[] = {
    {"Resize", "", resize_check, resize_infer, resize_run, resize_release},
    {"Upsample", "", resize_check, resize_infer, resize_run, resize_release},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
