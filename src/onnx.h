/* onnx.h -- a small reader of the ONNX protobuf wire format, for the parts `ocellus convert`
 * needs (src/onnx.c).
 *
 * What is read:
 *   ModelProto:  ir_version, opset_import (default domain), producer_name, metadata_props,
 *                graph
 *   GraphProto:  name, node, initializer, input / output names
 *   NodeProto:   name, op_type, domain, input, output, attribute (name, type, f, i, s, ints,
 *                floats; tensor and graph attributes are skipped)
 *   TensorProto: name, dims, data_type, raw_data or float_data (packed or not)
 * Everything else is skipped by wire type. The input is treated as hostile: every varint is
 * checked for length (at most 10 bytes, no 64-bit overflow), every length against what is
 * left of its enclosing message, nesting depth is bounded, groups (wire types 3/4) are
 * rejected, and counts are capped. Failures return OC_ERR_FORMAT with a message naming the
 * file, the message/field and the byte offset.
 *
 * Tensor data is not copied: oc_onnx_tensor.data points into the mapped file (or the caller's
 * buffer for oc_onnx_parse), except for unpacked float_data, which is gathered into a copy.
 */
#ifndef OC_ONNX_H
#define OC_ONNX_H

#include "internal.h"

#define OC_ONNX_MAX_DIMS 8
#define OC_ONNX_MAX_DEPTH 16

/* TensorProto.DataType values used here */
enum {
    OC_ONNX_FLOAT = 1, OC_ONNX_UINT8 = 2, OC_ONNX_INT8 = 3, OC_ONNX_INT32 = 6,
    OC_ONNX_INT64 = 7, OC_ONNX_FLOAT16 = 10, OC_ONNX_DOUBLE = 11, OC_ONNX_BFLOAT16 = 16
};

/* AttributeProto.AttributeType values */
enum {
    OC_ONNX_ATTR_UNDEFINED = 0, OC_ONNX_ATTR_FLOAT = 1, OC_ONNX_ATTR_INT = 2,
    OC_ONNX_ATTR_STRING = 3, OC_ONNX_ATTR_TENSOR = 4, OC_ONNX_ATTR_GRAPH = 5,
    OC_ONNX_ATTR_FLOATS = 6, OC_ONNX_ATTR_INTS = 7, OC_ONNX_ATTR_STRINGS = 8
};

typedef struct {
    const char *name;
    int data_type;            /* OC_ONNX_FLOAT, ... (0 when absent) */
    int ndim;
    int64_t dims[OC_ONNX_MAX_DIMS];
    uint64_t numel;           /* product of dims (1 for a scalar) */
    const uint8_t *data;      /* raw_data bytes, or float_data as little-endian floats */
    size_t data_len;          /* bytes */
    int from_float_data;      /* 1 when data came from float_data rather than raw_data */
    int external;             /* data_location == EXTERNAL (not supported by the converter) */
    uint64_t offset;          /* byte offset of the TensorProto in the file (for messages) */
} oc_onnx_tensor;

typedef struct {
    const char *name;
    int type;                 /* OC_ONNX_ATTR_* (0 when the file did not say) */
    float f;
    int64_t i;
    const char *s;            /* NUL-terminated copy (binary strings may contain NULs) */
    size_t s_len;
    int64_t *ints;
    int n_ints;
    float *floats;
    int n_floats;
} oc_onnx_attr;

typedef struct {
    const char *name;         /* "" when absent */
    const char *op_type;
    const char *domain;
    const char **inputs;      /* "" for an omitted optional input */
    int n_inputs;
    const char **outputs;
    int n_outputs;
    oc_onnx_attr *attrs;
    int n_attrs;
    uint64_t offset;          /* byte offset of the NodeProto in the file */
} oc_onnx_node;

typedef struct {
    const char *key, *value;
} oc_onnx_prop;

typedef struct oc_onnx_model {
    char *path;                /* for messages */
    int64_t ir_version;
    int64_t opset;             /* version of the default ("" or "ai.onnx") domain; 0 if absent */
    const char *producer_name;
    const char *producer_version;
    const char *graph_name;
    oc_onnx_prop *props;
    int n_props;
    oc_onnx_node *nodes;
    int n_nodes;
    oc_onnx_tensor *inits;
    int n_inits;
    const char **inputs;       /* graph input names */
    int n_inputs;
    const char **outputs;      /* graph output names */
    int n_outputs;
    /* private */
    void *map;
    size_t map_len;
    struct oc_onnx_pool *pool;
} oc_onnx_model;

/* mmap the file and parse it. */
oc_status oc_onnx_open(const char *path, oc_onnx_model **out);
/* Parse a buffer already in memory; it is not copied and must outlive the model. name is
 * used in messages. */
oc_status oc_onnx_parse(const void *buf, size_t len, const char *name, oc_onnx_model **out);
void oc_onnx_free(oc_onnx_model *m);

/* metadata_props value, or NULL */
const char *oc_onnx_meta(const oc_onnx_model *m, const char *key);
/* initializer by name, or NULL */
const oc_onnx_tensor *oc_onnx_find_init(const oc_onnx_model *m, const char *name);
/* The initializer behind a value name: the initializer itself, or the one a chain of pure
 * aliases (Identity, Dropout's first output) passes through, as torch.onnx.export writes for
 * identical tensors it stores once. NULL otherwise; *producer (may be NULL) then names the
 * node that computes the value (NULL when no node does). */
const oc_onnx_tensor *oc_onnx_resolve_init(const oc_onnx_model *m, const char *name,
                                           const oc_onnx_node **producer);
/* Convert a FLOAT/FLOAT16/BFLOAT16/DOUBLE initializer to float32 (numel floats in dst).
 * Checks that the data length agrees with dims and type. */
oc_status oc_onnx_tensor_to_f32(const oc_onnx_model *m, const oc_onnx_tensor *t, float *dst);

/* ---- wire-format primitives (exposed for tests and the fuzz target) ----
 * Read a varint at buf[*pos] (len bytes in all); advances *pos. Fails (OC_ERR_FORMAT, message
 * with what and the offset) on truncation, more than 10 bytes or a value above 2^64-1. */
oc_status oc_pb_read_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *out,
                            const char *what);

/* ---- the ultralytics metadata "names" value ----
 * Parse a Python dict repr such as "{0: 'person', 1: \"it's\", 2: 'a\\'b'}" into class names
 * indexed by their key. Keys must be 0..n-1 (any order, each once); values are Python string
 * literals in single or double quotes with backslash escapes (\\ \' \" \n \t \r \xHH \uXXXX
 * \UXXXXXXXX, written out as UTF-8). *names is an oc_malloc'd array of oc_malloc'd strings;
 * free with oc_free_names. */
oc_status oc_parse_names_dict(const char *s, char ***names, int *n);
void oc_free_names(char **names, int n);

#endif
