/* npy.c — a strict reader of NumPy's .npy files, for the constants fed to a model's extra
 * inputs (--input NAME=FILE.npy).
 *
 * The format (numpy.lib.format): the magic "\x93NUMPY", a major and a minor version byte, the
 * header's length (2 bytes little-endian in version 1.0, 4 bytes in 2.0), the header — a
 * Python dict literal in ASCII with exactly the keys 'descr', 'fortran_order' and 'shape',
 * padded with spaces and ended by '\n' — then the array's bytes. Read here: versions 1.0
 * and 2.0 (3.0 only differs by a UTF-8 header, which no dtype read here needs), dtypes
 * '<f4', '<i8', '<i4', '|b1' (every byte 0 or 1) and '|u1', C order; the data must be exactly
 * the shape's size. Anything else is refused with what is wrong, never guessed.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_BYTES 6
#define NPY_MAX_HEADER 10000 /* numpy's own reader refuses longer headers by default */

typedef struct {
    const char *p, *end;
} cursor;

static void skip_spaces(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* Consumes ch (after spaces); false when the next character is another. */
static bool take(cursor *c, char ch)
{
    skip_spaces(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A quoted string without escapes, in out (at most size - 1 characters). */
static bool take_string(cursor *c, char *out, size_t size)
{
    skip_spaces(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return false;
    const char quote = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != quote) {
        if (*c->p == '\\' || n + 1 >= size)
            return false;
        out[n++] = *c->p++;
    }
    out[n] = '\0';
    return take(c, quote);
}

static bool take_word(cursor *c, const char *word)
{
    skip_spaces(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n))
        return false;
    c->p += n;
    return true;
}

/* A shape tuple: "()", "(5,)", "(1, 8)" or "(1, 8,)"; each dimension checked on the way. */
static bool take_shape(cursor *c, qc_value *v, const char **why)
{
    *why = "'shape' is not a tuple of integers";
    if (!take(c, '('))
        return false;
    v->rank = 0;
    while (!take(c, ')')) {
        skip_spaces(c);
        if (c->p >= c->end || !isdigit((unsigned char)*c->p))
            return false;
        int64_t d = 0;
        while (c->p < c->end && isdigit((unsigned char)*c->p)) {
            d = d * 10 + (*c->p++ - '0');
            if (d > QC_MAX_DIM) {
                *why = "a dimension of 'shape' is over the limit of 2^40";
                return false;
            }
        }
        if (v->rank == QC_MAX_RANK) {
            *why = "'shape' has more than 8 dimensions";
            return false;
        }
        v->dims[v->rank++] = d;
        bool comma = take(c, ',');
        /* "(5)" is an integer, not a tuple: a single dimension needs its comma */
        if (!comma && (v->rank == 1 || !take(c, ')')))
            return false;
        if (!comma)
            break;
    }
    return true;
}

static qc_dtype dtype_of(const char *descr)
{
    static const struct {
        const char *descr;
        qc_dtype dtype;
    } known[] = {{"<f4", QC_FLOAT}, {"<i8", QC_INT64}, {"<i4", QC_INT32}, {"|b1", QC_BOOL}, {"|u1", QC_UINT8}};
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (!strcmp(descr, known[k].descr))
            return known[k].dtype;
    return QC_UNDEFINED;
}

/* The header dict: each of the three keys exactly once, in any order, a trailing comma
 * allowed, then only spaces up to the final '\n'. */
static qc_status parse_header(cursor *c, const char *name, qc_value *v, qc_error *err)
{
    bool seen_descr = false, seen_order = false, seen_shape = false, fortran = false;
    char key[32], descr[32];
    const char *why = "the header is not a dict";
    if (!take(c, '{'))
        goto bad;
    while (!take(c, '}')) {
        why = "the header is not a dict of 'descr', 'fortran_order' and 'shape'";
        if (!take_string(c, key, sizeof key) || !take(c, ':'))
            goto bad;
        if (!strcmp(key, "descr") && !seen_descr) {
            seen_descr = true;
            why = "'descr' is not a string";
            if (!take_string(c, descr, sizeof descr))
                goto bad;
        } else if (!strcmp(key, "fortran_order") && !seen_order) {
            seen_order = true;
            why = "'fortran_order' is not True or False";
            if (take_word(c, "True"))
                fortran = true;
            else if (!take_word(c, "False"))
                goto bad;
        } else if (!strcmp(key, "shape") && !seen_shape) {
            seen_shape = true;
            if (!take_shape(c, v, &why))
                goto bad;
        } else {
            why = "the header has an unknown or repeated key";
            goto bad;
        }
        if (take(c, '}'))
            break;
        why = "the header is not a dict";
        if (!take(c, ','))
            goto bad;
    }
    skip_spaces(c);
    why = "the header does not end in a newline after the dict";
    if (c->p + 1 != c->end || *c->p != '\n')
        goto bad;
    why = "the header lacks 'descr', 'fortran_order' or 'shape'";
    if (!seen_descr || !seen_order || !seen_shape)
        goto bad;
    if ((v->dtype = dtype_of(descr)) == QC_UNDEFINED)
        return qc_fail(err, QC_ERR_INPUT,
                       "'%s': NumPy dtype '%s' is not supported (qcal reads '<f4', '<i8', '<i4', '|b1' and '|u1')",
                       name, descr);
    if (fortran)
        return qc_fail(err, QC_ERR_INPUT, "'%s': the array is in Fortran order; qcal reads C order only", name);
    return QC_OK;
bad:
    return qc_fail(err, QC_ERR_INPUT, "'%s' is not a valid .npy file: %s", name, why);
}

qc_status qc_npy_parse(const void *data, size_t size, const char *name, qc_value *v, qc_error *err)
{
    const unsigned char *b = data;
    *v = (qc_value){0};
    if (size < NPY_MAGIC_BYTES + 4 || memcmp(b, NPY_MAGIC, NPY_MAGIC_BYTES))
        return qc_fail(err, QC_ERR_INPUT, "'%s' is not a .npy file (no \\x93NUMPY magic)", name);
    const int major = b[6], minor = b[7];
    if ((major != 1 && major != 2) || minor != 0)
        return qc_fail(err, QC_ERR_INPUT, "'%s': .npy format version %d.%d is not supported (1.0 and 2.0 are)",
                       name, major, minor);
    size_t at = major == 1 ? 10 : 12;
    if (size < at)
        return qc_fail(err, QC_ERR_INPUT, "'%s' is not a valid .npy file: truncated header", name);
    uint32_t header = (uint32_t)b[8] | (uint32_t)b[9] << 8;
    if (major == 2)
        header |= (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
    if (header > NPY_MAX_HEADER)
        return qc_fail(err, QC_ERR_INPUT, "'%s': the .npy header is %u bytes, over the limit of %d", name,
                       header, NPY_MAX_HEADER);
    if (header > size - at)
        return qc_fail(err, QC_ERR_INPUT, "'%s' is not a valid .npy file: truncated header", name);
    cursor c = {(const char *)b + at, (const char *)b + at + header};
    qc_status st = parse_header(&c, name, v, err);
    if (st != QC_OK)
        return st;
    char what[1100];
    snprintf(what, sizeof what, "the array in '%s'", name);
    if ((st = qc_value_check(v, what, err)) != QC_OK)
        return st;
    const size_t bytes = qc_value_bytes(v), have = size - at - header;
    if (have != bytes)
        return qc_fail(err, QC_ERR_INPUT, "'%s': the data is %zu bytes, its shape and dtype make %zu", name, have,
                       bytes);
    const unsigned char *src = b + at + header;
    for (size_t k = 0; v->dtype == QC_BOOL && k < bytes; k++)
        if (src[k] > 1)
            return qc_fail(err, QC_ERR_INPUT, "'%s': boolean element %zu is %u, not 0 or 1", name, k, src[k]);
    if (!(v->data = malloc(bytes ? bytes : 1)))
        return qc_fail(err, QC_ERR_IO, "out of memory reading '%s'", name);
    memcpy(v->data, src, bytes); /* little-endian data on a little-endian host */
    return QC_OK;
}

qc_status qc_npy_read(const char *path, qc_value *v, qc_error *err)
{
    char *data;
    size_t size;
    *v = (qc_value){0};
    qc_status st = qc_read_file(path, &data, &size, err);
    if (st != QC_OK)
        return st;
    st = qc_npy_parse(data, size, path, v, err);
    free(data);
    return st;
}

qc_status qc_npy_bind_input(qc_graph *g, const char *model_path, const char *name, const char *file,
                            qc_error *err)
{
    int t = qc_graph_find_tensor(g, name);
    if (t < 0 || !g->tensors[t].is_input) {
        char names[600] = "";
        for (int i = 0; i < g->n_inputs; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s'%s'", i ? ", " : "",
                     g->tensors[g->inputs[i]].name);
        return qc_fail(err, QC_ERR_USAGE, "'%s' has no input '%s' (its inputs: %s)", model_path, name, names);
    }
    qc_value v;
    qc_status st = qc_npy_read(file, &v, err);
    qc_error why;
    if (st == QC_OK && (st = qc_graph_bind_input(g, t, &v, &why)) != QC_OK)
        st = qc_fail(err, st, "'%s': %s", file, why.msg);
    free(v.data);
    return st;
}
