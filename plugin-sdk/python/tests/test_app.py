"""The component's side of `handle`, with stand-ins for the generated bindings."""

import io
import os
import sys
import tempfile
import textwrap
import unittest
from dataclasses import dataclass
from unittest import mock

import support  # noqa: F401  (puts the SDK on the path)
from hookhost_sdk import Reject, Retry, RetryAfter, _app, http, kv


class WitTypes:
    """Stand-ins for wit_world.imports.types."""

    @dataclass
    class HandlerError_Retry:
        value: str

    @dataclass
    class HandlerError_Reject:
        value: str

    @dataclass
    class HandlerError_RetryAfter:
        value: object

    @dataclass
    class RetryLater:
        message: str
        after_ms: int


class Err(Exception):
    def __init__(self, value):
        super().__init__(value)
        self.value = value


@dataclass
class WitEvent:
    id: str = "evt_1"
    tenant: str = "acme"
    endpoint: str = "ep"
    provider: str = "none"
    event_type: str = None
    received_at_ms: int = 0
    attempt: int = 1
    headers: list = ()
    body: bytes = b""


class Trapped(Exception):
    pass


class Custom(Exception):
    pass


def run(handle, sources=None):
    """The handler's outcome as the host sees it: None, the WIT error, or ("trap", stderr)."""
    stderr = io.StringIO()
    with mock.patch.object(_app, "_abort", side_effect=Trapped), mock.patch.object(sys, "stderr", stderr):
        try:
            _app.dispatcher(handle, WitTypes, Err, sources or {})(WitEvent())
        except Err as e:
            return e.value
        except Trapped:
            return ("trap", stderr.getvalue())
    return None


def author_module(source):
    """A module written to a file of its own, as the author's handler.py would be."""
    directory = tempfile.mkdtemp()
    path = os.path.join(directory, "handler.py")
    source = textwrap.dedent(source)
    with open(path, "w") as f:
        f.write(source)
    namespace = {"__name__": "handler"}
    exec(compile(source, path, "exec"), namespace)
    return namespace, {path: ("handler.py", source.splitlines())}


class Outcomes(unittest.TestCase):
    def test_returning_is_success(self):
        self.assertIsNone(run(lambda event: None))

    def test_retry_retry_after_and_reject_become_the_wit_error(self):
        def raising(error):
            def handle(event):
                raise error
            return handle

        self.assertEqual(run(raising(Retry("busy"))), WitTypes.HandlerError_Retry("busy"))
        self.assertEqual(run(raising(Reject("bad"))), WitTypes.HandlerError_Reject("bad"))
        self.assertEqual(
            run(raising(RetryAfter("later", 30))),
            WitTypes.HandlerError_RetryAfter(WitTypes.RetryLater("later", 30_000)),
        )

    def test_an_sdk_failure_that_escapes_handle_retries_or_rejects_as_in_rust(self):
        def status(code, retry_after=None):
            def handle(event):
                raise http.StatusError(code, "busy", retry_after)
            return handle

        self.assertEqual(
            run(status(503, 30)),
            WitTypes.HandlerError_RetryAfter(WitTypes.RetryLater("HTTP status 503: busy", 30_000)),
        )
        self.assertEqual(run(status(500)), WitTypes.HandlerError_Retry("HTTP status 500: busy"))
        self.assertEqual(run(status(410)), WitTypes.HandlerError_Reject("HTTP status 410: busy"))

        def full(event):
            raise kv.QuotaExceeded("10 MiB")

        self.assertEqual(run(full), WitTypes.HandlerError_Reject("storage quota exceeded: 10 MiB"))

    def test_the_handler_gets_the_event(self):
        seen = []
        run(seen.append)
        self.assertEqual((seen[0].id, seen[0].tenant, seen[0].body), ("evt_1", "acme", b""))


class Traps(unittest.TestCase):
    def test_any_other_exception_traps_after_its_type_message_and_traceback_in_the_authors_file(self):
        namespace, sources = author_module("""\
            def handle(event):
                helper()


            def helper():
                raise ValueError("boom from python")
            """)
        kind, stderr = run(namespace["handle"], sources)
        self.assertEqual(kind, "trap")
        self.assertEqual(
            stderr,
            "Uncaught ValueError: boom from python\n"
            "Traceback (most recent call last):\n"
            '  File "handler.py", line 2, in handle\n'
            "    helper()\n"
            '  File "handler.py", line 6, in helper\n'
            '    raise ValueError("boom from python")\n',
        )

    def test_the_type_is_qualified_outside_builtins_and_an_empty_message_is_left_out(self):
        def handle(event):
            raise Custom()

        _, stderr = run(handle)
        self.assertEqual(stderr.splitlines()[0], f"Uncaught {__name__}.Custom")

    def test_even_system_exit_traps(self):
        def handle(event):
            sys.exit(0)

        kind, stderr = run(handle)
        self.assertEqual((kind, stderr.splitlines()[0]), ("trap", "Uncaught SystemExit: 0"))

    def test_printed_output_is_flushed_before_the_report(self):
        written = []

        class Stdout(io.StringIO):
            def flush(self):
                written.append(self.getvalue())

        def handle(event):
            print("about to throw", end="")
            raise ValueError("boom")

        with mock.patch.object(sys, "stdout", Stdout()):
            kind, _ = run(handle)
        self.assertEqual((kind, written[0]), ("trap", "about to throw"))

    def test_a_handler_that_ran_out_of_memory_leaves_its_memory_to_the_report(self):
        hoard_freed = []

        class Hoard(list):
            def __del__(self):
                hoard_freed.append(True)

        def handle(event):
            hoard = Hoard([0])  # noqa: F841 (held by the frame until the report)
            raise MemoryError()

        def report(error, sources):
            self.assertEqual(hoard_freed, [])
            text = real_report(error, sources)
            self.assertEqual(hoard_freed, [True])
            return text

        real_report = _app.uncaught_report
        with mock.patch.object(_app, "uncaught_report", report):
            kind, stderr = run(handle)
        self.assertEqual(stderr.splitlines()[0], "Uncaught MemoryError")


if __name__ == "__main__":
    unittest.main()
