/* model.c -- oc_model_load/free and getters, the architecture registry, metadata helpers.
 *
 * The architecture comes from the metadata `ocellus.arch`, or for plain PyTorch state_dict
 * files from `config` ("yolo11.yaml" -> "yolo11"; "yolo11n.yaml" -> "yolo11", scale "n").
 * Model families are defined in src/models/ as `const oc_arch oc_arch_<name>`; they are
 * referenced weakly so the library links whichever of them exist. */
#include "model.h"
#include "weight_cache.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- registry ------------ */

/* Families whose file is in the tree are referenced strongly: with the static library a weak
 * undefined reference does not make the linker pull the family's object out of the archive,
 * so a weak-only family would be silently missing from programs linked with libocellus.a.
 * Families still being written are weak (absent -> skipped) until their file lands. */
extern const oc_arch oc_arch_yolo11;
extern const oc_arch oc_arch_yolov8;
extern const oc_arch oc_arch_yolo12;
extern const oc_arch oc_arch_rtdetr;
extern const oc_arch oc_arch_rfdetr;
extern const oc_arch oc_arch_sam2;

#define OC_MAX_ARCHS 32
static pthread_mutex_t g_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static const oc_arch *g_reg[OC_MAX_ARCHS];
static int g_nreg;

static const oc_arch *builtin(int i)
{
    switch (i) {
    case 0: return &oc_arch_yolo11;
    case 1: return &oc_arch_yolov8;
    case 2: return &oc_arch_yolo12;
    case 3: return &oc_arch_rtdetr;
    case 4: return &oc_arch_rfdetr;
    case 5: return &oc_arch_sam2;
    }
    return NULL;
}
#define OC_NBUILTIN 6

oc_status oc_register_arch(const oc_arch *a)
{
    if (!a || !a->name || !*a->name || !a->load || !a->build)
        return oc_error(OC_ERR_INVALID_ARG, "oc_register_arch: the arch needs a name, load and "
                        "build");
    oc_status st = OC_OK;
    pthread_mutex_lock(&g_reg_lock);
    int i;
    for (i = 0; i < g_nreg; i++)
        if (!strcmp(g_reg[i]->name, a->name)) break;
    if (i < g_nreg) {
        g_reg[i] = a; /* re-registering a name replaces it */
    } else if (g_nreg == OC_MAX_ARCHS) {
        st = oc_error(OC_ERR_NOMEM, "oc_register_arch: registry full (%d)", OC_MAX_ARCHS);
    } else {
        g_reg[g_nreg++] = a;
    }
    pthread_mutex_unlock(&g_reg_lock);
    return st;
}

const oc_arch *oc_find_arch(const char *name)
{
    if (!name) return NULL;
    const oc_arch *found = NULL;
    pthread_mutex_lock(&g_reg_lock);
    for (int i = 0; i < g_nreg && !found; i++)
        if (!strcmp(g_reg[i]->name, name)) found = g_reg[i];
    pthread_mutex_unlock(&g_reg_lock);
    for (int i = 0; i < OC_NBUILTIN && !found; i++) {
        const oc_arch *a = builtin(i);
        if (a && a->name && !strcmp(a->name, name)) found = a;
    }
    return found;
}

static void known_archs(char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    pthread_mutex_lock(&g_reg_lock);
    for (int i = 0; i < g_nreg && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "", g_reg[i]->name);
    pthread_mutex_unlock(&g_reg_lock);
    for (int i = 0; i < OC_NBUILTIN && used < n; i++) {
        const oc_arch *a = builtin(i);
        if (a && a->name)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "", a->name);
    }
    if (!buf[0]) snprintf(buf, n, "none");
}

/* ---------------------------------------------------------------- metadata ------------ */

/* the value of key; when absent, the same key with/without the "ocellus." prefix */
static const char *meta_any(const struct oc_model *m, const char *key, const char **used)
{
    const char *v = oc_st_meta(m->file, key);
    *used = key;
    if (v) return v;
    static const char pfx[] = "ocellus.";
    size_t lp = sizeof pfx - 1;
    if (!strncmp(key, pfx, lp)) {
        v = oc_st_meta(m->file, key + lp);
        if (v) *used = key + lp;
        return v;
    }
    char alt[256];
    if (strlen(key) + lp >= sizeof alt) return NULL;
    snprintf(alt, sizeof alt, "%s%s", pfx, key);
    v = oc_st_meta(m->file, alt);
    if (v) {
        /* *used must outlive this call: point at the key stored in the file */
        for (size_t i = 0; i < oc_st_num_meta(m->file); i++) {
            const char *k, *val;
            oc_st_meta_at(m->file, i, &k, &val);
            if (!strcmp(k, alt)) {
                *used = k;
                break;
            }
        }
    }
    return v;
}

static const char *mpath(const struct oc_model *m)
{
    return m->path ? m->path : (m->file ? oc_st_path(m->file) : "model");
}

oc_status oc_meta_int(const struct oc_model *m, const char *key, int required, long def,
                      long lo, long hi, long *out)
{
    if (!m || !key || !out) return oc_error(OC_ERR_INVALID_ARG, "oc_meta_int: NULL argument");
    const char *used;
    const char *v = m->file ? meta_any(m, key, &used) : NULL;
    if (!v) {
        if (required)
            return oc_error(OC_ERR_FORMAT, "%s: metadata '%s' is missing", mpath(m), key);
        *out = def;
        return OC_OK;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    while (end && isspace((unsigned char)*end)) end++;
    if (errno || end == v || *end || x < lo || x > hi)
        return oc_error(OC_ERR_FORMAT, "%s: metadata '%s' = '%.64s' is not an integer in "
                        "[%ld, %ld]", mpath(m), used, v, lo, hi);
    *out = x;
    return OC_OK;
}

oc_status oc_meta_float(const struct oc_model *m, const char *key, int required, double def,
                        double *out)
{
    if (!m || !key || !out) return oc_error(OC_ERR_INVALID_ARG, "oc_meta_float: NULL argument");
    const char *used;
    const char *v = m->file ? meta_any(m, key, &used) : NULL;
    if (!v) {
        if (required)
            return oc_error(OC_ERR_FORMAT, "%s: metadata '%s' is missing", mpath(m), key);
        *out = def;
        return OC_OK;
    }
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    while (end && isspace((unsigned char)*end)) end++;
    if (errno || end == v || *end || !isfinite(x))
        return oc_error(OC_ERR_FORMAT, "%s: metadata '%s' = '%.64s' is not a finite number",
                        mpath(m), used, v);
    *out = x;
    return OC_OK;
}

/* ---------------------------------------------------------------- class names --------- */

const char *const oc_coco_names[80] = {
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush"};

static void free_names(oc_model *m)
{
    if (!m->class_names) return;
    for (int i = 0; i < m->num_classes; i++) oc_free(m->class_names[i]);
    oc_free(m->class_names);
    m->class_names = NULL;
}

static oc_status load_class_names(oc_model *m, int nc_given)
{
    const char *used;
    const char *js = meta_any(m, "ocellus.class_names", &used);
    if (js) {
        cJSON *arr = cJSON_Parse(js);
        if (!arr || !cJSON_IsArray(arr)) {
            cJSON_Delete(arr);
            return oc_error(OC_ERR_FORMAT, "%s: metadata '%s' is not a JSON array of strings",
                            mpath(m), used);
        }
        int n = cJSON_GetArraySize(arr);
        if (!nc_given) m->num_classes = n;
        if (n != m->num_classes) {
            cJSON_Delete(arr);
            return oc_error(OC_ERR_FORMAT, "%s: metadata '%s' has %d names but the model has %d "
                            "classes", mpath(m), used, n, m->num_classes);
        }
        if (n < 1) {
            cJSON_Delete(arr);
            return oc_error(OC_ERR_FORMAT, "%s: metadata '%s' is empty", mpath(m), used);
        }
        m->class_names = oc_calloc((size_t)n, sizeof(char *));
        if (!m->class_names) {
            cJSON_Delete(arr);
            return oc_error(OC_ERR_NOMEM, "%s: out of memory for class names", mpath(m));
        }
        int i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, arr)
        {
            if (!cJSON_IsString(it) || !it->valuestring) {
                cJSON_Delete(arr);
                return oc_error(OC_ERR_FORMAT, "%s: metadata '%s': entry %d is not a string",
                                mpath(m), used, i);
            }
            m->class_names[i] = oc_strdup(it->valuestring);
            if (!m->class_names[i]) {
                cJSON_Delete(arr);
                return oc_error(OC_ERR_NOMEM, "%s: out of memory for class names", mpath(m));
            }
            i++;
        }
        cJSON_Delete(arr);
        return OC_OK;
    }
    m->class_names = oc_calloc((size_t)m->num_classes, sizeof(char *));
    if (!m->class_names) return oc_error(OC_ERR_NOMEM, "%s: out of memory for class names", mpath(m));
    for (int i = 0; i < m->num_classes; i++) {
        char buf[32];
        if (m->num_classes == 80)
            snprintf(buf, sizeof buf, "%s", oc_coco_names[i]);
        else
            snprintf(buf, sizeof buf, "class%d", i);
        m->class_names[i] = oc_strdup(buf);
        if (!m->class_names[i])
            return oc_error(OC_ERR_NOMEM, "%s: out of memory for class names", mpath(m));
    }
    return OC_OK;
}

/* ---------------------------------------------------------------- arch from metadata -- */

/* "path/to/yolo11n.yaml" -> base "yolo11n" (without directories and extension) */
static void config_base(const char *cfg, char *out, size_t n)
{
    const char *b = strrchr(cfg, '/');
    b = b ? b + 1 : cfg;
    snprintf(out, n, "%s", b);
    char *dot = strrchr(out, '.');
    if (dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml"))) *dot = '\0';
}

static oc_status parse_input_size(oc_model *m)
{
    const char *used;
    const char *v = meta_any(m, "ocellus.input_size", &used);
    m->input_h = m->input_w = 640;
    if (!v) return OC_OK;
    char *end;
    errno = 0;
    long h = strtol(v, &end, 10), w = h;
    if (!errno && end != v && (*end == 'x' || *end == 'X')) {
        const char *p = end + 1;
        w = strtol(p, &end, 10);
        if (end == p) errno = EINVAL;
    }
    if (errno || end == v || *end || h < 1 || w < 1 || h > 16384 || w > 16384)
        return oc_error(OC_ERR_FORMAT, "%s: metadata '%s' = '%.64s' is not a size like 640 or "
                        "480x640 (1..16384)", mpath(m), used, v);
    m->input_h = (int)h;
    m->input_w = (int)w;
    return OC_OK;
}

static int ends_with(const char *s, const char *suf)
{
    size_t ls = strlen(s), lf = strlen(suf);
    return ls >= lf && !strcmp(s + ls - lf, suf);
}

/* 1: oc_model_load refuses non-finite weights; -1: not decided yet (OCELLUS_ALLOW_NONFINITE) */
static _Atomic int g_finite_check = -1;

void oc_set_finite_check(int on) { atomic_store(&g_finite_check, on ? 1 : 0); }

int oc_get_finite_check(void)
{
    int v = atomic_load(&g_finite_check);
    if (v < 0) {
        const char *e = getenv("OCELLUS_ALLOW_NONFINITE");
        v = !(e && *e && strcmp(e, "0"));
        atomic_store(&g_finite_check, v);
    }
    return v;
}

oc_status oc_model_load(const char *path, oc_model **out)
{
    if (!out) return oc_error(OC_ERR_INVALID_ARG, "oc_model_load: NULL output pointer");
    *out = NULL;
    if (!path) return oc_error(OC_ERR_INVALID_ARG, "oc_model_load: NULL path");
    oc_model *m = oc_calloc(1, sizeof *m);
    if (!m) return oc_error(OC_ERR_NOMEM, "%s: out of memory", path);
    m->path = oc_strdup(path);
    oc_status st = OC_OK;
    if (!m->path) {
        st = oc_error(OC_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    st = oc_st_open(path, &m->file);
    if (st != OC_OK) goto fail;

    const char *fv = oc_st_meta(m->file, "ocellus.format_version");
    if (fv && strcmp(fv, "1") != 0) {
        st = oc_error(OC_ERR_UNSUPPORTED, "%s: ocellus.format_version '%.32s' is not one this "
                      "Ocellus reads (1)", path, fv);
        goto fail;
    }

    /* architecture and scale */
    char archname[64] = "", scale[16] = "";
    const char *used;
    const char *arch = oc_st_meta(m->file, "ocellus.arch");
    const oc_arch *a = NULL;
    if (arch) {
        snprintf(archname, sizeof archname, "%s", arch);
        a = oc_find_arch(archname);
    } else {
        const char *cfg = oc_st_meta(m->file, "config");
        if (!cfg) {
            st = oc_error(OC_ERR_UNSUPPORTED, "%s: no 'ocellus.arch' (or 'config') metadata: "
                          "cannot tell which architecture this file holds", path);
            goto fail;
        }
        if (cfg[0] == '{' && strstr(cfg, "\"trunk\"") && strstr(cfg, "\"mask_decoder\""))
            snprintf(archname, sizeof archname, "sam2"); /* SAM2's config JSON (the fixtures') */
        else
            config_base(cfg, archname, sizeof archname);
        a = oc_find_arch(archname);
        size_t L = strlen(archname);
        if (!a && L > 1 && strchr("nslmx", archname[L - 1])) {
            /* "yolo11n" -> "yolo11" with scale n, as the reference does */
            char base[64];
            snprintf(base, sizeof base, "%.*s", (int)(L - 1), archname);
            const oc_arch *b = oc_find_arch(base);
            if (b) {
                a = b;
                scale[0] = archname[L - 1];
                scale[1] = '\0';
                snprintf(archname, sizeof archname, "%s", base);
            }
        }
    }
    if (!a) {
        char known[256];
        known_archs(known, sizeof known);
        st = oc_error(OC_ERR_UNSUPPORTED, "%s: unknown architecture '%s' (known: %s)", path,
                      archname, known);
        goto fail;
    }
    const char *sc = meta_any(m, "ocellus.scale", &used);
    if (sc) snprintf(scale, sizeof scale, "%s", sc);
    if (strlen(scale) >= sizeof m->scale) {
        st = oc_error(OC_ERR_FORMAT, "%s: metadata '%s' = '%.16s' is too long for a scale",
                      path, used, scale);
        goto fail;
    }
    memcpy(m->scale, scale, strlen(scale) + 1);

    /* classes */
    long nc = 80;
    int nc_given = meta_any(m, "ocellus.num_classes", &used) || meta_any(m, "nc", &used);
    if (oc_st_meta(m->file, "ocellus.num_classes") || oc_st_meta(m->file, "num_classes"))
        st = oc_meta_int(m, "ocellus.num_classes", 0, 80, 1, 100000, &nc);
    else
        st = oc_meta_int(m, "nc", 0, 80, 1, 100000, &nc);
    if (st != OC_OK) goto fail;
    m->num_classes = (int)nc;
    st = load_class_names(m, nc_given);
    if (st != OC_OK) goto fail;
    st = parse_input_size(m);
    if (st != OC_OK) goto fail;

    /* parameters: every tensor except BatchNorm running statistics */
    for (size_t i = 0; i < oc_st_num_tensors(m->file); i++) {
        const oc_st_tensor *t = oc_st_tensor_at(m->file, i);
        if (ends_with(t->name, "running_mean") || ends_with(t->name, "running_var") ||
            ends_with(t->name, "num_batches_tracked"))
            continue;
        m->num_params += t->numel;
    }
    /* NaN or Inf weights load "fine" and then yield hundreds of boxes at score 1.0: refuse them
     * here, for every family, naming the tensor (one integer pass over the mapped file) */
    if (oc_get_finite_check()) {
        for (size_t i = 0; i < oc_st_num_tensors(m->file) && st == OC_OK; i++)
            st = oc_st_check_finite(m->file, oc_st_tensor_at(m->file, i));
        if (st != OC_OK) goto fail;
    }
    m->isa = oc_get_isa();
    m->wcache = oc_weight_cache_new(m->isa);
    if (!m->wcache) {
        st = oc_error(OC_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    m->arch = a;
    st = a->load(m);
    if (st != OC_OK) goto fail;
    *out = m;
    return OC_OK;

fail:
    oc_model_free(m);
    return st;
}

void oc_model_free(oc_model *m)
{
    if (!m) return;
    if (m->arch && m->arch->free && m->arch_data) m->arch->free(m);
    free_names(m);
    oc_weight_cache_free(m->wcache);
    oc_st_close(m->file);
    oc_free(m->path);
    oc_free(m);
}

const char *oc_model_arch(const oc_model *m)
{
    return m && m->arch && m->arch->name ? m->arch->name : "";
}

const char *oc_model_scale(const oc_model *m) { return m ? m->scale : ""; }

const char *oc_model_meta(const oc_model *m, const char *key)
{
    if (!m || !m->file || !key) return NULL;
    return oc_st_meta(m->file, key);
}

int oc_model_num_classes(const oc_model *m) { return m ? m->num_classes : 0; }

const char *oc_model_class_name(const oc_model *m, int i)
{
    if (!m || !m->class_names || i < 0 || i >= m->num_classes) return NULL;
    return m->class_names[i];
}

void oc_model_input_size(const oc_model *m, int *height, int *width)
{
    if (height) *height = m ? m->input_h : 0;
    if (width) *width = m ? m->input_w : 0;
}

uint64_t oc_model_num_params(const oc_model *m) { return m ? m->num_params : 0; }

/* ---------------------------------------------------------------- stages and inputs --- */

static const char *const single_stage[] = {"main", NULL};

int oc_arch_num_stages(const oc_arch *a)
{
    const char *const *st = a && a->stages && a->stages[0] ? a->stages : single_stage;
    int n = 0;
    while (st[n]) n++;
    return n;
}

const char *oc_arch_stage(const oc_arch *a, int i)
{
    const char *const *st = a && a->stages && a->stages[0] ? a->stages : single_stage;
    if (i < 0 || i >= oc_arch_num_stages(a)) return NULL;
    return st[i];
}

int oc_model_num_stages(const oc_model *m) { return m ? oc_arch_num_stages(m->arch) : 0; }

const char *oc_model_stage(const oc_model *m, int i) { return m ? oc_arch_stage(m->arch, i) : NULL; }

const oc_io_desc *oc_io_find(const oc_io_desc *in, int n, const char *name)
{
    if (!in || !name) return NULL;
    for (int i = 0; i < n; i++)
        if (in[i].name && !strcmp(in[i].name, name)) return &in[i];
    return NULL;
}

const oc_io_desc *oc_io_find_image(const oc_io_desc *in, int n, const char *name)
{
    const oc_io_desc *d = oc_io_find(in, n, name);
    if (d || !in) return d;
    const oc_io_desc *only = NULL;
    for (int i = 0; i < n; i++) {
        if (in[i].ndim != 4 || in[i].dtype != OC_DTYPE_F32) continue;
        if (only) return NULL;
        only = &in[i];
    }
    return only;
}

const char *oc_dtype_name(oc_dtype dt)
{
    switch (dt) {
    case OC_DTYPE_F32: return "f32";
    case OC_DTYPE_I32: return "i32";
    case OC_DTYPE_I64: return "i64";
    case OC_DTYPE_U8: return "u8";
    }
    return "?";
}
