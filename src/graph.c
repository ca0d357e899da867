/* graph.c -- graph builder core (tensors, nodes, names, views, sticky errors), the executor
 * and the profile table. Planning is in planner.c, op builders in graph_ops.c. */
#include "graph_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- shapes and messages -- */

int64_t oc_shape_numel(const oc_shape *s)
{
    if (!s || s->ndim < 0 || s->ndim > OC_MAX_DIMS) return 0;
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (s->d[i] < 0) return 0;
        if (__builtin_mul_overflow(n, s->d[i], &n)) return 0;
    }
    return n;
}

int oc_shape_valid(const oc_shape *s)
{
    if (s->ndim < 0 || s->ndim > OC_MAX_DIMS) return 0;
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (s->d[i] < 1) return 0;
        if (__builtin_mul_overflow(n, s->d[i], &n)) return 0;
    }
    /* bytes must fit comfortably (and leave room for alignment) */
    return n <= (int64_t)1 << 40;
}

int oc_shape_equal(const oc_shape *a, const oc_shape *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->d[i] != b->d[i]) return 0;
    return 1;
}

const char *oc_shape_str(const oc_shape *s, char *buf, size_t n)
{
    size_t used = 0;
    if (n == 0) return buf;
    buf[0] = '\0';
    int nd = s->ndim;
    if (nd < 0 || nd > OC_MAX_DIMS) {
        snprintf(buf, n, "[ndim %d]", nd);
        return buf;
    }
    used += (size_t)snprintf(buf + used, n - used, "[");
    for (int i = 0; i < nd && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "",
                                 (long long)s->d[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
    return buf;
}

const char *oc_g_tname(const oc_graph *g, oc_tid t, char *buf, size_t n)
{
    if (g && t >= 0 && t < g->nt && g->t[t].name)
        snprintf(buf, n, "'%s'", g->t[t].name);
    else
        snprintf(buf, n, "#%d", t);
    return buf;
}

/* ---------------------------------------------------------------- graph lifetime ------ */

oc_graph *oc_graph_new(void)
{
    oc_graph *g = oc_calloc(1, sizeof *g);
    return g;
}

void oc_graph_set_weight_cache(oc_graph *g, struct oc_weight_cache *c)
{
    if (g) g->wcache = c;
}

void oc_g_plan_reset(oc_graph *g)
{
    oc_free(g->run_ptrs);
    oc_free(g->run_shapes);
    oc_free(g->prof_ms);
    oc_free(g->prof_names);
    oc_free(g->prof_ops);
    oc_free(g->prof_flops);
    if (g->prof_name_store) {
        for (int i = 0; i < g->plan_nn; i++) oc_free(g->prof_name_store[i]);
        oc_free(g->prof_name_store);
    }
    g->run_ptrs = NULL;
    g->run_shapes = NULL;
    g->prof_ms = NULL;
    g->prof_names = NULL;
    g->prof_ops = NULL;
    g->prof_flops = NULL;
    g->prof_name_store = NULL;
    g->planned = 0;
}

void oc_graph_free(oc_graph *g)
{
    if (!g) return;
    oc_g_plan_reset(g);
    for (int i = 0; i < g->nt; i++) oc_free(g->t[i].name);
    for (int i = 0; i < g->nn; i++) {
        oc_free(g->nodes[i].op);
        oc_free(g->nodes[i].ins);
        oc_free(g->nodes[i].params);
    }
    for (int i = 0; i < g->noutputs; i++) oc_free(g->outputs[i].name);
    oc_free(g->t);
    oc_free(g->nodes);
    oc_free(g->inputs);
    oc_free(g->outputs);
    oc_free(g);
}

/* ---------------------------------------------------------------- sticky errors ------- */

oc_status oc_graph_status(const oc_graph *g)
{
    if (!g) return oc_error(OC_ERR_INVALID_ARG, "graph: NULL graph (allocation failed?)");
    if (g->status != OC_OK) return oc_error(g->status, "%s", g->errmsg);
    return OC_OK;
}

oc_status oc_graph_fail(oc_graph *g, oc_status st)
{
    if (!g) return st;
    if (st == OC_OK) return st;
    if (g->status == OC_OK) {
        g->status = st;
        snprintf(g->errmsg, sizeof g->errmsg, "%s", oc_last_error());
        if (!g->errmsg[0])
            snprintf(g->errmsg, sizeof g->errmsg, "graph build failed (%s)", oc_status_name(st));
    }
    return st;
}

oc_tid oc_g_failf(oc_graph *g, oc_status st, const char *fmt, ...)
{
    if (!g) return OC_NONE;
    if (g->status != OC_OK) return OC_NONE; /* keep the first failure */
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* nodes are named after they are created, so say where in the graph this happened: after
     * the latest named intermediate (e.g. 'layer5') */
    const char *where = NULL;
    for (int i = g->nt - 1; i >= 0 && !where; i--)
        if (g->t[i].name && g->t[i].kind != OC_TK_INPUT) where = g->t[i].name;
    if (where)
        oc_error(st, "%s (building after '%s', node %d)", msg, where, g->nn);
    else
        oc_error(st, "%s (node %d)", msg, g->nn);
    oc_graph_fail(g, st);
    return OC_NONE;
}

int oc_g_check_tid(oc_graph *g, oc_tid t, const char *op)
{
    if (!g) return 0;
    if (g->status != OC_OK) return 0;
    if (t < 0 || t >= g->nt) {
        oc_g_failf(g, OC_ERR_INVALID_ARG, "%s: invalid input tensor id %d (a previous step "
                   "failed or the id is from another graph)", op, t);
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- tensors and nodes --- */

static oc_tid new_tensor(oc_graph *g, oc_shape s, oc_tkind kind)
{
    if (g->nt == g->capt) {
        int cap = g->capt ? g->capt * 2 : 64;
        oc_gtensor *nt = oc_realloc(g->t, (size_t)cap * sizeof *nt);
        if (!nt) {
            oc_g_failf(g, OC_ERR_NOMEM, "graph: out of memory adding tensor %d", g->nt);
            return OC_NONE;
        }
        g->t = nt;
        g->capt = cap;
    }
    oc_tid id = g->nt++;
    oc_gtensor *t = &g->t[id];
    memset(t, 0, sizeof *t);
    t->shape = s;
    t->kind = kind;
    t->root = id;
    t->producer = -1;
    t->store = id;
    return id;
}

oc_tid oc_g_input_typed(oc_graph *g, const char *name, oc_shape s, oc_dtype dtype)
{
    if (!g || g->status != OC_OK) return OC_NONE;
    char sb[96];
    if (!name || !*name) return oc_g_failf(g, OC_ERR_INVALID_ARG, "input: a graph input needs a name");
    if (!oc_shape_valid(&s))
        return oc_g_failf(g, OC_ERR_SHAPE, "input '%s': invalid shape %s", name,
                          oc_shape_str(&s, sb, sizeof sb));
    if (dtype != OC_DTYPE_F32 && dtype != OC_DTYPE_I32 && dtype != OC_DTYPE_I64 &&
        dtype != OC_DTYPE_U8)
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "input '%s': unknown dtype %d", name,
                          (int)dtype);
    for (int i = 0; i < g->ninputs; i++) {
        const char *nm = g->t[g->inputs[i]].name;
        if (nm && !strcmp(nm, name))
            return oc_g_failf(g, OC_ERR_INVALID_ARG, "input '%s' declared twice", name);
    }
    if (g->ninputs == g->capin) {
        int cap = g->capin ? g->capin * 2 : 4;
        oc_tid *ni = oc_realloc(g->inputs, (size_t)cap * sizeof *ni);
        if (!ni) return oc_g_failf(g, OC_ERR_NOMEM, "graph: out of memory adding an input");
        g->inputs = ni;
        g->capin = cap;
    }
    oc_tid id = new_tensor(g, s, OC_TK_INPUT);
    if (id == OC_NONE) return OC_NONE;
    g->t[id].dtype = dtype;
    g->inputs[g->ninputs++] = id;
    g->planned = 0;
    oc_g_name(g, id, "%s", name);
    return g->status == OC_OK ? id : OC_NONE;
}

oc_tid oc_g_input(oc_graph *g, const char *name, oc_shape s)
{
    return oc_g_input_typed(g, name, s, OC_DTYPE_F32);
}

oc_tid oc_g_const(oc_graph *g, oc_shape s, const float *data)
{
    if (!g || g->status != OC_OK) return OC_NONE;
    char sb[96];
    if (!oc_shape_valid(&s))
        return oc_g_failf(g, OC_ERR_SHAPE, "const: invalid shape %s",
                          oc_shape_str(&s, sb, sizeof sb));
    if (!data) return oc_g_failf(g, OC_ERR_INVALID_ARG, "const %s: NULL data",
                                 oc_shape_str(&s, sb, sizeof sb));
    oc_tid id = new_tensor(g, s, OC_TK_CONST);
    if (id == OC_NONE) return OC_NONE;
    g->t[id].cdata = data;
    g->planned = 0;
    return id;
}

static void add_output(oc_graph *g, oc_tid t, const char *name, int exported);

void oc_g_output(oc_graph *g, oc_tid t, const char *name) { add_output(g, t, name, 0); }
void oc_g_export(oc_graph *g, oc_tid t, const char *name) { add_output(g, t, name, 1); }

static void add_output(oc_graph *g, oc_tid t, const char *name, int exported)
{
    if (!g || !oc_g_check_tid(g, t, "output")) return;
    if (!name || !*name) {
        oc_g_failf(g, OC_ERR_INVALID_ARG, "output: tensor #%d needs a name", t);
        return;
    }
    for (int i = 0; i < g->noutputs; i++)
        if (!strcmp(g->outputs[i].name, name)) {
            oc_g_failf(g, OC_ERR_INVALID_ARG, "output '%s' declared twice", name);
            return;
        }
    if (g->noutputs == g->capout) {
        int cap = g->capout ? g->capout * 2 : 4;
        oc_goutput *no = oc_realloc(g->outputs, (size_t)cap * sizeof *no);
        if (!no) {
            oc_g_failf(g, OC_ERR_NOMEM, "graph: out of memory adding output '%s'", name);
            return;
        }
        g->outputs = no;
        g->capout = cap;
    }
    char *nm = oc_strdup(name);
    if (!nm) {
        oc_g_failf(g, OC_ERR_NOMEM, "graph: out of memory adding output '%s'", name);
        return;
    }
    g->outputs[g->noutputs].tid = t;
    g->outputs[g->noutputs].name = nm;
    g->outputs[g->noutputs].exported = exported;
    g->noutputs++;
    g->t[t].is_output = 1;
    if (!g->t[t].name) oc_g_name(g, t, "%s", name);
    g->planned = 0;
}

void oc_g_name(oc_graph *g, oc_tid t, const char *fmt, ...)
{
    if (!g || !oc_g_check_tid(g, t, "name")) return;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *nm = oc_strdup(buf);
    if (!nm) {
        oc_g_failf(g, OC_ERR_NOMEM, "graph: out of memory naming tensor #%d", t);
        return;
    }
    oc_free(g->t[t].name);
    g->t[t].name = nm;
    g->planned = 0; /* keep_named depends on names */
}

oc_shape oc_g_shape(const oc_graph *g, oc_tid t)
{
    oc_shape s;
    memset(&s, 0, sizeof s);
    if (!g || t < 0 || t >= g->nt) return s;
    return g->t[t].shape;
}

oc_tid oc_g_add_view(oc_graph *g, oc_tid x, oc_shape s, int64_t elem_off)
{
    if (!oc_g_check_tid(g, x, "view")) return OC_NONE;
    oc_tid root = g->t[x].root;
    int64_t off = g->t[x].elem_off + elem_off;
    oc_tid id = new_tensor(g, s, OC_TK_VIEW);
    if (id == OC_NONE) return OC_NONE;
    g->t[id].root = root;
    g->t[id].elem_off = off;
    g->planned = 0;
    return id;
}

oc_tid oc_g_add_node(oc_graph *g, const char *op, const oc_tid *ins, int nin, oc_shape out,
                     oc_node_exec exec, oc_node_scratch scratch, const void *params,
                     size_t params_size, double flops, unsigned inplace_mask)
{
    if (!g || g->status != OC_OK) return OC_NONE;
    char sb[96];
    if (nin < 0 || (nin > 0 && !ins))
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "%s: bad input list (%d inputs)", op, nin);
    for (int i = 0; i < nin; i++)
        if (!oc_g_check_tid(g, ins[i], op)) return OC_NONE;
    if (!oc_shape_valid(&out))
        return oc_g_failf(g, OC_ERR_SHAPE, "%s: invalid output shape %s", op,
                          oc_shape_str(&out, sb, sizeof sb));
    if (g->nn == g->capn) {
        int cap = g->capn ? g->capn * 2 : 64;
        oc_gnode *nn = oc_realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return oc_g_failf(g, OC_ERR_NOMEM, "%s: out of memory adding a node", op);
        g->nodes = nn;
        g->capn = cap;
    }
    oc_gnode n;
    memset(&n, 0, sizeof n);
    n.op = oc_strdup(op);
    n.ins = oc_malloc((size_t)(nin > 0 ? nin : 1) * sizeof(oc_tid));
    n.params = params_size ? oc_malloc(params_size) : NULL;
    if (!n.op || !n.ins || (params_size && !n.params)) {
        oc_free(n.op);
        oc_free(n.ins);
        oc_free(n.params);
        return oc_g_failf(g, OC_ERR_NOMEM, "%s: out of memory adding a node", op);
    }
    if (nin > 0) memcpy(n.ins, ins, (size_t)nin * sizeof(oc_tid));
    if (params_size) memcpy(n.params, params, params_size);
    n.nin = nin;
    n.params_size = params_size;
    n.exec = exec;
    n.scratch = scratch;
    n.flops = flops > 0 && isfinite(flops) ? flops : 0.0;
    n.inplace_mask = inplace_mask;
    n.inplace_in = -1;
    oc_tid id = new_tensor(g, out, OC_TK_INTER);
    if (id == OC_NONE) {
        oc_free(n.op);
        oc_free(n.ins);
        oc_free(n.params);
        return OC_NONE;
    }
    n.out = id;
    g->t[id].producer = g->nn;
    g->nodes[g->nn++] = n;
    g->planned = 0;
    return id;
}

/* ---------------------------------------------------------------- views --------------- */

oc_tid oc_g_reshape(oc_graph *g, oc_tid x, oc_shape s)
{
    if (!oc_g_check_tid(g, x, "reshape")) return OC_NONE;
    char sa[96], sb[96], tn[300];
    /* one dim may be -1: inferred */
    int infer = -1;
    int64_t known = 1;
    if (s.ndim < 0 || s.ndim > OC_MAX_DIMS)
        return oc_g_failf(g, OC_ERR_SHAPE, "reshape %s: bad ndim %d", oc_g_tname(g, x, tn, sizeof tn), s.ndim);
    for (int i = 0; i < s.ndim; i++) {
        if (s.d[i] == -1 && infer < 0) {
            infer = i;
        } else if (s.d[i] < 1 || __builtin_mul_overflow(known, s.d[i], &known)) {
            return oc_g_failf(g, OC_ERR_SHAPE, "reshape %s: bad target shape %s",
                              oc_g_tname(g, x, tn, sizeof tn), oc_shape_str(&s, sb, sizeof sb));
        }
    }
    int64_t n = oc_shape_numel(&g->t[x].shape);
    if (infer >= 0) {
        if (known <= 0 || n % known)
            return oc_g_failf(g, OC_ERR_SHAPE, "reshape %s: cannot infer -1 in %s from %s",
                              oc_g_tname(g, x, tn, sizeof tn), oc_shape_str(&s, sb, sizeof sb),
                              oc_shape_str(&g->t[x].shape, sa, sizeof sa));
        s.d[infer] = n / known;
    }
    if (oc_shape_numel(&s) != n || !oc_shape_valid(&s))
        return oc_g_failf(g, OC_ERR_SHAPE, "reshape %s: %s has %lld elements, target %s does not",
                          oc_g_tname(g, x, tn, sizeof tn),
                          oc_shape_str(&g->t[x].shape, sa, sizeof sa), (long long)n,
                          oc_shape_str(&s, sb, sizeof sb));
    return oc_g_add_view(g, x, s, 0);
}

static int norm_axis(int axis, int ndim)
{
    if (axis < 0) axis += ndim;
    return (axis < 0 || axis >= ndim) ? -1 : axis;
}

static const char *tdesc(const oc_graph *g, oc_tid t, char *buf, size_t n)
{
    char nb[128], sb[128];
    oc_g_tname(g, t, nb, sizeof nb);
    oc_shape_str(&g->t[t].shape, sb, sizeof sb);
    snprintf(buf, n, "%s %s", nb, sb);
    return buf;
}

/* ---------------------------------------------------------------- slice --------------- */

typedef struct {
    int64_t outer, len, in_stride, off; /* copy outer blocks of len floats */
} slice_params;

static void exec_slice(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                       const oc_shape *is, float *out, const oc_shape *os)
{
    (void)is;
    (void)os;
    (void)ctx;
    const slice_params *p = n->params;
    const float *x = ins[0];
    for (int64_t o = 0; o < p->outer; o++)
        memcpy(out + o * p->len, x + o * p->in_stride + p->off, (size_t)p->len * sizeof(float));
}

oc_tid oc_g_slice(oc_graph *g, oc_tid x, int axis, int64_t start, int64_t end)
{
    if (!g || g->status != OC_OK || !oc_g_check_tid(g, x, "slice")) return OC_NONE;
    const oc_shape *xs = &g->t[x].shape;
    char xb[256];
    int ax = norm_axis(axis, xs->ndim);
    if (ax < 0)
        return oc_g_failf(g, OC_ERR_SHAPE, "slice: axis %d out of range for %s", axis,
                          tdesc(g, x, xb, sizeof xb));
    int64_t dim = xs->d[ax];
    int64_t s0 = start, e0 = end;
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (start < 0) start = 0;
    if (end > dim) end = dim;
    if (start >= end)
        return oc_g_failf(g, OC_ERR_SHAPE, "slice: [%lld:%lld] along axis %d of %s is empty",
                          (long long)s0, (long long)e0, axis, tdesc(g, x, xb, sizeof xb));
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < ax; k++) outer *= xs->d[k];
    for (int k = ax + 1; k < xs->ndim; k++) inner *= xs->d[k];
    oc_shape os = *xs;
    os.d[ax] = end - start;
    if (outer == 1 || (start == 0 && end == dim))
        return oc_g_add_view(g, x, os, start * inner);
    slice_params p = {outer, (end - start) * inner, dim * inner, start * inner};
    return oc_g_add_node(g, "slice", &x, 1, os, exec_slice, NULL, &p, sizeof p, 0.0, 0);
}

/* ---------------------------------------------------------------- custom nodes -------- */

static void exec_custom(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                        const oc_shape *in_shapes, float *out, const oc_shape *out_shape)
{
    n->custom(ctx, n->params, ins, in_shapes, n->nin, out, out_shape);
}

oc_tid oc_g_custom(oc_graph *g, const char *opname, const oc_tid *ins, int nin, oc_shape out,
                   oc_custom_fn fn, const void *params, size_t params_size, double flops)
{
    if (!g || g->status != OC_OK) return OC_NONE;
    const char *op = opname && *opname ? opname : "custom";
    if (!fn) return oc_g_failf(g, OC_ERR_INVALID_ARG, "%s: NULL function", op);
    if (params_size && !params)
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "%s: NULL params with size %zu", op,
                          params_size);
    oc_tid id = oc_g_add_node(g, op, ins, nin, out, exec_custom, NULL, params, params_size,
                              flops, 0);
    if (id != OC_NONE) g->nodes[g->nn - 1].custom = fn;
    return id;
}

/* ---------------------------------------------------------------- queries ------------- */

static const float *tensor_ptr(const oc_graph *g, void *arena, oc_tid t)
{
    const oc_gtensor *v = &g->t[t];
    const oc_gtensor *r = &g->t[v->root];
    if (r->kind == OC_TK_CONST) return r->cdata + v->elem_off;
    const oc_gtensor *st = &g->t[r->store];
    return (const float *)((char *)arena + st->offset) + v->elem_off;
}

float *oc_graph_data(const oc_graph *g, void *arena, oc_tid t)
{
    if (!g || !g->planned || t < 0 || t >= g->nt) return NULL;
    if (!arena && g->t[g->t[t].root].kind != OC_TK_CONST) return NULL;
    return (float *)tensor_ptr(g, arena, t);
}

int oc_graph_num_inputs(const oc_graph *g) { return g ? g->ninputs : 0; }
int oc_graph_num_outputs(const oc_graph *g) { return g ? g->noutputs : 0; }
int oc_graph_num_nodes(const oc_graph *g) { return g ? g->nn : 0; }
int oc_graph_num_tensors(const oc_graph *g) { return g ? g->nt : 0; }

oc_tid oc_graph_output_tid(const oc_graph *g, int i)
{
    if (!g || i < 0 || i >= g->noutputs) return OC_NONE;
    return g->outputs[i].tid;
}

const char *oc_graph_output_name(const oc_graph *g, int i)
{
    if (!g || i < 0 || i >= g->noutputs) return NULL;
    return g->outputs[i].name;
}

const char *oc_graph_input_name(const oc_graph *g, int i)
{
    if (!g || i < 0 || i >= g->ninputs) return NULL;
    return g->t[g->inputs[i]].name;
}

oc_dtype oc_graph_input_dtype(const oc_graph *g, int i)
{
    if (!g || i < 0 || i >= g->ninputs) return OC_DTYPE_F32;
    return g->t[g->inputs[i]].dtype;
}

int oc_graph_output_is_export(const oc_graph *g, int i)
{
    if (!g || i < 0 || i >= g->noutputs) return 0;
    return g->outputs[i].exported;
}

oc_tid oc_graph_input_tid(const oc_graph *g, int i)
{
    if (!g || i < 0 || i >= g->ninputs) return OC_NONE;
    return g->inputs[i];
}

const char *oc_graph_tensor_name(const oc_graph *g, oc_tid t)
{
    if (!g || t < 0 || t >= g->nt) return NULL;
    return g->t[t].name;
}

oc_tid oc_graph_find(const oc_graph *g, const char *name)
{
    if (!g || !name) return OC_NONE;
    for (int i = 0; i < g->noutputs; i++)
        if (!strcmp(g->outputs[i].name, name)) return g->outputs[i].tid;
    /* the latest tensor with that name wins (a name may be reassigned) */
    for (int i = g->nt - 1; i >= 0; i--)
        if (g->t[i].name && !strcmp(g->t[i].name, name)) return i;
    return OC_NONE;
}

const char *oc_graph_node_op(const oc_graph *g, int i)
{
    if (!g || i < 0 || i >= g->nn) return NULL;
    return g->nodes[i].op;
}

oc_tid oc_graph_node_output(const oc_graph *g, int i)
{
    if (!g || i < 0 || i >= g->nn) return OC_NONE;
    return g->nodes[i].out;
}

int oc_graph_node_inplace_input(const oc_graph *g, int i)
{
    if (!g || i < 0 || i >= g->nn || !g->planned) return -1;
    return g->nodes[i].inplace_in;
}

double oc_graph_flops(const oc_graph *g)
{
    double f = 0;
    if (!g) return 0;
    for (int i = 0; i < g->nn; i++) f += g->nodes[i].flops;
    return f;
}

size_t oc_graph_arena_bytes(const oc_graph *g) { return g && g->planned ? g->arena_bytes : 0; }
size_t oc_graph_activation_bytes(const oc_graph *g)
{
    return g && g->planned ? g->activation_bytes : 0;
}
size_t oc_graph_scratch_bytes(const oc_graph *g) { return g && g->planned ? g->scratch_bytes : 0; }

oc_status oc_graph_tensor_plan(const oc_graph *g, oc_tid t, oc_tensor_plan *out)
{
    if (!g || !out) return oc_error(OC_ERR_INVALID_ARG, "oc_graph_tensor_plan: NULL argument");
    if (!g->planned) return oc_error(OC_ERR_INVALID_ARG, "oc_graph_tensor_plan: graph not planned");
    if (t < 0 || t >= g->nt)
        return oc_error(OC_ERR_INVALID_ARG, "oc_graph_tensor_plan: bad tensor id %d", t);
    const oc_gtensor *v = &g->t[t];
    const oc_gtensor *r = &g->t[v->root];
    memset(out, 0, sizeof *out);
    out->root = v->root;
    out->is_view = v->kind == OC_TK_VIEW;
    out->producer = v->producer;
    out->first = r->first;
    out->last = r->last;
    if (r->kind == OC_TK_CONST) {
        out->storage = v->root;
        out->in_arena = 0;
        return OC_OK;
    }
    const oc_gtensor *st = &g->t[r->store];
    out->storage = r->store;
    out->in_arena = 1;
    out->offset = st->offset + (size_t)v->elem_off * sizeof(float);
    out->bytes = st->bytes;
    return OC_OK;
}

int oc_graph_tensor_live_at_end(const oc_graph *g, oc_tid t)
{
    if (!g || !g->planned || t < 0 || t >= g->nt) return 0;
    const oc_gtensor *r = &g->t[g->t[t].root];
    if (r->kind == OC_TK_CONST) return 1;
    /* the storage block must not be reused after the tensor's own lifetime either: an
     * in-place successor overwrites it, so require the root itself to reach the end and no
     * in-place consumer */
    if (r->last < g->nn) return 0;
    for (int i = 0; i < g->nn; i++) {
        const oc_gnode *n = &g->nodes[i];
        if (n->inplace_in >= 0 && g->t[n->ins[n->inplace_in]].root == g->t[t].root) return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- executor ------------ */

oc_status oc_graph_run(oc_graph *g, const oc_ctx *ctx, void *arena,
                       const float *const *inputs, int n_inputs, oc_profile *prof)
{
    if (!g || !ctx) return oc_error(OC_ERR_INVALID_ARG, "oc_graph_run: NULL argument");
    oc_status st = oc_graph_status(g);
    if (st != OC_OK) return st;
    if (!g->planned)
        return oc_error(OC_ERR_INVALID_ARG, "oc_graph_run: the graph was not planned "
                        "(call oc_graph_plan after the last builder call)");
    if (n_inputs != g->ninputs)
        return oc_error(OC_ERR_INVALID_ARG, "oc_graph_run: %d inputs given, the graph has %d",
                        n_inputs, g->ninputs);
    if (g->arena_bytes && !arena)
        return oc_error(OC_ERR_INVALID_ARG, "oc_graph_run: NULL arena (%zu bytes needed)",
                        g->arena_bytes);
    if (((uintptr_t)arena & 63) != 0)
        return oc_error(OC_ERR_INVALID_ARG, "oc_graph_run: arena not 64-byte aligned");
    if (g->scratch_bytes && (!ctx->scratch || ctx->scratch_bytes < g->scratch_bytes))
        return oc_error(OC_ERR_INVALID_ARG, "oc_graph_run: scratch of %zu bytes given, the "
                        "plan needs %zu", ctx->scratch ? ctx->scratch_bytes : 0,
                        g->scratch_bytes);
    if (ctx->nthreads < 1)
        return oc_error(OC_ERR_INVALID_ARG, "oc_graph_run: nthreads %d < 1", ctx->nthreads);
    for (int i = 0; i < g->ninputs; i++) {
        if (!inputs || !inputs[i])
            return oc_error(OC_ERR_INVALID_ARG, "oc_graph_run: input %d is NULL", i);
    }
    for (int i = 0; i < g->ninputs; i++) {
        oc_tid t = g->inputs[i];
        size_t bytes = (size_t)oc_shape_numel(&g->t[t].shape) * sizeof(float);
        float *dst = (float *)tensor_ptr(g, arena, t);
        if (dst != inputs[i]) memmove(dst, inputs[i], bytes);
    }
    int profiling = prof && prof->enabled;
    double t_prev = profiling ? oc_now_ms() : 0;
    for (int i = 0; i < g->nn; i++) {
        const oc_gnode *n = &g->nodes[i];
        for (int k = 0; k < n->nin; k++) {
            g->run_ptrs[k] = tensor_ptr(g, arena, n->ins[k]);
            g->run_shapes[k] = g->t[n->ins[k]].shape;
        }
        float *out = (float *)tensor_ptr(g, arena, n->out);
        n->exec(ctx, n, g->run_ptrs, g->run_shapes, out, &g->t[n->out].shape);
        if (profiling) {
            double t_now = oc_now_ms();
            g->prof_ms[i] = t_now - t_prev;
            t_prev = t_now;
        }
    }
    if (prof) {
        prof->n = g->nn;
        prof->ms = g->prof_ms;
        prof->names = g->prof_names;
        prof->ops = g->prof_ops;
        prof->flops = g->prof_flops;
        if (!profiling && g->prof_ms) memset(g->prof_ms, 0, (size_t)g->nn * sizeof(double));
    }
    return OC_OK;
}

/* ---------------------------------------------------------------- profile table ------- */

static int cmp_ms_desc(const void *a, const void *b, void *arg)
{
    const oc_profile *p = arg;
    int ia = *(const int *)a, ib = *(const int *)b;
    if (p->ms[ia] > p->ms[ib]) return -1;
    if (p->ms[ia] < p->ms[ib]) return 1;
    return ia - ib;
}

oc_status oc_profile_print(const oc_profile *p, FILE *f)
{
    if (!p || !f) return oc_error(OC_ERR_INVALID_ARG, "oc_profile_print: NULL argument");
    if (p->n < 0 || (p->n > 0 && (!p->ms || !p->names || !p->ops || !p->flops)))
        return oc_error(OC_ERR_INVALID_ARG, "oc_profile_print: no profile recorded (run with "
                        "profiling on first)");
    int *order = oc_malloc((size_t)(p->n > 0 ? p->n : 1) * sizeof(int));
    if (!order) return oc_error(OC_ERR_NOMEM, "oc_profile_print: out of memory");
    double total_ms = 0, total_flops = 0;
    for (int i = 0; i < p->n; i++) {
        order[i] = i;
        total_ms += p->ms[i];
        total_flops += p->flops[i];
    }
    qsort_r(order, (size_t)p->n, sizeof(int), cmp_ms_desc, (void *)p);
    fprintf(f, "%-32s %-18s %10s %10s %8s\n", "node", "op", "ms", "GFLOP/s", "share%");
    for (int k = 0; k < p->n; k++) {
        int i = order[k];
        double gf = p->ms[i] > 0 ? p->flops[i] / (p->ms[i] * 1e6) : 0.0;
        double share = total_ms > 0 ? 100.0 * p->ms[i] / total_ms : 0.0;
        fprintf(f, "%-32s %-18s %10.3f %10.2f %8.2f\n", p->names[i] ? p->names[i] : "?",
                p->ops[i] ? p->ops[i] : "?", p->ms[i], gf, share);
    }
    double gf = total_ms > 0 ? total_flops / (total_ms * 1e6) : 0.0;
    fprintf(f, "%-32s %-18s %10.3f %10.2f %8.2f\n", "TOTAL", "", total_ms, gf,
            total_ms > 0 ? 100.0 : 0.0);
    /* per op type: count, time, GFLOP/s, share (sorted by time) */
    int nops = 0;
    int *first_of = oc_malloc((size_t)(p->n > 0 ? p->n : 1) * sizeof(int));
    double *op_ms = oc_calloc((size_t)(p->n > 0 ? p->n : 1), sizeof(double));
    double *op_fl = oc_calloc((size_t)(p->n > 0 ? p->n : 1), sizeof(double));
    int *op_cnt = oc_calloc((size_t)(p->n > 0 ? p->n : 1), sizeof(int));
    if (first_of && op_ms && op_fl && op_cnt) {
        for (int i = 0; i < p->n; i++) {
            const char *op = p->ops[i] ? p->ops[i] : "?";
            int k;
            for (k = 0; k < nops; k++) {
                const char *o2 = p->ops[first_of[k]] ? p->ops[first_of[k]] : "?";
                if (!strcmp(o2, op)) break;
            }
            if (k == nops) first_of[nops++] = i;
            op_ms[k] += p->ms[i];
            op_fl[k] += p->flops[i];
            op_cnt[k]++;
        }
        for (int k = 0; k < nops; k++) order[k] = k;
        /* sort op indices by time (insertion sort: few op types) */
        for (int a = 1; a < nops; a++)
            for (int b = a; b > 0 && op_ms[order[b]] > op_ms[order[b - 1]]; b--) {
                int t = order[b];
                order[b] = order[b - 1];
                order[b - 1] = t;
            }
        fprintf(f, "%-32s %-18s %10s %10s %8s\n", "by op (count)", "op", "ms", "GFLOP/s",
                "share%");
        for (int a = 0; a < nops; a++) {
            int k = order[a];
            char cnt[40];
            snprintf(cnt, sizeof cnt, "  x%d", op_cnt[k]);
            double g2 = op_ms[k] > 0 ? op_fl[k] / (op_ms[k] * 1e6) : 0.0;
            fprintf(f, "%-32s %-18s %10.3f %10.2f %8.2f\n", cnt,
                    p->ops[first_of[k]] ? p->ops[first_of[k]] : "?", op_ms[k], g2,
                    total_ms > 0 ? 100.0 * op_ms[k] / total_ms : 0.0);
        }
    }
    oc_free(first_of);
    oc_free(op_ms);
    oc_free(op_fl);
    oc_free(op_cnt);
    fprintf(f, "nodes %d, %.3f GFLOP, %.3f ms\n", p->n, total_flops / 1e9, total_ms);
    oc_free(order);
    return OC_OK;
}
