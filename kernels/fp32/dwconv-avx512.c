/* dwconv-avx512.c — the depthwise kernel with 16 output pixels per zmm register: each lane
 * does the scalar kernel's operations in its order (product rounded, then added; no FMA), so
 * the bits are the same. */
#include "fp32-impl.h"

#include "avx512-impl.h"

/* the sum + bias, then the clamp: vmaxps/vminps with the bound first are the scalar clamp's
 * comparisons (unary-avx512.c) */
static inline __m512 finish16(const qc_f32_dwrows *r, __m512 acc)
{
    if (r->has_bias)
        acc = _mm512_add_ps(acc, _mm512_set1_ps(r->bias));
    if (r->clamp.on)
        acc = _mm512_min_ps(_mm512_set1_ps(r->clamp.hi),
                            _mm512_max_ps(_mm512_set1_ps(r->clamp.lo), acc));
    return acc;
}

/* nv (1 to 4) vectors of outputs at once, vector v read from src[v] (the plane at its first
 * tap) and stored to y[v] under m[v]: nv independent chains of adds per weight broadcast, so
 * that the adds' latency overlaps. Inlined with nv constant. */
static inline __attribute__((always_inline)) void vectors16(const qc_f32_dwrows *r,
                                                            const float *const *src,
                                                            float *const *y,
                                                            const __mmask16 *m, int nv)
{
    int64_t cols = r->cols, sw = r->stride_w, dh = r->dilation_h, dw = r->dilation_w;
    __m512 acc[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        acc[v] = _mm512_setzero_ps();
    for (int64_t kh = 0; kh < r->kernel_h; kh++)
        for (int64_t kw = 0; kw < r->kernel_w; kw++) {
            __m512 wv = _mm512_set1_ps(r->w[kh * r->kernel_w + kw]);
            int64_t tap = kh * dh * cols + kw * dw;
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                acc[v] = _mm512_add_ps(
                    acc[v], _mm512_mul_ps(wv, qc_f32_load_strided16(src[v] + tap, sw, m[v])));
        }
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        _mm512_mask_storeu_ps(y[v], m[v], finish16(r, acc[v]));
}

static void some_vectors16(const qc_f32_dwrows *r, const float *const *src, float *const *y,
                           const __mmask16 *m, int nv)
{
    if (nv >= 4)
        vectors16(r, src, y, m, 4);
    else if (nv == 3)
        vectors16(r, src, y, m, 3);
    else if (nv == 2)
        vectors16(r, src, y, m, 2);
    else
        vectors16(r, src, y, m, 1);
}

/* Any kernel: narrow rows up to 4 at once (a vector each), wide ones up to 4 vectors of a row
 * at once. */
static void rows16(const qc_f32_dwrows *r, float *y)
{
    const float *src[4];
    float *dst[4];
    __mmask16 m[4];
    if (r->out_w <= 16) {
        for (int64_t oh = 0; oh < r->out_h; oh += 4) {
            int nv = r->out_h - oh < 4 ? (int)(r->out_h - oh) : 4;
            for (int v = 0; v < nv; v++) {
                src[v] = r->base + (oh + v) * r->row_step;
                dst[v] = y + (oh + v) * r->out_w;
                m[v] = qc_f32_lanes16(r->out_w);
            }
            some_vectors16(r, src, dst, m, nv);
        }
        return;
    }
    for (int64_t oh = 0; oh < r->out_h; oh++)
        for (int64_t ow = 0; ow < r->out_w; ow += 64) {
            int64_t left = r->out_w - ow;
            int nv = left > 48 ? 4 : (int)((left + 15) / 16);
            for (int v = 0; v < nv; v++) {
                src[v] = r->base + oh * r->row_step + (ow + 16 * v) * r->stride_w;
                dst[v] = y + oh * r->out_w + ow + 16 * v;
                m[v] = qc_f32_lanes16(left - 16 * v);
            }
            some_vectors16(r, src, dst, m, nv);
        }
}

/* A 3x3 kernel without dilation: the 9 weights stay in registers over the whole plane, one
 * vector of 16 outputs per step (the steps' chains are independent, so they overlap). */
static inline __attribute__((always_inline)) void rows16_k3(const qc_f32_dwrows *r, float *y,
                                                            int64_t stride)
{
    __m512 w[9];
    for (int t = 0; t < 9; t++)
        w[t] = _mm512_set1_ps(r->w[t]);
    for (int64_t oh = 0; oh < r->out_h; oh++) {
        const float *row = r->base + oh * r->row_step;
        float *yo = y + oh * r->out_w;
        for (int64_t ow = 0; ow < r->out_w; ow += 16) {
            __mmask16 m = qc_f32_lanes16(r->out_w - ow);
            const float *src = row + ow * stride;
            __m512 acc = _mm512_setzero_ps();
#pragma GCC unroll 3
            for (int kh = 0; kh < 3; kh++)
#pragma GCC unroll 3
                for (int kw = 0; kw < 3; kw++)
                {
                    __m512 x = qc_f32_load_strided16(src + kh * r->cols + kw, stride, m);
                    acc = _mm512_add_ps(acc, _mm512_mul_ps(w[kh * 3 + kw], x));
                }
            _mm512_mask_storeu_ps(yo + ow, m, finish16(r, acc));
        }
    }
}

/* MobileNet's 3x3 kernels at stride 1 and 2 get their own code */
void qc_f32_dwconv_rows__avx512(const qc_f32_dwrows *r, float *y)
{
    bool k3 = r->kernel_h == 3 && r->kernel_w == 3 && r->dilation_h == 1 && r->dilation_w == 1;
    if (k3 && r->stride_w == 1)
        rows16_k3(r, y, 1);
    else if (k3 && r->stride_w == 2)
        rows16_k3(r, y, 2);
    else
        rows16(r, y);
}
