/* sam2_ops.c -- SAM2's data-movement nodes on token-major (NHWC) activations and the
 * bicubic interpolation of the background position embedding.
 *
 * Hiera's windowed attention (backbones/utils.py window_partition / window_unpartition):
 * the normed map is zero-padded at the bottom and right to a multiple of the window, cut
 * into windows (row-major over windows, then row-major inside), attention runs per window
 * (padded tokens included: they are keys whose q/k/v are the linear's bias), and the result
 * is put back and cropped. These are memory-bound copies of whole C-float rows. */
#include "parallel.h"
#include "sam2.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- bicubic --------------- */

static float cubic1(float x, float a) { return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f; }
static float cubic2(float x, float a) { return ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a; }

static void cubic_coeffs(float t, float c[4])
{
    const float a = -0.75f;
    c[0] = cubic2(t + 1.0f, a);
    c[1] = cubic1(t, a);
    c[2] = cubic1(1.0f - t, a);
    c[3] = cubic2(2.0f - t, a);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

void sam2_bicubic_resize(const float *x, int c, int h, int w, float *y, int oh, int ow)
{
    /* PyTorch upsample_bicubic2d (align_corners False): src = scale * (dst + 0.5) - 0.5,
     * not clamped at 0 (the taps are clamped to the border instead), scale = in / out in
     * float as the CPU kernel computes it */
    const float sh = (float)h / (float)oh, sw = (float)w / (float)ow;
    for (int oy = 0; oy < oh; oy++) {
        float ry = sh * ((float)oy + 0.5f) - 0.5f;
        int iy = (int)floorf(ry);
        float cy[4];
        cubic_coeffs(ry - (float)iy, cy);
        for (int ox = 0; ox < ow; ox++) {
            float rx = sw * ((float)ox + 0.5f) - 0.5f;
            int ix = (int)floorf(rx);
            float cx[4];
            cubic_coeffs(rx - (float)ix, cx);
            for (int ch = 0; ch < c; ch++) {
                const float *xc = x + (size_t)ch * h * w;
                float acc = 0.0f;
                for (int i = 0; i < 4; i++) {
                    const float *row = xc + (size_t)clampi(iy - 1 + i, 0, h - 1) * w;
                    float r = 0.0f;
                    for (int j = 0; j < 4; j++) r += cx[j] * row[clampi(ix - 1 + j, 0, w - 1)];
                    acc += cy[i] * r;
                }
                y[((size_t)ch * oh + oy) * ow + ox] = acc;
            }
        }
    }
}

/* ---------------------------------------------------------------- window partition ------ */

typedef struct {
    int N, H, W, C, ws, nwy, nwx;
} win_params;

typedef struct {
    const win_params *p;
    const float *x;
    float *out;
    size_t rowb;
} partition_rows_job;

static void partition_rows(void *arg, int64_t first, int64_t last, int tid)
{
    const partition_rows_job *job = arg;
    const win_params *p = job->p;
    const float *x = job->x;
    float *out = job->out;
    size_t rowb = job->rowb;
    (void)tid;
    for (int64_t r = first; r < last; r++) {
        int ty = (int)(r % p->ws);
        int wy = (int)((r / p->ws) % p->nwy);
        int n = (int)(r / ((int64_t)p->ws * p->nwy));
        int yy = wy * p->ws + ty;
        for (int wx = 0; wx < p->nwx; wx++) {
            float *o = out + ((((int64_t)n * p->nwy + wy) * p->nwx + wx) * p->ws + ty) *
                                 (int64_t)p->ws * p->C;
            for (int tx = 0; tx < p->ws; tx++) {
                int xx = wx * p->ws + tx;
                if (yy < p->H && xx < p->W)
                    memcpy(o + (int64_t)tx * p->C,
                           x + (((int64_t)n * p->H + yy) * p->W + xx) * p->C, rowb);
                else
                    memset(o + (int64_t)tx * p->C, 0, rowb);
            }
        }
    }
}

static void exec_partition(const oc_ctx *ctx, const void *params, const float *const *ins,
                           const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)is;
    (void)nin;
    (void)os;
    const win_params *p = params;
    const float *x = ins[0];
    const int64_t nrows = (int64_t)p->N * p->nwy * p->ws; /* output row of ws tokens */
    const size_t rowb = (size_t)p->C * sizeof(float);
    partition_rows_job job = {p, x, out, rowb};
    oc_parallel_for(ctx->nthreads, nrows, 0, partition_rows, &job);
}

static int win_setup(oc_graph *g, oc_tid x, int ws, const char *op, win_params *p)
{
    oc_shape s = oc_g_shape(g, x);
    if (oc_graph_status(g) != OC_OK) return 0;
    if (s.ndim != 4 || ws < 1 || s.d[1] > INT32_MAX || s.d[2] > INT32_MAX || s.d[3] > INT32_MAX) {
        oc_error(OC_ERR_SHAPE, "%s: needs an NHWC tensor and a window >= 1 (window %d, ndim %d)",
                 op, ws, s.ndim);
        oc_graph_fail(g, OC_ERR_SHAPE);
        return 0;
    }
    memset(p, 0, sizeof *p);
    p->N = (int)s.d[0];
    p->H = (int)s.d[1];
    p->W = (int)s.d[2];
    p->C = (int)s.d[3];
    p->ws = ws;
    p->nwy = (p->H + ws - 1) / ws;
    p->nwx = (p->W + ws - 1) / ws;
    return 1;
}

oc_tid sam2_g_window_partition(oc_graph *g, oc_tid x, int ws)
{
    win_params p;
    if (!win_setup(g, x, ws, "window_partition", &p)) return OC_NONE;
    oc_shape os = oc_shape4((int64_t)p.N * p.nwy * p.nwx, ws, ws, p.C);
    return oc_g_custom(g, "window_partition", &x, 1, os, exec_partition, &p, sizeof p, 0.0);
}

typedef struct {
    const win_params *p;
    const float *win;
    const float *sc;
    float *out;
} unpartition_add_rows_job;

static void unpartition_add_rows(void *arg, int64_t first, int64_t last, int tid)
{
    const unpartition_add_rows_job *job = arg;
    const win_params *p = job->p;
    const float *win = job->win;
    const float *sc = job->sc;
    float *out = job->out;
    (void)tid;
    for (int64_t r = first; r < last; r++) {
        int yy = (int)(r % p->H), n = (int)(r / p->H);
        int wy = yy / p->ws, ty = yy % p->ws;
        for (int xx = 0; xx < p->W; xx++) {
            int wx = xx / p->ws, tx = xx % p->ws;
            const float *a = win + ((((int64_t)n * p->nwy + wy) * p->nwx + wx) * p->ws + ty) *
                                       (int64_t)p->ws * p->C + (int64_t)tx * p->C;
            const float *b = sc + (r * p->W + xx) * p->C;
            float *o = out + (r * p->W + xx) * p->C;
            for (int c = 0; c < p->C; c++) o[c] = a[c] + b[c];
        }
    }
}

static void exec_unpartition_add(const oc_ctx *ctx, const void *params, const float *const *ins,
                                 const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)is;
    (void)nin;
    (void)os;
    const win_params *p = params;
    const float *win = ins[0], *sc = ins[1];
    const int64_t nrows = (int64_t)p->N * p->H;
    unpartition_add_rows_job job = {p, win, sc, out};
    oc_parallel_for(ctx->nthreads, nrows, 0, unpartition_add_rows, &job);
}

oc_tid sam2_g_window_unpartition_add(oc_graph *g, oc_tid win, oc_tid shortcut, int ws)
{
    win_params p;
    if (!win_setup(g, shortcut, ws, "window_unpartition", &p)) return OC_NONE;
    oc_shape wsh = oc_g_shape(g, win);
    if (wsh.ndim != 4 || wsh.d[0] != (int64_t)p.N * p.nwy * p.nwx || wsh.d[1] != ws ||
        wsh.d[2] != ws || wsh.d[3] != p.C) {
        oc_error(OC_ERR_SHAPE, "window_unpartition: windows [%lld, %lld, %lld, %lld] do not tile "
                 "a %dx%d map of %d channels with window %d", (long long)wsh.d[0],
                 (long long)wsh.d[1], (long long)wsh.d[2], (long long)wsh.d[3], p.H, p.W, p.C, ws);
        oc_graph_fail(g, OC_ERR_SHAPE);
        return OC_NONE;
    }
    oc_tid ins[2] = {win, shortcut};
    return oc_g_custom(g, "window_unpartition_add", ins, 2, oc_g_shape(g, shortcut),
                       exec_unpartition_add, &p, sizeof p, (double)p.N * p.H * p.W * p.C);
}

/* ---------------------------------------------------------------- 2x2 max pool ---------- */

typedef struct {
    int B, H, W, row, c0, C;
} pool_params;

typedef struct {
    const pool_params *p;
    const float *const *ins;
    float *out;
    int oh;
    int ow;
} pool_rows_job;

static void pool_rows(void *arg, int64_t first, int64_t last, int tid)
{
    const pool_rows_job *job = arg;
    const pool_params *p = job->p;
    const float *const *ins = job->ins;
    float *out = job->out;
    int oh = job->oh;
    int ow = job->ow;
    (void)tid;
    for (int64_t r = first; r < last; r++) {
        int oy = (int)(r % oh), b = (int)(r / oh);
        for (int ox = 0; ox < ow; ox++) {
            const float *x00 = ins[0] + (((int64_t)b * p->H + 2 * oy) * p->W + 2 * ox) * p->row + p->c0;
            const float *x01 = x00 + p->row;
            const float *x10 = x00 + (int64_t)p->W * p->row;
            const float *x11 = x10 + p->row;
            float *o = out + (r * ow + ox) * p->C;
            for (int c = 0; c < p->C; c++) {
                float m0 = x00[c] > x01[c] ? x00[c] : x01[c];
                float m1 = x10[c] > x11[c] ? x10[c] : x11[c];
                o[c] = m0 > m1 ? m0 : m1;
            }
        }
    }
}

static void exec_pool(const oc_ctx *ctx, const void *params, const float *const *ins,
                      const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)is;
    (void)nin;
    (void)os;
    const pool_params *p = params;
    const int oh = p->H / 2, ow = p->W / 2;
    const int64_t nrows = (int64_t)p->B * oh;
    pool_rows_job job = {p, ins, out, oh, ow};
    oc_parallel_for(ctx->nthreads, nrows, 0, pool_rows, &job);
}

oc_tid sam2_g_maxpool2x2_nhwc(oc_graph *g, oc_tid x, int B, int H, int W, int row, int c0, int C)
{
    oc_shape s = oc_g_shape(g, x);
    if (oc_graph_status(g) != OC_OK) return OC_NONE;
    if (B < 1 || H < 2 || W < 2 || C < 1 || c0 < 0 || c0 + C > row ||
        oc_shape_numel(&s) != (int64_t)B * H * W * row) {
        oc_error(OC_ERR_SHAPE, "maxpool2x2_nhwc: %d x %dx%d tokens of %d floats (channels %d..%d) "
                 "do not match the input's %lld elements", B, H, W, row, c0, c0 + C,
                 (long long)oc_shape_numel(&s));
        oc_graph_fail(g, OC_ERR_SHAPE);
        return OC_NONE;
    }
    pool_params p = {B, H, W, row, c0, C};
    return oc_g_custom(g, "maxpool2x2_nhwc", &x, 1, oc_shape4(B, H / 2, W / 2, C), exec_pool, &p,
                       sizeof p, 3.0 * B * (H / 2) * (W / 2) * C);
}

/* ---------------------------------------------------------------- FPN top-down ---------- */

typedef struct {
    int N, H, W, C;
} up_params;

typedef struct {
    const up_params *p;
    const float *const *ins;
    float *out;
    int th;
    int tw;
} up_add_rows_job;

static void up_add_rows(void *arg, int64_t first, int64_t last, int tid)
{
    const up_add_rows_job *job = arg;
    const up_params *p = job->p;
    const float *const *ins = job->ins;
    float *out = job->out;
    int th = job->th;
    int tw = job->tw;
    (void)tid;
    for (int64_t r = first; r < last; r++) {
        int y = (int)(r % p->H), n = (int)(r / p->H);
        for (int x = 0; x < p->W; x++) {
            const float *a = ins[0] + (r * p->W + x) * p->C;
            const float *b = ins[1] + (((int64_t)n * th + y / 2) * tw + x / 2) * p->C;
            float *o = out + (r * p->W + x) * p->C;
            for (int c = 0; c < p->C; c++) o[c] = a[c] + b[c];
        }
    }
}

static void exec_up_add(const oc_ctx *ctx, const void *params, const float *const *ins,
                        const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)is;
    (void)nin;
    (void)os;
    const up_params *p = params;
    const int64_t nrows = (int64_t)p->N * p->H;
    const int th = p->H / 2, tw = p->W / 2;
    up_add_rows_job job = {p, ins, out, th, tw};
    oc_parallel_for(ctx->nthreads, nrows, 0, up_add_rows, &job);
}

oc_tid sam2_g_upsample2x_add_nhwc(oc_graph *g, oc_tid lateral, oc_tid top)
{
    oc_shape a = oc_g_shape(g, lateral), b = oc_g_shape(g, top);
    if (oc_graph_status(g) != OC_OK) return OC_NONE;
    if (a.ndim != 4 || b.ndim != 4 || a.d[0] != b.d[0] || a.d[3] != b.d[3] ||
        a.d[1] != 2 * b.d[1] || a.d[2] != 2 * b.d[2]) {
        oc_error(OC_ERR_SHAPE, "upsample2x_add_nhwc: lateral [%lld, %lld, %lld, %lld] is not twice "
                 "the size of the top-down map [%lld, %lld, %lld, %lld]", (long long)a.d[0],
                 (long long)a.d[1], (long long)a.d[2], (long long)a.d[3], (long long)b.d[0],
                 (long long)b.d[1], (long long)b.d[2], (long long)b.d[3]);
        oc_graph_fail(g, OC_ERR_SHAPE);
        return OC_NONE;
    }
    up_params p = {(int)a.d[0], (int)a.d[1], (int)a.d[2], (int)a.d[3]};
    oc_tid ins[2] = {lateral, top};
    return oc_g_custom(g, "upsample2x_add_nhwc", ins, 2, a, exec_up_add, &p, sizeof p,
                       (double)oc_shape_numel(&a));
}
