/* fuzz_onnx.c -- libFuzzer target for the ONNX wire-format reader (src/onnx.c), the names-dict
 * parser and the module-path mapping used by `ocellus convert`.
 * Seeds: tests/fuzz/seeds/onnx/ (made by tests/fuzz/make_onnx_seeds.py).
 * FUZZ_MAX_LEN: 16384 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oc_onnx_model *m = NULL;
    if (oc_onnx_parse(data, size, "fuzz.onnx", &m) == OC_OK) {
        for (int i = 0; i < m->n_inits; i++) {
            const oc_onnx_tensor *t = &m->inits[i];
            if (t->numel > (1u << 16)) continue;
            float *f = malloc((size_t)t->numel * sizeof(float) + 1);
            if (f) oc_onnx_tensor_to_f32(m, t, f);
            free(f);
            (void)oc_onnx_find_init(m, t->name);
        }
        char path[256];
        for (int i = 0; i < m->n_nodes; i++) {
            const oc_onnx_node *n = &m->nodes[i];
            (void)oc_onnx_module_path(n->name, path, sizeof path);
            for (int k = 0; k < n->n_attrs; k++) {
                const oc_onnx_attr *a = &n->attrs[k];
                volatile int64_t acc = 0;
                for (int j = 0; j < a->n_ints; j++) acc += a->ints[j];
                for (int j = 0; j < a->n_floats; j++) acc += (int64_t)(a->floats[j] != 0);
                (void)acc;
            }
        }
        const char *names = oc_onnx_meta(m, "names");
        if (names) {
            char **v;
            int n;
            if (oc_parse_names_dict(names, &v, &n) == OC_OK) oc_free_names(v, n);
        }
        oc_onnx_free(m);
    }
    /* the same bytes as a names dict */
    char *s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = '\0';
        char **v;
        int n;
        if (oc_parse_names_dict(s, &v, &n) == OC_OK) oc_free_names(v, n);
        free(s);
    }
    return 0;
}
