/* weight_cache.c -- see weight_cache.h. A short array searched under a mutex: models have a
 * few hundred linears at most and the search runs only while a graph is built. */
#include "weight_cache.h"
#include "internal.h"

#include <pthread.h>
#include <string.h>

typedef struct {
    const float *w, *bias;
    int in, out;
    oc_linear_weights *lw;
} lin_entry;

struct oc_weight_cache {
    oc_isa isa;
    pthread_mutex_t mu;
    lin_entry *lin;
    int nlin, caplin;
    size_t bytes;
};

oc_weight_cache *oc_weight_cache_new(oc_isa isa)
{
    oc_weight_cache *c = oc_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->isa = isa;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        oc_free(c);
        return NULL;
    }
    return c;
}

void oc_weight_cache_free(oc_weight_cache *c)
{
    if (!c) return;
    for (int i = 0; i < c->nlin; i++) oc_linear_weights_free(c->lin[i].lw);
    oc_free(c->lin);
    pthread_mutex_destroy(&c->mu);
    oc_free(c);
}

oc_status oc_weight_cache_linear(oc_weight_cache *c, const float *w, const float *bias, int in,
                                 int out, const oc_linear_weights **res)
{
    if (!res) return oc_error(OC_ERR_INVALID_ARG, "weight cache: NULL result");
    *res = NULL;
    if (!c || c->isa == OC_ISA_SCALAR) return OC_OK;
    oc_status st = OC_OK;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->nlin; i++) {
        const lin_entry *e = &c->lin[i];
        if (e->w == w && e->bias == bias && e->in == in && e->out == out) {
            *res = e->lw;
            goto done;
        }
    }
    if (c->nlin == c->caplin) {
        int cap = c->caplin ? 2 * c->caplin : 64;
        lin_entry *n = oc_malloc((size_t)cap * sizeof *n);
        if (!n) {
            st = oc_error(OC_ERR_NOMEM, "weight cache: out of memory");
            goto done;
        }
        if (c->nlin) memcpy(n, c->lin, (size_t)c->nlin * sizeof *n);
        oc_free(c->lin);
        c->lin = n;
        c->caplin = cap;
    }
    oc_linear_weights *lw = NULL;
    st = oc_linear_prepack(c->isa, w, bias, in, out, &lw);
    if (st != OC_OK) goto done;
    c->lin[c->nlin++] = (lin_entry){w, bias, in, out, lw};
    c->bytes += oc_linear_weights_bytes(lw);
    *res = lw;
done:
    pthread_mutex_unlock(&c->mu);
    return st;
}

size_t oc_weight_cache_bytes(oc_weight_cache *c)
{
    if (!c) return 0;
    pthread_mutex_lock(&c->mu);
    size_t b = c->bytes;
    pthread_mutex_unlock(&c->mu);
    return b;
}
