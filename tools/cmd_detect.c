/* ocellus detect -- YOLO detection on images: summary on stdout, annotated PNG, JSON. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"
#include "tasks/detect.h"
#include "image.h"

static void detect_usage(FILE *f)
{
    fprintf(f,
            "usage: ocellus detect --model FILE --image FILE|DIR [--image ...]\n"
            "                      [--out annotated.png|DIR] [--json out.json|-]\n"
            "                      [--conf X] [--iou X] [--max-det N] [--agnostic]\n"
            "                      [--imgsz N] [--threads N]\n"
            "\n"
            "  --model FILE   an Ocellus model file (see `ocellus convert`)\n"
            "  --image P      an image (PNG/JPEG) or a directory of them; may repeat\n"
            "  --out P        annotated PNG; with several images, a directory (created) that\n"
            "                 receives NAME.png per image\n"
            "  --json P       write the detections as JSON ('-' for stdout): one object for one\n"
            "                 image, an array of them for several:\n"
            "                 {\"image\": {\"path\", \"width\", \"height\"}, \"model\", \"timing_ms\":\n"
            "                  {\"decode\", \"preprocess\", \"inference\", \"postprocess\"},\n"
            "                  \"detections\": [{\"class_id\", \"class_name\", \"score\",\n"
            "                  \"box_xyxy\": [x1, y1, x2, y2]}]}\n"
            "  --conf X       confidence threshold (default 0.25, or the model file's\n"
            "                 ocellus.conf_threshold: RT-DETR files carry 0.6, the threshold the\n"
            "                 reference's tools/infer.py draws with)\n"
            "  --iou X        NMS IoU threshold (default 0.7)\n"
            "  --max-det N    at most N boxes per image (default 300)\n"
            "  --agnostic     class-agnostic NMS (default: per class)\n"
            "  --imgsz N      model input size, a multiple of 32 (default: the model's)\n"
            "  --threads N    threads for inference (default: all cores)\n"
            "\nexit codes: 0 ok, 1 bad input (model, image), 2 usage\n");
}

typedef struct {
    char **v;
    int n, cap;
} strlist;

static int sl_push(strlist *l, const char *s)
{
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 8;
        char **nv = realloc(l->v, (size_t)nc * sizeof *nv);
        if (!nv) return -1;
        l->v = nv;
        l->cap = nc;
    }
    if (!(l->v[l->n] = strdup(s))) return -1;
    l->n++;
    return 0;
}

static void sl_free(strlist *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_image_ext(const char *name)
{
    const char *d = strrchr(name, '.');
    return d && (!strcasecmp(d, ".jpg") || !strcasecmp(d, ".jpeg") || !strcasecmp(d, ".png"));
}

/* a file, or the images of a directory (sorted); returns -1 when the path does not exist */
static int add_image_arg(strlist *l, const char *p)
{
    struct stat sb;
    if (stat(p, &sb) != 0) return -1;
    if (!S_ISDIR(sb.st_mode)) return sl_push(l, p);
    DIR *d = opendir(p);
    if (!d) return -1;
    strlist tmp = {0};
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !has_image_ext(e->d_name)) continue;
        size_t n = strlen(p) + strlen(e->d_name) + 2;
        char *full = malloc(n);
        if (!full) break;
        snprintf(full, n, "%s%s%s", p, p[strlen(p) - 1] == '/' ? "" : "/", e->d_name);
        sl_push(&tmp, full);
        free(full);
    }
    closedir(d);
    qsort(tmp.v, (size_t)tmp.n, sizeof *tmp.v, cmp_str);
    for (int i = 0; i < tmp.n; i++) sl_push(l, tmp.v[i]);
    sl_free(&tmp);
    return 0;
}

static int parse_float(const char *s, float lo, float hi, float *out)
{
    char *e;
    errno = 0;
    double v = strtod(s, &e);
    if (errno || *e || e == s || !(v >= lo && v <= hi)) return -1;
    *out = (float)v;
    return 0;
}

static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (errno || *e || e == s || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* boxes in per-class colours with "name 0.87" labels on a filled tab; labels are placed
 * (oc_place_labels) best detection first, inside the image and clear of each other */
static void annotate(oc_image *img, const oc_detections *d)
{
    int m = img->width < img->height ? img->width : img->height;
    int thick = m / 300 > 2 ? m / 300 : 2;
    int ts = m / 400 > 1 ? m / 400 : 1;
    if (ts > 4) ts = 4;
    int n = d->count;
    oc_rect *box = calloc((size_t)(n > 0 ? n : 1), sizeof *box);
    oc_rect *lab = calloc((size_t)(n > 0 ? n : 1), sizeof *lab);
    int *lw = calloc((size_t)(n > 0 ? n : 1), sizeof *lw);
    int *lh = calloc((size_t)(n > 0 ? n : 1), sizeof *lh);
    char (*text)[96] = calloc((size_t)(n > 0 ? n : 1), sizeof *text);
    if (!box || !lab || !lw || !lh || !text) n = 0; /* out of memory: boxes only, no labels */
    int pad = ts + 1;
    for (int i = 0; i < n; i++) { /* detections come best first */
        const oc_detection *e = &d->items[i];
        box[i] = (oc_rect){(int)lrintf(e->x1), (int)lrintf(e->y1), (int)lrintf(e->x2),
                           (int)lrintf(e->y2)};
        snprintf(text[i], sizeof text[i], "%s %.2f", e->class_name ? e->class_name : "?",
                 (double)e->score);
        lw[i] = oc_text_width(text[i], ts) + 2 * pad;
        lh[i] = oc_text_height(ts) + 2 * pad;
    }
    oc_place_labels(box, lw, lh, n, img->width, img->height, lab);
    /* boxes first, then labels, so no box line crosses a label */
    for (int i = d->count - 1; i >= 0; i--) {
        const oc_detection *e = &d->items[i];
        uint8_t col[3];
        oc_class_color(e->class_id, col);
        int x2 = (int)lrintf(e->x2), y2 = (int)lrintf(e->y2);
        if (x2 > img->width - 1) x2 = img->width - 1;
        if (y2 > img->height - 1) y2 = img->height - 1;
        oc_draw_rect(img, (int)lrintf(e->x1), (int)lrintf(e->y1), x2, y2, col, thick);
    }
    const uint8_t black[3] = {0, 0, 0}, white[3] = {255, 255, 255};
    for (int i = n - 1; i >= 0; i--) {
        uint8_t col[3];
        oc_class_color(d->items[i].class_id, col);
        oc_draw_fill(img, lab[i].x1, lab[i].y1, lab[i].x2, lab[i].y2, col);
        /* readable text: black on light colours, white on dark ones */
        int luma = (299 * col[0] + 587 * col[1] + 114 * col[2]) / 1000;
        oc_draw_text(img, lab[i].x1 + pad, lab[i].y1 + pad, text[i], luma > 140 ? black : white, ts);
    }
    free(box);
    free(lab);
    free(lw);
    free(lh);
    free(text);
}

static int sl_has(const strlist *l, const char *s)
{
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s)) return 1;
    return 0;
}

/* 1 when png is not the plain DIR/NAME.png of base b */
static int k_differs(const char *png, const char *dir, const char *b, int bl)
{
    char plain[4096];
    snprintf(plain, sizeof plain, "%s/%.*s.png", dir, bl, b);
    return strcmp(png, plain) != 0;
}

static const char *base_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int cmd_detect(int argc, char **argv)
{
    const char *model_path = NULL, *out_path = NULL, *json_path = NULL;
    strlist images = {0}, image_args = {0}, written = {0};
    oc_detect_options opt;
    oc_detect_options_default(&opt);
    int conf_given = 0;
    int threads = 0, rc = OC_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            detect_usage(stdout);
            sl_free(&image_args);
            return OC_EXIT_OK;
        }
        if (!strcmp(a, "--agnostic")) {
            opt.agnostic_nms = 1;
            continue;
        }
        static const char *const takes_value[] = {"--model", "--image", "--out", "--json",
                                                  "--conf", "--iou", "--max-det", "--imgsz",
                                                  "--threads"};
        int known = 0;
        for (size_t k = 0; k < sizeof takes_value / sizeof takes_value[0]; k++)
            known |= !strcmp(a, takes_value[k]);
        if (!known || i + 1 >= argc) {
            if (!known)
                fprintf(stderr, "ocellus detect: %s '%s'\n\n",
                        strncmp(a, "-", 1) ? "unexpected argument" : "unknown option", a);
            else
                fprintf(stderr, "ocellus detect: %s needs a value\n\n", a);
            detect_usage(stderr);
            sl_free(&image_args);
            return OC_EXIT_USAGE;
        }
        const char *v = argv[++i];
        int bad = 0;
        if (!strcmp(a, "--model")) model_path = v;
        else if (!strcmp(a, "--image")) bad = sl_push(&image_args, v);
        else if (!strcmp(a, "--out")) out_path = v;
        else if (!strcmp(a, "--json")) json_path = v;
        else if (!strcmp(a, "--conf")) {
            bad = parse_float(v, 0, 1, &opt.conf_threshold);
            conf_given = 1;
        }
        else if (!strcmp(a, "--iou")) bad = parse_float(v, 0, 1, &opt.iou_threshold);
        else if (!strcmp(a, "--max-det")) bad = parse_int(v, 1, 100000, &opt.max_det);
        else if (!strcmp(a, "--imgsz")) bad = parse_int(v, 32, 4096, &opt.input_size) ||
                                              opt.input_size % 32;
        else if (!strcmp(a, "--threads")) bad = parse_int(v, 1, 1024, &threads);
        else {
            fprintf(stderr, "ocellus detect: unknown option '%s'\n\n", a);
            detect_usage(stderr);
            sl_free(&image_args);
            return OC_EXIT_USAGE;
        }
        if (bad) {
            fprintf(stderr, "ocellus detect: bad value '%s' for %s\n", v, a);
            sl_free(&image_args);
            return OC_EXIT_USAGE;
        }
    }
    if (!model_path || image_args.n == 0) {
        fprintf(stderr, "ocellus detect: --model and --image are required\n\n");
        detect_usage(stderr);
        sl_free(&image_args);
        return OC_EXIT_USAGE;
    }
    for (int i = 0; i < image_args.n; i++) {
        if (add_image_arg(&images, image_args.v[i]) != 0) {
            fprintf(stderr, "ocellus detect: %s: no such file or directory\n", image_args.v[i]);
            rc = OC_EXIT_INPUT;
        }
    }
    sl_free(&image_args);
    if (images.n == 0) {
        if (rc == OC_EXIT_OK) fprintf(stderr, "ocellus detect: no images found\n");
        sl_free(&images);
        return OC_EXIT_INPUT;
    }
    int many = images.n > 1;
    if (out_path && many && mkdir(out_path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "ocellus detect: cannot create directory %s: %s\n", out_path,
                strerror(errno));
        sl_free(&images);
        return OC_EXIT_INPUT;
    }

    oc_model *model = NULL;
    oc_session *sess = NULL;
    oc_status st = oc_model_load(model_path, &model);
    if (st == OC_OK) st = oc_session_create(model, &sess);
    if (st == OC_OK && threads > 0) st = oc_session_set_num_threads(sess, threads);
    if (st == OC_OK && !conf_given) {
        /* the default of the model's reference (RT-DETR: 0.6), when its file carries one */
        const char *v = oc_model_meta(model, "ocellus.conf_threshold");
        char *end = NULL;
        float c = v ? strtof(v, &end) : -1.0f;
        if (v && end != v && !*end && c >= 0.0f && c <= 1.0f) opt.conf_threshold = c;
    }
    if (st != OC_OK) {
        fprintf(stderr, "ocellus detect: %s (%s)\n", oc_last_error(), oc_status_name(st));
        oc_session_free(sess);
        oc_model_free(model);
        sl_free(&images);
        return OC_EXIT_INPUT;
    }

    FILE *jf = NULL;
    int json_items = 0;
    if (json_path) {
        jf = strcmp(json_path, "-") ? fopen(json_path, "w") : stdout;
        if (!jf) {
            fprintf(stderr, "ocellus detect: cannot write %s: %s\n", json_path, strerror(errno));
            oc_session_free(sess);
            oc_model_free(model);
            sl_free(&images);
            return OC_EXIT_INPUT;
        }
        if (many) fputs("[\n", jf);
    }
    for (int i = 0; i < images.n; i++) {
        const char *ip = images.v[i];
        oc_image img = {0};
        double t0 = oc_now_ms();
        st = oc_image_load(ip, &img);
        double ms_decode = oc_now_ms() - t0;
        if (st != OC_OK) {
            fprintf(stderr, "ocellus detect: %s (%s)\n", oc_last_error(), oc_status_name(st));
            rc = OC_EXIT_INPUT;
            continue;
        }
        oc_detections dets = {0};
        st = oc_detect(sess, &img, &opt, &dets);
        if (st != OC_OK) {
            fprintf(stderr, "ocellus detect: %s: %s (%s)\n", ip, oc_last_error(),
                    oc_status_name(st));
            oc_image_free(&img);
            rc = OC_EXIT_INPUT;
            continue;
        }
        if (!jf || strcmp(json_path, "-")) {
            printf("%s: %dx%d, %d detection%s (decode %.1f ms, preprocess %.1f ms, inference "
                   "%.1f ms, postprocess %.1f ms)\n", ip, img.width, img.height, dets.count,
                   dets.count == 1 ? "" : "s", ms_decode, dets.ms_preprocess, dets.ms_inference,
                   dets.ms_postprocess);
            for (int k = 0; k < dets.count; k++) {
                const oc_detection *e = &dets.items[k];
                printf("  %-14s %.3f  [%.1f, %.1f, %.1f, %.1f]\n",
                       e->class_name ? e->class_name : "?", (double)e->score, (double)e->x1,
                       (double)e->y1, (double)e->x2, (double)e->y2);
            }
        }
        if (jf) {
            char *js = oc_detections_json(ip, img.width, img.height, base_of(model_path),
                                          ms_decode, &dets, 1);
            if (js) {
                if (json_items++) fputs(",\n", jf);
                fputs(js, jf);
                oc_free(js);
            }
        }
        if (out_path) {
            char png[4096];
            if (many) {
                /* a/x.jpg and b/x.png would both be DIR/x.png: later ones get x-2.png, ... */
                const char *b = base_of(ip);
                const char *dot = strrchr(b, '.');
                int bl = dot ? (int)(dot - b) : (int)strlen(b);
                snprintf(png, sizeof png, "%s/%.*s.png", out_path, bl, b);
                for (int k = 2; sl_has(&written, png); k++)
                    snprintf(png, sizeof png, "%s/%.*s-%d.png", out_path, bl, b, k);
                if (k_differs(png, out_path, b, bl))
                    fprintf(stderr, "ocellus detect: %s: another image has the same name; "
                                    "writing %s\n", ip, png);
                sl_push(&written, png);
            } else {
                snprintf(png, sizeof png, "%s", out_path);
            }
            annotate(&img, &dets);
            if ((st = oc_image_save_png(png, &img)) != OC_OK) {
                fprintf(stderr, "ocellus detect: %s (%s)\n", oc_last_error(), oc_status_name(st));
                rc = OC_EXIT_INPUT;
            }
        }
        oc_detections_free(&dets);
        oc_image_free(&img);
    }
    if (jf) {
        fputs(many ? "\n]\n" : "\n", jf);
        if (jf != stdout && fclose(jf) != 0) {
            fprintf(stderr, "ocellus detect: error writing %s\n", json_path);
            rc = OC_EXIT_INPUT;
        }
    }
    oc_session_free(sess);
    oc_model_free(model);
    sl_free(&images);
    sl_free(&written);
    return rc;
}
