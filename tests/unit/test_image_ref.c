/* test_image_ref.c - decode + resize against Pillow (tools/ref/resize_ref.py).
 *
 * 1. Synthetic images made by Pillow (PNG palette / tRNS / gray+alpha /
 *    16-bit / alpha / interlaced; JPEG baseline / progressive / gray / CMYK /
 *    EXIF orientations 2-8): our decode equals Pillow's decode + alpha
 *    compositing (same size, every channel within +-2).
 * 2. >= 200 real fashion JPEGs from the shared images.tar, decoded and
 *    resized to 224 (pad + bilinear, crop + bicubic, pad + box) by us and by
 *    Pillow: every channel within +-2; max and mean differences printed.
 * Skips (77) without the venv's Python or the shared data.
 */
#include "ingest/csv.h"
#include "ingest/image.h"
#include "ingest/resize.h"
#include "testlib.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/status.h"

#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define TOL 2
#define SAMPLE_COUNT 250

static char tmp[] = "/tmp/assort-imgref-XXXXXX";
static char python[1024], script[1024];

static int run(const char *cmd) {
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

/* Max and sum of |a - b| over n bytes. */
static void diff(const uint8_t *a, const uint8_t *b, size_t n, int *max, double *sum) {
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d > *max) *max = d;
        *sum += d;
    }
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void synthetic_cases(void) {
    char dir[1024], cmd[4096];
    snprintf(dir, sizeof dir, "%s/cases", tmp);
    snprintf(cmd, sizeof cmd, "'%s' '%s' make-cases '%s'", python, script, dir);
    EXPECT(run(cmd) == 0, "make-cases failed");
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        if (!ends_with(e->d_name, ".ref")) continue;
        char refp[1400], imgp[1400];
        snprintf(refp, sizeof refp, "%s/%s", dir, e->d_name);
        snprintf(imgp, sizeof imgp, "%s/%.*s", dir, (int)(strlen(e->d_name) - 4), e->d_name);
        char *ref = NULL, *img = NULL;
        size_t ref_n = 0, img_n = 0;
        if (fs_read_all(refp, &ref, &ref_n) != ST_OK || fs_read_all(imgp, &img, &img_n) != ST_OK) {
            EXPECT(0, "cannot read %s", imgp);
            free(ref);
            free(img);
            continue;
        }
        int rw = 0, rh = 0, hdr = 0;
        sscanf(ref, "%d %d\n%n", &rw, &rh, &hdr);
        struct image im;
        int rc = image_decode(img, img_n, NULL, &im);
        EXPECT(rc == ST_OK, "%s: %s", e->d_name, err_msg());
        if (rc == ST_OK) {
            EXPECT(im.width == rw && im.height == rh, "%s: %dx%d, Pillow %dx%d", e->d_name, im.width,
                   im.height, rw, rh);
            if (im.width == rw && im.height == rh && ref_n == (size_t)hdr + (size_t)rw * rh * 3) {
                int mx = 0;
                double sum = 0;
                diff(im.pixels, (const uint8_t *)ref + hdr, (size_t)rw * rh * 3, &mx, &sum);
                printf("decode %-22s %dx%d  max diff %d  mean %.4f\n", e->d_name + 0, rw, rh, mx,
                       sum / ((double)rw * rh * 3));
                EXPECT(mx <= TOL, "%s: max diff %d vs Pillow", e->d_name, mx);
            }
            image_free(&im);
        }
        files++;
        free(ref);
        free(img);
    }
    closedir(d);
    EXPECT(files >= 20, "only %d synthetic cases", files);
}

static void real_images(const char *shared) {
    char csvp[1024], tarp[1024], listp[1024], cmd[8192];
    snprintf(csvp, sizeof csvp, "%s/data/fashion/catalog.csv", shared);
    snprintf(tarp, sizeof tarp, "%s/data/fashion/images.tar", shared);
    snprintf(listp, sizeof listp, "%s/list.txt", tmp);
    /* Every 160th product -> 250 images spread over the catalog. */
    struct csv *c = NULL;
    if (csv_open(csvp, &c) != ST_OK) {
        EXPECT(0, "%s", err_msg());
        return;
    }
    int col = csv_column(c, "image"), have, row_i = 0, count = 0;
    FILE *lf = fopen(listp, "w");
    struct csv_row row;
    char names[SAMPLE_COUNT][64];
    while (lf && count < SAMPLE_COUNT && csv_next(c, &row, &have) == ST_OK && have) {
        if (row_i++ % 160 != 0) continue;
        fprintf(lf, "%s\n", row.fields[col]);
        snprintf(names[count++], sizeof names[0], "%s", row.fields[col]);
    }
    csv_close(c);
    if (lf) fclose(lf);
    EXPECT(count >= 200, "only %d sample images", count);
    snprintf(cmd, sizeof cmd, "tar -xf '%s' -C '%s' -T '%s'", tarp, tmp, listp);
    if (run(cmd) != 0) {
        EXPECT(0, "tar failed");
        return;
    }
    static const struct { const char *fit, *filter; } cfgs[] = {
        {"pad", "bilinear"}, {"crop", "bicubic"}, {"pad", "box"}, {"crop", "bilinear"}};
    for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++) {
        char out[1024];
        snprintf(out, sizeof out, "%s/ref-%zu", tmp, k);
        int len = snprintf(cmd, sizeof cmd, "cd '%s' && '%s' '%s' resize --side 224 --fit %s --filter %s --out '%s' -- ",
                           tmp, python, script, cfgs[k].fit, cfgs[k].filter, out);
        /* Image paths go through the list file: xargs keeps the command short. */
        snprintf(cmd + len, sizeof cmd - len, "$(cat '%s')", listp);
        if (run(cmd) != 0) {
            EXPECT(0, "Pillow reference failed");
            continue;
        }
        struct resize_opts ro;
        resize_opts_default(&ro);
        resize_fit_parse(cfgs[k].fit, &ro.fit);
        resize_filter_parse(cfgs[k].filter, &ro.filter);
        struct resizer *rz = NULL;
        if (resizer_new(&ro, &rz) != ST_OK) continue;
        uint8_t *mine = malloc(224 * 224 * 3);
        int mx = 0, worst_over = 0, compared = 0;
        double sum = 0, t_ours = 0;
        for (int i = 0; i < count; i++) {
            char p[1200], rp[2200];
            snprintf(p, sizeof p, "%s/%.63s", tmp, names[i]);
            const char *base = strrchr(names[i], '/');
            snprintf(rp, sizeof rp, "%s/%.63s.rgb", out, base ? base + 1 : names[i]);
            char *data = NULL, *ref = NULL;
            size_t n = 0, rn = 0;
            if (fs_read_all(p, &data, &n) != ST_OK || fs_read_all(rp, &ref, &rn) != ST_OK) {
                EXPECT(0, "missing %s or its reference", p);
                free(data);
                continue;
            }
            double t0 = time_now();
            struct image im;
            int rc = image_decode(data, n, NULL, &im);
            if (rc == ST_OK) rc = resizer_run(rz, im.pixels, im.width, im.height, mine);
            t_ours += time_now() - t0;
            EXPECT(rc == ST_OK, "%s: %s", p, err_msg());
            if (rc == ST_OK && rn == 224 * 224 * 3) {
                int m1 = 0;
                diff(mine, (const uint8_t *)ref, rn, &m1, &sum);
                if (m1 > mx) mx = m1;
                if (m1 > TOL) worst_over++;
                compared++;
            }
            image_free(&im);
            free(data);
            free(ref);
        }
        printf("real %-4s %-8s: %d images, max diff %d, mean %.5f, %d over +-%d; ours %.2f ms/image\n",
               cfgs[k].fit, cfgs[k].filter, compared, mx, sum / ((double)compared * 224 * 224 * 3), worst_over,
               TOL, 1e3 * t_ours / (compared ? compared : 1));
        EXPECT(compared >= 200, "compared only %d images", compared);
        EXPECT(mx <= TOL, "%s/%s: max diff %d vs Pillow", cfgs[k].fit, cfgs[k].filter, mx);
        free(mine);
        resizer_free(rz);
    }
}

int main(void) {
    const char *src = getenv("ASSORT_SRC");
    const char *shared = getenv("ASSORT_SHARED");
    snprintf(python, sizeof python, "%s/.venv/bin/python", src ? src : ".");
    snprintf(script, sizeof script, "%s/tools/ref/resize_ref.py", src ? src : ".");
    if (access(python, X_OK) != 0) test_skip("no .venv/bin/python: run tools/setup-deps for the Pillow reference");
    if (!mkdtemp(tmp)) test_skip("cannot make a temporary directory");

    synthetic_cases();
    char tarp[1024];
    snprintf(tarp, sizeof tarp, "%s/data/fashion/images.tar", shared ? shared : "../shared");
    if (access(tarp, R_OK) == 0) real_images(shared ? shared : "../shared");
    else printf("note: %s absent: real-image comparison skipped\n", tarp);

    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "note: could not remove %s\n", tmp);
    return TEST_END();
}
