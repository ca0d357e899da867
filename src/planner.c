/* planner.c -- the memory planner: lifetimes from first/last use per storage root, in-place
 * reuse for elementwise nodes, greedy offset assignment (largest first, 64-byte aligned),
 * and the scratch size over all nodes. */
#include "graph_impl.h"

#include <stdlib.h>
#include <string.h>

#define OC_PLAN_ALIGN 64

typedef struct {
    oc_tid id;
    size_t bytes;
    int first, last;
    size_t offset;
} plan_block;

static int cmp_block(const void *a, const void *b)
{
    const plan_block *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return x->id - y->id;
}

static int imax(int a, int b) { return a > b ? a : b; }

oc_status oc_graph_plan(oc_graph *g, int keep_named, oc_isa isa, int nthreads)
{
    if (!g) return oc_error(OC_ERR_INVALID_ARG, "oc_graph_plan: NULL graph");
    oc_status st = oc_graph_status(g);
    if (st != OC_OK) return st;
    if (nthreads < 1)
        return oc_error(OC_ERR_INVALID_ARG, "oc_graph_plan: nthreads %d < 1", nthreads);
    oc_g_plan_reset(g);
    const int nt = g->nt, nn = g->nn;
    int *gfirst = NULL, *glast = NULL;
    plan_block *blocks = NULL;
    plan_block **conf = NULL;
    oc_tid *store = NULL;
    st = OC_OK;

    store = oc_malloc((size_t)(nt ? nt : 1) * sizeof *store);
    gfirst = oc_malloc((size_t)(nt ? nt : 1) * sizeof *gfirst);
    glast = oc_malloc((size_t)(nt ? nt : 1) * sizeof *glast);
    blocks = oc_malloc((size_t)(nt ? nt : 1) * sizeof *blocks);
    conf = oc_malloc((size_t)(nt ? nt : 1) * sizeof *conf);
    if (!store || !gfirst || !glast || !blocks || !conf) {
        st = oc_error(OC_ERR_NOMEM, "oc_graph_plan: out of memory (%d tensors)", nt);
        goto done;
    }

    /* 1. lifetimes per root */
    for (int i = 0; i < nt; i++) {
        oc_gtensor *t = &g->t[i];
        t->store = i;
        t->offset = 0;
        t->bytes = 0;
        if (t->kind == OC_TK_INPUT) {
            t->first = -1;
            t->last = -1;
        } else if (t->kind == OC_TK_INTER) {
            t->first = t->last = t->producer;
        } else {
            t->first = -1;
            t->last = -1;
        }
    }
    for (int i = 0; i < nn; i++) {
        const oc_gnode *n = &g->nodes[i];
        for (int k = 0; k < n->nin; k++) {
            oc_gtensor *r = &g->t[g->t[n->ins[k]].root];
            r->last = imax(r->last, i);
        }
    }
    for (int i = 0; i < nt; i++) {
        oc_gtensor *t = &g->t[i];
        if (t->is_output || (keep_named && t->name)) g->t[t->root].last = nn;
    }
    for (int i = 0; i < nt; i++) {
        store[i] = i;
        gfirst[i] = g->t[i].first;
        glast[i] = g->t[i].last;
    }

    /* 2. in place: the output takes over an operand's block when that operand is a plain
     * intermediate (not input/output/kept/view/const) whose whole block dies here */
    for (int i = 0; i < nn; i++) {
        oc_gnode *n = &g->nodes[i];
        n->inplace_in = -1;
        if (!n->inplace_mask) continue;
        int64_t out_numel = oc_shape_numel(&g->t[n->out].shape);
        for (int k = 0; k < n->nin && k < 32; k++) {
            if (!(n->inplace_mask & (1u << k))) continue;
            oc_tid x = n->ins[k];
            const oc_gtensor *t = &g->t[x];
            if (t->kind != OC_TK_INTER || t->root != x || t->is_output) continue;
            if (t->last != i) continue;
            if (oc_shape_numel(&t->shape) != out_numel) continue;
            oc_tid s = store[x];
            if (glast[s] != i) continue;
            int shared = 0;
            for (int j = 0; j < n->nin; j++)
                if (j != k && g->t[n->ins[j]].root == x) shared = 1;
            if (shared) continue;
            store[n->out] = s;
            glast[s] = imax(glast[s], g->t[n->out].last);
            n->inplace_in = k;
            break;
        }
    }

    /* 3. blocks: one per storage owner in the arena */
    int nb = 0;
    uint64_t all_acts = 0; /* what the activations would take without reuse or in-place */
    for (int i = 0; i < nt; i++) {
        const oc_gtensor *t = &g->t[i];
        if (t->kind == OC_TK_CONST || t->kind == OC_TK_VIEW) continue;
        uint64_t bytes = (uint64_t)oc_shape_numel(&t->shape) * sizeof(float);
        all_acts += (bytes + OC_PLAN_ALIGN - 1) / OC_PLAN_ALIGN * OC_PLAN_ALIGN;
    }
    for (int i = 0; i < nt; i++) {
        const oc_gtensor *t = &g->t[i];
        if (t->kind == OC_TK_CONST || t->kind == OC_TK_VIEW) continue;
        if (store[i] != i) continue;
        uint64_t bytes = (uint64_t)oc_shape_numel(&t->shape) * sizeof(float);
        bytes = (bytes + OC_PLAN_ALIGN - 1) / OC_PLAN_ALIGN * OC_PLAN_ALIGN;
        blocks[nb].id = i;
        blocks[nb].bytes = (size_t)bytes;
        blocks[nb].first = gfirst[i];
        blocks[nb].last = glast[i];
        blocks[nb].offset = 0;
        nb++;
    }
    qsort(blocks, (size_t)nb, sizeof *blocks, cmp_block);
    /* conf: the blocks placed so far, kept sorted by offset; a new block goes to the lowest
     * gap among those whose lifetime overlaps its own */
    size_t arena = 0;
    int nplaced = 0;
    for (int b = 0; b < nb; b++) {
        plan_block *cur = &blocks[b];
        size_t at = 0;
        for (int c = 0; c < nplaced; c++) {
            const plan_block *o = conf[c];
            if (o->first > cur->last || cur->first > o->last) continue;
            if (o->offset >= at && o->offset - at >= cur->bytes) break;
            size_t end = o->offset + o->bytes;
            if (end > at) at = end;
        }
        cur->offset = at;
        uint64_t top;
        if (!oc_add_u64(at, cur->bytes, &top) || top > (uint64_t)SIZE_MAX / 2) {
            st = oc_error(OC_ERR_NOMEM, "oc_graph_plan: arena size overflows");
            goto done;
        }
        if (top > arena) arena = (size_t)top;
        int pos = nplaced;
        while (pos > 0 && conf[pos - 1]->offset > at) pos--;
        memmove(conf + pos + 1, conf + pos, (size_t)(nplaced - pos) * sizeof *conf);
        conf[pos] = cur;
        nplaced++;
    }
    for (int b = 0; b < nb; b++) {
        g->t[blocks[b].id].offset = blocks[b].offset;
        g->t[blocks[b].id].bytes = blocks[b].bytes;
    }
    for (int i = 0; i < nt; i++) g->t[i].store = store[i];
    g->arena_bytes = arena;
    g->activation_bytes = all_acts > SIZE_MAX ? SIZE_MAX : (size_t)all_acts;

    /* 4. scratch and run-time arrays */
    int max_nin = 1;
    for (int i = 0; i < nn; i++) max_nin = imax(max_nin, g->nodes[i].nin);
    g->max_nin = max_nin;
    g->run_ptrs = oc_calloc((size_t)max_nin, sizeof *g->run_ptrs);
    g->run_shapes = oc_calloc((size_t)max_nin, sizeof *g->run_shapes);
    size_t pn = (size_t)(nn ? nn : 1);
    g->prof_ms = oc_calloc(pn, sizeof *g->prof_ms);
    g->prof_names = oc_calloc(pn, sizeof *g->prof_names);
    g->prof_ops = oc_calloc(pn, sizeof *g->prof_ops);
    g->prof_flops = oc_calloc(pn, sizeof *g->prof_flops);
    g->prof_name_store = oc_calloc(pn, sizeof *g->prof_name_store);
    g->plan_nn = g->prof_name_store ? nn : 0;
    if (!g->run_ptrs || !g->run_shapes || !g->prof_ms || !g->prof_names || !g->prof_ops ||
        !g->prof_flops || !g->prof_name_store) {
        st = oc_error(OC_ERR_NOMEM, "oc_graph_plan: out of memory");
        goto done;
    }
    size_t scratch = 0;
    for (int i = 0; i < nn; i++) {
        const oc_gnode *n = &g->nodes[i];
        if (n->scratch) {
            for (int k = 0; k < n->nin; k++) g->run_shapes[k] = g->t[n->ins[k]].shape;
            size_t s = n->scratch(n, g->run_shapes, &g->t[n->out].shape, isa, nthreads);
            if (s > scratch) scratch = s;
        }
        g->prof_ops[i] = n->op;
        g->prof_flops[i] = n->flops;
        const char *nm = g->t[n->out].name;
        if (!nm) {
            char buf[64];
            snprintf(buf, sizeof buf, "%s#%d", n->op, i);
            g->prof_name_store[i] = oc_strdup(buf);
            nm = g->prof_name_store[i] ? g->prof_name_store[i] : n->op;
        }
        g->prof_names[i] = nm;
    }
    g->scratch_bytes = (scratch + OC_PLAN_ALIGN - 1) / OC_PLAN_ALIGN * OC_PLAN_ALIGN;
    g->keep_named = keep_named;
    g->planned = 1;

done:
    oc_free(store);
    oc_free(gfirst);
    oc_free(glast);
    oc_free(blocks);
    oc_free(conf);
    if (st != OC_OK) oc_g_plan_reset(g);
    return st;
}
