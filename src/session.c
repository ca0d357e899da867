/* session.c -- oc_session_*: one caller's stages (graph, plan, activation arena each), the
 * scratch they share and the tensors stages export, on a shared, read-only oc_model.
 *
 * A stage's graph is built by the model family's build() from descriptors of every tensor
 * available by name (the caller's inputs plus what OTHER stages exported), on the stage's
 * first run and whenever a name, shape or dtype among them changes; it is re-planned when
 * keep_layers or the thread count change. Graph inputs are fed by name; integer inputs are
 * converted to float32 straight into the arena. After the first run of a given shape a run
 * allocates nothing (exports are copied into buffers that only grow). */
#include "model.h"
#include "session.h"

#include <stdlib.h>
#include <string.h>

#define OC_SESSION_MAX_INPUTS 256
#define OC_SESSION_MAX_EXPORTS 32
#define OC_SESSION_MAX_DESC (OC_SESSION_MAX_INPUTS + OC_SESSION_MAX_EXPORTS)

enum { SRC_CALLER = 0, SRC_EXPORT = 1 };

typedef struct {
    char *name;
    int stage;          /* the stage that exports it */
    int ndim;
    int64_t dims[OC_MAX_DIMS];
    float *data;
    size_t cap;         /* floats allocated */
    int valid;
} oc_persist;

typedef struct {
    const char *name;   /* the arch's stage name ("main" for single-stage archs) */
    oc_graph *g;
    /* the descriptors the graph was built for (names owned) */
    int n_desc;
    oc_io_desc desc[OC_SESSION_MAX_DESC];
    char *desc_names[OC_SESSION_MAX_DESC];
    /* where each graph input comes from (valid while the descriptors are unchanged) */
    int n_gin;
    int *src_kind, *src_idx;
    int planned;
    void *arena;
    size_t arena_cap;
    int has_run;
    int has_profile;
    oc_profile prof;
} oc_stage_state;

struct oc_session {
    const oc_model *m;
    int nthreads;
    int keep_layers;
    int profile;
    int nstages;
    oc_stage_state *stages;
    int cur;            /* last prepared or run stage, -1 before any */
    void *scratch;
    size_t scratch_cap;
    oc_persist persist[OC_SESSION_MAX_EXPORTS];
    int npersist;
    int64_t task_slot[4];
    void *task_work;    /* oc_session_task_work: grows only */
    size_t task_work_cap;
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
    s->nstages = oc_arch_num_stages(m->arch);
    s->stages = oc_calloc((size_t)s->nstages, sizeof *s->stages);
    if (!s->stages) {
        oc_free(s);
        return oc_error(OC_ERR_NOMEM, "oc_session_create: out of memory");
    }
    for (int i = 0; i < s->nstages; i++) s->stages[i].name = oc_arch_stage(m->arch, i);
    s->cur = -1;
    s->nthreads = oc_get_num_threads();
    if (s->nthreads < 1) s->nthreads = 1;
    s->profile = env_profile();
    *out = s;
    return OC_OK;
}

static void stage_reset_graph(oc_stage_state *st)
{
    oc_graph_free(st->g);
    st->g = NULL;
    for (int i = 0; i < st->n_desc; i++) oc_free(st->desc_names[i]);
    st->n_desc = 0;
    oc_free(st->src_kind);
    oc_free(st->src_idx);
    st->src_kind = st->src_idx = NULL;
    st->n_gin = 0;
    st->planned = 0;
    st->has_run = 0;
    st->has_profile = 0;
}

void oc_session_free(oc_session *s)
{
    if (!s) return;
    for (int i = 0; i < s->nstages; i++) {
        stage_reset_graph(&s->stages[i]);
        oc_free(s->stages[i].arena);
    }
    oc_free(s->stages);
    for (int i = 0; i < s->npersist; i++) {
        oc_free(s->persist[i].name);
        oc_free(s->persist[i].data);
    }
    oc_free(s->scratch);
    oc_free(s->task_work);
    oc_free(s);
}

oc_status oc_session_set_num_threads(oc_session *s, int n)
{
    if (!s) return oc_error(OC_ERR_INVALID_ARG, "oc_session_set_num_threads: NULL session");
    if (n < 1 || n > 1024)
        return oc_error(OC_ERR_INVALID_ARG, "oc_session_set_num_threads: %d is not in [1, 1024]",
                        n);
    if (n != s->nthreads) /* scratch depends on the thread count */
        for (int i = 0; i < s->nstages; i++) s->stages[i].planned = 0;
    s->nthreads = n;
    return OC_OK;
}

oc_status oc_session_set_keep_layers(oc_session *s, int keep)
{
    if (!s) return oc_error(OC_ERR_INVALID_ARG, "oc_session_set_keep_layers: NULL session");
    keep = keep ? 1 : 0;
    if (keep != s->keep_layers)
        for (int i = 0; i < s->nstages; i++) s->stages[i].planned = 0;
    s->keep_layers = keep;
    return OC_OK;
}

oc_status oc_session_set_profile(oc_session *s, int on)
{
    if (!s) return oc_error(OC_ERR_INVALID_ARG, "oc_session_set_profile: NULL session");
    s->profile = on ? 1 : 0;
    return OC_OK;
}

static const oc_stage_state *cur_stage(const oc_session *s)
{
    return s && s->cur >= 0 ? &s->stages[s->cur] : NULL;
}

oc_status oc_session_print_profile(const oc_session *s, FILE *f)
{
    if (!s || !f) return oc_error(OC_ERR_INVALID_ARG, "oc_session_print_profile: NULL argument");
    const oc_stage_state *st = cur_stage(s);
    if (!st || !st->has_profile || !st->g)
        return oc_error(OC_ERR_INVALID_ARG, "oc_session_print_profile: no profile yet (turn "
                        "profiling on with oc_session_set_profile or OCELLUS_PROFILE=1, then "
                        "run)");
    return oc_profile_print(&st->prof, f);
}

/* ---------------------------------------------------------------- descriptors --------- */

static const char *shape_str(int ndim, const int64_t *d, char *buf, size_t n)
{
    oc_shape s;
    s.ndim = ndim < 0 || ndim > OC_MAX_DIMS ? 0 : ndim;
    for (int i = 0; i < s.ndim; i++) s.d[i] = d[i];
    return oc_shape_str(&s, buf, n);
}

static int find_stage(const oc_session *s, const char *stage)
{
    if (!stage) return 0;
    for (int i = 0; i < s->nstages; i++)
        if (!strcmp(s->stages[i].name, stage)) return i;
    return -1;
}

static int name_eq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return !strcmp(a, b);
}

/* The caller's inputs in name order (unnamed ones last, in the order given), so that the
 * order they are passed in does not matter. */
static void name_order(const oc_tensor *in, int n, int *order)
{
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0) {
            const char *a = in[order[j - 1]].name, *b = in[i].name;
            if (!b || (a && strcmp(a, b) <= 0)) break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
}

/* The descriptors a stage sees: the caller's inputs (in name order), then the exports of
 * other stages whose names the caller did not pass. exp_of[k] is the persist index of
 * descriptor k (-1 for the caller's). */
static int gather(const oc_session *s, int stage, const oc_tensor *in, int n, oc_io_desc *d,
                  int *exp_of)
{
    int nd = 0, order[OC_SESSION_MAX_INPUTS];
    name_order(in, n, order);
    for (int j = 0; j < n; j++, nd++) {
        int i = order[j];
        d[nd].name = in[i].name;
        d[nd].dtype = in[i].dtype;
        d[nd].ndim = in[i].ndim;
        memset(d[nd].dims, 0, sizeof d[nd].dims);
        memcpy(d[nd].dims, in[i].dims, (size_t)in[i].ndim * sizeof(int64_t));
        exp_of[nd] = -1;
    }
    for (int p = 0; p < s->npersist; p++) {
        const oc_persist *e = &s->persist[p];
        if (!e->valid || e->stage == stage) continue;
        int shadowed = 0;
        for (int i = 0; i < n && !shadowed; i++) shadowed = name_eq(in[i].name, e->name);
        if (shadowed) continue;
        d[nd].name = e->name;
        d[nd].dtype = OC_DTYPE_F32;
        d[nd].ndim = e->ndim;
        memcpy(d[nd].dims, e->dims, sizeof d[nd].dims);
        exp_of[nd] = p;
        nd++;
    }
    return nd;
}

static int same_desc(const oc_stage_state *st, const oc_io_desc *d, int nd)
{
    if (!st->g || st->n_desc != nd) return 0;
    for (int i = 0; i < nd; i++) {
        const oc_io_desc *a = &st->desc[i], *b = &d[i];
        /* an unnamed tensor is paired with the one unmatched graph input whatever the name */
        int names_ok = !a->name || !b->name || !strcmp(a->name, b->name);
        if (!names_ok || a->dtype != b->dtype || a->ndim != b->ndim) return 0;
        for (int k = 0; k < a->ndim; k++)
            if (a->dims[k] != b->dims[k]) return 0;
    }
    return 1;
}

static void given_names(const oc_io_desc *d, int nd, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < nd && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s'%s'", i ? ", " : "",
                                 d[i].name ? d[i].name : "(unnamed)");
    if (!nd) snprintf(buf, n, "none");
}

/* Decide where each graph input comes from and check its shape. */
static oc_status resolve_inputs(const oc_session *s, oc_stage_state *st, const oc_io_desc *d,
                                int nd, const int *exp_of, int n_caller, const char *fn)
{
    const oc_graph *g = st->g;
    int ng = oc_graph_num_inputs(g);
    int used[OC_SESSION_MAX_DESC] = {0};
    int unmatched = -1, n_unmatched = 0;
    for (int i = 0; i < ng; i++) {
        const char *nm = oc_graph_input_name(g, i);
        int k;
        for (k = 0; k < nd; k++)
            if (d[k].name && nm && !strcmp(d[k].name, nm)) break;
        if (k == nd) {
            st->src_kind[i] = -1;
            if (n_unmatched++ == 0) unmatched = i;
            continue;
        }
        used[k] = 1;
        st->src_kind[i] = exp_of[k] < 0 ? SRC_CALLER : SRC_EXPORT;
        st->src_idx[i] = exp_of[k] < 0 ? k : exp_of[k];
    }
    if (n_unmatched == 1) {
        /* one graph input left and one caller tensor unused: pair them (an image tensor
         * named after its fixture, "images_320") */
        int spare = -1, n_spare = 0;
        for (int k = 0; k < n_caller; k++)
            if (!used[k]) {
                spare = k;
                n_spare++;
            }
        if (n_spare == 1) {
            st->src_kind[unmatched] = SRC_CALLER;
            st->src_idx[unmatched] = spare;
            n_unmatched = 0;
        }
    }
    if (n_unmatched) {
        char names[512];
        given_names(d, nd, names, sizeof names);
        return oc_error(OC_ERR_INVALID_ARG, "%s: the %s graph's stage '%s' takes input '%s', "
                        "which was neither given nor exported by an earlier stage (available: "
                        "%s)", fn, s->m->arch->name, st->name,
                        oc_graph_input_name(g, unmatched), names);
    }
    for (int i = 0; i < ng; i++) {
        const oc_io_desc *src = NULL;
        int k = st->src_idx[i];
        if (st->src_kind[i] == SRC_CALLER) {
            src = &d[k];
        } else {
            for (int j = 0; j < nd; j++)
                if (exp_of[j] == k) src = &d[j];
        }
        oc_shape gs = oc_g_shape(g, oc_graph_input_tid(g, i));
        int same = src && gs.ndim == src->ndim;
        for (int q = 0; same && q < gs.ndim; q++)
            if (gs.d[q] != src->dims[q]) same = 0;
        if (!same) {
            char a[128], b[128];
            shape_str(src ? src->ndim : 0, src ? src->dims : gs.d, a, sizeof a);
            oc_shape_str(&gs, b, sizeof b);
            return oc_error(OC_ERR_SHAPE, "%s: input %d ('%s') is %s, the %s graph expects %s",
                            fn, i, oc_graph_input_name(g, i), a, s->m->arch->name, b);
        }
    }
    return OC_OK;
}

static oc_status rebuild(oc_session *s, int si, const oc_io_desc *d, int nd, const int *exp_of,
                         int n_caller, const char *fn)
{
    const oc_model *m = s->m;
    oc_stage_state *st = &s->stages[si];
    stage_reset_graph(st);
    oc_graph *g = oc_graph_new();
    if (!g) return oc_error(OC_ERR_NOMEM, "%s: out of memory", fn);
    oc_graph_set_weight_cache(g, m->wcache);
    oc_status rc = m->arch->build(m, g, st->name, d, nd);
    if (rc == OC_OK) rc = oc_graph_status(g);
    if (rc != OC_OK) {
        oc_graph_free(g);
        char sb[128] = "";
        if (n_caller > 0) shape_str(d[0].ndim, d[0].dims, sb, sizeof sb);
        return oc_error_prefix(rc, "%s: building the %s graph (stage '%s'%s%s): ",
                               m->path ? m->path : "model", m->arch->name, st->name,
                               n_caller > 0 ? ", input " : "", sb);
    }
    st->g = g;
    int ng = oc_graph_num_inputs(g);
    st->src_kind = oc_calloc((size_t)(ng ? ng : 1), sizeof(int));
    st->src_idx = oc_calloc((size_t)(ng ? ng : 1), sizeof(int));
    if (!st->src_kind || !st->src_idx) {
        stage_reset_graph(st);
        return oc_error(OC_ERR_NOMEM, "%s: out of memory", fn);
    }
    st->n_gin = ng;
    rc = resolve_inputs(s, st, d, nd, exp_of, n_caller, fn);
    if (rc != OC_OK) {
        stage_reset_graph(st);
        return rc;
    }
    for (int i = 0; i < nd; i++) {
        st->desc[i] = d[i];
        st->desc_names[i] = d[i].name ? oc_strdup(d[i].name) : NULL;
        st->desc[i].name = st->desc_names[i];
        st->n_desc = i + 1;
        if (d[i].name && !st->desc_names[i]) {
            stage_reset_graph(st);
            return oc_error(OC_ERR_NOMEM, "%s: out of memory", fn);
        }
    }
    return OC_OK;
}

static oc_status replan(oc_session *s, oc_stage_state *st, const char *fn)
{
    oc_status rc = oc_graph_plan(st->g, s->keep_layers, s->m->isa, s->nthreads);
    if (rc != OC_OK) return rc;
    size_t ab = oc_graph_arena_bytes(st->g), sb = oc_graph_scratch_bytes(st->g);
    if (ab > st->arena_cap || !st->arena) {
        oc_free(st->arena);
        st->arena_cap = 0;
        st->arena = oc_malloc(ab ? ab : 64);
        if (!st->arena)
            return oc_error(OC_ERR_NOMEM, "%s: cannot allocate the %zu-byte activation arena",
                            fn, ab);
        st->arena_cap = ab;
    }
    if (sb > s->scratch_cap) {
        oc_free(s->scratch);
        s->scratch_cap = 0;
        s->scratch = oc_malloc(sb);
        if (!s->scratch)
            return oc_error(OC_ERR_NOMEM, "%s: cannot allocate %zu bytes of scratch", fn, sb);
        s->scratch_cap = sb;
    }
    st->planned = 1;
    return OC_OK;
}

static int dtype_known(oc_dtype dt)
{
    return dt == OC_DTYPE_F32 || dt == OC_DTYPE_I32 || dt == OC_DTYPE_I64 || dt == OC_DTYPE_U8;
}

/* Validate the inputs, (re)build and (re)plan the stage; *si_out its index. */
static oc_status prepare(oc_session *s, const char *stage, const oc_tensor *inputs,
                         int n_inputs, int need_data, const char *fn, int *si_out)
{
    if (!s) return oc_error(OC_ERR_INVALID_ARG, "%s: NULL session", fn);
    if (n_inputs < 0 || n_inputs > OC_SESSION_MAX_INPUTS || (n_inputs > 0 && !inputs))
        return oc_error(OC_ERR_INVALID_ARG, "%s: bad inputs (%d given, at most %d)", fn,
                        n_inputs, OC_SESSION_MAX_INPUTS);
    int si = find_stage(s, stage);
    if (si < 0) {
        char names[256];
        size_t used = 0;
        names[0] = '\0';
        for (int i = 0; i < s->nstages && used < sizeof names; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s'%s'", i ? ", " : "",
                                     s->stages[i].name);
        return oc_error(OC_ERR_INVALID_ARG, "%s: the %s model has no stage '%s' (it has %s)", fn,
                        s->m->arch->name, stage, names);
    }
    for (int i = 0; i < n_inputs; i++) {
        const oc_tensor *t = &inputs[i];
        const char *nm = t->name ? t->name : "(unnamed)";
        if (need_data && !t->data)
            return oc_error(OC_ERR_INVALID_ARG, "%s: input %d ('%s') has no data", fn, i, nm);
        if (!dtype_known(t->dtype))
            return oc_error(OC_ERR_INVALID_ARG, "%s: input %d ('%s') has unknown dtype %d", fn,
                            i, nm, (int)t->dtype);
        if (t->ndim < 1 || t->ndim > OC_MAX_DIMS)
            return oc_error(OC_ERR_SHAPE, "%s: input %d ('%s') has %d dims", fn, i, nm, t->ndim);
        for (int k = 0; k < t->ndim; k++)
            if (t->dims[k] < 1)
                return oc_error(OC_ERR_SHAPE, "%s: input %d ('%s') has dim %d = %lld", fn, i, nm,
                                k, (long long)t->dims[k]);
        for (int j = 0; j < i; j++)
            if (t->name && inputs[j].name && !strcmp(t->name, inputs[j].name))
                return oc_error(OC_ERR_INVALID_ARG, "%s: input '%s' given twice", fn, t->name);
    }
    oc_io_desc d[OC_SESSION_MAX_DESC];
    int exp_of[OC_SESSION_MAX_DESC];
    int nd = gather(s, si, inputs, n_inputs, d, exp_of);
    oc_stage_state *st = &s->stages[si];
    oc_status rc;
    s->cur = si;
    if (!same_desc(st, d, nd)) {
        rc = rebuild(s, si, d, nd, exp_of, n_inputs, fn);
        if (rc != OC_OK) return rc;
    }
    if (!st->planned) {
        st->has_run = 0;
        rc = replan(s, st, fn);
        if (rc != OC_OK) return rc;
    }
    *si_out = si;
    return OC_OK;
}

oc_status oc_session_prepare_stage(oc_session *s, const char *stage, const oc_tensor *inputs,
                                   int n_inputs)
{
    int si;
    oc_status rc = prepare(s, stage, inputs, n_inputs, 0, "oc_session_prepare", &si);
    if (rc == OC_OK) s->stages[si].has_run = 0;
    return rc;
}

oc_status oc_session_prepare(oc_session *s, const oc_tensor *inputs, int n_inputs)
{
    return oc_session_prepare_stage(s, NULL, inputs, n_inputs);
}

/* ---------------------------------------------------------------- running ------------- */

static void to_f32(const oc_tensor *t, float *dst, size_t n)
{
    switch (t->dtype) {
    case OC_DTYPE_I32: {
        const int32_t *v = (const int32_t *)(const void *)t->data;
        for (size_t i = 0; i < n; i++) dst[i] = (float)v[i];
        break;
    }
    case OC_DTYPE_I64: {
        const int64_t *v = (const int64_t *)(const void *)t->data;
        for (size_t i = 0; i < n; i++) dst[i] = (float)v[i];
        break;
    }
    case OC_DTYPE_U8: {
        const uint8_t *v = (const uint8_t *)(const void *)t->data;
        for (size_t i = 0; i < n; i++) dst[i] = (float)v[i];
        break;
    }
    default:
        memcpy(dst, t->data, n * sizeof(float));
    }
}

/* Copy the stage's exported outputs into the session's persistent buffers. */
static oc_status keep_exports(oc_session *s, int si, const char *fn)
{
    oc_stage_state *st = &s->stages[si];
    for (int i = 0; i < oc_graph_num_outputs(st->g); i++) {
        if (!oc_graph_output_is_export(st->g, i)) continue;
        const char *nm = oc_graph_output_name(st->g, i);
        oc_tid t = oc_graph_output_tid(st->g, i);
        oc_shape sh = oc_g_shape(st->g, t);
        size_t n = (size_t)oc_shape_numel(&sh);
        int p;
        for (p = 0; p < s->npersist; p++)
            if (!strcmp(s->persist[p].name, nm)) break;
        if (p == s->npersist) {
            if (s->npersist == OC_SESSION_MAX_EXPORTS)
                return oc_error(OC_ERR_NOMEM, "%s: more than %d exported tensors", fn,
                                OC_SESSION_MAX_EXPORTS);
            memset(&s->persist[p], 0, sizeof s->persist[p]);
            s->persist[p].name = oc_strdup(nm);
            if (!s->persist[p].name) return oc_error(OC_ERR_NOMEM, "%s: out of memory", fn);
            s->npersist++;
        }
        oc_persist *e = &s->persist[p];
        e->valid = 0;
        if (n > e->cap) {
            oc_free(e->data);
            e->cap = 0;
            e->data = oc_malloc(n * sizeof(float));
            if (!e->data)
                return oc_error(OC_ERR_NOMEM, "%s: out of memory keeping '%s' (%zu floats)", fn,
                                nm, n);
            e->cap = n;
        }
        memcpy(e->data, oc_graph_data(st->g, st->arena, t), n * sizeof(float));
        e->stage = si;
        e->ndim = sh.ndim;
        memset(e->dims, 0, sizeof e->dims);
        for (int k = 0; k < sh.ndim; k++) e->dims[k] = sh.d[k];
        e->valid = 1;
    }
    return OC_OK;
}

oc_status oc_session_run_stage(oc_session *s, const char *stage, const oc_tensor *inputs,
                               int n_inputs)
{
    const char *fn = "oc_session_run";
    int si = -1;
    oc_status rc = prepare(s, stage, inputs, n_inputs, 1, fn, &si);
    if (rc != OC_OK) {
        if (s && s->cur >= 0) s->stages[s->cur].has_run = 0;
        return rc;
    }
    oc_stage_state *st = &s->stages[si];
    st->has_run = 0;
    st->has_profile = 0;
    const float *ptrs[OC_SESSION_MAX_DESC];
    int order[OC_SESSION_MAX_INPUTS];
    name_order(inputs, n_inputs, order); /* the caller's descriptors were in this order */
    for (int i = 0; i < st->n_gin; i++) {
        if (st->src_kind[i] == SRC_EXPORT) {
            ptrs[i] = s->persist[st->src_idx[i]].data;
            continue;
        }
        const oc_tensor *t = &inputs[order[st->src_idx[i]]];
        if (t->dtype == OC_DTYPE_F32) {
            ptrs[i] = t->data;
        } else {
            /* convert straight into the input's arena slot (the executor skips the copy) */
            oc_tid tid = oc_graph_input_tid(st->g, i);
            oc_shape sh = oc_g_shape(st->g, tid);
            float *dst = oc_graph_data(st->g, st->arena, tid);
            to_f32(t, dst, (size_t)oc_shape_numel(&sh));
            ptrs[i] = dst;
        }
    }
    oc_ctx ctx;
    ctx.isa = s->m->isa;
    ctx.nthreads = s->nthreads;
    ctx.scratch = s->scratch;
    ctx.scratch_bytes = s->scratch_cap;
    memset(&st->prof, 0, sizeof st->prof);
    st->prof.enabled = s->profile;
    rc = oc_graph_run(st->g, &ctx, st->arena, ptrs, st->n_gin, &st->prof);
    if (rc != OC_OK) return rc;
    rc = keep_exports(s, si, fn);
    if (rc != OC_OK) return rc;
    st->has_run = 1;
    st->has_profile = s->profile;
    if (s->profile) oc_profile_print(&st->prof, stderr);
    return OC_OK;
}

oc_status oc_session_run(oc_session *s, const oc_tensor *inputs, int n_inputs)
{
    return oc_session_run_stage(s, NULL, inputs, n_inputs);
}

/* ---------------------------------------------------------------- results ------------- */

int oc_session_num_outputs(const oc_session *s)
{
    const oc_stage_state *st = cur_stage(s);
    return st && st->g ? oc_graph_num_outputs(st->g) : 0;
}

static void fill_tensor(const oc_stage_state *st, oc_tid t, const char *name, oc_tensor *out)
{
    memset(out, 0, sizeof *out);
    oc_shape sh = oc_g_shape(st->g, t);
    out->name = name;
    out->ndim = sh.ndim;
    for (int i = 0; i < sh.ndim; i++) out->dims[i] = sh.d[i];
    out->data = oc_graph_data(st->g, st->arena, t);
}

oc_status oc_session_output(const oc_session *s, int i, oc_tensor *out)
{
    if (!s || !out) return oc_error(OC_ERR_INVALID_ARG, "oc_session_output: NULL argument");
    const oc_stage_state *st = cur_stage(s);
    if (!st || !st->has_run)
        return oc_error(OC_ERR_INVALID_ARG, "oc_session_output: no successful run yet");
    int n = oc_graph_num_outputs(st->g);
    if (i < 0 || i >= n)
        return oc_error(OC_ERR_INVALID_ARG, "oc_session_output: output %d out of range (the "
                        "model has %d)", i, n);
    fill_tensor(st, oc_graph_output_tid(st->g, i), oc_graph_output_name(st->g, i), out);
    return OC_OK;
}

oc_status oc_session_tensor(const oc_session *s, const char *name, oc_tensor *out)
{
    if (!s || !name || !out) return oc_error(OC_ERR_INVALID_ARG, "oc_session_tensor: NULL argument");
    const oc_stage_state *st = cur_stage(s);
    if (st && st->has_run) {
        for (int i = 0; i < oc_graph_num_outputs(st->g); i++)
            if (!strcmp(oc_graph_output_name(st->g, i), name)) {
                fill_tensor(st, oc_graph_output_tid(st->g, i), oc_graph_output_name(st->g, i),
                            out);
                return OC_OK;
            }
    }
    for (int p = 0; p < s->npersist; p++) {
        const oc_persist *e = &s->persist[p];
        if (!e->valid || strcmp(e->name, name)) continue;
        memset(out, 0, sizeof *out);
        out->name = e->name;
        out->ndim = e->ndim;
        memcpy(out->dims, e->dims, sizeof out->dims);
        out->data = e->data;
        return OC_OK;
    }
    if (!st || !st->has_run)
        return oc_error(OC_ERR_INVALID_ARG, "oc_session_tensor: no successful run yet");
    oc_tid t = oc_graph_find(st->g, name);
    if (t == OC_NONE)
        return oc_error(OC_ERR_INVALID_ARG, "oc_session_tensor: the %s graph has no tensor "
                        "named '%s'", s->m->arch->name, name);
    if (!oc_graph_tensor_live_at_end(st->g, t))
        return oc_error(OC_ERR_INVALID_ARG, "oc_session_tensor: '%s' is not kept after a run "
                        "(call oc_session_set_keep_layers(s, 1) before running)", name);
    fill_tensor(st, t, oc_graph_tensor_name(st->g, t), out);
    return OC_OK;
}

const char *oc_session_kept_name(const oc_session *s, int i)
{
    const oc_stage_state *st = s ? cur_stage(s) : NULL;
    if (!st || !st->has_run || i < 0) return NULL;
    for (int t = 0, k = 0; t < oc_graph_num_tensors(st->g); t++) {
        const char *nm = oc_graph_tensor_name(st->g, t);
        if (!nm || !oc_graph_tensor_live_at_end(st->g, t)) continue;
        int is_out = 0;
        for (int o = 0; o < oc_graph_num_outputs(st->g) && !is_out; o++)
            is_out = oc_graph_output_tid(st->g, o) == t;
        if (is_out) continue;
        if (k++ == i) return nm;
    }
    return NULL;
}

size_t oc_session_arena_bytes(const oc_session *s)
{
    const oc_stage_state *st = cur_stage(s);
    return st && st->g ? oc_graph_arena_bytes(st->g) : 0;
}

size_t oc_session_activation_bytes(const oc_session *s)
{
    const oc_stage_state *st = cur_stage(s);
    return st && st->g ? oc_graph_activation_bytes(st->g) : 0;
}

double oc_session_flops(const oc_session *s)
{
    const oc_stage_state *st = cur_stage(s);
    return st && st->g ? oc_graph_flops(st->g) : 0.0;
}

const struct oc_model *oc_session_model(const oc_session *s)
{
    return s ? s->m : NULL;
}

float *oc_session_input_buffer(oc_session *s, const char *stage, const char *name)
{
    if (!s) return NULL;
    int si = find_stage(s, stage);
    if (si < 0) return NULL;
    oc_stage_state *st = &s->stages[si];
    if (!st->g || !st->planned || !st->arena) return NULL;
    for (int i = 0; i < oc_graph_num_inputs(st->g); i++)
        if (name_eq(oc_graph_input_name(st->g, i), name))
            return oc_graph_data(st->g, st->arena, oc_graph_input_tid(st->g, i));
    return NULL;
}

void *oc_session_task_work(oc_session *s, size_t bytes)
{
    if (!s) return NULL;
    if (bytes > s->task_work_cap || !s->task_work) {
        oc_free(s->task_work);
        s->task_work_cap = 0;
        s->task_work = oc_malloc(bytes ? bytes : 64);
        if (!s->task_work) return NULL;
        s->task_work_cap = bytes;
    }
    return s->task_work;
}

int64_t *oc_session_task_slot(oc_session *s) { return s ? s->task_slot : NULL; }
