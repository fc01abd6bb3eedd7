/* Reads of every kind on the first OpenCL device, checked byte for byte:
 *
 * 1. a blocking write and a blocking read of N floats (with N = 1048576,
 *    4 MiB: large enough for the zero-copy region when forwarded over
 *    shared memory), and a blocking read that returns an event;
 * 2. a non-blocking read that waits for a user event and returns an event:
 *    the host sets the user event only after the read is enqueued (so the
 *    enqueue must not wait for it), then waits for the read's event with
 *    clWaitForEvents and finds the data in place (pyopencl's
 *    `Array.get_async` does this);
 *    The same again, the read's completion seen by polling its event
 *    (clGetEventInfo) instead of waiting for it;
 * 3. two non-blocking reads with events, waited for together;
 * 4. a non-blocking read with an event, completed by clFinish instead;
 * 5. a non-blocking read without an event followed by a blocking read:
 *    the blocking read completes the earlier one (an in-order queue);
 * 6. the errors of a read past the end of the buffer, blocking and not;
 * 7. non-blocking reads with events whose CL_COMPLETE callback checks the
 *    data: one gated by a user event (the callback is set before the read
 *    can complete), one not (it may complete first), and one whose callback
 *    is set after a pause long enough for the read to complete (the library
 *    then calls it as it is set). The host waits for the callbacks by
 *    polling a flag, never through the event or the queue, which would
 *    bring the data back whatever the callback saw.
 * 8. non-blocking reads completed by a later event of the queue: waiting
 *    for a marker enqueued after a read, polling the status of a write's
 *    event after a read with an event, and a CL_COMPLETE callback of a
 *    barrier after a gated read (the barrier's event released as soon as
 *    the callback is set) that checks the read's data;
 * 9. non-blocking reads whose event the host releases as soon as it set a
 *    CL_COMPLETE callback on it, the read gated by a user event opened only
 *    after the release, so that the callback surely runs after it;
 * 10. a gated read completed while another thread's clFinish, waiting for
 *    the same gated reads, brings the data back: seen by a CL_COMPLETE
 *    callback of the read's event, and by the host polling its status.
 * 11. non-blocking reads completed by a later command of the in-order
 *    queue whose event is the library's own: waiting for a copy's event
 *    after a read without an event, polling a fill's event after a read
 *    with an event, and a CL_COMPLETE callback of a copy's event after a
 *    gated read.
 *
 *   cc -std=c99 -O2 -o async_reads async_reads.c -lOpenCL -lpthread
 *   ./async_reads [N]
 *   ./async_reads N leave   (leaves two non-blocking reads pending; see below)
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(what, status)                                                   \
    do {                                                                      \
        if ((status) != CL_SUCCESS) {                                         \
            printf("%s failed: %d\n", (what), (int)(status));                 \
            return 1;                                                         \
        }                                                                     \
    } while (0)

/* How many of the n floats of `got` differ from value(offset + i). */
static size_t wrong(const float *got, size_t offset, size_t n) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += got[i] != (float)((offset + i) % 1000003) * 0.5f;
    return bad;
}

static cl_int status_of(cl_event event) {
    cl_int s = -1;
    clGetEventInfo(event, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof s, &s, NULL);
    return s;
}

/* What a read's completion callback saw, written under the lock. */
struct seen {
    pthread_mutex_t lock;
    const float *data;
    size_t n;
    int called;
    cl_int status;
    size_t wrong;
};

static void CL_CALLBACK on_read_complete(cl_event event, cl_int status, void *user) {
    struct seen *seen = user;
    size_t bad = wrong(seen->data, 0, seen->n);
    (void)event;
    pthread_mutex_lock(&seen->lock);
    seen->called++;
    seen->status = status;
    seen->wrong = bad;
    pthread_mutex_unlock(&seen->lock);
}

/* Polls for the callback for up to 10 seconds. */
static void await_seen(struct seen *seen) {
    struct timespec pause = {0, 1000000};
    for (int waited = 0; waited < 10000; waited++) {
        pthread_mutex_lock(&seen->lock);
        int called = seen->called;
        pthread_mutex_unlock(&seen->lock);
        if (called)
            return;
        nanosleep(&pause, NULL);
    }
}

static void *finish_queue(void *queue) {
    cl_int *status = malloc(sizeof *status);
    *status = clFinish((cl_command_queue)queue);
    return status;
}

/* Polls for the callback for up to 10 seconds; prints what it saw. */
static void report_seen(const char *what, struct seen *seen) {
    struct timespec pause = {0, 1000000};
    int called = 0;
    for (int waited = 0; waited < 10000; waited++) {
        pthread_mutex_lock(&seen->lock);
        called = seen->called;
        pthread_mutex_unlock(&seen->lock);
        if (called)
            break;
        nanosleep(&pause, NULL);
    }
    pthread_mutex_lock(&seen->lock);
    printf("%s: callback called=%d status=%d wrong in the callback=%zu\n", what, seen->called, (int)seen->status, seen->wrong);
    pthread_mutex_unlock(&seen->lock);
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1048576;
    if (n < 4)
        n = 4;
    size_t bytes = n * sizeof(float);
    cl_int status;
    cl_platform_id platform;
    cl_device_id device;
    CHECK("clGetPlatformIDs", clGetPlatformIDs(1, &platform, NULL));
    CHECK("clGetDeviceIDs", clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL));
    cl_context context = clCreateContext(NULL, 1, &device, NULL, NULL, &status);
    CHECK("clCreateContext", status);
    cl_command_queue queue = clCreateCommandQueue(context, device, 0, &status);
    CHECK("clCreateCommandQueue", status);

    float *host = malloc(bytes), *a = malloc(bytes), *b = malloc(bytes), *c = malloc(bytes);
    if (host == NULL || a == NULL || b == NULL || c == NULL)
        return 1;
    for (size_t i = 0; i < n; i++)
        host[i] = (float)(i % 1000003) * 0.5f;
    cl_mem mem = clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, NULL, &status);
    CHECK("clCreateBuffer", status);

    /* `async_reads N leave`: two non-blocking reads left pending, one with
       an event, and the process exits without waiting for them or
       releasing anything. Forwarded, the API server keeps a buffer for
       each read; once the process has gone it brings them back (clFinish
       on the queue), releases what the process left, and frees them. */
    if (argc > 2 && strcmp(argv[2], "leave") == 0) {
        cl_event left;
        CHECK("clEnqueueWriteBuffer", clEnqueueWriteBuffer(queue, mem, CL_TRUE, 0, bytes, host, 0, NULL, NULL));
        CHECK("read left pending", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, a, 0, NULL, NULL));
        CHECK("read left pending with an event", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes / 2, b, 0, NULL, &left));
        printf("left 2 reads pending\n");
        return 0;
    }

    /* 1. blocking */
    CHECK("clEnqueueWriteBuffer", clEnqueueWriteBuffer(queue, mem, CL_TRUE, 0, bytes, host, 0, NULL, NULL));
    memset(a, 0, bytes);
    CHECK("blocking read", clEnqueueReadBuffer(queue, mem, CL_TRUE, 0, bytes, a, 0, NULL, NULL));
    printf("blocking: n=%zu wrong=%zu\n", n, wrong(a, 0, n));
    cl_event done;
    memset(a, 0, bytes);
    CHECK("blocking read with an event", clEnqueueReadBuffer(queue, mem, CL_TRUE, 0, bytes, a, 0, NULL, &done));
    printf("blocking with an event: wrong=%zu event complete=%d\n", wrong(a, 0, n), status_of(done) == CL_COMPLETE);
    clReleaseEvent(done);

    /* 2. non-blocking, gated by a user event set after the enqueue */
    cl_event gate = clCreateUserEvent(context, &status);
    CHECK("clCreateUserEvent", status);
    cl_event read_event;
    memset(a, 0, bytes);
    CHECK("gated read", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, a, 1, &gate, &read_event));
    cl_int before = status_of(read_event);
    printf("gated read: enqueued, complete before the gate opens=%d\n", before == CL_COMPLETE);
    CHECK("clSetUserEventStatus", clSetUserEventStatus(gate, CL_COMPLETE));
    CHECK("clWaitForEvents", clWaitForEvents(1, &read_event));
    printf("gated read: wrong=%zu event complete=%d\n", wrong(a, 0, n), status_of(read_event) == CL_COMPLETE);
    clReleaseEvent(read_event);
    clReleaseEvent(gate);

    gate = clCreateUserEvent(context, &status);
    CHECK("clCreateUserEvent", status);
    memset(a, 0, bytes);
    CHECK("polled read", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, a, 1, &gate, &read_event));
    CHECK("clSetUserEventStatus", clSetUserEventStatus(gate, CL_COMPLETE));
    cl_int polled;
    while ((polled = status_of(read_event)) != CL_COMPLETE && polled >= 0)
        ;
    printf("polled read: wrong=%zu status=%d\n", wrong(a, 0, n), (int)polled);
    clReleaseEvent(read_event);
    clReleaseEvent(gate);

    /* 3. two non-blocking reads with events (halves), waited for together */
    size_t half = n / 2;
    cl_event pair[2];
    memset(b, 0, bytes);
    CHECK("first half", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, half * sizeof(float), b, 0, NULL, &pair[0]));
    CHECK("second half", clEnqueueReadBuffer(queue, mem, CL_FALSE, half * sizeof(float), (n - half) * sizeof(float), b + half, 0, NULL, &pair[1]));
    CHECK("clWaitForEvents (two)", clWaitForEvents(2, pair));
    printf("two reads: wrong=%zu+%zu\n", wrong(b, 0, half), wrong(b + half, half, n - half));
    clReleaseEvent(pair[0]);
    clReleaseEvent(pair[1]);

    /* 4. non-blocking with an event, completed by clFinish */
    cl_event finished;
    memset(c, 0, bytes);
    CHECK("read before clFinish", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, c, 0, NULL, &finished));
    CHECK("clFinish", clFinish(queue));
    printf("read then clFinish: wrong=%zu event complete=%d\n", wrong(c, 0, n), status_of(finished) == CL_COMPLETE);
    /* waiting after clFinish finds nothing left to bring back */
    CHECK("clWaitForEvents after clFinish", clWaitForEvents(1, &finished));
    clReleaseEvent(finished);

    /* 5. non-blocking without an event, then a blocking read */
    memset(b, 0, bytes);
    memset(c, 0, bytes);
    CHECK("non-blocking read", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, b, 0, NULL, NULL));
    CHECK("blocking read after it", clEnqueueReadBuffer(queue, mem, CL_TRUE, 4, bytes - 4, c, 0, NULL, NULL));
    printf("non-blocking then blocking: wrong=%zu and %zu\n", wrong(b, 0, n), wrong(c, 1, n - 1));

    /* 6. errors */
    cl_event never = NULL;
    printf("blocking read past the end: %d\n", (int)clEnqueueReadBuffer(queue, mem, CL_TRUE, 4, bytes, a, 0, NULL, NULL));
    printf("non-blocking read past the end with an event: %d\n",
           (int)clEnqueueReadBuffer(queue, mem, CL_FALSE, 4, bytes, a, 0, NULL, &never));
    CHECK("clFinish after the errors", clFinish(queue));

    /* 7. non-blocking reads whose completion callback looks at the data */
    struct seen gated_seen = {PTHREAD_MUTEX_INITIALIZER, a, n, 0, -1, 0};
    gate = clCreateUserEvent(context, &status);
    CHECK("clCreateUserEvent", status);
    memset(a, 0, bytes);
    CHECK("read with a callback", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, a, 1, &gate, &read_event));
    CHECK("clSetEventCallback", clSetEventCallback(read_event, CL_COMPLETE, on_read_complete, &gated_seen));
    CHECK("clSetUserEventStatus", clSetUserEventStatus(gate, CL_COMPLETE));
    report_seen("gated read with a callback", &gated_seen);
    clReleaseEvent(read_event);
    clReleaseEvent(gate);

    struct seen seen = {PTHREAD_MUTEX_INITIALIZER, b, n, 0, -1, 0};
    memset(b, 0, bytes);
    CHECK("read with a callback", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, b, 0, NULL, &read_event));
    CHECK("clFlush", clFlush(queue));
    CHECK("clSetEventCallback", clSetEventCallback(read_event, CL_COMPLETE, on_read_complete, &seen));
    report_seen("read with a callback", &seen);
    clReleaseEvent(read_event);

    struct seen late_seen = {PTHREAD_MUTEX_INITIALIZER, c, n, 0, -1, 0};
    struct timespec pause = {0, 100000000};
    memset(c, 0, bytes);
    CHECK("read with a late callback", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, c, 0, NULL, &read_event));
    CHECK("clFlush", clFlush(queue));
    nanosleep(&pause, NULL);
    CHECK("clSetEventCallback", clSetEventCallback(read_event, CL_COMPLETE, on_read_complete, &late_seen));
    report_seen("read with a callback set late", &late_seen);
    clReleaseEvent(read_event);

    /* 8. later events of the queue */
    memset(a, 0, bytes);
    CHECK("read before a marker", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, a, 0, NULL, NULL));
    cl_event later;
    CHECK("clEnqueueMarkerWithWaitList", clEnqueueMarkerWithWaitList(queue, 0, NULL, &later));
    CHECK("clWaitForEvents (marker)", clWaitForEvents(1, &later));
    printf("read, then a marker waited for: wrong=%zu\n", wrong(a, 0, n));
    clReleaseEvent(later);

    cl_mem other = clCreateBuffer(context, CL_MEM_READ_WRITE, 64, NULL, &status);
    CHECK("clCreateBuffer", status);
    memset(b, 0, bytes);
    CHECK("read before a write", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, b, 0, NULL, &read_event));
    CHECK("write after a read", clEnqueueWriteBuffer(queue, other, CL_FALSE, 0, 64, host, 0, NULL, &later));
    while ((polled = status_of(later)) != CL_COMPLETE && polled >= 0)
        ;
    printf("read, then a write's event polled: wrong=%zu status=%d\n", wrong(b, 0, n), (int)polled);
    clReleaseEvent(later);
    clReleaseEvent(read_event);

    struct seen barrier_seen = {PTHREAD_MUTEX_INITIALIZER, c, n, 0, -1, 0};
    gate = clCreateUserEvent(context, &status);
    CHECK("clCreateUserEvent", status);
    memset(c, 0, bytes);
    CHECK("gated read before a barrier", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, c, 1, &gate, NULL));
    CHECK("clEnqueueBarrierWithWaitList", clEnqueueBarrierWithWaitList(queue, 0, NULL, &later));
    CHECK("clSetEventCallback (barrier)", clSetEventCallback(later, CL_COMPLETE, on_read_complete, &barrier_seen));
    clReleaseEvent(later);
    CHECK("clSetUserEventStatus", clSetUserEventStatus(gate, CL_COMPLETE));
    report_seen("gated read, then a barrier's callback", &barrier_seen);
    clReleaseEvent(gate);
    CHECK("clFinish after the later events", clFinish(queue));

    /* 9. the read's event released before its callback runs */
    int rounds = 4, called = 0;
    size_t stale = 0;
    for (int round = 0; round < rounds; round++) {
        struct seen released_seen = {PTHREAD_MUTEX_INITIALIZER, a, n, 0, -1, 0};
        gate = clCreateUserEvent(context, &status);
        CHECK("clCreateUserEvent", status);
        memset(a, 0, bytes);
        CHECK("gated read", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, a, 1, &gate, &read_event));
        CHECK("clSetEventCallback", clSetEventCallback(read_event, CL_COMPLETE, on_read_complete, &released_seen));
        clReleaseEvent(read_event);
        CHECK("clSetUserEventStatus", clSetUserEventStatus(gate, CL_COMPLETE));
        await_seen(&released_seen);
        pthread_mutex_lock(&released_seen.lock);
        called += released_seen.called;
        stale += released_seen.wrong;
        pthread_mutex_unlock(&released_seen.lock);
        clReleaseEvent(gate);
    }
    CHECK("clFinish after the released events", clFinish(queue));
    printf("callbacks of released events: rounds=%d called=%d wrong in the callbacks=%zu\n", rounds, called, stale);

    /* 10. another thread's clFinish brings the data back as the callback runs */
    float *more[3];
    for (int i = 0; i < 3; i++)
        if ((more[i] = malloc(bytes)) == NULL)
            return 1;
    called = 0;
    stale = 0;
    size_t stale_more = 0, stale_polled = 0;
    for (int round = 0; round < 2 * rounds; round++) {
        int poll = round % 2;
        struct seen raced_seen = {PTHREAD_MUTEX_INITIALIZER, a, n, 0, -1, 0};
        gate = clCreateUserEvent(context, &status);
        CHECK("clCreateUserEvent", status);
        for (int i = 0; i < 3; i++) {
            memset(more[i], 0, bytes);
            CHECK("gated read", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, more[i], 1, &gate, NULL));
        }
        memset(a, 0, bytes);
        CHECK("gated read", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, a, 1, &gate, &read_event));
        if (!poll)
            CHECK("clSetEventCallback", clSetEventCallback(read_event, CL_COMPLETE, on_read_complete, &raced_seen));
        pthread_t finisher;
        if (pthread_create(&finisher, NULL, finish_queue, queue) != 0)
            return 1;
        /* the other thread is waiting in clFinish when the gate opens */
        struct timespec settle = {0, 20000000};
        nanosleep(&settle, NULL);
        CHECK("clSetUserEventStatus", clSetUserEventStatus(gate, CL_COMPLETE));
        if (poll) {
            while ((polled = status_of(read_event)) != CL_COMPLETE && polled >= 0)
                ;
            stale_polled += wrong(a, 0, n);
        }
        void *finished_status;
        pthread_join(finisher, &finished_status);
        CHECK("clFinish in another thread", *(cl_int *)finished_status);
        free(finished_status);
        if (!poll) {
            await_seen(&raced_seen);
            pthread_mutex_lock(&raced_seen.lock);
            called += raced_seen.called;
            stale += raced_seen.wrong;
            pthread_mutex_unlock(&raced_seen.lock);
        }
        for (int i = 0; i < 3; i++)
            stale_more += wrong(more[i], 0, n);
        clReleaseEvent(read_event);
        clReleaseEvent(gate);
    }
    printf("racing another thread's clFinish: rounds=%d callbacks called=%d wrong in the callbacks=%zu, polled=%zu, after clFinish=%zu\n",
           rounds, called, stale, stale_polled, stale_more);
    for (int i = 0; i < 3; i++)
        free(more[i]);

    /* 11. later commands of the in-order queue with the library's own events */
    cl_mem copy = clCreateBuffer(context, CL_MEM_READ_WRITE, 64, NULL, &status);
    CHECK("clCreateBuffer", status);
    memset(a, 0, bytes);
    CHECK("read before a copy", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, a, 0, NULL, NULL));
    CHECK("copy after a read", clEnqueueCopyBuffer(queue, mem, copy, 0, 0, 64, 0, NULL, &later));
    CHECK("clWaitForEvents (copy)", clWaitForEvents(1, &later));
    printf("read, then a copy's event waited for: wrong=%zu\n", wrong(a, 0, n));
    clReleaseEvent(later);

    float zero = 0.0f;
    memset(b, 0, bytes);
    CHECK("read with an event before a fill", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, b, 0, NULL, &read_event));
    CHECK("fill after a read", clEnqueueFillBuffer(queue, other, &zero, sizeof zero, 0, 64, 0, NULL, &later));
    while ((polled = status_of(later)) != CL_COMPLETE && polled >= 0)
        ;
    printf("read, then a fill's event polled: wrong=%zu status=%d\n", wrong(b, 0, n), (int)polled);
    clReleaseEvent(later);
    clReleaseEvent(read_event);

    struct seen copy_seen = {PTHREAD_MUTEX_INITIALIZER, c, n, 0, -1, 0};
    gate = clCreateUserEvent(context, &status);
    CHECK("clCreateUserEvent", status);
    memset(c, 0, bytes);
    CHECK("gated read before a copy", clEnqueueReadBuffer(queue, mem, CL_FALSE, 0, bytes, c, 1, &gate, NULL));
    CHECK("copy after a gated read", clEnqueueCopyBuffer(queue, mem, copy, 0, 0, 64, 0, NULL, &later));
    CHECK("clSetEventCallback (copy)", clSetEventCallback(later, CL_COMPLETE, on_read_complete, &copy_seen));
    CHECK("clSetUserEventStatus", clSetUserEventStatus(gate, CL_COMPLETE));
    report_seen("gated read, then a copy's callback", &copy_seen);
    clReleaseEvent(later);
    clReleaseEvent(gate);
    CHECK("clFinish after the library's events", clFinish(queue));
    clReleaseMemObject(copy);

    clReleaseMemObject(other);
    clReleaseMemObject(mem);
    clReleaseCommandQueue(queue);
    clReleaseContext(context);
    free(host);
    free(a);
    free(b);
    free(c);
    printf("PASSED\n");
    return 0;
}
