/* bench.c — what qcal bench measures: a model's latency of one input on its threads (by the
 * wall clock and the CPU time) and its throughput of batches on threads, on random
 * inputs; and a model quantized from statistics of random inputs, for its kernels' time. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calib.h"

qc_status qc_bench_quantize_random(const qc_graph *fp32, const qc_quantize_options *qo, int64_t one, int rank,
                                   const int64_t *dims, int64_t per_sample, qc_graph **out, qc_error *err)
{
    enum { N = QC_BENCH_CALIB_SAMPLES };
    const int64_t size = per_sample * one;
    float *buf = malloc(sizeof(float) * (size_t)(size * N));
    if (!buf)
        return qc_fail(err, QC_ERR_IO, "out of memory");
    char names[N][32];
    const char *name_of[N];
    for (int i = 0; i < N; i++) {
        qc_eval_random(buf + i * size, size, 1000u + (uint32_t)i);
        snprintf(names[i], sizeof names[i], "random-%d", i);
        name_of[i] = names[i];
    }
    int64_t d1[QC_MAX_RANK];
    memcpy(d1, dims, sizeof(int64_t) * (size_t)rank);
    d1[0] = one;
    qc_pass_inputs in = {.tensors = buf, .n = N, .stride = size, .rank = rank, .dims = d1, .names = name_of};
    qc_stats_options so = {.per_channel = false, .histograms = false};
    qc_gather_options go = {.limit = N, .batch = N, .shard_n = 1, .threads = 1};
    qc_stats *s = NULL;
    *out = NULL;
    qc_status st = qc_stats_gather_inputs(fp32, &in, &so, &go, &s, err);
    if (st == QC_OK)
        st = qc_quantize(fp32, s, qo, out, NULL, err);
    if (st == QC_OK)
        st = qc_pass_fuse_qdq(*out, err);
    if (st == QC_OK) /* the bound inputs (--input), as fp32's */
        st = qc_graph_copy_bindings(*out, fp32, err);
    qc_stats_destroy(s);
    free(buf);
    return st;
}

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wall_now(void)
{
    return clock_seconds(CLOCK_MONOTONIC);
}

/* what this thread spent on the CPU: unlike the wall clock, not the time it waited for a CPU
 * on a loaded machine (one thread's runs happen on the calling thread) */
static double thread_cpu_now(void)
{
    return clock_seconds(CLOCK_THREAD_CPUTIME_ID);
}

/* what every thread of the process spent on the CPU */
static double process_cpu_now(void)
{
    return clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
}

qc_status qc_bench_time(const qc_graph *g, const qc_bench_options *o, int rank, const int64_t *dims,
                        int64_t per_sample, qc_bench_timing *t, qc_error *err)
{
    const int threads = o->threads;
    float *buf = malloc(sizeof(float) * (size_t)(per_sample * o->batch));
    double *lat = malloc(sizeof(double) * (size_t)o->runs * 2), *cpu = lat ? lat + o->runs : NULL;
    if (!buf || !lat) {
        free(buf);
        free(lat);
        return qc_fail(err, QC_ERR_IO, "out of memory");
    }
    qc_eval_random(buf, per_sample * o->batch, 7u);
    int64_t d[QC_MAX_RANK];
    memcpy(d, dims, sizeof(int64_t) * (size_t)rank);
    d[0] = o->one;
    /* one input, run again and again */
    qc_pass_inputs one = {.tensors = buf, .cycle = 1, .rank = rank, .dims = d};
    /* one input in flight: every thread goes to its operators, and the CPU time is the
     * process's (the calling thread's alone with one thread) */
    qc_eval_clock clocks[2] = {{wall_now, lat}, {threads > 1 ? process_cpu_now : thread_cpu_now, cpu}};
    qc_status st = qc_eval_time_clocks(g, &one, threads, o->warmup, 1, o->runs, clocks, 2, err);
    if (st == QC_OK) {
        qc_spread_of(lat, o->runs, &t->wall);
        qc_spread_of(cpu, o->runs, &t->cpu);
    }
    d[0] = o->batch;
    qc_pass_inputs many = one;
    double seconds = 0, cpu_seconds = 0;
    qc_eval_clock whole[2] = {{wall_now, &seconds}, {process_cpu_now, &cpu_seconds}};
    if (st == QC_OK)
        st = qc_eval_time_clocks(g, &many, threads, (int64_t)threads * o->warmup, (int64_t)threads * o->runs, 1,
                                 whole, 2, err);
    const double inputs = (double)threads * (double)o->runs * (double)o->batch;
    if (st == QC_OK) {
        t->throughput = inputs / seconds;
        t->cpu_per_input = cpu_seconds / inputs;
    }
    free(lat);
    free(buf);
    return st;
}

qc_status qc_bench_input_of(const qc_graph *fp32, const char *fp32_path, const qc_graph *int8, const char *int8_path,
                            qc_bench_input *in, qc_error *err)
{
    qc_status st = qc_eval_batch_input(fp32, fp32_path, &in->rank, in->dims, &in->per_sample, &in->fixed, err);
    /* a model exported with a fixed batch runs that batch, for both figures */
    in->one = st == QC_OK && in->fixed ? in->dims[0] : 1;
    if (st != QC_OK || !int8)
        return st;
    qc_bench_input q;
    st = qc_eval_batch_input(int8, int8_path, &q.rank, q.dims, &q.per_sample, &q.fixed, err);
    if (st == QC_OK && q.fixed && (!in->fixed || q.dims[0] != in->dims[0]))
        st = qc_fail(err, QC_ERR_INPUT, "'%s' has a fixed batch of %lld; '%s' does not", int8_path,
                     (long long)q.dims[0], fp32_path);
    if (st == QC_OK && (q.rank != in->rank || q.per_sample != in->per_sample))
        st = qc_fail(err, QC_ERR_INPUT, "'%s' takes another input than '%s' (%lld values a sample, not %lld)",
                     int8_path, fp32_path, (long long)q.per_sample, (long long)in->per_sample);
    return st;
}

qc_status qc_bench_pair(const qc_graph *fp32, const char *fp32_path, const qc_graph *int8, const char *int8_path,
                        const qc_quantize_options *qo, qc_bench_options *o, qc_graph **made, qc_bench_timing *t_fp32,
                        qc_bench_timing *t_int8, qc_error *err)
{
    qc_bench_input in;
    qc_status st = qc_bench_input_of(fp32, fp32_path, int8, int8_path, &in, err);
    if (st != QC_OK)
        return st;
    o->one = in.one;
    if (in.fixed)
        o->batch = in.dims[0];
    if (!int8) { /* QDQ, from statistics of random inputs */
        if ((st = qc_bench_quantize_random(fp32, qo, o->one, in.rank, in.dims, in.per_sample, made, err)) != QC_OK)
            return st;
        int8 = *made;
    }
    st = qc_bench_time(fp32, o, in.rank, in.dims, in.per_sample, t_fp32, err);
    return st == QC_OK ? qc_bench_time(int8, o, in.rank, in.dims, in.per_sample, t_int8, err) : st;
}
