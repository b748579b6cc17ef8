#include "common/base/reject.h"

#include <stdarg.h>
#include <stdio.h>

int reject(reject_t *r, int err, const char *code, const char *fmt, ...)
{
    if (r) {
        va_list ap;
        r->code = code;
        va_start(ap, fmt);
        vsnprintf(r->message, sizeof(r->message), fmt, ap);
        va_end(ap);
    }
    return err;
}
