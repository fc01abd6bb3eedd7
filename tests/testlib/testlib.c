/*
 * testlib.c: the implementation of testlib.h (libcavatest.so.1).
 *
 * Objects are validated before use: every tl_mem, tl_queue and tl_kernel is
 * kept in a table of live objects, so a released or forged pointer is never
 * dereferenced, and each carries a magic number for its kind. The two
 * devices are static.
 */
#define _POSIX_C_SOURCE 200809L

#include "testlib.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TL_MAGIC_DEVICE 0x7444e501u
#define TL_MAGIC_MEM 0x744d454du
#define TL_MAGIC_QUEUE 0x74515545u
#define TL_MAGIC_KERNEL 0x744b524eu

#define TL_N_DEVICES 2
#define TL_DEFAULT_CAPACITY 64

struct tl_device_st {
    uint32_t magic;
    int index;
    const char *name;
    uint64_t mem_size;
    uint32_t units;
    float clock_ghz;
    int32_t max_dims[3];
    /* guarded by g_lock */
    size_t live_mems;
    char debug_log[256];
};

struct tl_mem_st {
    uint32_t magic;
    int refs; /* 1 + the tl_mem_retain calls not yet released */
    tl_device device;
    size_t size;
    unsigned char *bytes;
    char *name;
    int holds; /* tl_mem_hold calls under way; guarded by g_lock */
};

enum tl_cmd_kind {
    TL_CMD_WRITE,
    TL_CMD_READ,
    TL_CMD_SCALE,
    TL_CMD_EXPECT,
    TL_CMD_LAUNCH
};

enum tl_builtin_kernel {
    TL_KERNEL_FILL,
    TL_KERNEL_AXPY,
    TL_KERNEL_OFFSET
};

struct tl_cmd {
    enum tl_cmd_kind kind;
    tl_mem mem;
    size_t offset;
    size_t size;
    unsigned char *data; /* TL_CMD_WRITE: owned copy */
    void *dst;           /* TL_CMD_READ: the caller's buffer */
    int factor;
    size_t index;
    int32_t expected;
    /* TL_CMD_LAUNCH */
    enum tl_builtin_kernel kernel;
    size_t global_size;
    tl_mem mems[3];
    int64_t scalars[3];
    struct tl_cmd *next;
};

struct tl_queue_st {
    uint32_t magic;
    tl_device device;
    int64_t priority;
    int64_t capacity;
    size_t pending;
    struct tl_cmd *head;
    struct tl_cmd *tail;
    tl_notify_fn notify;
    void *notify_user;
    struct tl_once *once; /* in registration order */
    const char *label; /* the caller's pointer, not a copy */
    int holds; /* tl_queue_hold calls under way; guarded by g_lock */
};

/* a callback of tl_queue_on_finish, called once and then freed */
struct tl_once {
    tl_notify_fn fn;
    void *user;
    struct tl_once *next;
};

struct tl_kernel_st {
    uint32_t magic;
    tl_device device;
    enum tl_builtin_kernel id;
    int signature_set;
};

/* ---- global state: the devices, the live objects, the counter ---- */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static struct tl_device_st g_devices[TL_N_DEVICES] = {
    {TL_MAGIC_DEVICE, 0, "tl-device-0", 1ull << 30, 8, 1.5f, {1024, 1024, 64}, 0, ""},
    {TL_MAGIC_DEVICE, 1, "tl-device-1", 1ull << 29, 4, 1.25f, {512, 512, 32}, 0, ""},
};

static void **g_live;
static size_t g_live_n;
static size_t g_live_cap;

static int g_counter;

static const char *g_app_name; /* the caller's pointer, not a copy */

static __thread int t_value = -1;

static int live_add(void *obj)
{
    int ok = 1;
    pthread_mutex_lock(&g_lock);
    if (g_live_n == g_live_cap) {
        size_t cap = g_live_cap ? g_live_cap * 2 : 16;
        void **grown = realloc(g_live, cap * sizeof *grown);
        if (grown == NULL) {
            ok = 0;
        } else {
            g_live = grown;
            g_live_cap = cap;
        }
    }
    if (ok)
        g_live[g_live_n++] = obj;
    pthread_mutex_unlock(&g_lock);
    return ok;
}

/* removes obj if it is live with this magic; returns whether it was */
static int live_remove(void *obj, uint32_t magic)
{
    int found = 0;
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_live_n; i++) {
        if (g_live[i] == obj && *(uint32_t *)obj == magic) {
            g_live[i] = g_live[--g_live_n];
            found = 1;
            break;
        }
    }
    if (g_live_n == 0) {
        free(g_live);
        g_live = NULL;
        g_live_cap = 0;
    }
    pthread_mutex_unlock(&g_lock);
    return found;
}

static int live_has(const void *obj, uint32_t magic)
{
    int found = 0;
    if (obj == NULL)
        return 0;
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_live_n; i++) {
        if (g_live[i] == obj) {
            found = *(const uint32_t *)obj == magic;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return found;
}

static int valid_device(tl_device d)
{
    for (int i = 0; i < TL_N_DEVICES; i++)
        if (d == &g_devices[i])
            return d->magic == TL_MAGIC_DEVICE;
    return 0;
}

static int valid_mem(tl_mem m) { return live_has(m, TL_MAGIC_MEM); }
static int valid_queue(tl_queue q) { return live_has(q, TL_MAGIC_QUEUE); }
static int valid_kernel(tl_kernel k) { return live_has(k, TL_MAGIC_KERNEL); }

static int32_t get_i32(const tl_mem m, size_t i)
{
    int32_t v;
    memcpy(&v, m->bytes + i * sizeof v, sizeof v);
    return v;
}

static void set_i32(tl_mem m, size_t i, int32_t v)
{
    memcpy(m->bytes + i * sizeof v, &v, sizeof v);
}

static size_t n_i32(const tl_mem m) { return m->size / sizeof(int32_t); }

/* no libm: the library links with -lpthread only */
static int out_of_i64(double x) { return x != x || x > 9.0e18 || x < -9.0e18; }

static double floor_d(double x)
{
    double t = (double)(int64_t)x; /* truncates toward zero */
    return t > x ? t - 1.0 : t;
}

static double ceil_d(double x)
{
    double t = (double)(int64_t)x;
    return t < x ? t + 1.0 : t;
}

/* integer arithmetic that wraps like the hardware, without UB */
static int32_t wrap_i32(int64_t v) { return (int32_t)(uint32_t)(uint64_t)v; }

/* ---- basic ---- */

int tl_add_int(int a, int b) { return wrap_i32((int64_t)a + (int64_t)b); }

unsigned char tl_xor_byte(unsigned char a, unsigned char b) { return (unsigned char)(a ^ b); }

int64_t tl_mul_i64(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

long long tl_negate_ll(long long v) { return (long long)(0ull - (unsigned long long)v); }

uint32_t tl_rotl32(uint32_t x, unsigned int n)
{
    n &= 31u;
    return n == 0 ? x : (x << n) | (x >> (32u - n));
}

short tl_clamp_short(int v)
{
    if (v > 32767)
        return 32767;
    if (v < -32768)
        return -32768;
    return (short)v;
}

float tl_scale_float(float x, float factor) { return x * factor; }

double tl_average3(double a, double b, double c) { return (a + b + c) / 3.0; }

size_t tl_align_up(size_t n, size_t align)
{
    if (align == 0 || (align & (align - 1)) != 0)
        return 0;
    return (n + align - 1) & ~(align - 1);
}

bool tl_is_even(int64_t v) { return (v % 2) == 0; }

tl_status tl_round(double x, tl_round_mode mode, int64_t *out)
{
    double r;
    if (out == NULL || out_of_i64(x))
        return TL_ERROR_INVALID_VALUE;
    switch (mode) {
    case TL_ROUND_DOWN:
        r = floor_d(x);
        break;
    case TL_ROUND_UP:
        r = ceil_d(x);
        break;
    case TL_ROUND_NEAREST:
        r = floor_d(x + 0.5);
        break;
    default:
        return TL_ERROR_INVALID_VALUE;
    }
    *out = (int64_t)r;
    return TL_SUCCESS;
}

void tl_counter_add(int delta)
{
    pthread_mutex_lock(&g_lock);
    g_counter = wrap_i32((int64_t)g_counter + delta);
    pthread_mutex_unlock(&g_lock);
}

int tl_counter_get(void)
{
    int v;
    pthread_mutex_lock(&g_lock);
    v = g_counter;
    pthread_mutex_unlock(&g_lock);
    return v;
}

/* ---- handles ---- */

tl_status tl_get_devices(tl_device *devices, size_t capacity, size_t *count)
{
    if (count == NULL)
        return TL_ERROR_INVALID_VALUE;
    if (devices != NULL) {
        for (size_t i = 0; i < capacity; i++)
            devices[i] = i < TL_N_DEVICES ? &g_devices[i] : NULL;
    }
    *count = TL_N_DEVICES;
    return TL_SUCCESS;
}

tl_status tl_device_get_index(tl_device device, int *index)
{
    if (!valid_device(device))
        return TL_ERROR_INVALID_HANDLE;
    if (index == NULL)
        return TL_ERROR_INVALID_VALUE;
    *index = device->index;
    return TL_SUCCESS;
}

tl_status tl_device_live_mems(tl_device device, size_t *count)
{
    if (!valid_device(device))
        return TL_ERROR_INVALID_HANDLE;
    if (count == NULL)
        return TL_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_lock);
    *count = device->live_mems;
    pthread_mutex_unlock(&g_lock);
    return TL_SUCCESS;
}

static tl_mem mem_fail(tl_status *errcode_ret, tl_status status)
{
    if (errcode_ret != NULL)
        *errcode_ret = status;
    return NULL;
}

/* tl_pause_releases: guarded by g_lock */
static int g_pause_releases;
static pthread_cond_t g_releases_resumed = PTHREAD_COND_INITIALIZER;
/* the last freed memory object, which the next tl_mem_create reuses */
static struct tl_mem_st *g_recycled;

tl_status tl_pause_releases(int on)
{
    pthread_mutex_lock(&g_lock);
    g_pause_releases = on != 0;
    pthread_cond_broadcast(&g_releases_resumed);
    pthread_mutex_unlock(&g_lock);
    return TL_SUCCESS;
}

static tl_mem take_recycled(void)
{
    tl_mem m;
    pthread_mutex_lock(&g_lock);
    m = g_recycled;
    g_recycled = NULL;
    pthread_mutex_unlock(&g_lock);
    if (m != NULL)
        memset(m, 0, sizeof *m);
    return m;
}

/* Keeps a freed memory object for the next creation, then waits while
   releases are paused. */
static void recycle(tl_mem mem)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&g_lock);
    free(g_recycled);
    g_recycled = mem;
    while (g_pause_releases && pthread_cond_timedwait(&g_releases_resumed, &g_lock, &until) == 0)
        ;
    pthread_mutex_unlock(&g_lock);
}

tl_mem tl_mem_create(tl_device device, size_t size, tl_status *errcode_ret)
{
    tl_mem m;
    if (!valid_device(device))
        return mem_fail(errcode_ret, TL_ERROR_INVALID_HANDLE);
    if (size == 0 || size > device->mem_size)
        return mem_fail(errcode_ret, TL_ERROR_INVALID_VALUE);
    m = take_recycled();
    if (m == NULL)
        m = calloc(1, sizeof *m);
    if (m == NULL)
        return mem_fail(errcode_ret, TL_ERROR_OUT_OF_MEMORY);
    m->bytes = calloc(size, 1);
    if (m->bytes == NULL) {
        free(m);
        return mem_fail(errcode_ret, TL_ERROR_OUT_OF_MEMORY);
    }
    m->magic = TL_MAGIC_MEM;
    m->refs = 1;
    m->device = device;
    m->size = size;
    if (!live_add(m)) {
        free(m->bytes);
        free(m);
        return mem_fail(errcode_ret, TL_ERROR_OUT_OF_MEMORY);
    }
    pthread_mutex_lock(&g_lock);
    device->live_mems++;
    pthread_mutex_unlock(&g_lock);
    if (errcode_ret != NULL)
        *errcode_ret = TL_SUCCESS;
    return m;
}

tl_status tl_mem_get_size(tl_mem mem, size_t *size)
{
    if (!valid_mem(mem))
        return TL_ERROR_INVALID_HANDLE;
    if (size == NULL)
        return TL_ERROR_INVALID_VALUE;
    *size = mem->size;
    return TL_SUCCESS;
}

tl_status tl_mem_get_device(tl_mem mem, tl_device *device)
{
    if (!valid_mem(mem))
        return TL_ERROR_INVALID_HANDLE;
    if (device == NULL)
        return TL_ERROR_INVALID_VALUE;
    *device = mem->device;
    return TL_SUCCESS;
}

tl_status tl_mem_retain(tl_mem mem)
{
    if (!valid_mem(mem))
        return TL_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&g_lock);
    mem->refs++;
    pthread_mutex_unlock(&g_lock);
    return TL_SUCCESS;
}

size_t tl_live_objects(void)
{
    size_t n;
    pthread_mutex_lock(&g_lock);
    n = g_live_n;
    pthread_mutex_unlock(&g_lock);
    return n;
}

tl_status tl_mem_release(tl_mem mem)
{
    int last;
    if (!valid_mem(mem))
        return TL_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&g_lock);
    if (mem->refs == 1 && mem->holds > 0) {
        pthread_mutex_unlock(&g_lock);
        return TL_ERROR_IN_USE;
    }
    last = --mem->refs == 0;
    pthread_mutex_unlock(&g_lock);
    if (!last)
        return TL_SUCCESS;
    if (!live_remove(mem, TL_MAGIC_MEM))
        return TL_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&g_lock);
    mem->device->live_mems--;
    pthread_mutex_unlock(&g_lock);
    mem->magic = 0;
    free(mem->bytes);
    free(mem->name);
    recycle(mem);
    return TL_SUCCESS;
}

/* Holds a live object of `magic` for usec microseconds, counted in the
   `int` that `holds` finds in it: found and counted at once, so that a
   release cannot free it in between; a release of the object meanwhile
   sees the count (TL_ERROR_IN_USE). */
static tl_status hold(void *object, uint32_t magic, int *(*holds)(void *), unsigned int usec)
{
    struct timespec pause = {(time_t)(usec / 1000000), (long)(usec % 1000000) * 1000};
    int found = 0;
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_live_n && object != NULL; i++) {
        if (g_live[i] == object) {
            found = *(const uint32_t *)object == magic;
            break;
        }
    }
    if (found)
        (*holds(object))++;
    pthread_mutex_unlock(&g_lock);
    if (!found)
        return TL_ERROR_INVALID_HANDLE;
    nanosleep(&pause, NULL);
    pthread_mutex_lock(&g_lock);
    (*holds(object))--;
    pthread_mutex_unlock(&g_lock);
    return TL_SUCCESS;
}

static int *mem_holds(void *mem) { return &((tl_mem)mem)->holds; }
static int *queue_holds(void *queue) { return &((tl_queue)queue)->holds; }

tl_status tl_mem_hold(tl_mem mem, unsigned int usec) { return hold(mem, TL_MAGIC_MEM, mem_holds, usec); }

tl_status tl_queue_hold(tl_queue queue, unsigned int usec) { return hold(queue, TL_MAGIC_QUEUE, queue_holds, usec); }

static tl_queue queue_new(tl_device device, int64_t priority, int64_t capacity)
{
    tl_queue q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->magic = TL_MAGIC_QUEUE;
    q->device = device;
    q->priority = priority;
    q->capacity = capacity;
    if (!live_add(q)) {
        free(q);
        return NULL;
    }
    return q;
}

tl_status tl_create_queue(tl_device device, tl_queue *queue)
{
    tl_queue q;
    if (!valid_device(device))
        return TL_ERROR_INVALID_HANDLE;
    if (queue == NULL)
        return TL_ERROR_INVALID_VALUE;
    q = queue_new(device, 0, TL_DEFAULT_CAPACITY);
    if (q == NULL)
        return TL_ERROR_OUT_OF_MEMORY;
    *queue = q;
    return TL_SUCCESS;
}

static tl_status queue_run(tl_queue q);

tl_status tl_release_queue(tl_queue queue)
{
    tl_status status;
    int held;
    if (!valid_queue(queue))
        return TL_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&g_lock);
    held = queue->holds > 0;
    pthread_mutex_unlock(&g_lock);
    if (held)
        return TL_ERROR_IN_USE;
    status = queue_run(queue);
    if (!live_remove(queue, TL_MAGIC_QUEUE))
        return TL_ERROR_INVALID_HANDLE;
    queue->magic = 0;
    free(queue);
    return status;
}

tl_status tl_devices_total_memory(const tl_device *devices, size_t n, uint64_t *total)
{
    uint64_t sum = 0;
    if ((devices == NULL && n > 0) || total == NULL)
        return TL_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < n; i++) {
        if (!valid_device(devices[i]))
            return TL_ERROR_INVALID_HANDLE;
        sum += devices[i]->mem_size;
    }
    *total = sum;
    return TL_SUCCESS;
}

/* ---- buffers ---- */

tl_status tl_sum_ints(const int *values, size_t n, int64_t *sum)
{
    int64_t s = 0;
    if ((values == NULL && n > 0) || sum == NULL)
        return TL_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < n; i++)
        s += values[i];
    *sum = s;
    return TL_SUCCESS;
}

tl_status tl_fill_sequence(int *out, size_t n, int start, int step)
{
    if (out == NULL && n > 0)
        return TL_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < n; i++)
        out[i] = wrap_i32((int64_t)start + (int64_t)i * step);
    return TL_SUCCESS;
}

tl_status tl_scale_ints(int *values, size_t n, int factor)
{
    if (values == NULL && n > 0)
        return TL_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < n; i++)
        values[i] = wrap_i32((int64_t)values[i] * factor);
    return TL_SUCCESS;
}

tl_status tl_interleave(const int *a, const int *b, size_t n, int *out)
{
    if (n > 0 && (a == NULL || b == NULL || out == NULL))
        return TL_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = a[i];
        out[2 * i + 1] = b[i];
    }
    return TL_SUCCESS;
}

tl_status tl_copy_ints(int *dst, const int *src, const size_t *count)
{
    if (count == NULL || (*count > 0 && (dst == NULL || src == NULL)))
        return TL_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < *count; i++)
        dst[i] = src[i];
    return TL_SUCCESS;
}

tl_status tl_volume(const size_t dims[3], size_t *volume)
{
    if (dims == NULL || volume == NULL)
        return TL_ERROR_INVALID_VALUE;
    *volume = dims[0] * dims[1] * dims[2];
    return TL_SUCCESS;
}

tl_status tl_sum_optional(const int *values, size_t n, int *was_null, int64_t *sum)
{
    if (was_null == NULL || sum == NULL)
        return TL_ERROR_INVALID_VALUE;
    *was_null = values == NULL;
    *sum = 0;
    if (values != NULL)
        return tl_sum_ints(values, n, sum);
    return TL_SUCCESS;
}

tl_status tl_get_info(tl_device device, int param, size_t size, void *value, size_t *size_ret)
{
    const void *src;
    size_t needed;
    uint32_t units;
    if (!valid_device(device))
        return TL_ERROR_INVALID_HANDLE;
    switch (param) {
    case TL_DEVICE_INFO_NAME:
        src = device->name;
        needed = strlen(device->name) + 1;
        break;
    case TL_DEVICE_INFO_MEM_SIZE:
        src = &device->mem_size;
        needed = sizeof device->mem_size;
        break;
    case TL_DEVICE_INFO_UNITS:
        units = device->units;
        src = &units;
        needed = sizeof units;
        break;
    case TL_DEVICE_INFO_MAX_DIMS:
        src = device->max_dims;
        needed = sizeof device->max_dims;
        break;
    default:
        return TL_ERROR_INVALID_VALUE;
    }
    if (value != NULL) {
        if (size < needed)
            return TL_ERROR_INVALID_VALUE;
        memcpy(value, src, needed);
    }
    if (size_ret != NULL)
        *size_ret = needed;
    return TL_SUCCESS;
}

/* ---- strings ---- */

const char *tl_status_string(tl_status status)
{
    switch (status) {
    case TL_SUCCESS:
        return "TL_SUCCESS";
    case TL_ERROR_INVALID_HANDLE:
        return "TL_ERROR_INVALID_HANDLE";
    case TL_ERROR_INVALID_VALUE:
        return "TL_ERROR_INVALID_VALUE";
    case TL_ERROR_UNKNOWN:
        return "TL_ERROR_UNKNOWN";
    case TL_ERROR_NOT_SUPPORTED:
        return "TL_ERROR_NOT_SUPPORTED";
    case TL_ERROR_MISMATCH:
        return "TL_ERROR_MISMATCH";
    case TL_ERROR_OUT_OF_MEMORY:
        return "TL_ERROR_OUT_OF_MEMORY";
    case TL_ERROR_BUFFER_TOO_SMALL:
        return "TL_ERROR_BUFFER_TOO_SMALL";
    case TL_ERROR_IN_USE:
        return "TL_ERROR_IN_USE";
    default:
        return "TL_UNKNOWN_STATUS";
    }
}

tl_status tl_status_name(tl_status status, const char **name)
{
    if (!name)
        return TL_ERROR_INVALID_VALUE;
    *name = tl_status_string(status);
    return TL_SUCCESS;
}

tl_status tl_status_names(const tl_status *statuses, size_t n, const char **names)
{
    if (n > 0 && (!statuses || !names))
        return TL_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < n; i++)
        names[i] = tl_status_string(statuses[i]);
    return TL_SUCCESS;
}

size_t tl_count_char(const char *s, char c)
{
    size_t n = 0;
    if (s == NULL)
        return 0;
    for (; *s != '\0'; s++)
        if (*s == c)
            n++;
    return n;
}

tl_status tl_mem_set_name(tl_mem mem, const char *name)
{
    char *copy;
    size_t len;
    if (!valid_mem(mem))
        return TL_ERROR_INVALID_HANDLE;
    if (name == NULL)
        return TL_ERROR_INVALID_VALUE;
    len = strlen(name);
    copy = malloc(len + 1);
    if (copy == NULL)
        return TL_ERROR_OUT_OF_MEMORY;
    memcpy(copy, name, len + 1);
    free(mem->name);
    mem->name = copy;
    return TL_SUCCESS;
}

/* copies s into buf of size bytes, NUL-terminated, truncating */
static tl_status copy_out_string(const char *s, char *buf, size_t size)
{
    size_t len = strlen(s);
    if (buf == NULL || size == 0)
        return TL_ERROR_INVALID_VALUE;
    if (len + 1 > size) {
        memcpy(buf, s, size - 1);
        buf[size - 1] = '\0';
        return TL_ERROR_BUFFER_TOO_SMALL;
    }
    memcpy(buf, s, len + 1);
    return TL_SUCCESS;
}

tl_status tl_mem_get_name(tl_mem mem, char *buf, size_t size, size_t *len)
{
    const char *name;
    if (!valid_mem(mem))
        return TL_ERROR_INVALID_HANDLE;
    name = mem->name != NULL ? mem->name : "";
    if (len != NULL)
        *len = strlen(name);
    if (buf == NULL)
        return len != NULL ? TL_SUCCESS : TL_ERROR_INVALID_VALUE;
    return copy_out_string(name, buf, size);
}

tl_status tl_join_strings(const char **names, size_t count, const char *sep, char *out, size_t out_size)
{
    size_t used = 0;
    tl_status status = TL_SUCCESS;
    if ((names == NULL && count > 0) || sep == NULL || out == NULL || out_size == 0)
        return TL_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < count; i++)
        if (names[i] == NULL)
            return TL_ERROR_INVALID_VALUE;
    out[0] = '\0';
    for (size_t i = 0; i < count && status == TL_SUCCESS; i++) {
        const char *parts[2] = {i > 0 ? sep : "", names[i]};
        for (int p = 0; p < 2 && status == TL_SUCCESS; p++) {
            size_t len = strlen(parts[p]);
            if (used + len + 1 > out_size) {
                len = out_size - 1 - used;
                status = TL_ERROR_BUFFER_TOO_SMALL;
            }
            memcpy(out + used, parts[p], len);
            used += len;
            out[used] = '\0';
        }
    }
    return status;
}

static tl_queue queue_fail(tl_status *errcode_ret, tl_status status)
{
    if (errcode_ret != NULL)
        *errcode_ret = status;
    return NULL;
}

tl_queue tl_create_queue_with_properties(tl_device device, const int64_t *properties, tl_status *errcode_ret)
{
    int64_t priority = 0;
    int64_t capacity = TL_DEFAULT_CAPACITY;
    tl_queue q;
    if (!valid_device(device))
        return queue_fail(errcode_ret, TL_ERROR_INVALID_HANDLE);
    for (const int64_t *p = properties; p != NULL && p[0] != 0; p += 2) {
        switch (p[0]) {
        case TL_QUEUE_PRIORITY:
            if (p[1] < 0 || p[1] > 7)
                return queue_fail(errcode_ret, TL_ERROR_INVALID_VALUE);
            priority = p[1];
            break;
        case TL_QUEUE_CAPACITY:
            if (p[1] <= 0)
                return queue_fail(errcode_ret, TL_ERROR_INVALID_VALUE);
            capacity = p[1];
            break;
        default:
            return queue_fail(errcode_ret, TL_ERROR_INVALID_VALUE);
        }
    }
    q = queue_new(device, priority, capacity);
    if (q == NULL)
        return queue_fail(errcode_ret, TL_ERROR_OUT_OF_MEMORY);
    if (errcode_ret != NULL)
        *errcode_ret = TL_SUCCESS;
    return q;
}

tl_status tl_queue_get_property(tl_queue queue, int64_t key, int64_t *value)
{
    if (!valid_queue(queue))
        return TL_ERROR_INVALID_HANDLE;
    if (value == NULL)
        return TL_ERROR_INVALID_VALUE;
    switch (key) {
    case TL_QUEUE_PRIORITY:
        *value = queue->priority;
        return TL_SUCCESS;
    case TL_QUEUE_CAPACITY:
        *value = queue->capacity;
        return TL_SUCCESS;
    default:
        return TL_ERROR_INVALID_VALUE;
    }
}

/* ---- structs ---- */

tl_status tl_nop_ptr(void *p)
{
    (void)p;
    return TL_SUCCESS;
}

tl_range tl_range_make(size_t offset, size_t count)
{
    tl_range r;
    r.offset = offset;
    r.count = count;
    return r;
}

tl_device_props tl_device_props_of(tl_device device)
{
    tl_device_props props;
    memset(&props, 0, sizeof props);
    if (valid_device(device))
        tl_get_device_props(device, &props);
    return props;
}

tl_status tl_range_end(tl_range range, size_t *end)
{
    if (end == NULL || range.offset + range.count < range.offset)
        return TL_ERROR_INVALID_VALUE;
    *end = range.offset + range.count;
    return TL_SUCCESS;
}

tl_status tl_sum_ranges(const tl_range *ranges, size_t n, size_t *total)
{
    size_t sum = 0;
    if ((ranges == NULL && n > 0) || total == NULL)
        return TL_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < n; i++)
        sum += ranges[i].count;
    *total = sum;
    return TL_SUCCESS;
}

tl_status tl_apply_config(tl_device device, const tl_config *config, tl_result *result)
{
    double acc = 0.0;
    int64_t checksum = 0;
    const tl_range *w;
    if (!valid_device(device))
        return TL_ERROR_INVALID_HANDLE;
    if (config == NULL || result == NULL)
        return TL_ERROR_INVALID_VALUE;
    w = &config->window;
    if (config->mode < 0 || config->mode > 2)
        return TL_ERROR_INVALID_VALUE;
    if (config->n_values > 0 && config->values == NULL)
        return TL_ERROR_INVALID_VALUE;
    if (w->offset > config->n_values || w->count > config->n_values - w->offset)
        return TL_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < w->count; i++) {
        double v = (double)config->values[w->offset + i] * (double)config->gain;
        if (config->mode == 1)
            acc = (i == 0 || v > acc) ? v : acc;
        else
            acc += v;
    }
    if (config->mode == 2 && w->count > 0)
        acc /= (double)w->count;
    for (int i = 0; i < 4; i++)
        checksum += (int64_t)config->dims[i] * (i + 1);
    checksum += (int64_t)(w->offset * 31 + w->count) + config->flags;
    memset(result, 0, sizeof *result);
    result->total = acc + config->bias;
    result->checksum = checksum;
    result->n_used = (uint32_t)w->count;
    snprintf(result->label, sizeof result->label, "%s", config->label != NULL ? config->label : "(none)");
    return TL_SUCCESS;
}

tl_status tl_get_device_props(tl_device device, tl_device_props *props)
{
    if (!valid_device(device))
        return TL_ERROR_INVALID_HANDLE;
    if (props == NULL)
        return TL_ERROR_INVALID_VALUE;
    memset(props, 0, sizeof *props);
    snprintf(props->name, sizeof props->name, "%s", device->name);
    props->mem_size = device->mem_size;
    props->units = device->units;
    props->clock_ghz = device->clock_ghz;
    memcpy(props->max_dims, device->max_dims, sizeof props->max_dims);
    return TL_SUCCESS;
}

tl_status tl_variant_make(int32_t kind, double value, tl_variant *out)
{
    if (out == NULL)
        return TL_ERROR_INVALID_VALUE;
    memset(out, 0, sizeof *out);
    out->kind = kind;
    if (kind == 0) {
        if (out_of_i64(value))
            return TL_ERROR_INVALID_VALUE;
        out->value.as_int = (int64_t)value;
    } else if (kind == 1) {
        out->value.as_double = value;
    } else {
        return TL_ERROR_INVALID_VALUE;
    }
    return TL_SUCCESS;
}

tl_status tl_variant_to_double(const tl_variant *variant, double *out)
{
    if (variant == NULL || out == NULL)
        return TL_ERROR_INVALID_VALUE;
    if (variant->kind == 0)
        *out = (double)variant->value.as_int;
    else if (variant->kind == 1)
        *out = variant->value.as_double;
    else
        return TL_ERROR_INVALID_VALUE;
    return TL_SUCCESS;
}

/* ---- callbacks ---- */

tl_status tl_for_each(tl_device device, int count, tl_visit_fn fn, void *user)
{
    if (!valid_device(device))
        return TL_ERROR_INVALID_HANDLE;
    if (count < 0 || fn == NULL)
        return TL_ERROR_INVALID_VALUE;
    for (int i = 0; i < count; i++)
        fn(100 * device->index + i * i, user);
    return TL_SUCCESS;
}

tl_status tl_set_notify(tl_queue queue, tl_notify_fn fn, void *user)
{
    if (!valid_queue(queue))
        return TL_ERROR_INVALID_HANDLE;
    queue->notify = fn;
    queue->notify_user = fn != NULL ? user : NULL;
    return TL_SUCCESS;
}

tl_status tl_watch_queue(tl_queue queue, tl_notify_fn fn, void *user)
{
    return tl_set_notify(queue, fn, user);
}

tl_queue tl_create_queue_notified(tl_device device, tl_notify_fn fn, void *user, tl_status *errcode_ret)
{
    tl_queue q;
    tl_status status = TL_SUCCESS;
    if (!valid_device(device))
        status = TL_ERROR_INVALID_HANDLE;
    q = status == TL_SUCCESS ? queue_new(device, 0, TL_DEFAULT_CAPACITY) : NULL;
    if (status == TL_SUCCESS && q == NULL)
        status = TL_ERROR_OUT_OF_MEMORY;
    if (q != NULL) {
        q->notify = fn;
        q->notify_user = fn != NULL ? user : NULL;
    }
    if (errcode_ret != NULL)
        *errcode_ret = status;
    return q;
}

tl_status tl_queue_on_finish(tl_queue queue, tl_notify_fn fn, void *user)
{
    struct tl_once *once, **last;
    int n;
    if (!valid_queue(queue))
        return TL_ERROR_INVALID_HANDLE;
    if (fn == NULL)
        return TL_ERROR_INVALID_VALUE;
    for (last = &queue->once, n = 0; *last != NULL; last = &(*last)->next)
        n++;
    if (n == TL_MAX_ON_FINISH)
        return TL_ERROR_OUT_OF_MEMORY;
    once = calloc(1, sizeof *once);
    if (once == NULL)
        return TL_ERROR_OUT_OF_MEMORY;
    once->fn = fn;
    once->user = user;
    *last = once;
    return TL_SUCCESS;
}

tl_status tl_reduce(const int *values, size_t n, tl_combine_fn combine, void *user, int *result)
{
    int acc = 0;
    if ((values == NULL && n > 0) || combine == NULL || result == NULL)
        return TL_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < n; i++)
        acc = combine(acc, values[i], user);
    *result = acc;
    return TL_SUCCESS;
}

tl_status tl_map(int *values, size_t n, tl_map_fn fn)
{
    if ((values == NULL && n > 0) || fn == NULL)
        return TL_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < n; i++)
        values[i] = fn(values[i]);
    return TL_SUCCESS;
}

/* ---- queues ---- */

static tl_status enqueue(tl_queue q, struct tl_cmd *cmd)
{
    if ((int64_t)q->pending >= q->capacity) {
        free(cmd->data);
        free(cmd);
        return TL_ERROR_OUT_OF_MEMORY;
    }
    cmd->next = NULL;
    if (q->tail != NULL)
        q->tail->next = cmd;
    else
        q->head = cmd;
    q->tail = cmd;
    q->pending++;
    return TL_SUCCESS;
}

static struct tl_cmd *cmd_new(enum tl_cmd_kind kind, tl_mem mem)
{
    struct tl_cmd *cmd = calloc(1, sizeof *cmd);
    if (cmd != NULL) {
        cmd->kind = kind;
        cmd->mem = mem;
    }
    return cmd;
}

tl_status tl_enqueue_write(tl_queue queue, tl_mem dst, size_t offset, size_t size, const void *src)
{
    struct tl_cmd *cmd;
    if (!valid_queue(queue) || !valid_mem(dst))
        return TL_ERROR_INVALID_HANDLE;
    if (src == NULL || size == 0 || offset > dst->size || size > dst->size - offset)
        return TL_ERROR_INVALID_VALUE;
    cmd = cmd_new(TL_CMD_WRITE, dst);
    if (cmd == NULL || (cmd->data = malloc(size)) == NULL) {
        free(cmd);
        return TL_ERROR_OUT_OF_MEMORY;
    }
    memcpy(cmd->data, src, size);
    cmd->offset = offset;
    cmd->size = size;
    return enqueue(queue, cmd);
}

tl_status tl_enqueue_read(tl_queue queue, tl_mem src, size_t offset, size_t size, void *dst)
{
    struct tl_cmd *cmd;
    if (!valid_queue(queue) || !valid_mem(src))
        return TL_ERROR_INVALID_HANDLE;
    if (dst == NULL || size == 0 || offset > src->size || size > src->size - offset)
        return TL_ERROR_INVALID_VALUE;
    cmd = cmd_new(TL_CMD_READ, src);
    if (cmd == NULL)
        return TL_ERROR_OUT_OF_MEMORY;
    cmd->offset = offset;
    cmd->size = size;
    cmd->dst = dst;
    return enqueue(queue, cmd);
}

tl_status tl_enqueue_scale(tl_queue queue, tl_mem mem, int factor)
{
    struct tl_cmd *cmd;
    if (!valid_queue(queue) || !valid_mem(mem))
        return TL_ERROR_INVALID_HANDLE;
    if (factor == 0)
        return TL_ERROR_INVALID_VALUE;
    cmd = cmd_new(TL_CMD_SCALE, mem);
    if (cmd == NULL)
        return TL_ERROR_OUT_OF_MEMORY;
    cmd->factor = factor;
    return enqueue(queue, cmd);
}

tl_status tl_enqueue_expect(tl_queue queue, tl_mem mem, size_t index, int32_t expected)
{
    struct tl_cmd *cmd;
    if (!valid_queue(queue) || !valid_mem(mem))
        return TL_ERROR_INVALID_HANDLE;
    if (index >= n_i32(mem))
        return TL_ERROR_INVALID_VALUE;
    cmd = cmd_new(TL_CMD_EXPECT, mem);
    if (cmd == NULL)
        return TL_ERROR_OUT_OF_MEMORY;
    cmd->index = index;
    cmd->expected = expected;
    return enqueue(queue, cmd);
}

tl_status tl_queue_pending(tl_queue queue, size_t *count)
{
    if (!valid_queue(queue))
        return TL_ERROR_INVALID_HANDLE;
    if (count == NULL)
        return TL_ERROR_INVALID_VALUE;
    *count = queue->pending;
    return TL_SUCCESS;
}

tl_status tl_queue_is_default(tl_queue queue, int *is_default)
{
    if (is_default == NULL)
        return TL_ERROR_INVALID_VALUE;
    if (queue != TL_DEFAULT_QUEUE && !valid_queue(queue))
        return TL_ERROR_INVALID_HANDLE;
    *is_default = queue == TL_DEFAULT_QUEUE;
    return TL_SUCCESS;
}

static tl_status run_launch(const struct tl_cmd *cmd)
{
    size_t n = cmd->global_size;
    for (int i = 0; i < 3; i++)
        if (cmd->mems[i] != NULL && (!valid_mem(cmd->mems[i]) || n > n_i32(cmd->mems[i])))
            return TL_ERROR_INVALID_VALUE;
    switch (cmd->kernel) {
    case TL_KERNEL_FILL:
        for (size_t i = 0; i < n; i++)
            set_i32(cmd->mems[0], i, (int32_t)cmd->scalars[1]);
        break;
    case TL_KERNEL_AXPY:
        for (size_t i = 0; i < n; i++)
            set_i32(cmd->mems[2], i,
                    wrap_i32(get_i32(cmd->mems[2], i) + cmd->scalars[0] * get_i32(cmd->mems[1], i)));
        break;
    case TL_KERNEL_OFFSET:
        for (size_t i = 0; i < n; i++)
            set_i32(cmd->mems[0], i, wrap_i32(get_i32(cmd->mems[0], i) + cmd->scalars[1]));
        break;
    }
    return TL_SUCCESS;
}

static tl_status run_cmd(const struct tl_cmd *cmd)
{
    tl_mem m = cmd->mem;
    if (cmd->kind == TL_CMD_LAUNCH)
        return run_launch(cmd);
    if (!valid_mem(m))
        return TL_ERROR_INVALID_HANDLE;
    switch (cmd->kind) {
    case TL_CMD_WRITE:
        memcpy(m->bytes + cmd->offset, cmd->data, cmd->size);
        return TL_SUCCESS;
    case TL_CMD_READ:
        memcpy(cmd->dst, m->bytes + cmd->offset, cmd->size);
        return TL_SUCCESS;
    case TL_CMD_SCALE:
        for (size_t i = 0; i < n_i32(m); i++)
            set_i32(m, i, wrap_i32((int64_t)get_i32(m, i) * cmd->factor));
        return TL_SUCCESS;
    case TL_CMD_EXPECT:
        return get_i32(m, cmd->index) == cmd->expected ? TL_SUCCESS : TL_ERROR_MISMATCH;
    case TL_CMD_LAUNCH:
        break;
    }
    return TL_ERROR_UNKNOWN;
}

struct tl_worker {
    tl_queue queue;
    struct tl_cmd *cmds;
    struct tl_once *once;
    tl_status status;
};

static void *worker_main(void *arg)
{
    struct tl_worker *w = arg;
    tl_status status = TL_SUCCESS;
    for (struct tl_cmd *cmd = w->cmds; cmd != NULL; cmd = cmd->next) {
        tl_status s = run_cmd(cmd);
        if (status == TL_SUCCESS)
            status = s;
    }
    w->status = status;
    if (w->queue->notify != NULL)
        w->queue->notify(w->queue, status, w->queue->notify_user);
    while (w->once != NULL) {
        struct tl_once *next = w->once->next;
        w->once->fn(w->queue, status, w->once->user);
        free(w->once);
        w->once = next;
    }
    return NULL;
}

/* runs the pending work on a new thread and waits for it */
static tl_status queue_run(tl_queue q)
{
    struct tl_worker w;
    pthread_t thread;
    w.queue = q;
    w.cmds = q->head;
    w.once = q->once;
    w.status = TL_SUCCESS;
    q->once = NULL;
    q->head = NULL;
    q->tail = NULL;
    q->pending = 0;
    if (pthread_create(&thread, NULL, worker_main, &w) != 0)
        worker_main(&w);
    else
        pthread_join(thread, NULL);
    while (w.cmds != NULL) {
        struct tl_cmd *next = w.cmds->next;
        free(w.cmds->data);
        free(w.cmds);
        w.cmds = next;
    }
    return w.status;
}

tl_status tl_queue_finish(tl_queue queue)
{
    if (!valid_queue(queue))
        return TL_ERROR_INVALID_HANDLE;
    return queue_run(queue);
}

/* ---- kernels ---- */

static const struct {
    const char *name;
    int argc;
    uint32_t handle_mask;
    uint32_t wide_mask;
} g_kernels[] = {
    [TL_KERNEL_FILL] = {"fill_i32", 2, 0x1u, 0x0u},
    [TL_KERNEL_AXPY] = {"axpy_i32", 3, 0x6u, 0x0u},
    [TL_KERNEL_OFFSET] = {"offset_i32", 2, 0x1u, 0x2u},
};

static tl_kernel kernel_fail(tl_status *errcode_ret, tl_status status)
{
    if (errcode_ret != NULL)
        *errcode_ret = status;
    return NULL;
}

tl_kernel tl_create_kernel(tl_device device, const char *name, tl_status *errcode_ret)
{
    tl_kernel k;
    size_t id;
    if (!valid_device(device))
        return kernel_fail(errcode_ret, TL_ERROR_INVALID_HANDLE);
    if (name == NULL)
        return kernel_fail(errcode_ret, TL_ERROR_INVALID_VALUE);
    for (id = 0; id < sizeof g_kernels / sizeof g_kernels[0]; id++)
        if (strcmp(g_kernels[id].name, name) == 0)
            break;
    if (id == sizeof g_kernels / sizeof g_kernels[0])
        return kernel_fail(errcode_ret, TL_ERROR_INVALID_VALUE);
    k = calloc(1, sizeof *k);
    if (k == NULL)
        return kernel_fail(errcode_ret, TL_ERROR_OUT_OF_MEMORY);
    k->magic = TL_MAGIC_KERNEL;
    k->device = device;
    k->id = (enum tl_builtin_kernel)id;
    if (!live_add(k)) {
        free(k);
        return kernel_fail(errcode_ret, TL_ERROR_OUT_OF_MEMORY);
    }
    if (errcode_ret != NULL)
        *errcode_ret = TL_SUCCESS;
    return k;
}

tl_status tl_kernel_set_signature(tl_kernel kernel, int argc, uint32_t handle_mask, uint32_t wide_mask)
{
    if (!valid_kernel(kernel))
        return TL_ERROR_INVALID_HANDLE;
    if (argc != g_kernels[kernel->id].argc || handle_mask != g_kernels[kernel->id].handle_mask ||
        wide_mask != g_kernels[kernel->id].wide_mask)
        return TL_ERROR_INVALID_VALUE;
    kernel->signature_set = 1;
    return TL_SUCCESS;
}

tl_kernel tl_create_kernel_declared(tl_device device, const char *name, int argc, uint32_t handle_mask, uint32_t wide_mask,
                                    tl_status *errcode_ret)
{
    tl_kernel k = tl_create_kernel(device, name, errcode_ret);
    tl_status s;
    if (k == NULL)
        return NULL;
    s = tl_kernel_set_signature(k, argc, handle_mask, wide_mask);
    if (s != TL_SUCCESS) {
        tl_release_kernel(k);
        return kernel_fail(errcode_ret, s);
    }
    return k;
}

tl_status tl_release_kernel(tl_kernel kernel)
{
    if (!live_remove(kernel, TL_MAGIC_KERNEL))
        return TL_ERROR_INVALID_HANDLE;
    kernel->magic = 0;
    free(kernel);
    return TL_SUCCESS;
}

tl_status tl_launch(tl_queue queue, tl_kernel kernel, size_t global_size, void **args)
{
    struct tl_cmd *cmd;
    int argc;
    if (!valid_queue(queue) || !valid_kernel(kernel))
        return TL_ERROR_INVALID_HANDLE;
    if (!kernel->signature_set || args == NULL || global_size == 0)
        return TL_ERROR_INVALID_VALUE;
    argc = g_kernels[kernel->id].argc;
    cmd = cmd_new(TL_CMD_LAUNCH, NULL);
    if (cmd == NULL)
        return TL_ERROR_OUT_OF_MEMORY;
    cmd->kernel = kernel->id;
    cmd->global_size = global_size;
    for (int i = 0; i < argc; i++) {
        if (args[i] == NULL) {
            free(cmd);
            return TL_ERROR_INVALID_VALUE;
        }
        if (g_kernels[kernel->id].handle_mask & (1u << i)) {
            tl_mem m;
            memcpy(&m, args[i], sizeof m);
            if (!valid_mem(m)) {
                free(cmd);
                return TL_ERROR_INVALID_HANDLE;
            }
            cmd->mems[i] = m;
        } else if (g_kernels[kernel->id].wide_mask & (1u << i)) {
            int64_t v;
            memcpy(&v, args[i], sizeof v);
            cmd->scalars[i] = v;
        } else {
            int32_t v;
            memcpy(&v, args[i], sizeof v);
            cmd->scalars[i] = v;
        }
    }
    return enqueue(queue, cmd);
}

/* ---- threads ---- */

tl_status tl_thread_set(int value)
{
    if (value < 0)
        return TL_ERROR_INVALID_VALUE;
    t_value = value;
    return TL_SUCCESS;
}

int tl_thread_get(void) { return t_value; }

/* ---- zero-copy and lifetimes ---- */

tl_status tl_checksum(const void *data, size_t size, uint32_t *sum)
{
    const unsigned char *p = data;
    uint32_t a = 1, b = 0;
    if ((data == NULL && size > 0) || sum == NULL)
        return TL_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < size; i++) {
        a = (a + p[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    *sum = (b << 16) | a;
    return TL_SUCCESS;
}

tl_status tl_fill_pattern(void *data, size_t size, uint32_t seed)
{
    unsigned char *p = data;
    uint32_t x = seed;
    if ((data == NULL && size > 0) || seed == 0)
        return TL_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)(x >> 24);
    }
    return TL_SUCCESS;
}

void *tl_host_alloc(size_t size)
{
    void *p = NULL;
    if (size == 0 || size > TL_HOST_ALLOC_MAX || posix_memalign(&p, 64, size) != 0)
        return NULL;
    return p;
}

void tl_host_free(void *ptr)
{
    free(ptr);
}

tl_status tl_host_alloc_status(void **ptr, size_t size)
{
    if (ptr == NULL)
        return TL_ERROR_INVALID_VALUE;
    *ptr = tl_host_alloc(size);
    return *ptr ? TL_SUCCESS : TL_ERROR_OUT_OF_MEMORY;
}

tl_status tl_host_free_status(void *ptr)
{
    free(ptr);
    return TL_SUCCESS;
}

tl_status tl_set_app_name(const char *name)
{
    if (name == NULL)
        return TL_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_lock);
    g_app_name = name;
    pthread_mutex_unlock(&g_lock);
    return TL_SUCCESS;
}

tl_status tl_get_app_name(char *buf, size_t size)
{
    const char *name;
    pthread_mutex_lock(&g_lock);
    name = g_app_name != NULL ? g_app_name : "";
    pthread_mutex_unlock(&g_lock);
    return copy_out_string(name, buf, size);
}

tl_status tl_queue_set_label(tl_queue queue, const char *label)
{
    if (!valid_queue(queue))
        return TL_ERROR_INVALID_HANDLE;
    if (label == NULL)
        return TL_ERROR_INVALID_VALUE;
    queue->label = label;
    return TL_SUCCESS;
}

tl_status tl_queue_get_label(tl_queue queue, char *buf, size_t size)
{
    if (!valid_queue(queue))
        return TL_ERROR_INVALID_HANDLE;
    return copy_out_string(queue->label != NULL ? queue->label : "", buf, size);
}

/* ---- not forwarded ---- */

tl_status tl_debug_printf(tl_device device, const char *format, ...)
{
    va_list ap;
    if (!valid_device(device))
        return TL_ERROR_INVALID_HANDLE;
    if (format == NULL)
        return TL_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_lock);
    va_start(ap, format);
    vsnprintf(device->debug_log, sizeof device->debug_log, format, ap);
    va_end(ap);
    pthread_mutex_unlock(&g_lock);
    return TL_SUCCESS;
}

tl_status tl_not_in_spec(int value) { return value >= 0 ? TL_SUCCESS : TL_ERROR_INVALID_VALUE; }
