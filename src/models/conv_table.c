/* conv_table.c -- see conv_table.h */
#include "models/conv_table.h"

#include <string.h>

oc_status oc_conv_table_push(oc_conv_table *t, const char *path, const char *name,
                             const oc_conv2d_desc *d, const float *weight, const float *bias,
                             oc_isa isa)
{
    if (t->n == t->cap) {
        if (t->cap > INT32_MAX / 2)
            return oc_error(OC_ERR_NOMEM, "%s: too many convs", path);
        int cap = t->cap ? t->cap * 2 : 64;
        oc_conv_entry *e = oc_realloc(t->e, (size_t)cap * sizeof *e);
        if (!e) return oc_error(OC_ERR_NOMEM, "%s: out of memory (conv table)", path);
        t->e = e;
        t->cap = cap;
    }
    oc_conv_entry *e = &t->e[t->n];
    memset(e, 0, sizeof *e);
    e->name = oc_strdup(name);
    if (!e->name) return oc_error(OC_ERR_NOMEM, "%s: out of memory (conv table)", path);
    e->d = *d;
    oc_status st = oc_conv2d_prepack(d, weight, bias, isa, &e->w);
    if (st) {
        oc_free(e->name);
        e->name = NULL;
        return oc_error_prefix(st, "%s: prepacking '%s': ", path, name);
    }
    t->packed_bytes += oc_conv2d_weights_bytes(e->w);
    t->n++;
    return OC_OK;
}

const oc_conv_entry *oc_conv_table_next(const oc_conv_table *t, int *cursor, const char *path,
                                        const char *name)
{
    if (*cursor < 0 || *cursor >= t->n) {
        oc_error(OC_ERR_INTERNAL, "%s: conv table out of step at '%s' (all %d convs used)",
                 path, name, t->n);
        return NULL;
    }
    const oc_conv_entry *e = &t->e[*cursor];
    if (strcmp(e->name, name)) {
        oc_error(OC_ERR_INTERNAL, "%s: conv table out of step at '%s' (entry %d is '%s')", path,
                 name, *cursor, e->name);
        return NULL;
    }
    (*cursor)++;
    return e;
}

oc_tid oc_conv_table_build(const oc_conv_table *t, int *cursor, oc_graph *g, oc_tid x,
                           oc_tid residual, const char *path, const char *name, oc_status *st)
{
    const oc_conv_entry *e = oc_conv_table_next(t, cursor, path, name);
    if (!e) {
        *st = OC_ERR_INTERNAL;
        return OC_NONE;
    }
    oc_tid y = oc_g_conv2d(g, x, &e->d, e->w, residual);
    if (y == OC_NONE) {
        oc_status gs = oc_graph_status(g);
        *st = oc_error_prefix(gs ? gs : OC_ERR_INTERNAL, "conv '%s': ", name);
    }
    return y;
}

void oc_conv_table_free(oc_conv_table *t)
{
    if (!t) return;
    for (int i = 0; i < t->n; i++) {
        oc_free(t->e[i].name);
        oc_conv2d_weights_free(t->e[i].w);
    }
    oc_free(t->e);
    memset(t, 0, sizeof *t);
}
