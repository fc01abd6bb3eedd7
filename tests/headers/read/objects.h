/* An object API in the style of OpenCL: opaque handles, callbacks with
 * user data, arrays, unions and enums. */
#ifndef OBJECTS_H
#define OBJECTS_H

#include <stddef.h>
#include <stdint.h>
#include "objects_types.h"

typedef struct _obj_context *obj_context;
typedef struct _obj_queue *obj_queue;
struct _obj_queue; /* declared again, still never defined */

typedef enum obj_status {
    OBJ_OK = 0,
    OBJ_FAILED = -5,
    OBJ_NEXT,            /* -4 */
    OBJ_BIG = 0x7fffffff
} obj_status;

enum obj_flags { OBJ_FLAG_A = 1 << 0, OBJ_FLAG_B = 1 << 1, OBJ_FLAG_ALL = 0xFFFFFFFFu };

typedef enum { OBJ_MODE_X, OBJ_MODE_Y = 7, OBJ_MODE_Z } obj_mode;

typedef void (*obj_notify_fn)(obj_context context, const char *message, void *user_data);

struct obj_image_desc {
    size_t width;
    size_t dims[3];
    obj_mode mode;
    union {
        uint32_t as_u32;
        float as_f32;
    };
    struct { int x, y; } origin;
    unsigned char bytes[];
};

typedef struct {
    int kind;
    union value { long long i; double d; } value;
} obj_variant;

obj_context objCreateContext(const obj_props *properties, obj_notify_fn notify, void *user_data, obj_status *errcode_ret);
obj_status objRelease(obj_context context);
obj_status objRelease(obj_context context); /* repeated declaration */
obj_status objEnqueue(obj_queue queue, const void *const data, size_t size, uint32_t num_events, const obj_event *events);
obj_status objSetCallback(obj_queue queue, void (*pfn_notify)(obj_queue queue, int status, void *user_data), void *user_data);
int objPrintf(const char *format, ...);
void objUnnamed(int, const struct obj_image_desc *);
void objMatrix(float m[4][4], int v[], obj_variant variant);
unsigned long long objCounts(signed char c, unsigned short s, _Bool b, long double ld);
obj_status objGetInfo(obj_context context, enum obj_flags flags, size_t size, void *value, size_t *size_ret);

static inline int objHelper(int x) { return x + 1; }

#endif
