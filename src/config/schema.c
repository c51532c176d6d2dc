/* schema.c - every configuration key: path, type, field, default, range, doc.
 *
 * The order here is the order of `assort config` output, default.yaml and the
 * table in docs/config.md. Keys of one section must stay contiguous.
 */
#include "schema.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define F(field) offsetof(struct config, field)
#define NUM(path, type, field, def, lo, hi, doc) {path, type, F(field), def, lo, hi, NULL, doc}
#define STR(path, field, def, allowed, doc) {path, CFG_STRING, F(field), def, 0, 0, allowed, doc}
#define BOOL(path, field, def, doc) {path, CFG_BOOL, F(field), def, 0, 1, NULL, doc}
#define LIST(path, field, def, doc) {path, CFG_STR_LIST, F(field), def, 0, 0, NULL, doc}

const struct cfg_key cfg_schema[] = {
    STR("run.name", run.name, "\"\"", NULL, "experiment name, recorded with the run"),
    NUM("run.seed", CFG_INT64, run.seed, "42", 0, 9007199254740991.0,
        "seed for splits, shuffling and initialisation"),
    NUM("run.threads", CFG_INT, run.threads, "0", 0, 4096,
        "CPU threads per rank; 0 = cores on the node / ranks on the node"),
    NUM("run.progress_interval", CFG_FLOAT, run.progress_interval, "10", 0.1, 86400,
        "seconds between progress lines when stderr is not a terminal"),

    STR("catalog.path", catalog.path, "catalog.h5", NULL, "the catalog HDF5 file"),
    NUM("catalog.deflate", CFG_INT, catalog.deflate, "0", 0, 9,
        "gzip level of compressed datasets; 0 = off (fastest parallel I/O)"),

    STR("ingest.csv", ingest.csv, "catalog.csv", NULL, "product CSV (RFC 4180, UTF-8, header row)"),
    STR("ingest.images_root", ingest.images_root, ".", NULL,
        "folder the image column's paths are relative to"),
    STR("ingest.id_column", ingest.id_column, "id", NULL, "CSV column with the unique product id"),
    STR("ingest.name_column", ingest.name_column, "name", NULL, "CSV column with the display name"),
    STR("ingest.image_column", ingest.image_column, "image", NULL, "CSV column with the image path"),
    LIST("ingest.levels", ingest.levels, "[master_category, sub_category, article_type]",
         "category columns, coarse to fine"),
    LIST("ingest.keep_columns", ingest.keep_columns, "[colour, usage]",
         "other CSV columns kept as strings"),
    NUM("ingest.image_size", CFG_INT, ingest.image_size, "224", 16, 2048,
        "side of the stored square images, pixels"),
    STR("ingest.fit", ingest.fit, "pad", "pad|crop",
        "make images square by padding (keeps all) or centre-cropping"),
    {"ingest.background", CFG_COLOR, F(ingest.background), "[255, 255, 255]", 0, 255, NULL,
     "RGB used for padding and transparent pixels"},
    STR("ingest.upscale", ingest.upscale, "bilinear", "bilinear|bicubic",
        "filter used to enlarge small images"),
    NUM("ingest.max_pixels", CFG_INT64, ingest.max_pixels, "50000000", 1, 1e10,
        "images with more pixels (w*h) are rejected (decompression-bomb guard)"),
    NUM("ingest.max_name_bytes", CFG_INT, ingest.max_name_bytes, "255", 1, 65535,
        "longer names are rejected"),
    NUM("ingest.max_reject_ratio", CFG_FLOAT, ingest.max_reject_ratio, "0.5", 0, 1,
        "ingest fails when more than this share of rows is rejected"),
    BOOL("ingest.allow_outside_root", ingest.allow_outside_root, "false",
         "accept image paths that leave images_root (.., absolute, symlinks)"),
    STR("ingest.rejects_csv", ingest.rejects_csv, "\"\"", NULL,
        "where rejected rows are listed; \"\" = <catalog>.rejects.csv"),
    NUM("ingest.table_memory_kib", CFG_INT64, ingest.table_memory_kib, "65536", 16, 1e9,
        "memory per rank for the per-product tables (KiB); beyond it they go to a temporary file"),

    STR("extract.backbone", extract.backbone, "lite0", "lite0|lite1|lite2",
        "EfficientNet-Lite variant whose features are extracted"),
    STR("extract.weights_dir", extract.weights_dir, "weights", NULL,
        "folder with the imported backbone weights"),
    STR("extract.device", extract.device, "auto", "auto|cpu|gpu",
        "auto uses a GPU when one is present, else the CPU"),
    STR("extract.precision", extract.precision, "bf16", "fp32|fp16|bf16",
        "GPU compute precision (the CPU path is fp32)"),
    NUM("extract.batch", CFG_INT, extract.batch, "32", 1, 65536, "images per forward pass per rank"),
    STR("extract.dtype", extract.dtype, "float32", "float32|float16", "stored feature type"),
    BOOL("extract.normalized_copy", extract.normalized_copy, "true",
         "also store L2-normalised features (for similarity)"),
    NUM("extract.commit_every", CFG_INT, extract.commit_every, "8", 1, 1000000,
        "batches between committed progress (resume points)"),
    STR("extract.resize", extract.resize, "resample", "resample|refuse",
        "when stored images differ from the backbone's input size"),
    STR("extract.cpu_gemm", extract.cpu_gemm, "auto", "auto|openblas",
        "CPU 1x1/stem/head convolutions: auto = our packed GEMM on AVX-512 CPUs, else OpenBLAS; "
        "openblas = always OpenBLAS sgemm"),

    STR("train.features", train.features, "lite0", "lite0|lite1|lite2",
        "backbone whose stored features the heads train on"),
    LIST("train.levels", train.levels, "[master_category, article_type]",
         "category levels to learn, one head output each"),
    STR("train.head", train.head, "linear", "linear|mlp", "head architecture"),
    NUM("train.hidden", CFG_INT, train.hidden, "512", 1, 65536, "hidden units of the mlp head"),
    NUM("train.dropout", CFG_FLOAT, train.dropout, "0.2", 0, 0.95, "dropout before the output layer"),
    NUM("train.epochs", CFG_INT, train.epochs, "30", 1, 100000, "passes over the training split"),
    NUM("train.batch", CFG_INT, train.batch, "256", 1, 16777216,
        "global batch over all ranks (rows per step)"),
    STR("train.allreduce", train.allreduce, "auto", "auto|mpi|nccl",
        "gradient sum across ranks; auto = nccl when a GPU is visible (CUDA/NCCL built), else mpi"),
    STR("train.optimizer", train.optimizer, "adamw", "sgd|adamw", "optimizer"),
    NUM("train.lr", CFG_FLOAT, train.lr, "0.001", 0, 10, "peak learning rate (cosine decay)"),
    NUM("train.momentum", CFG_FLOAT, train.momentum, "0.9", 0, 1, "sgd momentum (adamw: beta1)"),
    BOOL("train.nesterov", train.nesterov, "true", "Nesterov momentum (sgd)"),
    NUM("train.weight_decay", CFG_FLOAT, train.weight_decay, "0.0001", 0, 1,
        "decoupled weight decay"),
    NUM("train.warmup_epochs", CFG_FLOAT, train.warmup_epochs, "1", 0, 1000,
        "linear learning-rate warm-up, epochs"),
    NUM("train.label_smoothing", CFG_FLOAT, train.label_smoothing, "0.1", 0, 0.99,
        "label smoothing of the cross-entropy targets"),
    BOOL("train.class_balanced", train.class_balanced, "true",
         "weight the loss by inverse class frequency"),
    NUM("train.patience", CFG_INT, train.patience, "5", 0, 100000,
        "early stopping after this many epochs without a better validation macro-F1; 0 = off"),
    NUM("train.min_class_count", CFG_INT, train.min_class_count, "30", 1, 1000000000,
        "classes with fewer products are rare"),
    STR("train.rare_classes", train.rare_classes, "other", "other|drop",
        "merge rare classes into one 'other' class, or drop their products"),
    NUM("train.split.train", CFG_FLOAT, train.split_train, "0.8", 0, 1,
        "share of products in the training split"),
    NUM("train.split.val", CFG_FLOAT, train.split_val, "0.1", 0, 1,
        "share in the validation split (early stopping)"),
    NUM("train.split.test", CFG_FLOAT, train.split_test, "0.1", 0, 1,
        "share in the test split; the three shares sum to 1"),
    STR("train.split_column", train.split_column, "\"\"", NULL,
        "CSV column holding train/val/test; \"\" = stratified split by seed"),
    BOOL("train.warm_start", train.warm_start, "true", "start from the stored head if present"),

    NUM("similarity.k", CFG_INT, similarity.k, "20", 1, 10000, "neighbours kept per product"),
    NUM("similarity.block", CFG_INT, similarity.block, "4096", 1, 1048576,
        "rows per kNN block (memory vs speed)"),
    NUM("similarity.w_img", CFG_FLOAT, similarity.w_img, "0.6", 0, 1,
        "weight of image similarity in the combined score"),
    NUM("similarity.w_name", CFG_FLOAT, similarity.w_name, "0.4", 0, 1,
        "weight of name similarity in the combined score"),
    BOOL("similarity.learn_weights", similarity.learn_weights, "false",
         "fit w_img/w_name on the validation split instead"),
    NUM("similarity.duplicate_threshold", CFG_FLOAT, similarity.duplicate_threshold, "0.92", 0, 1,
        "combined score above which two products are near-duplicates"),
    NUM("similarity.ngram", CFG_INT, similarity.ngram, "3", 1, 8,
        "character n-gram length of name similarity"),
    STR("similarity.query", similarity.query, "all", "all|dirty|changed",
        "query every product, the dirty ones, or those flagged needs_similarity"),

    NUM("classify.w_head", CFG_FLOAT, classify.w_head, "0.5", 0, 1,
        "weight of the trained head's probabilities"),
    NUM("classify.w_knn", CFG_FLOAT, classify.w_knn, "0.3", 0, 1, "weight of the neighbours' vote"),
    NUM("classify.w_name", CFG_FLOAT, classify.w_name, "0.2", 0, 1, "weight of the name-based vote"),
    STR("classify.weights", classify.weights, "search", "fixed|search",
        "fixed: use w_head/w_knn/w_name; search: per level, the grid point of the simplex "
        "with the best validation top-1 (ties: nearest to w_*)"),
    NUM("classify.weight_step", CFG_FLOAT, classify.weight_step, "0.1", 0.02, 0.5,
        "grid step of classify.weights=search (1/step must be a whole number)"),
    STR("classify.source_calibration", classify.source_calibration, "auto", "none|auto|on",
        "search only: auto also tries name/vote temperatures fitted on validation and keeps "
        "them if the best validation top-1 is higher; on always uses them"),
    NUM("classify.review_threshold", CFG_FLOAT, classify.review_threshold, "0.6", 0, 1,
        "predictions less confident than this go to review"),
    NUM("classify.mislabel_threshold", CFG_FLOAT, classify.mislabel_threshold, "0.9", 0, 1,
        "a confident prediction disagreeing with the label flags a likely mislabel"),
    STR("classify.out_dir", classify.out_dir, "\"\"", NULL,
        "folder for CSV outputs; \"\" = beside the catalog"),

    STR("report.out", report.out, "\"\"", NULL, "HTML report; \"\" = <catalog>.report.html"),
    NUM("report.gallery_rows", CFG_INT, report.gallery_rows, "24", 0, 100000,
        "rows of the image gallery"),
    NUM("report.review_rows", CFG_INT, report.review_rows, "50", 0, 1000000,
        "rows of the review table"),

    NUM("nightly.drift_alert", CFG_FLOAT, nightly.drift_alert, "0.2", 0, 1000000,
        "alert when a class-distribution PSI or the feature PSI exceeds this (docs/nightly.md)"),
};
const int cfg_schema_count = (int)(sizeof cfg_schema / sizeof cfg_schema[0]);

const struct cfg_key *cfg_schema_find(const char *path) {
    for (int i = 0; i < cfg_schema_count; i++)
        if (!strcmp(cfg_schema[i].path, path)) return &cfg_schema[i];
    return NULL;
}

int cfg_schema_is_section(const char *path) {
    size_t n = strlen(path);
    if (n == 0) return 0;
    for (int i = 0; i < cfg_schema_count; i++)
        if (!strncmp(cfg_schema[i].path, path, n) && cfg_schema[i].path[n] == '.') return 1;
    return 0;
}

/* Levenshtein distance, two rows. */
static size_t edit_distance(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    size_t *prev = malloc((nb + 1) * sizeof *prev), *cur = malloc((nb + 1) * sizeof *cur);
    if (!prev || !cur) {
        free(prev);
        free(cur);
        return SIZE_MAX;
    }
    for (size_t j = 0; j <= nb; j++) prev[j] = j;
    for (size_t i = 1; i <= na; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        size_t *t = prev;
        prev = cur;
        cur = t;
    }
    size_t d = prev[nb];
    free(prev);
    free(cur);
    return d;
}

void cfg_schema_suggest(const char *path, char *out, size_t out_bytes) {
    /* Candidates: every key and every section (each key's dotted prefixes). */
    size_t best_d = SIZE_MAX;
    out[0] = '\0';
    for (int i = 0; i < cfg_schema_count; i++) {
        const char *p = cfg_schema[i].path;
        for (const char *end = strchr(p, '.');; end = strchr(end + 1, '.')) {
            size_t n = end ? (size_t)(end - p) : strlen(p);
            char cand[128];
            if (n >= sizeof cand || n >= out_bytes) break;
            memcpy(cand, p, n);
            cand[n] = '\0';
            size_t d = edit_distance(path, cand);
            if (d < best_d) {
                best_d = d;
                memcpy(out, cand, n + 1);
            }
            if (!end) break;
        }
    }
}

const char *cfg_type_name(enum cfg_type t) {
    switch (t) {
    case CFG_BOOL: return "boolean";
    case CFG_INT: return "integer";
    case CFG_INT64: return "integer";
    case CFG_FLOAT: return "number";
    case CFG_STRING: return "string";
    case CFG_STR_LIST: return "list of strings";
    case CFG_COLOR: return "RGB colour";
    }
    return "?";
}

void cfg_format_double(char *out, size_t out_bytes, double v) {
    double a = fabs(v);
    if (v == 0 || (a >= 1e-5 && a < 1e16)) {
        for (int dec = 0; dec <= 20; dec++) {
            snprintf(out, out_bytes, "%.*f", dec, v);
            if (strtod(out, NULL) == v) return;
        }
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, out_bytes, "%.*g", prec, v);
        if (strtod(out, NULL) == v) return;
    }
}
