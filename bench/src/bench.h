/* bench.h -- shared types of ocellus-bench (the benchmark tree, docs/BENCHMARKS.md).
 * main.c drives the run; config.c reads bench/config.json and OCELLUS_BENCH_* variables;
 * sysinfo.c describes the machine; imagegen.c writes the test images; measure.c takes
 * every measurement; gates.c decides the verdict; baseline.c saves/compares baselines;
 * report.c writes results.json/.csv, report.md and report.html. */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ocellus.h"
#include "stats.h"

#define BN_MAX_VARIANTS 64
#define BN_MAX_LIST 16

/* ---- growable sample series ---- */
typedef struct {
    double *v;
    int n, cap;
} bn_series;
void bn_series_push(bn_series *s, double x);
void bn_series_free(bn_series *s);
bs_summary bn_series_summary(const bn_series *s);

/* ---- configuration (config.c) ---- */
typedef struct {
    /* gates */
    double latency_p95_ms;      /* per variant, end to end */
    double memory_mb;           /* peak RSS of load + one inference, per variant */
    double batch_memory_mb;     /* peak RSS of load + one batch */
    double concurrent_p95_ms;   /* response time p95 under concurrency */
    double success_rate;        /* percent */
    double load_ms;             /* cold-file model load limit of a variant not named below */
    char load_limits[1024];     /* per-variant load limits "yolo11x=4000,sam2=8000" (a name
                                 * matches a variant exactly or as its longest prefix) */
    double realtime_ms;         /* real-time target of one single-image run (end to end) */
    double realtime_rate;       /* percent of single-image runs under it, per variant */
    /* regression */
    double regression_threshold; /* relative, on the median */
    double alpha;                /* significance level of Mann-Whitney U */
    /* single-image latency */
    int warmup;
    int min_rounds, max_rounds;
    double budget_s;            /* time budget per variant for the latency rounds */
    int load_rounds;
    int threads;                /* 0: the library's default (all cores) */
    /* quick-mode gates on every variant */
    int gate_batch;             /* batch size of the batch-memory measurement */
    int gate_concurrency;       /* K threads for the concurrency gate */
    int gate_requests;          /* requests per thread in the concurrency gate */
    double total_budget_s;      /* quick mode: time budget of the whole run (0: none) */
    /* full mode */
    int full_load_rounds;
    int full_min_rounds, full_max_rounds;
    double full_budget_s;
    int image_rounds;
    int batch_sizes[BN_MAX_LIST], n_batch_sizes;
    int batch_rounds;
    int concurrency[BN_MAX_LIST], n_concurrency;
    int concurrency_requests;
    int leak_cycles;
    double leak_rss_tolerance_kb;   /* per cycle */
    double endurance_s;
    char full_models[256];      /* comma-separated variant names for the full suites */
    /* where things are */
    char variants_file[512];
    char weights_dir[512];
    char results_dir[512];
    char baselines_dir[512];
    char only_variants[512];    /* comma-separated filter, "" = all */
    char config_path[512];
} bn_config;

void bn_config_defaults(bn_config *c);
/* Read a JSON config file (missing keys keep their value). Returns 0, or -1 with a message. */
int bn_config_load(bn_config *c, const char *path, char *err, size_t errlen);
/* Apply OCELLUS_BENCH_* environment variables; returns the number applied. */
int bn_config_env(bn_config *c, char *applied, size_t len);
/* Print the configuration keys, their environment variables and values. */
void bn_config_print(const bn_config *c, FILE *f);
/* cJSON object of the configuration (returned as void* to keep cJSON out of this header). */
void *bn_config_json(const bn_config *c);
int bn_in_list(const char *list, const char *name);

/* ---- environment (sysinfo.c) ---- */
typedef struct {
    char host[128];
    char cpu_model[256];
    char cpu_flags_simd[512]; /* the SIMD-relevant subset of /proc/cpuinfo flags */
    int cores;
    int threads;
    char isa[32];
    char openblas_core[64];
    char openblas_config[256];
    char compiler[128];
    char cflags[512];
    char commit[64];
    int dirty;
    char governor[64];
    double mhz_cur, mhz_max;
    char warnings[1024];
    char kernel[256];
    char machine_id[24];      /* 16 hex digits of a hash of /etc/machine-id ("unknown") */
    double load_start;        /* 1-minute load average when the run started */
    double fma_peak_gflops;   /* measured FMA peak of `threads` threads at `isa` (0: unknown):
                               * a variant's floor is its GFLOP / this */
    double mem_total_mb;
    char timestamp[32];       /* UTC, 2026-11-22T21:00:00Z */
    char library_version[32];
} bn_env;
void bn_env_collect(bn_env *e, int threads);
/* 1-minute load average (/proc/loadavg), -1 when unreadable */
double bn_loadavg(void);
/* FNV-1a 64 of the bytes, as 16 hex digits */
void bn_hash_hex(const void *data, size_t len, char out[17]);

/* ---- images (imagegen.c) ---- */
typedef enum { BN_CONTENT_SIMPLE = 0, BN_CONTENT_MEDIUM, BN_CONTENT_COMPLEX } bn_content;
const char *bn_content_name(bn_content c);
/* Fill a w x h RGB image with deterministic content. Returns 0 or -1. */
int bn_image_make(oc_image *img, int w, int h, bn_content c, uint32_t seed);
int bn_write_jpeg(const char *path, const oc_image *img, int quality, char *err, size_t errlen);
int bn_read_file(const char *path, uint8_t **buf, size_t *len);

/* ---- results ---- */
typedef struct {
    int ok;
    double peak_rss_mb;   /* VmHWM of the child */
    double load_ms, run_ms, ms_per_image;
    double arena_mb;
    int batch;
    char error[256];
} bn_child_result;

typedef struct {
    char model[64];
    int k, threads_per_session, requests;
    bn_series resp_ms;
    bs_summary s;
    double wall_s, throughput;
    int attempts, errors, mismatches, compared;
    char error[256];
} bn_conc;

typedef struct {
    char name[64];
    char arch[32], scale[16];
    char path[600];
    char kind[32];          /* synthetic / converted / unknown */
    int skipped;            /* no file: not measured */
    int missing;            /* no file because generating it failed: counted as an error */
    char error[512];        /* the first error met, "" when none */
    double file_mb;
    uint64_t params;
    double gflops;
    int in_h, in_w;
    bn_series load_ms;      /* load_ms.v[0] is from a cold file (page cache dropped) */
    double load_cold_ms, load_limit_ms;
    bn_series e2e, decode, pre, infer, post;
    bs_summary s_load, s_e2e, s_decode, s_pre, s_infer, s_post;
    int warmup;
    double latency_wall_s;
    double throughput;      /* images/s from the mean end-to-end latency */
    double realtime_pct;    /* share of the single-image runs under cfg.realtime_ms */
    double arena_mb;
    double activations_mb;  /* every activation's own bytes, as if none shared memory */
    double planner_saving_pct; /* 100 * (1 - arena / activations) */
    double load_avg;        /* 1-minute load average right after the latency rounds */
    int budget_skipped;     /* not measured: the run budget was spent before its turn */
    int n_dets;
    bn_child_result peak;   /* load + one inference in a fresh process */
    bn_child_result batch;  /* load + one batch in a fresh process */
    bn_conc conc;           /* the concurrency gate measurement */
    int attempts, failures;
    char note[320];         /* how the protocol was shortened to fit the time budget */
    int conc_requests, batch_n; /* what was actually run */
    /* baseline comparison */
    int compared;
    bs_comparison cmp;
} bn_variant;

typedef struct {
    char model[64];
    int w, h;
    bn_content content;
    char format[8];
    double file_kb;
    bn_series decode, e2e;
    bs_summary s_decode, s_e2e;
    int attempts, failures;
    char error[256];
} bn_imgsize;

typedef struct {
    char model[64];
    bn_child_result r;
    int attempts, failures;
} bn_batch;

typedef struct {
    char model[64];
    int cycles;
    bn_series rss_kb, live_bytes, open_allocs;
    bs_slope_result rss, live, allocs;
    double rss_tol_kb;
    int leak;
    int attempts, failures;
    char error[256];
} bn_leak;

typedef struct {
    char model[64];
    double duration_s;
    bn_series t_s, lat_ms;
    bs_linfit drift;        /* ms per second of run time */
    double first_median, last_median, drift_pct;
    int attempts, failures;
    char error[256];
} bn_endurance;

typedef struct {
    char name[16];
    int pass;
    char text[512];
} bn_gate;

typedef struct {
    char model[64];
    char metric[32];
    bs_comparison c;
} bn_regression;

typedef struct {
    const char *mode;       /* "quick" or "full" */
    bn_config cfg;
    bn_env env;
    char out_dir[600];
    char image_path[700];   /* the JPEG of the single-image latency test */
    char image_desc[128];
    char self_exe[600];
    bn_variant v[BN_MAX_VARIANTS];
    int nv;
    bn_imgsize *img;
    int n_img;
    bn_batch *batch;
    int n_batch;
    bn_conc *conc;
    int n_conc;
    bn_leak *leak;
    int n_leak;
    bn_endurance *endur;
    int n_endur;
    /* baseline */
    char baseline_path[700];
    int baseline_found;
    int baseline_saved;
    int compare_required;   /* --compare: a missing baseline fails the regression gate */
    char baseline_note[600]; /* why no baseline applies (none, or another host's) */
    bn_regression *reg;
    int n_reg;
    /* verdict */
    bn_gate gates[12];
    int n_gates, n_pass;
    double wall_s;
    long attempts, failures;
    double t_start_ms;
    int variants_left;      /* not yet measured, for the per-variant share of the budget */
    int n_budget_skipped;   /* variants not measured because the run budget was spent */
    int n_budget_cut;       /* variants whose optional checks the budget skipped */
    double load_max;        /* highest 1-minute load average seen after a variant's rounds */
    struct bn_trend *trend; /* this host's saved runs (trend.c), NULL when none */
} bn_run;

/* ---- the run budget (budget.c) ----
 * Before a variant's latency rounds: from its fresh-process inference time t and load time,
 * decide what fits in its share (time left / variants left) of quick.total_budget_s. */
typedef struct {
    int skip_variant;       /* not even warm-up + min rounds fit in the time left */
    int skip_optional;      /* concurrency and batch checks skipped, min rounds only */
    int shortened;          /* concurrency 1 request per thread, batch <= 2 */
    int conc_requests, batch_n;
    double latency_budget_ms;
    char note[320];
} bn_budget_plan;
void bn_budget_plan_variant(const bn_config *c, double left_ms, int variants_left, double t_ms,
                            double load_ms, bn_budget_plan *p);

/* ---- per-variant limits (config.c) ---- */
double bn_config_load_limit(const bn_config *c, const char *variant);

/* ---- identity of a host for baselines and trends (baseline.c) ---- */
/* "" when a baseline/run recorded with these fields belongs to this host, else what differs */
void bn_identity_mismatch(const bn_env *e, const char *cpu, int cores, const char *isa,
                          int threads, const char *machine_id, char *out, size_t len);

/* ---- trend over this host's saved runs (trend.c) ---- */
#define BN_TREND_MAX_RUNS 40
typedef struct bn_trend {
    int nruns;
    char timestamp[BN_TREND_MAX_RUNS][32];
    char commit[BN_TREND_MAX_RUNS][24];
    char mode[BN_TREND_MAX_RUNS][8];
    double load_start[BN_TREND_MAX_RUNS];
    int nvar;
    char variant[BN_MAX_VARIANTS][64];
    double median_ms[BN_MAX_VARIANTS][BN_TREND_MAX_RUNS]; /* NAN: not in that run */
    double peak_mb[BN_MAX_VARIANTS][BN_TREND_MAX_RUNS];
} bn_trend;
/* Collect the runs under results_dir whose environment matches this host (skipping
 * skip_dir, the current run's), oldest first, then the current run; NULL when out of memory. */
bn_trend *bn_trend_collect(const bn_run *r, const char *skip_dir);

/* measure.c */
int bn_child_main(int argc, char **argv); /* --child-peak / --child-batch / --callgrind-run */
void bn_measure_variant(bn_run *r, bn_variant *v, int full);
void bn_suite_image_sizes(bn_run *r, const char *model);
void bn_suite_batch(bn_run *r, const char *model);
void bn_suite_concurrency(bn_run *r, const char *model);
void bn_suite_leak(bn_run *r, const char *model);
void bn_suite_endurance(bn_run *r, const char *model);
bn_variant *bn_find_variant(bn_run *r, const char *name);
void bn_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* gates.c */
/* FLOPs of one image at the measured FMA peak, ms (0 when unknown) */
double bn_floor_ms(const bn_run *r, const bn_variant *v);
void bn_gates_evaluate(bn_run *r);
void bn_print_table(const bn_run *r, FILE *f);
void bn_print_verdict(const bn_run *r, FILE *f);

/* baseline.c */
void bn_baseline_path(const bn_run *r, char *out, size_t len);
int bn_baseline_save(bn_run *r, char *err, size_t errlen);
int bn_baseline_compare(bn_run *r, char *err, size_t errlen);
/* --promote-baseline: turn a past run's results.json into the baseline of its host/ISA/threads */
int bn_baseline_promote(const char *results_json, const char *baselines_dir, char *out_path,
                        size_t out_len, char *err, size_t errlen);

/* report.c */
int bn_write_reports(bn_run *r);

/* small helpers (main.c) */
double bn_now_ms(void);
int bn_mkdirs(const char *path);

#endif
