/* predictions.c — the predictions file of qcal eval: one line of tab-separated fields per
 * image, so that another program can read what each image was classified as. */
#include <stdio.h>

#include "io.h"

/* A path as one TSV field: backslash, tab, newline and carriage return escaped as \\, \t,
 * \n and \r, so that every image is one line of three (or four) fields. */
static int put_tsv_field(FILE *f, const char *s)
{
    for (; *s; s++) {
        const char *esc = *s == '\\'   ? "\\\\"
                          : *s == '\t' ? "\\t"
                          : *s == '\n' ? "\\n"
                          : *s == '\r' ? "\\r"
                                       : NULL;
        if (esc ? fputs(esc, f) < 0 : fputc(*s, f) == EOF)
            return -1;
    }
    return 0;
}

qc_status qc_prediction_put(qc_file *file, const char *rel, int top1, int label, const float *scores, int n,
                            qc_error *err)
{
    int w = put_tsv_field(file->f, rel);
    if (w >= 0)
        w = label >= 0 ? fprintf(file->f, "\t%d\t%d", top1, label) : fprintf(file->f, "\t%d\t", top1);
    for (int j = 0; scores && j < n && w >= 0; j++)
        w = fprintf(file->f, "%s%.9g", j ? " " : "\t", (double)scores[j]);
    if (w >= 0)
        w = fputc('\n', file->f);
    return w < 0 ? qc_fail(err, QC_ERR_IO, "cannot write '%s'", file->path) : QC_OK;
}
