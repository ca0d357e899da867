/* convert.h -- turn reference checkpoints into Ocellus model files (src/convert.c).
 *
 * oc_convert_onnx: an ultralytics ONNX export (`yolo export format=onnx`, BatchNorm fused).
 *   Every Conv node "/model.2/cv1/conv/Conv" gives "model.2.cv1.conv.weight" (+ ".bias") from
 *   its initializers; other initializers with state_dict-like names are kept; class names,
 *   input size and task come from the ONNX metadata_props; arch (yolo11/yolov8/yolo12) from
 *   the description ("Ultralytics YOLO11n model ...") or the graph, scale from the
 *   description, unless overridden.
 * oc_convert_state_dict: a safetensors state_dict (safetensors.torch.save_file(
 *   model.state_dict())) plus arch/scale (taken from its __metadata__ "config"/"scale" when
 *   NULL) and num_classes (<= 0: from the metadata "nc" or the Detect head's shapes).
 * Both only pick the family and dispatch to its oc_arch hook (.convert_onnx / .convert; YOLO's
 * are in src/models/yolo/yolo_convert.c), which writes the tensors and ocellus.* metadata
 * (docs/FORMAT.md) into an oc_st_writer. Whatever the family, the result is then checked by
 * loading it with oc_model_load; on any failure no output file is left and the message says
 * what was wrong.
 */
#ifndef OC_CONVERT_H
#define OC_CONVERT_H

#include "internal.h"
#include "safetensors.h"

oc_status oc_convert_onnx(const char *onnx_path, const char *out_path,
                          const char *arch_override /* NULL */,
                          const char *scale_override /* NULL */);
oc_status oc_convert_state_dict(const char *in_path, const char *out_path, const char *arch,
                                const char *scale, int num_classes);
/* The same from a state_dict already open (e.g. read from a PyTorch checkpoint: see
 * oc_convert_checkpoint); in_path names it in messages and in ocellus.source. */
oc_status oc_convert_state_dict_file(const oc_st_file *f, const char *in_path,
                                     const char *out_path, const char *arch, const char *scale,
                                     int num_classes);
/* A PyTorch .pt/.pth checkpoint (src/formats/torch_checkpoint.h): its state_dict (at key, or
 * found in the usual nestings) converted as a safetensors state_dict would be, without a
 * temporary file. float_dtype: -1 keeps each tensor's dtype, else OC_DT_F32/F16/BF16. The
 * family comes from arch, else the checkpoint's metadata-like entries ("config"), else the
 * tensor names (oc_convert_guess_family). */
oc_status oc_convert_checkpoint(const char *in_path, const char *out_path, const char *arch,
                                const char *scale, int num_classes, const char *key,
                                int float_dtype);
/* The family of a state_dict from its tensor names: "yolo11", "yolov8", "yolo12" (with the
 * scale letter from model.0's width when scale is not NULL), "rtdetr", "rfdetr", "sam2";
 * "" when the names match none. */
void oc_convert_guess_family(const oc_st_file *f, char *arch, size_t cap, char *scale);

/* "Ultralytics YOLO11n model trained on ..." or "yolov8n.yaml" -> arch "yolo11"/"yolov8"/
 * "yolo12" (acap bytes) and the scale letter when it follows (scale: 2 bytes); "" when none */
void oc_convert_arch_from_description(const char *d, char *arch, size_t acap, char *scale);

/* ---- helpers (exposed for tests) ---- */
/* Module path of an ONNX node name: "/model.23/cv3.0/cv3.0.2/Conv" -> "model.23.cv3.0.2",
 * "/model.6/m.0/m/m.0/cv1/conv/Conv" -> "model.6.m.0.m.0.cv1.conv" (a scope that repeats its
 * parent's name plus ".i" is that parent's i-th child; the last component, the op, is
 * dropped). Returns 0, or -1 when the name is not of that form or does not fit in cap. */
int oc_onnx_module_path(const char *node_name, char *out, size_t cap);
/* YOLO12's residual A2C2f (scales l/x) computes x + gamma * cv2(...); the export folds the
 * nn.Parameter gamma into an unnamed initializer ("onnx::Mul_123", shape [1,C,1,1]) feeding a
 * Mul node named "/model.N/Mul". Given such a node and operand, writes "model.N.gamma" to out
 * and returns 0; returns -1 for anything else (other ops, deeper scopes such as SiLU's
 * "/model.6/cv1/act/Mul", or other shapes such as Detect's [1,A] strides). */
int oc_onnx_gamma_name(const char *node_name, const char *op_type, int ndim,
                       const int64_t *dims, char *out, size_t cap);
/* The scale letter of a YOLO model from model.0's output channels (c0) and, for yolo11/12
 * widths of 64, whether the deeper m/l layout is present; "" when unknown. */
void oc_convert_guess_scale(const char *arch, int c0, int has_l_depth, char *scale);
/* The reference's scale table: depth_multiple, width_multiple, max_channels of arch/scale.
 * Returns 0 when arch or scale is unknown. */
int oc_convert_scale_table(const char *arch, const char *scale, double *depth, double *width,
                           int *max_channels);

#endif
