/* ocellus info [--json] [--tensors] FILE -- what a model file holds: metadata (sorted keys),
 * tensor count, element and parameter counts, bytes by dtype, and, for an architecture the
 * library builds, the GFLOPs of one image at the model's default input size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "formats/torch_checkpoint.h"
#include "model.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: ocellus info [--json] [--tensors] [--key PATH] FILE.safetensors|CKPT.pt\n"
               "  prints the metadata, tensor count, element and parameter counts (parameters\n"
               "  exclude BatchNorm running statistics), bytes by dtype, and GFLOPs of one\n"
               "  image at the default input size when the architecture is built in.\n"
               "  --json     the same as a JSON object\n"
               "  --tensors  also list every tensor (name, dtype, shape)\n"
               "  --key PATH a PyTorch checkpoint's state_dict path (default: searched); its\n"
               "             plain side entries show as metadata\n");
}

static int is_bn_stat(const char *name)
{
    static const char *const suf[] = {".running_mean", ".running_var", ".num_batches_tracked",
                                      "running_mean", "running_var", "num_batches_tracked"};
    size_t n = strlen(name);
    for (int i = 0; i < 6; i++) {
        size_t k = strlen(suf[i]);
        if (n >= k && !strcmp(name + n - k, suf[i]) && (i < 3 || n == k)) return 1;
    }
    return 0;
}

/* 2639825 -> "2,639,825" */
static const char *grouped(uint64_t v, char *buf)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v), o = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
    return buf;
}

/* print a string from the file safely: control bytes escaped; text mode truncates */
static void put_text(FILE *f, const char *s, size_t max)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
    if (n > max) fprintf(f, "... (%zu chars)", n);
}

static void put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"') fputs("\\\"", f);
        else if (*p == '\\') fputs("\\\\", f);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p == '\r') fputs("\\r", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static int cmp_meta(const void *a, const void *b)
{
    return strcmp(((const char *const *)a)[0], ((const char *const *)b)[0]);
}

/* architecture name from the metadata: ocellus.arch, else the fixture's "config"
 * ("yolo11.yaml" -> "yolo11"); "" when neither */
static void arch_name(const oc_st_file *f, char *out, size_t cap)
{
    const char *a = oc_st_meta(f, "ocellus.arch");
    out[0] = 0;
    if (a) {
        snprintf(out, cap, "%s", a);
        return;
    }
    const char *c = oc_st_meta(f, "config");
    if (!c) return;
    const char *slash = strrchr(c, '/');
    snprintf(out, cap, "%s", slash ? slash + 1 : c);
    size_t n = strlen(out);
    if (n > 5 && !strcmp(out + n - 5, ".yaml")) out[n - 5] = 0;
    else if (n > 4 && !strcmp(out + n - 4, ".yml")) out[n - 4] = 0;
}

typedef struct {
    double gflops; /* < 0: not available */
    int h, w;
    char arch[64];
    char scale[16];
    char why[256];
} flops_info;

/* returns OC_EXIT_OK, or OC_EXIT_INPUT when a known architecture's model fails to load */
static int compute_flops(const char *path, const oc_st_file *f, flops_info *fi)
{
    fi->gflops = -1;
    arch_name(f, fi->arch, sizeof fi->arch);
    if (!fi->arch[0]) {
        snprintf(fi->why, sizeof fi->why, "no architecture in the metadata");
        return OC_EXIT_OK;
    }
    if (!oc_find_arch(fi->arch)) {
        /* "yolo11n" style names carry the scale letter */
        size_t n = strlen(fi->arch);
        char base[64];
        snprintf(base, sizeof base, "%s", fi->arch);
        if (n > 1 && strchr("nsmlx", base[n - 1])) base[n - 1] = 0;
        if (!oc_find_arch(base)) {
            snprintf(fi->why, sizeof fi->why, "architecture '%s' not built in", fi->arch);
            return OC_EXIT_OK;
        }
    }
    oc_model *m = NULL;
    if (oc_model_load(path, &m) != OC_OK) {
        snprintf(fi->why, sizeof fi->why, "the model does not load");
        fprintf(stderr, "ocellus info: %s\n", oc_last_error());
        return OC_EXIT_INPUT;
    }
    if (m->arch && m->arch->name) snprintf(fi->arch, sizeof fi->arch, "%s", m->arch->name);
    snprintf(fi->scale, sizeof fi->scale, "%s", m->scale);
    fi->h = m->input_h > 0 ? m->input_h : 640;
    fi->w = m->input_w > 0 ? m->input_w : fi->h;
    oc_graph *g = oc_graph_new();
    oc_status st = OC_ERR_NOMEM;
    if (g && m->arch && m->arch->build) {
        oc_io_desc img = {.name = "images", .dtype = OC_DTYPE_F32, .ndim = 4,
                          .dims = {1, 3, fi->h, fi->w}};
        st = m->arch->build(m, g, oc_arch_stage(m->arch, 0), &img, 1);
        if (st == OC_OK) st = oc_graph_status(g);
    }
    if (st == OC_OK) {
        fi->gflops = oc_graph_flops(g) / 1e9;
    } else {
        snprintf(fi->why, sizeof fi->why, "graph build failed: %.200s", oc_last_error());
    }
    oc_graph_free(g);
    oc_model_free(m);
    return OC_EXIT_OK;
}

int cmd_info(int argc, char **argv)
{
    int json = 0, list = 0;
    const char *path = NULL, *key = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return OC_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--tensors")) {
            list = 1;
        } else if (!strcmp(argv[i], "--key") && i + 1 < argc) {
            key = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "ocellus info: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return OC_EXIT_USAGE;
        } else if (!path) {
            path = argv[i];
        } else {
            usage(stderr);
            return OC_EXIT_USAGE;
        }
    }
    if (!path) {
        usage(stderr);
        return OC_EXIT_USAGE;
    }
    oc_st_file *f = NULL;
    oc_pt_state_dict *pt = NULL; /* a checkpoint: its state_dict, names and shapes only */
    oc_pt_options pt_opt = {key, -1, 1};
    if (oc_pt_sniff_path(path) ? oc_pt_load_state_dict(path, &pt_opt, &pt) != OC_OK
                               : oc_st_open(path, &f) != OC_OK) {
        fprintf(stderr, "ocellus info: %s\n", oc_last_error());
        return OC_EXIT_INPUT;
    }
    if (pt) f = pt->st;
    /* counts */
    const int NDT = (int)OC_DT_F64 + 1;
    uint64_t bytes[OC_DT_F64 + 1] = {0}, count[OC_DT_F64 + 1] = {0}, total = 0, params = 0, file_bytes = 0;
    size_t nt = oc_st_num_tensors(f);
    for (size_t i = 0; i < nt; i++) {
        const oc_st_tensor *t = oc_st_tensor_at(f, i);
        total += t->numel;
        if (!is_bn_stat(t->name)) params += t->numel;
        if ((int)t->dtype >= 0 && (int)t->dtype < NDT) {
            bytes[t->dtype] += t->end - t->begin;
            count[t->dtype]++;
        }
        file_bytes += t->end - t->begin;
    }
    size_t nm = oc_st_num_meta(f);
    const char **kv = malloc((nm ? nm : 1) * 2 * sizeof *kv);
    if (!kv) {
        oc_st_close(f);
        fprintf(stderr, "ocellus info: out of memory\n");
        return OC_EXIT_INPUT;
    }
    for (size_t i = 0; i < nm; i++) oc_st_meta_at(f, i, &kv[2 * i], &kv[2 * i + 1]);
    qsort(kv, nm, 2 * sizeof *kv, cmp_meta);

    flops_info fi;
    memset(&fi, 0, sizeof fi);
    int rc = OC_EXIT_OK;
    if (pt) {
        fi.gflops = -1;
        snprintf(fi.why, sizeof fi.why, "a PyTorch checkpoint (state_dict at '%.64s'): convert "
                 "it first", pt->where);
    } else {
        rc = compute_flops(path, f, &fi);
    }

    char g1[32], g2[32], g3[32];
    if (json) {
        printf("{\n  \"path\": ");
        put_json_string(stdout, path);
        printf(",\n  \"metadata\": {");
        for (size_t i = 0; i < nm; i++) {
            printf(i ? ",\n    " : "\n    ");
            put_json_string(stdout, kv[2 * i]);
            printf(": ");
            put_json_string(stdout, kv[2 * i + 1]);
        }
        printf(nm ? "\n  },\n" : "},\n");
        printf("  \"tensors\": %zu,\n  \"elements\": %llu,\n  \"parameters\": %llu,\n", nt,
               (unsigned long long)total, (unsigned long long)params);
        printf("  \"data_bytes\": %llu,\n  \"bytes_by_dtype\": {", (unsigned long long)file_bytes);
        int first = 1;
        for (int d = 0; d < NDT; d++) {
            if (!count[d]) continue;
            printf("%s\n    \"%s\": {\"tensors\": %llu, \"bytes\": %llu}", first ? "" : ",",
                   oc_st_dtype_name((oc_st_dtype)d), (unsigned long long)count[d],
                   (unsigned long long)bytes[d]);
            first = 0;
        }
        printf(first ? "},\n" : "\n  },\n");
        printf("  \"arch\": ");
        if (fi.arch[0]) put_json_string(stdout, fi.arch);
        else printf("null");
        if (fi.gflops >= 0)
            printf(",\n  \"input_size\": [%d, %d],\n  \"gflops\": %.4f", fi.h, fi.w, fi.gflops);
        else {
            printf(",\n  \"gflops\": null,\n  \"gflops_unavailable\": ");
            put_json_string(stdout, fi.why);
        }
        if (list) {
            printf(",\n  \"tensor_list\": [");
            for (size_t i = 0; i < nt; i++) {
                const oc_st_tensor *t = oc_st_tensor_at(f, i);
                printf(i ? ",\n    {\"name\": " : "\n    {\"name\": ");
                put_json_string(stdout, t->name);
                printf(", \"dtype\": \"%s\", \"shape\": [", oc_st_dtype_name(t->dtype));
                for (int d = 0; d < t->ndim; d++)
                    printf(d ? ", %lld" : "%lld", (long long)t->shape[d]);
                printf("]}");
            }
            printf(nt ? "\n  ]" : "]");
        }
        printf("\n}\n");
    } else {
        printf("file: ");
        put_text(stdout, path, 4096);
        printf("\nmetadata: %zu keys\n", nm);
        for (size_t i = 0; i < nm; i++) {
            printf("  ");
            put_text(stdout, kv[2 * i], 200);
            printf(": ");
            put_text(stdout, kv[2 * i + 1], 300);
            printf("\n");
        }
        printf("tensors: %zu\n", nt);
        printf("elements: %s\n", grouped(total, g1));
        printf("parameters: %s (elements not counting BatchNorm running_mean, running_var, "
               "num_batches_tracked)\n", grouped(params, g2));
        printf("bytes by dtype:\n");
        for (int d = 0; d < NDT; d++)
            if (count[d])
                printf("  %-4s %s bytes in %s tensors\n", oc_st_dtype_name((oc_st_dtype)d),
                       grouped(bytes[d], g3), grouped(count[d], g1));
        printf("data bytes: %s\n", grouped(file_bytes, g1));
        if (fi.arch[0]) {
            printf("architecture: ");
            put_text(stdout, fi.arch, 64);
            if (fi.scale[0]) printf(" (scale %s)", fi.scale);
            printf("\n");
        }
        if (fi.gflops >= 0)
            printf("GFLOPs: %.2f at 1x3x%dx%d\n", fi.gflops, fi.h, fi.w);
        else
            printf("GFLOPs: n/a (%s)\n", fi.why);
        if (list) {
            printf("tensor list:\n");
            for (size_t i = 0; i < nt; i++) {
                const oc_st_tensor *t = oc_st_tensor_at(f, i);
                printf("  ");
                put_text(stdout, t->name, 300);
                printf("  %s [", oc_st_dtype_name(t->dtype));
                for (int d = 0; d < t->ndim; d++)
                    printf(d ? ",%lld" : "%lld", (long long)t->shape[d]);
                printf("]\n");
            }
        }
    }
    free(kv);
    if (pt) oc_pt_state_dict_free(pt);
    else oc_st_close(f);
    return rc;
}
