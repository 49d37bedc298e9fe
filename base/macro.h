/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#define container_of(ptr, type, member) ((type *) ((char *) (ptr) -offsetof(type, member)))
#define ARRAY_SIZE(a)                   (sizeof(a) / sizeof((a)[0]))
#define _cleanup_(f)                    __attribute__((cleanup(f)))
#define _printf_(a, b)                  __attribute__((format(printf, a, b)))
#define _unused_                        __attribute__((unused))
#ifndef MIN
#        define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#        define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

/* Hands ownership on: returns *p and clears it, so a _cleanup_ variable no longer frees it. */
#define steal_ptr(p)                       \
        ({                                 \
                __typeof__(p) *_pp = &(p); \
                __typeof__(p) _v = *_pp;   \
                *_pp = NULL;               \
                _v;                        \
        })

static inline void freep(void *p) {
        free(*(void **) p);
}

static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}

#define _cleanup_free_  _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
