/*
 * bench_driver.c: the measuring side of `cava bench`. It calls benchlib.h
 * as an application does, linked against whichever libcavabench.so.1 the
 * loader finds (the real one, or a guest library through LD_LIBRARY_PATH),
 * and prints raw timings, one JSON object per line, for `cava bench` to
 * summarize:
 *
 *   {"kind":"latency","name":"bl_null","ns":[...]}           one entry per call
 *   {"kind":"copy","size":4096,"memcpy_ns":[...],"in_ns":[...],"out_ns":[...],
 *    "in_zc_ns":[...],"out_zc_ns":[...]}
 *
 * A copy repetition times, back to back, one memcpy of the size (the
 * baseline, in this process, at this moment), one bl_write (in) and one
 * bl_read (out) of buffers from posix_memalign, then one bl_write and one
 * bl_read of buffers from bl_alloc (through CAVA: zero-copy memory), so
 * all five see the same machine load.
 *
 * usage: bench_driver ITERATIONS WARMUP REPS_BYTES MIN_REPS MAX_REPS [SIZE...]
 *   ITERATIONS  timed calls per latency measurement (after WARMUP untimed)
 *   REPS_BYTES  repetitions per size: REPS_BYTES / size, within MIN_REPS..MAX_REPS
 */
#define _POSIX_C_SOURCE 200112L
#include "benchlib.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Called through a volatile pointer so the compiler cannot elide or inline it. */
static void *(*volatile copy_fn)(void *, const void *, size_t) = memcpy;

static void print_array(const char *key, const uint64_t *v, size_t n) {
    printf("\"%s\":[", key);
    for (size_t i = 0; i < n; i++) {
        printf(i ? ",%llu" : "%llu", (unsigned long long)v[i]);
    }
    printf("]");
}

static void die(const char *what) {
    fprintf(stderr, "bench_driver: %s\n", what);
    exit(1);
}

static volatile int sink;

/* Asynchronous calls per sample of `bl_queue`. */
#define QUEUED 100

static void latency(const char *name, int which, size_t iterations, size_t warmup, uint64_t *ns) {
    for (size_t i = 0; i < warmup + iterations; i++) {
        uint64_t t0 = now_ns();
        switch (which) {
        case 0:
            break;
        case 1:
            bl_null();
            break;
        case 2:
            sink = bl_scalars((int)i, 2, 0.5, 3u);
            break;
        default:
            /* QUEUED asynchronous calls, then one synchronous call that
               waits for them: the sample is the time per queued call */
            for (int q = 0; q < QUEUED; q++)
                bl_queue(1);
            sink = (int)bl_queued_total();
            break;
        }
        uint64_t t1 = now_ns();
        if (i >= warmup) {
            ns[i - warmup] = which == 3 ? (t1 - t0) / QUEUED : t1 - t0;
        }
    }
    printf("{\"kind\":\"latency\",\"name\":\"%s\",", name);
    print_array("ns", ns, iterations);
    printf("}\n");
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc < 6) {
        die("usage: bench_driver ITERATIONS WARMUP REPS_BYTES MIN_REPS MAX_REPS [SIZE...]");
    }
    size_t iterations = strtoull(argv[1], NULL, 10);
    size_t warmup = strtoull(argv[2], NULL, 10);
    size_t reps_bytes = strtoull(argv[3], NULL, 10);
    size_t min_reps = strtoull(argv[4], NULL, 10);
    size_t max_reps = strtoull(argv[5], NULL, 10);
    size_t nsizes = (size_t)(argc - 6);
    size_t *sizes = calloc(nsizes + 1, sizeof *sizes);
    size_t largest = 0;
    for (size_t i = 0; i < nsizes; i++) {
        sizes[i] = strtoull(argv[6 + i], NULL, 10);
        if (sizes[i] == 0) {
            die("sizes must be positive");
        }
        largest = sizes[i] > largest ? sizes[i] : largest;
    }
    if (iterations == 0 || min_reps == 0 || max_reps < min_reps) {
        die("bad iteration or repetition counts");
    }

    /* the call checks its result: a forwarded call that fails is not measured */
    if (bl_scalars(1, 2, 0.5, 3u) != 6) {
        die("bl_scalars(1, 2, 0.5, 3) did not return 6: the calls do not reach the library");
    }
    uint64_t *ns = malloc(iterations * sizeof *ns);
    if (ns == NULL) {
        die("out of memory");
    }
    latency("timer", 0, iterations, warmup, ns);
    latency("bl_null", 1, iterations, warmup, ns);
    latency("bl_scalars", 2, iterations, warmup, ns);
    latency("bl_queue", 3, iterations / QUEUED + 1, warmup / QUEUED + 1, ns);
    free(ns);

    if (nsizes == 0) {
        return 0;
    }
    if (bl_reserve(largest) != BL_SUCCESS) {
        die("bl_reserve failed");
    }
    /* Page-aligned, like the buffers an application hands an accelerator
     * API. With plain malloc the two buffers lay 16 bytes apart modulo
     * 4 KiB, and `memcpy` between them ran at a tenth of its speed (loads
     * falsely waiting for stores to the same offset within a page). */
    void *src_mem = NULL;
    void *dst_mem = NULL;
    if (posix_memalign(&src_mem, 4096, largest) != 0 || posix_memalign(&dst_mem, 4096, largest) != 0) {
        die("out of memory");
    }
    unsigned char *src = src_mem;
    unsigned char *dst = dst_mem;
    /* touch every page, and give the buffers contents a check can tell apart */
    for (size_t i = 0; i < largest; i++) {
        src[i] = (unsigned char)(i * 13 + 5);
        dst[i] = 0;
    }
    /* the application's buffers from the library's allocator */
    unsigned char *zsrc = bl_alloc(largest);
    unsigned char *zdst = bl_alloc(largest);
    if (zsrc == NULL || zdst == NULL) {
        die("bl_alloc failed");
    }
    for (size_t i = 0; i < largest; i++) {
        zsrc[i] = (unsigned char)(i * 11 + 3);
        zdst[i] = 0;
    }
    uint64_t *m_ns = malloc(max_reps * sizeof *m_ns);
    uint64_t *in_ns = malloc(max_reps * sizeof *in_ns);
    uint64_t *out_ns = malloc(max_reps * sizeof *out_ns);
    uint64_t *in_zc_ns = malloc(max_reps * sizeof *in_zc_ns);
    uint64_t *out_zc_ns = malloc(max_reps * sizeof *out_zc_ns);
    if (m_ns == NULL || in_ns == NULL || out_ns == NULL || in_zc_ns == NULL || out_zc_ns == NULL) {
        die("out of memory");
    }
    for (size_t s = 0; s < nsizes; s++) {
        size_t n = sizes[s];
        size_t reps = reps_bytes / n;
        reps = reps < min_reps ? min_reps : reps > max_reps ? max_reps : reps;
        /* correctness first: what goes in must come back out */
        memset(dst, 0, n);
        if (bl_write(src, n) != BL_SUCCESS || bl_read(dst, n) != BL_SUCCESS || memcmp(src, dst, n) != 0) {
            die("bl_write then bl_read did not return the bytes written");
        }
        memset(zdst, 0, n);
        if (bl_write(zsrc, n) != BL_SUCCESS || bl_read(zdst, n) != BL_SUCCESS || memcmp(zsrc, zdst, n) != 0) {
            die("bl_write then bl_read of bl_alloc buffers did not return the bytes written");
        }
        /* warm-up: one untimed round (two for small sizes) */
        for (size_t w = 0; w < (n < (1u << 20) ? 2u : 1u); w++) {
            copy_fn(dst, src, n);
            (void)bl_write(src, n);
            (void)bl_read(dst, n);
            (void)bl_write(zsrc, n);
            (void)bl_read(zdst, n);
        }
        for (size_t r = 0; r < reps; r++) {
            uint64_t t0 = now_ns();
            copy_fn(dst, src, n);
            uint64_t t1 = now_ns();
            bl_status a = bl_write(src, n);
            uint64_t t2 = now_ns();
            bl_status b = bl_read(dst, n);
            uint64_t t3 = now_ns();
            bl_status c = bl_write(zsrc, n);
            uint64_t t4 = now_ns();
            bl_status d = bl_read(zdst, n);
            uint64_t t5 = now_ns();
            if (a != BL_SUCCESS || b != BL_SUCCESS || c != BL_SUCCESS || d != BL_SUCCESS) {
                die("bl_write or bl_read failed");
            }
            m_ns[r] = t1 - t0;
            in_ns[r] = t2 - t1;
            out_ns[r] = t3 - t2;
            in_zc_ns[r] = t4 - t3;
            out_zc_ns[r] = t5 - t4;
        }
        printf("{\"kind\":\"copy\",\"size\":%zu,", n);
        print_array("memcpy_ns", m_ns, reps);
        printf(",");
        print_array("in_ns", in_ns, reps);
        printf(",");
        print_array("out_ns", out_ns, reps);
        printf(",");
        print_array("in_zc_ns", in_zc_ns, reps);
        printf(",");
        print_array("out_zc_ns", out_zc_ns, reps);
        printf("}\n");
        fflush(stdout);
    }
    (void)bl_reserve(0);
    bl_free(zsrc);
    bl_free(zdst);
    free(src);
    free(dst);
    free(m_ns);
    free(in_ns);
    free(out_ns);
    free(in_zc_ns);
    free(out_zc_ns);
    return 0;
}
