/* Version 2: adds a read function, a fill function with a new type, and a
   new error code; removes nothing. */
#include <stddef.h>
typedef int acc_status;
#define ACC_SUCCESS 0
#define ACC_ERROR_OUT_OF_HOST_MEMORY -6
#define ACC_ERROR_INVALID_PATTERN -7
typedef struct acc_buffer_st *acc_buffer;
typedef struct acc_pattern { unsigned int size; unsigned char bytes[16]; } acc_pattern;

acc_buffer accCreateBuffer(size_t size, acc_status *status);
acc_status accReleaseBuffer(acc_buffer buffer);
acc_status accWriteBuffer(acc_buffer buffer, const void *src, size_t size);
acc_status accReadBuffer(acc_buffer buffer, void *dst, size_t size);
acc_status accFillBuffer(acc_buffer buffer, const acc_pattern *pattern);
