"""After the whole CI run (issue 13 §5): no log file, audit row or error body holds a secret,
a password hash, a session or CSRF token, an `Authorization` value or a refresh token.

scripts/test runs this last, after every suite of both builds, with DOCKHAND_TEST_ARTIFACTS
naming the directory where the suites' fixtures kept (helpers/secrets.py):
  secrets/*.jsonl  every secret, Basic credential, refresh, session and CSRF token registered
  logs/*           every dockhand server and CLI log and every PostgreSQL log
  audit/*.jsonl    every database's audit_log rows at the end of each pytest session
  bodies/*.jsonl   every 4xx/5xx body the helpers received
Each secret is looked for as is, JSON-escaped and percent-encoded (GNU grep -F: thousands
of fixed strings over the logs in seconds); a stored hash by its form (pbkdf2-sha256$N$…).
The self-test plants each kind of leak in a made-up directory and sees it found.
"""

import glob
import json
import os
import re
import subprocess
import tempfile
import urllib.parse

import pytest

HASH = re.compile(r"pbkdf2-sha256\$[0-9]+\$[^$\s\"]*\$[0-9a-f]{32,}")


def variants(s):
    """The spellings a secret could take in a log line, a JSON record or a URL."""
    out = {s, json.dumps(s)[1:-1], urllib.parse.quote(s, safe=""),
           urllib.parse.quote_plus(s, safe="")}
    return {v for v in out if v and "\n" not in v}


def load(artifacts):
    found = set()
    for path in glob.glob(os.path.join(artifacts, "secrets", "*.jsonl")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    found.add(json.loads(line))
    files = {kind: sorted(glob.glob(os.path.join(artifacts, kind, "*")))
             for kind in ("logs", "audit", "bodies")}
    return found, files


def scan(artifacts):
    """(secrets, {kind: files}, leaks): every place a secret or hash shows."""
    found, files = load(artifacts)
    texts = [p for kind in ("logs", "audit", "bodies") for p in files[kind]]
    leaks = []
    if found and texts:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".pat") as pat:
            for s in sorted(found):
                for v in variants(s):
                    pat.write(v + "\n")
            pat.flush()
            p = subprocess.run(["grep", "-F", "-a", "-n", "-H", "-f", pat.name, "--"] + texts,
                               capture_output=True, env=dict(os.environ, LC_ALL="C"))
            assert p.returncode in (0, 1), p.stderr.decode(errors="replace")
            leaks += [line[:400] for line in p.stdout.decode("utf-8", "replace").splitlines()]
    for path in texts:
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                if HASH.search(line):
                    leaks.append("%s:%d: a password hash: %s" % (path, n, line[:300]))
    return found, files, leaks


def test_self_test_planted_leaks_are_found():
    planted = {"logs": ("x.log", "2026 info GET /service/token?x=Planted%2BSecret%2F1 401\n"),
               "audit": ("a.jsonl", '{"detail": "Sess\\"ion-Token-0123456789"}\n'),
               "bodies": ("b.jsonl", json.dumps({"body": "pbkdf2-sha256$4096$abc$"
                                                         + "0" * 32}) + "\n")}
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "secrets"))
        with open(os.path.join(root, "secrets", "1.jsonl"), "w") as f:
            for s in ("Planted+Secret/1", 'Sess"ion-Token-0123456789', "Never-Seen-Secret-9"):
                f.write(json.dumps(s) + "\n")
        for kind, (name, text) in planted.items():
            os.makedirs(os.path.join(root, kind))
            with open(os.path.join(root, kind, name), "w") as f:
                f.write("clean line\n" + text)
        _, _, leaks = scan(root)
        assert len(leaks) == 3, leaks
        for kind, (name, _) in planted.items():
            assert any(os.path.join(kind, name) + ":2:" in l for l in leaks), (kind, leaks)
        # and without the plants, nothing
        for kind, (name, _) in planted.items():
            with open(os.path.join(root, kind, name), "w") as f:
                f.write("clean line\n")
        assert scan(root)[2] == []


def test_no_secret_in_any_log_audit_row_or_error_body():
    artifacts = os.environ.get("DOCKHAND_TEST_ARTIFACTS")
    if not artifacts:
        pytest.fail("DOCKHAND_TEST_ARTIFACTS is not set: scripts/test sets it for every suite "
                    "and runs this test last", pytrace=False)
    found, files, leaks = scan(artifacts)
    counts = {k: len(v) for k, v in files.items()}
    print("\n%d secrets; files: %s" % (len(found), counts))
    # not vacuous: the suites registered secrets and left logs, audit rows and error bodies
    assert len(found) >= 100, "only %d secrets registered" % len(found)
    assert counts["logs"] >= 10 and counts["audit"] >= 1 and counts["bodies"] >= 1, counts
    assert not leaks, "%d leaks:\n%s" % (len(leaks), "\n".join(leaks[:50]))
