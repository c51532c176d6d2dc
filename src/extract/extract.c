/* extract.c - distributed, double-buffered, resumable feature extraction
 * (see extract.h and docs/extract.md). */
#include "extract.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/run.h"
#include "dist/dist.h"
#include "extract/half.h"
#include "ingest/resize.h"
#include "nn/backbone.h"
#include "nn/cpu_kernels.h"
#include "nn/cudnn_device.h"
#include "nn/effnet.h"
#include "util/check.h"
#include "util/fsutil.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/signals.h"

#define STAGE "extract"
#define GRP_BYTES 160

/* --- the I/O side: every HDF5 call of the batch loop ---------------------- */

/* One step of I/O, the same collective calls on every rank: read the pixels
 * of the next batch and/or write the features of an earlier one. */
struct io_job {
    int do_read, do_write;        /* global: every rank issues the call */
    const int64_t *read_rows;     /* (read_count) ascending catalog rows */
    int64_t read_count;
    uint8_t *pixels;              /* (2 * max_batch, S, S, 3) destination; the first
                                   * read_count images are the result */
    const int64_t *write_rows;    /* (write_count) */
    int64_t write_count;
    const float *features;        /* (write_count, dim) */
    int rc;                       /* result, with msg */
    char msg[1024];
};

struct io_ctx {
    struct catalog *cat;
    char pixels_name[GRP_BYTES], data_name[GRP_BYTES], norm_name[GRP_BYTES], valid_name[GRP_BYTES];
    int has_dirty;
    int dim;
    int half;                     /* store binary16 */
    hid_t half_type;
    int normalized;
    int64_t max_batch;
    size_t px_bytes;              /* bytes of one image (S * S * 3) */
    uint16_t *half_buf;           /* (max_batch, dim) */
    float *norm_buf;              /* (max_batch, dim) */
    uint8_t *ones, *zeros;        /* (max_batch) */
    /* background thread */
    int threaded;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct io_job *job;           /* submitted, not finished */
    int busy, quit, started;
};

/* Reads the pixels of an ascending row list into j->pixels (collective).
 * A list with gaps is a union of hyperslabs, which HDF5 1.10 maps to chunks
 * element by element (H5S_select_iterate): measured at ~13 ms of CPU per
 * 224x224 image, as much as the network itself (docs/nn.md). So when the
 * list spans at most 2 * max_batch rows (the buffer's room) the whole span
 * is read as one regular hyperslab and the listed rows are compacted in
 * place; a sparser list falls back to the row-list selection. */
static int io_read_pixels(struct io_ctx *io, struct io_job *j) {
    const int64_t n = j->read_count;
    const int64_t first = n > 0 ? j->read_rows[0] : 0;
    const int64_t span = n > 0 ? j->read_rows[n - 1] - first + 1 : 0;
    if (span > 2 * io->max_batch)
        return catalog_read_row_list(io->cat, io->pixels_name, H5T_NATIVE_UINT8, j->read_rows,
                                     n, j->pixels);
    int rc = catalog_read_rows(io->cat, io->pixels_name, H5T_NATIVE_UINT8, first, span,
                               j->pixels);
    if (rc != ST_OK) return rc;
    /* row k comes from span offset read_rows[k] - first >= k: forward is safe */
    for (int64_t k = 0; k < n; k++)
        if (j->read_rows[k] - first != k)
            memmove(j->pixels + (size_t)k * io->px_bytes,
                    j->pixels + (size_t)(j->read_rows[k] - first) * io->px_bytes, io->px_bytes);
    return ST_OK;
}

static int io_run_job(struct io_ctx *io, struct io_job *j) {
    int rc = ST_OK;
    if (j->do_read) TRY(io_read_pixels(io, j));
    if (j->do_write) {
        size_t n = (size_t)j->write_count * (size_t)io->dim;
        if (io->half) {
            half_from_floats(j->features, n, io->half_buf);
            TRY(catalog_write_row_list(io->cat, io->data_name, io->half_type, j->write_rows,
                                       j->write_count, io->half_buf));
        } else {
            TRY(catalog_write_row_list(io->cat, io->data_name, H5T_NATIVE_FLOAT, j->write_rows,
                                       j->write_count, j->features));
        }
        if (io->normalized) {
            extract_l2_normalize(j->features, j->write_count, io->dim, io->norm_buf);
            TRY(catalog_write_row_list(io->cat, io->norm_name, H5T_NATIVE_FLOAT, j->write_rows,
                                       j->write_count, io->norm_buf));
        }
        /* valid after the data, dirty cleared last: a crash in between only
         * redoes rows, never marks unwritten ones done */
        TRY(catalog_write_row_list(io->cat, io->valid_name, H5T_NATIVE_UINT8, j->write_rows,
                                   j->write_count, io->ones));
        if (io->has_dirty)
            TRY(catalog_write_row_list(io->cat, "/products/dirty", H5T_NATIVE_UINT8, j->write_rows,
                                       j->write_count, io->zeros));
    }
fail:
    j->rc = rc;
    if (rc != ST_OK) snprintf(j->msg, sizeof j->msg, "%s", err_msg());
    return rc;
}

static void *io_thread_main(void *arg) {
    struct io_ctx *io = arg;
    pthread_mutex_lock(&io->mu);
    for (;;) {
        while (!io->busy && !io->quit) pthread_cond_wait(&io->cv, &io->mu);
        if (io->quit) break;
        struct io_job *j = io->job;
        pthread_mutex_unlock(&io->mu);
        io_run_job(io, j);
        pthread_mutex_lock(&io->mu);
        io->busy = 0;
        pthread_cond_broadcast(&io->cv);
    }
    pthread_mutex_unlock(&io->mu);
    return NULL;
}

/* Starts the job: in the background thread, or runs it now when synchronous. */
static void io_submit(struct io_ctx *io, struct io_job *j) {
    if (!io->threaded) {
        io_run_job(io, j);
        return;
    }
    pthread_mutex_lock(&io->mu);
    io->job = j;
    io->busy = 1;
    pthread_cond_broadcast(&io->cv);
    pthread_mutex_unlock(&io->mu);
}

/* Waits for the submitted job; returns its status (message moved to this thread). */
static int io_wait(struct io_ctx *io, struct io_job *j) {
    if (io->threaded) {
        pthread_mutex_lock(&io->mu);
        while (io->busy) pthread_cond_wait(&io->cv, &io->mu);
        pthread_mutex_unlock(&io->mu);
    }
    if (j->rc != ST_OK) return err_set(j->rc, "%s", j->msg);
    return ST_OK;
}

static int io_start(struct io_ctx *io) {
    if (!io->threaded) return ST_OK;
    if (pthread_mutex_init(&io->mu, NULL) || pthread_cond_init(&io->cv, NULL))
        return err_set(ST_ERR, "extract: cannot initialise the I/O thread's lock");
    if (pthread_create(&io->thread, NULL, io_thread_main, io))
        return err_set(ST_ERR, "extract: cannot start the I/O thread");
    io->started = 1;
    return ST_OK;
}

static void io_stop(struct io_ctx *io) {
    if (!io->started) return;
    pthread_mutex_lock(&io->mu);
    while (io->busy) pthread_cond_wait(&io->cv, &io->mu);
    io->quit = 1;
    pthread_cond_broadcast(&io->cv);
    pthread_mutex_unlock(&io->mu);
    pthread_join(io->thread, NULL);
    pthread_cond_destroy(&io->cv);
    pthread_mutex_destroy(&io->mu);
    io->started = 0;
}

/* --- local helpers ----------------------------------------------------------- */

int extract_resample(const uint8_t *src, int src_side, uint8_t *dst, int dst_side) {
    const double box[4] = {0, 0, src_side, src_side};
    return resize_region(src, src_side, src_side, box, dst_side, dst_side, RESIZE_BILINEAR, dst,
                         (size_t)dst_side * 3);
}

void extract_l2_normalize(const float *src, int64_t rows, int dim, float *dst) {
    for (int64_t r = 0; r < rows; r++) {
        const float *x = src + (size_t)r * dim;
        float *y = dst + (size_t)r * dim;
        double s = 0;
        for (int k = 0; k < dim; k++) s += (double)x[k] * x[k];
        double inv = s > 0 ? 1.0 / sqrt(s) : 0.0;
        for (int k = 0; k < dim; k++) y[k] = (float)(x[k] * inv);
    }
}

/* Every rank's view of the catalog's per-product flags. */
struct flags {
    int64_t n;
    uint8_t *status, *dirty, *valid; /* (n) each; dirty NULL when the catalog has none */
};

static void flags_free(struct flags *f) {
    free(f->status), free(f->dirty), free(f->valid);
    memset(f, 0, sizeof *f);
}

static int read_flags(struct catalog *c, const char *valid_name, struct flags *f) {
    int rc = ST_OK;
    int64_t rows = 0;
    if (catalog_exists(c, "/products/status")) {
        TRY(catalog_read_all(c, "/products/status", H5T_NATIVE_UINT8, (void **)&f->status, &rows));
        REQUIRE(rows == f->n, ST_DATA, "%s: /products/status has %lld rows, expected %lld",
                catalog_path(c), (long long)rows, (long long)f->n);
    } else {
        TRY_ALLOC(f->status = calloc((size_t)f->n + 1, 1));
    }
    if (catalog_exists(c, "/products/dirty")) {
        TRY(catalog_read_all(c, "/products/dirty", H5T_NATIVE_UINT8, (void **)&f->dirty, &rows));
        REQUIRE(rows == f->n, ST_DATA, "%s: /products/dirty has %lld rows, expected %lld",
                catalog_path(c), (long long)rows, (long long)f->n);
    }
    TRY(catalog_read_all(c, valid_name, H5T_NATIVE_UINT8, (void **)&f->valid, &rows));
    REQUIRE(rows == f->n, ST_DATA, "%s: %s has %lld rows, expected %lld", catalog_path(c),
            valid_name, (long long)rows, (long long)f->n);
fail:
    return rc;
}

/* Chooses and creates the backbone: "cpu", or "cudnn" for gpu/auto. */
static int make_backbone(const char *device, const struct effnet *net, const struct config *cfg,
                         int batch, struct backbone **bb, const char **used) {
    int rc = ST_OK;
    struct backbone_opts o = {.threads = cfg->run.threads, .max_batch = batch,
                              .precision = cfg->extract.precision, .device = -1};
    if (!strcmp(device, "gpu") || !strcmp(device, "auto")) {
        /* One GPU per rank: node-local rank modulo the visible devices
         * (honours CUDA_VISIBLE_DEVICES and Slurm's --gpus-per-task). */
        int use_gpu = 0, dev = -1;
        TRY(gpu_select(device, &use_gpu, &dev));
        if (use_gpu) {
            o.device = dev;
            int st = backbone_create("cudnn", net, &o, bb);
            if (st == ST_OK) {
                *used = "cudnn";
                return ST_OK;
            }
            char why[512];
            snprintf(why, sizeof why, "%s", err_msg()); /* err_set must not read its own buffer */
            if (!strcmp(device, "gpu"))
                return err_set(st, "--device gpu: the GPU backend failed on device %d (%s)", dev, why);
            log_info(STAGE, "GPU backend unusable on device %d (%s); extracting on the CPU", dev, why);
            err_clear();
        } else {
            char why[1024] = "";
            gpu_device_count(why, sizeof why); /* the answer gpu_select had, with its reason */
            log_info(STAGE, "no CUDA device visible (%s); extracting on the CPU", why);
        }
    } else if (strcmp(device, "cpu")) {
        return err_set(ST_USAGE, "--device %s: expected cpu, gpu or auto", device);
    }
    o.precision = NULL;
    o.cpu_blas_only = !strcmp(cfg->extract.cpu_gemm, "openblas");
    TRY(backbone_create("cpu", net, &o, bb));
    *used = "cpu";
    log_info(STAGE, "CPU backend, convolution GEMMs on %s (extract.cpu_gemm=%s)",
             !o.cpu_blas_only && cpu_gemm_available(net->head.out_ch)
                 ? "the packed AVX-512 GEMM"
                 : "OpenBLAS sgemm",
             cfg->extract.cpu_gemm);
fail:
    return rc;
}

/* Creates /features/<b> (or recreates it when its layout, weights or row
 * count no longer fit). Sets *fresh when every row became invalid. */
static int prepare_group(struct catalog *c, const char *grp, const struct effnet *net,
                         const char *bb_name, int half, int normalized, int64_t n,
                         struct io_ctx *io) {
    int rc = ST_OK;
    char *sha = NULL, *dtype = NULL;
    const char *want_dtype = half ? "float16" : "float32";
    int recreate = !catalog_exists(c, io->data_name) || !catalog_exists(c, io->valid_name);
    const char *why = "no features yet";
    if (!recreate) {
        int nd = 0;
        hsize_t dims[8];
        TRY(catalog_dims(c, io->data_name, &nd, dims));
        if (nd != 2 || (int)dims[1] != net->num_features) recreate = 1, why = "feature width changed";
        else if (catalog_get_attr_str(c, grp, "weights_sha256", &sha) != ST_OK ||
                 strcmp(sha, net->source_sha256))
            recreate = 1, why = "the weights changed";
        else if (catalog_get_attr_str(c, grp, "dtype", &dtype) != ST_OK || strcmp(dtype, want_dtype))
            recreate = 1, why = "extract.dtype changed";
        else if (normalized != catalog_exists(c, io->norm_name))
            recreate = 1, why = "extract.normalized_copy changed";
        err_clear();
        if (!recreate && (int64_t)dims[0] < n) {
            /* new products were appended: grow (new rows read as valid = 0) */
            TRY(catalog_extend(c, io->data_name, n));
            TRY(catalog_extend(c, io->valid_name, n));
            if (normalized) TRY(catalog_extend(c, io->norm_name, n));
            log_info(STAGE, "%s grown from %llu to %lld rows", grp, (unsigned long long)dims[0],
                     (long long)n);
        }
    }
    if (recreate) {
        log_info(STAGE, "%s: (re)creating the feature datasets (%s); every product is extracted",
                 grp, why);
        catalog_delete(c, grp);
        hsize_t dims[2] = {(hsize_t)n, (hsize_t)net->num_features};
        hsize_t chunk[2] = {64, (hsize_t)net->num_features};
        TRY(catalog_create_dataset(c, io->data_name, half ? io->half_type : H5T_IEEE_F32LE, 2, dims,
                                   chunk, 1, 0));
        if (normalized)
            TRY(catalog_create_dataset(c, io->norm_name, H5T_IEEE_F32LE, 2, dims, chunk, 1, 0));
        TRY(catalog_create_dataset(c, io->valid_name, H5T_NATIVE_UINT8, 1, dims, NULL, 1, 0));
        TRY(catalog_set_attr_str(c, grp, "backbone", bb_name));
        TRY(catalog_set_attr_str(c, grp, "weights_sha256", net->source_sha256));
        TRY(catalog_set_attr_str(c, grp, "dtype", want_dtype));
        TRY(catalog_set_attr_i64(c, grp, "image_size", net->image_size));
    }
    TRY(catalog_set_attr_i64(c, grp, "complete", 0));
fail:
    free(sha);
    free(dtype);
    return rc;
}

/* Zeroes valid for every active row (--all), rank 0 writing the whole set. */
static int invalidate_all(struct catalog *c, const char *valid_name, const struct flags *f) {
    int rc = ST_OK;
    uint8_t *v = NULL;
    TRY_ALLOC(v = malloc((size_t)f->n + 1));
    for (int64_t i = 0; i < f->n; i++) v[i] = f->status[i] == PRODUCT_ACTIVE ? 0 : f->valid[i];
    TRY(catalog_write_rows(c, valid_name, H5T_NATIVE_UINT8, 0, dist_rank() == 0 ? f->n : 0, v));
    memcpy(f->valid, v, (size_t)f->n);
fail:
    free(v);
    return rc;
}

/* Records progress: global count of rows written so far, then a flush. */
static int commit_progress(struct catalog *c, const char *grp, int64_t base,
                           int64_t written_local) {
    int rc = ST_OK;
    int64_t total = written_local;
    TRY(dist_allreduce_sum_i64(&total, 1));
    TRY(catalog_set_attr_i64(c, grp, "progress_rows", base + total));
    TRY(catalog_flush(c));
fail:
    return rc;
}

/* Rows of this rank's batch i (0 past its last batch). */
static int64_t batch_count(int64_t i, int batch, int64_t my_count) {
    int64_t begin = i * batch;
    if (begin >= my_count) return 0;
    return my_count - begin < batch ? my_count - begin : batch;
}

/* Before any copy: *work = 0 when the committed catalog needs nothing from
 * this stage (the feature group complete for these weights, dtype and
 * normalized copy, one feature row per product, every active product valid
 * and not dirty), else 1; *products gets the catalog's row count. The caller
 * has ruled out --all and an interrupted work copy. Without work the stage
 * neither copies the catalog nor records a run: the catalog stays byte for
 * byte as it was (a run record would need the very copy and commit this
 * check exists to avoid). Any doubt, read errors included, answers 1 and
 * leaves the decision to the full path. Collective (opens the catalog). */
static int check_work(const char *path, const char *grp, const struct effnet *net, int half,
                      int normalized, int64_t *products, int *work) {
    struct catalog *c = NULL;
    struct flags fl = {0};
    char *sha = NULL, *dtype = NULL, name[GRP_BYTES];
    int nd = 0;
    hsize_t dims[8];
    *work = 1;
    *products = 0;
    if (catalog_open(path, 0, &c) != ST_OK) goto done;
    *products = catalog_count(c);
    snprintf(name, sizeof name, "%s/data", grp);
    if (!catalog_is_complete(c, grp) || !catalog_exists(c, name) ||
        catalog_dims(c, name, &nd, dims) != ST_OK || nd != 2 ||
        (int)dims[1] != net->num_features || (int64_t)dims[0] != catalog_count(c))
        goto done;
    if (catalog_get_attr_str(c, grp, "weights_sha256", &sha) != ST_OK ||
        strcmp(sha, net->source_sha256) ||
        catalog_get_attr_str(c, grp, "dtype", &dtype) != ST_OK ||
        strcmp(dtype, half ? "float16" : "float32"))
        goto done;
    snprintf(name, sizeof name, "%s/normalized", grp);
    if (normalized != catalog_exists(c, name)) goto done;
    snprintf(name, sizeof name, "%s/valid", grp);
    fl.n = catalog_count(c);
    if (read_flags(c, name, &fl) != ST_OK) goto done;
    for (int64_t i = 0; i < fl.n; i++) {
        if (fl.status[i] != PRODUCT_ACTIVE) continue;
        if (!fl.valid[i] || (fl.dirty && fl.dirty[i])) goto done;
    }
    *work = 0;
done:
    err_clear();
    free(sha);
    free(dtype);
    flags_free(&fl);
    if (c) catalog_close(c);
    return ST_OK;
}

/* --- the stage ------------------------------------------------------------------ */

/* Run records of a resumed work copy. Every extract record in the work copy
 * that is neither complete nor already superseded belongs to an attempt that
 * stopped (signal: marked `interrupted`) or died (kill, error) before its
 * commit: it gets `superseded_by` = this run's id, and this run gets
 * `resumed_from` = their ids (comma-separated, oldest first). Collective. */
static int supersede_runs(struct catalog *c, const struct run_record *run) {
    int rc = ST_OK, count = 0;
    char **names = NULL, *cmd = NULL, from[2048] = "", obj[200];
    size_t used = 0;
    TRY(catalog_list(c, "/runs", &names, &count));
    for (int k = 0; k < count; k++) {
        if (!strcmp(names[k], run->id)) continue;
        snprintf(obj, sizeof obj, "/runs/%s", names[k]);
        free(cmd), cmd = NULL;
        if (!catalog_has_attr(c, obj, "command")) continue;
        TRY(catalog_get_attr_str(c, obj, "command", &cmd));
        if (strcmp(cmd, STAGE) || catalog_is_complete(c, obj) == 1 ||
            catalog_has_attr(c, obj, "superseded_by"))
            continue;
        TRY(catalog_set_attr_str(c, obj, "superseded_by", run->id));
        int w = snprintf(from + used, sizeof from - used, "%s%s", used ? "," : "", names[k]);
        if (w > 0 && (size_t)w < sizeof from - used) used += (size_t)w;
    }
    if (used) {
        snprintf(obj, sizeof obj, "/runs/%s", run->id);
        TRY(catalog_set_attr_str(c, obj, "resumed_from", from));
        log_info(STAGE, "run %s resumes the interrupted run(s) %s (marked superseded_by)", run->id,
                 from);
    }
fail:
    free(cmd);
    catalog_list_free(names, count);
    return rc;
}

/* The record of an attempt stopped by a signal: `interrupted` = the signal,
 * `interrupted_after_products` = rows written by all its attempts so far,
 * `finished` = now. Not complete: a later run marks it superseded_by.
 * Collective. */
static int mark_interrupted(struct catalog *c, const struct run_record *run, int signo,
                            int64_t rows) {
    int rc = ST_OK;
    char obj[200], now[40];
    snprintf(obj, sizeof obj, "/runs/%s", run->id);
    time_stamp(now, sizeof now, 1);
    TRY(dist_bcast_bytes(now, sizeof now, 0));
    TRY(catalog_set_attr_str(c, obj, "interrupted", signals_name(signo)));
    TRY(catalog_set_attr_i64(c, obj, "interrupted_after_products", rows));
    TRY(catalog_set_attr_str(c, obj, "finished", now));
    TRY(catalog_flush(c));
fail:
    return rc;
}

int extract_catalog(const struct extract_request *req, const struct config *cfg) {
    int rc = ST_OK, began = 0, keep_work = 0;
    double t0 = time_now();
    struct catalog_txn txn;
    struct effnet *net = NULL;
    struct backbone *bb = NULL;
    struct run_record run = {0};
    struct flags fl = {0};
    struct io_ctx io = {0};
    io.half_type = -1;
    int64_t *list = NULL;
    uint8_t *pix[2] = {NULL, NULL}, *rs = NULL;
    float *feat[2] = {NULL, NULL};
    char wpath[4096], grp[64];
    const char *bname = req->backbone ? req->backbone : cfg->extract.backbone;
    const char *device = req->device ? req->device : cfg->extract.device;
    int batch = req->batch > 0 ? req->batch : cfg->extract.batch;
    int half = !strcmp(cfg->extract.dtype, "float16");
    const char *used = "cpu";
    memset(&txn, 0, sizeof txn);

    /* the network first: a missing weights file needs no catalog work */
    TRY(dist_agree(effnet_weights_path(cfg->extract.weights_dir, bname, wpath, sizeof wpath)));
    TRY(dist_agree(effnet_load(wpath, &net)));
    TRY(dist_agree(make_backbone(device, net, cfg, batch, &bb, &used)));
    const char *bshort = bname;
    if (!strncmp(bshort, "efficientnet-", 13)) bshort += 13;
    snprintf(grp, sizeof grp, "/features/%.40s", bshort);

    if (!req->all) {
        /* nothing to do? then no work copy, no commit (check_work) */
        char wk[4200];
        snprintf(wk, sizeof wk, "%s.work", req->catalog);
        int64_t w[1] = {dist_rank() == 0 ? fs_exists(wk) : 0}, n_products = 0;
        TRY(dist_agree(dist_bcast_bytes(w, sizeof w, 0)));
        if (!w[0]) { /* an interrupted work copy is resumed by the full path */
            int work = 1;
            check_work(req->catalog, grp, net, half, cfg->extract.normalized_copy, &n_products,
                       &work);
            w[0] = work;
        }
        TRY(dist_agree(dist_allreduce_max_i64(w, 1)));
        if (!w[0]) {
            log_info(STAGE, "0 of %lld products to extract: nothing to extract (every active "
                     "product has valid %s features); %s left unchanged, no run recorded",
                     (long long)n_products, bshort, req->catalog);
            goto done;
        }
    }
    TRY(dist_agree(catalog_begin(req->catalog, STAGE, 0, &txn)));
    began = 1;
    struct catalog *c = txn.cat;
    const char *path = req->catalog;
    /* images */
    int64_t n = catalog_count(c);
    int nd = 0, S = 0;
    hsize_t dims[8] = {0};
    int st = ST_OK;
    if (!catalog_exists(c, "/images/pixels") || !catalog_is_complete(c, "/images"))
        st = err_set(ST_DATA, "%s: the catalog has no images (/images/pixels missing or "
                     "incomplete); run `assort ingest` first", path);
    else if ((st = catalog_dims(c, "/images/pixels", &nd, dims)) == ST_OK &&
             (nd != 4 || dims[1] != dims[2] || dims[3] != 3 || (int64_t)dims[0] != n))
        st = err_set(ST_DATA, "%s: /images/pixels has an unexpected shape (expected (%lld, S, S, "
                     "3)); re-run `assort ingest`", path, (long long)n);
    TRY(dist_agree(st));
    S = (int)dims[1];
    int native = net->image_size, resample = S != native;
    if (resample && !strcmp(cfg->extract.resize, "refuse"))
        TRY(dist_agree(err_set(ST_DATA, "%s: stored images are %dx%d but %s needs %dx%d "
                               "(extract.resize=refuse); re-ingest with --set "
                               "ingest.image_size=%d, or set extract.resize=resample",
                               path, S, S, net->model, native, native, native)));
    if (resample)
        log_info(STAGE, "stored images are %dx%d, %s needs %dx%d: resampling (bilinear)", S, S,
                 net->model, native, native);

    /* feature datasets */
    io.cat = c;
    io.dim = net->num_features;
    io.half = half;
    io.normalized = cfg->extract.normalized_copy;
    snprintf(io.pixels_name, sizeof io.pixels_name, "/images/pixels");
    snprintf(io.data_name, sizeof io.data_name, "%s/data", grp);
    snprintf(io.norm_name, sizeof io.norm_name, "%s/normalized", grp);
    snprintf(io.valid_name, sizeof io.valid_name, "%s/valid", grp);
    io.has_dirty = catalog_exists(c, "/products/dirty");
    TRY_H5(io.half_type = half_h5_type());
    TRY(dist_agree(prepare_group(c, grp, net, bshort, half, io.normalized, n, &io)));
    fl.n = n;
    TRY(dist_agree(read_flags(c, io.valid_name, &fl)));
    if (req->all) {
        if (!(txn.resumed && catalog_has_attr(c, grp, "all_pass"))) {
            TRY(dist_agree(invalidate_all(c, io.valid_name, &fl)));
            TRY(dist_agree(catalog_set_attr_i64(c, grp, "all_pass", 1)));
        } else {
            log_info(STAGE, "--all: continuing the interrupted pass over every product");
        }
    }
    /* progress_rows counts the rows of every attempt on this work copy */
    int64_t progress_base = 0;
    if (txn.resumed && catalog_has_attr(c, grp, "progress_rows"))
        TRY(dist_agree(catalog_get_attr_i64(c, grp, "progress_rows", &progress_base)));
    TRY(dist_agree(catalog_set_attr_i64(c, grp, "progress_rows", progress_base)));
    TRY(dist_agree(catalog_flush(c)));

    /* the list: active rows that are dirty or not valid, ascending */
    int64_t n_list = 0, n_dirty = 0, n_invalid = 0;
    TRY_ALLOC(list = malloc(((size_t)n + 1) * sizeof *list));
    for (int64_t i = 0; i < n; i++) {
        if (fl.status[i] != PRODUCT_ACTIVE) continue;
        int d = fl.dirty ? fl.dirty[i] != 0 : 0, inv = !fl.valid[i];
        if (d || inv) list[n_list++] = i, n_dirty += d, n_invalid += inv && !d;
    }
    int64_t lb, le;
    dist_shard_range(n_list, dist_rank(), dist_size(), &lb, &le);
    int64_t my_count = le - lb, my_batches = (my_count + batch - 1) / batch;
    int64_t nb = my_batches;
    TRY(dist_agree(dist_allreduce_max_i64(&nb, 1)));

    /* double buffering needs the I/O thread to call MPI: MPI_THREAD_MULTIPLE */
    io.threaded = dist_thread_level() >= MPI_THREAD_MULTIPLE;
    int threads = cfg->run.threads > 0 ? cfg->run.threads : backbone_default_threads();
    log_info(STAGE, "%lld of %lld products to extract (%lld dirty, %lld without valid features%s) "
             "with %s on %s, %d rank(s) x %d thread(s), batch %d, %lld batches per rank",
             (long long)n_list, (long long)n, (long long)n_dirty, (long long)n_invalid,
             req->all ? ", --all" : "", net->model, used, dist_size(), threads, batch,
             (long long)nb);
    if (!io.threaded)
        log_info(STAGE, "MPI provides no MPI_THREAD_MULTIPLE: synchronous I/O (reads are not "
                 "overlapped with compute)");

    TRY(dist_agree(run_begin(c, STAGE, cfg, &run)));
    if (txn.resumed) TRY(dist_agree(supersede_runs(c, &run)));

    size_t px_bytes = (size_t)S * S * 3, dim = (size_t)net->num_features;
    io.max_batch = batch;
    io.px_bytes = px_bytes;
    for (int b = 0; b < 2; b++) {
        /* room for a span of 2 * batch rows (io_read_pixels) */
        TRY_ALLOC(pix[b] = malloc(2 * (size_t)batch * px_bytes + 1));
        TRY_ALLOC(feat[b] = malloc((size_t)batch * dim * sizeof(float)));
    }
    if (resample) TRY_ALLOC(rs = malloc((size_t)batch * native * native * 3));
    TRY_ALLOC(io.half_buf = malloc((size_t)batch * dim * sizeof(uint16_t)));
    TRY_ALLOC(io.norm_buf = malloc((size_t)batch * dim * sizeof(float)));
    TRY_ALLOC(io.ones = malloc((size_t)batch));
    TRY_ALLOC(io.zeros = calloc((size_t)batch, 1));
    memset(io.ones, 1, (size_t)batch);
    TRY(dist_agree(io_start(&io)));
    keep_work = 1; /* from here on rows get written: a failed run leaves a resumable copy */

    const int64_t *mine = list + lb;
#define B_COUNT(i) batch_count((i), batch, my_count)
#define B_ROWS(i) (B_COUNT(i) > 0 ? mine + (int64_t)(i) * batch : mine)
    struct progress prog;
    progress_begin(&prog, STAGE, "images", n_list);
    double t_loop = time_now(), t_compute = 0;
    int64_t written = 0; /* rows of this rank whose features are written */
    int stopped = 0, sig = 0;
    struct io_job job;
    /* prologue: batch 0's pixels */
    if (nb > 0) {
        memset(&job, 0, sizeof job);
        job.do_read = 1, job.read_rows = B_ROWS(0), job.read_count = B_COUNT(0), job.pixels = pix[0];
        io_submit(&io, &job);
        TRY(dist_agree(io_wait(&io, &job)));
    }
    int64_t i = 0;
    for (; i < nb; i++) {
        /* I/O in the background: read batch i+1, write the features of batch i-1 */
        memset(&job, 0, sizeof job);
        if (i + 1 < nb) {
            job.do_read = 1, job.read_rows = B_ROWS(i + 1), job.read_count = B_COUNT(i + 1);
            job.pixels = pix[(i + 1) % 2];
        }
        if (i >= 1) {
            job.do_write = 1, job.write_rows = B_ROWS(i - 1), job.write_count = B_COUNT(i - 1);
            job.features = feat[(i - 1) % 2];
        }
        io_submit(&io, &job);
        /* compute batch i */
        int crc = fault_point("extract.batch");
        int64_t cnt = B_COUNT(i);
        double tc = time_now();
        if (crc == ST_OK && cnt > 0) {
            const uint8_t *in = pix[i % 2];
            for (int64_t k = 0; resample && k < cnt && crc == ST_OK; k++)
                crc = extract_resample(pix[i % 2] + (size_t)k * px_bytes, S,
                                       rs + (size_t)k * native * native * 3, native);
            if (resample) in = rs;
            if (crc == ST_OK) crc = backbone_forward(bb, in, (int)cnt, feat[i % 2], NULL);
        }
        t_compute += time_now() - tc;
        int iorc = io_wait(&io, &job);
        if (iorc == ST_OK && job.do_write) written += job.write_count;
        TRY(dist_agree(crc != ST_OK ? crc : iorc));
        int64_t done_est = (i + 1) * batch * dist_size();
        progress_update(&prog, done_est < n_list ? done_est : n_list);
        /* batch boundary: stop requests and committed progress */
        if (req->stop_after > 0 && i + 1 == req->stop_after) signals_request_stop(SIGTERM);
        int stop = 0;
        TRY(dist_agree(signals_stop_agreed(&stop)));
        if (stop) {
            sig = signals_agreed_signo(); /* the same on every rank */
            stopped = 1;
            i++;
            break;
        }
        if ((i + 1) % cfg->extract.commit_every == 0)
            TRY(dist_agree(commit_progress(c, grp, progress_base, written)));
    }
    /* epilogue: the features of the last computed batch */
    if (i >= 1) {
        memset(&job, 0, sizeof job);
        job.do_write = 1, job.write_rows = B_ROWS(i - 1), job.write_count = B_COUNT(i - 1);
        job.features = feat[(i - 1) % 2];
        io_submit(&io, &job);
        int iorc = io_wait(&io, &job);
        if (iorc == ST_OK) written += job.write_count;
        TRY(dist_agree(iorc));
    }
#undef B_ROWS
#undef B_COUNT
    io_stop(&io);
    double loop_s = time_now() - t_loop;
    progress_end(&prog);
    TRY(dist_agree(commit_progress(c, grp, progress_base, written)));
    int64_t total = written;
    TRY(dist_agree(dist_allreduce_sum_i64(&total, 1)));
    if (stopped) {
        TRY(dist_agree(mark_interrupted(c, &run, sig, progress_base + total)));
        rc = err_set(ST_INTERRUPTED, "stopped by %s after %lld of %lld products; the work "
                     "copy %s is kept: rerun the same command to continue",
                     signals_name(sig), (long long)total, (long long)n_list,
                     txn.work);
        log_info(STAGE, "%s", err_msg());
        rc = dist_agree(rc); /* every rank returns it: main prints once, no abort */
        run_free(&run);
        catalog_abort(&txn, 0);
        began = 0;
        goto done;
    }
    double compute_max = t_compute;
    {
        double v[1] = {t_compute};
        TRY(dist_agree(dist_allreduce_sum_f64(v, 1)));
        compute_max = v[0] / dist_size();
    }
    double ips = loop_s > 0 ? (double)total / loop_s : 0;
    log_info(STAGE, "%lld products extracted in %.1f s (%.1f images/s, compute %.1f s per rank)",
             (long long)total, loop_s, ips, compute_max);
    if (catalog_has_attr(c, grp, "all_pass")) {
        hid_t g = H5Gopen2(catalog_file(c), grp, H5P_DEFAULT);
        if (g >= 0) {
            H5Adelete(g, "all_pass");
            H5Gclose(g);
        }
    }
    TRY(dist_agree(catalog_mark_complete(c, grp)));
    char metrics[2048];
    snprintf(metrics, sizeof metrics,
             "{\"backbone\": \"%s\", \"model\": \"%s\", \"weights_sha256\": \"%s\", "
             "\"device\": \"%s\", \"dtype\": \"%s\", \"normalized_copy\": %s, "
             "\"products\": %lld, \"to_extract\": %lld, \"dirty\": %lld, \"invalid\": %lld, "
             "\"extracted\": %lld, \"all\": %s, \"batch\": %d, \"ranks\": %d, "
             "\"threads_per_rank\": %d, \"image_size\": %d, \"resampled_from\": %d, "
             "\"resumed\": %s, \"double_buffered\": %s, \"images_per_second\": %.3f, "
             "\"loop_seconds\": %.3f, \"compute_seconds_per_rank\": %.3f}",
             bshort, net->model, net->source_sha256, used, half ? "float16" : "float32",
             io.normalized ? "true" : "false", (long long)n, (long long)n_list, (long long)n_dirty,
             (long long)n_invalid, (long long)total, req->all ? "true" : "false", batch,
             dist_size(), threads, native, resample ? S : 0, txn.resumed ? "true" : "false",
             io.threaded ? "true" : "false", ips, loop_s, compute_max);
    TRY(dist_agree(run_set_metrics(&run, metrics)));
    run_add_timing(&run, "extract", loop_s);
    run_add_timing(&run, "total", time_now() - t0);
    TRY(dist_agree(run_end(c, &run)));
    TRY(dist_agree(catalog_commit(&txn)));
    began = 0;
    log_info(STAGE, "committed %s", path);
done:
fail:
    io_stop(&io);
    if (began && (dist_size() == 1 || dist_failure_agreed())) {
        /* an error: keep the work copy only when it may be resumed (rows
         * already written stay valid); the catalog itself is untouched */
        run_free(&run);
        catalog_abort(&txn, !keep_work);
    }
    if (io.half_type >= 0) H5Tclose(io.half_type);
    free(io.half_buf), free(io.norm_buf), free(io.ones), free(io.zeros);
    for (int b = 0; b < 2; b++) free(pix[b]), free(feat[b]);
    free(rs);
    free(list);
    flags_free(&fl);
    backbone_free(bb);
    effnet_free(net);
    return rc;
}
