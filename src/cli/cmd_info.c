/* cmd_info.c - `assort info CATALOG.h5`: what a catalog holds, with sizes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "cli/cli.h"
#include "commands.h"
#include "dist/dist.h"
#include "util/check.h"
#include "util/fault.h"
#include "util/fsutil.h"

/* Allocated bytes of a dataset (0 when missing). */
static unsigned long long storage_bytes(struct catalog *c, const char *name) {
    if (!catalog_exists(c, name)) return 0;
    hid_t d = H5Dopen2(catalog_file(c), name, H5P_DEFAULT);
    if (d < 0) return 0;
    unsigned long long n = (unsigned long long)H5Dget_storage_size(d);
    H5Dclose(d);
    return n;
}

static void human(unsigned long long b, char *out, size_t n) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int i = 0;
    while (v >= 1024 && i < 4) { v /= 1024; i++; }
    snprintf(out, n, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static void dims_str(struct catalog *c, const char *name, char *out, size_t n) {
    int nd = 0;
    hsize_t d[8];
    out[0] = '\0';
    if (catalog_dims(c, name, &nd, d) != ST_OK) { snprintf(out, n, "?"); return; }
    size_t used = 0;
    for (int i = 0; i < nd && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s%llu", i ? " x " : "", (unsigned long long)d[i]);
}

static int print_products(struct catalog *c, int64_t n) {
    int rc = ST_OK;
    uint8_t *status = NULL, *dirty = NULL;
    int64_t active = 0, removed = 0, ndirty = 0;
    if (n > 0 && catalog_exists(c, "/products/status")) {
        TRY(catalog_read_all(c, "/products/status", H5T_NATIVE_UINT8, (void **)&status, NULL));
        for (int64_t i = 0; i < n; i++) status[i] == PRODUCT_REMOVED ? removed++ : active++;
    } else {
        active = n;
    }
    if (n > 0 && catalog_exists(c, "/products/dirty")) {
        TRY(catalog_read_all(c, "/products/dirty", H5T_NATIVE_UINT8, (void **)&dirty, NULL));
        for (int64_t i = 0; i < n; i++) ndirty += dirty[i] != 0;
    }
    if (dist_rank() == 0)
        printf("products:        %lld (%lld active, %lld removed, %lld new or changed since the last "
               "extraction)\n", (long long)n, (long long)active, (long long)removed, (long long)ndirty);
fail:
    free(status);
    free(dirty);
    return rc;
}

static int print_categories(struct catalog *c, int64_t n) {
    int rc = ST_OK;
    char *levels = NULL;
    int32_t *labels = NULL;
    int64_t nlev = 0;
    hid_t st = -1;
    if (!catalog_exists(c, "/categories/levels")) {
        if (dist_rank() == 0) printf("categories:      none\n");
        return ST_OK;
    }
    TRY_H5(st = catalog_str_type(CATALOG_CLASS_BYTES));
    TRY(catalog_read_all(c, "/categories/levels", st, (void **)&levels, &nlev));
    if (n > 0 && catalog_exists(c, "/products/labels"))
        TRY(catalog_read_all(c, "/products/labels", H5T_NATIVE_INT32, (void **)&labels, NULL));
    if (dist_rank() == 0) printf("categories:      %lld level(s)\n", (long long)nlev);
    for (int64_t l = 0; l < nlev; l++) {
        char lev[CATALOG_CLASS_BYTES + 1], path[256];
        memcpy(lev, levels + l * CATALOG_CLASS_BYTES, CATALOG_CLASS_BYTES);
        lev[CATALOG_CLASS_BYTES] = '\0';
        snprintf(path, sizeof path, "/categories/%s", lev);
        int nd = 0;
        hsize_t d[8] = {0};
        if (catalog_exists(c, path)) TRY(catalog_dims(c, path, &nd, d));
        int64_t labelled = 0;
        for (int64_t i = 0; labels && i < n; i++) labelled += labels[i * nlev + l] >= 0;
        if (dist_rank() == 0)
            printf("  %-22s %6llu classes, %lld labelled, %lld unlabelled\n", lev,
                   (unsigned long long)d[0], (long long)labelled, (long long)(n - labelled));
    }
fail:
    if (st >= 0) H5Tclose(st);
    free(levels);
    free(labels);
    return rc;
}

/* Lists the members of a group with one detail each. */
static int print_group(struct catalog *c, const char *group, const char *title) {
    int rc = ST_OK;
    char **names = NULL;
    int count = 0;
    TRY(catalog_list(c, group, &names, &count));
    if (dist_rank() == 0) printf("%-16s %d\n", title, count);
    for (int i = 0; i < count; i++) {
        char path[512], extra[256] = "";
        snprintf(path, sizeof path, "%s/%s", group, names[i]);
        int complete = catalog_is_complete(c, path);
        if (!strcmp(group, "/features")) {
            char data[600], dims[128], size[32];
            snprintf(data, sizeof data, "%s/data", path);
            dims_str(c, data, dims, sizeof dims);
            human(storage_bytes(c, data), size, sizeof size);
            snprintf(extra, sizeof extra, "%s, %s", dims, size);
        } else if (!strcmp(group, "/runs")) {
            char *cmd = NULL, *started = NULL;
            catalog_get_attr_str(c, path, "command", &cmd);
            catalog_get_attr_str(c, path, "started", &started);
            snprintf(extra, sizeof extra, "%s, %s", cmd ? cmd : "?", started ? started : "?");
            free(cmd);
            free(started);
        }
        if (dist_rank() == 0)
            printf("  %-40s %s%s%s\n", names[i], complete ? "complete" : "INCOMPLETE (ignored)",
                   extra[0] ? ", " : "", extra);
    }
fail:
    catalog_list_free(names, count);
    return rc;
}

int cmd_info(int argc, char **argv) {
    static const struct cli_cmd self = {
        "info", "CATALOG.h5", "print a catalog's summary: schema, products, categories, contents",
        "Prints the schema version and generation, product counts, category levels with\n"
        "class counts, and which images, features, heads, runs, predictions and\n"
        "similarity results the file holds, with their sizes.",
        NULL};
    static const struct cli_opt opts[] = {CLI_OPT_END};
    struct cli_ctx ctx;
    struct catalog *c = NULL;
    int rc = cli_parse(&ctx, &self, opts, argc, argv, 1, 1);
    if (rc != ST_OK) goto fail;
    TRY(dist_agree(catalog_open(ctx.pos[0], 0, &c)));
    int64_t gen = 0, ver = 0, n = catalog_count(c);
    char *created = NULL;
    catalog_get_attr_i64(c, "/", "generation", &gen);
    catalog_get_attr_i64(c, "/", "schema_version", &ver);
    catalog_get_attr_str(c, "/", "created", &created);
    if (dist_rank() == 0) {
        char size[32];
        human((unsigned long long)fs_size(ctx.pos[0]), size, sizeof size);
        printf("catalog:         %s (%s)\nschema version:  %lld\ngeneration:      %lld\ncreated:         %s\n",
               ctx.pos[0], size, (long long)ver, (long long)gen, created ? created : "?");
    }
    free(created);
    TRY(fault_point("info"));
    TRY(print_products(c, n));
    TRY(print_categories(c, n));
    if (dist_rank() == 0) {
        if (catalog_exists(c, "/images/pixels")) {
            char dims[128], size[32];
            dims_str(c, "/images/pixels", dims, sizeof dims);
            human(storage_bytes(c, "/images/pixels"), size, sizeof size);
            printf("images:          %s uint8, %s\n", dims, size);
        } else {
            printf("images:          none\n");
        }
    }
    TRY(print_group(c, "/features", "features:"));
    TRY(print_group(c, "/heads", "heads:"));
    TRY(print_group(c, "/runs", "runs:"));
    TRY(print_group(c, "/predictions", "predictions:"));
    TRY(print_group(c, "/similarity", "similarity:"));
    TRY(print_group(c, "/rejects", "rejects:"));
fail:
    cli_fail_fast(&self, rc);
    if (c) catalog_close(c);
    cli_ctx_free(&ctx);
    return rc;
}
