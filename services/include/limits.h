/* <limits.h> for HIC guests: gcc's own, without the libc one it would otherwise look for next
 * (there is none: guests are built with -nostdinc). */
#ifndef HIC_LIMITS_H
#define HIC_LIMITS_H
#define _LIBC_LIMITS_H_ 1
#include_next <limits.h>
#endif /* HIC_LIMITS_H */
