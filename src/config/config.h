/* config.h - typed configuration loaded from YAML (libyaml).
 *
 * One schema (src/config/schema.c, documented in docs/config.md) lists every
 * key with its type, default, range and help text. A config is built from the
 * defaults, then the YAML file (with its include: files, later values
 * overriding earlier ones, ${ENV} expanded in strings), then each --set
 * key.path=value in order. Errors name file:line:column and suggest the
 * closest known key; they return ST_USAGE and nothing is written.
 *
 * Fields are read directly: cfg->train.epochs. Strings and lists are owned
 * by the config and freed by config_free().
 */
#ifndef ASSORT_CONFIG_H
#define ASSORT_CONFIG_H

#include <stdint.h>

struct str_list {
    char **items;
    int count;
};

struct config {
    struct {
        char *name;              /* experiment name, recorded with the run */
        int64_t seed;
        int threads;             /* 0: cores / ranks on the node */
        double progress_interval;/* seconds between progress lines off a terminal */
    } run;
    struct {
        char *path;              /* catalog .h5 */
        int deflate;             /* 0 = off, 1-9 */
    } catalog;
    struct {
        char *csv;
        char *images_root;
        char *id_column;
        char *name_column;
        char *image_column;
        struct str_list levels;       /* category columns, coarse to fine */
        struct str_list keep_columns; /* other columns kept as strings */
        int image_size;               /* stored square side, pixels */
        char *fit;                    /* "pad" | "crop" */
        int background[3];            /* RGB for padding and alpha */
        char *upscale;                /* "bilinear" | "bicubic" */
        int64_t max_pixels;           /* decompression-bomb guard (w*h) */
        int max_name_bytes;
        double max_reject_ratio;      /* above it the run fails */
        int allow_outside_root;       /* allow paths leaving images_root */
        char *rejects_csv;            /* "" = <catalog>.rejects.csv */
        int64_t table_memory_kib;     /* per-product tables' memory per rank; the rest spills */
    } ingest;
    struct {
        char *backbone;          /* lite0 | lite1 | lite2 */
        char *weights_dir;
        char *device;            /* auto | cpu | gpu */
        char *precision;         /* fp32 | fp16 | bf16 (GPU) */
        int batch;
        char *dtype;             /* float32 | float16 stored features */
        int normalized_copy;     /* also store L2-normalised features */
        int commit_every;        /* batches between committed progress */
        char *resize;            /* "resample" | "refuse" on size mismatch */
        char *cpu_gemm;          /* "auto" | "openblas" (CPU backend's GEMM) */
    } extract;
    struct {
        char *features;          /* backbone whose features train on */
        struct str_list levels;  /* label levels to learn */
        char *head;              /* linear | mlp */
        int hidden;
        double dropout;
        int epochs;
        int batch;               /* global batch over all ranks */
        char *allreduce;         /* auto | mpi | nccl: gradient sum across ranks */
        char *optimizer;         /* sgd | adamw */
        double lr;
        double momentum;
        int nesterov;
        double weight_decay;
        double warmup_epochs;
        double label_smoothing;
        int class_balanced;
        int patience;            /* early stopping, epochs; 0 = off */
        int min_class_count;
        char *rare_classes;      /* other | drop */
        double split_train;
        double split_val;
        double split_test;
        char *split_column;      /* "" = stratified by seed */
        int warm_start;          /* start from the stored head if present */
    } train;
    struct {
        int k;
        int block;               /* rows per kNN block */
        double w_img;
        double w_name;
        int learn_weights;
        double duplicate_threshold;
        int ngram;
        char *query;             /* all | dirty */
    } similarity;
    struct {
        double w_head;
        double w_knn;
        double w_name;
        char *weights;           /* fixed | search (on validation, per level) */
        double weight_step;      /* grid step of the search */
        char *source_calibration; /* none | auto | on (search only) */
        double review_threshold;
        double mislabel_threshold;
        char *out_dir;           /* "" = beside the catalog */
    } classify;
    struct {
        char *out;               /* "" = <catalog>.report.html */
        int gallery_rows;
        int review_rows;
    } report;
    struct {
        double drift_alert;      /* alert threshold for the drift statistic */
    } nightly;
};

/* Builds a config from defaults, `path` (may be NULL) and the --set
 * overrides ("a.b=value"). On success *out is owned by the caller. */
int config_load(const char *path, const char *const *sets, int n_sets, struct config **out);

void config_free(struct config *cfg);

/* The resolved config as YAML text (every key, in schema order). Caller frees. */
int config_to_yaml(const struct config *cfg, char **yaml);

/* The default config as commented YAML (what `assort config --defaults`
 * prints). Caller frees. */
int config_defaults_yaml(char **yaml);

/* XXH3-64 of config_to_yaml()'s text, as 16 hex digits (+ NUL). */
int config_hash(const struct config *cfg, char out[17]);

#endif
