/* main.c -- ocellus-bench: the benchmark tree's driver (make bench / bench-full /
 * bench-baseline / bench-compare; docs/BENCHMARKS.md). */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double bn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int bn_mkdirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
            *p = '/';
        }
    if (mkdir(tmp, 0755) && errno != EEXIST) return -1;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ocellus-bench [--mode quick|full] [--config FILE] [--save-baseline] [--compare]\n"
            "                     [--variants a,b,...] [--out DIR] [--image FILE] [--show-config]\n"
            "  --mode quick      per variant: load time, single-image latency, peak memory, batch\n"
            "                    memory and a concurrency check; then the gate verdict (default)\n"
            "  --mode full       quick plus image sizes, batch scaling, concurrency K=1..8, leak\n"
            "                    check and endurance on the full.models variants\n"
            "  --save-baseline   save this run to bench/baselines/<host>-<machine>-<isa>-t<threads>.json\n"
            "  --compare         compare with this host's baseline (a missing one fails the gate)\n"
            "  --config FILE     JSON configuration (default bench/config.json when present)\n"
            "  --show-config     print every key, its OCELLUS_BENCH_* variable and value, and exit\n"
            "  --promote-baseline RESULTS_JSON  make a past run the baseline of its host, and exit\n"
            "Exit status: 0 when every gate passes, 1 when one fails, 2 on a usage error.\n"
            "Reports go to bench/results/<timestamp>/ (results.json, results.csv, report.md,\n"
            "report.html). Progress is printed on stderr, the table and the verdict on stdout.\n");
}

static int read_variants(bn_run *r)
{
    FILE *f = fopen(r->cfg.variants_file, "r");
    if (!f) {
        fprintf(stderr, "ocellus-bench: cannot read the variant list %s: %s\n", r->cfg.variants_file,
                strerror(errno));
        return -1;
    }
    char line[256];
    while (fgets(line, sizeof line, f) && r->nv < BN_MAX_VARIANTS) {
        char *h = strchr(line, '#');
        if (h) *h = 0;
        char arch[32], scale[16];
        if (sscanf(line, "%31s %15s", arch, scale) != 2) continue;
        bn_variant *v = &r->v[r->nv];
        memset(v, 0, sizeof *v);
        snprintf(v->name, sizeof v->name, "%s%s", arch, scale);
        if (r->cfg.only_variants[0] && !bn_in_list(r->cfg.only_variants, v->name)) continue;
        snprintf(v->arch, sizeof v->arch, "%s", arch);
        snprintf(v->scale, sizeof v->scale, "%s", scale);
        char wdir[400];
        snprintf(wdir, sizeof wdir, "%.399s", r->cfg.weights_dir);
        snprintf(v->path, sizeof v->path, "%s/%s%s.safetensors", wdir, arch, scale);
        struct stat sb;
        if (stat(v->path, &sb) != 0) {
            char marker[700];
            uint8_t *msg;
            size_t len;
            snprintf(marker, sizeof marker, "%.400s/.gen-failed/%s", r->cfg.results_dir, v->name);
            if (bn_read_file(marker, &msg, &len) == 0) {
                v->missing = 1; /* make_weights.sh could not generate it: an error, not a skip */
                v->attempts = v->failures = 1;
                snprintf(v->error, sizeof v->error, "%.500s", (char *)msg);
                v->error[strcspn(v->error, "\n")] = 0;
                free(msg);
                fprintf(stderr, "ocellus-bench: %s: no model file: %s\n", v->name, v->error);
            } else {
                v->skipped = 1;
                fprintf(stderr, "ocellus-bench: %s: no model file %s: skipped (make weights "
                                "generates the ones ocellus gen supports)\n", v->name, v->path);
            }
        }
        r->nv++;
    }
    fclose(f);
    return 0;
}

static int make_test_image(bn_run *r, const char *user_image)
{
    if (user_image) {
        snprintf(r->image_path, sizeof r->image_path, "%s", user_image);
        oc_image img;
        if (oc_image_load(user_image, &img) != OC_OK) {
            fprintf(stderr, "ocellus-bench: --image %s: %s\n", user_image, oc_last_error());
            return -1;
        }
        snprintf(r->image_desc, sizeof r->image_desc, "%.80s (%dx%d)", user_image, img.width, img.height);
        oc_image_free(&img);
        return 0;
    }
    oc_image img;
    if (bn_image_make(&img, 640, 480, BN_CONTENT_MEDIUM, 42)) {
        fprintf(stderr, "ocellus-bench: cannot make the test image: %s\n", oc_last_error());
        return -1;
    }
    snprintf(r->image_path, sizeof r->image_path, "%.600s/test_640x480_medium.jpg", r->out_dir);
    char err[256];
    int rc = bn_write_jpeg(r->image_path, &img, 90, err, sizeof err);
    oc_image_free(&img);
    if (rc) {
        fprintf(stderr, "ocellus-bench: %s\n", err);
        return -1;
    }
    snprintf(r->image_desc, sizeof r->image_desc,
             "generated 640x480 JPEG (quality 90) with shapes on a gradient");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strncmp(argv[1], "--child-", 8) == 0 || strcmp(argv[1], "--callgrind-run") == 0))
        return bn_child_main(argc, argv);

    static bn_run run; /* large: keep it off the stack */
    bn_run *r = &run;
    r->mode = "quick";
    const char *config = NULL, *out = NULL, *image = NULL, *only = NULL;
    int save = 0, show = 0;
    const char *promote = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--mode") == 0 && i + 1 < argc) {
            r->mode = argv[++i];
            if (strcmp(r->mode, "quick") && strcmp(r->mode, "full")) {
                fprintf(stderr, "ocellus-bench: --mode must be quick or full, not '%s'\n", r->mode);
                return 2;
            }
        } else if (strcmp(a, "--config") == 0 && i + 1 < argc) config = argv[++i];
        else if (strcmp(a, "--out") == 0 && i + 1 < argc) out = argv[++i];
        else if (strcmp(a, "--image") == 0 && i + 1 < argc) image = argv[++i];
        else if (strcmp(a, "--variants") == 0 && i + 1 < argc) only = argv[++i];
        else if (strcmp(a, "--save-baseline") == 0) save = 1;
        else if (strcmp(a, "--compare") == 0) r->compare_required = 1;
        else if (strcmp(a, "--show-config") == 0) show = 1;
        else if (strcmp(a, "--promote-baseline") == 0 && i + 1 < argc) promote = argv[++i];
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { usage(stdout); return 0; }
        else {
            fprintf(stderr, "ocellus-bench: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    bn_config_defaults(&r->cfg);
    if (!config) config = getenv("OCELLUS_BENCH_CONFIG");
    if (!config && access("bench/config.json", R_OK) == 0) config = "bench/config.json";
    if (config) {
        char err[600];
        if (bn_config_load(&r->cfg, config, err, sizeof err)) {
            fprintf(stderr, "ocellus-bench: %s\n", err);
            return 2;
        }
    }
    char applied[1024];
    bn_config_env(&r->cfg, applied, sizeof applied);
    if (only) snprintf(r->cfg.only_variants, sizeof r->cfg.only_variants, "%s", only);
    if (show) {
        bn_config_print(&r->cfg, stdout);
        return 0;
    }
    if (promote) {
        char path[800], err[600];
        if (bn_baseline_promote(promote, r->cfg.baselines_dir, path, sizeof path, err, sizeof err)) {
            fprintf(stderr, "ocellus-bench: --promote-baseline: %s\n", err);
            return 1;
        }
        printf("baseline %s written from %s\n", path, promote);
        return 0;
    }
    if (r->cfg.threads > 0 && oc_set_num_threads(r->cfg.threads) != OC_OK) {
        fprintf(stderr, "ocellus-bench: threads %d: %s\n", r->cfg.threads, oc_last_error());
        return 2;
    }
    double t_start = bn_now_ms();
    r->t_start_ms = t_start;
    bn_env_collect(&r->env, r->cfg.threads);
    ssize_t n = readlink("/proc/self/exe", r->self_exe, sizeof r->self_exe - 1);
    if (n <= 0) snprintf(r->self_exe, sizeof r->self_exe, "%s", argv[0]);
    else r->self_exe[n] = 0;

    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", &tm);
    if (out) snprintf(r->out_dir, sizeof r->out_dir, "%s", out);
    else snprintf(r->out_dir, sizeof r->out_dir, "%.400s/%s-%s", r->cfg.results_dir, ts, r->mode);
    if (bn_mkdirs(r->out_dir)) {
        fprintf(stderr, "ocellus-bench: cannot create %s: %s\n", r->out_dir, strerror(errno));
        return 2;
    }
    if (make_test_image(r, image)) return 2;
    if (read_variants(r)) return 2;
    int full = strcmp(r->mode, "full") == 0;
    int measured = 0;
    for (int i = 0; i < r->nv; i++) measured += !r->v[i].skipped && !r->v[i].missing;
    bn_progress("ocellus-bench %s mode: %d variant(s) with model files of %d listed in %s; %s, %d "
                "threads, ISA %s; config %s%s%s", r->mode, measured, r->nv, r->cfg.variants_file,
                r->env.cpu_model, r->env.threads, r->env.isa, config ? config : "(defaults)",
                applied[0] ? "; env " : "", applied);
    bn_progress("latency rounds per variant: adaptive, min %d, max %d, stopping after %.0f s of "
                "timed rounds; results in %s", full ? r->cfg.full_min_rounds : r->cfg.min_rounds,
                full ? r->cfg.full_max_rounds : r->cfg.max_rounds,
                full ? r->cfg.full_budget_s : r->cfg.budget_s, r->out_dir);
    if (r->env.warnings[0]) bn_progress("warning: %s", r->env.warnings);

    int k = 0;
    for (int i = 0; i < r->nv; i++) {
        if (r->v[i].skipped || r->v[i].missing) continue;
        bn_progress("[%d/%d] %s (%s)", ++k, measured, r->v[i].name, r->v[i].path);
        r->variants_left = measured - k + 1;
        double spent_s = (bn_now_ms() - t_start) / 1000.0;
        if (!full && r->cfg.total_budget_s > 0 && spent_s >= r->cfg.total_budget_s) {
            /* the budget is spent: the remaining variants are not measured, and say so */
            bn_variant *v = &r->v[i];
            v->budget_skipped = 1;
            r->n_budget_skipped++;
            snprintf(v->note, sizeof v->note, "not measured: the %.0f s run budget was spent "
                     "(%.0f s elapsed) before its turn", r->cfg.total_budget_s, spent_s);
            bn_progress("%s: %s", v->name, v->note);
            continue;
        }
        bn_measure_variant(r, &r->v[i], full);
    }
    if (full) {
        char list[256];
        snprintf(list, sizeof list, "%.255s", r->cfg.full_models);
        char *save_ptr = NULL;
        for (char *m = strtok_r(list, ", ", &save_ptr); m; m = strtok_r(NULL, ", ", &save_ptr)) {
            bn_progress("full suites on %s: image sizes", m);
            bn_suite_image_sizes(r, m);
            bn_progress("full suites on %s: batch scaling", m);
            bn_suite_batch(r, m);
            bn_progress("full suites on %s: concurrency", m);
            bn_suite_concurrency(r, m);
            bn_progress("full suites on %s: leak check (%d cycles)", m, r->cfg.leak_cycles);
            bn_suite_leak(r, m);
            bn_progress("full suites on %s: endurance (%.0f s)", m, r->cfg.endurance_s);
            bn_suite_endurance(r, m);
        }
    }

    bn_baseline_path(r, r->baseline_path, sizeof r->baseline_path);
    r->trend = bn_trend_collect(r, r->out_dir);
    char err[600];
    if (bn_baseline_compare(r, err, sizeof err) == 0)
        bn_progress("compared with the baseline %s (%d comparisons)", r->baseline_path, r->n_reg);
    else if (r->compare_required)
        fprintf(stderr, "ocellus-bench: --compare: %s (run make bench-baseline first)\n", err);
    if (save) {
        if (bn_baseline_save(r, err, sizeof err) == 0)
            bn_progress("baseline saved to %s", r->baseline_path);
        else
            fprintf(stderr, "ocellus-bench: baseline not saved: %s\n", err);
    }
    r->wall_s = (bn_now_ms() - t_start) / 1000.0;
    bn_gates_evaluate(r);
    if (bn_write_reports(r) == 0) {
        char latest[700];
        snprintf(latest, sizeof latest, "%.600s/latest", r->cfg.results_dir);
        if (!out) {
            unlink(latest);
            const char *base = strrchr(r->out_dir, '/');
            if (symlink(base ? base + 1 : r->out_dir, latest)) { /* best effort */ }
        }
    }
    printf("\nOcellus benchmark, %s mode: %s, %d threads, ISA %s, commit %s\n\n", r->mode,
           r->env.cpu_model, r->env.threads, r->env.isa, r->env.commit);
    bn_print_table(r, stdout);
    printf("\nReports: %s/report.html (also report.md, results.json, results.csv)\n\n", r->out_dir);
    bn_print_verdict(r, stdout);
    fflush(stdout);
    return r->n_pass == r->n_gates ? 0 : 1;
}
