/* files.c — atomic file writing (temporary file + rename) and reading whole files. */
#include <ctype.h>
#include <libgen.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image-impl.h"

const char *qc_errno_text(int e, char *buf, size_t size)
{
    /* GNU strerror_r (we build with _GNU_SOURCE) may return a static string instead of buf. */
    const char *s = strerror_r(e, buf, size);
    if (s != buf)
        snprintf(buf, size, "%s", s);
    if (buf[0] && isupper((unsigned char)buf[0]) && !isupper((unsigned char)buf[1]))
        buf[0] = (char)tolower((unsigned char)buf[0]);
    return buf;
}

/* The process umask, without changing it (umask(2) can only read it by setting it, which
 * races with other threads creating files). Linux has shown it in /proc since 4.7. */
static mode_t current_umask(void)
{
    mode_t mask = 022;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return mask;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Umask:", 6) == 0) {
            mask = (mode_t)strtoul(line + 6, NULL, 8);
            break;
        }
    }
    fclose(f);
    return mask & 0777;
}

/* The temporary files being written, for qc_file_unlink_pending; a slot holds a path owned
 * by its qc_file, or NULL. Slots are claimed and cleared atomically. */
#define PENDING_SLOTS 64
static char *_Atomic pending[PENDING_SLOTS];

static void pending_add(char *tmp_path)
{
    for (int i = 0; i < PENDING_SLOTS; i++) {
        char *expected = NULL;
        if (atomic_compare_exchange_strong(&pending[i], &expected, tmp_path))
            return;
    }
    /* more files at once than slots: that one is only removed on a normal exit path */
}

static void pending_remove(const char *tmp_path)
{
    for (int i = 0; i < PENDING_SLOTS; i++) {
        char *expected = (char *)tmp_path;
        if (atomic_compare_exchange_strong(&pending[i], &expected, NULL))
            return;
    }
}

void qc_file_unlink_pending(void)
{
    for (int i = 0; i < PENDING_SLOTS; i++) {
        char *p = atomic_exchange(&pending[i], NULL);
        if (p)
            unlink(p);
    }
}

/* The signal that ends the process: the temporary files go, then the signal does what it
 * would have done (SA_RESETHAND restored its default). */
static void unlink_then_raise(int sig)
{
    qc_file_unlink_pending();
    raise(sig);
}

void qc_file_unlink_on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = unlink_then_raise;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    const int signals[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        sigaction(signals[i], &sa, NULL);
}

static void file_release(qc_file *file)
{
    if (file->tmp_path)
        pending_remove(file->tmp_path);
    free(file->path);
    free(file->tmp_path);
    file->f = NULL;
    file->path = file->tmp_path = NULL;
}

qc_status qc_file_begin(qc_file *file, const char *path, qc_error *err)
{
    char msg[256];
    file->f = NULL;
    file->path = file->tmp_path = NULL;
    /* rename() would put a regular file in place of whatever is there: as root, -o /dev/null
     * would replace the device */
    struct stat there;
    bool exists = lstat(path, &there) == 0;
    if (exists && !S_ISREG(there.st_mode))
        return qc_fail(err, QC_ERR_IO, "cannot write '%s': it exists and is not a regular file (%s)",
                       path, S_ISLNK(there.st_mode)    ? "a symbolic link"
                             : S_ISDIR(there.st_mode)  ? "a folder"
                             : S_ISFIFO(there.st_mode) ? "a FIFO"
                                                       : "a device or socket");
    file->path = strdup(path);
    /* The temporary file lives in the target's folder so that rename() stays within one
     * file system and is atomic; the leading dot hides it from image-set scans. */
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = path + dir_len;
    size_t tmp_size = dir_len + 1 + strlen(base) + 8;
    file->tmp_path = malloc(tmp_size);
    if (!file->path || !file->tmp_path) {
        file_release(file);
        return qc_fail(err, QC_ERR_IO, "cannot write '%s': out of memory", path);
    }
    snprintf(file->tmp_path, tmp_size, "%.*s.%s.XXXXXX", (int)dir_len, path, base);
    int fd = mkstemp(file->tmp_path);
    if (fd < 0) {
        int e = errno;
        file_release(file);
        return qc_fail(err, QC_ERR_IO, "cannot write '%s': %s", path,
                       qc_errno_text(e, msg, sizeof msg));
    }
    pending_add(file->tmp_path);
    /* mkstemp creates the file 0600; give it the mode of the file it replaces, or the one a
     * plain fopen would have. */
    mode_t mode = exists ? there.st_mode & 07777 : 0666 & ~current_umask();
    if (fchmod(fd, mode) != 0 || !(file->f = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        unlink(file->tmp_path);
        file_release(file);
        return qc_fail(err, QC_ERR_IO, "cannot write '%s': %s", path,
                       qc_errno_text(e, msg, sizeof msg));
    }
    return QC_OK;
}

qc_status qc_file_commit(qc_file *file, qc_error *err)
{
    char msg[256];
    if (!file->f) {
        file_release(file);
        return qc_fail(err, QC_ERR_IO, "internal error: no file open to commit");
    }
    /* Small files reach the disk only here, so the flush reports most failures. */
    int e = 0;
    errno = 0;
    bool failed_before = ferror(file->f) != 0;
    if (fflush(file->f) != 0)
        e = errno ? errno : EIO;
    if (!e && failed_before) {
        /* An earlier fwrite failed and its errno is gone. One more byte, into a file that
         * is about to be removed, usually fails the same way (disk full, size limit) and
         * tells why. */
        e = write(fileno(file->f), "", 1) < 0 ? errno : -1;
    }
    if (!e && fsync(fileno(file->f)) != 0 && errno != EINVAL)
        e = errno;
    if (fclose(file->f) != 0 && !e)
        e = errno ? errno : EIO;
    file->f = NULL;
    if (!e && rename(file->tmp_path, file->path) != 0)
        e = errno;
    if (e) {
        unlink(file->tmp_path);
        qc_fail(err, QC_ERR_IO, "cannot write '%s': %s", file->path,
                e > 0 ? qc_errno_text(e, msg, sizeof msg) : "write failed");
        file_release(file);
        return QC_ERR_IO;
    }
    file_release(file);
    return QC_OK;
}

void qc_file_abort(qc_file *file)
{
    if (file->f) {
        fclose(file->f);
        file->f = NULL;
    }
    if (file->tmp_path)
        unlink(file->tmp_path);
    file_release(file);
}

/* Opens path for reading as qc_read_file does: a device or a regular file over the limit is
 * refused before a byte is read. */
static qc_status open_for_reading(const char *path, FILE **out, qc_error *err)
{
    char msg[256];
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return qc_fail(err, QC_ERR_IO, "cannot read '%s': %s", path,
                       qc_errno_text(e, msg, sizeof msg));
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) {
        fclose(f);
        return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': a device, not a file", path);
    }
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
        (uintmax_t)st.st_size > (uintmax_t)QC_MAX_FILE_BYTES) {
        fclose(f);
        return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': %.1f GiB, more than the 2 GiB qcal reads",
                       path, (double)st.st_size / 1073741824.0);
    }
    *out = f;
    return QC_OK;
}

/* Closes f after a read; the error of the read, if any, named. */
static qc_status close_after_reading(FILE *f, const char *path, qc_error *err)
{
    char msg[256];
    if (ferror(f)) {
        int e = errno ? errno : EIO;
        fclose(f);
        return qc_fail(err, QC_ERR_IO, "cannot read '%s': %s", path,
                       qc_errno_text(e, msg, sizeof msg));
    }
    fclose(f);
    return QC_OK;
}

static qc_status too_long(const char *path, qc_error *err)
{
    return qc_fail(err, QC_ERR_INPUT, "cannot read '%s': more than the 2 GiB qcal reads", path);
}

qc_status qc_read_file(const char *path, char **data, size_t *size, qc_error *err)
{
    *data = NULL;
    *size = 0;
    FILE *f;
    qc_status st = open_for_reading(path, &f, err);
    if (st != QC_OK)
        return st;
    /* Grow as we go rather than trusting st_size: pipes and /proc files report 0. */
    size_t cap = 0, len = 0;
    char *buf = NULL;
    for (;;) {
        if (len > QC_MAX_FILE_BYTES) {
            free(buf);
            fclose(f);
            return too_long(path, err);
        }
        if (cap - len < 2) {
            size_t new_cap = cap ? cap * 2 : 65536;
            char *p = new_cap > cap ? realloc(buf, new_cap) : NULL;
            if (!p) {
                free(buf);
                fclose(f);
                return qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", path);
            }
            buf = p;
            cap = new_cap;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    if ((st = close_after_reading(f, path, err)) != QC_OK) {
        free(buf);
        return st;
    }
    buf[len] = '\0';
    *data = buf;
    *size = len;
    return QC_OK;
}

qc_status qc_read_file_pieces(const char *path, void (*take)(void *ctx, const void *piece, size_t n), void *ctx,
                              qc_error *err)
{
    enum { PIECE = 1 << 18 };
    FILE *f;
    qc_status st = open_for_reading(path, &f, err);
    if (st != QC_OK)
        return st;
    char *buf = malloc(PIECE);
    if (!buf) {
        fclose(f);
        return qc_fail(err, QC_ERR_IO, "cannot read '%s': out of memory", path);
    }
    size_t len = 0, n;
    while ((n = fread(buf, 1, PIECE, f)) > 0) {
        len += n;
        if (len > QC_MAX_FILE_BYTES) {
            free(buf);
            fclose(f);
            return too_long(path, err);
        }
        take(ctx, buf, n);
    }
    free(buf);
    return close_after_reading(f, path, err);
}

qc_status qc_map_file(const char *path, qc_file_bytes *bytes, qc_error *err)
{
    *bytes = (qc_file_bytes){0};
    FILE *f;
    qc_status st = open_for_reading(path, &f, err);
    if (st != QC_OK)
        return st;
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
        /* the page cache's own pages, mapped at once, instead of a copy into fresh ones */
        void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fileno(f), 0);
        if (p != MAP_FAILED) {
            fclose(f);
            bytes->data = p;
            bytes->size = (size_t)sb.st_size;
            bytes->mapped = true;
            return QC_OK;
        }
    }
    fclose(f);
    char *data;
    st = qc_read_file(path, &data, &bytes->size, err);
    bytes->data = data;
    return st;
}

void qc_unmap_file(qc_file_bytes *bytes)
{
    if (bytes->mapped)
        munmap((void *)bytes->data, bytes->size);
    else
        free((void *)bytes->data);
    *bytes = (qc_file_bytes){0};
}

/* ---- file identity and writability, checked before a run ------------------------------------ */

/* path made absolute without following its last component: realpath of the folder, then the
 * name; a copy of path when the folder does not resolve. malloc'ed. */
static char *resolve_path(const char *path)
{
    char *r = realpath(path, NULL);
    if (r)
        return r;
    char *a = strdup(path), *b = strdup(path);
    char *dir = a ? realpath(dirname(a), NULL) : NULL;
    const char *base = b ? basename(b) : NULL;
    size_t size = dir && base ? strlen(dir) + strlen(base) + 2 : 0;
    r = size ? malloc(size) : NULL;
    if (r)
        snprintf(r, size, "%s/%s", dir, base);
    else
        r = strdup(path);
    free(dir);
    free(a);
    free(b);
    return r;
}

bool qc_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char *ra = resolve_path(a), *rb = resolve_path(b);
    bool same = ra && rb ? !strcmp(ra, rb) : !strcmp(a, b);
    free(ra);
    free(rb);
    return same;
}

qc_status qc_check_writable(const char *out, const char *option, qc_error *err)
{
    struct stat st;
    size_t len = strlen(out);
    if ((stat(out, &st) == 0 && S_ISDIR(st.st_mode)) || (len && out[len - 1] == '/'))
        return qc_fail(err, QC_ERR_USAGE, "%s '%s' is a folder: give the name of the file to write in it", option, out);
    char *copy = strdup(out);
    const char *dir = copy ? dirname(copy) : ".";
    qc_status status = QC_OK;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        status = qc_fail(err, QC_ERR_IO, "cannot write '%s' (%s): there is no folder '%s'", out, option, dir);
    else if (access(dir, W_OK | X_OK) != 0)
        status = qc_fail(err, QC_ERR_IO, "cannot write '%s' (%s): the folder '%s' is not writable", out, option, dir);
    free(copy);
    return status;
}

/* out is the card of the input model `model` (one that exists) */
static bool is_model_card(const char *out, const char *model)
{
    char *card = qc_model_card_path(model);
    struct stat st;
    bool hit = card && stat(card, &st) == 0 && qc_same_file(out, card);
    free(card);
    return hit;
}

qc_status qc_check_output(const char *out, const char *option, const qc_input_file *inputs, int n, qc_error *err)
{
    qc_status writable = qc_check_writable(out, option, err);
    if (writable != QC_OK)
        return writable;
    for (int i = 0; i < n; i++) {
        const qc_input_file *in = &inputs[i];
        if (!in->path)
            continue;
        if (qc_same_file(out, in->path))
            return qc_fail(err, QC_ERR_USAGE, "cannot write '%s': it is the %s '%s', which the command reads (%s "
                           "must name another file)", out, in->what, in->path, option);
        if (!strcmp(in->what, "model") && is_model_card(out, in->path))
            return qc_fail(err, QC_ERR_USAGE, "cannot write '%s': it is the model card of '%s' (%s must name "
                           "another file)", out, in->path, option);
    }
    return QC_OK;
}

static bool names_model(const char *path)
{
    size_t len = strlen(path);
    return len > 5 && !strcmp(path + len - 5, ".onnx");
}

qc_status qc_check_output_paths(const char *out, const char *option, const char *const *paths, int n,
                                qc_error *err)
{
    for (int i = 0; i < n; i++) {
        qc_input_file in = {paths[i], names_model(paths[i]) ? "model" : "input"};
        qc_status st = qc_check_output(out, option, &in, 1, err);
        if (st != QC_OK)
            return st;
    }
    return QC_OK;
}

qc_status qc_check_operands(const char *synopsis, const char *const *models, int n_models,
                            const char *const *folders, int n_folders, qc_error *err)
{
    struct stat st;
    for (int i = 0; i < n_models; i++)
        if (stat(models[i], &st) == 0 && S_ISDIR(st.st_mode))
            return qc_fail(err, QC_ERR_USAGE, "'%s' is a folder; MODEL comes first: %s", models[i], synopsis);
    for (int i = 0; i < n_folders; i++)
        if (names_model(folders[i]) && stat(folders[i], &st) == 0 && S_ISREG(st.st_mode))
            return qc_fail(err, QC_ERR_USAGE, "'%s' is a model, not a folder of images; MODEL comes first: %s",
                           folders[i], synopsis);
    return QC_OK;
}
