/* <ctype.h> for HIC guests: character classes of the "C" locale, the only one there is
 * (services/runtime/libc/ctype.c). Arguments are an unsigned char's value or EOF, as in C. */
#ifndef HIC_CTYPE_H
#define HIC_CTYPE_H

int isalnum(int c);
int isalpha(int c);
int isblank(int c);
int iscntrl(int c);
int isdigit(int c);
int isgraph(int c);
int islower(int c);
int isprint(int c);
int ispunct(int c);
int isspace(int c);
int isupper(int c);
int isxdigit(int c);
int tolower(int c);
int toupper(int c);

#endif /* HIC_CTYPE_H */
