/* yolo_convert.c -- the YOLO families' converters (oc_arch.convert and .convert_onnx): an
 * ultralytics state_dict or ONNX export to an Ocellus model file's tensors and metadata. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "model.h"
#include "models/yolo/yolo_common.h"
#include "onnx.h"
#include "safetensors.h"

static int arch_known(const char *a)
{
    return a && (!strcmp(a, "yolo11") || !strcmp(a, "yolov8") || !strcmp(a, "yolo12"));
}

int oc_convert_scale_table(const char *arch, const char *scale, double *depth, double *width,
                           int *max_channels)
{
    double d, w;
    int mc;
    if (!yolo_scale_defaults(arch, scale, &d, &w, &mc)) return 0;
    if (depth) *depth = d;
    if (width) *width = w;
    if (max_channels) *max_channels = mc;
    return 1;
}

int oc_onnx_gamma_name(const char *node_name, const char *op_type, int ndim,
                       const int64_t *dims, char *out, size_t cap)
{
    char path[512];
    if (!op_type || strcmp(op_type, "Mul") || ndim != 4 || !dims || dims[0] != 1 ||
        dims[1] < 1 || dims[2] != 1 || dims[3] != 1)
        return -1;
    if (oc_onnx_module_path(node_name, path, sizeof path)) return -1;
    /* exactly "model.<digits>" */
    if (strncmp(path, "model.", 6) || !path[6]) return -1;
    for (const char *q = path + 6; *q; q++)
        if (!isdigit((unsigned char)*q)) return -1;
    int n = snprintf(out, cap, "%s.gamma", path);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

static int state_dict_like(const char *s)
{
    if (strncmp(s, "model.", 6)) return 0;
    s += 6;
    if (!isdigit((unsigned char)*s)) return 0;
    while (isdigit((unsigned char)*s)) s++;
    if (*s != '.') return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '.')) return 0;
    return 1;
}

/* ---- metadata helpers ---- */
static oc_status parse_imgsz(const char *file, const char *s, int *h, int *w)
{
    long v[2];
    int n = 0;
    const char *p = s;
    while (*p == ' ') p++;
    int bracket = (*p == '[' || *p == '(');
    if (bracket) p++;
    for (;;) {
        while (*p == ' ') p++;
        if (!isdigit((unsigned char)*p)) break;
        char *e;
        errno = 0;
        long x = strtol(p, &e, 10);
        if (errno || x < 1 || x > 16384 || n == 2)
            return oc_error(OC_ERR_FORMAT, "%s: metadata imgsz \"%s\" is not one or two sizes "
                            "in 1..16384", file, s);
        v[n++] = x;
        p = e;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else break;
    }
    while (*p == ' ') p++;
    if (bracket && (*p == ']' || *p == ')')) p++;
    while (*p == ' ') p++;
    if (n == 0 || *p)
        return oc_error(OC_ERR_FORMAT, "%s: metadata imgsz \"%s\" is not like \"[640, 640]\"",
                        file, s);
    *h = (int)v[0];
    *w = (int)(n == 2 ? v[1] : v[0]);
    return OC_OK;
}


typedef const char *(*name_at_fn)(const void *ctx, size_t i);

static int find_detect_layer(const void *ctx, size_t n, name_at_fn name_at)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        const char *s = name_at(ctx, i);
        int L;
        char rest[64];
        if (sscanf(s, "model.%d.%63s", &L, rest) == 2 && !strcmp(rest, "dfl.conv.weight") &&
            L > best)
            best = L;
    }
    return best;
}

static const char *onnx_init_name(const void *ctx, size_t i)
{
    return ((const oc_onnx_model *)ctx)->inits[i].name;
}

static const char *st_name(const void *ctx, size_t i)
{
    return oc_st_tensor_at((const oc_st_file *)ctx, i)->name;
}

/* Write the ocellus.* metadata. names may be NULL (generic "class<i>"). */
typedef struct {
    double depth, width;
    int max_channels;
} scale_hp;

/* hp: depth/width/max_channels that override the scale table (NULL: the table's) */
static oc_status write_meta(oc_st_writer *w, const char *src_path, const char *arch,
                            const char *scale, int nc, char **names, int in_h, int in_w,
                            const char *source, const scale_hp *hp)
{
    double depth, width;
    int maxc;
    if (!oc_convert_scale_table(arch, scale, &depth, &width, &maxc))
        return oc_error(OC_ERR_UNSUPPORTED, "%s: unknown scale '%s' for arch '%s' (expected one "
                        "of n, s, m, l, x)", src_path, scale, arch);
    if (hp) {
        depth = hp->depth;
        width = hp->width;
        maxc = hp->max_channels;
    }
    char buf[64];
    oc_status st = OC_OK;
#define META(k, v) do { if (!st) st = oc_st_writer_meta(w, k, v); } while (0)
    META("ocellus.format_version", "1");
    META("ocellus.arch", arch);
    META("ocellus.scale", scale);
    META("ocellus.task", "detect");
    snprintf(buf, sizeof buf, "%d", nc);
    META("ocellus.num_classes", buf);
    snprintf(buf, sizeof buf, depth == round(depth * 100) / 100 ? "%.2f" : "%.17g", depth);
    META("ocellus.depth_multiple", buf);
    snprintf(buf, sizeof buf, width == round(width * 100) / 100 ? "%.2f" : "%.17g", width);
    META("ocellus.width_multiple", buf);
    snprintf(buf, sizeof buf, "%d", maxc);
    META("ocellus.max_channels", buf);
    if (in_h == in_w) snprintf(buf, sizeof buf, "%d", in_h);
    else snprintf(buf, sizeof buf, "%dx%d", in_h, in_w);
    META("ocellus.input_size", buf);
    if (source) META("ocellus.source", source);
    if (st) return st;
#undef META
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return oc_error(OC_ERR_NOMEM, "%s: out of memory for class names", src_path);
    for (int i = 0; i < nc; i++) {
        char gen[32];
        snprintf(gen, sizeof gen, "class%d", i);
        cJSON *s = cJSON_CreateString(names ? names[i] : gen);
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            cJSON_Delete(arr);
            return oc_error(OC_ERR_NOMEM, "%s: out of memory for class names", src_path);
        }
    }
    char *js = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    if (!js) return oc_error(OC_ERR_NOMEM, "%s: out of memory for class names", src_path);
    st = oc_st_writer_meta(w, "ocellus.class_names", js);
    cJSON_free(js);
    return st;
}


static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* scale from the width of model.0 (and depth for yolo11 m vs l) when the description has none */
void oc_convert_guess_scale(const char *arch, int c0, int has_l_depth, char *scale)
{
    scale[0] = '\0';
    if (!strcmp(arch, "yolov8")) {
        const int w[] = {16, 32, 48, 64, 80};
        for (int i = 0; i < 5; i++)
            if (c0 == w[i]) scale[0] = "nsmlx"[i];
    } else {
        if (c0 == 16) scale[0] = 'n';
        else if (c0 == 32) scale[0] = 's';
        else if (c0 == 64) scale[0] = has_l_depth ? 'l' : 'm';
        else if (c0 == 96) scale[0] = 'x';
    }
    scale[1] = '\0';
}

static oc_status add_onnx_tensor(oc_st_writer *w, const oc_onnx_model *m, const oc_onnx_tensor *t,
                                 const char *name)
{
    if (t->numel > (uint64_t)1 << 32)
        return oc_error(OC_ERR_FORMAT, "%s: initializer '%s' is too large", m->path, t->name);
    float *buf = oc_malloc((size_t)t->numel * sizeof(float));
    if (!buf) return oc_error(OC_ERR_NOMEM, "%s: out of memory for '%s'", m->path, t->name);
    oc_status st = oc_onnx_tensor_to_f32(m, t, buf);
    if (!st) st = oc_st_writer_add(w, name, OC_DT_F32, t->ndim, t->dims, buf);
    oc_free(buf);
    return st;
}

/* oc_arch.convert_onnx of the YOLO families: an ultralytics ONNX export. The arch comes from
 * o->arch, else the metadata description, else the graph (C2PSA / area attention / the Detect
 * head's layer); the weights are named after the Conv nodes' module paths. */
oc_status yolo_convert_onnx(const oc_onnx_model *m, const oc_convert_options *o,
                            oc_st_writer *w)
{
    const char *src_path = o->source ? o->source : m->path;
    char **names = NULL;
    int n_names = 0;
    uint8_t *used = NULL;
    oc_status st = OC_OK;

    /* task */
    const char *task = oc_onnx_meta(m, "task");
    if (task && strcmp(task, "detect")) {
        st = oc_error(OC_ERR_UNSUPPORTED, "%s: task '%s' is not supported (only 'detect' models "
                      "convert for now)", src_path, task);
        goto done;
    }
    const char *e2e = oc_onnx_meta(m, "end2end");
    if (e2e && !strcmp(e2e, "True")) {
        st = oc_error(OC_ERR_UNSUPPORTED, "%s: end-to-end (NMS-free) exports are not supported",
                      src_path);
        goto done;
    }

    /* arch and scale */
    char arch[16], scale[8];
    oc_convert_arch_from_description(oc_onnx_meta(m, "description"), arch, sizeof arch, scale);
    if (!arch[0]) { /* from the graph */
        int attn_early = 0, c2psa = 0;
        for (int i = 0; i < m->n_inits; i++) {
            int L;
            char rest[128];
            if (sscanf(m->inits[i].name, "model.%d.%127s", &L, rest) != 2) continue;
            if (strstr(rest, "attn.qkv")) {
                if (!strncmp(rest, "m.0.attn.qkv", 12)) c2psa = 1;
                else attn_early = 1;
            }
        }
        int dl = find_detect_layer(m, (size_t)m->n_inits, onnx_init_name);
        if (c2psa && !attn_early) snprintf(arch, sizeof arch, "yolo11");
        else if (attn_early) snprintf(arch, sizeof arch, "yolo12");
        else if (dl == 22) snprintf(arch, sizeof arch, "yolov8");
    }
    if (o->arch) snprintf(arch, sizeof arch, "%s", o->arch);
    if (!arch[0]) {
        st = oc_error(OC_ERR_UNSUPPORTED, "%s: cannot tell the architecture from the metadata "
                      "description or the graph; pass --arch yolo11|yolov8|yolo12", src_path);
        goto done;
    }
    if (!arch_known(arch)) {
        st = oc_error(OC_ERR_UNSUPPORTED, "%s: architecture '%s' is not supported by the ONNX "
                      "converter (yolo11, yolov8, yolo12)", src_path, arch);
        goto done;
    }

    /* tensors */
    used = oc_calloc((size_t)m->n_inits + 1, 1);
    if (!used) {
        st = oc_error(OC_ERR_NOMEM, "%s: out of memory", src_path);
        goto done;
    }
    int n_conv = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        const oc_onnx_node *nd = &m->nodes[i];
        if (strcmp(nd->op_type, "Conv")) continue;
        char path[512];
        if (oc_onnx_module_path(nd->name, path, sizeof path - 16)) {
            st = oc_error(OC_ERR_FORMAT, "%s: Conv node '%s' (byte %llu): name is not a module "
                          "path like \"/model.2/cv1/conv/Conv\"", src_path, nd->name,
                          (unsigned long long)nd->offset);
            goto done;
        }
        if (nd->n_inputs < 2) {
            st = oc_error(OC_ERR_FORMAT, "%s: Conv node '%s' has no weight input", src_path,
                          nd->name);
            goto done;
        }
        for (int k = 1; k < nd->n_inputs && k < 3; k++) {
            if (!nd->inputs[k][0]) continue;
            const oc_onnx_node *producer = NULL;
            const oc_onnx_tensor *t = oc_onnx_resolve_init(m, nd->inputs[k], &producer);
            if (!t) {
                if (producer)
                    st = oc_error(OC_ERR_UNSUPPORTED, "%s: Conv node '%s': %s '%s' is computed "
                                  "by a %s node ('%s'), not stored as an initializer: quantized "
                                  "or computed weights are not supported", src_path, nd->name,
                                  k == 1 ? "weight" : "bias", nd->inputs[k], producer->op_type,
                                  producer->name);
                else
                    st = oc_error(OC_ERR_FORMAT, "%s: Conv node '%s': %s '%s' is neither an "
                                  "initializer nor the output of any node", src_path, nd->name,
                                  k == 1 ? "weight" : "bias", nd->inputs[k]);
                goto done;
            }
            if ((k == 1 && t->ndim != 4) || (k == 2 && t->ndim != 1)) {
                st = oc_error(OC_ERR_SHAPE, "%s: Conv node '%s': %s '%s' has %d dims, expected %d",
                              src_path, nd->name, k == 1 ? "weight" : "bias", t->name, t->ndim,
                              k == 1 ? 4 : 1);
                goto done;
            }
            size_t idx = (size_t)(t - m->inits);
            char tname[528];
            snprintf(tname, sizeof tname, "%s.%s", path, k == 1 ? "weight" : "bias");
            /* an initializer may feed several Convs (torch.onnx.export keeps one copy of
             * identical tensors, behind Identity nodes): each gets its own module's name */
            used[idx] = 1;
            if ((st = add_onnx_tensor(w, m, t, tname))) {
                oc_error_prefix(st, "Conv node '%s': ", nd->name);
                goto done;
            }
        }
        n_conv++;
    }
    if (n_conv == 0) {
        st = oc_error(OC_ERR_UNSUPPORTED, "%s: the graph has no Conv nodes: not an ultralytics "
                      "YOLO export", src_path);
        goto done;
    }
    /* YOLO12 l/x residual scales: gamma folded into an unnamed Mul operand */
    for (int i = 0; i < m->n_nodes; i++) {
        const oc_onnx_node *nd = &m->nodes[i];
        if (strcmp(nd->op_type, "Mul")) continue;
        for (int k = 0; k < nd->n_inputs; k++) {
            const oc_onnx_tensor *t = oc_onnx_find_init(m, nd->inputs[k]);
            char gname[560];
            if (!t || used[t - m->inits] ||
                oc_onnx_gamma_name(nd->name, nd->op_type, t->ndim, t->dims, gname, sizeof gname))
                continue;
            used[t - m->inits] = 1;
            if ((st = add_onnx_tensor(w, m, t, gname))) {
                oc_error_prefix(st, "Mul node '%s': ", nd->name);
                goto done;
            }
        }
    }
    /* other state_dict-like float initializers are kept under their names */
    for (int i = 0; i < m->n_inits; i++) {
        const oc_onnx_tensor *t = &m->inits[i];
        if (used[i] || !state_dict_like(t->name)) continue;
        if (!(t->data_type == OC_ONNX_FLOAT || t->data_type == OC_ONNX_FLOAT16 ||
              t->data_type == OC_ONNX_BFLOAT16 || t->data_type == OC_ONNX_DOUBLE))
            continue;
        st = add_onnx_tensor(w, m, t, t->name);
        if (st) {
            /* a Conv already produced this name: the node path and the initializer agree */
            if (st == OC_ERR_INVALID_ARG && strstr(oc_last_error(), "duplicate")) {
                st = OC_OK;
                continue;
            }
            goto done;
        }
    }

    /* number of classes from the Detect head: model.L.cv3.0.2.weight [nc][c][1][1] */
    int dl = find_detect_layer(m, (size_t)m->n_inits, onnx_init_name);
    int nc = -1;
    if (dl >= 0) {
        char nm[64];
        snprintf(nm, sizeof nm, "model.%d.cv3.0.2.weight", dl);
        for (int i = 0; i < m->n_nodes && nc < 0; i++) {
            char path[512];
            if (strcmp(m->nodes[i].op_type, "Conv") || m->nodes[i].n_inputs < 2 ||
                oc_onnx_module_path(m->nodes[i].name, path, sizeof path - 16))
                continue;
            strcat(path, ".weight");
            if (!strcmp(path, nm)) {
                const oc_onnx_tensor *t = oc_onnx_find_init(m, m->nodes[i].inputs[1]);
                if (t && t->ndim == 4 && t->dims[0] > 0 && t->dims[0] < 100000)
                    nc = (int)t->dims[0];
            }
        }
    }
    if (nc < 0) {
        st = oc_error(OC_ERR_UNSUPPORTED, "%s: no YOLO Detect head found (model.L.dfl.conv and "
                      "model.L.cv3.0.2 convs)", src_path);
        goto done;
    }

    /* class names */
    const char *names_s = oc_onnx_meta(m, "names");
    if (names_s) {
        if ((st = oc_parse_names_dict(names_s, &names, &n_names))) {
            oc_error_prefix(st, "%s: metadata 'names': ", src_path);
            goto done;
        }
        if (n_names != nc) {
            st = oc_error(OC_ERR_FORMAT, "%s: metadata 'names' has %d classes but the Detect head "
                          "predicts %d", src_path, n_names, nc);
            goto done;
        }
    }

    /* scale */
    if (o->scale) snprintf(scale, sizeof scale, "%s", o->scale);
    if (!scale[0]) {
        const oc_onnx_tensor *t0 = oc_onnx_find_init(m, "model.0.conv.weight");
        int has_l = oc_onnx_find_init(m, "model.2.m.1.cv1.conv.weight") != NULL;
        if (t0 && t0->ndim == 4) oc_convert_guess_scale(arch, (int)t0->dims[0], has_l, scale);
    }
    if (!scale[0]) {
        st = oc_error(OC_ERR_UNSUPPORTED, "%s: cannot tell the scale (n/s/m/l/x) from the "
                      "metadata description or the weights; pass --scale", src_path);
        goto done;
    }

    /* input size */
    int in_h = 640, in_w = 640;
    const char *imgsz = oc_onnx_meta(m, "imgsz");
    if (imgsz && (st = parse_imgsz(src_path, imgsz, &in_h, &in_w))) goto done;

    st = write_meta(w, src_path, arch, scale, nc, names, in_h, in_w, base_name(src_path), NULL);
done:
    oc_free_names(names, n_names);
    oc_free(used);
    return st;
}

/* oc_arch.convert of the YOLO families: an ultralytics state_dict (tensor names kept). The
 * scale comes from o->scale, the config's description, or the metadata; the class count from
 * o->num_classes, the metadata, or the Detect head; the file's own multipliers are kept. */
oc_status yolo_convert(const oc_st_file *f, const oc_convert_options *o, oc_st_writer *w)
{
    const char *src_path = o->source ? o->source : "state_dict";
    int num_classes = o->num_classes;
    char **names = NULL;
    int n_names = 0;
    oc_status st = OC_OK;
    char scale[8] = "", arch[16] = "", cfg_scale[8] = "";
    const char *cfg = oc_st_meta(f, "config"); /* "yolo11.yaml", "yolov8n.yaml" */
    if (!oc_st_meta(f, "ocellus.arch") && cfg)
        oc_convert_arch_from_description(cfg, arch, sizeof arch, cfg_scale);
    /* the arch asked for, else the file's (one hook serves yolo11, yolov8 and yolo12) */
    if (o->arch) snprintf(arch, sizeof arch, "%s", o->arch);
    else if (oc_st_meta(f, "ocellus.arch"))
        snprintf(arch, sizeof arch, "%s", oc_st_meta(f, "ocellus.arch"));
    else if (!arch[0]) oc_convert_guess_family(f, arch, sizeof arch, NULL);
    if (o->scale) snprintf(scale, sizeof scale, "%s", o->scale);
    else if (cfg_scale[0]) snprintf(scale, sizeof scale, "%s", cfg_scale);
    else if (oc_st_meta(f, "ocellus.scale"))
        snprintf(scale, sizeof scale, "%s", oc_st_meta(f, "ocellus.scale"));
    else if (oc_st_meta(f, "scale"))
        snprintf(scale, sizeof scale, "%s", oc_st_meta(f, "scale"));
    if (!arch_known(arch)) {
        st = oc_error(OC_ERR_UNSUPPORTED, "%s: architecture '%s' is not one the YOLO converter "
                      "knows (yolo11, yolov8, yolo12)", src_path, arch);
        goto done;
    }
    if (!scale[0]) {
        st = oc_error(OC_ERR_INVALID_ARG, "%s: the scale is needed (--scale n|s|m|l|x): the "
                      "file's metadata has no 'scale'", src_path);
        goto done;
    }
    /* number of classes: argument, metadata "nc", or the Detect head */
    int nc = num_classes;
    int dl = find_detect_layer(f, oc_st_num_tensors(f), st_name);
    int head_nc = -1;
    if (dl >= 0) {
        char nm[64];
        snprintf(nm, sizeof nm, "model.%d.cv3.0.2.weight", dl);
        const oc_st_tensor *t = oc_st_find(f, nm);
        if (t && t->ndim == 4 && t->shape[0] > 0 && t->shape[0] < 100000)
            head_nc = (int)t->shape[0];
    }
    const char *ncs = oc_st_meta(f, "ocellus.num_classes");
    if (!ncs) ncs = oc_st_meta(f, "nc");
    if (nc <= 0 && ncs) {
        char *e;
        long v = strtol(ncs, &e, 10);
        if (*e || v <= 0 || v > 100000) {
            st = oc_error(OC_ERR_FORMAT, "%s: metadata nc \"%s\" is not a class count", src_path,
                          ncs);
            goto done;
        }
        nc = (int)v;
    }
    if (nc <= 0) nc = head_nc;
    if (nc <= 0) {
        st = oc_error(OC_ERR_FORMAT, "%s: no Detect head (model.L.dfl.conv.weight and "
                      "model.L.cv3.0.2.weight) to take the class count from; pass --classes",
                      src_path);
        goto done;
    }
    if (head_nc > 0 && head_nc != nc) {
        st = oc_error(OC_ERR_SHAPE, "%s: %d classes requested but the Detect head predicts %d",
                      src_path, nc, head_nc);
        goto done;
    }
    const char *names_j = oc_st_meta(f, "ocellus.class_names");
    cJSON *ja = names_j ? cJSON_Parse(names_j) : NULL;
    if (cJSON_IsArray(ja) && cJSON_GetArraySize(ja) == nc) {
        names = oc_calloc((size_t)nc, sizeof *names);
        int okn = names != NULL;
        for (int i = 0; okn && i < nc; i++) {
            const cJSON *it = cJSON_GetArrayItem(ja, i);
            okn = cJSON_IsString(it) && (names[i] = oc_strdup(it->valuestring)) != NULL;
        }
        if (okn) {
            n_names = nc;
        } else if (names) {
            oc_free_names(names, nc);
            names = NULL;
        }
    }
    cJSON_Delete(ja);
    const char *names_s = oc_st_meta(f, "names");
    if (!names && names_s && names_s[0] == '{') {
        if ((st = oc_parse_names_dict(names_s, &names, &n_names))) {
            oc_error_prefix(st, "%s: metadata 'names': ", src_path);
            goto done;
        }
        if (n_names != nc) {
            oc_free_names(names, n_names);
            names = NULL;
            n_names = 0;
        }
    }
    for (size_t i = 0; i < oc_st_num_tensors(f); i++) {
        const oc_st_tensor *t = oc_st_tensor_at(f, i);
        if ((st = oc_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data))) goto done;
    }
    /* the file's own multipliers win over the scale table (e.g. the "ltiny" fixtures: scale l
     * at width 0.25), unless another scale than the file's was asked for */
    scale_hp hp;
    const scale_hp *php = NULL;
    const char *file_scale = oc_st_meta(f, "ocellus.scale");
    if (!file_scale) file_scale = oc_st_meta(f, "scale");
    int own_scale = !file_scale || !strcmp(file_scale, scale);
    if (own_scale &&
        oc_convert_scale_table(arch, scale, &hp.depth, &hp.width, &hp.max_channels)) {
        static const char *keys[3][2] = {{"ocellus.depth_multiple", "depth_multiple"},
                                         {"ocellus.width_multiple", "width_multiple"},
                                         {"ocellus.max_channels", "max_channels"}};
        for (int k = 0; k < 3; k++) {
            const char *v = oc_st_meta(f, keys[k][0]);
            if (!v) v = oc_st_meta(f, keys[k][1]);
            if (!v) continue;
            char *e;
            double x = strtod(v, &e);
            if (*e || !(x > 0 && x <= 100000)) {
                st = oc_error(OC_ERR_FORMAT, "%s: metadata %s \"%s\" is not a positive number",
                              src_path, keys[k][1], v);
                goto done;
            }
            if (k == 0) hp.depth = x;
            else if (k == 1) hp.width = x;
            else hp.max_channels = (int)x;
            php = &hp;
        }
    }
    int in_h = 640, in_w = 640;
    const char *isz = oc_st_meta(f, "ocellus.input_size");
    if (isz) {
        char *e;
        long a = strtol(isz, &e, 10), b = a;
        if (*e == 'x') b = strtol(e + 1, &e, 10);
        if (!*e && a >= 32 && a <= 16384 && b >= 32 && b <= 16384) {
            in_h = (int)a;
            in_w = (int)b;
        }
    }
    st = write_meta(w, src_path, arch, scale, nc, names, in_h, in_w, base_name(src_path), php);
done:
    oc_free_names(names, n_names);
    return st;
}
