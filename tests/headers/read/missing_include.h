/* Includes a header that is nowhere on the include path. */
typedef int before;

#include <CL/does_not_exist.h>

int after(void);
