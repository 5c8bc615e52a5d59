/* What cap_forger's two source files share. */
#ifndef CAP_FORGER_H
#define CAP_FORGER_H

#include "hic/module.h"
#include "hic/runtime.h"

#define REGISTRY 0 /* slot 0: the service registry, rights R|W */

/* Logs "cap_forger: check <name>: ok" or "... FAIL got X want Y" and counts the failures. */
void check(const char *name, int64_t got, int64_t want);
extern int failures;

/* cascade.c: revocation across two sandboxes (A here, B and C in the holder). */
void cascade_grant(void);
void cascade_hold(void);

#endif
