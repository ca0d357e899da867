/* libFuzzer target for the image decoders (PNG via libpng, JPEG via libjpeg-turbo).
 * Any input must give OC_OK with a sane image or an error with a message: never a crash,
 * a leak, an unbounded allocation or output on stdout/stderr. Successful decodes are also
 * pushed through resize, letterbox and drawing so those see odd sizes too.
 * Built and run by tests/fuzz/run.sh (make fuzz); seeds in tests/fuzz/seeds/image/. */
// FUZZ_MAX_LEN: 65536
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "internal.h"

static int g_init;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_init) {
        oc_set_image_pixel_limit(4u << 20); /* 4 Mpx: keeps each run small and fast */
        g_init = 1;
    }
    oc_alloc_stats before, after;
    oc_get_alloc_stats(&before);
    oc_image img;
    oc_status st = oc_image_decode(data, size, &img);
    if (st == OC_OK) {
        if (!img.data || img.channels != 3 || img.width <= 0 || img.height <= 0 ||
            (uint64_t)img.width * (uint64_t)img.height > oc_get_image_pixel_limit())
            abort();
        /* touch every byte (ASan/MSan see a short buffer) */
        unsigned sum = 0;
        size_t n = (size_t)img.width * img.height * 3;
        for (size_t i = 0; i < n; i++) sum += img.data[i];
        (void)sum;
        if (n <= 3u * 512 * 512) {
            oc_image small;
            int w = 1 + (int)(size % 97), h = 1 + (int)((size / 97) % 89);
            if (oc_image_resize(&img, w, h, &small) == OC_OK) oc_image_free(&small);
            float *chw = malloc(sizeof(float) * 3 * 32 * 24);
            oc_letterbox_info li;
            if (chw && oc_letterbox_chw(&img, 32, 24, 114, chw, &li) == OC_OK) {
                if (li.new_w < 1 || li.new_w > 32 || li.new_h < 1 || li.new_h > 24) abort();
            }
            free(chw);
            int32_t v[4] = {0, 0, 0, 0};
            memcpy(v, data, size < sizeof v ? size : sizeof v);
            const uint8_t c[3] = {255, 0, 0};
            oc_draw_rect(&img, v[0], v[1], v[2], v[3], c, (int)(v[0] ^ v[3]));
            oc_draw_text(&img, v[1], v[2], "person 0.87", c, (int)(v[3] & 7));
        }
        oc_image_free(&img);
    } else {
        if (img.data || oc_last_error()[0] == '\0') abort();
    }
    oc_get_alloc_stats(&after);
    if (after.live_bytes != before.live_bytes) abort(); /* a leak through oc_malloc */
    return 0;
}
