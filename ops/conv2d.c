/* conv2d.c -- 2-D convolution (PyTorch semantics): the scalar reference, weight prepacking,
 * scratch sizing and the dispatch to the SIMD paths.
 *
 * Paths (chosen at prepack time from the isa given; the packed weights run that path):
 *  - scalar: direct loops (the reference: every case, no scratch).
 *  - depthwise (groups == cin == cout, SIMD isa): one plane at a time, SIMD along the output
 *    row (ops/conv2d_avx2.c / conv2d_avx512.c).
 *  - everything else on a SIMD isa: packed GEMM per (image, group), C[cout/g][oh*ow] =
 *    W[cout/g][cin/g*kh*kw] * im2col(x). The weights are packed once into MR-row panels; B
 *    (im2col of the input, or the input itself for 1x1) is packed on the fly into NR-column
 *    panels in the thread's scratch block (KC x NC floats), so no full im2col buffer is ever
 *    built. The micro-kernel (ops/gemm_avx2.c, ops/gemm_avx512.c) fuses bias, activation and
 *    residual into the store of the last k block. */
#include "conv_impl.h"
#include "internal.h"
#include "parallel.h"

#include <string.h>

enum { CW_SCALAR = 0, CW_GEMM = 1, CW_DW = 2 };

struct oc_conv2d_weights {
    oc_conv2d_desc d;
    oc_isa isa;
    int mode;
    float *w;       /* [cout][cin/g][kh][kw] (scalar and depthwise paths) */
    float *bias;    /* [cout] or NULL */
    float *ap;      /* GEMM path: per group, ceil(mg/MR) panels of [K][MR] */
    int mg, kdim;   /* rows (cout/g) and depth (cin/g*kh*kw) of one group's GEMM */
    size_t ap_group; /* floats per group in ap */
    size_t bytes;
};

static int out_dim(int in, int pa, int pb, int dil, int k, int s)
{
    int64_t span = (int64_t)in + pa + pb - (int64_t)dil * (k - 1) - 1;
    if (span < 0) return 0;
    return (int)(span / s + 1);
}

void oc_conv2d_out_size(const oc_conv2d_desc *d, int h, int w, int *oh, int *ow)
{
    *oh = out_dim(h, d->pad_t, d->pad_b, d->dil_h, d->kh, d->stride_h);
    *ow = out_dim(w, d->pad_l, d->pad_r, d->dil_w, d->kw, d->stride_w);
}

double oc_conv2d_flops(const oc_conv2d_desc *d, int n, int oh, int ow)
{
    /* one multiply + one add per weight tap per output element */
    return 2.0 * n * (double)d->cout * oh * ow * (double)(d->cin / (d->groups > 0 ? d->groups : 1)) *
           d->kh * d->kw;
}

static oc_status check_desc(const oc_conv2d_desc *d)
{
    if (!d) return oc_error(OC_ERR_INVALID_ARG, "conv2d: NULL descriptor");
    if (d->cin < 1 || d->cout < 1 || d->kh < 1 || d->kw < 1 || d->groups < 1 ||
        d->stride_h < 1 || d->stride_w < 1 || d->dil_h < 1 || d->dil_w < 1 || d->pad_t < 0 ||
        d->pad_l < 0 || d->pad_b < 0 || d->pad_r < 0)
        return oc_error(OC_ERR_INVALID_ARG,
                        "conv2d: bad descriptor cin=%d cout=%d k=%dx%d groups=%d stride=%dx%d "
                        "dil=%dx%d pad=(t%d,l%d,b%d,r%d)",
                        d->cin, d->cout, d->kh, d->kw, d->groups, d->stride_h, d->stride_w,
                        d->dil_h, d->dil_w, d->pad_t, d->pad_l, d->pad_b, d->pad_r);
    if (d->cin % d->groups || d->cout % d->groups)
        return oc_error(OC_ERR_INVALID_ARG,
                        "conv2d: groups=%d does not divide cin=%d and cout=%d", d->groups,
                        d->cin, d->cout);
    if ((int)d->act < (int)OC_ACT_NONE || (int)d->act > (int)OC_ACT_HARDSWISH)
        return oc_error(OC_ERR_INVALID_ARG, "conv2d: unknown activation %d", (int)d->act);
    uint64_t wn;
    if (!oc_mul_u64((uint64_t)d->cout * (uint64_t)(d->cin / d->groups),
                    (uint64_t)d->kh * (uint64_t)d->kw, &wn) ||
        wn > (uint64_t)INT32_MAX)
        return oc_error(OC_ERR_INVALID_ARG, "conv2d: weight tensor too large (%dx%dx%dx%d)",
                        d->cout, d->cin / d->groups, d->kh, d->kw);
    return OC_OK;
}

static int is_depthwise(const oc_conv2d_desc *d)
{
    return d->groups == d->cin && d->groups == d->cout;
}

oc_status oc_conv2d_prepack(const oc_conv2d_desc *d, const float *weight, const float *bias,
                            oc_isa isa, oc_conv2d_weights **out)
{
    if (!out) return oc_error(OC_ERR_INVALID_ARG, "conv2d_prepack: NULL output");
    *out = NULL;
    oc_status st = check_desc(d);
    if (st) return st;
    if (!weight) return oc_error(OC_ERR_INVALID_ARG, "conv2d_prepack: NULL weight");
    if ((int)isa < 0 || (int)isa > (int)OC_ISA_AVX512)
        return oc_error(OC_ERR_INVALID_ARG, "conv2d_prepack: unknown isa %d", (int)isa);
    if (isa > oc_cpu_best_isa())
        return oc_error(OC_ERR_UNSUPPORTED, "conv2d_prepack: the CPU lacks %s",
                        oc_isa_name(isa));

    oc_conv2d_weights *cw = oc_calloc(1, sizeof *cw);
    if (!cw) return oc_error(OC_ERR_NOMEM, "conv2d_prepack: out of memory");
    cw->d = *d;
    cw->isa = isa;
    cw->bytes = sizeof * cw;
    int cg = d->cin / d->groups;
    size_t wn = (size_t)d->cout * cg * d->kh * d->kw;
    cw->mg = d->cout / d->groups;
    cw->kdim = cg * d->kh * d->kw;

    if (isa == OC_ISA_SCALAR) cw->mode = CW_SCALAR;
    else if (is_depthwise(d)) cw->mode = CW_DW;
    else cw->mode = CW_GEMM;

    if (bias) {
        cw->bias = oc_malloc((size_t)d->cout * sizeof(float));
        if (!cw->bias) goto nomem;
        memcpy(cw->bias, bias, (size_t)d->cout * sizeof(float));
        cw->bytes += (size_t)d->cout * sizeof(float);
    }
    if (cw->mode != CW_GEMM) {
        cw->w = oc_malloc(wn * sizeof(float));
        if (!cw->w) goto nomem;
        memcpy(cw->w, weight, wn * sizeof(float));
        cw->bytes += wn * sizeof(float);
    } else {
        int mr = oc_isa_mr(isa);
        size_t panels = (size_t)(cw->mg + mr - 1) / mr;
        cw->ap_group = panels * mr * (size_t)cw->kdim;
        size_t total = cw->ap_group * d->groups;
        cw->ap = oc_malloc(total * sizeof(float));
        if (!cw->ap) goto nomem;
        cw->bytes += total * sizeof(float);
        for (int g = 0; g < d->groups; g++)
            oc_pack_a(weight + (size_t)g * cw->mg * cw->kdim, cw->kdim, 1, cw->mg, cw->kdim,
                      1.0f, mr, cw->ap + (size_t)g * cw->ap_group);
    }
    *out = cw;
    return OC_OK;
nomem:
    oc_conv2d_weights_free(cw);
    return oc_error(OC_ERR_NOMEM, "conv2d_prepack: out of memory (%dx%dx%dx%d weights)",
                    d->cout, cg, d->kh, d->kw);
}

void oc_conv2d_weights_free(oc_conv2d_weights *w)
{
    if (!w) return;
    oc_free(w->w);
    oc_free(w->bias);
    oc_free(w->ap);
    oc_free(w);
}

size_t oc_conv2d_weights_bytes(const oc_conv2d_weights *w) { return w ? w->bytes : 0; }

static int is_pointwise(const oc_conv2d_desc *d)
{
    return d->kh == 1 && d->kw == 1 && d->stride_h == 1 && d->stride_w == 1 && d->pad_t == 0 &&
           d->pad_l == 0 && d->pad_b == 0 && d->pad_r == 0;
}

/* every non-pointwise conv on a SIMD isa reads B in place (implicit GEMM) instead of
 * packing it: the zero-padded image is stored split into stride phases, so that each tap of
 * each output row is a contiguous run (see conv_implicit) */
int oc_conv2d_test_force_packed = 0;

static int use_implicit(const oc_conv2d_desc *d, oc_isa isa)
{
    return isa != OC_ISA_SCALAR && !is_pointwise(d) && !is_depthwise(d) &&
           !oc_conv2d_test_force_packed;
}

/* phase planes: Hq x Wq, Hq = ceil(Hp / stride_h), Wq = ceil(Wp / stride_w) */
static void phase_dims(const oc_conv2d_desc *d, int h, int w, int *hq, int *wq)
{
    int hp = h + d->pad_t + d->pad_b, wp = w + d->pad_l + d->pad_r;
    *hq = (hp + d->stride_h - 1) / d->stride_h;
    *wq = (wp + d->stride_w - 1) / d->stride_w;
}

/* implicit path scratch: the phase-split padded image (all channels) + slack for the
 * dropped columns of the last tiles, then the tap offset table */
static size_t implicit_xp_floats(const oc_conv2d_desc *d, int h, int w)
{
    int hq, wq;
    phase_dims(d, h, w, &hq, &wq);
    size_t f = (size_t)d->cin * d->stride_h * d->stride_w * (size_t)hq * wq +
               (size_t)(d->kw - 1) * d->dil_w + OC_MAX_NR + 16;
    return (f + 15) / 16 * 16;
}

/* the implicit path addresses the padded image with int32 tap offsets and int virtual
 * column counts: larger images take the packed path */
static int implicit_fits(const oc_conv2d_desc *d, int h, int w)
{
    if (h < 1 || w < 1) return 0;
    int hq, wq;
    phase_dims(d, h, w, &hq, &wq);
    return implicit_xp_floats(d, h, w) < (size_t)INT32_MAX &&
           (int64_t)hq * wq < (int64_t)INT32_MAX / 2;
}

size_t oc_conv2d_scratch_bytes(const oc_conv2d_desc *d, int n, int h, int w, oc_isa isa,
                               int nthreads)
{
    (void)n;
    if (!d || isa == OC_ISA_SCALAR || is_depthwise(d)) return 0;
    if (nthreads < 1) nthreads = 1;
    if (use_implicit(d, isa) && implicit_fits(d, h, w)) {
        size_t koff = ((size_t)(d->cin / d->groups) * d->kh * d->kw + 15) / 16 * 16;
        return (implicit_xp_floats(d, h, w) + koff) * sizeof(float);
    }
    return (size_t)nthreads * oc_gemm_thread_scratch_floats() * sizeof(float);
}

/* ---- scalar reference ---------------------------------------------------------------- */

/* One output plane y[oh][ow] of channel co for image x (all cin channels). Direct loops:
 * for each weight tap, add w * x over the output positions whose input sample is inside. */
static void conv_plane_ref(const oc_conv2d_desc *d, const float *wt, float bias,
                           const float *x, int h, int w, float *y, int oh, int ow,
                           const float *res, int co)
{
    int cg = d->cin / d->groups;
    int g = co / (d->cout / d->groups);
    size_t plane = (size_t)oh * ow;
    for (size_t i = 0; i < plane; i++) y[i] = 0.0f;
    for (int c = 0; c < cg; c++) {
        const float *xc = x + (size_t)(g * cg + c) * h * w;
        for (int ky = 0; ky < d->kh; ky++) {
            for (int kx = 0; kx < d->kw; kx++) {
                float wv = wt[((size_t)c * d->kh + ky) * d->kw + kx];
                for (int oy = 0; oy < oh; oy++) {
                    int iy = oy * d->stride_h - d->pad_t + ky * d->dil_h;
                    if (iy < 0 || iy >= h) continue;
                    const float *xr = xc + (size_t)iy * w;
                    float *yr = y + (size_t)oy * ow;
                    for (int ox = 0; ox < ow; ox++) {
                        int ix = ox * d->stride_w - d->pad_l + kx * d->dil_w;
                        if (ix < 0 || ix >= w) continue;
                        yr[ox] += wv * xr[ix];
                    }
                }
            }
        }
    }
    for (size_t i = 0; i < plane; i++) {
        float v = oc_act_scalar(d->act, y[i] + bias);
        y[i] = res ? v + res[i] : v;
    }
}

typedef struct {
    const oc_conv2d_weights *cw;
    const oc_conv2d_desc *d;
    const float *x;
    float *y;
    const float *residual;
    int h;
    int w;
    int oh;
    int ow;
    size_t wsz;
    size_t plane;
} conv_scalar_planes_job;

static void conv_scalar_planes(void *arg, int64_t first, int64_t last, int tid)
{
    const conv_scalar_planes_job *job = arg;
    const oc_conv2d_weights *cw = job->cw;
    const oc_conv2d_desc *d = job->d;
    const float *x = job->x;
    float *y = job->y;
    const float *residual = job->residual;
    int h = job->h;
    int w = job->w;
    int oh = job->oh;
    int ow = job->ow;
    size_t wsz = job->wsz;
    size_t plane = job->plane;
    (void)tid;
    for (int64_t t = first; t < last; t++) {
        int img = (int)(t / d->cout), co = (int)(t % d->cout);
        size_t yo = ((size_t)img * d->cout + co) * plane;
        conv_plane_ref(d, cw->w + (size_t)co * wsz, cw->bias ? cw->bias[co] : 0.0f,
                       x + (size_t)img * d->cin * h * w, h, w, y + yo, oh, ow,
                       residual ? residual + yo : NULL, co);
    }
}

static void conv_scalar(const oc_ctx *ctx, const oc_conv2d_weights *cw, const float *x, int n,
                        int h, int w, float *y, const float *residual, int oh, int ow)
{
    const oc_conv2d_desc *d = &cw->d;
    int cg = d->cin / d->groups;
    size_t wsz = (size_t)cg * d->kh * d->kw;
    size_t plane = (size_t)oh * ow;
    int64_t total = (int64_t)n * d->cout;
    conv_scalar_planes_job job = {cw, d, x, y, residual, h, w, oh, ow, wsz, plane};
    oc_parallel_for(ctx->nthreads, total, 1, conv_scalar_planes, &job);
}

/* ---- depthwise (SIMD plane kernels) --------------------------------------------------- */
typedef struct {
    const oc_conv2d_weights *cw;
    const oc_conv2d_desc *d;
    const float *x;
    float *y;
    const float *residual;
    int h;
    int w;
    int oh;
    int ow;
    size_t plane;
    size_t iplane;
    size_t ksz;
} conv_dw_planes_job;

static void conv_dw_planes(void *arg, int64_t first, int64_t last, int tid)
{
    const conv_dw_planes_job *job = arg;
    const oc_conv2d_weights *cw = job->cw;
    const oc_conv2d_desc *d = job->d;
    const float *x = job->x;
    float *y = job->y;
    const float *residual = job->residual;
    int h = job->h;
    int w = job->w;
    int oh = job->oh;
    int ow = job->ow;
    size_t plane = job->plane;
    size_t iplane = job->iplane;
    size_t ksz = job->ksz;
    (void)tid;
    for (int64_t t = first; t < last; t++) {
        int co = (int)(t % d->cout);
        const float *xp = x + (size_t)t * iplane;
        float *yp = y + (size_t)t * plane;
        const float *rp = residual ? residual + (size_t)t * plane : NULL;
        float b = cw->bias ? cw->bias[co] : 0.0f;
        if (cw->isa == OC_ISA_AVX512)
            oc_dw_plane_avx512(d, xp, h, w, cw->w + co * ksz, b, yp, oh, ow, rp);
        else
            oc_dw_plane_avx2(d, xp, h, w, cw->w + co * ksz, b, yp, oh, ow, rp);
    }
}

static void conv_dw(const oc_ctx *ctx, const oc_conv2d_weights *cw, const float *x, int n,
                    int h, int w, float *y, const float *residual, int oh, int ow)
{
    const oc_conv2d_desc *d = &cw->d;
    size_t plane = (size_t)oh * ow, iplane = (size_t)h * w, ksz = (size_t)d->kh * d->kw;
    int64_t total = (int64_t)n * d->cout;
    conv_dw_planes_job job = {cw, d, x, y, residual, h, w, oh, ow, plane, iplane, ksz};
    oc_parallel_for(ctx->nthreads, total, 0, conv_dw_planes, &job);
}

/* ---- GEMM path ------------------------------------------------------------------------ */
typedef struct {
    const oc_ctx *ctx;
    const oc_conv2d_weights *cw;
    const float *x, *residual;
    float *y;
    int h, w, oh, ow, mchunks, nb, bsz, ppc, pointwise;
    oc_pack_b_fn pack;
} conv_gemm_job;

static void conv_gemm_items(void *arg, int64_t i0, int64_t i1, int tid)
{
    const conv_gemm_job *j = arg;
    const oc_conv2d_weights *cw = j->cw;
    const oc_conv2d_desc *d = &cw->d;
    int mr = oc_isa_mr(cw->isa);
    int N = j->oh * j->ow, M = cw->mg, G = d->groups, cg = d->cin / G;
    size_t iplane = (size_t)j->h * j->w, oplane = (size_t)N;
    float *bbuf = (float *)j->ctx->scratch + (size_t)tid * oc_gemm_thread_scratch_floats();
    for (int64_t it = i0; it < i1; it++) {
        int mc = (int)(it % j->mchunks);
        int64_t r = it / j->mchunks;
        int cb = (int)(r % j->nb);
        r /= j->nb;
        int g = (int)(r % G);
        int img = (int)(r / G);
        oc_conv_pack_ctx pc = {d, j->x + ((size_t)img * d->cin + (size_t)g * cg) * iplane, j->h,
                               j->w, j->oh, j->ow, j->pointwise};
        size_t cofs = ((size_t)img * d->cout + (size_t)g * M) * oplane;
        oc_gemm_job jb = {cw->isa, M, N, cw->kdim, cw->ap + (size_t)g * cw->ap_group,
                          j->pack, &pc, j->y + cofs, N, 0.0f,
                          cw->bias ? cw->bias + (size_t)g * M : NULL, NULL, NULL, N,
                          d->act};
        if (j->residual) jb.res = j->residual + cofs;
        int m0 = mc * j->ppc * mr, m1 = (mc + 1) * j->ppc * mr;
        if (m1 > M) m1 = M;
        int n0 = cb * j->bsz, n1 = n0 + j->bsz;
        if (n1 > N) n1 = N;
        oc_gemm_job_block(&jb, m0, m1, n0, n1, bbuf);
    }
}

static void conv_gemm(const oc_ctx *ctx, const oc_conv2d_weights *cw, const float *x, int n,
                      int h, int w, float *y, const float *residual, int oh, int ow)
{
    const oc_conv2d_desc *d = &cw->d;
    int mr = oc_isa_mr(cw->isa), nr = oc_isa_nr(cw->isa);
    int N = oh * ow, M = cw->mg;
    int G = d->groups;
    int nth = ctx->nthreads;
    /* column blocks: even split of N into blocks of at most NC, rounded to NR */
    int nb = (N + OC_GEMM_NC - 1) / OC_GEMM_NC;
    int bsz = (N + nb - 1) / nb;
    bsz = (bsz + nr - 1) / nr * nr;
    nb = (N + bsz - 1) / bsz;
    /* row blocks: split M when there are too few column blocks to feed the threads */
    int mpanels = (M + mr - 1) / mr;
    int64_t base_items = (int64_t)n * G * nb;
    int mchunks = 1;
    if (base_items < 4 * nth) {
        mchunks = (int)((4 * nth + base_items - 1) / base_items);
        if (mchunks > mpanels) mchunks = mpanels;
    }
    int ppc = (mpanels + mchunks - 1) / mchunks; /* panels per chunk */
    mchunks = (mpanels + ppc - 1) / ppc;
    int64_t items = base_items * mchunks;
    oc_pack_b_fn pack = cw->isa == OC_ISA_AVX512 ? oc_conv_pack_b_avx512 : oc_conv_pack_b_avx2;
    conv_gemm_job j = {ctx, cw, x, residual, y, h, w, oh, ow, mchunks, nb, bsz, ppc,
                       is_pointwise(d), pack};
    oc_parallel_for(nth, items, 1, conv_gemm_items, &j);
}

/* per image: the padded input split into stride phases, one (channel, phase) plane per item */
typedef struct {
    const oc_conv2d_desc *d;
    const float *xi;
    float *xp;
    int h, w, hq, wq;
    size_t cstride, qplane;
} phase_job;

static void phase_split_planes(void *arg, int64_t c0, int64_t c1, int tid)
{
    (void)tid;
    const phase_job *j = arg;
    const oc_conv2d_desc *d = j->d;
    const float *xi = j->xi;
    float *xp = j->xp;
    int h = j->h, w = j->w, hq = j->hq, wq = j->wq;
    int sh = d->stride_h, sw = d->stride_w, nphase = sh * sw;
    size_t cstride = j->cstride, qplane = j->qplane, iplane = (size_t)h * w;
    for (int64_t cpl = c0; cpl < c1; cpl++) {
        int cp = (int)cpl;
        int c = cp / nphase, ph = cp % nphase, a = ph / sw, b = ph % sw;
        float *pp = xp + (size_t)c * cstride + (size_t)ph * qplane;
        const float *src = xi + (size_t)c * iplane;
        for (int q = 0; q < hq; q++) {
            float *row = pp + (size_t)q * wq;
            int sy = a + q * sh - d->pad_t; /* input row */
            if (sy < 0 || sy >= h) {
                memset(row, 0, (size_t)wq * sizeof(float));
                continue;
            }
            const float *sr = src + (size_t)sy * w;
            if (sw == 1) {
                /* r: input column r - pad_l */
                int lo = d->pad_l < wq ? d->pad_l : wq;
                int hi = d->pad_l + w < wq ? d->pad_l + w : wq;
                memset(row, 0, (size_t)lo * sizeof(float));
                memcpy(row + lo, sr + (lo - d->pad_l), (size_t)(hi - lo) * sizeof(float));
                memset(row + hi, 0, (size_t)(wq - hi) * sizeof(float));
            } else {
                /* r with 0 <= b + r*sw - pad_l < w */
                int off = b - d->pad_l;
                int lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
                int hi = off >= w ? 0 : (w - off + sw - 1) / sw;
                if (lo > wq) lo = wq;
                if (hi > wq) hi = wq;
                if (hi < lo) hi = lo;
                int r = 0;
                for (; r < lo; r++) row[r] = 0.0f;
                const float *sp = sr + off;
                if (sw == 2)
                    for (; r < hi; r++) row[r] = sp[2 * r];
                else
                    for (; r < hi; r++) row[r] = sp[(ptrdiff_t)r * sw];
                for (; r < wq; r++) row[r] = 0.0f;
            }
        }
    }
}

typedef struct {
    const oc_conv2d_weights *cw;
    const float *xp;
    const int32_t *koff;
    float *y;
    const float *residual;
    int img, wq, ow;
    size_t oplane, cstride;
    int nv, nb, bsz, ppc, mchunks;
} implicit_job;

/* tiles of (group, virtual column block, row chunk), each running the whole K */
static void implicit_items(void *arg, int64_t i0, int64_t i1, int tid)
{
    (void)tid;
    const implicit_job *j = arg;
    const oc_conv2d_weights *cw = j->cw;
    const oc_conv2d_desc *d = &cw->d;
    int mr = oc_isa_mr(cw->isa), M = cw->mg, cg = d->cin / d->groups;
    size_t oplane = j->oplane;
    for (int64_t it = i0; it < i1; it++) {
        int mc = (int)(it % j->mchunks);
        int64_t r = it / j->mchunks;
        int cb = (int)(r % j->nb);
        int g = (int)(r / j->nb);
        size_t cofs = ((size_t)j->img * d->cout + (size_t)g * M) * oplane;
        oc_conv_implicit_job jb = {j->xp + (size_t)g * cg * j->cstride, j->koff, cw->kdim, j->wq,
                                   j->ow, (int64_t)oplane, cw->ap + (size_t)g * cw->ap_group,
                                   j->y + cofs, j->residual ? j->residual + cofs : NULL,
                                   cw->bias ? cw->bias + (size_t)g * M : NULL, d->act};
        int m0 = mc * j->ppc * mr, m1 = m0 + j->ppc * mr;
        if (m1 > M) m1 = M;
        int v0 = cb * j->bsz, v1 = v0 + j->bsz;
        if (v1 > j->nv) v1 = j->nv;
        if (cw->isa == OC_ISA_AVX512) oc_conv_implicit_block_avx512(&jb, m0, m1, v0, v1);
        else oc_conv_implicit_block_avx2(&jb, m0, m1, v0, v1);
    }
}

/* implicit GEMM. The padded image P (Hp x Wp per channel) is stored split into stride phases:
 * phase (a, b) of channel ci is the plane Q[q][r] = P[a + q*sh][b + r*sw] (Hq x Wq). Output
 * (oy, ox) of tap (ky, kx) reads P[oy*sh + ky*dh][ox*sw + kx*dw] = Q_ab[oy + ky*dh/sh]
 * [ox + kx*dw/sw] with a = ky*dh % sh, b = kx*dw % sw: over ox a contiguous run. Columns are
 * virtual pixels v = oy*Wq + ox (ox in [ow, Wq) computed and dropped), so B row k of columns
 * [v, v+NR) is xp + koff[k] + v. Per image: build the planes, then tiles of (group, virtual
 * column block, row chunk) run the whole K. */
static void conv_implicit(const oc_ctx *ctx, const oc_conv2d_weights *cw, const float *x, int n,
                          int h, int w, float *y, const float *residual, int oh, int ow)
{
    const oc_conv2d_desc *d = &cw->d;
    int mr = oc_isa_mr(cw->isa), nr = oc_isa_nr(cw->isa);
    int G = d->groups, M = cw->mg, K = cw->kdim;
    int sh = d->stride_h, sw = d->stride_w;
    int hq, wq;
    phase_dims(d, h, w, &hq, &wq);
    size_t qplane = (size_t)hq * wq, cstride = (size_t)sh * sw * qplane;
    float *xp = ctx->scratch;
    size_t xpn = implicit_xp_floats(d, h, w);
    int32_t *koff = (int32_t *)(xp + xpn);
    int khw = d->kh * d->kw;
    for (int kk = 0; kk < K; kk++) {
        int ci = kk / khw, r = kk % khw;
        int ty = (r / d->kw) * d->dil_h, tx = (r % d->kw) * d->dil_w;
        koff[kk] = (int32_t)((size_t)ci * cstride + (size_t)((ty % sh) * sw + tx % sw) * qplane +
                             (size_t)(ty / sh) * wq + (size_t)(tx / sw));
    }
    int nv = oh * wq; /* virtual columns */
    int nb = (nv + OC_GEMM_NC - 1) / OC_GEMM_NC;
    int bsz = (nv + nb - 1) / nb;
    bsz = (bsz + nr - 1) / nr * nr;
    nb = (nv + bsz - 1) / bsz;
    int mpanels = (M + mr - 1) / mr;
    int nth = ctx->nthreads;
    int64_t base_items = (int64_t)G * nb;
    int mchunks = 1;
    if (base_items < 4 * nth) {
        mchunks = (int)((4 * nth + base_items - 1) / base_items);
        if (mchunks > mpanels) mchunks = mpanels;
    }
    int ppc = (mpanels + mchunks - 1) / mchunks;
    mchunks = (mpanels + ppc - 1) / ppc;
    int64_t items = base_items * mchunks;
    size_t tail = xpn - (size_t)d->cin * cstride;
    size_t iplane = (size_t)h * w, oplane = (size_t)oh * ow;
    int nphase = sh * sw;
    for (int img = 0; img < n; img++) {
        phase_job pj = {d, x + (size_t)img * d->cin * iplane, xp, h, w, hq, wq, cstride,
                        qplane};
        oc_parallel_for(nth, (int64_t)d->cin * nphase, 0, phase_split_planes, &pj);
        memset(xp + (size_t)d->cin * cstride, 0, tail * sizeof(float));
        implicit_job ij = {cw, xp, koff, y, residual, img, wq, ow, oplane, cstride,
                           nv, nb, bsz, ppc, mchunks};
        oc_parallel_for(nth, items, 1, implicit_items, &ij);
    }
}

typedef struct {
    const oc_conv2d_weights *cw;
    const float *x, *residual;
    float *y;
    int h, w, oh, ow;
} conv_unpacked_job;

/* one output channel per item through the GEMM panels: direct loops */
static void conv_unpacked_planes(void *arg, int64_t t0, int64_t t1, int tid)
{
    (void)tid;
    const conv_unpacked_job *j = arg;
    const oc_conv2d_weights *cw = j->cw;
    const oc_conv2d_desc *dd = &cw->d;
    const float *x = j->x, *residual = j->residual;
    float *y = j->y;
    int h = j->h, w = j->w, oh = j->oh, ow = j->ow;
    int mr = oc_isa_mr(cw->isa), cg = dd->cin / dd->groups;
    size_t plane = (size_t)oh * ow;
    for (int64_t t = t0; t < t1; t++) {
        int img = (int)(t / dd->cout), co = (int)(t % dd->cout);
        int g = co / cw->mg, row = co % cw->mg;
        const float *ap = cw->ap + (size_t)g * cw->ap_group +
                          (size_t)(row / mr) * mr * cw->kdim + row % mr;
        float *yp = y + ((size_t)img * dd->cout + co) * plane;
        const float *xg = x + ((size_t)img * dd->cin + (size_t)g * cg) * h * w;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float s = 0.0f;
                for (int k = 0; k < cw->kdim; k++) {
                    int ci = k / (dd->kh * dd->kw), rr = k % (dd->kh * dd->kw);
                    int iy = oy * dd->stride_h - dd->pad_t + (rr / dd->kw) * dd->dil_h;
                    int ix = ox * dd->stride_w - dd->pad_l + (rr % dd->kw) * dd->dil_w;
                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                    s += ap[(size_t)k * mr] * xg[((size_t)ci * h + iy) * w + ix];
                }
                float v = oc_act_scalar(dd->act, s + (cw->bias ? cw->bias[co] : 0.0f));
                size_t o = (size_t)oy * ow + ox;
                yp[o] = residual ? v + residual[((size_t)img * dd->cout + co) * plane + o] : v;
            }
    }
}

void oc_conv2d(const oc_ctx *ctx, const oc_conv2d_desc *d, const oc_conv2d_weights *cw,
               const float *x, int n, int h, int w, float *y, const float *residual)
{
    (void)d; /* the packed weights carry their own copy of the descriptor */
    if (!ctx || !cw || !x || !y || n < 1 || h < 1 || w < 1) return;
    int oh, ow;
    oc_conv2d_out_size(&cw->d, h, w, &oh, &ow);
    if (oh < 1 || ow < 1) return;
    oc_ctx c1 = *ctx;
    if (c1.nthreads < 1) c1.nthreads = 1;
    if (cw->mode == CW_DW) {
        conv_dw(&c1, cw, x, n, h, w, y, residual, oh, ow);
        return;
    }
    if (cw->mode == CW_GEMM) {
        size_t need = oc_conv2d_scratch_bytes(&cw->d, n, h, w, cw->isa, c1.nthreads);
        if (c1.scratch && c1.scratch_bytes >= need && ((uintptr_t)c1.scratch % 64) == 0) {
            if (use_implicit(&cw->d, cw->isa) && implicit_fits(&cw->d, h, w))
                conv_implicit(&c1, cw, x, n, h, w, y, residual, oh, ow);
            else
                conv_gemm(&c1, cw, x, n, h, w, y, residual, oh, ow);
            return;
        }
        /* not enough scratch: fall through to the (slow) reference, which needs none; the
         * reference needs the unpacked weights, so unpack them from the panels on the fly */
        conv_unpacked_job job = {cw, x, residual, y, h, w, oh, ow};
        oc_parallel_for(c1.nthreads, (int64_t)n * cw->d.cout, 1, conv_unpacked_planes, &job);
        return;
    }
    conv_scalar(&c1, cw, x, n, h, w, y, residual, oh, ow);
}
