/* libFuzzer target for the PyTorch checkpoint reader (src/formats/torch_checkpoint.c): bytes ->
 * oc_pt_open_memory (zip through libzip, or the legacy stream); when accepted, the state_dict
 * is read with its own dtypes and again converted to F16, and every tensor of the result is
 * checked to lie inside the in-memory safetensors buffer. Seeds: tests/fixtures/pt/good*.pt
 * and ema.pt. */
// FUZZ_MAX_LEN: 16384
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/torch_checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_sd(oc_pt_file *f, int dtype)
{
    oc_pt_options o = {NULL, dtype, 0};
    oc_pt_state_dict *sd = NULL;
    if (oc_pt_state_dict_from(f, &o, &sd) != OC_OK) {
        if (sd) __builtin_trap();
        return;
    }
    for (size_t i = 0; i < oc_st_num_tensors(sd->st); i++) {
        const oc_st_tensor *t = oc_st_tensor_at(sd->st, i);
        const uint8_t *b = sd->buf;
        if ((const uint8_t *)t->data < b || (const uint8_t *)t->data + (t->end - t->begin) > b + sd->len)
            __builtin_trap();
        if (dtype == OC_DT_F16 && (t->dtype == OC_DT_F32 || t->dtype == OC_DT_BF16))
            __builtin_trap(); /* every floating tensor was converted */
    }
    oc_pt_state_dict_free(sd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oc_pt_file *f = NULL;
    if (oc_pt_open_memory(data, size, "fuzz.pt", &f) != OC_OK) {
        if (f) __builtin_trap();
        return 0;
    }
    read_sd(f, -1);
    read_sd(f, OC_DT_F16);
    oc_pt_close(f);
    return 0;
}
