/* BLAKE2's reference implementation, run as a HIC service: this file is all HIC adds. The
 * library's own self-test -- the main() that vendor/BLAKE2/ref/<variant>-ref.c compiles when
 * built with -D<VARIANT>_SELFTEST (module.json's defines), which checks every known answer of
 * testvectors/blake2-kat.h and prints "ok" or "error" -- is the test; the sandbox's exit status
 * says how it went. Built natively from the same files, the same main() prints the same line
 * (tests/ported-libraries.test.ts compares them). */
int main(void);

int hic_main(void) {
  return main() == 0 ? 0 : 1;
}
