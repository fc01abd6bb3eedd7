/* Mapped buffers on the first OpenCL device: the host fills a buffer by
 * mapping it for writing, a kernel transforms it, and the host checks the
 * result by mapping it for reading. It also maps partial ranges (at an
 * offset, for writing and with CL_MAP_WRITE_INVALIDATE_REGION), a buffer
 * created with CL_MEM_USE_HOST_PTR (whose mapping is the application's own
 * memory), a sub-buffer, a non-blocking map with an event, and an unmap
 * with an event, and checks the errors of a bad unmap and of mapping a
 * host-read-only buffer for writing.
 *
 *   cc -std=c99 -O2 -o mapped_buffers mapped_buffers.c -lOpenCL
 *   ./mapped_buffers [N]
 */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(what, status)                                                   \
    do {                                                                      \
        if ((status) != CL_SUCCESS) {                                         \
            printf("%s failed: %d\n", (what), (int)(status));                 \
            return 1;                                                         \
        }                                                                     \
    } while (0)

static const char *source =
    "__kernel void scale(__global int *v, int factor, int add) {\n"
    "    size_t i = get_global_id(0);\n"
    "    v[i] = v[i] * factor + add;\n"
    "}\n";

static long long sum_ints(const cl_int *v, size_t n) {
    long long s = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    return s;
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
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 4096;
    if (n < 64) n = 64;
    n -= n % 64;
    size_t bytes = n * sizeof(cl_int);

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
    cl_kernel kernel = clCreateKernel(program, "scale", &status);
    CHECK("clCreateKernel", status);

    /* 1. fill through a mapping for writing, transform, check through a
     *    mapping for reading */
    cl_mem buf = clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, NULL, &status);
    CHECK("clCreateBuffer", status);
    cl_int *w = clEnqueueMapBuffer(queue, buf, CL_TRUE, CL_MAP_WRITE, 0, bytes, 0, NULL, NULL, &status);
    CHECK("clEnqueueMapBuffer(write)", status);
    for (size_t i = 0; i < n; i++) w[i] = (cl_int)i;
    status = clEnqueueUnmapMemObject(queue, buf, w, 0, NULL, NULL);
    CHECK("clEnqueueUnmapMemObject(write)", status);
    cl_int factor = 3, add = 1;
    status = clSetKernelArg(kernel, 0, sizeof buf, &buf);
    CHECK("clSetKernelArg(0)", status);
    status = clSetKernelArg(kernel, 1, sizeof factor, &factor);
    CHECK("clSetKernelArg(1)", status);
    status = clSetKernelArg(kernel, 2, sizeof add, &add);
    CHECK("clSetKernelArg(2)", status);
    status = clEnqueueNDRangeKernel(queue, kernel, 1, NULL, &n, NULL, 0, NULL, NULL);
    CHECK("clEnqueueNDRangeKernel", status);
    const cl_int *r = clEnqueueMapBuffer(queue, buf, CL_TRUE, CL_MAP_READ, 0, bytes, 0, NULL, NULL, &status);
    CHECK("clEnqueueMapBuffer(read)", status);
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) wrong += r[i] != (cl_int)(3 * i + 1);
    printf("map write, kernel, map read: n=%zu wrong=%zu sum=%lld\n", n, wrong, sum_ints(r, n));
    status = clEnqueueUnmapMemObject(queue, buf, (void *)r, 0, NULL, NULL);
    CHECK("clEnqueueUnmapMemObject(read)", status);

    /* 2. partial ranges: map a quarter at an offset for reading and
     *    writing, change it, and overwrite the last 64 elements with an
     *    invalidating map */
    size_t quarter = n / 4, at = n / 2;
    cl_int *part = clEnqueueMapBuffer(queue, buf, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, at * sizeof(cl_int),
                                      quarter * sizeof(cl_int), 0, NULL, NULL, &status);
    CHECK("clEnqueueMapBuffer(offset)", status);
    printf("offset map: first=%d last=%d\n", part[0], part[quarter - 1]);
    for (size_t i = 0; i < quarter; i++) part[i] = -part[i];
    status = clEnqueueUnmapMemObject(queue, buf, part, 0, NULL, NULL);
    CHECK("clEnqueueUnmapMemObject(offset)", status);
    cl_int *tail = clEnqueueMapBuffer(queue, buf, CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, (n - 64) * sizeof(cl_int),
                                      64 * sizeof(cl_int), 0, NULL, NULL, &status);
    CHECK("clEnqueueMapBuffer(invalidate)", status);
    for (size_t i = 0; i < 64; i++) tail[i] = 7;
    status = clEnqueueUnmapMemObject(queue, buf, tail, 0, NULL, NULL);
    CHECK("clEnqueueUnmapMemObject(invalidate)", status);
    cl_int *all = malloc(bytes);
    if (!all) return 1;
    status = clEnqueueReadBuffer(queue, buf, CL_TRUE, 0, bytes, all, 0, NULL, NULL);
    CHECK("clEnqueueReadBuffer", status);
    printf("after partial maps: [0]=%d [%zu]=%d [%zu]=%d [%zu]=%d sum=%lld\n", all[0], at - 1, all[at - 1], at,
           all[at], n - 1, all[n - 1], sum_ints(all, n));

    /* 3. a non-blocking map with an event, then an unmap with an event */
    cl_event mapped, unmapped;
    cl_int *nb = clEnqueueMapBuffer(queue, buf, CL_FALSE, CL_MAP_READ | CL_MAP_WRITE, 16 * sizeof(cl_int),
                                    16 * sizeof(cl_int), 0, NULL, &mapped, &status);
    CHECK("clEnqueueMapBuffer(non-blocking)", status);
    status = clWaitForEvents(1, &mapped);
    CHECK("clWaitForEvents(map)", status);
    cl_int exec;
    status = clGetEventInfo(mapped, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof exec, &exec, NULL);
    CHECK("clGetEventInfo(map)", status);
    printf("non-blocking map: event %s, [16]=%d\n", status_name(exec), nb[0]);
    nb[0] = 1000;
    status = clEnqueueUnmapMemObject(queue, buf, nb, 1, &mapped, &unmapped);
    CHECK("clEnqueueUnmapMemObject(event)", status);
    status = clWaitForEvents(1, &unmapped);
    CHECK("clWaitForEvents(unmap)", status);
    status = clGetEventInfo(unmapped, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof exec, &exec, NULL);
    CHECK("clGetEventInfo(unmap)", status);
    cl_int check;
    status = clEnqueueReadBuffer(queue, buf, CL_TRUE, 16 * sizeof(cl_int), sizeof check, &check, 0, NULL, NULL);
    CHECK("clEnqueueReadBuffer(check)", status);
    printf("unmap with event: event %s, [16]=%d\n", status_name(exec), check);
    clReleaseEvent(mapped);
    clReleaseEvent(unmapped);

    /* 4. CL_MEM_USE_HOST_PTR: the mapping is the application's memory, up to
     *    date at the map; a sub-buffer maps at its origin */
    cl_int *host = malloc(bytes);
    if (!host) return 1;
    for (size_t i = 0; i < n; i++) host[i] = (cl_int)(n - i);
    cl_mem use = clCreateBuffer(context, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, bytes, host, &status);
    CHECK("clCreateBuffer(use host ptr)", status);
    void *host_ptr = NULL;
    status = clGetMemObjectInfo(use, CL_MEM_HOST_PTR, sizeof host_ptr, &host_ptr, NULL);
    CHECK("clGetMemObjectInfo(host ptr)", status);
    cl_mem_flags flags = 0;
    status = clGetMemObjectInfo(use, CL_MEM_FLAGS, sizeof flags, &flags, NULL);
    CHECK("clGetMemObjectInfo(flags)", status);
    printf("use host ptr: CL_MEM_HOST_PTR is host_ptr: %s, CL_MEM_USE_HOST_PTR in flags: %s\n",
           host_ptr == (void *)host ? "yes" : "no", (flags & CL_MEM_USE_HOST_PTR) ? "yes" : "no");
    status = clSetKernelArg(kernel, 0, sizeof use, &use);
    CHECK("clSetKernelArg(use)", status);
    status = clEnqueueNDRangeKernel(queue, kernel, 1, NULL, &n, NULL, 0, NULL, NULL);
    CHECK("clEnqueueNDRangeKernel(use)", status);
    cl_int *um = clEnqueueMapBuffer(queue, use, CL_TRUE, CL_MAP_READ, 8 * sizeof(cl_int), 8 * sizeof(cl_int), 0, NULL,
                                    NULL, &status);
    CHECK("clEnqueueMapBuffer(use)", status);
    printf("use host ptr map: at host_ptr + offset: %s, [8]=%d\n", um == host + 8 ? "yes" : "no", um[0]);
    status = clEnqueueUnmapMemObject(queue, use, um, 0, NULL, NULL);
    CHECK("clEnqueueUnmapMemObject(use)", status);
    cl_buffer_region region = {n / 2 * sizeof(cl_int), 4 * sizeof(cl_int)};
    cl_mem sub = clCreateSubBuffer(use, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region, &status);
    CHECK("clCreateSubBuffer", status);
    cl_int *sm = clEnqueueMapBuffer(queue, sub, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0, 4 * sizeof(cl_int), 0, NULL,
                                    NULL, &status);
    CHECK("clEnqueueMapBuffer(sub)", status);
    printf("sub-buffer map: at host_ptr + origin: %s, [0]=%d\n", sm == host + n / 2 ? "yes" : "no", sm[0]);
    sm[0] = 42;
    status = clEnqueueUnmapMemObject(queue, sub, sm, 0, NULL, NULL);
    CHECK("clEnqueueUnmapMemObject(sub)", status);
    status = clEnqueueReadBuffer(queue, use, CL_TRUE, n / 2 * sizeof(cl_int), sizeof check, &check, 0, NULL, NULL);
    CHECK("clEnqueueReadBuffer(use)", status);
    printf("sub-buffer write-back: [%zu]=%d\n", n / 2, check);

    /* 5. errors: an unmap of a pointer that is not mapped, a mapping for
     *    writing of a host-read-only buffer, an empty mapping */
    status = clEnqueueUnmapMemObject(queue, buf, all, 0, NULL, NULL);
    printf("unmap of an unmapped pointer: %d\n", (int)status);
    cl_mem ro = clCreateBuffer(context, CL_MEM_HOST_READ_ONLY, bytes, NULL, &status);
    CHECK("clCreateBuffer(host read only)", status);
    void *bad = clEnqueueMapBuffer(queue, ro, CL_TRUE, CL_MAP_WRITE, 0, bytes, 0, NULL, NULL, &status);
    printf("map for writing of a host-read-only buffer: %d %s\n", (int)status, bad ? "pointer" : "NULL");
    bad = clEnqueueMapBuffer(queue, buf, CL_TRUE, CL_MAP_READ, 0, 0, 0, NULL, NULL, &status);
    printf("empty map: %d %s\n", (int)status, bad ? "pointer" : "NULL");

    status = clFinish(queue);
    CHECK("clFinish", status);
    clReleaseMemObject(sub);
    clReleaseMemObject(use);
    clReleaseMemObject(ro);
    clReleaseMemObject(buf);
    clReleaseKernel(kernel);
    clReleaseProgram(program);
    clReleaseCommandQueue(queue);
    clReleaseContext(context);
    free(all);
    free(host);
    printf("%s\n", wrong == 0 ? "PASSED" : "FAILED");
    return wrong == 0 ? 0 : 1;
}
