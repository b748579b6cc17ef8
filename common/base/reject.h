/* Why something was refused: a stable machine code (a metrics label and
 * the API's error.code) and one sentence for people. Every rejection in
 * the pipeline fills one; nothing is refused silently. */
#ifndef ADNET_REJECT_H
#define ADNET_REJECT_H

#include <stddef.h>

typedef struct {
    const char *code;   /* static snake_case string: "bad_signature", "overspend", ... */
    char message[256];
} reject_t;

/* Fill r (if non-NULL) with code and a printf-style message; return err
 * (a negative errno), so that `return reject(why, -EINVAL, "expired", ...)`
 * reads as one step. */
int reject(reject_t *r, int err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
