/* dwconv-avx2.c — the depthwise kernel with 8 output pixels per ymm register: each lane does
 * the scalar kernel's operations in its order (product rounded, then added; no FMA), so the
 * bits are the same. */
#include "fp32-impl.h"

#include "avx2-impl.h"

/* nv (1 to 4) vectors of outputs at once, vector v read from src[v] (the plane at its first
 * tap) and stored to y[v] under m[v]: nv independent chains of adds per weight broadcast, so
 * that the adds' latency overlaps. Inlined with nv constant. */
static inline __attribute__((always_inline)) void vectors8(const qc_f32_dwrows *r,
                                                           const float *const *src,
                                                           float *const *y, const __m256i *m,
                                                           int nv)
{
    int64_t cols = r->cols, sw = r->stride_w, dh = r->dilation_h, dw = r->dilation_w;
    __m256 acc[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        acc[v] = _mm256_setzero_ps();
    for (int64_t kh = 0; kh < r->kernel_h; kh++)
        for (int64_t kw = 0; kw < r->kernel_w; kw++) {
            __m256 wv = _mm256_set1_ps(r->w[kh * r->kernel_w + kw]);
            int64_t tap = kh * dh * cols + kw * dw;
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[v] = _mm256_add_ps(
                    acc[v], _mm256_mul_ps(wv, qc_f32_load_strided8(src[v] + tap, sw, m[v])));
        }
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
        __m256 out = r->has_bias ? _mm256_add_ps(acc[v], _mm256_set1_ps(r->bias)) : acc[v];
        if (r->clamp.on) /* the bound first: the scalar clamp's comparisons (unary-avx2.c) */
            out = _mm256_min_ps(_mm256_set1_ps(r->clamp.hi),
                                _mm256_max_ps(_mm256_set1_ps(r->clamp.lo), out));
        _mm256_maskstore_ps(y[v], m[v], out);
    }
}

static void some_vectors8(const qc_f32_dwrows *r, const float *const *src, float *const *y,
                          const __m256i *m, int nv)
{
    if (nv >= 4)
        vectors8(r, src, y, m, 4);
    else if (nv == 3)
        vectors8(r, src, y, m, 3);
    else if (nv == 2)
        vectors8(r, src, y, m, 2);
    else
        vectors8(r, src, y, m, 1);
}

void qc_f32_dwconv_rows__avx2(const qc_f32_dwrows *r, float *y)
{
    const float *src[4];
    float *dst[4];
    __m256i m[4];
    if (r->out_w <= 8) { /* narrow rows: up to 4 rows at once, one vector each */
        for (int64_t oh = 0; oh < r->out_h; oh += 4) {
            int nv = r->out_h - oh < 4 ? (int)(r->out_h - oh) : 4;
            for (int v = 0; v < nv; v++) {
                src[v] = r->base + (oh + v) * r->row_step;
                dst[v] = y + (oh + v) * r->out_w;
                m[v] = qc_f32_lanes8(r->out_w);
            }
            some_vectors8(r, src, dst, m, nv);
        }
        return;
    }
    for (int64_t oh = 0; oh < r->out_h; oh++) /* wide rows: up to 4 vectors of a row at once */
        for (int64_t ow = 0; ow < r->out_w; ow += 32) {
            int64_t left = r->out_w - ow;
            int nv = left > 24 ? 4 : (int)((left + 7) / 8);
            for (int v = 0; v < nv; v++) {
                src[v] = r->base + oh * r->row_step + (ow + 8 * v) * r->stride_w;
                dst[v] = y + oh * r->out_w + ow + 8 * v;
                m[v] = qc_f32_lanes8(left - 8 * v);
            }
            some_vectors8(r, src, dst, m, nv);
        }
}
