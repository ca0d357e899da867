/* test_bench_gates.c -- the benchmark verdict (bench/src/gates.c) and configuration
 * (bench/src/config.c) on synthetic runs: every gate passing, each gate failing for its own
 * reason, errors counted, regressions by level, and the JSON/environment configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../bench/src/stats.c"
#include "../bench/src/config.c"
#include "../bench/src/imagegen.c"
#include "../bench/src/gates.c"
#include "testutil.h"

static bn_run run; /* large: static */

static void push(bn_series *s, double v, int n)
{
    if (s->n + n > s->cap) {
        s->cap = s->n + n + 8;
        s->v = realloc(s->v, sizeof(double) * (size_t)s->cap);
    }
    for (int i = 0; i < n; i++) s->v[s->n++] = v + i; /* v, v+1, ... */
}

static void free_run(void)
{
    for (int i = 0; i < run.nv; i++) {
        free(run.v[i].e2e.v);
        free(run.v[i].conc.resp_ms.v);
    }
    free(run.reg);
    memset(&run, 0, sizeof run);
}

/* n variants that pass every gate comfortably */
static void make_run(int n)
{
    free_run();
    bn_config_defaults(&run.cfg);
    run.mode = "quick";
    snprintf(run.baseline_path, sizeof run.baseline_path, "bench/baselines/test.json");
    for (int i = 0; i < n; i++) {
        bn_variant *v = &run.v[run.nv++];
        snprintf(v->name, sizeof v->name, "v%d", i);
        push(&v->e2e, 100.0 * (i + 1), 20);
        bs_summarize(v->e2e.v, v->e2e.n, &v->s_e2e);
        v->peak.ok = 1;
        v->peak.peak_rss_mb = 100.0 * (i + 1);
        v->batch.ok = 1;
        v->batch.batch = 4;
        v->batch_n = 4;
        v->conc_requests = 2;
        v->batch.peak_rss_mb = 300.0 * (i + 1);
        v->load_cold_ms = 200.0 * (i + 1);
        v->load_limit_ms = 5000;
        v->realtime_pct = 100;
        v->conc.k = 2;
        snprintf(v->conc.model, sizeof v->conc.model, "v%d", i);
        push(&v->conc.resp_ms, 200.0 * (i + 1), 4);
        bs_summarize(v->conc.resp_ms.v, v->conc.resp_ms.n, &v->conc.s);
        v->conc.attempts = 4;
        v->attempts = 30; /* as measure.c: the variant's count includes its concurrency requests */
    }
}

static const bn_gate *gate(const char *name)
{
    for (int i = 0; i < run.n_gates; i++)
        if (strcmp(run.gates[i].name, name) == 0) return &run.gates[i];
    fail_msg("no gate %s", name);
    return NULL;
}

static void verdict_text(char *buf, size_t len)
{
    FILE *f = fmemopen(buf, len, "w");
    assert_non_null(f);
    bn_print_verdict(&run, f);
    fclose(f);
}

static void test_all_pass(void **state)
{
    (void)state;
    make_run(3);
    bn_gates_evaluate(&run);
    assert_int_equal(run.n_gates, 8);
    assert_int_equal(run.n_pass, 8);
    char buf[4096];
    verdict_text(buf, sizeof buf);
    assert_non_null(strstr(buf, "Performance Gate: PASS\nGates Passed: 8/8\n"));
    assert_non_null(strstr(buf, "  PASS load       v2 cold-file load 600.0 ms (limit 5000 ms)"));
    assert_non_null(strstr(buf, "  PASS realtime   v0 100.0% of 20 single-image runs under 2000 ms (limit >= 90%)"));
    /* the worst variant is named with its figure and the limit */
    assert_non_null(strstr(buf, "  PASS latency    v2 p95 318.1 ms (limit 2000 ms)"));
    assert_non_null(strstr(buf, "  PASS memory     v2 peak 300.0 MB (limit 1024 MB)"));
    assert_non_null(strstr(buf, "  PASS batch      v2 batch 4 peak 900.0 MB (limit 4096 MB)"));
    assert_non_null(strstr(buf, "v2 K=2 p95"));
    assert_non_null(strstr(buf, "100.00% (90 of 90 operations, 0 errors)"));
    free_run();
}

static void test_each_gate_fails_for_its_reason(void **state)
{
    (void)state;
    /* latency: one variant's p95 crosses 2000 ms */
    make_run(3);
    free(run.v[1].e2e.v);
    memset(&run.v[1].e2e, 0, sizeof run.v[1].e2e);
    push(&run.v[1].e2e, 1000, 18);
    push(&run.v[1].e2e, 2500, 2); /* p95 interpolates inside the slow tail */
    bs_summarize(run.v[1].e2e.v, run.v[1].e2e.n, &run.v[1].s_e2e);
    assert_true(run.v[1].s_e2e.p95 > 2000);
    bn_gates_evaluate(&run);
    assert_false(gate("latency")->pass);
    assert_non_null(strstr(gate("latency")->text, "v1 p95"));
    assert_int_equal(run.n_pass, 7);

    /* memory: 1024 MB is not under 1024 MB */
    make_run(2);
    run.v[0].peak.peak_rss_mb = 1024.0;
    bn_gates_evaluate(&run);
    assert_false(gate("memory")->pass);
    assert_true(gate("latency")->pass);

    /* batch over 4 GB */
    make_run(2);
    run.v[1].batch.peak_rss_mb = 5000;
    bn_gates_evaluate(&run);
    assert_false(gate("batch")->pass);
    assert_non_null(strstr(gate("batch")->text, "v1 batch 4 peak 5000.0 MB"));

    /* concurrency: fast enough but a result differs from the single caller */
    make_run(2);
    run.v[0].conc.mismatches = 1;
    bn_gates_evaluate(&run);
    assert_false(gate("concurrent")->pass);
    assert_non_null(strstr(gate("concurrent")->text, "differ"));
    free_run();
}

static void test_errors_are_counted(void **state)
{
    (void)state;
    make_run(2);
    /* a variant that failed to load: no samples, an error, and failures */
    bn_variant *v = &run.v[1];
    free(v->e2e.v);
    memset(&v->e2e, 0, sizeof v->e2e);
    v->peak.ok = 0;
    v->batch.ok = 0;
    v->attempts = 2;
    v->failures = 2;
    snprintf(v->error, sizeof v->error, "weights/v1.safetensors: tensor 'x' truncated");
    bn_gates_evaluate(&run);
    assert_false(gate("latency")->pass);
    assert_non_null(strstr(gate("latency")->text, "tensor 'x' truncated"));
    assert_false(gate("memory")->pass);
    assert_false(gate("batch")->pass);
    /* 30 + 2 attempts, 2 failures: 93.75% < 99% */
    assert_int_equal(run.attempts, 32);
    assert_int_equal(run.failures, 2);
    assert_false(gate("success")->pass);
    assert_non_null(strstr(gate("success")->text, "93.75% (30 of 32 operations, 2 errors)"));
    /* one error in 200 operations is within 99% */
    make_run(2);
    run.v[0].attempts = 170;
    run.v[0].failures = 1;
    bn_gates_evaluate(&run);
    assert_true(gate("success")->pass);
    assert_non_null(strstr(gate("success")->text, "99.50% (199 of 200 operations, 1 errors)"));
    /* a run with nothing measured cannot pass */
    make_run(0);
    bn_gates_evaluate(&run);
    assert_false(gate("latency")->pass);
    assert_true(run.n_pass < run.n_gates);
    free_run();
}

static void add_reg(double change, int significant)
{
    run.reg = realloc(run.reg, sizeof(bn_regression) * (size_t)(run.n_reg + 1));
    bn_regression *g = &run.reg[run.n_reg++];
    memset(g, 0, sizeof *g);
    snprintf(g->model, sizeof g->model, "v0");
    snprintf(g->metric, sizeof g->metric, "latency");
    g->c.rel_change = change;
    g->c.significant = significant;
    g->c.mwu.p = significant ? 0.001 : 0.4;
    g->c.regression = significant && change > 0.20;
    g->c.level = g->c.regression ? bs_level_of(change) : BS_LEVEL_NONE;
}

static void test_regression_gate(void **state)
{
    (void)state;
    make_run(1);
    run.baseline_found = 1;
    add_reg(0.30, 1); /* major: reported, the gate still passes */
    add_reg(0.80, 0); /* large but not significant: not a regression */
    bn_gates_evaluate(&run);
    assert_true(gate("regression")->pass);
    assert_non_null(strstr(gate("regression")->text, "0 critical, 1 major"));
    add_reg(0.60, 1); /* critical */
    bn_gates_evaluate(&run);
    assert_false(gate("regression")->pass);
    assert_non_null(strstr(gate("regression")->text, "1 critical"));
    /* no baseline: passes with a note, unless --compare asked for one */
    make_run(1);
    bn_gates_evaluate(&run);
    assert_true(gate("regression")->pass);
    run.compare_required = 1;
    bn_gates_evaluate(&run);
    assert_false(gate("regression")->pass);
    free_run();
}

static void test_config_file_and_environment(void **state)
{
    (void)state;
    bn_config c;
    bn_config_defaults(&c);
    assert_true(c.latency_p95_ms == 2000 && c.memory_mb == 1024 && c.batch_memory_mb == 4096 &&
                c.concurrent_p95_ms == 5000 && c.success_rate == 99 && c.regression_threshold == 0.20);
    const char *path = tu_tmp_path(".json");
    const char *js = "{\"gates\": {\"latency_p95_ms\": 1500}, \"latency\": {\"min_rounds\": 7},"
                     " \"full\": {\"batch_sizes\": [1, 3], \"models\": [\"yolo11n\", \"yolov8s\"]}}";
    assert_int_equal(tu_write_file(path, js, strlen(js)), 0);
    char err[600];
    assert_int_equal(bn_config_load(&c, path, err, sizeof err), 0);
    assert_true(c.latency_p95_ms == 1500);
    assert_int_equal(c.min_rounds, 7);
    assert_int_equal(c.n_batch_sizes, 2);
    assert_int_equal(c.batch_sizes[1], 3);
    assert_string_equal(c.full_models, "yolo11n,yolov8s");
    assert_true(c.memory_mb == 1024); /* untouched keys keep their defaults */
    /* environment overrides the file; a bad value is ignored with a message */
    setenv("OCELLUS_BENCH_LATENCY_MS", "900", 1);
    setenv("OCELLUS_BENCH_ROUNDS", "abc", 1);
    setenv("OCELLUS_BENCH_CONCURRENCY_LEVELS", "1,2,8", 1);
    char applied[512];
    assert_int_equal(bn_config_env(&c, applied, sizeof applied), 2);
    unsetenv("OCELLUS_BENCH_LATENCY_MS");
    unsetenv("OCELLUS_BENCH_ROUNDS");
    unsetenv("OCELLUS_BENCH_CONCURRENCY_LEVELS");
    assert_true(c.latency_p95_ms == 900);
    assert_int_equal(c.min_rounds, 7);
    assert_int_equal(c.n_concurrency, 3);
    assert_int_equal(c.concurrency[2], 8);
    /* a key of the wrong type is an error naming the key */
    const char *bad = "{\"latency\": {\"min_rounds\": \"five\"}}";
    assert_int_equal(tu_write_file(path, bad, strlen(bad)), 0);
    assert_int_equal(bn_config_load(&c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "latency.min_rounds"));
    const char *broken = "{\"gates\": ";
    assert_int_equal(tu_write_file(path, broken, strlen(broken)), 0);
    assert_int_equal(bn_config_load(&c, path, err, sizeof err), -1);
    remove(path);
    assert_true(bn_in_list("yolo11n,yolov8s", "yolov8s"));
    assert_false(bn_in_list("yolo11n,yolov8s", "yolov8"));
}

/* the load and realtime gates fail for their own reasons, naming the variant */
static void test_load_and_realtime_gates(void **state)
{
    (void)state;
    make_run(3);
    run.v[1].load_cold_ms = 2500;
    run.v[1].load_limit_ms = 2000; /* its own limit, below the default */
    bn_gates_evaluate(&run);
    assert_false(gate("load")->pass);
    assert_non_null(strstr(gate("load")->text, "v1 cold-file load 2500.0 ms (limit 2000 ms)"));
    assert_true(gate("realtime")->pass);
    make_run(3);
    run.v[2].realtime_pct = 85; /* 17 of 20 runs under 2 s */
    bn_gates_evaluate(&run);
    assert_false(gate("realtime")->pass);
    assert_non_null(strstr(gate("realtime")->text, "v2 85.0% of 20 single-image runs under 2000 ms"));
    assert_true(gate("load")->pass);
    /* a variant that never loaded fails the load gate with its error */
    make_run(2);
    run.v[0].load_cold_ms = 0;
    snprintf(run.v[0].error, sizeof run.v[0].error, "bad header");
    bn_gates_evaluate(&run);
    assert_false(gate("load")->pass);
    assert_non_null(strstr(gate("load")->text, "bad header"));
    free_run();
}

/* latency taken while other work held the cores: the gate lines say so */
static void test_gate_lines_state_the_load(void **state)
{
    (void)state;
    make_run(2);
    run.env.cores = 2;
    run.env.threads = 2;
    run.env.load_start = 0.4;
    run.load_max = 2.3; /* this run's own two threads: a quiet host */
    bn_gates_evaluate(&run);
    assert_null(strstr(gate("latency")->text, "load average"));
    run.load_max = 5.3; /* three more runnable threads than ours on two cores */
    bn_gates_evaluate(&run);
    const char *want = "timings taken under load average 5.30 on 2 cores";
    assert_non_null(strstr(gate("latency")->text, want));
    assert_non_null(strstr(gate("concurrent")->text, want));
    assert_non_null(strstr(gate("realtime")->text, want));
    assert_null(strstr(gate("memory")->text, "load average")); /* memory does not move with load */
    /* busy already at the start */
    run.load_max = 2.1;
    run.env.load_start = 3.0;
    bn_gates_evaluate(&run);
    assert_non_null(strstr(gate("latency")->text, "under load average 3.00 on 2 cores"));
    free_run();
}

/* variants the run budget left unmeasured, or without their optional checks, are named on
 * the gate lines and do not count as failures */
static void test_budget_cuts_are_reported(void **state)
{
    (void)state;
    make_run(3);
    run.cfg.total_budget_s = 780;
    run.v[1].conc_requests = 0; /* optional checks skipped */
    run.v[1].batch_n = 0;
    run.v[1].batch.ok = 0;
    free(run.v[1].conc.resp_ms.v);
    memset(&run.v[1].conc, 0, sizeof run.v[1].conc);
    run.n_budget_cut = 1;
    run.v[2].budget_skipped = 1; /* not measured at all */
    free(run.v[2].e2e.v);
    memset(&run.v[2].e2e, 0, sizeof run.v[2].e2e);
    run.v[2].peak.ok = 0;
    run.n_budget_skipped = 1;
    bn_gates_evaluate(&run);
    assert_int_equal(run.n_pass, run.n_gates);
    assert_non_null(strstr(gate("latency")->text, "1 variant(s) not measured: the 780 s run budget was spent"));
    assert_non_null(strstr(gate("batch")->text, "skipped on 1 variant(s) by the run budget"));
    assert_non_null(strstr(gate("concurrent")->text, "skipped on 1 variant(s) by the run budget"));
    free_run();
}

/* per-variant load limits: a JSON object in config.json, name=ms in the environment; a key
 * matches the variant's name or its longest prefix */
static void test_load_limits_config(void **state)
{
    (void)state;
    bn_config c;
    bn_config_defaults(&c);
    assert_true(bn_config_load_limit(&c, "yolo11n") == 5000);
    const char *path = tu_tmp_path(".json");
    const char *js = "{\"gates\": {\"load_ms\": 3000, \"load_ms_per_variant\": {\"yolo11\": 4000, "
                     "\"yolo11x\": 9000, \"sam2\": 12000}, \"realtime_rate_pct\": 95}}";
    assert_int_equal(tu_write_file(path, js, strlen(js)), 0);
    char err[600];
    assert_int_equal(bn_config_load(&c, path, err, sizeof err), 0);
    assert_true(bn_config_load_limit(&c, "yolo11x") == 9000);
    assert_true(bn_config_load_limit(&c, "yolo11n") == 4000);
    assert_true(bn_config_load_limit(&c, "sam2l") == 12000);
    assert_true(bn_config_load_limit(&c, "yolov8n") == 3000);
    assert_true(c.realtime_rate == 95);
    setenv("OCELLUS_BENCH_LOAD_LIMITS", "yolov8=2500,yolov8x=7000", 1);
    assert_int_equal(bn_config_env(&c, NULL, 0), 1);
    unsetenv("OCELLUS_BENCH_LOAD_LIMITS");
    assert_true(bn_config_load_limit(&c, "yolov8x") == 7000);
    assert_true(bn_config_load_limit(&c, "yolov8s") == 2500);
    assert_true(bn_config_load_limit(&c, "yolo11x") == 3000); /* the environment replaced the table */
    const char *bad = "{\"gates\": {\"load_ms_per_variant\": {\"yolo11\": \"fast\"}}}";
    assert_int_equal(tu_write_file(path, bad, strlen(bad)), 0);
    assert_int_equal(bn_config_load(&c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "gates.load_ms_per_variant"));
    remove(path);
}

/* a variant whose FLOPs at the measured FMA peak exceed the latency limit: the verdict line
 * says it cannot pass on this host and gives the floor; a variant that only runs slow does not
 * get that excuse */
static void test_latency_floor_named(void **state)
{
    (void)state;
    make_run(3);
    run.env.fma_peak_gflops = 422.0;
    run.env.threads = 2;
    run.v[0].gflops = 40.0; /* floor 95 ms */
    run.v[1].gflops = 1818.6; /* floor 4309.5 ms: above the 2000 ms limit */
    run.v[2].gflops = 287.0;
    for (int k = 1; k < 3; k++) { /* both over the limit */
        free(run.v[k].e2e.v);
        memset(&run.v[k].e2e, 0, sizeof run.v[k].e2e);
        push(&run.v[k].e2e, k == 1 ? 9000 : 2600, 20);
        bs_summarize(run.v[k].e2e.v, run.v[k].e2e.n, &run.v[k].s_e2e);
    }
    bn_gates_evaluate(&run);
    const bn_gate *g = gate("latency");
    assert_false(g->pass);
    assert_non_null(strstr(g->text, "v1 cannot pass on this host at any efficiency: its floor is "
                                    "4309 ms (1818.6 GFLOP at the measured FMA peak of 422 "
                                    "GFLOP/s, 2 threads), p95 2.09x it"));
    assert_null(strstr(g->text, "v2 cannot pass"));
    assert_true(fabs(bn_floor_ms(&run, &run.v[2]) - 680.09) < 0.01);
    char buf[8192];
    verdict_text(buf, sizeof buf);
    assert_non_null(strstr(buf, "FAIL latency"));
    assert_non_null(strstr(buf, "its floor is 4309 ms"));
    /* no measured peak: no floor claimed */
    run.env.fma_peak_gflops = 0;
    bn_gates_evaluate(&run);
    assert_null(strstr(gate("latency")->text, "cannot pass"));
    assert_true(bn_floor_ms(&run, &run.v[1]) == 0);
    free_run();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_pass),
        cmocka_unit_test(test_each_gate_fails_for_its_reason),
        cmocka_unit_test(test_errors_are_counted),
        cmocka_unit_test(test_regression_gate),
        cmocka_unit_test(test_config_file_and_environment),
        cmocka_unit_test(test_load_and_realtime_gates),
        cmocka_unit_test(test_gate_lines_state_the_load),
        cmocka_unit_test(test_budget_cuts_are_reported),
        cmocka_unit_test(test_load_limits_config),
        cmocka_unit_test(test_latency_floor_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
