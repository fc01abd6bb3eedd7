/* benchlib.c: the implementation of benchlib.h. */
#define _POSIX_C_SOURCE 200112L
#include "benchlib.h"

#include <stdlib.h>
#include <string.h>

static unsigned char *buffer;
static size_t capacity;

void bl_null(void) {}

static long long queued_total;

bl_status bl_queue(int value) {
    queued_total += value;
    return BL_SUCCESS;
}

long long bl_queued_total(void) {
    return queued_total;
}

int bl_scalars(int a, long long b, double c, unsigned int d) {
    return (int)((double)a + (double)b + c + (double)d);
}

bl_status bl_reserve(size_t n) {
    free(buffer);
    buffer = NULL;
    capacity = 0;
    if (n == 0) {
        return BL_SUCCESS;
    }
    /* page-aligned, as the driver's buffers are (see bench_driver.c) */
    void *mem = NULL;
    if (posix_memalign(&mem, 4096, n) != 0) {
        return BL_ERROR_OUT_OF_MEMORY;
    }
    buffer = mem;
    for (size_t i = 0; i < n; i++) {
        buffer[i] = (unsigned char)(i * 7 + 1);
    }
    capacity = n;
    return BL_SUCCESS;
}

void *bl_alloc(size_t n) {
    void *mem = NULL;
    if (n == 0 || posix_memalign(&mem, 4096, n) != 0) {
        return NULL;
    }
    return mem;
}

void bl_free(void *p) {
    free(p);
}

bl_status bl_write(const void *src, size_t n) {
    if (n > capacity || (src == NULL && n > 0)) {
        return BL_ERROR_INVALID_VALUE;
    }
    memcpy(buffer, src, n);
    return BL_SUCCESS;
}

bl_status bl_read(void *dst, size_t n) {
    if (n > capacity || (dst == NULL && n > 0)) {
        return BL_ERROR_INVALID_VALUE;
    }
    memcpy(dst, buffer, n);
    return BL_SUCCESS;
}
