/* draw.c -- rectangles, filled boxes, text (built-in 5x7 font) and class colours for
 * annotated outputs. Every function clips to the image: any int coordinates (INT_MIN..INT_MAX)
 * are safe; arithmetic on them is done in 64 bits. */
#include "image.h"
#include "internal.h"

#include <stdint.h>
#include <string.h>

/* 5x7 glyphs for ASCII 32..126: 7 rows top to bottom, bit 4 = leftmost column. */
static const uint8_t g_font5x7[95][7] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* space */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04}, /* '!' */
    {0x0a, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00}, /* '"' */
    {0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a}, /* '#' */
    {0x04, 0x0f, 0x14, 0x0e, 0x05, 0x1e, 0x04}, /* '$' */
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}, /* '%' */
    {0x0c, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0d}, /* '&' */
    {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00}, /* ''' */
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}, /* '(' */
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}, /* ')' */
    {0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00}, /* '*' */
    {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00}, /* '+' */
    {0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08}, /* ',' */
    {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00}, /* '-' */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c}, /* '.' */
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}, /* '/' */
    {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e}, /* '0' */
    {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* '1' */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f}, /* '2' */
    {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e}, /* '3' */
    {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02}, /* '4' */
    {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e}, /* '5' */
    {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e}, /* '6' */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}, /* '7' */
    {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e}, /* '8' */
    {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c}, /* '9' */
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00}, /* ':' */
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x04, 0x08}, /* ';' */
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02}, /* '<' */
    {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00}, /* '=' */
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}, /* '>' */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}, /* '?' */
    {0x0e, 0x11, 0x01, 0x0d, 0x15, 0x15, 0x0e}, /* '@' */
    {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}, /* 'A' */
    {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e}, /* 'B' */
    {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e}, /* 'C' */
    {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c}, /* 'D' */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f}, /* 'E' */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10}, /* 'F' */
    {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f}, /* 'G' */
    {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}, /* 'H' */
    {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* 'I' */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c}, /* 'J' */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, /* 'K' */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f}, /* 'L' */
    {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11}, /* 'M' */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}, /* 'N' */
    {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}, /* 'O' */
    {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10}, /* 'P' */
    {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d}, /* 'Q' */
    {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11}, /* 'R' */
    {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e}, /* 'S' */
    {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* 'T' */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}, /* 'U' */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04}, /* 'V' */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a}, /* 'W' */
    {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11}, /* 'X' */
    {0x11, 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04}, /* 'Y' */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f}, /* 'Z' */
    {0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e}, /* '[' */
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00}, /* 'backslash' */
    {0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e}, /* ']' */
    {0x04, 0x0a, 0x11, 0x00, 0x00, 0x00, 0x00}, /* '^' */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f}, /* '_' */
    {0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00}, /* '`' */
    {0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f}, /* 'a' */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e}, /* 'b' */
    {0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e}, /* 'c' */
    {0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f}, /* 'd' */
    {0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e}, /* 'e' */
    {0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08}, /* 'f' */
    {0x00, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* 'g' */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}, /* 'h' */
    {0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e}, /* 'i' */
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0c}, /* 'j' */
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12}, /* 'k' */
    {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* 'l' */
    {0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11}, /* 'm' */
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11}, /* 'n' */
    {0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e}, /* 'o' */
    {0x00, 0x00, 0x1e, 0x11, 0x1e, 0x10, 0x10}, /* 'p' */
    {0x00, 0x00, 0x0d, 0x13, 0x0f, 0x01, 0x01}, /* 'q' */
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10}, /* 'r' */
    {0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e}, /* 's' */
    {0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06}, /* 't' */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d}, /* 'u' */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04}, /* 'v' */
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a}, /* 'w' */
    {0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11}, /* 'x' */
    {0x00, 0x00, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* 'y' */
    {0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f}, /* 'z' */
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02}, /* '{' */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* '|' */
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08}, /* '}' */
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00}, /* '~' */
};

#define GLYPH_W 5
#define GLYPH_H 7
#define ADVANCE 6
#define MAX_SCALE 4096

static int img_ok(const oc_image *img)
{
    return img && img->data && img->width > 0 && img->height > 0 && img->channels > 0;
}

/* Solid fill of [x1,x2] x [y1,y2] (64-bit, already ordered), clipped. */
static void fill64(oc_image *img, int64_t x1, int64_t y1, int64_t x2, int64_t y2,
                   const uint8_t rgb[3])
{
    if (x1 < 0) x1 = 0;
    if (y1 < 0) y1 = 0;
    if (x2 > img->width - 1) x2 = img->width - 1;
    if (y2 > img->height - 1) y2 = img->height - 1;
    if (x1 > x2 || y1 > y2) return;
    const int c = img->channels;
    const size_t stride = (size_t)img->width * c;
    if (c == 1) {
        uint8_t luma = (uint8_t)((299u * rgb[0] + 587u * rgb[1] + 114u * rgb[2] + 500u) / 1000u);
        for (int64_t y = y1; y <= y2; y++)
            memset(img->data + (size_t)y * stride + (size_t)x1, luma, (size_t)(x2 - x1 + 1));
        return;
    }
    const int n = c < 3 ? c : 3;
    for (int64_t y = y1; y <= y2; y++) {
        uint8_t *p = img->data + (size_t)y * stride + (size_t)x1 * c;
        for (int64_t x = x1; x <= x2; x++, p += c)
            for (int k = 0; k < n; k++) p[k] = rgb[k];
    }
}

void oc_draw_fill(oc_image *img, int x1, int y1, int x2, int y2, const uint8_t rgb[3])
{
    if (!img_ok(img) || !rgb) return;
    int64_t a = x1, b = x2, c = y1, d = y2;
    if (a > b) { int64_t t = a; a = b; b = t; }
    if (c > d) { int64_t t = c; c = d; d = t; }
    fill64(img, a, c, b, d, rgb);
}

void oc_draw_rect(oc_image *img, int x1, int y1, int x2, int y2, const uint8_t rgb[3],
                  int thickness)
{
    if (!img_ok(img) || !rgb) return;
    int64_t a = x1, b = x2, c = y1, d = y2;
    if (a > b) { int64_t t = a; a = b; b = t; }
    if (c > d) { int64_t t = c; c = d; d = t; }
    int64_t t = thickness < 1 ? 1 : thickness;
    /* four bands, each clamped to the box (a thick band on a small box fills it) */
    int64_t top_end = c + t - 1 < d ? c + t - 1 : d;
    int64_t bot_beg = d - t + 1 > c ? d - t + 1 : c;
    int64_t left_end = a + t - 1 < b ? a + t - 1 : b;
    int64_t right_beg = b - t + 1 > a ? b - t + 1 : a;
    fill64(img, a, c, b, top_end, rgb);
    fill64(img, a, bot_beg, b, d, rgb);
    fill64(img, a, c, left_end, d, rgb);
    fill64(img, right_beg, c, b, d, rgb);
}

static int clamp_scale(int scale) { return scale < 1 ? 1 : scale > MAX_SCALE ? MAX_SCALE : scale; }

int oc_text_width(const char *text, int scale)
{
    if (!text || !*text) return 0;
    int64_t s = clamp_scale(scale);
    int64_t n = (int64_t)strlen(text);
    int64_t w = n * ADVANCE * s - s;
    return w > INT32_MAX ? INT32_MAX : (int)w;
}

int oc_text_height(int scale) { return GLYPH_H * clamp_scale(scale); }

int oc_draw_text(oc_image *img, int x, int y, const char *text, const uint8_t fg[3], int scale)
{
    int width = oc_text_width(text, scale);
    if (!img_ok(img) || !fg || !text) return width;
    const int64_t s = clamp_scale(scale);
    int64_t pen = x;
    const int64_t y0 = y;
    if (y0 > img->height - 1 || y0 + GLYPH_H * s - 1 < 0) return width;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++, pen += ADVANCE * s) {
        if (pen > img->width - 1) break;          /* everything further is off the right */
        if (pen + GLYPH_W * s - 1 < 0) continue;  /* this glyph is off the left */
        unsigned ch = *p;
        const uint8_t *gl = g_font5x7[(ch >= 32 && ch <= 126 ? ch : '?') - 32];
        for (int r = 0; r < GLYPH_H; r++) {
            uint8_t bits = gl[r];
            for (int col = 0; col < GLYPH_W; col++) {
                if (!(bits & (0x10 >> col))) continue;
                int64_t px = pen + col * s, py = y0 + r * s;
                fill64(img, px, py, px + s - 1, py + s - 1, fg);
            }
        }
    }
    return width;
}

/* HSV (h in [0,1)) to RGB, 8-bit. */
static void hsv_to_rgb(double h, double s, double v, uint8_t rgb[3])
{
    double h6 = h * 6.0;
    int i = (int)h6;
    double f = h6 - i;
    double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    double r, g, b;
    switch (i % 6) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
    }
    rgb[0] = (uint8_t)(r * 255.0 + 0.5);
    rgb[1] = (uint8_t)(g * 255.0 + 0.5);
    rgb[2] = (uint8_t)(b * 255.0 + 0.5);
}

void oc_class_color(int class_id, uint8_t rgb[3])
{
    if (!rgb) return;
    /* golden-ratio hue steps keep neighbouring ids far apart; saturation and value cycle
     * slowly so that ids whose hues come close again still differ */
    uint32_t id = (uint32_t)class_id;
    double h = (double)id * 0.6180339887498949;
    h -= (double)(uint64_t)h;
    double s = 0.95 - 0.2 * (double)((id / 7u) % 3u) / 2.0;
    double v = 0.95 - 0.25 * (double)((id / 3u) % 3u) / 2.0;
    hsv_to_rgb(h, s, v, rgb);
}

/* ---- label placement ---------------------------------------------------------------------- */
static int64_t overlap_area(const oc_rect *a, const oc_rect *b)
{
    int64_t w = (int64_t)(a->x2 < b->x2 ? a->x2 : b->x2) - (a->x1 > b->x1 ? a->x1 : b->x1) + 1;
    int64_t h = (int64_t)(a->y2 < b->y2 ? a->y2 : b->y2) - (a->y1 > b->y1 ? a->y1 : b->y1) + 1;
    return w > 0 && h > 0 ? w * h : 0;
}

/* a w x h label with its top-left at (x, y), moved inside the image */
static oc_rect label_at(int64_t x, int64_t y, int w, int h, int img_w, int img_h)
{
    if (x > (int64_t)img_w - w) x = (int64_t)img_w - w;
    if (y > (int64_t)img_h - h) y = (int64_t)img_h - h;
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    oc_rect r = {(int)x, (int)y, (int)(x + w - 1), (int)(y + h - 1)};
    return r;
}

void oc_place_labels(const oc_rect *box, const int *w, const int *h, int n, int img_w, int img_h,
                     oc_rect *out)
{
    if (!box || !w || !h || !out || n <= 0) return;
    for (int i = 0; i < n; i++) {
        int lw = w[i] > 0 ? w[i] : 1, lh = h[i] > 0 ? h[i] : 1;
        oc_rect b = box[i];
        if (b.x1 > b.x2) { int t = b.x1; b.x1 = b.x2; b.x2 = t; }
        if (b.y1 > b.y2) { int t = b.y1; b.y1 = b.y2; b.y2 = t; }
        /* preferred spots around the box: above it, inside its top, at its right edge, below
         * it, inside its bottom */
        const int64_t px[2] = {b.x1, (int64_t)b.x2 - lw + 1};
        const int64_t py[4] = {(int64_t)b.y1 - lh, b.y1, (int64_t)b.y2 + 1, (int64_t)b.y2 - lh + 1};
        oc_rect best = label_at(px[0], py[0], lw, lh, img_w, img_h);
        int64_t best_ov = -1;
        int tried = 0; /* bounded, so hundreds of crowded labels stay cheap */
        /* candidates: the preferred spots, then each shifted past every label placed so far
         * (to its right, left, below, above); the first without overlap wins */
        for (int stage = 0; stage < 2 && best_ov != 0 && tried < 512; stage++) {
            int m = stage == 0 ? 1 : i + 1;
            for (int yi = 0; yi < 4 && best_ov != 0; yi++)
                for (int xi = 0; xi < 2 && best_ov != 0; xi++)
                    for (int k = 0; k < m && best_ov != 0; k++)
                        for (int dir = 0; dir < (stage == 0 ? 1 : 4) && best_ov != 0; dir++) {
                            int64_t x = px[xi], y = py[yi];
                            if (stage == 1) {
                                if (k == i) continue;
                                const oc_rect *o = &out[k];
                                if (dir == 0) x = (int64_t)o->x2 + 1;
                                else if (dir == 1) x = (int64_t)o->x1 - lw;
                                else if (dir == 2) y = (int64_t)o->y2 + 1;
                                else y = (int64_t)o->y1 - lh;
                            }
                            if (++tried > 512) break;
                            oc_rect c = label_at(x, y, lw, lh, img_w, img_h);
                            int64_t ov = 0;
                            for (int j = 0; j < i; j++) ov += overlap_area(&c, &out[j]);
                            if (best_ov < 0 || ov < best_ov) {
                                best = c;
                                best_ov = ov;
                            }
                        }
        }
        out[i] = best;
    }
}
