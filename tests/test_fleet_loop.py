"""The fleet's loop: timers in order, cancellation, soon-callbacks, sockets by readiness."""

import socket

from tr069client.fleet.loop import READ, Loop


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_timers_run_in_order_and_cancelled_ones_never():
    clock = Clock()
    loop = Loop(clock)
    ran = []
    loop.call_at(102, lambda: ran.append("b"))
    loop.call_at(101, lambda: ran.append("a"))
    loop.cancel(loop.call_at(101.5, lambda: ran.append("never")))
    loop.call_soon(lambda: ran.append("soon"))
    clock.now = 103
    loop.run_once(0)
    assert ran == ["soon", "a", "b"] and loop.next_timer() is None


def test_a_timer_that_rearms_itself_for_now_waits_for_the_next_turn():
    clock = Clock()
    loop = Loop(clock)
    runs = []

    def again():
        runs.append(clock.now)
        loop.call_at(clock.now, again)
    loop.call_at(100, again)
    loop.run_once(0)
    loop.run_once(0)
    assert runs == [100.0, 100.0]


def test_sockets_are_served_when_ready():
    loop = Loop()
    a, b = socket.socketpair()
    got = []
    loop.watch(a, READ, lambda mask: got.append(a.recv(10)))
    loop.run_once(0)
    assert got == []
    b.send(b"hi")
    loop.run_once(1)
    assert got == [b"hi"]
    loop.unwatch(a)
    assert loop.watched == 0
    a.close()
    b.close()
    loop.close()
