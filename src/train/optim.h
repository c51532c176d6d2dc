/* optim.h - optimisers and the learning-rate schedule.
 *
 * SGD with (Nesterov) momentum (PyTorch's formulation: v = mu v + g; step
 * g + mu v with Nesterov, v without) with L2 weight decay added to the
 * gradient of weights; AdamW (Loshchilov & Hutter: decoupled decay
 * p -= lr wd p, bias-corrected moments, beta1 = momentum (0.9 when
 * momentum is 0), beta2 0.999, eps 1e-8). Biases
 * are never decayed. State is one or two float buffers the size of the
 * parameters, so a checkpoint stores them as they are.
 */
#ifndef ASSORT_TRAIN_OPTIM_H
#define ASSORT_TRAIN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "head.h"

enum optim_kind { OPTIM_SGD = 0, OPTIM_ADAMW = 1 };

struct optim {
    enum optim_kind kind;
    double momentum;
    int nesterov;
    double weight_decay;
    size_t count;     /* parameters */
    int64_t step;     /* updates applied so far */
    float *m;         /* (count) momentum / first moment */
    float *v;         /* (count) second moment (adamw), NULL for sgd */
};

/* Parses "sgd" / "adamw"; -1 otherwise. */
int optim_kind_parse(const char *name);

/* Allocates zeroed state. ST_ERR when out of memory. */
int optim_init(struct optim *o, enum optim_kind kind, size_t count, double momentum,
               int nesterov, double weight_decay);
void optim_free(struct optim *o);

/* One update of params with the mean gradient grad (count) at learning
 * rate lr. `lay` tells weights from biases (no decay on biases). */
void optim_step(struct optim *o, const struct head_layout *lay, float *params, const float *grad,
                double lr);

/* Learning rate at (0-based) step t of total_steps: linear warm-up from
 * lr/warmup_steps to lr over warmup_steps steps, then cosine decay to 0 at
 * total_steps. */
double lr_at(double lr, int64_t t, int64_t warmup_steps, int64_t total_steps);

#endif
