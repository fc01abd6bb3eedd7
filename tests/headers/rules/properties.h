/* Rule: a const pointer to integers named `*properties` is a zero-terminated
   list of key/value pairs (OpenCL's property lists): its length is
   `terminated_len(p)`, or 0 when the pointer is NULL. */
typedef int acc_status;
#define ACC_SUCCESS 0
typedef long acc_context_properties;
typedef struct acc_context_st *acc_context;

acc_context accCreateContext(const acc_context_properties *properties, acc_status *errcode_ret);
