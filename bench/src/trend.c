/* trend.c -- this host's saved runs, for the trend view of the HTML report: every
 * <results>/<run>/results.json whose environment has this host's identity (machine id hash,
 * CPU model, cores, ISA path, threads; the same rule as baselines), oldest first, followed by
 * the current run. Per run: timestamp, commit, mode, load average at the start; per variant:
 * median end-to-end latency and peak RSS. Runs from other hosts are left out: their numbers
 * would draw a trend that is only a change of machine. */
#include "bench.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char ts[32], commit[24], mode[8];
    double load;
    int nv;
    char (*name)[64];
    double *median, *peak;
} trend_run;

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

static double jnum_at(const cJSON *o, const char *k1, const char *k2, const char *k3)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k1);
    if (k2) j = cJSON_GetObjectItemCaseSensitive(j, k2);
    if (k3) j = cJSON_GetObjectItemCaseSensitive(j, k3);
    return cJSON_IsNumber(j) ? j->valuedouble : NAN;
}

/* 0 when the file is a run of this host, read into *out */
static int read_run(const bn_run *r, const char *path, trend_run *out)
{
    uint8_t *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    if (bn_read_file(path, &buf, &len)) return -1;
    cJSON *o = cJSON_ParseWithLength((const char *)buf, len);
    free(buf);
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(o, "environment");
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(o, "variants");
    if (!cJSON_IsObject(env) || !cJSON_IsArray(vs)) {
        cJSON_Delete(o);
        return -1;
    }
    char why[300];
    double cores = jnum_at(env, "cores", NULL, NULL), threads = jnum_at(env, "threads", NULL, NULL);
    bn_identity_mismatch(&r->env, jstr(env, "cpu_model"), isfinite(cores) ? (int)cores : -1,
                         jstr(env, "isa_path"), isfinite(threads) ? (int)threads : -1,
                         jstr(env, "machine_id_hash"), why, sizeof why);
    const char *ts = jstr(env, "timestamp");
    if (why[0] || !ts) {
        cJSON_Delete(o);
        return -1;
    }
    snprintf(out->ts, sizeof out->ts, "%s", ts);
    const char *cm = jstr(env, "commit");
    snprintf(out->commit, sizeof out->commit, "%.12s", cm ? cm : "?");
    const char *md = jstr(o, "mode");
    snprintf(out->mode, sizeof out->mode, "%s", md ? md : "?");
    out->load = jnum_at(env, "load_average_start", NULL, NULL);
    int n = cJSON_GetArraySize(vs);
    out->name = calloc((size_t)(n > 0 ? n : 1), sizeof *out->name);
    out->median = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    out->peak = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    if (!out->name || !out->median || !out->peak) {
        cJSON_Delete(o);
        return -1;
    }
    const cJSON *v;
    cJSON_ArrayForEach(v, vs) {
        const char *name = jstr(v, "name");
        const cJSON *sk = cJSON_GetObjectItemCaseSensitive(v, "skipped");
        if (!name || cJSON_IsTrue(sk)) continue;
        snprintf(out->name[out->nv], 64, "%s", name);
        out->median[out->nv] = jnum_at(v, "e2e_ms", "stats", "median");
        out->peak[out->nv] = jnum_at(v, "peak", "peak_rss_mb", NULL);
        out->nv++;
    }
    cJSON_Delete(o);
    return 0;
}

static void free_run(trend_run *t)
{
    free(t->name);
    free(t->median);
    free(t->peak);
}

static int cmp_run(const void *a, const void *b)
{
    return strcmp(((const trend_run *)a)->ts, ((const trend_run *)b)->ts);
}

static int variant_index(bn_trend *t, const char *name)
{
    for (int i = 0; i < t->nvar; i++)
        if (!strcmp(t->variant[i], name)) return i;
    if (t->nvar == BN_MAX_VARIANTS) return -1;
    snprintf(t->variant[t->nvar], sizeof t->variant[0], "%s", name);
    for (int k = 0; k < BN_TREND_MAX_RUNS; k++) t->median_ms[t->nvar][k] = t->peak_mb[t->nvar][k] = NAN;
    return t->nvar++;
}

bn_trend *bn_trend_collect(const bn_run *r, const char *skip_dir)
{
    bn_trend *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    trend_run *runs = NULL;
    int nr = 0, cap = 0;
    DIR *d = opendir(r->cfg.results_dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "latest")) continue;
        char dir[1100], path[1200];
        snprintf(dir, sizeof dir, "%.512s/%.500s", r->cfg.results_dir, e->d_name);
        if (skip_dir && !strcmp(dir, skip_dir)) continue;
        snprintf(path, sizeof path, "%s/results.json", dir);
        if (nr == cap) {
            int nc = cap ? cap * 2 : 16;
            trend_run *x = realloc(runs, sizeof *runs * (size_t)nc);
            if (!x) break;
            runs = x;
            cap = nc;
        }
        if (read_run(r, path, &runs[nr]) == 0) nr++;
        else free_run(&runs[nr]);
    }
    if (d) closedir(d);
    qsort(runs, (size_t)nr, sizeof *runs, cmp_run);
    /* the newest saved runs, leaving a slot for the current one */
    int first = nr > BN_TREND_MAX_RUNS - 1 ? nr - (BN_TREND_MAX_RUNS - 1) : 0;
    for (int i = first; i < nr; i++) {
        int k = t->nruns++;
        snprintf(t->timestamp[k], sizeof t->timestamp[k], "%s", runs[i].ts);
        snprintf(t->commit[k], sizeof t->commit[k], "%s", runs[i].commit);
        snprintf(t->mode[k], sizeof t->mode[k], "%s", runs[i].mode);
        t->load_start[k] = runs[i].load;
        for (int j = 0; j < runs[i].nv; j++) {
            int vi = variant_index(t, runs[i].name[j]);
            if (vi < 0) continue;
            t->median_ms[vi][k] = runs[i].median[j];
            t->peak_mb[vi][k] = runs[i].peak[j];
        }
    }
    for (int i = 0; i < nr; i++) free_run(&runs[i]);
    free(runs);
    /* the current run */
    int k = t->nruns++;
    snprintf(t->timestamp[k], sizeof t->timestamp[k], "%s", r->env.timestamp);
    snprintf(t->commit[k], sizeof t->commit[k], "%.12s", r->env.commit);
    snprintf(t->mode[k], sizeof t->mode[k], "%s", r->mode ? r->mode : "?");
    t->load_start[k] = r->env.load_start;
    for (int i = 0; i < r->nv; i++) {
        const bn_variant *v = &r->v[i];
        if (v->skipped || v->budget_skipped) continue;
        int vi = variant_index(t, v->name);
        if (vi < 0) continue;
        t->median_ms[vi][k] = v->e2e.n ? v->s_e2e.median : NAN;
        t->peak_mb[vi][k] = v->peak.ok ? v->peak.peak_rss_mb : NAN;
    }
    return t;
}
