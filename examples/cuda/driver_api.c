/* A CUDA driver API program: devices, a context, a module loaded from a
 * file (PTX, cubin or fat binary, see kernels.cu), device memory, kernels
 * with parameters of every size, device globals, streams, events, queued
 * launches and an error that surfaces late. It prints only what does not
 * depend on timing or addresses, so its output is the same natively and
 * through CAVA.
 *
 *   cc -I$CUDA_INCLUDE driver_api.c -o driver_api -lcuda -lpthread -lm
 *   ./driver_api kernels.ptx            (or kernels.cubin, kernels.fatbin)
 *   ./driver_api kernels.ptx --bench    (also times launches and copies)
 */
#include <cuda.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(call)                                                              \
    do {                                                                         \
        CUresult check_status = (call);                                          \
        if (check_status != CUDA_SUCCESS) {                                      \
            printf("%s:%d: %s failed: %d\n", __FILE__, __LINE__, #call, check_status); \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* The whole file, NUL-terminated (PTX is text). */
static void *read_module(const char *path)
{
    FILE *f = fopen(path, "rb");
    long size;
    char *bytes;
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    bytes = malloc((size_t)size + 1);
    if (!bytes || fread(bytes, 1, (size_t)size, f) != (size_t)size) {
        perror(path);
        exit(1);
    }
    bytes[size] = 0;
    fclose(f);
    return bytes;
}

/* Five copies of `size` bytes each way, each timed. */
static void time_copies(const char *kind, CUdeviceptr device, void *host, size_t size)
{
    for (int round = 0; round < 5; round++) {
        double t0 = now();
        CHECK(cuMemcpyHtoD(device, host, size));
        double t1 = now();
        printf("bench: %zu MiB %shost to device %.2f GB/s\n", size >> 20, kind, size / (t1 - t0) / 1e9);
        t0 = now();
        CHECK(cuMemcpyDtoH(host, device, size));
        t1 = now();
        printf("bench: %zu MiB %sdevice to host %.2f GB/s\n", size >> 20, kind, size / (t1 - t0) / 1e9);
    }
}

static CUresult first_error(const CUresult *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] != CUDA_SUCCESS)
            return s[i];
    return CUDA_SUCCESS;
}

struct affine {
    float scale;
    double shift;
};

/* The current context belongs to a thread: a new thread has none until it
   sets one (through CAVA, each guest thread has its own server thread). */
struct thread_work {
    CUcontext ctx;
    CUfunction add_global;
    CUresult without_context, with_context;
    int v0;
};

static void *thread_main(void *arg)
{
    struct thread_work *w = arg;
    CUdeviceptr d = 0;
    CUcontext current = NULL;
    unsigned int n = 64;
    int host[64];
    void *params[] = {&d, &n};
    w->without_context = cuMemAlloc(&d, sizeof host);
    cuCtxGetCurrent(&current);
    if (current != NULL)
        w->without_context = -1;
    w->with_context = cuCtxSetCurrent(w->ctx);
    if (w->with_context == CUDA_SUCCESS)
        w->with_context = cuMemAlloc(&d, sizeof host);
    if (w->with_context == CUDA_SUCCESS)
        w->with_context = cuMemsetD32(d, 40, n);
    if (w->with_context == CUDA_SUCCESS)
        w->with_context = cuLaunchKernel(w->add_global, 1, 1, 1, n, 1, 1, 0, NULL, params, NULL);
    if (w->with_context == CUDA_SUCCESS)
        w->with_context = cuMemcpyDtoH(host, d, sizeof host);
    if (w->with_context == CUDA_SUCCESS)
        w->with_context = cuMemFree(d);
    w->v0 = host[0];
    return NULL;
}

static void devices(CUdevice *device)
{
    int version = 0, count = 0, major = 0, minor = 0, sms = 0;
    char name[256], bus[32];
    size_t total = 0;
    CUuuid uuid;
    CHECK(cuInit(0));
    CHECK(cuDriverGetVersion(&version));
    printf("driver: version at least 12.0: %d\n", version >= 12000);
    CHECK(cuDeviceGetCount(&count));
    printf("devices: at least one: %d\n", count >= 1);
    CHECK(cuDeviceGet(device, 0));
    CHECK(cuDeviceGetName(name, sizeof name, *device));
    printf("device 0: %s\n", name);
    CHECK(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, *device));
    CHECK(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, *device));
    CHECK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, *device));
    printf("device 0: compute capability %d.%d, %d multiprocessors\n", major, minor, sms);
    CHECK(cuDeviceTotalMem(&total, *device));
    printf("device 0: %zu MiB\n", total >> 20);
    CHECK(cuDeviceGetUuid(&uuid, *device));
    printf("device 0: uuid ");
    for (int i = 0; i < 16; i++)
        printf("%02x", (unsigned char)uuid.bytes[i]);
    CHECK(cuDeviceGetPCIBusId(bus, sizeof bus, *device));
    printf(", bus %s\n", bus);
    printf("device 1000: %d\n", cuDeviceGet(device + 1, 1000));
}

static void errors(void)
{
    const char *name = NULL, *text = NULL;
    CHECK(cuGetErrorName(CUDA_ERROR_INVALID_VALUE, &name));
    CHECK(cuGetErrorString(CUDA_ERROR_INVALID_VALUE, &text));
    printf("errors: %s: %s\n", name, text);
    CHECK(cuGetErrorName(CUDA_ERROR_NOT_FOUND, &name));
    printf("errors: %s\n", name);
    printf("errors: name of 123456: %d\n", cuGetErrorName((CUresult)123456, &name));
}

int main(int argc, char **argv)
{
    enum { N = 1 << 20, SMALL = 256, LAUNCHES = 2000 };
    CUdevice device[2];
    CUcontext ctx, current;
    CUmodule module;
    CUfunction vadd, mixed, add_global, missing;
    CUdeviceptr da, db, dc, dv, global;
    CUstream stream;
    CUevent start, stop;
    unsigned int api = 0, n = N, small = SMALL;
    size_t global_size = 0;
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), *c = malloc(N * sizeof *c);
    int *v = malloc(N * sizeof *v);
    int bench = argc > 2 && strcmp(argv[2], "--bench") == 0;
    CUresult seq[4];

    if (argc < 2) {
        fprintf(stderr, "usage: %s MODULE [--bench]\n", argv[0]);
        return 2;
    }
    devices(device);
    errors();

    CHECK(cuCtxCreate(&ctx, 0, device[0]));
    CHECK(cuCtxGetCurrent(&current));
    CHECK(cuCtxGetApiVersion(ctx, &api));
    printf("context: current is the new one: %d, api version at least 3020: %d\n", current == ctx, api >= 3020);

    /* the module, from the file the caller names */
    {
        void *image = read_module(argv[1]);
        int regs = 0;
        size_t offset = 0, size = 0;
        CHECK(cuModuleLoadData(&module, image));
        free(image);
        CHECK(cuModuleGetFunction(&vadd, module, "vadd"));
        CHECK(cuModuleGetFunction(&mixed, module, "mixed"));
        CHECK(cuModuleGetFunction(&add_global, module, "add_global"));
        printf("module: get_function(no_such_kernel) = %d\n", cuModuleGetFunction(&missing, module, "no_such_kernel"));
        CHECK(cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, vadd));
        printf("module: vadd uses registers: %d\n", regs > 0);
        printf("module: mixed's parameters (offset:size)");
        for (size_t i = 0; cuFuncGetParamInfo(mixed, i, &offset, &size) == CUDA_SUCCESS; i++)
            printf(" %zu:%zu", offset, size);
        printf("\n");
    }

    /* vector add, synchronous copies */
    for (int i = 0; i < N; i++) {
        a[i] = (float)i;
        b[i] = (float)(N - i) * 0.5f;
    }
    CHECK(cuMemAlloc(&da, N * sizeof(float)));
    CHECK(cuMemAlloc(&db, N * sizeof(float)));
    CHECK(cuMemAlloc(&dc, N * sizeof(float)));
    CHECK(cuMemcpyHtoD(da, a, N * sizeof(float)));
    CHECK(cuMemcpyHtoD(db, b, N * sizeof(float)));
    {
        void *params[] = {&da, &db, &dc, &n};
        CHECK(cuLaunchKernel(vadd, N / 256, 1, 1, 256, 1, 1, 0, NULL, params, NULL));
    }
    CHECK(cuMemcpyDtoH(c, dc, N * sizeof(float)));
    {
        int wrong = 0;
        for (int i = 0; i < N; i++)
            wrong += c[i] != a[i] + b[i];
        printf("vadd: %d of %d wrong, c[12345] = %.1f\n", wrong, N, c[12345]);
    }

    /* parameters of every size, on a stream with asynchronous copies */
    CHECK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
    CHECK(cuEventCreate(&start, CU_EVENT_DEFAULT));
    CHECK(cuEventCreate(&stop, CU_EVENT_DEFAULT));
    {
        char use_shift = 1;
        short bias = -3;
        float alpha = 2.0f;
        double beta = 0.25;
        struct affine t = {0.5f, 100.0};
        void *params[] = {&use_shift, &bias, &alpha, &da, &beta, &t, &dc, &n};
        double worst = 0;
        CHECK(cuEventRecord(start, stream));
        CHECK(cuMemcpyHtoDAsync(da, a, N * sizeof(float), stream));
        CHECK(cuLaunchKernel(mixed, N / 128, 1, 1, 128, 1, 1, 0, stream, params, NULL));
        CHECK(cuMemcpyDtoHAsync(c, dc, N * sizeof(float), stream));
        CHECK(cuEventRecord(stop, stream));
        CHECK(cuStreamSynchronize(stream));
        for (int i = 0; i < N; i++) {
            double expect = (2.0 * a[i] + 0.25 - 3.0) * 0.5 + 100.0;
            double err = fabs(c[i] - expect) / (fabs(expect) + 1.0);
            if (err > worst)
                worst = err;
        }
        printf("mixed: largest relative error below 1e-6: %d, c[7] = %.2f\n", worst < 1e-6, c[7]);
    }
    {
        float ms = -1;
        CHECK(cuEventSynchronize(stop));
        CHECK(cuEventElapsedTime(&ms, start, stop));
        printf("events: elapsed time measured: %d, query(stop) = %d\n", ms >= 0, cuEventQuery(stop));
    }

    /* a device global, memset, device-to-device copy, and many queued
       launches in order on one stream */
    {
        int offset = 1, wrong = 0;
        void *params[] = {&dv, &small};
        CHECK(cuModuleGetGlobal(&global, &global_size, module, "offset_global"));
        printf("global: offset_global is %zu bytes\n", global_size);
        CHECK(cuMemcpyHtoD(global, &offset, sizeof offset));
        CHECK(cuMemAlloc(&dv, SMALL * sizeof(int)));
        CHECK(cuMemsetD32(dv, 5, SMALL));
        for (int i = 0; i < LAUNCHES; i++)
            CHECK(cuLaunchKernel(add_global, 1, 1, 1, SMALL, 1, 1, 0, stream, params, NULL));
        CHECK(cuStreamSynchronize(stream));
        CHECK(cuMemcpyDtoD(dc, dv, SMALL * sizeof(int)));
        CHECK(cuMemcpyDtoH(v, dc, SMALL * sizeof(int)));
        for (int i = 0; i < SMALL; i++)
            wrong += v[i] != 5 + LAUNCHES;
        printf("queued: %d launches, %d of %d wrong, v[0] = %d\n", LAUNCHES, wrong, SMALL, v[0]);
    }

    /* the default streams are constants, not objects */
    {
        void *params[] = {&dv, &small};
        CHECK(cuMemsetD32Async(dv, 0, SMALL, CU_STREAM_LEGACY));
        CHECK(cuLaunchKernel(add_global, 1, 1, 1, SMALL, 1, 1, 0, CU_STREAM_LEGACY, params, NULL));
        CHECK(cuLaunchKernel(add_global, 1, 1, 1, SMALL, 1, 1, 0, CU_STREAM_PER_THREAD, params, NULL));
        CHECK(cuStreamSynchronize(CU_STREAM_PER_THREAD));
        CHECK(cuStreamSynchronize(CU_STREAM_LEGACY));
        CHECK(cuMemcpyDtoH(v, dv, SMALL * sizeof(int)));
        printf("default streams: v[0] = %d, v[255] = %d\n", v[0], v[SMALL - 1]);
    }

    /* a launch that the driver refuses: its error comes back from the
       launch natively, and from the next call through CAVA */
    {
        void *params[] = {&dv, &small};
        seq[0] = cuLaunchKernel(add_global, 1, 1, 1, 4096, 1, 1, 0, stream, params, NULL);
        seq[1] = cuStreamSynchronize(stream);
        printf("refused launch: first error %d, then sync %d\n", first_error(seq, 2), cuStreamSynchronize(stream));
    }

    /* another thread */
    {
        pthread_t thread;
        struct thread_work w = {ctx, add_global, 0, 0, 0};
        CUcontext mine = NULL;
        pthread_create(&thread, NULL, thread_main, &w);
        pthread_join(thread, NULL);
        CHECK(cuCtxGetCurrent(&mine));
        printf("thread: without a context %d, with one %d, v[0] = %d, main thread's context unchanged: %d\n",
               w.without_context, w.with_context, w.v0, mine == ctx);
    }

    /* page-locked host memory */
    {
        float *pinned = NULL;
        int wrong = 0;
        CHECK(cuMemAllocHost((void **)&pinned, N * sizeof(float)));
        CHECK(cuMemcpyDtoH(pinned, dc, N * sizeof(float)));
        for (int i = 0; i < SMALL; i++)
            wrong += ((int *)pinned)[i] != 5 + LAUNCHES; /* dc holds the queued launches' ints */
        for (int i = 0; i < N; i++)
            pinned[i] = (float)(i % 1000);
        CHECK(cuMemcpyHtoD(da, pinned, N * sizeof(float)));
        CHECK(cuMemcpyDtoH(c, da, N * sizeof(float)));
        for (int i = 0; i < N; i++)
            wrong += c[i] != (float)(i % 1000);
        printf("pinned: %d wrong\n", wrong);
        CHECK(cuMemFreeHost(pinned));
    }

    if (bench) {
        enum { TIMED = 20000, ROUNDS = 2000 };
        size_t big = 64u << 20;
        void *host = NULL;
        void *params[] = {&dv, &small};
        double t0, t1;
        CUdeviceptr dbig;
        /* pageable memory first */
        host = malloc(big);
        memset(host, 1, big);
        CHECK(cuMemAlloc(&dbig, big));
        t0 = now();
        for (int i = 0; i < TIMED; i++)
            CHECK(cuLaunchKernel(add_global, 1, 1, 1, SMALL, 1, 1, 0, stream, params, NULL));
        CHECK(cuStreamSynchronize(stream));
        t1 = now();
        printf("bench: queued launch %.2f us\n", (t1 - t0) / TIMED * 1e6);
        t0 = now();
        for (int i = 0; i < ROUNDS; i++)
            CHECK(cuStreamQuery(stream));
        t1 = now();
        printf("bench: synchronous call %.2f us\n", (t1 - t0) / ROUNDS * 1e6);
        time_copies("", dbig, host, big);
        free(host);
        CHECK(cuMemAllocHost(&host, big));
        memset(host, 2, big);
        time_copies("page-locked ", dbig, host, big);
        CHECK(cuMemFree(dbig));
        CHECK(cuMemFreeHost(host));
    }

    seq[0] = cuEventDestroy(start);
    seq[1] = cuEventDestroy(stop);
    seq[2] = cuStreamDestroy(stream);
    seq[3] = cuMemFree(da);
    printf("cleanup: events, stream, memory: %d\n", first_error(seq, 4));
    CHECK(cuMemFree(db));
    CHECK(cuMemFree(dc));
    CHECK(cuMemFree(dv));
    CHECK(cuModuleUnload(module));
    CHECK(cuCtxDestroy(ctx));
    printf("cleanup: done\n");
    free(a);
    free(b);
    free(c);
    free(v);
    return 0;
}
