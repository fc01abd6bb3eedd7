/* The `calls` workload of workloads.c (clSetKernelArg +
 * clEnqueueNDRangeKernel per launch, a clFinish after every 5,000 and at
 * the end) relayed: the application's thread only writes each call into a
 * lock-free ring, and a second thread of the same process makes the
 * OpenCL calls. That is the least any forwarder does that makes the
 * vendor's calls on a thread of its own (as CAVA's API server does), with
 * no marshalling, no second process and no checks: its time per launch is
 * a bound for CAVA's on the same machine. Prints one line as workloads.c:
 *
 *   workload=relayed ops=N seconds=S per_op_us=U check=ok
 *
 *   cc -std=c11 -O2 -o relayed relayed.c -lOpenCL -lpthread
 *   ./relayed [LAUNCHES]            (default 5000)
 * Results: book/src/benchmarks.md
 */
#define _GNU_SOURCE
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(what, status)                                                   \
    do {                                                                      \
        if ((status) != CL_SUCCESS) {                                         \
            fprintf(stderr, "%s failed: %d\n", (what), (int)(status));        \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

static const char *source = "__kernel void inc(__global int *a) { a[get_global_id(0)] += 1; }\n";

enum { N = 64, WARM = 200, BATCH = 5000, RING = 4096, SPINS = 2000 };
enum op { SET_ARG, LAUNCH, FINISH };

static cl_command_queue queue;
static cl_kernel kernel;
static cl_mem mem;
static enum op ring[RING];
/* written by the application's thread / by the relaying thread */
static _Atomic unsigned long head, tail;
static atomic_int done;
static atomic_int failed;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* the relaying thread: spins a little on an empty ring, then yields (it
 * never sleeps, so no wake-up is needed) */
static void *relay(void *unused)
{
    (void)unused;
    size_t global = N;
    for (;;) {
        unsigned long t = atomic_load_explicit(&tail, memory_order_relaxed);
        for (int spins = 0; atomic_load_explicit(&head, memory_order_acquire) == t; spins++) {
            if (atomic_load(&done))
                return NULL;
            if (spins > SPINS)
                sched_yield();
        }
        cl_int status = CL_SUCCESS;
        switch (ring[t % RING]) {
        case SET_ARG:
            status = clSetKernelArg(kernel, 0, sizeof mem, &mem);
            break;
        case LAUNCH:
            status = clEnqueueNDRangeKernel(queue, kernel, 1, NULL, &global, NULL, 0, NULL, NULL);
            break;
        case FINISH:
            status = clFinish(queue);
            break;
        }
        if (status != CL_SUCCESS)
            atomic_store(&failed, status);
        atomic_store_explicit(&tail, t + 1, memory_order_release);
    }
}

static void post(enum op op)
{
    unsigned long h = atomic_load_explicit(&head, memory_order_relaxed);
    while (h - atomic_load_explicit(&tail, memory_order_acquire) >= RING)
        sched_yield();
    ring[h % RING] = op;
    atomic_store_explicit(&head, h + 1, memory_order_release);
}

/* a synchronous call: waits until the relaying thread has made it */
static void finish(void)
{
    post(FINISH);
    unsigned long h = atomic_load(&head);
    while (atomic_load_explicit(&tail, memory_order_acquire) != h)
        sched_yield();
}

int main(int argc, char **argv)
{
    int launches_timed = argc > 1 ? atoi(argv[1]) : 5000;
    cl_int status;
    cl_platform_id platform;
    cl_device_id device;
    CHECK("clGetPlatformIDs", clGetPlatformIDs(1, &platform, NULL));
    CHECK("clGetDeviceIDs", clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL));
    cl_context context = clCreateContext(NULL, 1, &device, NULL, NULL, &status);
    CHECK("clCreateContext", status);
    queue = clCreateCommandQueue(context, device, 0, &status);
    CHECK("clCreateCommandQueue", status);
    cl_program program = clCreateProgramWithSource(context, 1, &source, NULL, &status);
    CHECK("clCreateProgramWithSource", status);
    CHECK("clBuildProgram", clBuildProgram(program, 1, &device, "", NULL, NULL));
    cl_int values[N];
    memset(values, 0, sizeof values);
    mem = clCreateBuffer(context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof values, values, &status);
    CHECK("clCreateBuffer", status);
    kernel = clCreateKernel(program, "inc", &status);
    CHECK("clCreateKernel", status);
    pthread_t relaying;
    if (pthread_create(&relaying, NULL, relay, NULL) != 0)
        return 1;
    for (int round = 0; round < 2; round++) {
        int launches = round == 0 ? WARM : launches_timed;
        double start = now();
        for (int i = 0; i < launches; i++) {
            post(SET_ARG);
            post(LAUNCH);
            if ((i + 1) % BATCH == 0 && i + 1 < launches)
                finish();
        }
        finish();
        double seconds = now() - start;
        if (round == 1) {
            CHECK("clEnqueueReadBuffer", clEnqueueReadBuffer(queue, mem, CL_TRUE, 0, sizeof values, values, 0, NULL, NULL));
            int ok = !atomic_load(&failed) && values[0] == WARM + launches && values[N - 1] == WARM + launches;
            printf("workload=relayed ops=%d seconds=%.6f per_op_us=%.3f check=%s\n", launches, seconds, seconds * 1e6 / launches,
                   ok ? "ok" : "WRONG");
        }
    }
    atomic_store(&done, 1);
    pthread_join(relaying, NULL);
    clReleaseKernel(kernel);
    clReleaseMemObject(mem);
    clReleaseProgram(program);
    clReleaseCommandQueue(queue);
    clReleaseContext(context);
    return 0;
}
