/* session.c -- oc_session_*: one caller's graph, plan, activation arena and scratch on a
 * shared, read-only oc_model. The graph is (re)built by the model family's build() for the
 * input shape on the first run and whenever a shape changes; it is re-planned when
 * keep_layers or the thread count change. After that a run allocates nothing. */
#include "detect.h"
#include "model.h"

#include <stdlib.h>
#include <string.h>

#define OC_SESSION_MAX_INPUTS 16

struct oc_session {
    const oc_model *m;
    int nthreads;
    int keep_layers;
    int profile;
    oc_graph *g;
    int n_in;                                         /* shapes the graph was built for */
    int in_ndim[OC_SESSION_MAX_INPUTS];
    int64_t in_dims[OC_SESSION_MAX_INPUTS][OC_MAX_DIMS];
    int planned;                                      /* plan matches keep_layers/nthreads */
    void *arena;
    size_t arena_cap;
    void *scratch;
    size_t scratch_cap;
    oc_profile prof;
    int has_run;
    int has_profile;
};

static int env_profile(void)
{
    const char *v = getenv("OCELLUS_PROFILE");
    return v && *v && strcmp(v, "0") != 0;
}

oc_status oc_session_create(const oc_model *m, oc_session **out)
{
    if (!out) return oc_error(OC_ERR_INVALID_ARG, "oc_session_create: NULL output pointer");
    *out = NULL;
    if (!m || !m->arch) return oc_error(OC_ERR_INVALID_ARG, "oc_session_create: NULL model");
    oc_session *s = oc_calloc(1, sizeof *s);
    if (!s) return oc_error(OC_ERR_NOMEM, "oc_session_create: out of memory");
    s->m = m;
    s->nthreads = oc_get_num_threads();
    if (s->nthreads < 1) s->nthreads = 1;
    s->profile = env_profile();
    *out = s;
    return OC_OK;
}

void oc_session_free(oc_session *s)
{
    if (!s) return;
    oc_graph_free(s->g);
    oc_free(s->arena);
    oc_free(s->scratch);
    oc_free(s);
}

oc_status oc_session_set_num_threads(oc_session *s, int n)
{
    if (!s) return oc_error(OC_ERR_INVALID_ARG, "oc_session_set_num_threads: NULL session");
    if (n < 1 || n > 1024)
        return oc_error(OC_ERR_INVALID_ARG, "oc_session_set_num_threads: %d is not in [1, 1024]",
                        n);
    if (n != s->nthreads) s->planned = 0; /* scratch depends on the thread count */
    s->nthreads = n;
    return OC_OK;
}

oc_status oc_session_set_keep_layers(oc_session *s, int keep)
{
    if (!s) return oc_error(OC_ERR_INVALID_ARG, "oc_session_set_keep_layers: NULL session");
    keep = keep ? 1 : 0;
    if (keep != s->keep_layers) s->planned = 0;
    s->keep_layers = keep;
    return OC_OK;
}

oc_status oc_session_set_profile(oc_session *s, int on)
{
    if (!s) return oc_error(OC_ERR_INVALID_ARG, "oc_session_set_profile: NULL session");
    s->profile = on ? 1 : 0;
    return OC_OK;
}

oc_status oc_session_print_profile(const oc_session *s, FILE *f)
{
    if (!s || !f) return oc_error(OC_ERR_INVALID_ARG, "oc_session_print_profile: NULL argument");
    if (!s->has_profile || !s->g)
        return oc_error(OC_ERR_INVALID_ARG, "oc_session_print_profile: no profile yet (turn "
                        "profiling on with oc_session_set_profile or OCELLUS_PROFILE=1, then "
                        "run)");
    return oc_profile_print(&s->prof, f);
}

static const char *shape_str(int ndim, const int64_t *d, char *buf, size_t n)
{
    oc_shape s;
    s.ndim = ndim;
    for (int i = 0; i < ndim && i < OC_MAX_DIMS; i++) s.d[i] = d[i];
    size_t used = 0;
    used += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < s.ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)s.d[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
    return buf;
}

static int same_shapes(const oc_session *s, const oc_tensor *in, int n)
{
    if (!s->g || s->n_in != n) return 0;
    for (int i = 0; i < n; i++) {
        if (in[i].ndim != s->in_ndim[i]) return 0;
        for (int k = 0; k < in[i].ndim; k++)
            if (in[i].dims[k] != s->in_dims[i][k]) return 0;
    }
    return 1;
}

static oc_status rebuild(oc_session *s, const oc_tensor *in, int n)
{
    const oc_model *m = s->m;
    oc_graph_free(s->g);
    s->g = NULL;
    s->planned = 0;
    s->has_run = 0;
    s->has_profile = 0;
    s->n_in = 0;
    if (in[0].ndim != 4)
        return oc_error(OC_ERR_SHAPE, "oc_session_run: input 0 must be NCHW (4 dims), got %d "
                        "dims", in[0].ndim);
    if (in[0].dims[0] > INT32_MAX || in[0].dims[2] > INT32_MAX || in[0].dims[3] > INT32_MAX)
        return oc_error(OC_ERR_SHAPE, "oc_session_run: input 0 is too large");
    oc_graph *g = oc_graph_new();
    if (!g) return oc_error(OC_ERR_NOMEM, "oc_session_run: out of memory");
    oc_status st = m->arch->build(m, g, (int)in[0].dims[0], (int)in[0].dims[2],
                                  (int)in[0].dims[3]);
    if (st == OC_OK) st = oc_graph_status(g);
    if (st != OC_OK) {
        oc_graph_free(g);
        return oc_error_prefix(st, "%s: building the %s graph for %lldx%lldx%lldx%lld: ",
                               m->path ? m->path : "model", m->arch->name,
                               (long long)in[0].dims[0], (long long)in[0].dims[1],
                               (long long)in[0].dims[2], (long long)in[0].dims[3]);
    }
    if (oc_graph_num_inputs(g) != n) {
        int want = oc_graph_num_inputs(g);
        oc_graph_free(g);
        return oc_error(OC_ERR_INVALID_ARG, "oc_session_run: %d inputs given, the %s graph takes "
                        "%d", n, m->arch->name, want);
    }
    for (int i = 0; i < n; i++) {
        oc_shape gs = oc_g_shape(g, oc_graph_input_tid(g, i));
        int same = gs.ndim == in[i].ndim;
        for (int k = 0; same && k < gs.ndim; k++)
            if (gs.d[k] != in[i].dims[k]) same = 0;
        if (!same) {
            char a[128], b[128];
            const char *nm = oc_graph_tensor_name(g, oc_graph_input_tid(g, i));
            shape_str(in[i].ndim, in[i].dims, a, sizeof a);
            shape_str(gs.ndim, gs.d, b, sizeof b);
            oc_error(OC_ERR_SHAPE, "oc_session_run: input %d ('%s') is %s, the %s graph "
                     "expects %s", i, nm ? nm : "?", a, m->arch->name, b);
            oc_graph_free(g);
            return OC_ERR_SHAPE;
        }
    }
    s->g = g;
    s->n_in = n;
    for (int i = 0; i < n; i++) {
        s->in_ndim[i] = in[i].ndim;
        memcpy(s->in_dims[i], in[i].dims, sizeof s->in_dims[i]);
    }
    return OC_OK;
}

static oc_status replan(oc_session *s)
{
    oc_status st = oc_graph_plan(s->g, s->keep_layers, s->m->isa, s->nthreads);
    if (st != OC_OK) return st;
    size_t ab = oc_graph_arena_bytes(s->g), sb = oc_graph_scratch_bytes(s->g);
    if (ab > s->arena_cap || !s->arena) {
        oc_free(s->arena);
        s->arena_cap = 0;
        s->arena = oc_malloc(ab ? ab : 64);
        if (!s->arena)
            return oc_error(OC_ERR_NOMEM, "oc_session_run: cannot allocate the %zu-byte "
                            "activation arena", ab);
        s->arena_cap = ab;
    }
    if (sb > s->scratch_cap) {
        oc_free(s->scratch);
        s->scratch_cap = 0;
        s->scratch = oc_malloc(sb);
        if (!s->scratch)
            return oc_error(OC_ERR_NOMEM, "oc_session_run: cannot allocate %zu bytes of scratch",
                            sb);
        s->scratch_cap = sb;
    }
    s->planned = 1;
    return OC_OK;
}

static oc_status prepare(oc_session *s, const oc_tensor *inputs, int n_inputs, int need_data,
                         const char *fn)
{
    if (!s) return oc_error(OC_ERR_INVALID_ARG, "%s: NULL session", fn);
    if (!inputs || n_inputs < 1 || n_inputs > OC_SESSION_MAX_INPUTS)
        return oc_error(OC_ERR_INVALID_ARG, "%s: bad inputs (%d given)", fn, n_inputs);
    for (int i = 0; i < n_inputs; i++) {
        if (need_data && !inputs[i].data)
            return oc_error(OC_ERR_INVALID_ARG, "%s: input %d has no data", fn, i);
        if (inputs[i].ndim < 1 || inputs[i].ndim > OC_MAX_DIMS)
            return oc_error(OC_ERR_SHAPE, "%s: input %d has %d dims", fn, i, inputs[i].ndim);
        for (int k = 0; k < inputs[i].ndim; k++)
            if (inputs[i].dims[k] < 1)
                return oc_error(OC_ERR_SHAPE, "%s: input %d has dim %d = %lld", fn, i, k,
                                (long long)inputs[i].dims[k]);
    }
    oc_status st;
    if (!same_shapes(s, inputs, n_inputs)) {
        st = rebuild(s, inputs, n_inputs);
        if (st != OC_OK) return st;
    }
    if (!s->planned) {
        s->has_run = 0;
        st = replan(s);
        if (st != OC_OK) return st;
    }
    return OC_OK;
}

oc_status oc_session_prepare(oc_session *s, const oc_tensor *inputs, int n_inputs)
{
    return prepare(s, inputs, n_inputs, 0, "oc_session_prepare");
}

oc_status oc_session_run(oc_session *s, const oc_tensor *inputs, int n_inputs)
{
    oc_status st = prepare(s, inputs, n_inputs, 1, "oc_session_run");
    if (st != OC_OK) {
        if (s) s->has_run = 0;
        return st;
    }
    const float *ptrs[OC_SESSION_MAX_INPUTS];
    for (int i = 0; i < n_inputs; i++) ptrs[i] = inputs[i].data;
    oc_ctx ctx;
    ctx.isa = s->m->isa;
    ctx.nthreads = s->nthreads;
    ctx.scratch = s->scratch;
    ctx.scratch_bytes = s->scratch_cap;
    memset(&s->prof, 0, sizeof s->prof);
    s->prof.enabled = s->profile;
    st = oc_graph_run(s->g, &ctx, s->arena, ptrs, n_inputs, &s->prof);
    s->has_run = st == OC_OK;
    s->has_profile = s->has_run && s->profile;
    if (st != OC_OK) return st;
    if (s->profile) oc_profile_print(&s->prof, stderr);
    return OC_OK;
}

int oc_session_num_outputs(const oc_session *s)
{
    return s && s->g ? oc_graph_num_outputs(s->g) : 0;
}

static void fill_tensor(const oc_session *s, oc_tid t, const char *name, oc_tensor *out)
{
    memset(out, 0, sizeof *out);
    oc_shape sh = oc_g_shape(s->g, t);
    out->name = name;
    out->ndim = sh.ndim;
    for (int i = 0; i < sh.ndim; i++) out->dims[i] = sh.d[i];
    out->data = oc_graph_data(s->g, s->arena, t);
}

oc_status oc_session_output(const oc_session *s, int i, oc_tensor *out)
{
    if (!s || !out) return oc_error(OC_ERR_INVALID_ARG, "oc_session_output: NULL argument");
    if (!s->has_run)
        return oc_error(OC_ERR_INVALID_ARG, "oc_session_output: no successful run yet");
    int n = oc_graph_num_outputs(s->g);
    if (i < 0 || i >= n)
        return oc_error(OC_ERR_INVALID_ARG, "oc_session_output: output %d out of range (the "
                        "model has %d)", i, n);
    fill_tensor(s, oc_graph_output_tid(s->g, i), oc_graph_output_name(s->g, i), out);
    return OC_OK;
}

oc_status oc_session_tensor(const oc_session *s, const char *name, oc_tensor *out)
{
    if (!s || !name || !out) return oc_error(OC_ERR_INVALID_ARG, "oc_session_tensor: NULL argument");
    if (!s->has_run)
        return oc_error(OC_ERR_INVALID_ARG, "oc_session_tensor: no successful run yet");
    for (int i = 0; i < oc_graph_num_outputs(s->g); i++)
        if (!strcmp(oc_graph_output_name(s->g, i), name)) {
            fill_tensor(s, oc_graph_output_tid(s->g, i), oc_graph_output_name(s->g, i), out);
            return OC_OK;
        }
    oc_tid t = oc_graph_find(s->g, name);
    if (t == OC_NONE)
        return oc_error(OC_ERR_INVALID_ARG, "oc_session_tensor: the %s graph has no tensor "
                        "named '%s'", s->m->arch->name, name);
    if (!oc_graph_tensor_live_at_end(s->g, t))
        return oc_error(OC_ERR_INVALID_ARG, "oc_session_tensor: '%s' is not kept after a run "
                        "(call oc_session_set_keep_layers(s, 1) before running)", name);
    fill_tensor(s, t, oc_graph_tensor_name(s->g, t), out);
    return OC_OK;
}

size_t oc_session_arena_bytes(const oc_session *s)
{
    return s && s->g ? oc_graph_arena_bytes(s->g) : 0;
}

double oc_session_flops(const oc_session *s)
{
    return s && s->g ? oc_graph_flops(s->g) : 0.0;
}

/* The model a session runs (declared in src/detect.h; internal). */
const struct oc_model *oc_session_model(const oc_session *s)
{
    return s ? s->m : NULL;
}
