/* fuzz_config.c - the YAML config loader with includes and --set overrides
 * (src/config/config.h).
 *
 * Input: segments separated by NUL bytes:
 *   0: main.yaml   1: a.yaml   2: sub/b.yaml   3..6: --set strings
 * All files live in one private temp dir, so `include: a.yaml`,
 * `include: [a.yaml, sub/b.yaml]` and `include: ../a.yaml` (from sub/b.yaml)
 * resolve there, as do include cycles. A loaded config is also emitted as
 * YAML, hashed, and the emitted YAML must load again to the same hash
 * (round trip: a finding if not).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config.h"
#include "fuzz_util.h"
#include "util/status.h"

enum { MAX_SETS = 4, MAX_SET_BYTES = 512 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *names[3] = {"main.yaml", "a.yaml", "sub/b.yaml"};
    char paths[3][600];
    char *sets[MAX_SETS];
    int n_sets = 0;
    size_t pos = 0;
    const char *dir = fuzz_tmpdir();
    if (!dir) return 0;
    char sub[600];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    mkdir(sub, 0700);
    for (int seg = 0; seg < 3 + MAX_SETS; seg++) {
        const uint8_t *end = pos < size ? memchr(data + pos, 0, size - pos) : NULL;
        size_t len = pos < size ? (end ? (size_t)(end - (data + pos)) : size - pos) : 0;
        if (seg < 3) {
            if (fuzz_write_file(names[seg], data + pos, len, paths[seg], sizeof paths[seg])) return 0;
        } else if (pos < size) {
            if (len > MAX_SET_BYTES) len = MAX_SET_BYTES;
            sets[n_sets] = malloc(len + 1);
            if (!sets[n_sets]) abort();
            memcpy(sets[n_sets], data + pos, len);
            sets[n_sets][len] = '\0';
            n_sets++;
        }
        pos = end ? (size_t)(end - data) + 1 : size;
    }

    struct config *cfg = NULL;
    if (config_load(paths[0], (const char *const *)sets, n_sets, &cfg) == ST_OK) {
        char h1[17], h2[17];
        char *yaml = NULL;
        if (config_hash(cfg, h1) != ST_OK) abort();
        if (config_to_yaml(cfg, &yaml) != ST_OK) abort();
        char again[600];
        if (fuzz_write_file("emitted.yaml", (const uint8_t *)yaml, strlen(yaml), again, sizeof again))
            abort();
        struct config *cfg2 = NULL;
        if (config_load(again, NULL, 0, &cfg2) != ST_OK) {
            fprintf(stderr, "emitted config does not load: %s\n%s\n", err_msg(), yaml);
            abort();
        }
        if (config_hash(cfg2, h2) != ST_OK || strcmp(h1, h2)) {
            fprintf(stderr, "round trip changed the config hash %s -> %s\n%s\n", h1, h2, yaml);
            abort();
        }
        config_free(cfg2);
        free(yaml);
        config_free(cfg);
    } else if (cfg) {
        abort(); /* contract: nothing returned on failure */
    }
    for (int i = 0; i < n_sets; i++) free(sets[i]);
    return 0;
}
