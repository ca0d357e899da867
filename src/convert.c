/* convert.c -- ONNX export / safetensors state_dict -> Ocellus model file (see convert.h). */
#include "convert.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "onnx.h"
#include "safetensors.h"

/* The reference's scale table is YOLO's own (src/models/yolo/yolo.c); the converter asks it. */
static int arch_known(const char *a)
{
    return a && (!strcmp(a, "yolo11") || !strcmp(a, "yolov8") || !strcmp(a, "yolo12"));
}

/* ---- module path from a node name ---- */
int oc_onnx_module_path(const char *node_name, char *out, size_t cap)
{
    if (!node_name || !out || cap == 0 || node_name[0] != '/') return -1;
    /* split into components */
    const char *comp[64];
    size_t clen[64];
    int nc = 0;
    const char *p = node_name + 1;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == 0 || nc == 64) return -1;
        for (size_t i = 0; i < l; i++)
            if (!(isalnum((unsigned char)p[i]) || p[i] == '_' || p[i] == '.')) return -1;
        comp[nc] = p;
        clen[nc] = l;
        nc++;
        p += l;
        if (*p == '/') p++;
        if (e && !*p) return -1; /* trailing slash */
    }
    if (nc < 2) return -1;
    nc--; /* drop the op instance name */
    size_t n = 0;
    size_t start_of_prev = 0;
    for (int i = 0; i < nc; i++) {
        /* "cv3.0.2" after "cv3.0": the child of the ModuleList/Sequential named by prev */
        if (i > 0 && clen[i] > clen[i - 1] + 1 && !memcmp(comp[i], comp[i - 1], clen[i - 1]) &&
            comp[i][clen[i - 1]] == '.') {
            n = start_of_prev; /* replace the previous component */
        } else if (i > 0) {
            if (n + 1 >= cap) return -1;
            out[n++] = '.';
        }
        start_of_prev = n;
        if (n + clen[i] >= cap) return -1;
        memcpy(out + n, comp[i], clen[i]);
        n += clen[i];
    }
    out[n] = '\0';
    return 0;
}


void oc_convert_arch_from_description(const char *d, char *arch, size_t acap, char *scale)
{
    static const struct { const char *tok; const char *arch; } toks[] = {
        {"yolo11", "yolo11"}, {"yolov11", "yolo11"}, {"yolov8", "yolov8"},
        {"yolo12", "yolo12"}, {"yolov12", "yolo12"},
    };
    arch[0] = '\0';
    scale[0] = '\0';
    if (!d) return;
    for (const char *p = d; *p; p++) {
        for (size_t k = 0; k < sizeof toks / sizeof toks[0]; k++) {
            size_t l = strlen(toks[k].tok);
            if (strncasecmp(p, toks[k].tok, l)) continue;
            if (p > d && isalnum((unsigned char)p[-1])) continue;
            char c = p[l];
            if (isdigit((unsigned char)c)) continue; /* e.g. yolo110 */
            snprintf(arch, acap, "%s", toks[k].arch);
            if (c && strchr("nsmlx", c) && !isalnum((unsigned char)p[l + 1])) {
                scale[0] = c;
                scale[1] = '\0';
            }
            return;
        }
    }
}


/* Save to a temporary file, check it loads, then rename into place: a converter never leaves
 * a file that oc_model_load refuses. The writer (every tensor in memory) is freed before the
 * load, so the check does not double the peak memory of a large conversion; *w is NULL after. */
static oc_status save_and_verify(oc_st_writer **w, const char *out_path)
{
    size_t l = strlen(out_path);
    /* a missing or read-only directory: say so about the file the user asked for */
    char *dir = oc_malloc(l + 2);
    if (!dir) return oc_error(OC_ERR_NOMEM, "%s: out of memory", out_path);
    memcpy(dir, out_path, l + 1);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, l + 2, ".");
    else if (slash == dir) slash[1] = '\0';
    else *slash = '\0';
    if (access(dir, W_OK) != 0) {
        int e = errno;
        oc_status err = oc_error(OC_ERR_IO, "%s: cannot write: directory %s: %s", out_path, dir,
                                 strerror(e));
        oc_free(dir);
        return err;
    }
    oc_free(dir);
    char *tmp = oc_malloc(l + 32);
    if (!tmp) return oc_error(OC_ERR_NOMEM, "%s: out of memory", out_path);
    snprintf(tmp, l + 32, "%s.tmp%ld", out_path, (long)getpid());
    oc_status st = oc_st_writer_save(*w, tmp);
    oc_st_writer_free(*w);
    *w = NULL;
    if (st) {
        /* the writer's message names its own temporary file inside ours: name the user's */
        int e = errno;
        unlink(tmp);
        oc_free(tmp);
        if (st == OC_ERR_IO)
            return oc_error(OC_ERR_IO, "%s: cannot write%s%s", out_path, e ? ": " : "",
                            e ? strerror(e) : "");
        return oc_error_prefix(st, "%s: ", out_path);
    }
    oc_model *m = NULL;
    st = oc_model_load(tmp, &m);
    if (st) {
        /* the loader names the temporary file, which is about to go: name the user's */
        char why[1024];
        const char *msg = oc_last_error();
        size_t lt = strlen(tmp);
        if (!strncmp(msg, tmp, lt) && msg[lt] == ':' && msg[lt + 1] == ' ') msg += lt + 2;
        snprintf(why, sizeof why, "%s", msg);
        oc_error(st, "%s: the converted model does not load: %s", out_path, why);
        unlink(tmp);
        oc_free(tmp);
        return st;
    }
    oc_model_free(m);
    if (rename(tmp, out_path) != 0) {
        int e = errno;
        unlink(tmp);
        oc_free(tmp);
        return oc_error(OC_ERR_IO, "%s: cannot write: %s", out_path, strerror(e));
    }
    oc_free(tmp);
    return OC_OK;
}

oc_status oc_convert_onnx(const char *onnx_path, const char *out_path, const char *arch_override,
                          const char *scale_override)
{
    if (!onnx_path || !out_path)
        return oc_error(OC_ERR_INVALID_ARG, "oc_convert_onnx: NULL path");
    oc_onnx_model *m = NULL;
    oc_status st = oc_onnx_open(onnx_path, &m);
    if (st == OC_ERR_FORMAT) return oc_error_prefix(st, "not a readable ONNX model: ");
    if (st) return st;
    /* The family named by --arch; without it the ultralytics one: only YOLO has ONNX exports
     * to convert, and its converter (shared by yolo11, yolov8 and yolo12) tells which of them
     * an export is from its metadata or its graph. */
    const char *fam_name = arch_override ? arch_override : "yolo11";
    const oc_arch *fam = oc_find_arch(fam_name);
    oc_st_writer *w = NULL;
    if (!fam) {
        st = oc_error(OC_ERR_UNSUPPORTED, "%s: unknown architecture '%s' (ONNX exports convert "
                      "as yolo11, yolov8 or yolo12)", onnx_path, fam_name);
        goto done;
    }
    if (!fam->convert_onnx) {
        st = oc_error(OC_ERR_UNSUPPORTED, "%s: architecture '%s' has no ONNX converter (ONNX "
                      "exports convert as yolo11, yolov8 or yolo12; convert a %s state_dict or "
                      "PyTorch checkpoint instead)", onnx_path, fam_name, fam_name);
        goto done;
    }
    oc_convert_options o = {.scale = scale_override, .arch = arch_override, .source = onnx_path};
    w = oc_st_writer_new();
    if (!w) {
        st = oc_error(OC_ERR_NOMEM, "%s: out of memory", onnx_path);
        goto done;
    }
    st = fam->convert_onnx(m, &o, w);
    if (!st) st = save_and_verify(&w, out_path);
done:
    oc_st_writer_free(w);
    oc_onnx_free(m);
    return st;
}

/* ---- the family of a state_dict from its tensor names ---- */
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

/* ---- safetensors state_dict ---- */
oc_status oc_convert_state_dict(const char *in_path, const char *out_path, const char *arch_in,
                                const char *scale_in, int num_classes)
{
    if (!in_path || !out_path)
        return oc_error(OC_ERR_INVALID_ARG, "oc_convert_state_dict: NULL path");
    oc_st_file *f = NULL;
    oc_status st = oc_st_open(in_path, &f);
    if (st) return st;
    st = oc_convert_state_dict_file(f, in_path, out_path, arch_in, scale_in, num_classes);
    oc_st_close(f);
    return st;
}

oc_status oc_convert_state_dict_file(const oc_st_file *f, const char *in_path,
                                     const char *out_path, const char *arch_in,
                                     const char *scale_in, int num_classes)
{
    if (!f || !in_path || !out_path)
        return oc_error(OC_ERR_INVALID_ARG, "oc_convert_state_dict_file: NULL argument");
    oc_st_writer *w = NULL;
    oc_status st = OC_OK;
    char arch[16] = "";
    if (arch_in) {
        snprintf(arch, sizeof arch, "%s", arch_in);
    } else if (oc_st_meta(f, "ocellus.arch")) { /* an Ocellus file: re-convert */
        snprintf(arch, sizeof arch, "%s", oc_st_meta(f, "ocellus.arch"));
    } else {
        const char *cfg = oc_st_meta(f, "config"); /* "yolo11.yaml", "yolov8n.yaml" */
        if (cfg && cfg[0] == '{' && strstr(cfg, "\"RTDETRTransformer\"")) {
            snprintf(arch, sizeof arch, "rtdetr"); /* the reference config as JSON */
        } else if ((cfg && cfg[0] == '{' && strstr(cfg, "roboflow/rf-detr")) ||
                   oc_st_find(f, "backbone.0.encoder.encoder.embeddings.position_embeddings")) {
            snprintf(arch, sizeof arch, "rfdetr"); /* rfdetr's config / DINOv2 backbone */
        } else if (cfg) { /* YOLO's converter reads the scale from it too */
            char sc[8];
            oc_convert_arch_from_description(cfg, arch, sizeof arch, sc);
        }
    }
    if (!arch[0]) { /* the other families' tensor names say who they are */
        char guess[16];
        oc_convert_guess_family(f, guess, sizeof guess, NULL);
        if (guess[0] && !arch_known(guess)) snprintf(arch, sizeof arch, "%s", guess);
    }
    if (!arch[0]) {
        st = oc_error(OC_ERR_INVALID_ARG, "%s: the architecture is needed (--arch yolo11|yolov8|"
                      "yolo12): the file's metadata has no 'config'", in_path);
        goto done;
    }
    /* every family converts through its oc_arch.convert (YOLO's: src/models/yolo/); the
     * scale is its variant name, NULL to take it from the file */
    const oc_arch *fam = oc_find_arch(arch);
    if (!fam || !fam->convert) {
        st = oc_error(OC_ERR_UNSUPPORTED, "%s: architecture '%s' is not supported (yolo11, "
                      "yolov8, yolo12, or a family with a converter)", in_path, arch);
        goto done;
    }
    oc_convert_options o = {.scale = scale_in, .num_classes = num_classes, .arch = arch,
                            .source = in_path};
    w = oc_st_writer_new();
    if (!w) {
        st = oc_error(OC_ERR_NOMEM, "convert: out of memory");
        goto done;
    }
    st = fam->convert(f, &o, w);
    if (!st) st = save_and_verify(&w, out_path);
done:
    oc_st_writer_free(w);
    return st;
}
