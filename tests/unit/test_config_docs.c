/* test_config_docs.c - the generated texts cannot drift: configs/default.yaml
 * is exactly `assort config --defaults`, docs/config.md holds exactly the
 * `assort config --markdown` table, default.yaml loads to the default config
 * (same hash), and the demo experiment config loads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/schema.h"
#include "testlib.h"
#include "util/status.h"

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf) buf[n] = '\0';
    fclose(f);
    return buf;
}

static void hash_file(const char *path, char out[17]) {
    struct config *c = NULL;
    strcpy(out, "?");
    int rc = config_load(path, NULL, 0, &c);
    EXPECT(rc == ST_OK, "load %s: %s", path ? path : "defaults", err_msg());
    if (rc == ST_OK) EXPECT_INT(config_hash(c, out), ST_OK);
    config_free(c);
}

int main(void) {
    const char *src = getenv("ASSORT_SRC");
    if (!src || !*src) src = ASSORT_SRC_DIR;
    char path[4096];

    char *want = NULL;
    EXPECT_INT(config_defaults_yaml(&want), ST_OK);
    snprintf(path, sizeof path, "%s/configs/default.yaml", src);
    char *have = read_all(path);
    EXPECT(have != NULL, "read %s", path);
    EXPECT(have && want && !strcmp(have, want),
           "%s differs from `assort config --defaults`; regenerate it with "
           "`build/assort config --defaults > configs/default.yaml`", path);
    free(have);
    free(want);

    char h_def[17], h_file[17];
    hash_file(NULL, h_def);
    hash_file(path, h_file);
    EXPECT_STR(h_file, h_def);

    snprintf(path, sizeof path, "%s/docs/config.md", src);
    char *doc = read_all(path), *table = NULL;
    EXPECT(doc != NULL, "read %s", path);
    EXPECT_INT(config_schema_markdown(&table), ST_OK);
    EXPECT(doc && table && strstr(doc, table) != NULL,
           "%s does not contain the table of `assort config --markdown`; paste it in again", path);
    /* Every key appears in the table (the table is generated, so this checks the generator). */
    for (int i = 0; table && i < cfg_schema_count; i++) {
        char cell[160];
        snprintf(cell, sizeof cell, "| `%s` |", cfg_schema[i].path);
        EXPECT(strstr(table, cell) != NULL, "table row for %s", cfg_schema[i].path);
    }
    free(doc);
    free(table);

    snprintf(path, sizeof path, "%s/configs/experiments/demo.yaml", src);
    char h_demo[17];
    hash_file(path, h_demo);
    EXPECT(strcmp(h_demo, h_def) != 0, "demo config differs from the defaults");
    return TEST_END();
}
