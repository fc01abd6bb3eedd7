/* Large buffers on the first OpenCL device: blocking writes and reads of
 * whole buffers and of ranges at an offset, a buffer created with
 * CL_MEM_COPY_HOST_PTR and one with CL_MEM_ALLOC_HOST_PTR (what
 * CL_MEM_FLAGS and CL_MEM_HOST_PTR say of each), a sub-buffer, a transfer
 * with an event and a wait list, a range past the end, many large
 * buffers created and released in turn, and maps (in place). Through CAVA, buffers of 1 MiB and
 * more live in the guest process's zero-copy region, where the library
 * uses them in place: every line must read as it does natively.
 *
 *   cc -std=c99 -O2 -o large_transfers large_transfers.c -lOpenCL
 *   ./large_transfers [MiB]      (size of the main buffer, default 8)
 *   ./large_transfers MiB full   (two buffers of 640 MiB, more than CAVA's
 *                                 1 GiB zero-copy region holds together)
 */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(what, status)                                                   \
    do {                                                                      \
        if ((status) != CL_SUCCESS) {                                         \
            printf("%s failed: %d\n", (what), (int)(status));                 \
            return 1;                                                         \
        }                                                                     \
    } while (0)

static const char *source =
    "__kernel void bump(__global int *v, int add) {\n"
    "    size_t i = get_global_id(0);\n"
    "    v[i] = v[i] + add;\n"
    "}\n";

static long long sum_ints(const cl_int *v, size_t n) {
    long long s = 0;
    for (size_t i = 0; i < n; i++) s += (long long)v[i] * (long long)(i % 7 + 1);
    return s;
}

static void print_flags(const char *what, cl_mem mem) {
    cl_mem_flags flags = 0;
    void *host = (void *)1;
    cl_int a = clGetMemObjectInfo(mem, CL_MEM_FLAGS, sizeof flags, &flags, NULL);
    cl_int b = clGetMemObjectInfo(mem, CL_MEM_HOST_PTR, sizeof host, &host, NULL);
    printf("%s: flags %d 0x%llx, host pointer %d %s\n", what, (int)a, (unsigned long long)flags, (int)b, host ? "set" : "NULL");
}

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 8;
    if (mib < 2) mib = 2;
    size_t bytes = mib << 20, n = bytes / sizeof(cl_int);

    cl_int status;
    cl_platform_id platform;
    CHECK("clGetPlatformIDs", clGetPlatformIDs(1, &platform, NULL));
    cl_device_id device;
    CHECK("clGetDeviceIDs", clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL));
    cl_context context = clCreateContext(NULL, 1, &device, NULL, NULL, &status);
    CHECK("clCreateContext", status);
    cl_command_queue queue = clCreateCommandQueue(context, device, 0, &status);
    CHECK("clCreateCommandQueue", status);
    cl_program program = clCreateProgramWithSource(context, 1, &source, NULL, &status);
    CHECK("clCreateProgramWithSource", status);
    CHECK("clBuildProgram", clBuildProgram(program, 1, &device, NULL, NULL, NULL));
    cl_kernel kernel = clCreateKernel(program, "bump", &status);
    CHECK("clCreateKernel", status);

    if (argc > 2 && strcmp(argv[2], "full") == 0) {
        /* the second does not fit in the region: it works as any other */
        cl_mem first = clCreateBuffer(context, CL_MEM_READ_WRITE, (size_t)640 << 20, NULL, &status);
        CHECK("clCreateBuffer (first)", status);
        cl_mem second = clCreateBuffer(context, CL_MEM_READ_WRITE, (size_t)640 << 20, NULL, &status);
        CHECK("clCreateBuffer (second)", status);
        cl_int *bytes_in = malloc(bytes), *bytes_out = calloc(1, bytes);
        for (size_t i = 0; i < n; i++) bytes_in[i] = (cl_int)i;
        for (int k = 0; k < 2; k++) {
            cl_mem m = k ? second : first;
            CHECK("clEnqueueWriteBuffer (full)", clEnqueueWriteBuffer(queue, m, CL_TRUE, (size_t)600 << 20, bytes, bytes_in, 0, NULL, NULL));
            CHECK("clEnqueueReadBuffer (full)", clEnqueueReadBuffer(queue, m, CL_TRUE, (size_t)600 << 20, bytes, bytes_out, 0, NULL, NULL));
            printf("buffer %d of 640 MiB: %s\n", k + 1, memcmp(bytes_in, bytes_out, bytes) ? "differs" : "as written");
        }
        clReleaseMemObject(first);
        clReleaseMemObject(second);
        printf("PASSED\n");
        return 0;
    }

    cl_int *host = malloc(bytes), *back = malloc(bytes);
    for (size_t i = 0; i < n; i++) host[i] = (cl_int)(i * 2654435761u >> 7);

    /* 1. the whole buffer: write, a kernel, read */
    cl_mem mem = clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, NULL, &status);
    CHECK("clCreateBuffer", status);
    print_flags("plain buffer", mem);
    CHECK("clEnqueueWriteBuffer", clEnqueueWriteBuffer(queue, mem, CL_TRUE, 0, bytes, host, 0, NULL, NULL));
    cl_int add = 3;
    CHECK("clSetKernelArg", clSetKernelArg(kernel, 0, sizeof mem, &mem));
    CHECK("clSetKernelArg", clSetKernelArg(kernel, 1, sizeof add, &add));
    CHECK("clEnqueueNDRangeKernel", clEnqueueNDRangeKernel(queue, kernel, 1, NULL, &n, NULL, 0, NULL, NULL));
    memset(back, 0, bytes);
    CHECK("clEnqueueReadBuffer", clEnqueueReadBuffer(queue, mem, CL_TRUE, 0, bytes, back, 0, NULL, NULL));
    for (size_t i = 0; i < n; i++) host[i] += 3;
    printf("whole: sum %lld, %s\n", sum_ints(back, n), memcmp(back, host, bytes) ? "differs" : "as expected");

    /* 2. ranges at an offset: the second MiB rewritten, then read alone */
    size_t off = 1 << 20, len = 512 << 10;
    memset(host, 0x5a, len);
    CHECK("clEnqueueWriteBuffer (range)", clEnqueueWriteBuffer(queue, mem, CL_TRUE, off, len, host, 0, NULL, NULL));
    memset(back, 0, bytes);
    CHECK("clEnqueueReadBuffer (range)", clEnqueueReadBuffer(queue, mem, CL_TRUE, off - 4096, len + 8192, back, 0, NULL, NULL));
    printf("range: sum %lld, first 0x%x, last 0x%x\n", sum_ints(back, (len + 8192) / 4), (unsigned)back[1024], (unsigned)back[(len + 4096) / 4 - 1]);

    /* 3. with an event, after a user event in the wait list */
    cl_event gate = clCreateUserEvent(context, &status);
    CHECK("clCreateUserEvent", status);
    CHECK("clSetUserEventStatus", clSetUserEventStatus(gate, CL_COMPLETE));
    cl_event done;
    CHECK("clEnqueueReadBuffer (event)", clEnqueueReadBuffer(queue, mem, CL_TRUE, 0, bytes, back, 1, &gate, &done));
    cl_int state = -1;
    CHECK("clGetEventInfo", clGetEventInfo(done, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof state, &state, NULL));
    printf("event: status %d, sum %lld\n", (int)state, sum_ints(back, n));
    clReleaseEvent(done);
    clReleaseEvent(gate);

    /* 4. past the end: an error, and nothing copied */
    back[0] = 77;
    printf("read past the end: %d (first %d)\n", (int)clEnqueueReadBuffer(queue, mem, CL_TRUE, bytes - 4096, 8192, back, 0, NULL, NULL), (int)back[0]);
    printf("write past the end: %d\n", (int)clEnqueueWriteBuffer(queue, mem, CL_TRUE, 4096, bytes, host, 0, NULL, NULL));

    /* 5. a sub-buffer sees the parent's bytes and says its flags */
    cl_buffer_region region = {1 << 20, 1 << 20};
    cl_mem sub = clCreateSubBuffer(mem, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region, &status);
    CHECK("clCreateSubBuffer", status);
    print_flags("sub-buffer", sub);
    CHECK("clEnqueueReadBuffer (sub-buffer)", clEnqueueReadBuffer(queue, sub, CL_TRUE, 0, 1 << 20, back, 0, NULL, NULL));
    printf("sub-buffer: sum %lld\n", sum_ints(back, (1 << 20) / 4));
    clReleaseMemObject(sub);

    /* 6. initial contents, and host flags as given */
    for (size_t i = 0; i < n; i++) host[i] = (cl_int)(i ^ 0x1234);
    cl_mem copied = clCreateBuffer(context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes / 2, host, &status);
    CHECK("clCreateBuffer (copy)", status);
    print_flags("copied buffer", copied);
    memset(back, 0, bytes);
    CHECK("clEnqueueReadBuffer (copied)", clEnqueueReadBuffer(queue, copied, CL_TRUE, 0, bytes / 2, back, 0, NULL, NULL));
    printf("copied: sum %lld (host %lld)\n", sum_ints(back, n / 2), sum_ints(host, n / 2));
    cl_mem allocated = clCreateBuffer(context, CL_MEM_ALLOC_HOST_PTR, bytes, NULL, &status);
    CHECK("clCreateBuffer (alloc)", status);
    print_flags("host-allocated buffer", allocated);
    clReleaseMemObject(copied);
    clReleaseMemObject(allocated);

    /* 7. large buffers in turn, more than the zero-copy region holds at once */
    long long total = 0;
    for (int round = 0; round < 24; round++) {
        cl_mem big = clCreateBuffer(context, CL_MEM_READ_WRITE, 64 << 20, NULL, &status);
        CHECK("clCreateBuffer (round)", status);
        memset(host, round, bytes);
        CHECK("clEnqueueWriteBuffer (round)", clEnqueueWriteBuffer(queue, big, CL_TRUE, (size_t)round << 20, bytes, host, 0, NULL, NULL));
        CHECK("clEnqueueReadBuffer (round)", clEnqueueReadBuffer(queue, big, CL_TRUE, (size_t)round << 20, 4096, back, 0, NULL, NULL));
        total += back[0] & 0xff;
        CHECK("clReleaseMemObject (round)", clReleaseMemObject(big));
        CHECK("clFinish (round)", clFinish(queue));
    }
    printf("rounds: %lld\n", total);

    /* 8. maps are in place, as natively: two maps of one range share an
     * address, and what is written through a map is the buffer's */
    cl_int *m1 = clEnqueueMapBuffer(queue, mem, CL_TRUE, CL_MAP_READ, 4096, 1 << 20, 0, NULL, NULL, &status);
    CHECK("clEnqueueMapBuffer (first)", status);
    cl_int *m2 = clEnqueueMapBuffer(queue, mem, CL_TRUE, CL_MAP_READ, 4096, 1 << 20, 0, NULL, NULL, &status);
    CHECK("clEnqueueMapBuffer (second)", status);
    printf("two maps of one range: %s, [0]=0x%x\n", m1 == m2 ? "one address" : "two addresses", (unsigned)m1[0]);
    CHECK("clEnqueueUnmapMemObject (first)", clEnqueueUnmapMemObject(queue, mem, m1, 0, NULL, NULL));
    CHECK("clEnqueueUnmapMemObject (second)", clEnqueueUnmapMemObject(queue, mem, m2, 0, NULL, NULL));
    cl_int *w = clEnqueueMapBuffer(queue, mem, CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, 0, 1 << 20, 0, NULL, NULL, &status);
    CHECK("clEnqueueMapBuffer (write)", status);
    for (size_t i = 0; i < (1 << 20) / 4; i++) w[i] = (cl_int)(i * 3);
    cl_event unmapped;
    CHECK("clEnqueueUnmapMemObject (write)", clEnqueueUnmapMemObject(queue, mem, w, 0, NULL, &unmapped));
    CHECK("clWaitForEvents", clWaitForEvents(1, &unmapped));
    clReleaseEvent(unmapped);
    CHECK("clEnqueueReadBuffer (mapped)", clEnqueueReadBuffer(queue, mem, CL_TRUE, 0, 1 << 20, back, 0, NULL, NULL));
    printf("written through a map: sum %lld\n", sum_ints(back, (1 << 20) / 4));
    void *past = clEnqueueMapBuffer(queue, mem, CL_TRUE, CL_MAP_READ, bytes - 4096, 8192, 0, NULL, NULL, &status);
    printf("map past the end: %d %s\n", (int)status, past ? "mapped" : "NULL");

    clReleaseMemObject(mem);
    clReleaseKernel(kernel);
    clReleaseProgram(program);
    clReleaseCommandQueue(queue);
    clReleaseContext(context);
    free(host);
    free(back);
    printf("PASSED\n");
    return 0;
}
