"""The requests github-to-chat-py sends for the Rust plugin's fixtures: the same bytes.

Run from the repository: python3 -m unittest discover -s plugins/github-to-chat-py/tests
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)
sys.path[:0] = [PROJECT, os.path.join(PROJECT, "..", "..", "plugin-sdk", "python")]

import handler  # noqa: E402
from hookhost_sdk import Event, Reject, http  # noqa: E402
from hookhost_sdk.testing import FakeHost  # noqa: E402

FIXTURES = os.path.join(PROJECT, "..", "github-to-chat", "fixtures")
CHAT_URL = "https://chat.example/hook"


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def posted(event_type, body, **host):
    """The one request the handler sends, and its log lines."""
    with FakeHost(config={"chat_url": CHAT_URL}, **host) as fake:
        handler.handle(Event(provider="github", event_type=event_type, body=body))
    (request,) = fake.requests
    return request, fake.logs


def chat_body(text):
    return ('{"text":"%s","content":"%s"}' % (text, text)).encode()


class Fixtures(unittest.TestCase):
    def assert_posts(self, event_type, text):
        request, logs = posted(event_type, fixture(f"{event_type}.json"))
        self.assertEqual((request.method, request.url), ("POST", CHAT_URL))
        self.assertEqual(request.headers, [("content-type", "application/json")])
        self.assertEqual(request.body, chat_body(text))
        self.assertEqual(logs, [("info", f"posted: {text}")])

    def test_issues(self):
        self.assert_posts("issues", "[octo-org/hello-world] octocat opened issue #1347: Found a bug "
                          "https://github.com/octo-org/hello-world/issues/1347")

    def test_pull_request(self):
        self.assert_posts("pull_request", "[octo-org/hello-world] hubot merged pull request #1348: "
                          "Fix the login redirect loop https://github.com/octo-org/hello-world/pull/1348")

    def test_push(self):
        self.assert_posts("push", "[octo-org/hello-world] octocat pushed 2 commits to main: "
                          "https://github.com/octo-org/hello-world/compare/6113728f27ae...0d1a26e67d8f")


class Rules(unittest.TestCase):
    def test_closed_without_merge_and_a_single_commit(self):
        pr = (b'{"action":"closed","number":7,"pull_request":{"number":7,"title":"T","html_url":"u",'
              b'"merged":false},"repository":{"full_name":"o/r"},"sender":{"login":"me"}}')
        self.assertEqual(posted("pull_request", pr)[0].body, chat_body("[o/r] me closed pull request #7: T u"))
        push = (b'{"ref":"refs/tags/v1","compare":"c","commits":[{}],"pusher":{"name":"me"},'
                b'"repository":{"full_name":"o/r"}}')
        self.assertEqual(posted("push", push)[0].body, chat_body("[o/r] me pushed 1 commit to refs/tags/v1: c"))

    def test_the_type_falls_back_to_the_header(self):
        with FakeHost(config={"chat_url": CHAT_URL}) as fake:
            handler.handle(Event(headers=[("x-github-event", "push")], body=fixture("push.json")))
        self.assertEqual(len(fake.requests), 1)

    def test_other_events_are_ignored(self):
        with FakeHost(config={"chat_url": CHAT_URL}) as fake:
            handler.handle(Event(event_type="ping", body=b'{"zen":"Keep it logically awesome."}'))
        self.assertEqual((fake.requests, fake.logs), ([], [("info", "ignoring ping")]))

    def test_a_payload_missing_a_field_or_a_chat_url_is_rejected(self):
        with FakeHost(config={"chat_url": CHAT_URL}), self.assertRaisesRegex(Reject, "missing field"):
            handler.handle(Event(event_type="issues", body=b'{"action":"opened","issue":{"title":"t"}}'))
        with FakeHost(), self.assertRaisesRegex(Reject, "^chat_url not set$"):
            handler.handle(Event(event_type="issues", body=fixture("issues.json")))

    def test_a_failing_chat_follows_the_sdk_mapping(self):
        def busy(request):
            return http.Response(503, [("retry-after", "7")], b"slow down")

        with FakeHost(config={"chat_url": CHAT_URL}, respond=busy), self.assertRaises(http.StatusError) as caught:
            handler.handle(Event(event_type="issues", body=fixture("issues.json")))
        self.assertEqual(caught.exception.handler_error().after_ms, 7000)


if __name__ == "__main__":
    unittest.main()
