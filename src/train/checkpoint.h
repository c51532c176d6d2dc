/* checkpoint.h - the training checkpoint file <catalog>.train.ckpt.h5.
 *
 * A plain (serial) HDF5 file with one group per head name holding the
 * trainer state (params, best, optimiser moments, curves, counters) and a
 * `key` attribute (config hash, head, rows, classes) so that --resume never
 * continues a different experiment. Rank 0 writes: it copies the current
 * file to "<path>.tmp", replaces the head's group, and renames the copy over
 * the file, so a crash leaves the previous epoch's checkpoint intact.
 */
#ifndef ASSORT_TRAIN_CHECKPOINT_H
#define ASSORT_TRAIN_CHECKPOINT_H

#include "train/trainer.h"

/* Saves st under group `head` (rank 0 writes; the status is agreed over
 * ranks). count = parameters, epochs = rows of the curves. Collective. */
int ckpt_save(const char *path, const char *head, const char *key, const struct train_state *st,
              size_t count, int epochs);

/* Loads group `head` into st (allocated by train_state_init for the same
 * shape). ST_USAGE when the file or group is missing or the key differs.
 * Every rank reads. Collective (agreed status). */
int ckpt_load(const char *path, const char *head, const char *key, struct train_state *st,
              size_t count, int epochs);

/* 1 when the checkpoint file exists and holds no state for `head` (a level
 * the interrupted run had not started), else 0 (also when the file is
 * missing or unreadable: ckpt_load then says why). Rank 0 looks; the answer
 * is broadcast. Collective. */
int ckpt_lacks_head(const char *path, const char *head);

#endif
