/* gates.c -- the verdict: one line per gate (PASS/FAIL, the worst figure, the limit) and a
 * total. Gates: latency (p95 end to end per variant), memory (peak RSS of load + one
 * inference per variant), batch (peak RSS of load + one batch), concurrent (p95 response with
 * K callers, results bit-identical to one caller), success (share of operations without
 * error), regression (no critical regression against the saved baseline), load (model load
 * from a cold file under the variant's limit), realtime (share of single-image runs under the
 * real-time target); full mode adds leak (flat RSS and allocator counters over load/run/free
 * cycles). Timing gates say when they were measured under load, and every gate says what the
 * run budget left unmeasured. */
#include "bench.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

static bn_gate *add_gate(bn_run *r, const char *name)
{
    bn_gate *g = &r->gates[r->n_gates++];
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    return g;
}

/* the least time any implementation needs for one image of v on this host: its FLOPs at the
 * measured FMA peak of the run's threads (0 when either is unknown) */
double bn_floor_ms(const bn_run *r, const bn_variant *v)
{
    if (!(v->gflops > 0) || !(r->env.fma_peak_gflops > 0)) return 0;
    return 1000.0 * v->gflops / r->env.fma_peak_gflops;
}

/* not measured: no model file, or the run budget was spent before its turn */
static int unmeasured(const bn_variant *v) { return v->skipped || v->budget_skipped; }

static void append(bn_gate *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(bn_gate *g, const char *fmt, ...)
{
    size_t l = strlen(g->text);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->text + l, sizeof g->text - l, fmt, ap);
    va_end(ap);
}

/* The 1-minute load average counts this run's own threads; what is left beyond them is other
 * work competing for the cores. Over half the cores busy with it: the timings are the host's. */
static int under_load(const bn_run *r, double *load)
{
    double own = r->env.threads > 0 ? r->env.threads : 1;
    double other = r->env.load_start;
    if (r->load_max - own > other) other = r->load_max - own;
    *load = r->load_max > r->env.load_start ? r->load_max : r->env.load_start;
    return r->env.cores > 0 && other > 0.5 * r->env.cores;
}

static void load_note(const bn_run *r, bn_gate *g)
{
    double load;
    if (under_load(r, &load))
        append(g, "; timings taken under load average %.2f on %d cores (this run's own %d "
                  "threads included)", load, r->env.cores, r->env.threads);
}

static void count_attempts(bn_run *r)
{
    long a = 0, f = 0;
    for (int i = 0; i < r->nv; i++) {
        a += r->v[i].attempts;
        f += r->v[i].failures;
    }
    for (int i = 0; i < r->n_img; i++) { a += r->img[i].attempts; f += r->img[i].failures; }
    for (int i = 0; i < r->n_batch; i++) { a += r->batch[i].attempts; f += r->batch[i].failures; }
    for (int i = 0; i < r->n_conc; i++) {
        a += r->conc[i].attempts;
        f += r->conc[i].errors + r->conc[i].mismatches;
    }
    for (int i = 0; i < r->n_leak; i++) { a += r->leak[i].attempts; f += r->leak[i].failures; }
    for (int i = 0; i < r->n_endur; i++) { a += r->endur[i].attempts; f += r->endur[i].failures; }
    r->attempts = a;
    r->failures = f;
}

void bn_gates_evaluate(bn_run *r)
{
    const bn_config *c = &r->cfg;
    r->n_gates = 0;
    int measured = 0;
    for (int i = 0; i < r->nv; i++) measured += !unmeasured(&r->v[i]);

    /* latency */
    {
        bn_gate *g = add_gate(r, "latency");
        const bn_variant *worst = NULL, *broken = NULL;
        int fails = 0;
        for (int i = 0; i < r->nv; i++) {
            const bn_variant *v = &r->v[i];
            if (unmeasured(v)) continue;
            if (v->e2e.n == 0) { broken = broken ? broken : v; fails++; continue; }
            if (!(v->s_e2e.p95 < c->latency_p95_ms)) fails++;
            if (!worst || v->s_e2e.p95 > worst->s_e2e.p95) worst = v;
        }
        g->pass = measured > 0 && fails == 0;
        if (measured == 0)
            snprintf(g->text, sizeof g->text, "no variant measured (no model files in %.300s)", c->weights_dir);
        else if (broken)
            snprintf(g->text, sizeof g->text, "%s has no latency samples: %.300s (limit %.0f ms)",
                     broken->name, broken->error, c->latency_p95_ms);
        else
            snprintf(g->text, sizeof g->text, "%s p95 %.1f ms (limit %.0f ms)%s", worst->name,
                     worst->s_e2e.p95, c->latency_p95_ms,
                     fails ? "" : ", every variant under it");
        if (fails > 1 && !broken) {
            size_t l = strlen(g->text);
            snprintf(g->text + l, sizeof g->text - l, "; %d variants over", fails);
        }
        /* a variant whose FLOPs at the measured FMA peak already take the limit cannot pass
         * on this host at any efficiency: say so, with the floor */
        for (int i = 0; i < r->nv; i++) {
            const bn_variant *v = &r->v[i];
            if (unmeasured(v) || !v->e2e.n || v->s_e2e.p95 < c->latency_p95_ms) continue;
            double floor_ms = bn_floor_ms(r, v);
            if (floor_ms >= c->latency_p95_ms)
                append(g, "; %s cannot pass on this host at any efficiency: its floor is %.0f ms "
                          "(%.1f GFLOP at the measured FMA peak of %.0f GFLOP/s, %d threads), "
                          "p95 %.2fx it", v->name, floor_ms, v->gflops, r->env.fma_peak_gflops,
                       r->env.threads, v->s_e2e.p95 / floor_ms);
        }
        if (r->n_budget_skipped)
            append(g, "; %d variant(s) not measured: the %.0f s run budget was spent",
                   r->n_budget_skipped, c->total_budget_s);
        load_note(r, g);
    }
    /* memory */
    {
        bn_gate *g = add_gate(r, "memory");
        const bn_variant *worst = NULL, *broken = NULL;
        int fails = 0;
        for (int i = 0; i < r->nv; i++) {
            const bn_variant *v = &r->v[i];
            if (unmeasured(v)) continue;
            if (!v->peak.ok) { broken = broken ? broken : v; fails++; continue; }
            if (!(v->peak.peak_rss_mb < c->memory_mb)) fails++;
            if (!worst || v->peak.peak_rss_mb > worst->peak.peak_rss_mb) worst = v;
        }
        g->pass = measured > 0 && fails == 0;
        if (measured == 0)
            snprintf(g->text, sizeof g->text, "no variant measured");
        else if (broken)
            snprintf(g->text, sizeof g->text, "%s: no peak measurement: %.300s (limit %.0f MB)",
                     broken->name, broken->peak.error[0] ? broken->peak.error : broken->error, c->memory_mb);
        else
            snprintf(g->text, sizeof g->text, "%s peak %.1f MB (limit %.0f MB)", worst->name,
                     worst->peak.peak_rss_mb, c->memory_mb);
    }
    /* batch */
    {
        bn_gate *g = add_gate(r, "batch");
        double worst = -1;
        char wname[64] = "";
        int wb = 0, fails = 0, n = 0;
        char berr[300] = "";
        for (int i = 0; i < r->nv; i++) {
            const bn_variant *v = &r->v[i];
            if (unmeasured(v) || c->gate_batch < 1 || v->batch_n < 1) continue;
            n++;
            if (!v->batch.ok) { fails++; if (!berr[0]) snprintf(berr, sizeof berr, "%s batch %d: %.200s", v->name, v->batch_n, v->batch.error[0] ? v->batch.error : v->error); continue; }
            if (v->batch.peak_rss_mb > worst) { worst = v->batch.peak_rss_mb; snprintf(wname, sizeof wname, "%s", v->name); wb = v->batch.batch; }
        }
        for (int i = 0; i < r->n_batch; i++) {
            const bn_batch *b = &r->batch[i];
            n++;
            if (!b->r.ok) { fails++; if (!berr[0]) snprintf(berr, sizeof berr, "%s batch %d: %.200s", b->model, b->r.batch, b->r.error); continue; }
            if (b->r.peak_rss_mb > worst) { worst = b->r.peak_rss_mb; snprintf(wname, sizeof wname, "%s", b->model); wb = b->r.batch; }
        }
        if (worst >= c->batch_memory_mb) fails++;
        g->pass = n > 0 && fails == 0;
        if (n == 0)
            snprintf(g->text, sizeof g->text, "no batch measured (quick.batch is %d, no full-mode batch suite)", c->gate_batch);
        else if (berr[0])
            snprintf(g->text, sizeof g->text, "%s (limit %.0f MB)", berr, c->batch_memory_mb);
        else
            snprintf(g->text, sizeof g->text, "%s batch %d peak %.1f MB (limit %.0f MB)", wname, wb,
                     worst, c->batch_memory_mb);
        if (r->n_budget_cut)
            append(g, "; skipped on %d variant(s) by the run budget", r->n_budget_cut);
    }
    /* concurrent */
    {
        bn_gate *g = add_gate(r, "concurrent");
        const bn_conc *worst = NULL, *broken = NULL;
        int fails = 0, n = 0, mism = 0;
        for (int pass = 0; pass < 2; pass++) {
            int cnt = pass == 0 ? r->nv : r->n_conc;
            for (int i = 0; i < cnt; i++) {
                const bn_conc *x;
                if (pass == 0) {
                    if (unmeasured(&r->v[i]) || c->gate_concurrency < 1 || r->v[i].conc_requests < 1)
                        continue; /* not asked for, or cut by the run budget */
                    if (r->v[i].e2e.n == 0) { fails++; n++; continue; }
                    x = &r->v[i].conc;
                } else {
                    x = &r->conc[i];
                }
                n++;
                mism += x->mismatches;
                if (x->errors || x->resp_ms.n == 0) { fails++; broken = broken ? broken : x; continue; }
                if (!(x->s.p95 < c->concurrent_p95_ms) || x->mismatches) fails++;
                if (!worst || x->s.p95 > worst->s.p95) worst = x;
            }
        }
        g->pass = n > 0 && fails == 0;
        if (n == 0)
            snprintf(g->text, sizeof g->text, "no concurrency measured (quick.concurrency is %d, no full-mode suite)", c->gate_concurrency);
        else if (broken)
            snprintf(g->text, sizeof g->text, "%s K=%d: %d errors: %.250s (limit %.0f ms)", broken->model,
                     broken->k, broken->errors, broken->error, c->concurrent_p95_ms);
        else if (!worst)
            snprintf(g->text, sizeof g->text, "a variant could not be measured (limit %.0f ms)", c->concurrent_p95_ms);
        else
            snprintf(g->text, sizeof g->text, "%s K=%d p95 %.1f ms (limit %.0f ms)%s", worst->model,
                     worst->k, worst->s.p95, c->concurrent_p95_ms,
                     mism ? "; results differ from the single-caller run" : ", results bit-identical");
        if (r->n_budget_cut)
            append(g, "; skipped on %d variant(s) by the run budget", r->n_budget_cut);
        load_note(r, g);
    }
    /* success */
    {
        count_attempts(r);
        bn_gate *g = add_gate(r, "success");
        double rate = r->attempts > 0 ? 100.0 * (double)(r->attempts - r->failures) / (double)r->attempts : 0;
        g->pass = r->attempts > 0 && rate >= c->success_rate;
        snprintf(g->text, sizeof g->text, "%.2f%% (%ld of %ld operations, %ld errors) (limit >= %.0f%%)",
                 rate, r->attempts - r->failures, r->attempts, r->failures, c->success_rate);
    }
    /* regression */
    {
        bn_gate *g = add_gate(r, "regression");
        int crit = 0, major = 0, minor = 0, impr = 0;
        const bn_regression *worst = NULL;
        for (int i = 0; i < r->n_reg; i++) {
            const bn_regression *x = &r->reg[i];
            if (x->c.improvement) impr++;
            if (!x->c.regression) continue;
            if (x->c.level == BS_LEVEL_CRITICAL) crit++;
            else if (x->c.level == BS_LEVEL_MAJOR) major++;
            else minor++;
            if (!worst || x->c.rel_change > worst->c.rel_change) worst = x;
        }
        if (!r->baseline_found) {
            g->pass = !r->compare_required;
            if (r->baseline_note[0])
                snprintf(g->text, sizeof g->text, "%.480s%s", r->baseline_note,
                         g->pass ? "" : "; make bench-compare needs one");
            else
                snprintf(g->text, sizeof g->text, "no baseline for this host (%.300s)%s",
                         r->baseline_path, g->pass ? "" : ": run make bench-baseline first");
        } else {
            g->pass = crit == 0;
            if (worst)
                snprintf(g->text, sizeof g->text,
                         "%d critical, %d major, %d minor, %d improved; worst %s %s %+.1f%% (p=%.2g)",
                         crit, major, minor, impr, worst->model, worst->metric,
                         100 * worst->c.rel_change, worst->c.mwu.p);
            else
                snprintf(g->text, sizeof g->text,
                         "no significant regression beyond %.0f%% (%d comparisons, %d improved)",
                         100 * c->regression_threshold, r->n_reg, impr);
            load_note(r, g);
        }
    }
    /* load: from a cold file, under each variant's limit (the worst relative to its limit) */
    {
        bn_gate *g = add_gate(r, "load");
        const bn_variant *worst = NULL, *broken = NULL;
        int fails = 0;
        for (int i = 0; i < r->nv; i++) {
            const bn_variant *v = &r->v[i];
            if (unmeasured(v)) continue;
            if (!(v->load_cold_ms > 0)) { broken = broken ? broken : v; fails++; continue; }
            if (!(v->load_cold_ms < v->load_limit_ms)) fails++;
            if (!worst || v->load_cold_ms / v->load_limit_ms > worst->load_cold_ms / worst->load_limit_ms)
                worst = v;
        }
        g->pass = measured > 0 && fails == 0;
        if (measured == 0)
            snprintf(g->text, sizeof g->text, "no variant measured");
        else if (broken)
            snprintf(g->text, sizeof g->text, "%s does not load: %.300s", broken->name, broken->error);
        else
            snprintf(g->text, sizeof g->text, "%s cold-file load %.1f ms (limit %.0f ms)%s",
                     worst->name, worst->load_cold_ms, worst->load_limit_ms,
                     fails ? "" : ", every variant under its limit");
        if (fails > 1 && !broken) append(g, "; %d variants over", fails);
        load_note(r, g);
    }
    /* realtime: share of each variant's single-image runs under the real-time target */
    {
        bn_gate *g = add_gate(r, "realtime");
        const bn_variant *worst = NULL, *broken = NULL;
        int fails = 0;
        for (int i = 0; i < r->nv; i++) {
            const bn_variant *v = &r->v[i];
            if (unmeasured(v)) continue;
            if (v->e2e.n == 0) { broken = broken ? broken : v; fails++; continue; }
            if (!(v->realtime_pct >= c->realtime_rate)) fails++;
            if (!worst || v->realtime_pct < worst->realtime_pct) worst = v;
        }
        g->pass = measured > 0 && fails == 0;
        if (measured == 0)
            snprintf(g->text, sizeof g->text, "no variant measured");
        else if (broken)
            snprintf(g->text, sizeof g->text, "%s has no single-image runs: %.300s", broken->name,
                     broken->error);
        else
            snprintf(g->text, sizeof g->text, "%s %.1f%% of %d single-image runs under %.0f ms "
                     "(limit >= %.0f%%)", worst->name, worst->realtime_pct, worst->e2e.n,
                     c->realtime_ms, c->realtime_rate);
        if (fails > 1 && !broken) append(g, "; %d variants under the rate", fails);
        load_note(r, g);
    }
    /* leak (full mode) */
    if (r->n_leak > 0) {
        bn_gate *g = add_gate(r, "leak");
        const bn_leak *worst = NULL;
        int fails = 0;
        for (int i = 0; i < r->n_leak; i++) {
            if (r->leak[i].leak || r->leak[i].cycles == 0) fails++;
            if (!worst || r->leak[i].rss.fit.slope > worst->rss.fit.slope) worst = &r->leak[i];
        }
        g->pass = fails == 0;
        snprintf(g->text, sizeof g->text,
                 "%s %d cycles: RSS %+.1f KB/cycle (p=%.2g, tolerance %.0f), library live bytes "
                 "%+.1f B/cycle, open allocations %+.2f/cycle%s%.200s",
                 worst->model, worst->cycles, worst->rss.fit.slope, worst->rss.fit.p,
                 worst->rss_tol_kb, worst->live.fit.slope, worst->allocs.fit.slope,
                 worst->error[0] ? "; error: " : "", worst->error);
    }
    r->n_pass = 0;
    for (int i = 0; i < r->n_gates; i++) r->n_pass += r->gates[i].pass;
}

void bn_print_verdict(const bn_run *r, FILE *f)
{
    fprintf(f, "Performance Gate: %s\n", r->n_pass == r->n_gates ? "PASS" : "FAIL");
    fprintf(f, "Gates Passed: %d/%d\n", r->n_pass, r->n_gates);
    for (int i = 0; i < r->n_gates; i++)
        fprintf(f, "  %s %-10s %s\n", r->gates[i].pass ? "PASS" : "FAIL", r->gates[i].name,
                r->gates[i].text);
}

static void fmt_ms(char *b, size_t n, double v)
{
    if (isnan(v)) snprintf(b, n, "-");
    else snprintf(b, n, "%.1f", v);
}

void bn_print_table(const bn_run *r, FILE *f)
{
    fprintf(f, "%-9s %-9s %4s %8s %8s %8s %8s %8s %8s %7s %7s %7s %7s %8s %8s %6s %8s %7s %6s\n",
            "variant", "weights", "n", "coldload", "load", "min", "median", "p95", "p99", "decode",
            "pre", "infer", "post", "peakMB", "arenaMB", "save%", "batchMB", "img/s", "rt%");
    for (int i = 0; i < r->nv; i++) {
        const bn_variant *v = &r->v[i];
        if (v->skipped) {
            fprintf(f, "%-9s (no model file: skipped)\n", v->name);
            continue;
        }
        if (v->budget_skipped) {
            fprintf(f, "%-9s (%s)\n", v->name, v->note);
            continue;
        }
        char a[16], b[16], c[16], d[16], e[16], g[16], h[16], k[16], l[16], m[16];
        fmt_ms(a, sizeof a, v->s_load.median);
        fmt_ms(b, sizeof b, v->s_e2e.min);
        fmt_ms(c, sizeof c, v->s_e2e.median);
        fmt_ms(d, sizeof d, v->s_e2e.p95);
        fmt_ms(e, sizeof e, v->s_e2e.p99);
        fmt_ms(g, sizeof g, v->s_decode.median);
        fmt_ms(h, sizeof h, v->s_pre.median);
        fmt_ms(k, sizeof k, v->s_infer.median);
        fmt_ms(l, sizeof l, v->s_post.median);
        snprintf(m, sizeof m, "%.2f", v->throughput);
        fprintf(f, "%-9s %-9s %4d %8.1f %8s %8s %8s %8s %8s %7s %7s %7s %7s %8.1f %8.1f %6.1f %8.1f "
                   "%7s %6.1f\n",
                v->name, v->kind[0] ? v->kind : "-", v->e2e.n, v->load_cold_ms, a, b, c, d, e, g,
                h, k, l, v->peak.peak_rss_mb, v->arena_mb, v->planner_saving_pct,
                v->batch.peak_rss_mb, m, v->realtime_pct);
        if (v->error[0]) fprintf(f, "          error: %s\n", v->error);
        if (v->note[0]) fprintf(f, "          note: %s\n", v->note);
    }
    fprintf(f, "(times in ms: coldload = model load from a cold file; load = warm load median; "
               "min/median/p95/p99 end to end = decode + preprocess + inference + postprocess; "
               "peakMB = RSS high-water of a fresh process doing load + one inference; arenaMB = "
               "planner activation bytes; save%% = planner saving, 1 - arena / sum of all "
               "activations; batchMB = peak of load + one batch of %d unless a note says "
               "otherwise; img/s = throughput, 1000 / mean; rt%% = single-image runs under %.0f ms)\n",
            r->cfg.gate_batch, r->cfg.realtime_ms);
}
