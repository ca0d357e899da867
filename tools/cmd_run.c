/* ocellus run -- raw tensors in, raw tensors out: for debugging conversions and for parity
 * checks against any reference. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "internal.h"
#include "safetensors.h"
#include "session.h"

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: ocellus run --model M.safetensors --input IN.safetensors\n"
            "                   --output OUT.safetensors [--input-name NAME] [--layers]\n"
            "                   [--threads N] [--profile]\n\n"
            "Run a model on raw NCHW float tensors and write its outputs as F32 tensors.\n"
            "The inputs are the input file's floating tensors in file order (F16/BF16/F64 are\n"
            "converted); a tensor named 'images' alone is used when present (with an integer\n"
            "'orig_target_sizes' [N, 2] beside it for RT-DETR), or the one named by --input-name.\n\n"
            "  --layers        also write every top-level module's output (layer0, layer1, ...; RT-DETR:\n"
            "                  the names of the reference fixtures, backbone_out0, ...)\n"
            "  --threads N     threads of the session (default: OCELLUS_NUM_THREADS or all cores)\n"
            "  --profile       print the per-node profile of the run to stderr\n"
            "  --input-name S  use only the input tensor S (e.g. images_320 of a parity fixture)\n");
}

static int is_float(oc_st_dtype dt)
{
    return dt == OC_DT_F32 || dt == OC_DT_F16 || dt == OC_DT_BF16 || dt == OC_DT_F64;
}

#define MAX_INPUTS 16

int cmd_run(int argc, char **argv)
{
    const char *model_path = NULL, *in_path = NULL, *out_path = NULL, *in_name = NULL;
    int layers = 0, profile = 0;
    long threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            run_usage(stdout);
            return OC_EXIT_OK;
        }
        if (!strcmp(a, "--layers")) {
            layers = 1;
            continue;
        }
        if (!strcmp(a, "--profile")) {
            profile = 1;
            continue;
        }
        static const char *const takes_value[] = {"--model", "--input", "--output", "-o",
                                                  "--input-name", "--threads"};
        int known = 0;
        for (size_t k = 0; k < sizeof takes_value / sizeof takes_value[0]; k++)
            known |= !strcmp(a, takes_value[k]);
        if (!known) {
            fprintf(stderr, "ocellus run: unknown option '%s'\n\n", a);
            run_usage(stderr);
            return OC_EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "ocellus run: %s needs a value\n", a);
            return OC_EXIT_USAGE;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--model")) model_path = v;
        else if (!strcmp(a, "--input")) in_path = v;
        else if (!strcmp(a, "--output") || !strcmp(a, "-o")) out_path = v;
        else if (!strcmp(a, "--input-name")) in_name = v;
        else if (!strcmp(a, "--threads")) {
            char *end;
            errno = 0;
            threads = strtol(v, &end, 10);
            if (errno || end == v || *end || threads < 1 || threads > 1024) {
                fprintf(stderr, "ocellus run: --threads '%s': expected an integer in [1, 1024]\n",
                        v);
                return OC_EXIT_USAGE;
            }
        } else {
            fprintf(stderr, "ocellus run: unknown option '%s'\n\n", a);
            run_usage(stderr);
            return OC_EXIT_USAGE;
        }
    }
    if (!model_path || !in_path || !out_path) {
        fprintf(stderr, "ocellus run: --model, --input and --output are required\n\n");
        run_usage(stderr);
        return OC_EXIT_USAGE;
    }

    int rc = OC_EXIT_INPUT;
    oc_model *m = NULL;
    oc_session *s = NULL;
    oc_st_file *in = NULL;
    oc_st_writer *w = NULL;
    oc_tensor inputs[MAX_INPUTS];
    int nin = 0;
    memset(inputs, 0, sizeof inputs);

    if (oc_st_open(in_path, &in) != OC_OK) {
        fprintf(stderr, "ocellus run: %s\n", oc_last_error());
        goto done;
    }
    /* pick the input tensors */
    const oc_st_tensor *sel[MAX_INPUTS];
    const oc_st_tensor *named = oc_st_find(in, in_name ? in_name : "images");
    if (in_name && !named) {
        fprintf(stderr, "ocellus run: %s has no tensor '%s'\n", in_path, in_name);
        goto done;
    }
    if (named) {
        sel[nin++] = named;
        /* RT-DETR's second input, as the reference's deploy model takes it (int64 [N, 2]) */
        const oc_st_tensor *sz = in_name ? NULL : oc_st_find(in, "orig_target_sizes");
        if (sz) sel[nin++] = sz;
    } else {
        for (size_t i = 0; i < oc_st_num_tensors(in); i++) {
            const oc_st_tensor *t = oc_st_tensor_at(in, i);
            if (!is_float(t->dtype)) continue;
            if (nin == MAX_INPUTS) {
                fprintf(stderr, "ocellus run: %s has more than %d floating tensors\n", in_path,
                        MAX_INPUTS);
                goto done;
            }
            sel[nin++] = t;
        }
    }
    if (nin == 0) {
        fprintf(stderr, "ocellus run: %s has no floating-point tensor to use as input\n",
                in_path);
        goto done;
    }
    for (int i = 0; i < nin; i++) {
        const oc_st_tensor *t = sel[i];
        if ((t->dtype == OC_DT_I64 || t->dtype == OC_DT_I32) && t->ndim >= 1 &&
            t->ndim <= OC_MAX_DIMS) {
            /* an integer input goes in as it is, typed */
            size_t es = t->dtype == OC_DT_I64 ? 8 : 4;
            inputs[i].name = t->name;
            inputs[i].ndim = t->ndim;
            for (int d = 0; d < t->ndim; d++) inputs[i].dims[d] = t->shape[d];
            inputs[i].dtype = t->dtype == OC_DT_I64 ? OC_DTYPE_I64 : OC_DTYPE_I32;
            inputs[i].data = malloc(t->numel ? t->numel * es : 1);
            if (!inputs[i].data) {
                fprintf(stderr, "ocellus run: out of memory for '%s'\n", t->name);
                goto done;
            }
            memcpy(inputs[i].data, t->data, t->numel * es);
            continue;
        }
        if (!is_float(t->dtype) || t->ndim < 1 || t->ndim > OC_MAX_DIMS) {
            fprintf(stderr, "ocellus run: %s: tensor '%s' (%s, %d dims) cannot be an input\n",
                    in_path, t->name, oc_st_dtype_name(t->dtype), t->ndim);
            goto done;
        }
        inputs[i].name = t->name;
        inputs[i].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) inputs[i].dims[d] = t->shape[d];
        inputs[i].data = malloc(t->numel ? t->numel * sizeof(float) : 1);
        if (!inputs[i].data) {
            fprintf(stderr, "ocellus run: out of memory for '%s'\n", t->name);
            goto done;
        }
        if (oc_st_to_f32(in, t, inputs[i].data) != OC_OK) {
            fprintf(stderr, "ocellus run: %s\n", oc_last_error());
            goto done;
        }
    }

    double t0 = oc_now_ms();
    if (oc_model_load(model_path, &m) != OC_OK || oc_session_create(m, &s) != OC_OK ||
        (threads > 0 && oc_session_set_num_threads(s, (int)threads) != OC_OK) ||
        (layers && oc_session_set_keep_layers(s, 1) != OC_OK) ||
        (profile && oc_session_set_profile(s, 1) != OC_OK)) {
        fprintf(stderr, "ocellus run: %s\n", oc_last_error());
        goto done;
    }
    double t1 = oc_now_ms();
    if (oc_session_run(s, inputs, nin) != OC_OK) {
        fprintf(stderr, "ocellus run: %s\n", oc_last_error());
        goto done;
    }
    double t2 = oc_now_ms();
    if (profile) oc_session_print_profile(s, stderr);

    w = oc_st_writer_new();
    if (!w) {
        fprintf(stderr, "ocellus run: out of memory\n");
        goto done;
    }
    int nout = oc_session_num_outputs(s);
    for (int i = 0; i < nout; i++) {
        oc_tensor t;
        int64_t shape[OC_MAX_DIMS];
        if (oc_session_output(s, i, &t) != OC_OK) {
            fprintf(stderr, "ocellus run: %s\n", oc_last_error());
            goto done;
        }
        for (int d = 0; d < t.ndim; d++) shape[d] = t.dims[d];
        if (oc_st_writer_add(w, t.name, OC_DT_F32, t.ndim, shape, t.data) != OC_OK) {
            fprintf(stderr, "ocellus run: %s\n", oc_last_error());
            goto done;
        }
        printf("%s [", t.name);
        for (int d = 0; d < t.ndim; d++) printf("%s%lld", d ? ", " : "", (long long)t.dims[d]);
        printf("]\n");
    }
    int nlayers = 0;
    if (layers) {
        for (int i = 0, misses = 0; i < 1000 && misses < 32; i++) {
            char name[32];
            oc_tensor t;
            int64_t shape[OC_MAX_DIMS];
            snprintf(name, sizeof name, "layer%d", i);
            if (oc_session_tensor(s, name, &t) != OC_OK) {
                misses++;
                continue;
            }
            misses = 0;
            for (int d = 0; d < t.ndim; d++) shape[d] = t.dims[d];
            if (oc_st_writer_add(w, name, OC_DT_F32, t.ndim, shape, t.data) != OC_OK) {
                fprintf(stderr, "ocellus run: %s\n", oc_last_error());
                goto done;
            }
            nlayers++;
        }
        /* families that name their intermediates otherwise (RT-DETR: backbone_out0, ...) */
        for (int i = 0; oc_session_kept_name(s, i); i++) {
            const char *nm = oc_session_kept_name(s, i);
            int num = 0;
            if (!strncmp(nm, "layer", 5) && sscanf(nm + 5, "%*d%n", &num) == 0 && num > 0 &&
                !nm[5 + num])
                continue; /* written above */
            oc_tensor t;
            int64_t shape[OC_MAX_DIMS];
            if (oc_session_tensor(s, nm, &t) != OC_OK) continue;
            for (int d = 0; d < t.ndim; d++) shape[d] = t.dims[d];
            if (oc_st_writer_add(w, nm, OC_DT_F32, t.ndim, shape, t.data) != OC_OK) {
                fprintf(stderr, "ocellus run: %s\n", oc_last_error());
                goto done;
            }
            nlayers++;
        }
        oc_clear_error();
    }
    oc_st_writer_meta(w, "ocellus.run.model", model_path);
    oc_st_writer_meta(w, "ocellus.run.input", in_path);
    if (oc_st_writer_save(w, out_path) != OC_OK) {
        fprintf(stderr, "ocellus run: %s\n", oc_last_error());
        goto done;
    }
    printf("wrote %s: %d output(s), %d layer(s); load %.1f ms, run %.1f ms\n", out_path, nout,
           nlayers, t1 - t0, t2 - t1);
    rc = OC_EXIT_OK;

done:
    for (int i = 0; i < nin; i++) free(inputs[i].data);
    oc_st_writer_free(w);
    oc_session_free(s);
    oc_model_free(m);
    oc_st_close(in);
    return rc;
}
