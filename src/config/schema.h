/* schema.h - the one table of configuration keys (schema.c) and what is
 * generated from it: the commented default YAML, the Markdown reference table.
 *
 * Private to src/config and `assort config`; stages read struct config fields.
 */
#ifndef ASSORT_CONFIG_SCHEMA_H
#define ASSORT_CONFIG_SCHEMA_H

#include <stddef.h>

enum cfg_type {
    CFG_BOOL,     /* int field, 0/1; YAML true/false (also yes/no, on/off) */
    CFG_INT,      /* int field */
    CFG_INT64,    /* int64_t field */
    CFG_FLOAT,    /* double field */
    CFG_STRING,   /* char * field, owned by the config */
    CFG_STR_LIST, /* struct str_list field */
    CFG_COLOR     /* int[3] field, RGB 0-255 */
};

struct cfg_key {
    const char *path;     /* dotted: "train.split.train"; sections are contiguous */
    enum cfg_type type;
    size_t offset;        /* offsetof(struct config, ...) */
    const char *def;      /* default as YAML text: "224", "[a, b]", "\"\"" */
    double min, max;      /* inclusive range of numbers (and colour components) */
    const char *allowed;  /* enum-like strings: "pad|crop"; NULL = any */
    const char *doc;      /* one line */
};

extern const struct cfg_key cfg_schema[];
extern const int cfg_schema_count;

/* The key with this exact path, or NULL. */
const struct cfg_key *cfg_schema_find(const char *path);

/* Nonzero when `path` names a section (a proper prefix of some key at a dot:
 * "train", "train.split"). */
int cfg_schema_is_section(const char *path);

/* Writes the known key or section closest to `path` by edit distance
 * (Levenshtein; the first in schema order on ties) into out. */
void cfg_schema_suggest(const char *path, char *out, size_t out_bytes);

/* Type name for messages and docs: "integer", "list of strings", ... */
const char *cfg_type_name(enum cfg_type t);

/* The shortest decimal text that reads back (strtod) as exactly v: "0.001",
 * "10", "1e-07". */
void cfg_format_double(char *out, size_t out_bytes, double v);

/* The schema as a Markdown table (key, type, default, range/allowed, doc),
 * as embedded in docs/config.md. Caller frees *md. */
int config_schema_markdown(char **md);

#endif
