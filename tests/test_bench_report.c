/* test_bench_report.c -- the benchmark's baselines (a baseline identifies its host and is never
 * used by another), the run budget (cuts announced, the total kept within it), the reports
 * (new per-variant fields in JSON, CSV, Markdown and HTML) and the trend over this host's
 * saved runs. Synthetic runs only: nothing is timed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../bench/src/stats.c"
#include "../bench/src/config.c"
#include "../bench/src/imagegen.c"
#include "../bench/src/gates.c"
#include "../bench/src/budget.c"
#include "../bench/src/baseline.c"
#include "../bench/src/trend.c"
#include "../bench/src/report.c"
#include "testutil.h"

/* the few helpers of main.c / measure.c the included files use */
void bn_series_push(bn_series *s, double x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->v = realloc(s->v, sizeof(double) * (size_t)s->cap);
    }
    s->v[s->n++] = x;
}
void bn_series_free(bn_series *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}
bs_summary bn_series_summary(const bn_series *s)
{
    bs_summary r;
    bs_summarize(s->v, s->n, &r);
    return r;
}
int bn_mkdirs(const char *path) { return mkdir(path, 0755) && errno != EEXIST ? -1 : 0; }
double bn_now_ms(void) { return 0; }

static bn_run run;
static char tmpdir[400];
static int gate_pass_named(const char *name);

static void free_test_run(void)
{
    for (int i = 0; i < run.nv; i++) {
        bn_variant *v = &run.v[i];
        bn_series *ss[] = {&v->load_ms, &v->e2e, &v->decode, &v->pre, &v->infer, &v->post,
                           &v->conc.resp_ms};
        for (size_t k = 0; k < sizeof ss / sizeof ss[0]; k++) bn_series_free(ss[k]);
    }
    free(run.reg);
    free(run.trend);
    memset(&run, 0, sizeof run);
}

static void set_env(bn_env *e, const char *machine)
{
    memset(e, 0, sizeof *e);
    snprintf(e->host, sizeof e->host, "vm");
    snprintf(e->cpu_model, sizeof e->cpu_model, "AMD EPYC 9B14");
    e->cores = 2;
    e->threads = 2;
    snprintf(e->isa, sizeof e->isa, "avx512");
    snprintf(e->machine_id, sizeof e->machine_id, "%s", machine);
    snprintf(e->commit, sizeof e->commit, "c0ffee1");
    snprintf(e->timestamp, sizeof e->timestamp, "2026-12-04T18:00:00Z");
}

/* one measured variant with every per-variant figure the reports show */
static void make_run(const char *machine, double ms)
{
    free_test_run();
    bn_config_defaults(&run.cfg);
    run.mode = "quick";
    set_env(&run.env, machine);
    snprintf(run.cfg.baselines_dir, sizeof run.cfg.baselines_dir, "%s/baselines", tmpdir);
    snprintf(run.cfg.results_dir, sizeof run.cfg.results_dir, "%s/results", tmpdir);
    bn_variant *v = &run.v[run.nv++];
    snprintf(v->name, sizeof v->name, "yolo11n");
    snprintf(v->arch, sizeof v->arch, "yolo11");
    snprintf(v->kind, sizeof v->kind, "synthetic");
    for (int i = 0; i < 20; i++) {
        bn_series_push(&v->e2e, ms + i);
        bn_series_push(&v->infer, ms - 5 + i);
        bn_series_push(&v->load_ms, 40 + i % 3);
    }
    v->s_e2e = bn_series_summary(&v->e2e);
    v->s_infer = bn_series_summary(&v->infer);
    v->s_load = bn_series_summary(&v->load_ms);
    v->load_cold_ms = 123.4;
    v->load_limit_ms = 5000;
    v->throughput = 1000.0 / v->s_e2e.mean;
    v->realtime_pct = 100;
    v->arena_mb = 14.0;
    v->activations_mb = 56.0;
    v->planner_saving_pct = 75.0;
    v->peak.ok = 1;
    v->peak.peak_rss_mb = 53.0 + ms / 100;
    v->batch_n = 4;
    v->conc_requests = 2;
    v->batch.ok = 1;
    v->batch.batch = 4;
    v->batch.peak_rss_mb = 107;
    v->conc.k = 2;
    snprintf(v->conc.model, sizeof v->conc.model, "yolo11n");
    for (int i = 0; i < 4; i++) bn_series_push(&v->conc.resp_ms, 2 * ms + i);
    v->conc.s = bn_series_summary(&v->conc.resp_ms);
    v->attempts = 30;
}

static char *slurp(const char *path)
{
    uint8_t *b;
    size_t n;
    if (bn_read_file(path, &b, &n)) return NULL;
    char *s = realloc(b, n + 1);
    s[n] = 0;
    return s;
}

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/ocellus-bench-report-%ld", t && *t ? t : "/tmp", (long)getpid());
    return mkdir(tmpdir, 0755);
}

static int teardown(void **state)
{
    (void)state;
    free_test_run();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* a baseline saved on machine A is used on A, and never on B, not even when B finds the file
 * at its own path (a copied tree, a reused host name): B's gate passes with "no baseline for
 * this host" instead of reporting A's timings as regressions */
static void test_baseline_identifies_its_host(void **state)
{
    (void)state;
    make_run("aaaaaaaaaaaaaaaa", 40);
    bn_baseline_path(&run, run.baseline_path, sizeof run.baseline_path);
    char path_a[700];
    snprintf(path_a, sizeof path_a, "%s", run.baseline_path);
    char err[600];
    assert_int_equal(bn_baseline_save(&run, err, sizeof err), 0);
    char *txt = slurp(path_a);
    assert_non_null(txt);
    assert_non_null(strstr(txt, "\"machine_id_hash\":\t\"aaaaaaaaaaaaaaaa\""));
    assert_non_null(strstr(txt, "\"cpu_model\":\t\"AMD EPYC 9B14\""));
    free(txt);
    /* the same host compares */
    make_run("aaaaaaaaaaaaaaaa", 40);
    bn_baseline_path(&run, run.baseline_path, sizeof run.baseline_path);
    assert_int_equal(bn_baseline_compare(&run, err, sizeof err), 0);
    assert_true(run.baseline_found);
    assert_true(run.n_reg > 0);

    /* machine B, three times slower: its own path differs ... */
    make_run("bbbbbbbbbbbbbbbb", 120);
    bn_baseline_path(&run, run.baseline_path, sizeof run.baseline_path);
    assert_string_not_equal(run.baseline_path, path_a);
    assert_int_equal(bn_baseline_compare(&run, err, sizeof err), -1);
    bn_gates_evaluate(&run);
    assert_true(gate_pass_named("regression"));
    /* ... and A's file copied to B's path is refused, naming why */
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", path_a, run.baseline_path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(bn_baseline_compare(&run, err, sizeof err), -1);
    assert_false(run.baseline_found);
    assert_int_equal(run.n_reg, 0);
    assert_non_null(strstr(run.baseline_note, "no baseline for this host"));
    assert_non_null(strstr(run.baseline_note, "machine id aaaaaaaaaaaaaaaa"));
    bn_gates_evaluate(&run);
    assert_true(gate_pass_named("regression"));
    /* a baseline without an identity (the format before) is never anyone's */
    const char *old = "{\"kind\": \"ocellus-bench baseline\", \"variants\": {\"yolo11n\": "
                      "{\"e2e_ms\": [1, 1, 1, 1, 1]}}}";
    assert_int_equal(tu_write_file(run.baseline_path, old, strlen(old)), 0);
    assert_int_equal(bn_baseline_compare(&run, err, sizeof err), -1);
    assert_non_null(strstr(run.baseline_note, "machine id absent"));
    /* same machine, other thread count: not comparable either */
    make_run("aaaaaaaaaaaaaaaa", 40);
    run.env.threads = 1;
    snprintf(run.baseline_path, sizeof run.baseline_path, "%s", path_a);
    assert_int_equal(bn_baseline_compare(&run, err, sizeof err), -1);
    assert_non_null(strstr(run.baseline_note, "2 threads, this run 1"));
}

/* the budget plan: a share that fits keeps everything; a small one shortens; a spent budget
 * skips the optional checks or the variant, and each cut is written down */
static void test_budget_plan(void **state)
{
    (void)state;
    bn_config c;
    bn_config_defaults(&c); /* 780 s, warm-up 1, 5..50 rounds in 12 s, K=2 x 2, batch 4 */
    bn_budget_plan p;
    bn_budget_plan_variant(&c, 700e3, 10, 100, 50, &p);
    assert_false(p.skip_variant || p.skip_optional || p.shortened);
    assert_int_equal(p.conc_requests, 2);
    assert_int_equal(p.batch_n, 4);
    assert_true(p.latency_budget_ms == 12000);
    assert_string_equal(p.note, "");
    /* 70 s for 10 variants of 1 s per inference: 7 s each, the full protocol needs 15 s */
    bn_budget_plan_variant(&c, 70e3, 10, 1000, 500, &p);
    assert_true(p.shortened || p.skip_optional);
    assert_non_null(strstr(p.note, "run budget"));
    /* 20 s for 5 variants of 1 s: a 4 s share cannot hold even 6 s of rounds: optional checks go */
    bn_budget_plan_variant(&c, 20e3, 5, 1000, 500, &p);
    assert_true(p.skip_optional);
    assert_false(p.skip_variant);
    assert_int_equal(p.conc_requests, 0);
    assert_int_equal(p.batch_n, 0);
    assert_non_null(strstr(p.note, "concurrency and batch checks skipped"));
    /* the budget is spent (-47 s): nothing more is measured, and the note says so */
    bn_budget_plan_variant(&c, -47e3, 3, 1000, 500, &p);
    assert_true(p.skip_variant);
    assert_non_null(strstr(p.note, "not measured"));
    /* no budget: no plan */
    c.total_budget_s = 0;
    bn_budget_plan_variant(&c, -47e3, 3, 1000, 500, &p);
    assert_false(p.skip_variant || p.skip_optional);
}

/* A whole quick run simulated with the protocol's own cost model on a loaded host (each
 * variant several times slower than on a quiet one): the run ends within the budget plus at
 * most one variant's load rounds and fresh-process run, the overrun the plan cannot see. */
static void test_budget_keeps_the_total(void **state)
{
    (void)state;
    bn_config c;
    bn_config_defaults(&c);
    const double t_quiet[] = {42, 100, 268, 343, 724, 45, 124, 295, 568, 854, 57, 130, 331, 466, 936};
    const int nv = (int)(sizeof t_quiet / sizeof t_quiet[0]);
    for (double slow = 1; slow <= 8; slow *= 2) {
        double clock = 0, worst_unseen = 0;
        int skipped = 0, cut = 0;
        for (int i = 0; i < nv; i++) {
            double t = t_quiet[i] * slow, load = t; /* loads scale with the model too */
            if (clock >= c.total_budget_s * 1000) { skipped++; continue; }
            double unseen = (1 + c.load_rounds) * load + load + t; /* cold + warm loads, child */
            if (unseen > worst_unseen) worst_unseen = unseen;
            clock += unseen;
            bn_budget_plan p;
            bn_budget_plan_variant(&c, c.total_budget_s * 1000 - clock, nv - i, t, load, &p);
            if (p.skip_variant) { skipped++; continue; }
            cut += p.skip_optional;
            int rounds = c.min_rounds;
            while (rounds < c.max_rounds && rounds * t < p.latency_budget_ms) rounds++;
            clock += (c.warmup + rounds) * t;
            clock += c.gate_concurrency * p.conc_requests * t;
            if (p.batch_n) clock += p.batch_n * t + load;
        }
        if (clock > c.total_budget_s * 1000 + worst_unseen)
            fail_msg("x%.0f slower: %.0f s for a %.0f s budget", slow, clock / 1000, c.total_budget_s);
        if (slow >= 8) assert_true(skipped + cut > 0); /* something had to give */
    }
}

static int gate_pass_named(const char *name)
{
    for (int i = 0; i < run.n_gates; i++)
        if (!strcmp(run.gates[i].name, name)) return run.gates[i].pass;
    fail_msg("no gate %s", name);
    return 0;
}

/* a past run directory with a results.json of the given identity */
static void fake_run(const char *dir, const char *machine, const char *ts, const char *commit,
                     double median, double peak)
{
    char d[1024], p[1100];
    snprintf(d, sizeof d, "%s/%s", run.cfg.results_dir, dir);
    bn_mkdirs(run.cfg.results_dir);
    bn_mkdirs(d);
    snprintf(p, sizeof p, "%s/results.json", d);
    char js[2048];
    snprintf(js, sizeof js,
             "{\"mode\": \"quick\", \"environment\": {\"timestamp\": \"%s\", \"commit\": \"%s\", "
             "\"cpu_model\": \"AMD EPYC 9B14\", \"cores\": 2, \"threads\": 2, \"isa_path\": "
             "\"avx512\", \"machine_id_hash\": \"%s\", \"load_average_start\": 0.5}, "
             "\"variants\": [{\"name\": \"yolo11n\", \"skipped\": false, \"e2e_ms\": {\"stats\": "
             "{\"median\": %g}}, \"peak\": {\"peak_rss_mb\": %g}}]}",
             ts, commit, machine, median, peak);
    assert_int_equal(tu_write_file(p, js, strlen(js)), 0);
}

/* every report carries the new per-variant figures; the HTML has the trend of this host's
 * runs (and only this host's) */
static void test_reports_and_trend(void **state)
{
    (void)state;
    make_run("aaaaaaaaaaaaaaaa", 40);
    fake_run("20261203-100000-quick", "aaaaaaaaaaaaaaaa", "2026-12-03T10:00:00Z", "1111111", 48, 60);
    fake_run("20261202-100000-quick", "aaaaaaaaaaaaaaaa", "2026-12-02T10:00:00Z", "2222222", 55, 61);
    fake_run("20261201-100000-quick", "cccccccccccccccc", "2026-12-01T10:00:00Z", "9999999", 900, 900);
    snprintf(run.out_dir, sizeof run.out_dir, "%s/results/20261204-180000-quick", tmpdir);
    bn_mkdirs(run.out_dir);
    run.trend = bn_trend_collect(&run, run.out_dir);
    assert_non_null(run.trend);
    assert_int_equal(run.trend->nruns, 3); /* two of this host, oldest first, then this run */
    assert_string_equal(run.trend->commit[0], "2222222");
    assert_string_equal(run.trend->commit[1], "1111111");
    assert_string_equal(run.trend->commit[2], "c0ffee1");
    assert_true(run.trend->median_ms[0][0] == 55 && run.trend->peak_mb[0][1] == 60);
    snprintf(run.baseline_note, sizeof run.baseline_note, "no baseline for this host (test)");
    bn_gates_evaluate(&run);
    assert_int_equal(bn_write_reports(&run), 0);
    char p[1200];
    snprintf(p, sizeof p, "%s/results.json", run.out_dir);
    char *js = slurp(p);
    assert_non_null(js);
    const char *jkeys[] = {"\"throughput_img_s\"", "\"planner_saving_pct\":\t75",
                           "\"activations_mb\":\t56", "\"realtime_pct\":\t100",
                           "\"load_cold_ms\":\t123.4", "\"machine_id_hash\":\t\"aaaaaaaaaaaaaaaa\"",
                           "\"gate\":\t\"load\"", "\"gate\":\t\"realtime\"", "\"run_budget\""};
    for (size_t i = 0; i < sizeof jkeys / sizeof jkeys[0]; i++)
        if (!strstr(js, jkeys[i])) fail_msg("results.json lacks %s", jkeys[i]);
    free(js);
    snprintf(p, sizeof p, "%s/results.csv", run.out_dir);
    char *csv = slurp(p);
    assert_non_null(csv);
    assert_non_null(strstr(csv, "memory,yolo11n,plan,planner_saving,%,1,75.0000"));
    assert_non_null(strstr(csv, "latency,yolo11n,synthetic,throughput,img/s"));
    assert_non_null(strstr(csv, "latency,yolo11n,under 2000 ms,realtime_rate,%,1,100.0000"));
    assert_non_null(strstr(csv, "load,yolo11n,synthetic,load_cold,ms,1,123.4000"));
    free(csv);
    snprintf(p, sizeof p, "%s/report.md", run.out_dir);
    char *md = slurp(p);
    assert_non_null(md);
    assert_non_null(strstr(md, "| throughput img/s | under 2000 ms |"));
    assert_non_null(strstr(md, "| planner saving |"));
    assert_non_null(strstr(md, "| 75.0% |"));
    assert_non_null(strstr(md, "PASS load "));
    free(md);
    snprintf(p, sizeof p, "%s/report.html", run.out_dir);
    char *html = slurp(p);
    assert_non_null(html);
    assert_non_null(strstr(html, "<th>planner saving %</th>"));
    assert_non_null(strstr(html, "<th>throughput img/s</th>"));
    assert_non_null(strstr(html, "Trend over this host's runs"));
    assert_non_null(strstr(html, "Median end-to-end latency per variant across runs"));
    assert_non_null(strstr(html, "Peak RSS (load + one inference) per variant across runs"));
    assert_non_null(strstr(html, "12-02 10:00 2222222"));
    assert_null(strstr(html, "9999999")); /* another machine's run is not in this host's trend */
    assert_non_null(strstr(html, "<polyline fill='none' stroke='#4e79a7' stroke-width='2'"));
    free(html);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baseline_identifies_its_host),
        cmocka_unit_test(test_budget_plan),
        cmocka_unit_test(test_budget_keeps_the_total),
        cmocka_unit_test(test_reports_and_trend),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
