/* conformance.c — runs ONNX's own node tests (model.onnx, input_*.pb, output_*.pb) whose ops
 * qcal supports, and compares every output: floats within rtol 1e-3 / atol 1e-7, integers
 * exactly. Cases listed in tests/conformance-skip.txt are reported with their reason.
 *
 * usage: conformance [--verbose] [DIR…]   (default: /usr/share/libonnx-testdata/data/node
 *        and tests/data/pytorch, PyTorch exports with PyTorch's outputs, and
 *        tests/data/onnxruntime, one-node models with ONNX Runtime's outputs; a DIR is a case
 *        folder or a folder of cases) */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "graph/graph.h"
#include "io/io.h"
#include "onnx.pb-c.h"

#define DEFAULT_ROOT "/usr/share/libonnx-testdata/data/node"
#define PYTORCH_ROOT "tests/data/pytorch"
#define ORT_ROOT "tests/data/onnxruntime"
#define SKIP_FILE "tests/conformance-skip.txt"
#define FLOAT_RTOL 1e-3
#define FLOAT_ATOL 1e-7
#define MAX_IO 16

typedef struct {
    char name[128];
    char reason[256];
} skip_entry;

#define MAX_SKIPS 1024
static skip_entry skips[MAX_SKIPS];
static int n_skips;
static int verbose;

static void load_skips(void)
{
    FILE *f = fopen(SKIP_FILE, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f) && n_skips < MAX_SKIPS) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\n")] = '\0';
        char *space = strpbrk(line, " \t");
        skip_entry *e = &skips[n_skips++];
        if (space) {
            *space = '\0';
            snprintf(e->reason, sizeof e->reason, "%s", space + 1 + strspn(space + 1, " \t"));
        }
        snprintf(e->name, sizeof e->name, "%s", line);
    }
    fclose(f);
}

static const char *skip_reason(const char *name)
{
    for (int i = 0; i < n_skips; i++)
        if (!strcmp(skips[i].name, name))
            return skips[i].reason;
    return NULL;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of entries in dir starting with prefix; returns the count. */
static int list_dir(const char *dir, const char *prefix, char ***out)
{
    DIR *d = opendir(dir);
    *out = NULL;
    if (!d)
        return 0;
    int n = 0, cap = 0;
    char **names = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, (size_t)cap * sizeof *names);
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, (size_t)n, sizeof *names, compare_names);
    *out = names;
    return n;
}

static void free_list(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static bool values_match(const qc_value *want, const qc_value *got, char *why, size_t size)
{
    char a[96], b[96];
    if (want->dtype != got->dtype) {
        snprintf(why, size, "type %s, expected %s", qc_dtype_name(got->dtype), qc_dtype_name(want->dtype));
        return false;
    }
    if (qc_value_count(want) != qc_value_count(got) ||
        (want->rank == got->rank && !qc_same_shape(want, got))) {
        snprintf(why, size, "shape %s, expected %s", qc_shape_str(got, a, sizeof a),
                 qc_shape_str(want, b, sizeof b));
        return false;
    }
    int64_t count = qc_value_count(want);
    for (int64_t i = 0; i < count; i++) {
        if (want->dtype == QC_FLOAT) {
            float w = ((const float *)want->data)[i], g = ((const float *)got->data)[i];
            if (isnan(w) && isnan(g))
                continue;
            if (!(fabs((double)w - g) <= FLOAT_ATOL + FLOAT_RTOL * fabs((double)w))) {
                snprintf(why, size, "element %lld is %.9g, expected %.9g", (long long)i, g, w);
                return false;
            }
        } else {
            size_t es = qc_dtype_size(want->dtype);
            if (memcmp((const char *)want->data + i * es, (const char *)got->data + i * es, es)) {
                snprintf(why, size, "element %lld is %g, expected %g", (long long)i,
                         qc_read_scalar(got, i), qc_read_scalar(want, i));
                return false;
            }
        }
    }
    return true;
}

/* Runs one data set; returns true when every output matches. */
static bool run_data_set(const qc_graph *g, const char *dir, char *why, size_t size)
{
    qc_value inputs[MAX_IO] = {0}, want[MAX_IO] = {0};
    int n_in = 0, n_out = 0;
    bool ok = false;
    qc_error err;
    char path[1024];
    qc_exec *x = NULL;
    for (; n_in < MAX_IO; n_in++) {
        snprintf(path, sizeof path, "%s/input_%d.pb", dir, n_in);
        if (!file_exists(path))
            break;
        if (qc_onnx_load_tensor(path, &inputs[n_in], NULL, &err) != QC_OK) {
            snprintf(why, size, "%s", err.msg);
            goto end;
        }
    }
    for (; n_out < MAX_IO; n_out++) {
        snprintf(path, sizeof path, "%s/output_%d.pb", dir, n_out);
        if (!file_exists(path))
            break;
        if (qc_onnx_load_tensor(path, &want[n_out], NULL, &err) != QC_OK) {
            snprintf(why, size, "%s", err.msg);
            goto end;
        }
    }
    x = qc_exec_create(g);
    if (!x) {
        snprintf(why, size, "out of memory");
        goto end;
    }
    if (qc_exec_run(x, inputs, n_in, &err) != QC_OK) {
        snprintf(why, size, "%s", err.msg);
        goto end;
    }
    if (n_out != g->n_outputs) {
        snprintf(why, size, "%d outputs, %d expected", g->n_outputs, n_out);
        goto end;
    }
    for (int i = 0; i < n_out; i++) {
        char detail[256];
        if (!values_match(&want[i], qc_exec_output(x, i), detail, sizeof detail)) {
            snprintf(why, size, "output %d: %s", i, detail);
            goto end;
        }
    }
    ok = true;
end:
    qc_exec_destroy(x);
    for (int i = 0; i < n_in; i++)
        free(inputs[i].data);
    for (int i = 0; i < n_out; i++)
        free(want[i].data);
    return ok;
}

typedef struct {
    int passed, failed, skipped, unsupported;
} tally;

/* Are all of the model's ops supported? Read straight from the protobuf, so that a case
 * whose ops qcal does not support is "not run" even when qcal could not load it. */
static bool ops_supported(const void *data, size_t size, const char *name)
{
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, size, data);
    if (!mp)
        return true; /* unreadable: let the loader report it */
    bool ok = true;
    for (size_t i = 0; mp->graph && i < mp->graph->n_node && ok; i++) {
        const Onnx__NodeProto *n = mp->graph->node[i];
        ok = qc_op_supported(n->op_type ? n->op_type : "", n->domain);
        if (!ok && verbose)
            printf("n/a  %s: op %s\n", name, n->op_type);
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    return ok;
}

static void run_case(const char *dir, const char *name, tally *t)
{
    char path[1024], why[512] = "";
    qc_error err;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    char *data;
    size_t size;
    if (qc_read_file(path, &data, &size, &err) != QC_OK) {
        printf("FAIL %s: %s\n", name, err.msg);
        t->failed++;
        return;
    }
    if (!ops_supported(data, size, name)) {
        t->unsupported++;
        free(data);
        return;
    }
    qc_graph *g = NULL;
    qc_status s = qc_onnx_parse(data, size, path, &g, &err);
    free(data);
    const char *reason = skip_reason(name);
    if (reason) {
        printf("skip %s: %s\n", name, reason);
        t->skipped++;
        qc_graph_destroy(g);
        return;
    }
    if (s == QC_OK)
        s = qc_graph_prepare(g, &err);
    if (s != QC_OK) {
        printf("FAIL %s: %s\n", name, err.msg);
        t->failed++;
        qc_graph_destroy(g);
        return;
    }
    char **sets;
    int n_sets = list_dir(dir, "test_data_set_", &sets);
    bool ok = n_sets > 0;
    if (!n_sets)
        snprintf(why, sizeof why, "no test_data_set_* folder");
    for (int i = 0; i < n_sets && ok; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, sets[i]);
        ok = run_data_set(g, path, why, sizeof why);
    }
    free_list(sets, n_sets);
    qc_graph_destroy(g);
    if (ok) {
        printf("ok   %s\n", name);
        t->passed++;
    } else {
        printf("FAIL %s: %s\n", name, why);
        t->failed++;
    }
}

static void run_path(const char *root, tally *t)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/model.onnx", root);
    if (file_exists(path)) {
        const char *slash = strrchr(root, '/');
        run_case(root, slash && slash[1] ? slash + 1 : root, t);
        return;
    }
    char **names;
    int n = list_dir(root, "", &names);
    for (int i = 0; i < n; i++) {
        if (names[i][0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", root, names[i]);
        if (is_dir(path))
            run_path(path, t);
    }
    free_list(names, n);
}

int main(int argc, char **argv)
{
    tally t = {0};
    int first = 1;
    if (argc > 1 && !strcmp(argv[1], "--verbose")) {
        verbose = 1;
        first = 2;
    }
    load_skips();
    if (first >= argc) {
        if (!is_dir(DEFAULT_ROOT)) {
            fprintf(stderr, "error: '%s' not found: install libonnx-testdata\n", DEFAULT_ROOT);
            return 2;
        }
        run_path(DEFAULT_ROOT, &t);
        if (is_dir(PYTORCH_ROOT))
            run_path(PYTORCH_ROOT, &t);
        if (is_dir(ORT_ROOT))
            run_path(ORT_ROOT, &t);
    }
    for (int i = first; i < argc; i++)
        run_path(argv[i], &t);
    if (t.unsupported)
        printf("skip %d cases whose ops qcal does not support (--verbose names them)\n",
               t.unsupported);
    printf("conformance: %d passed, %d failed, %d skipped\n", t.passed, t.failed,
           t.skipped + t.unsupported);
    return t.failed ? 1 : 0;
}
