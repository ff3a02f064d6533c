/* check_models.c — the bundled models end to end: PNG → model-card preprocessing → FP32
 * executor gives the logits PyTorch computed for the same files
 * (tests/data/reference/NAME-val-first16.txt, written by tools/train-models.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "io/io.h"
#include "tests/check-util.h"

/* PyTorch and qcal sum in different orders (OpenBLAS blocking, im2col): float32 rounding
 * differences of a few ulps per layer, far below these bounds. */
#define LOGIT_ABS_TOL 1e-3
#define LOGIT_REL_TOL 1e-4

static void check_model(const char *name)
{
    char model[256], ref[256], line[4096];
    snprintf(model, sizeof model, "models/%s.onnx", name);
    snprintf(ref, sizeof ref, "tests/data/reference/%s-val-first16.txt", name);
    FILE *f = fopen(ref, "r");
    ck_assert_msg(f != NULL, "cannot open %s", ref);
    qc_error err;
    qc_graph *g;
    ck_assert_msg(qc_onnx_load(model, &g, &err) == QC_OK, "%s", err.msg);
    ck_assert_msg(qc_pass_fold_batchnorm(g, &err) == QC_OK, "%s", err.msg);
    qc_model_card card;
    ck_assert_msg(qc_model_card_load(model, 1, &card, NULL, 0, &err) == QC_OK, "%s", err.msg);
    ck_assert(card.found);
    qc_exec *x = qc_exec_create(g);
    float pixels[28 * 28];
    int images = 0;
    while (fgets(line, sizeof line, f)) {
        char *path = strtok(line, "\t\n");
        ck_assert_ptr_nonnull(path);
        ck_assert_msg(qc_image_load(path, &card.pp, 1, 28, 28, pixels, &err) == QC_OK, "%s", err.msg);
        int64_t dims[4] = {1, 1, 28, 28};
        qc_value in = qc_value_f32(4, dims, pixels);
        ck_assert_msg(qc_exec_run(x, &in, 1, &err) == QC_OK, "%s", err.msg);
        const float *logits = qc_exec_output(x, 0)->data;
        for (int c = 0; c < 10; c++) {
            char *tok = strtok(NULL, "\t\n");
            ck_assert_ptr_nonnull(tok);
            double want = strtod(tok, NULL);
            ck_assert_msg(fabs(logits[c] - want) <= LOGIT_ABS_TOL + LOGIT_REL_TOL * fabs(want),
                          "%s %s class %d: %.7g, PyTorch %.7g", name, path, c, logits[c], want);
        }
        images++;
    }
    fclose(f);
    ck_assert_int_eq(images, 16);
    qc_exec_destroy(x);
    qc_model_card_free(&card);
    qc_graph_destroy(g);
}

START_TEST(lenet_gives_pytorchs_logits)
{
    check_model("lenet");
}
END_TEST

START_TEST(resnet_gives_pytorchs_logits)
{
    check_model("resnet");
}
END_TEST

START_TEST(resnet_with_batchnorm_nodes_gives_pytorchs_logits)
{
    check_model("resnet-bn");
}
END_TEST

START_TEST(mobilenet_gives_pytorchs_logits)
{
    check_model("mobilenet");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("models");
    TCase *tc = tcase_create("logits");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, lenet_gives_pytorchs_logits);
    tcase_add_test(tc, resnet_gives_pytorchs_logits);
    tcase_add_test(tc, resnet_with_batchnorm_nodes_gives_pytorchs_logits);
    tcase_add_test(tc, mobilenet_gives_pytorchs_logits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return qc_check_run("check_models", suite());
}
