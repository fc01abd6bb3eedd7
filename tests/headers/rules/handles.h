/* Rule: a pointer to an incomplete struct, or a typedef of one, is a handle.
   Rule: functions that release, destroy or free a handle deallocate it.
   Rule: a function returning a handle that it creates allocates it. */
typedef int acc_status;
#define ACC_SUCCESS 0
#define ACC_ERROR_OUT_OF_HOST_MEMORY -6

typedef struct acc_context_st *acc_context;
struct acc_queue;

acc_context accCreateContext(int device, acc_status *status);
struct acc_queue *accCreateQueue(acc_context context, unsigned int flags);
acc_status accRetainContext(acc_context context);
acc_status accReleaseContext(acc_context context);
acc_status accDestroyQueue(struct acc_queue *queue);
