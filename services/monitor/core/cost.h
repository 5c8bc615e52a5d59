/* cost.h -- what the old version's service time would have been for an interval's work (seed
 * §5.2.1, a baseline to compare against): a cost model fitted to the baseline's intervals.
 *
 * A service's CPU per interval is, to a good approximation, a cost per unit of work (a frame)
 * plus a cost per byte it carries: busy ≈ a·units + b·bytes. The mix of small and large units
 * moves over a run, so the mean time per unit moves with it, while a and b stay put: netstack
 * 1.2.0 serves at 4.25 µs per frame early in rolling-update.himg's traffic and at 5.77 µs late,
 * with a and b the same (docs/monitor.md). Comparing an interval's busy time with the model's
 * prediction for its own units and bytes compares the two versions at the same work.
 *
 * The fit is least squares through the origin on the two regressors, in integers: bytes counted
 * in blocks of 64, coefficients in Q.8 (2^-8 ns). A coefficient that comes out negative is
 * dropped and the other fitted alone; so is b when every interval had the same bytes per unit
 * (the two regressors in proportion: nothing tells them apart). */
#ifndef MD_COST_H
#define MD_COST_H

#include <stdint.h>

#include "md.h"

#define MD_COST_POINTS 64              /* intervals a fit takes at most */
#define MD_COST_UNITS_MAX (1ull << 24)  /* per interval: bounds keep every sum in 128 bits */
#define MD_COST_BYTES_MAX (1ull << 32)
#define MD_COST_BUSY_MAX (1ull << 36)   /* ns: 68 s of CPU in one interval */
#define MD_COST_BLOCK 64                /* bytes are counted in blocks of this many */

/* One interval: units of work (frames), the bytes they carried, the CPU they took (ns). */
struct md_cost_point {
  uint64_t units, bytes, busy_ns;
};

struct md_cost {
  uint64_t per_unit_q8;  /* ns per unit, Q.8 */
  uint64_t per_block_q8; /* ns per MD_COST_BLOCK bytes, Q.8 */
};

/* Fits m to n points. -MD_E_RANGE: n is 0 or above MD_COST_POINTS, a point is past a bound, or no
 * point has a unit (m unchanged). */
int md_cost_fit(struct md_cost *m, const struct md_cost_point *p, uint32_t n);

/* The CPU (ns) the model predicts for that work, saturating at UINT64_MAX. */
uint64_t md_cost_expect(const struct md_cost *m, uint64_t units, uint64_t bytes);

#endif
