/* Version 1 of a small API, for `cava init --update`. */
#include <stddef.h>
typedef int acc_status;
#define ACC_SUCCESS 0
#define ACC_ERROR_OUT_OF_HOST_MEMORY -6
typedef struct acc_buffer_st *acc_buffer;

acc_buffer accCreateBuffer(size_t size, acc_status *status);
acc_status accReleaseBuffer(acc_buffer buffer);
acc_status accWriteBuffer(acc_buffer buffer, const void *src, size_t size);
