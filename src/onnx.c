/* onnx.c -- a hostile-input-safe reader of the ONNX protobuf wire format (see onnx.h). */
#include "onnx.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* caps on counts, so that a small hostile file cannot ask for huge tables */
#define MAX_NODES 200000
#define MAX_INITS 200000
#define MAX_PROPS 10000
#define MAX_GRAPH_IO 10000
#define MAX_NODE_IO 10000
#define MAX_ATTRS 1000
#define MAX_ATTR_VALUES (1 << 20)

/* ---- a chunked arena for strings and tables (freed with the model) ---- */
typedef struct pool_chunk {
    struct pool_chunk *next;
    size_t used, cap;
    /* data follows, 16-byte aligned */
} pool_chunk;

struct oc_onnx_pool {
    pool_chunk *head;
};

#define POOL_HDR ((sizeof(pool_chunk) + 15) & ~(size_t)15)

static void *pool_alloc(struct oc_onnx_pool *pl, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    pool_chunk *c = pl->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        if (cap > SIZE_MAX - POOL_HDR) return NULL;
        c = oc_malloc(POOL_HDR + cap);
        if (!c) return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = pl->head;
        pl->head = c;
    }
    void *p = (uint8_t *)c + POOL_HDR + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

static void pool_free(struct oc_onnx_pool *pl)
{
    if (!pl) return;
    pool_chunk *c = pl->head;
    while (c) {
        pool_chunk *n = c->next;
        oc_free(c);
        c = n;
    }
    oc_free(pl);
}

/* ---- reader context ---- */
typedef struct {
    const uint8_t *buf;
    size_t len;
    const char *file;
    struct oc_onnx_pool *pool;
} rd;

typedef struct {
    uint32_t num;   /* field number */
    int wt;         /* wire type */
    uint64_t v;     /* value for wire types 0, 1, 5 */
    size_t p, n;    /* payload offset and length for wire type 2 */
    size_t at;      /* offset of the key */
} pb_field;

static const char *wt_name(int wt)
{
    switch (wt) {
    case 0: return "varint";
    case 1: return "fixed64";
    case 2: return "length-delimited";
    case 3: return "start-group";
    case 4: return "end-group";
    case 5: return "fixed32";
    default: return "invalid";
    }
}

oc_status oc_pb_read_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *out,
                            const char *what)
{
    size_t p = *pos;
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (p >= len)
            return oc_error(OC_ERR_FORMAT, "%s: varint at byte %zu is truncated (input ends at "
                            "byte %zu)", what, *pos, len);
        uint8_t b = buf[p++];
        if (i == 9 && (b & 0x80)) break;
        if (i == 9 && b > 1)
            return oc_error(OC_ERR_FORMAT, "%s: varint at byte %zu overflows 64 bits", what,
                            *pos);
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *pos = p;
            *out = v;
            return OC_OK;
        }
    }
    return oc_error(OC_ERR_FORMAT, "%s: varint at byte %zu is longer than 10 bytes", what, *pos);
}

/* Read the next field of a message that ends at `end`. */
static oc_status next_field(const rd *r, size_t *pos, size_t end, const char *msg, pb_field *f)
{
    char what[160];
    snprintf(what, sizeof what, "%s: %s", r->file, msg);
    f->at = *pos;
    uint64_t key;
    oc_status st = oc_pb_read_varint(r->buf, end, pos, &key, what);
    if (st) return st;
    uint64_t num = key >> 3;
    f->wt = (int)(key & 7);
    if (num == 0 || num > 536870911u)
        return oc_error(OC_ERR_FORMAT, "%s: %s: invalid field number %llu at byte %zu", r->file,
                        msg, (unsigned long long)num, f->at);
    f->num = (uint32_t)num;
    snprintf(what, sizeof what, "%s: %s field %u", r->file, msg, f->num);
    switch (f->wt) {
    case 0:
        return oc_pb_read_varint(r->buf, end, pos, &f->v, what);
    case 1:
        if (end - *pos < 8)
            return oc_error(OC_ERR_FORMAT, "%s: fixed64 value at byte %zu runs past the end of "
                            "its message (byte %zu)", what, *pos, end);
        f->v = 0;
        for (int i = 7; i >= 0; i--) f->v = (f->v << 8) | r->buf[*pos + (size_t)i];
        *pos += 8;
        return OC_OK;
    case 5:
        if (end - *pos < 4)
            return oc_error(OC_ERR_FORMAT, "%s: fixed32 value at byte %zu runs past the end of "
                            "its message (byte %zu)", what, *pos, end);
        f->v = (uint64_t)r->buf[*pos] | (uint64_t)r->buf[*pos + 1] << 8 |
               (uint64_t)r->buf[*pos + 2] << 16 | (uint64_t)r->buf[*pos + 3] << 24;
        *pos += 4;
        return OC_OK;
    case 2: {
        uint64_t n;
        size_t lp = *pos;
        st = oc_pb_read_varint(r->buf, end, pos, &n, what);
        if (st) return st;
        if (n > end - *pos)
            return oc_error(OC_ERR_FORMAT, "%s: length %llu at byte %zu runs past the end of its "
                            "message (%zu bytes left)", what, (unsigned long long)n, lp,
                            end - *pos);
        f->p = *pos;
        f->n = (size_t)n;
        *pos += (size_t)n;
        return OC_OK;
    }
    case 3:
    case 4:
        return oc_error(OC_ERR_FORMAT, "%s: groups (wire type %d) are not supported (byte %zu)",
                        what, f->wt, f->at);
    default:
        return oc_error(OC_ERR_FORMAT, "%s: invalid wire type %d at byte %zu", what, f->wt,
                        f->at);
    }
}

static oc_status want_wt(const rd *r, const pb_field *f, int wt, const char *msg,
                         const char *fname)
{
    if (f->wt == wt) return OC_OK;
    return oc_error(OC_ERR_FORMAT, "%s: %s.%s (field %u) at byte %zu has wire type %s, "
                    "expected %s", r->file, msg, fname, f->num, f->at, wt_name(f->wt),
                    wt_name(wt));
}

static const char *pool_str(const rd *r, const pb_field *f)
{
    char *s = pool_alloc(r->pool, f->n + 1);
    if (!s) return NULL;
    memcpy(s, r->buf + f->p, f->n);
    s[f->n] = '\0';
    return s;
}

#define NOMEM(r) oc_error(OC_ERR_NOMEM, "%s: out of memory while reading the ONNX file", (r)->file)

static oc_status too_many(const rd *r, const char *msg, const char *what, long cap, size_t at)
{
    return oc_error(OC_ERR_FORMAT, "%s: %s has more than %ld %s (at byte %zu)", r->file, msg,
                    cap, what, at);
}

/* count the varints in a packed payload (validating them) */
static oc_status count_packed_varints(const rd *r, const pb_field *f, const char *what,
                                      size_t *count)
{
    size_t p = f->p, end = f->p + f->n, c = 0;
    while (p < end) {
        uint64_t v;
        oc_status st = oc_pb_read_varint(r->buf, end, &p, &v, what);
        if (st) return st;
        c++;
    }
    *count = c;
    return OC_OK;
}

/* ---- TensorProto ---- */
static oc_status parse_tensor(const rd *r, size_t start, size_t end, int depth,
                              oc_onnx_tensor *t)
{
    const char *msg = "TensorProto";
    if (depth > OC_ONNX_MAX_DEPTH)
        return oc_error(OC_ERR_FORMAT, "%s: messages nested deeper than %d at byte %zu", r->file,
                        OC_ONNX_MAX_DEPTH, start);
    memset(t, 0, sizeof *t);
    t->name = "";
    t->offset = start;
    char what[160];
    snprintf(what, sizeof what, "%s: TensorProto at byte %zu", r->file, start);
    /* pass 1: float_data layout */
    size_t fd_bytes = 0, fd_count = 0;
    int fd_single_packed = 0;
    size_t pos = start;
    while (pos < end) {
        pb_field f;
        oc_status st = next_field(r, &pos, end, msg, &f);
        if (st) return st;
        if (f.num == 4) {
            if (f.wt == 2) {
                if (f.n % 4)
                    return oc_error(OC_ERR_FORMAT, "%s: packed float_data of %zu bytes (at byte "
                                    "%zu) is not a multiple of 4", what, f.n, f.at);
                fd_bytes += f.n;
                fd_single_packed = (fd_count == 0);
            } else if (f.wt == 5) {
                fd_bytes += 4;
                fd_single_packed = 0;
            } else {
                return want_wt(r, &f, 5, msg, "float_data");
            }
            fd_count++;
        }
    }
    uint8_t *fd_copy = NULL;
    size_t fd_fill = 0;
    if (fd_count && !(fd_count == 1 && fd_single_packed)) {
        fd_copy = pool_alloc(r->pool, fd_bytes);
        if (!fd_copy) return NOMEM(r);
    }
    /* pass 2 */
    pos = start;
    int have_raw = 0;
    while (pos < end) {
        pb_field f;
        oc_status st = next_field(r, &pos, end, msg, &f);
        if (st) return st;
        switch (f.num) {
        case 1: /* dims */
            if (f.wt == 0) {
                if (t->ndim >= OC_ONNX_MAX_DIMS)
                    return oc_error(OC_ERR_FORMAT, "%s: more than %d dims (byte %zu)", what,
                                    OC_ONNX_MAX_DIMS, f.at);
                t->dims[t->ndim++] = (int64_t)f.v;
            } else if (f.wt == 2) {
                size_t p = f.p, e = f.p + f.n;
                while (p < e) {
                    uint64_t v;
                    st = oc_pb_read_varint(r->buf, e, &p, &v, what);
                    if (st) return st;
                    if (t->ndim >= OC_ONNX_MAX_DIMS)
                        return oc_error(OC_ERR_FORMAT, "%s: more than %d dims (byte %zu)", what,
                                        OC_ONNX_MAX_DIMS, f.at);
                    t->dims[t->ndim++] = (int64_t)v;
                }
            } else {
                return want_wt(r, &f, 0, msg, "dims");
            }
            break;
        case 2:
            if ((st = want_wt(r, &f, 0, msg, "data_type"))) return st;
            if (f.v > 1000)
                return oc_error(OC_ERR_FORMAT, "%s: data_type %llu is out of range", what,
                                (unsigned long long)f.v);
            t->data_type = (int)f.v;
            break;
        case 4:
            if (f.wt == 2) {
                if (fd_copy) {
                    memcpy(fd_copy + fd_fill, r->buf + f.p, f.n);
                    fd_fill += f.n;
                } else {
                    t->data = r->buf + f.p;
                    t->data_len = f.n;
                }
            } else { /* wt 5, checked in pass 1 */
                uint32_t v = (uint32_t)f.v;
                memcpy(fd_copy + fd_fill, &v, 4);
                fd_fill += 4;
            }
            break;
        case 8:
            if ((st = want_wt(r, &f, 2, msg, "name"))) return st;
            if (!(t->name = pool_str(r, &f))) return NOMEM(r);
            break;
        case 9:
            if ((st = want_wt(r, &f, 2, msg, "raw_data"))) return st;
            t->data = r->buf + f.p;
            t->data_len = f.n;
            have_raw = 1;
            break;
        case 13:
            t->external = 1;
            break;
        case 14:
            if ((st = want_wt(r, &f, 0, msg, "data_location"))) return st;
            if (f.v == 1) t->external = 1;
            break;
        default:
            break; /* skipped */
        }
    }
    if (fd_count) {
        if (have_raw)
            return oc_error(OC_ERR_FORMAT, "%s: tensor '%s' has both raw_data and float_data",
                            r->file, t->name);
        if (fd_copy) {
            t->data = fd_copy;
            t->data_len = fd_bytes;
        }
        t->from_float_data = 1;
    }
    uint64_t numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->dims[i] < 0)
            return oc_error(OC_ERR_FORMAT, "%s: tensor '%s' has a negative dim %lld", r->file,
                            t->name, (long long)t->dims[i]);
        if (!oc_mul_u64(numel, (uint64_t)t->dims[i], &numel))
            return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': element count overflows", r->file,
                            t->name);
    }
    t->numel = numel;
    return OC_OK;
}

/* ---- AttributeProto ---- */
static oc_status parse_attr(const rd *r, size_t start, size_t end, int depth, oc_onnx_attr *a)
{
    const char *msg = "AttributeProto";
    if (depth > OC_ONNX_MAX_DEPTH)
        return oc_error(OC_ERR_FORMAT, "%s: messages nested deeper than %d at byte %zu", r->file,
                        OC_ONNX_MAX_DEPTH, start);
    memset(a, 0, sizeof *a);
    a->name = "";
    a->s = "";
    char what[160];
    snprintf(what, sizeof what, "%s: AttributeProto at byte %zu", r->file, start);
    size_t n_ints = 0, n_floats = 0, pos = start;
    oc_status st;
    while (pos < end) { /* pass 1: counts */
        pb_field f;
        if ((st = next_field(r, &pos, end, msg, &f))) return st;
        if (f.num == 8) {
            if (f.wt == 0) n_ints++;
            else if (f.wt == 2) {
                size_t c;
                if ((st = count_packed_varints(r, &f, what, &c))) return st;
                n_ints += c;
            } else return want_wt(r, &f, 0, msg, "ints");
        } else if (f.num == 7) {
            if (f.wt == 5) n_floats++;
            else if (f.wt == 2) {
                if (f.n % 4)
                    return oc_error(OC_ERR_FORMAT, "%s: packed floats of %zu bytes is not a "
                                    "multiple of 4", what, f.n);
                n_floats += f.n / 4;
            } else return want_wt(r, &f, 5, msg, "floats");
        }
        if (n_ints > MAX_ATTR_VALUES || n_floats > MAX_ATTR_VALUES)
            return too_many(r, msg, "values", MAX_ATTR_VALUES, f.at);
    }
    if (n_ints && !(a->ints = pool_alloc(r->pool, n_ints * sizeof(int64_t)))) return NOMEM(r);
    if (n_floats && !(a->floats = pool_alloc(r->pool, n_floats * sizeof(float))))
        return NOMEM(r);
    pos = start;
    while (pos < end) {
        pb_field f;
        if ((st = next_field(r, &pos, end, msg, &f))) return st;
        switch (f.num) {
        case 1:
            if ((st = want_wt(r, &f, 2, msg, "name"))) return st;
            if (!(a->name = pool_str(r, &f))) return NOMEM(r);
            break;
        case 2: {
            if ((st = want_wt(r, &f, 5, msg, "f"))) return st;
            uint32_t u = (uint32_t)f.v;
            memcpy(&a->f, &u, 4);
            break;
        }
        case 3:
            if ((st = want_wt(r, &f, 0, msg, "i"))) return st;
            a->i = (int64_t)f.v;
            break;
        case 4:
            if ((st = want_wt(r, &f, 2, msg, "s"))) return st;
            if (!(a->s = pool_str(r, &f))) return NOMEM(r);
            a->s_len = f.n;
            break;
        case 7:
            if (f.wt == 5) {
                uint32_t u = (uint32_t)f.v;
                memcpy(&a->floats[a->n_floats++], &u, 4);
            } else {
                for (size_t k = 0; k < f.n / 4; k++)
                    memcpy(&a->floats[a->n_floats++], r->buf + f.p + 4 * k, 4);
            }
            break;
        case 8:
            if (f.wt == 0) {
                a->ints[a->n_ints++] = (int64_t)f.v;
            } else {
                size_t p = f.p, e = f.p + f.n;
                while (p < e) {
                    uint64_t v;
                    if ((st = oc_pb_read_varint(r->buf, e, &p, &v, what))) return st;
                    a->ints[a->n_ints++] = (int64_t)v;
                }
            }
            break;
        case 20:
            if ((st = want_wt(r, &f, 0, msg, "type"))) return st;
            a->type = f.v > 100 ? -1 : (int)f.v;
            break;
        default:
            break; /* t, g, strings, tensors, graphs...: skipped */
        }
    }
    return OC_OK;
}

/* ---- NodeProto ---- */
static oc_status parse_node(const rd *r, size_t start, size_t end, int depth, oc_onnx_node *nd)
{
    const char *msg = "NodeProto";
    if (depth > OC_ONNX_MAX_DEPTH)
        return oc_error(OC_ERR_FORMAT, "%s: messages nested deeper than %d at byte %zu", r->file,
                        OC_ONNX_MAX_DEPTH, start);
    memset(nd, 0, sizeof *nd);
    nd->name = nd->op_type = nd->domain = "";
    nd->offset = start;
    size_t ni = 0, no = 0, na = 0, pos = start;
    oc_status st;
    while (pos < end) {
        pb_field f;
        if ((st = next_field(r, &pos, end, msg, &f))) return st;
        if (f.num == 1) {
            if ((st = want_wt(r, &f, 2, msg, "input"))) return st;
            if (++ni > MAX_NODE_IO) return too_many(r, msg, "inputs", MAX_NODE_IO, f.at);
        } else if (f.num == 2) {
            if ((st = want_wt(r, &f, 2, msg, "output"))) return st;
            if (++no > MAX_NODE_IO) return too_many(r, msg, "outputs", MAX_NODE_IO, f.at);
        } else if (f.num == 5) {
            if ((st = want_wt(r, &f, 2, msg, "attribute"))) return st;
            if (++na > MAX_ATTRS) return too_many(r, msg, "attributes", MAX_ATTRS, f.at);
        }
    }
    if (ni && !(nd->inputs = pool_alloc(r->pool, ni * sizeof(char *)))) return NOMEM(r);
    if (no && !(nd->outputs = pool_alloc(r->pool, no * sizeof(char *)))) return NOMEM(r);
    if (na && !(nd->attrs = pool_alloc(r->pool, na * sizeof(oc_onnx_attr)))) return NOMEM(r);
    pos = start;
    while (pos < end) {
        pb_field f;
        if ((st = next_field(r, &pos, end, msg, &f))) return st;
        switch (f.num) {
        case 1:
            if (!(nd->inputs[nd->n_inputs++] = pool_str(r, &f))) return NOMEM(r);
            break;
        case 2:
            if (!(nd->outputs[nd->n_outputs++] = pool_str(r, &f))) return NOMEM(r);
            break;
        case 3:
            if ((st = want_wt(r, &f, 2, msg, "name"))) return st;
            if (!(nd->name = pool_str(r, &f))) return NOMEM(r);
            break;
        case 4:
            if ((st = want_wt(r, &f, 2, msg, "op_type"))) return st;
            if (!(nd->op_type = pool_str(r, &f))) return NOMEM(r);
            break;
        case 5:
            if ((st = parse_attr(r, f.p, f.p + f.n, depth + 1, &nd->attrs[nd->n_attrs++])))
                return st;
            break;
        case 7:
            if ((st = want_wt(r, &f, 2, msg, "domain"))) return st;
            if (!(nd->domain = pool_str(r, &f))) return NOMEM(r);
            break;
        default:
            break;
        }
    }
    return OC_OK;
}

/* ValueInfoProto: only the name (field 1) */
static oc_status parse_value_info_name(const rd *r, size_t start, size_t end, const char **name)
{
    size_t pos = start;
    *name = "";
    while (pos < end) {
        pb_field f;
        oc_status st = next_field(r, &pos, end, "ValueInfoProto", &f);
        if (st) return st;
        if (f.num == 1) {
            if ((st = want_wt(r, &f, 2, "ValueInfoProto", "name"))) return st;
            if (!(*name = pool_str(r, &f))) return NOMEM(r);
        }
    }
    return OC_OK;
}

/* ---- GraphProto ---- */
static oc_status parse_graph(const rd *r, size_t start, size_t end, int depth, oc_onnx_model *m)
{
    const char *msg = "GraphProto";
    if (depth > OC_ONNX_MAX_DEPTH)
        return oc_error(OC_ERR_FORMAT, "%s: messages nested deeper than %d at byte %zu", r->file,
                        OC_ONNX_MAX_DEPTH, start);
    size_t nn = 0, ni = 0, nin = 0, nout = 0, pos = start;
    oc_status st;
    while (pos < end) {
        pb_field f;
        if ((st = next_field(r, &pos, end, msg, &f))) return st;
        switch (f.num) {
        case 1:
            if ((st = want_wt(r, &f, 2, msg, "node"))) return st;
            if (++nn > MAX_NODES) return too_many(r, msg, "nodes", MAX_NODES, f.at);
            break;
        case 5:
            if ((st = want_wt(r, &f, 2, msg, "initializer"))) return st;
            if (++ni > MAX_INITS) return too_many(r, msg, "initializers", MAX_INITS, f.at);
            break;
        case 11:
            if ((st = want_wt(r, &f, 2, msg, "input"))) return st;
            if (++nin > MAX_GRAPH_IO) return too_many(r, msg, "inputs", MAX_GRAPH_IO, f.at);
            break;
        case 12:
            if ((st = want_wt(r, &f, 2, msg, "output"))) return st;
            if (++nout > MAX_GRAPH_IO) return too_many(r, msg, "outputs", MAX_GRAPH_IO, f.at);
            break;
        default:
            break;
        }
    }
    if (nn && !(m->nodes = pool_alloc(r->pool, nn * sizeof(oc_onnx_node)))) return NOMEM(r);
    if (ni && !(m->inits = pool_alloc(r->pool, ni * sizeof(oc_onnx_tensor)))) return NOMEM(r);
    if (nin && !(m->inputs = pool_alloc(r->pool, nin * sizeof(char *)))) return NOMEM(r);
    if (nout && !(m->outputs = pool_alloc(r->pool, nout * sizeof(char *)))) return NOMEM(r);
    pos = start;
    while (pos < end) {
        pb_field f;
        if ((st = next_field(r, &pos, end, msg, &f))) return st;
        switch (f.num) {
        case 1:
            if ((st = parse_node(r, f.p, f.p + f.n, depth + 1, &m->nodes[m->n_nodes++])))
                return st;
            break;
        case 2:
            if ((st = want_wt(r, &f, 2, msg, "name"))) return st;
            if (!(m->graph_name = pool_str(r, &f))) return NOMEM(r);
            break;
        case 5:
            if ((st = parse_tensor(r, f.p, f.p + f.n, depth + 1, &m->inits[m->n_inits++])))
                return st;
            break;
        case 11:
            if ((st = parse_value_info_name(r, f.p, f.p + f.n, &m->inputs[m->n_inputs++])))
                return st;
            break;
        case 12:
            if ((st = parse_value_info_name(r, f.p, f.p + f.n, &m->outputs[m->n_outputs++])))
                return st;
            break;
        default:
            break;
        }
    }
    return OC_OK;
}

/* ---- ModelProto ---- */
static oc_status parse_model(const rd *r, oc_onnx_model *m)
{
    const char *msg = "ModelProto";
    size_t pos = 0, end = r->len, np = 0, graph_at = 0, graph_len = 0;
    int have_graph = 0;
    oc_status st;
    while (pos < end) {
        pb_field f;
        if ((st = next_field(r, &pos, end, msg, &f))) return st;
        if (f.num == 14) {
            if ((st = want_wt(r, &f, 2, msg, "metadata_props"))) return st;
            if (++np > MAX_PROPS) return too_many(r, msg, "metadata_props", MAX_PROPS, f.at);
        } else if (f.num == 7) {
            if ((st = want_wt(r, &f, 2, msg, "graph"))) return st;
            if (have_graph)
                return oc_error(OC_ERR_FORMAT, "%s: ModelProto has a second graph at byte %zu",
                                r->file, f.at);
            have_graph = 1;
            graph_at = f.p;
            graph_len = f.n;
        }
    }
    if (np && !(m->props = pool_alloc(r->pool, np * sizeof(oc_onnx_prop)))) return NOMEM(r);
    pos = 0;
    while (pos < end) {
        pb_field f;
        if ((st = next_field(r, &pos, end, msg, &f))) return st;
        switch (f.num) {
        case 1:
            if ((st = want_wt(r, &f, 0, msg, "ir_version"))) return st;
            m->ir_version = (int64_t)f.v;
            break;
        case 2:
            if ((st = want_wt(r, &f, 2, msg, "producer_name"))) return st;
            if (!(m->producer_name = pool_str(r, &f))) return NOMEM(r);
            break;
        case 3:
            if ((st = want_wt(r, &f, 2, msg, "producer_version"))) return st;
            if (!(m->producer_version = pool_str(r, &f))) return NOMEM(r);
            break;
        case 8: { /* OperatorSetIdProto */
            if ((st = want_wt(r, &f, 2, msg, "opset_import"))) return st;
            size_t p = f.p, e = f.p + f.n;
            const char *domain = "";
            int64_t version = 0;
            while (p < e) {
                pb_field g;
                if ((st = next_field(r, &p, e, "OperatorSetIdProto", &g))) return st;
                if (g.num == 1) {
                    if ((st = want_wt(r, &g, 2, "OperatorSetIdProto", "domain"))) return st;
                    if (!(domain = pool_str(r, &g))) return NOMEM(r);
                } else if (g.num == 2) {
                    if ((st = want_wt(r, &g, 0, "OperatorSetIdProto", "version"))) return st;
                    version = (int64_t)g.v;
                }
            }
            if (!*domain || !strcmp(domain, "ai.onnx")) m->opset = version;
            break;
        }
        case 14: { /* StringStringEntryProto */
            size_t p = f.p, e = f.p + f.n;
            oc_onnx_prop *pr = &m->props[m->n_props++];
            pr->key = pr->value = "";
            while (p < e) {
                pb_field g;
                if ((st = next_field(r, &p, e, "StringStringEntryProto", &g))) return st;
                if (g.num == 1 || g.num == 2) {
                    if ((st = want_wt(r, &g, 2, "StringStringEntryProto",
                                      g.num == 1 ? "key" : "value")))
                        return st;
                    const char *s = pool_str(r, &g);
                    if (!s) return NOMEM(r);
                    if (g.num == 1) pr->key = s;
                    else pr->value = s;
                }
            }
            break;
        }
        default:
            break;
        }
    }
    if (!have_graph)
        return oc_error(OC_ERR_FORMAT, "%s: not an ONNX model: ModelProto has no graph (field 7)",
                        r->file);
    return parse_graph(r, graph_at, graph_at + graph_len, 1, m);
}

oc_status oc_onnx_parse(const void *buf, size_t len, const char *name, oc_onnx_model **out)
{
    if (!out || (!buf && len)) return oc_error(OC_ERR_INVALID_ARG, "oc_onnx_parse: NULL argument");
    *out = NULL;
    if (!name) name = "<memory>";
    oc_onnx_model *m = oc_calloc(1, sizeof *m);
    if (!m) return oc_error(OC_ERR_NOMEM, "%s: out of memory", name);
    m->path = oc_strdup(name);
    m->pool = oc_calloc(1, sizeof *m->pool);
    if (!m->path || !m->pool) {
        oc_onnx_free(m);
        return oc_error(OC_ERR_NOMEM, "%s: out of memory", name);
    }
    m->producer_name = m->producer_version = m->graph_name = "";
    if (len == 0) {
        oc_onnx_free(m);
        return oc_error(OC_ERR_FORMAT, "%s: empty file, not an ONNX model", name);
    }
    rd r = {buf, len, m->path, m->pool};
    oc_status st = parse_model(&r, m);
    if (st) {
        oc_onnx_free(m);
        return st;
    }
    *out = m;
    return OC_OK;
}

oc_status oc_onnx_open(const char *path, oc_onnx_model **out)
{
    if (!path || !out) return oc_error(OC_ERR_INVALID_ARG, "oc_onnx_open: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return oc_error(OC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return oc_error(OC_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return oc_error(OC_ERR_IO, "%s: not a regular file", path);
    }
    if (sb.st_size == 0) {
        close(fd);
        return oc_error(OC_ERR_FORMAT, "%s: empty file, not an ONNX model", path);
    }
    if ((uint64_t)sb.st_size > (uint64_t)SIZE_MAX / 2) {
        close(fd);
        return oc_error(OC_ERR_NOMEM, "%s: file too large", path);
    }
    size_t len = (size_t)sb.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return oc_error(OC_ERR_IO, "%s: cannot mmap: %s", path, strerror(e));
    oc_onnx_model *m;
    oc_status st = oc_onnx_parse(map, len, path, &m);
    if (st) {
        munmap(map, len);
        return st;
    }
    m->map = map;
    m->map_len = len;
    *out = m;
    return OC_OK;
}

void oc_onnx_free(oc_onnx_model *m)
{
    if (!m) return;
    if (m->map) munmap(m->map, m->map_len);
    pool_free(m->pool);
    oc_free(m->path);
    oc_free(m);
}

const char *oc_onnx_meta(const oc_onnx_model *m, const char *key)
{
    if (!m || !key) return NULL;
    for (int i = 0; i < m->n_props; i++)
        if (!strcmp(m->props[i].key, key)) return m->props[i].value;
    return NULL;
}

const oc_onnx_tensor *oc_onnx_find_init(const oc_onnx_model *m, const char *name)
{
    if (!m || !name) return NULL;
    for (int i = 0; i < m->n_inits; i++)
        if (!strcmp(m->inits[i].name, name)) return &m->inits[i];
    return NULL;
}

/* Identity and Dropout (output 0, in inference) pass their input through unchanged */
static int is_alias_op(const oc_onnx_node *n)
{
    return n->n_inputs >= 1 && n->n_outputs >= 1 &&
           (!strcmp(n->op_type, "Identity") || !strcmp(n->op_type, "Dropout"));
}

const oc_onnx_tensor *oc_onnx_resolve_init(const oc_onnx_model *m, const char *name,
                                           const oc_onnx_node **producer)
{
    if (producer) *producer = NULL;
    if (!m || !name) return NULL;
    /* a chain of aliases ends at an initializer; the bound also stops a cycle */
    for (int hop = 0; hop <= m->n_nodes && hop < 64; hop++) {
        const oc_onnx_tensor *t = oc_onnx_find_init(m, name);
        if (t) return t;
        const oc_onnx_node *p = NULL;
        for (int i = 0; i < m->n_nodes && !p; i++)
            for (int o = 0; o < m->nodes[i].n_outputs && !p; o++)
                if (!strcmp(m->nodes[i].outputs[o], name)) p = &m->nodes[i];
        if (producer) *producer = p;
        if (!p || !is_alias_op(p) || strcmp(p->outputs[0], name) || !p->inputs[0][0]) return NULL;
        name = p->inputs[0];
    }
    return NULL;
}

static float half_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

oc_status oc_onnx_tensor_to_f32(const oc_onnx_model *m, const oc_onnx_tensor *t, float *dst)
{
    const char *file = m ? m->path : "<onnx>";
    if (!t || !dst) return oc_error(OC_ERR_INVALID_ARG, "oc_onnx_tensor_to_f32: NULL argument");
    if (t->external)
        return oc_error(OC_ERR_UNSUPPORTED, "%s: initializer '%s' keeps its data in an external "
                        "file, which is not supported", file, t->name);
    size_t es;
    switch (t->data_type) {
    case OC_ONNX_FLOAT: es = 4; break;
    case OC_ONNX_FLOAT16: case OC_ONNX_BFLOAT16: es = 2; break;
    case OC_ONNX_DOUBLE: es = 8; break;
    default:
        return oc_error(OC_ERR_UNSUPPORTED, "%s: initializer '%s' has data type %d; only float, "
                        "float16, bfloat16 and double weights are supported", file, t->name,
                        t->data_type);
    }
    if (t->from_float_data && t->data_type != OC_ONNX_FLOAT)
        return oc_error(OC_ERR_FORMAT, "%s: initializer '%s' stores type %d in float_data",
                        file, t->name, t->data_type);
    uint64_t want;
    if (!oc_mul_u64(t->numel, es, &want) || want != t->data_len)
        return oc_error(OC_ERR_FORMAT, "%s: initializer '%s' (TensorProto at byte %llu): %zu "
                        "data bytes, but %llu elements of %zu bytes need %llu", file, t->name,
                        (unsigned long long)t->offset, t->data_len,
                        (unsigned long long)t->numel, es, (unsigned long long)want);
    const uint8_t *p = t->data;
    for (uint64_t i = 0; i < t->numel; i++) {
        switch (t->data_type) {
        case OC_ONNX_FLOAT: memcpy(&dst[i], p + 4 * i, 4); break;
        case OC_ONNX_FLOAT16: dst[i] = half_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8)); break;
        case OC_ONNX_BFLOAT16: {
            uint32_t b = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
            memcpy(&dst[i], &b, 4);
            break;
        }
        default: {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d;
            break;
        }
        }
    }
    return OC_OK;
}

/* ---- names dict ---- */
static void skip_ws(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r') (*p)++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xc0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* parse a Python string literal at *p; returns an oc_malloc'd string */
static oc_status parse_pystr(const char *s0, const char **p, char **out)
{
    const char *q = *p;
    char quote = *q;
    if (quote != '\'' && quote != '"')
        return oc_error(OC_ERR_FORMAT, "names: expected a quoted string at character %td",
                        q - s0);
    q++;
    size_t cap = strlen(q) + 1; /* escapes never expand beyond the source length */
    char *o = oc_malloc(cap), *w = o;
    if (!o) return oc_error(OC_ERR_NOMEM, "names: out of memory");
    for (;;) {
        char c = *q;
        if (c == '\0') {
            oc_free(o);
            return oc_error(OC_ERR_FORMAT, "names: unterminated string starting at character %td",
                            *p - s0);
        }
        if (c == quote) { q++; break; }
        if (c != '\\') { *w++ = c; q++; continue; }
        q++;
        c = *q++;
        uint32_t cp = 0;
        int nhex = 0;
        switch (c) {
        case '\\': *w++ = '\\'; break;
        case '\'': *w++ = '\''; break;
        case '"': *w++ = '"'; break;
        case 'n': *w++ = '\n'; break;
        case 't': *w++ = '\t'; break;
        case 'r': *w++ = '\r'; break;
        case 'a': *w++ = '\a'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'v': *w++ = '\v'; break;
        case 'x': nhex = 2; break;
        case 'u': nhex = 4; break;
        case 'U': nhex = 8; break;
        default:
            oc_free(o);
            return oc_error(OC_ERR_FORMAT, "names: unsupported escape '\\%c' at character %td",
                            c ? c : '0', q - 1 - s0);
        }
        if (nhex) {
            for (int k = 0; k < nhex; k++) {
                int h = hexval(q[k]);
                if (h < 0) {
                    oc_free(o);
                    return oc_error(OC_ERR_FORMAT, "names: bad \\%c escape at character %td", c,
                                    q - 2 - s0);
                }
                cp = cp << 4 | (uint32_t)h;
            }
            q += nhex;
            if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
                oc_free(o);
                return oc_error(OC_ERR_FORMAT, "names: escape for code point U+%04X at character "
                                "%td is not allowed in a class name", cp, q - nhex - 2 - s0);
            }
            /* \xHH in a str repr is a code point, written as UTF-8; the escape text (>= 4
             * chars) is always at least as long as its UTF-8 form */
            w += put_utf8(w, cp);
        }
    }
    *w = '\0';
    *p = q;
    *out = o;
    return OC_OK;
}

void oc_free_names(char **names, int n)
{
    if (!names) return;
    for (int i = 0; i < n; i++) oc_free(names[i]);
    oc_free(names);
}

oc_status oc_parse_names_dict(const char *s, char ***names_out, int *n_out)
{
    if (!s || !names_out || !n_out)
        return oc_error(OC_ERR_INVALID_ARG, "oc_parse_names_dict: NULL argument");
    *names_out = NULL;
    *n_out = 0;
    const int cap_max = 100000;
    int cap = 0, n = 0;
    char **vals = NULL;
    long *keys = NULL;
    oc_status st = OC_OK;
    const char *p = s;
    skip_ws(&p);
    if (*p != '{') {
        return oc_error(OC_ERR_FORMAT, "names: expected '{' at character %td of \"%.40s\"",
                        p - s, s);
    }
    p++;
    skip_ws(&p);
    while (*p != '}') {
        if (!(*p >= '0' && *p <= '9')) {
            st = oc_error(OC_ERR_FORMAT, "names: expected an integer key at character %td", p - s);
            goto fail;
        }
        long k = 0;
        while (*p >= '0' && *p <= '9') {
            k = k * 10 + (*p - '0');
            if (k > cap_max) {
                st = oc_error(OC_ERR_FORMAT, "names: key at character %td is larger than %d",
                              p - s, cap_max);
                goto fail;
            }
            p++;
        }
        skip_ws(&p);
        if (*p != ':') {
            st = oc_error(OC_ERR_FORMAT, "names: expected ':' at character %td", p - s);
            goto fail;
        }
        p++;
        skip_ws(&p);
        char *v = NULL;
        if ((st = parse_pystr(s, &p, &v))) goto fail;
        if (n == cap) {
            if (n >= cap_max) {
                oc_free(v);
                st = oc_error(OC_ERR_FORMAT, "names: more than %d entries", cap_max);
                goto fail;
            }
            int nc = cap ? cap * 2 : 16;
            char **nv = oc_realloc(vals, (size_t)nc * sizeof *nv);
            if (nv) vals = nv;
            long *nk = oc_realloc(keys, (size_t)nc * sizeof *nk);
            if (nk) keys = nk;
            if (!nv || !nk) {
                oc_free(v);
                st = oc_error(OC_ERR_NOMEM, "names: out of memory");
                goto fail;
            }
            cap = nc;
        }
        vals[n] = v;
        keys[n] = k;
        n++;
        skip_ws(&p);
        if (*p == ',') {
            p++;
            skip_ws(&p);
        } else if (*p != '}') {
            st = oc_error(OC_ERR_FORMAT, "names: expected ',' or '}' at character %td", p - s);
            goto fail;
        }
    }
    p++;
    skip_ws(&p);
    if (*p) {
        st = oc_error(OC_ERR_FORMAT, "names: unexpected text after '}' at character %td", p - s);
        goto fail;
    }
    char **names = oc_calloc(n ? (size_t)n : 1, sizeof *names);
    if (!names) {
        st = oc_error(OC_ERR_NOMEM, "names: out of memory");
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        if (keys[i] >= n || names[keys[i]]) {
            if (keys[i] >= n)
                st = oc_error(OC_ERR_FORMAT, "names: key %ld is out of range: with %d entries "
                              "the keys must be 0..%d", keys[i], n, n - 1);
            else
                st = oc_error(OC_ERR_FORMAT, "names: key %ld appears twice", keys[i]);
            oc_free(names);
            goto fail;
        }
        names[keys[i]] = vals[i];
    }
    oc_free(vals);
    oc_free(keys);
    *names_out = names;
    *n_out = n;
    return OC_OK;
fail:
    for (int i = 0; i < n; i++) oc_free(vals[i]);
    oc_free(vals);
    oc_free(keys);
    return st;
}
