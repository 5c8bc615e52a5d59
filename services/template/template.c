/* template: the starting point for a new service. Copy this directory to services/<name>/,
 * rename the file, and replace the body of hic_main; see README.md. */
#include "hic/module.h"
#include "hic/runtime.h"

/* The loader calls hic_main (through _start in services/runtime/start.c). Its configuration --
 * the fields module.json declares, with the values the image manifest gives -- is a read-only
 * struct, hic_config(); hic/module.h is generated from module.json by the build. The return value
 * becomes the exit status: 0 for success, anything else is reported as a failure. */
int hic_main(void) {
  const struct template_config *config = hic_config();
  hic_log("template: %s", config->greeting == TEMPLATE_GREETING_HELLO ? "hello" : "goodbye");

  /* Syscalls return a value >= 0 on success and -HIC_ERR_* on failure; always check. */
  int64_t before = hic_time_now();
  int64_t r = hic_sleep(config->pause_ns);
  int64_t after = hic_time_now();
  if (before < 0 || r < 0 || after < 0) {
    hic_log("template: time_now or sleep failed: %ld %ld %ld", before, r, after);
    return 1;
  }

  /* A typed result: Core-0 checks it against module.json's declaration and records an event
   * { kind: 'record', type: 'started', fields: { greeting, slept } } -- what tests read. */
  r = template_emit_started(&(struct template_record_started){.greeting = config->greeting, .slept_ns = (uint64_t)(after - before)});
  if (r < 0) {
    hic_log("template: record refused: %ld", r);
    return 1;
  }
  hic_log("template: slept %ld ns", after - before);
  return 0;
}
