/* fuzz_npy.c — .npy bytes → parse (io/npy.c), then bind the array to a graph input of its
 * dtype and shape, the path --input NAME=FILE.npy takes. */
#include <stdlib.h>

#include "fuzz.h"
#include "io/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qc_set_memory_limit(FUZZ_MEMORY_LIMIT);
    qc_value v;
    qc_error err;
    if (qc_npy_parse(data, size, "fuzz.npy", &v, &err) != QC_OK)
        return 0;
    qc_graph *g = qc_graph_create("fuzz");
    int t = g ? qc_graph_tensor(g, "x") : -1;
    if (t >= 0 && (g->inputs = malloc(sizeof *g->inputs))) {
        g->tensors[t].is_input = true;
        g->tensors[t].value = (qc_value){.dtype = v.dtype, .rank = v.rank};
        for (int d = 0; d < v.rank; d++)
            g->tensors[t].value.dims[d] = v.dims[d];
        g->inputs[g->n_inputs++] = t;
        if (qc_graph_bind_input(g, t, &v, &err) == QC_OK && qc_graph_fed_count(g) != 0)
            abort(); /* a bound input is no longer fed at run time */
    }
    qc_graph_destroy(g);
    free(v.data);
    return 0;
}
