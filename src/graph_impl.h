/* graph_impl.h -- the graph's private data, shared by src/graph.c, src/planner.c and
 * src/graph_ops.c only (not part of any contract). */
#ifndef OC_GRAPH_IMPL_H
#define OC_GRAPH_IMPL_H

#include "graph.h"

typedef enum {
    OC_TK_INPUT = 0,   /* copied into the arena by oc_graph_run */
    OC_TK_INTER,       /* produced by a node, lives in the arena */
    OC_TK_CONST,       /* caller-owned data outside the arena */
    OC_TK_VIEW         /* zero-copy view of a root tensor at an element offset */
} oc_tkind;

struct oc_gnode;
/* ins/in_shapes have n->nin entries; out is the output tensor's storage */
typedef void (*oc_node_exec)(const oc_ctx *ctx, const struct oc_gnode *n,
                             const float *const *ins, const oc_shape *in_shapes, float *out,
                             const oc_shape *out_shape);
typedef size_t (*oc_node_scratch)(const struct oc_gnode *n, const oc_shape *in_shapes,
                                  const oc_shape *out_shape, oc_isa isa, int nthreads);

typedef struct oc_gtensor {
    oc_shape shape;
    char *name;            /* NULL unless named */
    oc_tkind kind;
    int is_output;
    oc_dtype dtype;        /* OC_TK_INPUT: what the caller gives (compute is float32) */
    const float *cdata;    /* OC_TK_CONST */
    oc_tid root;           /* OC_TK_VIEW: the (non-view) root; else itself */
    int64_t elem_off;      /* OC_TK_VIEW: element offset in the root */
    int producer;          /* node index, -1 for inputs/consts/views */
    /* planner results (roots only, views use their root's) */
    oc_tid store;          /* storage owner after in-place merging (a root) */
    size_t offset, bytes;  /* store's arena offset / bytes (valid for the store) */
    int first, last;       /* lifetime of this root (node indices; -1 = before the first) */
} oc_gtensor;

typedef struct oc_gnode {
    char *op;
    int nin;
    oc_tid *ins;
    oc_tid out;
    oc_node_exec exec;
    oc_node_scratch scratch;
    oc_custom_fn custom;
    void *params;
    size_t params_size;
    double flops;
    unsigned inplace_mask;  /* bit i: input i may share the output's storage */
    int inplace_in;         /* planner: index of the input whose storage is reused, or -1 */
} oc_gnode;

typedef struct {
    oc_tid tid;
    char *name;
    int exported;          /* persists in the session for later stages */
} oc_goutput;

struct oc_graph {
    oc_status status;
    char errmsg[1024];
    struct oc_weight_cache *wcache; /* the model's packed weights, or NULL */

    oc_gtensor *t;
    int nt, capt;
    oc_gnode *nodes;
    int nn, capn;
    oc_tid *inputs;
    int ninputs, capin;
    oc_goutput *outputs;
    int noutputs, capout;

    /* plan */
    int planned;
    int keep_named;
    size_t arena_bytes, scratch_bytes;
    size_t activation_bytes;    /* every activation's own bytes, as if none shared memory */
    int max_nin;
    const float **run_ptrs;     /* max_nin */
    oc_shape *run_shapes;       /* max_nin */
    double *prof_ms;            /* nn */
    const char **prof_names;    /* nn */
    const char **prof_ops;      /* nn */
    double *prof_flops;         /* nn */
    char **prof_name_store;     /* plan_nn generated names */
    int plan_nn;                /* nodes when planned */
};

/* record a failure (sets the thread's message and the graph's sticky status); returns
 * OC_NONE so builders can `return oc_g_failf(...)`. Keeps only the first failure. */
oc_tid oc_g_failf(oc_graph *g, oc_status st, const char *fmt, ...) OC_PRINTF(3, 4);
/* usable tensor id? (also fails the graph when not, naming op) */
int oc_g_check_tid(oc_graph *g, oc_tid t, const char *op);
/* validate a shape (ndim 0..OC_MAX_DIMS, dims >= 1, byte size fits) */
int oc_shape_valid(const oc_shape *s);
int oc_shape_equal(const oc_shape *a, const oc_shape *b);
/* add an intermediate tensor produced by a new node; returns the output tid or OC_NONE.
 * params (params_size bytes) are copied. */
oc_tid oc_g_add_node(oc_graph *g, const char *op, const oc_tid *ins, int nin, oc_shape out,
                     oc_node_exec exec, oc_node_scratch scratch, const void *params,
                     size_t params_size, double flops, unsigned inplace_mask);
/* add a view of x's root */
oc_tid oc_g_add_view(oc_graph *g, oc_tid x, oc_shape s, int64_t elem_off);
/* name of a tensor for messages: "'name'" or "#id" */
const char *oc_g_tname(const oc_graph *g, oc_tid t, char *buf, size_t n);

/* free the plan's arrays and mark the graph unplanned */
void oc_g_plan_reset(oc_graph *g);

#endif
