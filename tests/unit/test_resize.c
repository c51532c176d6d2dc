/* test_resize.c - resize geometry and properties with independent expected
 * values: the pad/crop placement worked out by hand for the fashion size,
 * a 2x box downscale equal to the 2x2 mean, constants preserved by every
 * filter, same-size resize an exact copy. (Pixel equality with Pillow is
 * test_image_ref.) */
#include "ingest/resize.h"
#include "testlib.h"
#include "util/status.h"

#include <stdint.h>
#include <string.h>

int main(void) {
    struct resize_opts o;
    struct resize_geom g;
    resize_opts_default(&o);
    EXPECT(o.side == 224 && o.fit == RESIZE_FIT_PAD && o.filter == RESIZE_BILINEAR, "defaults");

    /* 60x80 -> 168x224 (80 * 2.8 = 224, 60 * 2.8 = 168) at x = (224-168)/2 = 28. */
    resize_geometry(60, 80, &o, &g);
    EXPECT(g.out_w == 168 && g.out_h == 224 && g.off_x == 28 && g.off_y == 0, "pad 60x80: %dx%d at %d,%d",
           g.out_w, g.out_h, g.off_x, g.off_y);
    resize_geometry(80, 60, &o, &g);
    EXPECT(g.out_w == 224 && g.out_h == 168 && g.off_x == 0 && g.off_y == 28, "pad 80x60");
    resize_geometry(1000, 3, &o, &g); /* 3 * 0.224 = 0.672 -> rounds to 1 */
    EXPECT(g.out_w == 224 && g.out_h == 1 && g.off_y == 111, "pad 1000x3: %dx%d at %d", g.out_w, g.out_h, g.off_y);
    o.fit = RESIZE_FIT_CROP;
    resize_geometry(60, 80, &o, &g);
    EXPECT(g.out_w == 224 && g.box[0] == 0 && g.box[1] == 10 && g.box[2] == 60 && g.box[3] == 70, "crop 60x80");
    resize_geometry(61, 80, &o, &g);
    EXPECT(g.box[1] == 9.5 && g.box[3] == 70.5, "crop 61x80: fractional centre");

    enum resize_filter f;
    enum resize_fit fit;
    EXPECT(resize_filter_parse("bicubic", &f) == ST_OK && f == RESIZE_BICUBIC, "parse bicubic");
    EXPECT_INT(resize_filter_parse("lanczos", &f), ST_USAGE);
    EXPECT(resize_fit_parse("crop", &fit) == ST_OK && fit == RESIZE_FIT_CROP, "parse crop");

    /* 2x box downscale = mean of each 2x2 block (two rounded passes: +-1). */
    enum { W = 64, H = 48 };
    static uint8_t src[H][W][3], dst[H / 2][W / 2][3];
    unsigned seed = 12345;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) src[y][x][c] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 16);
    double box[4] = {0, 0, W, H};
    EXPECT_INT(resize_region(&src[0][0][0], W, H, box, W / 2, H / 2, RESIZE_BOX, &dst[0][0][0], W / 2 * 3), ST_OK);
    int worst = 0;
    for (int y = 0; y < H / 2; y++)
        for (int x = 0; x < W / 2; x++)
            for (int c = 0; c < 3; c++) {
                double m = (src[2 * y][2 * x][c] + src[2 * y][2 * x + 1][c] + src[2 * y + 1][2 * x][c] +
                            src[2 * y + 1][2 * x + 1][c]) / 4.0;
                int d = abs((int)dst[y][x][c] - (int)(m + 0.5));
                if (d > worst) worst = d;
            }
    EXPECT(worst <= 1, "box 2x downscale differs from the 2x2 mean by %d", worst);

    /* Constants stay constant (weights sum to 1), up and down, every filter. */
    static uint8_t flat[30][20][3], out[224 * 224 * 3];
    memset(flat, 77, sizeof flat);
    for (int fi = 0; fi < 3; fi++) {
        struct resize_opts p;
        resize_opts_default(&p);
        p.filter = (enum resize_filter)fi;
        p.background[0] = 1, p.background[1] = 2, p.background[2] = 3;
        struct resizer *rz = NULL;
        EXPECT_INT(resizer_new(&p, &rz), ST_OK);
        EXPECT_INT(resizer_run(rz, &flat[0][0][0], 20, 30, out), ST_OK);
        /* 20x30 -> 149x224 (20 * 224 / 30 = 149.33) at x = 37. */
        int bad_in = 0, bad_bg = 0;
        for (int y = 0; y < 224; y++)
            for (int x = 0; x < 224; x++) {
                const uint8_t *px = out + ((size_t)y * 224 + x) * 3;
                if (x >= 37 && x < 37 + 149) bad_in += px[0] != 77 || px[1] != 77 || px[2] != 77;
                else bad_bg += px[0] != 1 || px[1] != 2 || px[2] != 3;
            }
        EXPECT(bad_in == 0 && bad_bg == 0, "filter %d: %d picture pixels not 77, %d padding not bg", fi, bad_in,
               bad_bg);
        resizer_free(rz);
    }

    /* Same size, no crop: an exact copy. */
    static uint8_t sq[224][224][3], cp[224 * 224 * 3];
    for (int y = 0; y < 224; y++)
        for (int x = 0; x < 224; x++) sq[y][x][0] = (uint8_t)x, sq[y][x][1] = (uint8_t)y, sq[y][x][2] = (uint8_t)(x ^ y);
    struct resizer *rz = NULL;
    resize_opts_default(&o);
    EXPECT_INT(resizer_new(&o, &rz), ST_OK);
    EXPECT_INT(resizer_run(rz, &sq[0][0][0], 224, 224, cp), ST_OK);
    EXPECT(memcmp(cp, sq, sizeof cp) == 0, "224x224 -> 224 is a copy");
    EXPECT_INT(resizer_run(rz, &sq[0][0][0], 0, 5, cp), ST_USAGE);
    resizer_free(rz);
    return TEST_END();
}
