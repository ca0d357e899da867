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
            "                   --output OUT.safetensors [--input-name NAME] [--stage S]\n"
            "                   [--layers] [--threads N] [--profile]\n\n"
            "Run a model on raw tensors and write every output it declares, by name, as F32.\n"
            "Every tensor of the input file is offered to the model by name: the graph takes\n"
            "those it declares (F16/BF16/F64 become F32; I32, I64, U8 and BOOL are passed typed)\n"
            "and ignores the rest. A model with stages (SAM2: encode, decode) runs them in\n"
            "order, each fed by the file and by what earlier stages exported; a later stage\n"
            "whose inputs are not in the file is skipped with a note. With a 'multimask' [1]\n"
            "integer tensor equal to 0 in the file, outputs named X_single are written as X.\n\n"
            "  --input-name S  offer only the tensor S (e.g. images_320 of a parity fixture)\n"
            "  --stage S       stop after stage S (default: run every stage)\n"
            "  --layers        also write the intermediates the model names (layer0, layer1, ...;\n"
            "                  RT-DETR: the names of the reference fixtures, backbone_out0, ...)\n"
            "  --threads N     threads of the session (default: OCELLUS_NUM_THREADS or all cores)\n"
            "  --profile       print the per-node profile of each stage to stderr\n");
}

static int is_float(oc_st_dtype dt)
{
    return dt == OC_DT_F32 || dt == OC_DT_F16 || dt == OC_DT_BF16 || dt == OC_DT_F64;
}

#define MAX_INPUTS 256

static oc_status add_f32(oc_st_writer *w, const char *name, const oc_tensor *t)
{
    int64_t shape[OC_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) shape[d] = t->dims[d];
    return oc_st_writer_add(w, name, OC_DT_F32, t->ndim, shape, t->data);
}

/* every output of the stage just run, by name; with multimask 0, X_single is written as X */
static oc_status write_outputs(oc_session *s, oc_st_writer *w, int multimask, int *nout)
{
    int n = oc_session_num_outputs(s);
    for (int i = 0; i < n; i++) {
        oc_tensor t;
        oc_status st = oc_session_output(s, i, &t);
        if (st) return st;
        const char *name = t.name;
        char plain[256];
        size_t L = strlen(name);
        if (L > 7 && !strcmp(name + L - 7, "_single")) {
            if (multimask) continue;
            snprintf(plain, sizeof plain, "%.*s", (int)(L - 7), name);
            name = plain;
        } else if (!multimask) {
            char single[300];
            snprintf(single, sizeof single, "%s_single", name);
            oc_tensor alt;
            if (oc_session_tensor(s, single, &alt) == OC_OK) continue; /* written as plain */
            oc_clear_error();
        }
        if ((st = add_f32(w, name, &t))) return st;
        printf("%s [", name);
        for (int d = 0; d < t.ndim; d++) printf("%s%lld", d ? ", " : "", (long long)t.dims[d]);
        printf("]\n");
        (*nout)++;
    }
    return OC_OK;
}

/* the named intermediates kept by keep_layers */
static oc_status write_layers(oc_session *s, oc_st_writer *w, int *nlayers)
{
    for (int i = 0; oc_session_kept_name(s, i); i++) {
        const char *nm = oc_session_kept_name(s, i);
        oc_tensor t;
        if (oc_session_tensor(s, nm, &t) != OC_OK) continue;
        oc_status st = add_f32(w, nm, &t);
        if (st) return st;
        (*nlayers)++;
    }
    oc_clear_error();
    return OC_OK;
}

int cmd_run(int argc, char **argv)
{
    const char *model_path = NULL, *in_path = NULL, *out_path = NULL, *in_name = NULL;
    const char *stop_stage = NULL;
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
                                                  "--input-name", "--threads", "--stage"};
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
        else if (!strcmp(a, "--stage")) stop_stage = v;
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
    /* offer every tensor of the file (or the one named) by name */
    const oc_st_tensor *sel[MAX_INPUTS];
    if (in_name) {
        const oc_st_tensor *named = oc_st_find(in, in_name);
        if (!named) {
            fprintf(stderr, "ocellus run: %s has no tensor '%s'\n", in_path, in_name);
            goto done;
        }
        sel[nin++] = named;
    } else {
        for (size_t i = 0; i < oc_st_num_tensors(in); i++) {
            const oc_st_tensor *t = oc_st_tensor_at(in, i);
            if (t->ndim < 1 || t->ndim > OC_MAX_DIMS || t->dtype == OC_DT_I8) continue;
            if (nin == MAX_INPUTS) {
                fprintf(stderr, "ocellus run: %s has more than %d tensors (name one with "
                        "--input-name)\n", in_path, MAX_INPUTS);
                goto done;
            }
            sel[nin++] = t;
        }
    }
    int multimask = 1;
    for (int i = 0; i < nin; i++) {
        const oc_st_tensor *t = sel[i];
        if (t->ndim < 1 || t->ndim > OC_MAX_DIMS || !(is_float(t->dtype) ||
            t->dtype == OC_DT_I32 || t->dtype == OC_DT_I64 || t->dtype == OC_DT_U8 ||
            t->dtype == OC_DT_BOOL)) {
            fprintf(stderr, "ocellus run: %s: tensor '%s' (%s, %d dims) cannot be an input\n",
                    in_path, t->name, oc_st_dtype_name(t->dtype), t->ndim);
            goto done;
        }
        inputs[i].name = t->name;
        inputs[i].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) inputs[i].dims[d] = t->shape[d];
        if (is_float(t->dtype)) {
            inputs[i].data = malloc(t->numel ? t->numel * sizeof(float) : 1);
            if (inputs[i].data && oc_st_to_f32(in, t, inputs[i].data) != OC_OK) {
                fprintf(stderr, "ocellus run: %s\n", oc_last_error());
                goto done;
            }
        } else {
            /* integers go in as they are, typed (the session converts them) */
            size_t es = oc_st_dtype_size(t->dtype);
            inputs[i].dtype = t->dtype == OC_DT_I64 ? OC_DTYPE_I64
                              : t->dtype == OC_DT_I32 ? OC_DTYPE_I32
                                                      : OC_DTYPE_U8;
            inputs[i].data = malloc(t->numel ? t->numel * es : 1);
            if (inputs[i].data) memcpy(inputs[i].data, t->data, t->numel * es);
            if (inputs[i].data && !strcmp(t->name, "multimask") && t->numel == 1)
                multimask = t->dtype == OC_DT_I64   ? *(const int64_t *)(const void *)inputs[i].data != 0
                            : t->dtype == OC_DT_I32 ? *(const int32_t *)(const void *)inputs[i].data != 0
                                                    : *(const uint8_t *)(const void *)inputs[i].data != 0;
        }
        if (!inputs[i].data) {
            fprintf(stderr, "ocellus run: out of memory for '%s'\n", t->name);
            goto done;
        }
    }
    if (nin == 0) {
        fprintf(stderr, "ocellus run: %s has no tensor to use as input\n", in_path);
        goto done;
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
    w = oc_st_writer_new();
    if (!w) {
        fprintf(stderr, "ocellus run: out of memory\n");
        goto done;
    }
    int nout = 0, nlayers = 0, nstages = oc_model_num_stages(m);
    if (stop_stage) {
        int k;
        for (k = 0; k < nstages && strcmp(oc_model_stage(m, k), stop_stage); k++) {}
        if (k == nstages) {
            fprintf(stderr, "ocellus run: the model has no stage '%s'\n", stop_stage);
            goto done;
        }
        nstages = k + 1;
    }
    for (int si = 0; si < nstages; si++) {
        const char *stage = oc_model_stage(m, si);
        if (oc_session_run_stage(s, stage, inputs, nin) != OC_OK) {
            if (si == 0 || stop_stage) {
                fprintf(stderr, "ocellus run: %s\n", oc_last_error());
                goto done;
            }
            fprintf(stderr, "ocellus run: stage '%s' not run: %s\n", stage, oc_last_error());
            oc_clear_error();
            break;
        }
        if (profile) oc_session_print_profile(s, stderr);
        if (write_outputs(s, w, multimask, &nout) != OC_OK ||
            (layers && write_layers(s, w, &nlayers) != OC_OK)) {
            fprintf(stderr, "ocellus run: %s\n", oc_last_error());
            goto done;
        }
    }
    double t2 = oc_now_ms();
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
