#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/status.h"

int optim_kind_parse(const char *name) {
    if (!name) return -1;
    if (!strcmp(name, "sgd")) return OPTIM_SGD;
    if (!strcmp(name, "adamw")) return OPTIM_ADAMW;
    return -1;
}

int optim_init(struct optim *o, enum optim_kind kind, size_t count, double momentum,
               int nesterov, double weight_decay) {
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->momentum = momentum;
    o->nesterov = nesterov;
    o->weight_decay = weight_decay;
    o->count = count;
    o->m = calloc(count ? count : 1, sizeof(float));
    if (kind == OPTIM_ADAMW) o->v = calloc(count ? count : 1, sizeof(float));
    if (!o->m || (kind == OPTIM_ADAMW && !o->v)) {
        optim_free(o);
        return err_set(ST_ERR, "out of memory for optimiser state (%zu parameters)", count);
    }
    return ST_OK;
}

void optim_free(struct optim *o) {
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

void optim_step(struct optim *o, const struct head_layout *lay, float *params, const float *grad,
                double lr) {
    o->step++;
    if (o->kind == OPTIM_SGD) {
        double mu = o->momentum;
        for (size_t i = 0; i < o->count; i++) {
            double g = grad[i];
            if (o->weight_decay > 0 && head_is_weight(lay, i)) g += o->weight_decay * params[i];
            double v = mu * o->m[i] + g;
            o->m[i] = (float)v;
            double d = o->nesterov ? g + mu * v : v;
            params[i] = (float)(params[i] - lr * d);
        }
        return;
    }
    /* beta1 is train.momentum (0.9 by default), as the config documents */
    const double b1 = o->momentum > 0 && o->momentum < 1 ? o->momentum : 0.9, b2 = 0.999, eps = 1e-8;
    double c1 = 1.0 - pow(b1, (double)o->step), c2 = 1.0 - pow(b2, (double)o->step);
    for (size_t i = 0; i < o->count; i++) {
        double g = grad[i];
        double m = b1 * o->m[i] + (1 - b1) * g;
        double v = b2 * o->v[i] + (1 - b2) * g * g;
        o->m[i] = (float)m;
        o->v[i] = (float)v;
        double p = params[i];
        if (o->weight_decay > 0 && head_is_weight(lay, i)) p -= lr * o->weight_decay * p;
        p -= lr * (m / c1) / (sqrt(v / c2) + eps);
        params[i] = (float)p;
    }
}

double lr_at(double lr, int64_t t, int64_t warmup_steps, int64_t total_steps) {
    if (warmup_steps > 0 && t < warmup_steps) return lr * (double)(t + 1) / (double)warmup_steps;
    int64_t span = total_steps - warmup_steps;
    if (span <= 0) return lr;
    double prog = (double)(t - warmup_steps) / (double)span;
    if (prog > 1) prog = 1;
    return lr * 0.5 * (1.0 + cos(3.141592653589793 * prog));
}
