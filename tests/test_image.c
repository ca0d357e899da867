/* Images: PNG/JPEG decoding of every colour type (test images are made here with libpng and
 * libjpeg directly), PNG round trips, corrupt/truncated/huge inputs, the pixel limit,
 * bilinear resize, letterbox geometry and values, drawing with clipping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "image.h"
#include "internal.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------------------- */

static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* deterministic sample value for pixel (x, y), channel k */
static unsigned sample(int x, int y, int k)
{
    uint32_t h = (uint32_t)x * 73856093u ^ (uint32_t)y * 19349663u ^ (uint32_t)k * 83492791u;
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    h ^= h >> 15;
    return h;
}

static uint32_t crc_table[256];
static uint32_t crc32_buf(const uint8_t *p, size_t n)
{
    if (!crc_table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            crc_table[i] = c;
        }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}
static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

typedef struct {
    uint8_t *buf;
    size_t len, cap;
} membuf;

static void mem_write(png_structp png, png_bytep data, size_t n)
{
    membuf *m = png_get_io_ptr(png);
    if (m->len + n > m->cap) {
        m->cap = (m->len + n) * 2 + 256;
        m->buf = realloc(m->buf, m->cap);
    }
    memcpy(m->buf + m->len, data, n);
    m->len += n;
}
static void mem_flush(png_structp png) { (void)png; }

typedef struct {
    int w, h, ctype, depth, interlace;
    const png_color *pal;
    int npal;
    const uint8_t *trns; /* palette alpha */
    int ntrns;
    const png_color_16 *trans_color; /* gray / RGB tRNS */
} png_spec;

/* Encode packed PNG rows (PNG sample layout, big-endian 16-bit) into a malloc'd buffer. */
static uint8_t *make_png(const png_spec *s, uint8_t **rows, size_t *len)
{
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    assert_non_null(png);
    png_infop info = png_create_info_struct(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png))) fail_msg("libpng write failed in the test");
    png_set_write_fn(png, &m, mem_write, mem_flush);
    png_set_compression_level(png, 9);
    png_set_IHDR(png, info, (png_uint_32)s->w, (png_uint_32)s->h, s->depth, s->ctype, s->interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (s->pal) png_set_PLTE(png, info, s->pal, s->npal);
    if (s->trns || s->trans_color)
        png_set_tRNS(png, info, s->trns, s->ntrns, (png_color_16p)s->trans_color);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *len = m.len;
    return m.buf;
}

static int channels_of(int ctype)
{
    switch (ctype) {
    case PNG_COLOR_TYPE_GRAY: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 1; /* palette */
    }
}

/* Build a PNG of spec s with sample()-derived content, and the RGB we expect back. */
static uint8_t *build_case(const png_spec *s, uint8_t *expect, size_t *len)
{
    const int ch = channels_of(s->ctype);
    const int bits_per_px = ch * s->depth;
    const size_t rowbytes = ((size_t)s->w * bits_per_px + 7) / 8;
    uint8_t **rows = calloc((size_t)s->h, sizeof *rows);
    for (int y = 0; y < s->h; y++) {
        rows[y] = calloc(rowbytes, 1);
        for (int x = 0; x < s->w; x++) {
            unsigned v[4];
            for (int k = 0; k < ch; k++) v[k] = sample(x, y, k);
            uint8_t *e = expect + ((size_t)y * s->w + x) * 3;
            if (s->ctype == PNG_COLOR_TYPE_PALETTE) {
                unsigned idx = v[0] % (unsigned)s->npal;
                if (s->depth < 8) {
                    size_t bit = (size_t)x * s->depth;
                    rows[y][bit / 8] |= (uint8_t)(idx << (8 - s->depth - bit % 8));
                } else {
                    rows[y][x] = (uint8_t)idx;
                }
                e[0] = s->pal[idx].red;
                e[1] = s->pal[idx].green;
                e[2] = s->pal[idx].blue;
                continue;
            }
            if (s->depth < 8) { /* gray 1/2/4 */
                unsigned maxv = (1u << s->depth) - 1, g = v[0] & maxv;
                size_t bit = (size_t)x * s->depth;
                rows[y][bit / 8] |= (uint8_t)(g << (8 - s->depth - bit % 8));
                e[0] = e[1] = e[2] = (uint8_t)(g * 255 / maxv);
                continue;
            }
            uint8_t out8[4];
            for (int k = 0; k < ch; k++) {
                if (s->depth == 16) {
                    unsigned s16 = v[k] & 0xFFFF;
                    rows[y][((size_t)x * ch + k) * 2] = (uint8_t)(s16 >> 8);
                    rows[y][((size_t)x * ch + k) * 2 + 1] = (uint8_t)s16;
                    out8[k] = (uint8_t)(s16 >> 8); /* strip 16 keeps the high byte */
                } else {
                    rows[y][(size_t)x * ch + k] = (uint8_t)v[k];
                    out8[k] = (uint8_t)v[k];
                }
            }
            if (ch <= 2) e[0] = e[1] = e[2] = out8[0];
            else memcpy(e, out8, 3); /* alpha dropped */
        }
    }
    uint8_t *png = make_png(s, rows, len);
    for (int y = 0; y < s->h; y++) free(rows[y]);
    free(rows);
    return png;
}

static void assert_live_unchanged(uint64_t live0)
{
    oc_alloc_stats st;
    oc_get_alloc_stats(&st);
    assert_int_equal(st.live_bytes, live0);
}
static uint64_t live_now(void)
{
    oc_alloc_stats st;
    oc_get_alloc_stats(&st);
    return st.live_bytes;
}

/* ---- PNG ------------------------------------------------------------------------------ */

static void test_png_every_colour_type(void **state)
{
    (void)state;
    static const png_color pal[16] = {{255, 0, 0},   {0, 255, 0},   {0, 0, 255},  {10, 20, 30},
                                      {200, 100, 50}, {1, 2, 3},     {250, 251, 252},
                                      {9, 99, 199},  {128, 128, 0}, {0, 128, 128}, {77, 66, 55},
                                      {44, 33, 22},  {5, 150, 250}, {60, 70, 80}, {90, 0, 90},
                                      {255, 255, 255}};
    static png_color pal256[256];
    for (int i = 0; i < 256; i++)
        pal256[i] = (png_color){(uint8_t)i, (uint8_t)(255 - i), (uint8_t)(i * 7)};
    static const uint8_t trns[4] = {0, 128, 255, 7};
    static const png_color_16 tgray = {0, 0, 0, 0, 77};
    static const png_color_16 trgb = {0, 10, 20, 30, 0};
    const png_spec cases[] = {
        {13, 11, PNG_COLOR_TYPE_GRAY, 1, 0, NULL, 0, NULL, 0, NULL},
        {13, 11, PNG_COLOR_TYPE_GRAY, 2, 0, NULL, 0, NULL, 0, NULL},
        {13, 11, PNG_COLOR_TYPE_GRAY, 4, 0, NULL, 0, NULL, 0, NULL},
        {13, 11, PNG_COLOR_TYPE_GRAY, 8, 0, NULL, 0, NULL, 0, NULL},
        {13, 11, PNG_COLOR_TYPE_GRAY, 16, 0, NULL, 0, NULL, 0, NULL},
        {13, 11, PNG_COLOR_TYPE_GRAY, 8, 0, NULL, 0, NULL, 0, &tgray},
        {13, 11, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, NULL, 0, NULL, 0, NULL},
        {13, 11, PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0, NULL, 0, NULL, 0, NULL},
        {13, 11, PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0, NULL},
        {13, 11, PNG_COLOR_TYPE_RGB, 16, 0, NULL, 0, NULL, 0, NULL},
        {13, 11, PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0, &trgb},
        {13, 11, PNG_COLOR_TYPE_RGB_ALPHA, 8, 0, NULL, 0, NULL, 0, NULL},
        {13, 11, PNG_COLOR_TYPE_RGB_ALPHA, 16, 0, NULL, 0, NULL, 0, NULL},
        {13, 11, PNG_COLOR_TYPE_PALETTE, 1, 0, pal, 2, NULL, 0, NULL},
        {13, 11, PNG_COLOR_TYPE_PALETTE, 2, 0, pal, 4, NULL, 0, NULL},
        {13, 11, PNG_COLOR_TYPE_PALETTE, 4, 0, pal, 16, NULL, 0, NULL},
        {13, 11, PNG_COLOR_TYPE_PALETTE, 8, 0, pal256, 256, NULL, 0, NULL},
        {13, 11, PNG_COLOR_TYPE_PALETTE, 4, 0, pal, 16, trns, 4, NULL},
        {13, 11, PNG_COLOR_TYPE_PALETTE, 8, 0, pal256, 200, trns, 4, NULL},
        /* Adam7 interlacing */
        {13, 11, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7, NULL, 0, NULL, 0, NULL},
        {13, 11, PNG_COLOR_TYPE_GRAY, 2, PNG_INTERLACE_ADAM7, NULL, 0, NULL, 0, NULL},
        {13, 11, PNG_COLOR_TYPE_PALETTE, 4, PNG_INTERLACE_ADAM7, pal, 16, trns, 3, NULL},
        {13, 11, PNG_COLOR_TYPE_RGB_ALPHA, 16, PNG_INTERLACE_ADAM7, NULL, 0, NULL, 0, NULL},
        {1, 1, PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0, NULL},
        {1, 1, PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_ADAM7, NULL, 0, NULL, 0, NULL},
    };
    uint64_t live0 = live_now();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const png_spec *s = &cases[i];
        uint8_t *expect = calloc((size_t)s->w * s->h * 3, 1);
        size_t len;
        uint8_t *png = build_case(s, expect, &len);
        oc_image img;
        oc_status st = oc_image_decode(png, len, &img);
        if (st != OC_OK)
            fail_msg("case %zu (type %d depth %d): %s", i, s->ctype, s->depth, oc_last_error());
        assert_int_equal(img.width, s->w);
        assert_int_equal(img.height, s->h);
        assert_int_equal(img.channels, 3);
        if (memcmp(img.data, expect, (size_t)s->w * s->h * 3) != 0) {
            for (int p = 0; p < s->w * s->h * 3; p++)
                if (img.data[p] != expect[p])
                    fail_msg("case %zu (type %d depth %d interlace %d): byte %d is %d, want %d", i,
                             s->ctype, s->depth, s->interlace, p, img.data[p], expect[p]);
        }
        oc_image_free(&img);
        assert_null(img.data);
        free(expect);
        free(png);
    }
    assert_live_unchanged(live0);
}

/* The "raw data cannot fit in the file" guard must not refuse real, maximally compressed
 * files: 2000 x 2000 zeros at zlib level 9 compress about 1020:1. */
static void test_png_max_compression(void **state)
{
    (void)state;
    enum { N = 2000 };
    uint8_t *row = calloc(N, 1);
    uint8_t **rows = malloc(sizeof *rows * N);
    for (int y = 0; y < N; y++) rows[y] = row;
    png_spec s = {N, N, PNG_COLOR_TYPE_GRAY, 8, 0, NULL, 0, NULL, 0, NULL};
    size_t len;
    uint8_t *png = make_png(&s, rows, &len);
    assert_true(len < (size_t)N * (N + 1) / 900); /* it really is that compressed */
    oc_image img;
    oc_status st = oc_image_decode(png, len, &img);
    if (st != OC_OK) fail_msg("%s", oc_last_error());
    assert_int_equal(img.width, N);
    assert_int_equal(img.data[(size_t)N * N * 3 - 1], 0);
    oc_image_free(&img);
    free(png);
    free(rows);
    free(row);
}

static void test_png_roundtrip(void **state)
{
    (void)state;
    uint64_t live0 = live_now();
    for (int c = 1; c <= 3; c += 2) {
        oc_image a;
        assert_int_equal(oc_image_alloc(&a, 37, 23, c), OC_OK);
        for (int i = 0; i < 37 * 23 * c; i++) a.data[i] = (uint8_t)rnd();
        const char *path = tu_tmp_path(".png");
        assert_int_equal(oc_image_save_png(path, &a), OC_OK);
        oc_image b;
        assert_int_equal(oc_image_load(path, &b), OC_OK);
        assert_int_equal(b.width, 37);
        assert_int_equal(b.height, 23);
        assert_int_equal(b.channels, 3);
        for (int p = 0; p < 37 * 23; p++)
            for (int k = 0; k < 3; k++)
                assert_int_equal(b.data[p * 3 + k], a.data[p * c + (c == 1 ? 0 : k)]);
        /* the decoded copy re-encodes to the same pixels */
        assert_int_equal(oc_image_save_png(path, &b), OC_OK);
        oc_image d;
        assert_int_equal(oc_image_load(path, &d), OC_OK);
        assert_memory_equal(d.data, b.data, 37 * 23 * 3);
        unlink(path);
        oc_image_free(&a);
        oc_image_free(&b);
        oc_image_free(&d);
    }
    /* bad arguments and unwritable paths */
    oc_image z = {0};
    assert_int_equal(oc_image_save_png(tu_tmp_path(".png"), &z), OC_ERR_INVALID_ARG);
    oc_image one;
    assert_int_equal(oc_image_alloc(&one, 2, 2, 3), OC_OK);
    assert_int_equal(oc_image_save_png("/nonexistent-dir/x/y.png", &one), OC_ERR_IO);
    assert_non_null(strstr(oc_last_error(), "/nonexistent-dir/x/y.png"));
    oc_image_free(&one);
    assert_int_equal(oc_image_alloc(&one, 0, 2, 3), OC_ERR_INVALID_ARG);
    assert_int_equal(oc_image_alloc(&one, 2, 2, 5), OC_ERR_INVALID_ARG);
    assert_int_equal(oc_image_alloc(&one, INT_MAX, INT_MAX, 3), OC_ERR_NOMEM);
    assert_null(one.data);
    oc_image_free(NULL);
    assert_live_unchanged(live0);
}

static uint8_t *small_png(int w, int h, size_t *len)
{
    png_spec s = {w, h, PNG_COLOR_TYPE_RGB, 8, 0, NULL, 0, NULL, 0, NULL};
    uint8_t *expect = malloc((size_t)w * h * 3);
    uint8_t *p = build_case(&s, expect, len);
    free(expect);
    return p;
}

/* Rewrite IHDR width/height and fix its CRC. */
static void png_patch_size(uint8_t *png, uint32_t w, uint32_t h)
{
    assert_memory_equal(png + 12, "IHDR", 4);
    put_be32(png + 16, w);
    put_be32(png + 20, h);
    put_be32(png + 29, crc32_buf(png + 12, 17));
}

static void test_png_corrupt(void **state)
{
    (void)state;
    uint64_t live0 = live_now();
    size_t len;
    uint8_t *png = small_png(24, 17, &len);
    oc_image img;
    assert_int_equal(oc_image_decode(png, len, &img), OC_OK);
    oc_image_free(&img);

    /* truncated anywhere: always an error, never a partial image */
    size_t cuts[] = {0, 1, 7, 8, 9, 16, 29, 33, 40, len / 2, len - 13, len - 12, len - 5, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        oc_status st = oc_image_decode(png, cuts[i], &img);
        if (st == OC_OK) fail_msg("PNG truncated to %zu of %zu bytes decoded", cuts[i], len);
        assert_int_equal(st, OC_ERR_FORMAT);
        assert_null(img.data);
        assert_int_equal(img.width, 0);
        assert_true(strlen(oc_last_error()) > 0);
    }
    for (size_t n = 0; n < len; n++) { /* and at every other length */
        assert_int_not_equal(oc_image_decode(png, n, &img), OC_OK);
        assert_null(img.data);
    }
    /* a flipped byte in the pixel data: the CRC catches it */
    uint8_t *bad = malloc(len);
    memcpy(bad, png, len);
    bad[len - 20] ^= 0x5A;
    assert_int_equal(oc_image_decode(bad, len, &img), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "PNG"));

    /* zero width / zero height */
    memcpy(bad, png, len);
    png_patch_size(bad, 0, 17);
    assert_int_equal(oc_image_decode(bad, len, &img), OC_ERR_FORMAT);
    memcpy(bad, png, len);
    png_patch_size(bad, 24, 0);
    assert_int_equal(oc_image_decode(bad, len, &img), OC_ERR_FORMAT);

    /* a header claiming 100000 x 100000: refused from the header, before any big allocation */
    memcpy(bad, png, len);
    png_patch_size(bad, 100000, 100000);
    oc_alloc_stats a0, a1;
    oc_get_alloc_stats(&a0);
    double t0 = oc_now_ms();
    oc_status st = oc_image_decode(bad, len, &img);
    double t1 = oc_now_ms();
    oc_get_alloc_stats(&a1);
    assert_int_equal(st, OC_ERR_NOMEM);
    assert_non_null(strstr(oc_last_error(), "100000 x 100000"));
    assert_non_null(strstr(oc_last_error(), "100000000")); /* the default limit */
    assert_true(a1.peak_bytes - a0.peak_bytes < (1u << 20));
    if (t1 - t0 > 100) fprintf(stderr, "note: rejecting a huge PNG header took %.1f ms\n", t1 - t0);

    /* within the limit but far more pixels than the file could hold: refused up front */
    memcpy(bad, png, len);
    png_patch_size(bad, 9000, 9000);
    oc_get_alloc_stats(&a0);
    assert_int_equal(oc_image_decode(bad, len, &img), OC_ERR_FORMAT);
    oc_get_alloc_stats(&a1);
    assert_non_null(strstr(oc_last_error(), "9000 x 9000"));
    assert_true(a1.peak_bytes - a0.peak_bytes < (1u << 20));
    /* a big side within the limit is fine from the header but the data is short: error */
    memcpy(bad, png, len);
    png_patch_size(bad, 5000, 3);
    assert_int_equal(oc_image_decode(bad, len, &img), OC_ERR_FORMAT);

    /* garbage: zeros, random bytes, random bytes after a PNG signature */
    uint8_t junk[4096];
    memset(junk, 0, sizeof junk);
    assert_int_equal(oc_image_decode(junk, sizeof junk, &img), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "not a PNG or JPEG"));
    assert_int_equal(oc_image_decode(junk, 0, &img), OC_ERR_FORMAT);
    assert_int_equal(oc_image_decode(NULL, 10, &img), OC_ERR_INVALID_ARG);
    assert_int_equal(oc_image_decode(junk, 10, NULL), OC_ERR_INVALID_ARG);
    for (int it = 0; it < 50; it++) {
        for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)rnd();
        memcpy(junk, png, it < 25 ? 8 : 16); /* signature, then also the IHDR header */
        st = oc_image_decode(junk, sizeof junk, &img);
        assert_int_not_equal(st, OC_OK);
        assert_null(img.data);
    }

    /* random mutations of a valid file: any outcome but a crash or a leak */
    for (int it = 0; it < 300; it++) {
        memcpy(bad, png, len);
        int nflip = 1 + (int)(rnd() % 4);
        for (int k = 0; k < nflip; k++) bad[rnd() % len] ^= (uint8_t)(1 + rnd() % 255);
        size_t n = (rnd() % 4 == 0) ? rnd() % len : len;
        st = oc_image_decode(bad, n, &img);
        if (st == OC_OK) {
            assert_non_null(img.data);
            assert_true((uint64_t)img.width * img.height <= oc_get_image_pixel_limit());
            oc_image_free(&img);
        } else {
            assert_null(img.data);
        }
    }
    free(bad);
    free(png);
    assert_live_unchanged(live0);
}

static void test_pixel_limit(void **state)
{
    (void)state;
    assert_int_equal(oc_get_image_pixel_limit(), 100000000ull);
    size_t l1, l2;
    uint8_t *p110 = small_png(11, 10, &l1), *p100 = small_png(10, 10, &l2);
    oc_image img;
    oc_set_image_pixel_limit(100);
    assert_int_equal(oc_get_image_pixel_limit(), 100);
    assert_int_equal(oc_image_decode(p110, l1, &img), OC_ERR_NOMEM);
    assert_non_null(strstr(oc_last_error(), "110 pixels"));
    assert_non_null(strstr(oc_last_error(), "limit 100"));
    assert_int_equal(oc_image_decode(p100, l2, &img), OC_OK);
    oc_image_free(&img);
    oc_set_image_pixel_limit(0); /* restores the default */
    assert_int_equal(oc_get_image_pixel_limit(), 100000000ull);
    assert_int_equal(oc_image_decode(p110, l1, &img), OC_OK);
    oc_image_free(&img);
    free(p110);
    free(p100);
}

/* ---- JPEG ---------------------------------------------------------------------------- */

static int g_jpeg_ycck; /* encode CMYK input as YCCK (Adobe transform 2) */
static uint8_t *make_jpeg(int w, int h, J_COLOR_SPACE cs, int ncomp, const uint8_t *pix,
                          int quality, int progressive, int adobe, size_t *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char *out = NULL;
    unsigned long outlen = 0;
    jpeg_mem_dest(&c, &out, &outlen);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = ncomp;
    c.in_color_space = cs;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    if (g_jpeg_ycck) jpeg_set_colorspace(&c, JCS_YCCK);
    for (int i = 0; i < c.num_components; i++) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    if (progressive) jpeg_simple_progression(&c);
    if (adobe >= 0) c.write_Adobe_marker = adobe ? TRUE : FALSE;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)(pix + (size_t)c.next_scanline * w * ncomp);
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *len = outlen;
    return out;
}

/* 32x32: four solid 16x16 quadrants (block-aligned) plus nothing else */
static const uint8_t quad_rgb[4][3] = {{200, 30, 40}, {20, 180, 60}, {30, 60, 220}, {240, 240, 20}};
static int quad_of(int x, int y) { return (y >= 16) * 2 + (x >= 16); }

static int max_diff_rgb(const oc_image *img, const uint8_t *want)
{
    int m = 0;
    for (int i = 0; i < img->width * img->height * 3; i++) {
        int d = abs((int)img->data[i] - (int)want[i]);
        if (d > m) m = d;
    }
    return m;
}

static void test_jpeg_gray_rgb(void **state)
{
    (void)state;
    uint64_t live0 = live_now();
    uint8_t rgb[32 * 32 * 3], want[32 * 32 * 3], gray[32 * 32];
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 32; x++) {
            memcpy(rgb + (y * 32 + x) * 3, quad_rgb[quad_of(x, y)], 3);
            gray[y * 32 + x] = (uint8_t)(quad_of(x, y) * 60 + 20);
        }
    for (int prog = 0; prog <= 1; prog++) {
        size_t len;
        uint8_t *j = make_jpeg(32, 32, JCS_RGB, 3, rgb, 100, prog, -1, &len);
        oc_image img;
        assert_int_equal(oc_image_decode(j, len, &img), OC_OK);
        assert_int_equal(img.width, 32);
        assert_int_equal(img.height, 32);
        assert_int_equal(img.channels, 3);
        assert_true(max_diff_rgb(&img, rgb) <= 3);
        oc_image_free(&img);
        free(j);

        j = make_jpeg(32, 32, JCS_GRAYSCALE, 1, gray, 95, prog, -1, &len);
        assert_int_equal(oc_image_decode(j, len, &img), OC_OK);
        for (int i = 0; i < 32 * 32; i++) memset(want + i * 3, gray[i], 3);
        assert_true(max_diff_rgb(&img, want) <= 2);
        oc_image_free(&img);
        free(j);
    }
    /* a smooth gradient at an odd size, 4:2:0 default sampling via quality 90: loose bound */
    enum { W = 45, H = 29 };
    uint8_t grad[W * H * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            grad[(y * W + x) * 3] = (uint8_t)(x * 5);
            grad[(y * W + x) * 3 + 1] = (uint8_t)(y * 8);
            grad[(y * W + x) * 3 + 2] = (uint8_t)(128 + x - y);
        }
    size_t len;
    uint8_t *j = make_jpeg(W, H, JCS_RGB, 3, grad, 90, 0, -1, &len);
    oc_image img;
    assert_int_equal(oc_image_decode(j, len, &img), OC_OK);
    assert_int_equal(img.width, W);
    assert_int_equal(img.height, H);
    int md = max_diff_rgb(&img, grad);
    assert_true(md <= 12);
    oc_image_free(&img);
    free(j);
    assert_live_unchanged(live0);
}

static void test_jpeg_cmyk(void **state)
{
    (void)state;
    uint64_t live0 = live_now();
    uint8_t cmyk[32 * 32 * 4], want[32 * 32 * 3];
    /* ink values per quadrant (C, M, Y, K as fractions of 255) */
    static const uint8_t ink[4][4] = {{0, 255, 255, 0}, {255, 0, 255, 0}, {100, 50, 0, 60},
                                      {30, 30, 30, 200}};
    for (int variant = 0; variant < 3; variant++) {
        int adobe = variant > 0; /* 0: plain CMYK, 1: Adobe CMYK, 2: Adobe YCCK */
        g_jpeg_ycck = variant == 2;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                const uint8_t *k = ink[quad_of(x, y)];
                uint8_t *p = cmyk + (y * 32 + x) * 4;
                /* Adobe files store inverted ink (255 = no ink); plain ones store ink */
                for (int i = 0; i < 4; i++) p[i] = adobe ? (uint8_t)(255 - k[i]) : k[i];
                uint8_t *w = want + (y * 32 + x) * 3;
                for (int i = 0; i < 3; i++)
                    w[i] = (uint8_t)lrint((255 - k[i]) * (255 - k[3]) / 255.0);
            }
        size_t len;
        uint8_t *j = make_jpeg(32, 32, JCS_CMYK, 4, cmyk, 100, 0, adobe, &len);
        g_jpeg_ycck = 0;
        oc_image img;
        oc_status st = oc_image_decode(j, len, &img);
        if (st != OC_OK) fail_msg("CMYK (variant %d): %s", variant, oc_last_error());
        assert_int_equal(img.channels, 3);
        int md = max_diff_rgb(&img, want);
        if (md > 3) fail_msg("CMYK (variant %d): max diff %d", variant, md);
        /* spot check: quadrant 0 is red, quadrant 1 green */
        assert_true(img.data[0] > 250 && img.data[1] < 5 && img.data[2] < 5);
        assert_true(img.data[20 * 3] < 5 && img.data[20 * 3 + 1] > 250);
        oc_image_free(&img);
        free(j);
    }
    assert_live_unchanged(live0);
}

static size_t find_marker(const uint8_t *j, size_t len, uint8_t m)
{
    for (size_t i = 2; i + 1 < len; i++)
        if (j[i] == 0xFF && j[i + 1] == m) return i;
    fail_msg("marker %02x not found", m);
    return 0;
}

static int g_warns;
static char g_warn_text[512];
static void count_log(oc_log_level lv, const char *msg, void *user)
{
    (void)user;
    if (lv == OC_LOG_WARN) {
        g_warns++;
        snprintf(g_warn_text, sizeof g_warn_text, "%s", msg);
    }
}

static void test_jpeg_corrupt(void **state)
{
    (void)state;
    uint64_t live0 = live_now();
    uint8_t gray[48 * 40];
    for (int i = 0; i < 48 * 40; i++) gray[i] = (uint8_t)(i * 7 + (i / 48) * 3);
    uint8_t rgb[48 * 40 * 3];
    for (int i = 0; i < 48 * 40 * 3; i++) rgb[i] = (uint8_t)(i * 13 + (i / 144) * 5);
    for (int prog = 0; prog <= 1; prog++) {
        size_t len;
        uint8_t *j = make_jpeg(48, 40, JCS_RGB, 3, rgb, 85, prog, -1, &len);
        oc_image img;
        assert_int_equal(oc_image_decode(j, len, &img), OC_OK);
        oc_image_free(&img);
        size_t sos = find_marker(j, len, 0xDA);
        /* truncated in the header or inside the scan data: an error */
        size_t cuts[] = {1, 2, 3, 4, 10, 20, sos, sos + 4, sos + 20, (sos + len) / 2, len - 40};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            if (cuts[i] >= len - 2) continue;
            oc_status st = oc_image_decode(j, cuts[i], &img);
            if (st == OC_OK)
                fail_msg("JPEG (progressive %d) truncated to %zu of %zu bytes decoded", prog,
                         cuts[i], len);
            assert_null(img.data);
            if (cuts[i] >= 3) assert_int_equal(st, OC_ERR_FORMAT);
        }
        /* truncated at every length: baseline accepts only a missing EOI marker (pixels all
         * there, with a warning); progressive accepts nothing short of the whole file */
        int nok = 0;
        for (size_t n = 0; n < len; n++) {
            g_warns = 0;
            oc_set_log_callback(count_log, NULL);
            oc_status st = oc_image_decode(j, n, &img);
            oc_set_log_callback(NULL, NULL);
            if (st == OC_OK) {
                nok++;
                if (prog || n < len - 2)
                    fail_msg("JPEG (progressive %d) truncated to %zu of %zu decoded", prog, n, len);
                assert_true(g_warns >= 1);
                oc_image_free(&img);
            }
        }
        assert_int_equal(nok, prog ? 0 : 2);

        /* zero height, and a header claiming 65000 x 65000 (4.2 Gpx): refused from the header */
        uint8_t *bad = malloc(len);
        memcpy(bad, j, len);
        size_t sof = find_marker(bad, len, prog ? 0xC2 : 0xC0);
        bad[sof + 5] = 0;
        bad[sof + 6] = 0;
        assert_int_equal(oc_image_decode(bad, len, &img), OC_ERR_FORMAT);
        memcpy(bad, j, len);
        bad[sof + 5] = 0xFD; /* height 65000 */
        bad[sof + 6] = 0xE8;
        bad[sof + 7] = 0xFD; /* width 65000 */
        bad[sof + 8] = 0xE8;
        oc_alloc_stats a0, a1;
        oc_get_alloc_stats(&a0);
        assert_int_equal(oc_image_decode(bad, len, &img), OC_ERR_NOMEM);
        oc_get_alloc_stats(&a1);
        assert_non_null(strstr(oc_last_error(), "65000 x 65000"));
        assert_true(a1.peak_bytes - a0.peak_bytes < (1u << 20));

        /* random mutations: any outcome but a crash or a leak */
        for (int it = 0; it < 200; it++) {
            memcpy(bad, j, len);
            int nflip = 1 + (int)(rnd() % 4);
            for (int k = 0; k < nflip; k++) bad[rnd() % len] ^= (uint8_t)(1 + rnd() % 255);
            size_t n = (rnd() % 4 == 0) ? rnd() % len : len;
            oc_status st = oc_image_decode(bad, n, &img);
            if (st == OC_OK) {
                assert_non_null(img.data);
                assert_true(img.width > 0 && img.height > 0);
                oc_image_free(&img);
            } else {
                assert_null(img.data);
                assert_true(strlen(oc_last_error()) > 0);
            }
        }
        free(bad);
        free(j);
    }
    /* extraneous bytes before a marker: decoded, and libjpeg's warning goes to the log
     * callback rather than stderr */
    size_t len;
    uint8_t *j = make_jpeg(48, 40, JCS_GRAYSCALE, 1, gray, 90, 0, -1, &len);
    uint8_t *x = malloc(len + 3);
    size_t eoi = len - 2;
    memcpy(x, j, eoi);
    x[eoi] = 0x12;
    x[eoi + 1] = 0x34;
    x[eoi + 2] = 0x56;
    memcpy(x + eoi + 3, j + eoi, 2);
    g_warns = 0;
    g_warn_text[0] = 0;
    oc_set_log_callback(count_log, NULL);
    oc_image img;
    assert_int_equal(oc_image_decode(x, len + 3, &img), OC_OK);
    oc_set_log_callback(NULL, NULL);
    assert_true(g_warns >= 1);
    assert_non_null(strstr(g_warn_text, "JPEG"));
    oc_image_free(&img);
    free(x);
    /* SOI followed by garbage */
    uint8_t junk[2048];
    for (int it = 0; it < 30; it++) {
        for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)rnd();
        junk[0] = 0xFF;
        junk[1] = 0xD8;
        junk[2] = 0xFF;
        assert_int_not_equal(oc_image_decode(junk, sizeof junk, &img), OC_OK);
        assert_null(img.data);
    }
    free(j);
    assert_live_unchanged(live0);
}

/* A gray progressive JPEG whose scan script sends every AC coefficient alone, with `al`
 * successive-approximation refinements: 1 + 63 * (al + 1) scans. */
static uint8_t *make_many_scans(int al, size_t *len, int *nscans)
{
    static jpeg_scan_info scans[1 + 63 * 14];
    int n = 0;
    scans[n++] = (jpeg_scan_info){1, {0}, 0, 0, 0, 0};
    for (int k = 1; k <= 63; k++) {
        scans[n++] = (jpeg_scan_info){1, {0}, k, k, 0, al};
        for (int a = al; a > 0; a--) scans[n++] = (jpeg_scan_info){1, {0}, k, k, a, a - 1};
    }
    uint8_t gray[16 * 16];
    for (int i = 0; i < 256; i++) gray[i] = (uint8_t)(i * 37);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char *out = NULL;
    unsigned long outlen = 0;
    jpeg_mem_dest(&c, &out, &outlen);
    c.image_width = c.image_height = 16;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    c.scan_info = scans;
    c.num_scans = n;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < 16) {
        JSAMPROW r = gray + c.next_scanline * 16;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *len = outlen;
    *nscans = n;
    return out;
}

static void test_jpeg_scan_limit(void **state)
{
    (void)state;
    size_t len;
    int n;
    oc_image img;
    uint8_t *j = make_many_scans(3, &len, &n); /* 253 scans: allowed */
    assert_int_equal(n, 253);
    oc_status st = oc_image_decode(j, len, &img);
    if (st != OC_OK) fail_msg("%s", oc_last_error());
    assert_int_equal(img.width, 16);
    oc_image_free(&img);
    free(j);
    j = make_many_scans(4, &len, &n); /* 316 scans: refused (scan-bomb guard) */
    assert_int_equal(n, 316);
    assert_int_equal(oc_image_decode(j, len, &img), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "more than 256 scans"));
    assert_null(img.data);
    free(j);
}

/* EXIF orientation: a 32x16 JPEG with four solid 16x8 quadrants (red, green / blue, yellow)
 * and an APP1 Exif segment; the decoder turns it upright like OpenCV's imread. Expected
 * corners per orientation come from the EXIF definition (e.g. 6 = rotate 90 clockwise). */
static uint8_t *make_exif_jpeg(int orientation, int little_endian, int corrupt, size_t *len)
{
    enum { W = 32, H = 16 };
    static const uint8_t qc[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}};
    uint8_t pix[W * H * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) memcpy(pix + (y * W + x) * 3, qc[(y >= 8) * 2 + (x >= 16)], 3);
    /* Exif\0\0, TIFF header, IFD0 with two entries (a dummy 0x010F and 0x0112) */
    uint8_t ex[6 + 8 + 2 + 24 + 4];
    memset(ex, 0, sizeof ex);
    memcpy(ex, "Exif\0\0", 6);
    uint8_t *t = ex + 6;
#define W16(p, v) (little_endian ? ((p)[0] = (uint8_t)(v), (p)[1] = (uint8_t)((v) >> 8)) : ((p)[0] = (uint8_t)((v) >> 8), (p)[1] = (uint8_t)(v)))
#define W32(p, v) (little_endian ? (W16(p, (v) & 0xFFFF), W16((p) + 2, (v) >> 16)) : (W16(p, (v) >> 16), W16((p) + 2, (v) & 0xFFFF)))
    t[0] = t[1] = little_endian ? 'I' : 'M';
    W16(t + 2, 42);
    W32(t + 4, corrupt == 1 ? 60000u : 8u); /* IFD0 offset (corrupt: past the end) */
    W16(t + 8, corrupt == 2 ? 5000 : 2);    /* entry count (corrupt: runs off the end) */
    W16(t + 10, 0x010F);
    W16(t + 12, 2);
    W32(t + 14, 4u);
    W16(t + 22, 0x0112);
    W16(t + 24, 3);
    W32(t + 26, 1u);
    W16(t + 30, (unsigned)orientation);
    if (corrupt == 2) t[22] ^= 0x40, t[23] ^= 0x40; /* ...and no orientation tag in the entries */
#undef W16
#undef W32
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char *out = NULL;
    unsigned long outlen = 0;
    jpeg_mem_dest(&c, &out, &outlen);
    c.image_width = W;
    c.image_height = H;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    for (int i = 0; i < c.num_components; i++) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    jpeg_start_compress(&c, TRUE);
    jpeg_write_marker(&c, JPEG_APP0 + 1, ex, (unsigned)(corrupt == 3 ? 9 : sizeof ex));
    while (c.next_scanline < H) {
        JSAMPROW r = pix + c.next_scanline * W * 3;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *len = outlen;
    return out;
}

static int near_color(const oc_image *im, int x, int y, int q)
{
    static const uint8_t qc[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}};
    const uint8_t *p = im->data + ((size_t)y * im->width + x) * 3;
    for (int k = 0; k < 3; k++)
        if (abs(p[k] - qc[q][k]) > 6) return 0;
    return 1;
}

static void test_jpeg_exif_orientation(void **state)
{
    (void)state;
    enum { TL = 0, TR = 1, BL = 2, BR = 3 };
    /* output corners (TL, TR, BL, BR) in terms of the stored image's corners */
    static const int corners[9][4] = {{0},
                                      {TL, TR, BL, BR}, {TR, TL, BR, BL}, {BR, BL, TR, TL},
                                      {BL, BR, TL, TR}, {TL, BL, TR, BR}, {BL, TL, BR, TR},
                                      {BR, TR, BL, TL}, {TR, BR, TL, BL}};
    uint64_t live0 = live_now();
    for (int le = 0; le <= 1; le++)
        for (int o = 1; o <= 8; o++) {
            size_t len;
            uint8_t *j = make_exif_jpeg(o, le, 0, &len);
            oc_image im;
            oc_status st = oc_image_decode(j, len, &im);
            if (st != OC_OK) fail_msg("orientation %d: %s", o, oc_last_error());
            int ew = o >= 5 ? 16 : 32, eh = o >= 5 ? 32 : 16;
            assert_int_equal(im.width, ew);
            assert_int_equal(im.height, eh);
            const int *c = corners[o];
            if (!near_color(&im, 1, 1, c[0]) || !near_color(&im, ew - 2, 1, c[1]) ||
                !near_color(&im, 1, eh - 2, c[2]) || !near_color(&im, ew - 2, eh - 2, c[3]))
                fail_msg("orientation %d (%s-endian): corners wrong", o, le ? "little" : "big");
            oc_image_free(&im);
            free(j);
        }
    /* broken or out-of-range EXIF: ignored, the image decodes as stored */
    for (int corrupt = 0; corrupt <= 3; corrupt++) {
        size_t len;
        uint8_t *j = make_exif_jpeg(corrupt == 0 ? 9 : 6, 1, corrupt, &len);
        oc_image im;
        assert_int_equal(oc_image_decode(j, len, &im), OC_OK);
        if (im.width != 32 || !near_color(&im, 1, 1, TL)) fail_msg("corrupt EXIF %d applied", corrupt);
        oc_image_free(&im);
        free(j);
    }
    assert_live_unchanged(live0);
}

static void test_load_files(void **state)
{
    (void)state;
    oc_image img;
    assert_int_equal(oc_image_load("/nonexistent/none.png", &img), OC_ERR_IO);
    assert_non_null(strstr(oc_last_error(), "/nonexistent/none.png"));
    assert_int_equal(oc_image_load("/tmp", &img), OC_ERR_IO);
    /* the format comes from the bytes, not the name; errors name the file */
    size_t len;
    uint8_t *png = small_png(5, 4, &len);
    const char *path = tu_tmp_path(".jpg");
    assert_int_equal(tu_write_file(path, png, len), 0);
    assert_int_equal(oc_image_load(path, &img), OC_OK);
    assert_int_equal(img.width, 5);
    oc_image_free(&img);
    assert_int_equal(tu_write_file(path, png, 20), 0);
    assert_int_equal(oc_image_load(path, &img), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), path));
    assert_int_equal(tu_write_file(path, "", 0), 0);
    assert_int_equal(oc_image_load(path, &img), OC_ERR_FORMAT);
    unlink(path);
    free(png);
}

static void test_bus_jpg(void **state)
{
    (void)state;
    TU_REQUIRE_SHARED("images/bus.jpg");
    oc_image img;
    oc_status st = oc_image_load(tu_shared_path("images/bus.jpg"), &img);
    if (st != OC_OK) fail_msg("%s", oc_last_error());
    assert_int_equal(img.width, 810);
    assert_int_equal(img.height, 1080);
    assert_int_equal(img.channels, 3);
    /* a real photo: a wide spread of values, channels not all equal */
    int lo = 255, hi = 0;
    long diff = 0;
    for (int i = 0; i < 810 * 1080; i++) {
        const uint8_t *p = img.data + i * 3;
        lo = p[1] < lo ? p[1] : lo;
        hi = p[1] > hi ? p[1] : hi;
        diff += abs(p[0] - p[2]);
    }
    assert_true(lo < 20 && hi > 235);
    assert_true(diff > 810L * 1080);
    oc_image_free(&img);
}

/* ---- resize / letterbox ----------------------------------------------------------------- */

static void test_resize_identity_and_2x(void **state)
{
    (void)state;
    uint64_t live0 = live_now();
    oc_image a, b;
    assert_int_equal(oc_image_alloc(&a, 7, 5, 3), OC_OK);
    for (int i = 0; i < 7 * 5 * 3; i++) a.data[i] = (uint8_t)rnd();
    assert_int_equal(oc_image_resize(&a, 7, 5, &b), OC_OK);
    assert_memory_equal(a.data, b.data, 7 * 5 * 3);
    oc_image_free(&a);
    oc_image_free(&b);

    /* 2x up of [[0,100],[200,40]], by hand: edges clamp; taps 0.25/0.75 in between */
    assert_int_equal(oc_image_alloc(&a, 2, 2, 1), OC_OK);
    a.data[0] = 0;
    a.data[1] = 100;
    a.data[2] = 200;
    a.data[3] = 40;
    assert_int_equal(oc_image_resize(&a, 4, 4, &b), OC_OK);
    static const uint8_t up[16] = {0, 25, 75, 100, 50, 59, 76, 85, 150, 126, 79, 55, 200, 160, 80, 40};
    assert_int_equal(b.channels, 1);
    for (int i = 0; i < 16; i++)
        if (b.data[i] != up[i]) fail_msg("2x up: pixel %d is %d, want %d", i, b.data[i], up[i]);
    oc_image_free(&a);
    oc_image_free(&b);

    /* 2x down: every output is the mean of a 2x2 block, rounded half up */
    assert_int_equal(oc_image_alloc(&a, 4, 4, 3), OC_OK);
    static const uint8_t blk[4][4] = {{10, 11, 20, 21}, {0, 250, 251, 252}, {1, 2, 3, 4}, {7, 7, 7, 8}};
    for (int by = 0; by < 2; by++)
        for (int bx = 0; bx < 2; bx++)
            for (int k = 0; k < 4; k++)
                for (int c = 0; c < 3; c++)
                    a.data[((by * 2 + k / 2) * 4 + bx * 2 + k % 2) * 3 + c] =
                        (uint8_t)(blk[by * 2 + bx][k] + c);
    assert_int_equal(oc_image_resize(&a, 2, 2, &b), OC_OK);
    static const uint8_t down[4] = {16, 188, 3, 7}; /* 15.5, 188.25, 2.5, 7.25 */
    for (int p = 0; p < 4; p++)
        for (int c = 0; c < 3; c++) {
            int want = (c == 0) ? down[p] : (int)floor((blk[p][0] + blk[p][1] + blk[p][2] + blk[p][3] + 4 * c) / 4.0 + 0.5);
            if (b.data[p * 3 + c] != want)
                fail_msg("2x down: pixel %d ch %d is %d, want %d", p, c, b.data[p * 3 + c], want);
        }
    oc_image_free(&a);
    oc_image_free(&b);

    /* arbitrary ratios against a double-precision reference of the same formula: within 1 */
    static const int sizes[][4] = {{17, 13, 5, 9}, {5, 9, 17, 13}, {31, 7, 64, 3}, {1, 1, 6, 4}, {6, 4, 1, 1}};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        int iw = sizes[t][0], ih = sizes[t][1], ow = sizes[t][2], oh = sizes[t][3];
        assert_int_equal(oc_image_alloc(&a, iw, ih, 3), OC_OK);
        for (int i = 0; i < iw * ih * 3; i++) a.data[i] = (uint8_t)rnd();
        assert_int_equal(oc_image_resize(&a, ow, oh, &b), OC_OK);
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                double fx = (x + 0.5) * iw / ow - 0.5, fy = (y + 0.5) * ih / oh - 0.5;
                if (fx < 0) fx = 0;
                if (fy < 0) fy = 0;
                int x0 = (int)floor(fx), y0 = (int)floor(fy);
                if (x0 >= iw - 1) x0 = iw - 1, fx = x0;
                if (y0 >= ih - 1) y0 = ih - 1, fy = y0;
                int x1 = x0 + 1 < iw ? x0 + 1 : x0, y1 = y0 + 1 < ih ? y0 + 1 : y0;
                double ax = fx - x0, ay = fy - y0;
                for (int c = 0; c < 3; c++) {
#define P(xx, yy) a.data[((yy) * iw + (xx)) * 3 + c]
                    double v = (1 - ay) * ((1 - ax) * P(x0, y0) + ax * P(x1, y0)) +
                               ay * ((1 - ax) * P(x0, y1) + ax * P(x1, y1));
#undef P
                    int got = b.data[(y * ow + x) * 3 + c];
                    if (fabs(got - v) > 1.0)
                        fail_msg("resize %dx%d->%dx%d at (%d,%d,%d): %d vs %.2f", iw, ih, ow, oh, x, y,
                                 c, got, v);
                }
            }
        oc_image_free(&a);
        oc_image_free(&b);
    }
    assert_int_equal(oc_image_alloc(&a, 3, 3, 3), OC_OK);
    assert_int_equal(oc_image_resize(&a, 0, 3, &b), OC_ERR_INVALID_ARG);
    assert_null(b.data);
    oc_image_free(&a);
    assert_live_unchanged(live0);
}

static void test_letterbox(void **state)
{
    (void)state;
    uint64_t live0 = live_now();
    /* 810 x 1080 (bus.jpg's size) -> 640 x 640: resized to 480 x 640, 80 px bars left/right */
    oc_image a, r;
    assert_int_equal(oc_image_alloc(&a, 810, 1080, 3), OC_OK);
    for (int i = 0; i < 810 * 1080 * 3; i++) a.data[i] = (uint8_t)(sample(i % 2430, i / 2430, 0) & 0xFF);
    float *chw = malloc(sizeof(float) * 3 * 640 * 640);
    oc_letterbox_info li;
    assert_int_equal(oc_letterbox_chw(&a, 640, 640, 114, chw, &li), OC_OK);
    assert_int_equal(li.new_w, 480);
    assert_int_equal(li.new_h, 640);
    assert_int_equal(li.pad_left, 80);
    assert_int_equal(li.pad_top, 0);
    assert_int_equal(li.out_w, 640);
    assert_int_equal(li.out_h, 640);
    assert_float_equal(li.scale, 640.0f / 1080.0f, 1e-6);
    assert_int_equal(oc_image_resize(&a, 480, 640, &r), OC_OK);
    const float pad = 114.0f / 255.0f;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 640; y += 7)
            for (int x = 0; x < 640; x++) {
                float v = chw[(size_t)c * 640 * 640 + (size_t)y * 640 + x];
                if (x < 80 || x >= 560) {
                    if (v != pad) fail_msg("pad pixel (%d,%d,%d) = %f", x, y, c, v);
                } else {
                    float want = r.data[((size_t)y * 480 + (x - 80)) * 3 + c] / 255.0f;
                    if (v != want) fail_msg("pixel (%d,%d,%d) = %f want %f", x, y, c, v, want);
                }
            }
    oc_image_free(&r);
    oc_image_free(&a);

    /* odd padding: 100 x 61 -> 64 x 64: r = 0.64, 64 x 39, dh = 12.5: 12 rows on top, 13 below */
    assert_int_equal(oc_image_alloc(&a, 100, 61, 1), OC_OK); /* gray: replicated */
    memset(a.data, 200, 100 * 61);
    assert_int_equal(oc_letterbox_chw(&a, 64, 64, 114, chw, &li), OC_OK);
    assert_int_equal(li.new_w, 64);
    assert_int_equal(li.new_h, 39);
    assert_int_equal(li.pad_top, 12);
    assert_int_equal(li.pad_left, 0);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 64; y++) {
            float want = (y >= 12 && y < 51) ? 200.0f / 255.0f : pad;
            for (int x = 0; x < 64; x++)
                assert_true(chw[(size_t)c * 4096 + y * 64 + x] == want);
        }
    oc_image_free(&a);

    /* round half to even like Python: 5 x 128 -> 64 x 64: r = 0.5, 2.5 rounds to 2 */
    assert_int_equal(oc_image_alloc(&a, 5, 128, 3), OC_OK);
    assert_int_equal(oc_letterbox_chw(&a, 64, 64, 0, chw, &li), OC_OK);
    assert_int_equal(li.new_w, 2);
    assert_int_equal(li.new_h, 64);
    assert_int_equal(li.pad_left, 31);
    oc_image_free(&a);

    /* same size: no resize, exact values, no padding */
    assert_int_equal(oc_image_alloc(&a, 16, 16, 3), OC_OK);
    for (int i = 0; i < 16 * 16 * 3; i++) a.data[i] = (uint8_t)rnd();
    assert_int_equal(oc_letterbox_chw(&a, 16, 16, 114, chw, &li), OC_OK);
    assert_int_equal(li.pad_left + li.pad_top, 0);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 256; i++) assert_true(chw[c * 256 + i] == a.data[i * 3 + c] / 255.0f);
    /* extreme aspect: never a zero-sized resize */
    oc_image thin;
    assert_int_equal(oc_image_alloc(&thin, 1, 5000, 3), OC_OK);
    assert_int_equal(oc_letterbox_chw(&thin, 64, 64, 114, chw, &li), OC_OK);
    assert_int_equal(li.new_w, 1);
    oc_image_free(&thin);
    assert_int_equal(oc_letterbox_chw(&a, 0, 64, 114, chw, &li), OC_ERR_INVALID_ARG);
    oc_image_free(&a);
    free(chw);
    assert_live_unchanged(live0);
}

/* ---- drawing ------------------------------------------------------------------------- */

enum { DW = 20, DH = 10, GUARD = 256 };
static uint8_t draw_mem[GUARD + DW * DH * 3 + GUARD];
static oc_image draw_img(void)
{
    memset(draw_mem, 0xA5, sizeof draw_mem);
    memset(draw_mem + GUARD, 0, DW * DH * 3);
    oc_image im = {DW, DH, 3, draw_mem + GUARD};
    return im;
}
static void check_guards(void)
{
    for (int i = 0; i < GUARD; i++) {
        assert_int_equal(draw_mem[i], 0xA5);
        assert_int_equal(draw_mem[GUARD + DW * DH * 3 + i], 0xA5);
    }
}
static int is_set(const oc_image *im, int x, int y) { return im->data[(y * im->width + x) * 3] != 0; }
static int count_set(const oc_image *im)
{
    int n = 0;
    for (int y = 0; y < im->height; y++)
        for (int x = 0; x < im->width; x++) n += is_set(im, x, y);
    return n;
}

static void test_draw_clipping(void **state)
{
    (void)state;
    const uint8_t red[3] = {255, 0, 0};
    oc_image im = draw_img();
    /* outline of (2,3)-(8,7), 1 px: the 7x5 box perimeter exactly */
    oc_draw_rect(&im, 8, 7, 2, 3, red, 1); /* corners given swapped */
    assert_int_equal(count_set(&im), 2 * 7 + 2 * 3);
    assert_true(is_set(&im, 2, 3) && is_set(&im, 8, 7) && is_set(&im, 5, 3) && is_set(&im, 2, 5));
    assert_false(is_set(&im, 5, 5) || is_set(&im, 1, 3) || is_set(&im, 9, 7));
    assert_int_equal(im.data[(3 * DW + 2) * 3 + 1], 0);
    /* 2 px thick: inner ring too */
    im = draw_img();
    oc_draw_rect(&im, 2, 2, 9, 8, red, 2);
    assert_int_equal(count_set(&im), 8 * 7 - 4 * 3);
    /* thickness larger than the box: a filled box, nothing outside */
    im = draw_img();
    oc_draw_rect(&im, 3, 3, 5, 4, red, 1000);
    assert_int_equal(count_set(&im), 3 * 2);
    /* a box far bigger than the image: its edges are all outside, so nothing is drawn */
    im = draw_img();
    oc_draw_rect(&im, -5, -5, INT_MAX, INT_MAX, red, 2);
    assert_int_equal(count_set(&im), 0);
    /* edges partly inside */
    oc_draw_rect(&im, -5, -5, 4, 4, red, 1); /* only the bottom and right edges show */
    assert_int_equal(count_set(&im), 9);
    assert_true(is_set(&im, 0, 4) && is_set(&im, 4, 0) && !is_set(&im, 0, 0));
    /* extreme coordinates everywhere: no crash, guards intact */
    const int vals[] = {INT_MIN, INT_MIN + 1, -1, 0, 1, DW - 1, DW, DH, INT_MAX - 1, INT_MAX};
    const int nv = sizeof vals / sizeof vals[0];
    for (int i = 0; i < nv; i++)
        for (int j = 0; j < nv; j++) {
            oc_draw_rect(&im, vals[i], vals[j], vals[(i + 3) % nv], vals[(j + 7) % nv], red, vals[(i + j) % nv]);
            oc_draw_fill(&im, vals[j], vals[i], vals[(i + 5) % nv], vals[(j + 1) % nv], red);
            oc_draw_text(&im, vals[i], vals[j], "Hello, World! ~", red, vals[(i * j) % nv]);
        }
    check_guards();
    im = draw_img();
    oc_draw_fill(&im, INT_MIN, INT_MIN, INT_MAX, INT_MAX, red);
    assert_int_equal(count_set(&im), DW * DH);
    check_guards();
    /* gray images get the luma; NULL / empty images are ignored */
    oc_image g;
    assert_int_equal(oc_image_alloc(&g, 4, 4, 1), OC_OK);
    oc_draw_fill(&g, 0, 0, 1, 1, (const uint8_t[3]){255, 255, 255});
    assert_int_equal(g.data[0], 255);
    assert_int_equal(g.data[5], 255);
    assert_int_equal(g.data[2], 0);
    oc_image_free(&g);
    oc_draw_rect(NULL, 0, 0, 1, 1, red, 1);
    oc_image empty = {0};
    oc_draw_fill(&empty, 0, 0, 1, 1, red);
    assert_int_equal(oc_draw_text(&empty, 0, 0, "ab", red, 1), oc_text_width("ab", 1));
}

static void test_draw_text(void **state)
{
    (void)state;
    const uint8_t white[3] = {255, 255, 255};
    assert_int_equal(oc_text_width("", 1), 0);
    assert_int_equal(oc_text_width("a", 1), 5);
    assert_int_equal(oc_text_width("ab", 2), 22);
    assert_int_equal(oc_text_height(1), 7);
    assert_int_equal(oc_text_height(3), 21);
    assert_int_equal(oc_text_height(0), 7);
    oc_image im = draw_img();
    /* 'I' is .###. / ..#.. x5 / .###. */
    assert_int_equal(oc_draw_text(&im, 0, 0, "I", white, 1), 5);
    assert_int_equal(count_set(&im), 3 + 5 + 3);
    assert_true(is_set(&im, 1, 0) && is_set(&im, 2, 0) && is_set(&im, 3, 0));
    assert_false(is_set(&im, 0, 0) || is_set(&im, 4, 0) || is_set(&im, 1, 1));
    for (int y = 1; y < 6; y++) assert_true(is_set(&im, 2, y));
    assert_true(is_set(&im, 1, 6) && is_set(&im, 3, 6));
    /* scale 2: every font pixel a 2x2 square; 'I' then 'I' 12 px later */
    im = draw_img();
    oc_draw_text(&im, 0, -4, "II", white, 2); /* top 2 font rows clipped away */
    assert_true(is_set(&im, 4, 0) && is_set(&im, 5, 9) && is_set(&im, 16, 0));
    assert_false(is_set(&im, 3, 0) || is_set(&im, 6, 0));
    /* space draws nothing; non-ASCII draws '?', which differs from a space */
    im = draw_img();
    oc_draw_text(&im, 0, 0, "   ", white, 1);
    assert_int_equal(count_set(&im), 0);
    oc_draw_text(&im, 0, 0, "\x01\xff", white, 1);
    assert_true(count_set(&im) > 0);
    check_guards();
    /* every printable glyph except space has ink, and no two glyphs are identical */
    static uint8_t glyph[95][35];
    for (int ch = 33; ch < 127; ch++) {
        im = draw_img();
        char s[2] = {(char)ch, 0};
        oc_draw_text(&im, 0, 0, s, white, 1);
        assert_true(count_set(&im) > 0);
        for (int y = 0; y < 7; y++)
            for (int x = 0; x < 5; x++) glyph[ch - 32][y * 5 + x] = (uint8_t)is_set(&im, x, y);
        assert_false(is_set(&im, 5, 0) || is_set(&im, 5, 3)); /* the spacing column stays clear */
        for (int o = 33; o < ch; o++)
            if (memcmp(glyph[o - 32], glyph[ch - 32], 35) == 0)
                fail_msg("glyphs '%c' and '%c' are identical", o, ch);
    }
}

static void test_class_colors(void **state)
{
    (void)state;
    uint8_t c[80][3];
    for (int i = 0; i < 80; i++) {
        oc_class_color(i, c[i]);
        uint8_t again[3];
        oc_class_color(i, again);
        assert_memory_equal(c[i], again, 3);
    }
    /* neighbouring ids clearly different; no two of the 80 COCO ids the same */
    for (int i = 0; i < 80; i++)
        for (int j = i + 1; j < 80; j++) {
            int d = abs(c[i][0] - c[j][0]) + abs(c[i][1] - c[j][1]) + abs(c[i][2] - c[j][2]);
            assert_true(d > 0);
            if (j == i + 1) assert_true(d > 60);
        }
    uint8_t x[3];
    oc_class_color(-1, x);
    oc_class_color(INT_MIN, x);
    oc_class_color(INT_MAX, x);
}

/* ---- label placement: inside the image, never over another label ---- */
static int rects_overlap(const oc_rect *a, const oc_rect *b)
{
    return a->x1 <= b->x2 && b->x1 <= a->x2 && a->y1 <= b->y2 && b->y1 <= a->y2;
}

static void test_label_placement(void **state)
{
    (void)state;
    const int W = 640, H = 480;
    /* two people at almost the same corner: "person 0.74" must not be drawn over "person 0.32"
     * (what used to read "perperson 0.74") */
    oc_rect box[3] = {{100, 100, 300, 400}, {104, 102, 290, 380}, {600, 200, 639, 300}};
    int w[3] = {70, 70, 70}, h[3] = {11, 11, 11};
    oc_rect out[3];
    oc_place_labels(box, w, h, 3, W, H, out);
    assert_int_equal(out[0].x1, 100); /* the best keeps its place above the box */
    assert_int_equal(out[0].y2, 99);
    assert_false(rects_overlap(&out[0], &out[1]));
    /* a box at the right edge: its label stays inside the image, whole */
    assert_true(out[2].x1 >= 0 && out[2].x2 <= W - 1);
    assert_int_equal(out[2].x2 - out[2].x1 + 1, 70);
    for (int i = 0; i < 3; i++) {
        assert_true(out[i].y1 >= 0 && out[i].y2 <= H - 1);
        assert_int_equal(out[i].y2 - out[i].y1 + 1, 11);
    }
    /* a box touching the top: no room above, the label goes inside, still in the image */
    oc_rect top = {10, 0, 200, 100};
    oc_place_labels(&top, w, h, 1, W, H, out);
    assert_int_equal(out[0].y1, 0);
    assert_int_equal(out[0].x1, 10);
    /* a crowd: 40 boxes on a grid of overlapping cells; every label in the image and no two
     * labels overlap (there is room for all of them) */
    enum { N = 40 };
    oc_rect cb[N], co[N];
    int cw[N], ch[N];
    for (int i = 0; i < N; i++) {
        int x = 20 + (i % 8) * 70, y = 30 + (i / 8) * 80;
        cb[i] = (oc_rect){x, y, x + 120, y + 90};
        cw[i] = 60 + (i % 3) * 10;
        ch[i] = 11;
    }
    oc_place_labels(cb, cw, ch, N, W, H, co);
    for (int i = 0; i < N; i++) {
        assert_true(co[i].x1 >= 0 && co[i].y1 >= 0 && co[i].x2 <= W - 1 && co[i].y2 <= H - 1);
        for (int j = 0; j < i; j++)
            if (rects_overlap(&co[i], &co[j]))
                fail_msg("labels %d and %d overlap: [%d,%d,%d,%d] [%d,%d,%d,%d]", i, j, co[i].x1,
                         co[i].y1, co[i].x2, co[i].y2, co[j].x1, co[j].y1, co[j].x2, co[j].y2);
    }
    /* a label wider than the image starts at its left edge */
    int wide = 900;
    oc_place_labels(&box[0], &wide, h, 1, W, H, out);
    assert_int_equal(out[0].x1, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_every_colour_type),
        cmocka_unit_test(test_png_max_compression),
        cmocka_unit_test(test_png_roundtrip),
        cmocka_unit_test(test_png_corrupt),
        cmocka_unit_test(test_pixel_limit),
        cmocka_unit_test(test_jpeg_gray_rgb),
        cmocka_unit_test(test_jpeg_cmyk),
        cmocka_unit_test(test_jpeg_corrupt),
        cmocka_unit_test(test_jpeg_scan_limit),
        cmocka_unit_test(test_jpeg_exif_orientation),
        cmocka_unit_test(test_load_files),
        cmocka_unit_test(test_bus_jpg),
        cmocka_unit_test(test_resize_identity_and_2x),
        cmocka_unit_test(test_letterbox),
        cmocka_unit_test(test_draw_clipping),
        cmocka_unit_test(test_draw_text),
        cmocka_unit_test(test_class_colors),
        cmocka_unit_test(test_label_placement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
