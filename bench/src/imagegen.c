/* imagegen.c -- deterministic test images for the benchmark (simple: flat colour; medium:
 * shapes on a gradient; complex: noise and texture), written as real PNG and JPEG files. */
#include "bench.h"

#include <errno.h>
#include <jpeglib.h>
#include <math.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

const char *bn_content_name(bn_content c)
{
    switch (c) {
    case BN_CONTENT_SIMPLE: return "simple";
    case BN_CONTENT_MEDIUM: return "medium";
    default: return "complex";
    }
}

static uint32_t xs32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static uint8_t clamp8(double v) { return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)(v + 0.5); }

int bn_image_make(oc_image *img, int w, int h, bn_content c, uint32_t seed)
{
    if (oc_image_alloc(img, w, h, 3) != OC_OK) return -1;
    uint32_t s = seed ? seed : 1;
    uint8_t *p = img->data;
    if (c == BN_CONTENT_SIMPLE) {
        for (size_t i = 0; i < (size_t)w * h; i++) {
            p[3 * i] = 70;
            p[3 * i + 1] = 130;
            p[3 * i + 2] = 180;
        }
        return 0;
    }
    /* background: a gradient (medium) or texture + noise (complex) */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + ((size_t)y * w + x) * 3;
            double gx = (double)x / (w > 1 ? w - 1 : 1), gy = (double)y / (h > 1 ? h - 1 : 1);
            if (c == BN_CONTENT_MEDIUM) {
                q[0] = clamp8(60 + 120 * gx);
                q[1] = clamp8(90 + 100 * gy);
                q[2] = clamp8(150 - 60 * gx);
            } else {
                double t = 40 * sin(x * 0.21) * cos(y * 0.17) + 30 * sin((x + y) * 0.05);
                q[0] = clamp8(128 + t + (int)(xs32(&s) % 121) - 60);
                q[1] = clamp8(128 - t + (int)(xs32(&s) % 121) - 60);
                q[2] = clamp8(128 + 0.5 * t + (int)(xs32(&s) % 121) - 60);
            }
        }
    /* shapes: rectangles and discs of random colours */
    int nshapes = c == BN_CONTENT_MEDIUM ? 12 : 40;
    int minside = w < h ? w : h;
    for (int k = 0; k < nshapes; k++) {
        int cx = (int)(xs32(&s) % (uint32_t)w), cy = (int)(xs32(&s) % (uint32_t)h);
        int r = 2 + (int)(xs32(&s) % (uint32_t)(minside / 6 + 1));
        uint8_t col[3] = {(uint8_t)xs32(&s), (uint8_t)xs32(&s), (uint8_t)xs32(&s)};
        int disc = (int)(xs32(&s) & 1);
        for (int y = cy - r; y <= cy + r; y++) {
            if (y < 0 || y >= h) continue;
            for (int x = cx - r; x <= cx + r; x++) {
                if (x < 0 || x >= w) continue;
                if (disc && (x - cx) * (x - cx) + (y - cy) * (y - cy) > r * r) continue;
                memcpy(p + ((size_t)y * w + x) * 3, col, 3);
            }
        }
    }
    return 0;
}

struct jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
};

static void jerr_exit(j_common_ptr cinfo)
{
    struct jerr *e = (struct jerr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jb, 1);
}

int bn_write_jpeg(const char *path, const oc_image *img, int quality, char *err, size_t errlen)
{
    FILE *volatile f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct jpeg_compress_struct ci;
    struct jerr je;
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jerr_exit;
    if (setjmp(je.jb)) {
        snprintf(err, errlen, "%s: libjpeg: %s", path, je.msg);
        jpeg_destroy_compress(&ci);
        fclose(f);
        return -1;
    }
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)img->width;
    ci.image_height = (JDIMENSION)img->height;
    ci.input_components = 3;
    ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = img->data + (size_t)ci.next_scanline * img->width * 3;
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    if (fclose(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int bn_read_file(const char *path, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    if (fseek(f, 0, SEEK_END) || ftell(f) < 0) {
        fclose(f);
        return -1;
    }
    long n = ftell(f);
    rewind(f);
    uint8_t *b = malloc((size_t)n + 1);
    if (!b) {
        fclose(f);
        return -1;
    }
    if (n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        fclose(f);
        return -1;
    }
    b[n] = 0;
    fclose(f);
    *buf = b;
    *len = (size_t)n;
    return 0;
}
