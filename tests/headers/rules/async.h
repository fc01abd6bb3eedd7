/* Rule: a function returning the API's error type can be made async with its
   success value: `cava init` notes it in a comment (it never makes a call
   asynchronous by itself, because that changes when errors are seen). */
typedef int acc_status;
#define ACC_SUCCESS 0
typedef struct acc_queue_st *acc_queue;

acc_status accFlush(acc_queue queue);
acc_status accFinish(acc_queue queue);
acc_status accQueueSize(acc_queue queue, unsigned int *size_ret);
