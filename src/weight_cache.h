/* weight_cache.h -- packed weights shared by every graph built from one model.
 *
 * Graph builders get raw float32 weights from the family code (oc_g_linear(g, x, w, ...)).
 * The packed form the kernels want is made once per model, on the first build that asks for
 * it, and then shared by every session and stage of that model (DESIGN: the model holds the
 * prepacked weights; sessions hold only activations). Entries are keyed by the weight's
 * address: the weights given to a graph builder must be owned by the model and must not
 * change while it lives (true of every family: they pass pointers into their load-time
 * copies). */
#ifndef OC_WEIGHT_CACHE_H
#define OC_WEIGHT_CACHE_H

#include "ops.h"

typedef struct oc_weight_cache oc_weight_cache;

/* weights packed for isa (the model's); NULL when out of memory */
oc_weight_cache *oc_weight_cache_new(oc_isa isa);
void oc_weight_cache_free(oc_weight_cache *c);
/* The packed nn.Linear (w [out][in], bias [out] or NULL), made on the first request and
 * shared after that; thread-safe. *res = NULL (and OC_OK) when the cache's isa has no packed
 * form (scalar: the reference reads w as given). */
oc_status oc_weight_cache_linear(oc_weight_cache *c, const float *w, const float *bias, int in,
                                 int out, const oc_linear_weights **res);
/* bytes held by the packed copies */
size_t oc_weight_cache_bytes(oc_weight_cache *c);

#endif
