/* Mapped images on the first OpenCL device: the host fills a 2-D image by
 * mapping it for writing, a kernel transforms it into a second image, and
 * the host checks the result with clEnqueueReadImage and by mapping it for
 * reading. It also maps a partial region at an origin, a 3-D image, 1-D and
 * 2-D image arrays (with their slice pitches), regions with
 * CL_MAP_WRITE_INVALIDATE_REGION, a host-write-only image for writing, a
 * non-blocking map with an event and an unmap with an event, and checks
 * the errors of bad arguments.
 *
 * The row and slice pitches a map returns are the implementation's choice
 * (they differ natively and forwarded), so the program uses them but
 * prints only the data.
 *
 *   cc -std=c99 -O2 -o mapped_images mapped_images.c -lOpenCL
 *   ./mapped_images [WIDTH]
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
    "__kernel void shift(read_only image2d_t src, write_only image2d_t dst, uint add) {\n"
    "    int2 p = (int2)(get_global_id(0), get_global_id(1));\n"
    "    uint4 v = read_imageui(src, p);\n"
    "    write_imageui(dst, p, v + (uint4)(add, 2 * add, 3 * add, 0));\n"
    "}\n";

/* The pixel the host writes at (x, y, z) of a test image, channel c. */
static unsigned pattern(size_t x, size_t y, size_t z, int c) {
    return (unsigned)((x * 7 + y * 13 + z * 29 + (size_t)c * 3) & 0xff);
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

/* Sum of the RGBA8 pixels of a tightly packed w x h host copy. */
static unsigned long long sum_rgba8(const cl_uchar *p, size_t w, size_t h) {
    unsigned long long s = 0;
    for (size_t i = 0; i < w * h * 4; i++) s += p[i] * (i % 5 + 1);
    return s;
}

int main(int argc, char **argv) {
    size_t w = argc > 1 ? (size_t)atol(argv[1]) : 37;
    if (w < 16) w = 16;
    size_t h = w / 2 + 1;
    size_t wrong = 0;

    cl_int status;
    cl_platform_id platform;
    status = clGetPlatformIDs(1, &platform, NULL);
    CHECK("clGetPlatformIDs", status);
    cl_device_id device;
    status = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL);
    CHECK("clGetDeviceIDs", status);
    cl_bool images = CL_FALSE;
    status = clGetDeviceInfo(device, CL_DEVICE_IMAGE_SUPPORT, sizeof images, &images, NULL);
    CHECK("clGetDeviceInfo", status);
    if (!images) {
        printf("the device has no image support\n");
        return 1;
    }
    cl_context context = clCreateContext(NULL, 1, &device, NULL, NULL, &status);
    CHECK("clCreateContext", status);
    cl_command_queue queue = clCreateCommandQueue(context, device, 0, &status);
    CHECK("clCreateCommandQueue", status);
    cl_program program = clCreateProgramWithSource(context, 1, &source, NULL, &status);
    CHECK("clCreateProgramWithSource", status);
    status = clBuildProgram(program, 0, NULL, NULL, NULL, NULL);
    CHECK("clBuildProgram", status);
    cl_kernel kernel = clCreateKernel(program, "shift", &status);
    CHECK("clCreateKernel", status);

    cl_image_format rgba8 = {CL_RGBA, CL_UNSIGNED_INT8};
    cl_image_desc desc2d;
    memset(&desc2d, 0, sizeof desc2d);
    desc2d.image_type = CL_MEM_OBJECT_IMAGE2D;
    desc2d.image_width = w;
    desc2d.image_height = h;
    size_t origin0[3] = {0, 0, 0}, whole[3] = {w, h, 1};
    size_t row_pitch = 0, slice_pitch = 0;
    cl_uchar *host = malloc(w * h * 4);
    if (!host) return 1;

    /* 1. fill a 2-D image through a mapping for writing, shift it with a
     *    kernel into a second image, check with clEnqueueReadImage and
     *    with a mapping for reading */
    cl_mem src = clCreateImage(context, CL_MEM_READ_WRITE, &rgba8, &desc2d, NULL, &status);
    CHECK("clCreateImage(src)", status);
    cl_mem dst = clCreateImage(context, CL_MEM_READ_WRITE, &rgba8, &desc2d, NULL, &status);
    CHECK("clCreateImage(dst)", status);
    cl_uchar *m = clEnqueueMapImage(queue, src, CL_TRUE, CL_MAP_WRITE, origin0, whole, &row_pitch, NULL, 0, NULL,
                                    NULL, &status);
    CHECK("clEnqueueMapImage(write)", status);
    printf("2-D map for writing: row pitch holds a row: %s\n", row_pitch >= w * 4 ? "yes" : "no");
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++)
            for (int c = 0; c < 4; c++) m[y * row_pitch + x * 4 + c] = (cl_uchar)pattern(x, y, 0, c);
    status = clEnqueueUnmapMemObject(queue, src, m, 0, NULL, NULL);
    CHECK("clEnqueueUnmapMemObject(write)", status);
    cl_uint add = 5;
    status = clSetKernelArg(kernel, 0, sizeof src, &src);
    CHECK("clSetKernelArg(0)", status);
    status = clSetKernelArg(kernel, 1, sizeof dst, &dst);
    CHECK("clSetKernelArg(1)", status);
    status = clSetKernelArg(kernel, 2, sizeof add, &add);
    CHECK("clSetKernelArg(2)", status);
    size_t global[2] = {w, h};
    status = clEnqueueNDRangeKernel(queue, kernel, 2, NULL, global, NULL, 0, NULL, NULL);
    CHECK("clEnqueueNDRangeKernel", status);
    status = clEnqueueReadImage(queue, dst, CL_TRUE, origin0, whole, 0, 0, host, 0, NULL, NULL);
    CHECK("clEnqueueReadImage(dst)", status);
    size_t bad = 0;
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++)
            for (int c = 0; c < 4; c++) {
                unsigned expect = c == 3 ? pattern(x, y, 0, c) : pattern(x, y, 0, c) + add * (unsigned)(c + 1);
                /* an 8-bit channel saturates */
                bad += host[(y * w + x) * 4 + c] != (expect > 255 ? 255 : expect);
            }
    wrong += bad;
    printf("map write, kernel, read image: %zux%zu wrong=%zu sum=%llu\n", w, h, bad, sum_rgba8(host, w, h));
    const cl_uchar *r = clEnqueueMapImage(queue, dst, CL_TRUE, CL_MAP_READ, origin0, whole, &row_pitch, &slice_pitch,
                                          0, NULL, NULL, &status);
    CHECK("clEnqueueMapImage(read)", status);
    bad = 0;
    for (size_t y = 0; y < h; y++) bad += memcmp(r + y * row_pitch, host + y * w * 4, w * 4) != 0;
    wrong += bad;
    printf("map read after the kernel: rows differing from the read=%zu, 2-D slice pitch is 0: %s\n", bad,
           slice_pitch == 0 ? "yes" : "no");
    status = clEnqueueUnmapMemObject(queue, dst, (void *)r, 0, NULL, NULL);
    CHECK("clEnqueueUnmapMemObject(read)", status);

    /* 2. a partial region at an origin, read and written: the host negates
     *    the pixels' alpha there */
    size_t at[3] = {5, 3, 0}, part[3] = {w / 2, h / 2, 1};
    cl_uchar *p = clEnqueueMapImage(queue, src, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, at, part, &row_pitch, NULL, 0,
                                    NULL, NULL, &status);
    CHECK("clEnqueueMapImage(partial)", status);
    bad = 0;
    for (size_t y = 0; y < part[1]; y++)
        for (size_t x = 0; x < part[0]; x++)
            for (int c = 0; c < 4; c++)
                bad += p[y * row_pitch + x * 4 + c] != (cl_uchar)pattern(at[0] + x, at[1] + y, 0, c);
    wrong += bad;
    printf("partial map at (%zu,%zu) of %zux%zu: wrong=%zu first=%u,%u,%u,%u\n", at[0], at[1], part[0], part[1], bad,
           p[0], p[1], p[2], p[3]);
    for (size_t y = 0; y < part[1]; y++)
        for (size_t x = 0; x < part[0]; x++) p[y * row_pitch + x * 4 + 3] = (cl_uchar)(255 - p[y * row_pitch + x * 4 + 3]);
    status = clEnqueueUnmapMemObject(queue, src, p, 0, NULL, NULL);
    CHECK("clEnqueueUnmapMemObject(partial)", status);
    status = clEnqueueReadImage(queue, src, CL_TRUE, origin0, whole, 0, 0, host, 0, NULL, NULL);
    CHECK("clEnqueueReadImage(src)", status);
    bad = 0;
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++)
            for (int c = 0; c < 4; c++) {
                int inside = x >= at[0] && x < at[0] + part[0] && y >= at[1] && y < at[1] + part[1];
                unsigned expect = pattern(x, y, 0, c);
                if (inside && c == 3) expect = 255 - expect;
                bad += host[(y * w + x) * 4 + c] != (cl_uchar)expect;
            }
    wrong += bad;
    printf("after the partial map: wrong=%zu sum=%llu\n", bad, sum_rgba8(host, w, h));

    /* 3. a 3-D image of 16-bit RGBA: filled through a mapping with
     *    CL_MAP_WRITE_INVALIDATE_REGION using the slice pitch, a box of it
     *    mapped for reading, another overwritten with an invalidating map */
    size_t d = 5, w3 = w / 4 + 3, h3 = 7;
    cl_image_format rgba16 = {CL_RGBA, CL_UNSIGNED_INT16};
    cl_image_desc desc3d;
    memset(&desc3d, 0, sizeof desc3d);
    desc3d.image_type = CL_MEM_OBJECT_IMAGE3D;
    desc3d.image_width = w3;
    desc3d.image_height = h3;
    desc3d.image_depth = d;
    cl_mem vol = clCreateImage(context, CL_MEM_READ_WRITE, &rgba16, &desc3d, NULL, &status);
    CHECK("clCreateImage(3-D)", status);
    size_t all3[3] = {w3, h3, d};
    cl_ushort *v = clEnqueueMapImage(queue, vol, CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, origin0, all3, &row_pitch,
                                     &slice_pitch, 0, NULL, NULL, &status);
    CHECK("clEnqueueMapImage(3-D)", status);
    printf("3-D map: slice pitch holds a slice: %s\n", slice_pitch >= row_pitch * h3 ? "yes" : "no");
    for (size_t z = 0; z < d; z++)
        for (size_t y = 0; y < h3; y++)
            for (size_t x = 0; x < w3; x++)
                for (int c = 0; c < 4; c++)
                    v[(z * slice_pitch + y * row_pitch) / 2 + x * 4 + c] = (cl_ushort)(pattern(x, y, z, c) * 257);
    status = clEnqueueUnmapMemObject(queue, vol, v, 0, NULL, NULL);
    CHECK("clEnqueueUnmapMemObject(3-D)", status);
    size_t box_at[3] = {2, 1, 1}, box[3] = {w3 - 3, h3 - 2, d - 2};
    const cl_ushort *b = clEnqueueMapImage(queue, vol, CL_TRUE, CL_MAP_READ, box_at, box, &row_pitch, &slice_pitch, 0,
                                           NULL, NULL, &status);
    CHECK("clEnqueueMapImage(3-D box)", status);
    bad = 0;
    unsigned long long sum = 0;
    for (size_t z = 0; z < box[2]; z++)
        for (size_t y = 0; y < box[1]; y++)
            for (size_t x = 0; x < box[0]; x++)
                for (int c = 0; c < 4; c++) {
                    cl_ushort got = b[(z * slice_pitch + y * row_pitch) / 2 + x * 4 + c];
                    bad += got != (cl_ushort)(pattern(box_at[0] + x, box_at[1] + y, box_at[2] + z, c) * 257);
                    sum += got;
                }
    wrong += bad;
    printf("3-D box map at (2,1,1) of %zux%zux%zu: wrong=%zu sum=%llu\n", box[0], box[1], box[2], bad, sum);
    status = clEnqueueUnmapMemObject(queue, vol, (void *)b, 0, NULL, NULL);
    CHECK("clEnqueueUnmapMemObject(3-D box)", status);
    size_t inv_at[3] = {1, 2, 3}, inv[3] = {3, 3, 2};
    v = clEnqueueMapImage(queue, vol, CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, inv_at, inv, &row_pitch, &slice_pitch,
                          0, NULL, NULL, &status);
    CHECK("clEnqueueMapImage(3-D invalidate)", status);
    for (size_t z = 0; z < inv[2]; z++)
        for (size_t y = 0; y < inv[1]; y++)
            for (size_t x = 0; x < inv[0]; x++)
                for (int c = 0; c < 4; c++) v[(z * slice_pitch + y * row_pitch) / 2 + x * 4 + c] = 1000;
    status = clEnqueueUnmapMemObject(queue, vol, v, 0, NULL, NULL);
    CHECK("clEnqueueUnmapMemObject(3-D invalidate)", status);
    cl_ushort *vh = malloc(w3 * h3 * d * 8);
    if (!vh) return 1;
    status = clEnqueueReadImage(queue, vol, CL_TRUE, origin0, all3, 0, 0, vh, 0, NULL, NULL);
    CHECK("clEnqueueReadImage(3-D)", status);
    bad = 0;
    sum = 0;
    for (size_t z = 0; z < d; z++)
        for (size_t y = 0; y < h3; y++)
            for (size_t x = 0; x < w3; x++)
                for (int c = 0; c < 4; c++) {
                    int inside = x >= inv_at[0] && x < inv_at[0] + inv[0] && y >= inv_at[1] && y < inv_at[1] + inv[1] &&
                                 z >= inv_at[2] && z < inv_at[2] + inv[2];
                    cl_ushort expect = inside ? 1000 : (cl_ushort)(pattern(x, y, z, c) * 257);
                    cl_ushort got = vh[((z * h3 + y) * w3 + x) * 4 + c];
                    bad += got != expect;
                    sum += got;
                }
    wrong += bad;
    printf("3-D after the invalidating map at (1,2,3): wrong=%zu sum=%llu\n", bad, sum);

    /* 4. image arrays: a 2-D array of single-channel floats and a 1-D array,
     *    filled through mappings (their slice pitch is the distance between
     *    the images), checked with clEnqueueReadImage */
    cl_image_format rfloat = {CL_R, CL_FLOAT};
    cl_image_desc desca;
    memset(&desca, 0, sizeof desca);
    desca.image_type = CL_MEM_OBJECT_IMAGE2D_ARRAY;
    desca.image_width = 6;
    desca.image_height = 4;
    desca.image_array_size = 3;
    cl_mem arr = clCreateImage(context, CL_MEM_READ_WRITE, &rfloat, &desca, NULL, &status);
    CHECK("clCreateImage(2-D array)", status);
    size_t arr_at[3] = {1, 0, 1}, arr_region[3] = {5, 4, 2};
    cl_float *af = clEnqueueMapImage(queue, arr, CL_TRUE, CL_MAP_WRITE, arr_at, arr_region, &row_pitch, &slice_pitch, 0,
                                     NULL, NULL, &status);
    CHECK("clEnqueueMapImage(2-D array)", status);
    for (size_t z = 0; z < arr_region[2]; z++)
        for (size_t y = 0; y < arr_region[1]; y++)
            for (size_t x = 0; x < arr_region[0]; x++)
                af[(z * slice_pitch + y * row_pitch) / 4 + x] = (cl_float)(100 * (z + 1) + 10 * y + x) + 0.5f;
    status = clEnqueueUnmapMemObject(queue, arr, af, 0, NULL, NULL);
    CHECK("clEnqueueUnmapMemObject(2-D array)", status);
    cl_float ah[5 * 4 * 2];
    status = clEnqueueReadImage(queue, arr, CL_TRUE, arr_at, arr_region, 0, 0, ah, 0, NULL, NULL);
    CHECK("clEnqueueReadImage(2-D array)", status);
    bad = 0;
    double fsum = 0;
    for (size_t i = 0; i < 5 * 4 * 2; i++) {
        size_t x = i % 5, y = i / 5 % 4, z = i / 20;
        bad += ah[i] != (cl_float)(100 * (z + 1) + 10 * y + x) + 0.5f;
        fsum += ah[i];
    }
    wrong += bad;
    printf("2-D image array, images 1-2 at x=1: wrong=%zu sum=%.1f\n", bad, fsum);

    cl_image_desc desc1a;
    memset(&desc1a, 0, sizeof desc1a);
    desc1a.image_type = CL_MEM_OBJECT_IMAGE1D_ARRAY;
    desc1a.image_width = 10;
    desc1a.image_array_size = 4;
    cl_mem arr1 = clCreateImage(context, CL_MEM_READ_WRITE, &rgba8, &desc1a, NULL, &status);
    CHECK("clCreateImage(1-D array)", status);
    size_t a1[3] = {10, 4, 1};
    cl_uchar *am = clEnqueueMapImage(queue, arr1, CL_TRUE, CL_MAP_WRITE, origin0, a1, &row_pitch, &slice_pitch, 0,
                                     NULL, NULL, &status);
    CHECK("clEnqueueMapImage(1-D array)", status);
    for (size_t i = 0; i < 4; i++)
        for (size_t x = 0; x < 10; x++)
            for (int c = 0; c < 4; c++) am[i * slice_pitch + x * 4 + c] = (cl_uchar)pattern(x, i, 1, c);
    status = clEnqueueUnmapMemObject(queue, arr1, am, 0, NULL, NULL);
    CHECK("clEnqueueUnmapMemObject(1-D array)", status);
    cl_uchar a1h[10 * 4 * 4];
    status = clEnqueueReadImage(queue, arr1, CL_TRUE, origin0, a1, 0, 0, a1h, 0, NULL, NULL);
    CHECK("clEnqueueReadImage(1-D array)", status);
    bad = 0;
    for (size_t i = 0; i < 4; i++)
        for (size_t x = 0; x < 10; x++)
            for (int c = 0; c < 4; c++) bad += a1h[(i * 10 + x) * 4 + c] != (cl_uchar)pattern(x, i, 1, c);
    wrong += bad;
    printf("1-D image array: wrong=%zu sum=%llu\n", bad, sum_rgba8(a1h, 10, 4));

    /* 5. a host-write-only image mapped for writing only: the mapping holds
     *    the image's pixels, so those the host leaves alone are unchanged */
    cl_mem wo = clCreateImage(context, CL_MEM_READ_WRITE | CL_MEM_HOST_WRITE_ONLY, &rgba8, &desc2d, NULL, &status);
    CHECK("clCreateImage(host write only)", status);
    status = clEnqueueCopyImage(queue, src, wo, origin0, origin0, whole, 0, NULL, NULL);
    CHECK("clEnqueueCopyImage", status);
    size_t wo_at[3] = {1, 1, 0}, wo_region[3] = {w - 2, h - 2, 1};
    cl_uchar *wm = clEnqueueMapImage(queue, wo, CL_TRUE, CL_MAP_WRITE, wo_at, wo_region, &row_pitch, NULL, 0, NULL,
                                     NULL, &status);
    CHECK("clEnqueueMapImage(host write only)", status);
    for (size_t y = 0; y < wo_region[1]; y += 2) memset(wm + y * row_pitch, 9, wo_region[0] * 4);
    status = clEnqueueUnmapMemObject(queue, wo, wm, 0, NULL, NULL);
    CHECK("clEnqueueUnmapMemObject(host write only)", status);
    status = clSetKernelArg(kernel, 0, sizeof wo, &wo);
    CHECK("clSetKernelArg(wo)", status);
    add = 0;
    status = clSetKernelArg(kernel, 2, sizeof add, &add);
    CHECK("clSetKernelArg(add)", status);
    status = clEnqueueNDRangeKernel(queue, kernel, 2, NULL, global, NULL, 0, NULL, NULL);
    CHECK("clEnqueueNDRangeKernel(wo)", status);
    cl_uchar *before = malloc(w * h * 4);
    if (!before) return 1;
    memcpy(before, host, w * h * 4);
    status = clEnqueueReadImage(queue, dst, CL_TRUE, origin0, whole, 0, 0, host, 0, NULL, NULL);
    CHECK("clEnqueueReadImage(copy of wo)", status);
    bad = 0;
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++) {
            int painted = x >= 1 && x < w - 1 && y >= 1 && y < h - 1 && (y - 1) % 2 == 0;
            for (int c = 0; c < 4; c++)
                bad += host[(y * w + x) * 4 + c] != (painted ? 9 : before[(y * w + x) * 4 + c]);
        }
    wrong += bad;
    printf("host-write-only map for writing: wrong=%zu sum=%llu\n", bad, sum_rgba8(host, w, h));

    /* 6. a non-blocking map with an event, then an unmap with a wait list
     *    and an event */
    cl_event mapped, unmapped;
    size_t one[3] = {1, 1, 1}, px[3] = {3, 2, 0};
    cl_uchar *nb = clEnqueueMapImage(queue, src, CL_FALSE, CL_MAP_READ | CL_MAP_WRITE, px, one, &row_pitch, NULL, 0, NULL,
                                     &mapped, &status);
    CHECK("clEnqueueMapImage(non-blocking)", status);
    status = clWaitForEvents(1, &mapped);
    CHECK("clWaitForEvents(map)", status);
    cl_int exec;
    status = clGetEventInfo(mapped, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof exec, &exec, NULL);
    CHECK("clGetEventInfo(map)", status);
    printf("non-blocking map: event %s, pixel (3,2)=%u,%u,%u,%u\n", status_name(exec), nb[0], nb[1], nb[2], nb[3]);
    nb[0] = 200;
    status = clEnqueueUnmapMemObject(queue, src, nb, 1, &mapped, &unmapped);
    CHECK("clEnqueueUnmapMemObject(event)", status);
    status = clWaitForEvents(1, &unmapped);
    CHECK("clWaitForEvents(unmap)", status);
    status = clGetEventInfo(unmapped, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof exec, &exec, NULL);
    CHECK("clGetEventInfo(unmap)", status);
    cl_uchar check[4];
    status = clEnqueueReadImage(queue, src, CL_TRUE, px, one, 0, 0, check, 0, NULL, NULL);
    CHECK("clEnqueueReadImage(check)", status);
    printf("unmap with event: event %s, pixel (3,2)=%u,%u,%u,%u\n", status_name(exec), check[0], check[1], check[2],
           check[3]);
    clReleaseEvent(mapped);
    clReleaseEvent(unmapped);

    /* 7. errors */
    void *e = clEnqueueMapImage(queue, src, CL_TRUE, CL_MAP_READ, origin0, whole, NULL, NULL, 0, NULL, NULL, &status);
    printf("map without a row pitch: %d %s\n", (int)status, e ? "pointer" : "NULL");
    e = clEnqueueMapImage(queue, vol, CL_TRUE, CL_MAP_READ, origin0, all3, &row_pitch, NULL, 0, NULL, NULL, &status);
    printf("3-D map without a slice pitch: %d %s\n", (int)status, e ? "pointer" : "NULL");
    e = clEnqueueMapImage(queue, arr, CL_TRUE, CL_MAP_READ, origin0, arr_region, &row_pitch, NULL, 0, NULL, NULL,
                          &status);
    printf("2-D array map without a slice pitch: %d %s\n", (int)status, e ? "pointer" : "NULL");
    size_t past[3] = {w, h, 1};
    e = clEnqueueMapImage(queue, src, CL_TRUE, CL_MAP_READ, at, past, &row_pitch, NULL, 0, NULL, NULL, &status);
    printf("map past the image: %d %s\n", (int)status, e ? "pointer" : "NULL");
    e = clEnqueueMapImage(queue, src, CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, at, past, &row_pitch, NULL, 0, NULL,
                          NULL, &status);
    printf("invalidating map past the image: %d %s\n", (int)status, e ? "pointer" : "NULL");
    size_t deep[3] = {w, h, 2};
    e = clEnqueueMapImage(queue, src, CL_TRUE, CL_MAP_READ, origin0, deep, &row_pitch, NULL, 0, NULL, NULL, &status);
    printf("2-D map two deep: %d %s\n", (int)status, e ? "pointer" : "NULL");
    cl_mem buf = clCreateBuffer(context, CL_MEM_READ_WRITE, w * h * 4, NULL, &status);
    CHECK("clCreateBuffer", status);
    e = clEnqueueMapImage(queue, buf, CL_TRUE, CL_MAP_READ, origin0, whole, &row_pitch, NULL, 0, NULL, NULL, &status);
    printf("image map of a buffer: %d %s\n", (int)status, e ? "pointer" : "NULL");
    e = clEnqueueMapBuffer(queue, src, CL_TRUE, CL_MAP_READ, 0, 16, 0, NULL, NULL, &status);
    printf("buffer map of an image: %d %s\n", (int)status, e ? "pointer" : "NULL");
    cl_mem ro = clCreateImage(context, CL_MEM_READ_WRITE | CL_MEM_HOST_READ_ONLY, &rgba8, &desc2d, NULL, &status);
    CHECK("clCreateImage(host read only)", status);
    e = clEnqueueMapImage(queue, ro, CL_TRUE, CL_MAP_WRITE, origin0, whole, &row_pitch, NULL, 0, NULL, NULL, &status);
    printf("map for writing of a host-read-only image: %d %s\n", (int)status, e ? "pointer" : "NULL");
    e = clEnqueueMapImage(queue, wo, CL_TRUE, CL_MAP_READ, origin0, whole, &row_pitch, NULL, 0, NULL, NULL, &status);
    printf("map for reading of a host-write-only image: %d %s\n", (int)status, e ? "pointer" : "NULL");
    status = clEnqueueUnmapMemObject(queue, src, host, 0, NULL, NULL);
    printf("unmap of an unmapped pointer: %d\n", (int)status);
    m = clEnqueueMapImage(queue, src, CL_TRUE, CL_MAP_READ, origin0, whole, &row_pitch, NULL, 0, NULL, NULL, &status);
    CHECK("clEnqueueMapImage(last)", status);
    status = clEnqueueUnmapMemObject(queue, dst, m, 0, NULL, NULL);
    printf("unmap through another image: %d\n", (int)status);
    status = clEnqueueUnmapMemObject(queue, src, m, 0, NULL, NULL);
    CHECK("clEnqueueUnmapMemObject(last)", status);

    status = clFinish(queue);
    CHECK("clFinish", status);
    clReleaseMemObject(ro);
    clReleaseMemObject(buf);
    clReleaseMemObject(wo);
    clReleaseMemObject(arr1);
    clReleaseMemObject(arr);
    clReleaseMemObject(vol);
    clReleaseMemObject(dst);
    clReleaseMemObject(src);
    clReleaseKernel(kernel);
    clReleaseProgram(program);
    clReleaseCommandQueue(queue);
    clReleaseContext(context);
    free(before);
    free(vh);
    free(host);
    printf("%s\n", wrong == 0 ? "PASSED" : "FAILED");
    return wrong == 0 ? 0 : 1;
}
