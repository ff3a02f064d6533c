/* ops-shape.c — data-movement ops of any element type that index their input through a strided
 * view or a per-axis map: Slice, Split, Expand, Tile, Pad, DepthToSpace, SpaceToDepth,
 * GatherElements; and the shape-arithmetic ops Cast, Size, ConstantOfShape and Range. */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "graph-impl.h"

/* ---- strided views ------------------------------------------------------------------------ */

/* Element (i0, i1, …) of a view is src[offset + Σ i_k·stride[k]] (strides in elements, zero
 * for a broadcast axis, negative for a reversed one). Tile and DepthToSpace need twice the
 * rank of a tensor. */
#define VIEW_RANK (2 * QC_MAX_RANK)
typedef struct {
    int rank;
    int64_t dims[VIEW_RANK];
    int64_t stride[VIEW_RANK];
    int64_t offset;
} strided_view;

static void dense_strides(const qc_value *v, int64_t *stride)
{
    int64_t acc = 1;
    for (int i = v->rank - 1; i >= 0; i--) {
        stride[i] = acc;
        acc *= v->dims[i];
    }
}

/* Writes the view's elements to dst in row-major order. */
static void copy_view(char *dst, const char *src, size_t esize, const strided_view *v)
{
    int r = v->rank;
    int64_t outer = 1;
    for (int i = 0; i < r; i++)
        if (v->dims[i] == 0)
            return;
    if (r == 0) {
        memcpy(dst, src + (size_t)v->offset * esize, esize);
        return;
    }
    for (int i = 0; i < r - 1; i++)
        outer *= v->dims[i];
    int64_t inner = v->dims[r - 1], step = v->stride[r - 1], base = v->offset;
    int64_t index[VIEW_RANK] = {0};
    for (int64_t o = 0; o < outer; o++) {
        const char *row = src + base * (int64_t)esize;
        if (step == 1) {
            memcpy(dst, row, (size_t)inner * esize);
        } else {
            for (int64_t j = 0; j < inner; j++)
                memcpy(dst + (size_t)j * esize, row + j * step * (int64_t)esize, esize);
        }
        dst += (size_t)inner * esize;
        for (int i = r - 2; i >= 0; i--) {
            base += v->stride[i];
            if (++index[i] < v->dims[i])
                break;
            base -= v->stride[i] * v->dims[i];
            index[i] = 0;
        }
    }
}

static bool is_default_opset_before(const qc_graph *g, int64_t version)
{
    return g->opset > 0 && g->opset < version;
}

/* An integer vector input read at infer time: the count, or -1 when its data is not there
 * yet (a run-time value). Fails on a wrong type or length. */
static qc_status read_int_input(const qc_node *n, const qc_value *v, const char *what, int max,
                                int64_t *dst, int *count, qc_error *err)
{
    *count = -1;
    if (!v->data)
        return QC_OK;
    if (v->rank > 1 || (v->dtype != QC_INT64 && v->dtype != QC_INT32))
        return qc_node_fail(err, n, "%s must be an int32 or int64 vector", what);
    *count = qc_read_ints(v, dst, max);
    if (*count < 0)
        return qc_node_fail(err, n, "%s has more than %d values", what, max);
    return QC_OK;
}

/* ---- Slice -------------------------------------------------------------------------------- */

static qc_status slice_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    if (is_default_opset_before(g, 10)) {
        qc_status s = qc_node_check_arity(n, 1, 1, 1, err);
        if (s == QC_OK && !qc_node_attr(n, "starts"))
            return qc_node_fail(err, n, "attribute starts is required");
        if (s == QC_OK && !qc_node_attr(n, "ends"))
            return qc_node_fail(err, n, "attribute ends is required");
        return s;
    }
    return qc_node_check_arity(n, 3, 5, 1, err);
}

/* Reads starts, ends, axes and steps (attributes before opset 10, inputs from 10). *count is
 * -1 when an input arrives at run time. */
static qc_status slice_params(const qc_node *n, const qc_value *const *in, int64_t *starts,
                              int64_t *ends, int64_t *axes, int64_t *steps, int *count,
                              qc_error *err)
{
    int c[4] = {-1, -1, -1, -1};
    const qc_attr *a = qc_node_attr(n, "starts");
    if (n->n_inputs == 1 && a) {
        const qc_attr *e = qc_node_attr(n, "ends"), *ax = qc_node_attr(n, "axes");
        if (a->type != QC_ATTR_INTS || !e || e->type != QC_ATTR_INTS || a->n > QC_MAX_RANK ||
            e->n != a->n || (ax && (ax->type != QC_ATTR_INTS || ax->n != a->n)))
            return qc_node_fail(err, n, "starts, ends and axes must be lists of one length up to %d",
                                QC_MAX_RANK);
        *count = a->n;
        for (int i = 0; i < a->n; i++) {
            starts[i] = a->ints[i];
            ends[i] = e->ints[i];
            axes[i] = ax ? ax->ints[i] : i;
            steps[i] = 1;
        }
        return QC_OK;
    }
    const char *names[4] = {"starts", "ends", "axes", "steps"};
    int64_t *dst[4] = {starts, ends, axes, steps};
    for (int k = 0; k < 4; k++) {
        if (k + 1 >= n->n_inputs || !in[k + 1])
            continue;
        qc_status s = read_int_input(n, in[k + 1], names[k], QC_MAX_RANK, dst[k], &c[k], err);
        if (s != QC_OK)
            return s;
        if (c[k] < 0) {
            *count = -1;
            return QC_OK;
        }
    }
    *count = c[0];
    if (c[1] != c[0] || (c[2] >= 0 && c[2] != c[0]) || (c[3] >= 0 && c[3] != c[0]))
        return qc_node_fail(err, n, "starts, ends, axes and steps must have one length");
    for (int i = 0; i < *count; i++) {
        if (c[2] < 0)
            axes[i] = i;
        if (c[3] < 0)
            steps[i] = 1;
    }
    return QC_OK;
}

/* The view of in that the slice selects; out_dims its shape. */
static qc_status slice_view(const qc_node *n, const qc_value *const *in, strided_view *v,
                            bool *known, qc_error *err)
{
    int64_t starts[QC_MAX_RANK], ends[QC_MAX_RANK], axes[QC_MAX_RANK], steps[QC_MAX_RANK];
    int count = -1, rank = in[0]->rank;
    qc_status s = slice_params(n, in, starts, ends, axes, steps, &count, err);
    *known = s == QC_OK && count >= 0;
    if (!*known)
        return s;
    int64_t stride[QC_MAX_RANK];
    bool seen[QC_MAX_RANK] = {false};
    dense_strides(in[0], stride);
    v->rank = rank;
    v->offset = 0;
    memcpy(v->dims, in[0]->dims, (size_t)rank * sizeof v->dims[0]);
    memcpy(v->stride, stride, (size_t)rank * sizeof stride[0]);
    for (int i = 0; i < count; i++) {
        int axis;
        if (!qc_axis(axes[i], rank, &axis) || seen[axis])
            return qc_node_fail(err, n, "axis %lld is out of range or repeated", (long long)axes[i]);
        if (steps[i] == 0)
            return qc_node_fail(err, n, "a step is 0");
        seen[axis] = true;
        /* a step longer than any axis takes one element: clamping it keeps -step defined */
        int64_t d = in[0]->dims[axis], b = starts[i], e = ends[i];
        int64_t step = steps[i] > QC_MAX_DIM ? QC_MAX_DIM + 1 : steps[i] < -QC_MAX_DIM ? -QC_MAX_DIM - 1 : steps[i];
        b = b < 0 ? b + d : b;
        e = e < 0 ? e + d : e;
        /* clamped as the spec says: [0, d] going forward, [-1, d - 1] going back */
        int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? d : d - 1;
        b = b < 0 ? 0 : b > hi ? hi : b;
        e = e < lo ? lo : e > hi ? hi : e;
        int64_t span = step > 0 ? e - b : b - e, mag = step > 0 ? step : -step;
        int64_t len = span > 0 ? 1 + (span - 1) / mag : 0;
        v->dims[axis] = len;
        v->stride[axis] = len > 1 ? stride[axis] * step : 0;
        if (len > 0)
            v->offset += b * stride[axis];
    }
    return QC_OK;
}

static qc_status slice_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                             qc_error *err)
{
    strided_view v;
    bool known;
    qc_status s = slice_view(n, in, &v, &known, err);
    if (s != QC_OK)
        return s;
    out[0].dtype = in[0]->dtype;
    out[0].rank = known ? in[0]->rank : -1;
    if (known)
        memcpy(out[0].dims, v.dims, (size_t)v.rank * sizeof v.dims[0]);
    return QC_OK;
}

static qc_status slice_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                           qc_error *err)
{
    (void)x;
    strided_view v;
    bool known;
    qc_status s = slice_view(n, in, &v, &known, err);
    if (s == QC_OK)
        copy_view(out[0].data, in[0]->data, qc_dtype_size(in[0]->dtype), &v);
    return s;
}

/* ---- Split -------------------------------------------------------------------------------- */

#define MAX_SPLIT QC_MAX_NODE_OUTPUTS

static qc_status split_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    qc_status s = qc_node_check_arity(n, 1, 2, MAX_SPLIT, err);
    if (s != QC_OK)
        return s;
    const qc_attr *num = qc_node_attr(n, "num_outputs");
    if (num && (num->i < 1 || num->i != n->n_outputs))
        return qc_node_fail(err, n, "num_outputs %lld does not match its %d outputs", (long long)num->i,
                            n->n_outputs);
    const qc_attr *split = qc_node_attr(n, "split");
    if (split && (split->type != QC_ATTR_INTS || split->n != n->n_outputs))
        return qc_node_fail(err, n, "attribute split must list %d sizes", n->n_outputs);
    return QC_OK;
}

/* Sizes of the parts along the axis; false (with *known) when the split input arrives at run
 * time. */
static qc_status split_sizes(const qc_node *n, const qc_value *const *in, int *axis, int64_t *sizes,
                             bool *known, qc_error *err)
{
    *known = true;
    if (!qc_axis(qc_node_attr_int(n, "axis", 0), in[0]->rank, axis))
        return qc_node_fail(err, n, "axis %lld is out of range for rank %d",
                            (long long)qc_node_attr_int(n, "axis", 0), in[0]->rank);
    int64_t d = in[0]->dims[*axis], total = 0;
    int parts = n->n_outputs, count = -1;
    const qc_attr *a = qc_node_attr(n, "split");
    if (a) {
        memcpy(sizes, a->ints, (size_t)parts * sizeof *sizes);
        count = parts;
    } else if (n->n_inputs > 1 && in[1]) {
        qc_status s = read_int_input(n, in[1], "split", MAX_SPLIT, sizes, &count, err);
        if (s != QC_OK || (*known = count >= 0) == false)
            return s;
        if (count != parts)
            return qc_node_fail(err, n, "split lists %d sizes for %d outputs", count, parts);
    } else if (qc_node_attr(n, "num_outputs")) {
        int64_t chunk = (d + parts - 1) / parts; /* the last part takes what is left */
        for (int i = 0; i < parts; i++)
            sizes[i] = chunk * (i + 1) <= d ? chunk : chunk * i < d ? d - chunk * i : 0;
        return QC_OK;
    } else {
        if (d % parts)
            return qc_node_fail(err, n, "dimension %lld does not split into %d equal parts", (long long)d,
                                parts);
        for (int i = 0; i < parts; i++)
            sizes[i] = d / parts;
        return QC_OK;
    }
    for (int i = 0; i < count; i++) {
        if (sizes[i] < 0)
            return qc_node_fail(err, n, "split size %lld is negative", (long long)sizes[i]);
        total += sizes[i];
    }
    if (total != d)
        return qc_node_fail(err, n, "split sizes add up to %lld, the axis has %lld", (long long)total,
                            (long long)d);
    return QC_OK;
}

static qc_status split_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                             qc_error *err)
{
    int axis;
    int64_t sizes[MAX_SPLIT];
    bool known;
    qc_status s = split_sizes(n, in, &axis, sizes, &known, err);
    for (int k = 0; s == QC_OK && k < n->n_outputs; k++) {
        out[k] = *in[0];
        out[k].data = NULL;
        out[k].rank = known ? in[0]->rank : -1;
        out[k].dims[axis] = sizes[k];
    }
    return s;
}

static qc_status split_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                           qc_error *err)
{
    (void)x;
    int axis;
    int64_t sizes[MAX_SPLIT], offset = 0;
    bool known;
    qc_status s = split_sizes(n, in, &axis, sizes, &known, err);
    if (s != QC_OK)
        return s;
    strided_view v = {.rank = in[0]->rank};
    dense_strides(in[0], v.stride);
    memcpy(v.dims, in[0]->dims, sizeof in[0]->dims);
    for (int k = 0; k < n->n_outputs; k++) {
        v.dims[axis] = sizes[k];
        v.offset = offset * v.stride[axis];
        if (out[k].data)
            copy_view(out[k].data, in[0]->data, qc_dtype_size(in[0]->dtype), &v);
        offset += sizes[k];
    }
    return QC_OK;
}

/* ---- Expand and Tile ---------------------------------------------------------------------- */

static qc_status expand_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    return qc_node_check_arity(n, 2, 2, 1, err);
}

/* Expand: in[0] broadcast (numpy rules, both ways) with the shape in in[1]. */
static qc_status expand_view(const qc_node *n, const qc_value *const *in, strided_view *v,
                             bool *known, qc_error *err)
{
    int64_t shape[QC_MAX_RANK];
    int count;
    qc_status s = read_int_input(n, in[1], "shape", QC_MAX_RANK, shape, &count, err);
    *known = s == QC_OK && count >= 0;
    if (!*known)
        return s;
    qc_value target = {.rank = count}, result;
    for (int i = 0; i < count; i++) {
        if (shape[i] < 0)
            return qc_node_fail(err, n, "shape has a negative dimension %lld", (long long)shape[i]);
        target.dims[i] = shape[i];
    }
    if (!qc_broadcast_shape(in[0], &target, &result))
        return qc_node_fail(err, n, "the input does not broadcast to the shape");
    int64_t stride[QC_MAX_RANK];
    dense_strides(in[0], stride);
    v->rank = result.rank;
    v->offset = 0;
    for (int i = 0; i < result.rank; i++) {
        int j = in[0]->rank - result.rank + i;
        v->dims[i] = result.dims[i];
        v->stride[i] = j >= 0 && in[0]->dims[j] == result.dims[i] ? stride[j] : 0;
    }
    return QC_OK;
}

static qc_status tile_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    return qc_node_check_arity(n, 2, 2, 1, err);
}

/* Tile: axis i of the output is (repeat, element) of the input's axis i, so the view has
 * twice the rank, with stride 0 on the repeats. */
static qc_status tile_view(const qc_node *n, const qc_value *const *in, strided_view *v,
                           bool *known, qc_error *err)
{
    int64_t repeats[QC_MAX_RANK], stride[QC_MAX_RANK];
    int count;
    qc_status s = read_int_input(n, in[1], "repeats", QC_MAX_RANK, repeats, &count, err);
    *known = s == QC_OK && count >= 0;
    if (!*known)
        return s;
    if (count != in[0]->rank)
        return qc_node_fail(err, n, "repeats has %d values for an input of rank %d", count, in[0]->rank);
    dense_strides(in[0], stride);
    v->rank = 2 * count;
    v->offset = 0;
    for (int i = 0; i < count; i++) {
        if (repeats[i] < 0)
            return qc_node_fail(err, n, "repeat %lld is negative", (long long)repeats[i]);
        v->dims[2 * i] = repeats[i];
        v->stride[2 * i] = 0;
        v->dims[2 * i + 1] = in[0]->dims[i];
        v->stride[2 * i + 1] = stride[i];
    }
    return QC_OK;
}

/* ---- DepthToSpace and SpaceToDepth --------------------------------------------------------- */

static qc_status blocks_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    qc_status s = qc_node_check_arity(n, 1, 1, 1, err);
    if (s != QC_OK)
        return s;
    const qc_attr *b = qc_node_attr(n, "blocksize");
    if (!b || b->type != QC_ATTR_INT || b->i < 1 || b->i > 4096)
        return qc_node_fail(err, n, "attribute blocksize must be an integer in [1, 4096]");
    const qc_attr *mode = qc_node_attr(n, "mode");
    if (mode && (mode->type != QC_ATTR_STRING || (strcmp(mode->s, "DCR") && strcmp(mode->s, "CRD"))))
        return qc_node_fail(err, n, "attribute mode must be DCR or CRD");
    return QC_OK;
}

/* Both ops are a reshape to rank 6, a transpose and a reshape back: one view of rank 6. */
static qc_status blocks_view(const qc_node *n, const qc_value *const *in, strided_view *v,
                             bool *known, qc_error *err)
{
    *known = true;
    const qc_value *x = in[0];
    int64_t b = qc_node_attr_int(n, "blocksize", 1);
    bool to_space = !strcmp(n->op_type, "DepthToSpace");
    if (x->rank != 4)
        return qc_node_fail(err, n, "takes a 4-D input (N x C x H x W), rank %d given", x->rank);
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t sn = C * H * W;
    v->rank = 6;
    v->offset = 0;
    if (to_space) {
        if (C % (b * b))
            return qc_node_fail(err, n, "%lld channels are not a multiple of blocksize² %lld", (long long)C,
                                (long long)(b * b));
        int64_t c = C / (b * b);
        const qc_attr *mode = qc_node_attr(n, "mode");
        bool crd = mode && !strcmp(mode->s, "CRD");
        /* input channel = b1·b·c + b2·c + c' (DCR) or c'·b² + b1·b + b2 (CRD) */
        int64_t sc = crd ? b * b * H * W : H * W, sb1 = crd ? b * H * W : b * c * H * W;
        int64_t sb2 = crd ? H * W : c * H * W;
        int64_t dims[6] = {N, c, H, b, W, b}, stride[6] = {sn, sc, W, sb1, 1, sb2};
        memcpy(v->dims, dims, sizeof dims);
        memcpy(v->stride, stride, sizeof stride);
        return QC_OK;
    }
    if (H % b || W % b)
        return qc_node_fail(err, n, "height %lld and width %lld are not multiples of blocksize %lld",
                            (long long)H, (long long)W, (long long)b);
    int64_t dims[6] = {N, b, b, C, H / b, W / b}, stride[6] = {sn, W, 1, H * W, b * W, b};
    memcpy(v->dims, dims, sizeof dims);
    memcpy(v->stride, stride, sizeof stride);
    return QC_OK;
}

/* ---- ops defined by a view ------------------------------------------------------------------ */

typedef qc_status (*view_fn)(const qc_node *, const qc_value *const *, strided_view *, bool *,
                             qc_error *);

static view_fn view_of(const qc_node *n)
{
    if (!strcmp(n->op_type, "Expand"))
        return expand_view;
    if (!strcmp(n->op_type, "Tile"))
        return tile_view;
    return blocks_view;
}

/* The output of Tile and of the block ops folds pairs of view axes back into one. */
static qc_status view_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                            qc_error *err)
{
    strided_view v;
    bool known;
    qc_status s = view_of(n)(n, in, &v, &known, err);
    if (s != QC_OK)
        return s;
    out[0].dtype = in[0]->dtype;
    out[0].rank = -1;
    if (!known)
        return QC_OK;
    if (!strcmp(n->op_type, "Expand")) {
        out[0].rank = v.rank;
        memcpy(out[0].dims, v.dims, (size_t)v.rank * sizeof v.dims[0]);
    } else if (!strcmp(n->op_type, "Tile")) {
        out[0].rank = v.rank / 2;
        for (int i = 0; i < out[0].rank; i++)
            if (!qc_mul_dims(v.dims[2 * i], v.dims[2 * i + 1], &out[0].dims[i]))
                return qc_node_fail(err, n, "the output has more than 2^40 elements");
    } else {
        bool to_space = !strcmp(n->op_type, "DepthToSpace");
        int64_t N = v.dims[0];
        out[0].rank = 4;
        if (to_space) {
            int64_t dims[4] = {N, v.dims[1], v.dims[2] * v.dims[3], v.dims[4] * v.dims[5]};
            memcpy(out[0].dims, dims, sizeof dims);
        } else {
            int64_t dims[4] = {N, v.dims[1] * v.dims[2] * v.dims[3], v.dims[4], v.dims[5]};
            memcpy(out[0].dims, dims, sizeof dims);
        }
    }
    return QC_OK;
}

static qc_status view_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                          qc_error *err)
{
    (void)x;
    strided_view v;
    bool known;
    qc_status s = view_of(n)(n, in, &v, &known, err);
    if (s == QC_OK)
        copy_view(out[0].data, in[0]->data, qc_dtype_size(in[0]->dtype), &v);
    return s;
}

/* ---- Pad ------------------------------------------------------------------------------------ */

typedef enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } pad_mode;

static pad_mode pad_mode_of(const qc_node *n)
{
    const qc_attr *a = qc_node_attr(n, "mode");
    if (!a || a->type != QC_ATTR_STRING || !strcmp(a->s, "constant"))
        return PAD_CONSTANT;
    return !strcmp(a->s, "reflect") ? PAD_REFLECT : !strcmp(a->s, "edge") ? PAD_EDGE : PAD_WRAP;
}

static qc_status pad_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    bool attr_form = is_default_opset_before(g, 11);
    qc_status s = qc_node_check_arity(n, 1, attr_form ? 1 : 4, 1, err);
    if (s != QC_OK)
        return s;
    const qc_attr *mode = qc_node_attr(n, "mode");
    if (mode && (mode->type != QC_ATTR_STRING ||
                 (strcmp(mode->s, "constant") && strcmp(mode->s, "reflect") &&
                  strcmp(mode->s, "edge") && strcmp(mode->s, "wrap"))))
        return qc_node_fail(err, n, "attribute mode must be constant, reflect, edge or wrap");
    const qc_attr *pads = qc_node_attr(n, "pads");
    if (attr_form && (!pads || pads->type != QC_ATTR_INTS))
        return qc_node_fail(err, n, "attribute pads is required before opset 11");
    if (!attr_form && n->n_inputs < 2)
        return qc_node_fail(err, n, "input 1 (pads) is required from opset 11");
    return QC_OK;
}

/* Begin and end pads for every axis of in[0]; *known false when they arrive at run time. */
static qc_status pad_amounts(const qc_node *n, const qc_value *const *in, int64_t *begin,
                             int64_t *end, bool *known, qc_error *err)
{
    int rank = in[0]->rank, count, n_axes = rank;
    int64_t pads[2 * QC_MAX_RANK], axes[QC_MAX_RANK];
    const qc_attr *a = qc_node_attr(n, "pads");
    *known = true;
    if (n->n_inputs == 1 && a) {
        count = a->n <= 2 * QC_MAX_RANK ? a->n : -1;
        if (count > 0)
            memcpy(pads, a->ints, (size_t)count * sizeof *pads);
    } else {
        qc_status s = read_int_input(n, in[1], "pads", 2 * QC_MAX_RANK, pads, &count, err);
        if (s != QC_OK || (*known = count >= 0) == false)
            return s;
    }
    for (int i = 0; i < rank; i++)
        axes[i] = i;
    if (n->n_inputs > 3 && in[3]) {
        qc_status s = read_int_input(n, in[3], "axes", QC_MAX_RANK, axes, &n_axes, err);
        if (s != QC_OK || (*known = n_axes >= 0) == false)
            return s;
    }
    if (count != 2 * n_axes)
        return qc_node_fail(err, n, "pads has %d values for %d axes", count, n_axes);
    for (int i = 0; i < rank; i++)
        begin[i] = end[i] = 0;
    for (int i = 0; i < n_axes; i++) {
        int axis;
        if (!qc_axis(axes[i], rank, &axis))
            return qc_node_fail(err, n, "axis %lld is out of range for rank %d", (long long)axes[i], rank);
        begin[axis] = pads[i];
        end[axis] = pads[n_axes + i];
        if (begin[axis] < -QC_MAX_DIM || begin[axis] > QC_MAX_DIM || end[axis] < -QC_MAX_DIM ||
            end[axis] > QC_MAX_DIM ||
            in[0]->dims[axis] + begin[axis] + end[axis] < 0)
            return qc_node_fail(err, n, "pads %lld and %lld do not fit axis %d of size %lld",
                                (long long)begin[axis], (long long)end[axis], axis,
                                (long long)in[0]->dims[axis]);
    }
    return QC_OK;
}

static qc_status pad_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                           qc_error *err)
{
    int64_t begin[QC_MAX_RANK], end[QC_MAX_RANK];
    bool known;
    qc_status s = pad_amounts(n, in, begin, end, &known, err);
    if (s != QC_OK)
        return s;
    out[0] = *in[0];
    out[0].data = NULL;
    if (!known) {
        out[0].rank = -1;
        return QC_OK;
    }
    for (int i = 0; i < in[0]->rank; i++) {
        out[0].dims[i] = in[0]->dims[i] + begin[i] + end[i];
        if (pad_mode_of(n) != PAD_CONSTANT && in[0]->dims[i] == 0 && out[0].dims[i] > 0)
            return qc_node_fail(err, n, "cannot pad an empty axis %d but with a constant", i);
    }
    return QC_OK;
}

/* The input index that output index o of an axis (size d, begin pad b) reads; -1 for the
 * constant. */
static int64_t pad_source(pad_mode mode, int64_t o, int64_t b, int64_t d)
{
    int64_t c = o - b;
    if (c >= 0 && c < d)
        return c;
    switch (mode) {
    case PAD_EDGE: return c < 0 ? 0 : d - 1;
    case PAD_WRAP: return ((c % d) + d) % d;
    case PAD_REFLECT: {
        if (d == 1)
            return 0;
        int64_t period = 2 * (d - 1), m = ((c % period) + period) % period;
        return m < d ? m : period - m;
    }
    default: return -1;
    }
}

/* Writes value (read as a double) into element i of v, as v's type. */
static void write_scalar(qc_value *v, int64_t i, double value)
{
    switch (v->dtype) {
    case QC_FLOAT: ((float *)v->data)[i] = (float)value; break;
    case QC_UINT8: ((uint8_t *)v->data)[i] = (uint8_t)value; break;
    case QC_INT8: ((int8_t *)v->data)[i] = (int8_t)value; break;
    case QC_INT32: ((int32_t *)v->data)[i] = (int32_t)value; break;
    case QC_INT64: ((int64_t *)v->data)[i] = (int64_t)value; break;
    case QC_BOOL: ((uint8_t *)v->data)[i] = value != 0; break;
    default: break;
    }
}

static qc_status pad_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                         qc_error *err)
{
    int64_t begin[QC_MAX_RANK], end[QC_MAX_RANK], in_stride[QC_MAX_RANK];
    bool known;
    qc_status s = pad_amounts(n, in, begin, end, &known, err);
    if (s != QC_OK)
        return s;
    int rank = in[0]->rank;
    int64_t total = 0, count = qc_value_count(&out[0]);
    if (count == 0)
        return QC_OK;
    for (int i = 0; i < rank; i++)
        total += out[0].dims[i];
    /* per axis, the input index each output index reads (-1: the constant) */
    int64_t *map = qc_exec_scratch(x, (size_t)(total + 1) * sizeof *map), *axis_map[QC_MAX_RANK];
    if (!map)
        return qc_node_fail(err, n, "out of memory");
    pad_mode mode = pad_mode_of(n);
    for (int i = 0, used = 0; i < rank; used += (int)out[0].dims[i], i++) {
        axis_map[i] = map + used;
        for (int64_t o = 0; o < out[0].dims[i]; o++)
            axis_map[i][o] = pad_source(mode, o, begin[i], in[0]->dims[i]);
    }
    size_t esize = qc_dtype_size(in[0]->dtype);
    /* the constant, once, as the element type */
    double value = qc_node_attr_float(n, "value", 0);
    if (n->n_inputs > 2 && in[2] && in[2]->data && qc_value_count(in[2]) > 0)
        value = qc_read_scalar(in[2], 0);
    char fill[8];
    qc_value fill_value = {.dtype = in[0]->dtype, .data = fill};
    write_scalar(&fill_value, 0, value);
    dense_strides(in[0], in_stride);
    const char *src = in[0]->data;
    char *dst = out[0].data;
    int64_t index[QC_MAX_RANK] = {0};
    for (int64_t o = 0; o < count; o++) {
        int64_t offset = 0;
        for (int i = 0; i < rank && offset >= 0; i++) {
            int64_t c = axis_map[i][index[i]];
            offset = c < 0 ? -1 : offset + c * in_stride[i];
        }
        memcpy(dst + (size_t)o * esize, offset < 0 ? fill : src + (size_t)offset * esize, esize);
        for (int i = rank - 1; i >= 0; i--) {
            if (++index[i] < out[0].dims[i])
                break;
            index[i] = 0;
        }
    }
    return QC_OK;
}

/* ---- GatherElements ------------------------------------------------------------------------- */

static qc_status gather_elements_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    return qc_node_check_arity(n, 2, 2, 1, err);
}

static qc_status gather_elements_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                                       qc_error *err)
{
    int axis;
    if (!qc_axis(qc_node_attr_int(n, "axis", 0), in[0]->rank, &axis))
        return qc_node_fail(err, n, "axis is out of range for rank %d", in[0]->rank);
    if (in[1]->rank != in[0]->rank || (in[1]->dtype != QC_INT64 && in[1]->dtype != QC_INT32))
        return qc_node_fail(err, n, "indices must be int32 or int64 of the data's rank %d", in[0]->rank);
    out[0] = *in[1];
    out[0].dtype = in[0]->dtype;
    out[0].data = NULL;
    return QC_OK;
}

static qc_status gather_elements_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                                     qc_value *out, qc_error *err)
{
    (void)x;
    int axis, rank = in[0]->rank;
    qc_axis(qc_node_attr_int(n, "axis", 0), rank, &axis);
    int64_t stride[QC_MAX_RANK], index[QC_MAX_RANK] = {0}, count = qc_value_count(in[1]);
    int64_t len = in[0]->dims[axis];
    size_t esize = qc_dtype_size(in[0]->dtype);
    dense_strides(in[0], stride);
    for (int64_t o = 0; o < count; o++) {
        int64_t k = (int64_t)qc_read_scalar(in[1], o), offset = 0;
        k = k < 0 ? k + len : k;
        if (k < 0 || k >= len)
            return qc_node_fail(err, n, "index %lld is out of range [0, %lld)",
                                (long long)qc_read_scalar(in[1], o), (long long)len);
        for (int i = 0; i < rank; i++) {
            if (i != axis && index[i] >= in[0]->dims[i])
                return qc_node_fail(err, n, "indices are larger than the data off the axis");
            offset += (i == axis ? k : index[i]) * stride[i];
        }
        memcpy((char *)out[0].data + (size_t)o * esize, (const char *)in[0]->data + (size_t)offset * esize,
               esize);
        for (int i = rank - 1; i >= 0; i--) {
            if (++index[i] < in[1]->dims[i])
                break;
            index[i] = 0;
        }
    }
    return QC_OK;
}

/* ---- Cast ------------------------------------------------------------------------------------ */

static qc_status cast_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    qc_status s = qc_node_check_arity(n, 1, 1, 1, err);
    if (s != QC_OK)
        return s;
    const qc_attr *to = qc_node_attr(n, "to");
    if (!to || to->type != QC_ATTR_INT)
        return qc_node_fail(err, n, "attribute to is required");
    if (to->i != QC_UNDEFINED && to->i <= QC_BOOL && qc_dtype_size((qc_dtype)to->i))
        return QC_OK;
    return qc_node_fail(err, n, "cast to %s is not supported (float, uint8, int8, int32, int64 and bool are)",
                        qc_onnx_type_name(to->i));
}

static qc_status cast_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                            qc_error *err)
{
    (void)err;
    out[0] = *in[0];
    out[0].data = NULL;
    out[0].dtype = (qc_dtype)qc_node_attr_int(n, "to", QC_FLOAT);
    return QC_OK;
}

/* A float converted to an integer type truncates toward zero, as C and NumPy do; values out of
 * range saturate (C leaves them undefined) and NaN becomes 0. */
static double saturate(double v, double lo, double hi)
{
    return isnan(v) ? 0 : v < lo ? lo : v > hi ? hi : trunc(v);
}

static qc_status cast_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                          qc_error *err)
{
    (void)x, (void)n, (void)err;
    int64_t count = qc_value_count(in[0]);
    if (in[0]->dtype == out[0].dtype) {
        memcpy(out[0].data, in[0]->data, qc_value_bytes(in[0]));
        return QC_OK;
    }
    bool wrap = in[0]->dtype != QC_FLOAT && out[0].dtype != QC_FLOAT && out[0].dtype != QC_BOOL;
    for (int64_t i = 0; i < count; i++) {
        if (wrap) {
            /* integer to integer wraps modulo 2^bits, as NumPy's astype (exactly: no double) */
            int64_t v = in[0]->dtype == QC_INT64 ? ((const int64_t *)in[0]->data)[i]
                                                 : (int64_t)qc_read_scalar(in[0], i);
            switch (out[0].dtype) {
            case QC_INT64: ((int64_t *)out[0].data)[i] = v; break;
            case QC_INT32: ((int32_t *)out[0].data)[i] = (int32_t)(uint32_t)v; break;
            case QC_INT8: ((int8_t *)out[0].data)[i] = (int8_t)(uint8_t)v; break;
            default: ((uint8_t *)out[0].data)[i] = (uint8_t)v; break;
            }
            continue;
        }
        double v = qc_read_scalar(in[0], i);
        switch (out[0].dtype) {
        case QC_UINT8: v = saturate(v, 0, 255); break;
        case QC_INT8: v = saturate(v, -128, 127); break;
        case QC_INT32: v = saturate(v, INT32_MIN, INT32_MAX); break;
        case QC_INT64: v = saturate(v, -9.2233720368547758e18, 9.2233720368547748e18); break;
        default: break;
        }
        write_scalar(&out[0], i, v);
    }
    return QC_OK;
}

/* ---- Size, ConstantOfShape, Range ------------------------------------------------------------ */

static qc_status size_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                            qc_error *err)
{
    (void)n, (void)in, (void)err;
    out[0] = (qc_value){.dtype = QC_INT64, .rank = 0};
    return QC_OK;
}

static qc_status size_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                          qc_error *err)
{
    (void)x, (void)n, (void)err;
    *(int64_t *)out[0].data = qc_value_count(in[0]);
    return QC_OK;
}

static qc_status one_input_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    return qc_node_check_arity(n, 1, 1, 1, err);
}

static qc_status constant_of_shape_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    qc_status s = one_input_check(g, n, err);
    const qc_attr *a = qc_node_attr(n, "value");
    if (s == QC_OK && a &&
        (a->type != QC_ATTR_TENSOR || qc_value_count(&a->t) != 1 || !qc_dtype_size(a->t.dtype)))
        return qc_node_fail(err, n, "attribute value must be a one-element tensor of a supported type");
    return s;
}

static qc_status constant_of_shape_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                                         qc_error *err)
{
    int64_t shape[QC_MAX_RANK];
    int count;
    const qc_attr *a = qc_node_attr(n, "value");
    qc_status s = read_int_input(n, in[0], "shape", QC_MAX_RANK, shape, &count, err);
    if (s != QC_OK)
        return s;
    out[0] = (qc_value){.dtype = a ? a->t.dtype : QC_FLOAT, .rank = count};
    for (int i = 0; i < count; i++) {
        if (shape[i] < 0)
            return qc_node_fail(err, n, "shape has a negative dimension %lld", (long long)shape[i]);
        out[0].dims[i] = shape[i];
    }
    return QC_OK;
}

static qc_status constant_of_shape_run(qc_exec *x, const qc_node *n, const qc_value *const *in,
                                       qc_value *out, qc_error *err)
{
    (void)x, (void)in, (void)err;
    const qc_attr *a = qc_node_attr(n, "value");
    size_t esize = qc_dtype_size(out[0].dtype);
    int64_t count = qc_value_count(&out[0]);
    for (int64_t i = 0; i < count; i++) {
        if (a)
            memcpy((char *)out[0].data + (size_t)i * esize, a->t.data, esize);
        else
            ((float *)out[0].data)[i] = 0;
    }
    return QC_OK;
}

static qc_status range_check(const qc_graph *g, qc_node *n, qc_error *err)
{
    (void)g;
    return qc_node_check_arity(n, 3, 3, 1, err);
}

static qc_status range_infer(const qc_node *n, const qc_value *const *in, qc_value *out,
                             qc_error *err)
{
    qc_dtype t = in[0]->dtype;
    if ((t != QC_FLOAT && t != QC_INT32 && t != QC_INT64) || in[1]->dtype != t || in[2]->dtype != t)
        return qc_node_fail(err, n, "start, limit and delta must be one type: float, int32 or int64");
    for (int k = 0; k < 3; k++)
        if (qc_value_count(in[k]) != 1)
            return qc_node_fail(err, n, "input %d must be a scalar", k);
    out[0] = (qc_value){.dtype = t, .rank = 1};
    if (!in[0]->data || !in[1]->data || !in[2]->data) {
        out[0].rank = -1;
        return QC_OK;
    }
    double start = qc_read_scalar(in[0], 0), limit = qc_read_scalar(in[1], 0);
    double delta = qc_read_scalar(in[2], 0), len = ceil((limit - start) / delta);
    if (delta == 0 || isnan(len))
        return qc_node_fail(err, n, "delta is 0 or the range is not a number");
    if (len > (double)QC_MAX_ELEMENTS)
        return qc_node_fail(err, n, "the range has more than 2^40 elements");
    out[0].dims[0] = len > 0 ? (int64_t)len : 0;
    return QC_OK;
}

static qc_status range_run(qc_exec *x, const qc_node *n, const qc_value *const *in, qc_value *out,
                           qc_error *err)
{
    (void)x, (void)n, (void)err;
    int64_t count = out[0].dims[0];
    if (out[0].dtype == QC_FLOAT) {
        float start = *(const float *)in[0]->data, delta = *(const float *)in[2]->data;
        for (int64_t i = 0; i < count; i++)
            ((float *)out[0].data)[i] = start + (float)i * delta;
    } else {
        int64_t start = (int64_t)qc_read_scalar(in[0], 0), delta = (int64_t)qc_read_scalar(in[2], 0);
        for (int64_t i = 0; i < count; i++)
            write_scalar(&out[0], i, (double)(start + i * delta));
    }
    return QC_OK;
}

const qc_op qc_ops_shape[] = {
    {"Slice", "", slice_check, slice_infer, slice_run, NULL},
    {"Split", "", split_check, split_infer, split_run, NULL},
    {"Expand", "", expand_check, view_infer, view_run, NULL},
    {"Tile", "", tile_check, view_infer, view_run, NULL},
    {"DepthToSpace", "", blocks_check, view_infer, view_run, NULL},
    {"SpaceToDepth", "", blocks_check, view_infer, view_run, NULL},
    {"Pad", "", pad_check, pad_infer, pad_run, NULL},
    {"GatherElements", "", gather_elements_check, gather_elements_infer, gather_elements_run, NULL},
    {"Cast", "", cast_check, cast_infer, cast_run, NULL},
    {"Size", "", one_input_check, size_infer, size_run, NULL},
    {"ConstantOfShape", "", constant_of_shape_check, constant_of_shape_infer, constant_of_shape_run, NULL},
    {"Range", "", range_check, range_infer, range_run, NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
