/* train_catalog.h - `assort train`: heads trained on a catalog's features.
 *
 * Reads /features/<backbone>/{data,valid}, /products/{labels,status} and
 * /categories, makes (or reuses) the split /splits/<finest level>, applies
 * the rare-class rule, trains one head per level data-parallel (trainer.h),
 * checkpoints every epoch to <catalog>.train.ckpt.h5, fits a temperature on
 * validation, evaluates validation and test, and writes in one catalog
 * transaction: /heads/<backbone>-<level>-<head>, /splits/<level> and the run
 * record /runs/<id> (metrics JSON, confusion_<level>, curves_<level>), plus
 * <catalog>.train-<run-id>.json. Documented in docs/training.md.
 */
#ifndef ASSORT_TRAIN_CATALOG_H
#define ASSORT_TRAIN_CATALOG_H

#include "config/config.h"

struct train_request {
    const char *catalog;      /* path of the catalog .h5 */
    const char *level;        /* NULL: cfg->train.levels (all levels when empty) */
    const char *head;         /* NULL: cfg->train.head */
    int resume;               /* continue from <catalog>.train.ckpt.h5 */
    int stop_after;           /* > 0: stop after this many epochs (ST_INTERRUPTED) */
};

/* Runs the whole command. Collective; failures are agreed across ranks
 * (dist_agree) so main prints the message once. Returns ST_OK, ST_USAGE
 * (unknown level/head/optimizer, checkpoint mismatch), ST_DATA (missing
 * features, NaN, too few labelled products), ST_INTERRUPTED or ST_ERR. */
int train_catalog(const struct train_request *req, const struct config *cfg);

#endif
