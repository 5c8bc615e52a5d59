/* errno: one global for the sandbox (no TLS; docs/guest-sdk.md). */
#include <errno.h>

__attribute__((weak)) int errno; /* weak, as the rest of the library */
