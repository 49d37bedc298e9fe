/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* An intrusive doubly linked list, as in the kernel: embed a ListNode, find the owner with
 * container_of(). An unlinked node points at itself, so list_unlink() is idempotent. */
typedef struct ListNode {
        struct ListNode *prev, *next;
} ListNode;

static inline void list_init(ListNode *h) {
        h->prev = h->next = h;
}
static inline bool list_empty(const ListNode *h) {
        return h->next == h;
}
static inline bool list_linked(const ListNode *n) {
        return n->next && n->next != n;
}
void list_push_back(ListNode *h, ListNode *n);
void list_push_front(ListNode *h, ListNode *n);
void list_unlink(ListNode *n);

#define LIST_FOREACH(it, head) for ((it) = (head)->next; (it) != (head); (it) = (it)->next)
#define LIST_FOREACH_SAFE(it, tmp, head)                              \
        for ((it) = (head)->next, (tmp) = (it)->next; (it) != (head); \
             (it) = (tmp), (tmp) = (it)->next)
