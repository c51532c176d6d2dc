#include "checkpoint.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "util/check.h"
#include "util/fsutil.h"

static int write_ds(hid_t g, const char *name, hid_t type, const void *data, hsize_t n) {
    int rc = ST_OK;
    hid_t s = -1, d = -1;
    TRY_H5(s = H5Screate_simple(1, &n, NULL));
    TRY_H5(d = H5Dcreate2(g, name, type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    TRY_H5(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
fail:
    if (d >= 0) H5Dclose(d);
    if (s >= 0) H5Sclose(s);
    return rc;
}

static int read_ds(hid_t g, const char *name, hid_t type, void *data, hsize_t n) {
    int rc = ST_OK;
    hid_t d = -1, s = -1;
    hsize_t got = 0;
    TRY_H5(d = H5Dopen2(g, name, H5P_DEFAULT));
    TRY_H5(s = H5Dget_space(d));
    TRY_H5(H5Sget_simple_extent_dims(s, &got, NULL));
    REQUIRE(got == n, ST_USAGE, "checkpoint dataset %s has %llu values, expected %llu", name,
            (unsigned long long)got, (unsigned long long)n);
    TRY_H5(H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
fail:
    if (s >= 0) H5Sclose(s);
    if (d >= 0) H5Dclose(d);
    return rc;
}

static int attr_put(hid_t g, const char *name, hid_t type, const void *v) {
    int rc = ST_OK;
    hid_t s = -1, a = -1;
    TRY_H5(s = H5Screate(H5S_SCALAR));
    TRY_H5(a = H5Acreate2(g, name, type, s, H5P_DEFAULT, H5P_DEFAULT));
    TRY_H5(H5Awrite(a, type, v));
fail:
    if (a >= 0) H5Aclose(a);
    if (s >= 0) H5Sclose(s);
    return rc;
}

static int attr_get(hid_t g, const char *name, hid_t type, void *v) {
    int rc = ST_OK;
    hid_t a = -1;
    TRY_H5(a = H5Aopen(g, name, H5P_DEFAULT));
    TRY_H5(H5Aread(a, type, v));
fail:
    if (a >= 0) H5Aclose(a);
    return rc;
}

static int save_local(const char *path, const char *head, const char *key,
                      const struct train_state *st, size_t count, int epochs) {
    int rc = ST_OK;
    hid_t f = -1, g = -1, ks = -1;
    char tmp[FS_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (fs_exists(path)) {
        TRY(fs_copy_file(path, tmp));
        TRY_H5(f = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT));
    } else {
        TRY_H5(f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    }
    if (H5Lexists(f, head, H5P_DEFAULT) > 0) TRY_H5(H5Ldelete(f, head, H5P_DEFAULT));
    TRY_H5(g = H5Gcreate2(f, head, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    TRY(write_ds(g, "params", H5T_NATIVE_FLOAT, st->params, count));
    TRY(write_ds(g, "best", H5T_NATIVE_FLOAT, st->best, count));
    TRY(write_ds(g, "opt_m", H5T_NATIVE_FLOAT, st->opt.m, count));
    if (st->opt.v) TRY(write_ds(g, "opt_v", H5T_NATIVE_FLOAT, st->opt.v, count));
    TRY(write_ds(g, "curves", H5T_NATIVE_DOUBLE, st->curves, (hsize_t)epochs * CURVE_COLS));
    int64_t i64[5] = {st->epochs_done, st->opt.step, st->best_epoch, st->since_best, st->stopped_early};
    TRY(write_ds(g, "counters", H5T_NATIVE_INT64, i64, 5));
    TRY(attr_put(g, "best_score", H5T_NATIVE_DOUBLE, &st->best_score));
    TRY_H5(ks = H5Tcopy(H5T_C_S1));
    TRY_H5(H5Tset_size(ks, strlen(key) + 1));
    TRY(attr_put(g, "key", ks, key));
    H5Gclose(g), g = -1;
    TRY_H5(H5Fclose(f));
    f = -1;
    TRY(fs_rename(tmp, path));
fail:
    if (ks >= 0) H5Tclose(ks);
    if (g >= 0) H5Gclose(g);
    if (f >= 0) H5Fclose(f);
    if (rc != ST_OK) {
        remove(tmp);
        err_wrap(rc, "writing checkpoint %s", path);
    }
    return rc;
}

int ckpt_save(const char *path, const char *head, const char *key, const struct train_state *st,
              size_t count, int epochs) {
    int rc = dist_rank() == 0 ? save_local(path, head, key, st, count, epochs) : ST_OK;
    return dist_agree(rc);
}

static int load_local(const char *path, const char *head, const char *key, struct train_state *st,
                      size_t count, int epochs) {
    int rc = ST_OK;
    hid_t f = -1, g = -1, kt = -1;
    char *stored = NULL;
    REQUIRE(fs_exists(path), ST_USAGE, "--resume: no checkpoint %s; run without --resume", path);
    TRY_H5(f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT));
    REQUIRE(H5Lexists(f, head, H5P_DEFAULT) > 0, ST_USAGE,
            "--resume: checkpoint %s has no state for head %s", path, head);
    TRY_H5(g = H5Gopen2(f, head, H5P_DEFAULT));
    {
        hid_t a = -1;
        TRY_H5(a = H5Aopen(g, "key", H5P_DEFAULT));
        kt = H5Aget_type(a);
        size_t n = kt >= 0 ? H5Tget_size(kt) : 0;
        stored = calloc(n + 1, 1);
        herr_t e = stored && kt >= 0 ? H5Aread(a, kt, stored) : -1;
        H5Aclose(a);
        TRY_H5(e);
    }
    REQUIRE(!strcmp(stored, key), ST_USAGE,
            "--resume: checkpoint %s for %s was made by a different experiment (%s, now %s); "
            "run without --resume or restore its config", path, head, stored, key);
    TRY(read_ds(g, "params", H5T_NATIVE_FLOAT, st->params, count));
    TRY(read_ds(g, "best", H5T_NATIVE_FLOAT, st->best, count));
    TRY(read_ds(g, "opt_m", H5T_NATIVE_FLOAT, st->opt.m, count));
    if (st->opt.v) TRY(read_ds(g, "opt_v", H5T_NATIVE_FLOAT, st->opt.v, count));
    TRY(read_ds(g, "curves", H5T_NATIVE_DOUBLE, st->curves, (hsize_t)epochs * CURVE_COLS));
    int64_t i64[5];
    TRY(read_ds(g, "counters", H5T_NATIVE_INT64, i64, 5));
    st->epochs_done = i64[0], st->opt.step = i64[1], st->best_epoch = i64[2];
    st->since_best = i64[3], st->stopped_early = (int)i64[4];
    TRY(attr_get(g, "best_score", H5T_NATIVE_DOUBLE, &st->best_score));
fail:
    free(stored);
    if (kt >= 0) H5Tclose(kt);
    if (g >= 0) H5Gclose(g);
    if (f >= 0) H5Fclose(f);
    return rc;
}

int ckpt_load(const char *path, const char *head, const char *key, struct train_state *st,
              size_t count, int epochs) {
    return dist_agree(load_local(path, head, key, st, count, epochs));
}

int ckpt_lacks_head(const char *path, const char *head) {
    int64_t lacks = 0;
    if (dist_rank() == 0 && fs_exists(path)) {
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (f >= 0) {
            lacks = H5Lexists(f, head, H5P_DEFAULT) <= 0;
            H5Fclose(f);
        }
    }
    if (dist_bcast_bytes(&lacks, sizeof lacks, 0) != ST_OK) return 0;
    return (int)lacks;
}
