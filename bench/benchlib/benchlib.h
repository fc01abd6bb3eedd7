/*
 * benchlib.h: the C API of `cavabench`, the library `cava bench` measures
 * API remoting with. Each function does as little as its benchmark needs,
 * so a forwarded call costs what the remoting adds and nothing else.
 */
#ifndef CAVABENCH_BENCHLIB_H
#define CAVABENCH_BENCHLIB_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int bl_status;

enum bl_status_code {
    BL_SUCCESS = 0,
    BL_ERROR_INVALID_VALUE = -1, /* a size past the reserved buffer */
    BL_ERROR_UNKNOWN = -2,
    BL_ERROR_OUT_OF_MEMORY = -3
};

/* Does nothing: the null call. */
void bl_null(void);

/* Returns a + b + c + d, truncated to int: a call with a few scalars. */
int bl_scalars(int a, long long b, double c, unsigned int d);

/* Adds `value` to a counter; forwarded asynchronously (the application does
 * not wait), so queued calls measure how fast calls pipeline. */
bl_status bl_queue(int value);

/* The counter bl_queue adds to (a synchronous call that drains the queue). */
long long bl_queued_total(void);

/* Allocates the library's buffer of `capacity` bytes and writes every page,
 * so that later copies never fault pages in. Frees an earlier buffer. */
bl_status bl_reserve(size_t capacity);

/* Copies `n` bytes from `src` into the library's buffer (an in buffer). */
bl_status bl_write(const void *src, size_t n);

/* Copies `n` bytes of the library's buffer into `dst` (an out buffer). */
bl_status bl_read(void *dst, size_t n);

/* Host memory for the application's buffers, page-aligned (as an
 * accelerator API's pinned-memory allocator gives); NULL when it fails.
 * Through CAVA it lies in memory the API server shares, so buffers in it
 * are never copied. */
void *bl_alloc(size_t n);
void bl_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
