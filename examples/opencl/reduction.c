/* A parallel sum on the first OpenCL device: each pass reduces blocks of
 * 64 integers in local memory to one partial sum per work-group, until one
 * value is left (two passes for 4096 values, three for 65536). The passes
 * are chained by events: the first waits for the input's write and for a
 * user event that the host sets only after every pass is enqueued, each
 * later pass waits for the previous one, and the result's read waits for
 * the last. A callback on every event (clSetEventCallback) counts its
 * completion; the host prints what the callbacks saw after clFinish, in
 * the order of the events, so the output does not depend on the order in
 * which the library called them.
 *
 *   cc -std=c99 -O2 -o reduction reduction.c -lOpenCL -lpthread
 *   ./reduction [N]
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHECK(what, status)                                                   \
    do {                                                                      \
        if ((status) != CL_SUCCESS) {                                         \
            printf("%s failed: %d\n", (what), (int)(status));                 \
            return 1;                                                         \
        }                                                                     \
    } while (0)

#define GROUP 64
#define MAX_EVENTS 16

static const char *source =
    "__kernel void reduce(__global const int *in, __global int *out,\n"
    "                     __local int *scratch, uint count) {\n"
    "    uint lid = get_local_id(0), gid = get_global_id(0);\n"
    "    scratch[lid] = gid < count ? in[gid] : 0;\n"
    "    barrier(CLK_LOCAL_MEM_FENCE);\n"
    "    for (uint s = get_local_size(0) / 2; s > 0; s >>= 1) {\n"
    "        if (lid < s) scratch[lid] += scratch[lid + s];\n"
    "        barrier(CLK_LOCAL_MEM_FENCE);\n"
    "    }\n"
    "    if (lid == 0) out[get_group_id(0)] = scratch[0];\n"
    "}\n";

/* What the callbacks saw, written by whichever thread the library calls
 * them on (forwarded: a thread of the guest library). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int calls;
static int seen[MAX_EVENTS];
static int times_called[MAX_EVENTS];

static void CL_CALLBACK on_complete(cl_event event, cl_int status, void *user_data) {
    (void)event;
    int index = (int)(size_t)user_data;
    pthread_mutex_lock(&lock);
    calls++;
    seen[index] = status;
    times_called[index]++;
    pthread_mutex_unlock(&lock);
}

static int callbacks_so_far(void) {
    pthread_mutex_lock(&lock);
    int n = calls;
    pthread_mutex_unlock(&lock);
    return n;
}

static const char *status_name(cl_int s) {
    switch (s) {
    case CL_COMPLETE: return "complete";
    case CL_RUNNING: return "running";
    case CL_SUBMITTED: return "submitted";
    case CL_QUEUED: return "queued";
    default: return s < 0 ? "error" : "unknown";
    }
}

int main(int argc, char **argv) {
    cl_uint n = argc > 1 ? (cl_uint)atol(argv[1]) : 4096;
    if (n < 2) n = 2;
    cl_int *data = malloc(n * sizeof(cl_int));
    if (!data) return 1;
    for (int i = 0; i < MAX_EVENTS; i++) seen[i] = 99; /* "unknown" until called */
    long long expected = 0;
    for (cl_uint i = 0; i < n; i++) {
        data[i] = (cl_int)((i * 7u) % 101u) - 50;
        expected += data[i];
    }

    cl_int status;
    cl_platform_id platform;
    status = clGetPlatformIDs(1, &platform, NULL);
    CHECK("clGetPlatformIDs", status);
    cl_device_id device;
    status = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL);
    CHECK("clGetDeviceIDs", status);
    cl_context context = clCreateContext(NULL, 1, &device, NULL, NULL, &status);
    CHECK("clCreateContext", status);
    cl_command_queue queue = clCreateCommandQueue(context, device, 0, &status);
    CHECK("clCreateCommandQueue", status);
    cl_program program = clCreateProgramWithSource(context, 1, &source, NULL, &status);
    CHECK("clCreateProgramWithSource", status);
    status = clBuildProgram(program, 0, NULL, NULL, NULL, NULL);
    CHECK("clBuildProgram", status);
    cl_kernel kernel = clCreateKernel(program, "reduce", &status);
    CHECK("clCreateKernel", status);

    /* two buffers the passes alternate between */
    cl_uint groups = (n + GROUP - 1) / GROUP;
    cl_mem a = clCreateBuffer(context, CL_MEM_READ_WRITE, n * sizeof(cl_int), NULL, &status);
    CHECK("clCreateBuffer(a)", status);
    cl_mem b = clCreateBuffer(context, CL_MEM_READ_WRITE, groups * sizeof(cl_int), NULL, &status);
    CHECK("clCreateBuffer(b)", status);

    cl_event gate = clCreateUserEvent(context, &status);
    CHECK("clCreateUserEvent", status);
    cl_event written;
    status = clEnqueueWriteBuffer(queue, a, CL_FALSE, 0, n * sizeof(cl_int), data, 0, NULL, &written);
    CHECK("clEnqueueWriteBuffer", status);

    /* event 0: the gate; events 1..passes: the passes; then the read */
    cl_event events[MAX_EVENTS];
    const char *names[MAX_EVENTS];
    int count = 0;
    events[count] = gate;
    names[count++] = "user event (gate)";
    cl_mem in = a, out = b;
    cl_uint remaining = n;
    int passes = 0;
    while (remaining > 1) {
        if (count + 2 > MAX_EVENTS) return 1;
        cl_uint pass_groups = (remaining + GROUP - 1) / GROUP;
        size_t global = (size_t)pass_groups * GROUP, local = GROUP;
        status = clSetKernelArg(kernel, 0, sizeof in, &in);
        CHECK("clSetKernelArg(in)", status);
        status = clSetKernelArg(kernel, 1, sizeof out, &out);
        CHECK("clSetKernelArg(out)", status);
        status = clSetKernelArg(kernel, 2, GROUP * sizeof(cl_int), NULL);
        CHECK("clSetKernelArg(scratch)", status);
        status = clSetKernelArg(kernel, 3, sizeof remaining, &remaining);
        CHECK("clSetKernelArg(count)", status);
        cl_event first_wait[2] = {gate, written};
        cl_event *wait = passes == 0 ? first_wait : &events[count - 1];
        cl_uint nwait = passes == 0 ? 2 : 1;
        status = clEnqueueNDRangeKernel(queue, kernel, 1, NULL, &global, &local, nwait, wait, &events[count]);
        CHECK("clEnqueueNDRangeKernel", status);
        passes++;
        printf("pass %d: %u values -> %u partial sums\n", passes, remaining, pass_groups);
        static char pass_names[MAX_EVENTS][16];
        snprintf(pass_names[count], sizeof pass_names[count], "pass %d", passes);
        names[count] = pass_names[count];
        count++;
        remaining = pass_groups;
        cl_mem t = in;
        in = out;
        out = t;
    }

    /* nothing has run yet: the first pass waits for the gate */
    cl_int exec;
    status = clGetEventInfo(events[1], CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof exec, &exec, NULL);
    CHECK("clGetEventInfo(pass 1)", status);
    printf("before the gate opens: pass 1 complete: %s\n", exec == CL_COMPLETE ? "yes" : "no");

    for (int i = 0; i < count; i++) {
        status = clSetEventCallback(events[i], CL_COMPLETE, on_complete, (void *)(size_t)i);
        CHECK("clSetEventCallback", status);
    }
    status = clSetUserEventStatus(gate, CL_COMPLETE);
    CHECK("clSetUserEventStatus", status);

    /* the result is in `in` (the last pass's output) */
    cl_int result = 0;
    cl_event read_done;
    status = clEnqueueReadBuffer(queue, in, CL_FALSE, 0, sizeof result, &result, 1, &events[count - 1], &read_done);
    CHECK("clEnqueueReadBuffer", status);
    status = clSetEventCallback(read_done, CL_COMPLETE, on_complete, (void *)(size_t)count);
    CHECK("clSetEventCallback(read)", status);
    events[count] = read_done;
    names[count++] = "read";
    status = clWaitForEvents(1, &read_done);
    CHECK("clWaitForEvents", status);
    status = clFinish(queue);
    CHECK("clFinish", status);

    /* callbacks run asynchronously: wait (up to 10 s) until all have run */
    struct timespec pause = {0, 1000000};
    for (int waited = 0; callbacks_so_far() < count && waited < 10000; waited++) nanosleep(&pause, NULL);

    for (int i = 0; i < count; i++) {
        status = clGetEventInfo(events[i], CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof exec, &exec, NULL);
        CHECK("clGetEventInfo", status);
        pthread_mutex_lock(&lock);
        printf("%s: event %s, callback called %d time(s) with status %s\n", names[i], status_name(exec),
               times_called[i], status_name(seen[i]));
        pthread_mutex_unlock(&lock);
    }
    printf("callbacks: %d of %d\n", callbacks_so_far(), count);
    printf("n=%u passes=%d sum=%d expected=%lld\n", n, passes, result, expected);

    for (int i = 0; i < count; i++) clReleaseEvent(events[i]);
    clReleaseEvent(written);
    clReleaseMemObject(a);
    clReleaseMemObject(b);
    clReleaseKernel(kernel);
    clReleaseProgram(program);
    clReleaseCommandQueue(queue);
    clReleaseContext(context);
    free(data);
    int ok = result == expected && callbacks_so_far() == count;
    printf("%s\n", ok ? "PASSED" : "FAILED");
    return ok ? 0 : 1;
}
