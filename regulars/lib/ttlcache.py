"""Per-process caches of per-business data for a few seconds, dropped at once on a local change.

Used for the hot path's reads (running programs, products, webhook endpoints). A value is
kept for at most `ttl` seconds; a change made in this process calls `forget` (from a
post_save/post_delete receiver, and again on commit), so the next read sees it at once, while a
change made by another process (another web worker) is seen within the TTL. Every `forget`
moves a generation counter, so a read racing an invalidation does not store stale rows. Cached
values are shared between threads: treat them as read-only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import transaction
from django.db.models.signals import post_delete, post_save


class BusinessCache[V]:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[int, tuple[float, int, V]] = {}
        self._generation = 0

    def get(self, business_id: int, load: Callable[[int], V]) -> V:
        """The cached value of the business, or `load(business_id)` (kept) when none is fresh."""
        now = time.monotonic()
        hit = self._entries.get(business_id)
        if hit is not None and hit[0] > now and hit[1] == self._generation:
            return hit[2]
        generation = self._generation
        value = load(business_id)
        if generation == self._generation:
            self._entries[business_id] = (now + self.ttl, generation, value)
        return value

    def forget(self, business_id: int | None = None) -> None:
        """Drop the value of one business (or of all): the next `get` loads it again."""
        self._generation += 1
        if business_id is None:
            self._entries.clear()
        else:
            self._entries.pop(business_id, None)

    def forget_now_and_on_commit(self, business_id: int) -> None:
        """For a save/delete receiver: drop it now, and again once committed (a read in another
        thread may have cached the old rows meanwhile)."""
        self.forget(business_id)
        transaction.on_commit(lambda: self.forget(business_id))

    def follow(self, model, uid: str) -> None:
        """Forget a business's value whenever one of its `model` rows is saved or deleted (now
        and on commit), and when the business itself is (a new business may reuse the id of
        one rolled back: SQLite does, in tests). `uid` names the receivers, once per cache."""

        def row_changed(sender, instance, **kwargs) -> None:
            self.forget_now_and_on_commit(instance.business_id)

        def business_changed(sender, instance, **kwargs) -> None:
            self.forget(instance.pk)

        for signal, when in ((post_save, "saved"), (post_delete, "deleted")):
            signal.connect(row_changed, sender=model, weak=False, dispatch_uid=f"{uid}.{when}")
            signal.connect(business_changed, sender="accounts.Business", weak=False,
                           dispatch_uid=f"{uid}.business_{when}")  # fmt: skip
