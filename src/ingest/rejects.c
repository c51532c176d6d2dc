/* rejects.c - skipped rows: in memory, as CSV, in /rejects/<run-id>. */
#include "ingest/rejects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
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

int rejects_init(struct reject_list *l, size_t cache_bytes, const char *dir) {
    l->count = 0;
    return dtable_init(&l->items, "rejects", sizeof(struct reject), cache_bytes, dir);
}

int rejects_add(struct reject_list *l, int64_t line, const char *id, const char *path,
                const char *reason) {
    int rc = ST_OK;
    struct reject r;
    r.line = line;
    rejects_copy_utf8(r.id, sizeof r.id, id);
    rejects_copy_utf8(r.path, sizeof r.path, path);
    rejects_copy_utf8(r.reason, sizeof r.reason, reason);
    TRY(dtable_resize(&l->items, l->count + 1));
    TRY(dtable_set(&l->items, l->count, &r));
    l->count++;
fail:
    return rc;
}

int rejects_get(struct reject_list *l, int64_t i, struct reject *out) {
    return dtable_get(&l->items, i, out);
}

int rejects_merge(struct reject_list *a, struct reject_list *b, struct reject_list *out) {
    int rc = ST_OK;
    struct reject x, y;
    int64_t i = 0, j = 0, last = 0;
    if (a->count) TRY(rejects_get(a, 0, &x));
    if (b->count) TRY(rejects_get(b, 0, &y));
    while (i < a->count || j < b->count) {
        int take_a = j >= b->count || (i < a->count && x.line <= y.line);
        REQUIRE(!out->count || (take_a ? x.line : y.line) >= last, ST_ERR,
                "internal: rejects to merge are not in line order (line %lld after %lld)",
                (long long)(take_a ? x.line : y.line), (long long)last);
        last = take_a ? x.line : y.line;
        TRY(dtable_resize(&out->items, out->count + 1));
        TRY(dtable_set(&out->items, out->count++, take_a ? &x : &y));
        if (take_a) {
            if (++i < a->count) TRY(rejects_get(a, i, &x));
        } else {
            if (++j < b->count) TRY(rejects_get(b, j, &y));
        }
    }
fail:
    return rc;
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

int rejects_write_csv(struct reject_list *l, const char *path) {
    int rc = ST_OK;
    struct afile af = {0};
    TRY(afile_open(&af, path));
    fputs("line,id,path,reason\n", af.f);
    for (int64_t i = 0; i < l->count; i++) {
        struct reject r;
        TRY(rejects_get(l, i, &r));
        fprintf(af.f, "%lld,", (long long)r.line);
        csv_field(af.f, r.id);
        fputc(',', af.f);
        csv_field(af.f, r.path);
        fputc(',', af.f);
        csv_field(af.f, r.reason);
        fputc('\n', af.f);
    }
    TRY(afile_commit(&af));
    return ST_OK;
fail:
    afile_abort(&af);
    return err_wrap(rc, "writing the rejects list %s", path);
}

#define H5_SLAB 1024 /* rejects written per call */

int rejects_write_h5(struct reject_list *l, struct catalog *c, const char *run_id) {
    int rc = ST_OK;
    char grp[160], name[4][200];
    hid_t t_id = -1, t_path = -1, t_reason = -1;
    const int64_t n = l->count;
    int64_t *lines = malloc(H5_SLAB * sizeof *lines);           /* (H5_SLAB) */
    char *ids = malloc((size_t)H5_SLAB * CATALOG_ID_BYTES);      /* (H5_SLAB, 64) */
    char *paths = malloc((size_t)H5_SLAB * CATALOG_PATH_BYTES);  /* (H5_SLAB, 512) */
    char *reasons = malloc((size_t)H5_SLAB * CATALOG_REASON_BYTES); /* (H5_SLAB, 256) */
    TRY_ALLOC(lines);
    TRY_ALLOC(ids);
    TRY_ALLOC(paths);
    TRY_ALLOC(reasons);
    TRY_H5(t_id = catalog_str_type(CATALOG_ID_BYTES));
    TRY_H5(t_path = catalog_str_type(CATALOG_PATH_BYTES));
    TRY_H5(t_reason = catalog_str_type(CATALOG_REASON_BYTES));
    snprintf(grp, sizeof grp, "/rejects/%s", run_id);
    const char *cols[4] = {"line", "id", "path", "reason"};
    const hid_t types[4] = {H5T_NATIVE_INT64, t_id, t_path, t_reason};
    const void *bufs[4] = {lines, ids, paths, reasons};
    hsize_t dims[1] = {(hsize_t)n};
    for (int k = 0; k < 4; k++) {
        snprintf(name[k], sizeof name[k], "%s/%s", grp, cols[k]);
        TRY(catalog_create_dataset(c, name[k], types[k], 1, dims, NULL, 0, 0));
    }
    /* Rank 0 writes every slab; the others take part with empty selections. */
    for (int64_t b = 0; b < n; b += H5_SLAB) {
        int64_t cnt = n - b < H5_SLAB ? n - b : H5_SLAB;
        if (dist_rank() != 0) cnt = 0;
        for (int64_t i = 0; i < cnt; i++) {
            struct reject r;
            TRY(rejects_get(l, b + i, &r));
            lines[i] = r.line;
            memcpy(ids + i * CATALOG_ID_BYTES, r.id, CATALOG_ID_BYTES);
            memcpy(paths + i * CATALOG_PATH_BYTES, r.path, CATALOG_PATH_BYTES);
            memcpy(reasons + i * CATALOG_REASON_BYTES, r.reason, CATALOG_REASON_BYTES);
        }
        for (int k = 0; k < 4; k++) TRY(catalog_write_rows(c, name[k], types[k], b, cnt, bufs[k]));
    }
    TRY(catalog_set_attr_i64(c, grp, "count", n));
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
    dtable_free(&l->items);
    l->count = 0;
}
