/* grid_sample.c -- torch.nn.functional.grid_sample(x, grid, mode='bilinear',
 * padding_mode='zeros', align_corners=False). */
#include "row_kernels.h"
#include "parallel.h"

#include <math.h>

typedef struct {
    const float *x;
    float *y;
    const float *grid;
    int c;
    int h;
    int w;
    int oh;
    int ow;
    int64_t hw;
    int64_t ohw;
} grid_sample_rows_job;

static void grid_sample_rows(void *arg, int64_t first, int64_t last, int tid)
{
    const grid_sample_rows_job *job = arg;
    const float *x = job->x;
    float *y = job->y;
    const float *grid = job->grid;
    int c = job->c;
    int h = job->h;
    int w = job->w;
    int oh = job->oh;
    int ow = job->ow;
    int64_t hw = job->hw;
    int64_t ohw = job->ohw;
    (void)tid;
    for (int64_t u = first; u < last; u++) {
        int b = (int)(u / oh), i = (int)(u % oh);
        const float *xb = x + (int64_t)b * c * hw;
        float *yb = y + (int64_t)b * c * ohw + (int64_t)i * ow;
        const float *g = grid + ((int64_t)b * oh + i) * ow * 2;
        for (int j = 0; j < ow; j++) {
            float gx = g[2 * j], gy = g[2 * j + 1];
            float ix = ((gx + 1.0f) * (float)w - 1.0f) * 0.5f;
            float iy = ((gy + 1.0f) * (float)h - 1.0f) * 0.5f;
            float fx = floorf(ix), fy = floorf(iy);
            float wnw = 0, wne = 0, wsw = 0, wse = 0;
            int64_t onw = 0, one = 0, osw = 0, ose = 0;
            if (isfinite(ix) && isfinite(iy) && fx > -2.0f && fx < (float)w &&
                fy > -2.0f && fy < (float)h) {
                int x0 = (int)fx, y0 = (int)fy, x1 = x0 + 1, y1 = y0 + 1;
                float ex = (float)x1 - ix, wx = ix - (float)x0; /* east/west weights */
                float ey = (float)y1 - iy, wy = iy - (float)y0;
                int vx0 = x0 >= 0 && x0 < w, vx1 = x1 >= 0 && x1 < w;
                int vy0 = y0 >= 0 && y0 < h, vy1 = y1 >= 0 && y1 < h;
                if (vx0 && vy0) { wnw = ex * ey; onw = (int64_t)y0 * w + x0; }
                if (vx1 && vy0) { wne = wx * ey; one = (int64_t)y0 * w + x1; }
                if (vx0 && vy1) { wsw = ex * wy; osw = (int64_t)y1 * w + x0; }
                if (vx1 && vy1) { wse = wx * wy; ose = (int64_t)y1 * w + x1; }
            }
            for (int ch = 0; ch < c; ch++) {
                const float *xc = xb + ch * hw;
                yb[ch * ohw + j] = xc[onw] * wnw + xc[one] * wne + xc[osw] * wsw + xc[ose] * wse;
            }
        }
    }
}

void oc_grid_sample(const oc_ctx *ctx, const float *x, int n, int c, int h, int w,
                    const float *grid, int oh, int ow, float *y)
{
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const int64_t units = (int64_t)n * oh;
    const int64_t hw = (int64_t)h * w, ohw = (int64_t)oh * ow;
    if (n <= 0 || c <= 0 || oh <= 0 || ow <= 0) return;
    grid_sample_rows_job job = {x, y, grid, c, h, w, oh, ow, hw, ohw};
    oc_parallel_for(nt > 1 && units * ow * c >= 16384 ? nt : 1, units, 0, grid_sample_rows, &job);
}
