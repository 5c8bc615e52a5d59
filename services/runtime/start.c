/* Entry point of every HIC guest service: the loader jumps to _start with the address of the
 * sandbox's read-only configuration page in RDI (0 when the module declares no configuration;
 * docs/configuration.md). It keeps that address for hic_config() (hic/module.h), runs hic_main,
 * runs the exit hooks and turns hic_main's return value into the sandbox's exit status. */
#include "hic/runtime.h"

const void *hic_config_page;

/* Plain .text on purpose, and the only function of this file (gcc may emit a file's functions in
 * any order): the build links start.o first and `ld -r` concatenates .text in input order, so
 * _start lands at offset 0 of the image's code. */
__attribute__((noreturn)) void _start(const void *config) {
  hic_config_page = config;
  int status = hic_main();
  hic_run_exit_hooks();
  hic_exit(status);
}

/* The table the loader starts the service from. Weak, so a service that implements more of the
 * table (the state-migration entry points) defines its own. */
__attribute__((weak)) const struct hic_service_entry _service_entry = {
    .magic = HIC_SERVICE_ENTRY_MAGIC,
    .abi = HIC_SERVICE_ENTRY_ABI,
    .start = _start,
};
