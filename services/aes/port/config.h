/* config.h for gnulib's rijndael module: the header gnulib's files include first, which a
 * configure script would write. These files ask nothing of it (their gnulib module description
 * requires only <stdint.h> and C99's restrict), so on HIC, as natively, it is empty. */
