"""Test plugin: one attack on the host's bounds, chosen by config `attack`,
for the hostile-tenant suite; the Python counterpart of tests/plugins/hostile
and its siblings. Each ignores the host's refusals and goes on, as an attacker
would, then says what it got."""

import os

from hookhost_sdk import Event, Reject, Retry, RetryAfter, config, http, log

KIB = 1024
MIB = 1024 * KIB


def handle(event: Event) -> None:
    attack = config.get("attack")
    if attack not in ATTACKS:
        raise Reject(f"unknown attack: {attack}")
    ATTACKS[attack]()


def spin():
    """Loops forever without calling the host: the deadline must stop it."""
    n = 0
    while True:
        n += 1


def memory():
    """Allocates and fills 1 MiB blocks, keeping them all: the memory limit must stop it."""
    hoard = []
    while True:
        hoard.append(b"\xa5" * MIB)


def log_flood():
    """Logs 10 MiB in 1 KiB lines and prints 1 MiB, far past the log budget, and succeeds."""
    filler = "x" * (KIB - 7)
    for i in range(10 * KIB):
        log.info(f"{i:06} {filler}")
    line = "y" * (KIB - 1)
    for _ in range(KIB):
        print(line)


def metadata():
    """Asks the cloud metadata service and an unallowed loopback port, and says what came back."""
    port = config.get("port", "9")
    for url in ("http://169.254.169.254/latest/meta-data/", f"http://127.0.0.1:{port}/"):
        try:
            log.info(f"{url}: status {http.send('GET', url).status}")
        except http.Error as e:
            log.info(f"{url}: {e}")


def throw():
    """Raises from a nested function, after a print that must reach the log."""
    print("about to throw")

    def nested():
        raise ValueError("boom from python")

    nested()


def retry():
    raise Retry("retry from python")


def retry_after():
    raise RetryAfter("retry after from python", 30)


def reject():
    raise Reject("reject from python")


def env():
    """Reads the environment, which must be empty, and says what it found."""
    log.info(f"env: {sorted(os.environ)}")


def fs():
    """Reads /etc/passwd and lists /, which must both fail, and says what it got."""
    try:
        with open("/etc/passwd") as f:
            log.info(f"fs read /etc/passwd: {len(f.read())} characters")
    except OSError as e:
        log.info(f"fs read /etc/passwd: {type(e).__name__}: {e}")
    try:
        log.info(f"fs list /: {os.listdir('/')}")
    except OSError as e:
        log.info(f"fs list /: {type(e).__name__}: {e}")


ATTACKS = {
    "spin": spin,
    "memory": memory,
    "log-flood": log_flood,
    "metadata": metadata,
    "throw": throw,
    "retry": retry,
    "retry-after": retry_after,
    "reject": reject,
    "env": env,
    "fs": fs,
}
