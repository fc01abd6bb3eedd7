/* A program that is moved to another API server in the middle of its run.
 *
 * Phase 1 creates objects (devices, a named memory object, a queue, a
 * kernel with its signature), prints "== paused ==" and waits for a line on
 * stdin. The test replaces the API server meanwhile with one that replays
 * the first server's record log. Phase 2 uses every object of phase 1
 * through the handles the program already holds. Natively (or with no
 * server change) it prints the same. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "testlib.h"

static void check(const char *what, tl_status s)
{
    printf("%s: status=%d\n", what, s);
    fflush(stdout);
}

int main(void)
{
    tl_device devices[2] = {NULL, NULL};
    size_t count = 0, size = 0;
    tl_status s, err = 0;
    tl_mem mem;
    tl_queue queue = NULL;
    tl_kernel kernel;
    char line[16], name[32];
    int index = -1;
    int32_t values[8] = {0};
    int32_t fill = 42;
    void *args[2];

    check("get_devices", tl_get_devices(devices, 2, &count));
    mem = tl_mem_create(devices[1], sizeof values, &err);
    check("mem_create", err);
    check("mem_set_name", tl_mem_set_name(mem, "weights"));
    check("create_queue", tl_create_queue(devices[1], &queue));
    kernel = tl_create_kernel(devices[1], "fill_i32", &err);
    check("create_kernel", err);
    check("kernel_set_signature", tl_kernel_set_signature(kernel, 2, 1u, 0u));

    printf("== paused ==\n");
    fflush(stdout);
    if (fgets(line, sizeof line, stdin) == NULL)
        return 1;

    s = tl_mem_get_size(mem, &size);
    printf("mem_get_size: status=%d size=%zu\n", s, size);
    s = tl_mem_get_name(mem, name, sizeof name, NULL);
    printf("mem_get_name: status=%d name=%s\n", s, s == 0 ? name : "-");
    {
        tl_device device = NULL;
        s = tl_mem_get_device(mem, &device);
        printf("mem_get_device: status=%d same=%d\n", s, device == devices[1]);
    }
    s = tl_device_get_index(devices[1], &index);
    printf("device_get_index: status=%d index=%d\n", s, index);
    args[0] = &mem;
    args[1] = &fill;
    check("launch", tl_launch(queue, kernel, 8, args));
    check("enqueue_read", tl_enqueue_read(queue, mem, 0, sizeof values, values));
    check("queue_finish", tl_queue_finish(queue));
    printf("values: %d %d %d %d %d %d %d %d\n", values[0], values[1], values[2], values[3], values[4], values[5],
           values[6], values[7]);
    check("release_kernel", tl_release_kernel(kernel));
    check("release_queue", tl_release_queue(queue));
    check("mem_release", tl_mem_release(mem));
    check("mem_release again", tl_mem_release(mem));
    return 0;
}
