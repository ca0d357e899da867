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

static void segment_usage(FILE *f)
{
    fprintf(f,
            "usage: ocellus segment --model FILE --image FILE [--point x,y[,label]]...\n"
            "                       [--box x1,y1,x2,y2] [--multimask] [--out overlay.png]\n"
            "                       [--mask-out mask.png] [--json out.json|-] [--threads N]\n"
            "\n"
            "Segment what the prompts point at (a SAM2 model, see `ocellus convert --arch sam2`).\n"
            "The image is encoded once; the prompts only run the mask decoder.\n"
            "\n"
            "  --model FILE      an Ocellus SAM2 model file\n"
            "  --image FILE      a PNG or JPEG image\n"
            "  --point x,y[,l]   a click in image pixels; label 1 = foreground (default),\n"
            "                    0 = background; may repeat (up to %d)\n"
            "  --box x1,y1,x2,y2 a box in image pixels (x1 <= x2, y1 <= y2)\n"
            "  --multimask       three candidate masks instead of one (the reference's\n"
            "                    multimask_output=True; best for a single ambiguous click)\n"
            "  --out P           the image with the mask(s) and the prompt marks (PNG)\n"
            "  --mask-out P      the highest-scoring mask as a black/white PNG\n"
            "  --json P          per mask: score (predicted IoU), bbox [x, y, w, h], area and\n"
            "                    segmentation {size: [h, w], counts: [...]} (COCO uncompressed\n"
            "                    RLE over column-major pixels, as pycocotools writes it); plus\n"
            "                    timing_ms {load_image, encode, decode}; '-' for stdout\n"
            "  --threads N       threads for inference (default: all cores)\n"
            "\nexit codes: 0 ok, 1 bad input (model, image, prompt), 2 usage\n",
            MAX_POINTS);
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

int cmd_segment(int argc, char **argv)
{
    const char *model_path = NULL, *image_path = NULL, *out_path = NULL, *mask_path = NULL;
    const char *json_path = NULL;
    float points[MAX_POINTS][2];
    int32_t labels[MAX_POINTS];
    int npts = 0, has_box = 0, multimask = 0;
    float box[4] = {0, 0, 0, 0};
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
            if (npts == MAX_POINTS) {
                fprintf(stderr, "ocellus segment: more than %d points\n", MAX_POINTS);
                return OC_EXIT_USAGE;
            }
            points[npts][0] = (float)nums[0];
            points[npts][1] = (float)nums[1];
            labels[npts++] = n == 3 ? (int32_t)nums[2] : 1;
        } else if (!strcmp(a, "--box")) {
            if (parse_nums(v, nums, 4) != 4 || nums[2] < nums[0] || nums[3] < nums[1]) {
                fprintf(stderr, "ocellus segment: --box '%s': expected x1,y1,x2,y2 with x1 <= x2 "
                        "and y1 <= y2\n", v);
                return OC_EXIT_USAGE;
            }
            for (int k = 0; k < 4; k++) box[k] = (float)nums[k];
            has_box = 1;
        }
    }
    if (!model_path || !image_path) {
        fprintf(stderr, "ocellus segment: --model and --image are required\n\n");
        segment_usage(stderr);
        return OC_EXIT_USAGE;
    }
    if (!npts && !has_box) {
        fprintf(stderr, "ocellus segment: give at least one --point or a --box\n");
        return OC_EXIT_USAGE;
    }

    int rc = OC_EXIT_INPUT;
    oc_model *m = NULL;
    oc_session *s = NULL;
    oc_image img = {0};
    oc_segmentation res;
    memset(&res, 0, sizeof res);
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
    oc_segment_prompt pr;
    memset(&pr, 0, sizeof pr);
    pr.points = npts ? &points[0][0] : NULL;
    pr.labels = npts ? labels : NULL;
    pr.n_points = npts;
    pr.has_box = has_box;
    memcpy(pr.box, box, sizeof box);
    pr.multimask = multimask;
    t0 = oc_now_ms();
    if ((st = oc_segment(s, &pr, &res)) != OC_OK) {
        fprintf(stderr, "ocellus segment: %s\n", oc_last_error());
        goto done;
    }
    double ms_decode = oc_now_ms() - t0;
    const int W = img.width, H = img.height;
    int best = 0;
    for (int k = 1; k < res.n_masks; k++)
        if (res.scores[k] > res.scores[best]) best = k;

    for (int k = 0; k < res.n_masks; k++)
        printf("mask %d: score %.4f, area %lld, bbox [%d, %d, %d, %d]%s\n", k,
               (double)res.scores[k], (long long)res.areas[k], res.boxes[k][0], res.boxes[k][1],
               res.boxes[k][2], res.boxes[k][3], k == best && res.n_masks > 1 ? " (best)" : "");
    printf("timing: load image %.1f ms, encode %.1f ms, decode %.1f ms\n", ms_load, ms_encode,
           ms_decode);

    if (out_path) {
        oc_image ov = {0};
        if ((st = oc_image_alloc(&ov, W, H, 3)) != OC_OK) {
            fprintf(stderr, "ocellus segment: %s\n", oc_last_error());
            goto done;
        }
        memcpy(ov.data, img.data, (size_t)W * H * 3);
        /* masks blended at 50%, the best one last (on top) */
        for (int j = 0; j < res.n_masks; j++) {
            int k = (best + 1 + j) % res.n_masks;
            uint8_t c[3];
            oc_class_color(k * 7 + 1, c);
            const uint8_t *mk = res.masks + (size_t)k * W * H;
            for (size_t p = 0; p < (size_t)W * H; p++)
                if (mk[p])
                    for (int ch = 0; ch < 3; ch++)
                        ov.data[p * 3 + ch] = (uint8_t)((ov.data[p * 3 + ch] + c[ch] + 1) / 2);
        }
        const uint8_t green[3] = {40, 220, 60}, red[3] = {230, 40, 40}, blue[3] = {40, 120, 255};
        if (has_box)
            oc_draw_rect(&ov, (int)lrintf(box[0]), (int)lrintf(box[1]), (int)lrintf(box[2]),
                         (int)lrintf(box[3]), blue, W > 600 ? 3 : 2);
        for (int i = 0; i < npts; i++)
            mark(&ov, (int)lrintf(points[i][0]), (int)lrintf(points[i][1]),
                 labels[i] ? green : red);
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
        const uint8_t *mk = res.masks + (size_t)best * W * H;
        for (size_t p = 0; p < (size_t)W * H; p++) mi.data[p] = mk[p] ? 255 : 0;
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
                "%.3f},\n \"prompt\": {\"points\": [", ms_load, ms_encode, ms_decode);
        for (int i = 0; i < npts; i++)
            fprintf(jf, "%s[%.9g, %.9g]", i ? ", " : "", (double)points[i][0],
                    (double)points[i][1]);
        fputs("], \"labels\": [", jf);
        for (int i = 0; i < npts; i++) fprintf(jf, "%s%d", i ? ", " : "", (int)labels[i]);
        fputs("], \"box\": ", jf);
        if (has_box)
            fprintf(jf, "[%.9g, %.9g, %.9g, %.9g]", (double)box[0], (double)box[1],
                    (double)box[2], (double)box[3]);
        else
            fputs("null", jf);
        fprintf(jf, ", \"multimask\": %s},\n \"masks\": [", multimask ? "true" : "false");
        for (int k = 0; k < res.n_masks; k++) {
            const int *b = res.boxes[k];
            int bw = res.areas[k] ? b[2] - b[0] + 1 : 0, bh = res.areas[k] ? b[3] - b[1] + 1 : 0;
            fprintf(jf, "%s\n  {\"score\": %.6f, \"area\": %lld, \"bbox\": [%d, %d, %d, %d], "
                    "\"segmentation\": {\"size\": [%d, %d], \"counts\": ", k ? "," : "",
                    (double)res.scores[k], (long long)res.areas[k], res.areas[k] ? b[0] : 0,
                    res.areas[k] ? b[1] : 0, bw, bh, H, W);
            write_rle(jf, res.masks + (size_t)k * W * H, W, H);
            fputs("}}", jf);
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
    oc_segmentation_free(&res);
    oc_image_free(&img);
    oc_session_free(s);
    oc_model_free(m);
    return rc;
}
