/* netstack 1.3.0: the same source as services/netstack (1.2.0), built as the next version of the
 * same module (module.json: name "netstack", same uuid) with the core's connection record at
 * schema 2 (core/migrate.c): it exports schema 2 and imports schema 2 and 1.2.0's schema 1,
 * converting it. A 1.2.0 instance refuses schema 2 (NS_ERR_VERSION), so a rollback keeps its
 * connections rather than misreading them.
 *
 * The toolchain's rebuild stamp covers services/include, services/runtime and this directory, not
 * ../netstack: after changing netstack.c or core/, `node bin/hic.mjs build` rebuilds 1.2.0 only --
 * touch this file (or delete build/services/netstack_v2.stamp) to rebuild 1.3.0 too. */
#define NS_SCHEMA 2
#include "../netstack/netstack.c"
