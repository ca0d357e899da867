/* convert_checkpoint.c -- PyTorch checkpoint -> Ocellus model file: the checkpoint's
 * state_dict is read into an in-memory safetensors file (src/formats/torch_checkpoint.h) and
 * goes through the same converter as a safetensors state_dict, so both give the same tensors. */
#include "convert.h"

#include <stdio.h>
#include <string.h>

#include "formats/torch_checkpoint.h"

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
