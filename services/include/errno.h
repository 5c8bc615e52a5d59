/* <errno.h> for HIC guests. errno is one plain global, not thread-local: there is no TLS in a
 * sandbox (docs/guest-sdk.md). The values are Linux's, so messages read the same natively. */
#ifndef HIC_ERRNO_H
#define HIC_ERRNO_H

extern int errno;

#define EPERM 1
#define ENOENT 2
#define EIO 5
#define EBADF 9
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define EINVAL 22
#define ENOSPC 28
#define EDOM 33
#define ERANGE 34
#define ENOSYS 38
#define EOVERFLOW 75

#endif /* HIC_ERRNO_H */
