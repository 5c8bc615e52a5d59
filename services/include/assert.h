/* <assert.h> for HIC guests: a failed assertion prints the expression, file, line and function
 * to the console and ends the sandbox with status 134 (as abort() would; services/runtime/
 * libc/assert.c). NDEBUG turns it off, as in C. Deliberately without an include guard: C lets a
 * file include it again after changing NDEBUG. */
#undef assert
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
__attribute__((noreturn)) void __hic_assert_fail(const char *expr, const char *file, int line, const char *func);
#define assert(e) ((e) ? (void)0 : __hic_assert_fail(#e, __FILE__, __LINE__, __func__))
#endif

#if !defined(__cplusplus) && !defined(static_assert)
#define static_assert _Static_assert
#endif
