/* OpenCL workloads for comparing a program natively and through CAVA
 * (bench/opencl/run.sh). Plain OpenCL; each run prints one line:
 *
 *   workload=NAME ops=N seconds=S per_op_us=U check=ok
 *
 * timing only the steady state (after the program is built and one warm-up
 * round has run, so PoCL's kernel compilation is not counted).
 *
 *   calls    thousands of tiny kernels: clSetKernelArg + clEnqueueNDRangeKernel
 *            per launch, a clFinish at the end and after every 5,000
 *            (per_op_us: per launch)
 *   data     64 MiB blocking writes and reads, little compute
 *            (per_op_us: per transfer; also prints gb_per_s)
 *   compute  a naive 384x384 matrix multiply, a few launches
 *            (per_op_us: per multiply)
 *
 *   cc -std=c99 -O2 -o workloads workloads.c -lOpenCL
 *   ./workloads calls [LAUNCHES]|data|compute
 */
#define _POSIX_C_SOURCE 199309L
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(what, status)                                                   \
    do {                                                                      \
        if ((status) != CL_SUCCESS) {                                         \
            fprintf(stderr, "%s failed: %d\n", (what), (int)(status));        \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

static const char *source =
    "__kernel void inc(__global int *a) { a[get_global_id(0)] += 1; }\n"
    "__kernel void matmul(__global const float *a, __global const float *b,\n"
    "                     __global float *c, const int n) {\n"
    "    int row = get_global_id(1), col = get_global_id(0);\n"
    "    float acc = 0.0f;\n"
    "    for (int k = 0; k < n; k++) acc += a[row * n + k] * b[k * n + col];\n"
    "    c[row * n + col] = acc;\n"
    "}\n";

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static cl_context context;
static cl_command_queue queue;
static cl_program program;

static void setup(void)
{
    cl_int status;
    cl_platform_id platform;
    cl_device_id device;
    CHECK("clGetPlatformIDs", clGetPlatformIDs(1, &platform, NULL));
    CHECK("clGetDeviceIDs", clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL));
    context = clCreateContext(NULL, 1, &device, NULL, NULL, &status);
    CHECK("clCreateContext", status);
    queue = clCreateCommandQueue(context, device, 0, &status);
    CHECK("clCreateCommandQueue", status);
    program = clCreateProgramWithSource(context, 1, &source, NULL, &status);
    CHECK("clCreateProgramWithSource", status);
    CHECK("clBuildProgram", clBuildProgram(program, 1, &device, "", NULL, NULL));
}

/* CPU time of the whole process (its threads, PoCL's workers included) */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void report(const char *name, long ops, double seconds, int ok)
{
    printf("workload=%s ops=%ld seconds=%.6f per_op_us=%.3f check=%s\n", name, ops, seconds, seconds * 1e6 / (double)ops,
           ok ? "ok" : "WRONG");
}

static int calls(int LAUNCHES)
{
    enum { N = 64, WARM = 200, BATCH = 5000 };
    cl_int status, values[N];
    size_t global = N;
    cl_mem mem = clCreateBuffer(context, CL_MEM_READ_WRITE, sizeof values, NULL, &status);
    CHECK("clCreateBuffer", status);
    memset(values, 0, sizeof values);
    CHECK("clEnqueueWriteBuffer", clEnqueueWriteBuffer(queue, mem, CL_TRUE, 0, sizeof values, values, 0, NULL, NULL));
    cl_kernel kernel = clCreateKernel(program, "inc", &status);
    CHECK("clCreateKernel", status);
    for (int round = 0; round < 2; round++) {
        int launches = round == 0 ? WARM : LAUNCHES;
        /* for bench/opencl/cpu_budget.sh, which samples the API server's
         * CPU time while the timed round runs */
        if (round == 1)
            fprintf(stderr, "calls: timed round begins\n");
        double start = now(), cpu = cpu_now();
        for (int i = 0; i < launches; i++) {
            CHECK("clSetKernelArg", clSetKernelArg(kernel, 0, sizeof mem, &mem));
            CHECK("clEnqueueNDRangeKernel", clEnqueueNDRangeKernel(queue, kernel, 1, NULL, &global, NULL, 0, NULL, NULL));
            /* a long run waits every BATCH launches, so that its queue (and
             * PoCL's memory) stays as deep as the default run's */
            if ((i + 1) % BATCH == 0 && i + 1 < launches)
                CHECK("clFinish", clFinish(queue));
        }
        CHECK("clFinish", clFinish(queue));
        double seconds = now() - start;
        cpu = cpu_now() - cpu;
        if (round == 1) {
            fprintf(stderr, "calls: timed round ends, process_cpu_us=%.3f per launch\n", cpu * 1e6 / launches);
            /* cpu_budget.sh reads the API server's threads now: its
             * channel thread ends when this program does */
            if (getenv("WORKLOADS_LINGER")) {
                struct timespec linger = {0, 300 * 1000 * 1000};
                nanosleep(&linger, NULL);
            }
            CHECK("clEnqueueReadBuffer", clEnqueueReadBuffer(queue, mem, CL_TRUE, 0, sizeof values, values, 0, NULL, NULL));
            report("calls", launches, seconds, values[0] == WARM + LAUNCHES && values[N - 1] == WARM + LAUNCHES);
        }
    }
    clReleaseKernel(kernel);
    clReleaseMemObject(mem);
    return 0;
}

static int data(void)
{
    const size_t bytes = (size_t)64 << 20;
    enum { ROUNDS = 6 };
    cl_int status;
    unsigned char *host = malloc(bytes), *back = malloc(bytes);
    if (host == NULL || back == NULL)
        return 1;
    for (size_t i = 0; i < bytes; i++)
        host[i] = (unsigned char)(i * 7 + 3);
    cl_mem mem = clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, NULL, &status);
    CHECK("clCreateBuffer", status);
    int ok = 1;
    for (int round = 0; round < 2; round++) {
        int rounds = round == 0 ? 1 : ROUNDS;
        double start = now();
        for (int i = 0; i < rounds; i++) {
            CHECK("clEnqueueWriteBuffer", clEnqueueWriteBuffer(queue, mem, CL_TRUE, 0, bytes, host, 0, NULL, NULL));
            CHECK("clEnqueueReadBuffer", clEnqueueReadBuffer(queue, mem, CL_TRUE, 0, bytes, back, 0, NULL, NULL));
        }
        double seconds = now() - start;
        ok = ok && memcmp(host, back, bytes) == 0;
        if (round == 1) {
            report("data", 2L * rounds, seconds, ok);
            printf("gb_per_s=%.3f\n", 2.0 * rounds * (double)bytes / seconds / 1e9);
        }
    }
    clReleaseMemObject(mem);
    free(host);
    free(back);
    return 0;
}

static int compute(void)
{
    enum { N = 384, LAUNCHES = 3 };
    const size_t bytes = (size_t)N * N * sizeof(float);
    cl_int status, n = N;
    float *a = malloc(bytes), *b = malloc(bytes), *c = malloc(bytes);
    if (a == NULL || b == NULL || c == NULL)
        return 1;
    for (int i = 0; i < N * N; i++) {
        a[i] = (float)(i % 7) * 0.25f;
        b[i] = (float)(i % 5) * 0.5f;
    }
    cl_mem da = clCreateBuffer(context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes, a, &status);
    CHECK("clCreateBuffer", status);
    cl_mem db = clCreateBuffer(context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes, b, &status);
    CHECK("clCreateBuffer", status);
    cl_mem dc = clCreateBuffer(context, CL_MEM_WRITE_ONLY, bytes, NULL, &status);
    CHECK("clCreateBuffer", status);
    cl_kernel kernel = clCreateKernel(program, "matmul", &status);
    CHECK("clCreateKernel", status);
    CHECK("clSetKernelArg", clSetKernelArg(kernel, 0, sizeof da, &da));
    CHECK("clSetKernelArg", clSetKernelArg(kernel, 1, sizeof db, &db));
    CHECK("clSetKernelArg", clSetKernelArg(kernel, 2, sizeof dc, &dc));
    CHECK("clSetKernelArg", clSetKernelArg(kernel, 3, sizeof n, &n));
    size_t global[2] = {N, N};
    for (int round = 0; round < 2; round++) {
        int launches = round == 0 ? 1 : LAUNCHES;
        double start = now();
        for (int i = 0; i < launches; i++)
            CHECK("clEnqueueNDRangeKernel", clEnqueueNDRangeKernel(queue, kernel, 2, NULL, global, NULL, 0, NULL, NULL));
        CHECK("clFinish", clFinish(queue));
        double seconds = now() - start;
        if (round == 1) {
            CHECK("clEnqueueReadBuffer", clEnqueueReadBuffer(queue, dc, CL_TRUE, 0, bytes, c, 0, NULL, NULL));
            double expected = 0;
            for (int k = 0; k < N; k++)
                expected += (double)a[5 * N + k] * (double)b[k * N + 9];
            report("compute", launches, seconds, (double)c[5 * N + 9] > expected - 0.01 && (double)c[5 * N + 9] < expected + 0.01);
        }
    }
    clReleaseKernel(kernel);
    clReleaseMemObject(da);
    clReleaseMemObject(db);
    clReleaseMemObject(dc);
    free(a);
    free(b);
    free(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: %s calls [LAUNCHES]|data|compute\n", argv[0]);
        return 2;
    }
    setup();
    int result;
    if (strcmp(argv[1], "calls") == 0)
        result = calls(argc == 3 ? atoi(argv[2]) : 5000);
    else if (strcmp(argv[1], "data") == 0)
        result = data();
    else if (strcmp(argv[1], "compute") == 0)
        result = compute();
    else {
        fprintf(stderr, "unknown workload `%s`\n", argv[1]);
        return 2;
    }
    clReleaseProgram(program);
    clReleaseCommandQueue(queue);
    clReleaseContext(context);
    return result;
}
