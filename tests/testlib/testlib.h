/*
 * testlib.h: the C API of `cavatest`, a made-up accelerator library used to
 * test API remoting generated from a LAPIS spec (testlib.lapis).
 *
 * Everything is deterministic: no call returns or records an address, a
 * time or anything that depends on the process. Every function validates
 * its arguments: a pointer to an object that does not exist (never created,
 * or already released) gives TL_ERROR_INVALID_HANDLE, a bad value gives
 * TL_ERROR_INVALID_VALUE.
 *
 * Objects:
 *   tl_device  one of two built-in devices (tl_get_devices); never released
 *   tl_mem     device memory, created by tl_mem_create
 *   tl_queue   an in-order queue of work; enqueued work runs in
 *              tl_queue_finish (or tl_release_queue), on a library thread
 *   tl_kernel  a built-in kernel, created by tl_create_kernel
 */
#ifndef CAVATEST_TESTLIB_H
#define CAVATEST_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int tl_status;

enum tl_status_code {
    TL_SUCCESS = 0,
    TL_ERROR_INVALID_HANDLE = -1,
    TL_ERROR_INVALID_VALUE = -2,
    TL_ERROR_UNKNOWN = -3,
    TL_ERROR_NOT_SUPPORTED = -4,
    TL_ERROR_MISMATCH = -5,         /* tl_enqueue_expect found another value */
    TL_ERROR_OUT_OF_MEMORY = -6,
    TL_ERROR_BUFFER_TOO_SMALL = -7, /* an output was truncated */
    TL_ERROR_IN_USE = -8            /* a release during a tl_mem_hold or tl_queue_hold */
};

typedef struct tl_device_st *tl_device;
typedef struct tl_queue_st *tl_queue;
typedef struct tl_mem_st *tl_mem;
typedef struct tl_kernel_st *tl_kernel;

typedef enum {
    TL_ROUND_DOWN = 0,
    TL_ROUND_UP = 1,
    TL_ROUND_NEAREST = 2
} tl_round_mode;

/* `param` of tl_get_info */
enum tl_device_info {
    TL_DEVICE_INFO_NAME = 1,     /* char[]: NUL-terminated name */
    TL_DEVICE_INFO_MEM_SIZE = 2, /* uint64_t */
    TL_DEVICE_INFO_UNITS = 3,    /* uint32_t */
    TL_DEVICE_INFO_MAX_DIMS = 4  /* int32_t[3] */
};

/* keys of the zero-terminated property list of
   tl_create_queue_with_properties: key, value, key, value, ..., 0 */
enum tl_queue_property {
    TL_QUEUE_PRIORITY = 1, /* 0 .. 7, default 0 */
    TL_QUEUE_CAPACITY = 2  /* pending commands at most, default 64 */
};

/* ---- callbacks ---- */

/* called synchronously by tl_for_each */
typedef void (*tl_visit_fn)(int value, void *user);
/* called by tl_queue_finish from a library thread once the queue's work has
   run, with the first error of that work (or TL_SUCCESS) */
typedef void (*tl_notify_fn)(tl_queue queue, tl_status status, void *user);
/* called synchronously by tl_reduce; returns the new accumulator */
typedef int (*tl_combine_fn)(int acc, int value, void *user);
/* called synchronously by tl_map, with no pointer of the caller's (like
   qsort's comparator) */
typedef int (*tl_map_fn)(int value);

/* ---- structs ---- */

typedef struct tl_range {
    size_t offset;
    size_t count;
} tl_range;

typedef struct tl_config {
    int32_t mode;        /* 0: sum, 1: max, 2: mean of the window */
    float gain;          /* the window's values are multiplied by gain */
    double bias;         /* and bias is added to the result */
    uint32_t flags;
    int32_t dims[4];
    tl_range window;     /* which of `values` are used */
    const char *label;   /* may be NULL */
    size_t n_values;
    const float *values; /* n_values elements */
} tl_config;

typedef struct tl_result {
    double total;
    int64_t checksum;
    uint32_t n_used;
    char label[32]; /* the config's label, truncated; "(none)" for NULL */
} tl_result;

union tl_value {
    int64_t as_int;
    double as_double;
};

typedef struct tl_variant {
    int32_t kind; /* 0: as_int, 1: as_double */
    union tl_value value;
} tl_variant;

typedef struct tl_device_props {
    char name[32];
    uint64_t mem_size;
    uint32_t units;
    float clock_ghz;
    int32_t max_dims[3];
} tl_device_props;

/* ---- basic: scalars ---- */

int tl_add_int(int a, int b);
unsigned char tl_xor_byte(unsigned char a, unsigned char b);
int64_t tl_mul_i64(int64_t a, int64_t b);
long long tl_negate_ll(long long v);
uint32_t tl_rotl32(uint32_t x, unsigned int n);
short tl_clamp_short(int v);
float tl_scale_float(float x, float factor);
double tl_average3(double a, double b, double c);
/* `align` must be a power of two; returns 0 otherwise */
size_t tl_align_up(size_t n, size_t align);
bool tl_is_even(int64_t v);
tl_status tl_round(double x, tl_round_mode mode, int64_t *out);
/* a process-wide counter */
void tl_counter_add(int delta);
int tl_counter_get(void);

/* ---- handles ---- */

/* Writes up to `capacity` devices and the number of devices. With
   devices == NULL (and any capacity) only counts. Entries past the count
   are set to NULL. */
tl_status tl_get_devices(tl_device *devices, size_t capacity, size_t *count);
tl_status tl_device_get_index(tl_device device, int *index);
/* the number of tl_mem objects alive on the device */
tl_status tl_device_live_mems(tl_device device, size_t *count);
/* size > 0; on failure returns NULL. errcode_ret may be NULL. */
tl_mem tl_mem_create(tl_device device, size_t size, tl_status *errcode_ret);
tl_status tl_mem_get_size(tl_mem mem, size_t *size);
tl_status tl_mem_get_device(tl_mem mem, tl_device *device);
/* the memory is freed when each retain has been released, and the creation */
tl_status tl_mem_retain(tl_mem mem);
tl_status tl_mem_release(tl_mem mem);
/* holds mem for usec microseconds, as a long command on it would; a
   release of its last reference meanwhile frees nothing under the hold
   and fails with TL_ERROR_IN_USE (the library reports the use after free
   instead of making it) */
tl_status tl_mem_hold(tl_mem mem, unsigned int usec);
/* the number of live objects (memory, queues, kernels) of the library, in
   every process that uses it */
size_t tl_live_objects(void);
/* With on != 0, a release that frees a memory object waits, after freeing
   it, until pauses are turned off (at most 10 s). A freed memory object's
   address is given to the next one created, as drivers that recycle their
   objects do: with a pause, a test can create an object at the address of
   one whose release has not returned yet. */
tl_status tl_pause_releases(int on);
tl_status tl_create_queue(tl_device device, tl_queue *queue);
/* runs the queue's pending work (as tl_queue_finish), then destroys it;
   TL_ERROR_IN_USE (and nothing done) during a tl_queue_hold */
tl_status tl_release_queue(tl_queue queue);
/* holds queue for usec microseconds, as a long call on it would */
tl_status tl_queue_hold(tl_queue queue, unsigned int usec);
tl_status tl_devices_total_memory(const tl_device *devices, size_t n, uint64_t *total);

/* ---- buffers ---- */

tl_status tl_sum_ints(const int *values, size_t n, int64_t *sum);
tl_status tl_fill_sequence(int *out, size_t n, int start, int step);
tl_status tl_scale_ints(int *values, size_t n, int factor);
/* out[2i] = a[i], out[2i+1] = b[i]; `out` has 2 * n elements */
tl_status tl_interleave(const int *a, const int *b, size_t n, int *out);
/* copies *count ints */
tl_status tl_copy_ints(int *dst, const int *src, const size_t *count);
tl_status tl_volume(const size_t dims[3], size_t *volume);
/* values may be NULL (then n is ignored, *sum is 0 and *was_null is 1) */
tl_status tl_sum_optional(const int *values, size_t n, int *was_null, int64_t *sum);
/* OpenCL-style query: with value == NULL only *size_ret is written;
   otherwise `size` must be at least the value's size. size_ret may be
   NULL. */
tl_status tl_get_info(tl_device device, int param, size_t size, void *value, size_t *size_ret);

/* ---- strings ---- */

/* a static string, "TL_UNKNOWN_STATUS" for unknown values */
const char *tl_status_string(tl_status status);
/* the same strings through out pointers: *name, and names[i] for each of n
   statuses (TL_ERROR_INVALID_VALUE when an output is NULL) */
tl_status tl_status_name(tl_status status, const char **name);
tl_status tl_status_names(const tl_status *statuses, size_t n, const char **names);
size_t tl_count_char(const char *s, char c);
/* returns TL_SUCCESS without looking at `p` (the spec answers it in the guest) */
tl_status tl_nop_ptr(void *p);
/* the name is copied */
tl_status tl_mem_set_name(tl_mem mem, const char *name);
/* *len is the name's length without the NUL (len may be NULL). With
   buf == NULL only *len is written; a buffer shorter than len + 1 gets a
   truncated name and TL_ERROR_BUFFER_TOO_SMALL. */
tl_status tl_mem_get_name(tl_mem mem, char *buf, size_t size, size_t *len);
/* joins `count` strings with `sep`; truncates with TL_ERROR_BUFFER_TOO_SMALL */
tl_status tl_join_strings(const char **names, size_t count, const char *sep, char *out, size_t out_size);
/* properties: NULL or a zero-terminated list of key/value pairs */
tl_queue tl_create_queue_with_properties(tl_device device, const int64_t *properties, tl_status *errcode_ret);
tl_status tl_queue_get_property(tl_queue queue, int64_t key, int64_t *value);

/* ---- structs ---- */

tl_status tl_range_end(tl_range range, size_t *end);
/* structs returned by value: in registers (16 bytes) and through memory
   (the caller's, 64 bytes); an invalid device gives an all-zero struct */
tl_range tl_range_make(size_t offset, size_t count);
tl_device_props tl_device_props_of(tl_device device);
tl_status tl_sum_ranges(const tl_range *ranges, size_t n, size_t *total);
tl_status tl_apply_config(tl_device device, const tl_config *config, tl_result *result);
tl_status tl_get_device_props(tl_device device, tl_device_props *props);
tl_status tl_variant_make(int32_t kind, double value, tl_variant *out);
tl_status tl_variant_to_double(const tl_variant *variant, double *out);

/* ---- callbacks ---- */

/* calls fn(100 * device index + i * i, user) for i in 0 .. count - 1 */
tl_status tl_for_each(tl_device device, int count, tl_visit_fn fn, void *user);
/* fn (or NULL to clear) is called by each later tl_queue_finish */
tl_status tl_set_notify(tl_queue queue, tl_notify_fn fn, void *user);
/* fn is called once, by the next tl_queue_finish (or the queue's release),
   after the notify callback; then the library forgets it. At most
   TL_MAX_ON_FINISH wait on a queue: one more is TL_ERROR_OUT_OF_MEMORY. */
#define TL_MAX_ON_FINISH 8
tl_status tl_queue_on_finish(tl_queue queue, tl_notify_fn fn, void *user);
/* a queue created with its notify set (as tl_set_notify's; fn may be NULL),
   like an OpenCL context's pfn_notify: the library keeps fn until the
   queue's release. NULL (and *errcode_ret) on failure. */
tl_queue tl_create_queue_notified(tl_device device, tl_notify_fn fn, void *user, tl_status *errcode_ret);
/* tl_set_notify on a queue the library keeps fn for until the queue's
   release (its spec says so: `lifetime(coupled(queue))`) */
tl_status tl_watch_queue(tl_queue queue, tl_notify_fn fn, void *user);
/* values[i] = fn(values[i]) for each i */
tl_status tl_map(int *values, size_t n, tl_map_fn fn);
/* acc = 0; acc = combine(acc, values[i], user) for each i */
tl_status tl_reduce(const int *values, size_t n, tl_combine_fn combine, void *user, int *result);

/* ---- queues: work runs in tl_queue_finish ---- */

/* src is copied before the call returns */
tl_status tl_enqueue_write(tl_queue queue, tl_mem dst, size_t offset, size_t size, const void *src);
/* dst is written when the work runs: read it after tl_queue_finish */
tl_status tl_enqueue_read(tl_queue queue, tl_mem src, size_t offset, size_t size, void *dst);
/* multiplies each int32_t of mem by factor (factor 0 is invalid) */
tl_status tl_enqueue_scale(tl_queue queue, tl_mem mem, int factor);
/* checks that int32_t element `index` of mem is `expected` when it runs;
   an index past the end is invalid at once, a different value makes the
   work fail with TL_ERROR_MISMATCH */
tl_status tl_enqueue_expect(tl_queue queue, tl_mem mem, size_t index, int32_t expected);
tl_status tl_queue_pending(tl_queue queue, size_t *count);
/* TL_DEFAULT_QUEUE is a constant, not an object (like CUDA's default
   streams): *is_default = 1 for it, 0 for a live queue */
#define TL_DEFAULT_QUEUE ((tl_queue)1)
tl_status tl_queue_is_default(tl_queue queue, int *is_default);
/* runs the pending work on a library thread, calls the notify callback
   there, waits for it, and returns the first error of the work */
tl_status tl_queue_finish(tl_queue queue);

/* ---- kernels ---- */

/* built-in kernels, on int32_t elements, i < global_size:
     "fill_i32"   (tl_mem dst, int32_t value)       dst[i] = value
     "axpy_i32"   (int32_t a, tl_mem x, tl_mem y)   y[i] += a * x[i]
     "offset_i32" (tl_mem buf, int64_t delta)       buf[i] += delta */
tl_kernel tl_create_kernel(tl_device device, const char *name, tl_status *errcode_ret);
/* Declares the kernel's arguments before the first launch: argc, which are
   tl_mem objects (bit i of handle_mask) and which other arguments are 8
   bytes wide (bit i of wide_mask; the others are 4 bytes). Must match the
   kernel. */
tl_status tl_kernel_set_signature(tl_kernel kernel, int argc, uint32_t handle_mask, uint32_t wide_mask);
/* tl_create_kernel and tl_kernel_set_signature in one call: NULL (and
   TL_ERROR_INVALID_VALUE) when the signature does not match the kernel */
tl_kernel tl_create_kernel_declared(tl_device device, const char *name, int argc, uint32_t handle_mask, uint32_t wide_mask,
                                    tl_status *errcode_ret);
tl_status tl_release_kernel(tl_kernel kernel);
/* args[i] points to argument i (a tl_mem, or the value); the arguments are
   read before the call returns */
tl_status tl_launch(tl_queue queue, tl_kernel kernel, size_t global_size, void **args);

/* ---- threads: the value is per thread ---- */

tl_status tl_thread_set(int value); /* value >= 0 */
int tl_thread_get(void);            /* -1 before tl_thread_set */

/* ---- zero-copy and lifetimes ---- */

/* Adler-32 of the bytes */
tl_status tl_checksum(const void *data, size_t size, uint32_t *sum);
/* fills the bytes from a xorshift32 generator seeded with `seed` (non-zero) */
tl_status tl_fill_pattern(void *data, size_t size, uint32_t seed);
/* host memory for the application's buffers (like pinned-memory allocators):
   64-byte aligned, NULL for 0 bytes or more than TL_HOST_ALLOC_MAX */
#define TL_HOST_ALLOC_MAX ((size_t)256 << 20)
void *tl_host_alloc(size_t size);
void tl_host_free(void *ptr);
/* the same through an out pointer and a status, as cuMemAllocHost does */
tl_status tl_host_alloc_status(void **ptr, size_t size);
tl_status tl_host_free_status(void *ptr);
/* the library keeps the pointer, not a copy, for the rest of the process */
tl_status tl_set_app_name(const char *name);
tl_status tl_get_app_name(char *buf, size_t size);
/* the library keeps the pointer, not a copy, while the queue lives */
tl_status tl_queue_set_label(tl_queue queue, const char *label);
tl_status tl_queue_get_label(tl_queue queue, char *buf, size_t size);

/* ---- not forwarded ---- */

/* formats into the device's debug log */
tl_status tl_debug_printf(tl_device device, const char *format, ...);
/* returns TL_SUCCESS for value >= 0; deliberately not in testlib.lapis */
tl_status tl_not_in_spec(int value);

#ifdef __cplusplus
}
#endif

#endif /* CAVATEST_TESTLIB_H */
