import threading

import pytest

from livegaze.ringbuffer import Closed, RingBuffer


def test_live_buffer_drops_oldest_and_counts():
    ring = RingBuffer(2)
    for i in range(5):
        ring.put(i)
    assert ring.dropped == 3
    assert [ring.get(0), ring.get(0)] == [3, 4]
    assert ring.get(timeout=0.01) is None


class WatchedCondition(threading.Condition):
    """A condition that says when a thread starts waiting on it (a handshake, not a sleep)."""

    def __init__(self):
        super().__init__()
        self.waiting = threading.Event()

    def wait(self, timeout=None):
        self.waiting.set()
        return super().wait(timeout)


def test_lossless_buffer_blocks_producer_until_consumed():
    """A full lossless buffer: the producer waits for space (nothing dropped, nothing added past
    the capacity) and its put completes once an item is taken."""
    ring = RingBuffer(1, lossless=True)
    ring._cond = WatchedCondition()
    ring.put("a")
    done = threading.Event()
    t = threading.Thread(target=lambda: (ring.put("b"), done.set()))
    t.start()
    assert ring._cond.waiting.wait(30)  # a hang guard: the producer has started waiting for space
    assert not done.is_set() and len(ring) == 1 and ring.put_count == 1
    assert ring.get(1) == "a"
    assert done.wait(30)
    assert ring.get(1) == "b" and ring.dropped == 0 and ring.put_count == 2
    t.join()


def test_closed_buffer_drains_then_raises():
    ring = RingBuffer(3)
    ring.put(1)
    ring.close()
    ring.put(2)  # ignored after close
    assert ring.get(0) == 1
    with pytest.raises(Closed):
        ring.get(0)


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        RingBuffer(0)


def test_abort_frees_a_waiting_producer_and_ends_the_consumer_at_once():
    """A lossless buffer whose consumer died: its producer must not wait for space forever."""
    ring = RingBuffer(1, lossless=True)
    ring.put("a")
    putting = threading.Thread(target=ring.put, args=("b",))
    putting.start()
    ring.abort()
    putting.join(30)  # a hang guard: the put returns as soon as the buffer is aborted
    assert not putting.is_alive()
    with pytest.raises(Closed):  # what was left is dropped, not drained
        ring.get(0)


def test_a_default_buffer_keeps_the_two_newest():
    """The live default: two frames, so a slow consumer is never more than two behind."""
    ring = RingBuffer()
    for i in range(4):
        ring.put(i)
    assert (len(ring), ring.dropped, ring.lossless) == (2, 2, False)
    assert [ring.get(0), ring.get(0)] == [2, 3]
