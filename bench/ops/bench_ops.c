/* bench_ops.c -- `make bench-ops`: per-op time, GFLOP/s and share of the measured FMA peak.
 *
 * First measures the FMA peak (AVX2 and AVX-512, 1 and 2 threads) in the same run, then
 * times each shape for each ISA path at 1 and 2 threads: median of several rounds after a
 * warm-up, in wall-clock and in process CPU time. Scalar runs only on the small shapes, one
 * round. OCELLUS_BENCH_OPS_QUICK=1 runs fewer rounds and shorter peak loops. Compute-bound
 * ops report % of the one-core peak per core-second used; the depthwise conv (memory bound)
 * also reports GB/s.
 * OCELLUS_BENCH_OPS_FILTER=<text> runs only the rows whose name contains it (e.g. "conv1x1",
 * "linear", "sgemm", "attention"): handy under callgrind or perf. */
#include "internal.h"
#include "ops.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double g_peak[3][3]; /* [isa][nthreads] GFLOP/s */
static int g_quick;
static const char *g_filter; /* OCELLUS_BENCH_OPS_FILTER: only rows whose name contains it */

static int selected(const char *name)
{
    return !g_filter || !*g_filter || strstr(name, g_filter) != NULL;
}

/* Per shape class summary (printed last): the best fp32 rate of our SIMD paths and, in its own
 * column, of any path whose name contains "bf16" (the BF16 compute mode adds such rows). */
typedef struct {
    char name[48];
    double fp32_gfc, bf16_gfc; /* best GF/s per core-second */
    double fp32_gf2, bf16_gf2; /* best wall GF/s at 2 threads */
} class_sum;
static class_sum g_cls[32];
static int g_ncls;
static const char *g_class; /* the class the rows being printed belong to */

static void class_note(const char *path, int nth, double gf, double gfc)
{
    if (!g_class) return;
    int is_bf16 = strstr(path, "bf16") != NULL;
    int is_fp32 = !strcmp(path, "avx2") || !strcmp(path, "avx512");
    if (!is_bf16 && !is_fp32) return;
    int i = 0;
    while (i < g_ncls && strcmp(g_cls[i].name, g_class) != 0) i++;
    if (i == g_ncls) {
        if (g_ncls == (int)(sizeof g_cls / sizeof g_cls[0])) return;
        memset(&g_cls[i], 0, sizeof g_cls[i]);
        snprintf(g_cls[i].name, sizeof g_cls[i].name, "%s", g_class);
        g_ncls++;
    }
    class_sum *c = &g_cls[i];
    double *pc = is_bf16 ? &c->bf16_gfc : &c->fp32_gfc, *p2 = is_bf16 ? &c->bf16_gf2 : &c->fp32_gf2;
    if (gfc > *pc) *pc = gfc;
    if (nth == 2 && gf > *p2) *p2 = gf;
}

typedef void (*run_fn)(void *arg);

/* median wall time in ms of `rounds` runs after one warm-up; *cpu gets the median process
 * CPU time of the same runs (all threads) */
static double g_last_cpu;
static double time_median(run_fn fn, void *arg, int rounds)
{
    double t[64], c[64];
    if (rounds > 64) rounds = 64;
    fn(arg);
    for (int i = 0; i < rounds; i++) {
        double c0 = cpu_ms(), t0 = now_ms();
        fn(arg);
        t[i] = now_ms() - t0;
        c[i] = cpu_ms() - c0;
    }
    qsort(t, (size_t)rounds, sizeof t[0], cmp_d);
    qsort(c, (size_t)rounds, sizeof c[0], cmp_d);
    g_last_cpu = c[rounds / 2];
    return t[rounds / 2];
}

static int rounds_for(double flops, oc_isa isa)
{
    if (isa == OC_ISA_SCALAR) return 1;
    int r = flops > 2e9 ? 5 : flops > 2e8 ? 9 : 15;
    return g_quick ? (r + 2) / 3 : r;
}

/* wall: median wall-clock time; cpu: median process CPU time of the same runs, all threads
 * together (this machine is shared, so wall time includes time slices lost to other jobs).
 * "GF/s/core" = flops / cpu time: the rate per core-second actually used (for 2 threads it
 * also counts time a thread spends waiting for the other). %peak = that over the one-core
 * FMA peak of the same isa (also timed in CPU time). */
static void row(const char *name, const char *path, int nth, double ms, double flops,
                double bytes, oc_isa peak_isa)
{
    double cms = g_last_cpu;
    if (cms <= 0) cms = ms * nth;
    double gf = flops / (ms * 1e6), gfc = flops / (cms * 1e6);
    double pk = g_peak[peak_isa][1];
    char pct[32] = "";
    if (pk > 0) snprintf(pct, sizeof pct, "%5.1f%%", 100.0 * gfc / pk);
    char gbs[32] = "";
    if (bytes > 0) snprintf(gbs, sizeof gbs, "%6.1f GB/s", bytes / (ms * 1e6));
    printf("%-32s %-10s %2d %9.3f %9.3f %8.1f %9.1f %7s %s\n", name, path, nth, ms, cms, gf, gfc,
           pct, gbs);
    class_note(path, nth, gf, gfc);
    fflush(stdout);
}

/* ---- conv ---- */
typedef struct {
    oc_ctx ctx;
    oc_conv2d_desc d;
    oc_conv2d_weights *w;
    const float *x;
    int n, h, wd;
    float *y;
} conv_arg;

static void conv_run(void *p)
{
    conv_arg *a = p;
    oc_conv2d(&a->ctx, &a->d, a->w, a->x, a->n, a->h, a->wd, a->y, NULL);
}

static void bench_conv(const char *cls, const char *name, int cin, int cout, int k, int s,
                       int groups, int h, int w, int small)
{
    if (!selected(name)) return;
    g_class = cls;
    oc_conv2d_desc d = {cin, cout, k, k, groups, s, s, k / 2, k / 2, k / 2, k / 2, 1, 1,
                        OC_ACT_SILU};
    int oh, ow;
    oc_conv2d_out_size(&d, h, w, &oh, &ow);
    size_t xs = (size_t)cin * h * w, ys = (size_t)cout * oh * ow;
    size_t ws = (size_t)cout * (cin / groups) * k * k;
    float *x = oc_malloc(xs * 4), *y = oc_malloc(ys * 4), *wt = oc_malloc(ws * 4),
          *b = oc_malloc((size_t)cout * 4);
    for (size_t i = 0; i < xs; i++) x[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
    for (size_t i = 0; i < ws; i++) wt[i] = (float)((i * 104729) % 1000) * 1e-4f - 0.05f;
    for (int i = 0; i < cout; i++) b[i] = 0.01f * (float)(i % 7);
    double flops = oc_conv2d_flops(&d, 1, oh, ow);
    double bytes = groups == cin ? (double)(xs + ys) * 4 : 0;
    for (int isa = 0; isa <= (int)oc_cpu_best_isa(); isa++) {
        if (isa == OC_ISA_SCALAR && !small) continue;
        conv_arg a = {{(oc_isa)isa, 1, NULL, 0}, d, NULL, x, 1, h, w, y};
        if (oc_conv2d_prepack(&d, wt, b, (oc_isa)isa, &a.w) != OC_OK) continue;
        for (int nth = 1; nth <= 2; nth++) {
            size_t sb = oc_conv2d_scratch_bytes(&d, 1, h, w, (oc_isa)isa, nth);
            void *sc = sb ? oc_malloc(sb) : NULL;
            a.ctx = (oc_ctx){(oc_isa)isa, nth, sc, sb};
            double ms = time_median(conv_run, &a, rounds_for(flops, (oc_isa)isa));
            row(name, oc_isa_name((oc_isa)isa), nth, ms, flops, bytes,
                isa == OC_ISA_SCALAR ? OC_ISA_AVX2 : (oc_isa)isa);
            oc_free(sc);
        }
        oc_conv2d_weights_free(a.w);
    }
    oc_free(x);
    oc_free(y);
    oc_free(wt);
    oc_free(b);
}

/* ---- linear ---- */
typedef struct {
    oc_ctx ctx;
    const float *x, *w, *b;
    int rows, in, out;
    float *y;
} lin_arg;

static void lin_run(void *p)
{
    lin_arg *a = p;
    oc_linear(&a->ctx, a->x, a->rows, a->in, a->w, a->b, a->out, OC_ACT_NONE, a->y);
}

typedef struct {
    oc_ctx ctx;
    const float *x;
    const oc_linear_weights *lw;
    int rows;
    float *y;
} linp_arg;

static void linp_run(void *p)
{
    linp_arg *a = p;
    oc_linear_packed(&a->ctx, a->x, a->rows, a->lw, OC_ACT_NONE, a->y);
}

static void bench_linear(const char *cls, int rows, int in, int out)
{
    char name[64];
    snprintf(name, sizeof name, "%s %dx%d->%d", cls, rows, in, out);
    if (!selected(name)) return;
    g_class = cls;
    float *x = oc_malloc((size_t)rows * in * 4), *w = oc_malloc((size_t)out * in * 4),
          *b = oc_malloc((size_t)out * 4), *y = oc_malloc((size_t)rows * out * 4);
    for (size_t i = 0; i < (size_t)rows * in; i++) x[i] = (float)(i % 13) * 0.01f;
    for (size_t i = 0; i < (size_t)out * in; i++) w[i] = (float)(i % 17) * 0.01f;
    for (int i = 0; i < out; i++) b[i] = 0.1f;
    double flops = 2.0 * rows * in * out;
    /* "<isa>": weights prepacked once (oc_linear_packed, what graphs run); "<isa>-raw":
     * oc_linear, which packs W^T inside every call */
    for (int isa = 1; isa <= (int)oc_cpu_best_isa(); isa++) {
        oc_linear_weights *lw = NULL;
        if (oc_linear_prepack((oc_isa)isa, w, b, in, out, &lw) != OC_OK) continue;
        char raw[32];
        snprintf(raw, sizeof raw, "%s-raw", oc_isa_name((oc_isa)isa));
        for (int nth = 1; nth <= 2; nth++) {
            linp_arg pa = {{(oc_isa)isa, nth, NULL, 0}, x, lw, rows, y};
            double ms = time_median(linp_run, &pa, rounds_for(flops, (oc_isa)isa));
            row(name, oc_isa_name((oc_isa)isa), nth, ms, flops, 0, (oc_isa)isa);
        }
        for (int nth = 1; nth <= 2; nth++) {
            size_t sb = oc_linear_scratch_bytes(rows, in, out, (oc_isa)isa, nth);
            void *sc = oc_malloc(sb);
            lin_arg a = {{(oc_isa)isa, nth, sc, sb}, x, w, b, rows, in, out, y};
            double ms = time_median(lin_run, &a, rounds_for(flops, (oc_isa)isa));
            row(name, raw, nth, ms, flops, 0, (oc_isa)isa);
            oc_free(sc);
        }
        oc_linear_weights_free(lw);
    }
    oc_free(x);
    oc_free(w);
    oc_free(b);
    oc_free(y);
}

/* ---- OpenBLAS sgemm for comparison ---- */
typedef struct {
    int m, n, k;
    const float *a, *b;
    float *c;
} blas_arg;

static void blas_run(void *p)
{
    blas_arg *a = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, a->m, a->n, a->k, 1.0f, a->a, a->k,
                a->b, a->n, 0.0f, a->c, a->n);
}

typedef struct {
    oc_ctx ctx;
    int m, n, k;
    const float *a, *b;
    float *c;
} gemm_arg;

static void gemm_run(void *p)
{
    gemm_arg *a = p;
    oc_gemm(&a->ctx, 0, 0, a->m, a->n, a->k, 1.0f, a->a, a->k, a->b, a->n, 0.0f, a->c, a->n);
}

static void bench_gemm(int m, int n, int k)
{
    if (!selected("sgemm")) return;
    float *a = oc_malloc((size_t)m * k * 4), *b = oc_malloc((size_t)k * n * 4),
          *c = oc_malloc((size_t)m * n * 4);
    for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (float)(i % 11) * 0.01f;
    for (size_t i = 0; i < (size_t)k * n; i++) b[i] = (float)(i % 7) * 0.01f;
    double flops = 2.0 * m * n * (double)k;
    char name[64];
    snprintf(name, sizeof name, "sgemm %dx%dx%d", m, n, k);
    g_class = "sgemm square";
    for (int nth = 1; nth <= 2; nth++) {
        openblas_set_num_threads(nth);
        blas_arg ba = {m, n, k, a, b, c};
        double ms = time_median(blas_run, &ba, rounds_for(flops, OC_ISA_AVX2));
        row(name, "openblas", nth, ms, flops, 0, oc_cpu_best_isa());
    }
    for (int isa = 1; isa <= (int)oc_cpu_best_isa(); isa++)
        for (int nth = 1; nth <= 2; nth++) {
            size_t sb = oc_gemm_scratch_bytes(m, n, k, (oc_isa)isa, nth);
            void *sc = oc_malloc(sb);
            gemm_arg ga = {{(oc_isa)isa, nth, sc, sb}, m, n, k, a, b, c};
            double ms = time_median(gemm_run, &ga, rounds_for(flops, (oc_isa)isa));
            row(name, oc_isa_name((oc_isa)isa), nth, ms, flops, 0, (oc_isa)isa);
            oc_free(sc);
        }
    oc_free(a);
    oc_free(b);
    oc_free(c);
}

/* ---- batched GEMM (attention-like: per head Q K^T, then P V) ---- */
typedef struct {
    oc_ctx ctx;
    int batch, m, n, k, tb;
    const float *a, *b;
    float *c;
} bgemm_arg;

static void bgemm_run(void *p)
{
    bgemm_arg *a = p;
    int64_t ldb = a->tb ? a->k : a->n;
    oc_gemm_batched(&a->ctx, a->batch, 0, a->tb, a->m, a->n, a->k, 1.0f, a->a, a->k,
                    (int64_t)a->m * a->k, a->b, ldb, (int64_t)a->k * a->n, 0.0f, a->c, a->n,
                    (int64_t)a->m * a->n);
}

static void bench_gemm_batched(int batch, int m, int n, int k, int tb)
{
    char name[64];
    snprintf(name, sizeof name, "bgemm %dx(%dx%dx%d)%s", batch, m, n, k, tb ? " B^T" : "");
    if (!selected(name)) return;
    g_class = "batched GEMM (attention-like)";
    size_t an = (size_t)batch * m * k, bn = (size_t)batch * k * n, cn = (size_t)batch * m * n;
    float *a = oc_malloc(an * 4), *b = oc_malloc(bn * 4), *c = oc_malloc(cn * 4);
    for (size_t i = 0; i < an; i++) a[i] = (float)(i % 11) * 0.01f;
    for (size_t i = 0; i < bn; i++) b[i] = (float)(i % 7) * 0.01f;
    double flops = 2.0 * batch * m * n * (double)k;
    for (int isa = 1; isa <= (int)oc_cpu_best_isa(); isa++)
        for (int nth = 1; nth <= 2; nth++) {
            /* what the graph gives a batched matmul: scratch for nth whole matrices */
            size_t sb = oc_gemm_scratch_bytes(m, n, k, (oc_isa)isa, nth);
            void *sc = sb ? oc_malloc(sb) : NULL;
            bgemm_arg ga = {{(oc_isa)isa, nth, sc, sb}, batch, m, n, k, tb, a, b, c};
            double ms = time_median(bgemm_run, &ga, rounds_for(flops, (oc_isa)isa));
            row(name, oc_isa_name((oc_isa)isa), nth, ms, flops, 0, (oc_isa)isa);
            oc_free(sc);
        }
    oc_free(a);
    oc_free(b);
    oc_free(c);
}

/* ---- attention ---- */
typedef struct {
    oc_ctx ctx;
    oc_attn_desc d;
    const float *q, *k, *v;
    float *o;
} attn_arg;

static void attn_run(void *p)
{
    attn_arg *a = p;
    oc_attention(&a->ctx, &a->d, a->q, a->k, a->v, a->o);
}

static void bench_attention(int tokens, int heads, int dim)
{
    if (!selected("attention")) return;
    oc_attn_desc d;
    memset(&d, 0, sizeof d);
    d.batch = 1;
    d.heads = heads;
    d.lq = d.lk = tokens;
    d.d = d.dv = dim;
    d.scale = 1.0f / 8.0f;
    oc_attn_desc_contiguous(&d);
    size_t sz = (size_t)heads * tokens * dim;
    float *q = oc_malloc(sz * 4), *k = oc_malloc(sz * 4), *v = oc_malloc(sz * 4),
          *o = oc_malloc(sz * 4);
    for (size_t i = 0; i < sz; i++) {
        q[i] = (float)(i % 23) * 0.01f;
        k[i] = (float)(i % 19) * 0.01f;
        v[i] = (float)(i % 29) * 0.01f;
    }
    double flops = 4.0 * heads * (double)tokens * tokens * dim; /* QK^T and PV */
    char name[64];
    snprintf(name, sizeof name, "attention %d tok %dx%d", tokens, heads, dim);
    g_class = NULL; /* not a GEMM shape class: rows only */
    for (int isa = 1; isa <= (int)oc_cpu_best_isa(); isa++)
        for (int nth = 1; nth <= 2; nth++) {
            size_t sb = oc_attention_scratch_bytes(&d, (oc_isa)isa, nth);
            void *sc = sb ? oc_malloc(sb) : NULL;
            attn_arg a = {{(oc_isa)isa, nth, sc, sb}, d, q, k, v, o};
            double ms = time_median(attn_run, &a, rounds_for(flops, (oc_isa)isa));
            row(name, oc_isa_name((oc_isa)isa), nth, ms, flops, 0, (oc_isa)isa);
            oc_free(sc);
        }
    oc_free(q);
    oc_free(k);
    oc_free(v);
    oc_free(o);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const char *qs = getenv("OCELLUS_BENCH_OPS_QUICK");
    g_quick = qs && *qs && strcmp(qs, "0") != 0;
    g_filter = getenv("OCELLUS_BENCH_OPS_FILTER");
    double secs = g_quick ? 0.2 : 0.5;
    printf("Ocellus bench-ops (%s run; best isa %s; %d cores; thread spin %d us)\n",
           g_quick ? "quick" : "full", oc_isa_name(oc_cpu_best_isa()), oc_num_cores(),
           oc_get_spin_us());
    printf("FMA peak (measured now, GFLOP/s):\n");
    for (int isa = 1; isa <= (int)oc_cpu_best_isa(); isa++)
        for (int nth = 1; nth <= 2; nth++) {
            g_peak[isa][nth] = oc_fma_peak_gflops((oc_isa)isa, nth, secs);
            printf("  %-7s %d thread%s %8.1f\n", oc_isa_name((oc_isa)isa), nth,
                   nth > 1 ? "s" : " ", g_peak[isa][nth]);
        }
    printf("\n%-32s %-10s %2s %9s %9s %8s %9s %7s\n", "op (batch 1, float32)", "path", "th",
           "wall ms", "cpu ms", "GF/s", "GF/s/core", "%peak");
    printf("---------------------------------------------------------------------------"
           "----------------------\n");
    bench_conv("conv 1x1", "conv1x1 256->128 @80", 256, 128, 1, 1, 1, 80, 80, 0);
    bench_conv("conv 1x1", "conv1x1 512->256 @20", 512, 256, 1, 1, 1, 20, 20, 0);
    bench_conv("conv 3x3 s1", "conv3x3 s1 64->64 @160", 64, 64, 3, 1, 1, 160, 160, 0);
    bench_conv("conv 3x3 s1", "conv3x3 s1 512->512 @20", 512, 512, 3, 1, 1, 20, 20, 0);
    bench_conv("conv 3x3 s2", "conv3x3 s2 256->256 @80", 256, 256, 3, 2, 1, 80, 80, 0);
    bench_conv("conv 3x3 s2 (stem)", "conv3x3 s2 3->32 @640", 3, 32, 3, 2, 1, 640, 640, 1);
    bench_conv("depthwise 3x3", "dwconv3x3 256ch @40", 256, 256, 3, 1, 256, 40, 40, 1);
    bench_linear("linear tall", 65536, 96, 288);
    bench_linear("linear tall", 4096, 256, 768);
    bench_linear("linear tall", 2304, 384, 1536);
    bench_linear("linear small-M", 300, 256, 1024);
    bench_linear("linear small-M", 8, 256, 2048);
    bench_linear("linear small-M", 1, 256, 256);
    bench_gemm(1024, 1024, 1024);
    bench_gemm_batched(8, 1024, 1024, 64, 1);
    bench_gemm_batched(64, 49, 49, 32, 1);
    bench_attention(4096, 4, 64);
    bench_attention(400, 4, 64);
    double pk1 = g_peak[oc_cpu_best_isa()][1], pk2 = g_peak[oc_cpu_best_isa()][2];
    printf("\nPer shape class (best of our %s/avx2 paths; bf16: rows whose path names bf16)\n",
           oc_isa_name(oc_cpu_best_isa()));
    printf("%-32s %10s %7s %10s %7s | %10s %7s %10s %7s\n", "class", "fp32 GF/s", "%peak2",
           "fp32 /core", "%peak1", "bf16 GF/s", "%peak2", "bf16 /core", "%peak1");
    for (int i = 0; i < g_ncls; i++) {
        const class_sum *c = &g_cls[i];
        char b2[16] = "-", b2p[16] = "-", bc[16] = "-", bcp[16] = "-";
        if (c->bf16_gfc > 0) {
            snprintf(b2, sizeof b2, "%.1f", c->bf16_gf2);
            snprintf(b2p, sizeof b2p, "%.1f%%", pk2 > 0 ? 100 * c->bf16_gf2 / pk2 : 0);
            snprintf(bc, sizeof bc, "%.1f", c->bf16_gfc);
            snprintf(bcp, sizeof bcp, "%.1f%%", pk1 > 0 ? 100 * c->bf16_gfc / pk1 : 0);
        }
        printf("%-32s %10.1f %6.1f%% %10.1f %6.1f%% | %10s %7s %10s %7s\n", c->name, c->fp32_gf2,
               pk2 > 0 ? 100 * c->fp32_gf2 / pk2 : 0, c->fp32_gfc,
               pk1 > 0 ? 100 * c->fp32_gfc / pk1 : 0, b2, b2p, bc, bcp);
    }
    printf("GF/s: best wall-clock rate at 2 threads, %%peak2 of the 2-thread FMA peak; /core: best "
           "rate per\ncore-second of CPU time (1 or 2 threads), %%peak1 of the 1-thread peak. "
           "Both against the fp32\npeak of the best isa (bf16 dot products can reach twice "
           "it).\n");
    printf("\nwall ms: median wall-clock time of several rounds after a warm-up; GF/s from it.\n"
           "cpu ms: median process CPU time of the same rounds, all threads (the machine is "
           "shared:\nwall time includes slices lost to other jobs); GF/s/core = flops / cpu "
           "time.\n%%peak: GF/s/core over the one-core FMA peak of the same isa, CPU-timed "
           "(scalar rows: avx2).\nGB/s (depthwise): input + output bytes / wall time.\n");
    return 0;
}
