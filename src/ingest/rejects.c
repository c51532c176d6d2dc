/* rejects.c - skipped rows: in memory, as CSV, in /rejects/<run-id>. */
#include "ingest/rejects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/check.h"
#include "util/fsutil.h"

void rejects_copy_utf8(char *dst, size_t dst_bytes, const char *src) {
    if (!dst_bytes) return;
    size_t n = src ? strlen(src) : 0;
    if (n >= dst_bytes) {
        n = dst_bytes - 1;
        /* Step back over continuation bytes so no character is cut in half. */
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--;
    }
    if (n) memcpy(dst, src, n);
    memset(dst + n, 0, dst_bytes - n);
}

int rejects_add(struct reject_list *l, int64_t line, const char *id, const char *path,
                const char *reason) {
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct reject *p = realloc(l->items, cap * sizeof *p);
        if (!p) return err_set(ST_ERR, "out of memory recording rejected rows");
        l->items = p;
        l->cap = cap;
    }
    struct reject *r = &l->items[l->count++];
    r->line = line;
    rejects_copy_utf8(r->id, sizeof r->id, id);
    rejects_copy_utf8(r->path, sizeof r->path, path);
    rejects_copy_utf8(r->reason, sizeof r->reason, reason);
    return ST_OK;
}

static int by_line(const void *a, const void *b) {
    const struct reject *x = a, *y = b;
    return (x->line > y->line) - (x->line < y->line);
}

void rejects_sort(struct reject_list *l) {
    if (l->count > 1) qsort(l->items, l->count, sizeof *l->items, by_line);
}

/* One CSV field, quoted when it holds a comma, quote, CR or LF. */
static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int rejects_write_csv(const struct reject_list *l, const char *path) {
    int rc = ST_OK;
    struct afile af = {0};
    TRY(afile_open(&af, path));
    fputs("line,id,path,reason\n", af.f);
    for (size_t i = 0; i < l->count; i++) {
        const struct reject *r = &l->items[i];
        fprintf(af.f, "%lld,", (long long)r->line);
        csv_field(af.f, r->id);
        fputc(',', af.f);
        csv_field(af.f, r->path);
        fputc(',', af.f);
        csv_field(af.f, r->reason);
        fputc('\n', af.f);
    }
    TRY(afile_commit(&af));
    return ST_OK;
fail:
    afile_abort(&af);
    return err_wrap(rc, "writing the rejects list %s", path);
}

int rejects_write_h5(const struct reject_list *l, struct catalog *c, const char *run_id) {
    int rc = ST_OK;
    char grp[160], name[200];
    hid_t t_id = -1, t_path = -1, t_reason = -1;
    size_t n = l->count;
    int64_t *lines = malloc((n ? n : 1) * sizeof *lines);
    char *ids = malloc((n ? n : 1) * CATALOG_ID_BYTES);
    char *paths = malloc((n ? n : 1) * CATALOG_PATH_BYTES);
    char *reasons = malloc((n ? n : 1) * CATALOG_REASON_BYTES);
    TRY_ALLOC(lines);
    TRY_ALLOC(ids);
    TRY_ALLOC(paths);
    TRY_ALLOC(reasons);
    for (size_t i = 0; i < n; i++) {
        lines[i] = l->items[i].line;
        memcpy(ids + i * CATALOG_ID_BYTES, l->items[i].id, CATALOG_ID_BYTES);
        memcpy(paths + i * CATALOG_PATH_BYTES, l->items[i].path, CATALOG_PATH_BYTES);
        memcpy(reasons + i * CATALOG_REASON_BYTES, l->items[i].reason, CATALOG_REASON_BYTES);
    }
    TRY_H5(t_id = catalog_str_type(CATALOG_ID_BYTES));
    TRY_H5(t_path = catalog_str_type(CATALOG_PATH_BYTES));
    TRY_H5(t_reason = catalog_str_type(CATALOG_REASON_BYTES));
    snprintf(grp, sizeof grp, "/rejects/%s", run_id);
    hsize_t dims[1] = {(hsize_t)n};
    snprintf(name, sizeof name, "%s/line", grp);
    TRY(catalog_write_small(c, name, H5T_NATIVE_INT64, 1, dims, lines));
    snprintf(name, sizeof name, "%s/id", grp);
    TRY(catalog_write_small(c, name, t_id, 1, dims, ids));
    snprintf(name, sizeof name, "%s/path", grp);
    TRY(catalog_write_small(c, name, t_path, 1, dims, paths));
    snprintf(name, sizeof name, "%s/reason", grp);
    TRY(catalog_write_small(c, name, t_reason, 1, dims, reasons));
    TRY(catalog_set_attr_i64(c, grp, "count", (int64_t)n));
    TRY(catalog_mark_complete(c, grp));
fail:
    if (t_id >= 0) H5Tclose(t_id);
    if (t_path >= 0) H5Tclose(t_path);
    if (t_reason >= 0) H5Tclose(t_reason);
    free(lines);
    free(ids);
    free(paths);
    free(reasons);
    return rc;
}

void rejects_free(struct reject_list *l) {
    free(l->items);
    memset(l, 0, sizeof *l);
}
