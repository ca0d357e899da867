/* config.c -- ocellus-bench configuration: defaults, bench/config.json, OCELLUS_BENCH_*.
 * One table lists every key: its JSON path, its environment variable and its field. */
#include "bench.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum { T_DOUBLE, T_INT, T_STR, T_INTLIST } key_type;

typedef struct {
    const char *path;   /* "gates.latency_p95_ms" */
    const char *env;    /* "OCELLUS_BENCH_LATENCY_MS" */
    key_type type;
    size_t off;
    size_t count_off;   /* T_INTLIST: offset of the count */
    size_t cap;         /* T_STR: buffer size; T_INTLIST: max entries */
    const char *help;
} key_def;

#define F(x) offsetof(bn_config, x)
static const key_def KEYS[] = {
    {"gates.latency_p95_ms", "OCELLUS_BENCH_LATENCY_MS", T_DOUBLE, F(latency_p95_ms), 0, 0,
     "p95 end-to-end single-image latency limit per variant (ms)"},
    {"gates.memory_mb", "OCELLUS_BENCH_MEMORY_MB", T_DOUBLE, F(memory_mb), 0, 0,
     "peak RSS limit of load + one inference per variant (MB)"},
    {"gates.batch_memory_mb", "OCELLUS_BENCH_BATCH_MEMORY_MB", T_DOUBLE, F(batch_memory_mb), 0, 0,
     "peak RSS limit of load + one batch (MB)"},
    {"gates.concurrent_p95_ms", "OCELLUS_BENCH_CONCURRENT_MS", T_DOUBLE, F(concurrent_p95_ms), 0, 0,
     "p95 response-time limit under concurrency (ms)"},
    {"gates.success_rate_pct", "OCELLUS_BENCH_SUCCESS_RATE", T_DOUBLE, F(success_rate), 0, 0,
     "minimum share of successful operations (%)"},
    {"gates.load_ms", "OCELLUS_BENCH_LOAD_MS", T_DOUBLE, F(load_ms), 0, 0,
     "model load limit from a cold file (page cache dropped), for variants load_ms_per_variant does not name (ms)"},
    {"gates.load_ms_per_variant", "OCELLUS_BENCH_LOAD_LIMITS", T_STR, F(load_limits), 0,
     sizeof(((bn_config *)0)->load_limits),
     "per-variant load limits: JSON object or name=ms,... (a key matches a variant name exactly or as its longest prefix)"},
    {"gates.realtime_ms", "OCELLUS_BENCH_REALTIME_MS", T_DOUBLE, F(realtime_ms), 0, 0,
     "real-time target of one single-image run, end to end (ms)"},
    {"gates.realtime_rate_pct", "OCELLUS_BENCH_REALTIME_RATE", T_DOUBLE, F(realtime_rate), 0, 0,
     "minimum share of a variant's single-image runs under the real-time target (%)"},
    {"regression.threshold", "OCELLUS_BENCH_REGRESSION_THRESHOLD", T_DOUBLE, F(regression_threshold), 0, 0,
     "relative change of the median beyond which a significant change counts (0.20 = 20%)"},
    {"regression.alpha", "OCELLUS_BENCH_ALPHA", T_DOUBLE, F(alpha), 0, 0,
     "significance level of the Mann-Whitney U test"},
    {"latency.warmup", "OCELLUS_BENCH_WARMUP", T_INT, F(warmup), 0, 0, "untimed warm-up runs"},
    {"latency.min_rounds", "OCELLUS_BENCH_ROUNDS", T_INT, F(min_rounds), 0, 0,
     "minimum timed rounds per variant (quick)"},
    {"latency.max_rounds", "OCELLUS_BENCH_MAX_ROUNDS", T_INT, F(max_rounds), 0, 0,
     "maximum timed rounds per variant (quick)"},
    {"latency.budget_s", "OCELLUS_BENCH_BUDGET_S", T_DOUBLE, F(budget_s), 0, 0,
     "time budget of the timed rounds per variant (quick): rounds stop at the budget once min_rounds are done"},
    {"latency.load_rounds", "OCELLUS_BENCH_LOAD_ROUNDS", T_INT, F(load_rounds), 0, 0,
     "timed model loads per variant (quick)"},
    {"latency.threads", "OCELLUS_BENCH_THREADS", T_INT, F(threads), 0, 0,
     "library threads (0: all cores)"},
    {"quick.batch", "OCELLUS_BENCH_BATCH", T_INT, F(gate_batch), 0, 0,
     "batch size of the batch-memory gate, measured on every variant"},
    {"quick.concurrency", "OCELLUS_BENCH_CONCURRENCY", T_INT, F(gate_concurrency), 0, 0,
     "threads of the concurrency gate, measured on every variant"},
    {"quick.requests_per_thread", "OCELLUS_BENCH_REQUESTS", T_INT, F(gate_requests), 0, 0,
     "requests per thread in the concurrency gate"},
    {"quick.total_budget_s", "OCELLUS_BENCH_TOTAL_BUDGET_S", T_DOUBLE, F(total_budget_s), 0, 0,
     "quick mode: time budget of the whole run; slow variants get a shorter protocol (0: none)"},
    {"full.models", "OCELLUS_BENCH_MODELS", T_STR, F(full_models), 0, sizeof(((bn_config *)0)->full_models),
     "variants (comma-separated) the full-mode suites run on"},
    {"full.load_rounds", "OCELLUS_BENCH_FULL_LOAD_ROUNDS", T_INT, F(full_load_rounds), 0, 0,
     "timed model loads per variant (full)"},
    {"full.min_rounds", "OCELLUS_BENCH_FULL_ROUNDS", T_INT, F(full_min_rounds), 0, 0,
     "minimum timed rounds per variant (full)"},
    {"full.max_rounds", "OCELLUS_BENCH_FULL_MAX_ROUNDS", T_INT, F(full_max_rounds), 0, 0,
     "maximum timed rounds per variant (full)"},
    {"full.budget_s", "OCELLUS_BENCH_FULL_BUDGET_S", T_DOUBLE, F(full_budget_s), 0, 0,
     "time budget of the timed rounds per variant (full)"},
    {"full.image_rounds", "OCELLUS_BENCH_IMAGE_ROUNDS", T_INT, F(image_rounds), 0, 0,
     "timed rounds per image size/content/format"},
    {"full.batch_sizes", "OCELLUS_BENCH_BATCH_SIZES", T_INTLIST, F(batch_sizes), F(n_batch_sizes), BN_MAX_LIST,
     "batch sizes of the batch-scaling suite"},
    {"full.batch_rounds", "OCELLUS_BENCH_BATCH_ROUNDS", T_INT, F(batch_rounds), 0, 0,
     "timed runs per batch size (after one warm-up)"},
    {"full.concurrency", "OCELLUS_BENCH_CONCURRENCY_LEVELS", T_INTLIST, F(concurrency), F(n_concurrency), BN_MAX_LIST,
     "thread counts K of the concurrency suite"},
    {"full.requests_per_thread", "OCELLUS_BENCH_FULL_REQUESTS", T_INT, F(concurrency_requests), 0, 0,
     "requests per thread in the concurrency suite"},
    {"full.leak_cycles", "OCELLUS_BENCH_LEAK_CYCLES", T_INT, F(leak_cycles), 0, 0,
     "load/run/free cycles of the leak check"},
    {"full.leak_rss_tolerance_kb", "OCELLUS_BENCH_LEAK_TOLERANCE_KB", T_DOUBLE, F(leak_rss_tolerance_kb), 0, 0,
     "RSS growth per cycle tolerated before a significant slope counts as a leak (KB)"},
    {"full.endurance_s", "OCELLUS_BENCH_DURATION_S", T_DOUBLE, F(endurance_s), 0, 0,
     "duration of the endurance run (s)"},
    {"paths.variants", "OCELLUS_BENCH_VARIANTS_FILE", T_STR, F(variants_file), 0, sizeof(((bn_config *)0)->variants_file),
     "list of variants (arch scale per line)"},
    {"paths.weights", "OCELLUS_BENCH_WEIGHTS", T_STR, F(weights_dir), 0, sizeof(((bn_config *)0)->weights_dir),
     "directory of the model files <arch><scale>.safetensors"},
    {"paths.results", "OCELLUS_BENCH_OUT", T_STR, F(results_dir), 0, sizeof(((bn_config *)0)->results_dir),
     "directory for results/<timestamp>/"},
    {"paths.baselines", "OCELLUS_BENCH_BASELINES", T_STR, F(baselines_dir), 0, sizeof(((bn_config *)0)->baselines_dir),
     "directory of saved baselines"},
    {"variants", "OCELLUS_BENCH_ONLY", T_STR, F(only_variants), 0, sizeof(((bn_config *)0)->only_variants),
     "only these variants (comma-separated names, e.g. yolo11n,yolov8s); empty: all"},
};
#undef F
#define NKEYS (sizeof(KEYS) / sizeof(KEYS[0]))

void bn_config_defaults(bn_config *c)
{
    memset(c, 0, sizeof *c);
    c->latency_p95_ms = 2000;
    c->memory_mb = 1024;
    c->batch_memory_mb = 4096;
    c->concurrent_p95_ms = 5000;
    c->success_rate = 99;
    c->load_ms = 5000;
    c->realtime_ms = 2000;
    c->realtime_rate = 90;
    c->regression_threshold = 0.20;
    c->alpha = 0.05;
    c->warmup = 1;
    c->min_rounds = 5;
    c->max_rounds = 50;
    c->budget_s = 12;
    c->load_rounds = 2;
    c->threads = 0;
    c->gate_batch = 4;
    c->gate_concurrency = 2;
    c->gate_requests = 2;
    c->total_budget_s = 780;
    c->full_load_rounds = 5;
    c->full_min_rounds = 10;
    c->full_max_rounds = 200;
    c->full_budget_s = 30;
    c->image_rounds = 3;
    int bs[] = {1, 2, 4, 8, 16};
    memcpy(c->batch_sizes, bs, sizeof bs);
    c->n_batch_sizes = 5;
    c->batch_rounds = 2;
    int cc[] = {1, 2, 4, 8};
    memcpy(c->concurrency, cc, sizeof cc);
    c->n_concurrency = 4;
    c->concurrency_requests = 4;
    c->leak_cycles = 30;
    c->leak_rss_tolerance_kb = 64;
    c->endurance_s = 60;
    snprintf(c->full_models, sizeof c->full_models, "yolo11n");
    snprintf(c->variants_file, sizeof c->variants_file, "bench/variants.txt");
    snprintf(c->weights_dir, sizeof c->weights_dir, "weights");
    snprintf(c->results_dir, sizeof c->results_dir, "bench/results");
    snprintf(c->baselines_dir, sizeof c->baselines_dir, "bench/baselines");
}

static int parse_intlist(const char *s, int *out, int cap)
{
    int n = 0;
    while (*s && n < cap) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || v < 1 || v > 1000000) return -1;
        out[n++] = (int)v;
        s = end;
        while (*s == ',' || *s == ' ') s++;
    }
    return n;
}

static int set_from_string(bn_config *c, const key_def *k, const char *val)
{
    char *base = (char *)c;
    char *end;
    switch (k->type) {
    case T_DOUBLE: {
        errno = 0;
        double d = strtod(val, &end);
        if (end == val || *end || errno) return -1;
        *(double *)(base + k->off) = d;
        return 0;
    }
    case T_INT: {
        errno = 0;
        long v = strtol(val, &end, 10);
        if (end == val || *end || errno || v < 0 || v > 100000000) return -1;
        *(int *)(base + k->off) = (int)v;
        return 0;
    }
    case T_STR:
        if (strlen(val) >= k->cap) return -1;
        memcpy(base + k->off, val, strlen(val) + 1);
        return 0;
    case T_INTLIST: {
        int tmp[BN_MAX_LIST];
        int n = parse_intlist(val, tmp, (int)k->cap);
        if (n < 1) return -1;
        memcpy(base + k->off, tmp, sizeof(int) * (size_t)n);
        *(int *)(base + k->count_off) = n;
        return 0;
    }
    }
    return -1;
}

static const cJSON *json_lookup(const cJSON *root, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *node = root;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        if (!cJSON_IsObject(node)) return NULL;
        node = cJSON_GetObjectItemCaseSensitive(node, tok);
        if (!node) return NULL;
    }
    return node;
}

int bn_config_load(bn_config *c, const char *path, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t len;
    if (bn_read_file(path, &buf, &len)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    cJSON *root = cJSON_ParseWithLength((const char *)buf, len);
    if (!root || !cJSON_IsObject(root)) {
        const char *near = root ? "top level" : cJSON_GetErrorPtr(); /* points into buf */
        snprintf(err, errlen, "%s: not a JSON object (near '%.20s')", path, near ? near : "?");
        cJSON_Delete(root);
        free(buf);
        return -1;
    }
    free(buf);
    char *base = (char *)c;
    for (size_t i = 0; i < NKEYS; i++) {
        const key_def *k = &KEYS[i];
        const cJSON *j = json_lookup(root, k->path);
        if (!j) continue;
        int bad = 0;
        switch (k->type) {
        case T_DOUBLE:
            if (cJSON_IsNumber(j)) *(double *)(base + k->off) = j->valuedouble;
            else bad = 1;
            break;
        case T_INT:
            if (cJSON_IsNumber(j) && j->valuedouble >= 0 && j->valuedouble <= 1e8)
                *(int *)(base + k->off) = (int)j->valuedouble;
            else bad = 1;
            break;
        case T_STR:
            if (cJSON_IsString(j)) bad = set_from_string(c, k, j->valuestring);
            else if (cJSON_IsObject(j)) { /* name -> number, kept as "name=v,name=v" */
                char tmp[1024] = "";
                const cJSON *e;
                cJSON_ArrayForEach(e, j) {
                    if (!cJSON_IsNumber(e) || !e->string || strpbrk(e->string, "=, ")) {
                        bad = 1;
                        break;
                    }
                    size_t l = strlen(tmp);
                    snprintf(tmp + l, sizeof tmp - l, "%s%s=%g", l ? "," : "", e->string, e->valuedouble);
                }
                if (!bad) bad = set_from_string(c, k, tmp);
            } else if (cJSON_IsArray(j)) { /* a list of names */
                char tmp[512] = "";
                const cJSON *e;
                cJSON_ArrayForEach(e, j) {
                    if (!cJSON_IsString(e)) { bad = 1; break; }
                    if (tmp[0]) strncat(tmp, ",", sizeof tmp - strlen(tmp) - 1);
                    strncat(tmp, e->valuestring, sizeof tmp - strlen(tmp) - 1);
                }
                if (!bad) bad = set_from_string(c, k, tmp);
            } else bad = 1;
            break;
        case T_INTLIST: {
            int n = 0, tmp[BN_MAX_LIST];
            const cJSON *e;
            if (!cJSON_IsArray(j)) { bad = 1; break; }
            cJSON_ArrayForEach(e, j) {
                if (!cJSON_IsNumber(e) || e->valuedouble < 1 || n >= (int)k->cap) { bad = 1; break; }
                tmp[n++] = (int)e->valuedouble;
            }
            if (!bad && n > 0) {
                memcpy(base + k->off, tmp, sizeof(int) * (size_t)n);
                *(int *)(base + k->count_off) = n;
            } else bad = 1;
            break;
        }
        }
        if (bad) {
            snprintf(err, errlen, "%s: key '%s' has the wrong type or value", path, k->path);
            cJSON_Delete(root);
            return -1;
        }
    }
    cJSON_Delete(root);
    snprintf(c->config_path, sizeof c->config_path, "%s", path);
    return 0;
}

int bn_config_env(bn_config *c, char *applied, size_t len)
{
    int n = 0;
    if (applied && len) applied[0] = 0;
    for (size_t i = 0; i < NKEYS; i++) {
        const char *v = getenv(KEYS[i].env);
        if (!v || !*v) continue;
        if (set_from_string(c, &KEYS[i], v)) {
            fprintf(stderr, "ocellus-bench: ignoring %s=%s (bad value for %s)\n", KEYS[i].env, v,
                    KEYS[i].path);
            continue;
        }
        n++;
        if (applied && len) {
            size_t l = strlen(applied);
            snprintf(applied + l, len - l, "%s%s=%s", l ? " " : "", KEYS[i].env, v);
        }
    }
    return n;
}

static void value_str(const bn_config *c, const key_def *k, char *out, size_t len)
{
    const char *base = (const char *)c;
    switch (k->type) {
    case T_DOUBLE: snprintf(out, len, "%g", *(const double *)(base + k->off)); break;
    case T_INT: snprintf(out, len, "%d", *(const int *)(base + k->off)); break;
    case T_STR: snprintf(out, len, "%s", base + k->off); break;
    case T_INTLIST: {
        const int *v = (const int *)(base + k->off);
        int n = *(const int *)(base + k->count_off);
        out[0] = 0;
        for (int i = 0; i < n; i++) {
            size_t l = strlen(out);
            snprintf(out + l, len - l, "%s%d", i ? "," : "", v[i]);
        }
        break;
    }
    }
}

void bn_config_print(const bn_config *c, FILE *f)
{
    fprintf(f, "%-28s %-36s %-14s %s\n", "key (config.json)", "environment", "value", "meaning");
    for (size_t i = 0; i < NKEYS; i++) {
        char v[256];
        value_str(c, &KEYS[i], v, sizeof v);
        fprintf(f, "%-28s %-36s %-14s %s\n", KEYS[i].path, KEYS[i].env, v, KEYS[i].help);
    }
}

void *bn_config_json(const bn_config *c)
{
    cJSON *o = cJSON_CreateObject();
    const char *base = (const char *)c;
    for (size_t i = 0; i < NKEYS; i++) {
        const key_def *k = &KEYS[i];
        switch (k->type) {
        case T_DOUBLE: cJSON_AddNumberToObject(o, k->path, *(const double *)(base + k->off)); break;
        case T_INT: cJSON_AddNumberToObject(o, k->path, *(const int *)(base + k->off)); break;
        case T_STR: cJSON_AddStringToObject(o, k->path, base + k->off); break;
        case T_INTLIST: {
            cJSON *a = cJSON_AddArrayToObject(o, k->path);
            int n = *(const int *)(base + k->count_off);
            for (int j = 0; j < n; j++)
                cJSON_AddItemToArray(a, cJSON_CreateNumber(((const int *)(base + k->off))[j]));
            break;
        }
        }
    }
    cJSON_AddStringToObject(o, "config_file", c->config_path);
    return o;
}

/* The load limit of a variant: the entry of gates.load_ms_per_variant whose key is the name
 * itself or its longest prefix ("yolo11x", then "yolo11"), else gates.load_ms. */
double bn_config_load_limit(const bn_config *c, const char *variant)
{
    double best = c->load_ms;
    size_t best_len = 0;
    const char *p = c->load_limits;
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        const char *eq = strchr(p, '=');
        if (!eq) break;
        size_t kl = (size_t)(eq - p);
        char *end;
        double v = strtod(eq + 1, &end);
        if (kl > 0 && kl <= strlen(variant) && !strncmp(p, variant, kl) && kl > best_len &&
            end != eq + 1 && v > 0) {
            best = v;
            best_len = kl;
        }
        p = end;
        while (*p && *p != ',') p++;
    }
    return best;
}

int bn_in_list(const char *list, const char *name)
{
    size_t nl = strlen(name);
    const char *p = list;
    while (p && *p) {
        while (*p == ',' || *p == ' ') p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ') e++;
        if ((size_t)(e - p) == nl && strncmp(p, name, nl) == 0) return 1;
        p = e;
    }
    return 0;
}
