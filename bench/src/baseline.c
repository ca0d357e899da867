/* baseline.c -- saved baselines (bench/baselines/<host>-<machine>-<isa>-t<threads>.json) and
 * the comparison of a run against them: a change is a regression only when the median moved
 * by more than the threshold AND the Mann-Whitney U test says the samples differ (p < alpha).
 * A baseline records the identity of its host (CPU model, cores, ISA path, threads, a hash of
 * the machine id) and is used only by a run whose identity is the same: wall-clock samples
 * from another machine mean nothing here. */
#include "bench.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bn_baseline_path(const bn_run *r, char *out, size_t len)
{
    char host[128];
    snprintf(host, sizeof host, "%s", r->env.host);
    for (char *p = host; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') *p = '_';
    snprintf(out, len, "%.400s/%.100s-%.8s-%s-t%d.json", r->cfg.baselines_dir, host,
             r->env.machine_id, r->env.isa, r->env.threads);
}

void bn_identity_mismatch(const bn_env *e, const char *cpu, int cores, const char *isa,
                          int threads, const char *machine_id, char *out, size_t len)
{
    out[0] = 0;
    if (!strcmp(e->machine_id, "unknown"))
        snprintf(out, len, "this host has no machine id (/etc/machine-id, a network address) to "
                           "tell it from another");
    else if (!machine_id || strcmp(machine_id, e->machine_id))
        snprintf(out, len, "machine id %s, this host %s", machine_id ? machine_id : "absent",
                 e->machine_id);
    else if (!cpu || strcmp(cpu, e->cpu_model))
        snprintf(out, len, "CPU '%s', this host '%s'", cpu ? cpu : "absent", e->cpu_model);
    else if (cores != e->cores)
        snprintf(out, len, "%d cores, this host %d", cores, e->cores);
    else if (!isa || strcmp(isa, e->isa))
        snprintf(out, len, "ISA path %s, this run %s", isa ? isa : "absent", e->isa);
    else if (threads != e->threads)
        snprintf(out, len, "%d threads, this run %d", threads, e->threads);
}

static void identity_json(cJSON *o, const bn_env *e)
{
    cJSON *id = cJSON_AddObjectToObject(o, "identity");
    cJSON_AddStringToObject(id, "cpu_model", e->cpu_model);
    cJSON_AddNumberToObject(id, "cores", e->cores);
    cJSON_AddStringToObject(id, "isa_path", e->isa);
    cJSON_AddNumberToObject(id, "threads", e->threads);
    cJSON_AddStringToObject(id, "machine_id_hash", e->machine_id);
}

static cJSON *series_json(const bn_series *s)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < s->n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(s->v[i]));
    return a;
}

int bn_baseline_save(bn_run *r, char *err, size_t errlen)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", "ocellus-bench baseline");
    cJSON_AddNumberToObject(o, "version", 1);
    cJSON_AddStringToObject(o, "host", r->env.host);
    cJSON_AddStringToObject(o, "cpu", r->env.cpu_model);
    cJSON_AddStringToObject(o, "isa", r->env.isa);
    cJSON_AddNumberToObject(o, "threads", r->env.threads);
    cJSON_AddStringToObject(o, "commit", r->env.commit);
    cJSON_AddStringToObject(o, "timestamp", r->env.timestamp);
    cJSON_AddStringToObject(o, "mode", r->mode);
    identity_json(o, &r->env);
    cJSON *vs = cJSON_AddObjectToObject(o, "variants");
    int n = 0;
    for (int i = 0; i < r->nv; i++) {
        const bn_variant *v = &r->v[i];
        if (v->skipped || v->e2e.n == 0) continue;
        cJSON *x = cJSON_AddObjectToObject(vs, v->name);
        cJSON_AddStringToObject(x, "weights", v->kind);
        cJSON_AddItemToObject(x, "e2e_ms", series_json(&v->e2e));
        cJSON_AddItemToObject(x, "inference_ms", series_json(&v->infer));
        cJSON_AddItemToObject(x, "load_ms", series_json(&v->load_ms));
        cJSON_AddNumberToObject(x, "peak_rss_mb", v->peak.peak_rss_mb);
        cJSON_AddNumberToObject(x, "batch_peak_rss_mb", v->batch.peak_rss_mb);
        n++;
    }
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    if (!txt) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (n == 0) {
        snprintf(err, errlen, "nothing measured: no baseline written");
        free(txt);
        return -1;
    }
    bn_mkdirs(r->cfg.baselines_dir);
    FILE *f = fopen(r->baseline_path, "w");
    if (!f || fputs(txt, f) < 0 || fputc('\n', f) < 0) {
        snprintf(err, errlen, "%.300s: %s", r->baseline_path, strerror(errno));
        if (f) fclose(f);
        free(txt);
        return -1;
    }
    free(txt);
    if (fclose(f)) {
        snprintf(err, errlen, "%.300s: %s", r->baseline_path, strerror(errno));
        return -1;
    }
    r->baseline_saved = 1;
    return 0;
}

static int json_samples(const cJSON *a, double **out)
{
    *out = NULL;
    if (!cJSON_IsArray(a)) return 0;
    int n = cJSON_GetArraySize(a);
    if (n <= 0) return 0;
    double *v = malloc(sizeof(double) * (size_t)n);
    if (!v) return 0;
    int k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
        if (cJSON_IsNumber(e)) v[k++] = e->valuedouble;
    *out = v;
    return k;
}

static void add_reg(bn_run *r, const char *model, const char *metric, const bs_comparison *c)
{
    bn_regression *a = realloc(r->reg, sizeof(bn_regression) * (size_t)(r->n_reg + 1));
    if (!a) return;
    r->reg = a;
    bn_regression *x = &r->reg[r->n_reg++];
    memset(x, 0, sizeof *x);
    snprintf(x->model, sizeof x->model, "%s", model);
    snprintf(x->metric, sizeof x->metric, "%s", metric);
    x->c = *c;
}

int bn_baseline_compare(bn_run *r, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t len;
    if (bn_read_file(r->baseline_path, &buf, &len)) {
        snprintf(err, errlen, "no baseline at %.300s", r->baseline_path);
        snprintf(r->baseline_note, sizeof r->baseline_note,
                 "no baseline for this host (%.100s, %d cores, ISA %s, %d threads, machine %.8s): "
                 "make bench-baseline saves %.300s", r->env.cpu_model, r->env.cores, r->env.isa,
                 r->env.threads, r->env.machine_id, r->baseline_path);
        return -1;
    }
    cJSON *o = cJSON_ParseWithLength((const char *)buf, len);
    free(buf);
    const cJSON *vs = o ? cJSON_GetObjectItemCaseSensitive(o, "variants") : NULL;
    if (!cJSON_IsObject(vs)) {
        snprintf(err, errlen, "%.300s: not a baseline file (no \"variants\" object)", r->baseline_path);
        snprintf(r->baseline_note, sizeof r->baseline_note, "no baseline for this host: %.500s", err);
        cJSON_Delete(o);
        return -1;
    }
    /* a file at this host's path that was recorded elsewhere (copied, or a host name reused)
     * is not this host's baseline */
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "identity");
    const cJSON *jc = cJSON_GetObjectItemCaseSensitive(id, "cpu_model");
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(id, "cores");
    const cJSON *ji = cJSON_GetObjectItemCaseSensitive(id, "isa_path");
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(id, "threads");
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(id, "machine_id_hash");
    char why[300];
    bn_identity_mismatch(&r->env, cJSON_IsString(jc) ? jc->valuestring : NULL,
                         cJSON_IsNumber(jn) ? jn->valueint : -1,
                         cJSON_IsString(ji) ? ji->valuestring : NULL,
                         cJSON_IsNumber(jt) ? jt->valueint : -1,
                         cJSON_IsString(jm) ? jm->valuestring : NULL, why, sizeof why);
    if (why[0]) {
        snprintf(err, errlen, "%.300s was recorded on another host or configuration (%.250s)",
                 r->baseline_path, why);
        snprintf(r->baseline_note, sizeof r->baseline_note, "no baseline for this host: %.500s", err);
        cJSON_Delete(o);
        return -1;
    }
    r->baseline_found = 1;
    static const struct {
        const char *key, *metric;
        size_t off;
    } metrics[] = {
        {"e2e_ms", "latency", offsetof(bn_variant, e2e)},
        {"inference_ms", "inference", offsetof(bn_variant, infer)},
        {"load_ms", "load", offsetof(bn_variant, load_ms)},
    };
    for (int i = 0; i < r->nv; i++) {
        bn_variant *v = &r->v[i];
        if (v->skipped) continue;
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(vs, v->name);
        if (!cJSON_IsObject(x)) continue;
        for (size_t k = 0; k < sizeof metrics / sizeof metrics[0]; k++) {
            const bn_series *cur = (const bn_series *)((const char *)v + metrics[k].off);
            double *base;
            int nb = json_samples(cJSON_GetObjectItemCaseSensitive(x, metrics[k].key), &base);
            if (nb > 0 && cur->n > 0) {
                bs_comparison c;
                if (bs_compare(base, nb, cur->v, cur->n, r->cfg.regression_threshold, r->cfg.alpha, &c) == 0) {
                    add_reg(r, v->name, metrics[k].metric, &c);
                    if (k == 0) {
                        v->compared = 1;
                        v->cmp = c;
                    }
                }
            }
            free(base);
        }
    }
    cJSON_Delete(o);
    return 0;
}

/* Promote a past run (its results.json) to the baseline of the host/ISA/threads it ran on. */
int bn_baseline_promote(const char *results_json, const char *baselines_dir, char *out_path,
                        size_t out_len, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t len;
    if (bn_read_file(results_json, &buf, &len)) {
        snprintf(err, errlen, "%.300s: cannot read: %s", results_json, strerror(errno));
        return -1;
    }
    cJSON *o = cJSON_ParseWithLength((const char *)buf, len);
    free(buf);
    const cJSON *env = o ? cJSON_GetObjectItemCaseSensitive(o, "environment") : NULL;
    const cJSON *vs = o ? cJSON_GetObjectItemCaseSensitive(o, "variants") : NULL;
    if (!cJSON_IsObject(env) || !cJSON_IsArray(vs)) {
        snprintf(err, errlen, "%.300s: not an ocellus-bench results.json", results_json);
        cJSON_Delete(o);
        return -1;
    }
    static bn_run tmp; /* only the fields bn_baseline_path/save read */
    memset(&tmp, 0, sizeof tmp);
    const cJSON *j;
#define ENVSTR(key, dst)                                                                     \
    j = cJSON_GetObjectItemCaseSensitive(env, key);                                          \
    snprintf(dst, sizeof dst, "%s", cJSON_IsString(j) ? j->valuestring : "unknown")
    ENVSTR("host", tmp.env.host);
    ENVSTR("isa_path", tmp.env.isa);
    ENVSTR("cpu_model", tmp.env.cpu_model);
    ENVSTR("commit", tmp.env.commit);
    ENVSTR("timestamp", tmp.env.timestamp);
    ENVSTR("machine_id_hash", tmp.env.machine_id);
#undef ENVSTR
    j = cJSON_GetObjectItemCaseSensitive(env, "threads");
    tmp.env.threads = cJSON_IsNumber(j) ? j->valueint : 0;
    j = cJSON_GetObjectItemCaseSensitive(env, "cores");
    tmp.env.cores = cJSON_IsNumber(j) ? j->valueint : 0;
    j = cJSON_GetObjectItemCaseSensitive(o, "mode");
    tmp.mode = cJSON_IsString(j) ? j->valuestring : "quick";
    snprintf(tmp.cfg.baselines_dir, sizeof tmp.cfg.baselines_dir, "%s", baselines_dir);
    const cJSON *v;
    cJSON_ArrayForEach(v, vs) {
        if (tmp.nv >= BN_MAX_VARIANTS) break;
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
        const cJSON *e2e = cJSON_GetObjectItemCaseSensitive(v, "e2e_ms");
        if (!cJSON_IsString(name) || !cJSON_IsObject(e2e)) continue;
        bn_variant *x = &tmp.v[tmp.nv++];
        snprintf(x->name, sizeof x->name, "%s", name->valuestring);
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(v, "weights");
        snprintf(x->kind, sizeof x->kind, "%s", cJSON_IsString(kind) ? kind->valuestring : "");
        static const struct { const char *key; size_t off; } ser[] = {
            {"e2e_ms", offsetof(bn_variant, e2e)},
            {"inference_ms", offsetof(bn_variant, infer)},
            {"load_ms", offsetof(bn_variant, load_ms)},
        };
        for (size_t k = 0; k < sizeof ser / sizeof ser[0]; k++) {
            const cJSON *sj = cJSON_GetObjectItemCaseSensitive(v, ser[k].key);
            const cJSON *smp = sj ? cJSON_GetObjectItemCaseSensitive(sj, "samples") : NULL;
            const cJSON *e;
            bn_series *dst = (bn_series *)((char *)x + ser[k].off);
            if (cJSON_IsArray(smp))
                cJSON_ArrayForEach(e, smp) if (cJSON_IsNumber(e)) bn_series_push(dst, e->valuedouble);
        }
        const cJSON *peak = cJSON_GetObjectItemCaseSensitive(v, "peak");
        const cJSON *pm = peak ? cJSON_GetObjectItemCaseSensitive(peak, "peak_rss_mb") : NULL;
        if (cJSON_IsNumber(pm)) x->peak.peak_rss_mb = pm->valuedouble;
        const cJSON *batch = cJSON_GetObjectItemCaseSensitive(v, "batch");
        const cJSON *bm = batch ? cJSON_GetObjectItemCaseSensitive(batch, "peak_rss_mb") : NULL;
        if (cJSON_IsNumber(bm)) x->batch.peak_rss_mb = bm->valuedouble;
    }
    bn_baseline_path(&tmp, tmp.baseline_path, sizeof tmp.baseline_path);
    int rc = bn_baseline_save(&tmp, err, errlen);
    snprintf(out_path, out_len, "%s", tmp.baseline_path);
    for (int i = 0; i < tmp.nv; i++) {
        bn_series_free(&tmp.v[i].e2e);
        bn_series_free(&tmp.v[i].infer);
        bn_series_free(&tmp.v[i].load_ms);
    }
    cJSON_Delete(o);
    return rc;
}
