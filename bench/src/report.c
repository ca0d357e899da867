/* report.c -- bench/results/<timestamp>/: results.json (every sample, every statistic, the
 * environment), results.csv (one row per measured series), report.md (summary, compliance per
 * gate, tables, regressions, leak analysis, recommendations) and report.html (one
 * self-contained page, inline SVG charts, no external resources). */
#include "bench.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------- */
/* JSON                                                                                      */
/* ---------------------------------------------------------------------------------------- */
static cJSON *jnum(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }
static void jadd(cJSON *o, const char *k, double v) { cJSON_AddItemToObject(o, k, jnum(v)); }

static cJSON *jsummary(const bs_summary *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", s->n);
    jadd(o, "min", s->min);
    jadd(o, "max", s->max);
    jadd(o, "mean", s->mean);
    jadd(o, "median", s->median);
    jadd(o, "stddev", s->stddev);
    jadd(o, "p90", s->p90);
    jadd(o, "p95", s->p95);
    jadd(o, "p99", s->p99);
    return o;
}

static cJSON *jseries(const bn_series *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(o, "samples");
    for (int i = 0; i < s->n; i++) cJSON_AddItemToArray(a, jnum(s->v[i]));
    bs_summary sm = bn_series_summary(s);
    cJSON_AddItemToObject(o, "stats", jsummary(&sm));
    return o;
}

static cJSON *jchild(const bn_child_result *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", c->ok);
    cJSON_AddNumberToObject(o, "batch", c->batch);
    jadd(o, "peak_rss_mb", c->peak_rss_mb);
    jadd(o, "load_ms", c->load_ms);
    jadd(o, "run_ms", c->run_ms);
    jadd(o, "ms_per_image", c->ms_per_image);
    jadd(o, "arena_mb", c->arena_mb);
    cJSON_AddStringToObject(o, "error", c->error);
    return o;
}

static cJSON *jconc(const bn_conc *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", c->model);
    cJSON_AddNumberToObject(o, "k", c->k);
    cJSON_AddNumberToObject(o, "threads_per_session", c->threads_per_session);
    cJSON_AddNumberToObject(o, "requests_per_thread", c->requests);
    cJSON_AddItemToObject(o, "response_ms", jseries(&c->resp_ms));
    jadd(o, "wall_s", c->wall_s);
    jadd(o, "throughput_img_s", c->throughput);
    cJSON_AddNumberToObject(o, "attempts", c->attempts);
    cJSON_AddNumberToObject(o, "errors", c->errors);
    cJSON_AddNumberToObject(o, "compared", c->compared);
    cJSON_AddNumberToObject(o, "mismatches", c->mismatches);
    cJSON_AddStringToObject(o, "error", c->error);
    return o;
}

static cJSON *jcmp(const bs_comparison *c)
{
    cJSON *o = cJSON_CreateObject();
    jadd(o, "median_base", c->median_base);
    jadd(o, "median_current", c->median_cur);
    jadd(o, "rel_change", c->rel_change);
    jadd(o, "mann_whitney_u", c->mwu.u1);
    jadd(o, "p_value", c->mwu.p);
    cJSON_AddStringToObject(o, "p_method", c->mwu.exact ? "exact" : "normal approximation");
    cJSON_AddBoolToObject(o, "significant", c->significant);
    cJSON_AddBoolToObject(o, "regression", c->regression);
    cJSON_AddBoolToObject(o, "improvement", c->improvement);
    cJSON_AddStringToObject(o, "level", bs_level_name(c->level));
    return o;
}

static cJSON *jslope(const bs_slope_result *s)
{
    cJSON *o = cJSON_CreateObject();
    jadd(o, "slope_per_cycle", s->fit.slope);
    jadd(o, "intercept", s->fit.intercept);
    jadd(o, "r", s->fit.r);
    jadd(o, "p_value", s->fit.p);
    jadd(o, "stderr", s->fit.stderr_slope);
    jadd(o, "fitted_growth", s->growth);
    cJSON_AddBoolToObject(o, "leak", s->leak);
    return o;
}

static int write_json(const bn_run *r, const char *path)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "tool", "ocellus-bench");
    cJSON_AddStringToObject(o, "mode", r->mode);
    jadd(o, "wall_s", r->wall_s);
    cJSON *e = cJSON_AddObjectToObject(o, "environment");
    const bn_env *v = &r->env;
    cJSON_AddStringToObject(e, "timestamp", v->timestamp);
    cJSON_AddStringToObject(e, "host", v->host);
    cJSON_AddStringToObject(e, "cpu_model", v->cpu_model);
    cJSON_AddStringToObject(e, "cpu_simd_flags", v->cpu_flags_simd);
    cJSON_AddNumberToObject(e, "cores", v->cores);
    cJSON_AddNumberToObject(e, "threads", v->threads);
    cJSON_AddStringToObject(e, "isa_path", v->isa);
    cJSON_AddStringToObject(e, "openblas_core", v->openblas_core);
    cJSON_AddStringToObject(e, "openblas_config", v->openblas_config);
    cJSON_AddStringToObject(e, "compiler", v->compiler);
    cJSON_AddStringToObject(e, "cflags", v->cflags);
    cJSON_AddStringToObject(e, "commit", v->commit);
    cJSON_AddBoolToObject(e, "uncommitted_changes", v->dirty);
    cJSON_AddStringToObject(e, "governor", v->governor);
    jadd(e, "cpu_mhz", v->mhz_cur);
    jadd(e, "cpu_max_mhz", v->mhz_max);
    cJSON_AddStringToObject(e, "warnings", v->warnings);
    cJSON_AddStringToObject(e, "kernel", v->kernel);
    cJSON_AddStringToObject(e, "machine_id_hash", v->machine_id);
    jadd(e, "load_average_start", v->load_start);
    jadd(e, "load_average_max", r->load_max);
    jadd(e, "mem_total_mb", v->mem_total_mb);
    jadd(e, "fma_peak_gflops", v->fma_peak_gflops);
    cJSON_AddStringToObject(e, "library_version", v->library_version);
    cJSON_AddStringToObject(e, "test_image", r->image_desc);
    cJSON_AddItemToObject(o, "config", bn_config_json(&r->cfg));

    cJSON *va = cJSON_AddArrayToObject(o, "variants");
    for (int i = 0; i < r->nv; i++) {
        const bn_variant *x = &r->v[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToArray(va, j);
        cJSON_AddStringToObject(j, "name", x->name);
        cJSON_AddStringToObject(j, "file", x->path);
        cJSON_AddBoolToObject(j, "skipped", x->skipped);
        cJSON_AddBoolToObject(j, "budget_skipped", x->budget_skipped);
        if (x->skipped) continue;
        cJSON_AddStringToObject(j, "arch", x->arch);
        cJSON_AddStringToObject(j, "scale", x->scale);
        cJSON_AddStringToObject(j, "weights", x->kind);
        cJSON_AddStringToObject(j, "error", x->error);
        cJSON_AddStringToObject(j, "protocol_note", x->note);
        cJSON_AddNumberToObject(j, "concurrency_requests_per_thread", x->conc_requests);
        cJSON_AddNumberToObject(j, "batch_gate_size", x->batch_n);
        jadd(j, "file_mb", x->file_mb);
        cJSON_AddNumberToObject(j, "params", (double)x->params);
        jadd(j, "gflop_per_image", x->gflops);
        cJSON_AddNumberToObject(j, "input_h", x->in_h);
        cJSON_AddNumberToObject(j, "input_w", x->in_w);
        cJSON_AddNumberToObject(j, "warmup", x->warmup);
        jadd(j, "latency_wall_s", x->latency_wall_s);
        jadd(j, "load_cold_ms", x->load_cold_ms);
        jadd(j, "load_limit_ms", x->load_limit_ms);
        cJSON_AddItemToObject(j, "load_ms", jseries(&x->load_ms));
        cJSON_AddItemToObject(j, "e2e_ms", jseries(&x->e2e));
        cJSON_AddItemToObject(j, "decode_ms", jseries(&x->decode));
        cJSON_AddItemToObject(j, "preprocess_ms", jseries(&x->pre));
        cJSON_AddItemToObject(j, "inference_ms", jseries(&x->infer));
        cJSON_AddItemToObject(j, "postprocess_ms", jseries(&x->post));
        jadd(j, "throughput_img_s", x->throughput);
        jadd(j, "realtime_pct", x->realtime_pct);
        jadd(j, "realtime_target_ms", r->cfg.realtime_ms);
        jadd(j, "arena_mb", x->arena_mb);
        jadd(j, "activations_mb", x->activations_mb);
        jadd(j, "planner_saving_pct", x->planner_saving_pct);
        jadd(j, "load_average_after_rounds", x->load_avg);
        cJSON_AddNumberToObject(j, "detections", x->n_dets);
        cJSON_AddItemToObject(j, "peak", jchild(&x->peak));
        cJSON_AddItemToObject(j, "batch", jchild(&x->batch));
        cJSON_AddItemToObject(j, "concurrency", jconc(&x->conc));
        cJSON_AddNumberToObject(j, "attempts", x->attempts);
        cJSON_AddNumberToObject(j, "failures", x->failures);
        if (x->compared) cJSON_AddItemToObject(j, "baseline_comparison", jcmp(&x->cmp));
    }
    cJSON *ia = cJSON_AddArrayToObject(o, "image_sizes");
    for (int i = 0; i < r->n_img; i++) {
        const bn_imgsize *x = &r->img[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToArray(ia, j);
        cJSON_AddStringToObject(j, "model", x->model);
        cJSON_AddNumberToObject(j, "width", x->w);
        cJSON_AddNumberToObject(j, "height", x->h);
        cJSON_AddStringToObject(j, "content", bn_content_name(x->content));
        cJSON_AddStringToObject(j, "format", x->format);
        jadd(j, "file_kb", x->file_kb);
        cJSON_AddItemToObject(j, "decode_ms", jseries(&x->decode));
        cJSON_AddItemToObject(j, "e2e_ms", jseries(&x->e2e));
        cJSON_AddNumberToObject(j, "attempts", x->attempts);
        cJSON_AddNumberToObject(j, "failures", x->failures);
        cJSON_AddStringToObject(j, "error", x->error);
    }
    cJSON *ba = cJSON_AddArrayToObject(o, "batch_scaling");
    for (int i = 0; i < r->n_batch; i++) {
        cJSON *j = jchild(&r->batch[i].r);
        cJSON_AddStringToObject(j, "model", r->batch[i].model);
        cJSON_AddItemToArray(ba, j);
    }
    cJSON *ca = cJSON_AddArrayToObject(o, "concurrency");
    for (int i = 0; i < r->n_conc; i++) cJSON_AddItemToArray(ca, jconc(&r->conc[i]));
    cJSON *la = cJSON_AddArrayToObject(o, "leak_check");
    for (int i = 0; i < r->n_leak; i++) {
        const bn_leak *x = &r->leak[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToArray(la, j);
        cJSON_AddStringToObject(j, "model", x->model);
        cJSON_AddNumberToObject(j, "cycles", x->cycles);
        jadd(j, "rss_tolerance_kb_per_cycle", x->rss_tol_kb);
        cJSON_AddItemToObject(j, "rss_kb", jseries(&x->rss_kb));
        cJSON_AddItemToObject(j, "live_bytes", jseries(&x->live_bytes));
        cJSON_AddItemToObject(j, "open_allocations", jseries(&x->open_allocs));
        cJSON_AddItemToObject(j, "rss_slope", jslope(&x->rss));
        cJSON_AddItemToObject(j, "live_bytes_slope", jslope(&x->live));
        cJSON_AddItemToObject(j, "open_allocations_slope", jslope(&x->allocs));
        cJSON_AddBoolToObject(j, "leak", x->leak);
        cJSON_AddStringToObject(j, "error", x->error);
    }
    cJSON *ea = cJSON_AddArrayToObject(o, "endurance");
    for (int i = 0; i < r->n_endur; i++) {
        const bn_endurance *x = &r->endur[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToArray(ea, j);
        cJSON_AddStringToObject(j, "model", x->model);
        jadd(j, "duration_s", x->duration_s);
        cJSON_AddItemToObject(j, "t_s", jseries(&x->t_s));
        cJSON_AddItemToObject(j, "latency_ms", jseries(&x->lat_ms));
        jadd(j, "drift_ms_per_s", x->drift.slope);
        jadd(j, "drift_p_value", x->drift.p);
        jadd(j, "first_10pct_median_ms", x->first_median);
        jadd(j, "last_10pct_median_ms", x->last_median);
        jadd(j, "drift_pct", x->drift_pct);
        cJSON_AddNumberToObject(j, "attempts", x->attempts);
        cJSON_AddNumberToObject(j, "failures", x->failures);
        cJSON_AddStringToObject(j, "error", x->error);
    }
    cJSON *b = cJSON_AddObjectToObject(o, "baseline");
    cJSON_AddStringToObject(b, "path", r->baseline_path);
    cJSON_AddBoolToObject(b, "found", r->baseline_found);
    cJSON_AddStringToObject(b, "note", r->baseline_note);
    cJSON_AddBoolToObject(b, "saved", r->baseline_saved);
    cJSON *ra = cJSON_AddArrayToObject(b, "comparisons");
    for (int i = 0; i < r->n_reg; i++) {
        cJSON *j = jcmp(&r->reg[i].c);
        cJSON_AddStringToObject(j, "model", r->reg[i].model);
        cJSON_AddStringToObject(j, "metric", r->reg[i].metric);
        cJSON_AddItemToArray(ra, j);
    }
    cJSON *bu = cJSON_AddObjectToObject(o, "run_budget");
    jadd(bu, "total_budget_s", r->cfg.total_budget_s);
    cJSON_AddNumberToObject(bu, "variants_not_measured", r->n_budget_skipped);
    cJSON_AddNumberToObject(bu, "variants_without_optional_checks", r->n_budget_cut);
    cJSON *g = cJSON_AddObjectToObject(o, "verdict");
    cJSON_AddStringToObject(g, "result", r->n_pass == r->n_gates ? "PASS" : "FAIL");
    cJSON_AddNumberToObject(g, "gates_passed", r->n_pass);
    cJSON_AddNumberToObject(g, "gates_total", r->n_gates);
    cJSON_AddNumberToObject(g, "operations", (double)r->attempts);
    cJSON_AddNumberToObject(g, "errors", (double)r->failures);
    cJSON *ga = cJSON_AddArrayToObject(g, "gates");
    for (int i = 0; i < r->n_gates; i++) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "gate", r->gates[i].name);
        cJSON_AddBoolToObject(j, "pass", r->gates[i].pass);
        cJSON_AddStringToObject(j, "detail", r->gates[i].text);
        cJSON_AddItemToArray(ga, j);
    }
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    if (!txt) return -1;
    FILE *f = fopen(path, "w");
    int rc = -1;
    if (f) {
        rc = (fputs(txt, f) >= 0 && fputc('\n', f) != EOF) ? 0 : -1;
        if (fclose(f)) rc = -1;
    }
    free(txt);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* CSV: one row per measured series                                                          */
/* ---------------------------------------------------------------------------------------- */
static void csv_row(FILE *f, const char *suite, const char *model, const char *param,
                    const char *metric, const char *unit, const bs_summary *s)
{
    fprintf(f, "%s,%s,%s,%s,%s,%d,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n", suite, model,
            param, metric, unit, s->n, s->min, s->median, s->mean, s->stddev, s->p90, s->p95,
            s->p99, s->max, s->mean);
}

static void csv_value(FILE *f, const char *suite, const char *model, const char *param,
                      const char *metric, const char *unit, double v)
{
    bs_summary s;
    bs_summarize(&v, 1, &s);
    csv_row(f, suite, model, param, metric, unit, &s);
}

static int write_csv(const bn_run *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "suite,model,param,metric,unit,n,min,median,mean,stddev,p90,p95,p99,max,value\n");
    for (int i = 0; i < r->nv; i++) {
        const bn_variant *v = &r->v[i];
        if (v->skipped || v->budget_skipped) continue;
        csv_value(f, "load", v->name, v->kind, "load_cold", "ms", v->load_cold_ms);
        csv_row(f, "load", v->name, v->kind, "load", "ms", &v->s_load);
        csv_row(f, "latency", v->name, v->kind, "e2e", "ms", &v->s_e2e);
        csv_row(f, "latency", v->name, v->kind, "decode", "ms", &v->s_decode);
        csv_row(f, "latency", v->name, v->kind, "preprocess", "ms", &v->s_pre);
        csv_row(f, "latency", v->name, v->kind, "inference", "ms", &v->s_infer);
        csv_row(f, "latency", v->name, v->kind, "postprocess", "ms", &v->s_post);
        csv_value(f, "latency", v->name, v->kind, "throughput", "img/s", v->throughput);
        char rt[32];
        snprintf(rt, sizeof rt, "under %.0f ms", r->cfg.realtime_ms);
        csv_value(f, "latency", v->name, rt, "realtime_rate", "%", v->realtime_pct);
        csv_value(f, "memory", v->name, "load+1", "peak_rss", "MB", v->peak.peak_rss_mb);
        csv_value(f, "memory", v->name, "plan", "arena", "MB", v->arena_mb);
        csv_value(f, "memory", v->name, "plan", "activations", "MB", v->activations_mb);
        csv_value(f, "memory", v->name, "plan", "planner_saving", "%", v->planner_saving_pct);
        char p[32];
        snprintf(p, sizeof p, "batch=%d", v->batch.batch);
        csv_value(f, "memory", v->name, p, "batch_peak_rss", "MB", v->batch.peak_rss_mb);
        snprintf(p, sizeof p, "K=%d", v->conc.k);
        bs_summary cs = bn_series_summary(&v->conc.resp_ms);
        csv_row(f, "concurrency", v->name, p, "response", "ms", &cs);
    }
    for (int i = 0; i < r->n_img; i++) {
        const bn_imgsize *x = &r->img[i];
        char p[64];
        snprintf(p, sizeof p, "%dx%d %s %s", x->w, x->h, bn_content_name(x->content), x->format);
        csv_row(f, "image_size", x->model, p, "decode", "ms", &x->s_decode);
        csv_row(f, "image_size", x->model, p, "e2e", "ms", &x->s_e2e);
    }
    for (int i = 0; i < r->n_batch; i++) {
        const bn_batch *b = &r->batch[i];
        char p[32];
        snprintf(p, sizeof p, "batch=%d", b->r.batch);
        csv_value(f, "batch", b->model, p, "ms_per_image", "ms", b->r.ms_per_image);
        csv_value(f, "batch", b->model, p, "peak_rss", "MB", b->r.peak_rss_mb);
    }
    for (int i = 0; i < r->n_conc; i++) {
        const bn_conc *c = &r->conc[i];
        char p[32];
        snprintf(p, sizeof p, "K=%d", c->k);
        bs_summary cs = bn_series_summary(&c->resp_ms);
        csv_row(f, "concurrency", c->model, p, "response", "ms", &cs);
        csv_value(f, "concurrency", c->model, p, "throughput", "img/s", c->throughput);
    }
    for (int i = 0; i < r->n_leak; i++) {
        const bn_leak *l = &r->leak[i];
        csv_value(f, "leak", l->model, "rss", "slope", "KB/cycle", l->rss.fit.slope);
        csv_value(f, "leak", l->model, "live_bytes", "slope", "B/cycle", l->live.fit.slope);
        csv_value(f, "leak", l->model, "open_allocs", "slope", "1/cycle", l->allocs.fit.slope);
    }
    for (int i = 0; i < r->n_endur; i++) {
        const bn_endurance *e = &r->endur[i];
        bs_summary s = bn_series_summary(&e->lat_ms);
        csv_row(f, "endurance", e->model, "all", "e2e", "ms", &s);
        csv_value(f, "endurance", e->model, "drift", "slope", "ms/s", e->drift.slope);
    }
    for (int i = 0; i < r->n_reg; i++) {
        const bn_regression *g = &r->reg[i];
        csv_value(f, "regression", g->model, g->metric, "rel_change", "ratio", g->c.rel_change);
        csv_value(f, "regression", g->model, g->metric, "p_value", "p", g->c.mwu.p);
    }
    return fclose(f) ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* shared figures for Markdown and HTML                                                      */
/* ---------------------------------------------------------------------------------------- */
typedef struct {
    const char *gate;
    int pass, total;
} compliance;

static int compliance_rates(const bn_run *r, compliance *out)
{
    int n = 0;
    compliance lat = {"latency", 0, 0}, mem = {"memory", 0, 0}, bat = {"batch", 0, 0},
               con = {"concurrent", 0, 0}, reg = {"regression", 0, 0}, lod = {"load", 0, 0},
               rtm = {"realtime", 0, 0};
    for (int i = 0; i < r->nv; i++) {
        const bn_variant *v = &r->v[i];
        if (v->skipped || v->budget_skipped) continue;
        lat.total++;
        lat.pass += v->e2e.n > 0 && v->s_e2e.p95 < r->cfg.latency_p95_ms;
        mem.total++;
        mem.pass += v->peak.ok && v->peak.peak_rss_mb < r->cfg.memory_mb;
        lod.total++;
        lod.pass += v->load_cold_ms > 0 && v->load_cold_ms < v->load_limit_ms;
        rtm.total++;
        rtm.pass += v->e2e.n > 0 && v->realtime_pct >= r->cfg.realtime_rate;
        if (r->cfg.gate_batch > 0 && v->batch_n > 0) {
            bat.total++;
            bat.pass += v->batch.ok && v->batch.peak_rss_mb < r->cfg.batch_memory_mb;
        }
        if (r->cfg.gate_concurrency > 0 && v->conc_requests > 0) {
            con.total++;
            con.pass += v->conc.resp_ms.n > 0 && !v->conc.errors && !v->conc.mismatches &&
                        v->conc.s.p95 < r->cfg.concurrent_p95_ms;
        }
    }
    for (int i = 0; i < r->n_batch; i++) {
        bat.total++;
        bat.pass += r->batch[i].r.ok && r->batch[i].r.peak_rss_mb < r->cfg.batch_memory_mb;
    }
    for (int i = 0; i < r->n_conc; i++) {
        const bn_conc *c = &r->conc[i];
        con.total++;
        con.pass += c->resp_ms.n > 0 && !c->errors && !c->mismatches && c->s.p95 < r->cfg.concurrent_p95_ms;
    }
    for (int i = 0; i < r->n_reg; i++) {
        reg.total++;
        reg.pass += !(r->reg[i].c.regression && r->reg[i].c.level == BS_LEVEL_CRITICAL);
    }
    out[n++] = lat;
    out[n++] = mem;
    out[n++] = bat;
    out[n++] = con;
    out[n++] = (compliance){"success", (int)(r->attempts - r->failures), (int)r->attempts};
    out[n++] = reg;
    out[n++] = lod;
    out[n++] = rtm;
    return n;
}

/* recommendations drawn from the data; each is one sentence */
static int recommendations(const bn_run *r, char rec[][768], int max)
{
    int n = 0;
    const bn_config *c = &r->cfg;
    /* latency: one line for the variants over the gate, one for those with little headroom */
    char over[400] = "", tight[400] = "", noisy[400] = "";
    int n_over = 0, n_tight = 0, n_noisy = 0;
    double share_min = 100, share_max = 0;
    for (int i = 0; i < r->nv; i++) {
        const bn_variant *v = &r->v[i];
        if (v->skipped || v->e2e.n == 0) continue;
        double share = v->s_e2e.median > 0 ? 100 * v->s_infer.median / v->s_e2e.median : 0;
        size_t l;
        if (v->s_e2e.p95 >= c->latency_p95_ms) {
            l = strlen(over);
            snprintf(over + l, sizeof over - l, "%s%s %.0f ms", n_over ? ", " : "", v->name, v->s_e2e.p95);
            n_over++;
            if (share < share_min) share_min = share;
            if (share > share_max) share_max = share;
        } else if (v->s_e2e.p95 >= 0.8 * c->latency_p95_ms) {
            l = strlen(tight);
            snprintf(tight + l, sizeof tight - l, "%s%s %.0f ms", n_tight ? ", " : "", v->name, v->s_e2e.p95);
            n_tight++;
        }
        if (v->s_e2e.median > 0 && v->s_e2e.stddev / v->s_e2e.median > 0.10) {
            l = strlen(noisy);
            snprintf(noisy + l, sizeof noisy - l, "%s%s %.0f%%", n_noisy ? ", " : "", v->name,
                     100 * v->s_e2e.stddev / v->s_e2e.median);
            n_noisy++;
        }
    }
    if (n_over && n < max)
        snprintf(rec[n++], 768,
                 "%d variant(s) miss the latency gate (p95 >= %.0f ms: %.300s). Inference is "
                 "%.0f-%.0f%% of their end-to-end time, so the fix is in the kernels (make bench-ops, "
                 "OCELLUS_PROFILE=1), or a smaller input size or scale, or more cores.",
                 n_over, c->latency_p95_ms, over, share_min, share_max);
    if (n_tight && n < max)
        snprintf(rec[n++], 768, "Less than 20%% latency headroom (p95 of %.0f ms): %.350s; a slower "
                                "host or a busy neighbour would fail the gate.", c->latency_p95_ms, tight);
    if (n_noisy && n < max)
        snprintf(rec[n++], 768, "Noisy latency (stddev above 10%% of the median): %.350s. Compare "
                                "medians rather than single runs, and take baselines on a quiet host.",
                 noisy);
    for (int i = 0; i < r->nv && n < max; i++) {
        const bn_variant *v = &r->v[i];
        if (v->skipped || v->e2e.n == 0) continue;
        if (v->peak.ok && v->peak.peak_rss_mb >= 0.8 * c->memory_mb)
            snprintf(rec[n++], 768,
                     "%s peaks at %.0f MB (limit %.0f MB; %.0f MB of it is the activation arena, "
                     "%.0f MB the model file): %s.", v->name, v->peak.peak_rss_mb, c->memory_mb,
                     v->arena_mb, v->file_mb,
                     v->peak.peak_rss_mb >= c->memory_mb ? "over the limit: check that prepacked "
                     "weights replace the mapped ones and that the planner reuses buffers"
                                                         : "close to the limit");
        if (n < max && v->s_e2e.median > 0 && v->s_decode.median / v->s_e2e.median > 0.2)
            snprintf(rec[n++], 768, "%s spends %.0f%% of its end-to-end time decoding the image: "
                                    "for this model size the decoder, not the network, matters.",
                     v->name, 100 * v->s_decode.median / v->s_e2e.median);
    }
    /* quick-mode concurrency: K callers sharing the cores against one caller using them all */
    char cgain[400] = "";
    int n_cgain = 0;
    for (int i = 0; i < r->nv; i++) {
        const bn_variant *v = &r->v[i];
        if (v->skipped || v->e2e.n == 0 || v->conc.resp_ms.n == 0 || v->throughput <= 0) continue;
        /* only a fair comparison: the K callers together use no more threads than one caller */
        if (v->conc.k * v->conc.threads_per_session > r->env.threads) continue;
        if (v->conc.throughput > 1.15 * v->throughput) {
            size_t l = strlen(cgain);
            snprintf(cgain + l, sizeof cgain - l, "%s%s %.2f vs %.2f img/s", n_cgain ? ", " : "",
                     v->name, v->conc.throughput, v->throughput);
            n_cgain++;
        }
    }
    if (n_cgain && n < max)
        snprintf(rec[n++], 768, "%d concurrent callers serve more images per second than one caller "
                                "(%.330s): for throughput, run several sessions with fewer threads each.",
                 r->cfg.gate_concurrency, cgain);
    /* concurrency: does splitting the cores between callers help throughput? */
    double t1 = 0, tbest = 0;
    int kbest = 0, fair_k = 0;
    const char *cm = "";
    for (int i = 0; i < r->n_conc; i++) {
        if (r->conc[i].k == 1) t1 = r->conc[i].throughput;
        /* fair comparisons only: the K callers together use no more threads than one caller */
        if (r->conc[i].k * r->conc[i].threads_per_session > r->env.threads) continue;
        if (r->conc[i].k > 1) fair_k++;
        if (r->conc[i].throughput > tbest) {
            tbest = r->conc[i].throughput;
            kbest = r->conc[i].k;
            cm = r->conc[i].model;
        }
    }
    if (n < max && t1 > 0 && kbest > 1 && tbest > 1.1 * t1)
        snprintf(rec[n++], 768, "%s: %d concurrent sessions give %.2f img/s against %.2f with one "
                                "session using every core (+%.0f%%): serve with several sessions "
                                "of fewer threads each.", cm, kbest, tbest, t1, 100 * (tbest / t1 - 1));
    else if (n < max && t1 > 0 && fair_k > 0)
        snprintf(rec[n++], 768, "%s: concurrent sessions do not raise throughput above one session "
                                "using every core (%.2f img/s): the kernels already use the cores.",
                 r->n_conc ? r->conc[0].model : "", t1);
    for (int i = 0; i < r->n_conc && n < max; i++)
        if (r->conc[i].mismatches)
            snprintf(rec[n++], 768, "%s K=%d: %d of %d concurrent results differ from the "
                                    "single-session result with the same thread count: a data race "
                                    "or shared scratch buffer in the library.", r->conc[i].model,
                     r->conc[i].k, r->conc[i].mismatches, r->conc[i].compared);
    /* batching */
    if (r->n_batch >= 2 && n < max) {
        const bn_batch *b1 = NULL, *bb = NULL;
        for (int i = 0; i < r->n_batch; i++) {
            if (!r->batch[i].r.ok) continue;
            if (r->batch[i].r.batch == 1) b1 = &r->batch[i];
            if (!bb || r->batch[i].r.ms_per_image < bb->r.ms_per_image) bb = &r->batch[i];
        }
        if (b1 && bb && bb != b1 && bb->r.ms_per_image < 0.9 * b1->r.ms_per_image)
            snprintf(rec[n++], 768, "%s: batches of %d cost %.1f ms per image against %.1f ms "
                                    "alone (-%.0f%%), at %.0f MB peak: batch offline work.",
                     bb->model, bb->r.batch, bb->r.ms_per_image, b1->r.ms_per_image,
                     100 * (1 - bb->r.ms_per_image / b1->r.ms_per_image), bb->r.peak_rss_mb);
        else if (b1)
            snprintf(rec[n++], 768, "%s: batching does not lower the time per image (%.1f ms alone): "
                                    "the kernels are already compute-bound at batch 1; keep "
                                    "batches small to save memory.", b1->model, b1->r.ms_per_image);
    }
    for (int i = 0; i < r->n_leak && n < max; i++) {
        const bn_leak *l = &r->leak[i];
        snprintf(rec[n++], 768, "%s leak check: %s (RSS %+.1f KB/cycle, p=%.2g; library live "
                                "bytes %+.1f B/cycle over %d cycles).", l->model,
                 l->leak ? "memory grows with every load/run/free cycle: run make valgrind / make "
                           "asan on the load path" : "flat", l->rss.fit.slope, l->rss.fit.p,
                 l->live.fit.slope, l->cycles);
    }
    for (int i = 0; i < r->n_endur && n < max; i++) {
        const bn_endurance *e = &r->endur[i];
        if (fabs(e->drift_pct) > 10)
            snprintf(rec[n++], 768, "%s endurance: latency drifted %+.1f%% from the first to the "
                                    "last 10%% of the run (thermal throttling or growing state).",
                     e->model, e->drift_pct);
    }
    int synth = 0;
    for (int i = 0; i < r->nv; i++) synth += !r->v[i].skipped && strcmp(r->v[i].kind, "synthetic") == 0;
    if (synth && n < max)
        snprintf(rec[n++], 768, "%d variant(s) ran on synthetic weights: latency and memory do not "
                                "depend on weight values, but postprocessing time depends on how "
                                "many boxes pass the threshold, which differs from real weights.",
                 synth);
    if (r->env.warnings[0] && n < max) snprintf(rec[n++], 768, "Host: %.700s.", r->env.warnings);
    return n;
}

/* ---------------------------------------------------------------------------------------- */
/* Markdown                                                                                  */
/* ---------------------------------------------------------------------------------------- */
static const char *nz(const char *s) { return s && *s ? s : "-"; }

static int write_md(const bn_run *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    const bn_env *e = &r->env;
    fprintf(f, "# Ocellus benchmark report (%s mode)\n\n", r->mode);
    fprintf(f, "%s, commit `%s`%s, host `%s`, %s, %d cores, %d threads, ISA path %s, OpenBLAS "
               "core %s. Run took %.1f s.\n\n", e->timestamp, e->commit,
            e->dirty ? " (with uncommitted changes)" : "", e->host, nz(e->cpu_model), e->cores,
            e->threads, e->isa, e->openblas_core, r->wall_s);
    fprintf(f, "## Verdict\n\n```\n");
    bn_print_verdict(r, f);
    fprintf(f, "```\n\n");
    compliance cr[12];
    int nc = compliance_rates(r, cr);
    fprintf(f, "## Compliance per gate\n\n| gate | passing | of | rate |\n|---|---:|---:|---:|\n");
    for (int i = 0; i < nc; i++) {
        if (cr[i].total)
            fprintf(f, "| %s | %d | %d | %.1f%% |\n", cr[i].gate, cr[i].pass, cr[i].total,
                    100.0 * cr[i].pass / cr[i].total);
        else
            fprintf(f, "| %s | - | 0 | - |\n", cr[i].gate);
    }
    fprintf(f, "\n(latency, memory, batch, concurrent, load: measurements under their limit; realtime: "
               "variants whose rate of runs under the target is met; success: "
               "operations without error; regression: comparisons without a critical regression.)\n\n");
    fprintf(f, "## Per variant (single image, end to end)\n\n");
    int fullm = strcmp(r->mode, "full") == 0;
    fprintf(f, "Rounds are chosen per variant: at least %d, at most %d, stopping once %.0f s of "
               "timed rounds have run (%s mode), after %d warm-up run(s). Test image: %s.\n\n",
            fullm ? r->cfg.full_min_rounds : r->cfg.min_rounds,
            fullm ? r->cfg.full_max_rounds : r->cfg.max_rounds,
            fullm ? r->cfg.full_budget_s : r->cfg.budget_s, r->mode, r->cfg.warmup, r->image_desc);
    const char *last_arch = "";
    for (int i = 0; i < r->nv; i++) {
        const bn_variant *v = &r->v[i];
        const char *arch = v->arch[0] ? v->arch : v->name;
        if (strncmp(arch, last_arch, strlen(arch)) != 0 || !last_arch[0]) {
            fprintf(f, "\n### %s\n\n", arch);
            fprintf(f, "| variant | weights | rounds | cold load ms | load ms | min | median | mean | "
                       "stddev | p90 | p95 | p99 | decode | pre | infer | post | throughput img/s | "
                       "under %.0f ms | peak MB | arena MB | activations MB | planner saving | "
                       "batch %d MB | K=%d p95 |\n", r->cfg.realtime_ms, r->cfg.gate_batch,
                    r->cfg.gate_concurrency);
            fprintf(f, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
                       "---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            last_arch = arch;
        }
        if (v->skipped || v->budget_skipped) {
            fprintf(f, "| %s | %s | | | | | | | | | | | | | | | | | | | | | | |\n", v->name,
                    v->skipped ? "no file" : "not measured (run budget)");
            continue;
        }
        fprintf(f, "| %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f "
                   "| %.1f | %.1f | %.1f | %.1f | %.2f | %.1f%% | %.1f | %.1f | %.1f | %.1f%% | %.1f "
                   "| %.1f |\n",
                v->name, nz(v->kind), v->e2e.n, v->load_cold_ms, v->s_load.median, v->s_e2e.min,
                v->s_e2e.median, v->s_e2e.mean, v->s_e2e.stddev, v->s_e2e.p90, v->s_e2e.p95,
                v->s_e2e.p99, v->s_decode.median, v->s_pre.median, v->s_infer.median,
                v->s_post.median, v->throughput, v->realtime_pct, v->peak.peak_rss_mb,
                v->arena_mb, v->activations_mb, v->planner_saving_pct, v->batch.peak_rss_mb,
                v->conc.s.p95);
    }
    fprintf(f, "\n(throughput = 1000 / mean end-to-end ms; under %.0f ms = share of the single-image "
               "runs under the real-time target; planner saving = 1 - arena / activations, the "
               "activations' own bytes as if none shared memory; cold load = from a file dropped "
               "from the page cache.)\n\n", r->cfg.realtime_ms);
    if (r->n_budget_skipped || r->n_budget_cut)
        fprintf(f, "Run budget (%.0f s): %d variant(s) not measured, %d without the concurrency "
                   "and batch checks.\n\n", r->cfg.total_budget_s, r->n_budget_skipped,
                r->n_budget_cut);
    for (int i = 0; i < r->nv; i++) {
        if (r->v[i].error[0]) fprintf(f, "- **%s error**: %s\n", r->v[i].name, r->v[i].error);
        if (r->v[i].note[0]) fprintf(f, "- %s: %s\n", r->v[i].name, r->v[i].note);
    }

    if (r->n_img) {
        fprintf(f, "\n## Image sizes (%s, median ms over %d rounds)\n\n", r->img[0].model, r->cfg.image_rounds);
        fprintf(f, "| size | content | format | file KB | decode | end to end |\n|---|---|---|---:|---:|---:|\n");
        for (int i = 0; i < r->n_img; i++) {
            const bn_imgsize *x = &r->img[i];
            fprintf(f, "| %dx%d | %s | %s | %.1f | %.2f | %.1f |%s%s\n", x->w, x->h,
                    bn_content_name(x->content), x->format, x->file_kb, x->s_decode.median,
                    x->s_e2e.median, x->error[0] ? " error: " : "", x->error);
        }
    }
    if (r->n_batch) {
        fprintf(f, "\n## Batch scaling (raw tensors through oc_session_run, fresh process each)\n\n");
        fprintf(f, "| model | batch | ms / image | run ms | peak MB | arena MB | status |\n|---|---:|---:|---:|---:|---:|---|\n");
        for (int i = 0; i < r->n_batch; i++) {
            const bn_batch *b = &r->batch[i];
            fprintf(f, "| %s | %d | %.1f | %.1f | %.1f | %.1f | %s |\n", b->model, b->r.batch,
                    b->r.ms_per_image, b->r.run_ms, b->r.peak_rss_mb, b->r.arena_mb,
                    b->r.ok ? "ok" : b->r.error);
        }
    }
    if (r->n_conc) {
        fprintf(f, "\n## Concurrency (K threads, one shared model, one session each)\n\n");
        fprintf(f, "| model | K | threads/session | requests | p50 ms | p95 ms | p99 ms | img/s | "
                   "bit-identical | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|---|---:|\n");
        for (int i = 0; i < r->n_conc; i++) {
            const bn_conc *c = &r->conc[i];
            fprintf(f, "| %s | %d | %d | %d | %.1f | %.1f | %.1f | %.2f | %d/%d | %d |\n", c->model,
                    c->k, c->threads_per_session, c->k * c->requests, c->s.median, c->s.p95,
                    c->s.p99, c->throughput, c->compared - c->mismatches, c->compared, c->errors);
        }
    }
    fprintf(f, "\n## Leak analysis\n\n");
    if (!r->n_leak)
        fprintf(f, "Not run in quick mode (make bench-full runs load/run/free cycles).\n");
    for (int i = 0; i < r->n_leak; i++) {
        const bn_leak *l = &r->leak[i];
        fprintf(f, "%s, %d load/run/free cycles (after 2 settling cycles), least-squares slope "
                   "and its p-value:\n\n", l->model, l->cycles);
        fprintf(f, "| series | first | last | slope / cycle | p | tolerance | verdict |\n|---|---:|---:|---:|---:|---:|---|\n");
        const struct { const char *n; const bn_series *s; const bs_slope_result *t; double tol; } rows[] = {
            {"RSS (KB)", &l->rss_kb, &l->rss, l->rss_tol_kb},
            {"library live bytes", &l->live_bytes, &l->live, 0},
            {"open allocations", &l->open_allocs, &l->allocs, 0},
        };
        for (int k = 0; k < 3; k++)
            fprintf(f, "| %s | %.0f | %.0f | %+.2f | %.3g | %.0f | %s |\n", rows[k].n,
                    rows[k].s->n ? rows[k].s->v[0] : NAN, rows[k].s->n ? rows[k].s->v[rows[k].s->n - 1] : NAN,
                    rows[k].t->fit.slope, rows[k].t->fit.p, rows[k].tol, rows[k].t->leak ? "LEAK" : "flat");
        if (l->error[0]) fprintf(f, "\nError: %s\n", l->error);
    }
    if (r->n_endur) {
        fprintf(f, "\n## Endurance\n\n");
        for (int i = 0; i < r->n_endur; i++) {
            const bn_endurance *x = &r->endur[i];
            bs_summary s = bn_series_summary(&x->lat_ms);
            fprintf(f, "%s: %d inferences in %.0f s; median %.1f ms, p99 %.1f ms; first-10%% median "
                       "%.1f ms, last-10%% median %.1f ms (drift %+.1f%%); slope %+.4f ms per second "
                       "of run (p=%.3g).\n", x->model, x->lat_ms.n, x->duration_s, s.median, s.p99,
                    x->first_median, x->last_median, x->drift_pct, x->drift.slope, x->drift.p);
        }
    }
    fprintf(f, "\n## Regressions against the baseline\n\n");
    if (!r->baseline_found)
        fprintf(f, "%s%s\n", r->baseline_note[0] ? r->baseline_note : "No baseline for this host.",
                r->baseline_saved ? " This run was saved as the baseline." : "");
    else {
        fprintf(f, "Baseline `%s`. A regression needs a median change beyond %.0f%% and p < %.2g "
                   "(two-sided Mann-Whitney U). Levels: minor 10-25%%, major 25-50%%, critical "
                   ">50%%.\n\n", r->baseline_path, 100 * r->cfg.regression_threshold, r->cfg.alpha);
        fprintf(f, "| model | metric | base median | current median | change | U | p | verdict |\n|---|---|---:|---:|---:|---:|---:|---|\n");
        for (int i = 0; i < r->n_reg; i++) {
            const bn_regression *g = &r->reg[i];
            fprintf(f, "| %s | %s | %.2f | %.2f | %+.1f%% | %.1f | %.3g | %s |\n", g->model, g->metric,
                    g->c.median_base, g->c.median_cur, 100 * g->c.rel_change, g->c.mwu.u1, g->c.mwu.p,
                    g->c.regression ? bs_level_name(g->c.level) : g->c.improvement ? "improved"
                    : g->c.significant ? "significant, within threshold" : "no significant change");
        }
    }
    char rec[32][768];
    int nr = recommendations(r, rec, 32);
    fprintf(f, "\n## Recommendations\n\n");
    for (int i = 0; i < nr; i++) fprintf(f, "- %s\n", rec[i]);
    if (!nr) fprintf(f, "- Nothing stands out: every gate passes with headroom.\n");
    fprintf(f, "\n## Environment\n\n");
    fprintf(f, "- CPU: %s (%s); %d cores; %.0f MB RAM; %s\n", nz(e->cpu_model), nz(e->cpu_flags_simd),
            e->cores, e->mem_total_mb, e->kernel);
    fprintf(f, "- Governor: %s; MHz %.0f (max %.0f)\n", e->governor, e->mhz_cur, e->mhz_max);
    fprintf(f, "- Compiler: %s; flags: `%s`\n", e->compiler, e->cflags);
    fprintf(f, "- OpenBLAS: %s (%s)\n", e->openblas_core, e->openblas_config);
    fprintf(f, "- Warnings: %s\n", e->warnings[0] ? e->warnings : "none");
    return fclose(f) ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* HTML with inline SVG                                                                      */
/* ---------------------------------------------------------------------------------------- */
static void hesc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static double nice_max(double v)
{
    if (!(v > 0)) return 1;
    double p = pow(10, floor(log10(v)));
    double m = v / p;
    double n = m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10;
    return n * p;
}

#define MAXSER 4
typedef struct {
    const char *title, *unit;
    int n;                 /* categories */
    const char **labels;
    int nser;
    const char *ser_names[MAXSER];
    const double *vals[MAXSER]; /* vals[s][i], NAN = missing */
    double limit;          /* < 0: none */
    const char *limit_label;
    const double *marks;   /* optional tick per category (e.g. the median), NULL = none */
    const char *marks_label;
} chart;

static const char *PALETTE[MAXSER] = {"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1"};

static void svg_bars(FILE *f, const chart *c)
{
    const int W = 1000, H = 350, L = 70, R = 20, T = 60, B = 70;
    double dmax = 0;
    for (int s = 0; s < c->nser; s++)
        for (int i = 0; i < c->n; i++)
            if (isfinite(c->vals[s][i]) && c->vals[s][i] > dmax) dmax = c->vals[s][i];
    /* a limit far above every bar would flatten them: scale to the data, say so in the legend */
    int limit_off = c->limit > 0 && dmax < 0.25 * c->limit;
    double mx = (c->limit > 0 && !limit_off && c->limit > dmax) ? c->limit : dmax;
    mx = nice_max(mx * 1.05);
    double pw = W - L - R, ph = H - T - B;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 %d %d' width='100%%' role='img'>\n", W, H);
    fprintf(f, "<text x='%d' y='22' font-size='16' font-weight='bold'>", L);
    hesc(f, c->title);
    fprintf(f, "</text>\n");
    for (int k = 0; k <= 5; k++) { /* grid */
        double y = T + ph - ph * k / 5.0;
        fprintf(f, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#ddd'/>", L, y, W - R, y);
        fprintf(f, "<text x='%d' y='%.1f' font-size='11' text-anchor='end'>%g</text>\n", L - 6, y + 4, mx * k / 5.0);
    }
    fprintf(f, "<text x='14' y='%.1f' font-size='12' transform='rotate(-90 14 %.1f)' text-anchor='middle'>", T + ph / 2, T + ph / 2);
    hesc(f, c->unit);
    fprintf(f, "</text>\n");
    double gw = c->n > 0 ? pw / c->n : pw;
    double bw = gw * 0.8 / (c->nser > 0 ? c->nser : 1);
    if (bw > 70) bw = 70; /* few categories: keep bars narrow */
    for (int i = 0; i < c->n; i++) {
        double gx = L + gw * i + (gw - bw * c->nser) / 2;
        for (int s = 0; s < c->nser; s++) {
            double v = c->vals[s][i];
            double x = gx + bw * s;
            if (!isfinite(v)) {
                fprintf(f, "<text x='%.1f' y='%.1f' font-size='10' text-anchor='middle' fill='#999'>n/a</text>", x + bw / 2, T + ph - 4);
                continue;
            }
            double h = ph * v / mx;
            /* a single series turns red over the limit; several keep their legend colours */
            const char *col = (c->nser == 1 && c->limit > 0 && v >= c->limit) ? "#e15759" : PALETTE[s % MAXSER];
            fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'><title>", x, T + ph - h, bw * 0.92, h, col);
            hesc(f, c->labels[i]);
            fprintf(f, " %s: %.4g %s</title></rect>", c->nser > 1 ? c->ser_names[s] : "", v, c->unit);
            if (c->nser <= 2 && c->n <= 24)
                fprintf(f, v >= 1000 ? "<text x='%.1f' y='%.1f' font-size='10' text-anchor='middle'>%.0f</text>"
                                     : "<text x='%.1f' y='%.1f' font-size='10' text-anchor='middle'>%.4g</text>",
                        x + bw * 0.46, T + ph - h - 3, v);
            if (c->marks && isfinite(c->marks[i]) && s == 0) {
                double my = T + ph - ph * c->marks[i] / mx;
                fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#222' stroke-width='2'/>", x, my, x + bw * 0.92, my);
            }
        }
        fprintf(f, "<text x='%.1f' y='%d' font-size='11' text-anchor='end' transform='rotate(-30 %.1f %d)'>", L + gw * i + gw / 2, T + (int)ph + 14, L + gw * i + gw / 2, T + (int)ph + 14);
        hesc(f, c->labels[i]);
        fprintf(f, "</text>\n");
    }
    if (limit_off) {
        fprintf(f, "<text x='%d' y='43' font-size='12' fill='#e15759' text-anchor='end'>", W - R);
        hesc(f, c->limit_label);
        fprintf(f, " (off the scale: every bar is under a quarter of it)</text>\n");
    } else if (c->limit > 0) {
        double y = T + ph - ph * c->limit / mx;
        fprintf(f, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#e15759' stroke-width='2' stroke-dasharray='6 4'/>", L, y, W - R, y);
        fprintf(f, "<line x1='%d' y1='38' x2='%d' y2='38' stroke='#e15759' stroke-width='2' stroke-dasharray='6 4'/>", W - R - 150, W - R - 124);
        fprintf(f, "<text x='%d' y='43' font-size='12' fill='#e15759'>", W - R - 118);
        hesc(f, c->limit_label);
        fprintf(f, "</text>\n");
    }
    /* legend */
    int lx = L;
    if (c->nser > 1)
        for (int s = 0; s < c->nser; s++) {
            fprintf(f, "<rect x='%d' y='32' width='12' height='12' fill='%s'/><text x='%d' y='43' font-size='12'>", lx, PALETTE[s], lx + 16);
            hesc(f, c->ser_names[s]);
            fprintf(f, "</text>");
            lx += 30 + 8 * (int)strlen(c->ser_names[s]);
        }
    if (c->marks) {
        fprintf(f, "<line x1='%d' y1='38' x2='%d' y2='38' stroke='#222' stroke-width='2'/><text x='%d' y='43' font-size='12'>", lx, lx + 14, lx + 18);
        hesc(f, c->marks_label);
        fprintf(f, "</text>");
    }
    fprintf(f, "</svg>\n");
}

static void svg_line(FILE *f, const char *title, const char *xunit, const char *yunit,
                     const double *x, const double *y, int n)
{
    const int W = 1000, H = 260, L = 80, R = 20, T = 36, B = 44;
    if (n < 1) return;
    double xmin = x[0], xmax = x[0], ymin = y[0], ymax = y[0];
    for (int i = 1; i < n; i++) {
        xmin = fmin(xmin, x[i]); xmax = fmax(xmax, x[i]);
        ymin = fmin(ymin, y[i]); ymax = fmax(ymax, y[i]);
    }
    if (xmax <= xmin) xmax = xmin + 1;
    double pad = (ymax - ymin) * 0.1;
    if (pad < fabs(ymax) * 1e-3 + 1e-9) pad = fabs(ymax) * 0.01 + 1; /* a flat series */
    ymin -= pad;
    ymax += pad;
    double pw = W - L - R, ph = H - T - B;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 %d %d' width='100%%' role='img'>\n", W, H);
    fprintf(f, "<text x='%d' y='22' font-size='16' font-weight='bold'>", L);
    hesc(f, title);
    fprintf(f, "</text>\n");
    for (int k = 0; k <= 4; k++) {
        double yy = T + ph - ph * k / 4.0;
        fprintf(f, "<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#ddd'/><text x='%d' y='%.1f' font-size='11' text-anchor='end'>%.6g</text>\n",
                L, yy, W - R, yy, L - 6, yy + 4, ymin + (ymax - ymin) * k / 4.0);
        double xx = L + pw * k / 4.0;
        fprintf(f, "<text x='%.1f' y='%d' font-size='11' text-anchor='middle'>%.4g</text>", xx, H - B + 16, xmin + (xmax - xmin) * k / 4.0);
    }
    fprintf(f, "<text x='%.1f' y='%d' font-size='12' text-anchor='middle'>", L + pw / 2, H - 6);
    hesc(f, xunit);
    fprintf(f, "</text><text x='14' y='%.1f' font-size='12' transform='rotate(-90 14 %.1f)' text-anchor='middle'>", T + ph / 2, T + ph / 2);
    hesc(f, yunit);
    fprintf(f, "</text>\n<polyline fill='none' stroke='#4e79a7' stroke-width='1.5' points='");
    for (int i = 0; i < n; i++)
        fprintf(f, "%.1f,%.1f ", L + pw * (x[i] - xmin) / (xmax - xmin), T + ph - ph * (y[i] - ymin) / (ymax - ymin));
    fprintf(f, "'/>\n</svg>\n");
}

/* Several series over the same x categories (runs), one line and colour each, with a legend;
 * NAN values leave a gap. */
static const char *LINE_PALETTE[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                     "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
                                     "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b"};
#define N_LINE_PALETTE ((int)(sizeof LINE_PALETTE / sizeof LINE_PALETTE[0]))

static void svg_multiline(FILE *f, const char *title, const char *yunit, const char **xlabels,
                          int nx, const char (*names)[64], int ns, const double (*vals)[BN_TREND_MAX_RUNS])
{
    const int W = 1000, L = 110, R = 150, T = 40, B = 90;
    int H = 380;
    if (T + 16 * ns + 20 > H - B) H = T + 16 * ns + 20 + B; /* room for the legend */
    double ymax = 0;
    for (int s = 0; s < ns; s++)
        for (int i = 0; i < nx; i++)
            if (isfinite(vals[s][i]) && vals[s][i] > ymax) ymax = vals[s][i];
    ymax = nice_max(ymax * 1.05);
    double pw = W - L - R, ph = H - T - B;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 %d %d' width='100%%' role='img'>\n", W, H);
    fprintf(f, "<text x='%d' y='22' font-size='16' font-weight='bold'>", L);
    hesc(f, title);
    fprintf(f, "</text>\n");
    for (int k = 0; k <= 5; k++) {
        double y = T + ph - ph * k / 5.0;
        fprintf(f, "<line x1='%d' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/><text x='%d' y='%.1f' "
                   "font-size='11' text-anchor='end'>%g</text>\n", L, y, L + pw, y, L - 6, y + 4,
                ymax * k / 5.0);
    }
    fprintf(f, "<text x='14' y='%.1f' font-size='12' transform='rotate(-90 14 %.1f)' text-anchor='middle'>", T + ph / 2, T + ph / 2);
    hesc(f, yunit);
    fprintf(f, "</text>\n");
    double dx = nx > 1 ? pw / (nx - 1) : 0;
    for (int i = 0; i < nx; i++) {
        double x = nx > 1 ? L + dx * i : L + pw / 2;
        fprintf(f, "<text x='%.1f' y='%.1f' font-size='10' text-anchor='end' transform='rotate(-40 %.1f %.1f)'>",
                x, T + ph + 14, x, T + ph + 14);
        hesc(f, xlabels[i]);
        fprintf(f, "</text>\n");
    }
    for (int s = 0; s < ns; s++) {
        const char *col = LINE_PALETTE[s % N_LINE_PALETTE];
        int open = 0;
        for (int i = 0; i < nx; i++) {
            double v = vals[s][i];
            double x = nx > 1 ? L + dx * i : L + pw / 2;
            if (!isfinite(v)) {
                if (open) fprintf(f, "'/>\n");
                open = 0;
                continue;
            }
            double y = T + ph - ph * v / ymax;
            if (!open) fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='2' points='", col);
            open = 1;
            fprintf(f, "%.1f,%.1f ", x, y);
        }
        if (open) fprintf(f, "'/>\n");
        for (int i = 0; i < nx; i++) { /* a dot per run, with its value on hover */
            double v = vals[s][i];
            if (!isfinite(v)) continue;
            double x = nx > 1 ? L + dx * i : L + pw / 2;
            fprintf(f, "<circle cx='%.1f' cy='%.1f' r='3' fill='%s'><title>", x, T + ph - ph * v / ymax, col);
            hesc(f, names[s]);
            fprintf(f, " ");
            hesc(f, xlabels[i]);
            fprintf(f, ": %.4g %s</title></circle>", v, yunit);
        }
        fprintf(f, "<rect x='%.1f' y='%d' width='12' height='3' fill='%s'/><text x='%.1f' y='%d' font-size='11'>",
                L + pw + 12, T + 16 * s + 4, col, L + pw + 28, T + 16 * s + 9);
        hesc(f, names[s]);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</svg>\n");
}

static void html_table_row(FILE *f, const char **cells, int n, int header);

/* latency and memory per variant across this host's saved runs (trend.c), with commits */
static void write_trend_html(FILE *f, const bn_run *r)
{
    const bn_trend *t = r->trend;
    fprintf(f, "<section id='trend'><h2>Trend over this host's runs</h2>\n");
    if (!t || t->nruns < 2) {
        fprintf(f, "<p class='small'>No earlier run of this host (same machine, CPU, cores, ISA "
                   "path and threads) in <code>");
        hesc(f, r->cfg.results_dir);
        fprintf(f, "</code>: the trend starts with this run.</p></section>\n");
        return;
    }
    const char *xl[BN_TREND_MAX_RUNS];
    char xb[BN_TREND_MAX_RUNS][48];
    for (int i = 0; i < t->nruns; i++) {
        /* "2026-12-04T17:20:00Z" -> "12-04 17:20 a229312" */
        snprintf(xb[i], sizeof xb[i], "%.5s %.5s %.7s", t->timestamp[i] + 5, t->timestamp[i] + 11,
                 t->commit[i]);
        xl[i] = xb[i];
    }
    fprintf(f, "<p class='small'>%d runs of this host (machine %.8s, ", t->nruns, r->env.machine_id);
    hesc(f, r->env.cpu_model);
    fprintf(f, ", %d cores, ISA %s, %d threads), oldest first; the last is this run. Each label "
               "is the run's date, time (UTC) and commit.</p>\n", r->env.cores, r->env.isa,
            r->env.threads);
    svg_multiline(f, "Median end-to-end latency per variant across runs", "ms", xl, t->nruns,
                  t->variant, t->nvar, t->median_ms);
    svg_multiline(f, "Peak RSS (load + one inference) per variant across runs", "MB", xl,
                  t->nruns, t->variant, t->nvar, t->peak_mb);
    fprintf(f, "<table>");
    const char *h[] = {"run (UTC)", "commit", "mode", "load average at start"};
    html_table_row(f, h, 4, 1);
    for (int i = 0; i < t->nruns; i++) {
        char la[32];
        if (isfinite(t->load_start[i])) snprintf(la, sizeof la, "%.2f", t->load_start[i]);
        else snprintf(la, sizeof la, "-");
        const char *cells[] = {t->timestamp[i], t->commit[i], t->mode[i], la};
        html_table_row(f, cells, 4, 0);
    }
    fprintf(f, "</table></section>\n");
}

static void html_table_row(FILE *f, const char **cells, int n, int header)
{
    fputs("<tr>", f);
    for (int i = 0; i < n; i++) {
        fputs(header ? "<th>" : "<td>", f);
        hesc(f, cells[i]);
        fputs(header ? "</th>" : "</td>", f);
    }
    fputs("</tr>\n", f);
}

static int write_html(const bn_run *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    const bn_env *e = &r->env;
    const bn_config *c = &r->cfg;
    int pass = r->n_pass == r->n_gates;
    fprintf(f, "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>\n<title>Ocellus benchmark %s</title>\n", e->timestamp);
    fprintf(f, "<style>body{font-family:sans-serif;margin:24px;max-width:1100px;color:#222}"
               "h1{margin-bottom:4px}.pass{color:#1a7f37}.fail{color:#cf222e}"
               ".verdict{font-size:22px;font-weight:bold;padding:10px 14px;border-radius:6px;display:inline-block}"
               ".vp{background:#dafbe1}.vf{background:#ffebe9}"
               "table{border-collapse:collapse;margin:10px 0 20px;font-size:13px}"
               "th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}th{background:#f3f3f3}"
               "td:first-child,th:first-child{text-align:left}.kv td{text-align:left}.small{font-size:12px;color:#555}"
               "section{margin-top:26px}</style></head><body>\n");
    fprintf(f, "<h1>Ocellus benchmark</h1><div class='small'>%s mode, %s, commit %s%s, host ", r->mode,
            e->timestamp, e->commit, e->dirty ? " (uncommitted changes)" : "");
    hesc(f, e->host);
    fprintf(f, ", ");
    hesc(f, e->cpu_model);
    fprintf(f, ", %d cores, %d threads, ISA %s, OpenBLAS %s, run took %.0f s</div>\n", e->cores,
            e->threads, e->isa, e->openblas_core, r->wall_s);
    fprintf(f, "<section><div class='verdict %s'>Performance Gate: %s &mdash; %d/%d gates passed</div>\n",
            pass ? "vp pass" : "vf fail", pass ? "PASS" : "FAIL", r->n_pass, r->n_gates);
    fprintf(f, "<table><tr><th>gate</th><th>result</th><th>detail</th></tr>\n");
    for (int i = 0; i < r->n_gates; i++) {
        fprintf(f, "<tr><td>%s</td><td class='%s'>%s</td><td style='text-align:left'>", r->gates[i].name,
                r->gates[i].pass ? "pass" : "fail", r->gates[i].pass ? "PASS" : "FAIL");
        hesc(f, r->gates[i].text);
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table>\n");
    compliance cr[12];
    int ncr = compliance_rates(r, cr);
    fprintf(f, "<div class='small'>Compliance: ");
    for (int i = 0; i < ncr; i++) {
        if (cr[i].total)
            fprintf(f, "%s%s %d/%d (%.1f%%)", i ? "; " : "", cr[i].gate, cr[i].pass, cr[i].total,
                    100.0 * cr[i].pass / cr[i].total);
        else
            fprintf(f, "%s%s n/a", i ? "; " : "", cr[i].gate);
    }
    fprintf(f, "</div></section>\n");

    /* per-variant charts */
    int nv = 0;
    const char *labels[BN_MAX_VARIANTS];
    double p95[BN_MAX_VARIANTS], med[BN_MAX_VARIANTS], peak[BN_MAX_VARIANTS], arena[BN_MAX_VARIANTS];
    double acts[BN_MAX_VARIANTS], tput[BN_MAX_VARIANTS];
    for (int i = 0; i < r->nv; i++) {
        const bn_variant *v = &r->v[i];
        if (v->skipped || v->budget_skipped) continue;
        labels[nv] = v->name;
        p95[nv] = v->e2e.n ? v->s_e2e.p95 : NAN;
        med[nv] = v->e2e.n ? v->s_e2e.median : NAN;
        peak[nv] = v->peak.ok ? v->peak.peak_rss_mb : NAN;
        arena[nv] = v->e2e.n ? v->arena_mb : NAN;
        acts[nv] = v->e2e.n ? v->activations_mb : NAN;
        tput[nv] = v->e2e.n ? v->throughput : NAN;
        nv++;
    }
    fprintf(f, "<section><h2>Latency and memory per variant</h2>\n");
    if (nv) {
        char ll[64], ml[64];
        snprintf(ll, sizeof ll, "limit %.0f ms", c->latency_p95_ms);
        snprintf(ml, sizeof ml, "limit %.0f MB", c->memory_mb);
        chart ch = {.title = "End-to-end latency p95 per variant (bar) and median (tick)", .unit = "ms",
                    .n = nv, .labels = labels, .nser = 1, .ser_names = {"p95"}, .vals = {p95},
                    .limit = c->latency_p95_ms, .limit_label = ll, .marks = med, .marks_label = "median"};
        svg_bars(f, &ch);
        chart cm = {.title = "Peak RSS of load + one inference (fresh process) and activation arena",
                    .unit = "MB", .n = nv, .labels = labels, .nser = 2,
                    .ser_names = {"peak RSS", "planner arena"}, .vals = {peak, arena},
                    .limit = c->memory_mb, .limit_label = ml};
        svg_bars(f, &cm);
        chart cp = {.title = "Planner: activation arena against every activation's own bytes "
                             "(the saving is 1 - arena / activations)",
                    .unit = "MB", .n = nv, .labels = labels, .nser = 2,
                    .ser_names = {"all activations", "planner arena"}, .vals = {acts, arena},
                    .limit = -1};
        svg_bars(f, &cp);
        chart ct = {.title = "Throughput, one caller (1000 / mean end-to-end ms)", .unit = "images / s",
                    .n = nv, .labels = labels, .nser = 1, .ser_names = {"img/s"}, .vals = {tput},
                    .limit = -1};
        svg_bars(f, &ct);
    } else {
        fprintf(f, "<p>No variant was measured.</p>\n");
    }
    fprintf(f, "<div style='overflow-x:auto'><table>\n"); /* 24 columns: scroll, do not clip */
    char rt_hdr[32];
    snprintf(rt_hdr, sizeof rt_hdr, "under %.0f ms %%", c->realtime_ms);
    const char *hdr[] = {"variant", "weights", "rounds", "cold load ms", "load ms", "min", "median",
                         "mean", "stddev", "p90", "p95", "p99", "decode", "pre", "infer", "post",
                         "throughput img/s", rt_hdr, "peak MB", "arena MB", "activations MB",
                         "planner saving %", "batch MB", "conc p95"};
    enum { NCOL = 24 };
    html_table_row(f, hdr, NCOL, 1);
    for (int i = 0; i < r->nv; i++) {
        const bn_variant *v = &r->v[i];
        char b[NCOL][40];
        const char *cells[NCOL];
        for (int k = 0; k < NCOL; k++) { b[k][0] = 0; cells[k] = b[k]; }
        snprintf(b[0], 40, "%s", v->name);
        if (v->skipped) {
            snprintf(b[1], 40, "no file");
        } else if (v->budget_skipped) {
            snprintf(b[1], 40, "not measured (run budget)");
        } else {
            snprintf(b[1], 40, "%s", v->kind);
            snprintf(b[2], 40, "%d", v->e2e.n);
            double vals[] = {v->load_cold_ms, v->s_load.median, v->s_e2e.min, v->s_e2e.median,
                             v->s_e2e.mean, v->s_e2e.stddev, v->s_e2e.p90, v->s_e2e.p95,
                             v->s_e2e.p99, v->s_decode.median, v->s_pre.median, v->s_infer.median,
                             v->s_post.median, v->throughput, v->realtime_pct, v->peak.peak_rss_mb,
                             v->arena_mb, v->activations_mb, v->planner_saving_pct,
                             v->batch.peak_rss_mb, v->conc.s.p95};
            for (int k = 0; k < NCOL - 3; k++) snprintf(b[3 + k], 40, k == 13 ? "%.2f" : "%.1f", vals[k]);
        }
        html_table_row(f, cells, NCOL, 0);
    }
    fprintf(f, "</table></div>\n");
    for (int i = 0; i < r->nv; i++) {
        if (r->v[i].error[0]) {
            fprintf(f, "<p class='fail'>%s: ", r->v[i].name);
            hesc(f, r->v[i].error);
            fprintf(f, "</p>\n");
        }
        if (r->v[i].note[0]) {
            fprintf(f, "<p class='small'>%s: ", r->v[i].name);
            hesc(f, r->v[i].note);
            fprintf(f, "</p>\n");
        }
    }
    int fullm = strcmp(r->mode, "full") == 0;
    fprintf(f, "<p class='small'>End to end = decode + preprocess + inference + postprocess. Rounds per "
               "variant: at least %d, at most %d, until %.0f s of timed rounds (%s mode), after %d "
               "warm-up run(s). Test image: ", fullm ? c->full_min_rounds : c->min_rounds,
            fullm ? c->full_max_rounds : c->max_rounds, fullm ? c->full_budget_s : c->budget_s,
            r->mode, c->warmup);
    hesc(f, r->image_desc);
    fprintf(f, ".</p></section>\n");

    write_trend_html(f, r);

    /* image sizes */
    if (r->n_img) {
        fprintf(f, "<section><h2>Latency by image size (%s)</h2>\n", r->img[0].model);
        static const int ord[][2] = {{64, 64}, {320, 240}, {640, 480}, {1280, 720}, {1920, 1080}, {1600, 400}, {400, 1600}};
        const char *sl[7];
        char sbuf[7][24];
        double v[2][3][7];
        for (int s = 0; s < 7; s++) {
            snprintf(sbuf[s], sizeof sbuf[s], "%dx%d", ord[s][0], ord[s][1]);
            sl[s] = sbuf[s];
            for (int fm = 0; fm < 2; fm++)
                for (int ct = 0; ct < 3; ct++) v[fm][ct][s] = NAN;
        }
        for (int i = 0; i < r->n_img; i++) {
            const bn_imgsize *x = &r->img[i];
            int fm = strcmp(x->format, "png") == 0 ? 0 : 1;
            for (int s = 0; s < 7; s++)
                if (ord[s][0] == x->w && ord[s][1] == x->h && x->e2e.n)
                    v[fm][x->content][s] = x->s_e2e.median;
        }
        for (int fm = 0; fm < 2; fm++) {
            chart ch = {.title = fm ? "JPEG input: median end-to-end ms by size and content"
                                    : "PNG input: median end-to-end ms by size and content",
                        .unit = "ms", .n = 7, .labels = sl, .nser = 3,
                        .ser_names = {"simple", "medium", "complex"},
                        .vals = {v[fm][0], v[fm][1], v[fm][2]}, .limit = c->latency_p95_ms,
                        .limit_label = "latency limit"};
            svg_bars(f, &ch);
        }
        fprintf(f, "<table>");
        const char *h2[] = {"size", "content", "format", "file KB", "decode ms", "end to end ms", "error"};
        html_table_row(f, h2, 7, 1);
        for (int i = 0; i < r->n_img; i++) {
            const bn_imgsize *x = &r->img[i];
            char a[5][32];
            snprintf(a[0], 32, "%dx%d", x->w, x->h);
            snprintf(a[1], 32, "%.1f", x->file_kb);
            snprintf(a[2], 32, "%.2f", x->s_decode.median);
            snprintf(a[3], 32, "%.1f", x->s_e2e.median);
            const char *cells[] = {a[0], bn_content_name(x->content), x->format, a[1], a[2], a[3], x->error};
            html_table_row(f, cells, 7, 0);
        }
        fprintf(f, "</table></section>\n");
    }
    /* batch */
    if (r->n_batch) {
        fprintf(f, "<section><h2>Batch scaling (%s)</h2>\n", r->batch[0].model);
        const char *bl[64];
        char bb[64][80];
        double ms[64], mb[64];
        int nb = r->n_batch < 64 ? r->n_batch : 64;
        for (int i = 0; i < nb; i++) {
            snprintf(bb[i], sizeof bb[i], "%s b=%d", r->batch[i].model, r->batch[i].r.batch);
            bl[i] = bb[i];
            ms[i] = r->batch[i].r.ok ? r->batch[i].r.ms_per_image : NAN;
            mb[i] = r->batch[i].r.ok ? r->batch[i].r.peak_rss_mb : NAN;
        }
        chart c1 = {.title = "Inference time per image by batch size", .unit = "ms / image", .n = nb,
                    .labels = bl, .nser = 1, .ser_names = {"ms/image"}, .vals = {ms}, .limit = -1};
        svg_bars(f, &c1);
        char bl2[64];
        snprintf(bl2, sizeof bl2, "limit %.0f MB", c->batch_memory_mb);
        chart c2 = {.title = "Peak RSS of load + one batch (fresh process)", .unit = "MB", .n = nb,
                    .labels = bl, .nser = 1, .ser_names = {"peak"}, .vals = {mb},
                    .limit = c->batch_memory_mb, .limit_label = bl2};
        svg_bars(f, &c2);
        fprintf(f, "</section>\n");
    }
    /* concurrency */
    if (r->n_conc) {
        fprintf(f, "<section><h2>Concurrency (%s, one shared model, one session per thread)</h2>\n", r->conc[0].model);
        const char *kl[64];
        char kb[64][24];
        double p[64], tp[64];
        int nk = r->n_conc < 64 ? r->n_conc : 64;
        for (int i = 0; i < nk; i++) {
            snprintf(kb[i], sizeof kb[i], "K=%d (%d thr each)", r->conc[i].k, r->conc[i].threads_per_session);
            kl[i] = kb[i];
            p[i] = r->conc[i].resp_ms.n ? r->conc[i].s.p95 : NAN;
            tp[i] = r->conc[i].throughput;
        }
        char cl[64];
        snprintf(cl, sizeof cl, "limit %.0f ms", c->concurrent_p95_ms);
        chart c1 = {.title = "Response time p95 by number of concurrent callers", .unit = "ms", .n = nk,
                    .labels = kl, .nser = 1, .ser_names = {"p95"}, .vals = {p}, .limit = c->concurrent_p95_ms,
                    .limit_label = cl};
        svg_bars(f, &c1);
        chart c2 = {.title = "Total throughput by number of concurrent callers", .unit = "images / s",
                    .n = nk, .labels = kl, .nser = 1, .ser_names = {"img/s"}, .vals = {tp}, .limit = -1};
        svg_bars(f, &c2);
        fprintf(f, "<table>");
        const char *h3[] = {"K", "threads/session", "p50 ms", "p95 ms", "p99 ms", "img/s", "bit-identical", "errors"};
        html_table_row(f, h3, 8, 1);
        for (int i = 0; i < r->n_conc; i++) {
            const bn_conc *x = &r->conc[i];
            char a[8][32];
            snprintf(a[0], 32, "%d", x->k);
            snprintf(a[1], 32, "%d", x->threads_per_session);
            snprintf(a[2], 32, "%.1f", x->s.median);
            snprintf(a[3], 32, "%.1f", x->s.p95);
            snprintf(a[4], 32, "%.1f", x->s.p99);
            snprintf(a[5], 32, "%.2f", x->throughput);
            snprintf(a[6], 32, "%d/%d", x->compared - x->mismatches, x->compared);
            snprintf(a[7], 32, "%d", x->errors);
            const char *cells[] = {a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]};
            html_table_row(f, cells, 8, 0);
        }
        fprintf(f, "</table></section>\n");
    }
    /* leak + endurance */
    for (int i = 0; i < r->n_leak; i++) {
        const bn_leak *l = &r->leak[i];
        fprintf(f, "<section><h2>Leak check (%s, %d cycles): <span class='%s'>%s</span></h2>\n", l->model,
                l->cycles, l->leak ? "fail" : "pass", l->leak ? "LEAK" : "flat");
        double *x = malloc(sizeof(double) * (size_t)(l->rss_kb.n + 1));
        if (x) {
            for (int k = 0; k < l->rss_kb.n; k++) x[k] = k + 1;
            char t[160];
            snprintf(t, sizeof t, "RSS after each load/run/free cycle: slope %+.1f KB/cycle, p=%.2g",
                     l->rss.fit.slope, l->rss.fit.p);
            svg_line(f, t, "cycle", "KB", x, l->rss_kb.v, l->rss_kb.n);
            snprintf(t, sizeof t, "Library live bytes after each cycle: slope %+.1f B/cycle", l->live.fit.slope);
            svg_line(f, t, "cycle", "bytes", x, l->live_bytes.v, l->live_bytes.n);
            free(x);
        }
        fprintf(f, "</section>\n");
    }
    for (int i = 0; i < r->n_endur; i++) {
        const bn_endurance *x = &r->endur[i];
        fprintf(f, "<section><h2>Endurance (%s, %.0f s)</h2>\n", x->model, x->duration_s);
        char t[200];
        snprintf(t, sizeof t, "Latency over the run: drift %+.1f%% (first vs last 10%%), slope %+.4f ms/s",
                 x->drift_pct, x->drift.slope);
        svg_line(f, t, "seconds into the run", "ms", x->t_s.v, x->lat_ms.v, x->lat_ms.n);
        fprintf(f, "</section>\n");
    }
    /* regressions */
    fprintf(f, "<section><h2>Regressions against the baseline</h2>\n");
    if (!r->baseline_found) {
        fprintf(f, "<p>");
        hesc(f, r->baseline_note[0] ? r->baseline_note : "No baseline for this host.");
        fprintf(f, "%s</p>\n", r->baseline_saved ? " This run was saved as the baseline." : "");
    } else {
        fprintf(f, "<p class='small'>Regression = median change beyond %.0f%% and p &lt; %.2g (two-sided "
                   "Mann-Whitney U); minor 10-25%%, major 25-50%%, critical &gt;50%%.</p><table>\n",
                100 * c->regression_threshold, c->alpha);
        const char *h4[] = {"model", "metric", "base median", "current median", "change", "U", "p", "verdict"};
        html_table_row(f, h4, 8, 1);
        for (int i = 0; i < r->n_reg; i++) {
            const bn_regression *g = &r->reg[i];
            char a[5][32];
            snprintf(a[0], 32, "%.2f", g->c.median_base);
            snprintf(a[1], 32, "%.2f", g->c.median_cur);
            snprintf(a[2], 32, "%+.1f%%", 100 * g->c.rel_change);
            snprintf(a[3], 32, "%.1f", g->c.mwu.u1);
            snprintf(a[4], 32, "%.3g", g->c.mwu.p);
            const char *verdict = g->c.regression ? bs_level_name(g->c.level) : g->c.improvement ? "improved"
                                  : g->c.significant ? "within threshold" : "no significant change";
            const char *cells[] = {g->model, g->metric, a[0], a[1], a[2], a[3], a[4], verdict};
            html_table_row(f, cells, 8, 0);
        }
        fprintf(f, "</table>\n");
    }
    fprintf(f, "</section>\n");
    char rec[32][768];
    int nr = recommendations(r, rec, 32);
    fprintf(f, "<section><h2>Recommendations</h2><ul>\n");
    for (int i = 0; i < nr; i++) {
        fprintf(f, "<li>");
        hesc(f, rec[i]);
        fprintf(f, "</li>\n");
    }
    if (!nr) fprintf(f, "<li>Nothing stands out: every gate passes with headroom.</li>\n");
    fprintf(f, "</ul></section>\n<section><h2>Environment</h2><table class='kv'>\n");
    char load_s[96];
    snprintf(load_s, sizeof load_s, "%.2f at the start, %.2f at most after a variant's rounds, %d cores",
             e->load_start, r->load_max, e->cores);
    const struct { const char *k; const char *v; } kv[] = {
        {"CPU", e->cpu_model}, {"SIMD flags", e->cpu_flags_simd}, {"ISA path", e->isa},
        {"OpenBLAS", e->openblas_core}, {"OpenBLAS config", e->openblas_config},
        {"compiler", e->compiler}, {"flags", e->cflags}, {"commit", e->commit},
        {"governor", e->governor}, {"kernel", e->kernel}, {"machine id (hash)", e->machine_id},
        {"load average", load_s}, {"warnings", e->warnings[0] ? e->warnings : "none"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
        const char *cells[] = {kv[i].k, kv[i].v};
        html_table_row(f, cells, 2, 0);
    }
    fprintf(f, "</table></section>\n<p class='small'>Generated by ocellus-bench; every sample is in "
               "results.json beside this page.</p>\n</body></html>\n");
    return fclose(f) ? -1 : 0;
}

int bn_write_reports(bn_run *r)
{
    char p[800];
    int bad = 0;
    snprintf(p, sizeof p, "%s/results.json", r->out_dir);
    if (write_json(r, p)) { fprintf(stderr, "ocellus-bench: cannot write %s: %s\n", p, strerror(errno)); bad++; }
    snprintf(p, sizeof p, "%s/results.csv", r->out_dir);
    if (write_csv(r, p)) { fprintf(stderr, "ocellus-bench: cannot write %s: %s\n", p, strerror(errno)); bad++; }
    snprintf(p, sizeof p, "%s/report.md", r->out_dir);
    if (write_md(r, p)) { fprintf(stderr, "ocellus-bench: cannot write %s: %s\n", p, strerror(errno)); bad++; }
    snprintf(p, sizeof p, "%s/report.html", r->out_dir);
    if (write_html(r, p)) { fprintf(stderr, "ocellus-bench: cannot write %s: %s\n", p, strerror(errno)); bad++; }
    return bad ? -1 : 0;
}
