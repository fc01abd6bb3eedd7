/* Rule: a pointer to a handle that the function fills is an out element
   that allocates; a const pointer to handles is an input list. */
typedef int acc_status;
#define ACC_SUCCESS 0
typedef struct acc_device_st *acc_device;
typedef struct acc_event_st *acc_event;

acc_status accGetDevices(unsigned int num_entries, acc_device *devices, unsigned int *num_devices);
acc_status accCreateEvent(acc_device device, acc_event *event);
acc_status accWaitForEvents(unsigned int num_events, const acc_event *event_list);
