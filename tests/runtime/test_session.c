/* Models and sessions with a toy architecture registered at run time: loading (arch from
 * metadata or config, scale, classes, input size, params), running, outputs, rebuild on a
 * shape change, keep_layers, profiling, errors, and concurrent sessions on one model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "testutil.h"

/* ---------------------------------------------------------------- the toy arch -------- *
 * images [n][3][h][w]
 * layer0 = images * scale[c]                (custom)
 * layer1 = layer0 + bias[c]                 (custom)
 * layer2 = layer0 + layer1                  (binary add, real kernel)
 * output0 = silu(conv3x3(layer2) + cb)      (conv2d 3->4, pad 1, prepacked at load)
 * pooled  = mean over h, w of output0       (custom) [n][4]                              */
#define TOY_C 3
#define TOY_CO 4

typedef struct {
    float scale[TOY_C], bias[TOY_C];
    float convw[TOY_CO * TOY_C * 9], convb[TOY_CO];
    oc_conv2d_desc cd;
    oc_conv2d_weights *packed;
} toy_data;

static atomic_int g_builds;

static oc_status toy_load(struct oc_model *m)
{
    toy_data *d = oc_calloc(1, sizeof *d);
    if (!d) return oc_error(OC_ERR_NOMEM, "toy: out of memory");
    const char *names[4] = {"body.scale", "body.bias", "head.conv.weight", "head.conv.bias"};
    float *dst[4] = {d->scale, d->bias, d->convw, d->convb};
    int64_t shapes[4][4] = {{TOY_C}, {TOY_C}, {TOY_CO, TOY_C, 3, 3}, {TOY_CO}};
    int nd[4] = {1, 1, 4, 1};
    size_t cnt[4] = {TOY_C, TOY_C, TOY_CO * TOY_C * 9, TOY_CO};
    for (int i = 0; i < 4; i++) {
        float *tmp;
        oc_status st = oc_st_load_f32(m->file, names[i], nd[i], shapes[i], &tmp);
        if (st != OC_OK) {
            oc_free(d);
            return st;
        }
        memcpy(dst[i], tmp, cnt[i] * sizeof(float));
        oc_free(tmp);
    }
    oc_conv2d_desc cd = {TOY_C, TOY_CO, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, OC_ACT_SILU};
    d->cd = cd;
    oc_status st = oc_conv2d_prepack(&d->cd, d->convw, d->convb, m->isa, &d->packed);
    if (st != OC_OK) {
        oc_free(d);
        return st;
    }
    m->arch_data = d;
    return OC_OK;
}

static void toy_free(struct oc_model *m)
{
    toy_data *d = m->arch_data;
    if (d) oc_conv2d_weights_free(d->packed);
    oc_free(d);
    m->arch_data = NULL;
}

typedef struct {
    const float *per_c;
    int add;  /* 0: multiply, 1: add */
} chan_params;

static void chan_fn(const oc_ctx *ctx, const void *params, const float *const *ins,
                    const oc_shape *in_shapes, int nin, float *out, const oc_shape *os)
{
    (void)ctx;
    (void)in_shapes;
    (void)nin;
    const chan_params *p = params;
    int64_t n = os->d[0], c = os->d[1], hw = os->d[2] * os->d[3];
    for (int64_t b = 0; b < n; b++)
        for (int64_t k = 0; k < c; k++)
            for (int64_t i = 0; i < hw; i++) {
                int64_t j = (b * c + k) * hw + i;
                out[j] = p->add ? ins[0][j] + p->per_c[k] : ins[0][j] * p->per_c[k];
            }
}

static void mean_fn(const oc_ctx *ctx, const void *params, const float *const *ins,
                    const oc_shape *in_shapes, int nin, float *out, const oc_shape *os)
{
    (void)ctx;
    (void)params;
    (void)nin;
    (void)os;
    int64_t nc = in_shapes[0].d[0] * in_shapes[0].d[1], hw = in_shapes[0].d[2] * in_shapes[0].d[3];
    for (int64_t i = 0; i < nc; i++) {
        double s = 0;
        for (int64_t k = 0; k < hw; k++) s += ins[0][i * hw + k];
        out[i] = (float)(s / (double)hw);
    }
}

static oc_status toy_build(const struct oc_model *m, oc_graph *g, const char *stage,
                           const oc_io_desc *in, int n_in)
{
    (void)stage;
    atomic_fetch_add(&g_builds, 1);
    const toy_data *d = m->arch_data;
    const oc_io_desc *img = oc_io_find_image(in, n_in, "images");
    if (!img || img->ndim != 4)
        return oc_graph_fail(g, oc_error(OC_ERR_SHAPE, "toy: needs an NCHW input 'images'"));
    int n = (int)img->dims[0], h = (int)img->dims[2], w = (int)img->dims[3];
    oc_tid x = oc_g_input(g, "images", oc_shape4(n, TOY_C, h, w));
    chan_params ps = {d->scale, 0}, pb = {d->bias, 1};
    oc_tid a = oc_g_custom(g, "chan_scale", &x, 1, oc_shape4(n, TOY_C, h, w), chan_fn, &ps,
                           sizeof ps, (double)n * TOY_C * h * w);
    oc_g_name(g, a, "layer%d", 0);
    oc_tid b = oc_g_custom(g, "chan_bias", &a, 1, oc_shape4(n, TOY_C, h, w), chan_fn, &pb,
                           sizeof pb, (double)n * TOY_C * h * w);
    oc_g_name(g, b, "layer%d", 1);
    oc_tid c = oc_g_binary(g, OC_BIN_ADD, a, b);
    oc_g_name(g, c, "layer%d", 2);
    oc_tid y = oc_g_conv2d(g, c, &d->cd, d->packed, OC_NONE);
    oc_g_output(g, y, "output0");
    oc_tid p = oc_g_custom(g, "mean_hw", &y, 1, oc_shape2(n, TOY_CO), mean_fn, NULL, 0, 0);
    oc_g_output(g, p, "pooled");
    return oc_graph_status(g);
}

static const oc_arch toy_arch = {
    .name = "toyarch", .load = toy_load, .build = toy_build, .free = toy_free};

/* ---------------------------------------------------------------- fixtures ------------ */

static float W_SCALE[TOY_C] = {0.5f, -1.25f, 2.0f};
static float W_BIAS[TOY_C] = {0.1f, -0.2f, 0.3f};
static float W_CONV[TOY_CO * TOY_C * 9];
static float W_CONVB[TOY_CO] = {0.05f, -0.05f, 0.0f, 0.25f};

/* write a toy model file; extra metadata as key/value pairs (NULL-terminated) */
static const char *write_toy(const char *const *meta, int drop_bias)
{
    tu_fill_uniform(W_CONV, TOY_CO * TOY_C * 9, 99, -0.5f, 0.5f);
    const char *path = tu_tmp_path(".safetensors");
    oc_st_writer *w = oc_st_writer_new();
    assert_non_null(w);
    int64_t s3[1] = {TOY_C}, sc[4] = {TOY_CO, TOY_C, 3, 3}, s4[1] = {TOY_CO};
    assert_int_equal(oc_st_writer_add(w, "body.scale", OC_DT_F32, 1, s3, W_SCALE), OC_OK);
    if (!drop_bias)
        assert_int_equal(oc_st_writer_add(w, "body.bias", OC_DT_F32, 1, s3, W_BIAS), OC_OK);
    assert_int_equal(oc_st_writer_add(w, "head.conv.weight", OC_DT_F32, 4, sc, W_CONV), OC_OK);
    assert_int_equal(oc_st_writer_add(w, "head.conv.bias", OC_DT_F32, 1, s4, W_CONVB), OC_OK);
    /* BatchNorm statistics do not count as parameters */
    float rm[TOY_C] = {0}, rv[TOY_C] = {1, 1, 1};
    int64_t nbt = 7, s0[1] = {1};
    assert_int_equal(oc_st_writer_add(w, "bn.running_mean", OC_DT_F32, 1, s3, rm), OC_OK);
    assert_int_equal(oc_st_writer_add(w, "bn.running_var", OC_DT_F32, 1, s3, rv), OC_OK);
    assert_int_equal(oc_st_writer_add(w, "bn.num_batches_tracked", OC_DT_I64, 1, s0, &nbt),
                     OC_OK);
    for (int i = 0; meta && meta[i]; i += 2)
        assert_int_equal(oc_st_writer_meta(w, meta[i], meta[i + 1]), OC_OK);
    assert_int_equal(oc_st_writer_save(w, path), OC_OK);
    oc_st_writer_free(w);
    return path;
}

static float silu(float v) { return v / (1.0f + expf(-v)); }

/* the toy model computed directly: out [n][4][h][w] */
static void toy_reference(const float *x, int n, int h, int w, float *out, float *pooled)
{
    size_t hw = (size_t)h * w;
    float *c = malloc((size_t)n * TOY_C * hw * sizeof(float));
    for (int b = 0; b < n; b++)
        for (int k = 0; k < TOY_C; k++)
            for (size_t i = 0; i < hw; i++) {
                size_t j = ((size_t)b * TOY_C + k) * hw + i;
                float a = x[j] * W_SCALE[k];
                c[j] = a + (a + W_BIAS[k]);
            }
    for (int b = 0; b < n; b++)
        for (int o = 0; o < TOY_CO; o++) {
            double sum = 0;
            for (int yy = 0; yy < h; yy++)
                for (int xx = 0; xx < w; xx++) {
                    double acc = W_CONVB[o];
                    for (int k = 0; k < TOY_C; k++)
                        for (int dy = 0; dy < 3; dy++)
                            for (int dx = 0; dx < 3; dx++) {
                                int iy = yy + dy - 1, ix = xx + dx - 1;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                acc += (double)W_CONV[((o * TOY_C + k) * 3 + dy) * 3 + dx] *
                                       c[((size_t)b * TOY_C + k) * hw + (size_t)iy * w + ix];
                            }
                    float v = silu((float)acc);
                    out[((size_t)b * TOY_CO + o) * hw + (size_t)yy * w + xx] = v;
                    sum += v;
                }
            pooled[b * TOY_CO + o] = (float)(sum / (double)hw);
        }
    free(c);
}

static oc_tensor make_input(int n, int h, int w, uint32_t seed, float **buf)
{
    size_t cnt = (size_t)n * TOY_C * h * w;
    *buf = malloc(cnt * sizeof(float));
    tu_fill_uniform(*buf, cnt, seed, -1.0f, 1.0f);
    oc_tensor t;
    memset(&t, 0, sizeof t);
    t.name = "images";
    t.ndim = 4;
    t.dims[0] = n;
    t.dims[1] = TOY_C;
    t.dims[2] = h;
    t.dims[3] = w;
    t.data = *buf;
    return t;
}

static int setup(void **state)
{
    (void)state;
    return oc_register_arch(&toy_arch) == OC_OK ? 0 : -1;
}

static void check_run(oc_session *s, int n, int h, int w, uint32_t seed)
{
    float *x;
    oc_tensor in = make_input(n, h, w, seed, &x);
    assert_int_equal(oc_session_run(s, &in, 1), OC_OK);
    size_t cnt = (size_t)n * TOY_CO * h * w;
    float *ref = malloc(cnt * sizeof(float)), pooled[64];
    toy_reference(x, n, h, w, ref, pooled);
    oc_tensor out;
    assert_int_equal(oc_session_num_outputs(s), 2);
    assert_int_equal(oc_session_output(s, 0, &out), OC_OK);
    assert_string_equal(out.name, "output0");
    assert_int_equal(out.ndim, 4);
    assert_int_equal(out.dims[0], n);
    assert_int_equal(out.dims[1], TOY_CO);
    assert_int_equal(out.dims[2], h);
    assert_int_equal(out.dims[3], w);
    assert_true(tu_max_abs_diff(out.data, ref, cnt) < 1e-4f);
    assert_int_equal(oc_session_output(s, 1, &out), OC_OK);
    assert_string_equal(out.name, "pooled");
    assert_int_equal(out.ndim, 2);
    assert_true(tu_max_abs_diff(out.data, pooled, (size_t)n * TOY_CO) < 1e-4f);
    assert_int_equal(oc_session_tensor(s, "pooled", &out), OC_OK);
    assert_true(tu_max_abs_diff(out.data, pooled, (size_t)n * TOY_CO) < 1e-4f);
    free(ref);
    free(x);
}

/* ---------------------------------------------------------------- tests --------------- */

static void test_load_and_run(void **state)
{
    (void)state;
    const char *meta[] = {"ocellus.format_version", "1", "ocellus.arch", "toyarch", "ocellus.scale", "s",
                          "ocellus.class_names", "[\"cat\", \"dog\"]", "ocellus.input_size",
                          "480x640", NULL};
    const char *path = write_toy(meta, 0);
    oc_model *m;
    assert_int_equal(oc_model_load(path, &m), OC_OK);
    assert_string_equal(oc_model_arch(m), "toyarch");
    assert_string_equal(oc_model_scale(m), "s");
    assert_int_equal(oc_model_num_classes(m), 2);
    assert_string_equal(oc_model_class_name(m, 1), "dog");
    assert_null(oc_model_class_name(m, 2));
    int h, w;
    oc_model_input_size(m, &h, &w);
    assert_int_equal(h, 480);
    assert_int_equal(w, 640);
    assert_int_equal(oc_model_num_params(m), TOY_C * 2 + TOY_CO * TOY_C * 9 + TOY_CO);
    assert_string_equal(oc_model_meta(m, "ocellus.scale"), "s");
    assert_null(oc_model_meta(m, "nope"));
    assert_int_equal(m->isa, oc_get_isa());

    oc_session *s;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    assert_int_equal(oc_session_arena_bytes(s), 0);
    oc_tensor out;
    assert_int_equal(oc_session_output(s, 0, &out), OC_ERR_INVALID_ARG); /* no run yet */
    check_run(s, 1, 7, 9, 1);
    assert_true(oc_session_arena_bytes(s) > 0);
    /* flops: conv 2*4*27*63 + customs 2*3*63 + add 3*63 */
    double conv = 2.0 * TOY_CO * TOY_C * 9 * 63;
    assert_true(oc_session_flops(s) >= conv);
    oc_session_free(s);
    oc_model_free(m);
    unlink(path);
}

static void test_metadata_defaults_and_config(void **state)
{
    (void)state;
    /* plain PyTorch state_dict style: config + scale + nc; default names and size */
    const char *meta[] = {"config", "toyarch.yaml", "scale", "m", "nc", "80", NULL};
    const char *path = write_toy(meta, 0);
    oc_model *m;
    assert_int_equal(oc_model_load(path, &m), OC_OK);
    assert_string_equal(oc_model_arch(m), "toyarch");
    assert_string_equal(oc_model_scale(m), "m");
    assert_int_equal(oc_model_num_classes(m), 80);
    assert_string_equal(oc_model_class_name(m, 0), "person");
    assert_string_equal(oc_model_class_name(m, 79), "toothbrush");
    int h, w;
    oc_model_input_size(m, &h, &w);
    assert_int_equal(h, 640);
    assert_int_equal(w, 640);
    long v;
    assert_int_equal(oc_meta_int(m, "ocellus.nc", 1, 0, 1, 1000, &v), OC_OK); /* prefix dropped */
    assert_int_equal(v, 80);
    assert_int_equal(oc_meta_int(m, "nc", 1, 0, 1, 50, &v), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "'nc'"));
    assert_non_null(strstr(oc_last_error(), path));
    assert_int_equal(oc_meta_int(m, "depth", 1, 0, 0, 9, &v), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "missing"));
    assert_int_equal(oc_meta_int(m, "depth", 0, 3, 0, 9, &v), OC_OK);
    assert_int_equal(v, 3);
    double f;
    assert_int_equal(oc_meta_float(m, "scale", 1, 0, &f), OC_ERR_FORMAT); /* "m" */
    oc_model_free(m);
    unlink(path);

    /* "toyarchn.yaml": scale from the config name; nc 3 -> class0.. */
    const char *meta2[] = {"config", "cfg/toyarchn.yaml", "nc", "3", NULL};
    path = write_toy(meta2, 0);
    assert_int_equal(oc_model_load(path, &m), OC_OK);
    assert_string_equal(oc_model_arch(m), "toyarch");
    assert_string_equal(oc_model_scale(m), "n");
    assert_int_equal(oc_model_num_classes(m), 3);
    assert_string_equal(oc_model_class_name(m, 2), "class2");
    oc_model_free(m);
    unlink(path);
}

static void test_shape_change_rebuilds(void **state)
{
    (void)state;
    const char *meta[] = {"ocellus.arch", "toyarch", NULL};
    const char *path = write_toy(meta, 0);
    oc_model *m;
    assert_int_equal(oc_model_load(path, &m), OC_OK);
    oc_session *s;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    int b0 = atomic_load(&g_builds);
    /* prepare: build + plan from shapes alone; the arena size is known before running */
    oc_tensor shp;
    memset(&shp, 0, sizeof shp);
    shp.ndim = 4;
    shp.dims[0] = 1;
    shp.dims[1] = TOY_C;
    shp.dims[2] = 8;
    shp.dims[3] = 10;
    assert_int_equal(oc_session_prepare(s, &shp, 1), OC_OK);
    size_t a0 = oc_session_arena_bytes(s);
    assert_true(a0 >= (size_t)(TOY_C + TOY_CO) * 80 * sizeof(float));
    assert_true(oc_session_flops(s) > 0);
    oc_tensor out0;
    assert_int_equal(oc_session_output(s, 0, &out0), OC_ERR_INVALID_ARG); /* not run yet */
    assert_int_equal(oc_session_run(s, &shp, 1), OC_ERR_INVALID_ARG);     /* no data */
    check_run(s, 1, 8, 10, 2);
    size_t a1 = oc_session_arena_bytes(s);
    assert_int_equal(a1, a0);
    oc_alloc_stats al0, al1;
    oc_get_alloc_stats(&al0);
    check_run(s, 1, 8, 10, 3); /* same shape: no rebuild, and no allocation on the hot path */
    oc_get_alloc_stats(&al1);
    assert_int_equal(al1.allocs, al0.allocs);
    assert_int_equal(atomic_load(&g_builds) - b0, 1);
    check_run(s, 2, 5, 6, 4);  /* new shape: rebuilt */
    assert_int_equal(atomic_load(&g_builds) - b0, 2);
    assert_true(oc_session_arena_bytes(s) != a1);
    check_run(s, 1, 8, 10, 5);
    assert_int_equal(atomic_load(&g_builds) - b0, 3);
    assert_int_equal(oc_session_arena_bytes(s), a1);
    /* thread count change: re-planned, not rebuilt, same results */
    assert_int_equal(oc_session_set_num_threads(s, 2), OC_OK);
    check_run(s, 1, 8, 10, 6);
    assert_int_equal(atomic_load(&g_builds) - b0, 3);
    assert_int_equal(oc_session_set_num_threads(s, 0), OC_ERR_INVALID_ARG);
    /* a wrong channel count is reported with both shapes */
    float *x;
    oc_tensor in = make_input(1, 8, 10, 7, &x);
    in.dims[1] = 4;
    assert_int_equal(oc_session_run(s, &in, 1), OC_ERR_SHAPE);
    assert_non_null(strstr(oc_last_error(), "[1, 4, 8, 10]"));
    assert_non_null(strstr(oc_last_error(), "[1, 3, 8, 10]"));
    in.dims[1] = 3;
    in.ndim = 3;
    assert_int_equal(oc_session_run(s, &in, 1), OC_ERR_SHAPE);
    free(x);
    oc_session_free(s);
    oc_model_free(m);
    unlink(path);
}

static void test_keep_layers(void **state)
{
    (void)state;
    const char *meta[] = {"ocellus.arch", "toyarch", NULL};
    const char *path = write_toy(meta, 0);
    oc_model *m;
    assert_int_equal(oc_model_load(path, &m), OC_OK);
    oc_session *s;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    float *x;
    oc_tensor in = make_input(1, 6, 6, 11, &x);
    assert_int_equal(oc_session_run(s, &in, 1), OC_OK);
    size_t plain = oc_session_arena_bytes(s);
    oc_tensor t;
    assert_int_equal(oc_session_tensor(s, "layer0", &t), OC_ERR_INVALID_ARG);
    assert_non_null(strstr(oc_last_error(), "keep_layers"));
    assert_int_equal(oc_session_tensor(s, "nosuch", &t), OC_ERR_INVALID_ARG);
    assert_non_null(strstr(oc_last_error(), "'nosuch'"));
    assert_int_equal(oc_session_set_keep_layers(s, 1), OC_OK);
    assert_int_equal(oc_session_run(s, &in, 1), OC_OK);
    assert_true(oc_session_arena_bytes(s) > plain);
    for (int l = 0; l < 3; l++) {
        char nm[32];
        snprintf(nm, sizeof nm, "layer%d", l);
        assert_int_equal(oc_session_tensor(s, nm, &t), OC_OK);
        assert_string_equal(t.name, nm);
        assert_int_equal(t.ndim, 4);
        assert_int_equal(t.dims[1], TOY_C);
        for (int k = 0; k < TOY_C; k++)
            for (int i = 0; i < 36; i++) {
                float xv = x[k * 36 + i], a = xv * W_SCALE[k];
                float want = l == 0 ? a : l == 1 ? a + W_BIAS[k] : a + (a + W_BIAS[k]);
                assert_float_equal(t.data[k * 36 + i], want, 1e-6);
            }
    }
    free(x);
    oc_session_free(s);
    oc_model_free(m);
    unlink(path);
}

static void test_profile(void **state)
{
    (void)state;
    const char *meta[] = {"ocellus.arch", "toyarch", NULL};
    const char *path = write_toy(meta, 0);
    oc_model *m;
    assert_int_equal(oc_model_load(path, &m), OC_OK);
    oc_session *s;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(oc_session_print_profile(s, f), OC_ERR_INVALID_ARG);
    float *x;
    oc_tensor in = make_input(1, 16, 16, 12, &x);
    assert_int_equal(oc_session_set_profile(s, 1), OC_OK);
    /* the table also goes to stderr after each run; silence it for the test */
    fflush(stderr);
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    oc_status st = oc_session_run(s, &in, 1);
    fclose(stderr);
    stderr = saved;
    assert_int_equal(st, OC_OK);
    assert_int_equal(oc_session_print_profile(s, f), OC_OK);
    fclose(f);
    const char *rows[] = {"layer0", "layer1", "layer2", "output0", "pooled", "TOTAL", "conv2d",
                          "chan_scale", "add", "GFLOP/s", "share%"};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (!strstr(buf, rows[i])) fail_msg("profile table lacks '%s':\n%s", rows[i], buf);
    free(buf);
    oc_session_free(s);
    /* OCELLUS_PROFILE=1 switches profiling on for new sessions */
    setenv("OCELLUS_PROFILE", "1", 1);
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    unsetenv("OCELLUS_PROFILE");
    fflush(stderr);
    saved = stderr;
    stderr = fopen("/dev/null", "w");
    st = oc_session_run(s, &in, 1);
    fclose(stderr);
    stderr = saved;
    assert_int_equal(st, OC_OK);
    f = fopen("/dev/null", "w");
    assert_int_equal(oc_session_print_profile(s, f), OC_OK);
    fclose(f);
    oc_session_free(s);
    /* and a session without it has no profile to print */
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    assert_int_equal(oc_session_run(s, &in, 1), OC_OK);
    f = fopen("/dev/null", "w");
    assert_int_equal(oc_session_print_profile(s, f), OC_ERR_INVALID_ARG);
    fclose(f);
    free(x);
    oc_session_free(s);
    oc_model_free(m);
    unlink(path);
}

static void test_errors(void **state)
{
    (void)state;
    oc_model *m = (oc_model *)1;
    assert_int_equal(oc_model_load("/nonexistent/dir/model.safetensors", &m), OC_ERR_IO);
    assert_null(m);
    assert_non_null(strstr(oc_last_error(), "/nonexistent/dir/model.safetensors"));

    const char *meta[] = {"ocellus.arch", "nosucharch", NULL};
    const char *path = write_toy(meta, 0);
    assert_int_equal(oc_model_load(path, &m), OC_ERR_UNSUPPORTED);
    assert_non_null(strstr(oc_last_error(), "'nosucharch'"));
    assert_non_null(strstr(oc_last_error(), path));
    assert_non_null(strstr(oc_last_error(), "toyarch")); /* lists the known ones */
    unlink(path);

    const char *meta_fv[] = {"ocellus.format_version", "7", "ocellus.arch", "toyarch", NULL};
    path = write_toy(meta_fv, 0);
    assert_int_equal(oc_model_load(path, &m), OC_ERR_UNSUPPORTED);
    assert_non_null(strstr(oc_last_error(), "format_version '7'"));
    unlink(path);

    const char *meta_none[] = {"format", "pt", NULL};
    path = write_toy(meta_none, 0);
    assert_int_equal(oc_model_load(path, &m), OC_ERR_UNSUPPORTED);
    assert_non_null(strstr(oc_last_error(), "ocellus.arch"));
    unlink(path);

    const char *meta_names[] = {"ocellus.arch", "toyarch", "ocellus.num_classes", "3",
                                "ocellus.class_names", "[\"a\", \"b\"]", NULL};
    path = write_toy(meta_names, 0);
    assert_int_equal(oc_model_load(path, &m), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "2 names"));
    unlink(path);

    const char *meta_badjson[] = {"ocellus.arch", "toyarch", "ocellus.class_names", "[\"a\", 3]",
                                  NULL};
    path = write_toy(meta_badjson, 0);
    assert_int_equal(oc_model_load(path, &m), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "class_names"));
    unlink(path);

    const char *meta_size[] = {"ocellus.arch", "toyarch", "ocellus.input_size", "640x", NULL};
    path = write_toy(meta_size, 0);
    assert_int_equal(oc_model_load(path, &m), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "input_size"));
    unlink(path);

    /* a missing weight: the family's loader names it */
    const char *meta_ok[] = {"ocellus.arch", "toyarch", NULL};
    path = write_toy(meta_ok, 1);
    oc_alloc_stats a0, a1;
    oc_get_alloc_stats(&a0);
    assert_int_not_equal(oc_model_load(path, &m), OC_OK);
    assert_non_null(strstr(oc_last_error(), "body.bias"));
    oc_get_alloc_stats(&a1);
    assert_int_equal(a1.live_bytes, a0.live_bytes); /* nothing leaked on failure */
    unlink(path);

    assert_int_equal(oc_session_create(NULL, NULL), OC_ERR_INVALID_ARG);
    assert_int_equal(oc_register_arch(NULL), OC_ERR_INVALID_ARG);
}

/* ---- concurrency: 4 threads, one shared model, own sessions, 20 runs each ---- */
#define NTHR 4
#define NRUNS 20
#define CH 64
#define CW 80
static pthread_barrier_t g_barrier;

typedef struct {
    const oc_model *m;
    int id;
    int nthreads;         /* 1, or 2 for every other worker */
    int nruns;            /* NRUNS (fewer under valgrind) */
    float *ref[NRUNS];    /* expected output0 per run (one session alone, same nthreads) */
    const float *in[NRUNS];
    int mismatches;
    oc_status st;
} worker;

static oc_tensor conc_input(const float *data)
{
    oc_tensor in;
    memset(&in, 0, sizeof in);
    in.ndim = 4;
    in.dims[0] = 1;
    in.dims[1] = TOY_C;
    in.dims[2] = CH;
    in.dims[3] = CW;
    in.data = (float *)data;
    return in;
}

static void *work(void *arg)
{
    worker *wk = arg;
    oc_session *s;
    wk->st = oc_session_create(wk->m, &s);
    if (wk->st != OC_OK) {
        pthread_barrier_wait(&g_barrier);
        return NULL;
    }
    oc_session_set_num_threads(s, wk->nthreads);
    pthread_barrier_wait(&g_barrier); /* start together so the runs overlap */
    for (int r = 0; r < wk->nruns; r++) {
        int k = (r + wk->id * 5) % NRUNS; /* threads run the inputs in different orders */
        oc_tensor in = conc_input(wk->in[k]);
        oc_status st = oc_session_run(s, &in, 1);
        if (st != OC_OK) {
            wk->st = st;
            break;
        }
        oc_tensor out;
        oc_session_output(s, 0, &out);
        if (memcmp(out.data, wk->ref[k], (size_t)TOY_CO * CH * CW * sizeof(float)) != 0)
            wk->mismatches++;
    }
    oc_session_free(s);
    return NULL;
}

static void test_concurrent_sessions(void **state)
{
    (void)state;
    const char *meta[] = {"ocellus.arch", "toyarch", NULL};
    const char *path = write_toy(meta, 0);
    oc_model *m;
    assert_int_equal(oc_model_load(path, &m), OC_OK);
    size_t cnt = (size_t)TOY_C * CH * CW, ocnt = (size_t)TOY_CO * CH * CW;
    float *inputs[NRUNS], *refs[2][NRUNS];
    for (int r = 0; r < NRUNS; r++) {
        inputs[r] = malloc(cnt * sizeof(float));
        tu_fill_uniform(inputs[r], cnt, 1000u + (uint32_t)r, -2, 2);
    }
    /* references: one session alone, with 1 and with 2 threads */
    for (int nt = 1; nt <= 2; nt++) {
        oc_session *s;
        assert_int_equal(oc_session_create(m, &s), OC_OK);
        oc_session_set_num_threads(s, nt);
        for (int r = 0; r < NRUNS; r++) {
            refs[nt - 1][r] = malloc(ocnt * sizeof(float));
            oc_tensor in = conc_input(inputs[r]);
            assert_int_equal(oc_session_run(s, &in, 1), OC_OK);
            oc_tensor out;
            assert_int_equal(oc_session_output(s, 0, &out), OC_OK);
            memcpy(refs[nt - 1][r], out.data, ocnt * sizeof(float));
        }
        oc_session_free(s);
    }
    /* the references themselves are right */
    float *chk = malloc(ocnt * sizeof(float)), pooled[TOY_CO];
    toy_reference(inputs[3], 1, CH, CW, chk, pooled);
    assert_true(tu_max_abs_diff(chk, refs[0][3], ocnt) < 1e-4f);
    assert_true(tu_max_abs_diff(chk, refs[1][3], ocnt) < 1e-4f);
    free(chk);

    worker wk[NTHR];
    pthread_t th[NTHR];
    pthread_barrier_init(&g_barrier, NULL, NTHR);
    for (int t = 0; t < NTHR; t++) {
        memset(&wk[t], 0, sizeof wk[t]);
        wk[t].m = m;
        wk[t].id = t;
        wk[t].nthreads = 1 + (t % 2);
        wk[t].nruns = tu_under_valgrind() ? 4 : NRUNS;
        for (int r = 0; r < NRUNS; r++) {
            wk[t].ref[r] = refs[t % 2][r];
            wk[t].in[r] = inputs[r];
        }
        assert_int_equal(pthread_create(&th[t], NULL, work, &wk[t]), 0);
    }
    for (int t = 0; t < NTHR; t++) pthread_join(th[t], NULL);
    pthread_barrier_destroy(&g_barrier);
    for (int t = 0; t < NTHR; t++) {
        assert_int_equal(wk[t].st, OC_OK);
        assert_int_equal(wk[t].mismatches, 0);
    }
    for (int r = 0; r < NRUNS; r++) {
        free(inputs[r]);
        free(refs[0][r]);
        free(refs[1][r]);
    }
    oc_model_free(m);
    unlink(path);
}

/* ---- the same guarantee on a real model file (YOLO11n fixture), smaller and shorter ---- */
#define RT 3
#define RRUNS 3
#define RS 128

typedef struct {
    const oc_model *m;
    int id;
    const float *in[RRUNS];
    const float *ref[RRUNS];
    size_t ocnt;
    int mismatches;
    oc_status st;
} rworker;

static void *rwork(void *arg)
{
    rworker *wk = arg;
    oc_session *s;
    wk->st = oc_session_create(wk->m, &s);
    if (wk->st != OC_OK) {
        pthread_barrier_wait(&g_barrier);
        return NULL;
    }
    oc_session_set_num_threads(s, 1);
    pthread_barrier_wait(&g_barrier);
    for (int r = 0; r < RRUNS; r++) {
        int k = (r + wk->id) % RRUNS;
        oc_tensor in;
        memset(&in, 0, sizeof in);
        in.ndim = 4;
        in.dims[0] = 1;
        in.dims[1] = 3;
        in.dims[2] = RS;
        in.dims[3] = RS;
        in.data = (float *)wk->in[k];
        oc_status st = oc_session_run(s, &in, 1);
        if (st != OC_OK) {
            wk->st = st;
            break;
        }
        oc_tensor out;
        oc_session_output(s, 0, &out);
        if (memcmp(out.data, wk->ref[k], wk->ocnt * sizeof(float)) != 0) wk->mismatches++;
    }
    oc_session_free(s);
    return NULL;
}

static void test_concurrent_real_model(void **state)
{
    (void)state;
    TU_REQUIRE_SHARED("fixtures/yolo11n/model.safetensors");
    if (tu_under_valgrind()) skip();
    oc_model *m;
    assert_int_equal(oc_model_load(tu_shared_path("fixtures/yolo11n/model.safetensors"), &m),
                     OC_OK);
    assert_string_equal(oc_model_arch(m), "yolo11");
    size_t cnt = (size_t)3 * RS * RS, ocnt = 0;
    float *inputs[RRUNS], *refs[RRUNS];
    oc_session *s;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    oc_session_set_num_threads(s, 1);
    for (int r = 0; r < RRUNS; r++) {
        inputs[r] = malloc(cnt * sizeof(float));
        tu_fill_uniform(inputs[r], cnt, 77u + (uint32_t)r, 0, 1);
        oc_tensor in;
        memset(&in, 0, sizeof in);
        in.ndim = 4;
        in.dims[0] = 1;
        in.dims[1] = 3;
        in.dims[2] = RS;
        in.dims[3] = RS;
        in.data = inputs[r];
        assert_int_equal(oc_session_run(s, &in, 1), OC_OK);
        oc_tensor out;
        assert_int_equal(oc_session_output(s, 0, &out), OC_OK);
        ocnt = 1;
        for (int k = 0; k < out.ndim; k++) ocnt *= (size_t)out.dims[k];
        refs[r] = malloc(ocnt * sizeof(float));
        memcpy(refs[r], out.data, ocnt * sizeof(float));
    }
    assert_int_not_equal(memcmp(refs[0], refs[1], ocnt * sizeof(float)), 0);
    oc_session_free(s);
    rworker wk[RT];
    pthread_t th[RT];
    pthread_barrier_init(&g_barrier, NULL, RT);
    for (int t = 0; t < RT; t++) {
        memset(&wk[t], 0, sizeof wk[t]);
        wk[t].m = m;
        wk[t].id = t;
        wk[t].ocnt = ocnt;
        for (int r = 0; r < RRUNS; r++) {
            wk[t].in[r] = inputs[r];
            wk[t].ref[r] = refs[r];
        }
        assert_int_equal(pthread_create(&th[t], NULL, rwork, &wk[t]), 0);
    }
    for (int t = 0; t < RT; t++) pthread_join(th[t], NULL);
    pthread_barrier_destroy(&g_barrier);
    for (int t = 0; t < RT; t++) {
        assert_int_equal(wk[t].st, OC_OK);
        assert_int_equal(wk[t].mismatches, 0);
    }
    for (int r = 0; r < RRUNS; r++) {
        free(inputs[r]);
        free(refs[r]);
    }
    oc_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_and_run),
        cmocka_unit_test(test_metadata_defaults_and_config),
        cmocka_unit_test(test_shape_change_rebuilds),
        cmocka_unit_test(test_keep_layers),
        cmocka_unit_test(test_profile),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_concurrent_sessions),
        cmocka_unit_test(test_concurrent_real_model),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
