/* imageset.c — a folder of PNG and JPEG images and their labels (ImageFolder layout or a labels file). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "image-impl.h"

/* A class folder number ("3_dress") above this is taken for a mistake, not a class index:
 * n_classes would follow it. */
#define MAX_CLASS_NUMBER 99999

/* What a scan of the folder tree found; everything owned. */
typedef struct {
    char **rels;
    int n_rels, cap_rels;
    char **dirs; /* top-level sub-folders: the ImageFolder classes */
    int n_dirs, cap_dirs;
} scan;

/* The folders from the root down to the one being read, to skip symbolic-link loops. */
typedef struct visited {
    dev_t dev;
    ino_t ino;
    const struct visited *up;
} visited;

/* One line of a labels file; path points into the file's buffer. */
typedef struct {
    const char *path;
    int label;
    int line;
} label_entry;

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    bool slash = n > 0 && dir[n - 1] != '/';
    size_t size = n + slash + strlen(name) + 1;
    char *s = malloc(size);
    if (s)
        snprintf(s, size, "%s%s%s", dir, slash ? "/" : "", name);
    return s;
}

static bool push(char ***list, int *n, int *cap, char *s)
{
    if (!s)
        return false;
    if (*n == *cap) {
        int new_cap = *cap ? *cap * 2 : 64;
        char **p = new_cap > *cap ? realloc(*list, sizeof *p * (size_t)new_cap) : NULL;
        if (!p) {
            free(s);
            return false;
        }
        *list = p;
        *cap = new_cap;
    }
    (*list)[(*n)++] = s;
    return true;
}

static void free_strings(char **list, int n)
{
    /* A labels file gives n_classes without class names. */
    for (int i = 0; list && i < n; i++)
        free(list[i]);
    free(list);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the PNG and JPEG files under root/rel to s->rels (relative to root) and, at the top level,
 * the sub-folders to s->dirs. Names starting with a dot are skipped. */
static qc_status walk(scan *s, const char *root, const char *rel, const visited *up,
                      qc_error *err)
{
    char msg[256];
    qc_status st = QC_OK;
    char *dir_path = rel[0] ? join(root, rel) : strdup(root);
    if (!dir_path)
        return qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", root);
    DIR *d = opendir(dir_path);
    if (!d) {
        int e = errno;
        st = qc_fail(err, QC_ERR_IO, "cannot read '%s': %s", dir_path,
                     qc_errno_text(e, msg, sizeof msg));
        free(dir_path);
        return st;
    }
    struct stat dst;
    if (fstat(dirfd(d), &dst) != 0)
        goto end;
    for (const visited *v = up; v; v = v->up)
        if (v->dev == dst.st_dev && v->ino == dst.st_ino)
            goto end; /* a link back to a folder being read */
    visited here = {dst.st_dev, dst.st_ino, up};
    for (;;) {
        errno = 0;
        struct dirent *entry = readdir(d);
        if (!entry) {
            if (errno) {
                int e = errno;
                st = qc_fail(err, QC_ERR_IO, "cannot read '%s': %s", dir_path,
                             qc_errno_text(e, msg, sizeof msg));
            }
            break;
        }
        const char *name = entry->d_name;
        if (name[0] == '.')
            continue;
        struct stat est;
        /* Follows symbolic links. A name that cannot be examined (a dangling link) is kept
         * when it looks like an image, so that loading it reports the problem. */
        bool known = fstatat(dirfd(d), name, &est, 0) == 0;
        bool is_dir = known && S_ISDIR(est.st_mode);
        bool is_image = (!known || S_ISREG(est.st_mode)) && qc_is_image_name(name);
        if (!is_dir && !is_image)
            continue;
        char *child = join(rel, name);
        if (!child) {
            st = qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", dir_path);
            break;
        }
        if (is_image) {
            if (!push(&s->rels, &s->n_rels, &s->cap_rels, child)) {
                st = qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", dir_path);
                break;
            }
            continue;
        }
        if (!rel[0] && !push(&s->dirs, &s->n_dirs, &s->cap_dirs, strdup(name))) {
            free(child);
            st = qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", dir_path);
            break;
        }
        st = walk(s, root, child, &here, err);
        free(child);
        if (st != QC_OK)
            break;
    }
end:
    closedir(d);
    free(dir_path);
    return st;
}

/* The number of a class folder named like "3_dress", or -1 when it has none. */
static long class_number(const char *name)
{
    const char *p = name;
    long n = 0;
    while (*p >= '0' && *p <= '9') {
        if (n <= MAX_CLASS_NUMBER)
            n = n * 10 + (*p - '0');
        p++;
    }
    return p > name && *p == '_' ? n : -1;
}

/* Labels from the folder layout. s->dirs is sorted; set->classes is filled. */
static qc_status folder_labels(qc_image_set *set, scan *s, qc_error *err)
{
    int n = s->n_dirs;
    if (n == 0)
        return QC_OK;
    int *label_of = malloc(sizeof *label_of * (size_t)n);
    if (!label_of)
        return qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", set->root);
    /* Numbers count only when every class folder has one; otherwise the sorted position
     * is the index, as torchvision's ImageFolder does. */
    bool numbered = true;
    int n_classes = n;
    for (int i = 0; i < n && numbered; i++)
        numbered = class_number(s->dirs[i]) >= 0;
    if (numbered) {
        n_classes = 0;
        for (int i = 0; i < n; i++) {
            long k = class_number(s->dirs[i]);
            if (k > MAX_CLASS_NUMBER) {
                free(label_of);
                return qc_fail(err, QC_ERR_INPUT,
                               "bad class folder '%s' in '%s': class number above %d",
                               s->dirs[i], set->root, MAX_CLASS_NUMBER);
            }
            for (int j = 0; j < i; j++) {
                if (label_of[j] == (int)k) {
                    free(label_of);
                    return qc_fail(err, QC_ERR_INPUT,
                                   "class folders '%s' and '%s' in '%s' have the same number",
                                   s->dirs[j], s->dirs[i], set->root);
                }
            }
            label_of[i] = (int)k;
            if ((int)k + 1 > n_classes)
                n_classes = (int)k + 1;
        }
    } else {
        for (int i = 0; i < n; i++)
            label_of[i] = i;
    }
    /* classes[k] is the folder of class k; a number no folder has gets "". */
    set->classes = calloc((size_t)n_classes, sizeof *set->classes);
    if (!set->classes) {
        free(label_of);
        return qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", set->root);
    }
    set->n_classes = n_classes;
    for (int i = 0; i < n; i++) {
        set->classes[label_of[i]] = s->dirs[i];
        s->dirs[i] = NULL;
    }
    for (int k = 0; k < n_classes; k++) {
        if (!set->classes[k] && !(set->classes[k] = strdup(""))) {
            free(label_of);
            return qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", set->root);
        }
    }
    for (int i = 0; i < set->n_items; i++) {
        const char *rel = set->items[i].rel;
        const char *slash = strchr(rel, '/');
        if (!slash)
            continue;
        /* Binary search of the top-level folder among the sorted class folders. */
        size_t len = (size_t)(slash - rel);
        int lo = 0, hi = n - 1;
        while (lo <= hi) {
            int mid = (lo + hi) / 2;
            const char *name = set->classes[label_of[mid]];
            int c = strncmp(rel, name, len);
            if (c == 0)
                c = name[len] ? -1 : 0;
            if (c == 0) {
                set->items[i].label = label_of[mid];
                break;
            }
            if (c < 0)
                hi = mid - 1;
            else
                lo = mid + 1;
        }
    }
    free(label_of);
    return QC_OK;
}

static int compare_entry_paths(const void *a, const void *b)
{
    return strcmp(((const label_entry *)a)->path, ((const label_entry *)b)->path);
}

/* By path, then by line, so that a duplicate is reported at its later line. */
static int compare_entries(const void *a, const void *b)
{
    int c = compare_entry_paths(a, b);
    return c ? c : ((const label_entry *)a)->line - ((const label_entry *)b)->line;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Parses "relative/path.png label" lines (the label is the last field, so paths may
 * contain spaces; '#' starts a comment line). entries point into text, which is changed. */
static qc_status parse_labels(const char *file, char *text, size_t size, label_entry **out,
                              int *n_out, qc_error *err)
{
    label_entry *entries = NULL;
    int n = 0, cap = 0, line = 0;
    char *p = text, *end = text + size;
    *out = NULL;
    *n_out = 0;
    while (p < end) {
        line++;
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        char *next = eol < end ? eol + 1 : end;
        if (memchr(p, '\0', (size_t)(eol - p))) {
            free(entries);
            return qc_fail(err, QC_ERR_INPUT, "bad labels file '%s': line %d: NUL byte", file,
                           line);
        }
        while (eol > p && is_blank(eol[-1]))
            eol--;
        *eol = '\0';
        while (is_blank(*p))
            p++;
        if (*p == '\0' || *p == '#') {
            p = next;
            continue;
        }
        char *sep = eol;
        while (sep > p && !is_blank(sep[-1]))
            sep--;
        char *label = sep;
        while (sep > p && is_blank(sep[-1]))
            sep--;
        if (sep == p) {
            free(entries);
            return qc_fail(err, QC_ERR_INPUT,
                           "bad labels file '%s': line %d: expected \"relative/path.png "
                           "LABEL\"",
                           file, line);
        }
        *sep = '\0';
        char *tail;
        errno = 0;
        long value = strtol(label, &tail, 10);
        if (*tail || tail == label || errno || value < 0 || value >= INT_MAX ||
            label[0] == '-' || label[0] == '+') {
            free(entries);
            return qc_fail(err, QC_ERR_INPUT,
                           "bad labels file '%s': line %d: label '%s' is not a non-negative "
                           "integer",
                           file, line, label);
        }
        while (p[0] == '.' && p[1] == '/')
            p += 2;
        if (n == cap) {
            int new_cap = cap ? cap * 2 : 256;
            label_entry *e = realloc(entries, sizeof *e * (size_t)new_cap);
            if (!e) {
                free(entries);
                return qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", file);
            }
            entries = e;
            cap = new_cap;
        }
        entries[n++] = (label_entry){p, (int)value, line};
        p = next;
    }
    if (n > 0)
        qsort(entries, (size_t)n, sizeof *entries, compare_entries);
    for (int i = 1; i < n; i++) {
        if (strcmp(entries[i - 1].path, entries[i].path) == 0) {
            qc_fail(err, QC_ERR_INPUT,
                    "bad labels file '%s': line %d: '%s' is listed twice (first on line %d)",
                    file, entries[i].line, entries[i].path, entries[i - 1].line);
            free(entries);
            return QC_ERR_INPUT;
        }
    }
    *out = entries;
    *n_out = n;
    return QC_OK;
}

static qc_status file_labels(qc_image_set *set, const char *labels_file, qc_error *err)
{
    char *text;
    size_t size;
    qc_status st = qc_read_file(labels_file, &text, &size, err);
    if (st != QC_OK)
        return st;
    label_entry *entries;
    int n;
    st = parse_labels(labels_file, text, size, &entries, &n, err);
    if (st == QC_OK) {
        for (int i = 0; i < n; i++)
            if (entries[i].label + 1 > set->n_classes)
                set->n_classes = entries[i].label + 1;
        for (int i = 0; i < set->n_items; i++) {
            label_entry key = {.path = set->items[i].rel};
            const label_entry *e = n ? bsearch(&key, entries, (size_t)n, sizeof key,
                                               compare_entry_paths)
                                     : NULL;
            set->items[i].label = e ? e->label : -1;
            set->unmatched_labels -= e != NULL;
        }
        set->unmatched_labels += n;
    }
    free(entries);
    free(text);
    return st;
}

/* Fills set->items from the sorted relative paths, taking ownership of none of them. */
static qc_status make_items(qc_image_set *set, scan *s, qc_error *err)
{
    set->items = calloc((size_t)s->n_rels, sizeof *set->items);
    if (!set->items)
        return qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", set->root);
    for (int i = 0; i < s->n_rels; i++) {
        char *path = join(set->root, s->rels[i]);
        if (!path)
            return qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", set->root);
        set->items[i] = (qc_image_item){path, path + strlen(path) - strlen(s->rels[i]), -1};
        set->n_items = i + 1;
    }
    return QC_OK;
}

qc_status qc_image_set_open(qc_image_set *set, const char *root, const char *labels_file,
                            qc_error *err)
{
    char msg[256];
    memset(set, 0, sizeof *set);
    scan s = {0};
    qc_status st = QC_OK;
    struct stat rst;
    if (stat(root, &rst) != 0) {
        int e = errno;
        return qc_fail(err, QC_ERR_IO, "cannot read '%s': %s", root,
                       qc_errno_text(e, msg, sizeof msg));
    }
    if (!(set->root = strdup(root))) {
        st = qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", root);
        goto end;
    }
    if (!S_ISDIR(rst.st_mode)) {
        /* A single file is a set of one, whatever its name: loading it says whether it is
         * a PNG or a JPEG. Its relative path is its file name. */
        set->items = calloc(1, sizeof *set->items);
        char *path = strdup(root);
        if (!set->items || !path) {
            free(path);
            st = qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", root);
            goto end;
        }
        const char *slash = strrchr(path, '/');
        set->items[0] = (qc_image_item){path, slash ? slash + 1 : path, -1};
        set->n_items = 1;
    } else {
        st = walk(&s, root, "", NULL, err);
        if (st != QC_OK)
            goto end;
        if (s.n_rels == 0) {
            st = qc_fail(err, QC_ERR_INPUT, "no PNG or JPEG images in '%s'", root);
            goto end;
        }
        qsort(s.rels, (size_t)s.n_rels, sizeof *s.rels, compare_strings);
        if (s.n_dirs > 0)
            qsort(s.dirs, (size_t)s.n_dirs, sizeof *s.dirs, compare_strings);
        if ((st = make_items(set, &s, err)) != QC_OK)
            goto end;
    }
    if (labels_file)
        st = file_labels(set, labels_file, err);
    else
        st = folder_labels(set, &s, err);
end:
    free_strings(s.rels, s.n_rels);
    free_strings(s.dirs, s.n_dirs);
    if (st != QC_OK)
        qc_image_set_free(set);
    return st;
}

void qc_image_set_free(qc_image_set *set)
{
    for (int i = 0; i < set->n_items; i++)
        free(set->items[i].path);
    free(set->items);
    free_strings(set->classes, set->n_classes);
    free(set->root);
    memset(set, 0, sizeof *set);
}
