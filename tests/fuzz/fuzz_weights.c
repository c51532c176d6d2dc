/* fuzz_weights.c - loading an arbitrary file as EfficientNet-Lite weights
 * (src/nn/effnet.h: effnet_load).
 *
 * The input is the whole file, written to a temp file. A successful load
 * must describe a consistent network (checked here against the contract in
 * effnet.h: positive channel counts, weights present, blocks chained); a
 * refusal must return ST_DATA or ST_ERR and leave *out NULL.
 */
#include <stdlib.h>

#include "fuzz_util.h"
#include "nn/effnet.h"
#include "util/status.h"

static void check_conv(const struct effnet_conv *c) {
    if (c->out_ch < 1 || c->kernel < 1 || c->in_ch < 1 || c->stride < 1) abort();
    if (!c->weight || !c->bias) abort();
    /* Touch the last element of each: ASan reports a short buffer. */
    size_t n = (size_t)c->out_ch * (size_t)c->kernel * (size_t)c->kernel * (size_t)c->in_ch;
    volatile float sink = c->weight[n - 1] + c->bias[c->out_ch - 1];
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[600];
    if (fuzz_write_file("in.h5", data, size, path, sizeof path)) return 0;
    struct effnet *net = NULL;
    int rc = effnet_load(path, &net);
    if (rc != ST_OK) {
        if (net) abort();
        if (rc != ST_DATA && rc != ST_ERR) abort();
        return 0;
    }
    check_conv(&net->stem);
    int ch = net->stem.out_ch;
    for (int i = 0; i < net->num_blocks; i++) {
        const struct effnet_block *b = &net->blocks[i];
        if (b->in_ch != ch) abort();
        if (b->expand_ratio != 1) check_conv(&b->expand);
        check_conv(&b->depthwise);
        check_conv(&b->project);
        ch = b->out_ch;
    }
    check_conv(&net->head);
    if (net->head.in_ch != ch) abort();
    check_conv(&net->classifier);
    (void)effnet_macs(net);
    effnet_free(net);
    return 0;
}
