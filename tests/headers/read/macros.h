#ifndef MACROS_H
#define MACROS_H

typedef int cl_int;
typedef unsigned char cl_uchar;
typedef void *handle_t;

#define CL_SUCCESS 0
#define CL_INVALID_VALUE -30
#define SHIFTED (1 << 3)
#define HEX_UNSIGNED 0x10u
#define CAST_TYPEDEF ((cl_int)-5)
#define CAST_BUILTIN ((unsigned int)-1)
#define CAST_NARROW ((cl_uchar)0x1FF)
#define CAST_POINTER_TYPEDEF ((handle_t)7)
#define ALL_BITS 0xFFFFFFFF
#define NOT_ZERO_U (~0u)
#define COMBINED (SHIFTED | HEX_UNSIGNED)
#define LATER_USE (DEFINED_LATER + 1)
#define DEFINED_LATER 41
#define LONG_LONG 1234567890123LL
#define TOP_BIT (1ULL << 63)
#define OCTAL 0755
#define CHAR_CONST 'A'
#define INT_MIN_FORM (-2147483647 - 1)
#define ENUM_REF (E_TWO * 10)

enum e { E_ONE = 1, E_TWO };

/* not integer constants: skipped */
#define FLOATING 1.5f
#define STRING "text"
#define FUNCTION_LIKE(x) ((x) + 1)
#define UNKNOWN_NAME (NOT_DEFINED_ANYWHERE + 1)
#define SELF_REFERENCE (SELF_REFERENCE + 1)
#define EMPTY
#define NULL_POINTER ((void *)0)
#define SIZEOF_INT sizeof(int)

#endif
