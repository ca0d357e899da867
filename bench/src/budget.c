/* budget.c -- fitting quick mode into quick.total_budget_s.
 *
 * Each variant gets a share of what is left: left / variants still to measure. Its cost is
 * projected from the fresh-process inference time t (measured just before, with the peak
 * memory) and its load time: warm-up + min rounds, then the concurrency check (K callers x
 * requests, sharing the cores) and the batch check (a fresh process: load + batch x t).
 *   - everything fits the share: full protocol; extra latency rounds fill the rest;
 *   - else a shortened protocol fits: 1 request per concurrency thread, batch <= 2;
 *   - else (the share is negative or too small): the optional checks, concurrency and batch,
 *     are skipped and only the minimum rounds run;
 *   - not even the minimum rounds fit in the time left: the variant is not measured.
 * Each decision is written as a note on the variant, so the reports say what was cut. */
#include "bench.h"

#include <string.h>

void bn_budget_plan_variant(const bn_config *c, double left_ms, int variants_left, double t_ms,
                            double load_ms, bn_budget_plan *p)
{
    memset(p, 0, sizeof *p);
    int minr = c->min_rounds < 1 ? 1 : c->min_rounds;
    p->conc_requests = c->gate_concurrency >= 1 ? c->gate_requests : 0;
    p->batch_n = c->gate_batch;
    p->latency_budget_ms = c->budget_s * 1000.0;
    if (c->total_budget_s <= 0) return;
    double share = left_ms / (variants_left > 0 ? variants_left : 1);
    double minimal = (c->warmup + minr) * t_ms;
    if (left_ms < minimal) {
        p->skip_variant = 1;
        p->conc_requests = p->batch_n = 0;
        p->latency_budget_ms = 0;
        snprintf(p->note, sizeof p->note,
                 "not measured: %.0f s of the %.0f s run budget left, its %d warm-up + %d rounds "
                 "need %.0f s", left_ms / 1000, c->total_budget_s, c->warmup, minr, minimal / 1000);
        return;
    }
    double fixed = minimal + load_ms;
    int k = c->gate_concurrency >= 1 ? c->gate_concurrency : 0;
    double conc = k * c->gate_requests * t_ms; /* K callers share the cores */
    double batch = c->gate_batch >= 1 ? c->gate_batch * t_ms + load_ms : 0;
    if (fixed + conc + batch <= share) {
        double room = share - (fixed + conc + batch) + minr * t_ms;
        if (room < p->latency_budget_ms) p->latency_budget_ms = room > 0 ? room : 0;
        return;
    }
    int b2 = c->gate_batch > 2 ? 2 : c->gate_batch;
    double conc1 = k * t_ms;
    double batch2 = b2 >= 1 ? b2 * t_ms + load_ms : 0;
    if (share > 0 && fixed + conc1 + batch2 <= share) {
        p->shortened = 1;
        p->conc_requests = k ? 1 : 0;
        p->batch_n = b2;
        double room = share - (fixed + conc1 + batch2) + minr * t_ms;
        if (room < p->latency_budget_ms) p->latency_budget_ms = room > 0 ? room : 0;
        snprintf(p->note, sizeof p->note,
                 "shortened to fit the %.0f s run budget (%.0f s share, %.1f s per inference): "
                 "concurrency %d request(s) per thread, batch %d", c->total_budget_s,
                 share / 1000, t_ms / 1000, p->conc_requests, p->batch_n);
        return;
    }
    p->skip_optional = 1;
    p->conc_requests = 0;
    p->batch_n = 0;
    p->latency_budget_ms = 0; /* the minimum rounds only */
    snprintf(p->note, sizeof p->note,
             "%.0f s run budget: this variant's share is %.0f s%s (%.1f s per inference): "
             "concurrency and batch checks skipped, %d latency rounds only", c->total_budget_s,
             share / 1000, share <= 0 ? ", the budget is spent" : ", too small",
             t_ms / 1000, minr);
}
