/* Leaves N buffers of 64 MiB (filled, each retained once) and exits
   without releasing anything: what a crashed program leaves in the API
   server. bench/opencl/departure.sh runs it against one server. */
#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    cl_platform_id p; cl_device_id d; cl_int e;
    clGetPlatformIDs(1, &p, NULL);
    clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 1, &d, NULL);
    cl_context c = clCreateContext(NULL, 1, &d, NULL, NULL, &e);
    cl_command_queue q = clCreateCommandQueueWithProperties(c, d, NULL, &e);
    size_t n = argc > 1 ? atol(argv[1]) : 1;
    for (size_t i = 0; i < n; i++) {
        cl_mem m = clCreateBuffer(c, CL_MEM_READ_WRITE, 64 << 20, NULL, &e);
        if (e) { printf("create failed %d at %zu\n", e, i); return 1; }
        int pattern = 7; cl_event ev;
        clEnqueueFillBuffer(q, m, &pattern, 4, 0, 64 << 20, 0, NULL, &ev);
        clRetainMemObject(m);
    }
    clFinish(q);
    printf("left %zu buffers of 64 MiB\n", n);
    return 0;
}
