#include <extra.h>
#ifndef EXTRA_BASE
#error EXTRA_BASE must be defined with -D
#endif
extra_t mainCall(void);
