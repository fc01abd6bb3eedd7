/* Blocking transfers larger than one message (staged when forwarded, see
 * the wire chapter's "Staged buffers"): what clpeak --transfer-bandwidth
 * measures, in seconds instead of minutes, and with the bytes checked.
 * Prints one line per kind:
 *
 *   transfer=write|read mib=M reps=N best_gb_per_s=B median_gb_per_s=D check=ok
 *
 *   cc -std=c99 -O2 -o staged staged.c -lOpenCL
 *   ./staged [MIB [REPS]]      (defaults: 512 MiB, 5 repetitions)
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

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *kind, size_t mib, int reps, double *seconds, int ok)
{
    double bytes = (double)mib * 1048576.0;
    qsort(seconds, (size_t)reps, sizeof *seconds, by_value);
    printf("transfer=%s mib=%zu reps=%d best_gb_per_s=%.2f median_gb_per_s=%.2f check=%s\n", kind, mib, reps,
           bytes / seconds[0] / 1e9, bytes / seconds[reps / 2] / 1e9, ok ? "ok" : "WRONG");
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 512;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (mib == 0 || reps <= 0) {
        fprintf(stderr, "usage: staged [MIB [REPS]]\n");
        return 2;
    }
    size_t n = mib << 20;
    cl_int status;
    cl_platform_id platform;
    cl_device_id device;
    CHECK("clGetPlatformIDs", clGetPlatformIDs(1, &platform, NULL));
    CHECK("clGetDeviceIDs", clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL));
    cl_context context = clCreateContext(NULL, 1, &device, NULL, NULL, &status);
    CHECK("clCreateContext", status);
    cl_command_queue queue = clCreateCommandQueue(context, device, 0, &status);
    CHECK("clCreateCommandQueue", status);
    cl_mem buffer = clCreateBuffer(context, CL_MEM_READ_WRITE, n, NULL, &status);
    CHECK("clCreateBuffer", status);
    unsigned char *in = malloc(n), *out = malloc(n);
    double *seconds = malloc(sizeof *seconds * (size_t)reps);
    if (!in || !out || !seconds) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) in[i] = (unsigned char)(i * 7 + i / 4099);
    memset(out, 0, n);

    /* one warm-up round each way, untimed */
    CHECK("clEnqueueWriteBuffer", clEnqueueWriteBuffer(queue, buffer, CL_TRUE, 0, n, in, 0, NULL, NULL));
    CHECK("clEnqueueReadBuffer", clEnqueueReadBuffer(queue, buffer, CL_TRUE, 0, n, out, 0, NULL, NULL));
    int ok = memcmp(in, out, n) == 0;

    for (int r = 0; r < reps; r++) {
        double t = now();
        CHECK("clEnqueueWriteBuffer", clEnqueueWriteBuffer(queue, buffer, CL_TRUE, 0, n, in, 0, NULL, NULL));
        seconds[r] = now() - t;
    }
    report("write", mib, reps, seconds, ok);
    for (int r = 0; r < reps; r++) {
        memset(out, 0, 4096);
        double t = now();
        CHECK("clEnqueueReadBuffer", clEnqueueReadBuffer(queue, buffer, CL_TRUE, 0, n, out, 0, NULL, NULL));
        seconds[r] = now() - t;
        ok = ok && memcmp(in, out, n) == 0;
    }
    report("read", mib, reps, seconds, ok);
    clReleaseMemObject(buffer);
    clReleaseCommandQueue(queue);
    clReleaseContext(context);
    free(in);
    free(out);
    free(seconds);
    return ok ? 0 : 1;
}
