"""Keys for messages and recipients, made by the follower before the rows are inserted.

A batch inserts new messages and their recipients together, and MySQL cannot return the keys
of a multi-row insert; so the follower makes them: milliseconds since 2020 (41 bits), the
follower's node number (8 bits: its position row's id) and a counter (14 bits). Two followers
with different node numbers never make the same key, and they still sort by time.
"""

from __future__ import annotations

import time

EPOCH_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z
NODE_BITS = 8
COUNTER_BITS = 14
COUNTER_MASK = (1 << COUNTER_BITS) - 1


class KeyMaker:
    def __init__(self, node: int) -> None:
        self.node = node & ((1 << NODE_BITS) - 1)
        self.last_ms = 0
        self.counter = 0

    def __call__(self) -> int:
        now = int(time.time() * 1000) - EPOCH_MS
        if now <= self.last_ms:
            now = self.last_ms
            self.counter = (self.counter + 1) & COUNTER_MASK
            if self.counter == 0:  # 16,384 keys in one millisecond: take the next one
                now += 1
        else:
            self.counter = 0
        self.last_ms = now
        return (((now << NODE_BITS) | self.node) << COUNTER_BITS) | self.counter
