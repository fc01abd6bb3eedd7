/* Rule: `const T *` is an input; non-const pointers are outputs or in/out,
   judged by naming patterns (`*_ret`, `out*`, `dst`, `result` are outputs). */
typedef int acc_status;
#define ACC_SUCCESS 0
struct acc_image_format { unsigned int channel_order; unsigned int channel_type; };

acc_status accSetFormat(const struct acc_image_format *format);
acc_status accGetFormat(struct acc_image_format *format_ret);
acc_status accGetCounter(unsigned long *counter_ret);
acc_status accExchange(int *value);
