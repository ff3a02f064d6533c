/* check_io.c — io/ without ONNX: exact PNG pixels for every colour type and bit depth, JPEG
 * pixels equal to PIL's, resize,
 * crop and normalization values, image-set order and labels, model cards, atomic files, and
 * a replay of hostile and mutated PNG files that must be rejected without crashing. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <png.h>

#include "check-util.h"
#include "io/io.h"

/* Where the committed hostile PNG files are, relative to the repository root (where
 * make check runs the suites). */
#define CORPUS_DIR "tests/data/png"
/* Resizing by a ratio that is not a power of two cannot give round numbers in float32;
 * this is the largest difference allowed from the real-number result. */
#define RESIZE_TOLERANCE 1e-4f

static char tmp[256];

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/qcal-check-io-XXXXXX", base && base[0] ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A path inside the test's temporary folder, in a rotating set of static buffers. */
static const char *at(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", tmp, name);
    return b;
}

static void put_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
}

static void put_text(const char *path, const char *text)
{
    put_file(path, text, strlen(text));
}

static void make_dir(const char *path)
{
    ck_assert_msg(mkdir(path, 0777) == 0, "mkdir '%s': %s", path, strerror(errno));
}

/* Names in a folder, hidden ones included. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* ---- writing PNG files of every kind with libpng directly -------------------------------- */

typedef struct {
    int width, height, color_type, depth;
    bool interlace;
    const unsigned char *rows; /* stored layout (packed, big-endian), rows back to back */
    const png_color *palette;
    int n_palette;
    const unsigned char *trns; /* palette alpha */
    int n_trns;
    const png_color_16 *trns_color; /* gray or RGB transparency */
    double gamma;                   /* 0: no gAMA chunk */
} png_spec;

static bool write_spec_rows(png_structp png, png_infop info, FILE *f, const png_spec *s,
                            png_bytep *rows)
{
    if (setjmp(png_jmpbuf(png)))
        return false;
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)s->width, (png_uint_32)s->height, s->depth,
                 s->color_type, s->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (s->palette)
        png_set_PLTE(png, info, s->palette, s->n_palette);
    if (s->trns || s->trns_color)
        png_set_tRNS(png, info, s->trns, s->n_trns, s->trns_color);
    if (s->gamma > 0)
        png_set_gAMA(png, info, s->gamma);
    png_write_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    for (int y = 0; y < s->height; y++)
        rows[y] = (png_bytep)s->rows + rowbytes * (size_t)y;
    png_write_image(png, rows);
    png_write_end(png, info);
    return true;
}

static void write_spec(const char *path, const png_spec *s)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_bytep *rows = malloc(sizeof *rows * (size_t)s->height);
    bool ok = write_spec_rows(png, info, f, s, rows);
    png_destroy_write_struct(&png, &info);
    free(rows);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_msg(ok, "cannot write test PNG '%s'", path);
}

/* ---- loading through the public API ------------------------------------------------------ */

/* No resize, no crop, scale 1, mean 0, std 1: the output is the 0..255 pixel value. */
static qc_preprocess raw_pp(qc_color color)
{
    qc_preprocess pp;
    qc_preprocess_default(&pp, color == QC_COLOR_GRAY ? 1 : 3);
    pp.color = color;
    pp.scale = 1.0f;
    return pp;
}

static float *load_ok(const char *path, const qc_preprocess *pp, int h, int w)
{
    int c = pp->color == QC_COLOR_GRAY ? 1 : 3;
    float *dst = malloc(sizeof(float) * (size_t)(c * h * w));
    qc_error err = {{0}};
    qc_status st = qc_image_load(path, pp, c, h, w, dst, &err);
    ck_assert_msg(st == QC_OK, "loading '%s': %s", path, err.msg);
    return dst;
}

static float *load_raw(const char *path, qc_color color, int h, int w)
{
    qc_preprocess pp = raw_pp(color);
    return load_ok(path, &pp, h, w);
}

/* ---- PNG pixels -------------------------------------------------------------------------- */

START_TEST(an_8bit_gray_png_reads_back_exactly)
{
    unsigned char px[256];
    for (int i = 0; i < 256; i++)
        px[i] = (unsigned char)i;
    qc_error err;
    ck_assert_int_eq(qc_png_write(at("g.png"), px, 16, 16, 1, &err), QC_OK);
    float *x = load_raw(at("g.png"), QC_COLOR_GRAY, 16, 16);
    for (int i = 0; i < 256; i++)
        ck_assert_float_eq(x[i], (float)i);
    free(x);
}
END_TEST

START_TEST(gray_plus_alpha_ignores_the_alpha)
{
    unsigned char px[2 * 4] = {0, 255, 100, 0, 200, 17, 255, 128};
    qc_error err;
    ck_assert_int_eq(qc_png_write(at("ga.png"), px, 2, 2, 2, &err), QC_OK);
    float *x = load_raw(at("ga.png"), QC_COLOR_GRAY, 2, 2);
    ck_assert_float_eq(x[0], 0);
    ck_assert_float_eq(x[1], 100);
    ck_assert_float_eq(x[2], 200);
    ck_assert_float_eq(x[3], 255);
    free(x);
}
END_TEST

START_TEST(an_8bit_rgb_png_reads_back_exactly_in_rgb_and_bgr_order)
{
    unsigned char px[3 * 6];
    for (int i = 0; i < 18; i++)
        px[i] = (unsigned char)(i * 14 + 1);
    qc_error err;
    ck_assert_int_eq(qc_png_write(at("rgb.png"), px, 3, 2, 3, &err), QC_OK);
    float *rgb = load_raw(at("rgb.png"), QC_COLOR_RGB, 2, 3);
    float *bgr = load_raw(at("rgb.png"), QC_COLOR_BGR, 2, 3);
    for (int p = 0; p < 6; p++) {
        for (int c = 0; c < 3; c++) {
            ck_assert_float_eq(rgb[c * 6 + p], px[p * 3 + c]);
            ck_assert_float_eq(bgr[c * 6 + p], px[p * 3 + (2 - c)]);
        }
    }
    free(rgb);
    free(bgr);
}
END_TEST

START_TEST(rgba_ignores_the_alpha)
{
    unsigned char px[4 * 2] = {10, 20, 30, 0, 40, 50, 60, 255};
    qc_error err;
    ck_assert_int_eq(qc_png_write(at("rgba.png"), px, 2, 1, 4, &err), QC_OK);
    float *x = load_raw(at("rgba.png"), QC_COLOR_RGB, 1, 2);
    const float want[6] = {10, 40, 20, 50, 30, 60};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(x[i], want[i]);
    free(x);
}
END_TEST

/* PIL's convert("L"): (19595 R + 38470 G + 7471 B + 32768) >> 16. */
static unsigned luma_ref(unsigned r, unsigned g, unsigned b)
{
    return (19595 * r + 38470 * g + 7471 * b + 32768) >> 16;
}

START_TEST(rgb_to_gray_uses_bt601_luma_as_pil_does)
{
    enum { N = 256 + 6 };
    unsigned char px[3 * N];
    const unsigned char fixed[6][3] = {{255, 0, 0}, {0, 255, 0},   {0, 0, 255},
                                       {1, 2, 3},   {200, 100, 50}, {13, 250, 97}};
    for (int i = 0; i < 256; i++)
        px[3 * i] = px[3 * i + 1] = px[3 * i + 2] = (unsigned char)i;
    memcpy(px + 3 * 256, fixed, sizeof fixed);
    qc_error err;
    ck_assert_int_eq(qc_png_write(at("c.png"), px, N, 1, 3, &err), QC_OK);
    float *x = load_raw(at("c.png"), QC_COLOR_GRAY, 1, N);
    for (int i = 0; i < 256; i++)
        ck_assert_float_eq(x[i], (float)i); /* the weights sum to 1: gray stays gray */
    /* What PIL gives for pure red, green and blue. */
    ck_assert_float_eq(x[256], 76);
    ck_assert_float_eq(x[257], 150);
    ck_assert_float_eq(x[258], 29);
    for (int i = 259; i < N; i++)
        ck_assert_float_eq(x[i], (float)luma_ref(px[3 * i], px[3 * i + 1], px[3 * i + 2]));
    free(x);
}
END_TEST

START_TEST(gray_to_rgb_repeats_the_value)
{
    unsigned char px[3] = {0, 77, 255};
    qc_error err;
    ck_assert_int_eq(qc_png_write(at("g.png"), px, 3, 1, 1, &err), QC_OK);
    float *x = load_raw(at("g.png"), QC_COLOR_RGB, 1, 3);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 3; i++)
            ck_assert_float_eq(x[c * 3 + i], px[i]);
    free(x);
}
END_TEST

START_TEST(a_palette_png_takes_the_palette_colours_and_ignores_trns)
{
    const png_color pal[4] = {{1, 2, 3}, {250, 128, 0}, {9, 99, 199}, {255, 255, 255}};
    const unsigned char alpha[4] = {0, 128, 255, 7};
    const unsigned char idx8[4] = {3, 2, 1, 0};
    const unsigned char idx2[1] = {0x1B}; /* 2-bit indices 0, 1, 2, 3 */
    png_spec s = {.width = 4, .height = 1, .color_type = PNG_COLOR_TYPE_PALETTE, .depth = 8,
                  .rows = idx8, .palette = pal, .n_palette = 4, .trns = alpha, .n_trns = 4};
    write_spec(at("p8.png"), &s);
    s.depth = 2;
    s.rows = idx2;
    write_spec(at("p2.png"), &s);
    float *x8 = load_raw(at("p8.png"), QC_COLOR_RGB, 1, 4);
    float *x2 = load_raw(at("p2.png"), QC_COLOR_RGB, 1, 4);
    for (int i = 0; i < 4; i++) {
        const png_color *c8 = &pal[idx8[i]], *c2 = &pal[i];
        ck_assert_float_eq(x8[i], c8->red);
        ck_assert_float_eq(x8[4 + i], c8->green);
        ck_assert_float_eq(x8[8 + i], c8->blue);
        ck_assert_float_eq(x2[i], c2->red);
        ck_assert_float_eq(x2[4 + i], c2->green);
        ck_assert_float_eq(x2[8 + i], c2->blue);
    }
    free(x8);
    free(x2);
}
END_TEST

START_TEST(low_bit_depth_gray_scales_to_0_255)
{
    const unsigned char one[1] = {0xA0};   /* 1-bit 1 0 1 0 */
    const unsigned char two[1] = {0x1B};   /* 2-bit 0 1 2 3 */
    const unsigned char four[2] = {0x01, 0xF8}; /* 4-bit 0 1 15 8 */
    png_spec s = {.width = 4, .height = 1, .color_type = PNG_COLOR_TYPE_GRAY};
    s.depth = 1, s.rows = one;
    write_spec(at("g1.png"), &s);
    s.depth = 2, s.rows = two;
    write_spec(at("g2.png"), &s);
    s.depth = 4, s.rows = four;
    write_spec(at("g4.png"), &s);
    float *x1 = load_raw(at("g1.png"), QC_COLOR_GRAY, 1, 4);
    float *x2 = load_raw(at("g2.png"), QC_COLOR_GRAY, 1, 4);
    float *x4 = load_raw(at("g4.png"), QC_COLOR_GRAY, 1, 4);
    const float w1[4] = {255, 0, 255, 0}, w2[4] = {0, 85, 170, 255}, w4[4] = {0, 17, 255, 136};
    for (int i = 0; i < 4; i++) {
        ck_assert_float_eq(x1[i], w1[i]);
        ck_assert_float_eq(x2[i], w2[i]);
        ck_assert_float_eq(x4[i], w4[i]);
    }
    free(x1);
    free(x2);
    free(x4);
}
END_TEST

START_TEST(a_16bit_gray_png_with_value_257k_gives_exactly_k)
{
    enum { N = 256 + 3 };
    unsigned char rows[2 * N];
    for (int k = 0; k < 256; k++) {
        rows[2 * k] = (unsigned char)(257 * k >> 8);
        rows[2 * k + 1] = (unsigned char)(257 * k & 255);
    }
    const unsigned extra[3] = {1, 256, 65534};
    for (int i = 0; i < 3; i++) {
        rows[2 * (256 + i)] = (unsigned char)(extra[i] >> 8);
        rows[2 * (256 + i) + 1] = (unsigned char)(extra[i] & 255);
    }
    png_spec s = {.width = N, .height = 1, .color_type = PNG_COLOR_TYPE_GRAY, .depth = 16,
                  .rows = rows};
    write_spec(at("g16.png"), &s);
    float *x = load_raw(at("g16.png"), QC_COLOR_GRAY, 1, N);
    for (int k = 0; k < 256; k++)
        ck_assert_float_eq(x[k], (float)k);
    for (int i = 0; i < 3; i++)
        ck_assert_float_eq(x[256 + i], (float)extra[i] / 257.0f);
    free(x);
}
END_TEST

START_TEST(a_16bit_rgb_png_reads_as_v_over_257_and_turns_gray_at_16_bits)
{
    const unsigned v[2][3] = {{257 * 10, 257 * 200, 257 * 33}, {65535, 1000, 0}};
    unsigned char rows[12];
    for (int p = 0; p < 2; p++) {
        for (int c = 0; c < 3; c++) {
            rows[6 * p + 2 * c] = (unsigned char)(v[p][c] >> 8);
            rows[6 * p + 2 * c + 1] = (unsigned char)(v[p][c] & 255);
        }
    }
    png_spec s = {.width = 2, .height = 1, .color_type = PNG_COLOR_TYPE_RGB, .depth = 16,
                  .rows = rows};
    write_spec(at("rgb16.png"), &s);
    float *rgb = load_raw(at("rgb16.png"), QC_COLOR_RGB, 1, 2);
    float *gray = load_raw(at("rgb16.png"), QC_COLOR_GRAY, 1, 2);
    for (int p = 0; p < 2; p++) {
        for (int c = 0; c < 3; c++)
            ck_assert_float_eq(rgb[c * 2 + p], (float)v[p][c] / 257.0f);
        ck_assert_float_eq(gray[p], (float)luma_ref(v[p][0], v[p][1], v[p][2]) / 257.0f);
    }
    ck_assert_float_eq(rgb[0], 10);
    ck_assert_float_eq(rgb[2], 200);
    free(rgb);
    free(gray);
}
END_TEST

START_TEST(a_16bit_png_with_alpha_ignores_the_alpha)
{
    /* Gray+alpha 16-bit: gray 257·40 with alpha 0, then gray 65535 with alpha 1. */
    const unsigned char ga[8] = {0x28, 0x28, 0, 0, 0xFF, 0xFF, 0, 1};
    png_spec s = {.width = 2, .height = 1, .color_type = PNG_COLOR_TYPE_GRAY_ALPHA,
                  .depth = 16, .rows = ga};
    write_spec(at("ga16.png"), &s);
    /* RGBA 16-bit: (257·1, 257·2, 257·3) with alpha 0. */
    const unsigned char rgba[8] = {1, 1, 2, 2, 3, 3, 0, 0};
    png_spec t = {.width = 1, .height = 1, .color_type = PNG_COLOR_TYPE_RGB_ALPHA, .depth = 16,
                  .rows = rgba};
    write_spec(at("rgba16.png"), &t);
    float *g = load_raw(at("ga16.png"), QC_COLOR_GRAY, 1, 2);
    float *c = load_raw(at("rgba16.png"), QC_COLOR_RGB, 1, 1);
    ck_assert_float_eq(g[0], 40);
    ck_assert_float_eq(g[1], 255);
    ck_assert_float_eq(c[0], 1);
    ck_assert_float_eq(c[1], 2);
    ck_assert_float_eq(c[2], 3);
    free(g);
    free(c);
}
END_TEST

START_TEST(a_gamma_chunk_and_gray_trns_change_no_value)
{
    const unsigned char px[4] = {0, 64, 128, 255};
    const png_color_16 transparent = {.gray = 64};
    png_spec s = {.width = 4, .height = 1, .color_type = PNG_COLOR_TYPE_GRAY, .depth = 8,
                  .rows = px, .trns_color = &transparent, .gamma = 1.0};
    write_spec(at("gamma.png"), &s);
    float *x = load_raw(at("gamma.png"), QC_COLOR_GRAY, 1, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(x[i], px[i]);
    free(x);
}
END_TEST

START_TEST(an_interlaced_png_reads_the_same_as_a_plain_one)
{
    enum { W = 13, H = 11 };
    unsigned char px[W * H * 3];
    for (int i = 0; i < W * H * 3; i++)
        px[i] = (unsigned char)(i * 37 + 5);
    png_spec s = {.width = W, .height = H, .color_type = PNG_COLOR_TYPE_RGB, .depth = 8,
                  .rows = px};
    write_spec(at("plain.png"), &s);
    s.interlace = true;
    write_spec(at("adam7.png"), &s);
    float *a = load_raw(at("plain.png"), QC_COLOR_RGB, H, W);
    float *b = load_raw(at("adam7.png"), QC_COLOR_RGB, H, W);
    ck_assert_mem_eq(a, b, sizeof(float) * W * H * 3);
    ck_assert_float_eq(a[W * H + 1], px[3 * 1 + 1]);
    free(a);
    free(b);
}
END_TEST

/* ---- preprocessing ----------------------------------------------------------------------- */

static void write_gray(const char *path, const unsigned char *px, int w, int h)
{
    qc_error err;
    ck_assert_msg(qc_png_write(path, px, w, h, 1, &err) == QC_OK, "%s", err.msg);
}

START_TEST(bilinear_resize_2x2_to_4x4_matches_align_corners_false)
{
    const unsigned char px[4] = {0, 10, 20, 30};
    write_gray(at("s.png"), px, 2, 2);
    qc_preprocess pp = raw_pp(QC_COLOR_GRAY);
    pp.resize_h = pp.resize_w = 4;
    float *x = load_ok(at("s.png"), &pp, 4, 4);
    /* Output pixel centers at (i + 0.5)/2 − 0.5 = −0.25, 0.25, 0.75, 1.25 in the source,
     * the ends clamped to the edge pixels (PyTorch's values for this input). */
    const float want[16] = {0,  2.5f,  7.5f,  10, 5,  7.5f,  12.5f, 15,
                            15, 17.5f, 22.5f, 25, 20, 22.5f, 27.5f, 30};
    for (int i = 0; i < 16; i++)
        ck_assert_msg(x[i] == want[i], "pixel %d: %g, want %g", i, x[i], want[i]);
    free(x);
}
END_TEST

START_TEST(bilinear_resize_4x4_to_2x2_averages_without_antialiasing)
{
    unsigned char px[16];
    for (int i = 0; i < 16; i++)
        px[i] = (unsigned char)(i * i);
    write_gray(at("s.png"), px, 4, 4);
    qc_preprocess pp = raw_pp(QC_COLOR_GRAY);
    pp.resize_h = pp.resize_w = 2;
    float *x = load_ok(at("s.png"), &pp, 2, 2);
    /* Source coordinates 0.5 and 2.5: the mean of each 2×2 block. */
    for (int y = 0; y < 2; y++) {
        for (int xx = 0; xx < 2; xx++) {
            int i = 2 * y * 4 + 2 * xx;
            float want = (float)(px[i] + px[i + 1] + px[i + 4] + px[i + 5]) / 4;
            ck_assert_float_eq(x[y * 2 + xx], want);
        }
    }
    free(x);
}
END_TEST

START_TEST(bilinear_resize_by_3_to_5_follows_the_pixel_center_formula)
{
    const unsigned char px[3] = {0, 100, 200};
    write_gray(at("s.png"), px, 3, 1);
    qc_preprocess pp = raw_pp(QC_COLOR_GRAY);
    pp.resize_h = 1;
    pp.resize_w = 5;
    float *x = load_ok(at("s.png"), &pp, 1, 5);
    /* Source x = 0.6 (i + 0.5) − 0.5 = −0.2 (clamped to 0), 0.4, 1.0, 1.6, 2.2 (edge). */
    const float want[5] = {0, 40, 100, 160, 200};
    for (int i = 0; i < 5; i++)
        ck_assert_msg(fabsf(x[i] - want[i]) <= RESIZE_TOLERANCE, "pixel %d: %.9g, want %g", i,
                      x[i], want[i]);
    free(x);
}
END_TEST

START_TEST(resizing_to_the_same_size_returns_the_image_exactly)
{
    enum { W = 7, H = 5 };
    unsigned char px[W * H * 3];
    for (int i = 0; i < W * H * 3; i++)
        px[i] = (unsigned char)(i * 97 + 3);
    qc_error err;
    ck_assert_int_eq(qc_png_write(at("s.png"), px, W, H, 3, &err), QC_OK);
    qc_preprocess pp = raw_pp(QC_COLOR_RGB);
    pp.resize_h = H;
    pp.resize_w = W;
    float *x = load_ok(at("s.png"), &pp, H, W);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < W * H; i++)
            ck_assert_float_eq(x[c * W * H + i], px[3 * i + c]);
    free(x);
}
END_TEST

/* Crops a 1-row image of width w (pixel i has value i + 1) to width crop; returns the
 * value of the first output pixel. */
static float first_after_crop(int w, int crop)
{
    unsigned char px[16];
    for (int i = 0; i < w; i++)
        px[i] = (unsigned char)(i + 1);
    write_gray(at("row.png"), px, w, 1);
    qc_preprocess pp = raw_pp(QC_COLOR_GRAY);
    pp.crop_h = 1;
    pp.crop_w = crop;
    float *x = load_ok(at("row.png"), &pp, 1, crop);
    float v = x[0];
    free(x);
    return v;
}

START_TEST(center_crop_rounds_half_offsets_to_even_as_torchvision)
{
    ck_assert_float_eq(first_after_crop(5, 3), 2);  /* offset 1 */
    ck_assert_float_eq(first_after_crop(6, 3), 3);  /* round(1.5) = 2 */
    ck_assert_float_eq(first_after_crop(8, 3), 3);  /* round(2.5) = 2 */
    ck_assert_float_eq(first_after_crop(3, 2), 1);  /* round(0.5) = 0 */
    ck_assert_float_eq(first_after_crop(12, 5), 5); /* round(3.5) = 4 */
}
END_TEST

START_TEST(center_crop_takes_the_middle_of_the_image)
{
    unsigned char px[25];
    for (int i = 0; i < 25; i++)
        px[i] = (unsigned char)i;
    write_gray(at("s.png"), px, 5, 5);
    qc_preprocess pp = raw_pp(QC_COLOR_GRAY);
    pp.crop_h = pp.crop_w = 3;
    float *x = load_ok(at("s.png"), &pp, 3, 3);
    for (int y = 0; y < 3; y++)
        for (int xx = 0; xx < 3; xx++)
            ck_assert_float_eq(x[y * 3 + xx], px[(y + 1) * 5 + xx + 1]);
    free(x);
}
END_TEST

START_TEST(a_crop_larger_than_the_image_pads_with_zero_pixels)
{
    const unsigned char px[4] = {1, 2, 3, 4};
    write_gray(at("s.png"), px, 2, 2);
    qc_preprocess pp = raw_pp(QC_COLOR_GRAY);
    pp.crop_h = 4;
    pp.crop_w = 5;
    pp.mean[0] = 0.5f;
    float *x = load_ok(at("s.png"), &pp, 4, 5);
    /* Padding (4 − 2) // 2 = 1 row above and (5 − 2) // 2 = 1 column left. */
    for (int y = 0; y < 4; y++) {
        for (int xx = 0; xx < 5; xx++) {
            bool inside = y >= 1 && y <= 2 && xx >= 1 && xx <= 2;
            float p = inside ? px[(y - 1) * 2 + (xx - 1)] : 0;
            ck_assert_float_eq(x[y * 5 + xx], p - 0.5f);
        }
    }
    free(x);
}
END_TEST

START_TEST(resize_then_crop_keeps_the_center_of_the_resized_image)
{
    const unsigned char px[4] = {0, 10, 20, 30};
    write_gray(at("s.png"), px, 2, 2);
    qc_preprocess pp = raw_pp(QC_COLOR_GRAY);
    pp.resize_h = pp.resize_w = 4;
    pp.crop_h = pp.crop_w = 2;
    float *x = load_ok(at("s.png"), &pp, 2, 2);
    const float want[4] = {7.5f, 12.5f, 17.5f, 22.5f};
    for (int i = 0; i < 4; i++)
        ck_assert_float_eq(x[i], want[i]);
    free(x);
}
END_TEST

START_TEST(an_image_of_another_size_is_fitted_to_the_model_when_nothing_is_asked)
{
    const unsigned char px[4] = {0, 10, 20, 30};
    write_gray(at("s.png"), px, 2, 2);
    float *x = load_raw(at("s.png"), QC_COLOR_GRAY, 4, 4);
    ck_assert_float_eq(x[5], 7.5f);
    ck_assert_float_eq(x[15], 30);
    free(x);
}
END_TEST

START_TEST(normalization_is_bit_exact_with_p_times_scale_minus_mean_over_std)
{
    unsigned char px[256 * 3];
    for (int i = 0; i < 256 * 3; i++)
        px[i] = (unsigned char)(i % 256 * 7 % 256 + i / 256);
    qc_error err;
    ck_assert_int_eq(qc_png_write(at("n.png"), px, 16, 16, 3, &err), QC_OK);
    qc_preprocess pp;
    qc_preprocess_default(&pp, 3);
    /* torchvision's ImageNet values, and the bundled models' scale as numpy computes it. */
    pp.scale = (float)(1.0 / 255.0);
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    memcpy(pp.mean, mean, sizeof mean);
    memcpy(pp.std, std, sizeof std);
    float *x = load_ok(at("n.png"), &pp, 16, 16);
    for (int c = 0; c < 3; c++) {
        for (int i = 0; i < 256; i++) {
            volatile float p = px[3 * i + c];
            volatile float scaled = p * pp.scale;
            volatile float centered = scaled - mean[c];
            float want = centered / std[c];
            ck_assert_msg(memcmp(&x[c * 256 + i], &want, sizeof want) == 0,
                          "channel %d pixel %d: %.9g, want %.9g", c, i, x[c * 256 + i], want);
        }
    }
    free(x);
}
END_TEST

START_TEST(a_preprocessing_result_that_does_not_fit_the_model_is_bad_input)
{
    const unsigned char px[4] = {0, 10, 20, 30};
    write_gray(at("s.png"), px, 2, 2);
    qc_preprocess pp = raw_pp(QC_COLOR_GRAY);
    pp.resize_h = pp.resize_w = 4;
    float dst[3 * 25];
    qc_error err;
    ck_assert_int_eq(qc_image_load(at("s.png"), &pp, 1, 5, 5, dst, &err), QC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "gives 4x4 pixels but the model takes 5x5"));
    ck_assert_int_eq(qc_image_load(at("s.png"), &pp, 3, 4, 4, dst, &err), QC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "colour \"gray\" gives 1 channel but the model takes 3"));
}
END_TEST

/* ---- bad files --------------------------------------------------------------------------- */

START_TEST(a_missing_png_is_an_io_error_naming_the_file)
{
    float dst[1];
    qc_error err;
    qc_preprocess pp = raw_pp(QC_COLOR_GRAY);
    ck_assert_int_eq(qc_image_load(at("nope.png"), &pp, 1, 1, 1, dst, &err), QC_ERR_IO);
    char want[600];
    snprintf(want, sizeof want, "cannot read '%s': no such file or directory", at("nope.png"));
    ck_assert_str_eq(err.msg, want);
}
END_TEST

START_TEST(a_text_file_named_png_is_bad_input_not_a_png_file)
{
    put_text(at("cat.png"), "meow\n");
    float dst[1];
    qc_error err;
    qc_preprocess pp = raw_pp(QC_COLOR_GRAY);
    ck_assert_int_eq(qc_image_load(at("cat.png"), &pp, 1, 1, 1, dst, &err), QC_ERR_INPUT);
    char want[600];
    snprintf(want, sizeof want, "cannot read '%s': not a PNG file", at("cat.png"));
    ck_assert_str_eq(err.msg, want);
}
END_TEST

START_TEST(an_endless_file_named_png_is_rejected_without_reading_it_whole)
{
    ck_assert_int_eq(symlink("/dev/zero", at("zero.png")), 0);
    float dst[1];
    qc_error err;
    qc_preprocess pp = raw_pp(QC_COLOR_GRAY);
    ck_assert_int_eq(qc_image_load(at("zero.png"), &pp, 1, 1, 1, dst, &err), QC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a PNG file"));
}
END_TEST

/* A mapped model file has the bytes qc_read_file reads; an empty file, a missing one and a
 * device give what qc_read_file gives. */
START_TEST(a_mapped_file_has_the_bytes_read_and_the_same_errors)
{
    qc_error err;
    char *want;
    size_t want_size;
    ck_assert_int_eq(qc_read_file("models/lenet.onnx", &want, &want_size, &err), QC_OK);
    qc_file_bytes b;
    ck_assert_int_eq(qc_map_file("models/lenet.onnx", &b, &err), QC_OK);
    ck_assert(b.mapped);
    ck_assert_uint_eq(b.size, want_size);
    ck_assert(!memcmp(b.data, want, want_size));
    qc_unmap_file(&b);
    ck_assert_ptr_null(b.data);
    free(want);
    FILE *f = fopen(at("empty.onnx"), "wb");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(qc_map_file(at("empty.onnx"), &b, &err), QC_OK);
    ck_assert(!b.mapped);
    ck_assert_uint_eq(b.size, 0);
    qc_unmap_file(&b);
    ck_assert_int_eq(qc_map_file(at("missing.onnx"), &b, &err), QC_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing.onnx"));
    ck_assert_ptr_null(b.data);
    ck_assert_int_eq(qc_map_file("/dev/zero", &b, &err), QC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "a device"));
}
END_TEST

START_TEST(a_folder_named_png_is_an_io_error)
{
    make_dir(at("dir.png"));
    float dst[1];
    qc_error err;
    qc_preprocess pp = raw_pp(QC_COLOR_GRAY);
    ck_assert_int_eq(qc_image_load(at("dir.png"), &pp, 1, 1, 1, dst, &err), QC_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "is a directory"));
}
END_TEST

/* Loads a file that must be rejected; returns the status (the caller checks it). */
static qc_status load_bad(const char *path, qc_error *err)
{
    float dst[3 * 8 * 8];
    qc_preprocess pp = raw_pp(QC_COLOR_RGB);
    return qc_image_load(path, &pp, 3, 8, 8, dst, err);
}

START_TEST(every_file_in_the_hostile_corpus_is_rejected_as_bad_input)
{
    DIR *d = opendir(CORPUS_DIR);
    ck_assert_msg(d != NULL, "cannot open '%s' (run from the repository root)", CORPUS_DIR);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".png") != 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", CORPUS_DIR, e->d_name);
        qc_error err = {{0}};
        qc_status st = load_bad(path, &err);
        ck_assert_msg(st == QC_ERR_INPUT, "'%s' gave status %d: %s", path, st, err.msg);
        ck_assert_msg(strstr(err.msg, path) != NULL, "'%s': message does not name it: %s", path,
                      err.msg);
        n++;
    }
    closedir(d);
    ck_assert_int_ge(n, 20);
}
END_TEST

static void check_corpus_message(const char *name, const char *want)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", CORPUS_DIR, name);
    qc_error err;
    ck_assert_int_eq(load_bad(path, &err), QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, want) != NULL, "'%s': '%s' lacks '%s'", name, err.msg, want);
}

START_TEST(hostile_files_get_messages_that_say_what_is_wrong)
{
    check_corpus_message("empty.png", "empty file");
    check_corpus_message("wrong-signature.png", "not a PNG file");
    check_corpus_message("truncated-in-idat.png", "truncated file");
    check_corpus_message("no-iend.png", "truncated file");
    check_corpus_message("crc-error-idat.png", "corrupt PNG file (IDAT: CRC error)");
    check_corpus_message("huge-dimensions.png", "image too large (100000x100000 pixels");
    check_corpus_message("too-many-pixels.png", "image too large");
    check_corpus_message("over-the-limit.png", "image too large (16385x1 pixels");
}
END_TEST

/* PNG's chunk CRC (ISO 3309, as zlib's crc32). */
static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

/* Recomputes every chunk CRC, so that a mutation reaches the parsers behind the CRC check. */
static void fix_crcs(unsigned char *p, size_t n)
{
    size_t pos = 8;
    while (pos + 12 <= n) {
        uint32_t len = (uint32_t)p[pos] << 24 | (uint32_t)p[pos + 1] << 16 |
                       (uint32_t)p[pos + 2] << 8 | p[pos + 3];
        if (len > n - pos - 12)
            break;
        uint32_t crc = crc32_of(p + pos + 4, len + 4);
        unsigned char *q = p + pos + 8 + len;
        q[0] = (unsigned char)(crc >> 24);
        q[1] = (unsigned char)(crc >> 16);
        q[2] = (unsigned char)(crc >> 8);
        q[3] = (unsigned char)crc;
        pos += 12 + len;
    }
}

static unsigned char *slurp(const char *path, size_t *size)
{
    char *data;
    qc_error err;
    ck_assert_msg(qc_read_file(path, &data, size, &err) == QC_OK, "%s", err.msg);
    return (unsigned char *)data;
}

/* A few valid PNG files of different kinds to mutate. */
static int write_seeds(const char **paths)
{
    unsigned char px[8 * 6 * 4];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (unsigned char)(i * 29);
    qc_error err;
    paths[0] = at("seed-gray.png");
    ck_assert_int_eq(qc_png_write(paths[0], px, 8, 6, 1, &err), QC_OK);
    paths[1] = at("seed-rgba.png");
    ck_assert_int_eq(qc_png_write(paths[1], px, 8, 6, 4, &err), QC_OK);
    const png_color pal[3] = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
    const unsigned char trns[2] = {0, 128};
    unsigned char idx[8 * 6];
    for (int i = 0; i < 48; i++)
        idx[i] = (unsigned char)(i % 3);
    png_spec s = {.width = 8, .height = 6, .color_type = PNG_COLOR_TYPE_PALETTE, .depth = 8,
                  .rows = idx, .palette = pal, .n_palette = 3, .trns = trns, .n_trns = 2};
    paths[2] = at("seed-palette.png");
    write_spec(paths[2], &s);
    png_spec t = {.width = 4, .height = 6, .color_type = PNG_COLOR_TYPE_RGB, .depth = 16,
                  .rows = px, .interlace = true};
    paths[3] = at("seed-rgb16-adam7.png");
    write_spec(paths[3], &t);
    return 4;
}

/* Every proper prefix of each seed file, written as cut_name, is bad input. */
static void check_every_cut(const char *const *seeds, int n, const char *cut_name)
{
    for (int s = 0; s < n; s++) {
        size_t size;
        unsigned char *data = slurp(seeds[s], &size);
        for (size_t len = 0; len < size; len++) {
            put_file(at(cut_name), data, len);
            qc_error err;
            qc_status st = load_bad(at(cut_name), &err);
            ck_assert_msg(st == QC_ERR_INPUT, "'%s' cut to %zu bytes gave %d: %s", seeds[s], len,
                          st, err.msg);
        }
        free(data);
    }
}

START_TEST(a_good_png_cut_at_any_length_is_rejected_as_bad_input)
{
    const char *seeds[4];
    int n = write_seeds(seeds);
    check_every_cut(seeds, n, "cut.png");
}
END_TEST

START_TEST(mutated_pngs_with_valid_crcs_decode_or_are_rejected_never_crash)
{
    const char *seeds[4];
    int n = write_seeds(seeds);
    uint64_t state = 0x9E3779B97F4A7C15u;
    int rejected = 0, decoded = 0;
    for (int s = 0; s < n; s++) {
        size_t size;
        unsigned char *data = slurp(seeds[s], &size);
        unsigned char *m = malloc(size);
        for (int iter = 0; iter < 500; iter++) {
            memcpy(m, data, size);
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            int flips = 1 + (int)(state % 4);
            for (int f = 0; f < flips; f++) {
                state ^= state << 13, state ^= state >> 7, state ^= state << 17;
                size_t pos = 8 + (size_t)(state % (size - 8));
                m[pos] ^= (unsigned char)(1u << (state >> 32) % 8);
            }
            fix_crcs(m, size);
            put_file(at("mutant.png"), m, size);
            qc_error err;
            qc_status st = load_bad(at("mutant.png"), &err);
            ck_assert_msg(st == QC_OK || st == QC_ERR_INPUT, "seed '%s' mutant %d gave %d: %s",
                          seeds[s], iter, st, err.msg);
            *(st == QC_OK ? &decoded : &rejected) += 1;
        }
        free(m);
        free(data);
    }
    /* Both outcomes happen: the mutations reach past the header checks. */
    ck_assert_int_gt(rejected, 0);
    ck_assert_int_gt(decoded, 0);
}
END_TEST

/* ---- image sets -------------------------------------------------------------------------- */

static void touch_png(const char *path)
{
    const unsigned char px[1] = {42};
    write_gray(path, px, 1, 1);
}

START_TEST(an_image_folder_lists_pngs_recursively_in_byte_order_skipping_hidden_files)
{
    make_dir(at("set"));
    make_dir(at("set/2_cat"));
    make_dir(at("set/2_cat/sub"));
    make_dir(at("set/0_dog"));
    make_dir(at("set/1_empty"));
    make_dir(at("set/.git"));
    touch_png(at("set/b.png"));
    touch_png(at("set/.hidden.png"));
    touch_png(at("set/.git/x.png"));
    touch_png(at("set/2_cat/z.png"));
    touch_png(at("set/2_cat/a.PNG"));
    touch_png(at("set/2_cat/sub/deep.png"));
    touch_png(at("set/0_dog/x.png"));
    put_text(at("set/2_cat/notes.txt"), "not an image");
    put_text(at("set/2_cat/png"), "not an image either");
    qc_image_set set;
    qc_error err;
    ck_assert_msg(qc_image_set_open(&set, at("set"), NULL, &err) == QC_OK, "%s", err.msg);
    const char *rel[5] = {"0_dog/x.png", "2_cat/a.PNG", "2_cat/sub/deep.png", "2_cat/z.png",
                          "b.png"};
    const int label[5] = {0, 2, 2, 2, -1};
    ck_assert_int_eq(set.n_items, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(set.items[i].rel, rel[i]);
        char path[600];
        snprintf(path, sizeof path, "%s/%s", at("set"), rel[i]);
        ck_assert_str_eq(set.items[i].path, path);
        ck_assert_int_eq(set.items[i].label, label[i]);
    }
    /* The empty class folder still counts, so indices match the full data set's. */
    ck_assert_int_eq(set.n_classes, 3);
    ck_assert_str_eq(set.classes[0], "0_dog");
    ck_assert_str_eq(set.classes[1], "1_empty");
    ck_assert_str_eq(set.classes[2], "2_cat");
    qc_image_set_free(&set);
}
END_TEST

START_TEST(class_folder_numbers_are_the_labels_even_with_gaps)
{
    make_dir(at("set"));
    make_dir(at("set/10_ten"));
    make_dir(at("set/03_three"));
    touch_png(at("set/10_ten/a.png"));
    touch_png(at("set/03_three/a.png"));
    qc_image_set set;
    qc_error err;
    ck_assert_int_eq(qc_image_set_open(&set, at("set"), NULL, &err), QC_OK);
    ck_assert_int_eq(set.n_classes, 11);
    ck_assert_str_eq(set.classes[3], "03_three");
    ck_assert_str_eq(set.classes[10], "10_ten");
    ck_assert_str_eq(set.classes[0], "");
    ck_assert_str_eq(set.items[0].rel, "03_three/a.png");
    ck_assert_int_eq(set.items[0].label, 3);
    ck_assert_int_eq(set.items[1].label, 10);
    qc_image_set_free(&set);
}
END_TEST

START_TEST(class_folders_without_numbers_are_labelled_by_sorted_position)
{
    make_dir(at("set"));
    make_dir(at("set/dog"));
    make_dir(at("set/3_dress"));
    make_dir(at("set/bird"));
    touch_png(at("set/dog/1.png"));
    touch_png(at("set/3_dress/1.png"));
    touch_png(at("set/bird/1.png"));
    qc_image_set set;
    qc_error err;
    ck_assert_int_eq(qc_image_set_open(&set, at("set"), NULL, &err), QC_OK);
    /* One folder lacks a number: sorted positions for all, "3_dress" first. */
    ck_assert_int_eq(set.n_classes, 3);
    ck_assert_str_eq(set.classes[0], "3_dress");
    ck_assert_str_eq(set.classes[1], "bird");
    ck_assert_str_eq(set.classes[2], "dog");
    ck_assert_int_eq(set.items[0].label, 0);
    ck_assert_int_eq(set.items[1].label, 1);
    ck_assert_int_eq(set.items[2].label, 2);
    qc_image_set_free(&set);
}
END_TEST

START_TEST(two_class_folders_with_the_same_number_are_bad_input)
{
    make_dir(at("set"));
    make_dir(at("set/1_a"));
    make_dir(at("set/01_b"));
    touch_png(at("set/1_a/x.png"));
    qc_image_set set;
    qc_error err;
    ck_assert_int_eq(qc_image_set_open(&set, at("set"), NULL, &err), QC_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "class folders '01_b' and '1_a'"));
    ck_assert_int_eq(set.n_items, 0);
}
END_TEST

START_TEST(a_labels_file_gives_labels_and_unlisted_images_get_minus_one)
{
    make_dir(at("set"));
    make_dir(at("set/a"));
    touch_png(at("set/a/one.png"));
    touch_png(at("set/a/two words.png"));
    touch_png(at("set/three.png"));
    touch_png(at("set/unlisted.png"));
    put_text(at("labels.txt"), "# path label\n"
                               "\n"
                               "a/one.png 4\r\n"
                               "  a/two words.png\t 0  \n"
                               "./three.png 12\n"
                               "not/in/set.png 2");
    qc_image_set set;
    qc_error err;
    ck_assert_msg(qc_image_set_open(&set, at("set"), at("labels.txt"), &err) == QC_OK, "%s",
                  err.msg);
    ck_assert_int_eq(set.n_items, 4);
    ck_assert_str_eq(set.items[0].rel, "a/one.png");
    ck_assert_int_eq(set.items[0].label, 4);
    ck_assert_str_eq(set.items[1].rel, "a/two words.png");
    ck_assert_int_eq(set.items[1].label, 0);
    ck_assert_str_eq(set.items[2].rel, "three.png");
    ck_assert_int_eq(set.items[2].label, 12);
    ck_assert_str_eq(set.items[3].rel, "unlisted.png");
    ck_assert_int_eq(set.items[3].label, -1);
    ck_assert_int_eq(set.n_classes, 13);
    ck_assert_ptr_null(set.classes);
    qc_image_set_free(&set);
}
END_TEST

static void check_bad_labels(const char *text, const char *want)
{
    put_text(at("labels.txt"), text);
    qc_image_set set;
    qc_error err;
    ck_assert_int_eq(qc_image_set_open(&set, at("set"), at("labels.txt"), &err), QC_ERR_INPUT);
    char full[800];
    snprintf(full, sizeof full, "bad labels file '%s': %s", at("labels.txt"), want);
    ck_assert_str_eq(err.msg, full);
}

START_TEST(a_bad_line_in_a_labels_file_is_bad_input_naming_file_and_line)
{
    make_dir(at("set"));
    touch_png(at("set/a.png"));
    check_bad_labels("a.png 1\n# fine\nb.png\n", "line 3: expected \"relative/path.png LABEL\"");
    check_bad_labels("a.png one\n", "line 1: label 'one' is not a non-negative integer");
    check_bad_labels("\n\na.png -1\n", "line 3: label '-1' is not a non-negative integer");
    check_bad_labels("a.png 99999999999\n",
                     "line 1: label '99999999999' is not a non-negative integer");
    check_bad_labels("a.png 1\nb.png 2\na.png 3\n",
                     "line 3: 'a.png' is listed twice (first on line 1)");
}
END_TEST

START_TEST(a_single_png_is_a_set_of_one)
{
    touch_png(at("one.png"));
    qc_image_set set;
    qc_error err;
    ck_assert_int_eq(qc_image_set_open(&set, at("one.png"), NULL, &err), QC_OK);
    ck_assert_int_eq(set.n_items, 1);
    ck_assert_str_eq(set.items[0].path, at("one.png"));
    ck_assert_str_eq(set.items[0].rel, "one.png");
    ck_assert_int_eq(set.items[0].label, -1);
    ck_assert_int_eq(set.n_classes, 0);
    qc_image_set_free(&set);
}
END_TEST

START_TEST(a_folder_without_pngs_is_bad_input)
{
    make_dir(at("empty"));
    make_dir(at("empty/cls"));
    put_text(at("empty/cls/readme.txt"), "x");
    qc_image_set set;
    qc_error err;
    ck_assert_int_eq(qc_image_set_open(&set, at("empty"), NULL, &err), QC_ERR_INPUT);
    char want[600];
    snprintf(want, sizeof want, "no PNG or JPEG images in '%s'", at("empty"));
    ck_assert_str_eq(err.msg, want);
}
END_TEST

START_TEST(a_missing_folder_is_an_io_error)
{
    qc_image_set set;
    qc_error err;
    ck_assert_int_eq(qc_image_set_open(&set, at("missing"), NULL, &err), QC_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "no such file or directory"));
}
END_TEST

START_TEST(a_symbolic_link_loop_is_read_once)
{
    make_dir(at("set"));
    make_dir(at("set/c"));
    touch_png(at("set/c/x.png"));
    ck_assert_int_eq(symlink("..", at("set/c/up")), 0);
    qc_image_set set;
    qc_error err;
    ck_assert_int_eq(qc_image_set_open(&set, at("set"), NULL, &err), QC_OK);
    ck_assert_int_eq(set.n_items, 1);
    ck_assert_str_eq(set.items[0].rel, "c/x.png");
    qc_image_set_free(&set);
}
END_TEST

START_TEST(the_bundled_validation_set_has_ten_numbered_classes)
{
    qc_image_set set;
    qc_error err;
    if (access("data/val", F_OK) != 0)
        return; /* not in a source tree */
    ck_assert_msg(qc_image_set_open(&set, "data/val", NULL, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(set.n_classes, 10);
    ck_assert_str_eq(set.classes[9], "9_ankle-boot");
    for (int i = 1; i < set.n_items; i++)
        ck_assert_int_lt(strcmp(set.items[i - 1].rel, set.items[i].rel), 0);
    ck_assert_int_eq(set.items[0].label, 0);
    ck_assert_int_eq(set.items[set.n_items - 1].label, 9);
    qc_image_set_free(&set);
}
END_TEST

/* ---- model cards ------------------------------------------------------------------------- */

START_TEST(a_model_card_is_read_with_all_its_fields)
{
    put_text(at("m.json"),
             "{ \"qcal\": 1, \"name\": \"lenet\",\n"
             "  \"preprocess\": { \"color\": \"bgr\", \"size\": [32, 30], \"crop\": 28,\n"
             "    \"scale\": 0.00392156862745098, \"mean\": [0.1, 0.2, 0.3], \"std\": [0.5] },\n"
             "  \"classes\": [\"a\", \"b/c\"],\n"
             "  \"fp32_top1\": { \"correct\": 9120, \"images\": 10000, \"fraction\": 0.912 },\n"
             "  \"trained_by\": \"anything\" }\n");
    qc_model_card card;
    qc_error err;
    char warning[256] = "untouched";
    ck_assert_msg(qc_model_card_load(at("m.onnx"), 3, &card, warning, sizeof warning, &err) ==
                      QC_OK,
                  "%s", err.msg);
    ck_assert(card.found);
    ck_assert_str_eq(warning, "");
    ck_assert_str_eq(card.path, at("m.json"));
    ck_assert_str_eq(card.name, "lenet");
    ck_assert_int_eq(card.pp.color, QC_COLOR_BGR);
    ck_assert_int_eq(card.pp.resize_h, 32);
    ck_assert_int_eq(card.pp.resize_w, 30);
    ck_assert_int_eq(card.pp.crop_h, 28);
    ck_assert_int_eq(card.pp.crop_w, 28);
    ck_assert_float_eq(card.pp.scale, (float)(1.0 / 255.0));
    ck_assert_float_eq(card.pp.mean[0], 0.1f);
    ck_assert_float_eq(card.pp.mean[2], 0.3f);
    ck_assert_float_eq(card.pp.std[0], 0.5f);
    ck_assert_float_eq(card.pp.std[2], 0.5f);
    ck_assert_int_eq(card.n_classes, 2);
    ck_assert_str_eq(card.classes[1], "b/c");
    ck_assert_int_eq(card.top1_correct, 9120);
    ck_assert_int_eq(card.top1_images, 10000);
    qc_model_card_free(&card);
}
END_TEST

START_TEST(the_bundled_lenet_card_parses)
{
    if (access("models/lenet.json", F_OK) != 0)
        return; /* not in a source tree */
    qc_model_card card;
    qc_error err;
    ck_assert_msg(qc_model_card_load("models/lenet.onnx", 1, &card, NULL, 0, &err) == QC_OK,
                  "%s", err.msg);
    ck_assert(card.found);
    ck_assert_int_eq(card.pp.color, QC_COLOR_GRAY);
    ck_assert_int_eq(card.pp.resize_h, 28);
    ck_assert_float_eq(card.pp.scale, (float)(1.0 / 255.0));
    ck_assert_int_eq(card.n_classes, 10);
    qc_model_card_free(&card);
}
END_TEST

START_TEST(no_card_file_means_defaults_and_ok)
{
    qc_model_card card;
    qc_error err;
    ck_assert_int_eq(qc_model_card_load(at("m.onnx"), 3, &card, NULL, 0, &err), QC_OK);
    ck_assert(!card.found);
    ck_assert_int_eq(card.pp.color, QC_COLOR_RGB);
    ck_assert_float_eq(card.pp.scale, 1.0f / 255.0f);
    ck_assert_float_eq(card.pp.std[1], 1.0f);
    ck_assert_int_eq(card.top1_images, -1);
    ck_assert_ptr_null(card.classes);
    qc_model_card_free(&card);
}
END_TEST

START_TEST(a_card_that_is_not_valid_json_is_bad_input_naming_the_file)
{
    put_text(at("m.json"), "{ \"qcal\": 1,\n  \"name\": lenet }\n");
    qc_model_card card;
    qc_error err;
    ck_assert_int_eq(qc_model_card_load(at("m.onnx"), 1, &card, NULL, 0, &err), QC_ERR_INPUT);
    char want[600];
    snprintf(want, sizeof want, "bad model card '%s': not valid JSON (line 2)", at("m.json"));
    ck_assert_str_eq(err.msg, want);
    qc_model_card_free(&card);
    put_text(at("m.json"), "{ \"qcal\": 1 } trailing");
    ck_assert_int_eq(qc_model_card_load(at("m.onnx"), 1, &card, NULL, 0, &err), QC_ERR_INPUT);
    put_text(at("m.json"), "");
    ck_assert_int_eq(qc_model_card_load(at("m.onnx"), 1, &card, NULL, 0, &err), QC_ERR_INPUT);
}
END_TEST

START_TEST(json_without_the_qcal_key_is_not_a_card_and_warns)
{
    put_text(at("x.json"), "{ \"name\": \"something else\" }");
    qc_model_card card;
    qc_error err;
    char warning[600];
    ck_assert_int_eq(qc_model_card_load(at("x.onnx"), 1, &card, warning, sizeof warning, &err),
                     QC_OK);
    ck_assert(!card.found);
    char want[600];
    snprintf(want, sizeof want, "ignoring '%s': not a qcal model card (no \"qcal\" key)",
             at("x.json"));
    ck_assert_str_eq(warning, want);
    ck_assert_ptr_null(card.name);
    qc_model_card_free(&card);
}
END_TEST

static void check_bad_card(const char *json, int channels, const char *want)
{
    put_text(at("m.json"), json);
    qc_model_card card;
    qc_error err;
    ck_assert_int_eq(qc_model_card_load(at("m.onnx"), channels, &card, NULL, 0, &err),
                     QC_ERR_INPUT);
    char full[800];
    snprintf(full, sizeof full, "bad model card '%s': %s", at("m.json"), want);
    ck_assert_str_eq(err.msg, full);
    qc_model_card_free(&card);
}

START_TEST(a_card_key_of_the_wrong_type_is_bad_input_naming_the_key)
{
    check_bad_card("{\"qcal\": 1, \"preprocess\": {\"size\": \"abc\"}}", 1,
                   "\"preprocess.size\" must be [height, width] in 1..16384");
    check_bad_card("{\"qcal\": 1, \"preprocess\": {\"crop\": [28, 0]}}", 1,
                   "\"preprocess.crop\" must be [height, width] in 1..16384");
    check_bad_card("{\"qcal\": 1, \"preprocess\": {\"color\": \"cmyk\"}}", 3,
                   "\"preprocess.color\" must be \"gray\", \"rgb\" or \"bgr\"");
    check_bad_card("{\"qcal\": 1, \"preprocess\": {\"scale\": \"1/255\"}}", 1,
                   "\"preprocess.scale\" must be a number");
    check_bad_card("{\"qcal\": 1, \"preprocess\": {\"mean\": [1, 2]}}", 3,
                   "\"preprocess.mean\" must be an array of 1 or 3 numbers");
    check_bad_card("{\"qcal\": 1, \"preprocess\": {\"std\": [0]}}", 1,
                   "\"preprocess.std\" must be [number] and not zero");
    check_bad_card("{\"qcal\": 1, \"preprocess\": {\"color\": \"gray\"}}", 3,
                   "\"preprocess.color\" gives 1 channel but the model takes 3");
    check_bad_card("{\"qcal\": 1, \"classes\": [\"a\", 2]}", 1,
                   "\"classes\" must be an array of strings");
    check_bad_card("{\"qcal\": 1, \"name\": 7}", 1, "\"name\" must be a string");
    check_bad_card("{\"qcal\": \"1\"}", 1,
                   "\"qcal\" must be a number (the card format version, 1)");
    check_bad_card("{\"qcal\": 2}", 1, "format version 2 is not supported (only 1)");
    check_bad_card("{\"qcal\": 1, \"fp32_top1\": {\"correct\": 11, \"images\": 10}}", 1,
                   "\"fp32_top1\" must be {\"correct\": C, \"images\": N} with integers "
                   "0 <= C <= N, N > 0");
}
END_TEST

/* The card a quantized model embeds: canonical text, read back into the same preprocessing. */
START_TEST(the_canonical_card_text_reads_back_to_the_same_card)
{
    put_text(at("m.json"),
             "{ \"qcal\": 1, \"name\": \"le\\\"net\",\n"
             "  \"preprocess\": { \"color\": \"rgb\", \"size\": [32, 30], \"crop\": 28,\n"
             "    \"scale\": 0.00392156862745098, \"mean\": [0.485, 0.456, 0.406], \"std\": [0.229, 0.224, 0.225] },\n"
             "  \"classes\": [\"a\", \"b/c\"], \"fp32_top1\": { \"correct\": 9120, \"images\": 10000 } }\n");
    qc_model_card card, back;
    qc_error err;
    ck_assert_msg(qc_model_card_load(at("m.onnx"), 3, &card, NULL, 0, &err) == QC_OK, "%s", err.msg);
    char *text = NULL, *again = NULL;
    ck_assert_msg(qc_model_card_json(&card, &card.pp, &text, &err) == QC_OK, "%s", err.msg);
    ck_assert_str_eq(text,
                     "{\"qcal\": 1, \"name\": \"le\\\"net\", \"preprocess\": {\"color\": \"rgb\", "
                     "\"size\": [32, 30], \"crop\": [28, 28], \"scale\": 0.003921569, "
                     "\"mean\": [0.485, 0.456, 0.406], \"std\": [0.229, 0.224, 0.225]}, "
                     "\"classes\": [\"a\", \"b/c\"], \"fp32_top1\": {\"correct\": 9120, \"images\": 10000}}");
    ck_assert_msg(qc_model_card_parse(text, "q.onnx (qcal.model_card)", 3, &back, &err) == QC_OK, "%s", err.msg);
    ck_assert(back.found);
    ck_assert_str_eq(back.path, "q.onnx (qcal.model_card)");
    ck_assert_str_eq(back.name, "le\"net");
    ck_assert_mem_eq(&back.pp, &card.pp, sizeof card.pp);
    ck_assert_int_eq(back.n_classes, 2);
    ck_assert_str_eq(back.classes[1], "b/c");
    ck_assert_int_eq(back.top1_correct, 9120);
    ck_assert_int_eq(back.top1_images, 10000);
    ck_assert_msg(qc_model_card_json(&back, &back.pp, &again, &err) == QC_OK, "%s", err.msg);
    ck_assert_str_eq(again, text);
    free(text);
    free(again);
    qc_model_card_free(&back);
    qc_model_card_free(&card);
}
END_TEST

START_TEST(a_card_without_a_file_has_only_its_preprocessing)
{
    qc_preprocess pp;
    qc_preprocess_default(&pp, 1);
    pp.mean[0] = pp.mean[1] = pp.mean[2] = 0.5f;
    char *text = NULL;
    qc_error err;
    ck_assert_msg(qc_model_card_json(NULL, &pp, &text, &err) == QC_OK, "%s", err.msg);
    ck_assert_str_eq(text, "{\"qcal\": 1, \"preprocess\": {\"color\": \"gray\", \"scale\": 0.003921569, "
                           "\"mean\": [0.5], \"std\": [1]}}");
    free(text);
}
END_TEST

START_TEST(embedded_text_without_the_qcal_key_is_bad_input)
{
    qc_model_card card;
    qc_error err;
    ck_assert_int_eq(qc_model_card_parse("{\"format\": \"qcal-stats\"}", "q.onnx (qcal.model_card)", 1,
                                         &card, &err), QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "q.onnx (qcal.model_card)") && strstr(err.msg, "no \"qcal\" key"), "%s", err.msg);
    ck_assert_int_eq(qc_model_card_parse("{\"qcal\": 1", "q", 1, &card, &err), QC_ERR_INPUT);
}
END_TEST

START_TEST(a_card_copy_with_text_writes_the_text_but_never_over_another_file)
{
    put_text(at("m.json"), "{\"qcal\": 1, \"name\": \"m\"}\n");
    qc_card_copy result;
    char target[4096];
    qc_error err;
    ck_assert_msg(qc_model_card_copy(at("m.onnx"), at("q.onnx"), "{\"qcal\": 1}", &result, target,
                                     sizeof target, &err) == QC_OK, "%s", err.msg);
    ck_assert_int_eq(result, QC_CARD_COPIED);
    ck_assert_str_eq(target, at("q.json"));
    char *data;
    size_t size;
    ck_assert(qc_read_file(at("q.json"), &data, &size, &err) == QC_OK);
    ck_assert_str_eq(data, "{\"qcal\": 1}\n");
    free(data);
    ck_assert(qc_model_card_copy(at("m.onnx"), at("q.onnx"), NULL, &result, target, sizeof target, &err) == QC_OK);
    ck_assert(qc_read_file(at("q.json"), &data, &size, &err) == QC_OK);
    ck_assert_str_eq(data, "{\"qcal\": 1, \"name\": \"m\"}\n");
    free(data);
    put_text(at("s.json"), "{\"format\": \"qcal-stats\"}\n");
    ck_assert(qc_model_card_copy(at("m.onnx"), at("s.onnx"), "{\"qcal\": 1}", &result, target, sizeof target,
                                 &err) == QC_OK);
    ck_assert_int_eq(result, QC_CARD_KEPT_OTHER);
    ck_assert(qc_read_file(at("s.json"), &data, &size, &err) == QC_OK);
    ck_assert_str_eq(data, "{\"format\": \"qcal-stats\"}\n");
    free(data);
}
END_TEST

/* ---- atomic files ------------------------------------------------------------------------ */

START_TEST(a_committed_file_replaces_the_target_and_leaves_no_temporary)
{
    make_dir(at("out"));
    put_text(at("out/r.json"), "old");
    umask(022);
    qc_file file;
    qc_error err;
    ck_assert_int_eq(qc_file_begin(&file, at("out/r.json"), &err), QC_OK);
    ck_assert_ptr_nonnull(strstr(file.tmp_path, "/.r.json."));
    fputs("new contents", file.f);
    ck_assert_int_eq(qc_file_commit(&file, &err), QC_OK);
    ck_assert_ptr_null(file.f);
    ck_assert_int_eq(count_entries(at("out")), 1);
    char *data;
    size_t size;
    ck_assert_int_eq(qc_read_file(at("out/r.json"), &data, &size, &err), QC_OK);
    ck_assert_str_eq(data, "new contents");
    free(data);
    struct stat st;
    ck_assert_int_eq(stat(at("out/r.json"), &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
}
END_TEST

START_TEST(an_aborted_file_leaves_the_target_as_it_was)
{
    make_dir(at("out"));
    put_text(at("out/r.json"), "old");
    qc_file file;
    qc_error err;
    ck_assert_int_eq(qc_file_begin(&file, at("out/r.json"), &err), QC_OK);
    fputs("half", file.f);
    qc_file_abort(&file);
    qc_file_abort(&file); /* harmless twice */
    ck_assert_int_eq(count_entries(at("out")), 1);
    char *data;
    size_t size;
    ck_assert_int_eq(qc_read_file(at("out/r.json"), &data, &size, &err), QC_OK);
    ck_assert_str_eq(data, "old");
    free(data);
}
END_TEST

/* A process killed while it writes a file (SIGTERM, after qc_file_unlink_on_signals) leaves
 * no temporary beside the target, and dies of that signal. */
START_TEST(a_signal_removes_the_temporary_files_and_ends_the_process)
{
    make_dir(at("out"));
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        qc_file_unlink_on_signals();
        qc_file file;
        qc_error err;
        if (qc_file_begin(&file, at("out/r.json"), &err) != QC_OK)
            _exit(1);
        fputs("half", file.f);
        fflush(file.f);
        (void)!write(ready[1], "x", 1);
        for (;;)
            pause();
    }
    char c;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    ck_assert_int_eq(count_entries(at("out")), 1); /* the temporary, while it writes */
    kill(child, SIGTERM);
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    ck_assert_int_eq(count_entries(at("out")), 0);
    close(ready[0]);
    close(ready[1]);
}
END_TEST

START_TEST(a_failed_write_is_an_io_error_and_leaves_no_file)
{
    make_dir(at("out"));
    /* Files may not grow past 1000 bytes: writes beyond fail with EFBIG (SIGXFSZ ignored),
     * as they would on a full disk. */
    struct rlimit old, small = {1000, 1000};
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    small.rlim_max = old.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    qc_file file;
    qc_error err;
    ck_assert_int_eq(qc_file_begin(&file, at("out/big.bin"), &err), QC_OK);
    static char block[100000];
    fwrite(block, 1, sizeof block, file.f);
    qc_status st = qc_file_commit(&file, &err);
    /* The same through qc_png_write: an image too big for the limit. */
    static unsigned char noise[200 * 200];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (unsigned char)(i * 2654435761u >> 13);
    qc_error png_err;
    qc_status png_st = qc_png_write(at("out/big.png"), noise, 200, 200, 1, &png_err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    ck_assert_int_eq(st, QC_ERR_IO);
    char want[600];
    snprintf(want, sizeof want, "cannot write '%s': file too large", at("out/big.bin"));
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(png_st, QC_ERR_IO);
    /* libpng may see the failure itself ("write error") or leave it to the commit. */
    ck_assert_msg(strstr(png_err.msg, "big.png': write error") ||
                      strstr(png_err.msg, "big.png': file too large"),
                  "%s", png_err.msg);
    ck_assert_int_eq(count_entries(at("out")), 0);
}
END_TEST

/* A folder (or anything but a regular file) at the path is refused before a temporary is made. */
START_TEST(a_file_onto_a_folder_is_refused_before_any_temporary)
{
    make_dir(at("out"));
    make_dir(at("out/taken"));
    qc_file file;
    qc_error err;
    ck_assert_int_eq(qc_file_begin(&file, at("out/taken"), &err), QC_ERR_IO);
    char want[600];
    snprintf(want, sizeof want, "cannot write '%s': it exists and is not a regular file (a folder)",
             at("out/taken"));
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(count_entries(at("out")), 1);
}
END_TEST

START_TEST(beginning_a_file_in_a_missing_folder_is_an_io_error)
{
    qc_file file;
    qc_error err;
    ck_assert_int_eq(qc_file_begin(&file, at("no/such/r.json"), &err), QC_ERR_IO);
    char want[600];
    snprintf(want, sizeof want, "cannot write '%s': no such file or directory",
             at("no/such/r.json"));
    ck_assert_str_eq(err.msg, want);
    ck_assert_ptr_null(file.f);
}
END_TEST

START_TEST(read_file_returns_the_whole_file_nul_terminated)
{
    char big[200000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    put_file(at("big.txt"), big, sizeof big);
    char *data;
    size_t size;
    qc_error err;
    ck_assert_int_eq(qc_read_file(at("big.txt"), &data, &size, &err), QC_OK);
    ck_assert_uint_eq(size, sizeof big);
    ck_assert_mem_eq(data, big, sizeof big);
    ck_assert_int_eq(data[size], '\0');
    free(data);
    put_file(at("empty"), "", 0);
    ck_assert_int_eq(qc_read_file(at("empty"), &data, &size, &err), QC_OK);
    ck_assert_uint_eq(size, 0);
    ck_assert_int_eq(data[0], '\0');
    free(data);
    ck_assert_int_eq(qc_read_file(at("missing"), &data, &size, &err), QC_ERR_IO);
    ck_assert_ptr_null(data);
    ck_assert_int_eq(qc_read_file(tmp, &data, &size, &err), QC_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "is a directory"));
}
END_TEST

/* ---- JPEG ---------------------------------------------------------------------------------- */

#define JPEG_DIR "tests/data/jpeg"

/* A binary PGM (P5) or PPM (P6) as PIL writes it: header, one space or newline, 8-bit samples. */
static unsigned char *read_pnm(const char *path, int *w, int *h, int *channels)
{
    size_t size;
    unsigned char *data = slurp(path, &size);
    int kind, maxval, used = 0;
    ck_assert_msg(sscanf((char *)data, "P%d %d %d %d%n", &kind, w, h, &maxval, &used) == 4,
                  "'%s' is not a PNM file", path);
    ck_assert(kind == 5 || kind == 6);
    ck_assert_int_eq(maxval, 255);
    *channels = kind == 5 ? 1 : 3;
    size_t n = (size_t)*w * (size_t)*h * (size_t)*channels;
    ck_assert_uint_eq(size, (size_t)used + 1 + n);
    memmove(data, data + used + 1, n);
    return data;
}

/* qcal's decoding of jpg in the colour model asked for equals PIL's (the file ref). */
static void check_jpeg_against(const char *jpg, const char *ref, qc_color color)
{
    int w, h, channels;
    unsigned char *want = read_pnm(ref, &w, &h, &channels);
    float *got = load_raw(jpg, color, h, w);
    int out_channels = color == QC_COLOR_GRAY ? 1 : 3;
    size_t plane = (size_t)w * (size_t)h;
    for (int c = 0; c < out_channels; c++) {
        /* BGR reads PIL's RGB backwards; a gray reference fills every channel */
        int from = channels == 1 ? 0 : color == QC_COLOR_BGR ? 2 - c : c;
        for (size_t i = 0; i < plane; i++)
            ck_assert_msg(got[plane * (size_t)c + i] == (float)want[i * (size_t)channels + (size_t)from],
                          "'%s' channel %d pixel %zu: qcal %g, PIL %d", jpg, c, i,
                          (double)got[plane * (size_t)c + i],
                          want[i * (size_t)channels + (size_t)from]);
    }
    free(got);
    free(want);
}

START_TEST(rgb_jpegs_decode_to_pils_pixels_in_rgb_bgr_and_gray)
{
    static const char *names[] = {"rgb-444", "rgb-422", "rgb-420", "progressive", "exif-rotated"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        char jpg[256], ppm[256], pgm[256];
        snprintf(jpg, sizeof jpg, JPEG_DIR "/good/%s.jpg", names[k]);
        snprintf(ppm, sizeof ppm, JPEG_DIR "/good/%s.ppm", names[k]);
        snprintf(pgm, sizeof pgm, JPEG_DIR "/good/%s.gray.pgm", names[k]);
        check_jpeg_against(jpg, ppm, QC_COLOR_RGB);
        check_jpeg_against(jpg, ppm, QC_COLOR_BGR);
        check_jpeg_against(jpg, pgm, QC_COLOR_GRAY);
    }
}
END_TEST

START_TEST(gray_jpegs_decode_to_pils_pixels_and_repeat_in_rgb)
{
    check_jpeg_against(JPEG_DIR "/good/gray.jpg", JPEG_DIR "/good/gray.pgm", QC_COLOR_GRAY);
    check_jpeg_against(JPEG_DIR "/good/gray.jpg", JPEG_DIR "/good/gray.pgm", QC_COLOR_RGB);
    check_jpeg_against(JPEG_DIR "/good/gray-progressive.jpg", JPEG_DIR "/good/gray-progressive.pgm",
                       QC_COLOR_GRAY);
}
END_TEST

START_TEST(exif_orientation_is_ignored_pixels_come_in_stored_order)
{
    /* stored 12 wide and 8 high; orientation 6 would show it 8 wide */
    int w, h, channels;
    free(read_pnm(JPEG_DIR "/good/exif-rotated.ppm", &w, &h, &channels));
    ck_assert_int_eq(w, 12);
    ck_assert_int_eq(h, 8);
    check_jpeg_against(JPEG_DIR "/good/exif-rotated.jpg", JPEG_DIR "/good/exif-rotated.ppm",
                       QC_COLOR_RGB);
}
END_TEST

START_TEST(a_jpeg_is_told_by_its_bytes_not_its_name)
{
    /* JPEG bytes in a .png name, and PNG bytes in a .jpg name, both read */
    size_t size;
    unsigned char *data = slurp(JPEG_DIR "/good/rgb-444.jpg", &size);
    put_file(at("photo.png"), data, size);
    free(data);
    check_jpeg_against(at("photo.png"), JPEG_DIR "/good/rgb-444.ppm", QC_COLOR_RGB);
    unsigned char px[2 * 3] = {10, 20, 30, 40, 50, 60};
    qc_error err;
    ck_assert_int_eq(qc_png_write(at("drawing.jpg"), px, 2, 1, 3, &err), QC_OK);
    float *got = load_raw(at("drawing.jpg"), QC_COLOR_RGB, 1, 2);
    ck_assert_float_eq(got[0], 10.0f);
    ck_assert_float_eq(got[5], 60.0f);
    free(got);
}
END_TEST

static void check_bad_jpeg(const char *name, const char *want)
{
    char path[512];
    snprintf(path, sizeof path, JPEG_DIR "/bad/%s", name);
    qc_error err = {{0}};
    ck_assert_int_eq(load_bad(path, &err), QC_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, path) != NULL, "'%s': message does not name it: %s", path,
                  err.msg);
    ck_assert_msg(strstr(err.msg, want) != NULL, "'%s': '%s' lacks '%s'", name, err.msg, want);
}

START_TEST(broken_and_refused_jpegs_are_bad_input_saying_why)
{
    check_bad_jpeg("truncated-in-scan.jpg", "corrupt JPEG file (premature end of JPEG file)");
    check_bad_jpeg("truncated-in-header.jpg", "corrupt JPEG file");
    check_bad_jpeg("truncated-progressive.jpg", "corrupt JPEG file");
    check_bad_jpeg("no-eoi.jpg", "corrupt JPEG file");
    check_bad_jpeg("corrupt-scan.jpg", "corrupt JPEG file");
    check_bad_jpeg("soi-only.jpg", "corrupt JPEG file");
    check_bad_jpeg("cmyk.jpg", "CMYK JPEG (4 components) is not supported");
    check_bad_jpeg("huge-dimensions.jpg", "image too large (30000x30000 pixels");
    check_bad_jpeg("text-named-jpg.jpg", "not a JPEG file");
    check_bad_jpeg("empty.jpg", "empty file");
    check_bad_jpeg("png-named-jpg.jpg", "corrupt PNG file");
}
END_TEST

START_TEST(a_good_jpeg_cut_at_any_length_is_rejected_as_bad_input)
{
    static const char *const seeds[] = {JPEG_DIR "/good/rgb-420.jpg",
                                        JPEG_DIR "/good/progressive.jpg", JPEG_DIR "/good/gray.jpg"};
    check_every_cut(seeds, 3, "cut.jpg");
}
END_TEST

START_TEST(mutated_jpegs_decode_or_are_rejected_never_crash)
{
    size_t size;
    unsigned char *data = slurp(JPEG_DIR "/good/progressive.jpg", &size);
    uint32_t seed = 12345;
    for (int round = 0; round < 400; round++) {
        unsigned char *m = malloc(size);
        memcpy(m, data, size);
        for (int k = 0; k < 4; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at_byte = 2 + (seed >> 8) % (size - 2);
            seed = seed * 1103515245u + 12345u;
            m[at_byte] = (unsigned char)(seed >> 16);
        }
        put_file(at("mutant.jpg"), m, size);
        qc_error err;
        qc_status st = load_bad(at("mutant.jpg"), &err);
        ck_assert_msg(st == QC_OK || st == QC_ERR_INPUT, "round %d gave %d: %s", round, st, err.msg);
        free(m);
    }
    free(data);
}
END_TEST

START_TEST(an_image_folder_lists_jpg_and_jpeg_in_any_case_beside_png)
{
    ck_assert_int_eq(mkdir(at("set"), 0755), 0);
    unsigned char px[1] = {7};
    qc_error err;
    static const char *names[] = {"a.jpg", "b.JPG", "c.jpeg", "d.JPEG", "e.png", "f.jpe", "g.txt"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        char name[64];
        snprintf(name, sizeof name, "set/%s", names[k]);
        ck_assert_int_eq(qc_png_write(at(name), px, 1, 1, 1, &err), QC_OK);
    }
    qc_image_set set;
    ck_assert_int_eq(qc_image_set_open(&set, at("set"), NULL, &err), QC_OK);
    ck_assert_int_eq(set.n_items, 5);
    ck_assert_str_eq(set.items[0].rel, "a.jpg");
    ck_assert_str_eq(set.items[3].rel, "d.JPEG");
    ck_assert_str_eq(set.items[4].rel, "e.png");
    qc_image_set_free(&set);
}
END_TEST

/* ---- choosing images (--sample, --skip-bad) ------------------------------------------------ */

/* An ImageFolder with classes 0_a, 1_b, 2_c of the sizes given, 1x1 gray PNGs. */
static void write_classes(const int *sizes, int n)
{
    unsigned char px[1] = {9};
    qc_error err;
    ck_assert_int_eq(mkdir(at("set"), 0755), 0);
    for (int k = 0; k < n; k++) {
        char dir[64];
        snprintf(dir, sizeof dir, "set/%d_%c", k, 'a' + k);
        ck_assert_int_eq(mkdir(at(dir), 0755), 0);
        for (int i = 0; i < sizes[k]; i++) {
            char name[96];
            snprintf(name, sizeof name, "%s/img-%02d.png", dir, i);
            ck_assert_int_eq(qc_png_write(at(name), px, 1, 1, 1, &err), QC_OK);
        }
    }
}

START_TEST(a_sample_gives_small_classes_all_and_spreads_the_rest_evenly)
{
    const int sizes[3] = {10, 3, 7};
    write_classes(sizes, 3);
    for (uint64_t seed = 0; seed < 20; seed++) {
        qc_image_set set;
        qc_error err;
        ck_assert_int_eq(qc_image_set_open(&set, at("set"), NULL, &err), QC_OK);
        ck_assert_int_eq(qc_image_set_sample(&set, 12, seed, &err), QC_OK);
        ck_assert_int_eq(set.n_items, 12);
        int per_class[3] = {0};
        for (int i = 0; i < set.n_items; i++) {
            per_class[set.items[i].label]++;
            if (i > 0)
                ck_assert_msg(strcmp(set.items[i - 1].rel, set.items[i].rel) < 0,
                              "seed %llu: not in sorted order", (unsigned long long)seed);
        }
        /* 12 over 3 classes is 4 each; class 1 has only 3, its missing one goes to 0 or 2 */
        ck_assert_int_eq(per_class[1], 3);
        ck_assert_msg((per_class[0] == 5 && per_class[2] == 4) ||
                          (per_class[0] == 4 && per_class[2] == 5),
                      "seed %llu: %d, %d, %d", (unsigned long long)seed, per_class[0],
                      per_class[1], per_class[2]);
        qc_image_set_free(&set);
    }
}
END_TEST

START_TEST(the_same_seed_keeps_the_same_images_and_a_large_sample_keeps_all)
{
    const int sizes[2] = {30, 30};
    write_classes(sizes, 2);
    qc_image_set a, b, c, all;
    qc_error err;
    ck_assert_int_eq(qc_image_set_open(&a, at("set"), NULL, &err), QC_OK);
    ck_assert_int_eq(qc_image_set_open(&b, at("set"), NULL, &err), QC_OK);
    ck_assert_int_eq(qc_image_set_open(&c, at("set"), NULL, &err), QC_OK);
    ck_assert_int_eq(qc_image_set_open(&all, at("set"), NULL, &err), QC_OK);
    ck_assert_int_eq(qc_image_set_sample(&a, 10, 42, &err), QC_OK);
    ck_assert_int_eq(qc_image_set_sample(&b, 10, 42, &err), QC_OK);
    ck_assert_int_eq(qc_image_set_sample(&c, 10, 43, &err), QC_OK);
    ck_assert_int_eq(qc_image_set_sample(&all, 60, 42, &err), QC_OK);
    bool differs = false;
    for (int i = 0; i < 10; i++) {
        ck_assert_str_eq(a.items[i].rel, b.items[i].rel);
        differs |= strcmp(a.items[i].rel, c.items[i].rel) != 0;
    }
    ck_assert(differs);
    ck_assert_int_eq(all.n_items, 60);
    qc_image_set_free(&a);
    qc_image_set_free(&b);
    qc_image_set_free(&c);
    qc_image_set_free(&all);
}
END_TEST

static void count_skip(void *ctx, const char *msg)
{
    ck_assert_ptr_nonnull(strstr(msg, "cannot read"));
    ++*(int *)ctx;
}

START_TEST(keeping_readable_images_drops_the_bad_ones_in_order_up_to_the_count_wanted)
{
    unsigned char px[1] = {9};
    qc_error err;
    ck_assert_int_eq(mkdir(at("set"), 0755), 0);
    static const char *names[] = {"set/a.png", "set/b.png", "set/d.png", "set/e.png"};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(qc_png_write(at(names[i]), px, 1, 1, 1, &err), QC_OK);
    put_file(at("set/c.jpg"), "junk", 4);
    put_file(at("set/f.jpg"), "junk", 4);
    qc_image_set set;
    int skipped = 0;
    ck_assert_int_eq(qc_image_set_open(&set, at("set"), NULL, &err), QC_OK);
    ck_assert_int_eq(qc_image_set_keep_readable(&set, QC_COLOR_GRAY, 3, 2, count_skip, &skipped,
                                                &err), QC_OK);
    /* a, b, (c dropped), d: three readable; e and f are kept unread */
    ck_assert_int_eq(skipped, 1);
    ck_assert_int_eq(set.n_items, 5);
    ck_assert_str_eq(set.items[2].rel, "d.png");
    ck_assert_str_eq(set.items[4].rel, "f.jpg");
    qc_image_set_free(&set);
    ck_assert_int_eq(qc_image_set_open(&set, at("set"), NULL, &err), QC_OK);
    ck_assert_int_eq(qc_image_set_keep_readable(&set, QC_COLOR_GRAY, INT64_MAX, 1, count_skip,
                                                &skipped, &err), QC_OK);
    ck_assert_int_eq(skipped, 3);
    ck_assert_int_eq(set.n_items, 4);
    qc_image_set_free(&set);
}
END_TEST


/* The same file by inode through another path, by resolved path when one side is missing;
 * an output that is a folder, in no folder or in one not writable is refused, saying which. */
START_TEST(outputs_are_checked_before_a_run_and_the_same_file_is_found_by_any_path)
{
    make_dir(at("out"));
    put_text(at("out/a.txt"), "a");
    char via[600];
    snprintf(via, sizeof via, "%s/out/../out/./a.txt", tmp);
    ck_assert(qc_same_file(at("out/a.txt"), via));
    ck_assert(!qc_same_file(at("out/a.txt"), at("out/b.txt")));
    snprintf(via, sizeof via, "%s/out/../out/b.txt", tmp);
    ck_assert(qc_same_file(at("out/b.txt"), via)); /* neither exists: the resolved paths */
    qc_error err;
    ck_assert_int_eq(qc_check_writable(at("out/b.txt"), "-o", &err), QC_OK);
    ck_assert_int_eq(qc_check_writable(at("out"), "-o", &err), QC_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "is a folder"));
    ck_assert_int_eq(qc_check_writable(at("none/b.txt"), "--html", &err), QC_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "(--html): there is no folder"));
    if (geteuid() != 0) { /* root writes anywhere */
        chmod(at("out"), 0555);
        ck_assert_int_eq(qc_check_writable(at("out/b.txt"), "-o", &err), QC_ERR_IO);
        ck_assert_ptr_nonnull(strstr(err.msg, "is not writable"));
        chmod(at("out"), 0755);
    }
}
END_TEST
/* An output that is an input (by another path too), or the card beside an input model, is a
 * usage error naming both; a NULL input is skipped; paths ending in .onnx are models. */
START_TEST(an_output_onto_an_input_or_its_model_card_is_refused_naming_both)
{
    make_dir(at("m"));
    put_text(at("m/net.onnx"), "x");
    put_text(at("m/net.json"), "{}");
    put_text(at("m/s.json"), "{}");
    char via[600];
    snprintf(via, sizeof via, "%s/m/../m/s.json", tmp);
    qc_input_file in[] = {{NULL, "labels file"}, {at("m/net.onnx"), "model"}, {at("m/s.json"), "statistics file"}};
    qc_error err;
    ck_assert_int_eq(qc_check_output(at("m/out.onnx"), "-o", in, 3, &err), QC_OK);
    ck_assert_int_eq(qc_check_output(via, "-o", in, 3, &err), QC_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "it is the statistics file '"));
    ck_assert_ptr_nonnull(strstr(err.msg, "(-o must name another file)"));
    ck_assert_int_eq(qc_check_output(at("m/net.json"), "--stats", in, 3, &err), QC_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "it is the model card of '"));
    in[1].what = "input"; /* only a model has a card beside it */
    ck_assert_int_eq(qc_check_output(at("m/net.json"), "--stats", in, 3, &err), QC_OK);
    ck_assert_int_eq(qc_check_output(at("m"), "-o", in, 3, &err), QC_ERR_USAGE); /* a folder */
    const char *paths[] = {at("m/s.json"), at("m/net.onnx")};
    ck_assert_int_eq(qc_check_output_paths(at("m/net.json"), "--html", paths, 2, &err), QC_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "model card"));
    ck_assert_int_eq(qc_check_output_paths(at("m/page.html"), "--html", paths, 2, &err), QC_OK);
}
END_TEST

/* A model operand that is a folder, or a folder operand that is an .onnx file, names it and
 * the synopsis; anything else (missing paths too: their own errors come later) passes. */
START_TEST(operands_in_the_wrong_order_are_a_usage_error_naming_the_synopsis)
{
    make_dir(at("imgs"));
    put_text(at("net.onnx"), "x");
    const char *model[] = {at("imgs")}, *folder[] = {at("net.onnx")}, *good_m[] = {at("net.onnx")},
               *good_f[] = {at("imgs"), at("none.onnx")};
    qc_error err;
    ck_assert_int_eq(qc_check_operands("qcal stats MODEL IMAGES", model, 1, good_f, 2, &err), QC_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "is a folder; MODEL comes first: qcal stats MODEL IMAGES"));
    ck_assert_int_eq(qc_check_operands("S", good_m, 1, folder, 1, &err), QC_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "is a model, not a folder of images"));
    ck_assert_int_eq(qc_check_operands("S", good_m, 1, good_f, 2, &err), QC_OK);
}
END_TEST

/* Each line: the escaped path, top-1, the label (empty when unknown), the scores as %.9g. */
START_TEST(a_prediction_line_escapes_the_path_and_writes_exact_scores)
{
    qc_file f = {0};
    qc_error err;
    ck_assert_int_eq(qc_file_begin(&f, at("pred.tsv"), &err), QC_OK);
    const float scores[] = {0.1f, -2.5f, 1e-20f};
    ck_assert_int_eq(qc_prediction_put(&f, "a\tb\\c\nd\re.png", 2, 7, scores, 3, &err), QC_OK);
    ck_assert_int_eq(qc_prediction_put(&f, "x.png", 0, -1, NULL, 3, &err), QC_OK);
    ck_assert_int_eq(qc_file_commit(&f, &err), QC_OK);
    char *text;
    size_t size;
    ck_assert_int_eq(qc_read_file(at("pred.tsv"), &text, &size, &err), QC_OK);
    ck_assert_str_eq(text, "a\\tb\\\\c\\nd\\re.png\t2\t7\t0.100000001 -2.5 9.99999968e-21\nx.png\t0\t\n");
    free(text);
}
END_TEST

/* The flags over the default (or the card): each given field replaces the card's, one mean or
 * std value is every channel's; a size and a resize both, or a colour of other channels, is a
 * usage error. */
START_TEST(preprocessing_flags_are_laid_over_the_default_and_checked_against_the_channels)
{
    qc_model_card card = {0};
    qc_preprocess pp, def;
    qc_preprocess_default(&def, 3);
    char warning[256] = "";
    qc_error err;
    qc_pp_overrides none = {0};
    ck_assert(!qc_pp_overrides_given(&none));
    ck_assert_int_eq(qc_preprocess_resolve(at("none.onnx"), NULL, 3, &none, &card, &pp, warning, sizeof warning, &err),
                     QC_OK);
    ck_assert(!card.found);
    ck_assert(!memcmp(&pp, &def, sizeof pp));
    qc_model_card_free(&card); /* each call fills the card anew */
    qc_pp_overrides f = {.has_crop = true, .crop_h = 20, .crop_w = 10, .resize_short = 32, .n_mean = 1,
                         .mean = {0.5f}, .n_std = 3, .std = {1, 2, 4}};
    ck_assert(qc_pp_overrides_given(&f));
    ck_assert_int_eq(qc_preprocess_resolve(at("none.onnx"), NULL, 3, &f, &card, &pp, warning, sizeof warning, &err),
                     QC_OK);
    ck_assert_int_eq(pp.crop_h, 20);
    qc_model_card_free(&card);
    ck_assert_int_eq(pp.crop_w, 10);
    ck_assert_int_eq(pp.resize_short, 32);
    ck_assert_int_eq(pp.resize_h, 0);
    ck_assert(pp.scale == def.scale && pp.color == def.color);
    for (int c = 0; c < 3; c++) {
        ck_assert(pp.mean[c] == 0.5f);
        ck_assert(pp.std[c] == (float)(1 << c));
    }
    f.has_size = true, f.size_h = f.size_w = 28;
    ck_assert_int_eq(qc_preprocess_resolve(at("none.onnx"), NULL, 3, &f, &card, &pp, warning, sizeof warning, &err),
                     QC_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "--resize S and --size HxW"));
    qc_model_card_free(&card);
    qc_pp_overrides gray = {.color = QC_COLOR_GRAY};
    ck_assert_int_eq(qc_preprocess_resolve(at("none.onnx"), NULL, 3, &gray, &card, &pp, warning, sizeof warning, &err),
                     QC_ERR_USAGE);
    ck_assert_str_eq(err.msg, "the model takes 3 channels but the colour is gray (use --color)");
    qc_model_card_free(&card);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("io");
    TCase *png = tcase_create("png");
    tcase_add_checked_fixture(png, setup, teardown);
    tcase_add_test(png, an_8bit_gray_png_reads_back_exactly);
    tcase_add_test(png, gray_plus_alpha_ignores_the_alpha);
    tcase_add_test(png, an_8bit_rgb_png_reads_back_exactly_in_rgb_and_bgr_order);
    tcase_add_test(png, rgba_ignores_the_alpha);
    tcase_add_test(png, rgb_to_gray_uses_bt601_luma_as_pil_does);
    tcase_add_test(png, gray_to_rgb_repeats_the_value);
    tcase_add_test(png, a_palette_png_takes_the_palette_colours_and_ignores_trns);
    tcase_add_test(png, low_bit_depth_gray_scales_to_0_255);
    tcase_add_test(png, a_16bit_gray_png_with_value_257k_gives_exactly_k);
    tcase_add_test(png, a_16bit_rgb_png_reads_as_v_over_257_and_turns_gray_at_16_bits);
    tcase_add_test(png, a_16bit_png_with_alpha_ignores_the_alpha);
    tcase_add_test(png, a_gamma_chunk_and_gray_trns_change_no_value);
    tcase_add_test(png, an_interlaced_png_reads_the_same_as_a_plain_one);
    suite_add_tcase(s, png);

    TCase *jpeg = tcase_create("jpeg");
    tcase_add_checked_fixture(jpeg, setup, teardown);
    tcase_set_timeout(jpeg, 60);
    tcase_add_test(jpeg, rgb_jpegs_decode_to_pils_pixels_in_rgb_bgr_and_gray);
    tcase_add_test(jpeg, gray_jpegs_decode_to_pils_pixels_and_repeat_in_rgb);
    tcase_add_test(jpeg, exif_orientation_is_ignored_pixels_come_in_stored_order);
    tcase_add_test(jpeg, a_jpeg_is_told_by_its_bytes_not_its_name);
    tcase_add_test(jpeg, broken_and_refused_jpegs_are_bad_input_saying_why);
    tcase_add_test(jpeg, a_good_jpeg_cut_at_any_length_is_rejected_as_bad_input);
    tcase_add_test(jpeg, mutated_jpegs_decode_or_are_rejected_never_crash);
    tcase_add_test(jpeg, an_image_folder_lists_jpg_and_jpeg_in_any_case_beside_png);
    suite_add_tcase(s, jpeg);

    TCase *pre = tcase_create("preprocess");
    tcase_add_checked_fixture(pre, setup, teardown);
    tcase_add_test(pre, bilinear_resize_2x2_to_4x4_matches_align_corners_false);
    tcase_add_test(pre, bilinear_resize_4x4_to_2x2_averages_without_antialiasing);
    tcase_add_test(pre, bilinear_resize_by_3_to_5_follows_the_pixel_center_formula);
    tcase_add_test(pre, resizing_to_the_same_size_returns_the_image_exactly);
    tcase_add_test(pre, center_crop_rounds_half_offsets_to_even_as_torchvision);
    tcase_add_test(pre, center_crop_takes_the_middle_of_the_image);
    tcase_add_test(pre, a_crop_larger_than_the_image_pads_with_zero_pixels);
    tcase_add_test(pre, resize_then_crop_keeps_the_center_of_the_resized_image);
    tcase_add_test(pre, an_image_of_another_size_is_fitted_to_the_model_when_nothing_is_asked);
    tcase_add_test(pre, normalization_is_bit_exact_with_p_times_scale_minus_mean_over_std);
    tcase_add_test(pre, a_preprocessing_result_that_does_not_fit_the_model_is_bad_input);
    suite_add_tcase(s, pre);

    TCase *bad = tcase_create("hostile");
    tcase_add_checked_fixture(bad, setup, teardown);
    tcase_set_timeout(bad, 60);
    tcase_add_test(bad, a_missing_png_is_an_io_error_naming_the_file);
    tcase_add_test(bad, a_text_file_named_png_is_bad_input_not_a_png_file);
    tcase_add_test(bad, an_endless_file_named_png_is_rejected_without_reading_it_whole);
    tcase_add_test(bad, a_folder_named_png_is_an_io_error);
    tcase_add_test(bad, every_file_in_the_hostile_corpus_is_rejected_as_bad_input);
    tcase_add_test(bad, hostile_files_get_messages_that_say_what_is_wrong);
    tcase_add_test(bad, a_good_png_cut_at_any_length_is_rejected_as_bad_input);
    tcase_add_test(bad, mutated_pngs_with_valid_crcs_decode_or_are_rejected_never_crash);
    suite_add_tcase(s, bad);

    TCase *set = tcase_create("imageset");
    tcase_add_checked_fixture(set, setup, teardown);
    tcase_add_test(set, an_image_folder_lists_pngs_recursively_in_byte_order_skipping_hidden_files);
    tcase_add_test(set, class_folder_numbers_are_the_labels_even_with_gaps);
    tcase_add_test(set, class_folders_without_numbers_are_labelled_by_sorted_position);
    tcase_add_test(set, two_class_folders_with_the_same_number_are_bad_input);
    tcase_add_test(set, a_labels_file_gives_labels_and_unlisted_images_get_minus_one);
    tcase_add_test(set, a_bad_line_in_a_labels_file_is_bad_input_naming_file_and_line);
    tcase_add_test(set, a_single_png_is_a_set_of_one);
    tcase_add_test(set, a_folder_without_pngs_is_bad_input);
    tcase_add_test(set, a_missing_folder_is_an_io_error);
    tcase_add_test(set, a_symbolic_link_loop_is_read_once);
    tcase_add_test(set, the_bundled_validation_set_has_ten_numbered_classes);
    tcase_add_test(set, a_sample_gives_small_classes_all_and_spreads_the_rest_evenly);
    tcase_add_test(set, the_same_seed_keeps_the_same_images_and_a_large_sample_keeps_all);
    tcase_add_test(set, keeping_readable_images_drops_the_bad_ones_in_order_up_to_the_count_wanted);
    suite_add_tcase(s, set);

    TCase *card = tcase_create("modelcard");
    tcase_add_checked_fixture(card, setup, teardown);
    tcase_add_test(card, a_model_card_is_read_with_all_its_fields);
    tcase_add_test(card, the_bundled_lenet_card_parses);
    tcase_add_test(card, no_card_file_means_defaults_and_ok);
    tcase_add_test(card, a_card_that_is_not_valid_json_is_bad_input_naming_the_file);
    tcase_add_test(card, json_without_the_qcal_key_is_not_a_card_and_warns);
    tcase_add_test(card, a_card_key_of_the_wrong_type_is_bad_input_naming_the_key);
    tcase_add_test(card, the_canonical_card_text_reads_back_to_the_same_card);
    tcase_add_test(card, a_card_without_a_file_has_only_its_preprocessing);
    tcase_add_test(card, embedded_text_without_the_qcal_key_is_bad_input);
    tcase_add_test(card, a_card_copy_with_text_writes_the_text_but_never_over_another_file);
    suite_add_tcase(s, card);

    TCase *files = tcase_create("files");
    tcase_add_checked_fixture(files, setup, teardown);
    tcase_add_test(files, a_committed_file_replaces_the_target_and_leaves_no_temporary);
    tcase_add_test(files, a_mapped_file_has_the_bytes_read_and_the_same_errors);
    tcase_add_test(files, an_aborted_file_leaves_the_target_as_it_was);
    tcase_add_test(files, a_signal_removes_the_temporary_files_and_ends_the_process);
    tcase_add_test(files, a_failed_write_is_an_io_error_and_leaves_no_file);
    tcase_add_test(files, a_file_onto_a_folder_is_refused_before_any_temporary);
    tcase_add_test(files, beginning_a_file_in_a_missing_folder_is_an_io_error);
    tcase_add_test(files, read_file_returns_the_whole_file_nul_terminated);
    tcase_add_test(files, outputs_are_checked_before_a_run_and_the_same_file_is_found_by_any_path);
    tcase_add_test(files, an_output_onto_an_input_or_its_model_card_is_refused_naming_both);
    tcase_add_test(files, operands_in_the_wrong_order_are_a_usage_error_naming_the_synopsis);
    tcase_add_test(files, a_prediction_line_escapes_the_path_and_writes_exact_scores);
    tcase_add_test(files, preprocessing_flags_are_laid_over_the_default_and_checked_against_the_channels);
    suite_add_tcase(s, files);
    return s;
}

int main(void)
{
    return qc_check_run("check_io", suite());
}
