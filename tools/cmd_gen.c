/* ocellus gen -- write a model file with deterministic synthetic weights (for benchmarks on
 * machines without real weights). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"
#include "models/yolo/yolo_common.h"

void cli_gen_archs(char *buf, size_t n) { oc_yolo_gen_archs(buf, n); }

static void gen_usage(FILE *f)
{
    char archs[256], bars[256];
    oc_yolo_gen_archs(archs, sizeof archs);
    size_t k = 0;
    for (const char *p = archs; *p && k + 1 < sizeof bars; p++) /* "a, b" -> "a|b" */
        if (*p != ' ') bars[k++] = *p == ',' ? '|' : *p;
    bars[k] = '\0';
    fprintf(f,
            "usage: ocellus gen --arch %s --scale n|s|m|l|x [--classes 80]\n"
            "                   [--imgsz 640] [--seed 1] -o FILE.safetensors\n\n"
            "Write a complete model file with deterministic synthetic weights (fused conv\n"
            "weight + bias, scaled so activations stay O(1) through the network) and ocellus.*\n"
            "metadata. Speed and memory do not depend on weight values: the benchmark tree\n"
            "uses these files where no real weights exist.\n\n"
            "  --arch A      architecture (%s)\n"
            "  --scale S     scale letter n, s, m, l or x (the reference's depth/width/max_channels),\n"
            "                or a family's variant (--variant S is the same), listed below\n"
            "  --classes N   number of classes (default 80, with the COCO names)\n"
            "  --imgsz N     default input size written to the metadata (default 640)\n"
            "  --seed N      seed of the weight generator (default 1)\n"
            "  -o FILE       output file\n", bars, archs);
    /* one line per architecture with its scales, from the tables gen itself uses */
    fprintf(f, "\narchitectures and scales:\n");
    char list[256];
    snprintf(list, sizeof list, "%s", archs);
    char *save = NULL;
    for (char *a = strtok_r(list, ", ", &save); a; a = strtok_r(NULL, ", ", &save)) {
        fprintf(f, "  %-8s", a);
        for (const char *s = "nsmlx"; *s; s++) {
            char sc[2] = {*s, 0};
            double d, w;
            int mc;
            if (yolo_scale_defaults(a, sc, &d, &w, &mc)) fprintf(f, " %s", sc);
        }
        fputc('\n', f);
    }
    /* families with their own generator (oc_arch.generate) and variant table; --variant is
     * --scale */
    static const char *const fams[] = {"rtdetr", "rfdetr", "sam2"};
    for (size_t i = 0, head = 0; i < sizeof fams / sizeof fams[0]; i++) {
        const oc_arch *a = oc_find_arch(fams[i]);
        if (!a || !a->generate) continue;
        if (!head++) fprintf(f, "\nfamilies with a variant table (--variant V):\n");
        fprintf(f, "  %-8s", a->name);
        for (const char *const *sc = a->scales; sc && *sc; sc++) fprintf(f, " %s", *sc);
        fputc('\n', f);
    }
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
    int classes_given = 0, imgsz_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            gen_usage(stdout);
            return OC_EXIT_OK;
        }
        static const char *const takes_value[] = {"--arch", "--scale", "--variant", "-o", "--output",
                                                  "--classes", "--imgsz", "--seed"};
        int known = 0;
        for (size_t k = 0; k < sizeof takes_value / sizeof takes_value[0]; k++)
            known |= !strcmp(a, takes_value[k]);
        if (!known) {
            fprintf(stderr, "ocellus gen: unknown option '%s'\n\n", a);
            gen_usage(stderr);
            return OC_EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "ocellus gen: %s needs a value\n", a);
            return OC_EXIT_USAGE;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--arch")) arch = v;
        else if (!strcmp(a, "--scale") || !strcmp(a, "--variant")) scale = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
        else if (!strcmp(a, "--classes")) {
            if (!parse_int(a, v, 1, 100000, &classes)) return OC_EXIT_USAGE;
            classes_given = 1;
        } else if (!strcmp(a, "--imgsz")) {
            if (!parse_int(a, v, 32, 8192, &imgsz)) return OC_EXIT_USAGE;
            imgsz_given = 1;
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
    const oc_arch *fam = oc_find_arch(arch);
    oc_status st;
    if (fam && fam->generate) {
        /* a family with its own generator (oc_arch.generate): --scale is its variant */
        /* options not given are 0: the family's own defaults */
        oc_gen_options o = {scale, classes_given ? (int)classes : 0,
                            imgsz_given ? (int)imgsz : 0, (uint32_t)seed};
        oc_st_writer *w = oc_st_writer_new();
        st = w ? fam->generate(&o, w) : oc_error(OC_ERR_NOMEM, "gen: out of memory");
        if (!st) st = oc_st_writer_save(w, out);
        oc_st_writer_free(w);
    } else {
        st = oc_yolo_generate(arch, scale, (int)classes, (int)imgsz, (uint32_t)seed, out);
    }
    if (st != OC_OK) {
        fprintf(stderr, "ocellus %s\n", oc_last_error());
        return st == OC_ERR_INVALID_ARG || st == OC_ERR_UNSUPPORTED ? OC_EXIT_USAGE
                                                                    : OC_EXIT_INPUT;
    }
    if (fam && fam->generate && !classes_given)
        printf("wrote %s (%s %s, the family's default classes, seed %ld)\n", out, arch, scale,
               seed);
    else
        printf("wrote %s (%s %s, %ld classes, seed %ld)\n", out, arch, scale, classes, seed);
    return OC_EXIT_OK;
}
