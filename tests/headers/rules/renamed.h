/* Versioned entry points: the header renames a function with a macro, as
 * cuda.h does (`#define cuMemAlloc cuMemAlloc_v2`). The library exports the
 * new name, so the spec must describe `accAlloc_v2`, not drop it. */
#include <stddef.h>

typedef int acc_status;
typedef struct acc_buffer_st *acc_buffer;

#define accAlloc accAlloc_v2
#define accFree accFree_v2

acc_status accAlloc(acc_buffer *buffer, size_t size);
acc_status accFree(acc_buffer buffer);
acc_status accFlush(void);
