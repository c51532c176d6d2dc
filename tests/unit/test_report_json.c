/* test_report_json.c - the strict JSON reader (src/report/json.c) and the
 * config YAML flattening of `assort runs --compare`: values, escapes and
 * UTF-8 against hand-worked expectations, every RFC 8259 violation refused
 * with a line/column, flattening to dotted keys. */
#include <string.h>

#include "report/json.h"
#include "report/runs.h"
#include "testlib.h"
#include "util/status.h"

static struct json *ok(const char *text) {
    struct json *v = NULL;
    int rc = json_parse(text, strlen(text), "t", &v);
    EXPECT(rc == ST_OK, "'%s' should parse: %s", text, err_msg());
    return v;
}

/* Must fail with ST_DATA and a message containing `want`. */
static void bad(const char *text, size_t len, const char *want) {
    struct json *v = NULL;
    err_clear();
    int rc = json_parse(text, len, "t", &v);
    EXPECT(rc == ST_DATA && v == NULL, "'%s' should be refused (rc %d)", text, rc);
    EXPECT(strstr(err_msg(), want) != NULL, "'%s': message '%s' lacks '%s'", text, err_msg(), want);
    json_free(v);
}
#define BAD(text, want) bad(text, strlen(text), want)

struct flat {
    char out[2048];
    size_t used;
};
static int add_leaf(const char *key, const struct json *leaf, void *ctx) {
    struct flat *f = ctx;
    char val[64];
    if (leaf->type == JSON_NUMBER) snprintf(val, sizeof val, "%g", leaf->number);
    else if (leaf->type == JSON_STRING) snprintf(val, sizeof val, "'%s'", leaf->string);
    else if (leaf->type == JSON_ARRAY) snprintf(val, sizeof val, "[]");
    else if (leaf->type == JSON_OBJECT) snprintf(val, sizeof val, "{}");
    else if (leaf->type == JSON_BOOL) snprintf(val, sizeof val, "%s", leaf->boolean ? "T" : "F");
    else snprintf(val, sizeof val, "null");
    f->used += (size_t)snprintf(f->out + f->used, sizeof f->out - f->used, "%s=%s;", key, val);
    return 0;
}

int main(void) {
    /* scalars and numbers */
    struct json *v = ok(" -0.5e+2 ");
    EXPECT(v && v->type == JSON_NUMBER && v->number == -50.0, "number");
    json_free(v);
    v = ok("0");
    EXPECT(v && v->number == 0.0, "zero");
    json_free(v);
    v = ok("1E3");
    EXPECT(v && v->number == 1000.0, "1E3");
    json_free(v);
    v = ok("true");
    EXPECT(v && v->type == JSON_BOOL && v->boolean == 1, "true");
    json_free(v);
    v = ok("null");
    EXPECT(v && v->type == JSON_NULL, "null");
    json_free(v);

    /* strings: escapes, \u (BMP and a surrogate pair), raw UTF-8 kept */
    v = ok("\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00 \xc3\xa9\"");
    EXPECT(v && v->type == JSON_STRING &&
               !strcmp(v->string, "a\"b\\c/d\n\t\xc3\xa9\xf0\x9f\x98\x80 \xc3\xa9"),
           "string escapes: '%s'", v ? v->string : "");
    json_free(v);
    v = ok("\"x\\u0000y\"");
    EXPECT(v && v->string_bytes == 3 && v->string[1] == '\0' && v->string[2] == 'y', "\\u0000 kept");
    json_free(v);

    /* objects and arrays, order kept, lookups */
    v = ok("{\"levels\": {\"type\": {\"test\": {\"top1\": 0.875, \"n\": 48}}}, \"a\": [1, [2, 3], {}],"
           " \"e\": [], \"s\": \"x\", \"b\": false, \"z\": null}");
    EXPECT(v && v->type == JSON_OBJECT && v->count == 6, "object");
    EXPECT(json_number_or(json_path(v, "levels.type.test.top1"), -1) == 0.875, "path");
    EXPECT(json_path(v, "levels.type.val") == NULL, "missing path");
    EXPECT(json_number_or(json_get(v, "s"), -7) == -7, "fallback for a non-number");
    EXPECT(v && !strcmp(v->keys[1], "a") && v->items[1].count == 3, "array member");
    struct flat f = {{0}, 0};
    EXPECT(json_flatten(v, add_leaf, &f) == 0, "flatten");
    EXPECT_STR(f.out, "levels.type.test.top1=0.875;levels.type.test.n=48;a[0]=1;a[1][0]=2;a[1][1]=3;"
                      "a[2]={};e=[];s='x';b=F;z=null;");
    json_free(v);

    /* nesting up to the limit is fine, one more is refused */
    char deep[2 * JSON_MAX_DEPTH + 4];
    for (int i = 0; i < JSON_MAX_DEPTH; i++) deep[i] = '[', deep[2 * JSON_MAX_DEPTH - 1 - i] = ']';
    deep[2 * JSON_MAX_DEPTH] = '\0';
    v = ok(deep);
    json_free(v);
    char deeper[2 * JSON_MAX_DEPTH + 4];
    deeper[0] = '[';
    memcpy(deeper + 1, deep, 2 * JSON_MAX_DEPTH);
    deeper[2 * JSON_MAX_DEPTH + 1] = ']';
    deeper[2 * JSON_MAX_DEPTH + 2] = '\0';
    BAD(deeper, "nesting deeper");

    /* everything RFC 8259 forbids */
    BAD("", "unexpected end");
    BAD("[1,]", "trailing comma in an array");
    BAD("{\"a\":1,}", "trailing comma in an object");
    BAD("{'a':1}", "object key");
    BAD("{\"a\" 1}", "':' expected");
    BAD("[1 2]", "',' or ']'");
    BAD("01", "leading zero");
    BAD("-", "invalid number");
    BAD("1.", "digit expected");
    BAD("1e", "exponent");
    BAD(".5", "invalid value");
    BAD("NaN", "invalid value");
    BAD("Infinity", "invalid value");
    BAD("nul", "invalid literal");
    BAD("tru", "invalid literal");
    BAD("\"abc", "unterminated string");
    BAD("\"a\tb\"", "control character");
    BAD("\"\\x\"", "invalid escape");
    BAD("\"\\u12g4\"", "4 hex digits");
    BAD("\"\\ud800\"", "without a low surrogate");
    BAD("\"\\udc00\"", "lone low surrogate");
    BAD("\"\xc3\x28\"", "invalid UTF-8");
    BAD("\"\xc0\xaf\"", "invalid UTF-8");            /* overlong '/' */
    BAD("\"\xed\xa0\x80\"", "invalid UTF-8");        /* encoded surrogate */
    BAD("{\"a\":1,\"a\":2}", "duplicate object key");
    BAD("{} x", "unexpected text after");
    BAD("[1] // c", "unexpected text after");
    bad("[1,\0 2]", 6, "invalid value");             /* embedded NUL */
    BAD("{\n  \"a\": 1,\n  \"b\": tru\n}", "line 3, column 8");

    /* config YAML flattening (as `assort config` prints it) */
    const char *ya = "run:\n  name: \"\"\n  seed: 42\ntrain:\n  levels: [master, type]\n  split:\n"
                     "    train: 0.8\n    val: 0.1\n  head: linear\nreport:\n  out: \"\"\n";
    char **k = NULL, **val = NULL;
    int n = 0;
    EXPECT(runs_yaml_flatten(ya, &k, &val, &n) == ST_OK, "yaml flatten");
    const char *want_k[] = {"run.name", "run.seed", "train.levels", "train.split.train",
                            "train.split.val", "train.head", "report.out"};
    const char *want_v[] = {"\"\"", "42", "[master, type]", "0.8", "0.1", "linear", "\"\""};
    EXPECT_INT(n, 7);
    for (int i = 0; i < n && i < 7; i++) {
        EXPECT_STR(k[i], want_k[i]);
        EXPECT_STR(val[i], want_v[i]);
    }
    runs_pairs_free(k, val, n);
    return TEST_END();
}
