/* Types the object API keeps in a second header, included by a quoted name. */
typedef int64_t obj_props;
typedef struct _obj_event *obj_event;
