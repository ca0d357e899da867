/* measure.c -- every measurement of ocellus-bench.
 *
 * Peak memory is measured in a fresh process: the parent fork()s and exec()s itself with
 * --child-peak / --child-batch; the child loads the model, runs, and reports the VmHWM of its
 * own (new) address space on stdout. A fork without exec would start with a copy of the
 * parent's resident pages, and ru_maxrss after exec still counts the pre-exec image, so
 * neither is used for the figure. */
#include "bench.h"
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

/* ---- small helpers ---------------------------------------------------------------------- */
void bn_series_push(bn_series *s, double x)
{
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        double *v = realloc(s->v, sizeof(double) * (size_t)cap);
        if (!v) return; /* sample dropped; the series stays valid */
        s->v = v;
        s->cap = cap;
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

static double t0_ms = -1;

void bn_progress(const char *fmt, ...)
{
    if (t0_ms < 0) t0_ms = bn_now_ms();
    double el = (bn_now_ms() - t0_ms) / 1000.0;
    fprintf(stderr, "[bench %4d:%02d] ", (int)(el / 60), (int)fmod(el, 60));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

static double status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    size_t kl = strlen(key);
    double v = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = atof(line + kl + 1);
            break;
        }
    fclose(f);
    return v;
}

bn_variant *bn_find_variant(bn_run *r, const char *name)
{
    for (int i = 0; i < r->nv; i++)
        if (strcmp(r->v[i].name, name) == 0) return &r->v[i];
    return NULL;
}

static void set_err(char *dst, size_t len, const char *what)
{
    if (!dst[0]) snprintf(dst, len, "%s", what);
}

/* FNV-1a over the detections and, when the session exposes it, the raw output 0 */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t fingerprint(const oc_session *s, const oc_detections *d)
{
    uint64_t h = 1469598103934665603ull;
    h = fnv(h, &d->count, sizeof d->count);
    for (int i = 0; i < d->count; i++) {
        const oc_detection *x = &d->items[i];
        float f[5] = {x->x1, x->y1, x->x2, x->y2, x->score};
        h = fnv(h, f, sizeof f);
        h = fnv(h, &x->class_id, sizeof x->class_id);
    }
    oc_tensor t;
    if (oc_session_num_outputs(s) > 0 && oc_session_output(s, 0, &t) == OC_OK && t.data) {
        size_t n = 1;
        for (int i = 0; i < t.ndim; i++) n *= (size_t)t.dims[i];
        h = fnv(h, t.data, n * sizeof(float));
    }
    return h;
}

/* ---- child processes ------------------------------------------------------------------- */
static void child_report(const bn_child_result *c)
{
    printf("ok=%d peak_kb=%.0f load_ms=%.3f run_ms=%.3f ms_per_image=%.3f arena_mb=%.3f batch=%d "
           "error=%s\n",
           c->ok, c->peak_rss_mb * 1024.0, c->load_ms, c->run_ms, c->ms_per_image, c->arena_mb,
           c->batch, c->error[0] ? c->error : "-");
    fflush(stdout);
}

/* One image through the model's task: detection, or for a promptable segmenter (SAM2:
 * stages "encode" and "decode") the image encoding plus one decode of a centre click -- what
 * a user's first click on a new image costs. */
/* GFLOP of the calling thread's last bn_infer, every stage it ran counted (the session
 * reports only the stage it ran last) */
static _Thread_local double tl_infer_gflop;

static oc_status bn_infer(oc_session *s, const oc_image *img, oc_detections *d)
{
    const oc_model *m = oc_session_model(s);
    const char *st0 = oc_model_stage(m, 0);
    if (!st0 || strcmp(st0, "encode")) {
        oc_status st = oc_detect(s, img, NULL, d);
        tl_infer_gflop = oc_session_flops(s) / 1e9;
        return st;
    }
    memset(d, 0, sizeof *d);
    oc_status st = oc_segment_set_image(s, img);
    if (st != OC_OK) return st;
    const double encode_gflop = oc_session_flops(s) / 1e9;
    float pt[2] = {img->width * 0.5f, img->height * 0.5f};
    int32_t lab[1] = {1};
    oc_segment_prompt p = {.points = pt, .labels = lab, .n_points = 1};
    oc_segmentation r;
    st = oc_segment(s, &p, &r);
    oc_segmentation_free(&r);
    tl_infer_gflop = encode_gflop + oc_session_flops(s) / 1e9;
    return st;
}

static void child_fail(bn_child_result *c, const char *what)
{
    snprintf(c->error, sizeof c->error, "%s: %s", what, oc_last_error());
    for (char *p = c->error; *p; p++)
        if (*p == '\n') *p = ' ';
    c->peak_rss_mb = status_kb("VmHWM") / 1024.0;
    child_report(c);
}

static int child_peak(const char *model_path, const char *image_path)
{
    bn_child_result c = {0};
    c.batch = 1;
    oc_model *m = NULL;
    oc_session *s = NULL;
    oc_image img = {0};
    oc_detections d = {0};
    double t0 = bn_now_ms();
    if (oc_model_load(model_path, &m) != OC_OK) { child_fail(&c, "load"); return 1; }
    c.load_ms = bn_now_ms() - t0;
    if (oc_session_create(m, &s) != OC_OK) { child_fail(&c, "session"); oc_model_free(m); return 1; }
    double t1 = bn_now_ms();
    if (oc_image_load(image_path, &img) != OC_OK) { child_fail(&c, "image"); goto out; }
    if (bn_infer(s, &img, &d) != OC_OK) { child_fail(&c, "detect"); goto out; }
    c.run_ms = c.ms_per_image = bn_now_ms() - t1;
    c.arena_mb = oc_session_arena_bytes(s) / 1048576.0;
    c.peak_rss_mb = status_kb("VmHWM") / 1024.0;
    c.ok = 1;
    child_report(&c);
out:
    oc_detections_free(&d);
    oc_image_free(&img);
    oc_session_free(s);
    oc_model_free(m);
    return c.ok ? 0 : 1;
}

static int child_batch(const char *model_path, int batch, int rounds)
{
    bn_child_result c = {0};
    c.batch = batch;
    oc_model *m = NULL;
    oc_session *s = NULL;
    double t0 = bn_now_ms();
    if (oc_model_load(model_path, &m) != OC_OK) { child_fail(&c, "load"); return 1; }
    c.load_ms = bn_now_ms() - t0;
    if (oc_session_create(m, &s) != OC_OK) { child_fail(&c, "session"); oc_model_free(m); return 1; }
    int h = 640, w = 640;
    oc_model_input_size(m, &h, &w);
    if (h <= 0 || w <= 0) h = w = 640;
    size_t n = (size_t)batch * 3 * h * w;
    float *x = malloc(n * sizeof(float));
    if (!x) {
        snprintf(c.error, sizeof c.error, "out of memory for a %d-image input", batch);
        child_report(&c);
        goto out;
    }
    uint32_t st = 12345;
    for (size_t i = 0; i < n; i++) { /* a letterboxed-like input: values in [0, 1] */
        st ^= st << 13; st ^= st >> 17; st ^= st << 5;
        x[i] = (float)(st >> 8) * (1.0f / 16777216.0f);
    }
    oc_tensor in = {.name = "images", .ndim = 4, .dims = {batch, 3, h, w}, .data = x};
    /* first run plans the graph for this shape; it is the "one batch" of the memory figure */
    double t1 = bn_now_ms();
    if (oc_session_run(s, &in, 1) != OC_OK) { child_fail(&c, "run"); goto out; }
    c.run_ms = bn_now_ms() - t1;
    double best = c.run_ms;
    for (int i = 0; i < rounds; i++) {
        double t2 = bn_now_ms();
        if (oc_session_run(s, &in, 1) != OC_OK) { child_fail(&c, "run"); goto out; }
        double dt = bn_now_ms() - t2;
        if (i == 0 || dt < best) best = dt;
    }
    c.run_ms = best;
    c.ms_per_image = best / batch;
    c.arena_mb = oc_session_arena_bytes(s) / 1048576.0;
    c.peak_rss_mb = status_kb("VmHWM") / 1024.0;
    c.ok = 1;
    child_report(&c);
out:
    free(x);
    oc_session_free(s);
    oc_model_free(m);
    return c.ok ? 0 : 1;
}

/* instructions per inference under callgrind: run with --instr-atstart=no; only the timed
 * detections are instrumented (one warm-up first, which also builds and plans the graph) */
static int callgrind_run(const char *model_path, const char *image_path, int n)
{
    oc_model *m = NULL;
    oc_session *s = NULL;
    oc_image img = {0};
    oc_detections d = {0};
    if (oc_model_load(model_path, &m) != OC_OK || oc_session_create(m, &s) != OC_OK ||
        oc_image_load(image_path, &img) != OC_OK || bn_infer(s, &img, &d) != OC_OK) {
        fprintf(stderr, "callgrind-run: %s\n", oc_last_error());
        oc_session_free(s);
        oc_model_free(m);
        oc_image_free(&img);
        return 1;
    }
    oc_detections_free(&d);
    int ok = 1;
    CALLGRIND_START_INSTRUMENTATION;
    CALLGRIND_ZERO_STATS;
    for (int i = 0; i < n && ok; i++) {
        if (bn_infer(s, &img, &d) != OC_OK) ok = 0;
        oc_detections_free(&d);
    }
    CALLGRIND_DUMP_STATS_AT("inference");
    CALLGRIND_STOP_INSTRUMENTATION;
    printf("inferences=%d isa=%s threads=%d gflop=%.3f\n", n, oc_isa_name(oc_get_isa()),
           oc_get_num_threads(), oc_session_flops(s) / 1e9);
    oc_image_free(&img);
    oc_session_free(s);
    oc_model_free(m);
    if (!ok) fprintf(stderr, "callgrind-run: %s\n", oc_last_error());
    return ok ? 0 : 1;
}

/* the standard test image (the one quick mode times) */
static int write_test_image(const char *path)
{
    oc_image img;
    char err[256];
    if (bn_image_make(&img, 640, 480, BN_CONTENT_MEDIUM, 42)) return 1;
    int rc = bn_write_jpeg(path, &img, 90, err, sizeof err);
    oc_image_free(&img);
    if (rc) fprintf(stderr, "%s\n", err);
    return rc ? 1 : 0;
}

int bn_child_main(int argc, char **argv)
{
    for (int i = 1; i < argc - 1; i++)
        if (strcmp(argv[i], "--threads") == 0 && atoi(argv[i + 1]) > 0)
            oc_set_num_threads(atoi(argv[i + 1]));
    if (argc >= 4 && strcmp(argv[1], "--child-peak") == 0) return child_peak(argv[2], argv[3]);
    if (argc >= 5 && strcmp(argv[1], "--child-batch") == 0)
        return child_batch(argv[2], atoi(argv[3]) > 0 ? atoi(argv[3]) : 1, atoi(argv[4]));
    if (argc >= 3 && strcmp(argv[1], "--child-write-image") == 0) return write_test_image(argv[2]);
    if (argc >= 5 && strcmp(argv[1], "--callgrind-run") == 0)
        return callgrind_run(argv[2], argv[3], atoi(argv[4]) > 0 ? atoi(argv[4]) : 1);
    fprintf(stderr, "ocellus-bench: bad child arguments\n");
    return 2;
}

static int parse_kv(const char *line, const char *key, double *v)
{
    char pat[40];
    snprintf(pat, sizeof pat, "%s=", key);
    const char *p = strstr(line, pat);
    if (!p) return -1;
    *v = atof(p + strlen(pat));
    return 0;
}

/* run "self args..." and parse its report line */
static void run_child(bn_run *r, char *const args[], bn_child_result *out)
{
    memset(out, 0, sizeof *out);
    int fd[2];
    if (pipe(fd)) {
        snprintf(out->error, sizeof out->error, "pipe: %s", strerror(errno));
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(out->error, sizeof out->error, "fork: %s", strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return;
    }
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execv(r->self_exe, args);
        _exit(127);
    }
    close(fd[1]);
    char buf[2048];
    size_t got = 0;
    ssize_t k;
    while ((k = read(fd[0], buf + got, sizeof buf - 1 - got)) > 0) {
        got += (size_t)k;
        if (got >= sizeof buf - 1) break;
    }
    buf[got] = 0;
    close(fd[0]);
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
    }
    char *line = strstr(buf, "ok=");
    if (!line) {
        if (WIFSIGNALED(status))
            snprintf(out->error, sizeof out->error, "child killed by signal %d", WTERMSIG(status));
        else
            snprintf(out->error, sizeof out->error, "child exited %d without a report",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return;
    }
    double v;
    if (!parse_kv(line, "ok", &v)) out->ok = v > 0;
    if (!parse_kv(line, "peak_kb", &v)) out->peak_rss_mb = v / 1024.0;
    if (!parse_kv(line, "load_ms", &v)) out->load_ms = v;
    if (!parse_kv(line, "run_ms", &v)) out->run_ms = v;
    if (!parse_kv(line, "ms_per_image", &v)) out->ms_per_image = v;
    if (!parse_kv(line, "arena_mb", &v)) out->arena_mb = v;
    if (!parse_kv(line, "batch", &v)) out->batch = (int)v;
    char *e = strstr(line, "error=");
    if (e && !out->ok) {
        snprintf(out->error, sizeof out->error, "%s", e + 6);
        out->error[strcspn(out->error, "\n")] = 0;
    }
    if (out->ok && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        out->ok = 0;
        snprintf(out->error, sizeof out->error, "child reported but exited with status %d", status);
    }
}

static void child_peak_run(bn_run *r, const char *model_path, bn_child_result *out)
{
    char th[16];
    snprintf(th, sizeof th, "%d", r->env.threads);
    char *args[] = {r->self_exe, "--child-peak", (char *)model_path, r->image_path, "--threads", th, NULL};
    run_child(r, args, out);
}

static void child_batch_run(bn_run *r, const char *model_path, int batch, int rounds,
                            bn_child_result *out)
{
    char th[16], b[16], rd[16];
    snprintf(th, sizeof th, "%d", r->env.threads);
    snprintf(b, sizeof b, "%d", batch);
    snprintf(rd, sizeof rd, "%d", rounds);
    char *args[] = {r->self_exe, "--child-batch", (char *)model_path, b, rd, "--threads", th, NULL};
    run_child(r, args, out);
}

static const char *model_kind(const oc_model *m, char *buf, size_t len)
{
    const char *seed = oc_model_meta(m, "ocellus.synthetic_seed");
    const char *src = oc_model_meta(m, "ocellus.source");
    if (seed || (src && strstr(src, "synthetic")))
        snprintf(buf, len, "synthetic");
    else if (src)
        snprintf(buf, len, "converted");
    else
        snprintf(buf, len, "unknown");
    return buf;
}

/* ---- concurrency ----------------------------------------------------------------------- */
typedef struct {
    oc_session *s;
    const uint8_t *jpeg;
    size_t jpeg_len;
    int requests;
    uint64_t ref;
    double *resp;
    int ok, errors, mismatches;
    char error[256];
} conc_worker;

static void *conc_thread(void *arg)
{
    conc_worker *w = arg;
    for (int j = 0; j < w->requests; j++) {
        oc_image img = {0};
        oc_detections d = {0};
        double t0 = bn_now_ms();
        if (oc_image_decode(w->jpeg, w->jpeg_len, &img) != OC_OK ||
            bn_infer(w->s, &img, &d) != OC_OK) {
            w->errors++;
            if (!w->error[0]) snprintf(w->error, sizeof w->error, "%s", oc_last_error());
            oc_image_free(&img);
            continue;
        }
        double dt = bn_now_ms() - t0;
        if (fingerprint(w->s, &d) != w->ref) w->mismatches++;
        w->resp[w->ok++] = dt;
        oc_detections_free(&d);
        oc_image_free(&img);
    }
    return NULL;
}

static void conc_run(bn_run *r, const oc_model *m, const char *name, int k, int requests, bn_conc *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->model, sizeof out->model, "%s", name);
    out->k = k;
    out->requests = requests;
    int total = r->env.threads > 0 ? r->env.threads : r->env.cores;
    out->threads_per_session = total / k > 0 ? total / k : 1;
    uint8_t *jpeg;
    size_t jlen;
    if (bn_read_file(r->image_path, &jpeg, &jlen)) {
        snprintf(out->error, sizeof out->error, "%.200s: cannot read", r->image_path);
        out->attempts = out->errors = 1;
        return;
    }
    /* the single-thread reference with the same per-session thread count */
    uint64_t ref = 0;
    {
        oc_session *s = NULL;
        oc_image img = {0};
        oc_detections d = {0};
        out->attempts++;
        if (oc_session_create(m, &s) != OC_OK ||
            oc_session_set_num_threads(s, out->threads_per_session) != OC_OK ||
            oc_image_decode(jpeg, jlen, &img) != OC_OK || bn_infer(s, &img, &d) != OC_OK) {
            snprintf(out->error, sizeof out->error, "reference run: %s", oc_last_error());
            out->errors++;
            oc_image_free(&img);
            oc_session_free(s);
            free(jpeg);
            return;
        }
        ref = fingerprint(s, &d);
        oc_detections_free(&d);
        oc_image_free(&img);
        oc_session_free(s);
    }
    conc_worker *w = calloc((size_t)k, sizeof *w);
    pthread_t *th = calloc((size_t)k, sizeof *th);
    for (int i = 0; w && th && i < k; i++) {
        w[i].jpeg = jpeg;
        w[i].jpeg_len = jlen;
        w[i].requests = requests;
        w[i].ref = ref;
        w[i].resp = calloc((size_t)requests, sizeof(double));
        if (!w[i].resp || oc_session_create(m, &w[i].s) != OC_OK ||
            oc_session_set_num_threads(w[i].s, out->threads_per_session) != OC_OK) {
            snprintf(out->error, sizeof out->error, "session %d: %s", i, oc_last_error());
            w[i].errors = requests;
        }
    }
    int *running = calloc((size_t)k, sizeof(int));
    double t0 = bn_now_ms();
    for (int i = 0; w && th && running && i < k; i++) {
        if (w[i].errors) continue;
        if (pthread_create(&th[i], NULL, conc_thread, &w[i]) == 0) {
            running[i] = 1;
        } else {
            w[i].errors = requests;
            snprintf(out->error, sizeof out->error, "pthread_create failed");
        }
    }
    for (int i = 0; running && i < k; i++)
        if (running[i]) pthread_join(th[i], NULL);
    free(running);
    out->wall_s = (bn_now_ms() - t0) / 1000.0;
    int okn = 0;
    for (int i = 0; w && th && i < k; i++) {
        for (int j = 0; j < w[i].ok; j++) bn_series_push(&out->resp_ms, w[i].resp[j]);
        okn += w[i].ok;
        out->attempts += requests;
        out->errors += requests - w[i].ok;
        out->mismatches += w[i].mismatches;
        if (w[i].error[0]) set_err(out->error, sizeof out->error, w[i].error);
        free(w[i].resp);
        oc_session_free(w[i].s);
    }
    if (!w || !th) {
        out->attempts += k * requests;
        out->errors += k * requests;
        set_err(out->error, sizeof out->error, "out of memory");
    }
    out->compared = okn;
    out->s = bn_series_summary(&out->resp_ms);
    out->throughput = out->wall_s > 0 ? okn / out->wall_s : 0;
    free(w);
    free(th);
    free(jpeg);
}

/* ---- one variant ------------------------------------------------------------------------ */
static int detect_once(oc_session *s, const char *image_path, double *ms_decode, double *ms_total,
                       oc_detections *d)
{
    oc_image img = {0};
    double t0 = bn_now_ms();
    if (oc_image_load(image_path, &img) != OC_OK) return -1;
    double t1 = bn_now_ms();
    oc_status st = bn_infer(s, &img, d);
    double t2 = bn_now_ms();
    oc_image_free(&img);
    if (st != OC_OK) return -1;
    *ms_decode = t1 - t0;
    *ms_total = t2 - t0;
    return 0;
}

void bn_measure_variant(bn_run *r, bn_variant *v, int full)
{
    const bn_config *c = &r->cfg;
    struct stat sb;
    if (stat(v->path, &sb) == 0) v->file_mb = sb.st_size / 1048576.0;
    int load_rounds = full ? c->full_load_rounds : c->load_rounds;
    if (load_rounds < 1) load_rounds = 1;
    oc_model *m = NULL;
    /* load from a cold file: drop the file's pages from the page cache first (no root needed
     * for posix_fadvise), so mmap + validate + prepack read it from the disk as a first use
     * after boot would; the load-time gate checks this figure */
    {
        int fd = open(v->path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            fdatasync(fd);
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
        oc_model *mc = NULL;
        double t0 = bn_now_ms();
        v->attempts++;
        if (oc_model_load(v->path, &mc) != OC_OK) {
            v->failures++;
            set_err(v->error, sizeof v->error, oc_last_error());
            bn_progress("%s: load failed: %s", v->name, oc_last_error());
        } else {
            v->load_cold_ms = bn_now_ms() - t0;
            oc_model_free(mc);
        }
    }
    v->load_limit_ms = bn_config_load_limit(c, v->name);
    /* then warm loads: the series the baseline comparison uses */
    for (int i = 0; i < load_rounds; i++) {
        oc_model *mi = NULL;
        double t0 = bn_now_ms();
        v->attempts++;
        if (oc_model_load(v->path, &mi) != OC_OK) {
            v->failures++;
            set_err(v->error, sizeof v->error, oc_last_error());
            bn_progress("%s: load failed: %s", v->name, oc_last_error());
            continue;
        }
        bn_series_push(&v->load_ms, bn_now_ms() - t0);
        if (m) oc_model_free(m);
        m = mi;
    }
    v->s_load = bn_series_summary(&v->load_ms);
    if (!m) return;
    snprintf(v->arch, sizeof v->arch, "%s", oc_model_arch(m));
    snprintf(v->scale, sizeof v->scale, "%s", oc_model_scale(m));
    model_kind(m, v->kind, sizeof v->kind);
    v->params = oc_model_num_params(m);
    oc_model_input_size(m, &v->in_h, &v->in_w);
    bn_progress("%s: %s weights, %.1f M params, %.1f MB file, load from a cold file %.1f ms "
                "(limit %.0f ms), warm median %.1f ms", v->name, v->kind, v->params / 1e6,
                v->file_mb, v->load_cold_ms, v->load_limit_ms, v->s_load.median);

    /* peak memory of load + one inference, in a fresh process */
    v->attempts++;
    child_peak_run(r, v->path, &v->peak);
    if (!v->peak.ok) {
        v->failures++;
        set_err(v->error, sizeof v->error, v->peak.error);
    }
    bn_progress("%s: peak RSS (load + 1 inference, fresh process) %.1f MB%s%s", v->name,
                v->peak.peak_rss_mb, v->peak.ok ? "" : " FAILED: ", v->peak.error);

    /* fit the protocol into the run's time budget (quick mode, budget.c) */
    int minr = full ? c->full_min_rounds : c->min_rounds;
    int maxr = full ? c->full_max_rounds : c->max_rounds;
    double budget = (full ? c->full_budget_s : c->budget_s) * 1000.0;
    if (minr < 1) minr = 1;
    if (maxr < minr) maxr = minr;
    v->conc_requests = c->gate_requests;
    v->batch_n = c->gate_batch;
    if (!full && c->total_budget_s > 0 && v->peak.ok) {
        bn_budget_plan plan;
        double left = c->total_budget_s * 1000.0 - (bn_now_ms() - r->t_start_ms);
        bn_budget_plan_variant(c, left, r->variants_left, v->peak.run_ms, v->s_load.median, &plan);
        v->conc_requests = plan.conc_requests;
        v->batch_n = plan.batch_n;
        if (plan.latency_budget_ms < budget) budget = plan.latency_budget_ms;
        if (plan.note[0]) {
            snprintf(v->note, sizeof v->note, "%s", plan.note);
            bn_progress("%s: %s", v->name, v->note);
        }
        if (plan.skip_optional) r->n_budget_cut++;
        if (plan.skip_variant) {
            v->budget_skipped = 1;
            r->n_budget_skipped++;
            oc_model_free(m);
            return;
        }
    }

    /* single-image latency */
    oc_session *s = NULL;
    v->attempts++;
    if (oc_session_create(m, &s) != OC_OK) {
        v->failures++;
        set_err(v->error, sizeof v->error, oc_last_error());
        oc_model_free(m);
        return;
    }
    v->warmup = c->warmup;
    for (int i = 0; i < c->warmup; i++) {
        double dec, tot;
        oc_detections d = {0};
        v->attempts++;
        if (detect_once(s, r->image_path, &dec, &tot, &d)) {
            v->failures++;
            set_err(v->error, sizeof v->error, oc_last_error());
        }
        oc_detections_free(&d);
    }
    double tstart = bn_now_ms(), last_report = tstart;
    int consecutive_fail = 0;
    for (int i = 0; i < maxr; i++) {
        double el = bn_now_ms() - tstart;
        if (i >= minr && el >= budget) break;
        double dec, tot;
        oc_detections d = {0};
        v->attempts++;
        if (detect_once(s, r->image_path, &dec, &tot, &d)) {
            v->failures++;
            set_err(v->error, sizeof v->error, oc_last_error());
            oc_detections_free(&d);
            if (++consecutive_fail >= 3 && v->e2e.n == 0) break; /* it will not start working */
            continue;
        }
        consecutive_fail = 0;
        bn_series_push(&v->e2e, tot);
        bn_series_push(&v->decode, dec);
        bn_series_push(&v->pre, d.ms_preprocess);
        bn_series_push(&v->infer, d.ms_inference);
        bn_series_push(&v->post, d.ms_postprocess);
        v->n_dets = d.count;
        oc_detections_free(&d);
        if (bn_now_ms() - last_report > 5000) {
            last_report = bn_now_ms();
            bn_progress("%s: latency round %d (min %d, max %d, budget %.0f s), last %.1f ms", v->name,
                        i + 1, minr, maxr, budget / 1000, tot);
        }
    }
    v->latency_wall_s = (bn_now_ms() - tstart) / 1000.0;
    v->s_e2e = bn_series_summary(&v->e2e);
    v->s_decode = bn_series_summary(&v->decode);
    v->s_pre = bn_series_summary(&v->pre);
    v->s_infer = bn_series_summary(&v->infer);
    v->s_post = bn_series_summary(&v->post);
    v->throughput = v->s_e2e.mean > 0 ? 1000.0 / v->s_e2e.mean : 0;
    int rt = 0;
    for (int i = 0; i < v->e2e.n; i++) rt += v->e2e.v[i] < c->realtime_ms;
    v->realtime_pct = v->e2e.n ? 100.0 * rt / v->e2e.n : 0;
    v->load_avg = bn_loadavg();
    if (v->load_avg > r->load_max) r->load_max = v->load_avg;
    v->arena_mb = oc_session_arena_bytes(s) / 1048576.0;
    v->activations_mb = oc_session_activation_bytes(s) / 1048576.0;
    v->planner_saving_pct = v->activations_mb > 0 ? 100.0 * (1 - v->arena_mb / v->activations_mb) : 0;
    v->gflops = tl_infer_gflop;
    oc_session_free(s);
    if (v->e2e.n)
        bn_progress("%s: %d rounds, median %.1f ms, p95 %.1f ms (infer median %.1f ms, %.1f GFLOP)",
                    v->name, v->e2e.n, v->s_e2e.median, v->s_e2e.p95, v->s_infer.median, v->gflops);

    /* concurrency gate: K sessions on this model */
    if (c->gate_concurrency >= 1 && v->conc_requests >= 1) {
        conc_run(r, m, v->name, c->gate_concurrency, v->conc_requests, &v->conc);
        v->attempts += v->conc.attempts;
        v->failures += v->conc.errors + v->conc.mismatches; /* a differing result is a failure */
        if (v->conc.error[0]) set_err(v->error, sizeof v->error, v->conc.error);
        bn_progress("%s: concurrency K=%d x %d requests: p95 %.1f ms, %.2f img/s, %d errors, %d "
                    "mismatches", v->name, v->conc.k, v->conc.requests, v->conc.s.p95,
                    v->conc.throughput, v->conc.errors, v->conc.mismatches);
    }
    oc_model_free(m);

    /* batch memory gate: load + one batch in a fresh process */
    if (v->batch_n >= 1) {
        v->attempts++;
        child_batch_run(r, v->path, v->batch_n, 0, &v->batch);
        if (!v->batch.ok) {
            v->failures++;
            set_err(v->error, sizeof v->error, v->batch.error);
        }
        bn_progress("%s: batch %d peak RSS %.1f MB, %.1f ms/image%s%s", v->name, v->batch_n,
                    v->batch.peak_rss_mb, v->batch.ms_per_image, v->batch.ok ? "" : " FAILED: ",
                    v->batch.error);
    }
}

/* ---- full-mode suites ------------------------------------------------------------------- */
static oc_model *load_for_suite(bn_run *r, const char *name, const char *suite, char *err, size_t errlen)
{
    bn_variant *v = bn_find_variant(r, name);
    if (!v || v->skipped) {
        snprintf(err, errlen, "%s suite: variant %s has no model file", suite, name);
        bn_progress("%s", err);
        return NULL;
    }
    oc_model *m = NULL;
    if (oc_model_load(v->path, &m) != OC_OK) {
        snprintf(err, errlen, "%s suite: %s", suite, oc_last_error());
        bn_progress("%s", err);
        return NULL;
    }
    return m;
}

void bn_suite_image_sizes(bn_run *r, const char *name)
{
    static const int sizes[][2] = {{64, 64}, {320, 240}, {640, 480}, {1280, 720},
                                   {1920, 1080}, {1600, 400}, {400, 1600}};
    static const char *fmts[] = {"png", "jpg"};
    int nsz = (int)(sizeof sizes / sizeof sizes[0]);
    int total = nsz * 3 * 2;
    bn_imgsize *arr = realloc(r->img, sizeof(bn_imgsize) * (size_t)(r->n_img + total));
    if (!arr) return;
    r->img = arr;
    char err[256] = "";
    oc_model *m = load_for_suite(r, name, "image-size", err, sizeof err);
    oc_session *s = NULL;
    if (m && oc_session_create(m, &s) != OC_OK) snprintf(err, sizeof err, "%s", oc_last_error());
    char dir[700];
    snprintf(dir, sizeof dir, "%s/images", r->out_dir);
    bn_mkdirs(dir);
    for (int si = 0; si < nsz; si++)
        for (int ci = 0; ci < 3; ci++) {
            oc_image src = {0};
            int w = sizes[si][0], h = sizes[si][1];
            int made = bn_image_make(&src, w, h, (bn_content)ci, 1000u + (uint32_t)(si * 7 + ci)) == 0;
            for (int fi = 0; fi < 2; fi++) {
                bn_imgsize *x = &r->img[r->n_img++];
                memset(x, 0, sizeof *x);
                snprintf(x->model, sizeof x->model, "%s", name);
                x->w = w;
                x->h = h;
                x->content = (bn_content)ci;
                snprintf(x->format, sizeof x->format, "%s", fmts[fi]);
                char path[800];
                snprintf(path, sizeof path, "%s/%dx%d_%s.%s", dir, w, h, bn_content_name(x->content), fmts[fi]);
                char e2[256] = "";
                int wrote = made && (fi == 0 ? oc_image_save_png(path, &src) == OC_OK
                                             : bn_write_jpeg(path, &src, 90, e2, sizeof e2) == 0);
                struct stat sb;
                if (wrote && stat(path, &sb) == 0) x->file_kb = sb.st_size / 1024.0;
                if (!wrote || !s) {
                    x->attempts = x->failures = 1;
                    snprintf(x->error, sizeof x->error, "%s", !s ? err : e2[0] ? e2 : oc_last_error());
                    continue;
                }
                for (int k = 0; k < 1 + r->cfg.image_rounds; k++) { /* first run: warm-up */
                    double dec, tot;
                    oc_detections d = {0};
                    x->attempts++;
                    if (detect_once(s, path, &dec, &tot, &d)) {
                        x->failures++;
                        set_err(x->error, sizeof x->error, oc_last_error());
                    } else if (k > 0) {
                        bn_series_push(&x->decode, dec);
                        bn_series_push(&x->e2e, tot);
                    }
                    oc_detections_free(&d);
                }
                x->s_decode = bn_series_summary(&x->decode);
                x->s_e2e = bn_series_summary(&x->e2e);
            }
            oc_image_free(&src);
            bn_progress("%s: image %dx%d %s: png %.1f ms, jpg %.1f ms (median end to end)", name, w, h,
                        bn_content_name((bn_content)ci), r->img[r->n_img - 2].s_e2e.median,
                        r->img[r->n_img - 1].s_e2e.median);
        }
    oc_session_free(s);
    oc_model_free(m);
}

void bn_suite_batch(bn_run *r, const char *name)
{
    bn_variant *v = bn_find_variant(r, name);
    if (!v || v->skipped) {
        bn_progress("batch suite: variant %s has no model file", name);
        return;
    }
    for (int i = 0; i < r->cfg.n_batch_sizes; i++) {
        bn_batch *arr = realloc(r->batch, sizeof(bn_batch) * (size_t)(r->n_batch + 1));
        if (!arr) return;
        r->batch = arr;
        bn_batch *b = &r->batch[r->n_batch++];
        memset(b, 0, sizeof *b);
        snprintf(b->model, sizeof b->model, "%s", name);
        b->attempts = 1;
        child_batch_run(r, v->path, r->cfg.batch_sizes[i], r->cfg.batch_rounds, &b->r);
        if (!b->r.ok) b->failures = 1;
        b->r.batch = r->cfg.batch_sizes[i];
        bn_progress("%s: batch %d: %.1f ms/image, peak RSS %.1f MB, arena %.1f MB%s%s", name,
                    b->r.batch, b->r.ms_per_image, b->r.peak_rss_mb, b->r.arena_mb,
                    b->r.ok ? "" : " FAILED: ", b->r.error);
    }
}

void bn_suite_concurrency(bn_run *r, const char *name)
{
    char err[256];
    oc_model *m = load_for_suite(r, name, "concurrency", err, sizeof err);
    for (int i = 0; i < r->cfg.n_concurrency; i++) {
        bn_conc *arr = realloc(r->conc, sizeof(bn_conc) * (size_t)(r->n_conc + 1));
        if (!arr) break;
        r->conc = arr;
        bn_conc *c = &r->conc[r->n_conc++];
        if (!m) {
            memset(c, 0, sizeof *c);
            snprintf(c->model, sizeof c->model, "%s", name);
            c->k = r->cfg.concurrency[i];
            c->attempts = c->errors = 1;
            snprintf(c->error, sizeof c->error, "%s", err);
            continue;
        }
        conc_run(r, m, name, r->cfg.concurrency[i], r->cfg.concurrency_requests, c);
        bn_progress("%s: K=%d (%d thread(s) per session): p50 %.1f p95 %.1f ms, %.2f img/s, %d/%d "
                    "bit-identical to the single-session result, %d errors", name, c->k,
                    c->threads_per_session, c->s.median, c->s.p95, c->throughput,
                    c->compared - c->mismatches, c->compared, c->errors);
    }
    oc_model_free(m);
}

void bn_suite_leak(bn_run *r, const char *name)
{
    bn_leak *arr = realloc(r->leak, sizeof(bn_leak) * (size_t)(r->n_leak + 1));
    if (!arr) return;
    r->leak = arr;
    bn_leak *L = &r->leak[r->n_leak++];
    memset(L, 0, sizeof *L);
    snprintf(L->model, sizeof L->model, "%s", name);
    L->rss_tol_kb = r->cfg.leak_rss_tolerance_kb;
    bn_variant *v = bn_find_variant(r, name);
    if (!v || v->skipped) {
        snprintf(L->error, sizeof L->error, "variant %s has no model file", name);
        L->attempts = L->failures = 1;
        return;
    }
    int cycles = r->cfg.leak_cycles < 5 ? 5 : r->cfg.leak_cycles;
    const int skip = 2; /* the first cycles settle the heap and OpenMP's pools */
    double last = bn_now_ms();
    for (int i = 0; i < cycles + skip; i++) {
        oc_model *m = NULL;
        oc_session *s = NULL;
        oc_detections d = {0};
        double dec, tot;
        L->attempts++;
        if (oc_model_load(v->path, &m) != OC_OK || oc_session_create(m, &s) != OC_OK ||
            detect_once(s, r->image_path, &dec, &tot, &d)) {
            L->failures++;
            set_err(L->error, sizeof L->error, oc_last_error());
        }
        oc_detections_free(&d);
        oc_session_free(s);
        oc_model_free(m);
        if (i < skip) continue;
        oc_alloc_stats st;
        oc_get_alloc_stats(&st);
        bn_series_push(&L->rss_kb, status_kb("VmRSS"));
        bn_series_push(&L->live_bytes, (double)st.live_bytes);
        bn_series_push(&L->open_allocs, (double)st.allocs - (double)st.frees);
        if (bn_now_ms() - last > 5000) {
            last = bn_now_ms();
            bn_progress("%s: leak cycle %d/%d, RSS %.0f KB, library live bytes %.0f", name, i + 1 - skip,
                        cycles, L->rss_kb.v[L->rss_kb.n - 1], L->live_bytes.v[L->live_bytes.n - 1]);
        }
    }
    L->cycles = L->rss_kb.n;
    bs_slope_test(L->rss_kb.v, L->rss_kb.n, L->rss_tol_kb, 0.01, &L->rss);
    bs_slope_test(L->live_bytes.v, L->live_bytes.n, 0.0, 0.01, &L->live);
    bs_slope_test(L->open_allocs.v, L->open_allocs.n, 0.0, 0.01, &L->allocs);
    L->leak = L->rss.leak || L->live.leak || L->allocs.leak || L->failures;
    bn_progress("%s: leak check over %d cycles: RSS slope %+.1f KB/cycle (p=%.3g), library live "
                "bytes slope %+.1f B/cycle (p=%.3g), open allocations slope %+.3f/cycle: %s", name,
                L->cycles, L->rss.fit.slope, L->rss.fit.p, L->live.fit.slope, L->live.fit.p,
                L->allocs.fit.slope, L->leak ? "LEAK" : "flat");
}

void bn_suite_endurance(bn_run *r, const char *name)
{
    bn_endurance *arr = realloc(r->endur, sizeof(bn_endurance) * (size_t)(r->n_endur + 1));
    if (!arr) return;
    r->endur = arr;
    bn_endurance *E = &r->endur[r->n_endur++];
    memset(E, 0, sizeof *E);
    snprintf(E->model, sizeof E->model, "%s", name);
    E->duration_s = r->cfg.endurance_s;
    char err[256];
    oc_model *m = load_for_suite(r, name, "endurance", err, sizeof err);
    oc_session *s = NULL;
    if (!m || oc_session_create(m, &s) != OC_OK) {
        snprintf(E->error, sizeof E->error, "%s", m ? oc_last_error() : err);
        E->attempts = E->failures = 1;
        oc_model_free(m);
        return;
    }
    double t0 = bn_now_ms(), last = t0;
    while (bn_now_ms() - t0 < E->duration_s * 1000.0 || E->lat_ms.n < 3) {
        double dec, tot;
        oc_detections d = {0};
        E->attempts++;
        if (detect_once(s, r->image_path, &dec, &tot, &d)) {
            E->failures++;
            set_err(E->error, sizeof E->error, oc_last_error());
            oc_detections_free(&d);
            if (E->failures > 10 && E->lat_ms.n == 0) break;
            continue;
        }
        oc_detections_free(&d);
        bn_series_push(&E->t_s, (bn_now_ms() - t0) / 1000.0);
        bn_series_push(&E->lat_ms, tot);
        if (bn_now_ms() - last > 10000) {
            last = bn_now_ms();
            bn_progress("%s: endurance %.0f/%.0f s, %d inferences, last %.1f ms", name,
                        (last - t0) / 1000, E->duration_s, E->lat_ms.n, tot);
        }
    }
    oc_session_free(s);
    oc_model_free(m);
    int n = E->lat_ms.n;
    if (n >= 3) {
        bs_linregress(E->t_s.v, E->lat_ms.v, n, &E->drift);
        int k = n / 10 > 0 ? n / 10 : 1;
        E->first_median = bs_percentile(E->lat_ms.v, k, 50);
        E->last_median = bs_percentile(E->lat_ms.v + n - k, k, 50);
        E->drift_pct = E->first_median > 0 ? 100.0 * (E->last_median / E->first_median - 1) : 0;
    }
    bn_progress("%s: endurance %d inferences in %.0f s: first-10%% median %.1f ms, last-10%% median "
                "%.1f ms (%+.1f%%), slope %+.4f ms/s (p=%.3g)", name, n, E->duration_s,
                E->first_median, E->last_median, E->drift_pct, E->drift.slope, E->drift.p);
}
