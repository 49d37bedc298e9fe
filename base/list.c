/* SPDX-License-Identifier: Apache-2.0 */
/* Intrusive list operations; see list.h. */
#include "list.h"

void list_push_back(ListNode *h, ListNode *n) {
        n->prev = h->prev;
        n->next = h;
        h->prev->next = n;
        h->prev = n;
}

void list_push_front(ListNode *h, ListNode *n) {
        n->next = h->next;
        n->prev = h;
        h->next->prev = n;
        h->next = n;
}

void list_unlink(ListNode *n) {
        if (!n->next)
                return;
        n->prev->next = n->next;
        n->next->prev = n->prev;
        n->prev = n->next = n;
}
