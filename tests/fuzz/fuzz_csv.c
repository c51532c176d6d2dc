/* fuzz_csv.c - the CSV reader (src/ingest/csv.h) on arbitrary bytes.
 *
 * The input is the whole file. Reads every record, looks a column up and
 * checks the reader's own promises: each row has field_count fields, every
 * field is NUL-terminated at field_bytes, bad_utf8_field agrees with
 * utf8_valid(). A broken promise aborts (a finding).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "ingest/csv.h"
#include "util/status.h"

static void check_row(const struct csv_row *r) {
    int first_bad = -1;
    for (size_t i = 0; i < r->field_count; i++) {
        if (r->fields[i][r->field_bytes[i]] != '\0') abort();
        if (first_bad < 0 && !utf8_valid(r->fields[i], r->field_bytes[i])) first_bad = (int)i;
    }
    if (first_bad != r->bad_utf8_field) abort();
    if (r->line < 1) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[600];
    if (fuzz_write_file("in.csv", data, size, path, sizeof path)) return 0;
    struct csv *c = NULL;
    if (csv_open(path, &c) != ST_OK) {
        if (c) abort(); /* contract: *out is NULL on failure */
        return 0;
    }
    const struct csv_row *h = csv_header(c);
    check_row(h);
    if (h->field_count < 1) abort();
    (void)csv_column(c, "id");
    struct csv_row row;
    int have = 0;
    int64_t last_line = 0;
    for (int guard = 0; guard < 1000000; guard++) {
        int rc = csv_next(c, &row, &have);
        if (!have) break;
        check_row(&row);
        if (rc == ST_OK && row.field_count != h->field_count) abort();
        if (row.line <= last_line) abort(); /* lines only go forward */
        last_line = row.line;
        if (rc == ST_ERR) break;
    }
    csv_close(c);
    return 0;
}
