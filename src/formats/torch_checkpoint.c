/* torch_checkpoint.c -- PyTorch checkpoints: the container (zip or legacy stream), storages,
 * tensors, and the state_dict as an in-memory safetensors file (see torch_checkpoint.h). */
#include "formats/torch_checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#define MAX_META_JSON ((size_t)64 * 1024)

struct oc_pt_file {
    char *name;
    void *map;           /* the file's mapping (oc_pt_open), or NULL */
    size_t map_len;
    const uint8_t *data; /* the whole file */
    size_t len;
    int legacy;
    zip_t *za;
    char prefix[256];    /* zip: "<prefix>/" */
    oc_pk_file *pk;
    int64_t *entry;      /* per storage: zip entry index, or (legacy) byte offset of its data */
    /* the last storage read from the zip, kept for views of the same storage */
    int cached;          /* storage index, -1 none */
    uint8_t *cache;
};

/* the legacy stream's first pickle: the magic number 0x1950a86a20f9469cfc6c, as LONG1 */
static const uint8_t k_legacy_head[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                        0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

int oc_pt_sniff(const void *head, size_t len)
{
    const uint8_t *h = head;
    if (!h) return 0;
    if (len >= 4 && h[0] == 'P' && h[1] == 'K' && h[2] == 3 && h[3] == 4) return 1;
    if (len >= sizeof k_legacy_head && !memcmp(h, k_legacy_head, sizeof k_legacy_head)) return 2;
    return 0;
}

int oc_pt_sniff_path(const char *path)
{
    uint8_t h[sizeof k_legacy_head];
    FILE *fp = path ? fopen(path, "rb") : NULL;
    if (!fp) return 0;
    size_t n = fread(h, 1, sizeof h, fp);
    fclose(fp);
    return oc_pt_sniff(h, n);
}

const char *oc_pt_name(const oc_pt_file *f) { return f ? f->name : ""; }
const oc_pk_value *oc_pt_root(const oc_pt_file *f) { return f ? oc_pk_root(f->pk) : NULL; }
int oc_pt_is_legacy(const oc_pt_file *f) { return f && f->legacy; }

void oc_pt_close(oc_pt_file *f)
{
    if (!f) return;
    if (f->za) zip_discard(f->za);
    oc_pk_free(f->pk);
    oc_free(f->entry);
    oc_free(f->cache);
    if (f->map) munmap(f->map, f->map_len);
    oc_free(f->name);
    oc_free(f);
}

/* ---- zip ---- */
static oc_status zip_err(oc_pt_file *f, const char *what, zip_error_t *ze)
{
    return oc_error(OC_ERR_FORMAT, "%s: %s: %s", f->name, what, zip_error_strerror(ze));
}

/* stat an entry and check it can be read: not encrypted, stored or deflated, sizes plausible */
static oc_status entry_stat(oc_pt_file *f, zip_int64_t idx, const char *name, zip_stat_t *sb)
{
    zip_stat_init(sb);
    if (zip_stat_index(f->za, (zip_uint64_t)idx, 0, sb) != 0)
        return zip_err(f, name, zip_get_error(f->za));
    if ((sb->valid & ZIP_STAT_ENCRYPTION_METHOD) && sb->encryption_method != ZIP_EM_NONE)
        return oc_error(OC_ERR_FORMAT, "%s: entry '%s' is encrypted", f->name, name);
    if (!(sb->valid & ZIP_STAT_SIZE) || !(sb->valid & ZIP_STAT_COMP_SIZE) ||
        !(sb->valid & ZIP_STAT_COMP_METHOD))
        return oc_error(OC_ERR_FORMAT, "%s: entry '%s' has no sizes", f->name, name);
    if (sb->comp_size > f->len)
        return oc_error(OC_ERR_FORMAT, "%s: entry '%s' claims %llu compressed bytes, more than "
                        "the file's %zu", f->name, name, (unsigned long long)sb->comp_size, f->len);
    if (sb->comp_method == ZIP_CM_STORE) {
        if (sb->size != sb->comp_size)
            return oc_error(OC_ERR_FORMAT, "%s: stored entry '%s' claims %llu bytes but holds "
                            "%llu", f->name, name, (unsigned long long)sb->size,
                            (unsigned long long)sb->comp_size);
    } else if (sb->comp_method == ZIP_CM_DEFLATE) {
        /* deflate expands at most ~1032:1; a larger claim is a lie (a zip bomb or garbage) */
        if (sb->size / 1032 > sb->comp_size + 1)
            return oc_error(OC_ERR_FORMAT, "%s: entry '%s' claims %llu bytes from %llu "
                            "compressed ones, beyond deflate's ratio", f->name, name,
                            (unsigned long long)sb->size, (unsigned long long)sb->comp_size);
    } else {
        return oc_error(OC_ERR_UNSUPPORTED, "%s: entry '%s' uses compression method %u (stored "
                        "and deflate are supported)", f->name, name, sb->comp_method);
    }
    return OC_OK;
}

/* read exactly n bytes of an entry whose size was checked to be n */
static oc_status entry_read(oc_pt_file *f, zip_int64_t idx, const char *name, void *dst, size_t n)
{
    zip_file_t *zf = zip_fopen_index(f->za, (zip_uint64_t)idx, 0);
    if (!zf) return zip_err(f, name, zip_get_error(f->za));
    size_t got = 0;
    oc_status st = OC_OK;
    while (got < n) {
        zip_int64_t r = zip_fread(zf, (uint8_t *)dst + got, n - got);
        if (r < 0) {
            st = zip_err(f, name, zip_file_get_error(zf));
            break;
        }
        if (r == 0) {
            st = oc_error(OC_ERR_FORMAT, "%s: entry '%s' ends after %zu of its %zu bytes",
                          f->name, name, got, n);
            break;
        }
        got += (size_t)r;
    }
    if (!st) { /* reading to the end makes libzip check the CRC */
        uint8_t extra;
        zip_int64_t r = zip_fread(zf, &extra, 1);
        if (r < 0) st = zip_err(f, name, zip_file_get_error(zf));
        else if (r > 0)
            st = oc_error(OC_ERR_FORMAT, "%s: entry '%s' is longer than its %zu bytes", f->name,
                          name, n);
    }
    zip_fclose(zf);
    return st;
}

static oc_status read_small_entry(oc_pt_file *f, const char *name, size_t max, char *out,
                                  int *found)
{
    *found = 0;
    zip_int64_t idx = zip_name_locate(f->za, name, ZIP_FL_ENC_RAW);
    if (idx < 0) return OC_OK;
    zip_stat_t sb;
    oc_status st = entry_stat(f, idx, name, &sb);
    if (st) return st;
    if (sb.size > max)
        return oc_error(OC_ERR_FORMAT, "%s: entry '%s' is %llu bytes, expected at most %zu",
                        f->name, name, (unsigned long long)sb.size, max);
    if ((st = entry_read(f, idx, name, out, (size_t)sb.size))) return st;
    out[sb.size] = 0;
    *found = 1;
    return OC_OK;
}

static oc_status open_zip(oc_pt_file *f)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(f->data, f->len, 0, &ze);
    if (!src) {
        oc_status st = zip_err(f, "cannot read the zip archive", &ze);
        zip_error_fini(&ze);
        return st;
    }
    f->za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    if (!f->za) {
        zip_source_free(src);
        oc_status st = zip_err(f, "not a readable zip archive", &ze);
        zip_error_fini(&ze);
        return st;
    }
    zip_error_fini(&ze);

    /* exactly one "<prefix>/data.pkl" at the top level */
    zip_int64_t n = zip_get_num_entries(f->za, 0), pkl = -1;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *nm = zip_get_name(f->za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (!nm) return zip_err(f, "entry name", zip_get_error(f->za));
        const char *slash = strchr(nm, '/');
        if (!slash || strcmp(slash, "/data.pkl")) continue;
        if (pkl >= 0)
            return oc_error(OC_ERR_FORMAT, "%s: two pickles ('%s' and '%s'): not one torch.save "
                            "archive", f->name, f->prefix, nm);
        if ((size_t)(slash - nm) + 2 > sizeof f->prefix)
            return oc_error(OC_ERR_FORMAT, "%s: archive prefix of %zu bytes is too long",
                            f->name, (size_t)(slash - nm));
        memcpy(f->prefix, nm, (size_t)(slash - nm) + 1);
        f->prefix[slash - nm + 1] = 0;
        pkl = i;
    }
    if (pkl < 0)
        return oc_error(OC_ERR_FORMAT, "%s: a zip archive without '<name>/data.pkl': not a "
                        "torch.save checkpoint", f->name);

    char name[512], small[64];
    int found;
    oc_status st;
    snprintf(name, sizeof name, "%sbyteorder", f->prefix);
    if ((st = read_small_entry(f, name, 16, small, &found))) return st;
    if (found && strcmp(small, "little"))
        return oc_error(OC_ERR_UNSUPPORTED, "%s: byteorder '%.16s': only little-endian "
                        "checkpoints are supported", f->name, small);
    snprintf(name, sizeof name, "%sversion", f->prefix);
    if ((st = read_small_entry(f, name, 16, small, &found))) return st;
    if (found) {
        char *e;
        long v = strtol(small, &e, 10);
        while (*e == '\n' || *e == '\r' || *e == ' ') e++;
        if (*e || e == small || v < 1 || v > 100)
            return oc_error(OC_ERR_FORMAT, "%s: version entry '%.16s' is not a format version",
                            f->name, small);
    }

    /* the pickle */
    snprintf(name, sizeof name, "%sdata.pkl", f->prefix);
    zip_stat_t sb;
    if ((st = entry_stat(f, pkl, name, &sb))) return st;
    if (sb.size > OC_PK_MAX_LEN)
        return oc_error(OC_ERR_FORMAT, "%s: '%s' is %llu bytes, more than the limit of %u MB",
                        f->name, name, (unsigned long long)sb.size, OC_PK_MAX_LEN >> 20);
    uint8_t *pk = oc_malloc((size_t)sb.size);
    if (!pk) return oc_error(OC_ERR_NOMEM, "%s: out of memory for '%s'", f->name, name);
    if (!(st = entry_read(f, pkl, name, pk, (size_t)sb.size))) {
        char pname[600];
        snprintf(pname, sizeof pname, "%s: %s", f->name, name);
        st = oc_pk_load(pk, (size_t)sb.size, pname, &f->pk);
    }
    oc_free(pk);
    if (st) return st;

    /* every storage the pickle names is an entry of exactly its size */
    size_t ns = oc_pk_num_storages(f->pk);
    f->entry = oc_calloc(ns ? ns : 1, sizeof *f->entry);
    if (!f->entry) return oc_error(OC_ERR_NOMEM, "%s: out of memory", f->name);
    for (size_t i = 0; i < ns; i++) {
        const oc_pk_storage *s = oc_pk_storage_at(f->pk, i);
        snprintf(name, sizeof name, "%sdata/%s", f->prefix, s->key);
        zip_int64_t idx = zip_name_locate(f->za, name, ZIP_FL_ENC_RAW);
        if (idx < 0)
            return oc_error(OC_ERR_FORMAT, "%s: storage '%s' (%s of %llu elements) has no entry "
                            "'%s'", f->name, s->key, s->type_name, (unsigned long long)s->numel,
                            name);
        if ((st = entry_stat(f, idx, name, &sb))) return st;
        uint64_t want = s->numel * s->elem_size; /* bounded by the unpickler */
        if (sb.size != want)
            return oc_error(OC_ERR_FORMAT, "%s: storage '%s' is %s of %llu elements (%llu bytes) "
                            "but its entry '%s' holds %llu bytes", f->name, s->key, s->type_name,
                            (unsigned long long)s->numel, (unsigned long long)want, name,
                            (unsigned long long)sb.size);
        f->entry[i] = idx;
    }
    return OC_OK;
}

/* ---- the legacy stream: magic, protocol, sys_info, object, storage keys, storages ---- */
static oc_status legacy_pickle(oc_pt_file *f, size_t *pos, const char *what, oc_pk_file **out)
{
    char pname[300];
    snprintf(pname, sizeof pname, "%s: %s pickle at byte %zu", f->name, what, *pos);
    size_t used = 0;
    oc_status st = oc_pk_load_prefix(f->data + *pos, f->len - *pos, pname, &used, out);
    if (!st) *pos += used;
    return st;
}

static oc_status open_legacy(oc_pt_file *f)
{
    size_t pos = sizeof k_legacy_head; /* the magic number, checked by the sniffer */
    oc_pk_file *p = NULL;
    oc_status st = legacy_pickle(f, &pos, "protocol version", &p);
    if (st) return st;
    const oc_pk_value *v = oc_pk_root(p);
    int ok = v->type == OC_PK_INT && v->u.i == 1001;
    oc_pk_free(p);
    if (!ok)
        return oc_error(OC_ERR_FORMAT, "%s: legacy checkpoint with protocol version other than "
                        "1001", f->name);
    if ((st = legacy_pickle(f, &pos, "sys_info", &p))) return st;
    const oc_pk_value *le = oc_pk_dict_get(oc_pk_root(p), "little_endian");
    ok = le && le->type == OC_PK_BOOL && le->u.b;
    oc_pk_free(p);
    if (!ok)
        return oc_error(OC_ERR_UNSUPPORTED, "%s: legacy checkpoint not marked little-endian",
                        f->name);
    if ((st = legacy_pickle(f, &pos, "object", &f->pk))) return st;
    if ((st = legacy_pickle(f, &pos, "storage keys", &p))) return st;
    const oc_pk_value *keys = oc_pk_root(p);
    size_t ns = oc_pk_num_storages(f->pk);
    f->entry = oc_malloc((ns ? ns : 1) * sizeof *f->entry);
    if (!f->entry) {
        oc_pk_free(p);
        return oc_error(OC_ERR_NOMEM, "%s: out of memory", f->name);
    }
    for (size_t i = 0; i < ns; i++) f->entry[i] = -1;
    if (keys->type != OC_PK_LIST || keys->u.seq.n != ns) {
        st = oc_error(OC_ERR_FORMAT, "%s: the storage key list does not list the %zu storages "
                      "the object uses", f->name, ns);
    }
    for (size_t i = 0; !st && i < keys->u.seq.n; i++) {
        const oc_pk_value *k = keys->u.seq.v[i];
        const oc_pk_storage *s = k->type == OC_PK_STR ? oc_pk_find_storage(f->pk, k->u.str.s) : NULL;
        if (!s || f->entry[s->index] >= 0) {
            st = oc_error(OC_ERR_FORMAT, "%s: storage key %zu is not a storage of the object, or "
                          "comes twice", f->name, i);
            break;
        }
        if (f->len - pos < 8) {
            st = oc_error(OC_ERR_FORMAT, "%s: storage '%s' is cut off (file ends at byte %zu)",
                          f->name, s->key, f->len);
            break;
        }
        uint64_t count = 0;
        for (int b = 7; b >= 0; b--) count = (count << 8) | f->data[pos + (size_t)b];
        pos += 8;
        uint64_t bytes = s->numel * s->elem_size;
        if (count != s->numel) {
            st = oc_error(OC_ERR_FORMAT, "%s: storage '%s' holds %llu elements but the pickle "
                          "says %llu", f->name, s->key, (unsigned long long)count,
                          (unsigned long long)s->numel);
        } else if (bytes > f->len - pos) {
            st = oc_error(OC_ERR_FORMAT, "%s: storage '%s' (%llu bytes at byte %zu) runs past the "
                          "end of the file (%zu bytes)", f->name, s->key,
                          (unsigned long long)bytes, pos, f->len);
        } else {
            f->entry[s->index] = (int64_t)pos;
            pos += (size_t)bytes;
        }
    }
    oc_pk_free(p);
    return st;
}

static oc_status open_common(oc_pt_file *f)
{
    f->cached = -1;
    int kind = oc_pt_sniff(f->data, f->len);
    if (kind == 0)
        return oc_error(OC_ERR_FORMAT, "%s: not a PyTorch checkpoint (neither a zip archive nor "
                        "the legacy torch.save stream)", f->name);
    f->legacy = kind == 2;
    return f->legacy ? open_legacy(f) : open_zip(f);
}

oc_status oc_pt_open_memory(const void *buf, size_t len, const char *name, oc_pt_file **out)
{
    if (!out) return oc_error(OC_ERR_INVALID_ARG, "oc_pt_open_memory: out is NULL");
    *out = NULL;
    if (!buf && len) return oc_error(OC_ERR_INVALID_ARG, "oc_pt_open_memory: NULL buffer");
    oc_pt_file *f = oc_calloc(1, sizeof *f);
    if (!f || !(f->name = oc_strdup(name ? name : "<memory>"))) {
        oc_free(f);
        return oc_error(OC_ERR_NOMEM, "out of memory");
    }
    f->data = buf;
    f->len = len;
    oc_status st = open_common(f);
    if (st) {
        oc_pt_close(f);
        return st;
    }
    *out = f;
    return OC_OK;
}

oc_status oc_pt_open(const char *path, oc_pt_file **out)
{
    if (!out || !path) return oc_error(OC_ERR_INVALID_ARG, "oc_pt_open: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return oc_error(OC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return oc_error(OC_ERR_IO, "%s: not a regular file", path);
    }
    oc_pt_file *f = oc_calloc(1, sizeof *f);
    if (!f || !(f->name = oc_strdup(path))) {
        close(fd);
        oc_free(f);
        return oc_error(OC_ERR_NOMEM, "out of memory");
    }
    f->len = (size_t)sb.st_size;
    if (f->len) {
        void *m = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            oc_pt_close(f);
            return oc_error(OC_ERR_IO, "%s: cannot map: %s", path, strerror(e));
        }
        f->map = m;
        f->map_len = f->len;
        f->data = m;
    } else {
        f->data = (const uint8_t *)"";
    }
    close(fd);
    oc_status st = open_common(f);
    if (st) {
        oc_pt_close(f);
        return st;
    }
    *out = f;
    return OC_OK;
}

/* ---- tensors ---- */
static int is_float(int dt) { return dt == OC_DT_F32 || dt == OC_DT_F16 || dt == OC_DT_BF16 || dt == OC_DT_F64; }

static double load_float(const uint8_t *p, int dt)
{
    switch (dt) {
    case OC_DT_F32: { float x; memcpy(&x, p, 4); return x; }
    case OC_DT_F16: { uint16_t h; memcpy(&h, p, 2); return oc_f16_to_f32(h); }
    case OC_DT_BF16: { uint16_t h; memcpy(&h, p, 2); return oc_bf16_to_f32(h); }
    default: { double x; memcpy(&x, p, 8); return x; }
    }
}

static void store_float(uint8_t *p, int dt, double v)
{
    switch (dt) {
    case OC_DT_F32: { float x = (float)v; memcpy(p, &x, 4); break; }
    case OC_DT_F16: { uint16_t h = oc_f32_to_f16((float)v); memcpy(p, &h, 2); break; }
    case OC_DT_BF16: { uint16_t h = oc_f32_to_bf16((float)v); memcpy(p, &h, 2); break; }
    default: memcpy(p, &v, 8); break;
    }
}

/* n elements from src (dtype sdt) to dst (dtype ddt) */
static void convert_run(const uint8_t *src, int sdt, uint8_t *dst, int ddt, size_t n)
{
    size_t ss = oc_st_dtype_size((oc_st_dtype)sdt), ds = oc_st_dtype_size((oc_st_dtype)ddt);
    if (sdt == ddt) {
        memcpy(dst, src, n * ss);
        return;
    }
    /* the common conversions without the generic switch per element (5-10x faster) */
    if (sdt == OC_DT_F32 && (ddt == OC_DT_F16 || ddt == OC_DT_BF16)) {
        uint16_t (*cv)(float) = ddt == OC_DT_F16 ? oc_f32_to_f16 : oc_f32_to_bf16;
        for (size_t i = 0; i < n; i++) {
            float x;
            memcpy(&x, src + 4 * i, 4);
            uint16_t h = cv(x);
            memcpy(dst + 2 * i, &h, 2);
        }
        return;
    }
    if ((sdt == OC_DT_F16 || sdt == OC_DT_BF16) && ddt == OC_DT_F32) {
        float (*cv)(uint16_t) = sdt == OC_DT_F16 ? oc_f16_to_f32 : oc_bf16_to_f32;
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            float x = cv(h);
            memcpy(dst + 4 * i, &x, 4);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) store_float(dst + i * ds, ddt, load_float(src + i * ss, sdt));
}

/* the bytes of a whole storage (legacy: in the mapping; zip: read into the cache) */
static oc_status storage_bytes(oc_pt_file *f, const oc_pk_storage *s, const uint8_t **out)
{
    if (f->legacy) {
        *out = f->data + f->entry[s->index];
        return OC_OK;
    }
    if (f->cached != s->index) {
        oc_free(f->cache);
        f->cache = NULL;
        f->cached = -1;
        size_t bytes = (size_t)(s->numel * s->elem_size);
        uint8_t *buf = oc_malloc(bytes);
        if (!buf)
            return oc_error(OC_ERR_NOMEM, "%s: out of memory for storage '%s' (%zu bytes)",
                            f->name, s->key, bytes);
        char name[512];
        snprintf(name, sizeof name, "%sdata/%s", f->prefix, s->key);
        oc_status st = entry_read(f, f->entry[s->index], name, buf, bytes);
        if (st) {
            oc_free(buf);
            return st;
        }
        f->cache = buf;
        f->cached = s->index;
    }
    *out = f->cache;
    return OC_OK;
}

oc_status oc_pt_read_tensor(oc_pt_file *f, const oc_pk_tensor *t, int out_dtype, void *dst)
{
    if (!f || !t || (!dst && t->numel))
        return oc_error(OC_ERR_INVALID_ARG, "oc_pt_read_tensor: NULL argument");
    const oc_pk_storage *s = t->storage->u.storage;
    if (s->dtype < 0)
        return oc_error(OC_ERR_UNSUPPORTED, "%s: storage '%s' is a %s: its dtype is not "
                        "supported", f->name, s->key, s->type_name);
    if (out_dtype < 0) out_dtype = s->dtype;
    if (out_dtype != s->dtype && !(is_float(out_dtype) && is_float(s->dtype)))
        return oc_error(OC_ERR_UNSUPPORTED, "%s: storage '%s' (%s) cannot convert to %s",
                        f->name, s->key, s->type_name, oc_st_dtype_name((oc_st_dtype)out_dtype));
    if (t->numel == 0) return OC_OK;
    size_t es = s->elem_size, ds = oc_st_dtype_size((oc_st_dtype)out_dtype);
    uint8_t *out = dst;
    /* the common case: a tensor that is its whole storage, kept as is: straight from the zip */
    if (!f->legacy && t->contiguous && t->offset == 0 && t->numel == s->numel &&
        out_dtype == s->dtype && f->cached != s->index) {
        char name[512];
        snprintf(name, sizeof name, "%sdata/%s", f->prefix, s->key);
        return entry_read(f, f->entry[s->index], name, dst, (size_t)(t->numel * es));
    }
    const uint8_t *src = NULL;
    oc_status st = storage_bytes(f, s, &src);
    if (st) return st;
    if (t->contiguous) {
        convert_run(src + (size_t)t->offset * es, s->dtype, out, out_dtype, (size_t)t->numel);
        return OC_OK;
    }
    /* a strided view: walk its indices (checked against the storage when unpickled) */
    int64_t idx[OC_PK_MAX_DIMS] = {0};
    int nd = t->ndim;
    size_t inner = nd ? (size_t)t->size[nd - 1] : 1;
    int64_t inner_stride = nd ? t->stride[nd - 1] : 0;
    for (uint64_t done = 0; done < t->numel; done += inner) {
        int64_t base = t->offset;
        for (int d = 0; d < nd - 1; d++) base += idx[d] * t->stride[d];
        for (size_t i = 0; i < inner; i++)
            convert_run(src + (size_t)(base + (int64_t)i * inner_stride) * es, s->dtype,
                        out + (size_t)(done + i) * ds, out_dtype, 1);
        for (int d = nd - 2; d >= 0; d--) {
            if (++idx[d] < t->size[d]) break;
            idx[d] = 0;
        }
    }
    return OC_OK;
}

/* ---- the state_dict ---- */
static const oc_pk_value *at_path(const oc_pk_value *root, const char *path)
{
    const oc_pk_value *v = root;
    char part[256];
    const char *p = path;
    while (*p && v) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0 || n >= sizeof part) return NULL;
        memcpy(part, p, n);
        part[n] = 0;
        if (v->type == OC_PK_OBJECT) v = v->u.obj.attrs;
        v = oc_pk_dict_get(v, part);
        p += n + (dot ? 1 : 0);
    }
    return v;
}

oc_status oc_pt_find_state_dict(const oc_pt_file *f, const char *key, const oc_pk_value **sd,
                                const char **where)
{
    static const char *const order[] = {"ema.module", "model", "state_dict", "model_state_dict",
                                        "module", "ema", ""};
    const oc_pk_value *root = oc_pt_root(f);
    if (key) {
        const oc_pk_value *v = at_path(root, key);
        if (!v)
            return oc_error(OC_ERR_FORMAT, "%s: the checkpoint has no entry '%s'", f->name, key);
        if (!oc_pk_is_state_dict(v))
            return oc_error(OC_ERR_FORMAT, "%s: entry '%s' is a %s, not a state_dict (a dict of "
                            "tensors)", f->name, key, oc_pk_type_name(v->type));
        *sd = v;
        if (where) *where = key;
        return OC_OK;
    }
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const oc_pk_value *v = at_path(root, order[i]);
        if (v && oc_pk_is_state_dict(v)) {
            *sd = v;
            if (where) *where = order[i];
            return OC_OK;
        }
    }
    /* say what is there */
    char keys[400] = "";
    size_t o = 0;
    if (root->type == OC_PK_DICT)
        for (size_t i = 0; i < root->u.dict.n && o + 60 < sizeof keys; i++) {
            const oc_pk_value *k = root->u.dict.kv[2 * i];
            if (k->type == OC_PK_STR)
                o += (size_t)snprintf(keys + o, sizeof keys - o, "%s'%.40s'", o ? ", " : "",
                                      k->u.str.s);
        }
    return oc_error(OC_ERR_FORMAT, "%s: no state_dict (a dict of tensors) under 'ema.module', "
                    "'model', 'state_dict', 'model_state_dict', 'module', 'ema' or at the top "
                    "level (a %s%s%s); pass --key", f->name, oc_pk_type_name(root->type),
                    o ? " with keys " : "", keys);
}

typedef struct {
    char *s;
    size_t n, cap;
    int fail;
} text;

static void tput(text *t, const char *s, size_t n)
{
    if (t->fail) return;
    if (t->n + n + 1 > t->cap) {
        size_t nc = t->cap ? t->cap : 4096;
        while (nc < t->n + n + 1) nc *= 2;
        char *ns = oc_realloc(t->s, nc);
        if (!ns) {
            t->fail = 1;
            return;
        }
        t->s = ns;
        t->cap = nc;
    }
    memcpy(t->s + t->n, s, n);
    t->n += n;
    t->s[t->n] = 0;
}

static void tputs(text *t, const char *s) { tput(t, s, strlen(s)); }

static void tjson(text *t, const char *s, size_t n)
{
    tput(t, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\';
            e[1] = (char)c;
            tput(t, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(e, sizeof e, "\\u%04x", c);
            tput(t, e, 6);
        } else {
            tput(t, (const char *)&s[i], 1);
        }
    }
    tput(t, "\"", 1);
}

typedef struct {
    const char *key[256];
    size_t klen[256];
    char *val[256];
    int n;
} meta_list;

static void meta_free(meta_list *m)
{
    for (int i = 0; i < m->n; i++) oc_free(m->val[i]);
}

/* plain-data entries of d, other than the one we descend into */
static oc_status meta_collect(const oc_pk_value *d, const char *skip, meta_list *m)
{
    if (d && d->type == OC_PK_OBJECT) d = d->u.obj.attrs;
    if (!d || d->type != OC_PK_DICT) return OC_OK;
    for (size_t i = 0; i < d->u.dict.n && m->n < 256; i++) {
        const oc_pk_value *k = d->u.dict.kv[2 * i], *v = d->u.dict.kv[2 * i + 1];
        if (k->type != OC_PK_STR || strlen(k->u.str.s) != k->u.str.len || !k->u.str.len ||
            (skip && !strcmp(k->u.str.s, skip)))
            continue;
        int dup = 0;
        for (int j = 0; j < m->n; j++)
            if (!strcmp(m->key[j], k->u.str.s)) dup = 1;
        if (dup || !strcmp(k->u.str.s, "__metadata__") ||
            !strcmp(k->u.str.s, "checkpoint.state_dict"))
            continue;
        char *val;
        if (v->type == OC_PK_STR) {
            if (strlen(v->u.str.s) != v->u.str.len || v->u.str.len > MAX_META_JSON) continue;
            val = oc_strdup(v->u.str.s);
            if (!val) return oc_error(OC_ERR_NOMEM, "out of memory");
        } else {
            val = oc_pk_to_json(v, MAX_META_JSON); /* NULL: tensors inside, or too large */
            if (!val) continue;
        }
        m->key[m->n] = k->u.str.s;
        m->klen[m->n] = k->u.str.len;
        m->val[m->n++] = val;
    }
    return OC_OK;
}

void oc_pt_state_dict_free(oc_pt_state_dict *sd)
{
    if (!sd) return;
    oc_st_close(sd->st);
    if (sd->buf) munmap(sd->buf, sd->len);
    oc_free(sd);
}

oc_status oc_pt_state_dict_from(oc_pt_file *f, const oc_pt_options *opt_in, oc_pt_state_dict **out)
{
    if (!f || !out) return oc_error(OC_ERR_INVALID_ARG, "oc_pt_state_dict_from: NULL argument");
    *out = NULL;
    oc_pt_options opt = {NULL, -1, 0};
    if (opt_in) opt = *opt_in;
    if (opt.float_dtype >= 0 && opt.float_dtype != OC_DT_F32 && opt.float_dtype != OC_DT_F16 &&
        opt.float_dtype != OC_DT_BF16)
        return oc_error(OC_ERR_INVALID_ARG, "%s: the output float dtype must be F32, F16 or BF16",
                        f->name);
    const oc_pk_value *sdv;
    const char *where;
    oc_status st = oc_pt_find_state_dict(f, opt.key, &sdv, &where);
    if (st) return st;
    size_t n = sdv->u.dict.n;
    int *dts = oc_malloc(n * sizeof *dts);
    uint64_t *ends = oc_malloc(n * sizeof *ends);
    meta_list meta;
    meta.n = 0;
    text h = {NULL, 0, 0, 0};
    oc_pt_state_dict *sd = NULL;
    if (!dts || !ends) {
        st = oc_error(OC_ERR_NOMEM, "%s: out of memory", f->name);
        goto done;
    }
    /* dtypes and data layout */
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const oc_pk_value *k = sdv->u.dict.kv[2 * i];
        const oc_pk_tensor *t = sdv->u.dict.kv[2 * i + 1]->u.tensor;
        const oc_pk_storage *s = t->storage->u.storage;
        if (strlen(k->u.str.s) != k->u.str.len || k->u.str.len == 0) {
            st = oc_error(OC_ERR_FORMAT, "%s: state_dict entry %zu has an empty name or one "
                          "with a NUL byte", f->name, i);
            goto done;
        }
        if (s->dtype < 0) {
            st = oc_error(OC_ERR_UNSUPPORTED, "%s: tensor '%.200s' is stored as %s, a dtype "
                          "Ocellus does not read", f->name, k->u.str.s, s->type_name);
            goto done;
        }
        dts[i] = (opt.float_dtype >= 0 && is_float(s->dtype)) ? opt.float_dtype : s->dtype;
        uint64_t bytes = t->numel * oc_st_dtype_size((oc_st_dtype)dts[i]); /* numel < 2^53 */
        if (!oc_add_u64(off, bytes, &off) || off > ((uint64_t)1 << 50)) {
            st = oc_error(OC_ERR_FORMAT, "%s: the state_dict's tensors add up to more than "
                          "2^50 bytes", f->name);
            goto done;
        }
        ends[i] = off;
    }
    /* metadata: plain entries beside the path taken, outermost first */
    {
        const oc_pk_value *v = oc_pt_root(f);
        char part[128];
        const char *p = where;
        for (;;) {
            const char *dot = strchr(p, '.');
            size_t l = dot ? (size_t)(dot - p) : strlen(p);
            if (l >= sizeof part) l = sizeof part - 1;
            memcpy(part, p, l);
            part[l] = 0;
            if ((st = meta_collect(v, *p ? part : NULL, &meta))) goto done;
            if (!*p) break;
            v = at_path(v, part);
            p += l;
            if (*p != '.') break;
            p++;
        }
    }
    /* header */
    tputs(&h, "{\"__metadata__\":{\"checkpoint.state_dict\":");
    tjson(&h, where, strlen(where));
    for (int i = 0; i < meta.n; i++) {
        tputs(&h, ",");
        tjson(&h, meta.key[i], meta.klen[i]);
        tputs(&h, ":");
        tjson(&h, meta.val[i], strlen(meta.val[i]));
    }
    tputs(&h, "}");
    for (size_t i = 0; i < n; i++) {
        const oc_pk_value *k = sdv->u.dict.kv[2 * i];
        const oc_pk_tensor *t = sdv->u.dict.kv[2 * i + 1]->u.tensor;
        char num[128];
        tputs(&h, ",");
        tjson(&h, k->u.str.s, k->u.str.len);
        tputs(&h, ":{\"dtype\":\"");
        tputs(&h, oc_st_dtype_name((oc_st_dtype)dts[i]));
        tputs(&h, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)t->size[d]);
            tputs(&h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}",
                 (unsigned long long)(i ? ends[i - 1] : 0), (unsigned long long)ends[i]);
        tputs(&h, num);
    }
    tputs(&h, "}");
    while (!h.fail && (h.n % 8)) tputs(&h, " ");
    if (h.fail) {
        st = oc_error(OC_ERR_NOMEM, "%s: out of memory for the header", f->name);
        goto done;
    }
    sd = oc_calloc(1, sizeof *sd);
    if (!sd) {
        st = oc_error(OC_ERR_NOMEM, "%s: out of memory", f->name);
        goto done;
    }
    snprintf(sd->where, sizeof sd->where, "%s", where);
    sd->len = 8 + h.n + (size_t)off;
    /* anonymous pages: untouched (zero) data costs nothing, as in no_data mode */
    void *m = mmap(NULL, sd->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        st = oc_error(OC_ERR_NOMEM, "%s: cannot allocate %zu bytes for the state_dict", f->name,
                      sd->len);
        goto done;
    }
    sd->buf = m;
    uint8_t *b = m;
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)h.n >> (8 * i));
    memcpy(b + 8, h.s, h.n);
    if (!opt.no_data) {
        uint8_t *data = b + 8 + h.n;
        for (size_t i = 0; i < n; i++) {
            const oc_pk_value *k = sdv->u.dict.kv[2 * i];
            const oc_pk_tensor *t = sdv->u.dict.kv[2 * i + 1]->u.tensor;
            if ((st = oc_pt_read_tensor(f, t, dts[i], data + (i ? ends[i - 1] : 0)))) {
                oc_error_prefix(st, "tensor '%.200s': ", k->u.str.s);
                goto done;
            }
        }
    }
    if ((st = oc_st_open_memory(sd->buf, sd->len, f->name, &sd->st))) {
        oc_error_prefix(st, "the state_dict of %s: ", f->name);
        goto done;
    }
done:
    if (st) {
        oc_pt_state_dict_free(sd);
        sd = NULL;
    }
    /* the zip cache holds the last storage: let it go with the conversion */
    oc_free(f->cache);
    f->cache = NULL;
    f->cached = -1;
    meta_free(&meta);
    oc_free(h.s);
    oc_free(dts);
    oc_free(ends);
    *out = sd;
    return st;
}

oc_status oc_pt_load_state_dict(const char *path, const oc_pt_options *opt, oc_pt_state_dict **out)
{
    if (!out) return oc_error(OC_ERR_INVALID_ARG, "oc_pt_load_state_dict: NULL out");
    *out = NULL;
    oc_pt_file *f = NULL;
    oc_status st = oc_pt_open(path, &f);
    if (st) return st;
    st = oc_pt_state_dict_from(f, opt, out);
    oc_pt_close(f);
    return st;
}
