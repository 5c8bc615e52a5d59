/* netstack 1.3.0: the same source as services/netstack (1.2.0), built as the next version of the
 * same module (module.json: name "netstack", same uuid) with the core's connection record at
 * schema 2 (core/conn_record.c): it exports schema 2 and imports schema 2 and 1.2.0's schema 1,
 * converting it. A 1.2.0 instance refuses schema 2 (NS_ERR_VERSION), so a rollback keeps its
 * connections rather than misreading them. Its version, protocols (1.3, 1.4) and schema come from
 * this directory's module.json (the build's HIC_MODULE_* macros); the rebuild stamp covers
 * ../netstack, whose source this includes. */
#define NS_SCHEMA 2
#include "../netstack/netstack.c"
