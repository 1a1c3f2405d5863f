#ifndef BISNN_CZEROMQ_SHIM_H
#define BISNN_CZEROMQ_SHIM_H
#include <zmq.h>

#if defined(__linux__)
#include <pthread.h>
// A GNU extension that glibc declares only under _GNU_SOURCE, which the Swift Glibc module is built without.
int pthread_setname_np(pthread_t thread, const char *name);

/// Names the calling thread (at most 15 bytes are kept), for top -H, gdb and crash reports.
static inline void bisnn_zmq_set_thread_name(const char *name) { pthread_setname_np(pthread_self(), name); }
#endif

#endif
