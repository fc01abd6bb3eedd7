/* Fetches extension functions by name and calls them: the ICD loader's own
 * properties (ocl-icd's clGetICDLoaderInfoOCLICD, as clinfo does) and
 * cl_ext_device_fission's clRetainDeviceEXT and clReleaseDeviceEXT. Names
 * nobody provides, and core functions (not extension functions), give NULL.
 *
 *   cc -std=c99 -O2 -o extension_functions extension_functions.c -lOpenCL
 */
#define CL_TARGET_OPENCL_VERSION 300
#define CL_USE_DEPRECATED_OPENCL_1_1_APIS
#include <CL/cl.h>
#include <CL/cl_ext.h>
#include <stdio.h>

/* ocl-icd's cl_icdl extension; in no Khronos header */
typedef cl_uint cl_icdl_info;
typedef cl_int (*icdl_info_fn)(cl_icdl_info, size_t, void *, size_t *);

static void print_loader(icdl_info_fn info) {
    static const char *names[] = {"OpenCL version", "version", "name", "vendor"};
    for (cl_icdl_info param = 1; param <= 4; param++) {
        char value[256] = {0};
        size_t size = 0;
        cl_int status = info(param, sizeof value, value, &size);
        printf("loader %s: %d, %zu bytes, \"%s\"\n", names[param - 1], status, size, value);
    }
    size_t size = 0;
    printf("loader size query: %d, %zu bytes\n", info(3, 0, NULL, &size), size);
    printf("loader unknown property: %d\n", info(99, 0, NULL, NULL));
}

static void retain_and_release(clRetainDeviceEXT_fn retain, clReleaseDeviceEXT_fn release, cl_device_id device) {
    printf("retain: %d\n", retain(device));
    printf("release: %d\n", release(device));
    printf("retain no device: %d\n", retain(NULL));
}

int main(void) {
    cl_platform_id platform;
    cl_device_id device;
    if (clGetPlatformIDs(1, &platform, NULL) != CL_SUCCESS || clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL) != CL_SUCCESS) {
        printf("no OpenCL device\n");
        return 1;
    }

    static const char *names[] = {
        "clGetICDLoaderInfoOCLICD", "clRetainDeviceEXT", "clReleaseDeviceEXT", "clNoSuchFunctionKHR", "clCreateBuffer", "", "clRetainDeviceEXTx",
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        void *any = clGetExtensionFunctionAddress(names[i]);
        void *on_platform = clGetExtensionFunctionAddressForPlatform(platform, names[i]);
        printf("\"%s\": %s, on the platform %s\n", names[i], any ? "found" : "NULL", on_platform ? "found" : "NULL");
    }
    printf("NULL name on the platform: %s\n", clGetExtensionFunctionAddressForPlatform(platform, NULL) ? "found" : "NULL");

    icdl_info_fn loader = (icdl_info_fn)clGetExtensionFunctionAddress("clGetICDLoaderInfoOCLICD");
    if (loader) print_loader(loader);

    clRetainDeviceEXT_fn retain = (clRetainDeviceEXT_fn)clGetExtensionFunctionAddressForPlatform(platform, "clRetainDeviceEXT");
    clReleaseDeviceEXT_fn release = (clReleaseDeviceEXT_fn)clGetExtensionFunctionAddressForPlatform(platform, "clReleaseDeviceEXT");
    if (retain && release) retain_and_release(retain, release, device);
    /* the same functions, found without naming the platform */
    retain = (clRetainDeviceEXT_fn)clGetExtensionFunctionAddress("clRetainDeviceEXT");
    release = (clReleaseDeviceEXT_fn)clGetExtensionFunctionAddress("clReleaseDeviceEXT");
    if (retain && release) retain_and_release(retain, release, device);
    return 0;
}
