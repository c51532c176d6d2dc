/* rel_tool.c - one-shot operations for the reliability script tests
 * (tests/sh/rel_*.sh); not a test itself.
 *
 *   rel_tool open-catalog PATH        catalog_open + catalog_count
 *   rel_tool open-weights PATH        effnet_load
 *   rel_tool write-atomic PATH BYTES  fs_write_atomic of BYTES bytes ('a'..'z')
 *   rel_tool catalog-write PATH ROWS  a catalog transaction (create when PATH
 *                                     is missing, else update): writes a
 *                                     dataset /rel/data of ROWS x 1024 int32
 *                                     and commits
 *   rel_tool catalog-add PATH NAME HOLD_S
 *                                     a transaction (create when PATH is
 *                                     missing) that adds /rel/NAME (4 int32:
 *                                     the pid, the rank count, the base
 *                                     generation, 7), then sleeps HOLD_S s
 *                                     before the commit (a second writer
 *                                     meets the writer lock, lock.h);
 *                                     SIGTERM/SIGUSR1 stop the wait for it
 * Prints "ok" on success, else the error message on stderr; exits with the
 * status code (0 ok, 1 error, 3 bad data), as `assort` does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "dist/dist.h"
#include "nn/effnet.h"
#include "util/check.h"
#include "util/fsutil.h"
#include "util/signals.h"
#include "util/status.h"

/* Discards an open transaction after a failure, keeping its message. */
static int abort_txn(struct catalog_txn *txn, int rc) {
    if (txn->cat) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", err_msg());
        catalog_abort(txn, 1);
        err_set(rc, "%s", msg);
    }
    return rc;
}

static int catalog_write(const char *path, long long rows) {
    int rc = ST_OK;
    struct catalog_txn txn;
    int32_t *buf = NULL; /* (rows, 1024) */
    memset(&txn, 0, sizeof txn);
    TRY(catalog_begin(path, "rel", !fs_exists(path), &txn));
    TRY_ALLOC(buf = malloc((size_t)rows * 1024 * sizeof *buf));
    for (long long i = 0; i < rows * 1024; i++) buf[i] = (int32_t)(i * 2654435761u);
    hsize_t dims[2] = {(hsize_t)rows, 1024};
    if (catalog_exists(txn.cat, "/rel/data")) TRY(catalog_delete(txn.cat, "/rel/data"));
    TRY(catalog_create_dataset(txn.cat, "/rel/data", H5T_STD_I32LE, 2, dims, NULL, 0, 0));
    TRY(catalog_write_rows(txn.cat, "/rel/data", H5T_NATIVE_INT32, 0, rows, buf));
    TRY(catalog_commit(&txn));
    free(buf);
    return ST_OK;
fail:
    free(buf);
    return abort_txn(&txn, rc);
}

static int catalog_add(const char *path, const char *name, double hold_s) {
    int rc = ST_OK;
    struct catalog_txn txn;
    char ds[256];
    memset(&txn, 0, sizeof txn);
    signals_install();
    TRY(catalog_begin(path, "rel", !fs_exists(path), &txn));
    int64_t gen = 0;
    (void)catalog_get_attr_i64(txn.cat, "/", "generation", &gen);
    int32_t v[4] = {(int32_t)getpid(), dist_size(), (int32_t)gen, 7};
    hsize_t dims[1] = {4};
    snprintf(ds, sizeof ds, "/rel/%s", name);
    TRY(catalog_write_small(txn.cat, ds, H5T_STD_I32LE, 1, dims, v));
    if (hold_s > 0) {
        struct timespec ts = {(time_t)hold_s, (long)((hold_s - (double)(time_t)hold_s) * 1e9)};
        nanosleep(&ts, NULL);
    }
    TRY(catalog_commit(&txn));
    return ST_OK;
fail:
    return abort_txn(&txn, rc);
}

int main(int argc, char **argv) {
    if (dist_init(&argc, &argv) != ST_OK) return 1;
    int rc = ST_USAGE;
    if (argc == 3 && !strcmp(argv[1], "open-catalog")) {
        struct catalog *c = NULL;
        rc = catalog_open(argv[2], 0, &c);
        if (rc == ST_OK) {
            printf("rows %lld\n", (long long)catalog_count(c));
            rc = catalog_close(c);
        }
    } else if (argc == 3 && !strcmp(argv[1], "open-weights")) {
        struct effnet *net = NULL;
        rc = effnet_load(argv[2], &net);
        effnet_free(net);
    } else if (argc == 4 && !strcmp(argv[1], "write-atomic")) {
        size_t n = (size_t)strtoull(argv[3], NULL, 10);
        char *data = malloc(n ? n : 1);
        if (!data) return 1;
        for (size_t i = 0; i < n; i++) data[i] = (char)('a' + i % 26);
        rc = fs_write_atomic(argv[2], data, n);
        free(data);
    } else if (argc == 4 && !strcmp(argv[1], "catalog-write")) {
        rc = catalog_write(argv[2], strtoll(argv[3], NULL, 10));
    } else if (argc == 5 && !strcmp(argv[1], "catalog-add")) {
        rc = catalog_add(argv[2], argv[3], strtod(argv[4], NULL));
    } else {
        fprintf(stderr, "usage: rel_tool open-catalog|open-weights PATH | write-atomic PATH BYTES | "
                        "catalog-write PATH ROWS | catalog-add PATH NAME HOLD_S\n");
    }
    if (rc == ST_OK) printf("ok\n");
    else if (rc != ST_USAGE || argc >= 3) fprintf(stderr, "%s\n", err_msg());
    dist_finalize();
    return rc;
}
