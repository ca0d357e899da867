/* convert_checkpoint.c -- PyTorch checkpoint -> Ocellus model file: the checkpoint's
 * state_dict is read into an in-memory safetensors file (src/formats/torch_checkpoint.h) and
 * goes through the same converter as a safetensors state_dict, so both give the same tensors. */
#include "convert.h"

#include <stdio.h>
#include <string.h>

#include "formats/torch_checkpoint.h"

static int has_prefix(const oc_st_file *f, const char *prefix)
{
    size_t l = strlen(prefix);
    for (size_t i = 0; i < oc_st_num_tensors(f); i++)
        if (!strncmp(oc_st_tensor_at(f, i)->name, prefix, l)) return 1;
    return 0;
}

void oc_convert_guess_family(const oc_st_file *f, char *arch, size_t cap, char *scale)
{
    arch[0] = 0;
    if (scale) scale[0] = 0;
    if (!f) return;
    /* the reference implementations' module names (fixtures' README-*.md) */
    if (has_prefix(f, "image_encoder.trunk.") && has_prefix(f, "sam_mask_decoder.")) {
        snprintf(arch, cap, "sam2");
        return;
    }
    if (has_prefix(f, "decoder.dec_score_head.") && has_prefix(f, "encoder.")) {
        snprintf(arch, cap, "rtdetr");
        return;
    }
    if (has_prefix(f, "transformer.decoder.layers.") && has_prefix(f, "backbone.0.encoder.")) {
        snprintf(arch, cap, "rfdetr");
        return;
    }
    /* ultralytics: a Detect head model.L.dfl; C2PSA's attention (model.L.m.0.attn) alone is
     * YOLO11, attention in A2C2f blocks (model.L.m.0.0.attn) is YOLO12, neither with the head
     * at layer 22 is YOLOv8 */
    int detect = -1, c2psa = 0, area_attn = 0;
    for (size_t i = 0; i < oc_st_num_tensors(f); i++) {
        const char *s = oc_st_tensor_at(f, i)->name;
        int L, n = 0;
        if (sscanf(s, "model.%d.%n", &L, &n) != 1 || n == 0) continue;
        const char *rest = s + n;
        if (!strcmp(rest, "dfl.conv.weight") && L > detect) detect = L;
        if (strstr(rest, "attn.qkv")) {
            if (!strncmp(rest, "m.0.attn.qkv", 12)) c2psa = 1;
            else area_attn = 1;
        }
    }
    if (detect < 0) return;
    if (area_attn) snprintf(arch, cap, "yolo12");
    else if (c2psa) snprintf(arch, cap, "yolo11");
    else if (detect == 22) snprintf(arch, cap, "yolov8");
    if (!arch[0] || !scale) return;
    const oc_st_tensor *t0 = oc_st_find(f, "model.0.conv.weight");
    if (t0 && t0->ndim == 4)
        oc_convert_guess_scale(arch, (int)t0->shape[0],
                               oc_st_find(f, "model.2.m.1.cv1.conv.weight") != NULL, scale);
}

oc_status oc_convert_checkpoint(const char *in_path, const char *out_path, const char *arch_in,
                                const char *scale_in, int num_classes, const char *key,
                                int float_dtype)
{
    if (!in_path || !out_path)
        return oc_error(OC_ERR_INVALID_ARG, "oc_convert_checkpoint: NULL path");
    oc_pt_options opt = {key, float_dtype, 0};
    oc_pt_state_dict *sd = NULL;
    oc_status st = oc_pt_load_state_dict(in_path, &opt, &sd);
    if (st) return st;
    char arch[32] = "", scale[8] = "";
    const char *arch_use = arch_in, *scale_use = scale_in;
    /* the checkpoint's own entries ("config", "scale", ...) are read by the converter as a
     * safetensors file's metadata; names decide only when they say nothing */
    if (!arch_use && !oc_st_meta(sd->st, "ocellus.arch") && !oc_st_meta(sd->st, "config")) {
        oc_convert_guess_family(sd->st, arch, sizeof arch, scale);
        if (!arch[0]) {
            st = oc_error(OC_ERR_INVALID_ARG, "%s: the model family cannot be told from the "
                          "tensor names of the state_dict at '%s' (%zu tensors, the first "
                          "'%.100s'); pass --arch", in_path, sd->where[0] ? sd->where : "top level",
                          oc_st_num_tensors(sd->st),
                          oc_st_num_tensors(sd->st) ? oc_st_tensor_at(sd->st, 0)->name : "");
            goto done;
        }
        arch_use = arch;
        if (!scale_use && !oc_st_meta(sd->st, "scale") && scale[0]) scale_use = scale;
    }
    st = oc_convert_state_dict_file(sd->st, in_path, out_path, arch_use, scale_use, num_classes);
done:
    oc_pt_state_dict_free(sd);
    return st;
}
