"""Assertions about the token realm's answers (docs/design.md §3), shared by the suites."""

import calendar
import json
import re
import time

from helpers import jwtutil

UNAUTHORIZED_BODY = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication failed"}]}
ISSUED_AT = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?Z$")
CLOCK_SLACK = 5  # seconds between this process's clock reading and the server's


def show(r):
    return "%s %s\n%s\n%s" % (r.status_code, getattr(r, "reason", ""),
                              dict(r.headers), r.text[:2000])


def parse_issued_at(s):
    m = ISSUED_AT.match(s)
    assert m, "issued_at %r is not RFC 3339 UTC with Z" % s
    y, mo, d, h, mi, sec = (int(x) for x in m.groups()[:6])
    return calendar.timegm((y, mo, d, h, mi, sec, 0, 0, 0))


def jti_bits(jti):
    """Random bits a jti can hold, judged by its alphabet."""
    if re.fullmatch(r"[0-9a-fA-F]+", jti):
        return 4 * len(jti)
    if re.fullmatch(r"[A-Za-z0-9_-]+", jti):
        return 6 * len(jti)
    if re.fullmatch(r"[A-Za-z0-9+/]+=*", jti):
        return 6 * len(jti.rstrip("="))
    return 0


def token_ok(d, r, sub=None, refresh=None):
    """Checks a 200 token response from instance d completely and returns
    (body, claims). sub: expected subject ("" anonymous). refresh: True/False whether a
    refresh_token must be present/absent (None: not checked)."""
    before = time.time()
    assert r.status_code == 200, show(r)
    assert r.headers.get("Content-Type", "").split(";")[0].strip() == "application/json", show(r)
    # RFC 6749 §5.1: token responses must not be cached
    assert "no-store" in r.headers.get("Cache-Control", ""), show(r)
    body = r.json()
    assert isinstance(body.get("token"), str) and body["token"], body
    assert body.get("access_token") == body["token"], "token and access_token differ"
    assert type(body.get("expires_in")) is int and body["expires_in"] >= 60, body
    issued = parse_issued_at(body.get("issued_at", ""))
    assert abs(issued - before) <= CLOCK_SLACK, (body["issued_at"], before)
    if refresh is True:
        assert isinstance(body.get("refresh_token"), str) and body["refresh_token"], body
    elif refresh is False:
        assert "refresh_token" not in body, body
    header, claims = d.decode_full(body["token"])
    assert header["typ"] == "JWT" and set(header) == {"typ", "alg", "kid"}, header
    assert claims["iss"] == d.env["DOCKHAND_ISSUER"], claims
    assert claims["aud"] == d.env["DOCKHAND_SERVICE"], "aud must be one string: %r" % claims
    for k in ("exp", "nbf", "iat"):
        assert type(claims[k]) is int, (k, claims)
    assert claims["nbf"] <= claims["iat"] <= before + CLOCK_SLACK, claims
    assert claims["iat"] >= before - CLOCK_SLACK, claims
    assert claims["exp"] - claims["iat"] == body["expires_in"], (claims, body)
    assert abs(claims["iat"] - issued) <= 1, (claims, body)
    assert isinstance(claims["jti"], str) and jti_bits(claims["jti"]) >= 128, claims["jti"]
    assert isinstance(claims["access"], list), claims
    jwtutil.access_map(claims)  # well-formed, no repeats
    if sub is not None:
        assert claims["sub"] == sub, claims
    return body, claims


def unauthorized(d, r):
    """A 401 exactly as docs/design.md §3.5 "Failures" says; returns the raw body."""
    assert r.status_code == 401, show(r)
    realm = d.env.get("DOCKHAND_REALM", "http://%s/service/token" % d.env["DOCKHAND_LISTEN"])
    assert r.headers.get("WWW-Authenticate") == 'Basic realm="%s"' % realm, show(r)
    assert r.headers.get("Content-Type", "").split(";")[0].strip() == "application/json", show(r)
    assert json.loads(r.content) == UNAUTHORIZED_BODY, show(r)
    assert "token" not in r.json() and "access_token" not in r.content.decode(), show(r)
    return r.content


def error(r, status, code=None):
    """A JSON error reply {"errors":[{"code","message"}]} with this status."""
    assert r.status_code == status, show(r)
    try:
        body = json.loads(r.content)
    except ValueError:
        raise AssertionError("error body is not JSON: " + show(r))
    assert isinstance(body.get("errors"), list) and body["errors"], show(r)
    e = body["errors"][0]
    assert isinstance(e.get("code"), str) and isinstance(e.get("message"), str), show(r)
    if code is not None:
        assert e["code"] == code, show(r)
    assert "token" not in body, show(r)
    return body


def bad_request(r, codes=("BAD_REQUEST",)):
    """400 with the JSON error envelope; codes: the error codes accepted."""
    body = error(r, 400)
    assert body["errors"][0]["code"] in codes, show(r)
    return body


def bad_grant(r):
    """400 for a grant_type the realm does not support (OAuth's own name accepted)."""
    return bad_request(r, ("BAD_REQUEST", "UNSUPPORTED_GRANT_TYPE"))


def granted_scope_field(s):
    """The `scope` field of a POST answer → {(type, name): sorted actions}, items with
    no action left out (the field lists what was granted)."""
    out = {}
    for item in s.split():
        typ, _, rest = item.partition(":")
        name, _, actions = rest.rpartition(":")
        acts = sorted(a for a in actions.split(",") if a)
        if acts:
            out[(typ, name)] = acts
    return out
