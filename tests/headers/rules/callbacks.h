/* Rule: a function pointer next to a `void *user_data` is a callback with its
   userdata. An inline function-pointer type gets a `callback` declaration. */
#include <stddef.h>
typedef int acc_status;
#define ACC_SUCCESS 0
typedef struct acc_event_st *acc_event;
typedef void (*acc_notify_fn)(acc_event event, acc_status status, void *user_data);

acc_status accSetEventCallback(acc_event event, acc_notify_fn notify, void *user_data);
acc_status accSetErrorHandler(void (*handler)(const char *message, const void *info, size_t cb, void *user_data), void *user_data);
