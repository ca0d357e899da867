/* test_cli.c -- the built `ocellus` binary, run as a user would (popen): help texts that come
 * from the code's own tables, option-parsing messages, positional input to convert, the name
 * of the file a failed convert reports, unique annotated-output names in detect, library
 * warnings on stderr, non-finite weights refused at load, and the shared library's soname. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ocellus.h"
#include "safetensors.h"
#include "testutil.h"

static char g_cli[1024]; /* build/ocellus beside build/tests/ */
static char g_dir[1024]; /* a scratch directory for this run */

static int find_cli(void)
{
    char exe[1000];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = '\0';
    char *s = strrchr(exe, '/'); /* .../build/tests/test_cli -> .../build */
    if (!s) return -1;
    *s = '\0';
    s = strrchr(exe, '/');
    if (!s) return -1;
    *s = '\0';
    snprintf(g_cli, sizeof g_cli, "%s/ocellus", exe);
    return access(g_cli, X_OK);
}

/* Run `env... ocellus args` with stdout and stderr captured into out; returns the exit code. */
static int run_cli(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run_cli(char *out, size_t cap, const char *fmt, ...)
{
    char args[4096], cmd[4096 + 1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    /* the prefix before "@" is environment, e.g. "OCELLUS_ISA=bogus @detect ..." */
    const char *at = strchr(args, '@');
    if (at)
        snprintf(cmd, sizeof cmd, "%.*s %s %s 2>&1", (int)(at - args), args, g_cli, at + 1);
    else
        snprintf(cmd, sizeof cmd, "%s %s 2>&1", g_cli, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t got = 0, k;
    while (got + 1 < cap && (k = fread(out + got, 1, cap - 1 - got, p)) > 0) got += k;
    out[got] = '\0';
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0) {
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* a synthetic yolo11n at a small input size, made once */
static const char *small_model(void)
{
    static char path[PATH_MAX];
    if (!path[0]) {
        char out[4096];
        snprintf(path, sizeof path, "%s/yolo11n.safetensors", g_dir);
        int rc = run_cli(out, sizeof out, "gen --arch yolo11 --scale n --imgsz 64 -o %s", path);
        if (rc != 0) fail_msg("gen failed: %s", out);
    }
    return path;
}

static int setup(void **state)
{
    (void)state;
    if (find_cli()) {
        fprintf(stderr, "test_cli: %s not built (make tests builds it)\n", g_cli);
        return -1;
    }
    const char *t = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/ocellus-test-cli-%ld", t && *t ? t : "/tmp", (long)getpid());
    return mkdir(g_dir, 0755);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* `ocellus --help` and `gen --help` list exactly the architectures gen accepts: every one
 * listed generates, and yolo12 (which works) is listed */
static void test_help_lists_what_gen_supports(void **state)
{
    (void)state;
    char out[8192];
    assert_int_equal(run_cli(out, sizeof out, "--help"), 0);
    char *line = strstr(out, "\n  gen ");
    assert_non_null(line);
    char *open = strchr(line, '('), *close = open ? strchr(open, ')') : NULL;
    assert_non_null(open);
    assert_non_null(close);
    char list[256];
    snprintf(list, sizeof list, "%.*s", (int)(close - open - 1), open + 1);
    assert_non_null(strstr(list, "yolo12"));
    assert_non_null(strstr(list, "yolo11"));
    char gen_help[8192];
    assert_int_equal(run_cli(gen_help, sizeof gen_help, "gen --help"), 0);
    assert_non_null(strstr(gen_help, list)); /* the same list in the subcommand's help */
    /* "architectures and scales:" has a line per architecture; each generates at its first
     * scale, and the lines name exactly the summary's architectures */
    char *block = strstr(gen_help, "architectures and scales:\n");
    assert_non_null(block);
    block += strlen("architectures and scales:\n");
    int n_lines = 0;
    for (char *ln = block; *ln == ' '; ln = strchr(ln, '\n') + 1) {
        char arch[64], scale[32];
        assert_int_equal(sscanf(ln, " %63s %31s", arch, scale), 2);
        assert_non_null(strstr(list, arch));
        char res[4096];
        int rc = run_cli(res, sizeof res, "gen --arch %s --scale %s --imgsz 64 -o %s/gen-%s.safetensors",
                         arch, scale, g_dir, arch);
        if (rc != 0) fail_msg("help lists '%s %s' but gen fails: %s", arch, scale, res);
        n_lines++;
        if (!strchr(ln, '\n')) break;
    }
    int n_list = 1;
    for (const char *c = list; *c; c++) n_list += *c == ',';
    assert_int_equal(n_lines, n_list);
    char res[4096];
    assert_int_equal(run_cli(res, sizeof res, "gen --arch nosuch --scale n -o %s/x.safetensors", g_dir), 2);
    assert_non_null(strstr(res, "yolo12")); /* the refusal names what would work */
}

/* an unknown option is "unknown option" wherever it stands, also last */
static void test_unknown_option_last(void **state)
{
    (void)state;
    static const char *cmds[] = {"gen --arch yolo11 --bogus", "run --model m --bogus",
                                 "detect --model m --bogus", "convert x.onnx --bogus",
                                 "info --bogus"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char out[8192];
        int rc = run_cli(out, sizeof out, "%s", cmds[i]);
        if (rc != 2 || !strstr(out, "unknown option '--bogus'") || strstr(out, "missing value"))
            fail_msg("`ocellus %s` (exit %d) said: %.300s", cmds[i], rc, out);
    }
    /* a known option without its value says so */
    char out[8192];
    assert_int_equal(run_cli(out, sizeof out, "gen --arch"), 2);
    assert_non_null(strstr(out, "--arch needs a value"));
    assert_int_equal(run_cli(out, sizeof out, "detect --model"), 2);
    assert_non_null(strstr(out, "--model needs a value"));
}

/* `convert FILE -o OUT` takes a positional input like `info FILE`; a failed write names the
 * file the user asked for, not a temporary one */
static void test_convert_positional_and_output_name(void **state)
{
    (void)state;
    const char *model = small_model();
    char out[8192], dst[PATH_MAX];
    snprintf(dst, sizeof dst, "%s/converted.safetensors", g_dir);
    int rc = run_cli(out, sizeof out, "convert %s --arch yolo11 --scale n -o %s", model, dst);
    if (rc != 0) fail_msg("convert FILE -o OUT: exit %d: %s", rc, out);
    assert_true(file_exists(dst));
    rc = run_cli(out, sizeof out, "convert %s --arch yolo11 --scale n -o /nonexistent-dir/x.safetensors",
                 model);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "/nonexistent-dir/x.safetensors: cannot write"));
    assert_null(strstr(out, ".tmp"));
    /* a scale the family does not have: its converter names the ones it has */
    rc = run_cli(out, sizeof out, "convert %s --arch yolo11 --scale q -o %s.q", model, dst);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "unknown scale 'q' for arch 'yolo11' (expected one of n, s, m, l, x)"));
    /* two positional inputs: the second is not silently taken */
    rc = run_cli(out, sizeof out, "convert %s %s -o %s", model, model, dst);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "unexpected argument"));
}

/* two images with the same base name in different directories give two annotated files */
static void test_detect_unique_output_names(void **state)
{
    (void)state;
    const char *model = small_model();
    char a[1100], b[1100], outdir[1100], p1[1200], p2[1200];
    snprintf(a, sizeof a, "%s/a", g_dir);
    snprintf(b, sizeof b, "%s/b", g_dir);
    snprintf(outdir, sizeof outdir, "%s/annotated", g_dir);
    mkdir(a, 0755);
    mkdir(b, 0755);
    oc_image img;
    assert_int_equal(oc_image_alloc(&img, 48, 40, 3), OC_OK);
    snprintf(p1, sizeof p1, "%s/x.png", a);
    assert_int_equal(oc_image_save_png(p1, &img), OC_OK);
    memset(img.data, 200, (size_t)img.width * 3 * 10); /* a different picture */
    snprintf(p2, sizeof p2, "%s/x.png", b);
    assert_int_equal(oc_image_save_png(p2, &img), OC_OK);
    oc_image_free(&img);
    char out[8192];
    int rc = run_cli(out, sizeof out, "detect --model %s --image %s --image %s --out %s", model, p1,
                     p2, outdir);
    if (rc != 0) fail_msg("detect: exit %d: %s", rc, out);
    char o1[PATH_MAX + 16], o2[PATH_MAX + 16];
    snprintf(o1, sizeof o1, "%s/x.png", outdir);
    snprintf(o2, sizeof o2, "%s/x-2.png", outdir);
    assert_true(file_exists(o1));
    assert_true(file_exists(o2));
    assert_non_null(strstr(out, "x-2.png"));
}

/* settings the library cannot honour are reported on stderr, not silently ignored */
static void test_library_warnings_reach_stderr(void **state)
{
    (void)state;
    const char *model = small_model();
    char img[PATH_MAX], out[8192];
    snprintf(img, sizeof img, "%s/plain.png", g_dir);
    oc_image im;
    assert_int_equal(oc_image_alloc(&im, 32, 32, 3), OC_OK);
    assert_int_equal(oc_image_save_png(img, &im), OC_OK);
    oc_image_free(&im);
    int rc = run_cli(out, sizeof out, "OCELLUS_ISA=bogus @detect --model %s --image %s", model, img);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "warning: OCELLUS_ISA=bogus"));
    rc = run_cli(out, sizeof out, "OCELLUS_NUM_THREADS=abc @detect --model %s --image %s", model, img);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "warning: OCELLUS_NUM_THREADS=abc"));
}

/* A copy of src with one metadata value replaced (key NULL: none) and, when poison_tensor is
 * given, its element 3 set to the value poison (NaN, Inf). */
static void copy_model(const char *src, const char *dst, const char *key, const char *value,
                       const char *poison_tensor, float poison)
{
    oc_st_file *f = NULL;
    assert_int_equal(oc_st_open(src, &f), OC_OK);
    oc_st_writer *w = oc_st_writer_new();
    assert_non_null(w);
    for (size_t i = 0; i < oc_st_num_meta(f); i++) {
        const char *k, *v;
        oc_st_meta_at(f, i, &k, &v);
        assert_int_equal(oc_st_writer_meta(w, k, key && !strcmp(k, key) ? value : v), OC_OK);
    }
    for (size_t i = 0; i < oc_st_num_tensors(f); i++) {
        const oc_st_tensor *t = oc_st_tensor_at(f, i);
        assert_int_equal(t->dtype, OC_DT_F32);
        float *x = malloc(t->numel * sizeof(float) + 1);
        assert_int_equal(oc_st_to_f32(f, t, x), OC_OK);
        if (poison_tensor && !strcmp(t->name, poison_tensor)) x[3] = poison;
        assert_int_equal(oc_st_writer_add(w, t->name, OC_DT_F32, t->ndim, t->shape, x), OC_OK);
        free(x);
    }
    assert_int_equal(oc_st_writer_save(w, dst), OC_OK);
    oc_st_writer_free(w);
    oc_st_close(f);
}

/* NaN or Inf weights are refused at load, naming the tensor, unless the user turns the check
 * off; a scale letter that is no known scale is refused */
static void test_nonfinite_weights_and_unknown_scale(void **state)
{
    (void)state;
    const char *model = small_model();
    char bad[1100], img[1100], out[8192];
    snprintf(img, sizeof img, "%s/plain.png", g_dir);
    oc_image im;
    assert_int_equal(oc_image_alloc(&im, 32, 32, 3), OC_OK);
    assert_int_equal(oc_image_save_png(img, &im), OC_OK);
    oc_image_free(&im);
    snprintf(bad, sizeof bad, "%s/nan.safetensors", g_dir);
    copy_model(model, bad, NULL, NULL, "model.2.cv1.conv.weight", NAN);
    int rc = run_cli(out, sizeof out, "detect --model %s --image %s", bad, img);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "'model.2.cv1.conv.weight'"));
    assert_non_null(strstr(out, "NaN at element 3"));
    /* the user may ask to load it anyway */
    rc = run_cli(out, sizeof out, "OCELLUS_ALLOW_NONFINITE=1 @detect --model %s --image %s", bad, img);
    if (rc != 0) fail_msg("OCELLUS_ALLOW_NONFINITE=1: exit %d: %s", rc, out);
    snprintf(bad, sizeof bad, "%s/inf.safetensors", g_dir);
    copy_model(model, bad, NULL, NULL, "model.23.cv3.0.2.bias", -INFINITY);
    rc = run_cli(out, sizeof out, "info %s", bad);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "'model.23.cv3.0.2.bias'"));
    assert_non_null(strstr(out, "-Inf"));
    /* the library call itself, and its switch */
    oc_model *m = NULL;
    assert_int_equal(oc_model_load(bad, &m), OC_ERR_FORMAT);
    oc_set_finite_check(0);
    assert_int_equal(oc_model_load(bad, &m), OC_OK);
    oc_model_free(m);
    oc_set_finite_check(1);
    /* scale 'q' (with the multipliers still in the metadata) */
    snprintf(bad, sizeof bad, "%s/q.safetensors", g_dir);
    copy_model(model, bad, "ocellus.scale", "q", NULL, 0);
    rc = run_cli(out, sizeof out, "info %s", bad);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "scale 'q' is not a yolo11 scale"));
}

/* the shared library carries a soname and the version links a Debian package would have:
 * libocellus.so -> libocellus.so.0 -> libocellus.so.<oc_version()> with SONAME libocellus.so.0 */
static void test_shared_library_soname(void **state)
{
    (void)state;
    char dir[1024], p[1100], target[256], out[4096];
    snprintf(dir, sizeof dir, "%s", g_cli);
    *strrchr(dir, '/') = '\0';
    snprintf(p, sizeof p, "%s/libocellus.so", dir);
    ssize_t n = readlink(p, target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_string_equal(target, "libocellus.so.0");
    snprintf(p, sizeof p, "%s/libocellus.so.0", dir);
    n = readlink(p, target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    char want[64];
    snprintf(want, sizeof want, "libocellus.so.%s", oc_version());
    assert_string_equal(target, want);
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "readelf -d '%s/%s' 2>&1", dir, want);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t got = fread(out, 1, sizeof out - 1, f);
    out[got] = '\0';
    pclose(f);
    assert_non_null(strstr(out, "Library soname: [libocellus.so.0]"));
}

/* RT-DETR through the CLI: convert (variant check, another family refused), run --layers
 * with the fixture's names, detect with the model file's default threshold */
static void test_rtdetr_convert_run_detect(void **state)
{
    (void)state;
    TU_REQUIRE_SHARED("fixtures/rtdetr-r18vd-w4/model.safetensors");
    char out[16384], dst[PATH_MAX], res[PATH_MAX];
    snprintf(dst, sizeof dst, "%s/rtdetr.safetensors", g_dir);
    snprintf(res, sizeof res, "%s/rtdetr-out.safetensors", g_dir);
    char src[PATH_MAX], io[PATH_MAX], yolo[PATH_MAX], img[PATH_MAX];
    snprintf(src, sizeof src, "%s", tu_shared_path("fixtures/rtdetr-r18vd-w4/model.safetensors"));
    snprintf(io, sizeof io, "%s", tu_shared_path("fixtures/rtdetr-r18vd-w4/io.safetensors"));
    snprintf(yolo, sizeof yolo, "%s", tu_shared_path("fixtures/yolo11n/model.safetensors"));
    snprintf(img, sizeof img, "%s", tu_shared_path("images/bus.jpg"));
    /* the reference config in the metadata says what it is */
    int rc = run_cli(out, sizeof out, "convert %s -o %s", src, dst);
    if (rc != 0) fail_msg("convert rtdetr: exit %d: %s", rc, out);
    assert_non_null(strstr(out, "rtdetr"));
    rc = run_cli(out, sizeof out, "convert %s --arch rtdetr --variant r50vd -o %s.x", src, dst);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "does not match"));
    if (file_exists(yolo)) {
        rc = run_cli(out, sizeof out, "convert %s --arch rtdetr -o %s.y", yolo, dst);
        assert_int_equal(rc, 1);
        assert_non_null(strstr(out, "not an RT-DETR"));
    }
    rc = run_cli(out, sizeof out, "gen --arch rtdetr --variant r19 -o %s.z", dst);
    assert_int_equal(rc, 2);
    rc = run_cli(out, sizeof out, "gen --help");
    assert_non_null(strstr(out, "rtdetr   r18vd r34vd r50vd r101vd"));
    rc = run_cli(out, sizeof out, "gen --arch rtdetr --variant r18vd -o %s.g", dst);
    if (rc != 0) fail_msg("gen rtdetr r18vd: exit %d: %s", rc, out);
    rc = run_cli(out, sizeof out, "info %s.g", dst);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "ocellus.scale: r18vd"));
    rc = run_cli(out, sizeof out, "run --model %s --input %s --output %s --layers --threads 2",
                 dst, io, res);
    if (rc != 0) fail_msg("run rtdetr: exit %d: %s", rc, out);
    assert_non_null(strstr(out, "26 layer(s)"));
    if (file_exists(img)) {
        /* synthetic weights score about 0.05: nothing passes the file's 0.6, all 300 pass 0.01 */
        rc = run_cli(out, sizeof out, "detect --model %s --image %s --json - --threads 2", dst, img);
        if (rc != 0) fail_msg("detect rtdetr: exit %d: %s", rc, out);
        assert_non_null(strstr(out, "\"detections\":\t[]"));
        rc = run_cli(out, sizeof out, "detect --model %s --image %s --conf 0.01 --threads 2", dst,
                     img);
        assert_int_equal(rc, 0);
        assert_non_null(strstr(out, "300 detections"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_lists_what_gen_supports),
        cmocka_unit_test(test_unknown_option_last),
        cmocka_unit_test(test_convert_positional_and_output_name),
        cmocka_unit_test(test_detect_unique_output_names),
        cmocka_unit_test(test_library_warnings_reach_stderr),
        cmocka_unit_test(test_nonfinite_weights_and_unknown_scale),
        cmocka_unit_test(test_shared_library_soname),
        cmocka_unit_test(test_rtdetr_convert_run_detect),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
