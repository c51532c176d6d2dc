/* csv.h - a streaming RFC 4180 CSV reader for product catalogs.
 *
 * Accepts: a header row; fields separated by ','; fields quoted with '"' that
 * may hold commas, doubled quotes ("" -> ") and CR/LF newlines; records ended
 * by LF, CRLF or a lone CR; UTF-8 with or without a byte-order mark (the BOM
 * is dropped); a missing newline after the last record. Blank lines (no
 * characters at all) between records are skipped, as Python's csv module does.
 *
 * Leniency (documented choice): a '"' inside an unquoted field (`5" screen`)
 * is kept literally, and characters after a closing quote (`"ab"c`) are
 * appended literally (-> `abc`). Both are what Python's csv module does; the
 * reader never rejects a row for them.
 *
 * Errors carry "file:line:" with the 1-based physical line where the record
 * starts. Two kinds:
 *   - per row, not fatal: a record whose field count differs from the
 *     header's. csv_next() returns ST_DATA with the row filled in and the
 *     message set; the caller records it and calls csv_next() again.
 *   - fatal: a quoted field still open at end of file. csv_next() returns
 *     ST_DATA; the reader is then at end of file.
 * Invalid UTF-8 is not an error of the reader: each row reports the first
 * field that is not valid UTF-8 (row->bad_utf8_field) so that the caller
 * can decide which columns must be valid.
 */
#ifndef ASSORT_CSV_H
#define ASSORT_CSV_H

#include <stddef.h>
#include <stdint.h>

struct csv; /* opaque reader */

/* One record. Memory belongs to the reader and stays valid until the next
 * csv_next() or csv_close(). */
struct csv_row {
    size_t field_count;
    char **fields;        /* (field_count) NUL-terminated strings */
    size_t *field_bytes;  /* (field_count) lengths in bytes, without the NUL
                             (a field may itself hold a NUL byte) */
    int64_t line;         /* 1-based physical line where the record starts */
    int64_t offset;       /* byte offset of the record's first byte in the file
                             (for csv_seek) */
    int bad_utf8_field;   /* index of the first field that is not valid UTF-8,
                             -1 when all are valid */
};

/* Opens `path` and reads its header row. Needs a readable file whose first
 * record is the header (at least one column). On success *out owns the open
 * file; release it with csv_close(). On failure *out is NULL and the message
 * names the file: ST_ERR (cannot open/read), ST_DATA (empty file, bad header:
 * unterminated quote, invalid UTF-8 or an empty column name). */
int csv_open(const char *path, struct csv **out);

/* The header row (line 1, or the first non-blank line). Owned by the reader
 * and valid until csv_close(). */
const struct csv_row *csv_header(const struct csv *c);

/* Index of the header column named `name` (exact, byte-wise), -1 if absent. */
int csv_column(const struct csv *c, const char *name);

/* Reads the next record into *row.
 * Returns ST_OK with *have_row = 1 and *row filled in, or ST_OK with
 * *have_row = 0 at end of file; ST_DATA with *have_row = 1 when the record's
 * field count differs from the header's (row filled in, message
 * "file:line: N fields, expected M ..."; go on reading); ST_DATA with
 * *have_row = 0 for an unterminated quote at end of file; ST_ERR on a read
 * error. */
int csv_next(struct csv *c, struct csv_row *row, int *have_row);

/* Positions the reader at a record start seen before: `offset` and `line`
 * are a row's csv_row.offset and .line; the next csv_next() reads that record
 * again. Lets a caller keep 16 bytes per row instead of its fields. ST_ERR
 * when the file cannot seek. */
int csv_seek(struct csv *c, int64_t offset, int64_t line);

/* Closes the file and frees everything, rows included. NULL is fine. */
void csv_close(struct csv *c);

/* 1 when s[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), else 0. */
int utf8_valid(const char *s, size_t n);

#endif
