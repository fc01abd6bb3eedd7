/* Two threads sharing one in-order queue, handing over to each other
 * through a mutex and a condition variable, on the first OpenCL device:
 *
 * 1. the worker enqueues a kernel that adds one to every element of a
 *    buffer (clEnqueueNDRangeKernel returns before it has run) and hands
 *    over; the main thread reads the buffer back with a blocking read,
 *    which the in-order queue runs after the kernel: it must see the
 *    kernel's result;
 * 2. the worker enqueues the kernel and a non-blocking read of the buffer
 *    and hands over; the main thread calls clFinish, after which the read
 *    is complete: its destination holds the kernel's result.
 *
 * Natively no round goes wrong. Forwarded, each thread has a channel of
 * its own to the API server; the main thread's calls must still run after
 * the worker's (book: Architecture, Invariants).
 *
 *   cc -std=c99 -O2 -o handover handover.c -lOpenCL -lpthread
 *   ./handover [ROUNDS]
 */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define N 256

static const char *source = "__kernel void add_one(__global int *v) { v[get_global_id(0)] += 1; }\n";

struct shared {
    pthread_mutex_t lock;
    pthread_cond_t turned;
    int workers_turn;
    int rounds;
    cl_command_queue queue;
    cl_kernel kernel;
    cl_mem mem;
    int read_back[N];
    int errors;
};

static void take_turn(struct shared *s, int worker) {
    pthread_mutex_lock(&s->lock);
    while (s->workers_turn != worker)
        pthread_cond_wait(&s->turned, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

static void give_turn(struct shared *s, int worker) {
    pthread_mutex_lock(&s->lock);
    s->workers_turn = worker;
    pthread_cond_broadcast(&s->turned);
    pthread_mutex_unlock(&s->lock);
}

static void *worker(void *arg) {
    struct shared *s = arg;
    size_t global = N;
    for (int i = 0; i < s->rounds; i++) {
        take_turn(s, 1);
        if (clEnqueueNDRangeKernel(s->queue, s->kernel, 1, NULL, &global, NULL, 0, NULL, NULL) != CL_SUCCESS)
            s->errors++;
        /* odd rounds: the read the main thread's clFinish completes */
        if (i % 2 == 1 &&
            clEnqueueReadBuffer(s->queue, s->mem, CL_FALSE, 0, sizeof s->read_back, s->read_back, 0, NULL, NULL) != CL_SUCCESS)
            s->errors++;
        give_turn(s, 0);
    }
    return NULL;
}

/* How many of the n ints differ from `expected`. */
static int wrong(const int *v, int expected) {
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += v[i] != expected;
    return bad;
}

int main(int argc, char **argv) {
    struct shared s = {.lock = PTHREAD_MUTEX_INITIALIZER, .turned = PTHREAD_COND_INITIALIZER};
    s.rounds = argc > 1 ? atoi(argv[1]) : 1000;
    cl_platform_id platform;
    cl_device_id device;
    cl_int err;
    if (clGetPlatformIDs(1, &platform, NULL) != CL_SUCCESS || clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL) != CL_SUCCESS) {
        printf("no OpenCL device\n");
        return 1;
    }
    cl_context context = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
    s.queue = clCreateCommandQueue(context, device, 0, &err);
    cl_program program = clCreateProgramWithSource(context, 1, &source, NULL, &err);
    if (clBuildProgram(program, 1, &device, "", NULL, NULL) != CL_SUCCESS) {
        printf("build failed\n");
        return 1;
    }
    s.kernel = clCreateKernel(program, "add_one", &err);
    int zeros[N] = {0};
    s.mem = clCreateBuffer(context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof zeros, zeros, &err);
    if (err != CL_SUCCESS || clSetKernelArg(s.kernel, 0, sizeof s.mem, &s.mem) != CL_SUCCESS) {
        printf("setup failed: %d\n", err);
        return 1;
    }
    pthread_t thread;
    if (pthread_create(&thread, NULL, worker, &s) != 0)
        return 1;
    int stale = 0, incomplete = 0, main_errors = 0;
    for (int i = 0; i < s.rounds; i++) {
        for (int j = 0; j < N; j++)
            s.read_back[j] = -1;
        give_turn(&s, 1);
        take_turn(&s, 0);
        if (i % 2 == 0) {
            int now[N];
            if (clEnqueueReadBuffer(s.queue, s.mem, CL_TRUE, 0, sizeof now, now, 0, NULL, NULL) != CL_SUCCESS)
                main_errors++;
            stale += wrong(now, i + 1) != 0;
        } else {
            if (clFinish(s.queue) != CL_SUCCESS)
                main_errors++;
            incomplete += wrong(s.read_back, i + 1) != 0;
        }
    }
    pthread_join(thread, NULL);
    clFinish(s.queue);
    printf("handover: rounds=%d errors=%d,%d stale_reads=%d incomplete_reads=%d\n", s.rounds, s.errors, main_errors, stale,
           incomplete);
    clReleaseMemObject(s.mem);
    clReleaseKernel(s.kernel);
    clReleaseProgram(program);
    clReleaseCommandQueue(s.queue);
    clReleaseContext(context);
    return 0;
}
