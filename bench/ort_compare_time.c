/* ort_compare_time.c -- times one Ocellus model the way ../shared/tools/ort_time.js times an
 * ONNX file in ONNX Runtime, so bench/ort_compare.sh can put the two side by side: the same
 * seeded input (the script's LCG, values in [0,1)), inference only (oc_session_run), WARMUP
 * untimed runs, then RUNS timed ones. Prints one JSON line like ort_time.js.
 *
 * usage: ort_compare_time MODEL.safetensors [THREADS=2] [RUNS=10] [WARMUP=3] [SIZE=640] */
#include "ocellus.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.safetensors [THREADS] [RUNS] [WARMUP] [SIZE]\n", argv[0]);
        return 2;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 2, runs = argc > 3 ? atoi(argv[3]) : 10;
    int warmup = argc > 4 ? atoi(argv[4]) : 3, size = argc > 5 ? atoi(argv[5]) : 640;
    if (threads < 1 || runs < 1 || warmup < 0 || size < 32) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    double t0 = now_ms();
    oc_model *m = NULL;
    oc_session *s = NULL;
    if (oc_model_load(argv[1], &m) != OC_OK || oc_session_create(m, &s) != OC_OK ||
        oc_session_set_num_threads(s, threads) != OC_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], oc_last_error());
        return 1;
    }
    double create_ms = now_ms() - t0;
    size_t n = (size_t)3 * size * size;
    float *data = malloc(n * sizeof(float));
    double *times = malloc((size_t)runs * sizeof(double));
    if (!data || !times)
        return 1;
    uint32_t seed = 12345;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (float)(seed >> 8) / 16777216.0f;
    }
    oc_tensor in = {.name = "images", .ndim = 4, .dims = {1, 3, size, size}, .data = data};
    for (int i = 0; i < warmup + runs; i++) {
        double t = now_ms();
        if (oc_session_run(s, &in, 1) != OC_OK) {
            fprintf(stderr, "run: %s\n", oc_last_error());
            return 1;
        }
        if (i >= warmup)
            times[i - warmup] = now_ms() - t;
    }
    qsort(times, (size_t)runs, sizeof(double), cmp_double);
    double mean = 0;
    for (int i = 0; i < runs; i++)
        mean += times[i] / runs;
    double median = runs % 2 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;
    printf("{\"model\": \"%s\", \"input\": [1, 3, %d, %d], \"threads\": %d, \"create_ms\": %.1f, "
           "\"min_ms\": %.2f, \"median_ms\": %.2f, \"mean_ms\": %.2f, \"runs\": %d}\n",
           argv[1], size, size, threads, create_ms, times[0], median, mean, runs);
    free(data);
    free(times);
    oc_session_free(s);
    oc_model_free(m);
    return 0;
}
