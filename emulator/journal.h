/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "list.h"

/*
 * The async event journal under state_dir (DESIGN "Config", "Lifecycle"): an event is
 * accepted (202) only once its record is written; a record that it is done follows when it
 * succeeded or went to on_failure. At start the records left are replayed, so an event
 * accepted before a crash or SIGKILL is delivered at least once.
 *
 * Layout: state_dir/lock (flock, holds the owner's pid) and segments journal-<n>.lj, each a
 * sequence of records "LJ<type> <len:8 hex> <sum:8 hex>\n<body>\n". One write is in flight
 * at a time (records queued meanwhile go in the next write, together), so a torn record can
 * only be the last of a segment; after a failed write the journal moves to a new segment.
 * A segment is removed once every event it accepted is done and every older one is gone.
 */

typedef struct Invocation Invocation;
typedef struct Emulator Emulator;
typedef struct JournalSegment JournalSegment;

/* journal_accepted_cb - @status is 0 when the record is written, else a negative errno. */
typedef void (*journal_accepted_cb)(Invocation *inv, int status);

typedef struct Journal {
        uv_loop_t *loop;
        char *dir;
        bool private_dir; /* a temporary folder of its own: removed at close */
        int lock_fd;
        ListNode segments; /* oldest first; the last is current */
        unsigned next_id;
        ListNode queue;  /* records waiting for the writer */
        bool writing;    /* a write is in flight */
        uv_timer_t sync; /* fdatasync of written records, once a second */
        bool sync_init;
        bool syncing;
        bool closing;
        uint64_t written;  /* records written, for tests and logs */
        ListNode replayed; /* events read back at start, not yet submitted */
} Journal;

/*
 * journal_open() - creates @dir if needed, locks it, reads back the events left in it and
 * starts a fresh segment with them. @dir NULL: a private temporary folder (run, test).
 * On failure writes a reason into @err.
 * Return: 0, -EBUSY when another lemu holds the lock, or a negative errno.
 */
int journal_open(Journal *j, uv_loop_t *loop, const char *dir, char *err, size_t n);
/* journal_replay() - submits the events read back at open to @e's functions (once). */
void journal_replay(Journal *j, Emulator *e);
/* journal_accept() - writes @inv's record; @cb runs when it is written (or failed). */
void journal_accept(Journal *j, Invocation *inv, journal_accepted_cb cb);
/* journal_done() - @inv is done for good (delivered, or on_failure): its record can go. */
void journal_done(Journal *j, Invocation *inv);
/* journal_close() - waits for nothing: syncs what was written, unlocks, closes. The records
 * of events not done stay for the next start (a private folder is removed). */
void journal_close(Journal *j);
bool journal_is_open(const Journal *j);
