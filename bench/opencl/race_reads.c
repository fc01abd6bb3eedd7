/* A stress test of async_reads.c section 10: two threads bringing back the
   same non-blocking reads. Each round enqueues four 1 MiB reads gated on a
   user event (the last with an event), starts a thread that waits in
   clFinish, opens the gate, and then either polls the last read's status
   until CL_COMPLETE (`poll`, the default) or lets a CL_COMPLETE callback on
   it bring the reads back (`callback`). It counts the rounds whose polled
   read was not in place when its status read CL_COMPLETE, and the other
   reads not in place when the clFinish returned.

     race_reads [N [ROUNDS [poll|callback]]]   (N floats a read, 262144) */
#define _POSIX_C_SOURCE 200809L
#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(what, call)                                                                                              \
    do {                                                                                                               \
        cl_int s_ = (call);                                                                                            \
        if (s_ != CL_SUCCESS) {                                                                                        \
            printf("%s failed: %d\n", what, (int)s_);                                                                  \
            return 1;                                                                                                  \
        }                                                                                                              \
    } while (0)

static void *finish_queue(void *queue) {
    cl_int *status = malloc(sizeof *status);
    *status = clFinish((cl_command_queue)queue);
    return status;
}

static cl_int status_of(cl_event event) {
    cl_int s = -1;
    clGetEventInfo(event, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof s, &s, NULL);
    return s;
}

static void CL_CALLBACK on_complete(cl_event event, cl_int status, void *flag) {
    (void)event;
    (void)status;
    __atomic_store_n((int *)flag, 1, __ATOMIC_SEQ_CST);
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 262144;
    int rounds = argc > 2 ? atoi(argv[2]) : 300;
    int callback = argc > 3 && strcmp(argv[3], "callback") == 0;
    size_t bytes = n * sizeof(float);
    cl_int status;
    cl_platform_id platform;
    cl_device_id device;
    CHECK("clGetPlatformIDs", clGetPlatformIDs(1, &platform, NULL));
    CHECK("clGetDeviceIDs", clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL));
    cl_context context = clCreateContext(NULL, 1, &device, NULL, NULL, &status);
    CHECK("clCreateContext", status);
    cl_command_queue queue = clCreateCommandQueueWithProperties(context, device, NULL, &status);
    CHECK("clCreateCommandQueueWithProperties", status);
    float *host = malloc(bytes), *a = malloc(bytes), *more[3];
    for (int i = 0; i < 3; i++)
        more[i] = malloc(bytes);
    for (size_t i = 0; i < n; i++)
        host[i] = (float)(i % 1000003) * 0.5f;
    cl_mem mem = clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, NULL, &status);
    CHECK("clCreateBuffer", status);
    CHECK("clEnqueueWriteBuffer", clEnqueueWriteBuffer(queue, mem, CL_TRUE, 0, bytes, host, 0, NULL, NULL));
    int stale_polled = 0, stale_more = 0;
    for (int round = 0; round < rounds; round++) {
        cl_event gate = clCreateUserEvent(context, &status), read_event;
        CHECK("clCreateUserEvent", status);
        for (int i = 0; i < 3; i++) {
            memset(more[i], 0, bytes);
            CHECK("gated read", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, more[i], 1, &gate, NULL));
        }
        memset(a, 0, bytes);
        CHECK("gated read", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, a, 1, &gate, &read_event));
        int called = 0;
        if (callback)
            CHECK("clSetEventCallback", clSetEventCallback(read_event, CL_COMPLETE, on_complete, &called));
        pthread_t finisher;
        if (pthread_create(&finisher, NULL, finish_queue, queue) != 0)
            return 1;
        /* the other thread is (most often) waiting in clFinish when the gate opens */
        struct timespec settle = {0, 2000000 + (round % 7) * 1000000};
        nanosleep(&settle, NULL);
        CHECK("clSetUserEventStatus", clSetUserEventStatus(gate, CL_COMPLETE));
        if (!callback) {
            cl_int polled;
            while ((polled = status_of(read_event)) != CL_COMPLETE && polled >= 0)
                ;
            stale_polled += memcmp(a, host, bytes) != 0;
        }
        void *finished;
        pthread_join(finisher, &finished);
        CHECK("clFinish in another thread", *(cl_int *)finished);
        free(finished);
        for (int i = 0; i < 3; i++)
            stale_more += memcmp(more[i], host, bytes) != 0;
        struct timespec pause = {0, 100000};
        while (callback && !__atomic_load_n(&called, __ATOMIC_SEQ_CST))
            nanosleep(&pause, NULL);
        clReleaseEvent(read_event);
        clReleaseEvent(gate);
    }
    CHECK("clFinish", clFinish(queue));
    printf("%s: rounds=%d stale polled=%d stale after clFinish=%d\n", callback ? "callback" : "poll", rounds, stale_polled,
           stale_more);
    return 0;
}
