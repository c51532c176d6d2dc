/* json.c - strict recursive-descent JSON reader (see json.h). */
#include "report/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/status.h"

struct parser {
    const char *s;     /* text */
    size_t n, i;       /* size, position */
    const char *what;  /* source name for messages */
    int depth;
};

/* Line and column (1-based, columns in bytes) of position i. */
static int perr(const struct parser *p, size_t at, const char *msg) {
    size_t line = 1, col = 1;
    for (size_t k = 0; k < at && k < p->n; k++) {
        if (p->s[k] == '\n') line++, col = 1;
        else col++;
    }
    return err_set(ST_DATA, "%s: line %zu, column %zu: %s", p->what, line, col, msg);
}

static void skip_ws(struct parser *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

static int parse_value(struct parser *p, struct json *v);

static int expect_word(struct parser *p, const char *w) {
    size_t len = strlen(w);
    if (p->n - p->i < len || memcmp(p->s + p->i, w, len) != 0)
        return perr(p, p->i, "invalid literal (expected true, false, null, a number, a string, "
                             "an array or an object)");
    p->i += len;
    return ST_OK;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int parse_number(struct parser *p, struct json *v) {
    size_t b = p->i;
    if (p->i < p->n && p->s[p->i] == '-') p->i++;
    if (p->i >= p->n || !is_digit(p->s[p->i])) return perr(p, b, "invalid number");
    if (p->s[p->i] == '0') {
        p->i++;
        if (p->i < p->n && is_digit(p->s[p->i])) return perr(p, b, "number with a leading zero");
    } else {
        while (p->i < p->n && is_digit(p->s[p->i])) p->i++;
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (p->i >= p->n || !is_digit(p->s[p->i])) return perr(p, b, "invalid number (digit expected after '.')");
        while (p->i < p->n && is_digit(p->s[p->i])) p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
        if (p->i >= p->n || !is_digit(p->s[p->i])) return perr(p, b, "invalid number (exponent)");
        while (p->i < p->n && is_digit(p->s[p->i])) p->i++;
    }
    char buf[128];
    size_t len = p->i - b;
    if (len >= sizeof buf) return perr(p, b, "number literal too long");
    memcpy(buf, p->s + b, len);
    buf[len] = '\0';
    v->type = JSON_NUMBER;
    v->number = strtod(buf, NULL);
    return ST_OK;
}

static int hex4(struct parser *p, unsigned *out) {
    if (p->n - p->i < 4) return perr(p, p->i, "truncated \\u escape");
    unsigned x = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i + (size_t)k];
        x <<= 4;
        if (c >= '0' && c <= '9') x |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') x |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') x |= (unsigned)(c - 'A' + 10);
        else return perr(p, p->i, "invalid \\u escape (4 hex digits expected)");
    }
    p->i += 4;
    *out = x;
    return ST_OK;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of a valid UTF-8 sequence at s (n bytes left), 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return 0;
    if (n < len) return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    return len;
}

/* Parses a string literal at p->i (on the opening quote) into a malloc'ed buffer. */
static int parse_string(struct parser *p, char **out, size_t *out_bytes) {
    size_t b = p->i++;
    /* the unescaped text is never longer than the literal */
    size_t end = p->i;
    while (end < p->n && p->s[end] != '"') end += (p->s[end] == '\\' && end + 1 < p->n) ? 2 : 1;
    if (end >= p->n) return perr(p, b, "unterminated string");
    char *o = malloc(end - p->i + 1);
    if (!o) return err_set(ST_ERR, "out of memory parsing JSON");
    size_t k = 0;
    while (p->s[p->i] != '"') {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c < 0x20) {
            free(o);
            return perr(p, p->i, "control character in a string (escape it)");
        }
        if (c != '\\') {
            size_t len = utf8_len((const unsigned char *)p->s + p->i, p->n - p->i);
            if (!len) {
                free(o);
                return perr(p, p->i, "invalid UTF-8 in a string");
            }
            memcpy(o + k, p->s + p->i, len);
            k += len, p->i += len;
            continue;
        }
        p->i++;
        char e = p->s[p->i++];
        switch (e) {
        case '"': o[k++] = '"'; break;
        case '\\': o[k++] = '\\'; break;
        case '/': o[k++] = '/'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            int rc = hex4(p, &cp);
            if (rc == ST_OK && cp >= 0xDC00 && cp <= 0xDFFF) rc = perr(p, p->i - 6, "lone low surrogate");
            if (rc == ST_OK && cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u') {
                    rc = perr(p, p->i - 6, "high surrogate without a low surrogate");
                } else {
                    p->i += 2;
                    rc = hex4(p, &lo);
                    if (rc == ST_OK && (lo < 0xDC00 || lo > 0xDFFF))
                        rc = perr(p, p->i - 6, "high surrogate without a low surrogate");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
            }
            if (rc != ST_OK) {
                free(o);
                return rc;
            }
            k += put_utf8(o + k, cp);
            break;
        }
        default:
            free(o);
            return perr(p, p->i - 2, "invalid escape in a string");
        }
    }
    p->i++;
    o[k] = '\0';
    *out = o;
    *out_bytes = k;
    return ST_OK;
}

/* Appends v to a growing member array. */
static int push(struct json *c, size_t *cap, const struct json *v, char *key) {
    if (c->count == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        struct json *ni = realloc(c->items, nc * sizeof *ni);
        if (!ni) return err_set(ST_ERR, "out of memory parsing JSON");
        c->items = ni;
        if (c->type == JSON_OBJECT) {
            char **nk = realloc(c->keys, nc * sizeof *nk);
            if (!nk) return err_set(ST_ERR, "out of memory parsing JSON");
            c->keys = nk;
        }
        *cap = nc;
    }
    c->items[c->count] = *v;
    if (c->type == JSON_OBJECT) c->keys[c->count] = key;
    c->count++;
    return ST_OK;
}

static void json_clear(struct json *v);

static int parse_container(struct parser *p, struct json *v, int object) {
    size_t cap = 0, open = p->i++;
    v->type = object ? JSON_OBJECT : JSON_ARRAY;
    if (++p->depth > JSON_MAX_DEPTH) return perr(p, open, "nesting deeper than 256 levels");
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == (object ? '}' : ']')) {
        p->i++;
        p->depth--;
        return ST_OK;
    }
    for (;;) {
        char *key = NULL;
        size_t key_bytes = 0;
        struct json item = {0};
        skip_ws(p);
        if (object) {
            if (p->i >= p->n || p->s[p->i] != '"')
                return perr(p, p->i, p->i < p->n && p->s[p->i] == '}'
                                         ? "trailing comma in an object"
                                         : "object key (a string) expected");
            int rc = parse_string(p, &key, &key_bytes);
            if (rc != ST_OK) return rc;
            if (strlen(key) != key_bytes) {
                free(key);
                return perr(p, p->i, "object key contains \\u0000");
            }
            for (size_t k = 0; k < v->count; k++)
                if (!strcmp(v->keys[k], key)) {
                    free(key);
                    return perr(p, p->i, "duplicate object key");
                }
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                free(key);
                return perr(p, p->i, "':' expected after an object key");
            }
            p->i++;
        } else if (p->i < p->n && p->s[p->i] == ']') {
            return perr(p, p->i, "trailing comma in an array");
        }
        int rc = parse_value(p, &item);
        if (rc == ST_OK) rc = push(v, &cap, &item, key);
        if (rc != ST_OK) {
            free(key);
            json_clear(&item);
            return rc;
        }
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == (object ? '}' : ']')) {
            p->i++;
            p->depth--;
            return ST_OK;
        }
        return perr(p, p->i, object ? "',' or '}' expected in an object" : "',' or ']' expected in an array");
    }
}

static int parse_value(struct parser *p, struct json *v) {
    skip_ws(p);
    if (p->i >= p->n) return perr(p, p->i, "unexpected end of input (value expected)");
    char c = p->s[p->i];
    switch (c) {
    case '{': return parse_container(p, v, 1);
    case '[': return parse_container(p, v, 0);
    case '"':
        v->type = JSON_STRING;
        return parse_string(p, &v->string, &v->string_bytes);
    case 't': v->type = JSON_BOOL; v->boolean = 1; return expect_word(p, "true");
    case 'f': v->type = JSON_BOOL; v->boolean = 0; return expect_word(p, "false");
    case 'n': v->type = JSON_NULL; return expect_word(p, "null");
    default:
        if (c == '-' || is_digit(c)) return parse_number(p, v);
        return perr(p, p->i, "invalid value (expected true, false, null, a number, a string, an "
                             "array or an object)");
    }
}

int json_parse(const char *text, size_t size_bytes, const char *what, struct json **out) {
    *out = NULL;
    struct parser p = {text, size_bytes, 0, what ? what : "JSON", 0};
    struct json *v = calloc(1, sizeof *v);
    if (!v) return err_set(ST_ERR, "out of memory parsing JSON");
    int rc = parse_value(&p, v);
    if (rc == ST_OK) {
        skip_ws(&p);
        if (p.i != p.n) rc = perr(&p, p.i, "unexpected text after the JSON value");
    }
    if (rc != ST_OK) {
        json_free(v);
        return rc;
    }
    *out = v;
    return ST_OK;
}

static void json_clear(struct json *v) {
    free(v->string);
    for (size_t k = 0; k < v->count; k++) {
        json_clear(&v->items[k]);
        if (v->keys) free(v->keys[k]);
    }
    free(v->items);
    free(v->keys);
    memset(v, 0, sizeof *v);
}

void json_free(struct json *v) {
    if (!v) return;
    json_clear(v);
    free(v);
}

const struct json *json_get(const struct json *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    for (size_t k = 0; k < obj->count; k++)
        if (!strcmp(obj->keys[k], key)) return &obj->items[k];
    return NULL;
}

const struct json *json_path(const struct json *v, const char *dotted) {
    char key[256];
    const char *s = dotted;
    while (v && *s) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        if (len >= sizeof key) return NULL;
        memcpy(key, s, len);
        key[len] = '\0';
        v = json_get(v, key);
        s += len + (dot ? 1 : 0);
    }
    return v;
}

double json_number_or(const struct json *v, double fallback) {
    return v && v->type == JSON_NUMBER ? v->number : fallback;
}

/* Walks v with the key prefix in *key (grown as needed). */
static int flatten(const struct json *v, char **key, size_t *cap, size_t len, json_visit_fn visit,
                   void *ctx) {
    if ((v->type != JSON_ARRAY && v->type != JSON_OBJECT) || v->count == 0) return visit(*key, v, ctx);
    for (size_t k = 0; k < v->count; k++) {
        char idx[32];
        const char *part = idx;
        if (v->type == JSON_OBJECT) part = v->keys[k];
        else snprintf(idx, sizeof idx, "[%zu]", k);
        size_t need = len + strlen(part) + 2;
        if (need > *cap) {
            size_t nc = need * 2;
            char *nk = realloc(*key, nc);
            if (!nk) return err_set(ST_ERR, "out of memory flattening JSON");
            *key = nk, *cap = nc;
        }
        size_t nl = len;
        if (v->type == JSON_OBJECT && len > 0) (*key)[nl++] = '.';
        strcpy(*key + nl, part);
        nl += strlen(part);
        int rc = flatten(&v->items[k], key, cap, nl, visit, ctx);
        (*key)[len] = '\0';
        if (rc) return rc;
    }
    return ST_OK;
}

int json_flatten(const struct json *v, json_visit_fn visit, void *ctx) {
    size_t cap = 256;
    char *key = calloc(cap, 1);
    if (!key) return err_set(ST_ERR, "out of memory flattening JSON");
    int rc = flatten(v, &key, &cap, 0, visit, ctx);
    free(key);
    return rc;
}
