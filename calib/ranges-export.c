/* ranges-export.c — a quantization report as files other tools read instead of calibrating:
 * TensorRT's INT8 calibration cache and ONNX Runtime's TensorQuantOverrides JSON
 * (docs/qparams.md, "Ranges for other tools"). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "calib.h"
#include "io/io.h"

/* The TensorRT version the header names (8.6.1): TensorRT reads caches of its own major
 * version and calibrator algorithm. */
#define TRT_CACHE_VERSION "8601"

static bool is_activation_role(const qc_quantized_tensor *t)
{
    return !strcmp(t->role, "input") || !strcmp(t->role, "activation");
}

const char *qc_trt_cache_unsupported(const qc_quantize_options *o)
{
    if (o->act_bits != 8)
        return "TensorRT's INT8 calibration cache holds 8-bit scales (amax / 127): use 8-bit activations";
    if (o->activations == QC_GRANULARITY_COMPENSATED)
        return "TensorRT's calibration cache holds one scale per tensor, and input compensation gives "
               "activations a scale per channel";
    return NULL;
}

const char *qc_ort_overrides_unsupported(const qc_quantize_options *o)
{
    if (o->act_bits != 8 || o->weight_bits != 8)
        return "ONNX Runtime's TensorQuantOverrides carry 8-bit types (QUInt8, QInt8) with their full "
               "ranges: use 8-bit weights and activations";
    if (o->activations == QC_GRANULARITY_COMPENSATED)
        return "ONNX Runtime's TensorQuantOverrides hold one activation scale per tensor, and input "
               "compensation gives activations a scale per channel";
    return NULL;
}

/* Writes with write(f, r, err) into path atomically. */
static qc_status write_atomically(const char *path, const qc_quantize_report *r,
                                  qc_status (*write)(FILE *, const qc_quantize_report *, qc_range_method,
                                                     qc_error *),
                                  qc_range_method method, qc_error *err)
{
    qc_file file;
    qc_status st = qc_file_begin(&file, path, err);
    if (st != QC_OK)
        return st;
    st = write(file.f, r, method, err);
    if (st == QC_OK && ferror(file.f))
        st = qc_fail(err, QC_ERR_IO, "cannot write '%s'", path);
    if (st != QC_OK) {
        qc_file_abort(&file);
        return st;
    }
    return qc_file_commit(&file, err);
}

/* ---- TensorRT ---------------------------------------------------------------------------- */

static qc_status write_trt(FILE *f, const qc_quantize_report *r, qc_range_method method, qc_error *err)
{
    fprintf(f, "TRT-%s-%s\n", TRT_CACHE_VERSION,
            method == QC_RANGE_ENTROPY ? "EntropyCalibration2" : "MinMaxCalibration");
    for (int i = 0; i < r->n; i++) {
        const qc_quantized_tensor *t = &r->tensors[i];
        if (!is_activation_role(t))
            continue;
        if (strpbrk(t->tensor, "\r\n"))
            return qc_fail(err, QC_ERR_INPUT, "tensor '%s': a name with a line break cannot go into a "
                                              "TensorRT calibration cache", t->tensor);
        /* amax / 127 with P10's scale 1 for a zero-width range: SymLowP int8 (P9a) */
        qc_qparams p;
        qc_status st = qc_qparams_activation(t->min, t->max, QC_SCHEME_SYMLOWP, 8, true, t->tensor, &p, err);
        if (st != QC_OK)
            return st;
        uint32_t bits;
        memcpy(&bits, &p.scale, sizeof bits);
        fprintf(f, "%s: %08x\n", t->tensor, (unsigned)bits);
    }
    return QC_OK;
}

qc_status qc_trt_cache_write(const qc_quantize_report *r, qc_range_method method, const char *path,
                             qc_error *err)
{
    return write_atomically(path, r, write_trt, method, err);
}

/* ---- ONNX Runtime ------------------------------------------------------------------------ */

static void write_ort_entry(FILE *f, const qc_qparams *p, int axis)
{
    char buf[32];
    fprintf(f, "{");
    if (axis >= 0)
        fprintf(f, "\"axis\": %d, ", axis);
    fprintf(f, "\"scale\": %s, \"zero_point\": %d, \"quant_type\": \"%s\"}", qc_float_text(p->scale, buf, sizeof buf),
            (int)p->zero_point, p->qmin < 0 ? "QInt8" : "QUInt8");
}

static qc_status write_ort(FILE *f, const qc_quantize_report *r, qc_range_method method, qc_error *err)
{
    (void)method;
    (void)err;
    fprintf(f, "{");
    bool first = true;
    for (int i = 0; i < r->n; i++) {
        const qc_quantized_tensor *t = &r->tensors[i];
        if (!is_activation_role(t) && strcmp(t->role, "weight") != 0)
            continue;
        fprintf(f, "%s\n  ", first ? "" : ",");
        first = false;
        qc_json_put_string(f, t->tensor);
        fprintf(f, ": [");
        for (int c = 0; c < t->n_channels; c++) {
            fprintf(f, "%s", c ? ", " : "");
            write_ort_entry(f, &t->params[c], t->n_channels > 1 ? t->axis : -1);
        }
        fprintf(f, "]");
    }
    fprintf(f, "\n}\n");
    return QC_OK;
}

qc_status qc_ort_overrides_write(const qc_quantize_report *r, const char *path, qc_error *err)
{
    return write_atomically(path, r, write_ort, QC_RANGE_MINMAX, err);
}
