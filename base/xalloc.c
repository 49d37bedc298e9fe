/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation wrappers that abort on OOM, so that callers never carry an -ENOMEM path.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static void oom(void) {
        fputs("lemu: out of memory\n", stderr);
        abort();
}

void *xmalloc(size_t n) {
        void *p = malloc(n ? n : 1);

        if (!p)
                oom();
        return p;
}

void *xcalloc(size_t n, size_t size) {
        void *p = calloc(n ? n : 1, size ? size : 1);

        if (!p)
                oom();
        return p;
}

void *xrealloc(void *p, size_t n) {
        p = realloc(p, n ? n : 1);
        if (!p)
                oom();
        return p;
}

char *xstrdup(const char *s) {
        return xmemdup(s, strlen(s) + 1);
}

char *xstrndup(const char *s, size_t n) {
        char *p = xmalloc(n + 1);

        memcpy(p, s, n);
        p[n] = '\0';
        return p;
}

void *xmemdup(const void *src, size_t n) {
        void *p = xmalloc(n);

        memcpy(p, src, n);
        return p;
}

char *xasprintf(const char *fmt, ...) {
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                oom();
        return s;
}
