/* parity.h -- comparing a session's tensors with reference tensors stored in a safetensors
 * file (the ../shared/fixtures io.safetensors files), shared by the model parity suites.
 * Include after <cmocka.h> (the checks fail the current test). */
#ifndef OC_TEST_PARITY_H
#define OC_TEST_PARITY_H

#include "ocellus.h"
#include "safetensors.h"

/* A float32 copy of tensor `name` (oc_free it), or NULL when absent or unreadable (message on
 * stderr). shape_out (may be NULL) gets its name, dims and the data pointer. */
float *tu_load_ref(oc_st_file *io, const char *name, oc_tensor *shape_out);
size_t tu_numel(const oc_tensor *t);
/* Fail unless the session tensor `ours` has ref_name's shape and |ours - ref| <= 1e-3 *
 * max|ref| (a reference of all zeros fails too). *worst keeps the largest |diff| / max|ref|.
 * ctx prefixes the messages. */
void tu_expect_close(const oc_session *s, const char *ours, oc_st_file *io,
                     const char *ref_name, const char *ctx, double *worst);
/* Run the session on the stored tensor `name` as its "images" input; fail on error. */
void tu_run_input(oc_session *s, oc_st_file *io, const char *name);

/* One fixture (../shared/fixtures/<fixture>) on one (isa, threads): load model.safetensors
 * (packed for isa), check its arch, run images_320 with every layer kept, and require each
 * layerN_320 (exactly nlayers_expected of them) and output0_320 -- and with do640 output0_640
 * -- to pass tu_expect_close. */
void tu_parity_case(const char *fixture, const char *arch, int nlayers_expected, oc_isa isa,
                    int threads, int do640);

#endif
