/* yolo12.c -- the YOLO12 detector (ultralytics yolo12.yaml, scales n/s/m/l/x).
 *
 * The same walk/blocks machinery as YOLO11 (yolo_common.h): one walk function describes the
 * network in the reference's module order and runs in LOAD, GEN and BUILD modes.
 *
 * Facts about the reference (ultralytics 8.3.x, nn/modules/block.py, nn/tasks.py) this follows:
 *   - backbone (8.3.228's yolo12.yaml, as in the fixtures: no grouped convs at layers 1 and 3,
 *     which later yaml versions added): Conv 3x3/2, Conv 3x3/2, C3k2(e=.25), Conv 3x3/2, C3k2(e=.25),
 *     Conv 3x3/2, A2C2f(a2, area 4) x4, Conv 3x3/2, A2C2f(a2, area 1) x4; head: upsample,
 *     concat, A2C2f(no a2) x2 ... C3k2(c3k) on P5; Detect(P3, P4, P5) as YOLO11's.
 *   - parse_model: A2C2f args [c1, c2, n, a2, area]; scales l/x append (residual=True,
 *     mlp_ratio=1.2), otherwise mlp_ratio 2.0; C3k2 gets c3k for m/l/x.
 *   - A2C2f(c1, c2, n, a2, area, residual, mlp_ratio, e=0.5): c_ = int(c2*e); cv1 c1->c_;
 *     m.i = two ABlock(c_, c_/32 heads) in sequence when a2, else C3k(c_, c_, 2, shortcut);
 *     cv2 on concat(y0..yn) -> c2; with a2 and residual: out = x + gamma[c] * cv2(...).
 *   - ABlock: x = x + attn(x); x = x + mlp(x) (mlp: Conv 1x1 SiLU to int(c*mlp_ratio), Conv 1x1
 *     linear back).
 *   - AAttn(dim, heads, area): qkv = Conv 1x1 linear to 3*dim, channel layout per head
 *     [q(hd) k(hd) v(hd)] (head h at channels h*3hd..); the N = H*W tokens (row-major) are
 *     split into `area` contiguous groups, attention (scale hd^-0.5) within each group and
 *     head; output channel h*hd+j; then x = attn + pe(v) (pe: depthwise 7x7 Conv, linear, on
 *     v laid out as an image with channel h*hd+j), out = proj(x) (Conv 1x1 linear).
 *
 * Area attention runs as one tiled attention node per image (ops/attention*.c, online softmax,
 * no tokens^2 buffer): batch = area with a token offset of N/area between batches, heads
 * strided by 3*hd channels, q/k/v read in place from the qkv conv's output (feature-major,
 * stride N between features) and the output written straight into NCHW layout.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yolo_common.h"

/* names are bounded by the walk (short prefixes); a too-long name is truncated and then
 * simply not found */
static void nm_fmt(char *buf, size_t n, const char *fmt, ...) OC_PRINTF(3, 4);
static void nm_fmt(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}
#define NM(buf, ...) nm_fmt(buf, sizeof buf, __VA_ARGS__)

static int y12_ok(const yb *b) { return b->st == OC_OK; }

static oc_status y12_fail(yb *b, oc_status st)
{
    if (b->st == OC_OK) b->st = st;
    if (b->g) oc_graph_fail(b->g, st);
    return st;
}

static oc_tid y12_check(yb *b, oc_tid y, const char *what)
{
    if (y == OC_NONE && y12_ok(b)) {
        oc_status st = oc_graph_status(b->g);
        if (!st) st = oc_error(OC_ERR_INTERNAL, "%s: %s failed", b->path, what);
        y12_fail(b, st);
    }
    return y;
}

/* ---- synthetic weights for the convs that end a residual branch (GEN only) ----
 * yolo.c's generator gives every linear conv unit gain, which suits a plain chain; an A2C2f
 * stacks 2n ABlocks, each adding two branches to its input, and unit-gain branches double the
 * variance at each add (activations ~300 at layer 8). The branch-closing convs (attn.proj,
 * mlp.1) are therefore generated here with a small gain under the same tensor names. */
#define Y12_BRANCH_GAIN 0.35f

static void y12_uniform(float *x, size_t n, const char *name, uint32_t seed, float a)
{
    uint64_t s = 1469598103934665603ull ^ ((uint64_t)seed * 0x9e3779b97f4a7c15ull);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) s = (s ^ *p) * 1099511628211ull;
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        double u = (double)(z >> 11) * (1.0 / 9007199254740992.0);
        x[i] = (float)((2.0 * u - 1.0) * a);
    }
}

/* a linear 1x1 ultralytics Conv closing a residual branch: y = conv(x) + residual */
static oc_tid y12_branch_conv(yb *b, oc_tid x, const char *prefix, int cin, int cout,
                              oc_tid residual)
{
    if (!y12_ok(b)) return OC_NONE;
    if (b->mode != YB_GEN)
        return yb_conv(b, x, prefix, cin, cout, 1, 1, 1, OC_ACT_NONE, residual);
    char nw[256], nb[256];
    NM(nw, "%s.conv.weight", prefix);
    NM(nb, "%s.conv.bias", prefix);
    size_t wn = (size_t)cout * cin;
    float *w = oc_malloc(wn * sizeof(float)), *bias = oc_malloc((size_t)cout * sizeof(float));
    if (!w || !bias) {
        oc_free(w);
        oc_free(bias);
        y12_fail(b, oc_error(OC_ERR_NOMEM, "gen: out of memory for '%s'", nw));
        return OC_NONE;
    }
    y12_uniform(w, wn, nw, b->seed, Y12_BRANCH_GAIN * sqrtf(3.0f / (float)cin));
    y12_uniform(bias, (size_t)cout, nb, b->seed, 0.05f);
    int64_t ws[4] = {cout, cin, 1, 1}, bs[1] = {cout};
    oc_status st = oc_st_writer_add(b->wr, nw, OC_DT_F32, 4, ws, w);
    if (!st) st = oc_st_writer_add(b->wr, nb, OC_DT_F32, 1, bs, bias);
    oc_free(w);
    oc_free(bias);
    if (st) {
        y12_fail(b, st);
        return OC_NONE;
    }
    b->gen_params += (uint64_t)wn + (uint64_t)cout;
    return 0;
}

/* ---- area attention core (BUILD only): qkv [B][3C][H][W] -> attention output [B][C][H][W] */
static oc_tid area_attn_core(yb *b, oc_tid qkv, const char *prefix, int C, int heads, int area)
{
    oc_shape s = oc_g_shape(b->g, qkv);
    if (s.ndim != 4 || s.d[1] != 3 * (int64_t)C) {
        y12_fail(b, oc_error(OC_ERR_INTERNAL, "%s: attention '%s': qkv is not [B][%d][H][W]",
                             b->path, prefix, 3 * C));
        return OC_NONE;
    }
    const int64_t B = s.d[0], H = s.d[2], W = s.d[3], N = H * W;
    const int hd = C / heads;
    if (area < 1 || N % area) {
        y12_fail(b, oc_error(OC_ERR_SHAPE, "%s: attention '%s': a %lldx%lld feature map (%lld "
                             "tokens) cannot be split into %d equal areas; choose an input "
                             "size whose stride-16 map has a token count divisible by %d",
                             b->path, prefix, (long long)H, (long long)W, (long long)N, area,
                             area));
        return OC_NONE;
    }
    const int64_t Na = N / area;
    oc_attn_desc d;
    memset(&d, 0, sizeof d);
    d.batch = area;
    d.heads = heads;
    d.lq = d.lk = (int)Na;
    d.d = d.dv = hd;
    d.scale = 1.0f / sqrtf((float)hd);
    /* q(a,h,i,j) = qkv[(h*3hd + j)*N + a*Na + i]; k and v the same from channel views */
    d.q_sb = Na, d.q_sh = 3LL * hd * N, d.q_st = 1, d.q_sd = N;
    d.k_sb = Na, d.k_sh = 3LL * hd * N, d.k_st = 1, d.k_sd = N;
    d.v_sb = Na, d.v_sh = 3LL * hd * N, d.v_st = 1, d.v_sd = N;
    /* o(a,h,i,j) = out[(h*hd + j)*N + a*Na + i] */
    d.o_sb = Na, d.o_sh = (int64_t)hd * N, d.o_st = 1, d.o_sd = N;

    oc_tid outs[64];
    if (B > 64) {
        y12_fail(b, oc_error(OC_ERR_UNSUPPORTED, "%s: batch %lld > 64", b->path, (long long)B));
        return OC_NONE;
    }
    for (int64_t n = 0; n < B; n++) {
        oc_tid q = B == 1 ? qkv : y12_check(b, oc_g_slice(b->g, qkv, 0, n, n + 1), "slice");
        oc_tid k = y12_check(b, oc_g_slice(b->g, q, 1, hd, 3 * C), "slice");
        oc_tid v = y12_check(b, oc_g_slice(b->g, q, 1, 2 * hd, 3 * C), "slice");
        if (!y12_ok(b)) return OC_NONE;
        outs[n] = y12_check(b, oc_g_attention(b->g, q, k, v, OC_NONE, &d,
                                              oc_shape4(1, C, H, W)), "area attention");
        if (!y12_ok(b)) return OC_NONE;
    }
    if (B == 1) return outs[0];
    return y12_check(b, oc_g_concat(b->g, outs, (int)B, 0), "concat");
}

/* AAttn(dim, heads, area) with the ABlock's residual: returns x + proj(attn + pe(v)) */
static oc_tid y12_aattn(yb *b, oc_tid x, const char *prefix, int dim, int heads, int area)
{
    char nm[200];
    if (heads < 1 || dim % heads || heads > 64) {
        y12_fail(b, oc_error(OC_ERR_UNSUPPORTED, "%s: attention '%s': %d channels cannot be "
                             "split into %d heads", b->path, prefix, dim, heads));
        return OC_NONE;
    }
    const int hd = dim / heads;
    NM(nm, "%s.qkv", prefix);
    oc_tid qkv = yb_conv(b, x, nm, dim, 3 * dim, 1, 1, 1, OC_ACT_NONE, OC_NONE);
    oc_tid att = 0, v = 0;
    if (y12_ok(b) && b->mode == YB_BUILD) {
        att = area_attn_core(b, qkv, prefix, dim, heads, area);
        /* v as a [B][dim][H][W] image (channel h*hd + j) for the positional conv */
        oc_tid vs[64];
        for (int h = 0; h < heads; h++)
            vs[h] = yb_slice_ch(b, qkv, h * 3 * hd + 2 * hd, h * 3 * hd + 3 * hd);
        v = heads == 1 ? vs[0] : yb_concat(b, vs, heads);
    }
    NM(nm, "%s.pe", prefix);
    oc_tid pe = yb_conv(b, v, nm, dim, dim, 7, 1, dim, OC_ACT_NONE, att);
    NM(nm, "%s.proj", prefix);
    return y12_branch_conv(b, pe, nm, dim, dim, x);
}

/* ABlock(dim, heads, mlp_ratio, area) */
static oc_tid y12_ablock(yb *b, oc_tid x, const char *prefix, int dim, int heads,
                         double mlp_ratio, int area)
{
    char nm[200];
    NM(nm, "%s.attn", prefix);
    oc_tid t = y12_aattn(b, x, nm, dim, heads, area);
    const int hidden = (int)(dim * mlp_ratio);
    NM(nm, "%s.mlp.0", prefix);
    oc_tid f = yb_conv(b, t, nm, dim, hidden, 1, 1, 1, OC_ACT_SILU, OC_NONE);
    NM(nm, "%s.mlp.1", prefix);
    return y12_branch_conv(b, f, nm, hidden, dim, t);
}

/* deterministic gamma values for synthetic models (the reference initialises 0.01; a little
 * larger and varied so that the attention branch matters in synthetic runs) */
static void gen_gamma(float *g, int n, const char *name, uint32_t seed)
{
    uint32_t h = 2166136261u ^ seed;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 16777619u;
    for (int i = 0; i < n; i++) {
        h ^= h << 13;
        h ^= h >> 17;
        h ^= h << 5;
        g[i] = 0.05f + 0.2f * (float)(h >> 8) * (1.0f / 16777216.0f);
    }
}

/* gamma-scaled residual: out = x + gamma[c] * y (x, y [B][C][H][W]) */
static oc_tid y12_scaled_residual(yb *b, oc_tid x, oc_tid y, const char *prefix, int c)
{
    char nm[200];
    NM(nm, "%s.gamma", prefix);
    int64_t shape[1] = {c};
    float *gv = NULL;
    if (b->mode != YB_BUILD) {
        gv = oc_malloc((size_t)c * sizeof(float));
        if (!gv) {
            y12_fail(b, oc_error(OC_ERR_NOMEM, "%s: out of memory", b->path));
            return OC_NONE;
        }
        gen_gamma(gv, c, nm, b->seed);
    }
    /* the reference's parameter is required in a real model file (optional = 0). A file may
     * also hold it in the [1][C][1][1] form the forward pass uses (gamma.view(-1, C, 1, 1)):
     * that is what an ONNX export's constant-folded Mul operand looks like. */
    int ndim = 1;
    int64_t shape4[4] = {1, c, 1, 1};
    if (b->mode == YB_LOAD) {
        const oc_st_tensor *t = oc_st_find(b->file, nm);
        if (t && t->ndim == 4) ndim = 4;
    }
    const float *gamma = yb_raw(b, nm, ndim, ndim == 4 ? shape4 : shape, gv, 0);
    oc_free(gv);
    if (!gamma || !y12_ok(b)) return OC_NONE;
    if (b->mode != YB_BUILD) return 0;
    oc_tid gt = y12_check(b, oc_g_const(b->g, oc_shape4(1, c, 1, 1), gamma), "gamma");
    oc_tid gy = y12_check(b, oc_g_binary(b->g, OC_BIN_MUL, y, gt), "gamma scale");
    return y12_check(b, oc_g_binary(b->g, OC_BIN_ADD, gy, x), "residual");
}

/* A2C2f(c1, c2, n, a2, area, residual, mlp_ratio) */
static oc_tid y12_a2c2f(yb *b, oc_tid x, const char *prefix, int c1, int c2, int n, int a2,
                        int area, int residual, double mlp_ratio)
{
    char nm[200];
    if (!y12_ok(b)) return OC_NONE;
    const int c_ = (int)(c2 * 0.5);
    if (n < 0 || n > 62) {
        y12_fail(b, oc_error(OC_ERR_INTERNAL, "%s: bad repeat count %d", prefix, n));
        return OC_NONE;
    }
    if (a2 && (c_ % 32 || c_ < 32)) {
        y12_fail(b, oc_error(OC_ERR_UNSUPPORTED, "%s: '%s': A2C2f hidden width %d is not a "
                             "multiple of 32", b->path, prefix, c_));
        return OC_NONE;
    }
    const int gamma = a2 && residual;
    if (gamma && c1 != c2) {
        y12_fail(b, oc_error(OC_ERR_INTERNAL, "%s: '%s': residual A2C2f needs c1 == c2 (%d, %d)",
                             b->path, prefix, c1, c2));
        return OC_NONE;
    }
    NM(nm, "%s.cv1", prefix);
    oc_tid parts[64];
    parts[0] = yb_conv(b, x, nm, c1, c_, 1, 1, 1, OC_ACT_SILU, OC_NONE);
    for (int i = 0; i < n; i++) {
        oc_tid t = parts[i];
        if (a2) {
            for (int j = 0; j < 2; j++) {
                NM(nm, "%s.m.%d.%d", prefix, i, j);
                t = y12_ablock(b, t, nm, c_, c_ / 32, mlp_ratio, area);
            }
        } else {
            NM(nm, "%s.m.%d", prefix, i);
            t = yb_c3k(b, t, nm, c_, c_, 2, 1);
        }
        parts[i + 1] = t;
    }
    oc_tid cat = yb_concat(b, parts, n + 1);
    NM(nm, "%s.cv2", prefix);
    oc_tid y = yb_conv(b, cat, nm, (n + 1) * c_, c2, 1, 1, 1, OC_ACT_SILU, OC_NONE);
    if (!gamma) return y;
    return y12_scaled_residual(b, x, y, prefix, c2);
}

static int scale_is_lx(const yolo_hp *hp)
{
    return (hp->scale[0] == 'l' || hp->scale[0] == 'x') && hp->scale[1] == '\0';
}

oc_tid yolo12_walk(yb *b, oc_tid x)
{
    const yolo_hp *hp = &b->hp;
    const int mlx = yolo_scale_is_mlx(hp), lx = scale_is_lx(hp);
    const double mlp = lx ? 1.2 : 2.0;
    const int c64 = yolo_ch(hp, 64), c128 = yolo_ch(hp, 128), c256 = yolo_ch(hp, 256),
              c512 = yolo_ch(hp, 512), c1024 = yolo_ch(hp, 1024);
    const int n2 = yolo_rep(hp, 2), n4 = yolo_rep(hp, 4);
    oc_tid L[21];
    L[0] = yb_conv(b, x, "model.0", 3, c64, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    L[1] = yb_conv(b, L[0], "model.1", c64, c128, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    L[2] = yb_c3k2(b, L[1], "model.2", c128, c256, n2, mlx, 0.25);
    L[3] = yb_conv(b, L[2], "model.3", c256, c256, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    L[4] = yb_c3k2(b, L[3], "model.4", c256, c512, n2, mlx, 0.25);
    L[5] = yb_conv(b, L[4], "model.5", c512, c512, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    L[6] = y12_a2c2f(b, L[5], "model.6", c512, c512, n4, 1, 4, lx, mlp);
    L[7] = yb_conv(b, L[6], "model.7", c512, c1024, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    L[8] = y12_a2c2f(b, L[7], "model.8", c1024, c1024, n4, 1, 1, lx, mlp);
    L[9] = yb_upsample2(b, L[8]);
    oc_tid cat10[2] = {L[9], L[6]};
    L[10] = yb_concat(b, cat10, 2);
    L[11] = y12_a2c2f(b, L[10], "model.11", c1024 + c512, c512, n2, 0, -1, lx, mlp);
    L[12] = yb_upsample2(b, L[11]);
    oc_tid cat13[2] = {L[12], L[4]};
    L[13] = yb_concat(b, cat13, 2);
    L[14] = y12_a2c2f(b, L[13], "model.14", c512 + c512, c256, n2, 0, -1, lx, mlp);
    L[15] = yb_conv(b, L[14], "model.15", c256, c256, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    oc_tid cat16[2] = {L[15], L[11]};
    L[16] = yb_concat(b, cat16, 2);
    L[17] = y12_a2c2f(b, L[16], "model.17", c256 + c512, c512, n2, 0, -1, lx, mlp);
    L[18] = yb_conv(b, L[17], "model.18", c512, c512, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    oc_tid cat19[2] = {L[18], L[8]};
    L[19] = yb_concat(b, cat19, 2);
    L[20] = yb_c3k2(b, L[19], "model.20", c512 + c1024, c1024, n2, 1, 0.5);
    for (int i = 0; i <= 20; i++) yb_name_layer(b, L[i], i);
    oc_tid feats[3] = {L[14], L[17], L[20]};
    int ch[3] = {c256, c512, c1024};
    return yb_detect(b, feats, ch, 3, "model.21", hp->nc, 0);
}

/* ---- oc_arch entry ---- */
static oc_status yolo12_load(struct oc_model *m) { return yolo_load_with(m, "yolo12", yolo12_walk); }

static oc_status yolo12_gen(const oc_gen_options *o, oc_st_writer *w)
{
    return yolo_generate_hook("yolo12", o, w);
}

const oc_arch oc_arch_yolo12 = {
    .name = "yolo12", .task = "detect_yolo", .load = yolo12_load, .build = yolo_build,
    .free = yolo_free, .scales = yolo_scales, .generate = yolo12_gen,
    .convert = yolo_convert, .convert_onnx = yolo_convert_onnx};
