/* Graph builder, memory planner and executor: property tests on random graphs built from
 * custom nodes and zero-copy views, plus views, lifetimes, errors and the profile table.
 * (Real op nodes, in-place reuse and the op builders' checks: tests/test_graph_ops.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "testutil.h"

/* ---- a deterministic custom op: out[i] = bias + sum_k coef[k] * in_k[(i*7 + 3k) % n_k] ---- */
typedef struct {
    float coef[4];
    float bias;
} mix_params;

static void mix_fn(const oc_ctx *ctx, const void *params, const float *const *ins,
                   const oc_shape *in_shapes, int nin, float *out, const oc_shape *out_shape)
{
    (void)ctx;
    const mix_params *p = params;
    int64_t n = oc_shape_numel(out_shape);
    for (int64_t i = 0; i < n; i++) {
        float acc = p->bias;
        for (int k = 0; k < nin; k++) {
            int64_t nk = oc_shape_numel(&in_shapes[k]);
            acc += p->coef[k] * ins[k][(i * 7 + 3 * k) % nk];
        }
        out[i] = acc;
    }
}

static uint32_t rng_state;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}
static int rndi(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

static oc_shape random_shape(void)
{
    oc_shape s;
    s.ndim = rndi(1, 4);
    for (int i = 0; i < s.ndim; i++) s.d[i] = rndi(1, 6);
    if (s.d[0] == 1) s.d[0] = 2;
    return s;
}

/* The test's own model of the graph: every tensor's values in its own buffer. */
#define MAXT 256
typedef struct {
    oc_tid tid;
    int is_view;
    int root;          /* index in the model (== own index unless a view) */
    int64_t off;       /* element offset in the root */
    int64_t numel;
    float *val;        /* roots own values; views point into the root's */
    int is_const;
    int producer;      /* node index or -1 */
    int last_use;      /* node index of the last consumer (of the tensor itself) */
    int named, is_out;
} mtensor;

static void free_model(mtensor *m, int n)
{
    for (int i = 0; i < n; i++)
        if (!m[i].is_view) free(m[i].val);
}

static int64_t ov(int64_t a0, int64_t a1, int64_t b0, int64_t b1)
{
    return a0 < b1 && b0 < a1;
}

static int oc_shape_equal_test(const oc_shape *a, const oc_shape *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->d[i] != b->d[i]) return 0;
    return 1;
}

/* a and b (roots, model indices ia/ib) share memory while both live: legal only when b is
 * the output of an in-place node whose reused input is a, at the one node where a dies and
 * b is born (or the other way round) */
static int inplace_pair(const oc_graph *g, const oc_tensor_plan *a, oc_tid ta,
                        const oc_tensor_plan *b, oc_tid tb)
{
    for (int swap = 0; swap < 2; swap++) {
        const oc_tensor_plan *x = swap ? b : a, *y = swap ? a : b;
        oc_tid tx = swap ? tb : ta, ty = swap ? ta : tb;
        (void)tx;
        if (x->last != y->first || y->producer != y->first) continue;
        int node = y->first;
        if (oc_graph_node_output(g, node) != ty) continue;
        int k = oc_graph_node_inplace_input(g, node);
        if (k < 0) continue;
        if (x->storage != y->storage) continue;
        return 1;
    }
    return 0;
}

static void one_random_graph(uint32_t seed, int *inplace_seen)
{
    rng_state = seed * 2654435761u + 1;
    oc_graph *g = oc_graph_new();
    assert_non_null(g);
    mtensor m[MAXT];
    int nm = 0, nnodes = 0;
    const float *inputs[2];
    float *inbuf[2] = {NULL, NULL};
    int nin = rndi(1, 2);
    for (int i = 0; i < nin; i++) {
        oc_shape s = random_shape();
        char nmb[32];
        snprintf(nmb, sizeof nmb, "in%d", i);
        oc_tid t = oc_g_input(g, nmb, s);
        assert_int_not_equal(t, OC_NONE);
        int64_t n = oc_shape_numel(&s);
        inbuf[i] = malloc((size_t)n * sizeof(float));
        tu_fill_uniform(inbuf[i], (size_t)n, seed + 17u * (uint32_t)i, -1, 1);
        inputs[i] = inbuf[i];
        m[nm] = (mtensor){t, 0, nm, 0, n, malloc((size_t)n * sizeof(float)), 0, -1, -1, 1, 0};
        memcpy(m[nm].val, inbuf[i], (size_t)n * sizeof(float));
        nm++;
    }
    float *cbuf = NULL;
    int steps = rndi(3, 40);
    for (int st = 0; st < steps && nm < MAXT - 4; st++) {
        int kind = rndi(0, 12);
        if (kind >= 10) { /* elementwise op with a real kernel: may run in place */
            int i = rndi(0, nm - 1);
            oc_shape si = oc_g_shape(g, m[i].tid);
            int64_t n = m[i].numel;
            float *v = malloc((size_t)n * sizeof(float));
            oc_tid t;
            if (kind == 10) {
                t = oc_g_act(g, OC_ACT_RELU, m[i].tid);
                for (int64_t e = 0; e < n; e++) v[e] = m[i].val[e] > 0 ? m[i].val[e] : 0.0f;
            } else {
                /* a partner with the same shape (possibly itself) */
                int j = i;
                for (int tries = 0; tries < 8; tries++) {
                    int c = rndi(0, nm - 1);
                    oc_shape sc = oc_g_shape(g, m[c].tid);
                    if (oc_shape_equal_test(&sc, &si)) {
                        j = c;
                        break;
                    }
                }
                int mul = kind == 12;
                int swap = rndi(0, 1);
                int a = swap ? j : i, b = swap ? i : j;
                t = oc_g_binary(g, mul ? OC_BIN_MUL : OC_BIN_ADD, m[a].tid, m[b].tid);
                for (int64_t e = 0; e < n; e++)
                    v[e] = mul ? m[a].val[e] * m[b].val[e] : m[a].val[e] + m[b].val[e];
                m[j].last_use = nnodes;
            }
            assert_int_not_equal(t, OC_NONE);
            m[i].last_use = nnodes;
            m[nm] = (mtensor){t, 0, nm, 0, n, v, 0, nnodes, -1, 0, 0};
            nm++;
            nnodes++;
        } else if (kind <= 5) { /* custom node with 1..3 inputs */
            int k = rndi(1, 3);
            oc_tid ins[3];
            int idx[3];
            const float *vals[3];
            oc_shape shp[3];
            for (int j = 0; j < k; j++) {
                idx[j] = rndi(0, nm - 1);
                ins[j] = m[idx[j]].tid;
                vals[j] = m[idx[j]].val;
                shp[j] = oc_g_shape(g, ins[j]);
            }
            oc_shape os = rndi(0, 1) ? shp[0] : random_shape();
            mix_params p;
            for (int j = 0; j < 4; j++) p.coef[j] = (float)rndi(-4, 4) * 0.25f;
            p.bias = (float)rndi(-8, 8) * 0.125f;
            oc_tid t = oc_g_custom(g, "mix", ins, k, os, mix_fn, &p, sizeof p,
                                   (double)oc_shape_numel(&os) * k * 2);
            assert_int_not_equal(t, OC_NONE);
            int64_t n = oc_shape_numel(&os);
            float *v = malloc((size_t)n * sizeof(float));
            mix_fn(NULL, &p, vals, shp, k, v, &os);
            for (int j = 0; j < k; j++) m[idx[j]].last_use = nnodes;
            m[nm] = (mtensor){t, 0, nm, 0, n, v, 0, nnodes, -1, 0, 0};
            nm++;
            nnodes++;
        } else if (kind <= 7) { /* reshape view */
            int i = rndi(0, nm - 1);
            int64_t n = m[i].numel;
            oc_shape s;
            if (n % 2 == 0 && rndi(0, 1)) s = oc_shape2(2, n / 2);
            else s = oc_shape1(n);
            oc_tid t = oc_g_reshape(g, m[i].tid, s);
            assert_int_not_equal(t, OC_NONE);
            int r = m[i].root;
            m[nm] = (mtensor){t, 1, r, m[i].off, n, m[i].val, m[r].is_const, -1, -1, 0, 0};
            nm++;
        } else if (kind == 8) { /* contiguous slice along axis 0 (a view) */
            int i = rndi(0, nm - 1);
            oc_shape s = oc_g_shape(g, m[i].tid);
            if (s.d[0] < 2) continue;
            int64_t a = rndi(0, (int)s.d[0] - 1), b = rndi((int)a + 1, (int)s.d[0]);
            oc_tid t = oc_g_slice(g, m[i].tid, 0, a, b);
            assert_int_not_equal(t, OC_NONE);
            int64_t inner = m[i].numel / s.d[0];
            int r = m[i].root;
            m[nm] = (mtensor){t, 1, r, m[i].off + a * inner, (b - a) * inner, m[i].val + a * inner,
                              m[r].is_const, -1, -1, 0, 0};
            nm++;
        } else if (!cbuf) { /* a constant */
            oc_shape s = random_shape();
            int64_t n = oc_shape_numel(&s);
            cbuf = malloc((size_t)n * sizeof(float));
            tu_fill_uniform(cbuf, (size_t)n, seed ^ 0xabcdu, -2, 2);
            oc_tid t = oc_g_const(g, s, cbuf);
            assert_int_not_equal(t, OC_NONE);
            m[nm] = (mtensor){t, 0, nm, 0, n, malloc((size_t)n * sizeof(float)), 1, -1, -1, 0, 0};
            memcpy(m[nm].val, cbuf, (size_t)n * sizeof(float));
            nm++;
        }
    }
    /* outputs: 1..3 distinct tensors; some named tensors */
    int nout = rndi(1, 3);
    for (int o = 0; o < nout; o++) {
        int i = rndi(nin, nm - 1 > nin ? nm - 1 : nin);
        if (i >= nm) i = nm - 1;
        if (m[i].is_out) continue;
        char nmb[32];
        snprintf(nmb, sizeof nmb, "out%d", o);
        oc_g_output(g, m[i].tid, nmb);
        m[i].is_out = 1;
        m[i].named = 1;
    }
    for (int i = nin; i < nm; i++)
        if (!m[i].named && rndi(0, 4) == 0) {
            oc_g_name(g, m[i].tid, "t%d", i);
            m[i].named = 1;
        }
    assert_int_equal(oc_graph_status(g), OC_OK);
    assert_int_equal(oc_graph_num_nodes(g), nnodes);
    int keep = rndi(0, 1);
    assert_int_equal(oc_graph_plan(g, keep, OC_ISA_SCALAR, 1), OC_OK);

    /* independent lifetimes per root: producer .. last consumer of it or any view */
    int first[MAXT], last[MAXT];
    for (int i = 0; i < nm; i++) {
        first[i] = m[i].producer;
        last[i] = m[i].producer;
    }
    for (int i = 0; i < nm; i++) {
        int r = m[i].root;
        if (m[i].last_use > last[r]) last[r] = m[i].last_use;
        if (m[i].is_out || (keep && m[i].named)) last[r] = nnodes;
    }
    size_t sum = 0, arena = oc_graph_arena_bytes(g);
    for (int i = 0; i < nm; i++) {
        oc_tensor_plan p;
        assert_int_equal(oc_graph_tensor_plan(g, m[i].tid, &p), OC_OK);
        assert_int_equal(p.is_view, m[i].is_view);
        assert_int_equal(p.root, m[m[i].root].tid);
        if (m[i].is_const) {
            assert_int_equal(p.in_arena, 0);
            continue;
        }
        assert_int_equal(p.in_arena, 1);
        assert_int_equal(p.first, first[m[i].root]);
        assert_int_equal(p.last, last[m[i].root]);
        assert_true(p.offset + (size_t)m[i].numel * sizeof(float) <= arena);
        if (!m[i].is_view) {
            assert_int_equal(p.offset % 64, 0);
            sum += ((size_t)m[i].numel * 4 + 63) / 64 * 64;
        }
    }
    assert_true(arena <= sum);
    /* no two simultaneously live roots overlap, except an in-place input/output pair */
    for (int i = 0; i < nm; i++) {
        if (m[i].is_view || m[i].is_const) continue;
        oc_tensor_plan a;
        oc_graph_tensor_plan(g, m[i].tid, &a);
        for (int j = i + 1; j < nm; j++) {
            if (m[j].is_view || m[j].is_const) continue;
            oc_tensor_plan b;
            oc_graph_tensor_plan(g, m[j].tid, &b);
            int live_together = a.first <= b.last && b.first <= a.last;
            int mem = (int)ov((int64_t)a.offset, (int64_t)(a.offset + (size_t)m[i].numel * 4),
                              (int64_t)b.offset, (int64_t)(b.offset + (size_t)m[j].numel * 4));
            if (live_together && mem && inplace_pair(g, &a, m[i].tid, &b, m[j].tid)) {
                (*inplace_seen)++;
                continue;
            }
            if (live_together && mem)
                fail_msg("seed %u: tensors %d [%d,%d] @%zu and %d [%d,%d] @%zu overlap", seed,
                         i, a.first, a.last, a.offset, j, b.first, b.last, b.offset);
        }
    }
    /* run on a garbage-filled arena; outputs (and kept names) must equal the model */
    size_t ab = arena ? arena : 64, sb = oc_graph_scratch_bytes(g);
    void *ar = oc_malloc(ab);
    memset(ar, 0xA5, ab);
    oc_ctx ctx = {OC_ISA_SCALAR, 1, NULL, 0};
    void *scr = sb ? oc_malloc(sb) : NULL;
    ctx.scratch = scr;
    ctx.scratch_bytes = sb;
    assert_int_equal(oc_graph_run(g, &ctx, ar, inputs, nin, NULL), OC_OK);
    for (int i = 0; i < nm; i++) {
        if (!(m[i].is_out || (keep && m[i].named))) continue;
        const float *got = oc_graph_data(g, ar, m[i].tid);
        assert_non_null(got);
        assert_memory_equal(got, m[i].val, (size_t)m[i].numel * sizeof(float));
        assert_int_equal(oc_graph_tensor_live_at_end(g, m[i].tid), 1);
    }
    for (int o = 0; o < oc_graph_num_outputs(g); o++) {
        oc_tid t = oc_graph_output_tid(g, o);
        assert_int_equal(oc_graph_find(g, oc_graph_output_name(g, o)), t);
    }
    oc_free(ar);
    oc_free(scr);
    oc_graph_free(g);
    free_model(m, nm);
    free(cbuf);
    for (int i = 0; i < nin; i++) free(inbuf[i]);
}

static void test_planner_random_graphs(void **state)
{
    (void)state;
    int n = tu_under_valgrind() ? 60 : 400;
    oc_alloc_stats a, b;
    oc_get_alloc_stats(&a);
    int inplace = 0;
    for (int s = 1; s <= n; s++) one_random_graph((uint32_t)s, &inplace);
    assert_true(inplace > 0); /* the generator does exercise in-place reuse */
    oc_get_alloc_stats(&b);
    assert_int_equal(b.live_bytes, a.live_bytes); /* the graph frees everything */
}

/* ---- a chain where reuse must happen: x -> a -> b -> c -> d, each [1024] ---- */
static void test_planner_reuses_dead_blocks(void **state)
{
    (void)state;
    oc_graph *g = oc_graph_new();
    oc_tid x = oc_g_input(g, "x", oc_shape1(1024));
    mix_params p = {{1, 0, 0, 0}, 1.0f};
    oc_tid t = x;
    for (int i = 0; i < 6; i++) t = oc_g_custom(g, "inc", &t, 1, oc_shape1(1024), mix_fn, &p,
                                                 sizeof p, 1024);
    oc_g_output(g, t, "y");
    assert_int_equal(oc_graph_plan(g, 0, OC_ISA_SCALAR, 1), OC_OK);
    /* at most two 4 KiB blocks live at any node: a chain needs exactly 2 blocks */
    assert_int_equal(oc_graph_arena_bytes(g), 2 * 4096);
    float in[1024], *out;
    for (int i = 0; i < 1024; i++) in[i] = (float)i;
    void *ar = oc_malloc(oc_graph_arena_bytes(g));
    oc_ctx ctx = {OC_ISA_SCALAR, 1, NULL, 0};
    const float *ins[1] = {in};
    assert_int_equal(oc_graph_run(g, &ctx, ar, ins, 1, NULL), OC_OK);
    out = oc_graph_data(g, ar, oc_graph_find(g, "y"));
    /* out[i] = in[(i*7) % 1024 applied 6 times] + 6 */
    for (int i = 0; i < 1024; i++) {
        int64_t j = i;
        for (int r = 0; r < 6; r++) j = (j * 7) % 1024;
        assert_float_equal(out[i], (float)j + 6.0f, 0.0f);
    }
    /* with keep_named and every step named, nothing can be reused */
    oc_graph_free(g);
    oc_free(ar);
    g = oc_graph_new();
    x = oc_g_input(g, "x", oc_shape1(1024));
    t = x;
    for (int i = 0; i < 6; i++) {
        t = oc_g_custom(g, "inc", &t, 1, oc_shape1(1024), mix_fn, &p, sizeof p, 1024);
        oc_g_name(g, t, "step%d", i);
    }
    oc_g_output(g, t, "y");
    assert_int_equal(oc_graph_plan(g, 1, OC_ISA_SCALAR, 1), OC_OK);
    assert_int_equal(oc_graph_arena_bytes(g), 7 * 4096);
    assert_int_equal(oc_graph_plan(g, 0, OC_ISA_SCALAR, 1), OC_OK);
    assert_int_equal(oc_graph_arena_bytes(g), 2 * 4096);
    /* the input and six steps, as if none shared memory: the benchmark's planner saving */
    assert_int_equal(oc_graph_activation_bytes(g), 7 * 4096);
    oc_graph_free(g);
}

/* ---- views: zero copy, root lifetime extended to the view's last use ---- */
static void test_views(void **state)
{
    (void)state;
    oc_graph *g = oc_graph_new();
    oc_tid x = oc_g_input(g, "x", oc_shape4(1, 6, 2, 2));
    mix_params id = {{1, 0, 0, 0}, 0.0f};
    /* identity via (i*7)%n is a permutation, so use a plain copy for clarity */
    oc_tid a = oc_g_custom(g, "perm", &x, 1, oc_shape4(1, 6, 2, 2), mix_fn, &id, sizeof id, 0);
    oc_tid s1 = oc_g_slice(g, a, 1, 2, 4);   /* channels 2..3: contiguous -> view */
    oc_tid s2 = oc_g_slice(g, a, -1, 0, 1);  /* last axis: strided -> copy node */
    oc_tid r = oc_g_reshape(g, s1, oc_shape2(2, -1));
    assert_int_equal(oc_graph_status(g), OC_OK);
    assert_int_equal(oc_g_shape(g, s1).d[1], 2);
    assert_int_equal(oc_g_shape(g, r).d[1], 4);
    assert_int_equal(oc_g_shape(g, s2).d[3], 1);
    assert_int_equal(oc_graph_num_nodes(g), 2); /* perm + the strided slice */
    /* a later node consumes the view: the root must stay live until then */
    oc_tid b = oc_g_custom(g, "use", &x, 1, oc_shape1(8), mix_fn, &id, sizeof id, 0);
    oc_tid ins2[2] = {r, b};
    mix_params add = {{1, 1, 0, 0}, 0.0f};
    oc_tid c = oc_g_custom(g, "late", ins2, 2, oc_shape1(8), mix_fn, &add, sizeof add, 0);
    oc_g_output(g, c, "c");
    oc_g_output(g, s2, "s2");
    assert_int_equal(oc_graph_plan(g, 0, OC_ISA_SCALAR, 1), OC_OK);
    oc_tensor_plan pa, ps, pr, pb;
    oc_graph_tensor_plan(g, a, &pa);
    oc_graph_tensor_plan(g, s1, &ps);
    oc_graph_tensor_plan(g, r, &pr);
    oc_graph_tensor_plan(g, b, &pb);
    assert_true(ps.is_view);
    assert_int_equal(ps.root, a);
    assert_int_equal(pr.root, a);
    assert_int_equal(ps.offset, pa.offset + 2 * 4 * sizeof(float));
    assert_int_equal(pr.offset, ps.offset);
    assert_int_equal(pa.last, 3); /* node 3 = "late" reads the reshape of the slice */
    assert_int_equal(pa.first, 0);
    float in[24];
    for (int i = 0; i < 24; i++) in[i] = (float)i;
    void *ar = oc_malloc(oc_graph_arena_bytes(g));
    oc_ctx ctx = {OC_ISA_SCALAR, 1, NULL, 0};
    const float *ins[1] = {in};
    assert_int_equal(oc_graph_run(g, &ctx, ar, ins, 1, NULL), OC_OK);
    float *pa_d = oc_graph_data(g, ar, a), *ps_d = oc_graph_data(g, ar, s1);
    assert_ptr_equal(ps_d, pa_d + 8);
    /* a[i] = in[(7i) % 24]; c[i] = a[8 + (7i % 8)] + b[(7i+3) % 8], b[i] = in[7i % 24] */
    const float *cd = oc_graph_data(g, ar, oc_graph_find(g, "c"));
    for (int i = 0; i < 8; i++) {
        float av = in[((8 + (7 * i) % 8) * 7) % 24];
        int bi = (7 * i + 3) % 8;
        float bv = in[(7 * bi) % 24];
        assert_float_equal(cd[i], av + bv, 0.0f);
    }
    const float *s2d = oc_graph_data(g, ar, oc_graph_find(g, "s2"));
    for (int ch = 0; ch < 6; ch++)
        for (int h = 0; h < 2; h++)
            assert_float_equal(s2d[ch * 2 + h], in[((ch * 4 + h * 2) * 7) % 24], 0.0f);
    oc_free(ar);
    oc_graph_free(g);
}

/* ---- sticky errors: the first failure's message survives and later calls are no-ops ---- */
static void test_sticky_errors(void **state)
{
    (void)state;
    oc_graph *g = oc_graph_new();
    oc_tid x = oc_g_input(g, "x", oc_shape3(2, 3, 4));
    oc_tid bad = oc_g_reshape(g, x, oc_shape2(5, 5));
    assert_int_equal(bad, OC_NONE);
    assert_int_equal(oc_graph_status(g), OC_ERR_SHAPE);
    assert_non_null(strstr(oc_last_error(), "reshape"));
    assert_non_null(strstr(oc_last_error(), "[2, 3, 4]"));
    assert_non_null(strstr(oc_last_error(), "[5, 5]"));
    assert_non_null(strstr(oc_last_error(), "'x'"));
    char first[512];
    snprintf(first, sizeof first, "%s", oc_last_error());
    /* later failures do not replace the first one; every call now returns OC_NONE */
    assert_int_equal(oc_g_slice(g, x, 7, 0, 1), OC_NONE);
    assert_int_equal(oc_g_reshape(g, x, oc_shape1(24)), OC_NONE);
    mix_params p = {{1, 0, 0, 0}, 0};
    assert_int_equal(oc_g_custom(g, "c", &bad, 1, oc_shape1(2), mix_fn, &p, sizeof p, 0), OC_NONE);
    oc_clear_error();
    assert_int_equal(oc_graph_status(g), OC_ERR_SHAPE);
    assert_string_equal(oc_last_error(), first); /* re-set from the graph */
    assert_int_equal(oc_graph_plan(g, 0, OC_ISA_SCALAR, 1), OC_ERR_SHAPE);
    oc_graph_free(g);

    /* an invalid tensor id */
    g = oc_graph_new();
    assert_int_equal(oc_g_custom(g, "c", &bad, 1, oc_shape1(2), mix_fn, &p, sizeof p, 0), OC_NONE);
    assert_int_equal(oc_graph_status(g), OC_ERR_INVALID_ARG);
    assert_non_null(strstr(oc_last_error(), "invalid input tensor id -1"));
    oc_graph_free(g);

    /* a failure recorded by builder code */
    g = oc_graph_new();
    oc_error(OC_ERR_FORMAT, "model.safetensors: tensor 'w' missing");
    assert_int_equal(oc_graph_fail(g, OC_ERR_FORMAT), OC_ERR_FORMAT);
    oc_clear_error();
    assert_int_equal(oc_graph_status(g), OC_ERR_FORMAT);
    assert_string_equal(oc_last_error(), "model.safetensors: tensor 'w' missing");
    oc_graph_free(g);

    /* the message says where in the graph the failure happened */
    g = oc_graph_new();
    x = oc_g_input(g, "x", oc_shape1(8));
    oc_tid l3 = oc_g_custom(g, "c", &x, 1, oc_shape1(8), mix_fn, &p, sizeof p, 0);
    oc_g_name(g, l3, "layer3");
    assert_int_equal(oc_g_reshape(g, l3, oc_shape1(9)), OC_NONE);
    assert_non_null(strstr(oc_last_error(), "after 'layer3'"));
    oc_graph_free(g);

    /* empty slice, bad axis, non-contiguous -1 reshape */
    g = oc_graph_new();
    x = oc_g_input(g, "x", oc_shape2(4, 4));
    assert_int_equal(oc_g_slice(g, x, 0, 3, 3), OC_NONE);
    assert_non_null(strstr(oc_last_error(), "empty"));
    oc_graph_free(g);
    g = oc_graph_new();
    x = oc_g_input(g, "x", oc_shape2(4, 4));
    assert_int_equal(oc_g_reshape(g, x, oc_shape2(3, -1)), OC_NONE);
    assert_non_null(strstr(oc_last_error(), "infer"));
    oc_graph_free(g);
    g = oc_graph_new();
    x = oc_g_input(g, "x", oc_shape2(4, 4));
    assert_int_equal(oc_g_input(g, "y", oc_shape2(0, 4)), OC_NONE);
    assert_int_equal(oc_graph_status(g), OC_ERR_SHAPE);
    oc_graph_free(g);
}

/* ---- executor argument checks ---- */
static void test_run_checks(void **state)
{
    (void)state;
    oc_graph *g = oc_graph_new();
    oc_tid x = oc_g_input(g, "x", oc_shape1(16));
    mix_params p = {{2, 0, 0, 0}, 0};
    oc_tid y = oc_g_custom(g, "dbl", &x, 1, oc_shape1(16), mix_fn, &p, sizeof p, 16);
    oc_g_output(g, y, "y");
    oc_ctx ctx = {OC_ISA_SCALAR, 1, NULL, 0};
    float in[16] = {0};
    const float *ins[1] = {in};
    void *ar = oc_malloc(4096);
    assert_int_equal(oc_graph_run(g, &ctx, ar, ins, 1, NULL), OC_ERR_INVALID_ARG); /* unplanned */
    assert_non_null(strstr(oc_last_error(), "plan"));
    assert_int_equal(oc_graph_plan(g, 0, OC_ISA_SCALAR, 1), OC_OK);
    assert_int_equal(oc_graph_run(g, &ctx, ar, ins, 2, NULL), OC_ERR_INVALID_ARG);
    assert_non_null(strstr(oc_last_error(), "2 inputs"));
    assert_int_equal(oc_graph_run(g, &ctx, NULL, ins, 1, NULL), OC_ERR_INVALID_ARG);
    assert_int_equal(oc_graph_run(g, &ctx, ar, ins, 1, NULL), OC_OK);
    /* adding a node invalidates the plan */
    oc_g_custom(g, "dbl", &y, 1, oc_shape1(16), mix_fn, &p, sizeof p, 16);
    assert_int_equal(oc_graph_arena_bytes(g), 0);
    assert_int_equal(oc_graph_run(g, &ctx, ar, ins, 1, NULL), OC_ERR_INVALID_ARG);
    oc_free(ar);
    oc_graph_free(g);
}

/* ---- profile table: one row per node with time, GFLOP/s and share; totals ---- */
static void busy_fn(const oc_ctx *ctx, const void *params, const float *const *ins,
                    const oc_shape *in_shapes, int nin, float *out, const oc_shape *out_shape)
{
    (void)ctx;
    (void)in_shapes;
    (void)nin;
    int reps = *(const int *)params;
    int64_t n = oc_shape_numel(out_shape);
    double t0 = oc_now_ms();
    volatile float acc = 0;
    while (oc_now_ms() - t0 < reps) acc += 1.0f;
    for (int64_t i = 0; i < n; i++) out[i] = ins[0][i] + acc * 0.0f;
}

static void test_profile_table(void **state)
{
    (void)state;
    oc_graph *g = oc_graph_new();
    oc_tid x = oc_g_input(g, "x", oc_shape1(64));
    int slow = 20, fast = 1;
    oc_tid a = oc_g_custom(g, "fastop", &x, 1, oc_shape1(64), busy_fn, &fast, sizeof fast, 1e6);
    oc_g_name(g, a, "quick");
    oc_tid b = oc_g_custom(g, "slowop", &a, 1, oc_shape1(64), busy_fn, &slow, sizeof slow, 4e7);
    oc_g_output(g, b, "out");
    assert_true(fabs(oc_graph_flops(g) - 4.1e7) < 1.0);
    assert_int_equal(oc_graph_plan(g, 0, OC_ISA_SCALAR, 1), OC_OK);
    void *ar = oc_malloc(oc_graph_arena_bytes(g));
    float in[64] = {0};
    const float *ins[1] = {in};
    oc_ctx ctx = {OC_ISA_SCALAR, 1, NULL, 0};
    oc_profile prof = {0};
    prof.enabled = 1;
    assert_int_equal(oc_graph_run(g, &ctx, ar, ins, 1, &prof), OC_OK);
    assert_int_equal(prof.n, 2);
    assert_string_equal(prof.names[0], "quick");
    assert_string_equal(prof.names[1], "out");
    assert_string_equal(prof.ops[1], "slowop");
    assert_true(prof.ms[1] >= 19.0);
    assert_true(prof.ms[0] >= 0.9);
    assert_true(prof.flops[1] == 4e7);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(oc_profile_print(&prof, f), OC_OK);
    fclose(f);
    /* header, then rows sorted by time: the slow node first */
    assert_non_null(strstr(buf, "GFLOP/s"));
    assert_non_null(strstr(buf, "share%"));
    char *rs = strstr(buf, "\nout "), *rq = strstr(buf, "\nquick ");
    assert_non_null(rs);
    assert_non_null(rq);
    assert_true(rs < rq);
    assert_non_null(strstr(buf, "TOTAL"));
    /* the slow row: parse ms, GFLOP/s, share and check they are consistent */
    char name[64], op[64];
    double ms, gf, share;
    assert_int_equal(sscanf(rs + 1, "%63s %63s %lf %lf %lf", name, op, &ms, &gf, &share), 5);
    assert_string_equal(op, "slowop");
    assert_true(fabs(gf - 4e7 / (ms * 1e6)) < 0.01 * gf + 0.01);
    double total = prof.ms[0] + prof.ms[1];
    assert_true(fabs(share - 100.0 * prof.ms[1] / total) < 0.01);
    assert_true(share > 50.0);
    /* the per-op summary: both op types with their counts, slowest first */
    char *byop = strstr(buf, "by op");
    assert_non_null(byop);
    char *ps = strstr(byop, "slowop"), *pq = strstr(byop, "fastop");
    assert_non_null(ps);
    assert_non_null(pq);
    assert_true(ps < pq);
    assert_non_null(strstr(byop, "x1"));
    free(buf);
    oc_free(ar);
    oc_graph_free(g);
}


/* ======================= real op nodes (kernels from ops/) ======================= */

static oc_ctx scalar_ctx(void **scr, size_t bytes)
{
    oc_ctx c = {oc_get_isa(), 1, NULL, 0};
    *scr = bytes ? oc_malloc(bytes) : NULL;
    c.scratch = *scr;
    c.scratch_bytes = bytes;
    return c;
}

static float silu_ref(float v) { return v / (1.0f + expf(-v)); }

/* ---- in place: act and binary reuse a dying operand's block, and only then ---- */
static void test_inplace(void **state)
{
    (void)state;
    oc_graph *g = oc_graph_new();
    oc_tid x = oc_g_input(g, "x", oc_shape2(4, 16));
    mix_params id = {{1, 0, 0, 0}, 0.5f};
    oc_tid a = oc_g_custom(g, "mk", &x, 1, oc_shape2(4, 16), mix_fn, &id, sizeof id, 0);
    oc_tid b = oc_g_act(g, OC_ACT_SILU, a);                 /* a dies here: in place */
    static float bias[16];
    for (int i = 0; i < 16; i++) bias[i] = (float)i * 0.25f - 1.0f;
    oc_tid cb = oc_g_const(g, oc_shape1(16), bias);
    oc_tid c = oc_g_binary(g, OC_BIN_ADD, cb, b);           /* b (operand 1) dies: in place */
    oc_tid xs = oc_g_act(g, OC_ACT_RELU, x);                /* graph input: never in place */
    oc_tid d = oc_g_binary(g, OC_BIN_MUL, c, xs);           /* c dies here: in place on c */
    oc_tid e = oc_g_act(g, OC_ACT_SIGMOID, d);              /* d is used again below: not */
    oc_tid v = oc_g_reshape(g, e, oc_shape1(64));
    oc_tid f = oc_g_act(g, OC_ACT_TANH, v);                 /* a view: not in place */
    oc_tid h = oc_g_binary(g, OC_BIN_SUB, d, oc_g_reshape(g, f, oc_shape2(4, 16)));
    oc_g_output(g, h, "h");
    assert_int_equal(oc_graph_status(g), OC_OK);
    assert_int_equal(oc_graph_plan(g, 0, oc_get_isa(), 1), OC_OK);
    int n_act_b = 1, n_add = 2, n_relu = 3, n_mul = 4, n_sig = 5, n_tanh = 6, n_sub = 7;
    assert_int_equal(oc_graph_node_inplace_input(g, n_act_b), 0);
    assert_int_equal(oc_graph_node_inplace_input(g, n_add), 1);
    assert_int_equal(oc_graph_node_inplace_input(g, n_relu), -1);
    assert_int_equal(oc_graph_node_inplace_input(g, n_mul), 0);
    assert_int_equal(oc_graph_node_inplace_input(g, n_sig), -1);
    assert_int_equal(oc_graph_node_inplace_input(g, n_tanh), -1);
    assert_int_equal(oc_graph_node_inplace_input(g, n_sub), 0); /* d dies at sub */
    oc_tensor_plan pa, pb, pc, pd;
    oc_graph_tensor_plan(g, a, &pa);
    oc_graph_tensor_plan(g, b, &pb);
    oc_graph_tensor_plan(g, c, &pc);
    oc_graph_tensor_plan(g, d, &pd);
    assert_int_equal(pa.offset, pb.offset);
    assert_int_equal(pb.offset, pc.offset);
    assert_int_equal(pc.offset, pd.offset);
    assert_int_equal(pa.storage, pd.storage);
    /* run on garbage and compare with a direct computation */
    float in[64];
    tu_fill_uniform(in, 64, 5, -2, 2);
    void *ar = oc_malloc(oc_graph_arena_bytes(g)), *scr;
    memset(ar, 0xff, oc_graph_arena_bytes(g));
    oc_ctx ctx = scalar_ctx(&scr, oc_graph_scratch_bytes(g));
    const float *ins[1] = {in};
    assert_int_equal(oc_graph_run(g, &ctx, ar, ins, 1, NULL), OC_OK);
    const float *out = oc_graph_data(g, ar, oc_graph_find(g, "h"));
    for (int i = 0; i < 64; i++) {
        float av = in[(i * 7) % 64] + 0.5f;
        float cv = bias[i % 16] + silu_ref(av);
        float dv = cv * (in[i] > 0 ? in[i] : 0.0f);
        float ev = 1.0f / (1.0f + expf(-dv));
        float want = dv - tanhf(ev);
        assert_float_equal(out[i], want, 1e-5f * (1.0f + fabsf(want)));
    }
    oc_free(ar);
    oc_free(scr);
    oc_graph_free(g);
}

/* ---- executor results with real kernels, checked against direct loops ---- */
static void test_real_ops(void **state)
{
    (void)state;
    oc_graph *g = oc_graph_new();
    const int C = 4, H = 6, W = 5;
    oc_tid x = oc_g_input(g, "x", oc_shape4(1, C, H, W));
    /* conv 3x3 pad 1 (4->4) with a residual (x) and ReLU */
    static float cw[4 * 4 * 9], cbias[4];
    tu_fill_uniform(cw, 4 * 4 * 9, 3, -0.5f, 0.5f);
    tu_fill_uniform(cbias, 4, 4, -0.5f, 0.5f);
    oc_conv2d_desc cd = {4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, OC_ACT_RELU};
    oc_conv2d_weights *pk;
    assert_int_equal(oc_conv2d_prepack(&cd, cw, cbias, oc_get_isa(), &pk), OC_OK);
    oc_tid conv = oc_g_conv2d(g, x, &cd, pk, x);
    oc_g_name(g, conv, "conv");
    /* chunk into two channel halves (views), concat them swapped along channels */
    oc_tid lo = oc_g_slice(g, conv, 1, 0, 2), hi = oc_g_slice(g, conv, 1, 2, 4);
    oc_tid parts[2] = {hi, lo};
    oc_tid cat = oc_g_concat(g, parts, 2, 1);
    /* concat along the last axis too */
    oc_tid parts2[2] = {x, conv};
    oc_tid cat2 = oc_g_concat(g, parts2, 2, -1); /* [1,4,6,10] */
    oc_g_output(g, cat2, "cat2");
    /* softmax over channels (a middle axis) */
    oc_tid sm = oc_g_softmax(g, cat, 1);
    oc_g_output(g, sm, "sm");
    /* maxpool 2x2 s2 and upsample back (nearest) */
    oc_pool2d_desc pd = {2, 2, 2, 2, 0, 0, 0, 0, 0, 0};
    oc_tid mp = oc_g_maxpool2d(g, conv, &pd);        /* [1,4,3,2] */
    oc_tid up = oc_g_upsample_nearest(g, mp, 6, 4);  /* [1,4,6,4] */
    oc_g_output(g, up, "up");
    /* tokens: [1, C, H*W] -> permute to [1, HW, C] -> linear C->3 -> matmul with its T */
    oc_tid tok = oc_g_permute(g, oc_g_reshape(g, conv, oc_shape3(1, C, H * W)), (int[]){0, 2, 1});
    static float lw[3 * 4], lb[3];
    tu_fill_uniform(lw, 12, 8, -1, 1);
    tu_fill_uniform(lb, 3, 9, -1, 1);
    oc_tid lin = oc_g_linear(g, tok, lw, lb, C, 3, OC_ACT_NONE);       /* [1,30,3] */
    oc_tid mm = oc_g_matmul(g, lin, lin, 0, 1);                        /* [1,30,30] */
    oc_g_output(g, mm, "mm");
    static float gam[3] = {1, 2, 0.5f}, bet[3] = {0, 1, -1};
    oc_tid ln = oc_g_layernorm(g, lin, gam, bet, 1e-5f);
    oc_g_output(g, ln, "ln");
    assert_int_equal(oc_graph_status(g), OC_OK);
    assert_int_equal(oc_g_shape(g, cat2).d[3], 10);
    assert_int_equal(oc_g_shape(g, mm).d[2], 30);
    assert_int_equal(oc_graph_plan(g, 0, oc_get_isa(), 2), OC_OK);
    float in[4 * 6 * 5];
    tu_fill_uniform(in, 120, 10, -1, 1);
    void *ar = oc_malloc(oc_graph_arena_bytes(g)), *scr;
    oc_ctx ctx = scalar_ctx(&scr, oc_graph_scratch_bytes(g));
    ctx.nthreads = 2;
    const float *ins[1] = {in};
    assert_int_equal(oc_graph_run(g, &ctx, ar, ins, 1, NULL), OC_OK);

    /* reference */
    float rc[4][6][5];
    for (int o = 0; o < 4; o++)
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++) {
                double acc = cbias[o];
                for (int k = 0; k < 4; k++)
                    for (int dy = 0; dy < 3; dy++)
                        for (int dx = 0; dx < 3; dx++) {
                            int iy = y + dy - 1, ix = xx + dx - 1;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            acc += (double)cw[((o * 4 + k) * 3 + dy) * 3 + dx] * in[(k * H + iy) * W + ix];
                        }
                float v = (float)acc;
                rc[o][y][xx] = (v > 0 ? v : 0) + in[(o * H + y) * W + xx];
            }
    const float *o2 = oc_graph_data(g, ar, oc_graph_find(g, "cat2"));
    for (int k = 0; k < 4; k++)
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < 10; xx++) {
                float want = xx < 5 ? in[(k * H + y) * W + xx] : rc[k][y][xx - 5];
                assert_float_equal(o2[(k * H + y) * 10 + xx], want, 1e-4);
            }
    const float *osm = oc_graph_data(g, ar, oc_graph_find(g, "sm"));
    for (int y = 0; y < H; y++)
        for (int xx = 0; xx < W; xx++) {
            int perm[4] = {2, 3, 0, 1};
            double mx = -1e30, den = 0;
            for (int k = 0; k < 4; k++) mx = fmax(mx, rc[perm[k]][y][xx]);
            for (int k = 0; k < 4; k++) den += exp(rc[perm[k]][y][xx] - mx);
            for (int k = 0; k < 4; k++)
                assert_float_equal(osm[(k * H + y) * W + xx],
                                   (float)(exp(rc[perm[k]][y][xx] - mx) / den), 1e-5);
        }
    const float *oup = oc_graph_data(g, ar, oc_graph_find(g, "up"));
    for (int k = 0; k < 4; k++)
        for (int y = 0; y < 6; y++)
            for (int xx = 0; xx < 4; xx++) {
                int py = y / 2, px = xx / 2; /* nearest: floor(dst * in / out) */
                float m = -1e30f;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) m = fmaxf(m, rc[k][py * 2 + dy][px * 2 + dx]);
                assert_float_equal(oup[(k * 6 + y) * 4 + xx], m, 1e-4);
            }
    float rl[30][3];
    for (int t = 0; t < 30; t++)
        for (int o = 0; o < 3; o++) {
            double acc = lb[o];
            for (int k = 0; k < 4; k++) acc += (double)lw[o * 4 + k] * rc[k][t / W][t % W];
            rl[t][o] = (float)acc;
        }
    const float *omm = oc_graph_data(g, ar, oc_graph_find(g, "mm"));
    for (int i = 0; i < 30; i++)
        for (int j = 0; j < 30; j++) {
            double acc = 0;
            for (int k = 0; k < 3; k++) acc += (double)rl[i][k] * rl[j][k];
            assert_float_equal(omm[i * 30 + j], (float)acc, 1e-3);
        }
    const float *oln = oc_graph_data(g, ar, oc_graph_find(g, "ln"));
    for (int t = 0; t < 30; t++) {
        double mu = (rl[t][0] + rl[t][1] + rl[t][2]) / 3.0, var = 0;
        for (int k = 0; k < 3; k++) var += (rl[t][k] - mu) * (rl[t][k] - mu);
        var /= 3.0;
        for (int k = 0; k < 3; k++)
            assert_float_equal(oln[t * 3 + k],
                               (float)((rl[t][k] - mu) / sqrt(var + 1e-5) * gam[k] + bet[k]), 1e-3);
    }
    oc_free(ar);
    oc_free(scr);
    oc_graph_free(g);
    oc_conv2d_weights_free(pk);
}

/* ---- attention with strides addressing a packed qkv tensor (feature-major) ---- */
static void test_attention_strided(void **state)
{
    (void)state;
    enum { B = 1, NH = 2, D = 4, L = 6 };
    oc_graph *g = oc_graph_new();
    /* qkv as a conv would produce it: [1][3][NH][D][L] (channels, then tokens) */
    oc_tid qkv = oc_g_input(g, "qkv", (oc_shape){5, {B, 3, NH, D, L}});
    oc_tid q = oc_g_slice(g, qkv, 1, 0, 1), k = oc_g_slice(g, qkv, 1, 1, 2),
           v = oc_g_slice(g, qkv, 1, 2, 3);
    oc_attn_desc ad;
    memset(&ad, 0, sizeof ad);
    ad.batch = B;
    ad.heads = NH;
    ad.lq = ad.lk = L;
    ad.d = ad.dv = D;
    ad.scale = 0.5f;
    ad.q_sb = ad.k_sb = ad.v_sb = 3 * NH * D * L;
    ad.q_sh = ad.k_sh = ad.v_sh = D * L;
    ad.q_st = ad.k_st = ad.v_st = 1;
    ad.q_sd = ad.k_sd = ad.v_sd = L;
    /* output token-major [B][NH][L][D] */
    ad.o_sb = NH * L * D;
    ad.o_sh = L * D;
    ad.o_st = D;
    ad.o_sd = 1;
    oc_tid o = oc_g_attention(g, q, k, v, OC_NONE, &ad, oc_shape4(B, NH, L, D));
    oc_g_output(g, o, "o");
    assert_int_equal(oc_graph_status(g), OC_OK);
    assert_int_equal(oc_graph_plan(g, 0, oc_get_isa(), 1), OC_OK);
    float in[3 * NH * D * L];
    tu_fill_uniform(in, sizeof in / sizeof in[0], 21, -1, 1);
    void *ar = oc_malloc(oc_graph_arena_bytes(g)), *scr;
    oc_ctx ctx = scalar_ctx(&scr, oc_graph_scratch_bytes(g));
    const float *ins[1] = {in};
    assert_int_equal(oc_graph_run(g, &ctx, ar, ins, 1, NULL), OC_OK);
    const float *out = oc_graph_data(g, ar, oc_graph_find(g, "o"));
#define QKV(part, h, j, t) in[(((part) * NH + (h)) * D + (j)) * L + (t)]
    for (int h = 0; h < NH; h++)
        for (int i = 0; i < L; i++) {
            double s[L], mx = -1e30, den = 0;
            for (int t = 0; t < L; t++) {
                double acc = 0;
                for (int j = 0; j < D; j++) acc += (double)QKV(0, h, j, i) * QKV(1, h, j, t);
                s[t] = 0.5 * acc;
                mx = fmax(mx, s[t]);
            }
            for (int t = 0; t < L; t++) den += exp(s[t] - mx);
            for (int j = 0; j < D; j++) {
                double acc = 0;
                for (int t = 0; t < L; t++) acc += exp(s[t] - mx) / den * QKV(2, h, j, t);
                assert_float_equal(out[(h * L + i) * D + j], (float)acc, 1e-5);
            }
        }
#undef QKV
    oc_free(ar);
    oc_free(scr);
    oc_graph_free(g);

    /* strides that run past a tensor are refused at build time */
    g = oc_graph_new();
    qkv = oc_g_input(g, "qkv", (oc_shape){5, {B, 3, NH, D, L}});
    q = oc_g_slice(g, qkv, 1, 0, 1);
    ad.q_sd = L + 1;
    assert_int_equal(oc_g_attention(g, q, q, q, OC_NONE, &ad, oc_shape4(B, NH, L, D)), OC_NONE);
    assert_int_equal(oc_graph_status(g), OC_ERR_SHAPE);
    assert_non_null(strstr(oc_last_error(), "the q strides"));
    oc_graph_free(g);
}

/* ---- builders' shape errors name the op, the tensors and their shapes ---- */
static void test_op_shape_errors(void **state)
{
    (void)state;
    oc_graph *g = oc_graph_new();
    oc_tid a = oc_g_input(g, "a", oc_shape4(1, 8, 20, 20));
    oc_tid b = oc_g_input(g, "b", oc_shape4(1, 4, 10, 10));
    oc_g_name(g, b, "layer6");
    oc_tid xs[2] = {a, b};
    assert_int_equal(oc_g_concat(g, xs, 2, 1), OC_NONE);
    assert_int_equal(oc_graph_status(g), OC_ERR_SHAPE);
    assert_non_null(strstr(oc_last_error(), "concat"));
    assert_non_null(strstr(oc_last_error(), "'layer6' [1, 4, 10, 10]"));
    assert_non_null(strstr(oc_last_error(), "'a' [1, 8, 20, 20]"));
    oc_graph_free(g);

    g = oc_graph_new();
    a = oc_g_input(g, "a", oc_shape3(2, 3, 4));
    b = oc_g_input(g, "b", oc_shape2(5, 4));
    assert_int_equal(oc_g_binary(g, OC_BIN_MUL, a, b), OC_NONE);
    assert_non_null(strstr(oc_last_error(), "mul"));
    assert_non_null(strstr(oc_last_error(), "broadcast"));
    assert_non_null(strstr(oc_last_error(), "[5, 4]"));
    oc_graph_free(g);
    /* broadcasting that is legal */
    g = oc_graph_new();
    a = oc_g_input(g, "a", oc_shape3(2, 1, 4));
    b = oc_g_input(g, "b", oc_shape2(5, 1));
    oc_tid y = oc_g_binary(g, OC_BIN_ADD, a, b);
    oc_shape ys = oc_g_shape(g, y);
    assert_int_equal(ys.ndim, 3);
    assert_int_equal(ys.d[0], 2);
    assert_int_equal(ys.d[1], 5);
    assert_int_equal(ys.d[2], 4);
    oc_graph_free(g);

    g = oc_graph_new();
    a = oc_g_input(g, "img", oc_shape4(1, 3, 16, 16));
    oc_conv2d_desc cd = {16, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, OC_ACT_SILU};
    static float w[8 * 16 * 9];
    oc_conv2d_weights *pk;
    assert_int_equal(oc_conv2d_prepack(&cd, w, NULL, oc_get_isa(), &pk), OC_OK);
    assert_int_equal(oc_g_conv2d(g, a, &cd, pk, OC_NONE), OC_NONE);
    assert_non_null(strstr(oc_last_error(), "conv2d"));
    assert_non_null(strstr(oc_last_error(), "'img' [1, 3, 16, 16]"));
    assert_non_null(strstr(oc_last_error(), "cin 16"));
    oc_graph_free(g);
    /* residual of the wrong shape */
    g = oc_graph_new();
    a = oc_g_input(g, "x", oc_shape4(1, 16, 8, 8));
    b = oc_g_input(g, "r", oc_shape4(1, 8, 4, 4));
    assert_int_equal(oc_g_conv2d(g, a, &cd, pk, b), OC_NONE);
    assert_non_null(strstr(oc_last_error(), "residual"));
    assert_non_null(strstr(oc_last_error(), "[1, 8, 8, 8]"));
    oc_graph_free(g);
    oc_conv2d_weights_free(pk);

    g = oc_graph_new();
    a = oc_g_input(g, "a", oc_shape3(2, 3, 4));
    b = oc_g_input(g, "b", oc_shape3(2, 5, 6));
    assert_int_equal(oc_g_matmul(g, a, b, 0, 0), OC_NONE);
    assert_non_null(strstr(oc_last_error(), "inner dims"));
    oc_graph_free(g);

    g = oc_graph_new();
    a = oc_g_input(g, "a", oc_shape3(2, 3, 4));
    assert_int_equal(oc_g_permute(g, a, (int[]){0, 0, 1}), OC_NONE);
    assert_int_equal(oc_graph_status(g), OC_ERR_INVALID_ARG);
    assert_int_equal(oc_g_softmax(g, a, 1), OC_NONE); /* sticky */
    oc_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_planner_random_graphs),
        cmocka_unit_test(test_planner_reuses_dead_blocks),
        cmocka_unit_test(test_views),
        cmocka_unit_test(test_sticky_errors),
        cmocka_unit_test(test_run_checks),
        cmocka_unit_test(test_profile_table),
        cmocka_unit_test(test_inplace),
        cmocka_unit_test(test_real_ops),
        cmocka_unit_test(test_attention_strided),
        cmocka_unit_test(test_op_shape_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
