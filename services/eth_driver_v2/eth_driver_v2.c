/* eth_driver 1.2.0: the same source as services/eth_driver (1.1.0), built as the next version of
 * the same module (module.json: name "eth_driver", same uuid). Only the version differs (the build
 * passes module.json's as HIC_MODULE_VERSION): it is in the names the driver registers
 * (cap://eth/v1.2.0/attach, /control) and in its STATS. The rebuild stamp covers ../eth_driver,
 * whose source this includes. */
#include "../eth_driver/eth_driver.c"
