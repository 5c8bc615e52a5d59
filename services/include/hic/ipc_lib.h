/* The ipc_lib library module's interface (services/ipc_lib/). A service that includes this
 * declares "ipc_lib" in its module.json dependencies; the loader resolves these imports to the
 * library's shared, read-execute code. */
#ifndef HIC_IPC_LIB_H
#define HIC_IPC_LIB_H

#include <stddef.h>
#include <stdint.h>

uint32_t ipc_version(void);
uint64_t ipc_checksum(const void *data, size_t len);

#endif /* HIC_IPC_LIB_H */
