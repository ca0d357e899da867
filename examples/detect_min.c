/* detect_min.c -- the smallest complete program around Ocellus: load a model, detect, print.
 *
 * Build (from the repository root, after `make`):
 *   cc -std=c11 -O2 examples/detect_min.c -Iinclude build/libocellus.a \
 *      -lopenblas -lpng -ljpeg -lcjson -lm -lpthread -o detect_min
 * or, once installed (`make install`):
 *   cc examples/detect_min.c $(pkg-config --cflags --libs --static ocellus) -o detect_min
 * Run:
 *   ./build/ocellus convert --input ../shared/models/yolo11n_coco.onnx -o yolo11n.safetensors
 *   ./detect_min yolo11n.safetensors ../shared/images/bus.jpg
 */
#include <ocellus.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.safetensors IMAGE\n", argv[0]);
        return 2;
    }
    oc_model *model = NULL;
    oc_session *session = NULL;
    oc_image img = {0};
    oc_detections dets = {0};
    if (oc_model_load(argv[1], &model) || oc_session_create(model, &session) ||
        oc_image_load(argv[2], &img) || oc_detect(session, &img, NULL, &dets)) {
        fprintf(stderr, "error: %s\n", oc_last_error());
        oc_session_free(session);
        oc_model_free(model);
        oc_image_free(&img);
        return 1;
    }
    for (int i = 0; i < dets.count; i++) {
        const oc_detection *d = &dets.items[i];
        printf("%-12s %.2f  [%.0f %.0f %.0f %.0f]\n", d->class_name, d->score, d->x1, d->y1,
               d->x2, d->y2);
    }
    oc_detections_free(&dets);
    oc_image_free(&img);
    oc_session_free(session);
    oc_model_free(model);
    return 0;
}
