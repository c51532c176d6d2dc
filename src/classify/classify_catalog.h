/* classify_catalog.h - `assort classify`: a category, a calibrated confidence,
 * top-3 alternatives and flags for every product and every level that has a
 * trained head.
 *
 * Reads /features/<backbone>, the heads /heads/<backbone>-<level>-<head>, the
 * split /splits/<finest level with a head>, the newest complete
 * /similarity/<run> (older complete runs fill rows the newest did not query)
 * and the names; trains (or reuses) the name classifier /heads/name-<level>;
 * combines head, neighbour vote and name model (combine.h) with weights
 * chosen per level on the validation split (classify.weights=search,
 * weights.h) or as configured; fits the temperature of the combined score on
 * the validation split; records validation and test metrics; writes
 * /predictions/<run-id> and the run record /runs/<run-id> (metrics JSON) in
 * one catalog transaction, then the exports <out_dir>/predictions-<run-id>.csv
 * and .jsonl and the stable copies predictions.csv / predictions.jsonl
 * (atomic). Each rank classifies a block-aligned shard of rows; results are
 * identical for any rank count. Documented in docs/classify.md.
 */
#ifndef ASSORT_CLASSIFY_CATALOG_H
#define ASSORT_CLASSIFY_CATALOG_H

#include "config/config.h"

struct classify_request {
    const char *catalog;      /* path of the catalog .h5 */
    const char *backbone;     /* NULL: cfg->train.features */
    const char *head;         /* NULL: cfg->train.head */
    const char *level;        /* NULL: every level with a complete head */
    int retrain_names;        /* retrain the name models even when current */
};

/* Runs the whole command. Collective; failures are agreed across ranks so
 * main prints the message once. On success run_id (96 bytes) holds the run.
 * Returns ST_OK, ST_USAGE (unknown level, no head for --level) or ST_DATA
 * (no features, heads or split: the message names the command to run). */
int classify_catalog(const struct classify_request *req, const struct config *cfg,
                     char run_id[96]);

#endif
