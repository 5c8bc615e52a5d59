/* eth_driver 1.2.0: the same source as services/eth_driver (1.1.0), built as the next version of
 * the same module (module.json: name "eth_driver", same uuid). Only the version differs: it is in
 * the names the driver registers (cap://eth/v1.2.0/attach, /control) and in its STATS.
 *
 * The toolchain's rebuild stamp covers services/include, services/runtime and this directory, not
 * ../eth_driver: after changing eth_driver.c or steer.h, `node bin/hic.mjs build` rebuilds 1.1.0
 * only -- touch this file (or delete build/services/eth_driver_v2.stamp) to rebuild 1.2.0 too. */
#define ETH_VERSION_MINOR 2
#include "../eth_driver/eth_driver.c"
