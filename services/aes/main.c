/* gnulib's Rijndael (AES) module, run as a HIC service: this file and port/config.h are all HIC
 * adds. gnulib's own test of the module, vendor/gnulib/tests/test-rijndael.c (10,000 chained
 * AES-128 encryptions of a zero block under a zero key, then as many decryptions, against the
 * Rijndael submission's published result), is the test: its main() returns 0 when every block
 * matches and prints what it got otherwise; the sandbox's exit status says how it went. */
int main(int argc, char *argv[]);

int hic_main(void) {
  static char name[] = "test-rijndael";
  static char *argv[] = {name, 0};
  return main(1, argv);
}
