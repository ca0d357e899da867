/* preprocess.c -- image to network input for the resize-based tasks (DETR, SAM): antialiased
 * bilinear resize straight to normalised planar float, and the mean/std metadata. */
#include "tasks/tasks.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <string.h>

/* Per output index: the first input tap and its normalised weights (triangle filter of
 * half-width `support`, PyTorch's _upsample_bilinear2d_aa / PIL's convention). The arrays
 * live in the caller's work buffer. */
typedef struct {
    int *first, *count;
    float *w;    /* out x max_taps */
    int max_taps;
} taps;

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

static int taps_max(int in, int out)
{
    double scale = (double)in / out;
    double support = scale > 1.0 ? scale : 1.0; /* triangle filter support 1, widened */
    return (int)ceil(support) * 2 + 1;
}

static size_t taps_bytes(int in, int out)
{
    return 2 * align64(sizeof(int) * (size_t)out) +
           align64(sizeof(float) * (size_t)out * (size_t)taps_max(in, out));
}

/* lay t out at work, fill it; returns the bytes used */
static size_t taps_make(int in, int out, taps *t, char *work)
{
    double scale = (double)in / out;
    double support = scale > 1.0 ? scale : 1.0;
    double inv = scale > 1.0 ? 1.0 / scale : 1.0;
    t->max_taps = taps_max(in, out);
    t->first = (int *)work;
    t->count = (int *)(work + align64(sizeof(int) * (size_t)out));
    t->w = (float *)(work + 2 * align64(sizeof(int) * (size_t)out));
    for (int i = 0; i < out; i++) {
        double center = scale * (i + 0.5);
        int lo = (int)(center - support + 0.5);
        int hi = (int)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        int n = hi - lo;
        if (n > t->max_taps) n = t->max_taps;
        if (n < 1) { /* cannot happen for in >= 1; keep one tap to stay defined */
            lo = lo < in ? lo : in - 1;
            n = 1;
        }
        float *w = t->w + (size_t)i * t->max_taps;
        double total = 0;
        for (int j = 0; j < n; j++) {
            double x = fabs((j + lo - center + 0.5) * inv);
            double v = x < 1.0 ? 1.0 - x : 0.0;
            w[j] = (float)v;
            total += v;
        }
        for (int j = 0; j < n; j++) w[j] = total > 0 ? (float)(w[j] / total) : (j == 0);
        t->first[i] = lo;
        t->count[i] = n;
    }
    return taps_bytes(in, out);
}

/* the sizes oc_resize_chw accepts: an image side is at most INT_MAX / 4 (image.c), an output
 * side at most 65536, so no work size below overflows 64 bits */
static int resize_args_ok(int in_w, int in_h, int out_w, int out_h)
{
    return in_w >= 1 && in_h >= 1 && out_w >= 1 && out_h >= 1 && in_w <= INT_MAX / 4 &&
           in_h <= INT_MAX / 4 && out_w <= 65536 && out_h <= 65536;
}

size_t oc_resize_work_bytes(int in_w, int in_h, int out_w, int out_h)
{
    if (!resize_args_ok(in_w, in_h, out_w, out_h)) return 0;
    /* horizontal pass: rows [in_h][out_w][3] */
    return taps_bytes(in_w, out_w) + taps_bytes(in_h, out_h) +
           align64(sizeof(float) * (size_t)in_h * (size_t)out_w * 3);
}

oc_status oc_resize_chw_work(const oc_image *src, int out_w, int out_h, const float *mean,
                             const float *std, float *chw, void *work)
{
    if (!src || !src->data || !chw || !work || (src->channels != 1 && src->channels != 3) ||
        !resize_args_ok(src->width, src->height, out_w, out_h))
        return oc_error(OC_ERR_INVALID_ARG, "resize: bad arguments");
    const int iw = src->width, ih = src->height, ch = src->channels;
    taps tx, ty;
    char *p = work;
    p += taps_make(iw, out_w, &tx, p);
    p += taps_make(ih, out_h, &ty, p);
    float *rows = (float *)p;
    for (int y = 0; y < ih; y++) {
        const uint8_t *s = src->data + (size_t)y * iw * ch;
        float *r = rows + (size_t)y * out_w * 3;
        for (int x = 0; x < out_w; x++) {
            const float *w = tx.w + (size_t)x * tx.max_taps;
            float acc[3] = {0, 0, 0};
            for (int j = 0; j < tx.count[x]; j++) {
                const uint8_t *q = s + (size_t)(tx.first[x] + j) * ch;
                for (int c = 0; c < 3; c++) acc[c] += w[j] * q[ch == 3 ? c : 0];
            }
            for (int c = 0; c < 3; c++) r[x * 3 + c] = acc[c] * (1.0f / 255.0f);
        }
    }
    float m[3] = {0, 0, 0}, inv_s[3] = {1, 1, 1};
    for (int c = 0; c < 3; c++) {
        if (mean) m[c] = mean[c];
        if (std) inv_s[c] = 1.0f / std[c];
    }
    const size_t plane = (size_t)out_w * out_h;
    for (int y = 0; y < out_h; y++) {
        const float *w = ty.w + (size_t)y * ty.max_taps;
        for (int x = 0; x < out_w; x++) {
            float acc[3] = {0, 0, 0};
            for (int j = 0; j < ty.count[y]; j++) {
                const float *q = rows + ((size_t)(ty.first[y] + j) * out_w + x) * 3;
                for (int c = 0; c < 3; c++) acc[c] += w[j] * q[c];
            }
            for (int c = 0; c < 3; c++)
                chw[c * plane + (size_t)y * out_w + x] = (acc[c] - m[c]) * inv_s[c];
        }
    }
    return OC_OK;
}

oc_status oc_resize_chw(const oc_image *src, int out_w, int out_h, const float *mean,
                        const float *std, float *chw)
{
    if (!src) return oc_error(OC_ERR_INVALID_ARG, "resize: bad arguments");
    size_t bytes = oc_resize_work_bytes(src->width, src->height, out_w, out_h);
    if (!bytes) return oc_error(OC_ERR_INVALID_ARG, "resize: bad arguments");
    void *work = oc_malloc(bytes);
    if (!work) return oc_error(OC_ERR_NOMEM, "resize: out of memory");
    oc_status st = oc_resize_chw_work(src, out_w, out_h, mean, std, chw, work);
    oc_free(work);
    return st;
}

static oc_status parse3(const oc_model *m, const char *key, const char *js, float out[3],
                        int positive)
{
    cJSON *a = cJSON_Parse(js);
    int ok = a && cJSON_IsArray(a) && cJSON_GetArraySize(a) == 3;
    for (int i = 0; ok && i < 3; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        ok = cJSON_IsNumber(v) && isfinite(v->valuedouble) && (!positive || v->valuedouble > 0);
        if (ok) out[i] = (float)v->valuedouble;
    }
    cJSON_Delete(a);
    if (!ok)
        return oc_error(OC_ERR_FORMAT, "%s: metadata '%s' = '%.64s' is not a JSON array of 3 "
                        "%s numbers", m->path ? m->path : "model", key, js,
                        positive ? "positive" : "finite");
    return OC_OK;
}

oc_status oc_model_preprocess_norm(const oc_model *m, float mean[3], float std[3], int *have)
{
    const char *mj = oc_model_meta(m, "ocellus.preprocess.mean");
    const char *sj = oc_model_meta(m, "ocellus.preprocess.std");
    *have = 0;
    float mm[3] = {0, 0, 0}, ss[3] = {1, 1, 1};
    if (mj) {
        oc_status st = parse3(m, "ocellus.preprocess.mean", mj, mm, 0);
        if (st) return st;
    }
    if (sj) {
        oc_status st = parse3(m, "ocellus.preprocess.std", sj, ss, 1);
        if (st) return st;
    }
    if (!mj && !sj) return OC_OK;
    memcpy(mean, mm, sizeof mm);
    memcpy(std, ss, sizeof ss);
    *have = 1;
    return OC_OK;
}
