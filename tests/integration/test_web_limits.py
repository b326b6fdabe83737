"""GET /c/limits: the web page's limits come from the server (issue 14). The answer is made
of the C constants the server checks with, is served without a session or the database,
holds nothing secret, and says what the admin API really accepts; the page's JavaScript
holds no copy of any of them."""

import glob
import os
import re

import pytest
import requests

from helpers import api as A
from helpers import http

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEADERS = os.path.join(ROOT, "include", "dockhand")
WEB = os.path.join(ROOT, "web")


def constants():
    """Every `#define NAME 123` and `#define NAME "text"` of include/dockhand/*.h, by name
    (so the test follows a constant when it moves to another header)."""
    out = {}
    for path in sorted(glob.glob(os.path.join(HEADERS, "*.h"))):
        for line in open(path, encoding="utf-8"):
            m = re.match(r'#define\s+([A-Z][A-Z0-9_]*)\s+(-?\d+|"(?:[^"\\]|\\.)*")(?:\s|$)', line)
            if not m:
                continue
            name, value = m.groups()
            assert name not in out, "%s is defined twice" % name
            out[name] = int(value) if value[0] != '"' else value[1:-1].replace("\\\\", "\\")
    return out


def expected():
    c = constants()
    return {
        "name": {"max_length": c["NAME_MAX_LEN"], "pattern": c["NAME_PATTERN"]},
        "name_prefix": {"max_length": c["PREFIX_MAX_LEN"]},
        "description": {"max_bytes": c["ROBOT_DESCRIPTION_MAX"]},
        "duration": {"min": 1, "max": c["ROBOT_DURATION_MAX"], "never": -1},
        "secret": {"min_bytes": c["SECRET_MANUAL_MIN"], "max_bytes": c["SECRET_MANUAL_MAX"],
                   "classes": ["upper", "lower", "digit"]},
        "token_expiration": {"min": 1, "max": c["SETTINGS_TOKEN_EXPIRATION_MAX"]},
    }


def limits(d, **kw):
    r = d.get("/c/limits", **kw)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    return r.json()


def test_the_answer_is_the_c_constants(dockhand):
    assert limits(dockhand) == expected()


def test_the_documented_values():
    """The README's tables (Limits, Command line) say the same."""
    e = expected()
    assert (e["name"]["max_length"], e["name_prefix"]["max_length"]) == (255, 64)
    assert e["description"]["max_bytes"] == 1024 and e["duration"]["max"] == 36500
    assert (e["secret"]["min_bytes"], e["secret"]["max_bytes"]) == (8, 128)
    assert e["token_expiration"]["max"] == 1440


def test_no_session_no_cookie_nothing_secret(dockhand):
    r = requests.get(dockhand.url + "/c/limits", timeout=10)
    assert r.status_code == 200
    assert "Set-Cookie" not in r.headers
    assert r.headers.get("X-Request-Id")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    text = r.text.lower()
    for word in ("secret_hash", "salt", "password", "token\":", "key", "pbkdf2", "iter"):
        assert word not in text, word


def test_head_and_other_methods(dockhand):
    r = requests.head(dockhand.url + "/c/limits", timeout=10)
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Content-Length"] == str(len(dockhand.get("/c/limits").content))
    raw = http.request(dockhand.port, "HEAD", "/c/limits")
    assert raw.raw.endswith(b"\r\n\r\n"), raw.raw[-80:]
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r = requests.request(method, dockhand.url + "/c/limits", data=b"x", timeout=10)
        assert r.status_code == 405, (method, r.status_code)
        assert r.headers["Allow"] == "GET, HEAD"
    for path in ("/c/limits/", "/c/limits/x", "/c/limit"):
        assert dockhand.get(path).status_code == 404, path


# ---- the limits are what the admin API enforces, at each edge -----------------------------

@pytest.fixture(scope="module")
def admin(dockhand):
    a = A.ensure_admin(dockhand)
    a.create_project("lim")
    return a


def create(admin, name, **fields):
    body = A.robot_body(name, A.perm("lim", "pull"), **fields)
    return admin.post("/robots", json=body)


def test_name_length_and_pattern(admin, dockhand):
    lim = limits(dockhand)["name"]
    n = lim["max_length"]
    assert create(admin, "a" * n).status_code == 201
    A.bad_request(create(admin, "b" * (n + 1)))
    pattern = re.compile(lim["pattern"])
    for name in ("ok.x-1_2", "0", "Upper", "a..b", "-a", "a-", "a b", "a+b", "a$b"):
        r = create(admin, name)
        assert (r.status_code == 201) == bool(pattern.fullmatch(name)), (name, r.status_code)


def test_description_and_duration(admin, dockhand):
    lim = limits(dockhand)
    d = lim["description"]["max_bytes"]
    assert create(admin, "desc-ok", description="é" * (d // 2)).status_code == 201
    A.bad_request(create(admin, "desc-long", description="x" * (d + 1)))
    dur = lim["duration"]
    for ok in (dur["min"], dur["max"], dur["never"]):
        assert create(admin, "dur%d" % (ok + 1), duration=ok).status_code == 201, ok
    for bad in (dur["min"] - 1, dur["max"] + 1, dur["never"] - 1):
        A.bad_request(create(admin, "dur-bad", duration=bad))


def test_secret_policy(admin, dockhand):
    lim = limits(dockhand)["secret"]
    robot = admin.create_robot("sec", A.perm("lim", "pull"))
    lo, hi = lim["min_bytes"], lim["max_bytes"]

    def patch(secret):
        return admin.patch("/robots/%d" % robot["id"], json={"secret": secret})

    example = {"upper": "A", "lower": "b", "digit": "3"}
    assert set(lim["classes"]) == set(example)
    good = "".join(example[c] for c in lim["classes"])
    assert patch(good + "x" * (lo - len(good))).status_code == 200
    assert patch(good + "x" * (hi - len(good))).status_code == 200
    A.bad_request(patch(good + "x" * (lo - 1 - len(good))))
    A.bad_request(patch(good + "x" * (hi + 1 - len(good))))
    A.bad_request(patch(good + "é" * ((hi - len(good)) // 2 + 1)))  # bytes, not characters
    for missing in lim["classes"]:
        s = "".join(example[c] for c in lim["classes"] if c != missing) * lo
        A.bad_request(patch(s[:hi]))


def test_settings(admin, dockhand):
    lim = limits(dockhand)
    before = admin.config()
    try:
        admin.set_config(robot_name_prefix="p" * lim["name_prefix"]["max_length"])
        A.bad_request(admin.put("/configurations", json={
            "robot_name_prefix": "p" * (lim["name_prefix"]["max_length"] + 1)}))
        t = lim["token_expiration"]
        admin.set_config(token_expiration=t["max"])
        admin.set_config(token_expiration=t["min"])
        for bad in (t["min"] - 1, t["max"] + 1):
            A.bad_request(admin.put("/configurations", json={"token_expiration": bad}))
        admin.set_config(robot_token_duration=lim["duration"]["max"])
        A.bad_request(admin.put("/configurations",
                                json={"robot_token_duration": lim["duration"]["max"] + 1}))
    finally:
        admin.set_config(**{k: v["value"] for k, v in before.items()})


# ---- the page holds no copy -----------------------------------------------------------------

def test_the_page_holds_no_copy_of_a_limit():
    """Every value above 8 of /c/limits, and the name rule, appear nowhere in web/*.js: the
    page takes them from the server (web/limits.js). A literal copy fails here."""
    e = expected()
    numbers = {v for section in e.values() for v in section.values()
               if isinstance(v, int) and abs(v) > 8}
    assert numbers >= {255, 64, 1024, 36500, 128, 1440}, numbers
    for path in sorted(glob.glob(os.path.join(WEB, "*.js"))):
        text = open(path, encoding="utf-8").read()
        name = os.path.basename(path)
        for n in numbers:
            for form in {str(n), "{:,}".format(n)}:  # 1024 and 1,024
                assert not re.search(r"(?<![\w.])%s(?!\w)" % re.escape(form), text), \
                    "%s holds a copy of the limit %s" % (name, form)
        assert e["name"]["pattern"] not in text and "[a-z0-9]+" not in text, \
            "%s holds a copy of the name rule" % name


# Last: stopping the shared PostgreSQL makes the module's instance reconnect.
def test_served_without_the_database(dockhand_factory):
    d = dockhand_factory()
    d.pg.stop()
    try:
        assert limits(d, timeout=5) == expected()
    finally:
        d.pg.start()
