/* safetensors.h -- the model file reader (mmap) and writer. docs/FORMAT.md is the spec.
 *
 * The reader treats the file as hostile: every rule in docs/FORMAT.md is checked in
 * oc_st_open before any tensor is handed out, and every failure names the file, the tensor
 * and the offending field. */
#ifndef OC_SAFETENSORS_H
#define OC_SAFETENSORS_H

#include "internal.h"

#define OC_ST_MAX_HEADER (100u * 1024u * 1024u)
#define OC_ST_MAX_DIMS 8

typedef enum {
    OC_DT_F32 = 0, OC_DT_F16, OC_DT_BF16, OC_DT_I64, OC_DT_I32, OC_DT_I8, OC_DT_U8, OC_DT_BOOL,
    OC_DT_F64
} oc_st_dtype;
size_t oc_st_dtype_size(oc_st_dtype dt);
const char *oc_st_dtype_name(oc_st_dtype dt);  /* "F32", ... */

typedef struct {
    const char *name;
    oc_st_dtype dtype;
    int ndim;
    int64_t shape[OC_ST_MAX_DIMS];
    uint64_t numel;
    uint64_t begin, end;   /* byte offsets inside the data section */
    const void *data;      /* points into the mapping; may be unaligned */
} oc_st_tensor;

typedef struct oc_st_file oc_st_file;

/* mmap + validate. path is kept for messages. */
oc_status oc_st_open(const char *path, oc_st_file **out);
/* validate a buffer already in memory (not copied; must outlive the file object). name is
 * used in messages. */
oc_status oc_st_open_memory(const void *buf, size_t len, const char *name, oc_st_file **out);
void oc_st_close(oc_st_file *f);

/* Drop the file's resident pages (madvise DONTNEED on the mapping; no-op for memory
 * buffers). For loaders that copied or repacked every tensor they keep: the RSS then holds
 * the packed weights only. Tensors and metadata stay readable (pages fault back in). */
void oc_st_release_pages(const oc_st_file *f);
const char *oc_st_path(const oc_st_file *f);
size_t oc_st_num_tensors(const oc_st_file *f);
const oc_st_tensor *oc_st_tensor_at(const oc_st_file *f, size_t i);  /* in file order */
const oc_st_tensor *oc_st_find(const oc_st_file *f, const char *name); /* NULL if absent */
size_t oc_st_num_meta(const oc_st_file *f);
void oc_st_meta_at(const oc_st_file *f, size_t i, const char **key, const char **value);
const char *oc_st_meta(const oc_st_file *f, const char *key);          /* NULL if absent */

/* OC_OK when every value of a floating tensor is finite; else OC_ERR_FORMAT naming the tensor,
 * the first bad element and its value (NaN, +Inf, -Inf). Integer tensors pass. */
oc_status oc_st_check_finite(const oc_st_file *f, const oc_st_tensor *t);
/* Convert a floating tensor (F32/F16/BF16/F64) to float32 into dst (numel floats). */
oc_status oc_st_to_f32(const oc_st_file *f, const oc_st_tensor *t, float *dst);
/* Look a tensor up, check its shape (ndim dims; a dim of -1 matches anything), and return a
 * newly oc_malloc'd float32 copy in *out (caller oc_free's it). Messages name the file, the
 * tensor, the expected and the found shape. */
oc_status oc_st_load_f32(const oc_st_file *f, const char *name, int ndim, const int64_t *shape,
                         float **out);

/* ---- writer ---- */
typedef struct oc_st_writer oc_st_writer;
oc_st_writer *oc_st_writer_new(void);
void oc_st_writer_free(oc_st_writer *w);
/* data is copied. */
oc_status oc_st_writer_add(oc_st_writer *w, const char *name, oc_st_dtype dt, int ndim,
                           const int64_t *shape, const void *data);
oc_status oc_st_writer_meta(oc_st_writer *w, const char *key, const char *value);
oc_status oc_st_writer_save(oc_st_writer *w, const char *path);

/* half-precision helpers */
float oc_f16_to_f32(uint16_t h);
uint16_t oc_f32_to_f16(float f);
float oc_bf16_to_f32(uint16_t h);
uint16_t oc_f32_to_bf16(float f);

#endif
