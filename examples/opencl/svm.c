/* Coarse-grain buffer SVM (OpenCL 2.0) on the first OpenCL device: the host
 * fills an allocation through a mapping for writing, a kernel takes it with
 * clSetKernelArgSVMPointer (at its start and at a pointer inside it), and
 * the host checks the result through a mapping for reading. Then copies
 * with clEnqueueSVMMemcpy (host to SVM, SVM to host, SVM to SVM, host to
 * host), a clEnqueueSVMMemFill with a pattern, a buffer that uses SVM memory
 * (CL_MEM_USE_HOST_PTR), clSetKernelExecInfo(CL_KERNEL_EXEC_INFO_SVM_PTRS),
 * clEnqueueSVMMigrateMem, clEnqueueSVMFree with and without a callback, and
 * the errors PoCL reports too.
 *
 * Of the device's SVM capabilities it prints only whether coarse-grain
 * buffer SVM is offered: fine-grain SVM is not offered through CAVA.
 *
 * With the argument `forwarded` it also prints the errors of pointers and
 * ranges outside every allocation, which only the guest library checks
 * (PoCL takes any pointer, and writes past the allocation).
 *
 *   cc -std=c99 -O2 -o svm svm.c -lOpenCL
 *   ./svm [N] [forwarded]
 */
#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
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
    "__kernel void scale(__global int *v, int factor, int add) {\n"
    "    size_t i = get_global_id(0);\n"
    "    v[i] = v[i] * factor + add;\n"
    "}\n"
    "__kernel void add(__global int *dst, __global const int *a, __global const int *b) {\n"
    "    size_t i = get_global_id(0);\n"
    "    dst[i] = a[i] + b[i];\n"
    "}\n";

static long long sum_ints(const cl_int *v, size_t n) {
    long long s = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    return s;
}

static int freed_by_callback;

static void CL_CALLBACK free_svm(cl_command_queue queue, cl_uint n, void *pointers[], void *user_data) {
    cl_context context = (cl_context)user_data;
    (void)queue;
    for (cl_uint i = 0; i < n; i++) clSVMFree(context, pointers[i]);
    freed_by_callback += (int)n;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 4096;
    int forwarded = argc > 2 && strcmp(argv[2], "forwarded") == 0;
    if (n < 128) n = 128;
    n -= n % 64;
    size_t bytes = n * sizeof(cl_int);

    cl_int status;
    cl_platform_id platform;
    status = clGetPlatformIDs(1, &platform, NULL);
    CHECK("clGetPlatformIDs", status);
    cl_device_id device;
    status = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL);
    CHECK("clGetDeviceIDs", status);
    cl_device_svm_capabilities caps = 0;
    status = clGetDeviceInfo(device, CL_DEVICE_SVM_CAPABILITIES, sizeof caps, &caps, NULL);
    CHECK("clGetDeviceInfo(CL_DEVICE_SVM_CAPABILITIES)", status);
    printf("coarse-grain buffer SVM: %s\n", caps & CL_DEVICE_SVM_COARSE_GRAIN_BUFFER ? "yes" : "no");
    if (!(caps & CL_DEVICE_SVM_COARSE_GRAIN_BUFFER)) return 0;

    cl_context context = clCreateContext(NULL, 1, &device, NULL, NULL, &status);
    CHECK("clCreateContext", status);
    cl_command_queue queue = clCreateCommandQueueWithProperties(context, device, NULL, &status);
    CHECK("clCreateCommandQueueWithProperties", status);
    if (argc > 2 && strcmp(argv[2], "leave") == 0) {
        /* exits holding two allocations, a sub-device retained once, its
           queue and its context: through CAVA the API server releases them
           when the process has gone (but not the root device, which it was
           only handed) */
        cl_device_partition_property one[] = {CL_DEVICE_PARTITION_BY_COUNTS, 1, CL_DEVICE_PARTITION_BY_COUNTS_LIST_END, 0};
        cl_device_id sub;
        cl_uint subs = 0;
        status = clCreateSubDevices(device, one, 1, &sub, &subs);
        CHECK("clCreateSubDevices", status);
        status = clRetainDevice(sub);
        CHECK("clRetainDevice", status);
        for (int i = 0; i < 2; i++) {
            cl_int *left = clSVMAlloc(context, CL_MEM_READ_WRITE, bytes, 64);
            if (left == NULL) {
                printf("clSVMAlloc failed\n");
                return 1;
            }
            status = clEnqueueSVMMap(queue, CL_TRUE, CL_MAP_WRITE, left, bytes, 0, NULL, NULL);
            CHECK("clEnqueueSVMMap", status);
            memset(left, 1, bytes);
            status = clEnqueueSVMUnmap(queue, left, 0, NULL, NULL);
            CHECK("clEnqueueSVMUnmap", status);
        }
        status = clFinish(queue);
        CHECK("clFinish", status);
        printf("left two allocations and %u sub-device\n", subs);
        return 0;
    }
    cl_program program = clCreateProgramWithSource(context, 1, &source, NULL, &status);
    CHECK("clCreateProgramWithSource", status);
    status = clBuildProgram(program, 0, NULL, NULL, NULL, NULL);
    CHECK("clBuildProgram", status);
    cl_kernel scale = clCreateKernel(program, "scale", &status);
    CHECK("clCreateKernel(scale)", status);
    cl_kernel add = clCreateKernel(program, "add", &status);
    CHECK("clCreateKernel(add)", status);

    /* 1. an allocation filled through a mapping for writing */
    cl_int *v = clSVMAlloc(context, CL_MEM_READ_WRITE, bytes, 0);
    if (!v) {
        printf("clSVMAlloc failed\n");
        return 1;
    }
    cl_int *aligned = clSVMAlloc(context, CL_MEM_READ_WRITE, 256, 64);
    printf("alignment 64: %s\n", aligned && (size_t)aligned % 64 == 0 ? "aligned" : "not aligned");
    clSVMFree(context, aligned);
    /* more than PoCL's largest alignment (128 bytes) */
    printf("alignment 4096: %s\n", clSVMAlloc(context, CL_MEM_READ_WRITE, 256, 4096) ? "allocated" : "NULL");
    status = clEnqueueSVMMap(queue, CL_TRUE, CL_MAP_WRITE, v, bytes, 0, NULL, NULL);
    CHECK("clEnqueueSVMMap(write)", status);
    for (size_t i = 0; i < n; i++) v[i] = (cl_int)i;
    status = clEnqueueSVMUnmap(queue, v, 0, NULL, NULL);
    CHECK("clEnqueueSVMUnmap", status);

    /* 2. a kernel on the whole allocation, then on its second half through
     *    a pointer inside it */
    cl_int factor = 3, plus = 1;
    status = clSetKernelArgSVMPointer(scale, 0, v);
    CHECK("clSetKernelArgSVMPointer", status);
    clSetKernelArg(scale, 1, sizeof factor, &factor);
    clSetKernelArg(scale, 2, sizeof plus, &plus);
    size_t global = n;
    status = clEnqueueNDRangeKernel(queue, scale, 1, NULL, &global, NULL, 0, NULL, NULL);
    CHECK("clEnqueueNDRangeKernel", status);
    status = clSetKernelArgSVMPointer(scale, 0, v + n / 2);
    CHECK("clSetKernelArgSVMPointer(interior)", status);
    factor = -1;
    plus = 0;
    clSetKernelArg(scale, 1, sizeof factor, &factor);
    clSetKernelArg(scale, 2, sizeof plus, &plus);
    global = n / 2;
    status = clEnqueueNDRangeKernel(queue, scale, 1, NULL, &global, NULL, 0, NULL, NULL);
    CHECK("clEnqueueNDRangeKernel(interior)", status);
    cl_event mapped;
    status = clEnqueueSVMMap(queue, CL_FALSE, CL_MAP_READ, v, bytes, 0, NULL, &mapped);
    CHECK("clEnqueueSVMMap(read)", status);
    status = clWaitForEvents(1, &mapped);
    CHECK("clWaitForEvents(map)", status);
    clReleaseEvent(mapped);
    int wrong = 0;
    for (size_t i = 0; i < n; i++) {
        cl_int want = (cl_int)(3 * i + 1);
        if (i >= n / 2) want = -want;
        wrong += v[i] != want;
    }
    printf("kernel: wrong=%d sum=%lld v[1]=%d v[n-1]=%d\n", wrong, sum_ints(v, n), v[1], v[n - 1]);
    cl_event unmapped;
    status = clEnqueueSVMUnmap(queue, v, 0, NULL, &unmapped);
    CHECK("clEnqueueSVMUnmap(read)", status);
    status = clWaitForEvents(1, &unmapped);
    CHECK("clWaitForEvents(unmap)", status);
    clReleaseEvent(unmapped);

    /* 3. a range at an offset, mapped for reading and writing, and one
     *    overwritten with CL_MAP_WRITE_INVALIDATE_REGION */
    status = clEnqueueSVMMap(queue, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, v + 10, 16 * sizeof(cl_int), 0, NULL, NULL);
    CHECK("clEnqueueSVMMap(range)", status);
    printf("range: v[10]=%d v[25]=%d\n", v[10], v[25]);
    for (int i = 10; i < 26; i++) v[i] = 1000 + i;
    status = clEnqueueSVMUnmap(queue, v + 10, 0, NULL, NULL);
    CHECK("clEnqueueSVMUnmap(range)", status);
    status = clEnqueueSVMMap(queue, CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, v + 32, 8 * sizeof(cl_int), 0, NULL, NULL);
    CHECK("clEnqueueSVMMap(invalidate)", status);
    for (int i = 32; i < 40; i++) v[i] = -7;
    status = clEnqueueSVMUnmap(queue, v + 32, 0, NULL, NULL);
    CHECK("clEnqueueSVMUnmap(invalidate)", status);

    /* 4. copies: SVM to host, host to SVM, SVM to SVM (non-blocking, with an
     *    event), host to host */
    cl_int *host = malloc(bytes);
    status = clEnqueueSVMMemcpy(queue, CL_TRUE, host, v, bytes, 0, NULL, NULL);
    CHECK("clEnqueueSVMMemcpy(to host)", status);
    printf("copy to host: v[9]=%d v[10]=%d v[25]=%d v[26]=%d v[32]=%d v[39]=%d sum=%lld\n", host[9], host[10], host[25],
           host[26], host[32], host[39], sum_ints(host, n));
    cl_int *w = clSVMAlloc(context, CL_MEM_READ_WRITE, bytes, 0);
    cl_int *sum = clSVMAlloc(context, CL_MEM_READ_WRITE, bytes, 0);
    if (!w || !sum) {
        printf("clSVMAlloc failed\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) host[i] = (cl_int)(2 * i);
    status = clEnqueueSVMMemcpy(queue, CL_TRUE, w, host, bytes, 0, NULL, NULL);
    CHECK("clEnqueueSVMMemcpy(to SVM)", status);
    cl_event copied;
    status = clEnqueueSVMMemcpy(queue, CL_FALSE, sum, w + 16, bytes - 16 * sizeof(cl_int), 0, NULL, &copied);
    CHECK("clEnqueueSVMMemcpy(SVM to SVM)", status);
    status = clWaitForEvents(1, &copied);
    CHECK("clWaitForEvents(copy)", status);
    clReleaseEvent(copied);
    status = clEnqueueSVMMemcpy(queue, CL_TRUE, host, sum, 8 * sizeof(cl_int), 0, NULL, NULL);
    CHECK("clEnqueueSVMMemcpy(back)", status);
    printf("SVM to SVM: %d %d ... %d\n", host[0], host[1], host[7]);
    cl_int pair[2] = {5, 6}, pair_copy[2] = {0, 0};
    status = clEnqueueSVMMemcpy(queue, CL_TRUE, pair_copy, pair, sizeof pair, 0, NULL, NULL);
    CHECK("clEnqueueSVMMemcpy(host to host)", status);
    printf("host to host: %d %d\n", pair_copy[0], pair_copy[1]);

    /* 5. a fill with a two-int pattern over a range inside the allocation,
     *    then a kernel on three allocations (exec info names them) */
    cl_int pattern[2] = {7, -7};
    status = clEnqueueSVMMemFill(queue, w + 8, pattern, sizeof pattern, 16 * sizeof(cl_int), 0, NULL, NULL);
    CHECK("clEnqueueSVMMemFill", status);
    void *used[3] = {sum, v, w};
    status = clSetKernelExecInfo(add, CL_KERNEL_EXEC_INFO_SVM_PTRS, sizeof used, used);
    CHECK("clSetKernelExecInfo(SVM_PTRS)", status);
    cl_bool fine_system = CL_FALSE;
    status = clSetKernelExecInfo(add, CL_KERNEL_EXEC_INFO_SVM_FINE_GRAIN_SYSTEM, sizeof fine_system, &fine_system);
    CHECK("clSetKernelExecInfo(FINE_GRAIN_SYSTEM false)", status);
    clSetKernelArgSVMPointer(add, 0, sum);
    clSetKernelArgSVMPointer(add, 1, v);
    clSetKernelArgSVMPointer(add, 2, w);
    global = n;
    status = clEnqueueNDRangeKernel(queue, add, 1, NULL, &global, NULL, 0, NULL, NULL);
    CHECK("clEnqueueNDRangeKernel(add)", status);
    status = clEnqueueSVMMap(queue, CL_TRUE, CL_MAP_READ, sum, bytes, 0, NULL, NULL);
    CHECK("clEnqueueSVMMap(sum)", status);
    printf("fill and add: sum[7]=%d sum[8]=%d sum[9]=%d sum[23]=%d sum[24]=%d total=%lld\n", sum[7], sum[8], sum[9], sum[23],
           sum[24], sum_ints(sum, n));
    status = clEnqueueSVMUnmap(queue, sum, 0, NULL, NULL);
    CHECK("clEnqueueSVMUnmap(sum)", status);

    /* 6. a buffer that uses SVM memory: a kernel on the buffer changes the
     *    allocation */
    cl_mem buffer = clCreateBuffer(context, CL_MEM_USE_HOST_PTR, 64 * sizeof(cl_int), w + 64, &status);
    CHECK("clCreateBuffer(SVM)", status);
    cl_bool uses_svm = CL_FALSE;
    clGetMemObjectInfo(buffer, CL_MEM_USES_SVM_POINTER, sizeof uses_svm, &uses_svm, NULL);
    void *host_ptr = NULL;
    clGetMemObjectInfo(buffer, CL_MEM_HOST_PTR, sizeof host_ptr, &host_ptr, NULL);
    printf("buffer on SVM: uses SVM %s, host pointer %s\n", uses_svm ? "yes" : "no", host_ptr == (void *)(w + 64) ? "right" : "wrong");
    factor = 10;
    plus = 0;
    clSetKernelArg(scale, 0, sizeof buffer, &buffer);
    clSetKernelArg(scale, 1, sizeof factor, &factor);
    clSetKernelArg(scale, 2, sizeof plus, &plus);
    global = 64;
    status = clEnqueueNDRangeKernel(queue, scale, 1, NULL, &global, NULL, 0, NULL, NULL);
    CHECK("clEnqueueNDRangeKernel(buffer)", status);
    status = clEnqueueSVMMemcpy(queue, CL_TRUE, host, w + 63, 3 * sizeof(cl_int), 0, NULL, NULL);
    CHECK("clEnqueueSVMMemcpy(buffer)", status);
    printf("buffer on SVM: w[63]=%d w[64]=%d w[65]=%d\n", host[0], host[1], host[2]);
    clReleaseMemObject(buffer);

    /* 7. migration, and errors PoCL reports as well */
    const void *migrate[2] = {v + 1, w};
    size_t migrate_sizes[2] = {4, 0};
    status = clEnqueueSVMMigrateMem(queue, 2, migrate, migrate_sizes, 0, 0, NULL, NULL);
    CHECK("clEnqueueSVMMigrateMem", status);
    printf("alignment 3: %s\n", clSVMAlloc(context, CL_MEM_READ_WRITE, 64, 3) ? "allocated" : "NULL");
    printf("size 0: %s\n", clSVMAlloc(context, CL_MEM_READ_WRITE, 0, 0) ? "allocated" : "NULL");
    printf("empty map: %d\n", clEnqueueSVMMap(queue, CL_TRUE, CL_MAP_READ, v, 0, 0, NULL, NULL));
    printf("pattern of 3 bytes: %d\n", clEnqueueSVMMemFill(queue, v, pattern, 3, 63, 0, NULL, NULL));
    printf("overlapping copy: %d\n", clEnqueueSVMMemcpy(queue, CL_TRUE, v, v + 1, 64, 0, NULL, NULL));
    printf("copy to NULL: %d\n", clEnqueueSVMMemcpy(queue, CL_TRUE, NULL, v, 64, 0, NULL, NULL));
    printf("free of nothing: %d\n", clEnqueueSVMFree(queue, 0, NULL, NULL, NULL, 0, NULL, NULL));

    /* 8. errors only the guest library reports */
    if (forwarded) {
        cl_int local[16];
        void *outside[2] = {v, local};
        cl_bool yes = CL_TRUE;
        printf("forwarded: fine-grain allocation: %s\n",
               clSVMAlloc(context, CL_MEM_READ_WRITE | CL_MEM_SVM_FINE_GRAIN_BUFFER, 64, 0) ? "allocated" : "NULL");
        printf("forwarded: argument outside: %d\n", clSetKernelArgSVMPointer(scale, 0, local));
        printf("forwarded: argument past the end: %d\n", clSetKernelArgSVMPointer(scale, 0, v + n));
        printf("forwarded: exec info outside: %d\n", clSetKernelExecInfo(add, CL_KERNEL_EXEC_INFO_SVM_PTRS, sizeof outside, outside));
        printf("forwarded: fine-grain system: %d\n",
               clSetKernelExecInfo(add, CL_KERNEL_EXEC_INFO_SVM_FINE_GRAIN_SYSTEM, sizeof yes, &yes));
        printf("forwarded: map past the end: %d\n", clEnqueueSVMMap(queue, CL_TRUE, CL_MAP_READ, v + 1, bytes, 0, NULL, NULL));
        printf("forwarded: map outside: %d\n", clEnqueueSVMMap(queue, CL_TRUE, CL_MAP_READ, local, 16, 0, NULL, NULL));
        printf("forwarded: unmap outside: %d\n", clEnqueueSVMUnmap(queue, local, 0, NULL, NULL));
        printf("forwarded: fill past the end: %d\n", clEnqueueSVMMemFill(queue, v + n - 1, pattern, 4, 8, 0, NULL, NULL));
        printf("forwarded: fill outside: %d\n", clEnqueueSVMMemFill(queue, local, pattern, 4, 8, 0, NULL, NULL));
        printf("forwarded: copy past the end: %d\n", clEnqueueSVMMemcpy(queue, CL_TRUE, host, v + n - 2, 16, 0, NULL, NULL));
        printf("forwarded: buffer past the end: ");
        cl_mem past = clCreateBuffer(context, CL_MEM_USE_HOST_PTR, bytes, v + 1, &status);
        printf("%s %d\n", past ? "created" : "NULL", status);
        printf("forwarded: migrate outside: %d\n", clEnqueueSVMMigrateMem(queue, 1, (const void **)outside + 1, NULL, 0, 0, NULL, NULL));
    }

    /* 9. frees: one by clSVMFree, one by clEnqueueSVMFree, one by its
     *    callback */
    clSVMFree(context, v);
    void *queued[1] = {w};
    cl_event freed;
    status = clEnqueueSVMFree(queue, 1, queued, NULL, NULL, 0, NULL, &freed);
    CHECK("clEnqueueSVMFree", status);
    status = clWaitForEvents(1, &freed);
    CHECK("clWaitForEvents(free)", status);
    clReleaseEvent(freed);
    void *called[1] = {sum};
    status = clEnqueueSVMFree(queue, 1, called, free_svm, context, 0, NULL, NULL);
    CHECK("clEnqueueSVMFree(callback)", status);
    status = clFinish(queue);
    CHECK("clFinish", status);
    printf("freed by the callback: %d\n", freed_by_callback);

    free(host);
    clReleaseKernel(add);
    clReleaseKernel(scale);
    clReleaseProgram(program);
    clReleaseCommandQueue(queue);
    clReleaseContext(context);
    printf("PASSED\n");
    return 0;
}
