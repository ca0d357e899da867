/* ocellus convert -- an ultralytics ONNX export, a safetensors state_dict or a PyTorch
 * checkpoint -> Ocellus model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "convert.h"
#include "model.h"
#include "formats/torch_checkpoint.h"

static void convert_usage(FILE *f)
{
    fprintf(f,
            "usage: ocellus convert [--input] MODEL.onnx|STATE_DICT.safetensors|CHECKPOINT.pt\n"
            "                       -o OUT.safetensors [--arch A] [--scale|--variant V]\n"
            "                       [--classes N] [--key PATH] [--dtype keep|f32|f16|bf16]\n"
            "\n"
            "  --input FILE   an ultralytics ONNX export (`yolo export format=onnx`): weights are\n"
            "                 taken from the Conv initializers by module path; class names, input\n"
            "                 size, task, arch and scale from the ONNX metadata;\n"
            "                 or a safetensors state_dict (safetensors.torch.save_file(\n"
            "                 model.state_dict())): give --arch and --scale unless its metadata\n"
            "                 has 'config' and 'scale';\n"
            "                 or a PyTorch checkpoint (torch.save, .pt/.pth), read without\n"
            "                 Python by a restricted unpickler (nothing in it is run): its\n"
            "                 state_dict is found under 'ema.module', 'model', 'state_dict', ...\n"
            "                 or at the top level, and the family from the tensor names.\n"
            "  -o, --output FILE  the Ocellus model file to write (checked by loading it)\n"
            "  --arch A       override/give the architecture\n"
            "  --scale S, --variant S  override/give the scale letter\n"
            "  --classes N    number of classes (state_dict only; default: from the Detect head)\n"
            "  --key PATH     checkpoint only: the state_dict's dotted path ('model', 'ema.module')\n"
            "  --dtype T      checkpoint only: keep (default) or convert floating tensors to\n"
            "                 f32, f16 or bf16\n"
            "\nexit codes: 0 ok, 1 bad input, 2 usage\n");
}

static int is_onnx(const char *path)
{
    size_t l = strlen(path);
    if (l >= 5 && !strcasecmp(path + l - 5, ".onnx")) return 1;
    if (l >= 12 && !strcasecmp(path + l - 12, ".safetensors")) return 0;
    /* sniff: a safetensors file starts with an 8-byte header length followed by '{' */
    FILE *f = fopen(path, "rb");
    if (!f) return 1; /* let the ONNX reader report the error */
    unsigned char b[9];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    return !(n == 9 && b[8] == '{' && b[6] == 0 && b[7] == 0);
}

int cmd_convert(int argc, char **argv)
{
    const char *in = NULL, *out = NULL, *arch = NULL, *scale = NULL, *key = NULL, *dtype = NULL;
    int classes = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            convert_usage(stdout);
            return OC_EXIT_OK;
        }
        const char **dst = NULL;
        if (!strcmp(a, "--input") || !strcmp(a, "-i")) dst = &in;
        else if (!strcmp(a, "--output") || !strcmp(a, "-o")) dst = &out;
        else if (!strcmp(a, "--arch")) dst = &arch;
        else if (!strcmp(a, "--scale") || !strcmp(a, "--variant")) dst = &scale;
        else if (!strcmp(a, "--key")) dst = &key;
        else if (!strcmp(a, "--dtype")) dst = &dtype;
        else if (!strcmp(a, "--classes")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ocellus convert: --classes needs a value\n");
                return OC_EXIT_USAGE;
            }
            char *e;
            long v = strtol(argv[++i], &e, 10);
            if (*e || v < 1 || v > 100000) {
                fprintf(stderr, "ocellus convert: --classes '%s' is not a count in 1..100000\n",
                        argv[i]);
                return OC_EXIT_USAGE;
            }
            classes = (int)v;
            continue;
        } else if (a[0] != '-' && !in) { /* `convert FILE -o OUT`, as `info FILE` */
            in = a;
            continue;
        } else {
            fprintf(stderr, "ocellus convert: %s '%s'\n\n",
                    a[0] == '-' ? "unknown option" : "unexpected argument", a);
            convert_usage(stderr);
            return OC_EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "ocellus convert: %s needs a value\n", a);
            return OC_EXIT_USAGE;
        }
        *dst = argv[++i];
    }
    if (!in || !out) {
        fprintf(stderr, "ocellus convert: an input file and -o are required\n\n");
        convert_usage(stderr);
        return OC_EXIT_USAGE;
    }
    /* --scale/--variant is checked by the family's converter: every family converts through
     * its oc_arch.convert hook, and some accept aliases ("n" for RF-DETR's "nano") */
    int float_dtype = -1;
    if (dtype && strcmp(dtype, "keep")) {
        if (!strcmp(dtype, "f32")) float_dtype = OC_DT_F32;
        else if (!strcmp(dtype, "f16")) float_dtype = OC_DT_F16;
        else if (!strcmp(dtype, "bf16")) float_dtype = OC_DT_BF16;
        else {
            fprintf(stderr, "ocellus convert: --dtype '%s' is not keep, f32, f16 or bf16\n", dtype);
            return OC_EXIT_USAGE;
        }
    }
    int checkpoint = oc_pt_sniff_path(in) != 0;
    if (!checkpoint && (key || dtype)) {
        fprintf(stderr, "ocellus convert: --key and --dtype apply to PyTorch checkpoints only\n");
        return OC_EXIT_USAGE;
    }
    int onnx = !checkpoint && is_onnx(in);
    if (onnx && classes) {
        fprintf(stderr, "ocellus convert: --classes applies to state_dict input only (an ONNX "
                        "export says its classes)\n");
        return OC_EXIT_USAGE;
    }
    oc_status st = checkpoint ? oc_convert_checkpoint(in, out, arch, scale, classes, key,
                                                      float_dtype)
                 : onnx       ? oc_convert_onnx(in, out, arch, scale)
                              : oc_convert_state_dict(in, out, arch, scale, classes);
    if (st != OC_OK) {
        fprintf(stderr, "ocellus convert: %s (%s)\n", oc_last_error(), oc_status_name(st));
        return OC_EXIT_INPUT;
    }
    oc_model *m = NULL;
    if (oc_model_load(out, &m) == OC_OK) {
        int h, w;
        oc_model_input_size(m, &h, &w);
        printf("wrote %s: %s%s, %d classes, %dx%d input, %llu parameters\n", out,
               oc_model_arch(m), oc_model_scale(m), oc_model_num_classes(m), w, h,
               (unsigned long long)oc_model_num_params(m));
        oc_model_free(m);
    } else {
        printf("wrote %s\n", out);
    }
    return OC_EXIT_OK;
}
