/* ocellus segment -- promptable segmentation (SAM2): points / a box on one image; overlay
 * PNG, mask PNG and JSON with COCO run-length encoded masks and encode/decode timing. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "image.h"
#include "internal.h"

#define MAX_POINTS 64
#define MAX_SETS 64

static void segment_usage(FILE *f)
{
    fprintf(f,
            "usage: ocellus segment --model FILE --image FILE [--point x,y[,label]]...\n"
            "                       [--box x1,y1,x2,y2] [--set ...]... [--multimask]\n"
            "                       [--out overlay.png] [--mask-out mask.png] [--json out.json|-]\n"
            "                       [--threads N]\n"
            "\n"
            "Segment what the prompts point at (a SAM2 model, see `ocellus convert --arch sam2`).\n"
            "The image is encoded once; the prompts only run the mask decoder. Several prompt\n"
            "sets (one object each) decode in one call, as a batch.\n"
            "\n"
            "  --model FILE      an Ocellus SAM2 model file\n"
            "  --image FILE      a PNG or JPEG image\n"
            "  --point x,y[,l]   a click in image pixels; label 1 = foreground (default),\n"
            "                    0 = background; may repeat (up to %d)\n"
            "  --box x1,y1,x2,y2 a box in image pixels (x1 <= x2, y1 <= y2); a second --box\n"
            "                    starts a new prompt set (--box A --box B: two objects, as\n"
            "                    the reference's predict(box=[A, B]))\n"
            "  --set             start a new prompt set: the --point/--box options after it\n"
            "                    belong to it (up to %d sets)\n"
            "  --multimask       three candidate masks instead of one (the reference's\n"
            "                    multimask_output=True; best for a single ambiguous click)\n"
            "  --out P           the image with the mask(s) and the prompt marks (PNG)\n"
            "  --mask-out P      the highest-scoring mask (of each set, merged) as a black/white\n"
            "                    PNG\n"
            "  --json P          per mask: prompt set, score (predicted IoU), bbox [x, y, w,\n"
            "                    h], area and segmentation {size: [h, w], counts: [...]} (COCO\n"
            "                    uncompressed\n"
            "                    RLE over column-major pixels, as pycocotools writes it); plus\n"
            "                    timing_ms {load_image, encode, decode}; '-' for stdout\n"
            "  --threads N       threads for inference (default: all cores)\n"
            "\nexit codes: 0 ok, 1 bad input (model, image, prompt), 2 usage\n",
            MAX_POINTS, MAX_SETS);
}

/* "a,b[,c]" of numbers; returns how many were read (2..max), 0 on a malformed list */
static int parse_nums(const char *s, double *v, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        if (n == max) return 0;
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (errno || end == p || !isfinite(x)) return 0;
        v[n++] = x;
        if (*end == ',') p = end + 1;
        else if (*end == '\0') p = end;
        else return 0;
    }
    return n;
}

/* COCO uncompressed RLE of a row-major h x w 0/1 mask, counted in column-major order:
 * counts alternate runs of 0 and 1 starting with 0 (a leading 0 run may be empty). */
static void write_rle(FILE *f, const uint8_t *m, int w, int h)
{
    fputs("[", f);
    uint8_t cur = 0;
    long run = 0;
    int first = 1;
    for (int x = 0; x < w; x++)
        for (int y = 0; y < h; y++) {
            uint8_t v = m[(size_t)y * w + x] ? 1 : 0;
            if (v != cur) {
                fprintf(f, "%s%ld", first ? "" : ", ", run);
                first = 0;
                run = 0;
                cur = v;
            }
            run++;
        }
    fprintf(f, "%s%ld]", first ? "" : ", ", run);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void mark(oc_image *img, int cx, int cy, const uint8_t rgb[3])
{
    int r = img->width > 600 ? 6 : 4;
    const uint8_t white[3] = {255, 255, 255};
    oc_draw_fill(img, cx - r - 1, cy - r - 1, cx + r + 1, cy + r + 1, white);
    oc_draw_fill(img, cx - r, cy - r, cx + r, cy + r, rgb);
}

typedef struct {
    float points[MAX_POINTS][2];
    int32_t labels[MAX_POINTS];
    int npts, has_box;
    float box[4];
} cli_set;

static int best_mask(const oc_segmentation *r)
{
    int best = 0;
    for (int k = 1; k < r->n_masks; k++)
        if (r->scores[k] > r->scores[best]) best = k;
    return best;
}

int cmd_segment(int argc, char **argv)
{
    const char *model_path = NULL, *image_path = NULL, *out_path = NULL, *mask_path = NULL;
    const char *json_path = NULL;
    static cli_set sets[MAX_SETS];
    memset(sets, 0, sizeof sets);
    int nsets = 1, multimask = 0;
    long threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            segment_usage(stdout);
            return OC_EXIT_OK;
        }
        if (!strcmp(a, "--multimask")) {
            multimask = 1;
            continue;
        }
        if (!strcmp(a, "--set")) {
            if (nsets == MAX_SETS) {
                fprintf(stderr, "ocellus segment: more than %d prompt sets\n", MAX_SETS);
                return OC_EXIT_USAGE;
            }
            nsets++;
            continue;
        }
        static const char *const takes_value[] = {"--model", "--image", "--point", "--box",
                                                  "--out", "--mask-out", "--json", "--threads"};
        int known = 0;
        for (size_t k = 0; k < sizeof takes_value / sizeof takes_value[0]; k++)
            known |= !strcmp(a, takes_value[k]);
        if (!known) {
            fprintf(stderr, "ocellus segment: unknown option '%s'\n\n", a);
            segment_usage(stderr);
            return OC_EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "ocellus segment: %s needs a value\n", a);
            return OC_EXIT_USAGE;
        }
        const char *v = argv[++i];
        double nums[4];
        cli_set *cur = &sets[nsets - 1];
        if (!strcmp(a, "--model")) model_path = v;
        else if (!strcmp(a, "--image")) image_path = v;
        else if (!strcmp(a, "--out")) out_path = v;
        else if (!strcmp(a, "--mask-out")) mask_path = v;
        else if (!strcmp(a, "--json")) json_path = v;
        else if (!strcmp(a, "--threads")) {
            char *end;
            threads = strtol(v, &end, 10);
            if (end == v || *end || threads < 1 || threads > 1024) {
                fprintf(stderr, "ocellus segment: --threads '%s': expected 1..1024\n", v);
                return OC_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--point")) {
            int n = parse_nums(v, nums, 3);
            if (n < 2 || (n == 3 && nums[2] != 0 && nums[2] != 1)) {
                fprintf(stderr, "ocellus segment: --point '%s': expected x,y or x,y,label with "
                        "label 1 (foreground) or 0 (background)\n", v);
                return OC_EXIT_USAGE;
            }
            if (cur->npts == MAX_POINTS) {
                fprintf(stderr, "ocellus segment: more than %d points in a set\n", MAX_POINTS);
                return OC_EXIT_USAGE;
            }
            cur->points[cur->npts][0] = (float)nums[0];
            cur->points[cur->npts][1] = (float)nums[1];
            cur->labels[cur->npts++] = n == 3 ? (int32_t)nums[2] : 1;
        } else if (!strcmp(a, "--box")) {
            if (parse_nums(v, nums, 4) != 4 || nums[2] < nums[0] || nums[3] < nums[1]) {
                fprintf(stderr, "ocellus segment: --box '%s': expected x1,y1,x2,y2 with x1 <= x2 "
                        "and y1 <= y2\n", v);
                return OC_EXIT_USAGE;
            }
            if (cur->has_box) { /* a second box: a second object */
                if (nsets == MAX_SETS) {
                    fprintf(stderr, "ocellus segment: more than %d prompt sets\n", MAX_SETS);
                    return OC_EXIT_USAGE;
                }
                cur = &sets[nsets++];
            }
            for (int k = 0; k < 4; k++) cur->box[k] = (float)nums[k];
            cur->has_box = 1;
        }
    }
    if (!model_path || !image_path) {
        fprintf(stderr, "ocellus segment: --model and --image are required\n\n");
        segment_usage(stderr);
        return OC_EXIT_USAGE;
    }
    for (int k = 0; k < nsets; k++)
        if (!sets[k].npts && !sets[k].has_box) {
            if (nsets == 1) fprintf(stderr, "ocellus segment: give at least one --point or a --box\n");
            else fprintf(stderr, "ocellus segment: prompt set %d has no --point and no --box\n", k);
            return OC_EXIT_USAGE;
        }

    int rc = OC_EXIT_INPUT;
    oc_model *m = NULL;
    oc_session *s = NULL;
    oc_image img = {0};
    static oc_segmentation res[MAX_SETS];
    memset(res, 0, sizeof res);
    oc_segment_prompt pr[MAX_SETS];
    memset(pr, 0, sizeof pr);
    FILE *jf = NULL;
    oc_status st = oc_model_load(model_path, &m);
    if (st != OC_OK) {
        fprintf(stderr, "ocellus segment: %s\n", oc_last_error());
        goto done;
    }
    if ((st = oc_session_create(m, &s)) != OC_OK ||
        (threads && (st = oc_session_set_num_threads(s, (int)threads)) != OC_OK)) {
        fprintf(stderr, "ocellus segment: %s\n", oc_last_error());
        goto done;
    }
    double t0 = oc_now_ms();
    if ((st = oc_image_load(image_path, &img)) != OC_OK) {
        fprintf(stderr, "ocellus segment: %s\n", oc_last_error());
        goto done;
    }
    double ms_load = oc_now_ms() - t0;
    t0 = oc_now_ms();
    if ((st = oc_segment_set_image(s, &img)) != OC_OK) {
        fprintf(stderr, "ocellus segment: %s\n", oc_last_error());
        goto done;
    }
    double ms_encode = oc_now_ms() - t0;
    for (int k = 0; k < nsets; k++) {
        pr[k].points = sets[k].npts ? &sets[k].points[0][0] : NULL;
        pr[k].labels = sets[k].npts ? sets[k].labels : NULL;
        pr[k].n_points = sets[k].npts;
        pr[k].has_box = sets[k].has_box;
        memcpy(pr[k].box, sets[k].box, sizeof pr[k].box);
        pr[k].multimask = multimask;
    }
    t0 = oc_now_ms();
    if ((st = oc_segment_batch(s, pr, nsets, res)) != OC_OK) {
        fprintf(stderr, "ocellus segment: %s\n", oc_last_error());
        goto done;
    }
    double ms_decode = oc_now_ms() - t0;
    const int W = img.width, H = img.height;

    for (int q = 0; q < nsets; q++) {
        const oc_segmentation *r = &res[q];
        int best = best_mask(r);
        for (int k = 0; k < r->n_masks; k++) {
            if (nsets > 1) printf("set %d ", q);
            printf("mask %d: score %.4f, area %lld, bbox [%d, %d, %d, %d]%s\n", k,
                   (double)r->scores[k], (long long)r->areas[k], r->boxes[k][0], r->boxes[k][1],
                   r->boxes[k][2], r->boxes[k][3], k == best && r->n_masks > 1 ? " (best)" : "");
        }
    }
    printf("timing: load image %.1f ms, encode %.1f ms, decode %.1f ms (%d prompt set%s)\n",
           ms_load, ms_encode, ms_decode, nsets, nsets > 1 ? "s" : "");

    if (out_path) {
        oc_image ov = {0};
        if ((st = oc_image_alloc(&ov, W, H, 3)) != OC_OK) {
            fprintf(stderr, "ocellus segment: %s\n", oc_last_error());
            goto done;
        }
        memcpy(ov.data, img.data, (size_t)W * H * 3);
        /* masks blended at 50%, each set's best one last (on top) */
        for (int q = 0; q < nsets; q++) {
            const oc_segmentation *r = &res[q];
            int best = best_mask(r);
            for (int j = 0; j < r->n_masks; j++) {
                int k = (best + 1 + j) % r->n_masks;
                uint8_t c[3];
                oc_class_color(q * 13 + k * 7 + 1, c);
                const uint8_t *mk = r->masks + (size_t)k * W * H;
                for (size_t p = 0; p < (size_t)W * H; p++)
                    if (mk[p])
                        for (int ch = 0; ch < 3; ch++)
                            ov.data[p * 3 + ch] = (uint8_t)((ov.data[p * 3 + ch] + c[ch] + 1) / 2);
            }
        }
        const uint8_t green[3] = {40, 220, 60}, red[3] = {230, 40, 40}, blue[3] = {40, 120, 255};
        for (int q = 0; q < nsets; q++) {
            const cli_set *c = &sets[q];
            if (c->has_box)
                oc_draw_rect(&ov, (int)lrintf(c->box[0]), (int)lrintf(c->box[1]),
                             (int)lrintf(c->box[2]), (int)lrintf(c->box[3]), blue, W > 600 ? 3 : 2);
            for (int i = 0; i < c->npts; i++)
                mark(&ov, (int)lrintf(c->points[i][0]), (int)lrintf(c->points[i][1]),
                     c->labels[i] ? green : red);
        }
        st = oc_image_save_png(out_path, &ov);
        oc_image_free(&ov);
        if (st != OC_OK) {
            fprintf(stderr, "ocellus segment: %s\n", oc_last_error());
            goto done;
        }
    }
    if (mask_path) {
        oc_image mi = {0};
        if ((st = oc_image_alloc(&mi, W, H, 1)) != OC_OK) {
            fprintf(stderr, "ocellus segment: %s\n", oc_last_error());
            goto done;
        }
        memset(mi.data, 0, (size_t)W * H);
        for (int q = 0; q < nsets; q++) {
            const uint8_t *mk = res[q].masks + (size_t)best_mask(&res[q]) * W * H;
            for (size_t p = 0; p < (size_t)W * H; p++)
                if (mk[p]) mi.data[p] = 255;
        }
        st = oc_image_save_png(mask_path, &mi);
        oc_image_free(&mi);
        if (st != OC_OK) {
            fprintf(stderr, "ocellus segment: %s\n", oc_last_error());
            goto done;
        }
    }
    if (json_path) {
        jf = strcmp(json_path, "-") ? fopen(json_path, "w") : stdout;
        if (!jf) {
            fprintf(stderr, "ocellus segment: cannot write %s: %s\n", json_path, strerror(errno));
            goto done;
        }
        fputs("{\"image\": {\"path\": ", jf);
        json_str(jf, image_path);
        fprintf(jf, ", \"width\": %d, \"height\": %d}, \"model\": ", W, H);
        json_str(jf, model_path);
        fprintf(jf, ",\n \"timing_ms\": {\"load_image\": %.3f, \"encode\": %.3f, \"decode\": "
                "%.3f},\n \"multimask\": %s,\n \"prompts\": [", ms_load, ms_encode, ms_decode,
                multimask ? "true" : "false");
        for (int q = 0; q < nsets; q++) {
            const cli_set *c = &sets[q];
            fprintf(jf, "%s\n  {\"points\": [", q ? "," : "");
            for (int i = 0; i < c->npts; i++)
                fprintf(jf, "%s[%.9g, %.9g]", i ? ", " : "", (double)c->points[i][0],
                        (double)c->points[i][1]);
            fputs("], \"labels\": [", jf);
            for (int i = 0; i < c->npts; i++) fprintf(jf, "%s%d", i ? ", " : "", (int)c->labels[i]);
            fputs("], \"box\": ", jf);
            if (c->has_box)
                fprintf(jf, "[%.9g, %.9g, %.9g, %.9g]", (double)c->box[0], (double)c->box[1],
                        (double)c->box[2], (double)c->box[3]);
            else
                fputs("null", jf);
            fprintf(jf, ", \"object_score\": %.6f}", (double)res[q].object_score);
        }
        fputs("\n ],\n \"masks\": [", jf);
        int first = 1;
        for (int q = 0; q < nsets; q++) {
            const oc_segmentation *r = &res[q];
            for (int k = 0; k < r->n_masks; k++) {
                const int *b = r->boxes[k];
                int bw = r->areas[k] ? b[2] - b[0] + 1 : 0, bh = r->areas[k] ? b[3] - b[1] + 1 : 0;
                fprintf(jf, "%s\n  {\"prompt\": %d, \"score\": %.6f, \"area\": %lld, \"bbox\": [%d, "
                        "%d, %d, %d], \"segmentation\": {\"size\": [%d, %d], \"counts\": ",
                        first ? "" : ",", q, (double)r->scores[k], (long long)r->areas[k],
                        r->areas[k] ? b[0] : 0, r->areas[k] ? b[1] : 0, bw, bh, H, W);
                first = 0;
                write_rle(jf, r->masks + (size_t)k * W * H, W, H);
                fputs("}}", jf);
            }
        }
        fputs("\n ]}\n", jf);
        if (ferror(jf)) {
            fprintf(stderr, "ocellus segment: error writing %s\n", json_path);
            goto done;
        }
    }
    rc = OC_EXIT_OK;
done:
    if (jf && jf != stdout) fclose(jf);
    for (int q = 0; q < MAX_SETS; q++) oc_segmentation_free(&res[q]);
    oc_image_free(&img);
    oc_session_free(s);
    oc_model_free(m);
    return rc;
}
