/* fuzz_image.c - image decode + resize (src/ingest/image.h, resize.h).
 *
 * The input is the file's bytes. Probes and decodes it (pixel limit lowered
 * to 4 Mpixel so that a large but valid header does not spend the fuzzer's
 * time), then resizes the decoded image with both fits (pad and crop) and a
 * filter chosen by the input size, to a small side. Checks: probe and decode
 * agree on the format; a decoded image has positive sides and pixels; a
 * failure leaves *out zeroed.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "ingest/image.h"
#include "ingest/resize.h"
#include "util/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct image_opts o;
    image_opts_default(&o);
    o.max_pixels = 1u << 22;
    o.apply_exif = 1;
    enum image_format fmt = IMAGE_FORMAT_UNKNOWN;
    int pw = 0, ph = 0;
    int prc = image_probe(data, size, &o, &fmt, &pw, &ph);
    if (image_detect(data, size) != fmt && prc == ST_OK) abort();

    struct image im;
    int rc = image_decode(data, size, &o, &im);
    if (rc != ST_OK) {
        if (im.pixels || im.width || im.height) abort();
        return 0;
    }
    if (im.width < 1 || im.height < 1 || !im.pixels) abort();
    if ((uint64_t)im.width * (uint64_t)im.height > o.max_pixels) abort();
    /* Orientation 5-8 swaps the sides; the stored ones are the probe's. */
    if (prc == ST_OK && !((im.width == pw && im.height == ph) || (im.width == ph && im.height == pw)))
        abort();

    static const enum resize_filter filters[3] = {RESIZE_BOX, RESIZE_BILINEAR, RESIZE_BICUBIC};
    for (int fit = 0; fit < 2; fit++) {
        struct resize_opts ro;
        resize_opts_default(&ro);
        ro.side = 16 + (int)(size % 17);
        ro.fit = fit ? RESIZE_FIT_CROP : RESIZE_FIT_PAD;
        ro.filter = filters[(size / 17) % 3];
        struct resizer *rz = NULL;
        if (resizer_new(&ro, &rz) != ST_OK) abort();
        uint8_t *dst = malloc((size_t)ro.side * (size_t)ro.side * 3);
        if (!dst) abort();
        if (resizer_run(rz, im.pixels, im.width, im.height, dst) != ST_OK) abort();
        free(dst);
        resizer_free(rz);
    }
    image_free(&im);
    return 0;
}
