/* pickle.h -- a restricted unpickler for PyTorch checkpoints (src/formats/pickle.c).
 *
 * A pickle is a program for a stack machine, and Python's own unpickler will import and call
 * whatever a GLOBAL names: `torch.load` on a hostile file can run arbitrary code. This one
 * executes nothing. It reads protocols 2 to 5 and turns the byte stream into a tree of plain
 * values (none, bool, int, float, str, bytes, tuple, list, dict, set) plus the few torch
 * objects a checkpoint is made of (storages, tensors). A GLOBAL is resolved against a fixed
 * allow-list (docs/FORMAT.md, "PyTorch checkpoints"); anything else is OC_ERR_FORMAT with a
 * message naming it, and what an allowed callable does is re-implemented here as data
 * construction (an OrderedDict becomes a dict, `_rebuild_tensor_v2` a tensor record whose
 * size/stride/offset are checked against its storage, `argparse.Namespace` an object with its
 * attributes as a dict).
 *
 * Every value lives until oc_pk_free; memory is bounded by a budget proportional to the input
 * length, values nest at most OC_PK_MAX_DEPTH deep, memo indices are bounded by the input
 * length, and every length read from the stream is checked against the bytes left. */
#ifndef OC_FORMATS_PICKLE_H
#define OC_FORMATS_PICKLE_H

#include "internal.h"
#include "safetensors.h"

#define OC_PK_MAX_LEN   (256u * 1024u * 1024u) /* longest pickle accepted (bytes) */
#define OC_PK_MAX_DEPTH 100                    /* deepest nesting of containers */
#define OC_PK_MAX_DIMS  OC_ST_MAX_DIMS         /* most dims of a tensor */

typedef enum {
    OC_PK_NONE = 0, OC_PK_BOOL, OC_PK_INT, OC_PK_BIGINT, OC_PK_FLOAT, OC_PK_STR, OC_PK_BYTES,
    OC_PK_TUPLE, OC_PK_LIST, OC_PK_SET, OC_PK_DICT,
    OC_PK_GLOBAL,   /* an allow-listed class or function, not yet called */
    OC_PK_OBJECT,   /* an allow-listed plain-data class instance (argparse.Namespace) */
    OC_PK_STORAGE,  /* a torch storage, from a persistent id */
    OC_PK_TENSOR
} oc_pk_type;

typedef struct oc_pk_value oc_pk_value;

typedef struct {
    const char *type_name; /* "FloatStorage" */
    int dtype;             /* an oc_st_dtype, or -1 when Ocellus cannot hold it (complex, quantized) */
    size_t elem_size;      /* bytes per element */
    const char *key;       /* the archive entry: "<prefix>/data/<key>" */
    const char *location;  /* "cpu", "cuda:0", ... (informational) */
    uint64_t numel;        /* elements, as the persistent id says */
    int index;             /* position in oc_pk_file's storage table */
} oc_pk_storage;

typedef struct {
    const oc_pk_value *storage; /* an OC_PK_STORAGE value */
    int64_t offset;             /* in elements */
    int ndim;
    int64_t size[OC_PK_MAX_DIMS];
    int64_t stride[OC_PK_MAX_DIMS];
    uint64_t numel;
    int contiguous;             /* row-major with no gaps */
} oc_pk_tensor;

struct oc_pk_value {
    oc_pk_type type;
    int depth;   /* 0 for scalars, 1 + deepest child for containers (as built) */
    union {
        int b;
        int64_t i;
        double f;
        struct { char *s; size_t len; } str;          /* STR (UTF-8), BYTES, BIGINT (LE bytes) */
        struct { oc_pk_value **v; size_t n, cap; } seq; /* TUPLE, LIST, SET */
        struct { oc_pk_value **kv; size_t n, cap; } dict; /* n pairs: kv[2i] key, kv[2i+1] value */
        struct { int kind; const char *module, *name; } global;
        struct { const char *cls; oc_pk_value *attrs; } obj; /* attrs: a DICT */
        oc_pk_storage *storage;
        oc_pk_tensor *tensor;
    } u;
};

typedef struct oc_pk_file oc_pk_file;

/* Unpickle len bytes. name is used in messages ("ckpt.pt: data.pkl"). The bytes are not
 * referenced after the call. On success *out holds the result; oc_pk_root gives the value. */
oc_status oc_pk_load(const void *data, size_t len, const char *name, oc_pk_file **out);
/* The same for a pickle followed by other bytes (the legacy format): *consumed is set to the
 * length up to and including STOP. */
oc_status oc_pk_load_prefix(const void *data, size_t len, const char *name, size_t *consumed,
                            oc_pk_file **out);
void oc_pk_free(oc_pk_file *f);
const oc_pk_value *oc_pk_root(const oc_pk_file *f);
size_t oc_pk_num_storages(const oc_pk_file *f);
const oc_pk_storage *oc_pk_storage_at(const oc_pk_file *f, size_t i);
const oc_pk_storage *oc_pk_find_storage(const oc_pk_file *f, const char *key); /* NULL: none */

/* Lookups and printing (all bounded by OC_PK_MAX_DEPTH; never recurse further). */
const oc_pk_value *oc_pk_dict_get(const oc_pk_value *dict, const char *key); /* str keys */
/* an OrderedDict/dict whose keys are all str and values all tensors, with at least one */
int oc_pk_is_state_dict(const oc_pk_value *v);
/* 1 when v holds no tensor or storage anywhere inside (plain data) */
int oc_pk_is_plain(const oc_pk_value *v);
/* JSON text of a plain value (objects become their attribute dicts; non-str dict keys are
 * printed as JSON strings; bytes as a string of \u00XX escapes; NaN/inf as null). Returns an
 * oc_malloc'd string, or NULL when it would exceed max_len bytes or is not plain data. */
char *oc_pk_to_json(const oc_pk_value *v, size_t max_len);
const char *oc_pk_type_name(oc_pk_type t);

#endif
