/* bench_ingest_decode.c - assort's decode + resize alone, in one process,
 * on the files Pillow's peer loop reads (tools/bench/bench_ingest runs both,
 * interleaved).
 *   bench_ingest_decode LIST SIDE [REPEAT=1]
 * LIST: one image path a line. Per image: read the file, image_decode(),
 * resizer_run() to SIDE x SIDE (pad, bilinear, white: the ingest defaults).
 * Prints "images_per_s decode_s resize_s read_s checksum" on one line; the
 * checksum (sum of all output bytes) keeps the work from being optimised
 * away and can be compared with Pillow's. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/image.h"
#include "ingest/resize.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/status.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_ingest_decode LIST SIDE [REPEAT]\n");
        return 2;
    }
    int side = atoi(argv[2]), repeat = argc > 3 ? atoi(argv[3]) : 1;
    FILE *f = fopen(argv[1], "r");
    if (!f || side < 1 || repeat < 1) {
        fprintf(stderr, "bench_ingest_decode: cannot read %s (or bad SIDE/REPEAT)\n", argv[1]);
        return 2;
    }
    char **paths = NULL;
    size_t n = 0, cap = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            char **p = realloc(paths, cap * sizeof *p);
            if (!p) return 1;
            paths = p;
        }
        if (!(paths[n++] = strdup(line))) return 1;
    }
    fclose(f);
    struct image_opts io;
    struct resize_opts ro;
    struct resizer *rz = NULL;
    image_opts_default(&io);
    resize_opts_default(&ro);
    ro.side = side;
    uint8_t *out = malloc((size_t)side * side * 3); /* (side, side, 3) */
    if (!out || resizer_new(&ro, &rz) != ST_OK) return 1;
    double t_read = 0, t_dec = 0, t_rs = 0;
    uint64_t sum = 0;
    double t0 = time_now();
    for (int r = 0; r < repeat; r++) {
        for (size_t i = 0; i < n; i++) {
            char *bytes = NULL;
            size_t nbytes = 0;
            struct image im = {0};
            double a = time_now();
            if (fs_read_all(paths[i], &bytes, &nbytes) != ST_OK) {
                fprintf(stderr, "bench_ingest_decode: %s\n", err_msg());
                return 1;
            }
            double b = time_now();
            if (image_decode(bytes, nbytes, &io, &im) != ST_OK) {
                fprintf(stderr, "bench_ingest_decode: %s: %s\n", paths[i], err_msg());
                return 1;
            }
            double c = time_now();
            if (resizer_run(rz, im.pixels, im.width, im.height, out) != ST_OK) return 1;
            double d = time_now();
            t_read += b - a, t_dec += c - b, t_rs += d - c;
            for (size_t k = 0; k < (size_t)side * side * 3; k += 4093) sum += out[k];
            image_free(&im);
            free(bytes);
        }
    }
    double total = time_now() - t0;
    printf("%.1f %.3f %.3f %.3f %llu\n", (double)n * repeat / total, t_dec, t_rs, t_read,
           (unsigned long long)sum);
    resizer_free(rz);
    free(out);
    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
    return 0;
}
