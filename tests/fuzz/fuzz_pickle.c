/* libFuzzer target for the restricted unpickler (src/formats/pickle.c): bytes -> oc_pk_load;
 * on success every walk of the tree runs (plain-data check, JSON, state_dict test, dict
 * lookups, storages), all of which must stay inside their depth and visit budgets. The seeds
 * are the data.pkl of the committed checkpoints (tests/fixtures/pt/). */
// FUZZ_MAX_LEN: 16384
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oc_pk_file *f = NULL;
    if (oc_pk_load(data, size, "fuzz.pkl", &f) != OC_OK) {
        if (f) __builtin_trap(); /* a failed load hands nothing out */
        return 0;
    }
    const oc_pk_value *r = oc_pk_root(f);
    if (!r) __builtin_trap();
    (void)oc_pk_is_plain(r);
    (void)oc_pk_is_state_dict(r);
    char *js = oc_pk_to_json(r, 1 << 16);
    if (js && strlen(js) > (1 << 16)) __builtin_trap();
    oc_free(js);
    if (r->type == OC_PK_DICT)
        for (size_t i = 0; i < r->u.dict.n; i++) {
            const oc_pk_value *k = r->u.dict.kv[2 * i];
            if (k->type == OC_PK_STR && !oc_pk_dict_get(r, k->u.str.s) &&
                strlen(k->u.str.s) == k->u.str.len)
                __builtin_trap();
            (void)oc_pk_is_state_dict(r->u.dict.kv[2 * i + 1]);
        }
    for (size_t i = 0; i < oc_pk_num_storages(f); i++) {
        const oc_pk_storage *s = oc_pk_storage_at(f, i);
        if (!s || s->index != (int)i || !s->key) __builtin_trap();
    }
    oc_pk_free(f);
    return 0;
}
