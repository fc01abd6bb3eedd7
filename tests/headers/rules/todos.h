/* Where no rule decides safely, `cava init` writes a `todo` with the reason. */
#include <stddef.h>
typedef int acc_status;
#define ACC_SUCCESS 0
acc_status accSetList(const long *list);
void *accMapMemory(size_t offset);
acc_status accLog(const char *format, ...);
acc_status accCopyWords(const unsigned int *src, unsigned int *dst, size_t size);
acc_status accRegister(void (*hook)(int));
