/* Adds two vectors on the first OpenCL device: buffers, a kernel built from
 * source, an NDRange launch and a blocking read, then checks every element
 * on the host. Plain OpenCL: runs the same natively and through CAVA.
 *
 *   cc -std=c99 -O2 -o vector_add vector_add.c -lOpenCL
 *   ./vector_add [N]
 */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
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
    "__kernel void vector_add(__global const float *a,\n"
    "                         __global const float *b,\n"
    "                         __global float *c,\n"
    "                         const unsigned int n) {\n"
    "    size_t i = get_global_id(0);\n"
    "    if (i < n) c[i] = a[i] + b[i];\n"
    "}\n";

int main(int argc, char **argv) {
    cl_uint n = argc > 1 ? (cl_uint)strtoul(argv[1], NULL, 10) : 1u << 20;
    size_t bytes = (size_t)n * sizeof(float);
    float *a = malloc(bytes), *b = malloc(bytes), *c = malloc(bytes);
    if (!a || !b || !c) return 1;
    for (cl_uint i = 0; i < n; i++) {
        a[i] = (float)i * 0.5f;
        b[i] = (float)(n - i);
        c[i] = -1.0f;
    }

    cl_int status;
    cl_platform_id platform;
    cl_uint platforms = 0;
    status = clGetPlatformIDs(1, &platform, &platforms);
    CHECK("clGetPlatformIDs", status);
    cl_device_id device;
    status = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL);
    CHECK("clGetDeviceIDs", status);
    char name[256];
    status = clGetDeviceInfo(device, CL_DEVICE_NAME, sizeof name, name, NULL);
    CHECK("clGetDeviceInfo", status);

    cl_context context = clCreateContext(NULL, 1, &device, NULL, NULL, &status);
    CHECK("clCreateContext", status);
    cl_command_queue queue = clCreateCommandQueue(context, device, 0, &status);
    CHECK("clCreateCommandQueue", status);

    cl_mem da = clCreateBuffer(context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes, a, &status);
    CHECK("clCreateBuffer(a)", status);
    cl_mem db = clCreateBuffer(context, CL_MEM_READ_ONLY, bytes, NULL, &status);
    CHECK("clCreateBuffer(b)", status);
    cl_mem dc = clCreateBuffer(context, CL_MEM_WRITE_ONLY, bytes, NULL, &status);
    CHECK("clCreateBuffer(c)", status);
    status = clEnqueueWriteBuffer(queue, db, CL_FALSE, 0, bytes, b, 0, NULL, NULL);
    CHECK("clEnqueueWriteBuffer", status);

    cl_program program = clCreateProgramWithSource(context, 1, &source, NULL, &status);
    CHECK("clCreateProgramWithSource", status);
    status = clBuildProgram(program, 1, &device, "", NULL, NULL);
    CHECK("clBuildProgram", status);
    cl_kernel kernel = clCreateKernel(program, "vector_add", &status);
    CHECK("clCreateKernel", status);

    status = clSetKernelArg(kernel, 0, sizeof(cl_mem), &da);
    status |= clSetKernelArg(kernel, 1, sizeof(cl_mem), &db);
    status |= clSetKernelArg(kernel, 2, sizeof(cl_mem), &dc);
    status |= clSetKernelArg(kernel, 3, sizeof(cl_uint), &n);
    CHECK("clSetKernelArg", status);

    size_t global = ((size_t)n + 63) / 64 * 64, local = 64;
    status = clEnqueueNDRangeKernel(queue, kernel, 1, NULL, &global, &local, 0, NULL, NULL);
    CHECK("clEnqueueNDRangeKernel", status);
    status = clEnqueueReadBuffer(queue, dc, CL_TRUE, 0, bytes, c, 0, NULL, NULL);
    CHECK("clEnqueueReadBuffer", status);

    cl_uint wrong = 0;
    double sum = 0;
    for (cl_uint i = 0; i < n; i++) {
        if (c[i] != a[i] + b[i]) wrong++;
        sum += c[i];
    }
    printf("device: %s\n", name);
    printf("n=%u wrong=%u sum=%.1f c[0]=%.1f c[n-1]=%.1f\n", n, wrong, sum, c[0], c[n - 1]);

    clReleaseKernel(kernel);
    clReleaseProgram(program);
    clReleaseMemObject(da);
    clReleaseMemObject(db);
    clReleaseMemObject(dc);
    clReleaseCommandQueue(queue);
    clReleaseContext(context);
    free(a);
    free(b);
    free(c);
    printf("%s\n", wrong == 0 ? "PASSED" : "FAILED");
    return wrong == 0 ? 0 : 1;
}
