// Kernels of driver_api.c. Built by the program's build step into PTX, a
// cubin and a fat binary (`nvcc -ptx`, `-cubin`, `-fatbin`), which
// driver_api.c loads with cuModuleLoadData, as a program that ships its
// kernels would.

extern "C" __global__ void vadd(const float *a, const float *b, float *c, unsigned int n)
{
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        c[i] = a[i] + b[i];
}

// Parameters of every size the launch must copy: 1, 2, 4 and 8 bytes and a
// struct passed by value.
struct affine {
    float scale;
    double shift;
};

extern "C" __global__ void mixed(char use_shift, short bias, float alpha, const float *x, double beta,
                                 struct affine t, float *y, unsigned int n)
{
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float v = alpha * x[i] + (float)beta + (float)bias;
        if (use_shift)
            v = v * t.scale + (float)t.shift;
        y[i] = v;
    }
}

// Reads a device global that the program sets through cuModuleGetGlobal.
__device__ int offset_global;

extern "C" __global__ void add_global(int *v, unsigned int n)
{
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        v[i] += offset_global;
}
