/* Found through -I (ReadOptions::include_dirs). */
typedef unsigned int extra_t;
#define EXTRA_VALUE (EXTRA_BASE + 2)
extra_t extraCall(extra_t value);
