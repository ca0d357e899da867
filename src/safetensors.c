/* safetensors.c -- the model file reader (mmap, validated as hostile input) and writer.
 * docs/FORMAT.md is the spec and lists every validation rule below with what it rejects.
 *
 * Layout: u64 little-endian header length N, N bytes of JSON header (starts with '{', may be
 * padded with spaces), then the data section. The header maps tensor names to
 * {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data section) and
 * may hold "__metadata__": {string: string}. */
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "Ocellus reads little-endian tensor data in place: big-endian hosts are not supported"
#endif

#define ST_MAX_INT 9007199254740992.0 /* 2^53: the largest integer a JSON number keeps exactly */
/* cJSON needs ~64 bytes per JSON value: a 100 MB header of "0,0,0,..." would take 3+ GB.
 * Parsing one header may allocate at most min(20 x header bytes + 1 MB, 256 MB). Valid headers
 * need at most ~14 bytes per header byte (8-dim shapes of one-digit dims, one-letter names;
 * the yolo11n fixture needs 6); runs of tiny values ("0,", "[],", "\"\",") need 21-33. */
#define ST_MAX_JSON_BYTES (256u * 1024u * 1024u)

struct oc_st_file {
    char *path;
    const uint8_t *base; /* whole file / buffer */
    size_t size;
    int mapped;
    const uint8_t *data; /* data section */
    uint64_t data_size;
    size_t ntensors;
    oc_st_tensor *tensors;    /* header order */
    oc_st_tensor **by_name;   /* sorted by name, for oc_st_find */
    size_t nmeta;
    const char **meta_keys;   /* header order */
    const char **meta_vals;
    char *pool;               /* every name, key and value string */
};

/* ------------------------------------------------------------------------------------ */
/* dtypes                                                                                */

static const struct {
    const char *name;
    size_t size;
} g_dtypes[] = {
    [OC_DT_F32] = {"F32", 4}, [OC_DT_F16] = {"F16", 2}, [OC_DT_BF16] = {"BF16", 2},
    [OC_DT_I64] = {"I64", 8}, [OC_DT_I32] = {"I32", 4}, [OC_DT_I8] = {"I8", 1},
    [OC_DT_U8] = {"U8", 1},   [OC_DT_BOOL] = {"BOOL", 1}, [OC_DT_F64] = {"F64", 8},
};
#define ST_NUM_DTYPES ((int)(sizeof g_dtypes / sizeof g_dtypes[0]))

size_t oc_st_dtype_size(oc_st_dtype dt)
{
    return ((int)dt >= 0 && (int)dt < ST_NUM_DTYPES) ? g_dtypes[dt].size : 0;
}

const char *oc_st_dtype_name(oc_st_dtype dt)
{
    return ((int)dt >= 0 && (int)dt < ST_NUM_DTYPES) ? g_dtypes[dt].name : "?";
}

static int dtype_from_name(const char *s)
{
    for (int i = 0; i < ST_NUM_DTYPES; i++)
        if (!strcmp(s, g_dtypes[i].name)) return i;
    return -1;
}

/* dtypes of the safetensors spec that Ocellus does not handle (a different message) */
static int dtype_is_spec_only(const char *s)
{
    static const char *const other[] = {"I16", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        if (!strcmp(s, other[i])) return 1;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* half precision                                                                        */

float oc_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, x;
    if (exp == 0) {
        float v = (float)mant * 0x1p-24f; /* zero or subnormal: exact */
        return sign ? -v : v;
    }
    if (exp == 31)
        x = sign | 0x7f800000u | (mant << 13);
    else
        x = sign | ((exp + 112u) << 23) | (mant << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

uint16_t oc_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) {                          /* inf, nan */
        if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
        return (uint16_t)(sign | 0x7c00u);
    }
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to inf */
    if (ax < 0x38800000u) {                                   /* below 2^-14: subnormal */
        if (ax < 0x33000000u) return sign;                    /* <= 2^-25 rounds to 0 */
        uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e; /* 14..24 */
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (r & 1u))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = ax - 0x38000000u; /* rebias 127 -> 15 */
    uint32_t h = r >> 13, rem = r & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}

float oc_bf16_to_f32(uint16_t h)
{
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

uint16_t oc_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* quiet nan */
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

/* ------------------------------------------------------------------------------------ */
/* reader                                                                                */

static void format_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (int i = 0; i < ndim && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

/* a JSON number that must be a non-negative integer < 2^53; what = "shape[2]" etc. */
static oc_status get_uint(const char *path, const char *tname, const char *what,
                          const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item))
        return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': %s is not a number", path, tname, what);
    double v = item->valuedouble;
    if (!(v >= 0.0)) /* also NaN */
        return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': %s is negative (%g)", path, tname,
                        what, v);
    if (v >= ST_MAX_INT) /* any text >= 2^53 parses to >= 2^53: smaller integers are exact */
        return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': %s is too large (%g; the limit is "
                        "2^53 - 1)", path, tname, what, v);
    if (v != floor(v))
        return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': %s is not an integer (%g)", path,
                        tname, what, v);
    *out = (uint64_t)v;
    return OC_OK;
}

static oc_status parse_entry(oc_st_file *f, const cJSON *e, oc_st_tensor *t)
{
    const char *path = f->path, *name = e->string;
    if (!cJSON_IsObject(e))
        return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': entry is not an object", path, name);
    const cJSON *dtype = NULL, *shape = NULL, *offs = NULL;
    for (const cJSON *c = e->child; c; c = c->next) {
        const cJSON **slot = NULL;
        if (!strcmp(c->string, "dtype")) slot = &dtype;
        else if (!strcmp(c->string, "shape")) slot = &shape;
        else if (!strcmp(c->string, "data_offsets")) slot = &offs;
        else
            return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': unknown field '%s'", path, name,
                            c->string);
        if (*slot)
            return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': duplicate field '%s'", path, name,
                            c->string);
        *slot = c;
    }
    /* dtype */
    if (!dtype)
        return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': missing dtype", path, name);
    if (!cJSON_IsString(dtype))
        return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': dtype is not a string", path, name);
    int dt = dtype_from_name(dtype->valuestring);
    if (dt < 0) {
        if (dtype_is_spec_only(dtype->valuestring))
            return oc_error(OC_ERR_UNSUPPORTED, "%s: tensor '%s': dtype '%s' is not supported "
                            "(F32, F16, BF16, F64, I64, I32, I8, U8, BOOL are)", path, name,
                            dtype->valuestring);
        return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%.32s'", path, name,
                        dtype->valuestring);
    }
    t->dtype = (oc_st_dtype)dt;
    /* shape */
    if (!shape)
        return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': missing shape", path, name);
    if (!cJSON_IsArray(shape))
        return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': shape is not an array", path, name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > OC_ST_MAX_DIMS)
        return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': shape has %d dims, more than %d", path,
                        name, nd, OC_ST_MAX_DIMS);
    t->ndim = nd;
    int i = 0, has_zero = 0;
    for (const cJSON *c = shape->child; c; c = c->next, i++) {
        char what[32];
        uint64_t v;
        snprintf(what, sizeof what, "shape[%d]", i);
        oc_status st = get_uint(path, name, what, c, &v);
        if (st) return st;
        t->shape[i] = (int64_t)v;
        if (v == 0) has_zero = 1;
    }
    char sbuf[256];
    format_shape(sbuf, sizeof sbuf, t->ndim, t->shape);
    uint64_t numel = 1;
    if (has_zero)
        numel = 0;
    else
        for (i = 0; i < nd; i++)
            if (!oc_mul_u64(numel, (uint64_t)t->shape[i], &numel))
                return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': shape %s overflows the element "
                                "count", path, name, sbuf);
    t->numel = numel;
    uint64_t nbytes;
    if (!oc_mul_u64(numel, g_dtypes[dt].size, &nbytes))
        return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': shape %s x %s overflows the byte count",
                        path, name, sbuf, g_dtypes[dt].name);
    /* data_offsets */
    if (!offs)
        return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': missing data_offsets", path, name);
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': data_offsets is not an array of two "
                        "integers", path, name);
    uint64_t b, en;
    oc_status st = get_uint(path, name, "data_offsets[0]", offs->child, &b);
    if (st) return st;
    st = get_uint(path, name, "data_offsets[1]", offs->child->next, &en);
    if (st) return st;
    if (b > en)
        return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': data_offsets begin %llu > end %llu",
                        path, name, (unsigned long long)b, (unsigned long long)en);
    if (en > f->data_size)
        return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu) run past the "
                        "end of the data section (%llu bytes)", path, name,
                        (unsigned long long)b, (unsigned long long)en,
                        (unsigned long long)f->data_size);
    if (en - b != nbytes)
        return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu) hold %llu "
                        "bytes but %s x shape %s needs %llu", path, name,
                        (unsigned long long)b, (unsigned long long)en,
                        (unsigned long long)(en - b), g_dtypes[dt].name, sbuf,
                        (unsigned long long)nbytes);
    t->begin = b;
    t->end = en;
    t->data = f->data + b;
    return OC_OK;
}

/* Every number in the header must be written as a plain non-negative integer: cJSON turns
 * "1.0", "1e3" and "-0" into doubles that look integral, so check the text itself. Runs on a
 * header cJSON already accepted; names the top-level key the number sits under. */
static oc_status check_number_syntax(const char *path, const char *h, size_t n)
{
    int depth = 0, expect_key = 0;
    const char *key = NULL;
    size_t keylen = 0;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (c == '"') {
            size_t s = ++i;
            while (i < n && h[i] != '"') i += (h[i] == '\\') ? 2 : 1;
            if (depth == 1 && expect_key) {
                key = h + s;
                keylen = (i < n ? i : n) - s;
                expect_key = 0;
            }
        } else if (c == '{' || c == '[') {
            depth++;
            expect_key = (c == '{' && depth == 1);
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == ',') {
            if (depth == 1) expect_key = 1;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t s = i;
            while (i < n && (h[i] == '-' || h[i] == '+' || h[i] == '.' || h[i] == 'e' ||
                             h[i] == 'E' || (h[i] >= '0' && h[i] <= '9')))
                i++;
            int plain = 1;
            for (size_t k = s; k < i; k++)
                if (h[k] < '0' || h[k] > '9') plain = 0;
            if (!plain || (i - s > 1 && h[s] == '0'))
                return oc_error(OC_ERR_FORMAT, "%s: tensor '%.*s': number '%.*s' at header byte "
                                "%zu is not a plain non-negative integer", path,
                                (int)(keylen > 200 ? 200 : keylen), key ? key : "",
                                (int)(i - s > 40 ? 40 : i - s), h + s, s);
            i--;
        }
    }
    return OC_OK;
}

/* cJSON allocation hooks with a per-thread budget, active only while this file parses a
 * header (other users of cJSON get plain malloc/free). */
static _Thread_local int tl_budget_on, tl_budget_over;
static _Thread_local size_t tl_budget_used, tl_budget_max;

static void *st_json_malloc(size_t n)
{
    if (tl_budget_on) {
        if (n > tl_budget_max - tl_budget_used) {
            tl_budget_over = 1;
            return NULL;
        }
        tl_budget_used += n;
    }
    return malloc(n);
}

static void st_json_free(void *p) { free(p); }

static void st_json_hooks(void)
{
    cJSON_Hooks h = {st_json_malloc, st_json_free};
    cJSON_InitHooks(&h);
}

static pthread_once_t g_hooks_once = PTHREAD_ONCE_INIT;

static int cmp_name(const void *a, const void *b)
{
    const oc_st_tensor *x = *(oc_st_tensor *const *)a, *y = *(oc_st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_range(const void *a, const void *b)
{
    const oc_st_tensor *x = *(oc_st_tensor *const *)a, *y = *(oc_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char *pool_put(char **cursor, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = *cursor;
    memcpy(d, s, n);
    *cursor += n;
    return d;
}

static oc_status parse_header(oc_st_file *f)
{
    const char *path = f->path;
    if (f->size < 8)
        return oc_error(OC_ERR_FORMAT, "%s: file is %zu bytes, shorter than the 8-byte header "
                        "length", path, f->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | f->base[i];
    if (hlen == 0) return oc_error(OC_ERR_FORMAT, "%s: header length is 0", path);
    if (hlen > OC_ST_MAX_HEADER)
        return oc_error(OC_ERR_FORMAT, "%s: header length %llu exceeds the limit of %u bytes "
                        "(100 MB)", path, (unsigned long long)hlen, OC_ST_MAX_HEADER);
    if (hlen > f->size - 8)
        return oc_error(OC_ERR_FORMAT, "%s: header length %llu runs past the end of the file "
                        "(%zu bytes)", path, (unsigned long long)hlen, f->size);
    const char *h = (const char *)f->base + 8;
    f->data = f->base + 8 + hlen;
    f->data_size = (uint64_t)(f->size - 8 - hlen);
    if (h[0] != '{')
        return oc_error(OC_ERR_FORMAT, "%s: header does not start with '{' (byte 0x%02x)", path,
                        (unsigned)(uint8_t)h[0]);
    const char *end = NULL;
    pthread_once(&g_hooks_once, st_json_hooks);
    tl_budget_on = 1;
    tl_budget_over = 0;
    tl_budget_used = 0;
    tl_budget_max = hlen < (ST_MAX_JSON_BYTES - (1u << 20)) / 20 ? (size_t)hlen * 20 + (1u << 20)
                                                                 : ST_MAX_JSON_BYTES;
    cJSON *root = cJSON_ParseWithLengthOpts(h, (size_t)hlen, &end, 0);
    tl_budget_on = 0;
    if (!root && tl_budget_over)
        return oc_error(OC_ERR_FORMAT, "%s: header of %llu bytes needs more than %zu MB to "
                        "parse (too many small JSON values)", path, (unsigned long long)hlen,
                        tl_budget_max >> 20);
    if (!root) {
        size_t at = (end && end >= h && end <= h + hlen) ? (size_t)(end - h) : 0;
        return oc_error(OC_ERR_FORMAT, "%s: header is not valid JSON (near header byte %zu)",
                        path, at);
    }
    oc_status st = OC_OK;
    oc_st_tensor **sorted = NULL;
    for (const char *p = end; p < h + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            st = oc_error(OC_ERR_FORMAT, "%s: header has trailing bytes after the JSON object "
                          "(header byte %zu)", path, (size_t)(p - h));
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        st = oc_error(OC_ERR_FORMAT, "%s: header is not a JSON object", path);
        goto done;
    }
    /* count entries and string bytes */
    size_t nt = 0, nm = 0, pool_bytes = 0;
    const cJSON *meta = NULL;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (!strcmp(c->string, "__metadata__")) {
            if (meta) {
                st = oc_error(OC_ERR_FORMAT, "%s: duplicate __metadata__", path);
                goto done;
            }
            meta = c;
            if (!cJSON_IsObject(c)) {
                st = oc_error(OC_ERR_FORMAT, "%s: __metadata__ is not an object", path);
                goto done;
            }
            for (const cJSON *m = c->child; m; m = m->next) {
                if (!cJSON_IsString(m)) {
                    st = oc_error(OC_ERR_FORMAT, "%s: __metadata__ value of '%s' is not a "
                                  "string", path, m->string);
                    goto done;
                }
                nm++;
                pool_bytes += strlen(m->string) + strlen(m->valuestring) + 2;
            }
        } else {
            nt++;
            pool_bytes += strlen(c->string) + 1;
        }
    }
    f->tensors = oc_calloc(nt ? nt : 1, sizeof *f->tensors);
    f->by_name = oc_calloc(nt ? nt : 1, sizeof *f->by_name);
    sorted = oc_calloc(nt ? nt : 1, sizeof *sorted);
    f->meta_keys = oc_calloc(nm ? nm : 1, sizeof *f->meta_keys);
    f->meta_vals = oc_calloc(nm ? nm : 1, sizeof *f->meta_vals);
    f->pool = oc_malloc(pool_bytes ? pool_bytes : 1);
    if (!f->tensors || !f->by_name || !sorted || !f->meta_keys || !f->meta_vals || !f->pool) {
        st = oc_error(OC_ERR_NOMEM, "%s: out of memory for %zu tensor entries", path, nt);
        goto done;
    }
    char *cur = f->pool;
    if (meta) {
        size_t i = 0;
        for (const cJSON *m = meta->child; m; m = m->next, i++) {
            f->meta_keys[i] = pool_put(&cur, m->string);
            f->meta_vals[i] = pool_put(&cur, m->valuestring);
        }
        f->nmeta = nm;
        /* duplicate metadata keys */
        const char **tmp = oc_malloc(nm * sizeof *tmp);
        if (!tmp) {
            st = oc_error(OC_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        memcpy(tmp, f->meta_keys, nm * sizeof *tmp);
        qsort(tmp, nm, sizeof *tmp, cmp_str);
        for (size_t k = 1; k < nm; k++)
            if (!strcmp(tmp[k - 1], tmp[k])) {
                st = oc_error(OC_ERR_FORMAT, "%s: __metadata__ has duplicate key '%s'", path,
                              tmp[k]);
                break;
            }
        oc_free(tmp);
        if (st) goto done;
    }
    size_t i = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (c == meta) continue;
        oc_st_tensor *t = &f->tensors[i++];
        t->name = pool_put(&cur, c->string);
        if ((st = parse_entry(f, c, t))) goto done;
    }
    f->ntensors = nt;
    /* duplicate names */
    for (i = 0; i < nt; i++) f->by_name[i] = &f->tensors[i];
    qsort(f->by_name, nt, sizeof *f->by_name, cmp_name);
    for (i = 1; i < nt; i++)
        if (!strcmp(f->by_name[i - 1]->name, f->by_name[i]->name)) {
            st = oc_error(OC_ERR_FORMAT, "%s: duplicate tensor name '%s'", path,
                          f->by_name[i]->name);
            goto done;
        }
    /* overlaps: sorted by (begin, end), each must start at or after every earlier end */
    for (i = 0; i < nt; i++) sorted[i] = &f->tensors[i];
    qsort(sorted, nt, sizeof *sorted, cmp_range);
    uint64_t covered = 0, max_end = 0;
    const oc_st_tensor *max_t = NULL;
    for (i = 0; i < nt; i++) {
        const oc_st_tensor *t = sorted[i];
        if (max_t && t->begin < max_end) {
            st = oc_error(OC_ERR_FORMAT, "%s: tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) "
                          "overlap", path, max_t->name, (unsigned long long)max_t->begin,
                          (unsigned long long)max_t->end, t->name,
                          (unsigned long long)t->begin, (unsigned long long)t->end);
            goto done;
        }
        covered += t->end - t->begin;
        if (t->end >= max_end) {
            max_end = t->end;
            max_t = t;
        }
    }
    /* holes are accepted (docs/FORMAT.md) */
    if (covered != f->data_size)
        oc_log(OC_LOG_INFO, "%s: %llu of the %llu data bytes belong to no tensor", path,
               (unsigned long long)(f->data_size - covered), (unsigned long long)f->data_size);
    st = check_number_syntax(path, h, (size_t)(end - h));
done:
    oc_free(sorted);
    cJSON_Delete(root);
    return st;
}

static oc_status st_new(const char *name, oc_st_file **out)
{
    oc_st_file *f = oc_calloc(1, sizeof *f);
    if (!f) return oc_error(OC_ERR_NOMEM, "%s: out of memory", name);
    f->path = oc_strdup(name);
    if (!f->path) {
        oc_free(f);
        return oc_error(OC_ERR_NOMEM, "%s: out of memory", name);
    }
    *out = f;
    return OC_OK;
}

oc_status oc_st_open_memory(const void *buf, size_t len, const char *name, oc_st_file **out)
{
    if (!out) return oc_error(OC_ERR_INVALID_ARG, "oc_st_open_memory: out is NULL");
    *out = NULL;
    if (!name) name = "<memory>";
    if (!buf && len) return oc_error(OC_ERR_INVALID_ARG, "%s: buffer is NULL", name);
    oc_st_file *f;
    oc_status st = st_new(name, &f);
    if (st) return st;
    f->base = buf;
    f->size = len;
    if ((st = parse_header(f))) {
        oc_st_close(f);
        return st;
    }
    *out = f;
    return OC_OK;
}

oc_status oc_st_open(const char *path, oc_st_file **out)
{
    if (!out) return oc_error(OC_ERR_INVALID_ARG, "oc_st_open: out is NULL");
    *out = NULL;
    if (!path) return oc_error(OC_ERR_INVALID_ARG, "oc_st_open: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return oc_error(OC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return oc_error(OC_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return oc_error(OC_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return oc_error(OC_ERR_IO, "%s: file too large to map", path);
    }
    size_t size = (size_t)sb.st_size;
    oc_st_file *f;
    oc_status st = st_new(path, &f);
    if (st) {
        close(fd);
        return st;
    }
    if (size > 0) {
        void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            oc_st_close(f);
            return oc_error(OC_ERR_IO, "%s: cannot map %zu bytes: %s", path, size, strerror(e));
        }
        f->base = p;
        f->mapped = 1;
    }
    close(fd);
    f->size = size;
    if ((st = parse_header(f))) {
        oc_st_close(f);
        return st;
    }
    *out = f;
    return OC_OK;
}

void oc_st_release_pages(const oc_st_file *f)
{
    /* a private read-only file mapping: dropped pages fault back in from the file if read
     * again, so this is always safe */
    if (f && f->mapped && f->base && f->size) {
        long pg = sysconf(_SC_PAGESIZE);
        uintptr_t a = (uintptr_t)f->base, b = (a + f->size + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
        madvise((void *)a, b - a, MADV_DONTNEED);
    }
}

void oc_st_close(oc_st_file *f)
{
    if (!f) return;
    if (f->mapped && f->base) munmap((void *)f->base, f->size);
    oc_free(f->tensors);
    oc_free(f->by_name);
    oc_free(f->meta_keys);
    oc_free(f->meta_vals);
    oc_free(f->pool);
    oc_free(f->path);
    oc_free(f);
}

const char *oc_st_path(const oc_st_file *f) { return f ? f->path : ""; }
size_t oc_st_num_tensors(const oc_st_file *f) { return f ? f->ntensors : 0; }

const oc_st_tensor *oc_st_tensor_at(const oc_st_file *f, size_t i)
{
    return (f && i < f->ntensors) ? &f->tensors[i] : NULL;
}

const oc_st_tensor *oc_st_find(const oc_st_file *f, const char *name)
{
    if (!f || !name) return NULL;
    size_t lo = 0, hi = f->ntensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->by_name[mid]->name);
        if (c == 0) return f->by_name[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

size_t oc_st_num_meta(const oc_st_file *f) { return f ? f->nmeta : 0; }

void oc_st_meta_at(const oc_st_file *f, size_t i, const char **key, const char **value)
{
    const char *k = NULL, *v = NULL;
    if (f && i < f->nmeta) {
        k = f->meta_keys[i];
        v = f->meta_vals[i];
    }
    if (key) *key = k;
    if (value) *value = v;
}

const char *oc_st_meta(const oc_st_file *f, const char *key)
{
    if (!f || !key) return NULL;
    for (size_t i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_vals[i];
    return NULL;
}

oc_status oc_st_to_f32(const oc_st_file *f, const oc_st_tensor *t, float *dst)
{
    const char *path = f ? f->path : "<safetensors>";
    if (!t || (!dst && t->numel))
        return oc_error(OC_ERR_INVALID_ARG, "%s: oc_st_to_f32: NULL tensor or destination",
                        path);
    const uint8_t *s = t->data;
    size_t n = (size_t)t->numel;
    switch (t->dtype) {
    case OC_DT_F32:
        if (n) memcpy(dst, s, n * 4);
        return OC_OK;
    case OC_DT_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = oc_f16_to_f32(h);
        }
        return OC_OK;
    case OC_DT_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = oc_bf16_to_f32(h);
        }
        return OC_OK;
    case OC_DT_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, s + 8 * i, 8);
            dst[i] = (float)d;
        }
        return OC_OK;
    default:
        return oc_error(OC_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s, not a floating type "
                        "that converts to float32", path, t->name, oc_st_dtype_name(t->dtype));
    }
}

oc_status oc_st_check_finite(const oc_st_file *f, const oc_st_tensor *t)
{
    const char *path = f ? f->path : "<safetensors>";
    if (!t) return oc_error(OC_ERR_INVALID_ARG, "%s: oc_st_check_finite: NULL tensor", path);
    const uint8_t *s = t->data;
    size_t n = (size_t)t->numel, bad = SIZE_MAX;
    /* an all-ones exponent is Inf or NaN in every IEEE format: integer tests, no conversion */
    switch (t->dtype) {
    case OC_DT_F32:
        for (size_t i = 0; i < n && bad == SIZE_MAX; i++) {
            uint32_t u;
            memcpy(&u, s + 4 * i, 4);
            if ((u & 0x7f800000u) == 0x7f800000u) bad = i;
        }
        break;
    case OC_DT_F16:
    case OC_DT_BF16: {
        uint16_t mask = t->dtype == OC_DT_F16 ? 0x7c00u : 0x7f80u;
        for (size_t i = 0; i < n && bad == SIZE_MAX; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            if ((h & mask) == mask) bad = i;
        }
        break;
    }
    case OC_DT_F64:
        for (size_t i = 0; i < n && bad == SIZE_MAX; i++) {
            uint64_t u;
            memcpy(&u, s + 8 * i, 8);
            if ((u & 0x7ff0000000000000ull) == 0x7ff0000000000000ull) bad = i;
        }
        break;
    default:
        return OC_OK; /* integer tensors are always finite */
    }
    if (bad == SIZE_MAX) return OC_OK;
    float v;
    oc_st_tensor one = *t;
    one.numel = 1;
    one.data = s + bad * oc_st_dtype_size(t->dtype);
    oc_st_to_f32(f, &one, &v);
    return oc_error(OC_ERR_FORMAT, "%s: tensor '%s' holds a non-finite value (%s at element "
                    "%zu of %llu): the weights are corrupt (set OCELLUS_ALLOW_NONFINITE=1 or "
                    "oc_set_finite_check(0) to load it anyway)", path, t->name,
                    isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf", bad, (unsigned long long)t->numel);
}

oc_status oc_st_load_f32(const oc_st_file *f, const char *name, int ndim, const int64_t *shape,
                         float **out)
{
    if (!f || !name || !out) return oc_error(OC_ERR_INVALID_ARG, "oc_st_load_f32: NULL argument");
    *out = NULL;
    const oc_st_tensor *t = oc_st_find(f, name);
    if (!t) return oc_error(OC_ERR_FORMAT, "%s: missing tensor '%s'", f->path, name);
    if (shape) {
        int ok = ndim == t->ndim;
        for (int i = 0; ok && i < ndim; i++)
            if (shape[i] != -1 && shape[i] != t->shape[i]) ok = 0;
        if (!ok) {
            char want[256], got[256];
            format_shape(want, sizeof want, ndim > 0 && ndim <= OC_ST_MAX_DIMS ? ndim : 0, shape);
            if (ndim > OC_ST_MAX_DIMS || ndim < 0) snprintf(want, sizeof want, "(%d dims)", ndim);
            format_shape(got, sizeof got, t->ndim, t->shape);
            return oc_error(OC_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s", f->path,
                            name, got, want);
        }
    }
    uint64_t bytes;
    if (!oc_mul_u64(t->numel, sizeof(float), &bytes) || bytes > SIZE_MAX)
        return oc_error(OC_ERR_NOMEM, "%s: tensor '%s' is too large", f->path, name);
    float *p = oc_malloc((size_t)bytes);
    if (!p)
        return oc_error(OC_ERR_NOMEM, "%s: out of memory for tensor '%s' (%llu bytes)", f->path,
                        name, (unsigned long long)bytes);
    oc_status st = oc_st_to_f32(f, t, p);
    if (st) {
        oc_free(p);
        return st;
    }
    *out = p;
    return OC_OK;
}

/* ------------------------------------------------------------------------------------ */
/* writer                                                                                */

typedef struct {
    char *name;
    oc_st_dtype dt;
    int ndim;
    int64_t shape[OC_ST_MAX_DIMS];
    uint64_t nbytes;
    void *data;
} st_wtensor;

struct oc_st_writer {
    st_wtensor *t;
    size_t n, cap;
    char **mkey, **mval;
    size_t nm, mcap;
};

oc_st_writer *oc_st_writer_new(void) { return oc_calloc(1, sizeof(oc_st_writer)); }

void oc_st_writer_free(oc_st_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        oc_free(w->t[i].name);
        oc_free(w->t[i].data);
    }
    for (size_t i = 0; i < w->nm; i++) {
        oc_free(w->mkey[i]);
        oc_free(w->mval[i]);
    }
    oc_free(w->t);
    oc_free(w->mkey);
    oc_free(w->mval);
    oc_free(w);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 1;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *q = oc_realloc(*p, nc * elem);
    if (!q) return 0;
    *p = q;
    *cap = nc;
    return 1;
}

oc_status oc_st_writer_add(oc_st_writer *w, const char *name, oc_st_dtype dt, int ndim,
                           const int64_t *shape, const void *data)
{
    if (!w || !name) return oc_error(OC_ERR_INVALID_ARG, "oc_st_writer_add: NULL argument");
    if (!*name || !strcmp(name, "__metadata__"))
        return oc_error(OC_ERR_INVALID_ARG, "oc_st_writer_add: invalid tensor name '%s'", name);
    if (oc_st_dtype_size(dt) == 0)
        return oc_error(OC_ERR_INVALID_ARG, "oc_st_writer_add: tensor '%s': bad dtype %d", name,
                        (int)dt);
    if (ndim < 0 || ndim > OC_ST_MAX_DIMS || (ndim > 0 && !shape))
        return oc_error(OC_ERR_INVALID_ARG, "oc_st_writer_add: tensor '%s': bad ndim %d", name,
                        ndim);
    for (size_t i = 0; i < w->n; i++)
        if (!strcmp(w->t[i].name, name))
            return oc_error(OC_ERR_INVALID_ARG, "oc_st_writer_add: duplicate tensor '%s'", name);
    uint64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (double)shape[i] > ST_MAX_INT)
            return oc_error(OC_ERR_INVALID_ARG, "oc_st_writer_add: tensor '%s': bad dim %lld",
                            name, (long long)shape[i]);
        if (!oc_mul_u64(numel, (uint64_t)shape[i], &numel))
            return oc_error(OC_ERR_INVALID_ARG, "oc_st_writer_add: tensor '%s': too many "
                            "elements", name);
    }
    uint64_t nbytes;
    if (!oc_mul_u64(numel, oc_st_dtype_size(dt), &nbytes) || nbytes > SIZE_MAX ||
        (double)nbytes > ST_MAX_INT)
        return oc_error(OC_ERR_INVALID_ARG, "oc_st_writer_add: tensor '%s': too large", name);
    if (nbytes && !data)
        return oc_error(OC_ERR_INVALID_ARG, "oc_st_writer_add: tensor '%s': data is NULL", name);
    if (!grow((void **)&w->t, &w->cap, w->n + 1, sizeof *w->t))
        return oc_error(OC_ERR_NOMEM, "oc_st_writer_add: out of memory");
    st_wtensor *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    t->name = oc_strdup(name);
    t->data = oc_malloc((size_t)nbytes);
    if (!t->name || !t->data) {
        oc_free(t->name);
        oc_free(t->data);
        return oc_error(OC_ERR_NOMEM, "oc_st_writer_add: out of memory for tensor '%s'", name);
    }
    if (nbytes) memcpy(t->data, data, (size_t)nbytes);
    t->dt = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->nbytes = nbytes;
    w->n++;
    return OC_OK;
}

oc_status oc_st_writer_meta(oc_st_writer *w, const char *key, const char *value)
{
    if (!w || !key || !value) return oc_error(OC_ERR_INVALID_ARG, "oc_st_writer_meta: NULL argument");
    for (size_t i = 0; i < w->nm; i++)
        if (!strcmp(w->mkey[i], key)) {
            char *v = oc_strdup(value);
            if (!v) return oc_error(OC_ERR_NOMEM, "oc_st_writer_meta: out of memory");
            oc_free(w->mval[i]);
            w->mval[i] = v;
            return OC_OK;
        }
    size_t c1 = w->mcap, c2 = w->mcap;
    if (!grow((void **)&w->mkey, &c1, w->nm + 1, sizeof *w->mkey) ||
        !grow((void **)&w->mval, &c2, w->nm + 1, sizeof *w->mval))
        return oc_error(OC_ERR_NOMEM, "oc_st_writer_meta: out of memory");
    w->mcap = c1 < c2 ? c1 : c2;
    char *k = oc_strdup(key), *v = oc_strdup(value);
    if (!k || !v) {
        oc_free(k);
        oc_free(v);
        return oc_error(OC_ERR_NOMEM, "oc_st_writer_meta: out of memory");
    }
    w->mkey[w->nm] = k;
    w->mval[w->nm] = v;
    w->nm++;
    return OC_OK;
}

typedef struct {
    char *p;
    size_t n, cap;
    int fail;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->fail) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->n + n + 1) nc *= 2;
        char *q = oc_realloc(b->p, nc);
        if (!q) {
            b->fail = 1;
            return;
        }
        b->p = q;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_json_string(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"') sb_put(b, "\\\"", 2);
        else if (*p == '\\') sb_put(b, "\\\\", 2);
        else if (*p == '\n') sb_put(b, "\\n", 2);
        else if (*p == '\t') sb_put(b, "\\t", 2);
        else if (*p == '\r') sb_put(b, "\\r", 2);
        else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            sb_put(b, esc, 6);
        } else sb_put(b, (const char *)p, 1);
    }
    sb_put(b, "\"", 1);
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n > (1u << 30) ? (1u << 30) : n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

oc_status oc_st_writer_save(oc_st_writer *w, const char *path)
{
    if (!w || !path) return oc_error(OC_ERR_INVALID_ARG, "oc_st_writer_save: NULL argument");
    sbuf b = {0};
    char num[64];
    sb_str(&b, "{");
    int first = 1;
    if (w->nm) {
        sb_str(&b, "\"__metadata__\":{");
        for (size_t i = 0; i < w->nm; i++) {
            if (i) sb_str(&b, ",");
            sb_json_string(&b, w->mkey[i]);
            sb_str(&b, ":");
            sb_json_string(&b, w->mval[i]);
        }
        sb_str(&b, "}");
        first = 0;
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n; i++) {
        const st_wtensor *t = &w->t[i];
        if (!first) sb_str(&b, ",");
        first = 0;
        sb_json_string(&b, t->name);
        sb_str(&b, ":{\"dtype\":\"");
        sb_str(&b, oc_st_dtype_name(t->dt));
        sb_str(&b, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)t->shape[d]);
            sb_str(&b, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + t->nbytes));
        sb_str(&b, num);
        off += t->nbytes;
    }
    sb_str(&b, "}");
    while (!b.fail && b.n % 8) sb_str(&b, " ");
    if (b.fail) {
        oc_free(b.p);
        return oc_error(OC_ERR_NOMEM, "%s: out of memory for the header", path);
    }
    if (b.n > OC_ST_MAX_HEADER) {
        oc_free(b.p);
        return oc_error(OC_ERR_INVALID_ARG, "%s: header of %zu bytes exceeds the 100 MB limit",
                        path, b.n);
    }
    static _Atomic unsigned counter;
    size_t plen = strlen(path);
    char *tmp = oc_malloc(plen + 64);
    if (!tmp) {
        oc_free(b.p);
        return oc_error(OC_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, plen + 64, "%s.tmp.%ld.%u", path, (long)getpid(),
             atomic_fetch_add(&counter, 1u));
    oc_status st = OC_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = oc_error(OC_ERR_IO, "%s: cannot create temporary file %s: %s", path, tmp,
                      strerror(errno));
        goto out;
    }
    uint8_t len8[8];
    uint64_t hl = b.n;
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)(hl >> (8 * i));
    int bad = write_all(fd, len8, 8) || write_all(fd, b.p, b.n);
    for (size_t i = 0; !bad && i < w->n; i++)
        if (w->t[i].nbytes) bad = write_all(fd, w->t[i].data, (size_t)w->t[i].nbytes);
    if (bad) {
        st = oc_error(OC_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0) {
        st = oc_error(OC_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        st = oc_error(OC_ERR_IO, "%s: cannot rename %s into place: %s", path, tmp,
                      strerror(errno));
        unlink(tmp);
    }
out:
    oc_free(tmp);
    oc_free(b.p);
    return st;
}
