/* The adnet command line: one function per verb, each returning a
 * process exit code from common/exitcode.h. */
#ifndef ADNET_CLI_H
#define ADNET_CLI_H

#include <stdbool.h>

/* `adnet init`: make home with adnet.yaml, a validator key and both
 * genesis files; refuse an existing home unless force (which keeps old
 * ledgers under a .bak name rather than deleting them). */
int cmd_init(const char *home, bool force);

/* `adnet status`, `adnet restart NAME`, `adnet stop`: talk to the
 * supervisor of home over its control socket. */
int cmd_status(const char *home, bool json);
int cmd_restart(const char *home, const char *worker);
int cmd_stop(const char *home, bool wait);

#endif
