/* csv.c - streaming RFC 4180 reader (see csv.h for the accepted dialect). */
#include "ingest/csv.h"

#include "util/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSV_CHUNK_BYTES (1 << 16)

struct csv {
    FILE *f;
    char *path;
    unsigned char buf[CSV_CHUNK_BYTES]; /* read-ahead window */
    size_t buf_len, buf_pos;
    int64_t buf_base;    /* file offset of buf[0] */
    int64_t rec_offset;  /* file offset of the current record's first byte */
    int eof;             /* no more bytes in the file */
    int64_t line;        /* current physical line (1-based) */

    char *rec;           /* field bytes of the current record, each NUL-ended */
    size_t rec_len, rec_cap;
    size_t *starts;      /* (field_cap) offsets of fields in rec */
    size_t field_cap;
    char **fields;       /* (field_cap) pointers handed out in csv_row */
    size_t *lens;        /* (field_cap) */

    struct csv_row header;
    char *header_rec;    /* the header's own copy of its bytes */
};

/* Next byte, or -1 at end of file (-2 on a read error). */
static int csv_getc(struct csv *c) {
    if (c->buf_pos == c->buf_len) {
        if (c->eof) return -1;
        c->buf_base += (int64_t)c->buf_len;
        c->buf_len = fread(c->buf, 1, sizeof c->buf, c->f);
        c->buf_pos = 0;
        if (c->buf_len < sizeof c->buf) {
            if (ferror(c->f)) return -2;
            c->eof = 1;
        }
        if (c->buf_len == 0) return -1;
    }
    return c->buf[c->buf_pos++];
}

/* Looks at the next byte without taking it. */
static int csv_peek(struct csv *c) {
    int ch = csv_getc(c);
    if (ch >= 0) c->buf_pos--;
    return ch;
}

static int rec_push(struct csv *c, char ch) {
    if (c->rec_len == c->rec_cap) {
        size_t cap = c->rec_cap ? c->rec_cap * 2 : 4096;
        char *p = realloc(c->rec, cap);
        if (!p) return err_set(ST_ERR, "%s: out of memory reading a record", c->path);
        c->rec = p;
        c->rec_cap = cap;
    }
    c->rec[c->rec_len++] = ch;
    return ST_OK;
}

/* Ends the current field (NUL) and starts a new one at field index n. */
static int field_start(struct csv *c, size_t n) {
    if (n == c->field_cap) {
        size_t cap = c->field_cap ? c->field_cap * 2 : 16;
        size_t *s = realloc(c->starts, cap * sizeof *s);
        if (!s) return err_set(ST_ERR, "%s: out of memory", c->path);
        c->starts = s;
        char **fp = realloc(c->fields, cap * sizeof *fp);
        if (!fp) return err_set(ST_ERR, "%s: out of memory", c->path);
        c->fields = fp;
        size_t *l = realloc(c->lens, cap * sizeof *l);
        if (!l) return err_set(ST_ERR, "%s: out of memory", c->path);
        c->lens = l;
        c->field_cap = cap;
    }
    c->starts[n] = c->rec_len;
    return ST_OK;
}

/* Reads one record into c->rec / c->starts. *nfields = 0 at end of file.
 * *start_line gets the physical line where the record began. Returns
 * ST_DATA for an unterminated quote (fatal), ST_ERR on read errors. */
static int read_record(struct csv *c, size_t *nfields, int64_t *start_line) {
    int rc = ST_OK;
    size_t n = 0;
    int ch;
    *nfields = 0;
    c->rec_len = 0;

    /* Skip blank lines (nothing between two line ends). */
    for (;;) {
        ch = csv_getc(c);
        if (ch == '\n') { c->line++; continue; }
        if (ch == '\r') {
            if (csv_peek(c) == '\n') csv_getc(c);
            c->line++;
            continue;
        }
        break;
    }
    if (ch == -2) FAIL(ST_ERR, "%s:%lld: read error: %s", c->path, (long long)c->line, strerror(errno));
    if (ch == -1) return ST_OK;
    *start_line = c->line;
    c->rec_offset = c->buf_base + (int64_t)c->buf_pos - 1;

    TRY(field_start(c, n));
    for (;;) {
        /* At the start of a field: ch is its first byte (or the terminator). */
        if (ch == '"') {
            int64_t quote_line = c->line;
            for (;;) {
                ch = csv_getc(c);
                if (ch == -2) FAIL(ST_ERR, "%s:%lld: read error: %s", c->path, (long long)c->line, strerror(errno));
                if (ch == -1)
                    FAIL(ST_DATA, "%s:%lld: unterminated quoted field (opened on line %lld, still open at end "
                         "of file); close the quote or double any '\"' inside the field",
                         c->path, (long long)*start_line, (long long)quote_line);
                if (ch == '"') {
                    if (csv_peek(c) == '"') {
                        csv_getc(c);
                        TRY(rec_push(c, '"'));
                        continue;
                    }
                    break; /* closing quote */
                }
                if (ch == '\n') c->line++;
                else if (ch == '\r' && csv_peek(c) != '\n') c->line++;
                TRY(rec_push(c, (char)ch));
            }
            ch = csv_getc(c);
        }
        /* Unquoted part (or what follows a closing quote: kept literally). */
        while (ch >= 0 && ch != ',' && ch != '\n' && ch != '\r') {
            TRY(rec_push(c, (char)ch));
            ch = csv_getc(c);
        }
        if (ch == -2) FAIL(ST_ERR, "%s:%lld: read error: %s", c->path, (long long)c->line, strerror(errno));
        TRY(rec_push(c, '\0'));
        n++;
        if (ch == ',') {
            TRY(field_start(c, n));
            ch = csv_getc(c);
            continue;
        }
        if (ch == '\r') {
            if (csv_peek(c) == '\n') csv_getc(c);
        }
        if (ch == '\r' || ch == '\n') c->line++;
        break; /* end of record (or of file) */
    }
    *nfields = n;
fail:
    return rc;
}

static void fill_row(struct csv *c, size_t n, int64_t line, struct csv_row *row) {
    for (size_t i = 0; i < n; i++) {
        c->fields[i] = c->rec + c->starts[i];
        size_t end = (i + 1 < n) ? c->starts[i + 1] : c->rec_len;
        c->lens[i] = end - c->starts[i] - 1;
    }
    row->field_count = n;
    row->fields = c->fields;
    row->field_bytes = c->lens;
    row->line = line;
    row->offset = c->rec_offset;
    row->bad_utf8_field = -1;
    for (size_t i = 0; i < n; i++) {
        if (!utf8_valid(c->fields[i], c->lens[i])) {
            row->bad_utf8_field = (int)i;
            break;
        }
    }
}

int csv_open(const char *path, struct csv **out) {
    int rc = ST_OK;
    struct csv *c = NULL;
    *out = NULL;
    TRY_ALLOC(c = calloc(1, sizeof *c));
    TRY_ALLOC(c->path = strdup(path));
    c->line = 1;
    c->f = fopen(path, "rb");
    if (!c->f) FAIL(ST_ERR, "%s: cannot open: %s", path, strerror(errno));

    /* Byte-order mark. */
    if (csv_peek(c) == 0xEF) {
        if (c->buf_len >= 3 && c->buf[1] == 0xBB && c->buf[2] == 0xBF) c->buf_pos = 3;
    }
    size_t n;
    int64_t line = 0;
    TRY(read_record(c, &n, &line));
    REQUIRE(n > 0, ST_DATA, "%s: empty file: no header row; the first line must name the columns", path);
    fill_row(c, n, line, &c->header);
    REQUIRE(c->header.bad_utf8_field < 0, ST_DATA, "%s:%lld: column %d of the header is not valid UTF-8",
            path, (long long)line, c->header.bad_utf8_field + 1);
    /* The header keeps its own copy: the record buffers are reused. */
    TRY_ALLOC(c->header_rec = malloc(c->rec_len));
    memcpy(c->header_rec, c->rec, c->rec_len);
    TRY_ALLOC(c->header.fields = malloc(n * sizeof(char *)));
    TRY_ALLOC(c->header.field_bytes = malloc(n * sizeof(size_t)));
    for (size_t i = 0; i < n; i++) {
        c->header.fields[i] = c->header_rec + c->starts[i];
        c->header.field_bytes[i] = c->lens[i];
        REQUIRE(c->lens[i] > 0, ST_DATA, "%s:%lld: header column %zu has an empty name; name every column",
                path, (long long)line, i + 1);
    }
    *out = c;
    return ST_OK;
fail:
    csv_close(c);
    return rc;
}

const struct csv_row *csv_header(const struct csv *c) { return &c->header; }

int csv_column(const struct csv *c, const char *name) {
    for (size_t i = 0; i < c->header.field_count; i++)
        if (strcmp(c->header.fields[i], name) == 0) return (int)i;
    return -1;
}

int csv_next(struct csv *c, struct csv_row *row, int *have_row) {
    size_t n;
    int64_t line = 0;
    *have_row = 0;
    memset(row, 0, sizeof *row);
    row->bad_utf8_field = -1;
    int rc = read_record(c, &n, &line);
    if (rc != ST_OK) {
        if (rc == ST_DATA) c->eof = 1, c->buf_pos = c->buf_len = 0;
        return rc;
    }
    if (n == 0) return ST_OK;
    fill_row(c, n, line, row);
    *have_row = 1;
    if (n != c->header.field_count)
        return err_set(ST_DATA, "%s:%lld: %zu fields, expected %zu as in the header; quote fields that "
                       "contain commas (the row was not used)",
                       c->path, (long long)line, n, c->header.field_count);
    return ST_OK;
}

int csv_seek(struct csv *c, int64_t offset, int64_t line) {
    /* Inside the read-ahead window (the common case: rows fetched in file
     * order): move within it, no system call, no re-read of 64 KiB. */
    if (offset >= c->buf_base && offset < c->buf_base + (int64_t)c->buf_len) {
        c->buf_pos = (size_t)(offset - c->buf_base);
        c->line = line;
        return ST_OK;
    }
    if (offset < 0 || fseeko(c->f, (off_t)offset, SEEK_SET) != 0)
        return err_set(ST_ERR, "%s: cannot seek to byte %lld: %s", c->path, (long long)offset,
                       strerror(errno));
    c->buf_base = offset;
    c->buf_len = c->buf_pos = 0;
    c->eof = 0;
    c->line = line;
    return ST_OK;
}

void csv_close(struct csv *c) {
    if (!c) return;
    if (c->f) fclose(c->f);
    free(c->path);
    free(c->rec);
    free(c->starts);
    free(c->fields);
    free(c->lens);
    if (c->header_rec) {
        free(c->header.fields);
        free(c->header.field_bytes);
    }
    free(c->header_rec);
    free(c);
}

int utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned char b = *p;
        if (b < 0x80) { p++; continue; }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (b >= 0xC2 && b <= 0xDF) need = 1;
        else if (b == 0xE0) need = 2, lo = 0xA0;          /* no overlong */
        else if (b >= 0xE1 && b <= 0xEC) need = 2;
        else if (b == 0xED) need = 2, hi = 0x9F;          /* no surrogates */
        else if (b >= 0xEE && b <= 0xEF) need = 2;
        else if (b == 0xF0) need = 3, lo = 0x90;          /* no overlong */
        else if (b >= 0xF1 && b <= 0xF3) need = 3;
        else if (b == 0xF4) need = 3, hi = 0x8F;          /* <= U+10FFFF */
        else return 0;
        if ((size_t)(end - p) < need + 1) return 0;
        if (p[1] < lo || p[1] > hi) return 0;
        for (size_t i = 2; i <= need; i++)
            if (p[i] < 0x80 || p[i] > 0xBF) return 0;
        p += need + 1;
    }
    return 1;
}
