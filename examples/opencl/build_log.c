/* Builds a program with a deliberate error and prints the build status and
 * the compiler's log (the line with the error), then builds a correct one
 * and prints what the program knows about its kernels.
 *
 *   cc -std=c99 -O2 -o build_log build_log.c -lOpenCL
 */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *broken =
    "__kernel void broken(__global int *out) {\n"
    "    out[get_global_id(0)] = undefined_variable * 2;\n"
    "}\n";

static const char *good_parts[2] = {
    "__kernel void first(__global int *out) { out[0] = 1; }\n",
    "__kernel void second(__global int *out, int v) { out[1] = v; }\n",
};

static void print_log(cl_program program, cl_device_id device) {
    size_t size = 0;
    cl_int status = clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, 0, NULL, &size);
    if (status != CL_SUCCESS) {
        printf("log size query failed: %d\n", status);
        return;
    }
    char *log = malloc(size + 1);
    status = clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, size, log, NULL);
    log[size] = 0;
    /* the log names a temporary file; print only the diagnostic lines */
    int found = 0;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        char *error = strstr(line, "error:");
        if (error) {
            /* "error: FILE:LINE:COL: message": FILE is a temporary name */
            char *at = strstr(error, ".cl:");
            printf("log: error at %s\n", at ? at + 4 : error);
            found = 1;
        }
    }
    printf("log has an error line: %s\n", found ? "yes" : "no");
    free(log);
}

int main(void) {
    cl_int status;
    cl_platform_id platform;
    cl_device_id device;
    if (clGetPlatformIDs(1, &platform, NULL) != CL_SUCCESS || clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL) != CL_SUCCESS) {
        printf("no OpenCL device\n");
        return 1;
    }
    cl_context context = clCreateContext(NULL, 1, &device, NULL, NULL, &status);
    if (status != CL_SUCCESS) return 1;

    cl_program program = clCreateProgramWithSource(context, 1, &broken, NULL, &status);
    printf("create: %d\n", status);
    status = clBuildProgram(program, 1, &device, "-Werror", NULL, NULL);
    printf("build: %d (CL_BUILD_PROGRAM_FAILURE is %d)\n", status, CL_BUILD_PROGRAM_FAILURE);
    cl_build_status build_status;
    clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_STATUS, sizeof build_status, &build_status, NULL);
    printf("build status: %d (CL_BUILD_ERROR is %d)\n", build_status, CL_BUILD_ERROR);
    print_log(program, device);
    cl_kernel none = clCreateKernel(program, "broken", &status);
    printf("kernel from a failed build: %s, %d\n", none ? "non-NULL" : "NULL", status);
    clReleaseProgram(program);

    /* two sources, the first with an explicit length */
    size_t lengths[2] = {strlen(good_parts[0]), 0};
    program = clCreateProgramWithSource(context, 2, good_parts, lengths, &status);
    printf("create: %d\n", status);
    status = clBuildProgram(program, 1, &device, NULL, NULL, NULL);
    printf("build: %d\n", status);
    size_t num_kernels = 0;
    clGetProgramInfo(program, CL_PROGRAM_NUM_KERNELS, sizeof num_kernels, &num_kernels, NULL);
    char names[256] = {0};
    clGetProgramInfo(program, CL_PROGRAM_KERNEL_NAMES, sizeof names, names, NULL);
    printf("kernels: %zu (%s)\n", num_kernels, names);
    cl_kernel kernels[4];
    cl_uint created = 0;
    status = clCreateKernelsInProgram(program, 4, kernels, &created);
    printf("created %u kernels: %d\n", created, status);
    for (cl_uint i = 0; i < created; i++) {
        char name[64];
        cl_uint args = 0;
        clGetKernelInfo(kernels[i], CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
        clGetKernelInfo(kernels[i], CL_KERNEL_NUM_ARGS, sizeof args, &args, NULL);
        size_t wg = 0;
        clGetKernelWorkGroupInfo(kernels[i], device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
        printf("kernel %s: %u args, work-group size > 0: %s\n", name, args, wg > 0 ? "yes" : "no");
        clReleaseKernel(kernels[i]);
    }
    clReleaseProgram(program);
    clReleaseContext(context);
    return 0;
}
