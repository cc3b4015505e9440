"""Posts GitHub `issues`, `pull_request` and `push` events to a chat webhook
(Slack reads `text`, Discord reads `content`): the Python twin of
plugins/github-to-chat, sending the same requests.

See README.md for the configuration and the exact request.
"""

from hookhost_sdk import Event, Reject, config, http, log


def handle(event: Event) -> None:
    event_type = event.event_type
    if event_type is None:
        event_type = event.header("x-github-event") or "unknown"
    text = message(event_type, event)
    if text is None:
        log.info(f"ignoring {event_type}")
        return
    url = config.get("chat_url")
    if url is None:
        raise Reject("chat_url not set")
    http.post_json(url, {"text": text, "content": text})
    log.info(f"posted: {text}")


def message(event_type: str, event: Event):
    """The line to post for this event, or None for a type this handler does not announce."""
    if event_type == "issues":
        e = event.json()
        return (
            f"[{_str(e, 'repository', 'full_name')}] {_str(e, 'sender', 'login')} "
            f"{_str(e, 'action')} issue #{_uint(e, 'issue', 'number')}: "
            f"{_str(e, 'issue', 'title')} {_str(e, 'issue', 'html_url')}"
        )
    if event_type == "pull_request":
        e = event.json()
        action = _str(e, "action")
        merged = _field(e, "pull_request", "merged", kind=(bool, type(None)), default=None)
        verb = "merged" if action == "closed" and merged is True else action
        return (
            f"[{_str(e, 'repository', 'full_name')}] {_str(e, 'sender', 'login')} "
            f"{verb} pull request #{_uint(e, 'pull_request', 'number')}: "
            f"{_str(e, 'pull_request', 'title')} {_str(e, 'pull_request', 'html_url')}"
        )
    if event_type == "push":
        e = event.json()
        git_ref = _str(e, "ref")
        n = len(_field(e, "commits", kind=list))
        noun = "commit" if n == 1 else "commits"
        branch = git_ref.removeprefix("refs/heads/")
        return (
            f"[{_str(e, 'repository', 'full_name')}] {_str(e, 'pusher', 'name')} "
            f"pushed {n} {noun} to {branch}: {_str(e, 'compare')}"
        )
    return None


_MISSING = object()


def _field(payload, *path, kind, default=_MISSING):
    """The value at `path`, of type `kind`; a payload without it is rejected
    (it will not have it on the next attempt either)."""
    value = payload
    for key in path:
        value = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
        if value is _MISSING:
            if default is not _MISSING:
                return default
            raise Reject(f"event body is not the expected JSON: missing field {'.'.join(path)}")
    if not isinstance(value, kind):
        raise Reject(f"event body is not the expected JSON: invalid field {'.'.join(path)}")
    return value


def _str(payload, *path):
    return _field(payload, *path, kind=str)


def _uint(payload, *path):
    value = _field(payload, *path, kind=int)
    if isinstance(value, bool) or value < 0:
        raise Reject(f"event body is not the expected JSON: invalid field {'.'.join(path)}")
    return value
