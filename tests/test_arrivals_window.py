"""The capture may run only so far ahead of the checks: what a paused producer waits for.

:meth:`Arrivals.hold_at_most` bounds the captures waiting to be judged when the checks release
what they judged (100,000 checks never hold 100,000 captures at once). The producer asks
:meth:`Arrivals._await_room` before each capture; here its ``stop`` callable tells whether it
would have waited (it is asked only then, and answering True ends the wait at once).
"""

from __future__ import annotations

import threading

from recovery_plugin.http.arrivals import Arrivals
from recovery_plugin.http.capture import Capture, Target
from recovery_plugin.redact import Redactor

TARGETS = [Target("matchup", "/m/{matchup_id}", f"id-{n}") for n in range(10)]


class _Batch(Arrivals):
    def _join(self) -> None:
        return None


def _batch(window: int | None) -> _Batch:
    batch = _Batch(TARGETS, base_url="http://service", redactor=Redactor())
    batch._ready(None)
    batch.hold_at_most(window)
    return batch


def _arrive(batch: Arrivals, target: Target) -> None:
    capture = Capture(name=target.name, url="u", path=target.path, matchup_id=target.matchup_id)
    batch._add(target.key, capture)


def _would_wait(batch: Arrivals) -> bool:
    asked: list[bool] = []

    def stop() -> bool:
        asked.append(True)
        return True

    batch._await_room(stop)
    return bool(asked)


def test_the_producer_pauses_when_the_window_is_full_and_goes_on_at_half() -> None:
    batch = _batch(4)
    for target in TARGETS[:3]:
        _arrive(batch, target)
        assert not _would_wait(batch)
    _arrive(batch, TARGETS[3])
    assert _would_wait(batch)  # four captures wait to be judged

    producer = threading.Thread(target=batch._await_room, args=(lambda: False,))
    producer.start()
    try:
        batch.release(TARGETS[0])
        producer.join(timeout=0.2)
        assert producer.is_alive()  # three: a paused producer waits for half the window
    finally:
        batch.release(TARGETS[1])  # two: it goes on
        producer.join(timeout=30)
    assert not producer.is_alive()
    assert not _would_wait(batch)


def test_a_released_capture_is_gone_and_the_rest_are_still_read() -> None:
    batch = _batch(4)
    for target in TARGETS[:2]:
        _arrive(batch, target)
    batch.release(TARGETS[0])

    assert batch.get(TARGETS[0]) is None  # asked for again, it is fetched anew
    capture = batch.get(TARGETS[1])
    assert capture is not None and capture.path == TARGETS[1].path
    assert batch.released
    assert list(batch.wait()) == [TARGETS[1].key]


def test_a_check_waiting_for_a_capture_not_yet_arrived_lifts_the_pause() -> None:
    batch = _batch(2)
    _arrive(batch, TARGETS[0])
    _arrive(batch, TARGETS[1])
    assert _would_wait(batch)

    got: list[Capture | None] = []
    reader = threading.Thread(target=lambda: got.append(batch.get(TARGETS[5])))
    reader.start()
    try:
        # The producer goes on (without a stop) because a reader waits: no deadlock even when
        # the checks run in another order than the captures arrive.
        batch._await_room(lambda: False)
        _arrive(batch, TARGETS[5])
    finally:
        reader.join(timeout=30)
    assert not reader.is_alive()
    assert got and got[0] is not None and got[0].matchup_id == "id-5"


def test_a_reader_of_every_capture_and_no_window_never_pause_it() -> None:
    batch = _batch(2)
    _arrive(batch, TARGETS[0])
    _arrive(batch, TARGETS[1])
    assert _would_wait(batch)
    batch.hold_at_most(None)  # the session keeps every capture (users' check files)
    assert not _would_wait(batch)

    batch.hold_at_most(2)
    assert _would_wait(batch)
    batch.wait()
    assert not _would_wait(batch)
