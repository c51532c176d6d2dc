/* json.h - a small, strict JSON (RFC 8259) reader for run metrics.
 *
 * The metrics of a run (/runs/<id>/metrics_json) are a JSON object written by
 * assort itself; the report and `assort runs` read them back through this
 * parser. It is strict on purpose: anything RFC 8259 forbids is refused with
 * the line and column (trailing commas, comments, single quotes, leading
 * zeros, NaN/Infinity, control characters in strings, invalid UTF-8, lone
 * surrogates, duplicate object keys, text after the value, nesting deeper
 * than JSON_MAX_DEPTH).
 */
#ifndef ASSORT_REPORT_JSON_H
#define ASSORT_REPORT_JSON_H

#include <stddef.h>

#define JSON_MAX_DEPTH 256

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

/* A parsed value. Object members keep their order in the text. */
struct json {
    enum json_type type;
    int boolean;          /* JSON_BOOL */
    double number;        /* JSON_NUMBER (strtod of the literal) */
    char *string;         /* JSON_STRING: UTF-8, unescaped, NUL-terminated (may hold \0 as "\u0000") */
    size_t string_bytes;  /* JSON_STRING: length without the terminating NUL */
    size_t count;         /* JSON_ARRAY / JSON_OBJECT: members */
    struct json *items;   /* (count) values */
    char **keys;          /* (count) keys, JSON_OBJECT only */
};

/* Parses text[0..size_bytes) into a malloc'ed tree (*out, free with
 * json_free). On bad input returns ST_DATA with "line L, column C: <what>"
 * (prefix your own context with err_wrap); ST_ERR when out of memory.
 * `what` names the source in messages (e.g. "/runs/X/metrics_json"). */
int json_parse(const char *text, size_t size_bytes, const char *what, struct json **out);

/* Frees a tree from json_parse (NULL is a no-op). */
void json_free(struct json *v);

/* Member `key` of an object, or NULL (not an object, or missing). */
const struct json *json_get(const struct json *obj, const char *key);

/* Follows a dotted path of object keys ("levels.type.test.top1"); a key that
 * itself contains dots cannot be reached this way (use json_get). NULL when
 * any step is missing. */
const struct json *json_path(const struct json *v, const char *dotted);

/* The number at `v`, or `fallback` when v is NULL or not a number. */
double json_number_or(const struct json *v, double fallback);

/* Visits every leaf (null, bool, number, string, empty array/object) with its
 * flattened key: object members joined with '.', array elements as "[i]"
 * (e.g. "levels.type.curves.val_acc[3]"). The key buffer is only valid during
 * the call. A non-zero return from visit stops the walk and is returned. */
typedef int (*json_visit_fn)(const char *key, const struct json *leaf, void *ctx);
int json_flatten(const struct json *v, json_visit_fn visit, void *ctx);

#endif
