/* libFuzzer target for the model-file loader: bytes -> oc_st_open_memory; on success every
 * tensor is looked up by name and, when floating, converted to float32; metadata is read.
 * Each input is tried twice: as a whole file, and as a header only (the input up to its last
 * '}', behind a matching 8-byte length prefix, in an allocation that ends with the header), so
 * header mutations reach the JSON rules instead of failing on the length, and any read past
 * the end of the header is a heap overflow that ASan reports. */
// FUZZ_MAX_LEN: 65536
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const uint8_t *data, size_t size)
{
    oc_st_file *f = NULL;
    if (oc_st_open_memory(data, size, "fuzz.safetensors", &f) != OC_OK) {
        if (f) __builtin_trap(); /* a failed open must not hand out a file */
        return;
    }
    size_t n = oc_st_num_tensors(f);
    for (size_t i = 0; i < n; i++) {
        const oc_st_tensor *t = oc_st_tensor_at(f, i);
        if (!t || oc_st_find(f, t->name) != t) __builtin_trap();
        /* offsets were validated: the tensor lies inside the buffer */
        if ((const uint8_t *)t->data < data ||
            (const uint8_t *)t->data + (t->end - t->begin) > data + size)
            __builtin_trap();
        /* numel * dtype size == end - begin <= size, so this allocation is bounded */
        float *buf = malloc(t->numel ? (size_t)t->numel * sizeof(float) : 1);
        if (!buf) continue;
        oc_status st = oc_st_to_f32(f, t, buf);
        int floating = t->dtype == OC_DT_F32 || t->dtype == OC_DT_F16 ||
                       t->dtype == OC_DT_BF16 || t->dtype == OC_DT_F64;
        if ((st == OC_OK) != floating) __builtin_trap();
        free(buf);
        float *copy = NULL;
        if (oc_st_load_f32(f, t->name, t->ndim, t->shape, &copy) == OC_OK) oc_free(copy);
    }
    for (size_t i = 0; i < oc_st_num_meta(f); i++) {
        const char *k, *v;
        oc_st_meta_at(f, i, &k, &v);
        if (!k || !v || oc_st_meta(f, k) == NULL) __builtin_trap();
    }
    oc_st_close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    exercise(data, size);
    /* header-only view: everything up to the last '}' is the header */
    size_t h = size;
    while (h > 0 && data[h - 1] != '}') h--;
    if (h == 0 || size > (1u << 20)) return 0;
    uint8_t *buf = malloc(h + 8);
    if (!buf) return 0;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, data, h);
    exercise(buf, h + 8);
    free(buf);
    return 0;
}
