// The alerts a slow version draws beside the rules a rollback test follows: the 3-sigma rule's
// anomaly (level 4, a P3 that is only logged) and the CPU rule (§5.1 CPU使用率 > 80 %, level 3, a
// P2 for the log, the control stream and the alerts file). Neither is ever audited.

import { expect } from 'vitest';

export const SIDE_RULES: readonly string[] = ['anomaly', 'cpu'];

/** Each side alert among `alerts` (alert records' fields) has its priority and is not audited. */
export function expectSideAlerts(alerts: readonly Readonly<Record<string, unknown>>[]): void {
  for (const a of alerts) {
    if (a.rule === 'anomaly') expect({ priority: a.priority, audit: a.audit }).toEqual({ priority: 'p3', audit: false });
    if (a.rule === 'cpu') expect({ priority: a.priority, audit: a.audit }).toEqual({ priority: 'p2', audit: false });
  }
}
