/*
 * program.c: exercises libcavatest.so.1 (testlib.h) and prints
 * deterministic, line-oriented results, so that a run against the real
 * library and a run through a generated guest library can be compared.
 *
 *   ./program                 all sections
 *   ./program basic strings   only these sections, in the order given
 *
 * Every section prints `== name ==` and then lines starting with its name.
 * No pointer value is ever printed; handles are shown as valid=0/1 or
 * compared with each other. Statuses are printed as numbers.
 *
 * Where the real library and a forwarding guest legitimately differ in
 * *when* an error is seen (an `async` call fails on the API server and the
 * error surfaces on the thread's next call), the program prints the first
 * error of the sequence, which is the same in both.
 *
 * The exit code is 0 unless the arguments are wrong or the program itself
 * fails (out of memory, a thread that cannot start); statuses returned by
 * the library never change it.
 */
#define _POSIX_C_SOURCE 200809L

#include "testlib.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void die(const char *what)
{
    fprintf(stderr, "program: %s\n", what);
    exit(1);
}

static void print_ints(const int *v, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", v[i]);
    putchar(']');
}

/* the first non-success status of a sequence of calls */
static tl_status first_error(const tl_status *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != TL_SUCCESS)
            return s[i];
    return TL_SUCCESS;
}

/* ---- the devices, fetched once by whichever section needs them first ---- */

static tl_device g_dev[2];
static int g_have_dev;
static tl_status g_dev_count_status, g_dev_get_status;
static size_t g_dev_count, g_dev_got;

static void fetch_devices(void)
{
    if (g_have_dev)
        return;
    g_have_dev = 1;
    g_dev_count_status = tl_get_devices(NULL, 0, &g_dev_count);
    g_dev_get_status = tl_get_devices(g_dev, ARRAY_LEN(g_dev), &g_dev_got);
}

static tl_device dev(int i)
{
    fetch_devices();
    return g_dev[i];
}

/* ================================================================ basic */

static void section_basic(void)
{
    int64_t r = 0;
    tl_status s;
    static const struct {
        double x;
        tl_round_mode mode;
        const char *name;
    } rounds[] = {
        {2.5, TL_ROUND_DOWN, "down"},
        {2.5, TL_ROUND_UP, "up"},
        {2.5, TL_ROUND_NEAREST, "nearest"},
        {-2.5, TL_ROUND_NEAREST, "nearest"},
        {-2.25, TL_ROUND_DOWN, "down"},
        {7.0, TL_ROUND_UP, "up"},
    };

    printf("basic: add_int(40, 2)=%d\n", tl_add_int(40, 2));
    printf("basic: add_int(2147483647, 1)=%d\n", tl_add_int(2147483647, 1));
    printf("basic: xor_byte(0xf0, 0x3c)=0x%02x\n", (unsigned)tl_xor_byte(0xf0, 0x3c));
    printf("basic: mul_i64(3000000000, 7)=%" PRId64 "\n", tl_mul_i64(INT64_C(3000000000), 7));
    printf("basic: mul_i64(-4294967296, 4294967296)=%" PRId64 "\n",
           tl_mul_i64(-INT64_C(4294967296), INT64_C(4294967296)));
    printf("basic: negate_ll(-9000000000000)=%lld\n", tl_negate_ll(-9000000000000LL));
    printf("basic: rotl32(0x80000001, 4)=0x%08" PRIx32 "\n", tl_rotl32(UINT32_C(0x80000001), 4));
    printf("basic: rotl32(0xdeadbeef, 36)=0x%08" PRIx32 "\n", tl_rotl32(UINT32_C(0xdeadbeef), 36));
    printf("basic: clamp_short(40000)=%d clamp_short(-5)=%d clamp_short(-99999)=%d\n",
           tl_clamp_short(40000), tl_clamp_short(-5), tl_clamp_short(-99999));
    printf("basic: scale_float(1.5, 2.25)=%.6g\n", (double)tl_scale_float(1.5f, 2.25f));
    printf("basic: average3(1, 2, 4.5)=%.6g\n", tl_average3(1.0, 2.0, 4.5));
    printf("basic: average3(0.1, 0.2, 0.3)=%.17g\n", tl_average3(0.1, 0.2, 0.3));
    printf("basic: align_up(13, 8)=%zu align_up(13, 6)=%zu align_up(4096, 4096)=%zu\n",
           tl_align_up(13, 8), tl_align_up(13, 6), tl_align_up(4096, 4096));
    printf("basic: is_even(10)=%d is_even(-7)=%d\n", (int)tl_is_even(10), (int)tl_is_even(-7));
    for (size_t i = 0; i < ARRAY_LEN(rounds); i++) {
        r = 0;
        s = tl_round(rounds[i].x, rounds[i].mode, &r);
        printf("basic: round(%.6g, %s)=%" PRId64 " status=%d\n", rounds[i].x, rounds[i].name, r, s);
    }
    s = tl_round(1.0, (tl_round_mode)7, &r);
    printf("basic: round(1, mode 7) status=%d\n", s);
    printf("basic: counter initial=%d\n", tl_counter_get());
    tl_counter_add(5);
    tl_counter_add(-2);
    tl_counter_add(10);
    printf("basic: counter after add(5), add(-2), add(10)=%d\n", tl_counter_get());
}

/* ============================================================== handles */

static void section_handles(void)
{
    tl_status s, err = 12345;
    tl_mem m, m2, bad;
    tl_queue q = NULL;
    tl_device owner = NULL;
    size_t size = 0, live = 0, pending = 0;
    uint64_t total = 0;
    int index = -1;

    fetch_devices();
    printf("handles: device_count=%zu status=%d\n", g_dev_count, g_dev_count_status);
    printf("handles: get_devices got=%zu status=%d\n", g_dev_got, g_dev_get_status);
    for (int i = 0; i < 2; i++) {
        index = -1;
        s = tl_device_get_index(dev(i), &index);
        printf("handles: device[%d] valid=%d index=%d status=%d\n", i, dev(i) != NULL, index, s);
    }

    m = tl_mem_create(dev(0), 256, &err);
    printf("handles: mem_create size=256 status=%d valid=%d\n", err, m != NULL);
    m2 = tl_mem_create(dev(0), 64, NULL);
    printf("handles: mem_create size=64 errcode_ret=NULL valid=%d\n", m2 != NULL);
    err = 12345;
    bad = tl_mem_create(dev(0), 0, &err);
    printf("handles: mem_create size=0 status=%d valid=%d\n", err, bad != NULL);
    err = 12345;
    bad = tl_mem_create(NULL, 16, &err);
    printf("handles: mem_create device=NULL status=%d valid=%d\n", err, bad != NULL);

    s = tl_mem_get_size(m, &size);
    printf("handles: mem_get_size=%zu status=%d\n", size, s);
    s = tl_mem_get_device(m, &owner);
    printf("handles: mem_get_device same=%d status=%d\n", owner == dev(0), s);
    s = tl_device_live_mems(dev(0), &live);
    printf("handles: live_mems=%zu status=%d\n", live, s);

    s = tl_mem_release(m2);
    printf("handles: release status=%d\n", s);
    s = tl_device_live_mems(dev(0), &live);
    printf("handles: live_mems=%zu status=%d\n", live, s);
    size = 777;
    s = tl_mem_get_size(m2, &size);
    printf("handles: use_after_release status=%d size_untouched=%d\n", s, size == 777);
    s = tl_mem_release(m2);
    printf("handles: release_again status=%d\n", s);
    s = tl_mem_get_size(NULL, &size);
    printf("handles: mem_get_size(NULL) status=%d\n", s);

    s = tl_create_queue(dev(1), &q);
    printf("handles: create_queue status=%d valid=%d\n", s, q != NULL);
    s = tl_queue_pending(q, &pending);
    printf("handles: queue_pending=%zu status=%d\n", pending, s);
    {
        int is_default = -1;
        s = tl_queue_is_default(TL_DEFAULT_QUEUE, &is_default);
        printf("handles: queue_is_default(default)=%d status=%d\n", is_default, s);
        is_default = -1;
        s = tl_queue_is_default(q, &is_default);
        printf("handles: queue_is_default(queue)=%d status=%d\n", is_default, s);
        /* a small number that is not the constant is a forged handle */
        s = tl_queue_is_default((tl_queue)2, &is_default);
        printf("handles: queue_is_default(2) status=%d\n", s);
    }
    s = tl_release_queue(q);
    printf("handles: release_queue status=%d\n", s);
    s = tl_queue_pending(q, &pending);
    printf("handles: queue_after_release status=%d\n", s);

    {
        tl_device both[2] = {dev(0), dev(1)};
        tl_device with_null[2] = {dev(0), NULL};
        s = tl_devices_total_memory(both, 2, &total);
        printf("handles: total_memory=%" PRIu64 " status=%d\n", total, s);
        s = tl_devices_total_memory(both, 1, &total);
        printf("handles: total_memory(first only)=%" PRIu64 " status=%d\n", total, s);
        s = tl_devices_total_memory(with_null, 2, &total);
        printf("handles: total_memory(with NULL) status=%d\n", s);
    }

    s = tl_mem_release(m);
    printf("handles: release status=%d\n", s);
    s = tl_device_live_mems(dev(0), &live);
    printf("handles: live_mems=%zu status=%d\n", live, s);
}

/* ============================================================== buffers */

static void section_buffers(void)
{
    tl_status s;
    int64_t sum = 0;
    int was_null = -1;
    size_t size_ret = 0;

    {
        const int values[] = {1, 2, 3, 4, 5, -20, 100};
        s = tl_sum_ints(values, 5, &sum);
        printf("buffers: sum_ints n=5 sum=%" PRId64 " status=%d\n", sum, s);
        s = tl_sum_ints(values, ARRAY_LEN(values), &sum);
        printf("buffers: sum_ints n=7 sum=%" PRId64 " status=%d\n", sum, s);
    }
    {
        int out[6] = {0};
        s = tl_fill_sequence(out, 6, 10, 3);
        printf("buffers: fill_sequence ");
        print_ints(out, 6);
        printf(" status=%d\n", s);
    }
    {
        int v[4] = {-1, 0, 1, 2};
        s = tl_scale_ints(v, 4, 3);
        printf("buffers: scale_ints ");
        print_ints(v, 4);
        printf(" status=%d\n", s);
    }
    {
        const int a[3] = {1, 2, 3}, b[3] = {100, 200, 300};
        int out[6] = {0};
        s = tl_interleave(a, b, 3, out);
        printf("buffers: interleave ");
        print_ints(out, 6);
        printf(" status=%d\n", s);
    }
    {
        const int src[6] = {7, 8, 9, 10, 11, 12};
        int dst[6] = {-1, -1, -1, -1, -1, -1};
        size_t count = 4;
        s = tl_copy_ints(dst, src, &count);
        printf("buffers: copy_ints count=4 ");
        print_ints(dst, 6);
        printf(" status=%d\n", s);
    }
    {
        const size_t dims[3] = {3, 4, 5};
        size_t volume = 0;
        s = tl_volume(dims, &volume);
        printf("buffers: volume(3x4x5)=%zu status=%d\n", volume, s);
    }
    {
        const int values[3] = {1, 2, 3};
        s = tl_sum_optional(values, 3, &was_null, &sum);
        printf("buffers: sum_optional values=set was_null=%d sum=%" PRId64 " status=%d\n", was_null, sum, s);
        s = tl_sum_optional(NULL, 3, &was_null, &sum);
        printf("buffers: sum_optional values=NULL was_null=%d sum=%" PRId64 " status=%d\n", was_null, sum, s);
    }
    {
        char name[64];
        uint64_t mem_size = 0;
        uint32_t units = 0;
        int32_t dims[3] = {0, 0, 0};

        s = tl_get_info(dev(0), TL_DEVICE_INFO_NAME, 0, NULL, &size_ret);
        printf("buffers: get_info name size_query size_ret=%zu status=%d\n", size_ret, s);
        memset(name, 0, sizeof name);
        size_ret = 0;
        s = tl_get_info(dev(0), TL_DEVICE_INFO_NAME, sizeof name, name, &size_ret);
        printf("buffers: get_info name value=%s size_ret=%zu status=%d\n", s == TL_SUCCESS ? name : "-",
               size_ret, s);
        s = tl_get_info(dev(1), TL_DEVICE_INFO_NAME, size_ret, name, NULL);
        printf("buffers: get_info device[1] name value=%s status=%d\n", s == TL_SUCCESS ? name : "-", s);
        s = tl_get_info(dev(0), TL_DEVICE_INFO_MEM_SIZE, sizeof mem_size, &mem_size, NULL);
        printf("buffers: get_info mem_size=%" PRIu64 " status=%d\n", mem_size, s);
        s = tl_get_info(dev(1), TL_DEVICE_INFO_UNITS, sizeof units, &units, &size_ret);
        printf("buffers: get_info units=%" PRIu32 " size_ret=%zu status=%d\n", units, size_ret, s);
        s = tl_get_info(dev(0), TL_DEVICE_INFO_MAX_DIMS, sizeof dims, dims, &size_ret);
        printf("buffers: get_info max_dims=[%" PRId32 ",%" PRId32 ",%" PRId32 "] size_ret=%zu status=%d\n",
               dims[0], dims[1], dims[2], size_ret, s);
        s = tl_get_info(dev(0), TL_DEVICE_INFO_NAME, 4, name, NULL);
        printf("buffers: get_info name size=4 status=%d\n", s);
        s = tl_get_info(dev(0), 99, sizeof name, name, &size_ret);
        printf("buffers: get_info param=99 status=%d\n", s);
    }
}

/* ============================================================== strings */

static void section_strings(void)
{
    tl_status s, err;
    tl_mem m;
    char buf[64];
    size_t len = 0;
    tl_queue q;
    int64_t v1 = -1, v2 = -1;

    printf("strings: status_string(0)=%s\n", tl_status_string(TL_SUCCESS));
    printf("strings: status_string(-5)=%s\n", tl_status_string(TL_ERROR_MISMATCH));
    printf("strings: status_string(42)=%s\n", tl_status_string(42));
    {
        const char *name = NULL, *names[3] = {NULL, NULL, NULL};
        tl_status statuses[3] = {TL_ERROR_INVALID_VALUE, 42, TL_SUCCESS};
        s = tl_status_name(TL_ERROR_INVALID_HANDLE, &name);
        printf("strings: status_name(-1)=%s status=%d\n", name, s);
        s = tl_status_name(TL_SUCCESS, NULL);
        printf("strings: status_name(0, NULL) status=%d\n", s);
        s = tl_status_names(statuses, 3, names);
        printf("strings: status_names=%s,%s,%s status=%d\n", names[0], names[1], names[2], s);
    }
    printf("strings: count_char(\"banana\", 'a')=%zu\n", tl_count_char("banana", 'a'));
    printf("strings: count_char(\"\", 'a')=%zu\n", tl_count_char("", 'a'));

    m = tl_mem_create(dev(0), 16, &err);
    printf("strings: mem_create status=%d valid=%d\n", err, m != NULL);
    s = tl_mem_get_name(m, buf, sizeof buf, &len);
    printf("strings: unnamed name=\"%s\" len=%zu status=%d\n", s == TL_SUCCESS ? buf : "-", len, s);
    s = tl_mem_set_name(m, "hello");
    printf("strings: set_name status=%d\n", s);
    s = tl_mem_get_name(m, buf, sizeof buf, &len);
    printf("strings: name=%s len=%zu status=%d\n", s == TL_SUCCESS ? buf : "-", len, s);
    len = 0;
    s = tl_mem_get_name(m, NULL, 0, &len);
    printf("strings: name_len_query len=%zu status=%d\n", len, s);
    s = tl_mem_get_name(m, buf, 4, &len);
    printf("strings: name size=4 truncated=%s len=%zu status=%d\n", buf, len, s);
    s = tl_mem_get_name(m, buf, sizeof buf, NULL);
    printf("strings: name len=NULL name=%s status=%d\n", s == TL_SUCCESS ? buf : "-", s);
    s = tl_mem_set_name(m, "gr\xc3\xbc\xc3\x9f" "e mit umlaut");
    s = s == TL_SUCCESS ? tl_mem_get_name(m, buf, sizeof buf, &len) : s;
    printf("strings: utf8 name bytes=%zu status=%d\n", len, s);
    s = tl_mem_release(m);
    printf("strings: mem_release status=%d\n", s);

    {
        const char *names[] = {"alpha", "beta", "gamma"};
        char out[64];
        char small[10];
        s = tl_join_strings(names, 3, ", ", out, sizeof out);
        printf("strings: join=\"%s\" status=%d\n", out, s);
        s = tl_join_strings(names, 3, ", ", small, sizeof small);
        printf("strings: join size=10 truncated=\"%s\" status=%d\n", small, s);
        s = tl_join_strings(names, 0, "+", out, sizeof out);
        printf("strings: join count=0 \"%s\" status=%d\n", out, s);
        s = tl_join_strings(names + 1, 2, "", out, sizeof out);
        printf("strings: join sep=\"\" \"%s\" status=%d\n", out, s);
    }

    {
        /* LAPIS sizes the list with terminated_len, which stops at the
           first zero element, key or value: the values here are non-zero */
        const int64_t props[] = {TL_QUEUE_PRIORITY, 3, TL_QUEUE_CAPACITY, 8, 0};
        const int64_t bad_props[] = {99, 1, 0};
        err = 12345;
        q = tl_create_queue_with_properties(dev(0), props, &err);
        printf("strings: queue_with_properties status=%d valid=%d\n", err, q != NULL);
        s = tl_queue_get_property(q, TL_QUEUE_PRIORITY, &v1);
        s = s == TL_SUCCESS ? tl_queue_get_property(q, TL_QUEUE_CAPACITY, &v2) : s;
        printf("strings: properties priority=%" PRId64 " capacity=%" PRId64 " status=%d\n", v1, v2, s);
        s = tl_queue_get_property(q, 5, &v1);
        printf("strings: property key=5 status=%d\n", s);
        s = tl_release_queue(q);
        printf("strings: release_queue status=%d\n", s);

        err = 12345;
        q = tl_create_queue_with_properties(dev(0), NULL, &err);
        printf("strings: queue_with_properties(NULL) status=%d valid=%d\n", err, q != NULL);
        s = tl_queue_get_property(q, TL_QUEUE_PRIORITY, &v1);
        s = s == TL_SUCCESS ? tl_queue_get_property(q, TL_QUEUE_CAPACITY, &v2) : s;
        printf("strings: properties priority=%" PRId64 " capacity=%" PRId64 " status=%d\n", v1, v2, s);
        s = tl_release_queue(q);
        printf("strings: release_queue status=%d\n", s);

        err = 12345;
        q = tl_create_queue_with_properties(dev(0), bad_props, &err);
        printf("strings: queue_with_properties(bad key) status=%d valid=%d\n", err, q != NULL);
    }
}

/* ============================================================== structs */

static void print_result(const char *what, const tl_result *r, tl_status s)
{
    if (s != TL_SUCCESS) {
        printf("structs: %s status=%d\n", what, s);
        return;
    }
    printf("structs: %s total=%.6g checksum=%" PRId64 " n_used=%" PRIu32 " label=\"%s\" status=%d\n", what,
           r->total, r->checksum, r->n_used, r->label, s);
}

static void section_structs(void)
{
    tl_status s;
    size_t n = 0;
    const float values[5] = {0.5f, 1.5f, 2.0f, -1.0f, 4.0f};
    tl_config config;
    tl_result result;
    tl_device_props props;
    tl_variant var;
    double d = 0.0;

    {
        tl_range r = {5, 7};
        s = tl_range_end(r, &n);
        printf("structs: range_end(offset=5, count=7)=%zu status=%d\n", n, s);
    }
    {
        const tl_range ranges[3] = {{0, 4}, {10, 5}, {100, 6}};
        s = tl_sum_ranges(ranges, 3, &n);
        printf("structs: sum_ranges=%zu status=%d\n", n, s);
    }

    memset(&config, 0, sizeof config);
    config.mode = 0;
    config.gain = 2.0f;
    config.bias = 0.25;
    config.flags = 0x10;
    config.dims[0] = 2;
    config.dims[1] = 3;
    config.dims[2] = 4;
    config.dims[3] = 5;
    config.window.offset = 1;
    config.window.count = 3;
    config.label = "cfg-sum";
    config.n_values = ARRAY_LEN(values);
    config.values = values;
    s = tl_apply_config(dev(0), &config, &result);
    print_result("apply_config mode=sum", &result, s);

    config.mode = 1;
    config.label = NULL;
    s = tl_apply_config(dev(0), &config, &result);
    print_result("apply_config mode=max label=NULL", &result, s);

    config.mode = 2;
    config.label = "a label that is longer than the thirty-one characters kept";
    config.window.offset = 0;
    config.window.count = 5;
    s = tl_apply_config(dev(0), &config, &result);
    print_result("apply_config mode=mean", &result, s);

    config.mode = 0;
    config.label = "empty";
    config.n_values = 0;
    config.values = NULL;
    config.window.count = 0;
    s = tl_apply_config(dev(0), &config, &result);
    print_result("apply_config values=NULL", &result, s);

    config.n_values = ARRAY_LEN(values);
    config.values = values;
    config.window.offset = 4;
    config.window.count = 2;
    s = tl_apply_config(dev(0), &config, &result);
    print_result("apply_config window past the end", &result, s);

    s = tl_get_device_props(dev(1), &props);
    if (s == TL_SUCCESS)
        printf("structs: device_props name=%s mem_size=%" PRIu64 " units=%" PRIu32
               " clock_ghz=%.6g max_dims=[%" PRId32 ",%" PRId32 ",%" PRId32 "] status=%d\n",
               props.name, props.mem_size, props.units, (double)props.clock_ghz, props.max_dims[0],
               props.max_dims[1], props.max_dims[2], s);
    else
        printf("structs: device_props status=%d\n", s);

    {
        tl_range r = tl_range_make(3, 4000000000u);
        tl_device_props by_value = tl_device_props_of(dev(0));
        tl_device_props none = tl_device_props_of(NULL);
        printf("structs: range_make offset=%zu count=%zu\n", r.offset, r.count);
        printf("structs: device_props_of name=%s mem_size=%" PRIu64 " units=%" PRIu32 " max_dims[2]=%" PRId32 "\n",
               by_value.name, by_value.mem_size, by_value.units, by_value.max_dims[2]);
        printf("structs: device_props_of(NULL) name_len=%zu units=%" PRIu32 "\n", strlen(none.name), none.units);
    }

    s = tl_variant_make(0, -42.0, &var);
    printf("structs: variant_make(int, -42) kind=%" PRId32 " as_int=%" PRId64 " status=%d\n", var.kind,
           var.value.as_int, s);
    s = tl_variant_make(1, 6.25, &var);
    printf("structs: variant_make(double, 6.25) kind=%" PRId32 " as_double=%.6g status=%d\n", var.kind,
           var.value.as_double, s);
    s = tl_variant_make(3, 1.0, &var);
    printf("structs: variant_make(kind 3) status=%d\n", s);

    memset(&var, 0, sizeof var);
    var.kind = 0;
    var.value.as_int = 7;
    s = tl_variant_to_double(&var, &d);
    printf("structs: variant_to_double(int 7)=%.6g status=%d\n", d, s);
    var.kind = 1;
    var.value.as_double = 0.125;
    s = tl_variant_to_double(&var, &d);
    printf("structs: variant_to_double(double 0.125)=%.6g status=%d\n", d, s);
    var.kind = 9;
    s = tl_variant_to_double(&var, &d);
    printf("structs: variant_to_double(kind 9) status=%d\n", s);
}

/* ============================================================ callbacks */

struct visit_log {
    int calls;
    int values[16];
};

static void on_visit(int value, void *user)
{
    struct visit_log *log = user;
    if (log->calls < (int)ARRAY_LEN(log->values))
        log->values[log->calls] = value;
    log->calls++;
}

static int combine_sum(int acc, int value, void *user)
{
    (*(int *)user)++;
    return acc + value;
}

static int combine_max_abs(int acc, int value, void *user)
{
    (*(int *)user)++;
    if (value < 0)
        value = -value;
    return value > acc ? value : acc;
}

struct notify_log {
    pthread_mutex_t lock;
    tl_queue expected;
    int calls;
    tl_status last_status;
    int same_queue;
};

static void on_notify(tl_queue queue, tl_status status, void *user)
{
    struct notify_log *log = user;
    pthread_mutex_lock(&log->lock);
    log->calls++;
    log->last_status = status;
    log->same_queue = queue == log->expected;
    pthread_mutex_unlock(&log->lock);
}

static void section_callbacks(void)
{
    tl_status s;
    struct visit_log visits;
    int calls = 0, result = 0;
    const int values[5] = {3, -9, 4, 1, -5};
    tl_queue q = NULL;
    struct notify_log nlog;

    memset(&visits, 0, sizeof visits);
    s = tl_for_each(dev(1), 4, on_visit, &visits);
    printf("callbacks: for_each(device[1], 4) calls=%d values=", visits.calls);
    print_ints(visits.values, (size_t)visits.calls);
    printf(" status=%d\n", s);
    memset(&visits, 0, sizeof visits);
    s = tl_for_each(dev(0), 0, on_visit, &visits);
    printf("callbacks: for_each(device[0], 0) calls=%d status=%d\n", visits.calls, s);
    s = tl_for_each(dev(0), -1, on_visit, &visits);
    printf("callbacks: for_each(count -1) calls=%d status=%d\n", visits.calls, s);

    s = tl_reduce(values, 5, combine_sum, &calls, &result);
    printf("callbacks: reduce(sum) result=%d calls=%d status=%d\n", result, calls, s);
    calls = 0;
    s = tl_reduce(values, 5, combine_max_abs, &calls, &result);
    printf("callbacks: reduce(max_abs) result=%d calls=%d status=%d\n", result, calls, s);

    memset(&nlog, 0, sizeof nlog);
    if (pthread_mutex_init(&nlog.lock, NULL) != 0)
        die("pthread_mutex_init failed");
    s = tl_create_queue(dev(0), &q);
    printf("callbacks: create_queue status=%d valid=%d\n", s, q != NULL);
    nlog.expected = q;
    nlog.last_status = 12345;
    s = tl_set_notify(q, on_notify, &nlog);
    printf("callbacks: set_notify status=%d calls=%d\n", s, nlog.calls);
    s = tl_queue_finish(q);
    pthread_mutex_lock(&nlog.lock);
    printf("callbacks: finish#1 status=%d notify_calls=%d notify_status=%d same_queue=%d\n", s, nlog.calls,
           nlog.last_status, nlog.same_queue);
    pthread_mutex_unlock(&nlog.lock);
    s = tl_queue_finish(q);
    pthread_mutex_lock(&nlog.lock);
    printf("callbacks: finish#2 status=%d notify_calls=%d\n", s, nlog.calls);
    pthread_mutex_unlock(&nlog.lock);
    s = tl_set_notify(q, NULL, NULL);
    printf("callbacks: set_notify(NULL) status=%d\n", s);
    s = tl_queue_finish(q);
    pthread_mutex_lock(&nlog.lock);
    printf("callbacks: finish#3 status=%d notify_calls=%d\n", s, nlog.calls);
    pthread_mutex_unlock(&nlog.lock);
    s = tl_release_queue(q);
    printf("callbacks: release_queue status=%d notify_calls=%d\n", s, nlog.calls);
    pthread_mutex_destroy(&nlog.lock);
}

/* ============================================================ once */

/* Callbacks that run once: each registration is its own, even with the
   same function and userdata, and ends after its call. */
static pthread_mutex_t once_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_once(tl_queue queue, tl_status status, void *user)
{
    int *count = user;
    (void)queue;
    pthread_mutex_lock(&once_lock);
    *count += status == TL_SUCCESS ? 1 : 100;
    pthread_mutex_unlock(&once_lock);
}

static void section_once(void)
{
    tl_status s, st[9];
    tl_queue q = NULL;
    int counts[4] = {0, 0, 0, 0}, many[64], total = 0, rounds = 0;
    struct notify_log nlog;

    memset(&nlog, 0, sizeof nlog);
    if (pthread_mutex_init(&nlog.lock, NULL) != 0)
        die("pthread_mutex_init failed");
    s = tl_create_queue(dev(0), &q);
    printf("once: create_queue status=%d\n", s);
    /* a lasting callback beside them */
    nlog.expected = q;
    s = tl_set_notify(q, on_notify, &nlog);
    printf("once: set_notify status=%d\n", s);
    st[0] = tl_queue_on_finish(q, on_once, &counts[0]);
    st[1] = tl_queue_on_finish(q, on_once, &counts[0]);
    st[2] = tl_queue_on_finish(q, on_once, &counts[1]);
    st[3] = tl_queue_on_finish(q, on_once, &counts[2]);
    for (int i = 4; i < 9; i++)
        st[i] = tl_queue_on_finish(q, on_once, &counts[3]);
    printf("once: on_finish statuses=");
    print_ints(st, 9);
    printf(" (the ninth is one too many)\n");
    s = tl_queue_on_finish(q, NULL, &counts[3]);
    printf("once: on_finish(NULL) status=%d\n", s);
    s = tl_queue_finish(q);
    pthread_mutex_lock(&once_lock);
    printf("once: finish#1 status=%d counts=", s);
    print_ints(counts, 4);
    pthread_mutex_unlock(&once_lock);
    printf(" notify_calls=%d\n", nlog.calls);
    s = tl_queue_finish(q);
    pthread_mutex_lock(&once_lock);
    printf("once: finish#2 status=%d counts=", s);
    print_ints(counts, 4);
    pthread_mutex_unlock(&once_lock);
    printf(" notify_calls=%d\n", nlog.calls);
    /* many registrations, each with its own userdata, each called once */
    memset(many, 0, sizeof many);
    for (int r = 0; r < 8; r++) {
        for (int i = 0; i < 8; i++)
            if (tl_queue_on_finish(q, on_once, &many[r * 8 + i]) != TL_SUCCESS)
                printf("once: on_finish failed in round %d\n", r);
        if (tl_queue_finish(q) == TL_SUCCESS)
            rounds++;
    }
    for (int i = 0; i < 64; i++)
        total += many[i] == 1;
    printf("once: %d rounds, %d of 64 called exactly once\n", rounds, total);
    /* the queue's release runs what waits: one more call */
    s = tl_queue_on_finish(q, on_once, &counts[1]);
    printf("once: on_finish before release status=%d\n", s);
    s = tl_release_queue(q);
    pthread_mutex_lock(&once_lock);
    printf("once: release_queue status=%d counts=", s);
    print_ints(counts, 4);
    pthread_mutex_unlock(&once_lock);
    printf(" notify_calls=%d\n", nlog.calls);
    pthread_mutex_destroy(&nlog.lock);
}

/* ============================================================ coupled */

/* A callback the library keeps as long as an object, like an OpenCL
   context's notify: its registration ends with the queue's release (on
   the API server and in the guest), not with the process. */
static void section_coupled(void)
{
    tl_status s = 12345, st[8];
    tl_queue q, qs[8];
    struct notify_log nlog, many, lasting;

    memset(&nlog, 0, sizeof nlog);
    memset(&many, 0, sizeof many);
    memset(&lasting, 0, sizeof lasting);
    if (pthread_mutex_init(&nlog.lock, NULL) != 0 || pthread_mutex_init(&many.lock, NULL) != 0 ||
        pthread_mutex_init(&lasting.lock, NULL) != 0)
        die("pthread_mutex_init failed");
    /* a lasting callback beside them, which stays until the process leaves */
    s = tl_create_queue(dev(1), &q);
    s |= tl_set_notify(q, on_notify, &lasting);
    s |= tl_release_queue(q);
    printf("coupled: set_notify on a released queue status=%d\n", s);
    q = tl_create_queue_notified(dev(0), on_notify, &nlog, &s);
    printf("coupled: create status=%d valid=%d\n", s, q != NULL);
    pthread_mutex_lock(&nlog.lock);
    nlog.expected = q;
    pthread_mutex_unlock(&nlog.lock);
    s = tl_queue_finish(q);
    pthread_mutex_lock(&nlog.lock);
    printf("coupled: finish#1 status=%d notify_calls=%d same_queue=%d\n", s, nlog.calls, nlog.same_queue);
    pthread_mutex_unlock(&nlog.lock);
    s = tl_queue_finish(q);
    pthread_mutex_lock(&nlog.lock);
    printf("coupled: finish#2 status=%d notify_calls=%d\n", s, nlog.calls);
    pthread_mutex_unlock(&nlog.lock);
    /* the release runs what waits, so the notify runs once more */
    s = tl_release_queue(q);
    pthread_mutex_lock(&nlog.lock);
    printf("coupled: release_queue status=%d notify_calls=%d\n", s, nlog.calls);
    pthread_mutex_unlock(&nlog.lock);
    /* a creation that fails: its registration goes with the call */
    s = 12345;
    q = tl_create_queue_notified(NULL, on_notify, &nlog, &s);
    printf("coupled: create(NULL device) status=%d valid=%d\n", s, q != NULL);
    /* eight queues with the same function and userdata: each has its own
       registration, which ends with its own queue */
    for (int i = 0; i < 8; i++)
        qs[i] = tl_create_queue_notified(dev(i % 2), on_notify, &many, &st[i]);
    printf("coupled: create x8 statuses=");
    print_ints(st, 8);
    printf("\n");
    for (int i = 0; i < 8; i++)
        st[i] = tl_queue_finish(qs[i]);
    for (int i = 7; i >= 0; i--)
        st[i] |= tl_release_queue(qs[i]);
    pthread_mutex_lock(&many.lock);
    printf("coupled: finish and release x8 statuses=");
    print_ints(st, 8);
    printf(" notify_calls=%d\n", many.calls);
    pthread_mutex_unlock(&many.lock);
    /* a notify coupled to the queue passed in (not returned): it ends with
       that queue's release too */
    q = NULL;
    s = tl_create_queue(dev(0), &q);
    s |= tl_watch_queue(q, on_notify, &many);
    s |= tl_queue_finish(q);
    s |= tl_release_queue(q);
    pthread_mutex_lock(&many.lock);
    printf("coupled: watch, finish and release status=%d notify_calls=%d\n", s, many.calls);
    pthread_mutex_unlock(&many.lock);
    pthread_mutex_destroy(&nlog.lock);
    pthread_mutex_destroy(&lasting.lock);
    pthread_mutex_destroy(&many.lock);
}

/* ================================================================= map */

/* A callback without userdata (tl_map's): each process gets its own
   function called, even when another process registered one since. */
static int add_one(int v) { return v + 1; }
static int times_ten(int v) { return v * 10; }

static void map_and_print(const char *what, tl_map_fn fn)
{
    int v[4] = {1, 2, 3, 4};
    tl_status s = tl_map(v, 4, fn);
    printf("map: %s ", what);
    print_ints(v, 4);
    printf(" status=%d\n", s);
}

static void section_map(void)
{
    map_and_print("add_one", add_one);
    map_and_print("times_ten", times_ten);
    map_and_print("add_one again", add_one);
}

/* Registers add_one, waits for a line on standard input (meanwhile another
   process runs `map_other`), then maps again. */
static void section_map_wait(void)
{
    char line[8];
    map_and_print("add_one", add_one);
    fflush(stdout);
    if (fgets(line, sizeof line, stdin) == NULL)
        die("no line on standard input");
    map_and_print("add_one after the other", add_one);
}

static void section_map_other(void)
{
    map_and_print("times_ten", times_ten);
}

/* =========================================================== departure */

/* Leaves objects behind on purpose, one memory object retained twice:
   through CAVA, the API server releases them when the process has gone
   (see `live`, run afterwards by another process). */
static void section_leave(void)
{
    tl_status s[6], err = TL_SUCCESS;
    tl_mem held, plain;
    tl_queue q = NULL;
    tl_kernel k;

    held = tl_mem_create(dev(0), 64, &s[0]);
    s[1] = tl_mem_retain(held);
    s[2] = tl_mem_retain(held);
    plain = tl_mem_create(dev(1), 32, &s[3]);
    s[4] = tl_create_queue(dev(0), &q);
    k = tl_create_kernel(dev(0), "fill_i32", &s[5]);
    /* one release of three: the memory stays */
    err = tl_mem_release(held);
    printf("leave: statuses=");
    print_ints(s, 6);
    printf(" release=%d live=%d,%d,%d,%d\n", err, held != NULL, plain != NULL, q != NULL, k != NULL);
}

/* Leaves two reads pending on a queue (and the queue and the memory):
   through CAVA, the API server keeps a buffer for each read until the
   queue runs. When the process has gone, the server runs the queue
   (tl_queue_finish, the call that brings the reads back), releases the
   queue and the memory, and frees the two buffers (256 and 64 bytes). */
static void section_leave_reads(void)
{
    static int values[64], first[64], second[16];
    /* the library keeps the label while the queue lives: the server frees
       its copy once the queue is released for the departed process */
    static const char label[] = "left behind";
    tl_status s[6];
    tl_queue q = NULL;
    tl_mem m;
    size_t pending = 0;

    for (int i = 0; i < 64; i++)
        values[i] = i * 3;
    m = tl_mem_create(dev(0), sizeof values, &s[0]);
    s[1] = tl_create_queue(dev(0), &q);
    s[2] = tl_enqueue_write(q, m, 0, sizeof values, values);
    s[3] = tl_enqueue_read(q, m, 0, sizeof first, first);
    s[4] = tl_enqueue_read(q, m, 0, sizeof second, second);
    s[5] = tl_queue_set_label(q, label);
    tl_queue_pending(q, &pending);
    printf("leave_reads: statuses=");
    print_ints(s, 6);
    printf(" pending=%zu\n", pending);
}

/* The number of objects the library holds: run alone, through a server
   another process left objects with, it shows what the server released. */
static void section_live(void)
{
    printf("live: objects=%zu\n", tl_live_objects());
}

/* ================================================================ reuse */

struct release_job {
    tl_mem mem;
    tl_status status;
};

static void *release_on_a_thread(void *arg)
{
    struct release_job *job = arg;
    job->status = tl_mem_release(job->mem);
    return NULL;
}

/* A memory object released on one thread while another creates one: the
   library frees the first, pauses, and gives its address to the second
   before the first's release returns. Through CAVA the second must get a
   handle of its own, which the end of the first's release leaves alone. */
static void section_reuse(void)
{
    const struct timespec millisecond = {0, 1000000};
    struct release_job job = {NULL, -1};
    tl_status s[4];
    size_t before, size = 0;
    int waited = 0;
    pthread_t thread;
    tl_mem second;

    job.mem = tl_mem_create(dev(0), 48, &s[0]);
    before = tl_live_objects();
    s[1] = tl_pause_releases(1);
    if (pthread_create(&thread, NULL, release_on_a_thread, &job) != 0) {
        perror("pthread_create");
        exit(1);
    }
    /* until the library has freed it (its release then waits) */
    while (tl_live_objects() == before && waited++ < 10000)
        nanosleep(&millisecond, NULL);
    second = tl_mem_create(dev(0), 48, &s[2]);
    s[3] = tl_pause_releases(0);
    pthread_join(thread, NULL);
    printf("reuse: statuses=");
    print_ints(s, 4);
    printf(" release=%d freed_first=%d", job.status, waited < 10000);
    printf(" size_status=%d", tl_mem_get_size(second, &size));
    printf(" size=%zu release_second=%d\n", size, tl_mem_release(second));
}

/* ================================================================ async */

/* What a queue's notify callback found in a read's destination. */
struct peek {
    const int *dst;
    int seen[3];
    int calls;
};

static void on_notify_peek(tl_queue queue, tl_status status, void *user)
{
    struct peek *p = user;
    (void)queue;
    (void)status;
    memcpy(p->seen, p->dst, sizeof p->seen);
    p->calls++;
}

static void section_async(void)
{
    tl_status s, seq[4], err;
    tl_queue q = NULL, q2 = NULL;
    tl_mem m;
    const int init[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int all[8], tail[2], other[2], last[2];
    size_t pending = 99;

    for (int i = 0; i < 8; i++)
        all[i] = -1;
    tail[0] = tail[1] = other[0] = other[1] = last[0] = last[1] = -1;

    s = tl_create_queue(dev(0), &q);
    s = s == TL_SUCCESS ? tl_create_queue(dev(0), &q2) : s;
    printf("async: create_queues status=%d\n", s);
    m = tl_mem_create(dev(0), sizeof init, &err);
    printf("async: mem_create status=%d\n", err);

    /* a successful sequence: its reads are copied back by the finish */
    s = tl_enqueue_write(q, m, 0, sizeof init, init);
    printf("async: enqueue_write status=%d\n", s);
    s = tl_enqueue_scale(q, m, 3);
    printf("async: enqueue_scale(3) status=%d\n", s);
    s = tl_enqueue_read(q, m, 0, sizeof all, all);
    printf("async: enqueue_read(all) status=%d\n", s);
    s = tl_enqueue_read(q, m, 6 * sizeof(int), sizeof tail, tail);
    printf("async: enqueue_read(tail) status=%d\n", s);
    s = tl_queue_pending(q, &pending);
    printf("async: pending=%zu status=%d\n", pending, s);
    printf("async: before finish all[0]=%d tail[0]=%d\n", all[0], tail[0]);
    s = tl_queue_finish(q);
    printf("async: finish status=%d\n", s);
    printf("async: all=");
    print_ints(all, 8);
    printf(" tail=");
    print_ints(tail, 2);
    putchar('\n');
    s = tl_queue_pending(q, &pending);
    printf("async: pending after finish=%zu status=%d\n", pending, s);

    /* fails in the library when enqueued: natively the enqueue returns the
       error, through a guest the next call (the finish) does */
    seq[0] = tl_enqueue_expect(q, m, 99, 0);
    seq[1] = tl_queue_finish(q);
    printf("async: expect(index 99) first_error=%d\n", first_error(seq, 2));
    s = tl_queue_finish(q);
    printf("async: finish after reported error status=%d\n", s);

    /* the same with an invalid factor */
    seq[0] = tl_enqueue_scale(q, m, 0);
    seq[1] = tl_queue_finish(q);
    printf("async: scale(0) first_error=%d\n", first_error(seq, 2));

    /* fails when the queue runs: the finish reports it in both cases */
    seq[0] = tl_enqueue_expect(q, m, 0, 3);
    seq[1] = tl_enqueue_expect(q, m, 1, 1000);
    seq[2] = tl_enqueue_expect(q, m, 2, 9);
    printf("async: expect enqueued first_error=%d\n", first_error(seq, 3));
    s = tl_queue_finish(q);
    printf("async: finish after mismatch status=%d\n", s);
    s = tl_queue_finish(q);
    printf("async: finish again status=%d\n", s);

    /* a read refused at once (a released object): natively the enqueue
       returns the error, through a guest the finish does; the destination
       the guest registered for it must not break later finishes */
    {
        tl_mem gone = tl_mem_create(dev(0), sizeof init, &err);
        int lost[2] = {-1, -1};
        tl_mem_release(gone);
        seq[0] = tl_enqueue_read(q, gone, 0, sizeof lost, lost);
        seq[1] = tl_queue_finish(q);
        printf("async: read of a released mem first_error=%d lost[0]=%d\n", first_error(seq, 2), lost[0]);
        s = tl_queue_finish(q);
        printf("async: finish after the refused read status=%d\n", s);
        /* a read the library refuses (past the end of the memory): the
           API server keeps nothing for it */
        seq[0] = tl_enqueue_read(q, m, sizeof init - sizeof(int), sizeof lost, lost);
        seq[1] = tl_queue_finish(q);
        printf("async: read past the end first_error=%d lost[0]=%d\n", first_error(seq, 2), lost[0]);
    }

    /* reads are kept per queue: finishing q does not run q2's */
    s = tl_enqueue_read(q2, m, 0, sizeof other, other);
    printf("async: enqueue_read on q2 status=%d\n", s);
    s = tl_enqueue_scale(q, m, -1);
    s = s == TL_SUCCESS ? tl_queue_finish(q) : s;
    printf("async: finish q status=%d q2 read still other[0]=%d\n", s, other[0]);
    s = tl_queue_finish(q2);
    printf("async: finish q2 status=%d other=", s);
    print_ints(other, 2);
    putchar('\n');

    /* the notify callback runs after the queue's work, before the finish
       returns: the reads that work ran are in place when it looks (through
       a guest its callback's replace_guest code brings them back) */
    {
        tl_queue q3 = NULL;
        int dst[3] = {-1, -1, -1};
        struct peek peek = {dst, {-1, -1, -1}, 0};
        s = tl_create_queue(dev(0), &q3);
        s = s == TL_SUCCESS ? tl_set_notify(q3, on_notify_peek, &peek) : s;
        s = s == TL_SUCCESS ? tl_enqueue_read(q3, m, sizeof(int), sizeof dst, dst) : s;
        s = s == TL_SUCCESS ? tl_queue_finish(q3) : s;
        printf("async: notify after a read status=%d calls=%d seen=", s, peek.calls);
        print_ints(peek.seen, 3);
        printf(" dst=");
        print_ints(dst, 3);
        putchar('\n');
        s = tl_release_queue(q3);
        printf("async: release q3 status=%d calls=%d\n", s, peek.calls);
    }

    /* releasing a queue runs its pending reads too */
    s = tl_enqueue_read(q2, m, 4 * sizeof(int), sizeof last, last);
    printf("async: enqueue_read on q2 status=%d\n", s);
    s = tl_release_queue(q2);
    printf("async: release q2 status=%d last=", s);
    print_ints(last, 2);
    putchar('\n');

    s = tl_release_queue(q);
    printf("async: release q status=%d\n", s);
    s = tl_mem_release(m);
    printf("async: mem_release status=%d\n", s);
}

/* ============================================================= metadata */

static void section_metadata(void)
{
    tl_status s, err, errs[3], seq[6];
    tl_queue q = NULL;
    tl_kernel fill, axpy, offset, bad, unsigned_k;
    tl_mem x, y, z;
    const int32_t xs[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const int32_t ys[8] = {10, 20, 30, 40, 50, 60, 70, 80};
    int32_t fill_value = 7, a = 3;
    int64_t delta = -1000;
    int zs[8], yr[8];

    for (int i = 0; i < 8; i++)
        zs[i] = yr[i] = -1;

    s = tl_create_queue(dev(0), &q);
    printf("metadata: create_queue status=%d\n", s);
    x = tl_mem_create(dev(0), sizeof xs, &errs[0]);
    y = tl_mem_create(dev(0), sizeof ys, &errs[1]);
    z = tl_mem_create(dev(0), sizeof xs, &errs[2]);
    printf("metadata: mem_create x y z first_error=%d\n", first_error(errs, 3));

    fill = tl_create_kernel(dev(0), "fill_i32", &err);
    printf("metadata: create_kernel(fill_i32) status=%d valid=%d\n", err, fill != NULL);
    axpy = tl_create_kernel(dev(0), "axpy_i32", &err);
    printf("metadata: create_kernel(axpy_i32) status=%d valid=%d\n", err, axpy != NULL);
    offset = tl_create_kernel(dev(0), "offset_i32", &err);
    printf("metadata: create_kernel(offset_i32) status=%d valid=%d\n", err, offset != NULL);
    unsigned_k = tl_create_kernel(dev(0), "fill_i32", &err);
    printf("metadata: create_kernel(fill_i32, never declared) status=%d valid=%d\n", err, unsigned_k != NULL);
    err = 12345;
    bad = tl_create_kernel(dev(0), "no_such_kernel", &err);
    printf("metadata: create_kernel(no_such_kernel) status=%d valid=%d\n", err, bad != NULL);

    /* a wrong signature is refused; the right one follows it */
    s = tl_kernel_set_signature(fill, 2, 0x2, 0x0);
    printf("metadata: set_signature(fill_i32, wrong) status=%d\n", s);
    s = tl_kernel_set_signature(fill, 2, 0x1, 0x0);
    printf("metadata: set_signature(fill_i32) status=%d\n", s);
    s = tl_kernel_set_signature(axpy, 3, 0x6, 0x0);
    printf("metadata: set_signature(axpy_i32) status=%d\n", s);
    s = tl_kernel_set_signature(offset, 2, 0x1, 0x2);
    printf("metadata: set_signature(offset_i32) status=%d\n", s);
    /* a refused signature leaves the declared one in place (a failed call's
       statements do not run) */
    s = tl_kernel_set_signature(fill, 3, 0x6, 0x0);
    printf("metadata: set_signature(fill_i32, wrong after right) status=%d\n", s);

    seq[0] = tl_enqueue_write(q, x, 0, sizeof xs, xs);
    seq[1] = tl_enqueue_write(q, y, 0, sizeof ys, ys);
    {
        void *fill_args[2] = {&z, &fill_value};
        void *axpy_args[3] = {&a, &x, &y};
        void *offset_args[2] = {&y, &delta};
        seq[2] = tl_launch(q, fill, 8, fill_args);
        seq[3] = tl_launch(q, axpy, 8, axpy_args);
        seq[4] = tl_launch(q, offset, 4, offset_args);
    }
    seq[5] = tl_enqueue_read(q, z, 0, sizeof zs, zs);
    printf("metadata: enqueued first_error=%d\n", first_error(seq, 6));
    s = tl_enqueue_read(q, y, 0, sizeof yr, yr);
    printf("metadata: enqueue_read(y) status=%d\n", s);
    s = tl_queue_finish(q);
    printf("metadata: finish status=%d\n", s);
    printf("metadata: fill z=");
    print_ints(zs, 8);
    printf("\nmetadata: axpy+offset y=");
    print_ints(yr, 8);
    putchar('\n');

    /* launching a kernel whose signature was never declared fails in the
       library (at once natively, on the next call through a guest) */
    {
        void *args[2] = {&z, &fill_value};
        seq[0] = tl_launch(q, unsigned_k, 8, args);
        seq[1] = tl_queue_finish(q);
        printf("metadata: launch(undeclared) first_error=%d\n", first_error(seq, 2));
    }
    /* a global size past the end of the memory fails when the queue runs */
    {
        void *args[2] = {&z, &fill_value};
        seq[0] = tl_launch(q, fill, 9, args);
        printf("metadata: launch(global_size 9) status=%d\n", seq[0]);
        s = tl_queue_finish(q);
        printf("metadata: finish status=%d\n", s);
    }

    /* a signature declared at creation (statements on the returned kernel);
       a wrong one creates nothing */
    {
        tl_kernel declared, wrong;
        int32_t value = 42;
        int zd[8];
        void *args[2] = {&z, &value};
        for (int i = 0; i < 8; i++)
            zd[i] = -1;
        err = 12345;
        wrong = tl_create_kernel_declared(dev(0), "fill_i32", 2, 0x2, 0x0, &err);
        printf("metadata: create_kernel_declared(wrong) status=%d valid=%d\n", err, wrong != NULL);
        declared = tl_create_kernel_declared(dev(0), "fill_i32", 2, 0x1, 0x0, &err);
        printf("metadata: create_kernel_declared status=%d valid=%d\n", err, declared != NULL);
        seq[0] = tl_launch(q, declared, 8, args);
        seq[1] = tl_enqueue_read(q, z, 0, sizeof zd, zd);
        seq[2] = tl_queue_finish(q);
        printf("metadata: launch(declared) first_error=%d z=", first_error(seq, 3));
        print_ints(zd, 8);
        putchar('\n');
        s = tl_release_kernel(declared);
        printf("metadata: release_kernel(declared) status=%d\n", s);
    }

    s = tl_release_kernel(fill);
    s = s == TL_SUCCESS ? tl_release_kernel(axpy) : s;
    s = s == TL_SUCCESS ? tl_release_kernel(offset) : s;
    s = s == TL_SUCCESS ? tl_release_kernel(unsigned_k) : s;
    printf("metadata: release_kernels status=%d\n", s);
    s = tl_release_kernel(fill);
    printf("metadata: release_kernel again status=%d\n", s);
    s = tl_mem_release(x);
    s = s == TL_SUCCESS ? tl_mem_release(y) : s;
    s = s == TL_SUCCESS ? tl_mem_release(z) : s;
    printf("metadata: mem_release status=%d\n", s);
    s = tl_release_queue(q);
    printf("metadata: release_queue status=%d\n", s);
}

/* ============================================================== threads */

#define N_THREADS 4

struct thread_result {
    int index;
    tl_status set_status;
    int before;
    int after;
    pthread_barrier_t *barrier;
};

static void *thread_main(void *arg)
{
    struct thread_result *r = arg;
    r->before = tl_thread_get();
    r->set_status = tl_thread_set(10 * (r->index + 1));
    /* every thread has set its value before any reads it back */
    pthread_barrier_wait(r->barrier);
    r->after = tl_thread_get();
    return NULL;
}

/* Two threads retain and release one memory object at once. Each call's
   statements count the retains (metadata), and a release deallocates the
   handle only when none is left: two threads' statements interleaved
   through CAVA once lost updates (a retain counted once for two), so a
   release ended the handle early and every later call was refused. */
struct retain_job {
    tl_mem mem;
    int errors;
};

static void *retain_and_release(void *arg)
{
    struct retain_job *job = arg;
    for (int i = 0; i < 2000; i++) {
        if (tl_mem_retain(job->mem) != TL_SUCCESS)
            job->errors++;
        if (tl_mem_release(job->mem) != TL_SUCCESS)
            job->errors++;
    }
    return NULL;
}

static void section_retains(void)
{
    tl_status s;
    size_t size = 0;
    tl_mem m = tl_mem_create(dev(0), 64, &s);
    struct retain_job jobs[2] = {{m, 0}, {m, 0}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, retain_and_release, &jobs[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    tl_status got = tl_mem_get_size(m, &size);
    tl_status released = tl_mem_release(m);
    printf("retains: errors=%d,%d get_size=%d size=%zu release=%d\n", jobs[0].errors, jobs[1].errors, got, size, released);
}

/* Two threads release one memory object at the same moment, its last two
   references: one of the releases frees it, and its handle must end
   there. Through CAVA both releases once read the object's count before
   either had counted it (on two channels of the API server at once), both
   decided they were not the last, and the library freed the object while
   its handle stayed, naming whatever the library made next at that
   address. Here that is another process's memory object: a helper
   process (the program run as `--maker`) makes one after each round, in
   the memory the library just freed (the test library reuses it at
   once). Natively the released handle names nothing of this process, so
   a call with it fails; through CAVA it must fail too, and never reach
   the other process's object. */
#define RACE_ROUNDS 2000

struct racer {
    tl_mem *mem;
    pthread_barrier_t *start, *done;
    int errors;
};

static void *release_racer(void *arg)
{
    struct racer *r = arg;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        pthread_barrier_wait(r->start);
        if (tl_mem_release(*r->mem) != TL_SUCCESS)
            r->errors++;
        pthread_barrier_wait(r->done);
    }
    return NULL;
}

/* The helper process: on `c` it makes a memory object, on `r` it
   releases it; it answers each with `k` (done) or `f` (failed). */
static int maker_main(void)
{
    tl_mem m = NULL;
    char command;
    while (read(0, &command, 1) == 1) {
        tl_status s = TL_ERROR_INVALID_VALUE;
        if (command == 'c')
            m = tl_mem_create(dev(0), 48, &s);
        else if (command == 'r')
            s = tl_mem_release(m);
        char answer = s == TL_SUCCESS ? 'k' : 'f';
        if (write(1, &answer, 1) != 1)
            return 1;
    }
    return 0;
}

static char ask_maker(int to, int from, char command)
{
    char answer = 0;
    if (write(to, &command, 1) != 1 || read(from, &answer, 1) != 1)
        die("the maker process is gone");
    return answer;
}

static void section_release_race(void)
{
    int to[2], from[2];
    pthread_barrier_t start, done;
    tl_mem mem = NULL;
    struct racer racers[2];
    pthread_t threads[2];
    int made = 0, maker_failed = 0, reached = 0;

    if (pipe(to) != 0 || pipe(from) != 0)
        die("pipe failed");
    fflush(stdout);
    pid_t maker = fork();
    if (maker < 0)
        die("fork failed");
    if (maker == 0) {
        /* a process of its own (exec'd at once: no state of this one's) */
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[0]);
        close(to[1]);
        close(from[0]);
        close(from[1]);
        execl("/proc/self/exe", "program", "--maker", (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    if (pthread_barrier_init(&start, NULL, 3) != 0 || pthread_barrier_init(&done, NULL, 3) != 0)
        die("pthread_barrier_init failed");
    for (int i = 0; i < 2; i++) {
        racers[i] = (struct racer){&mem, &start, &done, 0};
        if (pthread_create(&threads[i], NULL, release_racer, &racers[i]) != 0)
            die("pthread_create failed");
    }
    for (int i = 0; i < RACE_ROUNDS; i++) {
        tl_status s;
        size_t size = 0;
        mem = tl_mem_create(dev(0), 48, &s);
        if (s == TL_SUCCESS && tl_mem_retain(mem) == TL_SUCCESS)
            made++;
        pthread_barrier_wait(&start);
        pthread_barrier_wait(&done);
        if (ask_maker(to[1], from[0], 'c') != 'k')
            maker_failed++;
        if (tl_mem_get_size(mem, &size) != TL_ERROR_INVALID_HANDLE)
            reached++;
        if (ask_maker(to[1], from[0], 'r') != 'k')
            maker_failed++;
    }
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&start);
    pthread_barrier_destroy(&done);
    close(to[1]);
    close(from[0]);
    int status = 0;
    waitpid(maker, &status, 0);
    printf("release_race: made=%d errors=%d,%d maker_failed=%d maker_exit=%d released_handle_reached=%d\n", made,
           racers[0].errors, racers[1].errors, maker_failed, WIFEXITED(status) ? WEXITSTATUS(status) : -1, reached);
}

/* Calls ordered in the application stay ordered: a worker thread
   enqueues work (asynchronous calls, which return before the API server
   has run them) and hands over to the main thread through a mutex and a
   condition variable; the main thread then asks the queue how much work
   it holds, and runs it. The worker's calls go over its own channel and
   the main thread's over another, which the API server serves on two
   threads of its own: without the guest's fences the main thread's
   calls overtook the worker's (the queue held nothing yet, and the read
   the worker enqueued was not complete when tl_queue_finish returned). */
#define HANDOVER_ROUNDS 2000

struct handover {
    pthread_mutex_t lock;
    pthread_cond_t turned;
    int workers_turn;
    tl_queue queue;
    tl_mem mem;
    int values[4];
    int errors;
};

static void take_turn(struct handover *h, int worker)
{
    pthread_mutex_lock(&h->lock);
    while (h->workers_turn != worker)
        pthread_cond_wait(&h->turned, &h->lock);
    pthread_mutex_unlock(&h->lock);
}

static void give_turn(struct handover *h, int worker)
{
    pthread_mutex_lock(&h->lock);
    h->workers_turn = worker;
    pthread_cond_broadcast(&h->turned);
    pthread_mutex_unlock(&h->lock);
}

static void *handover_worker(void *arg)
{
    struct handover *h = arg;
    for (int i = 0; i < HANDOVER_ROUNDS; i++) {
        int round[4] = {i, i + 1, i + 2, i + 3};
        take_turn(h, 1);
        if (tl_enqueue_write(h->queue, h->mem, 0, sizeof round, round) != TL_SUCCESS ||
            tl_enqueue_read(h->queue, h->mem, 0, sizeof h->values, h->values) != TL_SUCCESS)
            h->errors++;
        give_turn(h, 0);
    }
    return NULL;
}

static void section_handover(void)
{
    struct handover h = {.workers_turn = 0};
    pthread_t worker;
    tl_status s, err;
    int pending_wrong = 0, reads_wrong = 0, main_errors = 0;

    s = tl_create_queue(dev(0), &h.queue);
    h.mem = tl_mem_create(dev(0), sizeof h.values, &err);
    printf("handover: create status=%d,%d\n", s, err);
    if (pthread_mutex_init(&h.lock, NULL) != 0 || pthread_cond_init(&h.turned, NULL) != 0)
        die("pthread_mutex_init failed");
    if (pthread_create(&worker, NULL, handover_worker, &h) != 0)
        die("pthread_create failed");
    for (int i = 0; i < HANDOVER_ROUNDS; i++) {
        size_t pending = 0;
        h.values[0] = -1;
        give_turn(&h, 1);
        take_turn(&h, 0);
        if (tl_queue_pending(h.queue, &pending) != TL_SUCCESS || tl_queue_finish(h.queue) != TL_SUCCESS)
            main_errors++;
        if (pending != 2)
            pending_wrong++;
        if (h.values[0] != i || h.values[3] != i + 3)
            reads_wrong++;
    }
    pthread_join(worker, NULL);
    pthread_mutex_destroy(&h.lock);
    pthread_cond_destroy(&h.turned);
    tl_mem_release(h.mem);
    tl_release_queue(h.queue);
    printf("handover: rounds=%d errors=%d,%d pending_wrong=%d reads_wrong=%d\n", HANDOVER_ROUNDS, h.errors, main_errors,
           pending_wrong, reads_wrong);
}

/* Threads that come and go, one after another: each queues writes, the
   last of its number, and exits, half of them right after (their channel
   must wait, as it closes, until the server has handled the writes), half
   after a synchronous call; the main thread then reads. Each read must see the
   write of the thread it joined: a guest whose closed channels left the
   fence registry before their calls ran would let the read overtake it. */
#define RELAY_THREADS 120
#define RELAY_WRITES 16

struct relay {
    tl_queue queue;
    tl_mem mem;
    int index;
    int errors;
};

static void *relay_worker(void *arg)
{
    struct relay *r = arg;
    size_t pending = 0;
    /* several writes, the last one's value its number: more calls queued
       when it exits, which a read that overtook them would miss */
    for (int k = RELAY_WRITES - 1; k >= 0; k--) {
        int v[4] = {r->index - k, r->index, r->index, r->index - k};
        if (tl_enqueue_write(r->queue, r->mem, 0, sizeof v, v) != TL_SUCCESS)
            r->errors++;
    }
    if (r->index % 2 == 1 && tl_queue_pending(r->queue, &pending) != TL_SUCCESS)
        r->errors++;
    return NULL;
}

static void section_relay(void)
{
    struct relay r = {0};
    tl_status s, err;
    int wrong = 0, main_errors = 0;

    s = tl_create_queue(dev(0), &r.queue);
    r.mem = tl_mem_create(dev(0), 4 * sizeof(int), &err);
    printf("relay: create status=%d,%d\n", s, err);
    for (int i = 0; i < RELAY_THREADS; i++) {
        pthread_t worker;
        int values[4] = {-1, -1, -1, -1};
        r.index = i;
        if (pthread_create(&worker, NULL, relay_worker, &r) != 0)
            die("pthread_create failed");
        pthread_join(worker, NULL);
        if (tl_enqueue_read(r.queue, r.mem, 0, sizeof values, values) != TL_SUCCESS || tl_queue_finish(r.queue) != TL_SUCCESS)
            main_errors++;
        if (values[0] != i || values[3] != i)
            wrong++;
    }
    tl_mem_release(r.mem);
    tl_release_queue(r.queue);
    printf("relay: threads=%d errors=%d,%d wrong=%d\n", RELAY_THREADS, r.errors, main_errors, wrong);
}

static void section_threads(void)
{
    pthread_t threads[N_THREADS];
    struct thread_result results[N_THREADS];
    pthread_barrier_t barrier;
    tl_status s;

    printf("threads: main before=%d\n", tl_thread_get());
    if (pthread_barrier_init(&barrier, NULL, N_THREADS) != 0)
        die("pthread_barrier_init failed");
    for (int i = 0; i < N_THREADS; i++) {
        results[i].index = i;
        results[i].barrier = &barrier;
        if (pthread_create(&threads[i], NULL, thread_main, &results[i]) != 0)
            die("pthread_create failed");
    }
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < N_THREADS; i++)
        printf("threads: thread %d before=%d set_status=%d after=%d\n", i, results[i].before,
               results[i].set_status, results[i].after);
    printf("threads: main after threads=%d\n", tl_thread_get());
    s = tl_thread_set(99);
    printf("threads: main set(99) status=%d get=%d\n", s, tl_thread_get());
    s = tl_thread_set(-5);
    printf("threads: main set(-5) status=%d get=%d\n", s, tl_thread_get());
}

/* ============================================================= zerocopy */

static uint32_t adler32(const unsigned char *p, size_t n)
{
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    return (b << 16) | a;
}

/* Buffers in memory from tl_host_alloc: through CAVA they are in the
   process's zero-copy region and travel uncopied, whatever their size. */
static void zerocopy_host_memory(void)
{
    const size_t size = 1u << 20;
    unsigned char *big = tl_host_alloc(size);
    int *small = tl_host_alloc(16 * sizeof *small);
    int64_t total = 0;
    uint32_t sum = 0;
    tl_status s;

    printf("zerocopy: host_alloc big=%d small=%d\n", big != NULL, small != NULL);
    if (big == NULL || small == NULL)
        die("tl_host_alloc failed");
    s = tl_fill_pattern(big, size, 777);
    printf("zerocopy: host fill_pattern status=%d local adler32=0x%08" PRIx32 "\n", s, adler32(big, size));
    s = tl_checksum(big, size, &sum);
    printf("zerocopy: host checksum=0x%08" PRIx32 " status=%d matches=%d\n", sum, s, sum == adler32(big, size));
    /* a part of the block, at an offset */
    s = tl_checksum(big + 4096, 100, &sum);
    printf("zerocopy: host checksum(part)=0x%08" PRIx32 " status=%d matches=%d\n", sum, s, sum == adler32(big + 4096, 100));
    for (int i = 0; i < 16; i++)
        small[i] = i * i;
    s = tl_sum_ints(small, 16, &total);
    printf("zerocopy: host sum_ints=%lld status=%d\n", (long long)total, s);
    s = tl_fill_sequence(small, 16, 5, 3);
    printf("zerocopy: host fill_sequence status=%d small[15]=%d\n", s, small[15]);
    tl_host_free(small);
    tl_host_free(big);
    /* freed memory is handed out again; a size past the limit is NULL */
    big = tl_host_alloc(size);
    printf("zerocopy: host_alloc again=%d huge=%d\n", big != NULL, tl_host_alloc((size_t)2 << 30) != NULL);
    tl_host_free(big);
    tl_host_free(NULL);
    /* the allocator that answers through an out pointer */
    {
        void *p = NULL;
        uint32_t sum2 = 0;
        s = tl_host_alloc_status(&p, size);
        printf("zerocopy: host_alloc_status status=%d valid=%d\n", s, p != NULL);
        if (p != NULL) {
            s = tl_fill_pattern(p, size, 99);
            s = s == TL_SUCCESS ? tl_checksum(p, size, &sum2) : s;
            printf("zerocopy: host_alloc_status checksum matches=%d status=%d\n", sum2 == adler32(p, size), s);
        }
        printf("zerocopy: host_free_status=%d\n", tl_host_free_status(p));
        printf("zerocopy: host_alloc_status(NULL)=%d\n", tl_host_alloc_status(NULL, 16));
    }
}

static void section_zerocopy(void)
{
    const size_t size = 1u << 20;
    unsigned char *data = malloc(size);
    tl_status s;
    uint32_t sum = 0;
    char buf[64];
    char small[5];
    tl_queue q = NULL;
    /* the library keeps these pointers: string literals live for ever */
    static const char app_name[] = "cavatest-program";

    if (data == NULL)
        die("out of memory");
    memset(data, 0, size);

    s = tl_fill_pattern(data, size, 12345);
    printf("zerocopy: fill_pattern size=%zu status=%d first=%02x%02x%02x%02x last=%02x%02x\n", size, s,
           data[0], data[1], data[2], data[3], data[size - 2], data[size - 1]);
    printf("zerocopy: local adler32=0x%08" PRIx32 "\n", adler32(data, size));
    s = tl_checksum(data, size, &sum);
    printf("zerocopy: checksum=0x%08" PRIx32 " status=%d matches=%d\n", sum, s, sum == adler32(data, size));
    for (size_t i = 0; i < size; i++)
        data[i] = (unsigned char)(i * 7 + 1);
    s = tl_checksum(data, size, &sum);
    printf("zerocopy: checksum(i*7+1)=0x%08" PRIx32 " status=%d matches=%d\n", sum, s,
           sum == adler32(data, size));
    s = tl_checksum(data, 0, &sum);
    printf("zerocopy: checksum(size 0)=0x%08" PRIx32 " status=%d\n", sum, s);
    s = tl_fill_pattern(data, 16, 0);
    printf("zerocopy: fill_pattern(seed 0) status=%d\n", s);
    free(data);

    zerocopy_host_memory();

    s = tl_get_app_name(buf, sizeof buf);
    printf("zerocopy: app_name before=\"%s\" status=%d\n", s == TL_SUCCESS ? buf : "-", s);
    s = tl_set_app_name(app_name);
    printf("zerocopy: set_app_name status=%d\n", s);
    s = tl_get_app_name(buf, sizeof buf);
    printf("zerocopy: app_name=\"%s\" status=%d\n", s == TL_SUCCESS ? buf : "-", s);
    s = tl_get_app_name(small, sizeof small);
    printf("zerocopy: app_name size=5 truncated=\"%s\" status=%d\n", small, s);

    s = tl_create_queue(dev(1), &q);
    printf("zerocopy: create_queue status=%d\n", s);
    s = tl_queue_get_label(q, buf, sizeof buf);
    printf("zerocopy: queue label before=\"%s\" status=%d\n", s == TL_SUCCESS ? buf : "-", s);
    s = tl_queue_set_label(q, "queue-label");
    printf("zerocopy: set_label status=%d\n", s);
    s = tl_queue_get_label(q, buf, sizeof buf);
    printf("zerocopy: queue label=\"%s\" status=%d\n", s == TL_SUCCESS ? buf : "-", s);
    s = tl_release_queue(q);
    printf("zerocopy: release_queue status=%d\n", s);
}

/* ========================================================== unsupported */

/* Many objects made and released, each retained once first (so that its
   first release is not its last): the process must not grow with them.
   Through CAVA the guest library and the API server each kept a block of
   metadata per object the process had ever released (its count of
   retains), about 280 bytes, for the life of the process. */
#define CHURN_OBJECTS 20000

static long resident_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void section_churn(void)
{
    tl_status s;
    int errors = 0;
    /* the first objects make what every later one reuses (allocator arenas) */
    long before = 0;
    for (int i = 0; i < CHURN_OBJECTS; i++) {
        if (i == 1000)
            before = resident_kib();
        tl_mem m = tl_mem_create(dev(0), 64, &s);
        if (s != TL_SUCCESS || tl_mem_retain(m) != TL_SUCCESS || tl_mem_release(m) != TL_SUCCESS || tl_mem_release(m) != TL_SUCCESS)
            errors++;
    }
    long grew = resident_kib() - before;
    /* 19,000 objects' metadata alone was over 5 MiB */
    printf("churn: errors=%d grew %s 2 MiB\n", errors, grew < 2048 ? "under" : "over");
}

static void section_unsupported(void)
{
    tl_status s;
    /* natively both succeed; a guest generated from testlib.lapis returns
       TL_ERROR_NOT_SUPPORTED (unsupported) and TL_ERROR_UNKNOWN (the
       failure value, for a function missing from the spec) */
    s = tl_debug_printf(dev(0), "value=%d name=%s", 42, "x");
    printf("unsupported: debug_printf status=%d\n", s);
    s = tl_not_in_spec(1);
    printf("unsupported: not_in_spec status=%d\n", s);
}

/* ================================================================= main */

/* ============================================================== staged */

/* Buffers larger than a message can carry (run forwarded with a small
 * CAVA_MAX_MESSAGE, as the test does): uploaded before the call and
 * fetched after it in chunks. */
static void section_staged(void)
{
    const size_t n = (5u << 20) / sizeof(int) + 3;
    const size_t size = (3u << 20) + 5;
    int *values = malloc(n * sizeof(int));
    int *copy = malloc(n * sizeof(int));
    unsigned char *data = malloc(size);
    int64_t sum = 0;
    uint32_t check = 0;
    size_t count = n;
    tl_status s, err;
    tl_queue q = NULL;
    tl_mem m;

    if (values == NULL || copy == NULL || data == NULL)
        die("out of memory");
    for (size_t i = 0; i < n; i++)
        values[i] = (int)((i * 2654435761u) % 1000) - 500;
    s = tl_sum_ints(values, n, &sum);
    printf("staged: sum_ints n=%zu sum=%lld status=%d\n", n, (long long)sum, s);

    memset(values, 0, n * sizeof(int));
    s = tl_fill_sequence(values, n, 7, 3);
    printf("staged: fill_sequence status=%d first=%d last=%d adler32=0x%08" PRIx32 "\n", s, values[0], values[n - 1],
           adler32((const unsigned char *)values, n * sizeof(int)));

    memset(copy, 0xff, n * sizeof(int));
    s = tl_copy_ints(copy, values, &count);
    printf("staged: copy_ints status=%d equal=%d\n", s, memcmp(copy, values, n * sizeof(int)) == 0);

    s = tl_scale_ints(copy, n, -2);
    printf("staged: scale_ints status=%d first=%d last=%d adler32=0x%08" PRIx32 "\n", s, copy[0], copy[n - 1],
           adler32((const unsigned char *)copy, n * sizeof(int)));

    memset(data, 0, size);
    s = tl_fill_pattern(data, size, 4242);
    printf("staged: fill_pattern status=%d adler32=0x%08" PRIx32 "\n", s, adler32(data, size));
    s = tl_checksum(data, size, &check);
    printf("staged: checksum=0x%08" PRIx32 " status=%d matches=%d\n", check, s, check == adler32(data, size));

    /* two in buffers each under the limit, over it together: the second
       is staged (over the Unix socket; shared memory takes both in its
       region) */
    s = tl_interleave(values, values + 150000, 150000, copy);
    printf("staged: interleave status=%d adler32=0x%08" PRIx32 "\n", s, adler32((const unsigned char *)copy, 300000 * sizeof(int)));

    /* an asynchronous call's in buffer is uploaded before the call goes */
    s = tl_create_queue(dev(0), &q);
    m = tl_mem_create(dev(0), n * sizeof(int), &err);
    printf("staged: create_queue status=%d mem_create status=%d\n", s, err);
    s = tl_enqueue_write(q, m, 0, n * sizeof(int), values);
    printf("staged: enqueue_write status=%d\n", s);
    s = tl_enqueue_expect(q, m, n - 1, values[n - 1]);
    printf("staged: enqueue_expect status=%d\n", s);
    s = tl_queue_finish(q);
    printf("staged: finish status=%d\n", s);
    tl_mem_release(m);
    tl_release_queue(q);

    free(values);
    free(copy);
    free(data);
}

static const struct {
    const char *name;
    void (*run)(void);
} sections[] = {
    {"basic", section_basic},
    {"handles", section_handles},
    {"buffers", section_buffers},
    {"strings", section_strings},
    {"structs", section_structs},
    {"callbacks", section_callbacks},
    {"once", section_once},
    {"coupled", section_coupled},
    {"map", section_map},
    {"map_wait", section_map_wait},
    {"map_other", section_map_other},
    {"leave", section_leave},
    {"leave_reads", section_leave_reads},
    {"live", section_live},
    {"reuse", section_reuse},
    {"async", section_async},
    {"metadata", section_metadata},
    {"threads", section_threads},
    {"retains", section_retains},
    {"release_race", section_release_race},
    {"churn", section_churn},
    {"handover", section_handover},
    {"relay", section_relay},
    {"zerocopy", section_zerocopy},
    {"unsupported", section_unsupported},
    {"staged", section_staged},
};

static void run_section(size_t i)
{
    printf("== %s ==\n", sections[i].name);
    sections[i].run();
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--maker") == 0)
        return maker_main();
    /* check every name first, so that a typo runs nothing */
    for (int a = 1; a < argc; a++) {
        size_t i;
        for (i = 0; i < ARRAY_LEN(sections); i++)
            if (strcmp(argv[a], sections[i].name) == 0)
                break;
        if (i == ARRAY_LEN(sections)) {
            fprintf(stderr, "program: unknown section `%s`; sections:", argv[a]);
            for (i = 0; i < ARRAY_LEN(sections); i++)
                fprintf(stderr, " %s", sections[i].name);
            fputc('\n', stderr);
            return 2;
        }
    }
    if (argc == 1) {
        for (size_t i = 0; i < ARRAY_LEN(sections); i++)
            run_section(i);
        return 0;
    }
    for (int a = 1; a < argc; a++)
        for (size_t i = 0; i < ARRAY_LEN(sections); i++)
            if (strcmp(argv[a], sections[i].name) == 0)
                run_section(i);
    return 0;
}
