/* cost.c -- the baseline's cost model; cost.h says what it is and why. */
#include "cost.h"

#include "fixed.h"

/* num / den in Q.8, den > 0 and below 2^120 (cost.h's bounds keep it under 2^112), so the
 * remainder's shift cannot overflow. */
static uint64_t q8_div(md_u128 num, md_u128 den) {
  md_u128 q = md_div_u128(num, den), r = num - q * den;
  md_u128 v = (q << 8) | md_div_u128(r << 8, den);
  return (v >> 64) != 0 ? UINT64_MAX : (uint64_t)v;
}

int md_cost_fit(struct md_cost *m, const struct md_cost_point *p, uint32_t n) {
  if (n == 0 || n > MD_COST_POINTS) return -MD_E_RANGE;
  /* Per point u < 2^24, y < 2^26, t < 2^36, and n <= 2^6: Σu² < 2^54, Σy² < 2^58, Σuy < 2^56,
   * Σut < 2^66, Σyt < 2^68; each product below is under 2^126. */
  md_u128 uu = 0, yy = 0, uy = 0, ut = 0, yt = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (p[i].units > MD_COST_UNITS_MAX || p[i].bytes > MD_COST_BYTES_MAX || p[i].busy_ns > MD_COST_BUSY_MAX) return -MD_E_RANGE;
    md_u128 u = p[i].units, y = p[i].bytes / MD_COST_BLOCK, t = p[i].busy_ns;
    uu += u * u, yy += y * y, uy += u * y, ut += u * t, yt += y * t;
  }
  if (uu == 0) return -MD_E_RANGE;
  /* The normal equations: [uu uy; uy yy] [a b] = [ut yt]. det >= 0 (Cauchy-Schwarz). */
  md_u128 det = uu * yy - uy * uy;
  md_u128 pa = yy * ut, na = uy * yt; /* a = (pa - na) / det */
  md_u128 pb = uu * yt, nb = uy * ut; /* b = (pb - nb) / det */
  if (det != 0 && pa > na && pb > nb) {
    m->per_unit_q8 = q8_div(pa - na, det);
    m->per_block_q8 = q8_div(pb - nb, det);
  } else if (det != 0 && pa <= na && yy != 0) {
    m->per_unit_q8 = 0; /* the units cost nothing beyond their bytes */
    m->per_block_q8 = q8_div(yt, yy);
  } else {
    m->per_unit_q8 = q8_div(ut, uu); /* the bytes tell nothing apart, or cost nothing */
    m->per_block_q8 = 0;
  }
  return MD_OK;
}

uint64_t md_cost_expect(const struct md_cost *m, uint64_t units, uint64_t bytes) {
  md_u128 v = ((md_u128)m->per_unit_q8 * units + (md_u128)m->per_block_q8 * (bytes / MD_COST_BLOCK)) >> 8;
  return (v >> 64) != 0 ? UINT64_MAX : (uint64_t)v;
}
