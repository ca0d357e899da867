/* torch_checkpoint.h -- PyTorch .pt/.pth checkpoints without Python (torch_checkpoint.c).
 *
 * Reads what `torch.save` writes: the zip archive of torch >= 1.6 (`<prefix>/data.pkl`, the
 * storages as `<prefix>/data/<key>`, `<prefix>/version`, `<prefix>/byteorder`), through
 * libzip, and the older non-zip stream (several pickles, then the storages back to back).
 * The pickle goes through the restricted unpickler (pickle.h): nothing in the file is ever
 * executed. Storages are read only when a tensor is asked for; every one a tensor uses is
 * checked at open against its archive entry (present, not encrypted, exactly as long as the
 * pickle says). docs/FORMAT.md, "PyTorch checkpoints", lists every rule.
 *
 * The usual way in is oc_pt_load_state_dict: find the model's state_dict inside the usual
 * nestings and hand it out as an in-memory safetensors file (oc_st_file), which the model
 * converters read exactly as they read a safetensors state_dict: no temporary file. */
#ifndef OC_FORMATS_TORCH_CHECKPOINT_H
#define OC_FORMATS_TORCH_CHECKPOINT_H

#include "formats/pickle.h"
#include "safetensors.h"

typedef struct oc_pt_file oc_pt_file;

/* 1: a zip archive (torch >= 1.6), 2: the legacy stream, 0: neither (first bytes only) */
int oc_pt_sniff(const void *head, size_t len);
int oc_pt_sniff_path(const char *path);

/* map + check the container + unpickle. path/name are used in messages. */
oc_status oc_pt_open(const char *path, oc_pt_file **out);
oc_status oc_pt_open_memory(const void *buf, size_t len, const char *name, oc_pt_file **out);
void oc_pt_close(oc_pt_file *f);
const char *oc_pt_name(const oc_pt_file *f);
const oc_pk_value *oc_pt_root(const oc_pt_file *f);
int oc_pt_is_legacy(const oc_pt_file *f);

/* The state_dict: at the dotted path `key` when given ("model", "ema.module"), else the first
 * of "ema.module", "model", "state_dict", "model_state_dict", "module", "ema", "" (the top
 * level) that is a dict of tensors. *where gets the path found ("" for the top level). */
oc_status oc_pt_find_state_dict(const oc_pt_file *f, const char *key, const oc_pk_value **sd,
                                const char **where);

/* The elements of t in row-major order into dst (t->numel elements of dtype out_dtype; -1:
 * the storage's own). Non-contiguous views are gathered; floating types convert between F32,
 * F16, BF16 and F64 (to F16/BF16: round to nearest even); other dtypes must match. */
oc_status oc_pt_read_tensor(oc_pt_file *f, const oc_pk_tensor *t, int out_dtype, void *dst);

typedef struct {
    const char *key;   /* the state_dict's dotted path, NULL: search (see above) */
    int float_dtype;   /* -1 keep; OC_DT_F32/F16/BF16: every floating tensor converted */
    int no_data;       /* 1: names, dtypes and shapes only (data left zero: for `info`) */
} oc_pt_options;

typedef struct {
    oc_st_file *st;    /* a safetensors view of the state_dict; read it with oc_st_* */
    void *buf;         /* the safetensors bytes behind st */
    size_t len;
    char where[128];   /* the state_dict's path in the checkpoint ("" for the top level) */
} oc_pt_state_dict;

/* The state_dict as an in-memory safetensors file: tensors in the checkpoint's order, with
 * the same names; metadata from the plain-data entries beside the state_dict on the way down
 * (e.g. rf-detr's `args`): a str entry as itself, any other plain value as JSON, entries of
 * more than 64 KB of JSON or holding tensors left out; plus "checkpoint.state_dict" = where. */
oc_status oc_pt_load_state_dict(const char *path, const oc_pt_options *opt,
                                oc_pt_state_dict **out);
oc_status oc_pt_state_dict_from(oc_pt_file *f, const oc_pt_options *opt, oc_pt_state_dict **out);
void oc_pt_state_dict_free(oc_pt_state_dict *sd);

#endif
