/* test_image_bad.c - every file of the bad-input corpus (tests/data/bad/)
 * gives its documented reason (tests/data/bad/README.md), and neither
 * library ends the process. */
#include "ingest/csv.h"
#include "ingest/image.h"
#include "testlib.h"
#include "util/fsutil.h"
#include "util/status.h"

#include <stdint.h>
#include <string.h>

static char dir[FS_PATH_MAX];

static void expect_image(const char *name, const char *reason) {
    char path[FS_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *data = NULL;
    size_t n = 0;
    int rc = fs_read_all(path, &data, &n);
    EXPECT(rc == ST_OK, "cannot read %s: %s", path, err_msg());
    if (rc != ST_OK) return;
    struct image im = {0};
    err_clear();
    rc = image_decode(data, n, NULL, &im);
    EXPECT(rc == ST_DATA, "%s: status %d, expected ST_DATA", name, rc);
    EXPECT(strcmp(err_msg(), reason) == 0, "%s: reason \"%s\", expected \"%s\"", name, err_msg(), reason);
    EXPECT(im.pixels == NULL && im.width == 0, "%s: image not zeroed on failure", name);
    image_free(&im);
    free(data);
}

static void expect_image_prefix(const char *name, const char *prefix) {
    char path[FS_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *data = NULL;
    size_t n = 0;
    if (fs_read_all(path, &data, &n) != ST_OK) {
        EXPECT(0, "cannot read %s", path);
        return;
    }
    struct image im = {0};
    int rc = image_decode(data, n, NULL, &im);
    EXPECT(rc == ST_DATA, "%s: status %d", name, rc);
    printf("%s: %s\n", name, err_msg());
    EXPECT(strncmp(err_msg(), prefix, strlen(prefix)) == 0, "%s: reason \"%s\", expected prefix \"%s\"", name,
           err_msg(), prefix);
    free(data);
}

int main(void) {
    const char *src = getenv("ASSORT_SRC");
    snprintf(dir, sizeof dir, "%s/tests/data/bad", src ? src : ".");

    expect_image("empty.jpg", "empty file");
    expect_image("truncated.jpg", "truncated JPEG");
    expect_image("truncated.png", "truncated PNG");
    expect_image("crc.png", "corrupt PNG (CRC error)");
    expect_image("text.jpg", "not an image");
    expect_image("image.gif", "unsupported format (GIF)");
    expect_image("huge.png", "image too large (50000 x 50000 > 89478485 pixels)");
    expect_image("huge.jpg", "image too large (50000 x 50000 > 89478485 pixels)");
    expect_image_prefix("corrupt.jpg", "corrupt JPEG (");

    /* The limit comes from the options and is checked from the header. */
    {
        char path[FS_PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/huge.png", dir);
        char *data = NULL;
        size_t n = 0;
        if (fs_read_all(path, &data, &n) == ST_OK) {
            enum image_format f;
            int w = 0, h = 0;
            int rc = image_probe(data, n, NULL, &f, &w, &h);
            EXPECT(rc == ST_DATA && f == IMAGE_FORMAT_PNG && w == 50000 && h == 50000,
                   "probe huge.png: rc %d fmt %d %dx%d", rc, (int)f, w, h);
            free(data);
        }
    }

    /* CSV cases. */
    char path[FS_PATH_MAX + 64];
    struct csv *c = NULL;
    struct csv_row row;
    int have = 0, rc;

    snprintf(path, sizeof path, "%s/unterminated_quote.csv", dir);
    EXPECT_INT(csv_open(path, &c), ST_OK);
    if (c) {
        rc = csv_next(c, &row, &have);
        EXPECT(rc == ST_OK && have && row.line == 2, "first row rc %d line %lld", rc, (long long)row.line);
        rc = csv_next(c, &row, &have);
        char want[FS_PATH_MAX + 256];
        snprintf(want, sizeof want, "%s:3: unterminated quoted field (opened on line 3, still open at end of "
                 "file); close the quote or double any '\"' inside the field", path);
        EXPECT(rc == ST_DATA && !have, "unterminated: rc %d have %d", rc, have);
        EXPECT_STR(err_msg(), want);
        rc = csv_next(c, &row, &have);
        EXPECT(rc == ST_OK && !have, "after the fatal error the reader is at end (rc %d have %d)", rc, have);
        csv_close(c);
        c = NULL;
    }

    snprintf(path, sizeof path, "%s/wrong_columns.csv", dir);
    EXPECT_INT(csv_open(path, &c), ST_OK);
    if (c) {
        int64_t lines[8];
        int codes[8], n = 0;
        size_t counts[8];
        char msg3[512] = "";
        while (n < 8) {
            rc = csv_next(c, &row, &have);
            if (!have) break;
            lines[n] = row.line;
            codes[n] = rc;
            counts[n] = row.field_count;
            if (n == 1) snprintf(msg3, sizeof msg3, "%s", err_msg());
            n++;
        }
        EXPECT_INT(n, 4);
        EXPECT(codes[0] == ST_OK && codes[1] == ST_DATA && codes[2] == ST_OK && codes[3] == ST_DATA,
               "codes %d %d %d %d", codes[0], codes[1], codes[2], codes[3]);
        EXPECT(lines[1] == 3 && counts[1] == 4 && lines[3] == 5 && counts[3] == 2, "lines/counts");
        char want[FS_PATH_MAX + 256];
        snprintf(want, sizeof want, "%s:3: 4 fields, expected 3 as in the header; quote fields that contain "
                 "commas (the row was not used)", path);
        EXPECT_STR(msg3, want);
        csv_close(c);
        c = NULL;
    }

    snprintf(path, sizeof path, "%s/bad_utf8.csv", dir);
    EXPECT_INT(csv_open(path, &c), ST_OK);
    if (c) {
        int bad[3] = {-9, -9, -9};
        for (int i = 0; i < 3; i++) {
            rc = csv_next(c, &row, &have);
            if (have) bad[i] = row.bad_utf8_field;
        }
        EXPECT(bad[0] == -1 && bad[1] == 1 && bad[2] == 1, "bad_utf8_field %d %d %d", bad[0], bad[1], bad[2]);
        csv_close(c);
        c = NULL;
    }

    snprintf(path, sizeof path, "%s/bom_crlf.csv", dir);
    EXPECT_INT(csv_open(path, &c), ST_OK);
    if (c) {
        const struct csv_row *hd = csv_header(c);
        EXPECT(hd->field_count == 3 && strcmp(hd->fields[0], "id") == 0, "BOM stripped from the first column");
        EXPECT_INT(csv_column(c, "image"), 2);
        rc = csv_next(c, &row, &have);
        EXPECT(rc == ST_OK && have && strcmp(row.fields[1], "Shirt, blue") == 0 && row.line == 2, "row 1");
        rc = csv_next(c, &row, &have);
        EXPECT(rc == ST_OK && have && strcmp(row.fields[1], "Say \"hi\"\r\nsecond line") == 0 && row.line == 3,
               "row 2: \"%s\" line %lld", have ? row.fields[1] : "", (long long)row.line);
        rc = csv_next(c, &row, &have);
        EXPECT(rc == ST_OK && have && strcmp(row.fields[2], "images/3.jpg") == 0 && row.line == 5,
               "row 3 (after a 2-line record) starts on line 5: line %lld", (long long)row.line);
        rc = csv_next(c, &row, &have);
        EXPECT(rc == ST_OK && !have, "end");
        csv_close(c);
    }
    return TEST_END();
}
