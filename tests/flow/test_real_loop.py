"""RealLoop specifics: file descriptor readiness and signals turned into callbacks."""

import os
import signal
import socket

import flow


def test_reader_callback_fires_when_data_arrives():
    loop = flow.RealLoop()
    a, b = socket.socketpair()
    a.setblocking(False)
    got = flow.Promise()

    def on_readable():
        got.send(a.recv(100))
        loop.remove_reader(a.fileno())

    @flow.actor
    def main():
        loop.add_reader(a.fileno(), on_readable)
        yield flow.delay(0.01)
        b.send(b"hello")
        return (yield flow.timeout(got.future, 5))

    try:
        assert loop.run(main) == b"hello"
    finally:
        a.close()
        b.close()
        loop.close()


def test_signal_becomes_a_callback_between_steps():
    loop = flow.RealLoop()
    seen = flow.Promise()
    loop.add_signal_handler(signal.SIGUSR1, lambda signum: seen.send(signum))

    @flow.actor
    def main():
        yield flow.delay(0.01)
        os.kill(os.getpid(), signal.SIGUSR1)
        return (yield flow.timeout(seen.future, 5))

    try:
        assert loop.run(main) == signal.SIGUSR1
    finally:
        loop.close()
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_stop_ends_run_without_the_main_future():
    loop = flow.RealLoop()

    @flow.actor
    def main():
        yield flow.delay(0.01)
        flow.current_loop().stop()
        yield flow.delay(60)

    try:
        loop.run(main)
    except flow.FlowError as exc:
        assert "stopped" in str(exc)
    else:
        raise AssertionError("run() returned a value for an unfinished main future")
    finally:
        loop.close()


def test_before_poll_callbacks_run_once_when_nothing_more_is_due():
    loop = flow.RealLoop()
    seen = []

    @flow.actor
    def main():
        loop.before_poll(lambda: seen.append("first"))
        loop.call_soon(lambda _arg: seen.append("due"))
        seen.append("registered")
        yield flow.delay(0.01)  # the loop waits: the callback has run before that
        seen.append("woken")
        # One registered by a callback runs before the wait too: the loop polls, not sleeps.
        loop.before_poll(lambda: loop.before_poll(lambda: seen.append("registered inside")))
        yield flow.delay(0.05)
        seen.append("woken again")
        loop.before_poll(lambda: seen.append("at the end"))  # run() flushes it before returning

    try:
        loop.run(main)
    finally:
        loop.close()
    assert seen == ["registered", "due", "first", "woken", "registered inside", "woken again",
                    "at the end"]

