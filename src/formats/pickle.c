/* pickle.c -- the restricted unpickler (see pickle.h; the rules are in docs/FORMAT.md). */
#include "formats/pickle.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the allow-list ----
 * What each allowed global becomes. Nothing here is ever looked up in a Python runtime: the
 * kinds are re-implemented below as data construction. */
enum {
    K_DICT = 1, K_LIST, K_TUPLE, K_SET, K_FROZENSET, K_BYTES, K_CODECS_ENCODE,
    K_REBUILD_TENSOR_V2, K_REBUILD_TENSOR, K_REBUILD_PARAMETER, K_REBUILD_PARAMETER_STATE,
    K_REBUILD_FROM_TYPE_V2, K_TENSOR_CLASS, K_DEVICE, K_SIZE, K_DTYPE, K_STORAGE_TYPE,
    K_NAMESPACE, K_NP_DTYPE, K_NP_SCALAR
};

static const struct {
    const char *module, *name;
    int kind;
} k_allowed[] = {
    {"collections", "OrderedDict", K_DICT},
    {"collections", "Counter", K_DICT}, /* MultiStepLR's milestones in scheduler states */
    {"builtins", "dict", K_DICT},
    {"builtins", "list", K_LIST},
    {"builtins", "tuple", K_TUPLE},
    {"builtins", "set", K_SET},
    {"builtins", "frozenset", K_FROZENSET},
    {"builtins", "bytes", K_BYTES},
    {"_codecs", "encode", K_CODECS_ENCODE},
    {"torch._utils", "_rebuild_tensor_v2", K_REBUILD_TENSOR_V2},
    {"torch._utils", "_rebuild_tensor", K_REBUILD_TENSOR},
    {"torch._utils", "_rebuild_parameter", K_REBUILD_PARAMETER},
    {"torch._utils", "_rebuild_parameter_with_state", K_REBUILD_PARAMETER_STATE},
    {"torch._tensor", "_rebuild_from_type_v2", K_REBUILD_FROM_TYPE_V2},
    {"torch", "Tensor", K_TENSOR_CLASS},
    {"torch._tensor", "Tensor", K_TENSOR_CLASS},
    {"torch.nn.parameter", "Parameter", K_TENSOR_CLASS},
    {"torch", "device", K_DEVICE},
    {"torch", "Size", K_SIZE},
    {"argparse", "Namespace", K_NAMESPACE},
    /* numpy scalars (np.float64(0.5)) in side entries: decoded from their bytes */
    {"numpy", "dtype", K_NP_DTYPE},
    {"numpy.core.multiarray", "scalar", K_NP_SCALAR},
    {"numpy._core.multiarray", "scalar", K_NP_SCALAR},
};

/* torch.<name>: dtype objects (pickled by name) */
static const char *const k_torch_dtypes[] = {
    "float32", "float", "float16", "half", "bfloat16", "float64", "double", "int64", "long",
    "int32", "int", "int16", "short", "int8", "uint8", "bool", "complex64", "complex128",
};

/* torch.<Name>Storage: element size and the oc_st_dtype a tensor over it has (-1: none) */
static const struct {
    const char *name;
    int dtype;
    size_t size;
} k_storages[] = {
    {"FloatStorage", OC_DT_F32, 4},   {"HalfStorage", OC_DT_F16, 2},
    {"BFloat16Storage", OC_DT_BF16, 2}, {"DoubleStorage", OC_DT_F64, 8},
    {"LongStorage", OC_DT_I64, 8},    {"IntStorage", OC_DT_I32, 4},
    {"ShortStorage", -1, 2},          {"CharStorage", OC_DT_I8, 1},
    {"ByteStorage", OC_DT_U8, 1},     {"BoolStorage", OC_DT_BOOL, 1},
    {"UntypedStorage", OC_DT_U8, 1},  {"ComplexFloatStorage", -1, 8},
    {"ComplexDoubleStorage", -1, 16}, {"QInt8Storage", -1, 1},
    {"QUInt8Storage", -1, 1},         {"QInt32Storage", -1, 4},
    {"QUInt4x2Storage", -1, 1},       {"QUInt2x4Storage", -1, 1},
};

/* ---- memory: one arena per file, bounded by a budget ---- */
typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
} chunk;

struct oc_pk_file {
    chunk *chunks;
    size_t bytes, budget;
    oc_pk_value *root;
    oc_pk_storage **storages;
    size_t n_storages, cap_storages;
    /* storages by key (open addressing; slots hold index + 1), so that a pickle naming a
     * million storages costs a million lookups, not a million squared */
    uint32_t *slots;
    size_t n_slots;
};

#define CHUNK_BYTES ((size_t)64 * 1024)

static void *arena_alloc(oc_pk_file *f, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0 || n > f->budget || f->bytes > f->budget - n) return NULL;
    chunk *c = f->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_BYTES / 2 ? n : CHUNK_BYTES;
        chunk *nc = oc_malloc(sizeof(chunk) + cap);
        if (!nc) return NULL;
        nc->used = 0;
        nc->cap = cap;
        if (c && n > CHUNK_BYTES / 2) { /* a big block: keep the current chunk first */
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            f->chunks = nc;
        }
        c = nc;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    f->bytes += n;
    return p;
}

void oc_pk_free(oc_pk_file *f)
{
    if (!f) return;
    for (chunk *c = f->chunks, *n; c; c = n) {
        n = c->next;
        oc_free(c);
    }
    oc_free(f->storages);
    oc_free(f->slots);
    oc_free(f);
}

static size_t key_hash(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

const oc_pk_storage *oc_pk_find_storage(const oc_pk_file *f, const char *key)
{
    if (!f || !key || !f->n_slots) return NULL;
    for (size_t i = key_hash(key) & (f->n_slots - 1);; i = (i + 1) & (f->n_slots - 1)) {
        if (!f->slots[i]) return NULL;
        const oc_pk_storage *s = f->storages[f->slots[i] - 1];
        if (!strcmp(s->key, key)) return s;
    }
}

/* add storages[n_storages - 1] to the table, growing it to stay at most half full */
static int index_storage(oc_pk_file *f)
{
    if (f->n_storages * 2 > f->n_slots) {
        size_t ns = f->n_slots ? f->n_slots * 2 : 128;
        uint32_t *nt = oc_calloc(ns, sizeof *nt);
        if (!nt) return -1;
        for (size_t j = 0; j + 1 < f->n_storages; j++) {
            size_t i = key_hash(f->storages[j]->key) & (ns - 1);
            while (nt[i]) i = (i + 1) & (ns - 1);
            nt[i] = (uint32_t)(j + 1);
        }
        oc_free(f->slots);
        f->slots = nt;
        f->n_slots = ns;
    }
    size_t i = key_hash(f->storages[f->n_storages - 1]->key) & (f->n_slots - 1);
    while (f->slots[i]) i = (i + 1) & (f->n_slots - 1);
    f->slots[i] = (uint32_t)f->n_storages;
    return 0;
}

const oc_pk_value *oc_pk_root(const oc_pk_file *f) { return f ? f->root : NULL; }
size_t oc_pk_num_storages(const oc_pk_file *f) { return f ? f->n_storages : 0; }
const oc_pk_storage *oc_pk_storage_at(const oc_pk_file *f, size_t i)
{
    return f && i < f->n_storages ? f->storages[i] : NULL;
}

const char *oc_pk_type_name(oc_pk_type t)
{
    static const char *const names[] = {"None", "bool", "int", "int", "float", "str", "bytes",
                                        "tuple", "list", "set", "dict", "global", "object",
                                        "storage", "tensor"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* ---- the machine ---- */
typedef struct {
    oc_pk_file *f;
    const char *name;
    const uint8_t *base, *p, *end;
    size_t op_at;     /* offset of the current opcode, for messages */
    uint8_t op;
    oc_pk_value **stack;
    size_t sp, scap;
    size_t *marks;
    size_t nmarks, mcap;
    oc_pk_value **memo;
    size_t memo_cap, memo_count;
    oc_pk_value *none, *t, *fls; /* shared constants, in the arena */
} pk;

static const char *op_name(uint8_t op)
{
    switch (op) {
    case 0x80: return "PROTO"; case 0x95: return "FRAME"; case '.': return "STOP";
    case '(': return "MARK"; case '}': return "EMPTY_DICT"; case ']': return "EMPTY_LIST";
    case ')': return "EMPTY_TUPLE"; case 't': return "TUPLE"; case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2"; case 0x87: return "TUPLE3"; case 'a': return "APPEND";
    case 'e': return "APPENDS"; case 's': return "SETITEM"; case 'u': return "SETITEMS";
    case 'd': return "DICT"; case 'l': return "LIST"; case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT"; case 'h': return "BINGET"; case 'j': return "LONG_BINGET";
    case 0x94: return "MEMOIZE"; case 'p': return "PUT"; case 'g': return "GET";
    case 'J': return "BININT"; case 'K': return "BININT1"; case 'M': return "BININT2";
    case 0x8a: return "LONG1"; case 0x8b: return "LONG4"; case 'G': return "BINFLOAT";
    case 'N': return "NONE"; case 0x88: return "NEWTRUE"; case 0x89: return "NEWFALSE";
    case 'X': return "BINUNICODE"; case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8"; case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING"; case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES"; case 0x8e: return "BINBYTES8";
    case 0x96: return "BYTEARRAY8"; case 'c': return "GLOBAL"; case 0x93: return "STACK_GLOBAL";
    case 'R': return "REDUCE"; case 'b': return "BUILD"; case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX"; case 'Q': return "BINPERSID"; case 'P': return "PERSID";
    case 0x8f: return "EMPTY_SET"; case 0x90: return "ADDITEMS"; case 0x91: return "FROZENSET";
    case '0': return "POP"; case '1': return "POP_MARK"; case '2': return "DUP";
    case 'I': return "INT"; case 'L': return "LONG"; case 'F': return "FLOAT";
    case 'S': return "STRING"; case 'V': return "UNICODE"; case 'i': return "INST";
    case 'o': return "OBJ"; case 0x82: return "EXT1"; case 0x83: return "EXT2";
    case 0x84: return "EXT4"; case 0x97: return "NEXT_BUFFER"; case 0x98: return "READONLY_BUFFER";
    default: return NULL;
    }
}

static oc_status bad(pk *k, const char *fmt, ...) OC_PRINTF(2, 3);
static oc_status bad(pk *k, const char *fmt, ...)
{
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *on = op_name(k->op);
    return oc_error(OC_ERR_FORMAT, "%s: byte %zu (%s): %s", k->name, k->op_at,
                    on ? on : "opcode", msg);
}

static oc_status nomem(pk *k)
{
    if (k->f->bytes + 4096 >= k->f->budget)
        return bad(k, "unpickling needs more than %zu MB (the limit for a pickle of %zu bytes)",
                   k->f->budget >> 20, (size_t)(k->end - k->base));
    return oc_error(OC_ERR_NOMEM, "%s: out of memory while unpickling", k->name);
}

static oc_pk_value *new_value(pk *k, oc_pk_type t)
{
    oc_pk_value *v = arena_alloc(k->f, sizeof *v);
    if (v) {
        memset(v, 0, sizeof *v);
        v->type = t;
    }
    return v;
}

static oc_status push(pk *k, oc_pk_value *v)
{
    if (!v) return nomem(k);
    if (k->sp == k->scap) {
        size_t nc = k->scap ? k->scap * 2 : 64;
        oc_pk_value **ns = oc_realloc(k->stack, nc * sizeof *ns);
        if (!ns) return nomem(k);
        k->stack = ns;
        k->scap = nc;
    }
    k->stack[k->sp++] = v;
    return OC_OK;
}

static size_t mark_floor(const pk *k) { return k->nmarks ? k->marks[k->nmarks - 1] : 0; }

static oc_status pop(pk *k, oc_pk_value **out)
{
    if (k->sp <= mark_floor(k)) return bad(k, "the stack is empty (or stops at a MARK)");
    *out = k->stack[--k->sp];
    return OC_OK;
}

static oc_status top(pk *k, oc_pk_value **out)
{
    if (k->sp <= mark_floor(k)) return bad(k, "the stack is empty (or stops at a MARK)");
    *out = k->stack[k->sp - 1];
    return OC_OK;
}

/* items since the last MARK: *items points into the stack, the mark is removed */
static oc_status pop_mark(pk *k, oc_pk_value ***items, size_t *n)
{
    if (!k->nmarks) return bad(k, "no MARK to pop to");
    size_t m = k->marks[--k->nmarks];
    *items = k->stack + m;
    *n = k->sp - m;
    k->sp = m;
    return OC_OK;
}

static oc_status need(pk *k, uint64_t n)
{
    if ((uint64_t)(k->end - k->p) < n)
        return bad(k, "needs %llu bytes but only %zu are left in the pickle",
                   (unsigned long long)n, (size_t)(k->end - k->p));
    return OC_OK;
}

static uint64_t rd_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static oc_status check_depth(pk *k, oc_pk_value *container, const oc_pk_value *child)
{
    if (child->depth + 1 > container->depth) container->depth = child->depth + 1;
    if (container->depth > OC_PK_MAX_DEPTH)
        return bad(k, "containers nest deeper than %d levels", OC_PK_MAX_DEPTH);
    return OC_OK;
}

static oc_status seq_reserve(pk *k, oc_pk_value *s, size_t extra)
{
    size_t n = s->u.seq.n;
    if (extra > SIZE_MAX / 4 - n) return nomem(k);
    if (n + extra <= s->u.seq.cap) return OC_OK;
    size_t nc = s->u.seq.cap ? s->u.seq.cap : 4;
    while (nc < n + extra) nc *= 2;
    oc_pk_value **nv = arena_alloc(k->f, nc * sizeof *nv);
    if (!nv) return nomem(k);
    if (n) memcpy(nv, s->u.seq.v, n * sizeof *nv);
    s->u.seq.v = nv;
    s->u.seq.cap = nc;
    return OC_OK;
}

static oc_status seq_add(pk *k, oc_pk_value *s, oc_pk_value **items, size_t n)
{
    oc_status st = seq_reserve(k, s, n);
    for (size_t i = 0; !st && i < n; i++) {
        st = check_depth(k, s, items[i]);
        s->u.seq.v[s->u.seq.n++] = items[i];
    }
    return st;
}

static oc_status make_seq(pk *k, oc_pk_type t, oc_pk_value **items, size_t n, oc_pk_value **out)
{
    oc_pk_value *v = new_value(k, t);
    if (!v) return nomem(k);
    oc_status st = seq_add(k, v, items, n);
    *out = v;
    return st;
}

static int hashable(const oc_pk_value *v)
{
    switch (v->type) {
    case OC_PK_NONE: case OC_PK_BOOL: case OC_PK_INT: case OC_PK_BIGINT: case OC_PK_FLOAT:
    case OC_PK_STR: case OC_PK_BYTES: case OC_PK_GLOBAL: return 1;
    case OC_PK_TUPLE:
        for (size_t i = 0; i < v->u.seq.n; i++)
            if (!hashable(v->u.seq.v[i])) return 0; /* depth bounded by construction */
        return 1;
    default: return 0;
    }
}

/* pairs: keys at even, values at odd positions */
static oc_status dict_add(pk *k, oc_pk_value *d, oc_pk_value **kv, size_t n_items)
{
    if (d->type != OC_PK_DICT)
        return bad(k, "setting items on a %s (only dicts take items)", oc_pk_type_name(d->type));
    if (n_items % 2)
        return bad(k, "an odd number of items (%zu) for key/value pairs", n_items);
    size_t n = d->u.dict.n, add = n_items / 2;
    if (add > SIZE_MAX / 8 - n) return nomem(k);
    if (n + add > d->u.dict.cap) {
        size_t nc = d->u.dict.cap ? d->u.dict.cap : 4;
        while (nc < n + add) nc *= 2;
        oc_pk_value **nv = arena_alloc(k->f, 2 * nc * sizeof *nv);
        if (!nv) return nomem(k);
        if (n) memcpy(nv, d->u.dict.kv, 2 * n * sizeof *nv);
        d->u.dict.kv = nv;
        d->u.dict.cap = nc;
    }
    for (size_t i = 0; i < n_items; i += 2) {
        if (!hashable(kv[i]))
            return bad(k, "a %s cannot be a dict key", oc_pk_type_name(kv[i]->type));
        oc_status st = check_depth(k, d, kv[i]);
        if (!st) st = check_depth(k, d, kv[i + 1]);
        if (st) return st;
        d->u.dict.kv[2 * d->u.dict.n] = kv[i];
        d->u.dict.kv[2 * d->u.dict.n + 1] = kv[i + 1];
        d->u.dict.n++;
    }
    return OC_OK;
}

/* UTF-8 as Python's decoder with surrogatepass takes it (surrogates allowed) */
static int utf8_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
        else return 0;
        if (n - i < len) return 0;
        for (size_t j = 1; j < len; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
        i += len;
    }
    return 1;
}

static oc_status push_bytes(pk *k, oc_pk_type t, uint64_t n)
{
    oc_status st = need(k, n);
    if (st) return st;
    if (t == OC_PK_STR && !utf8_ok(k->p, (size_t)n))
        return bad(k, "a string of %llu bytes is not valid UTF-8", (unsigned long long)n);
    oc_pk_value *v = new_value(k, t);
    char *s = v ? arena_alloc(k->f, (size_t)n + 1) : NULL;
    if (!s) return nomem(k);
    memcpy(s, k->p, (size_t)n);
    s[n] = '\0';
    v->u.str.s = s;
    v->u.str.len = (size_t)n;
    k->p += n;
    return push(k, v);
}

/* little-endian two's complement of n bytes */
static oc_status push_long(pk *k, uint64_t n)
{
    oc_status st = need(k, n);
    if (st) return st;
    const uint8_t *b = k->p;
    k->p += n;
    /* drop redundant sign bytes */
    while (n > 1 && ((b[n - 1] == 0 && !(b[n - 2] & 0x80)) ||
                     (b[n - 1] == 0xff && (b[n - 2] & 0x80))))
        n--;
    if (n <= 8) {
        uint64_t u = n ? rd_le(b, (int)n) : 0;
        if (n && n < 8 && (b[n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n);
        oc_pk_value *v = new_value(k, OC_PK_INT);
        if (!v) return nomem(k);
        v->u.i = (int64_t)u;
        return push(k, v);
    }
    oc_pk_value *v = new_value(k, OC_PK_BIGINT);
    char *s = v ? arena_alloc(k->f, (size_t)n) : NULL;
    if (!s) return nomem(k);
    memcpy(s, b, (size_t)n);
    v->u.str.s = s;
    v->u.str.len = (size_t)n;
    return push(k, v);
}

static oc_status push_int(pk *k, int64_t i)
{
    oc_pk_value *v = new_value(k, OC_PK_INT);
    if (!v) return nomem(k);
    v->u.i = i;
    return push(k, v);
}

static oc_status memo_put(pk *k, uint64_t idx)
{
    oc_pk_value *v;
    oc_status st = top(k, &v);
    if (st) return st;
    if (idx >= (uint64_t)(k->end - k->base) + 1)
        return bad(k, "memo index %llu is out of range (at most one per byte of the pickle)",
                   (unsigned long long)idx);
    if (idx >= k->memo_cap) {
        size_t nc = k->memo_cap ? k->memo_cap : 64;
        while (nc <= idx) nc *= 2;
        oc_pk_value **nm = oc_realloc(k->memo, nc * sizeof *nm);
        if (!nm) return nomem(k);
        memset(nm + k->memo_cap, 0, (nc - k->memo_cap) * sizeof *nm);
        k->memo = nm;
        k->memo_cap = nc;
    }
    if (!k->memo[idx]) k->memo_count++;
    k->memo[idx] = v;
    return OC_OK;
}

static oc_status memo_get(pk *k, uint64_t idx)
{
    if (idx >= k->memo_cap || !k->memo[idx])
        return bad(k, "memo index %llu was never stored (%zu entries)", (unsigned long long)idx,
                   k->memo_count);
    return push(k, k->memo[idx]);
}

/* "123\n" (PUT, GET) */
static oc_status read_decimal_line(pk *k, uint64_t *out)
{
    uint64_t v = 0;
    int digits = 0;
    while (k->p < k->end && *k->p != '\n') {
        if (*k->p < '0' || *k->p > '9' || digits >= 18) return bad(k, "not a memo index");
        v = v * 10 + (uint64_t)(*k->p - '0');
        digits++;
        k->p++;
    }
    if (k->p == k->end || !digits) return bad(k, "a memo index line runs past the end");
    k->p++;
    *out = v;
    return OC_OK;
}

/* GLOBAL's "module\nname\n" */
static oc_status read_line(pk *k, char *buf, size_t cap)
{
    size_t n = 0;
    while (k->p < k->end && *k->p != '\n') {
        uint8_t c = *k->p++;
        if (c < 0x20 || c > 0x7e || n + 1 >= cap)
            return bad(k, "a global's module or name is not a short printable line");
        buf[n++] = (char)c;
    }
    if (k->p == k->end) return bad(k, "a global's name runs past the end of the pickle");
    k->p++;
    buf[n] = '\0';
    return OC_OK;
}

static char *arena_strdup(oc_pk_file *f, const char *s)
{
    size_t n = strlen(s);
    char *d = arena_alloc(f, n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* print a module or name from the stream safely into a message */
static void printable(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 5 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c < 0x7f && c != '\'') out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o] = '\0';
}

static oc_status push_global(pk *k, const char *module_in, const char *name)
{
    /* protocol-2 pickles written by Python 3 spell builtins the Python 2 way */
    const char *module = module_in;
    if (!strcmp(module, "__builtin__")) module = "builtins";
    int kind = 0, sub = -1;
    for (size_t i = 0; i < sizeof k_allowed / sizeof k_allowed[0]; i++)
        if (!strcmp(k_allowed[i].module, module) && !strcmp(k_allowed[i].name, name))
            kind = k_allowed[i].kind;
    if (!kind && (!strcmp(module, "torch") || !strcmp(module, "torch.storage"))) {
        for (size_t i = 0; i < sizeof k_storages / sizeof k_storages[0]; i++)
            if (!strcmp(k_storages[i].name, name)) {
                kind = K_STORAGE_TYPE;
                sub = (int)i;
            }
        if (!strcmp(module, "torch"))
            for (size_t i = 0; i < sizeof k_torch_dtypes / sizeof k_torch_dtypes[0]; i++)
                if (!strcmp(k_torch_dtypes[i], name)) kind = K_DTYPE;
    }
    if (!kind) {
        char m[300], n[300];
        printable(module_in, m, sizeof m);
        printable(name, n, sizeof n);
        return bad(k, "global '%s.%s' is not allowed: a checkpoint may only use the "
                   "allow-listed torch, collections and plain-data globals (nothing was run)",
                   m, n);
    }
    if (kind == K_DTYPE) { /* torch.float32 is plain data: its name */
        char full[320];
        snprintf(full, sizeof full, "torch.%s", name);
        oc_pk_value *v = new_value(k, OC_PK_STR);
        if (!v || !(v->u.str.s = arena_strdup(k->f, full))) return nomem(k);
        v->u.str.len = strlen(full);
        return push(k, v);
    }
    oc_pk_value *v = new_value(k, OC_PK_GLOBAL);
    if (!v) return nomem(k);
    v->u.global.kind = kind == K_STORAGE_TYPE ? K_STORAGE_TYPE + 100 * (sub + 1) : kind;
    v->u.global.module = arena_strdup(k->f, module);
    v->u.global.name = arena_strdup(k->f, name);
    if (!v->u.global.module || !v->u.global.name) return nomem(k);
    return push(k, v);
}

static int global_kind(const oc_pk_value *g) { return g->u.global.kind % 100; }
static int storage_sub(const oc_pk_value *g) { return g->u.global.kind / 100 - 1; }

/* ---- torch objects ---- */
static int valid_key(const char *s, size_t n)
{
    if (n == 0 || n > 128) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
            return 0;
    return 1;
}

static oc_status persistent_load(pk *k, oc_pk_value *pid)
{
    if (pid->type != OC_PK_TUPLE || pid->u.seq.n < 1 || pid->u.seq.v[0]->type != OC_PK_STR)
        return bad(k, "a persistent id must be a tuple starting with a string (got a %s)",
                   oc_pk_type_name(pid->type));
    oc_pk_value **a = pid->u.seq.v;
    if (strcmp(a[0]->u.str.s, "storage"))
        return bad(k, "persistent id of kind '%.40s' is not supported (only 'storage')",
                   a[0]->u.str.s);
    size_t n = pid->u.seq.n;
    if (n != 5 && n != 6)
        return bad(k, "a storage persistent id has %zu items, expected 5 (or 6 in the legacy "
                   "format)", n);
    if (a[1]->type != OC_PK_GLOBAL || global_kind(a[1]) != K_STORAGE_TYPE)
        return bad(k, "storage persistent id: item 1 is not a torch storage class");
    if (a[2]->type != OC_PK_STR || !valid_key(a[2]->u.str.s, a[2]->u.str.len))
        return bad(k, "storage persistent id: the key is not 1-128 characters of [A-Za-z0-9_.-]");
    if (a[3]->type != OC_PK_STR)
        return bad(k, "storage persistent id: the location is not a string");
    if (a[4]->type != OC_PK_INT || a[4]->u.i < 0)
        return bad(k, "storage persistent id: the element count is not a non-negative integer");
    if (n == 6 && a[5]->type != OC_PK_NONE)
        return bad(k, "storage '%s': legacy storage views are not supported", a[2]->u.str.s);
    int sub = storage_sub(a[1]);
    /* the same key again: the same storage (shared by several tensors) */
    oc_pk_file *f = k->f;
    const oc_pk_storage *s = oc_pk_find_storage(f, a[2]->u.str.s);
    if (s) {
        if (strcmp(s->type_name, k_storages[sub].name) || s->numel != (uint64_t)a[4]->u.i)
            return bad(k, "storage '%s' is declared twice, as %s of %llu and as %s of %lld "
                       "elements", s->key, s->type_name, (unsigned long long)s->numel,
                       k_storages[sub].name, (long long)a[4]->u.i);
        oc_pk_value *v = new_value(k, OC_PK_STORAGE);
        if (!v) return nomem(k);
        v->u.storage = (oc_pk_storage *)s; /* values do not modify it */
        return push(k, v);
    }
    uint64_t bytes;
    if (!oc_mul_u64((uint64_t)a[4]->u.i, k_storages[sub].size, &bytes) || bytes > ((uint64_t)1 << 53))
        return bad(k, "storage '%s': %lld elements of %zu bytes is too large", a[2]->u.str.s,
                   (long long)a[4]->u.i, k_storages[sub].size);
    oc_pk_storage *ns = arena_alloc(f, sizeof *ns);
    oc_pk_value *v = new_value(k, OC_PK_STORAGE);
    if (!ns || !v) return nomem(k);
    if (f->n_storages >= ((size_t)1 << 31)) return bad(k, "too many storages");
    ns->type_name = k_storages[sub].name;
    ns->dtype = k_storages[sub].dtype;
    ns->elem_size = k_storages[sub].size;
    ns->key = a[2]->u.str.s;
    ns->location = a[3]->u.str.s;
    ns->numel = (uint64_t)a[4]->u.i;
    ns->index = (int)f->n_storages;
    if (f->n_storages == f->cap_storages) {
        size_t nc = f->cap_storages ? f->cap_storages * 2 : 64;
        oc_pk_storage **grown = oc_realloc(f->storages, nc * sizeof *grown);
        if (!grown) return nomem(k);
        f->storages = grown;
        f->cap_storages = nc;
    }
    f->storages[f->n_storages++] = ns;
    if (index_storage(f)) return nomem(k);
    v->u.storage = ns;
    return push(k, v);
}

static void dims_text(const int64_t *d, int n, char *out, size_t cap)
{
    size_t o = 0;
    out[o++] = '[';
    for (int i = 0; i < n && o + 24 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, i ? ",%lld" : "%lld", (long long)d[i]);
    snprintf(out + o, cap - o, "]");
}

static oc_status int_tuple(pk *k, const oc_pk_value *t, const char *what, int64_t *out, int *n)
{
    if (t->type != OC_PK_TUPLE && t->type != OC_PK_LIST)
        return bad(k, "tensor %s is a %s, not a tuple", what, oc_pk_type_name(t->type));
    if (t->u.seq.n > OC_PK_MAX_DIMS)
        return bad(k, "tensor %s has %zu dims, more than %d", what, t->u.seq.n, OC_PK_MAX_DIMS);
    for (size_t i = 0; i < t->u.seq.n; i++) {
        const oc_pk_value *e = t->u.seq.v[i];
        if (e->type == OC_PK_BIGINT)
            return bad(k, "tensor %s[%zu] does not fit in 64 bits", what, i);
        if (e->type != OC_PK_INT) return bad(k, "tensor %s[%zu] is not an integer", what, i);
        if (e->u.i < 0)
            return bad(k, "tensor %s[%zu] is negative (%lld)", what, i, (long long)e->u.i);
        out[i] = e->u.i;
    }
    *n = (int)t->u.seq.n;
    return OC_OK;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, ...) */
static oc_status make_tensor(pk *k, oc_pk_value **args, size_t nargs, oc_pk_value **out)
{
    if (nargs < 4) return bad(k, "a tensor needs storage, offset, size and stride (got %zu "
                              "arguments)", nargs);
    if (args[0]->type != OC_PK_STORAGE)
        return bad(k, "a tensor's storage is a %s (storages come from persistent ids)",
                   oc_pk_type_name(args[0]->type));
    const oc_pk_storage *s = args[0]->u.storage;
    if (args[1]->type != OC_PK_INT || args[1]->u.i < 0)
        return bad(k, "tensor on storage '%s': the storage offset is not a non-negative integer",
                   s->key);
    oc_pk_tensor *t = arena_alloc(k->f, sizeof *t);
    oc_pk_value *v = new_value(k, OC_PK_TENSOR);
    if (!t || !v) return nomem(k);
    memset(t, 0, sizeof *t);
    t->storage = args[0];
    t->offset = args[1]->u.i;
    int ns = 0;
    oc_status st = int_tuple(k, args[2], "size", t->size, &t->ndim);
    if (!st) st = int_tuple(k, args[3], "stride", t->stride, &ns);
    if (st) return st;
    char sz[200], sd[200];
    dims_text(t->size, t->ndim, sz, sizeof sz);
    dims_text(t->stride, ns, sd, sizeof sd);
    if (ns != t->ndim)
        return bad(k, "tensor on storage '%s': size %s and stride %s differ in length", s->key,
                   sz, sd);
    uint64_t numel = 1, last = (uint64_t)t->offset;
    for (int i = 0; i < t->ndim; i++)
        if (!oc_mul_u64(numel, (uint64_t)t->size[i], &numel) || numel > ((uint64_t)1 << 53))
            return bad(k, "tensor on storage '%s': size %s overflows the element count", s->key,
                       sz);
    if (numel > 0) {
        for (int i = 0; i < t->ndim; i++) {
            uint64_t step;
            if (!oc_mul_u64((uint64_t)(t->size[i] - 1), (uint64_t)t->stride[i], &step) ||
                !oc_add_u64(last, step, &last))
                return bad(k, "tensor on storage '%s': size %s with stride %s overflows the "
                           "storage offset", s->key, sz, sd);
        }
        if (last >= s->numel)
            return bad(k, "tensor of size %s, stride %s at offset %lld reaches element %llu but "
                       "storage '%s' (%s) holds %llu elements", sz, sd, (long long)t->offset,
                       (unsigned long long)last, s->key, s->type_name,
                       (unsigned long long)s->numel);
    } else if ((uint64_t)t->offset > s->numel) {
        return bad(k, "empty tensor at offset %lld is past the end of storage '%s' (%llu "
                   "elements)", (long long)t->offset, s->key, (unsigned long long)s->numel);
    }
    t->numel = numel;
    int contig = 1;
    int64_t expect = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->size[i] != 1 && t->stride[i] != expect) contig = 0;
        expect *= t->size[i] ? t->size[i] : 1;
    }
    t->contiguous = contig || numel == 0;
    v->u.tensor = t;
    *out = v;
    return OC_OK;
}

static oc_status call_global(pk *k, oc_pk_value *fn, oc_pk_value *args, oc_pk_value **out);

/* numpy.core.multiarray.scalar(dtype, bytes): a number */
static oc_status np_scalar(pk *k, oc_pk_value **a, size_t n, oc_pk_value **out)
{
    if (n != 2 || a[0]->type != OC_PK_OBJECT || strcmp(a[0]->u.obj.cls, "numpy.dtype") ||
        a[1]->type != OC_PK_BYTES)
        return bad(k, "numpy scalar: expected (numpy.dtype, bytes)");
    const oc_pk_value *code = oc_pk_dict_get(a[0]->u.obj.attrs, "str");
    const oc_pk_value *order = oc_pk_dict_get(a[0]->u.obj.attrs, "byteorder");
    if (!code || code->type != OC_PK_STR || !order || order->type != OC_PK_STR)
        return bad(k, "numpy scalar: malformed dtype");
    const char *c = code->u.str.s;
    if (c[0] && strchr("<>=|", c[0])) c++; /* '<f8' */
    size_t len = a[1]->u.str.len;
    if (strlen(c) != 2 || !strchr("fiub", c[0]) || c[1] < '1' || c[1] > '8' ||
        (size_t)(c[1] - '0') != len || (c[0] == 'f' && len != 2 && len != 4 && len != 8) ||
        (c[0] == 'b' && len != 1) || (len & (len - 1)))
        return bad(k, "numpy scalar of dtype '%.8s' with %zu bytes is not supported", c, len);
    uint8_t b[8];
    int big = order->u.str.s[0] == '>' || code->u.str.s[0] == '>';
    for (size_t i = 0; i < len; i++) b[i] = (uint8_t)a[1]->u.str.s[big ? len - 1 - i : i];
    uint64_t u = rd_le(b, (int)len);
    oc_pk_value *v;
    if (c[0] == 'f') {
        if (!(v = new_value(k, OC_PK_FLOAT))) return nomem(k);
        if (len == 8) memcpy(&v->u.f, &u, 8);
        else if (len == 4) {
            uint32_t w = (uint32_t)u;
            float x;
            memcpy(&x, &w, 4);
            v->u.f = x;
        } else {
            v->u.f = oc_f16_to_f32((uint16_t)u);
        }
    } else if (c[0] == 'b') {
        if (!(v = new_value(k, OC_PK_BOOL))) return nomem(k);
        v->u.b = u != 0;
    } else {
        if (!(v = new_value(k, OC_PK_INT))) return nomem(k);
        if (c[0] == 'i' && len < 8 && (u >> (8 * len - 1)) & 1) u |= ~(uint64_t)0 << (8 * len);
        if (c[0] == 'u' && len == 8 && u > (uint64_t)INT64_MAX)
            return bad(k, "numpy uint64 scalar %llu does not fit in 64-bit signed",
                       (unsigned long long)u);
        v->u.i = (int64_t)u;
    }
    *out = v;
    return OC_OK;
}

/* REDUCE: fn(*args) for the allowed kinds */
static oc_status call_global(pk *k, oc_pk_value *fn, oc_pk_value *args, oc_pk_value **out)
{
    if (fn->type != OC_PK_GLOBAL)
        return bad(k, "calling a %s (only allow-listed globals can be called)",
                   oc_pk_type_name(fn->type));
    if (args->type != OC_PK_TUPLE)
        return bad(k, "the arguments of %s.%s are a %s, not a tuple", fn->u.global.module,
                   fn->u.global.name, oc_pk_type_name(args->type));
    oc_pk_value **a = args->u.seq.v;
    size_t n = args->u.seq.n;
    int kind = global_kind(fn);
    oc_status st;
    switch (kind) {
    case K_DICT: {
        oc_pk_value *d = new_value(k, OC_PK_DICT);
        if (!d) return nomem(k);
        if (n == 1 && a[0]->type == OC_PK_DICT) {
            if ((st = dict_add(k, d, a[0]->u.dict.kv, 2 * a[0]->u.dict.n))) return st;
        } else if (n == 1 && (a[0]->type == OC_PK_LIST || a[0]->type == OC_PK_TUPLE)) {
            for (size_t i = 0; i < a[0]->u.seq.n; i++) {
                oc_pk_value *p = a[0]->u.seq.v[i];
                if ((p->type != OC_PK_TUPLE && p->type != OC_PK_LIST) || p->u.seq.n != 2)
                    return bad(k, "%s.%s: item %zu is not a (key, value) pair",
                               fn->u.global.module, fn->u.global.name, i);
                if ((st = dict_add(k, d, p->u.seq.v, 2))) return st;
            }
        } else if (n != 0) {
            return bad(k, "%s.%s takes no arguments or one list of pairs here",
                       fn->u.global.module, fn->u.global.name);
        }
        *out = d;
        return OC_OK;
    }
    case K_LIST: case K_TUPLE: case K_SET: case K_FROZENSET: case K_SIZE: {
        oc_pk_type t = kind == K_LIST ? OC_PK_LIST
                     : (kind == K_SET || kind == K_FROZENSET) ? OC_PK_SET : OC_PK_TUPLE;
        if (n == 0) return make_seq(k, t, NULL, 0, out);
        if (n == 1 && (a[0]->type == OC_PK_LIST || a[0]->type == OC_PK_TUPLE ||
                       a[0]->type == OC_PK_SET))
            return make_seq(k, t, a[0]->u.seq.v, a[0]->u.seq.n, out);
        return bad(k, "%s.%s takes no arguments or one list, tuple or set here",
                   fn->u.global.module, fn->u.global.name);
    }
    case K_BYTES:
        if (n != 0) return bad(k, "builtins.bytes takes no arguments here");
        *out = new_value(k, OC_PK_BYTES);
        if (!*out || !((*out)->u.str.s = arena_alloc(k->f, 1))) return nomem(k);
        (*out)->u.str.s[0] = 0;
        return OC_OK;
    case K_CODECS_ENCODE: {
        /* protocol 2's spelling of bytes: _codecs.encode(text, 'latin1') */
        if (n != 2 || a[0]->type != OC_PK_STR || a[1]->type != OC_PK_STR ||
            (strcmp(a[1]->u.str.s, "latin1") && strcmp(a[1]->u.str.s, "latin-1")))
            return bad(k, "_codecs.encode is allowed only as encode(str, 'latin1')");
        const uint8_t *s = (const uint8_t *)a[0]->u.str.s;
        size_t len = a[0]->u.str.len, o = 0;
        char *b = arena_alloc(k->f, len + 1);
        oc_pk_value *v = new_value(k, OC_PK_BYTES);
        if (!b || !v) return nomem(k);
        for (size_t i = 0; i < len; i++) {
            if (s[i] < 0x80) b[o++] = (char)s[i];
            else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < len) {
                b[o++] = (char)(((s[i] & 0x03) << 6) | (s[i + 1] & 0x3f));
                i++;
            } else {
                return bad(k, "_codecs.encode: a character above U+00FF is not latin-1");
            }
        }
        b[o] = 0;
        v->u.str.s = b;
        v->u.str.len = o;
        *out = v;
        return OC_OK;
    }
    case K_REBUILD_TENSOR_V2: case K_REBUILD_TENSOR:
        return make_tensor(k, a, n, out);
    case K_REBUILD_PARAMETER: case K_REBUILD_PARAMETER_STATE:
        if (n < 1 || a[0]->type != OC_PK_TENSOR)
            return bad(k, "%s expects a tensor as its first argument", fn->u.global.name);
        *out = a[0];
        return OC_OK;
    case K_REBUILD_FROM_TYPE_V2:
        /* (func, new_type, args, state): a tensor subclass or a tensor with attributes */
        if (n != 4 || a[0]->type != OC_PK_GLOBAL || a[1]->type != OC_PK_GLOBAL ||
            global_kind(a[1]) != K_TENSOR_CLASS)
            return bad(k, "_rebuild_from_type_v2 is allowed only for torch.Tensor and "
                       "torch.nn.Parameter");
        if ((st = call_global(k, a[0], a[2], out))) return st;
        if ((*out)->type != OC_PK_TENSOR)
            return bad(k, "_rebuild_from_type_v2 did not rebuild a tensor");
        return OC_OK;
    case K_DEVICE: {
        /* torch.device('cuda', 0) or torch.device('cpu'): its text */
        if (n < 1 || n > 2 || a[0]->type != OC_PK_STR || (n == 2 && a[1]->type != OC_PK_INT))
            return bad(k, "torch.device takes a string and an optional index");
        char buf[96];
        if (n == 2) snprintf(buf, sizeof buf, "%.60s:%lld", a[0]->u.str.s, (long long)a[1]->u.i);
        else snprintf(buf, sizeof buf, "%.60s", a[0]->u.str.s);
        oc_pk_value *v = new_value(k, OC_PK_STR);
        if (!v || !(v->u.str.s = arena_strdup(k->f, buf))) return nomem(k);
        v->u.str.len = strlen(buf);
        *out = v;
        return OC_OK;
    }
    case K_NAMESPACE: {
        if (n != 0) return bad(k, "argparse.Namespace takes no positional arguments here");
        oc_pk_value *v = new_value(k, OC_PK_OBJECT), *attrs = new_value(k, OC_PK_DICT);
        if (!v || !attrs) return nomem(k);
        v->u.obj.cls = "argparse.Namespace";
        v->u.obj.attrs = attrs;
        v->depth = 1;
        *out = v;
        return OC_OK;
    }
    case K_NP_DTYPE: {
        /* numpy.dtype('f8', False, True): kept as {"str": "f8", "byteorder": "="}; BUILD sets
         * the byte order from its state tuple */
        if (n < 1 || a[0]->type != OC_PK_STR || a[0]->u.str.len > 8)
            return bad(k, "numpy.dtype takes a short type string here");
        oc_pk_value *v = new_value(k, OC_PK_OBJECT), *attrs = new_value(k, OC_PK_DICT);
        oc_pk_value *ks = new_value(k, OC_PK_STR), *kb = new_value(k, OC_PK_STR);
        oc_pk_value *bo = new_value(k, OC_PK_STR);
        if (!v || !attrs || !ks || !kb || !bo || !(ks->u.str.s = arena_strdup(k->f, "str")) ||
            !(kb->u.str.s = arena_strdup(k->f, "byteorder")) ||
            !(bo->u.str.s = arena_strdup(k->f, "=")))
            return nomem(k);
        ks->u.str.len = 3;
        kb->u.str.len = 9;
        bo->u.str.len = 1;
        oc_pk_value *kv[4] = {ks, a[0], kb, bo};
        if ((st = dict_add(k, attrs, kv, 4))) return st;
        v->u.obj.cls = "numpy.dtype";
        v->u.obj.attrs = attrs;
        v->depth = 2;
        *out = v;
        return OC_OK;
    }
    case K_NP_SCALAR:
        return np_scalar(k, a, n, out);
    default:
        return bad(k, "%s.%s is allowed as a value but cannot be called",
                   fn->u.global.module, fn->u.global.name);
    }
}

static oc_status build(pk *k, oc_pk_value *obj, oc_pk_value *state)
{
    oc_pk_value *d = state;
    /* (dict_state, slot_state) */
    if (d->type == OC_PK_TUPLE && d->u.seq.n == 2) d = d->u.seq.v[0];
    if (obj->type == OC_PK_OBJECT && !strcmp(obj->u.obj.cls, "numpy.dtype")) {
        /* (version, byteorder, subdtype, names, fields, elsize, alignment, flags) */
        if (state->type != OC_PK_TUPLE || state->u.seq.n < 2 ||
            state->u.seq.v[1]->type != OC_PK_STR || state->u.seq.v[1]->u.str.len != 1)
            return bad(k, "numpy.dtype state is not (version, byteorder, ...)");
        for (size_t i = 0; i < obj->u.obj.attrs->u.dict.n; i++) {
            oc_pk_value *key = obj->u.obj.attrs->u.dict.kv[2 * i];
            if (!strcmp(key->u.str.s, "byteorder"))
                obj->u.obj.attrs->u.dict.kv[2 * i + 1] = state->u.seq.v[1];
        }
        return OC_OK;
    }
    if (obj->type == OC_PK_OBJECT) {
        if (d->type == OC_PK_NONE) return OC_OK;
        if (d->type != OC_PK_DICT)
            return bad(k, "the state of a %s is a %s, not a dict", obj->u.obj.cls,
                       oc_pk_type_name(d->type));
        oc_status st = dict_add(k, obj->u.obj.attrs, d->u.dict.kv, 2 * d->u.dict.n);
        if (!st) st = check_depth(k, obj, obj->u.obj.attrs);
        return st;
    }
    /* an OrderedDict's attributes (a state_dict's _metadata), a tensor's python attributes:
     * plain data that nothing here needs */
    if ((obj->type == OC_PK_DICT || obj->type == OC_PK_TENSOR) &&
        (d->type == OC_PK_DICT || d->type == OC_PK_NONE))
        return OC_OK;
    return bad(k, "BUILD on a %s with a %s state is not supported", oc_pk_type_name(obj->type),
               oc_pk_type_name(state->type));
}

static oc_status newobj(pk *k, oc_pk_value *cls, oc_pk_value *args, oc_pk_value **out)
{
    if (cls->type != OC_PK_GLOBAL)
        return bad(k, "NEWOBJ on a %s", oc_pk_type_name(cls->type));
    if (args->type != OC_PK_TUPLE || args->u.seq.n != 0)
        return bad(k, "%s.%s: NEWOBJ with arguments is not supported", cls->u.global.module,
                   cls->u.global.name);
    switch (global_kind(cls)) {
    case K_DICT: case K_LIST: case K_TUPLE: case K_SET: case K_FROZENSET: case K_NAMESPACE:
        return call_global(k, cls, args, out);
    default:
        return bad(k, "%s.%s cannot be instantiated (NEWOBJ)", cls->u.global.module,
                   cls->u.global.name);
    }
}

static oc_status run(pk *k, size_t *consumed)
{
    oc_status st = OC_OK;
    int first = 1;
    while (!st) {
        if (k->p >= k->end) {
            k->op_at = (size_t)(k->end - k->base);
            k->op = 0;
            return bad(k, "the pickle ends without STOP (truncated?)");
        }
        k->op_at = (size_t)(k->p - k->base);
        k->op = *k->p++;
        uint8_t op = k->op;
        if (first && op != 0x80)
            return bad(k, "the pickle does not start with PROTO (protocol 2 to 5 is needed)");
        first = 0;
        oc_pk_value *a = NULL, *b = NULL, *c = NULL, *v = NULL, **items = NULL;
        size_t n = 0;
        switch (op) {
        case 0x80: /* PROTO */
            if ((st = need(k, 1))) break;
            if (*k->p < 2 || *k->p > 5) {
                st = bad(k, "pickle protocol %d is not supported (2 to 5)", *k->p);
                break;
            }
            k->p++;
            break;
        case 0x95: /* FRAME: a length hint */
            if ((st = need(k, 8))) break;
            if (rd_le(k->p, 8) > (uint64_t)(k->end - k->p - 8)) {
                st = bad(k, "frame of %llu bytes runs past the end of the pickle",
                         (unsigned long long)rd_le(k->p, 8));
                break;
            }
            k->p += 8;
            break;
        case '.': /* STOP */
            if ((st = pop(k, &v))) break;
            if (k->nmarks || k->sp) {
                st = bad(k, "STOP with %zu values and %zu marks left on the stack", k->sp,
                         k->nmarks);
                break;
            }
            k->f->root = v;
            if (consumed) *consumed = (size_t)(k->p - k->base);
            else if (k->p != k->end)
                st = bad(k, "%zu bytes after STOP", (size_t)(k->end - k->p));
            return st;
        case '(': /* MARK */
            if (k->nmarks == k->mcap) {
                size_t nc = k->mcap ? k->mcap * 2 : 32;
                size_t *nm = oc_realloc(k->marks, nc * sizeof *nm);
                if (!nm) { st = nomem(k); break; }
                k->marks = nm;
                k->mcap = nc;
            }
            k->marks[k->nmarks++] = k->sp;
            break;
        case '}': st = push(k, new_value(k, OC_PK_DICT)); break;
        case ']': st = push(k, new_value(k, OC_PK_LIST)); break;
        case ')': st = push(k, new_value(k, OC_PK_TUPLE)); break;
        case 0x8f: st = push(k, new_value(k, OC_PK_SET)); break;
        case 'N': st = push(k, k->none); break;
        case 0x88: st = push(k, k->t); break;
        case 0x89: st = push(k, k->fls); break;
        case 't': case 'l': case 0x91: /* TUPLE, LIST, FROZENSET */
            if ((st = pop_mark(k, &items, &n))) break;
            if (!(st = make_seq(k, op == 't' ? OC_PK_TUPLE : op == 'l' ? OC_PK_LIST : OC_PK_SET,
                                items, n, &v)))
                st = push(k, v);
            break;
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            n = (size_t)(op - 0x84);
            if (k->sp < mark_floor(k) + n) {
                st = bad(k, "the stack holds fewer than %zu values", n);
                break;
            }
            k->sp -= n;
            if (!(st = make_seq(k, OC_PK_TUPLE, k->stack + k->sp, n, &v))) st = push(k, v);
            break;
        }
        case 'a': /* APPEND */
            if ((st = pop(k, &a)) || (st = top(k, &b))) break;
            if (b->type != OC_PK_LIST) {
                st = bad(k, "appending to a %s", oc_pk_type_name(b->type));
                break;
            }
            st = seq_add(k, b, &a, 1);
            break;
        case 'e': case 0x90: /* APPENDS, ADDITEMS */
            if ((st = pop_mark(k, &items, &n)) || (st = top(k, &b))) break;
            if (b->type != (op == 'e' ? OC_PK_LIST : OC_PK_SET)) {
                st = bad(k, "adding items to a %s", oc_pk_type_name(b->type));
                break;
            }
            st = seq_add(k, b, items, n);
            break;
        case 's': /* SETITEM */
            if ((st = pop(k, &a)) || (st = pop(k, &b)) || (st = top(k, &c))) break;
            {
                oc_pk_value *kv[2] = {b, a};
                st = dict_add(k, c, kv, 2);
            }
            break;
        case 'u': /* SETITEMS */
            if ((st = pop_mark(k, &items, &n)) || (st = top(k, &c))) break;
            st = dict_add(k, c, items, n);
            break;
        case 'd': /* DICT */
            if ((st = pop_mark(k, &items, &n))) break;
            if (!(v = new_value(k, OC_PK_DICT))) { st = nomem(k); break; }
            if (!(st = dict_add(k, v, items, n))) st = push(k, v);
            break;
        case 'q': if (!(st = need(k, 1))) { st = memo_put(k, k->p[0]); k->p += 1; } break;
        case 'r': if (!(st = need(k, 4))) { st = memo_put(k, rd_le(k->p, 4)); k->p += 4; } break;
        case 0x94: st = memo_put(k, k->memo_count); break;
        case 'h': if (!(st = need(k, 1))) { st = memo_get(k, k->p[0]); k->p += 1; } break;
        case 'j': if (!(st = need(k, 4))) { st = memo_get(k, rd_le(k->p, 4)); k->p += 4; } break;
        case 'p': case 'g': {
            uint64_t idx = 0;
            if (!(st = read_decimal_line(k, &idx))) st = op == 'p' ? memo_put(k, idx) : memo_get(k, idx);
            break;
        }
        case 'J':
            if (!(st = need(k, 4))) {
                st = push_int(k, (int32_t)(uint32_t)rd_le(k->p, 4));
                k->p += 4;
            }
            break;
        case 'K': if (!(st = need(k, 1))) { st = push_int(k, k->p[0]); k->p += 1; } break;
        case 'M': if (!(st = need(k, 2))) { st = push_int(k, (int64_t)rd_le(k->p, 2)); k->p += 2; } break;
        case 0x8a: if (!(st = need(k, 1))) { n = k->p[0]; k->p += 1; st = push_long(k, n); } break;
        case 0x8b:
            if ((st = need(k, 4))) break;
            if ((int32_t)(uint32_t)rd_le(k->p, 4) < 0) { st = bad(k, "negative length"); break; }
            n = (size_t)rd_le(k->p, 4);
            k->p += 4;
            st = push_long(k, n);
            break;
        case 'G': {
            if ((st = need(k, 8))) break;
            uint64_t u = 0;
            for (int i = 0; i < 8; i++) u = (u << 8) | k->p[i]; /* big-endian */
            k->p += 8;
            if (!(v = new_value(k, OC_PK_FLOAT))) { st = nomem(k); break; }
            memcpy(&v->u.f, &u, 8);
            st = push(k, v);
            break;
        }
        case 'X': case 'T': case 'B':
            if ((st = need(k, 4))) break;
            n = (size_t)rd_le(k->p, 4);
            if (op == 'T' && (int32_t)(uint32_t)n < 0) { st = bad(k, "negative length"); break; }
            k->p += 4;
            st = push_bytes(k, op == 'B' ? OC_PK_BYTES : OC_PK_STR, n);
            break;
        case 0x8c: case 'U': case 'C':
            if ((st = need(k, 1))) break;
            n = k->p[0];
            k->p += 1;
            st = push_bytes(k, op == 'C' ? OC_PK_BYTES : OC_PK_STR, n);
            break;
        case 0x8d: case 0x8e: case 0x96: {
            if ((st = need(k, 8))) break;
            uint64_t len = rd_le(k->p, 8);
            k->p += 8;
            st = push_bytes(k, op == 0x8d ? OC_PK_STR : OC_PK_BYTES, len);
            break;
        }
        case 'c': { /* GLOBAL */
            char module[256], name[256];
            if ((st = read_line(k, module, sizeof module)) || (st = read_line(k, name, sizeof name)))
                break;
            st = push_global(k, module, name);
            break;
        }
        case 0x93: /* STACK_GLOBAL */
            if ((st = pop(k, &a)) || (st = pop(k, &b))) break;
            if (a->type != OC_PK_STR || b->type != OC_PK_STR) {
                st = bad(k, "STACK_GLOBAL needs two strings");
                break;
            }
            if (a->u.str.len > 255 || b->u.str.len > 255 || strlen(a->u.str.s) != a->u.str.len ||
                strlen(b->u.str.s) != b->u.str.len) {
                st = bad(k, "a global's module or name is not a short string");
                break;
            }
            st = push_global(k, b->u.str.s, a->u.str.s);
            break;
        case 'R': /* REDUCE */
            if ((st = pop(k, &a)) || (st = pop(k, &b))) break;
            if (!(st = call_global(k, b, a, &v))) st = push(k, v);
            break;
        case 0x81: /* NEWOBJ */
            if ((st = pop(k, &a)) || (st = pop(k, &b))) break;
            if (!(st = newobj(k, b, a, &v))) st = push(k, v);
            break;
        case 0x92: /* NEWOBJ_EX */
            if ((st = pop(k, &c)) || (st = pop(k, &a)) || (st = pop(k, &b))) break;
            if (c->type != OC_PK_DICT || c->u.dict.n) {
                st = bad(k, "NEWOBJ_EX with keyword arguments is not supported");
                break;
            }
            if (!(st = newobj(k, b, a, &v))) st = push(k, v);
            break;
        case 'b': /* BUILD */
            if ((st = pop(k, &a)) || (st = top(k, &b))) break;
            st = build(k, b, a);
            break;
        case 'Q': /* BINPERSID */
            if ((st = pop(k, &a))) break;
            st = persistent_load(k, a);
            break;
        case '0': /* POP */
            if (k->nmarks && k->sp == mark_floor(k)) k->nmarks--;
            else st = pop(k, &a);
            break;
        case '1': st = pop_mark(k, &items, &n); break;
        case '2': if (!(st = top(k, &a))) st = push(k, a); break;
        default: {
            const char *on = op_name(op);
            if (on)
                st = bad(k, "opcode %s is not supported in a checkpoint", on);
            else
                st = bad(k, "unknown opcode 0x%02x", op);
            break;
        }
        }
    }
    return st;
}

static oc_status load(const void *data, size_t len, const char *name, size_t *consumed,
                      oc_pk_file **out)
{
    *out = NULL;
    if (!data && len) return oc_error(OC_ERR_INVALID_ARG, "oc_pk_load: NULL data");
    if (!name) name = "pickle";
    if (len > OC_PK_MAX_LEN)
        return oc_error(OC_ERR_FORMAT, "%s: the pickle is %zu bytes, more than the limit of %u "
                        "MB", name, len, OC_PK_MAX_LEN >> 20);
    oc_pk_file *f = oc_calloc(1, sizeof *f);
    if (!f) return oc_error(OC_ERR_NOMEM, "%s: out of memory", name);
    /* every opcode makes at most one value; 64 bytes of arena per input byte is plenty */
    f->budget = 64 * len + ((size_t)1 << 20);
    pk k;
    memset(&k, 0, sizeof k);
    k.f = f;
    k.name = name;
    k.base = k.p = data;
    k.end = k.base + len;
    k.scap = 64; /* never NULL: items since a MARK are a pointer into it, even when empty */
    k.stack = oc_malloc(k.scap * sizeof *k.stack);
    k.none = new_value(&k, OC_PK_NONE);
    k.t = new_value(&k, OC_PK_BOOL);
    k.fls = new_value(&k, OC_PK_BOOL);
    if (!k.stack || !k.none || !k.t || !k.fls) {
        oc_free(k.stack);
        oc_pk_free(f);
        return oc_error(OC_ERR_NOMEM, "%s: out of memory", name);
    }
    k.t->u.b = 1;
    oc_status st = run(&k, consumed);
    oc_free(k.stack);
    oc_free(k.marks);
    oc_free(k.memo);
    if (st) {
        oc_pk_free(f);
        return st;
    }
    *out = f;
    return OC_OK;
}

oc_status oc_pk_load(const void *data, size_t len, const char *name, oc_pk_file **out)
{
    if (!out) return oc_error(OC_ERR_INVALID_ARG, "oc_pk_load: NULL out");
    return load(data, len, name, NULL, out);
}

oc_status oc_pk_load_prefix(const void *data, size_t len, const char *name, size_t *consumed,
                            oc_pk_file **out)
{
    if (!out || !consumed) return oc_error(OC_ERR_INVALID_ARG, "oc_pk_load_prefix: NULL out");
    return load(data, len, name, consumed, out);
}

/* ---- reading the tree ---- */
const oc_pk_value *oc_pk_dict_get(const oc_pk_value *d, const char *key)
{
    if (!d || d->type != OC_PK_DICT || !key) return NULL;
    size_t kl = strlen(key);
    const oc_pk_value *found = NULL;
    for (size_t i = 0; i < d->u.dict.n; i++) { /* the last wins, as in Python */
        const oc_pk_value *k = d->u.dict.kv[2 * i];
        if (k->type == OC_PK_STR && k->u.str.len == kl && !memcmp(k->u.str.s, key, kl))
            found = d->u.dict.kv[2 * i + 1];
    }
    return found;
}

int oc_pk_is_state_dict(const oc_pk_value *v)
{
    if (!v || v->type != OC_PK_DICT || v->u.dict.n == 0) return 0;
    for (size_t i = 0; i < v->u.dict.n; i++)
        if (v->u.dict.kv[2 * i]->type != OC_PK_STR || v->u.dict.kv[2 * i + 1]->type != OC_PK_TENSOR)
            return 0;
    return 1;
}

/* Walks share a visit budget: values may be shared (a DAG), so depth alone does not bound the
 * work of a walk. */
typedef struct {
    size_t visits, max_visits;
} walk;

static int plain_rec(const oc_pk_value *v, int depth, walk *w)
{
    if (depth > OC_PK_MAX_DEPTH || ++w->visits > w->max_visits) return 0;
    switch (v->type) {
    case OC_PK_STORAGE: case OC_PK_TENSOR: case OC_PK_GLOBAL: return 0;
    case OC_PK_TUPLE: case OC_PK_LIST: case OC_PK_SET:
        for (size_t i = 0; i < v->u.seq.n; i++)
            if (!plain_rec(v->u.seq.v[i], depth + 1, w)) return 0;
        return 1;
    case OC_PK_DICT:
        for (size_t i = 0; i < 2 * v->u.dict.n; i++)
            if (!plain_rec(v->u.dict.kv[i], depth + 1, w)) return 0;
        return 1;
    case OC_PK_OBJECT: return plain_rec(v->u.obj.attrs, depth + 1, w);
    default: return 1;
    }
}

int oc_pk_is_plain(const oc_pk_value *v)
{
    walk w = {0, (size_t)1 << 22};
    return v && plain_rec(v, 0, &w);
}

typedef struct {
    char *s;
    size_t n, cap, max;
    int fail;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->fail) return;
    if (n > b->max - b->n) {
        b->fail = 1;
        return;
    }
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n + 1) nc *= 2;
        char *ns = oc_realloc(b->s, nc);
        if (!ns) {
            b->fail = 1;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void put_str(sbuf *b, const char *s, size_t n, int bytes)
{
    put(b, "\"", 1);
    for (size_t i = 0; i < n && !b->fail; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\';
            e[1] = (char)c;
            put(b, e, 2);
        } else if (c < 0x20 || c == 0x7f || (bytes && c >= 0x80)) {
            snprintf(e, sizeof e, "\\u%04x", c);
            put(b, e, 6);
        } else {
            put(b, (const char *)&s[i], 1);
        }
    }
    put(b, "\"", 1);
}

static void json_rec(sbuf *b, const oc_pk_value *v, int depth)
{
    char num[64];
    if (b->fail) return;
    if (depth > OC_PK_MAX_DEPTH) {
        b->fail = 1;
        return;
    }
    switch (v->type) {
    case OC_PK_NONE: put(b, "null", 4); break;
    case OC_PK_BOOL: v->u.b ? put(b, "true", 4) : put(b, "false", 5); break;
    case OC_PK_INT: put(b, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)v->u.i)); break;
    case OC_PK_FLOAT:
        if (!isfinite(v->u.f)) put(b, "null", 4);
        else { /* the shortest text that reads back as the same double, as Python prints */
            int prec = 15;
            snprintf(num, sizeof num, "%.*g", prec, v->u.f);
            while (prec < 17 && strtod(num, NULL) != v->u.f)
                snprintf(num, sizeof num, "%.*g", ++prec, v->u.f);
            put(b, num, strlen(num));
        }
        break;
    case OC_PK_STR: put_str(b, v->u.str.s, v->u.str.len, 0); break;
    case OC_PK_BYTES: put_str(b, v->u.str.s, v->u.str.len, 1); break;
    case OC_PK_BIGINT: put(b, "null", 4); break;
    case OC_PK_TUPLE: case OC_PK_LIST: case OC_PK_SET:
        put(b, "[", 1);
        for (size_t i = 0; i < v->u.seq.n && !b->fail; i++) {
            if (i) put(b, ",", 1);
            json_rec(b, v->u.seq.v[i], depth + 1);
        }
        put(b, "]", 1);
        break;
    case OC_PK_DICT:
        put(b, "{", 1);
        for (size_t i = 0; i < v->u.dict.n && !b->fail; i++) {
            const oc_pk_value *k = v->u.dict.kv[2 * i];
            if (i) put(b, ",", 1);
            if (k->type == OC_PK_STR) {
                json_rec(b, k, depth + 1);
            } else { /* JSON keys are strings: print the key, then quote that */
                sbuf kb = {NULL, 0, 0, b->max, 0};
                json_rec(&kb, k, depth + 1);
                if (kb.fail) b->fail = 1;
                else put_str(b, kb.s, kb.n, 0);
                oc_free(kb.s);
            }
            put(b, ":", 1);
            json_rec(b, v->u.dict.kv[2 * i + 1], depth + 1);
        }
        put(b, "}", 1);
        break;
    case OC_PK_OBJECT: json_rec(b, v->u.obj.attrs, depth + 1); break;
    default: b->fail = 1; break;
    }
}

char *oc_pk_to_json(const oc_pk_value *v, size_t max_len)
{
    if (!v || !oc_pk_is_plain(v)) return NULL;
    sbuf b = {NULL, 0, 0, max_len, 0};
    json_rec(&b, v, 0);
    if (b.fail) {
        oc_free(b.s);
        return NULL;
    }
    return b.s;
}
