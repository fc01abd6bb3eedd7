/* Multiplies two square matrices on the first OpenCL device with a 2-D
 * NDRange, compares with the product computed on the host, and prints a
 * checksum. It also exercises an event (waited for with clWaitForEvents),
 * a non-blocking read completed by clFinish, and clEnqueueFillBuffer.
 *
 *   cc -std=c99 -O2 -o matrix_multiply matrix_multiply.c -lOpenCL
 *   ./matrix_multiply [N]
 */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <math.h>
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
    "__kernel void matmul(__global const float *a, __global const float *b,\n"
    "                     __global float *c, int n) {\n"
    "    int row = get_global_id(1), col = get_global_id(0);\n"
    "    if (row >= n || col >= n) return;\n"
    "    float sum = 0.0f;\n"
    "    for (int k = 0; k < n; k++) sum += a[row * n + k] * b[k * n + col];\n"
    "    c[row * n + col] = sum;\n"
    "}\n";

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 256;
    size_t count = (size_t)n * n, bytes = count * sizeof(float);
    float *a = malloc(bytes), *b = malloc(bytes), *c = malloc(bytes), *ref = malloc(bytes);
    if (!a || !b || !c || !ref) return 1;
    for (size_t i = 0; i < count; i++) {
        a[i] = (float)((i * 7) % 13) - 6.0f;
        b[i] = (float)((i * 5) % 11) * 0.25f;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            float s = 0.0f;
            for (int k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
            ref[i * n + j] = s;
        }

    cl_int status;
    cl_platform_id platform;
    status = clGetPlatformIDs(1, &platform, NULL);
    CHECK("clGetPlatformIDs", status);
    cl_device_id device;
    status = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL);
    CHECK("clGetDeviceIDs", status);
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platform, 0};
    cl_context context = clCreateContext(props, 1, &device, NULL, NULL, &status);
    CHECK("clCreateContext", status);
    cl_command_queue queue = clCreateCommandQueue(context, device, 0, &status);
    CHECK("clCreateCommandQueue", status);

    cl_mem da = clCreateBuffer(context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes, a, &status);
    CHECK("clCreateBuffer(a)", status);
    cl_mem db = clCreateBuffer(context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes, b, &status);
    CHECK("clCreateBuffer(b)", status);
    cl_mem dc = clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, NULL, &status);
    CHECK("clCreateBuffer(c)", status);
    float nan_pattern = NAN;
    status = clEnqueueFillBuffer(queue, dc, &nan_pattern, sizeof nan_pattern, 0, bytes, 0, NULL, NULL);
    CHECK("clEnqueueFillBuffer", status);

    cl_program program = clCreateProgramWithSource(context, 1, &source, NULL, &status);
    CHECK("clCreateProgramWithSource", status);
    status = clBuildProgram(program, 0, NULL, "-cl-fast-relaxed-math", NULL, NULL);
    CHECK("clBuildProgram", status);
    cl_kernel kernel = clCreateKernel(program, "matmul", &status);
    CHECK("clCreateKernel", status);
    cl_uint nargs = 0;
    status = clGetKernelInfo(kernel, CL_KERNEL_NUM_ARGS, sizeof nargs, &nargs, NULL);
    CHECK("clGetKernelInfo", status);
    cl_program owner = NULL;
    status = clGetKernelInfo(kernel, CL_KERNEL_PROGRAM, sizeof owner, &owner, NULL);
    CHECK("clGetKernelInfo(PROGRAM)", status);

    status = clSetKernelArg(kernel, 0, sizeof(cl_mem), &da);
    status |= clSetKernelArg(kernel, 1, sizeof(cl_mem), &db);
    status |= clSetKernelArg(kernel, 2, sizeof(cl_mem), &dc);
    status |= clSetKernelArg(kernel, 3, sizeof(int), &n);
    CHECK("clSetKernelArg", status);

    size_t global[2] = {((size_t)n + 15) / 16 * 16, ((size_t)n + 15) / 16 * 16}, local[2] = {16, 16};
    cl_event done;
    status = clEnqueueNDRangeKernel(queue, kernel, 2, NULL, global, local, 0, NULL, &done);
    CHECK("clEnqueueNDRangeKernel", status);
    status = clWaitForEvents(1, &done);
    CHECK("clWaitForEvents", status);
    cl_int state = 0;
    status = clGetEventInfo(done, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof state, &state, NULL);
    CHECK("clGetEventInfo", status);

    status = clEnqueueReadBuffer(queue, dc, CL_FALSE, 0, bytes, c, 0, NULL, NULL);
    CHECK("clEnqueueReadBuffer", status);
    status = clFinish(queue);
    CHECK("clFinish", status);

    size_t wrong = 0;
    double checksum = 0;
    for (size_t i = 0; i < count; i++) {
        if (fabsf(c[i] - ref[i]) > 1e-3f * (1.0f + fabsf(ref[i]))) wrong++;
        checksum += c[i];
    }
    printf("n=%d args=%u program_matches=%d event_complete=%d\n", n, nargs, owner == program, state == CL_COMPLETE);
    printf("wrong=%zu checksum=%.3f c[0]=%.3f c[last]=%.3f\n", wrong, checksum, c[0], c[count - 1]);

    clReleaseEvent(done);
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
    free(ref);
    printf("%s\n", wrong == 0 ? "PASSED" : "FAILED");
    return wrong == 0 ? 0 : 1;
}
