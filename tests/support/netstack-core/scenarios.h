/* scenarios.h -- the driver's scenarios, one per vitest case (main.c's table). */
#ifndef NSTEST_SCENARIOS_H
#define NSTEST_SCENARIOS_H

void t_arp(void);
void t_icmp(void);
void t_udp(void);
void t_bad_input(void);
void t_crc32(void);
void t_firewall(void); /* t_firewall.c */
void t_handshake(void);
void t_data(void);
void t_dup_ooo(void);
void t_fin_passive(void);
void t_fin_active(void);
void t_rst(void);
void t_dupack(void);
void t_migrate(void);
void t_frozen(void);
void t_slots(void); /* t_slots.c */
/* t_handoff.c: between two builds of the core; scenario_arg names the record's file. */
extern const char *scenario_arg;
void t_handoff_export(void);
void t_handoff_import(void);

#endif /* NSTEST_SCENARIOS_H */
