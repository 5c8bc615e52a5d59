/* What the C library's files share. Every function here is weak: the library is an archive the
 * build links only as far as a service uses it, and a service that defines a function of the same
 * name itself (a ported library often brings its own strlcpy or qsort) keeps its own, with no
 * duplicate-symbol error. */
#ifndef HIC_LIBC_PRIVATE_H
#define HIC_LIBC_PRIVATE_H

#include "hic/runtime.h"

#define LIBC __attribute__((weak))

#endif
