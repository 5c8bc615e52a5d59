/* main.c -- runs one scenario by name (`driver handshake`) and exits 1 if any check failed;
 * `driver --list` prints the names, so the vitest file can tell when the two lists drift. The
 * handoff scenarios take a file (`driver handoff-export FILE`): they run across two binaries. */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "scenarios.h"

static const struct {
  const char *name;
  void (*run)(void);
} SCENARIOS[] = {
    {"arp", t_arp},
    {"icmp", t_icmp},
    {"udp", t_udp},
    {"bad-input", t_bad_input},
    {"crc32", t_crc32},
    {"firewall", t_firewall},
    {"handshake", t_handshake},
    {"data", t_data},
    {"dup-ooo", t_dup_ooo},
    {"fin-passive", t_fin_passive},
    {"fin-active", t_fin_active},
    {"rst", t_rst},
    {"dupack-retransmit", t_dupack},
    {"migrate", t_migrate},
    {"frozen", t_frozen},
    {"slots", t_slots},
    {"handoff-export", t_handoff_export},
    {"handoff-import", t_handoff_import},
};
#define N_SCENARIOS (sizeof SCENARIOS / sizeof SCENARIOS[0])

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (size_t i = 0; i < N_SCENARIOS; i++) puts(SCENARIOS[i].name);
    return 0;
  }
  if (argc == 3) scenario_arg = argv[2];
  for (size_t i = 0; (argc == 2 || argc == 3) && i < N_SCENARIOS; i++) {
    if (strcmp(argv[1], SCENARIOS[i].name) == 0) {
      SCENARIOS[i].run();
      return failures ? 1 : 0;
    }
  }
  fprintf(stderr, "usage: %s --list | <scenario> [file]\n", argv[0]);
  return 2;
}
