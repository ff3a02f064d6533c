/* io.h — qcal's file formats: ONNX models and tensors, PNG and JPEG images, image sets,
 * model cards (JSON) and atomic file writing. Nothing here computes; it only converts
 * between files and the IR (graph/graph.h) or plain buffers.
 *
 *     qc_graph *g;
 *     if (qc_onnx_load("models/lenet.onnx", &g, &err) != QC_OK) ...   // exit code = status
 *     qc_image_set set;
 *     qc_image_set_open(&set, "data/val", NULL, &err);                 // ImageFolder layout
 *     qc_image_load(set.items[0].path, &pp, 1, 28, 28, pixels, &err);  // CHW floats
 */
#ifndef QCAL_IO_H
#define QCAL_IO_H

#include <stdio.h>

#include "../graph/graph.h"

/* ---- ONNX ------------------------------------------------------------------------------- */

/* Loads an ONNX model file into a prepared graph (qc_graph_prepare has run). A missing or
 * unreadable file is QC_ERR_IO; a malformed one, unsupported ops or types are QC_ERR_INPUT,
 * with the file named in the message. */
qc_status qc_onnx_load(const char *path, qc_graph **out, qc_error *err);
/* Same from a buffer; name is used in messages. The graph is not prepared. */
qc_status qc_onnx_parse(const void *data, size_t size, const char *name, qc_graph **out,
                        qc_error *err);
/* Loads a serialized TensorProto (the conformance data's input_0.pb). value->data is
 * malloc'ed and owned by the caller; *name (may be NULL) too. */
qc_status qc_onnx_load_tensor(const char *path, qc_value *value, char **name, qc_error *err);
/* Writes g as an ONNX model (IR version 8, the graph's opset plus any extra domains its nodes
 * use, e.g. com.microsoft version 1) atomically to path. The same graph always gives the same
 * bytes. Constants become initializers (raw_data), graph inputs and outputs get their dtype and
 * shape (symbolic dimensions as "N", from qc_tensor.symbolic), metadata_props are kept. */
qc_status qc_onnx_save(const qc_graph *g, const char *path, qc_error *err);
/* The same into a malloc'ed buffer. */
qc_status qc_onnx_serialize(const qc_graph *g, void **data, size_t *size, qc_error *err);

/* ---- NumPy arrays ---------------------------------------------------------------------- */

/* Reads a NumPy .npy file (format 1.0 or 2.0; dtype '<f4', '<i8', '<i4', '|b1' or '|u1'; C
 * order; header at most 10,000 bytes; shape within qc_value_check's limits) into v, whose
 * data is malloc'ed and owned by the caller. A missing file is QC_ERR_IO; anything else wrong
 * is QC_ERR_INPUT naming the file and the problem (io/npy.c). */
qc_status qc_npy_read(const char *path, qc_value *v, qc_error *err);
/* The same from a buffer; name is used in messages. */
qc_status qc_npy_parse(const void *data, size_t size, const char *name, qc_value *v, qc_error *err);
/* The array in file bound to g's input `name` (qc_graph_bind_input): an input g does not
 * have is QC_ERR_USAGE listing its inputs (model_path names g); a bad file names it. */
qc_status qc_npy_bind_input(qc_graph *g, const char *model_path, const char *name, const char *file,
                            qc_error *err);

/* ---- images ---------------------------------------------------------------------------- */

typedef enum {
    QC_COLOR_GRAY = 1, /* one channel */
    QC_COLOR_RGB = 3,  /* three channels, R first */
    QC_COLOR_BGR = 4,  /* three channels, B first */
} qc_color;

/* How an image becomes a model input (CHW floats): convert to the colour model, resize
 * (bilinear) to resize_h × resize_w, or its shorter side to resize_short (the other side
 * scaled alike, truncated, as torchvision's Resize(S)), center-crop to crop_h × crop_w, then
 * for every channel c: x = (pixel * scale - mean[c]) / std[c], with pixel in 0..255. */
typedef struct {
    qc_color color;
    int resize_h, resize_w; /* 0: no resize (unless the image does not fit the model) */
    int resize_short;       /* 0: none; else resize_h and resize_w are 0 */
    int crop_h, crop_w;     /* 0: no crop */
    float scale;
    float mean[3], std[3];
} qc_preprocess;

/* What a model takes and gives as an image classifier: one float N x C x H x W input with C, H
 * and W fixed and N symbolic or fixed (images run in batches of N), or channels-last
 * N x H x W x C (tf2onnx, Keras: C = 1 or 3 in the last axis and not in axis 1), and
 * classes = the element
 * count of the scored output divided by the batch when it is a float tensor (0 otherwise; an error when classifier is set).
 * One check for every command; command names it in the message ("stats needs one image
 * input"). */
typedef struct {
    int channels, height, width, classes;
    bool channels_last; /* the input is N x H x W x C: images are fed HWC */
    int64_t dims[4];    /* the input's shape for one image: 1 x C x H x W or 1 x H x W x C */
    int input;          /* the image input's tensor: the one input not bound to a constant */
    int output;         /* the scored output, an index into g->outputs (qc_set_scored_output) */
    int64_t batch;      /* images per run: the image input's fixed N above 1 (qc_input_batch), else 1 */
} qc_image_input;
/* The output read as class scores by name (--output), set once before models are read; NULL
 * (the default) is the first output. A model without that output is QC_ERR_USAGE listing its
 * outputs. The image input is the one input not bound to a constant (qc_graph_bind_input); with
 * several, the float 4-D one with 1 or 3 channels, and any other unbound input is refused by
 * name ("needs --input NAME=FILE.npy"). */
void qc_set_scored_output(const char *name);
/* The fixed batch of g's image input (the one qc_image_input_of picks) when it is above 1 (a
 * model exported with N = 4 runs images four at a time: passes fill the last batch with
 * copies of its last real image and ignore their results), else 1 (N symbolic or 1).
 * qc_image_input_of refuses a fixed batch beside an input bound to a constant. */
int64_t qc_input_batch(const qc_graph *g);
#define QC_MAX_FIXED_BATCH 4096
/* Whether a 4-D image input's dims read as channels-last: C = 1 or 3 in the last axis and
 * another size in axis 1 (the rule qc_image_input_of applies), unless the layout was set. */
bool qc_is_channels_last(const int64_t dims[4]);
/* Forces the layout of image inputs (--layout), set once before models are read; AUTO (the
 * default) applies the rule above. */
typedef enum { QC_LAYOUT_AUTO, QC_LAYOUT_NCHW, QC_LAYOUT_NHWC } qc_layout;
void qc_set_image_layout(qc_layout layout);
qc_status qc_image_input_of(const qc_graph *g, const char *path, const char *command,
                            bool classifier, qc_image_input *in, qc_error *err);

/* color from channels (1 gray, 3 rgb), scale 1/255, mean 0, std 1, no resize or crop. */
void qc_preprocess_default(qc_preprocess *pp, int channels);

/* Reads a PNG or JPEG file (told apart by its first bytes) and writes channels × height ×
 * width floats (CHW) to dst following pp. When pp asks for no resize and no crop and the image
 * size differs from height × width, the image is resized to it. A file that is missing is
 * QC_ERR_IO; one that is neither format, is corrupt or truncated is QC_ERR_INPUT; both name
 * the file. */
qc_status qc_image_load(const char *path, const qc_preprocess *pp, int channels, int height,
                        int width, float *dst, qc_error *err);

/* qc_image_load into the layout the model takes (in->dims): CHW, or HWC when channels-last. */
qc_status qc_image_load_input(const qc_image_input *in, const char *path, const qc_preprocess *pp,
                              float *dst, qc_error *err);

/* Writes an 8-bit PNG (channels 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; pixels interleaved
 * HWC). For tests and tools. */
qc_status qc_png_write(const char *path, const unsigned char *pixels, int width, int height,
                       int channels, qc_error *err);

/* ---- image sets -------------------------------------------------------------------------- */

typedef struct {
    char *path;      /* owned: root joined with rel */
    const char *rel; /* points into path: the path relative to the set's root */
    int label;       /* class index, -1 when unknown */
} qc_image_item;

typedef struct {
    char *root;            /* owned */
    int n_items;
    qc_image_item *items;  /* sorted by rel (byte order) */
    int n_classes;
    char **classes;        /* owned: class folder names (ImageFolder), or NULL */
    int unmatched_labels;  /* lines of the labels file that name no image of the set */
} qc_image_set;

/* Scans root recursively for *.png, *.jpg and *.jpeg (case-insensitive) in sorted order. Labels come from
 * labels_file when given (lines "relative/path.png label", label an integer), otherwise
 * from an ImageFolder layout: each top-level sub-folder is a class, sorted by name, and a
 * folder name starting with a number ("3_dress") gives that index. Images directly in
 * root have no label (-1). A single file as root is a set of one. An empty set is
 * QC_ERR_INPUT. */
qc_status qc_image_set_open(qc_image_set *set, const char *root, const char *labels_file,
                            qc_error *err);
void qc_image_set_free(qc_image_set *set);

/* Keeps a reproducible class-balanced random sample of n images (classes = labels, the
 * unlabelled images one class), in the set's sorted order; n at or above the set's size keeps
 * all. The same set, n and seed always keep the same images. The PRNG (SplitMix64 from
 * seed), how quotas and remainders are spread: atop io/select.c. */
qc_status qc_image_set_sample(qc_image_set *set, int64_t n, uint64_t seed, qc_error *err);
/* The PRNG it draws from: the next SplitMix64 value of state, and a uniform draw in [0, m)
 * (m > 0; draws below 2^64 mod m are redrawn, so no value is favoured). */
uint64_t qc_random_next(uint64_t *state);
uint64_t qc_random_below(uint64_t *state, uint64_t m);

/* Called with the message of each image an image-reading loop leaves out (--skip-bad), in
 * the set's order; the message names the file and what is wrong. */
typedef void (*qc_skip_fn)(void *ctx, const char *msg);
/* Decodes the images in order (on threads) until `want` have been read, and drops those that
 * cannot be read (each reported to on_skip, which may be NULL); images after that are kept
 * unread. Only out of memory is an error; the set may end up empty. */
qc_status qc_image_set_keep_readable(qc_image_set *set, qc_color color, int64_t want,
                                     int threads, qc_skip_fn on_skip, void *skip_ctx,
                                     qc_error *err);

/* ---- model cards ------------------------------------------------------------------------- */

/* models/NAME.json beside models/NAME.onnx:
 *   { "qcal": 1, "name": "lenet",
 *     "preprocess": { "color": "gray", "size": [28, 28], "crop": [28, 28],
 *                     "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] },
 *     "classes": ["T-shirt/top", …],
 *     "fp32_top1": { "correct": 9120, "images": 10000, "fraction": 0.912 } }
 * "size", "crop", "mean", "std", "classes" and "fp32_top1" are optional; "resize": S (the
 * shorter side to S, qc_preprocess.resize_short) may stand instead of "size". */
typedef struct {
    bool found;            /* a card was found and parsed */
    char *path;            /* owned */
    char *name;            /* owned, may be NULL */
    qc_preprocess pp;
    int n_classes;
    char **classes;        /* owned, may be NULL */
    int64_t top1_correct, top1_images; /* -1 when absent */
} qc_model_card;

/* Looks for the card beside model_path (same name, .json). No file: card->found = false
 * and QC_OK. A file that is not valid JSON is QC_ERR_INPUT naming it. A JSON file without
 * the "qcal" key is not a card: found = false, and *warning (when not NULL) gets a
 * message for the CLI to print. */
qc_status qc_model_card_load(const char *model_path, int channels, qc_model_card *card,
                             char *warning, size_t warning_size, qc_error *err);
void qc_model_card_free(qc_model_card *card);
/* A card from text (a quantized model's "qcal.model_card" metadata); name is used in
 * messages and kept as card->path. Text without the "qcal" key is QC_ERR_INPUT. */
qc_status qc_model_card_parse(const char *text, const char *name, int channels,
                              qc_model_card *card, qc_error *err);
/* The card path beside model_path (NAME.onnx → NAME.json), malloc'ed; NULL when out of memory. */
char *qc_model_card_path(const char *model_path);
/* The card of the model at model_path whose graph is g (NULL: only the file beside it): the
 * card beside it, else the one g embeds (metadata qcal.model_card, written by qcal quantize).
 * A quantized g (qc_graph_is_quantized) with neither, when flags_given is false, is
 * QC_ERR_INPUT: its preprocessing is unknown. Neither for an FP32 g: card->found is false.
 * *warning as qc_model_card_load says. */
qc_status qc_model_card_of(const char *model_path, const qc_graph *g, int channels, bool flags_given,
                           qc_model_card *card, char *warning, size_t warning_size, qc_error *err);
/* Preprocessing given on a command line (--size HxW | --resize S, --crop HxW, --scale S,
 * --mean M[,M,M], --std S[,S,S], --color), each laid over the card's when given. */
typedef struct {
    bool has_size, has_crop, has_scale;
    int size_h, size_w, crop_h, crop_w;
    int resize_short; /* --resize S; 0 when not given */
    float scale;
    int n_mean, n_std; /* 0 when not given; 1 value: every channel's */
    float mean[3], std[3];
    int color; /* a qc_color; 0 when not given */
} qc_pp_overrides;
bool qc_pp_overrides_given(const qc_pp_overrides *f);
/* The option texts of those fields: "HxW" (or "N", N × N; each side 1 to 16384) into *h, *w;
 * "M" or "M,M,M" (finite numbers, none 0 when nonzero is set) into out, giving the count (1
 * or 3), or false / -1 when the text is none of these. */
bool qc_pp_parse_hw(const char *text, int *h, int *w);
int qc_pp_parse_channel_values(const char *text, float out[3], bool nonzero);
/* The preprocessing of the model at model_path (graph g, may be NULL) in *pp: its card
 * (qc_model_card_of, into *card; *warning as it says), else the default for the channels,
 * with f laid over. Both a size and a resize, or a colour of other channels than the model's,
 * is QC_ERR_USAGE. */
qc_status qc_preprocess_resolve(const char *model_path, const qc_graph *g, int channels, const qc_pp_overrides *f,
                                qc_model_card *card, qc_preprocess *pp, char *warning, size_t warning_size,
                                qc_error *err);
/* The card as canonical JSON text with pp as its preprocessing, malloc'ed in *out: fixed key
 * order ("qcal", "name", "preprocess" {"color", "size" or "resize", "crop", "scale", "mean", "std"},
 * "classes", "fp32_top1" {"correct", "images"}), floats in the fewest of 6 to 9 digits that read back exactly, one
 * mean and std per channel of the colour model. card may be NULL or not found: then only
 * "qcal" and "preprocess". The same card and pp always give the same bytes. */
qc_status qc_model_card_json(const qc_model_card *card, const qc_preprocess *pp, char **out,
                             qc_error *err);
/* Copies the card beside model_path, byte for byte, to the card path beside out_model_path
 * (atomically), so that a model derived from another (a quantized one) keeps its
 * preprocessing and classes; with text not NULL, writes text (and a newline) there instead
 * (a card whose preprocessing flags changed). Nothing is written when model_path has no card.
 * A file already at the target that is not a model card (a statistics file, say) is never
 * overwritten. */
typedef enum {
    QC_CARD_COPIED,      /* the card was copied */
    QC_CARD_NONE,        /* model_path has no card file: nothing to copy */
    QC_CARD_KEPT_OTHER,  /* the target holds another kind of file: left as it is */
} qc_card_copy;
qc_status qc_model_card_copy(const char *model_path, const char *out_model_path, const char *text,
                             qc_card_copy *result, char *target, size_t target_size,
                             qc_error *err); /* target gets the card path beside out_model_path */

/* ---- JSON text shared by every writer ------------------------------------------------------ */

/* s as a JSON string: quotes and backslashes escaped, control characters as \u00XX. */
void qc_json_put_string(FILE *f, const char *s);
/* The shortest %.Ng (N = 6 … 9) that reads back as v: "0.286", not "0.286000013"; returns buf. */
const char *qc_float_text(float v, char *buf, size_t size);

/* ---- files ----------------------------------------------------------------------------- */

/* Atomic writing: data goes to a temporary file beside path, renamed over path by
 * qc_file_commit; qc_file_abort removes it. Nothing half-written is ever left. A path that
 * exists and is not a regular file (a device, a FIFO, a folder, a symbolic link) is refused
 * (QC_ERR_IO, named); an existing file keeps its permissions. Temporary files not yet
 * committed are registered, so that qc_file_unlink_pending (async-signal-safe: for a signal
 * handler) can remove them when the process is interrupted. */
typedef struct {
    FILE *f;
    char *path, *tmp_path;
} qc_file;

qc_status qc_file_begin(qc_file *file, const char *path, qc_error *err);
qc_status qc_file_commit(qc_file *file, qc_error *err);
void qc_file_abort(qc_file *file);
void qc_file_unlink_pending(void);
/* Ctrl-C (SIGINT), kill (SIGTERM) or a closed terminal (SIGHUP) removes the temporary files
 * (qc_file_unlink_pending), then ends the process as the signal would have. */
void qc_file_unlink_on_signals(void);
/* One line of qcal eval's predictions file (predictions.c): "path<TAB>top1<TAB>label" (label
 * empty when < 0), then with scores "<TAB>s0 s1 …" (n of them, %.9g: exact floats); the path's
 * backslash, tab, newline and carriage return written \\, \t, \n and \r. */
qc_status qc_prediction_put(qc_file *file, const char *rel, int top1, int label, const float *scores, int n,
                            qc_error *err);
/* Two paths naming one file: by device and inode when both exist, else by the resolved path
 * (the folder's realpath, then the name). */
bool qc_same_file(const char *a, const char *b);
/* Whether out can be written, found before a run rather than after it: a folder (or a path
 * ending in '/') is QC_ERR_USAGE, a folder that does not exist or cannot be written to
 * QC_ERR_IO; option names out in the message. */
qc_status qc_check_writable(const char *out, const char *option, qc_error *err);
/* A file a command reads, for the checks of what it writes: what is "model" (its card beside
 * it is an input too), "statistics file", …; a NULL path is skipped. */
typedef struct {
    const char *path;
    const char *what;
} qc_input_file;
/* out checked before anything is read (option names it): qc_check_writable, then an out that
 * is one of the inputs (qc_same_file), or the model card beside an input model, is
 * QC_ERR_USAGE naming both. */
qc_status qc_check_output(const char *out, const char *option, const qc_input_file *inputs, int n, qc_error *err);
/* The same for plain paths (a command's operands): one ending in ".onnx" is a model. */
qc_status qc_check_output_paths(const char *out, const char *option, const char *const *paths, int n,
                                qc_error *err);
/* Operands in the wrong order: a model path that is a folder, or an image folder that is an
 * .onnx file, is QC_ERR_USAGE naming it and the synopsis ("qcal stats MODEL IMAGES"). */
qc_status qc_check_operands(const char *synopsis, const char *const *models, int n_models,
                            const char *const *folders, int n_folders, qc_error *err);

/* Reads a whole file into a malloc'ed buffer (NUL-terminated, size excludes the NUL). Files
 * qcal reads are at most QC_MAX_FILE_BYTES (protobuf's own limit): a larger regular file is
 * refused before it is read, a pipe once it passes the limit, and a device (/dev/zero) at
 * once — QC_ERR_INPUT, the file named. */
#define QC_MAX_FILE_BYTES (((size_t)2 << 30) - 1)
qc_status qc_read_file(const char *path, char **data, size_t *size, qc_error *err);
/* A whole file's bytes for reading only: a regular file mapped (the page cache's pages, not a
 * copy), anything else read as qc_read_file reads it, with its checks and errors. */
typedef struct {
    const void *data;
    size_t size;
    bool mapped;
} qc_file_bytes;
qc_status qc_map_file(const char *path, qc_file_bytes *bytes, qc_error *err);
void qc_unmap_file(qc_file_bytes *bytes);
/* The same file, with the same checks and errors, handed to take in pieces of up to 256 KiB
 * through one buffer, in order, without holding it whole (hashing a model file). */
qc_status qc_read_file_pieces(const char *path, void (*take)(void *ctx, const void *piece, size_t n), void *ctx,
                              qc_error *err);

#endif
