/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --watch: inotify (uv_fs_event) on every function's code_dir, its subfolders (not
 * node_modules, __pycache__ or hidden ones; at most WATCH_MAX_DIRS in all) and the folder of
 * its bootstrap. A change recycles the function's environments after a short quiet period
 * (editors and compilers write a file in several steps): idle ones end now, busy ones after
 * their invocation, so the next invocation starts cold on the new code. The prepared spare
 * stays: its launcher has not exec'd the bootstrap yet.
 *
 * The folder walk runs once at start, before the loop serves anything. Handles are closed
 * with the Watch and freed in their close callbacks.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <uv.h>

#include "emulator.h"
#include "macro.h"
#include "watch.h"
#include "xalloc.h"

#define WATCH_MAX_DIRS 256
#define WATCH_QUIET_MS 100

typedef struct WatchFn WatchFn;

typedef struct WatchDir {
        uv_fs_event_t ev;
        WatchFn *wf;
        char *path;
        char *only; /* a file name: only changes to it count (a bootstrap outside code_dir) */
        Watch *w;
} WatchDir;

struct WatchFn {
        Function *fn;
        uv_timer_t quiet;
        char *changed; /* the last path that changed */
        Watch *w;
};

struct Watch {
        Emulator *emu;
        WatchFn *fns;
        size_t n_fns;
        WatchDir **dirs;
        size_t n_dirs;
        unsigned open_handles;
        bool closing;
};

static void maybe_free(Watch *w) {
        if (!w->closing || w->open_handles)
                return;
        for (size_t i = 0; i < w->n_fns; i++)
                free(w->fns[i].changed);
        free(w->fns);
        free(w->dirs);
        free(w);
}

static void dir_closed(uv_handle_t *h) {
        WatchDir *d = h->data;
        Watch *w = d->w;

        free(d->path);
        free(d->only);
        free(d);
        w->open_handles--;
        maybe_free(w);
}

static void timer_closed(uv_handle_t *h) {
        Watch *w = ((WatchFn *) h->data)->w;

        w->open_handles--;
        maybe_free(w);
}

static void recycle(uv_timer_t *t) {
        WatchFn *wf = t->data;
        Function *fn = wf->fn;
        ListNode *it, *tmp;
        char line[PATH_MAX + 160];
        unsigned n = 0;

        LIST_FOREACH_SAFE(it, tmp, &fn->envs) {
                ExecEnv *env = container_of(it, ExecEnv, link);
                if (!env->spare && !env->shadow) {
                        env_retire(env);
                        n++;
                }
        }
        snprintf(line, sizeof(line),
                 "lemu: --watch: '%s' changed; %u environment%s of function '%s' recycled\n",
                 wf->changed ? wf->changed : "?", n, n == 1 ? "" : "s", fn->cfg->name);
        logs_write(&fn->emu->logs, line, strlen(line));
}

static void on_change(uv_fs_event_t *h, const char *filename, int events, int status) {
        WatchDir *d = h->data;
        WatchFn *wf = d->wf;

        if (status < 0 || d->w->closing)
                return;
        if (d->only && (!filename || strcmp(filename, d->only) != 0))
                return;
        free(wf->changed);
        wf->changed = filename ? xasprintf("%s/%s", d->path, filename) : xstrdup(d->path);
        uv_timer_start(&wf->quiet, recycle, WATCH_QUIET_MS, 0);
}

static int add_dir(Watch *w, WatchFn *wf, const char *path, const char *only) {
        if (w->n_dirs >= WATCH_MAX_DIRS)
                return -ENOSPC;
        WatchDir *d = xcalloc(1, sizeof(*d));
        d->path = xstrdup(path);
        d->only = only ? xstrdup(only) : NULL;
        d->wf = wf;
        d->w = w;
        uv_fs_event_init(w->emu->loop, &d->ev);
        d->ev.data = d;
        w->open_handles++;
        int r = uv_fs_event_start(&d->ev, on_change, path, 0);
        w->dirs = xrealloc(w->dirs, (w->n_dirs + 1) * sizeof(*w->dirs));
        w->dirs[w->n_dirs++] = d;
        return r;
}

static bool skipped(const char *name) {
        return name[0] == '.' || strcmp(name, "node_modules") == 0 ||
               strcmp(name, "__pycache__") == 0;
}

/* code_dir and its subfolders, depth first, until the budget is spent. */
static int add_tree(Watch *w, WatchFn *wf, const char *path, unsigned depth) {
        int r = add_dir(w, wf, path, NULL);
        if (r < 0 || depth >= 8)
                return r;
        DIR *dir = opendir(path);
        if (!dir)
                return 0;
        struct dirent *de;
        while ((de = readdir(dir)) && r >= 0) {
                if (skipped(de->d_name))
                        continue;
                char *sub = xasprintf("%s/%s", path, de->d_name);
                struct stat st;
                if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
                        r = add_tree(w, wf, sub, depth + 1);
                free(sub);
        }
        closedir(dir);
        return r;
}

static bool inside(const char *path, const char *dir) {
        size_t n = strlen(dir);
        return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

int watch_start(Emulator *e, Watch **ret) {
        Watch *w = xcalloc(1, sizeof(*w));
        int r = 0;

        w->emu = e;
        w->n_fns = e->n_functions;
        w->fns = xcalloc(e->n_functions ? e->n_functions : 1, sizeof(WatchFn));
        for (size_t i = 0; i < e->n_functions && r >= 0; i++) {
                WatchFn *wf = &w->fns[i];
                const FunctionConfig *fc = e->functions[i].cfg;
                wf->fn = &e->functions[i];
                wf->w = w;
                uv_timer_init(e->loop, &wf->quiet);
                wf->quiet.data = wf;
                w->open_handles++;
                r = add_tree(w, wf, fc->code_dir, 0);
                if (r >= 0 && fc->bootstrap && !inside(fc->bootstrap, fc->code_dir)) {
                        char *dir = xstrdup(fc->bootstrap);
                        char *slash = strrchr(dir, '/');
                        *slash = '\0';
                        r = add_dir(w, wf, *dir ? dir : "/", slash + 1);
                        free(dir);
                }
        }
        if (r < 0) {
                watch_stop(w);
                return r;
        }
        *ret = w;
        return 0;
}

size_t watch_count(const Watch *w) {
        return w ? w->n_dirs : 0;
}

void watch_stop(Watch *w) {
        if (!w || w->closing)
                return;
        w->closing = true;
        for (size_t i = 0; i < w->n_fns; i++)
                if (w->fns[i].fn) /* its timer was initialised */
                        uv_close((uv_handle_t *) &w->fns[i].quiet, timer_closed);
        for (size_t i = 0; i < w->n_dirs; i++)
                uv_close((uv_handle_t *) &w->dirs[i]->ev, dir_closed);
        maybe_free(w);
}
