#include "status.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char err_buf[2048];

int err_set(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    return code;
}

int err_wrap(int code, const char *fmt, ...) {
    char prefix[1024], old[sizeof err_buf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err_buf, sizeof old);
    size_t np = strlen(prefix);
    if (np > sizeof err_buf - 3) np = sizeof err_buf - 3;
    memcpy(err_buf, prefix, np);
    memcpy(err_buf + np, ": ", 2);
    size_t room = sizeof err_buf - np - 3, no = strlen(old);
    if (no > room) no = room;
    memcpy(err_buf + np + 2, old, no);
    err_buf[np + 2 + no] = '\0';
    return code;
}

const char *err_msg(void) { return err_buf; }

void err_clear(void) { err_buf[0] = '\0'; }

const char *status_name(int code) {
    switch (code) {
    case ST_OK: return "ok";
    case ST_ERR: return "failure";
    case ST_USAGE: return "usage or configuration error";
    case ST_DATA: return "bad input data";
    case ST_INTERRUPTED: return "interrupted (checkpoint written; rerun to resume)";
    default: return "unknown status";
    }
}
