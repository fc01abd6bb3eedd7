/* Rule: a pointer next to a count (`size_t n`, `num_*`, `*_count`,
   `*_size`, `cb`) is a buffer of that many elements. A count that may be in
   bytes next to a pointer to larger elements is left to a person. */
#include <stddef.h>
typedef int acc_status;
#define ACC_SUCCESS 0

acc_status accWrite(const void *src, size_t cb);
acc_status accRead(size_t size, void *dst_out);
acc_status accSetWeights(unsigned int num_weights, const float *weights);
acc_status accSetOffsets(const size_t *offsets, unsigned int offset_count);
acc_status accFillInts(int *values, size_t size);
/* a dimension count sizes the const arrays that follow it */
acc_status accLaunch(unsigned int work_dim, const size_t *global_offset, const size_t *global_size, const size_t *local_size);
