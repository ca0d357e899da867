/* ocellus gen -- write a model file with deterministic synthetic weights (for benchmarks on
 * machines without real weights). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "models/yolo_common.h"

static void gen_usage(FILE *f)
{
    fprintf(f,
            "usage: ocellus gen --arch yolo11|yolov8|yolo12 --scale n|s|m|l|x [--classes 80]\n"
            "                   [--imgsz 640] [--seed 1] -o FILE.safetensors\n\n"
            "Write a complete model file with deterministic synthetic weights (fused conv\n"
            "weight + bias, scaled so activations stay O(1) through the network) and ocellus.*\n"
            "metadata. Speed and memory do not depend on weight values: the benchmark tree\n"
            "uses these files where no real weights exist.\n\n"
            "  --arch A      architecture (yolo11, yolov8; yolo12 when built in)\n"
            "  --scale S     scale letter n, s, m, l or x (the reference's depth/width/max_channels)\n"
            "  --classes N   number of classes (default 80, with the COCO names)\n"
            "  --imgsz N     default input size written to the metadata (default 640)\n"
            "  --seed N      seed of the weight generator (default 1)\n"
            "  -o FILE       output file\n");
}

static int parse_int(const char *opt, const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "ocellus gen: %s '%s': expected an integer in [%ld, %ld]\n", opt, v, lo,
                hi);
        return 0;
    }
    *out = x;
    return 1;
}

int cmd_gen(int argc, char **argv)
{
    const char *arch = NULL, *scale = NULL, *out = NULL;
    long classes = 80, imgsz = 640, seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            gen_usage(stdout);
            return OC_EXIT_OK;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "ocellus gen: unknown option or missing value: '%s'\n\n", a);
            gen_usage(stderr);
            return OC_EXIT_USAGE;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--arch")) arch = v;
        else if (!strcmp(a, "--scale")) scale = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
        else if (!strcmp(a, "--classes")) {
            if (!parse_int(a, v, 1, 100000, &classes)) return OC_EXIT_USAGE;
        } else if (!strcmp(a, "--imgsz")) {
            if (!parse_int(a, v, 32, 8192, &imgsz)) return OC_EXIT_USAGE;
        } else if (!strcmp(a, "--seed")) {
            if (!parse_int(a, v, 0, 4294967295L, &seed)) return OC_EXIT_USAGE;
        } else {
            fprintf(stderr, "ocellus gen: unknown option '%s'\n\n", a);
            gen_usage(stderr);
            return OC_EXIT_USAGE;
        }
    }
    if (!arch || !scale || !out) {
        fprintf(stderr, "ocellus gen: --arch, --scale and -o are required\n\n");
        gen_usage(stderr);
        return OC_EXIT_USAGE;
    }
    if (imgsz % 32) {
        fprintf(stderr, "ocellus gen: --imgsz %ld is not a multiple of 32\n", imgsz);
        return OC_EXIT_USAGE;
    }
    oc_status st = oc_yolo_generate(arch, scale, (int)classes, (int)imgsz, (uint32_t)seed, out);
    if (st != OC_OK) {
        fprintf(stderr, "ocellus %s\n", oc_last_error());
        return st == OC_ERR_INVALID_ARG || st == OC_ERR_UNSUPPORTED ? OC_EXIT_USAGE
                                                                    : OC_EXIT_INPUT;
    }
    printf("wrote %s (%s %s, %ld classes, seed %ld)\n", out, arch, scale, classes, seed);
    return OC_EXIT_OK;
}
