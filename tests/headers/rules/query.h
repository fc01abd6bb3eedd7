/* Rule: the query pattern (size_t param_value_size, void *param_value,
   size_t *param_value_size_ret) is an out buffer sized by the size argument
   plus an out element for the size returned. */
#include <stddef.h>
typedef int acc_status;
typedef unsigned int acc_info;
#define ACC_SUCCESS 0
typedef struct acc_device_st *acc_device;

acc_status accGetDeviceInfo(acc_device device, acc_info param_name, size_t param_value_size, void *param_value, size_t *param_value_size_ret);
