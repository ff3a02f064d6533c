/* compare.c — broadcasting kernels whose operands or result differ in type: comparisons and
 * logic (bool results), Where, Pow (mixed base and exponent types), PRelu. */
#include "fp32-impl.h"

#include <math.h>

/* ---- comparisons ------------------------------------------------------------------------- */

#define DEFINE_COMPARE(NAME, T, EXPR)                                                         \
    static void NAME(const void *ctx, int64_t n, const char *const *src, const int64_t *step, \
                     void *vy)                                                                \
    {                                                                                         \
        (void)ctx;                                                                            \
        const T *a = (const T *)src[0], *b = (const T *)src[1];                               \
        uint8_t *y = vy;                                                                      \
        int64_t sa = step[0], sb = step[1];                                                   \
        for (int64_t i = 0; i < n; i++) {                                                     \
            T p = a[i * sa], q = b[i * sb];                                                   \
            y[i] = (EXPR) ? 1 : 0;                                                            \
        }                                                                                     \
    }

#define DEFINE_COMPARES(SUFFIX, T)                                                            \
    DEFINE_COMPARE(eq_##SUFFIX, T, p == q)                                                    \
    DEFINE_COMPARE(lt_##SUFFIX, T, p < q)                                                     \
    DEFINE_COMPARE(gt_##SUFFIX, T, p > q)                                                     \
    DEFINE_COMPARE(le_##SUFFIX, T, p <= q)                                                    \
    DEFINE_COMPARE(ge_##SUFFIX, T, p >= q)

DEFINE_COMPARES(f32, float)
DEFINE_COMPARES(u8, uint8_t)
DEFINE_COMPARES(i8, int8_t)
DEFINE_COMPARES(i32, int32_t)
DEFINE_COMPARES(i64, int64_t)

/* Indexed by qc_f32_elem, then qc_f32_compare_op. */
static const qc_f32_row_fn compare_rows[][5] = {
    [QC_F32_ELEM_FLOAT] = {eq_f32, lt_f32, gt_f32, le_f32, ge_f32},
    [QC_F32_ELEM_UINT8] = {eq_u8, lt_u8, gt_u8, le_u8, ge_u8},
    [QC_F32_ELEM_INT8] = {eq_i8, lt_i8, gt_i8, le_i8, ge_i8},
    [QC_F32_ELEM_INT32] = {eq_i32, lt_i32, gt_i32, le_i32, ge_i32},
    [QC_F32_ELEM_INT64] = {eq_i64, lt_i64, gt_i64, le_i64, ge_i64},
};

void qc_f32_compare(qc_f32_compare_op op, qc_f32_elem type, const void *a, int a_rank,
                    const int64_t *a_dims, const void *b, int b_rank, const int64_t *b_dims,
                    uint8_t *y, int y_rank, const int64_t *y_dims)
{
    size_t size = qc_f32_elem_size(type);
    qc_f32_operands ops = {.count = 2, .data = {a, b}, .rank = {a_rank, b_rank},
                           .dims = {a_dims, b_dims}, .size = {size, size}};
    qc_f32_broadcast_walk(&ops, y, 1, y_rank, y_dims, compare_rows[type][op], NULL);
}

/* ---- logic ------------------------------------------------------------------------------- */

DEFINE_COMPARE(and_b, uint8_t, p && q)
DEFINE_COMPARE(or_b, uint8_t, p || q)
DEFINE_COMPARE(xor_b, uint8_t, !p != !q)

void qc_f32_logic(qc_f32_logic_op op, const uint8_t *a, int a_rank, const int64_t *a_dims,
                  const uint8_t *b, int b_rank, const int64_t *b_dims, uint8_t *y, int y_rank,
                  const int64_t *y_dims)
{
    static const qc_f32_row_fn rows[] = {[QC_F32_AND] = and_b, [QC_F32_OR] = or_b,
                                         [QC_F32_XOR] = xor_b};
    qc_f32_operands ops = {.count = 2, .data = {a, b}, .rank = {a_rank, b_rank},
                           .dims = {a_dims, b_dims}, .size = {1, 1}};
    qc_f32_broadcast_walk(&ops, y, 1, y_rank, y_dims, rows[op], NULL);
}

void qc_f32_not(int64_t n, const uint8_t *x, uint8_t *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] ? 0 : 1;
}

/* ---- Where ------------------------------------------------------------------------------- */

#define DEFINE_SELECT(NAME, T)                                                                \
    static void NAME(const void *ctx, int64_t n, const char *const *src, const int64_t *step, \
                     void *vy)                                                                \
    {                                                                                         \
        (void)ctx;                                                                            \
        const uint8_t *c = (const uint8_t *)src[0];                                           \
        const T *a = (const T *)src[1], *b = (const T *)src[2];                               \
        T *y = vy;                                                                            \
        for (int64_t i = 0; i < n; i++)                                                       \
            y[i] = c[i * step[0]] ? a[i * step[1]] : b[i * step[2]];                          \
    }

DEFINE_SELECT(select_8, uint8_t)
DEFINE_SELECT(select_32, uint32_t)
DEFINE_SELECT(select_64, uint64_t)

void qc_f32_where(qc_f32_elem type, const uint8_t *cond, int c_rank, const int64_t *c_dims,
                  const void *a, int a_rank, const int64_t *a_dims, const void *b, int b_rank,
                  const int64_t *b_dims, void *y, int y_rank, const int64_t *y_dims)
{
    size_t size = qc_f32_elem_size(type);
    qc_f32_operands ops = {.count = 3, .data = {cond, a, b}, .rank = {c_rank, a_rank, b_rank},
                           .dims = {c_dims, a_dims, b_dims}, .size = {1, size, size}};
    qc_f32_row_fn row = size == 1 ? select_8 : size == 4 ? select_32 : select_64;
    qc_f32_broadcast_walk(&ops, y, size, y_rank, y_dims, row, NULL);
}

/* ---- Pow --------------------------------------------------------------------------------- */

typedef struct {
    qc_f32_elem base, exponent;
} pow_types;

static double read_elem(qc_f32_elem type, const char *p, int64_t i)
{
    switch (type) {
    case QC_F32_ELEM_FLOAT: return ((const float *)p)[i];
    case QC_F32_ELEM_UINT8: return ((const uint8_t *)p)[i];
    case QC_F32_ELEM_INT8: return ((const int8_t *)p)[i];
    case QC_F32_ELEM_INT32: return ((const int32_t *)p)[i];
    case QC_F32_ELEM_INT64: return (double)((const int64_t *)p)[i];
    }
    return 0.0;
}

static int64_t read_int(qc_f32_elem type, const char *p, int64_t i)
{
    return type == QC_F32_ELEM_INT64 ? ((const int64_t *)p)[i] : (int64_t)read_elem(type, p, i);
}

/* base^e by squaring, wrapping around in 64 bits. */
static int64_t int_pow(int64_t base, int64_t e)
{
    if (e < 0)
        return base == 1 ? 1 : base == -1 ? (e % 2 ? -1 : 1) : 0;
    uint64_t result = 1, b = (uint64_t)base;
    for (; e; e >>= 1, b *= b)
        if (e & 1)
            result *= b;
    return (int64_t)result;
}

/* Saturating conversion of a truncated double into an integer type's range. */
static int64_t to_int(double v, int64_t lo, int64_t hi)
{
    if (v != v)
        return 0;
    return v <= (double)lo ? lo : v >= (double)hi ? hi : (int64_t)v;
}

static void store_int(qc_f32_elem type, void *y, int64_t i, int64_t v)
{
    switch (type) {
    case QC_F32_ELEM_UINT8: ((uint8_t *)y)[i] = (uint8_t)v; break;
    case QC_F32_ELEM_INT8: ((int8_t *)y)[i] = (int8_t)v; break;
    case QC_F32_ELEM_INT32: ((int32_t *)y)[i] = (int32_t)v; break;
    case QC_F32_ELEM_INT64: ((int64_t *)y)[i] = v; break;
    case QC_F32_ELEM_FLOAT: ((float *)y)[i] = (float)v; break;
    }
}

static void pow_row(const void *ctx, int64_t n, const char *const *src, const int64_t *step,
                    void *y)
{
    const pow_types *t = ctx;
    if (t->base == QC_F32_ELEM_FLOAT) {
        const float *b = (const float *)src[0];
        if (t->exponent == QC_F32_ELEM_FLOAT) {
            const float *e = (const float *)src[1];
            for (int64_t i = 0; i < n; i++)
                ((float *)y)[i] = powf(b[i * step[0]], e[i * step[1]]);
        } else {
            for (int64_t i = 0; i < n; i++)
                ((float *)y)[i] =
                    (float)pow(b[i * step[0]], read_elem(t->exponent, src[1], i * step[1]));
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t v;
        if (t->exponent == QC_F32_ELEM_FLOAT)
            v = to_int(pow(read_elem(t->base, src[0], i * step[0]),
                           read_elem(t->exponent, src[1], i * step[1])),
                       INT64_MIN, INT64_MAX);
        else
            v = int_pow(read_int(t->base, src[0], i * step[0]),
                        read_int(t->exponent, src[1], i * step[1]));
        store_int(t->base, y, i, v);
    }
}

void qc_f32_pow(qc_f32_elem base_type, const void *base, int b_rank, const int64_t *b_dims,
                qc_f32_elem exp_type, const void *exponent, int e_rank, const int64_t *e_dims,
                void *y, int y_rank, const int64_t *y_dims)
{
    pow_types t = {base_type, exp_type};
    qc_f32_operands ops = {.count = 2, .data = {base, exponent}, .rank = {b_rank, e_rank},
                           .dims = {b_dims, e_dims},
                           .size = {qc_f32_elem_size(base_type), qc_f32_elem_size(exp_type)}};
    qc_f32_broadcast_walk(&ops, y, qc_f32_elem_size(base_type), y_rank, y_dims, pow_row, &t);
}

/* ---- PRelu ------------------------------------------------------------------------------- */

static void prelu_row(const void *ctx, int64_t n, const char *const *src, const int64_t *step,
                      void *vy)
{
    (void)ctx;
    const float *x = (const float *)src[0], *s = (const float *)src[1];
    float *y = vy;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i * step[0]];
        y[i] = v < 0.0f ? s[i * step[1]] * v : v;
    }
}

void qc_f32_prelu(const float *x, int x_rank, const int64_t *x_dims, const float *slope,
                  int s_rank, const int64_t *s_dims, float *y)
{
    qc_f32_operands ops = {.count = 2, .data = {x, slope}, .rank = {x_rank, s_rank},
                           .dims = {x_dims, s_dims}, .size = {4, 4}};
    qc_f32_broadcast_walk(&ops, y, 4, x_rank, x_dims, prelu_row, NULL);
}
