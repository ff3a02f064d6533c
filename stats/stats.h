/* stats.h — calibration statistics: what quantization needs to know about every tensor,
 * gathered in one FP32 pass, mergeable exactly, and the range methods computed from it.
 *
 * A qc_stats holds, for each recorded tensor (the model input, every float activation and
 * the float weights of Conv/Gemm/MatMul), per tensor and optionally per channel: the
 * extremes, sums of x and x², sums of each image's min and max (and of their squares), and a
 * histogram of power-of-two range. Sums are taken in double over fixed groups of images, then
 * added exactly as 256-bit fixed-point integers; histogram counts are integers too. So any
 * split of the images over threads or machines merges into the same bits
 * (docs/statistics.md).
 *
 *     qc_stats *s; qc_stats_create(g, &opts, &s, &err);   // tensors of g, weights recorded
 *     qc_stats *w = qc_stats_clone_empty(s);                // one per worker thread
 *     qc_exec_set_observer(x, qc_stats_observer, w);
 *     for each image of a group of QC_STATS_GROUP images:   // groups fixed by image index
 *         qc_stats_observe_inputs(w, g, &in, 1); qc_exec_run(x, &in, 1, &err);
 *         qc_stats_add_image(w, "3_dress/0007.png");
 *     qc_stats_flush(w);                                    // after each group
 *     qc_stats_merge(s, w, &err);                           // any order, same result
 *     qc_stats_save(s, "stats.json", &err);
 *     qc_stats_range(&s->tensors[i], QC_RANGE_ENTROPY, &params, -1, &lo, &hi, &err);
 */
#ifndef QCAL_STATS_H
#define QCAL_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../graph/graph.h"
#include "../io/io.h"

#define QC_STATS_FORMAT "qcal-stats"
#define QC_STATS_VERSION 1

/* ---- exact sums ------------------------------------------------------------------------- */

/* A signed fixed-point number: a 256-bit two's complement integer in units of 2^-128. A double
 * below 2^127 in magnitude keeps every bit worth 2^-128 or more (so it converts exactly from
 * 2^-76 up; lower bits are truncated toward zero), and adding is integer addition, so sums
 * do not depend on the order of the terms. */
typedef struct {
    uint64_t w[4]; /* little-endian words */
} qc_fix;

/* x converted into f; false (f unchanged) when |x| ≥ 2^127 or x is not finite. */
bool qc_fix_from_double(double x, qc_fix *f);
void qc_fix_add(qc_fix *a, const qc_fix *b); /* a += b (wraps like the integers it is) */
double qc_fix_to_double(const qc_fix *f); /* nearest within a few ulp; deterministic */
bool qc_fix_is_zero(const qc_fix *f);
bool qc_fix_equal(const qc_fix *a, const qc_fix *b);
/* Text form: "-" for negative values, then the magnitude in lowercase hexadecimal without
 * leading zeros ("0" for zero), in units of 2^-128. buf needs QC_FIX_STR bytes. */
#define QC_FIX_STR 68
char *qc_fix_str(const qc_fix *f, char *buf);
bool qc_fix_parse(const char *s, qc_fix *f);

/* ---- what is recorded per tensor ---------------------------------------------------------- */

/* Sums over samples. A sample is one image (activations, the input) or the whole tensor
 * once (weights). */
typedef struct {
    float min, max;         /* extremes of all values; +inf/-inf before the first sample */
    qc_fix sum, sumsq;      /* Σx and Σx² over all values */
    qc_fix smin, smin2;     /* Σ over samples of the sample's min, and of min² */
    qc_fix smax, smax2;     /* Σ over samples of the sample's max, and of max² */
} qc_moments;

/* Histogram over [−R, R), R = 2^log2_range, QC_HIST_BINS bins of width R / QC_HIST_HALF:
 * bin b holds x with (b − QC_HIST_HALF)·width ≤ x < (b − QC_HIST_HALF + 1)·width. R is the
 * smallest power of two above the absolute maximum (2^QC_HIST_LOG2_MIN when all values are
 * 0); when it grows, bins are merged in aligned groups, which is exact. */
#define QC_HIST_HALF 2048
#define QC_HIST_BINS (2 * QC_HIST_HALF)
#define QC_HIST_LOG2_MIN (-149)
typedef struct {
    int log2_range;
    int64_t total;   /* Σ counts; 0 before the first value */
    int64_t *counts; /* QC_HIST_BINS, owned; NULL when histograms are not recorded */
    /* collection state (not saved): the counts of the activations since the last
     * qc_stats_flush, in four copies of the bins (stats/collect.c) taken in turn, so that a
     * run of values in one bin does not make each increment wait for the one before */
    uint32_t *pend;       /* owned; NULL until the first activation */
    int pend_lo, pend_hi; /* the pending bins lie in pend_lo … pend_hi (none when lo > hi) */
    int64_t pend_n;       /* values pending (each copy holds at most this many) */
} qc_hist;

/* The samples since the last qc_stats_flush: their extremes (+inf/-inf before the first), and
 * their sums in double, in the order they came. Kept apart from the qc_moments, which are
 * large, so that a sample touches one small record per channel. */
typedef struct {
    float min, max;
    double sum, sumsq, smin, smin2, smax, smax2;
} qc_pending;

typedef enum {
    QC_ROLE_INPUT = 0,      /* a graph input */
    QC_ROLE_ACTIVATION = 1, /* a float tensor produced by a node */
    QC_ROLE_WEIGHT = 2,     /* the constant weight (input 1) of a Conv, Gemm or MatMul */
} qc_role;

typedef struct {
    char *name;                  /* owned */
    qc_role role;
    int rank;
    int64_t dims[QC_MAX_RANK];   /* shape at batch 1 */
    int axis;                    /* channel axis: 1 for activations (NCHW), the output-channel
                                    axis for weights, -1 when the tensor has no channels */
    int channels;                /* dims[axis], or 1 */
    int64_t numel;               /* elements per sample */
    int64_t samples;             /* images seen (1 for weights, 0 before any) */
    qc_moments t;                /* the whole tensor */
    qc_moments *ch;              /* per channel (channels entries), owned; NULL at tensor
                                    granularity (weights always have them) */
    qc_pending *pend;            /* owned: [0] the tensor, [1 + c] channel c (not saved) */
    qc_hist hist;                /* per tensor only */
} qc_tensor_stats;

/* One sample of one channel (or tensor): its extremes and sums in double. */
typedef struct {
    float min, max;
    double sum, sumsq;
} qc_span;

typedef struct {
    /* model identity */
    uint64_t model_hash;     /* FNV-1a 64 of the model file */
    char *model_file;        /* owned: the model file's base name (informative) */
    bool has_pp;
    qc_preprocess pp;        /* how images became inputs (must agree to merge) */
    bool per_channel, histograms;
    /* images */
    int64_t images;
    uint64_t images_digest;  /* Σ FNV-1a 64 of the images' relative paths, mod 2^64 */
    /* shards: shard_count 0 for a complete run; otherwise this file holds the shards whose
     * indices are listed, out of shard_count over a list of shard_images images whose
     * digest is shard_digest */
    int shard_count, n_shards;
    int *shards;             /* owned, sorted */
    int64_t shard_images;
    uint64_t shard_digest;
    /* tensors */
    int n_tensors;
    qc_tensor_stats *tensors; /* owned */
    /* collection state (not saved) */
    int n_graph_tensors;
    int *slot;               /* owned: graph tensor index → index in tensors, or -1 */
    qc_status status;        /* first error met by the observer */
    qc_error err;
    qc_span *scratch;        /* owned: one sample's per-channel values */
    int scratch_size;
    bool pending;            /* some qc_pending holds samples */
    /* a model with a fixed batch: each value the observer sees is batch_rows equal rows in
     * memory order, of which the first real_rows are samples (the rest padding); 0: one */
    int64_t batch_rows, real_rows;
} qc_stats;

typedef struct {
    bool per_channel;        /* record per-channel moments too */
    bool histograms;         /* record histograms (needed by percentile, entropy, mse) */
    uint64_t model_hash;
    const char *model_file;
    const qc_preprocess *pp; /* may be NULL */
} qc_stats_options;

/* FNV-1a 64 of a buffer continued from h (start with QC_FNV_BASIS). */
#define QC_FNV_BASIS 0xcbf29ce484222325ull
uint64_t qc_fnv1a64(const void *data, size_t size, uint64_t h);
/* FNV-1a 64 of a file's bytes. */
qc_status qc_stats_hash_file(const char *path, uint64_t *hash, qc_error *err);

/* An empty qc_stats with no tensors (for tests and tools), or the tensors of a prepared
 * graph: its float inputs, every float tensor a node produces, and the constant float
 * weights of Conv, Gemm and MatMul, in node order. Weights are recorded at once. */
qc_stats *qc_stats_create_empty(const qc_stats_options *o);
qc_status qc_stats_create(const qc_graph *g, const qc_stats_options *o, qc_stats **out,
                          qc_error *err);
/* Adds a tensor (name copied); returns its index or -1 when out of memory. */
int qc_stats_add_tensor(qc_stats *s, const char *name, qc_role role, int rank,
                        const int64_t *dims, int axis);
/* Same tensors and options, nothing recorded: the accumulator of one worker. */
qc_stats *qc_stats_clone_empty(const qc_stats *s);
void qc_stats_destroy(qc_stats *s);

/* Records one sample of tensor index i. The value's element count must be the tensor's
 * numel; non-finite values are refused. Errors are kept in s->status / s->err (the first
 * one wins) because the executor's observer cannot return them.
 * The sample's extremes, sums (in double) and histogram counts are first added to pending
 * ones, which qc_stats_flush adds exactly to the totals (read them only after a flush); the
 * caller flushes after fixed groups of images (QC_STATS_GROUP consecutive images of the
 * sorted list), so that every way of splitting the images over threads and shards adds the
 * same doubles. */
void qc_stats_observe(qc_stats *s, int i, const qc_value *v);
void qc_stats_flush(qc_stats *s);
#define QC_STATS_GROUP 16
/* The qc_observer to give qc_exec_set_observer, ctx = the worker's qc_stats. */
void qc_stats_observer(void *ctx, const qc_graph *g, int tensor, const qc_value *value);
/* Records the graph inputs (the executor does not report them): inputs holds those fed at run
 * time (qc_graph_fed_input), and inputs bound to a constant are recorded from the graph. */
void qc_stats_observe_inputs(qc_stats *s, const qc_graph *g, const qc_value *inputs, int n);
/* Counts one image and adds its relative path to the digest. */
void qc_stats_add_image(qc_stats *s, const char *rel);

/* ---- gathering over an image set (gather.c) ---------------------------------------------- */

/* Called after each step of groups with the images done so far and the shard's total. */
typedef void (*qc_progress_fn)(void *ctx, int64_t done, int64_t total);

typedef struct {
    int64_t limit;          /* at most the first limit images of the sorted list */
    int64_t batch;          /* images in flight per step (rounded up to whole groups) */
    int shard_i, shard_n;   /* the groups of QC_STATS_GROUP images numbered i modulo n (0/1:
                               all) */
    int threads;            /* workers, each with its own executor and accumulator */
    qc_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    bool skip_bad;          /* an image that cannot be loaded is left out, not an error */
    qc_skip_fn on_skip;     /* with skip_bad: told each image left out, in order; may be NULL */
    void *skip_ctx;
    struct qc_group_table **groups; /* when not NULL: *groups gets each group's per-tensor
                                       summaries (adequacy.c); the statistics are the same */
} qc_gather_options;

/* ---- one pass of a graph over inputs (gather.c): statistics here, evaluation in calib/ ---- */

/* The inputs of a pass: the images of set, decoded by pp as they run (batch 1, the graph's
 * N x C x H x W input with N = 1; a model with a fixed batch runs them that many at a time); or n tensors in memory, input k at tensors + k × stride
 * (stride 0: one tensor n times; cycle > 0: input k is tensor k mod cycle), of shape rank × dims
 * (dims NULL: as images). names, when not NULL, are what statistics record of each tensor
 * (else "input-K"). */
typedef struct {
    const qc_image_set *set;
    const qc_preprocess *pp;
    const float *tensors;
    int64_t n, stride, cycle;
    int rank;
    const int64_t *dims;
    const char *const *names;
} qc_pass_inputs;

/* What a pass does with each input; every hook may be NULL. A hook's error stops the pass; of
 * several, the one of the first group is returned. slot is the input's place in its step. */
typedef struct {
    void *ctx;
    /* on each worker once, before its first input (an observer, say) */
    qc_status (*start)(void *ctx, int worker, qc_exec *x, qc_error *err);
    /* on a worker, before and after input index runs on x (its outputs are the results) */
    void (*before)(void *ctx, int worker, int64_t index, const qc_value *in);
    /* with a model's fixed batch, before each run: its first real rows are inputs, the other
     * rows up to batch padding (also once per run of an input that is a whole batch) */
    void (*rows)(void *ctx, int worker, int64_t real, int64_t batch);
    /* row: the input's row in x's batch (0 unless the model has a fixed batch) */
    qc_status (*after)(void *ctx, int worker, int64_t slot, int64_t index, int64_t row, qc_exec *x,
                       qc_error *err);
    /* on a worker, after each of its groups */
    qc_status (*group_end)(void *ctx, int worker, qc_error *err);
    /* on the calling thread after each step: the indices of its inputs, in order */
    qc_status (*step_end)(void *ctx, const int64_t *indices, int64_t count, qc_error *err);
    /* with keep_unreadable, an image that cannot be read goes here (why: status, why) instead
     * of stopping the pass */
    bool keep_unreadable;
    qc_status (*unreadable)(void *ctx, int64_t slot, int64_t index, qc_status status,
                            const qc_error *why, qc_error *err);
    int64_t group; /* inputs a worker takes at once (0: QC_STATS_GROUP) */
    qc_exec **execs; /* the caller's executors of g, one per thread (NULL: the pass's own) */
} qc_pass_hooks;

/* Runs g over the first o->limit inputs of the shard o says, o->batch of them in flight per
 * step (whole groups), on o->threads threads, calling o->progress after each step. */
qc_status qc_pass_run(const qc_graph *g, const qc_pass_inputs *in, const qc_gather_options *o,
                      const qc_pass_hooks *h, qc_error *err);
/* The inputs a worker takes at once with these hooks: h->group (0: QC_STATS_GROUP), for a
 * model with a fixed batch rounded up to whole batches unless the groups have an end hook. */
int64_t qc_pass_group_size(const qc_graph *g, const qc_pass_inputs *in, const qc_pass_hooks *h);
/* How many inputs a pass with this limit runs (before sharding). */
int64_t qc_pass_count(const qc_pass_inputs *in, int64_t limit);

/* Runs the FP32 graph g (one image input, qc_image_input_of) over the images of set, preprocessed
 * by pp, and returns in *out the statistics of the options so (a shard records which it is).
 * The result is the same, byte for byte once written, whatever threads and batch, and the
 * shards merged equal one run over all the images. A bad image is QC_ERR_INPUT naming it;
 * with o->skip_bad it is left out (not counted), and no image left is QC_ERR_INPUT. */
qc_status qc_stats_gather(const qc_graph *g, const qc_image_set *set, const qc_preprocess *pp,
                          const qc_stats_options *so, const qc_gather_options *o,
                          qc_stats **out, qc_error *err);

/* The hooks qc_stats_gather runs a pass with: each worker's inputs observed into
 * workers[worker], flushed after each group of QC_STATS_GROUP (for a caller that keeps its own
 * accumulators across passes; p must outlive the pass). */
typedef struct {
    const qc_graph *g;
    const qc_pass_inputs *in;
    qc_stats **workers; /* one per thread, e.g. qc_stats_clone_empty of one root */
    /* skip_bad: the images of a step that could not be read, by slot, and why (NULL: a bad
     * image stops the pass); told to on_skip in order at the step's end, and counted */
    bool *skipped;
    qc_error *why;
    qc_skip_fn on_skip;
    void *skip_ctx;
    int64_t n_skipped;
    struct qc_group_table *groups; /* NULL, or where each group's summaries go (adequacy.c) */
    int64_t *group_of;             /* per worker: the group it runs (-1 before an image) */
} qc_stats_pass;
qc_pass_hooks qc_stats_hooks(qc_stats_pass *p);

/* The same over any inputs of a pass (tensors in memory: random inputs, preloaded images). */
qc_status qc_stats_gather_inputs(const qc_graph *g, const qc_pass_inputs *in, const qc_stats_options *so,
                                 const qc_gather_options *o, qc_stats **out, qc_error *err);

/* dst += src (both flushed first). Both must describe the same model, preprocessing and
 * options; the sums and histograms are added exactly, weights (recorded once per model) kept
 * once. Shards must come from the same image list, with distinct indices. */
qc_status qc_stats_merge(qc_stats *dst, qc_stats *src, qc_error *err);

/* Is s about this graph (its tensor names and, when model_hash is not 0, the hash)? */
qc_status qc_stats_check_model(const qc_stats *s, const qc_graph *g, uint64_t model_hash,
                               const char *stats_name, const char *model_name, qc_error *err);

/* Were the images of s preprocessed as pp says (colour, size, crop, scale, mean, std)? A file
 * that records no preprocessing passes. A difference is QC_ERR_INPUT naming the first field
 * that differs, its value in the file and in pp. */
qc_status qc_stats_check_preprocess(const qc_stats *s, const qc_preprocess *pp, const char *stats_name,
                                    const char *model_name, qc_error *err);
/* Does s hold every shard of its split (not a partial merge)? QC_ERR_INPUT naming the shards
 * it holds otherwise. */
qc_status qc_stats_check_complete(const qc_stats *s, const char *stats_name, qc_error *err);

/* JSON (docs/statistics.md). Writing is deterministic: the same statistics give the same
 * bytes; pending sums are not written (flush first). qc_stats_save writes atomically. */
qc_status qc_stats_write(const qc_stats *s, FILE *f, qc_error *err);
qc_status qc_stats_save(const qc_stats *s, const char *path, qc_error *err);
qc_status qc_stats_parse(const char *text, size_t size, const char *name, qc_stats **out,
                         qc_error *err);
qc_status qc_stats_load(const char *path, qc_stats **out, qc_error *err);
int qc_stats_find(const qc_stats *s, const char *name); /* tensor index or -1 */
/* The statistics in path, checked against the model they are used with: g and its file's
 * hash (qc_stats_check_model), the preprocessing pp it now takes (NULL: not checked, a model
 * without an image input), and completeness: a partial merge is QC_ERR_INPUT unless
 * allow_partial, then *partial is set. *s is NULL on error. */
qc_status qc_stats_load_checked(const char *path, const qc_graph *g, uint64_t hash, const char *model_path,
                                const qc_preprocess *pp, bool allow_partial, bool *partial, qc_stats **s,
                                qc_error *err);

/* ---- range methods (docs/statistics.md has the formulas) ---------------------------------- */

typedef enum {
    QC_RANGE_MINMAX = 0,
    QC_RANGE_AVG,
    QC_RANGE_AVGSTD,
    QC_RANGE_MEANSTD,
    QC_RANGE_PERCENTILE,
    QC_RANGE_ENTROPY,
    QC_RANGE_MSE,
    QC_RANGE_COUNT
} qc_range_method;

typedef struct {
    double n_std;      /* avgstd, meanstd: n (default 3) */
    double percentile; /* percentile: p in (0, 100] (default 99.99) */
    int bits;          /* entropy, mse: target bit width 2..16 (default 8) */
} qc_range_params;

void qc_range_params_default(qc_range_params *p);
const char *qc_range_method_name(qc_range_method m);
/* The method named s, or -1. */
int qc_range_method_parse(const char *s);
bool qc_range_method_uses_histogram(qc_range_method m);

/* Mean and (population) standard deviation of all values of the tensor (channel -1) or of
 * one channel; false when nothing was recorded. */
bool qc_stats_mean_std(const qc_tensor_stats *t, int channel, double *mean, double *std);
/* The range [lo, hi] method m gives for the tensor (channel -1) or one channel. Histogram
 * methods are per tensor; they need histograms. Always lo ≤ hi, inside [min, max]. Parameters
 * out of bounds are QC_ERR_USAGE; a channel that was not recorded, a tensor without samples or
 * without a histogram QC_ERR_INPUT. */
qc_status qc_stats_range(const qc_tensor_stats *t, qc_range_method m, const qc_range_params *p,
                         int channel, float *lo, float *hi, qc_error *err);

/* ---- calibration adequacy (adequacy.c, docs/statistics.md §8) ------------------------------ */

/* Each group's per-tensor summary, as the group was flushed: the extremes and the double sums
 * of its samples (qc_pending: min, max, Σx, Σx², Σmin, Σmin², Σmax, Σmax²) and its image count.
 * Adding the groups' sums exactly (qc_fix) gives back the totals of the statistics bit for bit,
 * so any multiset of groups gives the statistics those images would have given. Weights are
 * constant and have no groups (their summaries stay empty). */
typedef struct qc_group_table {
    int n_tensors;
    int64_t n_groups;  /* groups of the image list (a shard fills only its own) */
    int64_t *images;   /* per group: the images it counted (0: not run, or all skipped) */
    qc_pending *sums;  /* [group · n_tensors + tensor] */
} qc_group_table;

/* A table for s's tensors and the groups of `images` images (the pass's count); NULL on no
 * memory. */
qc_group_table *qc_group_table_create(const qc_stats *s, int64_t images);
void qc_group_table_destroy(qc_group_table *g);
/* Tensor i of s recomputed from the groups with counts[k] copies of group k (counts NULL: each
 * group once): moments, samples, no histogram, no channels. out borrows t's name. */
void qc_group_table_combine(const qc_group_table *g, const qc_stats *s, int i, const int *counts,
                            qc_tensor_stats *out);

/* The scale a range gives (the caller's quantization scheme, so stats/ stays below calib/). */
typedef double (*qc_scale_fn)(void *ctx, float lo, float hi);

typedef struct {
    qc_range_method method;  /* the method quantize would use */
    qc_range_params params;  /* its n_std */
    double tolerance;        /* relative standard deviation of the scale allowed, e.g. 0.05 */
    int resamples;           /* bootstrap resamples B (default 200) */
    uint64_t seed;           /* of the resampling (default 0): the same seed, the same result */
    qc_scale_fn scale;
    void *scale_ctx;
} qc_adequacy_options;

typedef struct {
    int tensor;             /* index in the statistics */
    double scale;           /* from every group */
    double boot_mean, rsd;  /* bootstrap mean of the scale, its std / scale */
    double lo90, hi90;      /* 5th and 95th percentiles of the bootstrap scale */
    int64_t images_needed;  /* images that bring rsd within the tolerance, whole groups:
                               ⌈n·(rsd/tol)² / 16⌉·16; the current count when already within */
    bool uncertain;         /* rsd > tolerance */
} qc_adequacy_tensor;

typedef struct {
    qc_range_method method, evaluated; /* asked, and recomputed (a histogram method: avg) */
    int64_t images, groups;            /* images and non-empty groups resampled */
    double tolerance;                  /* the options' */
    int n;                             /* tensors evaluated (inputs and activations) */
    qc_adequacy_tensor *tensors;       /* owned, in the statistics' order */
    int n_uncertain;
} qc_adequacy;

/* The moment method a histogram method's adequacy is evaluated with (avg), or m itself. */
qc_range_method qc_adequacy_method(qc_range_method m);
void qc_adequacy_options_default(qc_adequacy_options *o);
/* Bootstrap over the groups of g (B resamples of as many groups, drawn with replacement):
 * per tensor, the spread of the scale o->scale gives to the range of o->method. Deterministic.
 * QC_ERR_INPUT when fewer than 2 groups hold images; QC_ERR_USAGE for bad options. */
qc_status qc_adequacy_run(const qc_stats *s, const qc_group_table *g, const qc_adequacy_options *o,
                          qc_adequacy *out, qc_error *err);
void qc_adequacy_free(qc_adequacy *a);

/* ---- summaries of a statistics file (range.c, gather.c) ----------------------------------- */

/* The smallest and largest per-channel range (max - min) of t; false without per-channel
 * values (fewer than 2 channels, nothing recorded). */
bool qc_stats_channel_spread(const qc_tensor_stats *t, double *lo, double *hi);
/* The images of its shard a gather with o runs over a set of n_images: the first o->limit,
 * those of the groups of QC_STATS_GROUP numbered o->shard_i modulo o->shard_n. */
int64_t qc_gather_count(const qc_gather_options *o, int64_t n_images);
/* Of a choice of methods (methods[m] for each qc_range_method m): whether one reads
 * histograms; and, for statistics without them, those cleared (how many were). */
bool qc_range_methods_use_histograms(const bool methods[QC_RANGE_COUNT]);
int qc_range_methods_drop_histograms(bool methods[QC_RANGE_COUNT]);
/* A comma-separated list of method names, or "all", into methods; false when a name is
 * unknown or the list is empty or longer than 255 characters. */
bool qc_range_methods_parse(const char *list, bool methods[QC_RANGE_COUNT]);
/* The range parameters as written on a command line: n_std a finite number >= 0 (read as a
 * float), the percentile in (50, 100]; false otherwise. */
bool qc_range_n_std_parse(const char *text, double *n_std);
bool qc_range_percentile_parse(const char *text, double *percentile);

/* "input", "activation" or "weight": a role as the files and reports name it (file.c). */
const char *qc_role_name(qc_role r);
/* t's shape as tables show it, "1x64x7x7" ("scalar" for rank 0), in buf (file.c). */
char *qc_stats_shape_text(const qc_tensor_stats *t, char *buf, size_t size);

/* --shard's "I/N" (0 <= I < N <= 2^20) into *i and *n (gather.c); false when malformed. */
bool qc_shard_parse(const char *text, int *i, int *n);
/* The statistics files at paths[0..n) loaded and merged into *out (file.c), which the caller
 * destroys even on error; a merge that fails names both files. */
qc_status qc_stats_merge_files(const char *const *paths, int n, qc_stats **out, qc_error *err);

#endif
