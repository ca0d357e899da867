#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "parity.h"
#include "testutil.h"

float *tu_load_ref(oc_st_file *io, const char *name, oc_tensor *shape_out)
{
    const oc_st_tensor *t = oc_st_find(io, name);
    if (!t) return NULL;
    float *p = NULL;
    int64_t any[OC_ST_MAX_DIMS];
    for (int i = 0; i < OC_ST_MAX_DIMS; i++) any[i] = -1;
    if (oc_st_load_f32(io, name, t->ndim, any, &p) != OC_OK) {
        fprintf(stderr, "%s\n", oc_last_error());
        return NULL;
    }
    if (shape_out) {
        memset(shape_out, 0, sizeof *shape_out);
        shape_out->name = t->name;
        shape_out->ndim = t->ndim;
        for (int i = 0; i < t->ndim; i++) shape_out->dims[i] = t->shape[i];
        shape_out->data = p;
    }
    return p;
}

size_t tu_numel(const oc_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->dims[i];
    return n;
}

void tu_expect_close(const oc_session *s, const char *ours, oc_st_file *io,
                     const char *ref_name, const char *ctx, double *worst)
{
    oc_tensor ref, got;
    float *r = tu_load_ref(io, ref_name, &ref);
    assert_non_null(r);
    oc_status st = oc_session_tensor(s, ours, &got);
    if (st != OC_OK) fprintf(stderr, "%s: %s: %s\n", ctx, ours, oc_last_error());
    assert_int_equal(st, OC_OK);
    int same = got.ndim == ref.ndim;
    for (int i = 0; same && i < ref.ndim; i++) same = got.dims[i] == ref.dims[i];
    if (!same) {
        fprintf(stderr, "%s: %s: shape mismatch (ndim %d vs %d, dim1 %lld vs %lld)\n", ctx, ours,
                got.ndim, ref.ndim, (long long)got.dims[1], (long long)ref.dims[1]);
        oc_free(r);
        fail();
    }
    size_t n = tu_numel(&ref);
    float mx = tu_max_abs(r, n);
    float d = tu_max_abs_diff(got.data, r, n);
    double rel = mx > 0 ? d / mx : d;
    if (rel > *worst) *worst = rel;
    if (!(mx > 0) || !(d <= 1e-3f * mx)) {
        fprintf(stderr, "%s: %s vs %s: max |diff| %g > 1e-3 * max|ref| (%g)\n", ctx, ours,
                ref_name, (double)d, (double)mx);
        oc_free(r);
        fail();
    }
    oc_free(r);
}

void tu_run_input(oc_session *s, oc_st_file *io, const char *name)
{
    oc_tensor in;
    float *x = tu_load_ref(io, name, &in);
    assert_non_null(x);
    in.name = "images";
    oc_status st = oc_session_run(s, &in, 1);
    if (st != OC_OK) fprintf(stderr, "run %s: %s\n", name, oc_last_error());
    oc_free(x);
    assert_int_equal(st, OC_OK);
}

void tu_parity_case(const char *fixture, const char *arch, int nlayers_expected, oc_isa isa,
                    int threads, int do640)
{
    char mpath[256], iopath[256], ctx[128];
    snprintf(mpath, sizeof mpath, "fixtures/%s/model.safetensors", fixture);
    snprintf(iopath, sizeof iopath, "fixtures/%s/io.safetensors", fixture);
    snprintf(ctx, sizeof ctx, "%s [%s, %d thread(s)]", fixture, oc_isa_name(isa), threads);

    oc_isa old = oc_get_isa();
    assert_int_equal(oc_set_isa(isa), OC_OK);
    oc_model *m = NULL;
    oc_status st = oc_model_load(tu_shared_path(mpath), &m);
    oc_set_isa(old);
    if (st != OC_OK) fprintf(stderr, "%s: load: %s\n", ctx, oc_last_error());
    assert_int_equal(st, OC_OK);
    assert_string_equal(oc_model_arch(m), arch);

    oc_st_file *io = NULL;
    assert_int_equal(oc_st_open(tu_shared_path(iopath), &io), OC_OK);
    oc_session *s = NULL;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    assert_int_equal(oc_session_set_num_threads(s, threads), OC_OK);
    assert_int_equal(oc_session_set_keep_layers(s, 1), OC_OK);

    double worst = 0;
    tu_run_input(s, io, "images_320");
    int nlayers = 0;
    for (int i = 0; i < 64; i++) {
        char ref[32], ours[32];
        snprintf(ref, sizeof ref, "layer%d_320", i);
        snprintf(ours, sizeof ours, "layer%d", i);
        if (!oc_st_find(io, ref)) continue;
        tu_expect_close(s, ours, io, ref, ctx, &worst);
        nlayers++;
    }
    assert_int_equal(nlayers, nlayers_expected);
    tu_expect_close(s, "output0", io, "output0_320", ctx, &worst);
    if (do640) {
        tu_run_input(s, io, "images_640");
        tu_expect_close(s, "output0", io, "output0_640", ctx, &worst);
    }
    fprintf(stderr, "  %s: %d layers + output0%s within tolerance, worst diff %.2e of max|ref|\n",
            ctx, nlayers, do640 ? " (320, 640)" : " (320)", worst);
    oc_session_free(s);
    oc_st_close(io);
    oc_model_free(m);
}
