/* inspect.c — `qcal inspect MODEL`: inputs, outputs, every node with its output shape, the
 * parameter count and which ops qcal supports. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_option rows[] = {
    {.kind = CLI_GROUP, .rows = cli_common_rows, .usage = "[--json] [--quiet] [--wide]"},
    {0},
};

static const cli_command command = {
    "inspect", "MODEL", NULL,
    "Lists the model's inputs and outputs, every node (op, name, output shape at batch 1), the "
    "parameter count and the ops qcal does not support (exit 3 when there are any).",
    rows, 1, "inspect takes one MODEL"};

/* The graph's inputs or outputs ids[0..n): name, dtype and shape ("?" unless shaped). */
static void print_values(const qc_graph *g, const int *ids, int n, bool shaped, int width)
{
    static const cli_column cols[] = {{"name", true, 0, true}, {"dtype", true, 0, false}, {"shape", true, 0, false}};
    char shape[128];
    cli_table tab;
    cli_table_init(&tab, cols, 3);
    for (int i = 0; i < n; i++) {
        const qc_tensor *t = &g->tensors[ids[i]];
        cli_table_cell(&tab, "%s", t->name);
        cli_table_cell(&tab, "%s", qc_dtype_name(t->value.dtype));
        cli_table_cell(&tab, "%s", shaped ? qc_report_io_shape(t, shape, sizeof shape) : "?");
    }
    cli_table_print(&tab, width);
}

static void print_text(const qc_graph *g, const char *path, bool prepared, int width)
{
    char shape[128];
    static const cli_column node_cols[] = {{"#", false, 0, false},           {"op", true, 0, false},
                                           {"name", true, 0, true},          {"output shape", true, 0, false},
                                           {"supported", true, 0, false}};
    cli_table tab;
    printf("model: %s (opset %lld, %lld parameters)\ninputs:\n", path, (long long)g->opset,
           (long long)qc_graph_param_count(g));
    print_values(g, g->inputs, g->n_inputs, true, width);
    printf("outputs:\n");
    print_values(g, g->outputs, g->n_outputs, prepared, width);
    printf("nodes (%d; shapes at batch 1):\n", g->n_nodes);
    cli_table_init(&tab, node_cols, 5);
    for (int i = 0; i < g->n_nodes; i++) {
        const qc_node *n = &g->nodes[i];
        cli_table_cell(&tab, "%d", i);
        cli_table_cell(&tab, "%s", n->op_type);
        cli_table_cell(&tab, "%s", n->name);
        cli_table_cell(&tab, "%s", qc_report_node_shape(g, i, prepared, shape, sizeof shape));
        cli_table_cell(&tab, "%s", qc_op_supported(n->op_type, n->domain) ? "yes" : "NO");
    }
    cli_table_print(&tab, width);
}

int cmd_inspect(int argc, char **argv)
{
    cli_common common = {.threads = 1};
    const char *model = NULL;
    int n = 0, status;
    if (!cli_parse(&command, &common, argc, argv, &model, &n, &status))
        return status;
    if (!model)
        return cli_usage_error(&command, "inspect needs a MODEL");

    qc_error err;
    char *data;
    size_t size;
    qc_status s = cli_status(qc_read_file(model, &data, &size, &err), &err);
    if (s != QC_OK)
        return s;
    qc_graph *g;
    s = cli_status(qc_onnx_parse(data, size, model, &g, &err), &err);
    free(data);
    if (s != QC_OK)
        return s;
    /* Unsupported ops still get listed: the listing is what the user asked for. */
    qc_status prepared = qc_graph_prepare(g, &err);
    if (common.json)
        qc_inspect_json_write(stdout, g, model, prepared == QC_OK);
    else
        print_text(g, model, prepared == QC_OK, cli_table_width(common.wide));
    if (prepared != QC_OK)
        cli_error("cannot load '%s': %s", model, err.msg);
    qc_graph_destroy(g);
    return prepared;
}
