/* image.h -- internal image helpers: resize, letterbox, drawing (src/image.c, src/draw.c).
 * Decoding/encoding (oc_image_load/decode/save_png/alloc/free) is public: include/ocellus.h. */
#ifndef OC_IMAGE_H
#define OC_IMAGE_H

#include "ocellus.h"

#include <stdint.h>

/* Bilinear resize of 8-bit images (channels 1 or 3; 2 and 4 work too), half-pixel centres
 * like OpenCV INTER_LINEAR (src = (dst + 0.5) * in/out - 0.5, clamped to the edges), with
 * 11-bit fixed-point weights and the result rounded to nearest.
 * dst receives a NEW image (allocated here; release with oc_image_free); on failure dst is
 * left zeroed. w, h >= 1. */
oc_status oc_image_resize(const oc_image *src, int w, int h, oc_image *dst);

typedef struct {
    float scale;          /* r: input pixel * scale = letterboxed pixel */
    int pad_left, pad_top;
    int new_w, new_h;     /* size of the resized image inside the canvas */
    int out_w, out_h;     /* canvas size */
} oc_letterbox_info;

/* Letterbox like ultralytics' LetterBox(auto=False, center=True): r = min(out_h/ih,
 * out_w/iw); new_w = round(iw*r), new_h = round(ih*r) (round half to even like Python,
 * at least 1); resize (bilinear as above) when the size changes; dw = (out_w-new_w)/2.0,
 * dh likewise; left = round(dw-0.1), top = round(dh-0.1); pad with `pad` (114).
 * Writes float32 planar RGB / 255 into chw [3][out_h][out_w] (gray input is replicated).
 * A box (x, y) in letterbox coordinates maps back with ((x - pad_left) / scale, ...).
 * info may be NULL. */
oc_status oc_letterbox_chw(const oc_image *src, int out_w, int out_h, uint8_t pad,
                           float *chw, oc_letterbox_info *info);
/* The same without allocating: work holds oc_letterbox_work_bytes() bytes (0 when the image
 * needs no resize; work may then be NULL), 64-byte aligned. */
size_t oc_letterbox_work_bytes(const oc_image *src, int out_w, int out_h);
oc_status oc_letterbox_chw_work(const oc_image *src, int out_w, int out_h, uint8_t pad,
                                float *chw, oc_letterbox_info *info, void *work);

/* ---- drawing for annotated outputs (src/draw.c) ----
 * All clip to the image; never write out of bounds for any coordinates (INT_MIN..INT_MAX).
 * Coordinates are inclusive pixel corners; x1 > x2 (or y1 > y2) are swapped.
 * Channels 3: rgb is written as is; channels 1: its luma; other channel counts: the first
 * min(channels, 3) bytes. img NULL or without data: nothing happens. */
/* Outline of the box [x1,x2] x [y1,y2], `thickness` pixels wide drawn inward (>= 1). */
void oc_draw_rect(oc_image *img, int x1, int y1, int x2, int y2, const uint8_t rgb[3], int thickness);
/* Solid box [x1,x2] x [y1,y2]. */
void oc_draw_fill(oc_image *img, int x1, int y1, int x2, int y2, const uint8_t rgb[3]);
/* Text with a built-in 5x7 bitmap font (printable ASCII; anything else draws as '?'),
 * top-left corner at (x, y), each font pixel a scale x scale square (scale < 1 -> 1).
 * Only the glyph pixels are drawn (no background). Returns the text width in pixels. */
int oc_draw_text(oc_image *img, int x, int y, const char *text, const uint8_t fg[3], int scale);
/* Width of text: 6*scale per character (5 columns + 1 spacing) minus the trailing spacing. */
int oc_text_width(const char *text, int scale);
/* Height of a line: 7 * scale. */
int oc_text_height(int scale);
/* A distinct, stable colour per class id (any int). */
void oc_class_color(int class_id, uint8_t rgb[3]);

/* Label placement for annotated images. A rectangle [x1,x2] x [y1,y2], inclusive. */
typedef struct {
    int x1, y1, x2, y2;
} oc_rect;
/* Place n labels, label i (w[i] x h[i] pixels) belonging to box[i], in order (index 0 first:
 * pass the best detection first). Each goes to the first free spot, in this order of
 * preference: above the box's top-left corner, inside it, above/inside at the box's right
 * edge, below the box, inside its bottom; then beside or below the labels already placed.
 * "Free": inside the image and overlapping no label placed before it. When no spot is free,
 * the candidate with the least overlap. A label wider or taller than the image is put at the
 * image's left/top edge. out[i] receives label i's rectangle. Labels of 300 boxes take well
 * under a millisecond per label. */
void oc_place_labels(const oc_rect *box, const int *w, const int *h, int n, int img_w, int img_h,
                     oc_rect *out);

#endif
