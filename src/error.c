/* error.c -- thread-local error messages, status names, the optional log callback. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#define OC_ERRMSG_MAX 1024

static _Thread_local char g_msg[OC_ERRMSG_MAX];
static oc_log_fn g_log_fn;
static void *g_log_user;

oc_status oc_error(oc_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return st;
}

oc_status oc_error_prefix(oc_status st, const char *fmt, ...)
{
    char prefix[OC_ERRMSG_MAX], old[OC_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_msg, sizeof old);
    size_t lp = strnlen(prefix, sizeof prefix - 1);
    memcpy(g_msg, prefix, lp);
    size_t lo = strnlen(old, sizeof old - 1);
    if (lo > sizeof g_msg - 1 - lp) lo = sizeof g_msg - 1 - lp;
    memcpy(g_msg + lp, old, lo);
    g_msg[lp + lo] = '\0';
    return st;
}

void oc_clear_error(void) { g_msg[0] = '\0'; }

const char *oc_last_error(void) { return g_msg; }

const char *oc_status_name(oc_status s)
{
    switch (s) {
    case OC_OK: return "OC_OK";
    case OC_ERR_INVALID_ARG: return "OC_ERR_INVALID_ARG";
    case OC_ERR_IO: return "OC_ERR_IO";
    case OC_ERR_FORMAT: return "OC_ERR_FORMAT";
    case OC_ERR_UNSUPPORTED: return "OC_ERR_UNSUPPORTED";
    case OC_ERR_SHAPE: return "OC_ERR_SHAPE";
    case OC_ERR_NOMEM: return "OC_ERR_NOMEM";
    case OC_ERR_INTERNAL: return "OC_ERR_INTERNAL";
    }
    return "OC_ERR_UNKNOWN";
}

const char *oc_version(void) { return "0.1.0"; }

void oc_set_log_callback(oc_log_fn fn, void *user)
{
    g_log_fn = fn;
    g_log_user = user;
}

void oc_log(oc_log_level level, const char *fmt, ...)
{
    oc_log_fn fn = g_log_fn;
    if (!fn) return;
    char buf[OC_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fn(level, buf, g_log_user);
}
