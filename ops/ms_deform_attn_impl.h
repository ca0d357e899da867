/* ms_deform_attn_impl.h -- shared by ops/ms_deform_attn.c and its SIMD variants: the corner
 * offsets and weights of one bilinear sample, so every path samples identically. */
#ifndef OC_MS_DEFORM_ATTN_IMPL_H
#define OC_MS_DEFORM_ATTN_IMPL_H

#include <math.h>
#include <stdint.h>

/* One sample of a level of h x w pixels at normalised (lx, ly), scaled by aw (the attention
 * weight). As grid_sample(align_corners=False, padding zeros) with grid = 2*loc - 1: pixel
 * (lx*w - 0.5, ly*h - 0.5); corners outside the image contribute zero. Writes up to 4 pixel
 * indices (y*w + x) and weights; returns how many. */
static inline int oc_msda_corners(float lx, float ly, int64_t h, int64_t w, float aw,
                                  int64_t pix[4], float wt[4])
{
    /* the same float steps as grid_sample's unnormalisation of 2*loc - 1 */
    float gx = 2.0f * lx - 1.0f, gy = 2.0f * ly - 1.0f;
    float ix = ((gx + 1.0f) * (float)w - 1.0f) * 0.5f;
    float iy = ((gy + 1.0f) * (float)h - 1.0f) * 0.5f;
    if (!(ix > -1.0f && ix < (float)w && iy > -1.0f && iy < (float)h)) return 0; /* NaN too */
    float fx = floorf(ix), fy = floorf(iy);
    int64_t x0 = (int64_t)fx, y0 = (int64_t)fy, x1 = x0 + 1, y1 = y0 + 1;
    float wx1 = ix - fx, wx0 = 1.0f - wx1, wy1 = iy - fy, wy0 = 1.0f - wy1;
    int n = 0;
    if (y0 >= 0) {
        if (x0 >= 0) { pix[n] = y0 * w + x0; wt[n++] = aw * (wx0 * wy0); }
        if (x1 < w) { pix[n] = y0 * w + x1; wt[n++] = aw * (wx1 * wy0); }
    }
    if (y1 < h) {
        if (x0 >= 0) { pix[n] = y1 * w + x0; wt[n++] = aw * (wx0 * wy1); }
        if (x1 < w) { pix[n] = y1 * w + x1; wt[n++] = aw * (wx1 * wy1); }
    }
    return n;
}

/* one query row (all heads) of oc_ms_deform_attn; value points at the batch item's
 * [S][heads][dh], lstart[l] is level l's first pixel */
void oc_msda_row_avx2(const float *value, const int64_t *level_hw, const int64_t *lstart,
                      int nlevels, int heads, int dh, const float *loc, const float *attw,
                      int npoints, float *out);
void oc_msda_row_avx512(const float *value, const int64_t *level_hw, const int64_t *lstart,
                        int nlevels, int heads, int dh, const float *loc, const float *attw,
                        int npoints, float *out);

#endif
