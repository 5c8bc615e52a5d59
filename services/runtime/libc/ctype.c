/* <ctype.h> in the "C" locale: ASCII classes; every value outside 0..127 (EOF included) is in
 * none of them. */
#include <ctype.h>

#include "libc.h"

LIBC int isdigit(int c) { return c >= '0' && c <= '9'; }
LIBC int islower(int c) { return c >= 'a' && c <= 'z'; }
LIBC int isupper(int c) { return c >= 'A' && c <= 'Z'; }
LIBC int isalpha(int c) { return islower(c) || isupper(c); }
LIBC int isalnum(int c) { return isalpha(c) || isdigit(c); }
LIBC int isxdigit(int c) { return isdigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
LIBC int isblank(int c) { return c == ' ' || c == '\t'; }
LIBC int isspace(int c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
LIBC int iscntrl(int c) { return (c >= 0 && c < 0x20) || c == 0x7f; }
LIBC int isprint(int c) { return c >= 0x20 && c < 0x7f; }
LIBC int isgraph(int c) { return c > 0x20 && c < 0x7f; }
LIBC int ispunct(int c) { return isgraph(c) && !isalnum(c); }
LIBC int tolower(int c) { return isupper(c) ? c - 'A' + 'a' : c; }
LIBC int toupper(int c) { return islower(c) ? c - 'a' + 'A' : c; }
