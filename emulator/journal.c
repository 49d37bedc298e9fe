/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The async event journal (journal.h has the layout).
 *
 * Durability: a record counts as written when write(2) returned for all of it. It is then in
 * the kernel's page cache, which outlives lemu however lemu dies (SIGKILL, a crash, the OOM
 * killer): that is the promise behind a 202. Against a power cut or a kernel crash the
 * journal is fdatasync()ed once a second while records come in (off the loop, in libuv's
 * thread pool), so at most the last second of accepted events can be lost then; syncing
 * before every 202 would cost each event a disk flush.
 *
 * Never blocking the loop: records go out through uv_fs_write, one write at a time, the
 * records queued meanwhile gathered into the next one. Only journal_open() (before the loop
 * serves anything) and the rare start of a new segment touch the disk from the loop.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "codec.h"
#include "emulator.h"
#include "journal.h"
#include "macro.h"
#include "xalloc.h"

#define SEGMENT_MAX   (8u * 1024 * 1024) /* bytes before the journal moves to a new segment */
#define BATCH_MAX     256                /* records in one write */
#define HEADER_LEN    22                 /* "LJA 0000002a 1234abcd\n" */
#define SYNC_EVERY_MS 1000

struct JournalSegment {
        ListNode link;
        unsigned id;
        int fd;
        uint64_t size;
        unsigned live; /* accepted events not yet done */
        bool dirty;    /* written since the last fdatasync */
        bool broken;   /* a write failed: no more records here */
};

typedef struct JournalRecord {
        ListNode link;
        char *data;
        size_t len;
        Invocation *inv; /* an accept record's event, else NULL */
        journal_accepted_cb cb;
} JournalRecord;

typedef struct WriteBatch {
        uv_fs_t req;
        Journal *j;
        JournalSegment *seg;
        ListNode records;
        uv_buf_t bufs[BATCH_MAX];
        size_t total;
} WriteBatch;

/* An event read back at open, until journal_replay() hands it over. */
typedef struct Replayed {
        ListNode link;
        cJSON *meta;
        char *payload;
        size_t payload_len;
        JournalSegment *seg;
} Replayed;

static void write_next(Journal *j);

static uint32_t checksum(const char *p, size_t n) {
        uint32_t h = 2166136261u; /* FNV-1a */

        for (size_t i = 0; i < n; i++)
                h = (h ^ (unsigned char) p[i]) * 16777619u;
        return h;
}

static char *segment_path(const Journal *j, unsigned id) {
        return xasprintf("%s/journal-%08u.lj", j->dir, id);
}

static char *frame(char type, const char *body, size_t n, size_t *ret_len) {
        char *out = xmalloc(HEADER_LEN + n + 1);

        snprintf(out, HEADER_LEN + 1, "LJ%c %08x %08x\n", type, (unsigned) n, checksum(body, n));
        memcpy(out + HEADER_LEN, body, n);
        out[HEADER_LEN + n] = '\n';
        *ret_len = HEADER_LEN + n + 1;
        return out;
}

/* ---- segments ------------------------------------------------------------------------- */

static JournalSegment *current(Journal *j) {
        return list_empty(&j->segments) ? NULL
                                        : container_of(j->segments.prev, JournalSegment, link);
}

static int segment_new(Journal *j, JournalSegment **ret) {
        char *path = segment_path(j, j->next_id);
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        int r = fd < 0 ? -errno : 0;

        free(path);
        if (r < 0)
                return r;
        JournalSegment *s = xcalloc(1, sizeof(*s));
        s->id = j->next_id++;
        s->fd = fd;
        list_push_back(&j->segments, &s->link);
        *ret = s;
        return 0;
}

static void unlink_done(uv_fs_t *req) {
        uv_fs_req_cleanup(req);
        free(req);
}

/* Removes the oldest segments that hold no live event (never the current one): a younger
 * segment may hold the done records of an older one's events, so removal goes in order. */
static void prune(Journal *j) {
        while (!list_empty(&j->segments)) {
                JournalSegment *s = container_of(j->segments.next, JournalSegment, link);
                if (s == current(j) || s->live > 0 || j->writing || j->syncing)
                        return;
                list_unlink(&s->link);
                close(s->fd);
                char *path = segment_path(j, s->id);
                uv_fs_t *req = xmalloc(sizeof(*req));
                if (uv_fs_unlink(j->loop, req, path, unlink_done) < 0)
                        free(req);
                free(path);
                free(s);
        }
}

/* ---- the writer ---------------------------------------------------------------------- */

static void record_free(JournalRecord *r) {
        free(r->data);
        free(r);
}

static void finish_close(Journal *j);

/* A short write says no more than "not all of it": a full filesystem is the usual reason,
 * and the caller is told that rather than a vague EIO. */
static int short_write_error(int fd) {
        struct statvfs st;

        if (fstatvfs(fd, &st) == 0 && st.f_bavail * st.f_frsize < 65536)
                return -ENOSPC;
        return -EIO;
}

static void write_done(uv_fs_t *req) {
        WriteBatch *b = container_of(req, WriteBatch, req);
        Journal *j = b->j;
        ssize_t res = req->result;
        size_t ok_bytes = res > 0 ? (size_t) res : 0;
        int err = res < 0 ? (int) res : short_write_error(b->seg->fd);

        uv_fs_req_cleanup(req);
        j->writing = false;
        if (ok_bytes < b->total)
                b->seg->broken = true; /* a torn record can only be this segment's last */
        else
                b->seg->dirty = true;
        size_t at = 0;
        while (!list_empty(&b->records)) {
                JournalRecord *r = container_of(b->records.next, JournalRecord, link);
                list_unlink(&r->link);
                at += r->len;
                bool ok = at <= ok_bytes;
                if (ok)
                        j->written++;
                if (r->inv) {
                        if (!ok)
                                b->seg->live--;
                        else
                                r->inv->jseg = b->seg;
                        if (r->cb)
                                r->cb(r->inv, ok ? 0 : err);
                }
                record_free(r);
        }
        free(b);
        if (j->closing) {
                finish_close(j);
                return;
        }
        write_next(j);
        prune(j);
}

static void write_next(Journal *j) {
        JournalSegment *seg = current(j);

        if (j->writing || list_empty(&j->queue))
                return;
        if (!seg || seg->broken || seg->size >= SEGMENT_MAX) {
                JournalSegment *fresh;
                int r = segment_new(j, &fresh);
                if (r < 0) {
                        /* Nowhere to write: every waiting event is refused. */
                        while (!list_empty(&j->queue)) {
                                JournalRecord *rec =
                                        container_of(j->queue.next, JournalRecord, link);
                                list_unlink(&rec->link);
                                if (rec->inv && rec->cb)
                                        rec->cb(rec->inv, r);
                                record_free(rec);
                        }
                        return;
                }
                seg = fresh;
        }
        WriteBatch *b = xcalloc(1, sizeof(*b));
        unsigned n = 0;
        b->j = j;
        b->seg = seg;
        list_init(&b->records);
        while (!list_empty(&j->queue) && n < BATCH_MAX) {
                JournalRecord *r = container_of(j->queue.next, JournalRecord, link);
                list_unlink(&r->link);
                list_push_back(&b->records, &r->link);
                b->bufs[n++] = uv_buf_init(r->data, (unsigned) r->len);
                b->total += r->len;
                if (r->inv)
                        seg->live++;
        }
        seg->size += b->total;
        j->writing = true;
        int r = uv_fs_write(j->loop, &b->req, seg->fd, b->bufs, n, -1, write_done);
        if (r < 0) {
                b->req.result = r;
                write_done(&b->req);
        }
}

static void enqueue(Journal *j, JournalRecord *r) {
        list_push_back(&j->queue, &r->link);
        write_next(j);
}

/* ---- fdatasync, once a second -------------------------------------------------------- */

typedef struct SyncReq {
        uv_fs_t req;
        Journal *j;
} SyncReq;

static void sync_done(uv_fs_t *req) {
        SyncReq *s = container_of(req, SyncReq, req);
        Journal *j = s->j;

        uv_fs_req_cleanup(req);
        free(s);
        j->syncing = false;
        if (j->closing)
                finish_close(j);
        else
                prune(j);
}

static void sync_tick(uv_timer_t *t) {
        Journal *j = t->data;
        JournalSegment *seg = NULL;
        ListNode *it;

        LIST_FOREACH (it, &j->segments) {
                JournalSegment *s = container_of(it, JournalSegment, link);
                if (s->dirty) {
                        seg = s;
                        break;
                }
        }
        if (j->syncing || j->writing || !seg)
                return;
        seg->dirty = false;
        SyncReq *s = xmalloc(sizeof(*s));
        s->j = j;
        j->syncing = true;
        if (uv_fs_fdatasync(j->loop, &s->req, seg->fd, sync_done) < 0) {
                free(s);
                j->syncing = false;
        }
}

/* ---- reading back ------------------------------------------------------------------- */

static int read_file(const char *path, char **ret, size_t *ret_len) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        size_t cap = (size_t) st.st_size, len = 0;
        char *buf = xmalloc(cap + 1);
        while (len < cap) {
                ssize_t k = read(fd, buf + len, cap - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                len += (size_t) k;
        }
        close(fd);
        *ret = buf;
        *ret_len = len;
        return 0;
}

static unsigned hexval(const char *p, bool *ok) {
        unsigned v = 0;

        for (int i = 0; i < 8; i++) {
                char c = p[i];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (unsigned) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (unsigned) (c - 'a' + 10);
                else
                        *ok = false;
        }
        return v;
}

static Replayed *find_replayed(ListNode *list, const char *id, size_t n) {
        ListNode *it;

        LIST_FOREACH (it, list) {
                Replayed *r = container_of(it, Replayed, link);
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->meta, "id");
                if (cJSON_IsString(v) && strlen(v->valuestring) == n &&
                    memcmp(v->valuestring, id, n) == 0)
                        return r;
        }
        return NULL;
}

static void replayed_free(Replayed *r) {
        list_unlink(&r->link);
        cJSON_Delete(r->meta);
        free(r->payload);
        free(r);
}

/* Reads one segment's records into @pending (accepts added, done ones removed). A record
 * that is torn or fails its sum ends the segment: nothing after it was ever acknowledged. */
static void read_segment(const char *path, ListNode *pending) {
        char *buf = NULL;
        size_t len = 0, at = 0;

        if (read_file(path, &buf, &len) < 0)
                return;
        while (at + HEADER_LEN <= len) {
                const char *h = buf + at;
                bool ok =
                        h[0] == 'L' && h[1] == 'J' && h[3] == ' ' && h[12] == ' ' && h[21] == '\n';
                unsigned n = ok ? hexval(h + 4, &ok) : 0;
                unsigned sum = ok ? hexval(h + 13, &ok) : 0;
                if (!ok || at + HEADER_LEN + n + 1 > len || buf[at + HEADER_LEN + n] != '\n' ||
                    checksum(h + HEADER_LEN, n) != sum)
                        break;
                const char *body = h + HEADER_LEN;
                if (h[2] == 'A') {
                        const char *nl = memchr(body, '\n', n);
                        cJSON *meta = nl ? cJSON_ParseWithLength(body, (size_t) (nl - body)) : NULL;
                        if (meta) {
                                Replayed *r = xcalloc(1, sizeof(*r));
                                r->meta = meta;
                                r->payload_len = n - (size_t) (nl + 1 - body);
                                r->payload = xmemdup(nl + 1, r->payload_len);
                                list_push_back(pending, &r->link);
                        }
                } else if (h[2] == 'D') {
                        Replayed *r = find_replayed(pending, body, n);
                        if (r)
                                replayed_free(r);
                }
                at += HEADER_LEN + n + 1;
        }
        free(buf);
}

static int cmp_uint(const void *a, const void *b) {
        unsigned x = *(const unsigned *) a, y = *(const unsigned *) b;

        return x < y ? -1 : x > y;
}

/* Lists the segment ids in @dir, sorted. */
static unsigned *list_segments(const char *dir, size_t *ret_n) {
        DIR *d = opendir(dir);
        unsigned *ids = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;

        if (!d) {
                *ret_n = 0;
                return NULL;
        }
        while ((de = readdir(d))) {
                unsigned id;
                char tail[8];
                if (sscanf(de->d_name, "journal-%8u.l%2s", &id, tail) != 2 ||
                    strcmp(tail, "j") != 0)
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        ids = xrealloc(ids, cap * sizeof(*ids));
                }
                ids[n++] = id;
        }
        closedir(d);
        if (n)
                qsort(ids, n, sizeof(*ids), cmp_uint);
        *ret_n = n;
        return ids;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

static char *accept_body(const char *meta, const char *payload, size_t payload_len,
                         size_t *ret_len) {
        size_t ml = strlen(meta);
        char *body = xmalloc(ml + 1 + payload_len);

        memcpy(body, meta, ml);
        body[ml] = '\n';
        memcpy(body + ml + 1, payload, payload_len);
        *ret_len = ml + 1 + payload_len;
        return body;
}

/* At open: the events left in old segments go into a fresh one, which is synced before the
 * old ones are removed, so a crash in between loses nothing (it may replay twice). */
static int compact(Journal *j, const unsigned *ids, size_t n_ids) {
        ListNode pending;
        JournalSegment *seg;

        list_init(&pending);
        for (size_t i = 0; i < n_ids; i++) {
                char *path = segment_path(j, ids[i]);
                read_segment(path, &pending);
                free(path);
        }
        int r = segment_new(j, &seg);
        if (r < 0)
                goto out;
        ListNode *it;
        LIST_FOREACH (it, &pending) {
                Replayed *rp = container_of(it, Replayed, link);
                char *meta = cJSON_PrintUnformatted(rp->meta);
                size_t bl, fl;
                char *body = accept_body(meta, rp->payload, rp->payload_len, &bl);
                char *rec = frame('A', body, bl, &fl);
                r = write_all(seg->fd, rec, fl);
                cJSON_free(meta);
                free(body);
                free(rec);
                if (r < 0)
                        goto out;
                seg->size += fl;
                seg->live++;
                rp->seg = seg;
        }
        /* The events carried over are on disk before their old segments go. With none, the
         * old segments hold nothing to lose: no flush (it costs a start milliseconds). */
        if (!list_empty(&pending) && fdatasync(seg->fd) < 0) {
                r = -errno;
                goto out;
        }
        for (size_t i = 0; i < n_ids; i++) {
                char *path = segment_path(j, ids[i]);
                (void) unlink(path);
                free(path);
        }
        while (!list_empty(&pending)) {
                ListNode *first = pending.next;
                list_unlink(first);
                list_push_back(&j->replayed, first);
        }
        return 0;
out:
        while (!list_empty(&pending))
                replayed_free(container_of(pending.next, Replayed, link));
        return r;
}

/* ---- open and close ------------------------------------------------------------------- */

static int mkdir_p(const char *dir) {
        char *p = xstrdup(dir);
        int r = 0;

        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        r = -errno;
                *s = '/';
        }
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                r = -errno;
        else
                r = 0;
        free(p);
        return r;
}

static int lock_dir(Journal *j, char *err, size_t n) {
        char *path = xasprintf("%s/lock", j->dir);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        int r = fd < 0 ? -errno : 0;

        free(path);
        if (r < 0) {
                snprintf(err, n, "cannot open the lock of state_dir '%s': %s", j->dir,
                         strerror(-r));
                return r;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                r = errno == EWOULDBLOCK ? -EBUSY : -errno;
                char pid[32] = "";
                ssize_t k = pread(fd, pid, sizeof(pid) - 1, 0);
                if (k > 0)
                        pid[k] = '\0';
                pid[strcspn(pid, "\n")] = '\0';
                if (r == -EBUSY)
                        snprintf(err, n,
                                 "state_dir '%s' is in use by another lemu (pid %s); give each "
                                 "lemu serve its own state_dir",
                                 j->dir, pid[0] ? pid : "unknown");
                else
                        snprintf(err, n, "cannot lock state_dir '%s': %s", j->dir, strerror(-r));
                close(fd);
                return r;
        }
        char pid[32];
        int pl = snprintf(pid, sizeof(pid), "%d\n", (int) getpid());
        if (ftruncate(fd, 0) == 0)
                (void) !pwrite(fd, pid, (size_t) pl, 0);
        j->lock_fd = fd;
        return 0;
}

bool journal_is_open(const Journal *j) {
        return j->dir != NULL && !j->closing;
}

int journal_open(Journal *j, uv_loop_t *loop, const char *dir, char *err, size_t n) {
        int r;

        memset(j, 0, sizeof(*j));
        j->loop = loop;
        j->lock_fd = -1;
        list_init(&j->segments);
        list_init(&j->queue);
        list_init(&j->replayed);
        if (dir) {
                j->dir = xstrdup(dir);
                r = mkdir_p(dir);
                if (r < 0) {
                        snprintf(err, n, "cannot create state_dir '%s': %s", dir, strerror(-r));
                        goto fail;
                }
        } else {
                const char *tmp = getenv("TMPDIR");
                j->dir = xasprintf("%s/lemu-journal-XXXXXX", tmp && *tmp ? tmp : "/tmp");
                if (!mkdtemp(j->dir)) {
                        r = -errno;
                        snprintf(err, n, "cannot create a temporary journal folder: %s",
                                 strerror(-r));
                        goto fail;
                }
                j->private_dir = true;
        }
        r = lock_dir(j, err, n);
        if (r < 0)
                goto fail;
        size_t n_ids;
        unsigned *ids = list_segments(j->dir, &n_ids);
        j->next_id = n_ids ? ids[n_ids - 1] + 1 : 1;
        r = compact(j, ids, n_ids);
        free(ids);
        if (r < 0) {
                snprintf(err, n, "cannot write the journal in state_dir '%s': %s", j->dir,
                         strerror(-r));
                goto fail;
        }
        uv_timer_init(loop, &j->sync);
        j->sync.data = j;
        j->sync_init = true;
        uv_timer_start(&j->sync, sync_tick, SYNC_EVERY_MS, SYNC_EVERY_MS);
        uv_unref((uv_handle_t *) &j->sync);
        return 0;
fail:
        j->closing = true;
        finish_close(j);
        return r;
}

static void remove_private(Journal *j) {
        DIR *d = opendir(j->dir);
        struct dirent *de;

        if (d) {
                while ((de = readdir(d))) {
                        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                                continue;
                        char *p = xasprintf("%s/%s", j->dir, de->d_name);
                        (void) unlink(p);
                        free(p);
                }
                closedir(d);
        }
        (void) rmdir(j->dir);
}

static void finish_close(Journal *j) {
        if (j->writing || j->syncing)
                return; /* the callback comes back here */
        while (!list_empty(&j->queue)) {
                JournalRecord *rec = container_of(j->queue.next, JournalRecord, link);
                list_unlink(&rec->link);
                if (rec->inv && rec->cb)
                        rec->cb(rec->inv, -ECANCELED);
                record_free(rec);
        }
        while (!list_empty(&j->replayed))
                replayed_free(container_of(j->replayed.next, Replayed, link));
        while (!list_empty(&j->segments)) {
                JournalSegment *s = container_of(j->segments.next, JournalSegment, link);
                list_unlink(&s->link);
                if (s->dirty && !j->private_dir)
                        (void) fdatasync(s->fd);
                close(s->fd);
                free(s);
        }
        if (j->private_dir)
                remove_private(j);
        if (j->lock_fd >= 0)
                close(j->lock_fd);
        j->lock_fd = -1;
        free(j->dir);
        j->dir = NULL;
}

void journal_close(Journal *j) {
        if (!j->dir || j->closing) {
                return;
        }
        j->closing = true;
        if (j->sync_init) {
                j->sync_init = false;
                uv_close((uv_handle_t *) &j->sync, NULL);
        }
        finish_close(j);
}

/* ---- records -------------------------------------------------------------------------- */

void journal_accept(Journal *j, Invocation *inv, journal_accepted_cb cb) {
        cJSON *m = cJSON_CreateObject();

        cJSON_AddStringToObject(m, "id", inv->request_id);
        cJSON_AddStringToObject(m, "function", inv->fn->cfg->name);
        if (inv->qualifier)
                cJSON_AddStringToObject(m, "qualifier", inv->qualifier);
        if (inv->invoked_arn)
                cJSON_AddStringToObject(m, "arn", inv->invoked_arn);
        if (inv->client_context)
                cJSON_AddStringToObject(m, "client_context", inv->client_context);
        if (inv->trace_id)
                cJSON_AddStringToObject(m, "trace_id", inv->trace_id);
        cJSON_AddNumberToObject(m, "accepted_ms", (double) inv->accepted_ms);
        char *meta = cJSON_PrintUnformatted(m);
        cJSON_Delete(m);
        size_t bl;
        char *body = accept_body(meta, inv->payload.data ? inv->payload.data : "", inv->payload.len,
                                 &bl);
        cJSON_free(meta);
        JournalRecord *r = xcalloc(1, sizeof(*r));
        r->data = frame('A', body, bl, &r->len);
        free(body);
        r->inv = inv;
        r->cb = cb;
        enqueue(j, r);
}

static void done_record(Journal *j, JournalSegment *seg, const char *request_id) {
        seg->live--;
        if (!j->dir || j->closing)
                return;
        JournalRecord *r = xcalloc(1, sizeof(*r));
        r->data = frame('D', request_id, strlen(request_id), &r->len);
        enqueue(j, r);
        prune(j);
}

void journal_done(Journal *j, Invocation *inv) {
        JournalSegment *seg = inv->jseg;

        if (!seg)
                return;
        inv->jseg = NULL;
        done_record(j, seg, inv->request_id);
}

void journal_replay(Journal *j, Emulator *e) {
        while (!list_empty(&j->replayed)) {
                Replayed *rp = container_of(j->replayed.next, Replayed, link);
                const cJSON *m = rp->meta;
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
                const cJSON *fname = cJSON_GetObjectItemCaseSensitive(m, "function");
                Function *fn =
                        cJSON_IsString(fname) ? emu_find_function(e, fname->valuestring) : NULL;
                if (!fn || !cJSON_IsString(id) || strlen(id->valuestring) != 36) {
                        char line[300];
                        snprintf(line, sizeof(line),
                                 "lemu: the journal holds an event for function '%s', which the "
                                 "config no longer has; dropping it\n",
                                 cJSON_IsString(fname) ? fname->valuestring : "?");
                        logs_write(&e->logs, line, strlen(line));
                        done_record(j, rp->seg, cJSON_IsString(id) ? id->valuestring : "");
                        replayed_free(rp);
                        continue;
                }
                Invocation *inv = inv_new(fn, INVOKE_EVENT);
                const cJSON *v;
                memcpy(inv->request_id, id->valuestring, 37);
                buf_append(&inv->payload, rp->payload, rp->payload_len);
                if ((v = cJSON_GetObjectItemCaseSensitive(m, "qualifier")) && cJSON_IsString(v))
                        inv->qualifier = xstrdup(v->valuestring);
                if ((v = cJSON_GetObjectItemCaseSensitive(m, "arn")) && cJSON_IsString(v))
                        inv->invoked_arn = xstrdup(v->valuestring);
                else
                        inv->invoked_arn = xstrdup(fn->arn);
                if ((v = cJSON_GetObjectItemCaseSensitive(m, "client_context")) &&
                    cJSON_IsString(v))
                        inv->client_context = xstrdup(v->valuestring);
                if ((v = cJSON_GetObjectItemCaseSensitive(m, "trace_id")) && cJSON_IsString(v))
                        inv->trace_id = xstrdup(v->valuestring);
                if ((v = cJSON_GetObjectItemCaseSensitive(m, "accepted_ms")) && cJSON_IsNumber(v))
                        inv->accepted_ms = (int64_t) v->valuedouble;
                inv->jseg = rp->seg;
                replayed_free(rp);
                sched_submit(inv);
        }
}
