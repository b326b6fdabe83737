"""The web page's files, embedded at build time and served by every worker (issue 5):
GET/HEAD / and /ui/<path>, content types, Cache-Control + ETag + 304, the security
headers on every answer, 404 for unknown files and any traversal, 405 for other methods,
and no database needed."""

import hashlib
import os
import re

import pytest
import requests

from helpers import http

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WEB = os.path.join(ROOT, "web")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
}


def web_files():
    """The files web/meson.build lists, as paths relative to web/."""
    text = open(os.path.join(WEB, "meson.build")).read()
    m = re.search(r"web_files\s*=\s*files\((.*?)\)", text, re.S)
    assert m, "web/meson.build defines no web_files = files(...)"
    names = re.findall(r"'([^']+)'", m.group(1))
    assert {"index.html", "app.js", "style.css"} <= set(names), names
    return names


def content(name):
    with open(os.path.join(WEB, name), "rb") as f:
        return f.read()


def check_security_headers(r):
    h = r.headers
    assert h.get("Content-Security-Policy") == CSP, h
    assert h.get("X-Content-Type-Options") == "nosniff", h
    assert h.get("Referrer-Policy") == "no-referrer", h
    assert h.get("X-Frame-Options") == "DENY", h
    assert "unsafe-inline" not in h["Content-Security-Policy"]


def check_file(r, name, body=True):
    assert r.status_code == 200, (name, r.status_code, r.text[:300])
    ext = os.path.splitext(name)[1]
    assert r.headers["Content-Type"] == TYPES[ext], (name, r.headers)
    assert r.headers["Cache-Control"] == "no-cache", r.headers
    data = content(name)
    assert r.headers["ETag"] == '"%s"' % hashlib.sha256(data).hexdigest(), r.headers
    check_security_headers(r)
    assert r.headers.get("X-Request-Id")
    if body:
        assert r.content == data, name


@pytest.mark.parametrize("name", web_files())
def test_every_listed_file_is_served_with_its_type(dockhand, name):
    r = dockhand.get("/ui/" + name)
    check_file(r, name)


def test_root_is_the_index_page(dockhand):
    r = dockhand.get("/")
    check_file(r, "index.html")
    assert r.content == dockhand.get("/ui/index.html").content


def test_the_placeholder_page_loads_its_script_as_a_module_and_no_inline_script():
    page = content("index.html").decode()
    assert re.search(r'<script[^>]*type="module"[^>]*src="/ui/app\.js"', page) or \
        re.search(r'<script[^>]*src="/ui/app\.js"[^>]*type="module"', page), page
    assert 'href="/ui/style.css"' in page
    for m in re.finditer(r"<script([^>]*)>(.*?)</script>", page, re.S):
        assert "src=" in m.group(1) and not m.group(2).strip(), "inline script: %r" % m.group(0)
    assert not re.search(r"\son[a-z]+\s*=", page), "inline event handler"
    assert "<style" not in page and "style=" not in page, "inline style"


@pytest.mark.parametrize("path,name", [("/", "index.html"), ("/ui/app.js", "app.js"),
                                       ("/ui/style.css", "style.css")])
def test_head_sends_the_headers_and_no_body(dockhand, path, name):
    r = requests.head(dockhand.url + path, timeout=10)
    check_file(r, name, body=False)
    assert r.content == b""
    assert r.headers.get("Content-Length") == str(len(content(name))), r.headers
    raw = http.request(dockhand.port, "HEAD", path)
    assert raw.status_code == 200
    assert raw.raw.endswith(b"\r\n\r\n"), "a body followed the HEAD answer: %r" % raw.raw[-80:]


@pytest.mark.parametrize("path,name", [("/", "index.html"), ("/ui/app.js", "app.js"),
                                       ("/ui/style.css", "style.css")])
def test_if_none_match_gives_304(dockhand, path, name):
    etag = dockhand.get(path).headers["ETag"]
    for inm in (etag, "W/" + etag, '"nope", ' + etag, "*"):
        r = dockhand.get(path, headers={"If-None-Match": inm})
        assert r.status_code == 304, (inm, r.status_code)
        assert r.content == b""
        assert r.headers["ETag"] == etag
        assert r.headers["Cache-Control"] == "no-cache"
        check_security_headers(r)
    r = requests.head(dockhand.url + path, headers={"If-None-Match": etag}, timeout=10)
    assert r.status_code == 304
    for other in ('"0000"', etag[:-2] + '"', "garbage", etag.strip('"')):
        r = dockhand.get(path, headers={"If-None-Match": other})
        check_file(r, name)


def test_etags_differ_between_files(dockhand):
    tags = {dockhand.get("/ui/" + n).headers["ETag"] for n in web_files()}
    assert len(tags) == len(web_files())


@pytest.mark.parametrize("path", [
    "/ui/nothing.js", "/ui/", "/ui", "/ui/app.js/", "/ui/APP.JS", "/index.html",
    "/app.js", "/ui//app.js", "/ui/./app.js", "/ui/../ui/app.js", "/ui/x/../app.js",
    "/ui/%2e%2e/ui/app.js", "/ui/%2E%2E/README.md", "/ui/..%2fREADME.md",
    "/ui/..%2FREADME.md", "/ui/%2fetc%2fpasswd", "/ui/..%5cREADME.md", "/ui/..\\README.md",
    "/ui/app%2ejs", "/ui/%61pp.js", "/ui/meson.build", "/ui/../README.md",
    "/ui/../../../../etc/passwd", "/ui/../src/web.c",
])
def test_unknown_files_and_traversal_are_404(dockhand, path):
    r = http.request(dockhand.port, "GET", path)
    assert r is not None and r.status_code == 404, (path, r)
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    assert r.json()["errors"][0]["code"] == "NOT_FOUND"
    if path.startswith("/ui"):
        check_security_headers(r)
    assert b"root:" not in r.content and b"dockhand" not in r.content.lower()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/", "/ui/app.js", "/ui/index.html"])
def test_other_methods_are_405(dockhand, method, path):
    r = requests.request(method, dockhand.url + path, data=b"x", timeout=10)
    assert r.status_code == 405, (method, path, r.status_code, r.text)
    assert r.headers.get("Allow") == "GET, HEAD"
    check_security_headers(r)
    if method != "HEAD":
        assert r.json()["errors"][0]["code"] == "METHOD_NOT_ALLOWED"


def test_query_strings_are_ignored(dockhand):
    r = dockhand.get("/ui/app.js?v=123")
    check_file(r, "app.js")


def test_served_without_the_database(dockhand_factory):
    d = dockhand_factory()
    d.pg.stop()
    try:
        for name in web_files():
            check_file(d.get("/ui/" + name, timeout=5), name)
        check_file(d.get("/", timeout=5), "index.html")
    finally:
        d.pg.start()


def test_other_endpoints_keep_their_own_headers(dockhand):
    """The API and the realm keep Cache-Control: no-store."""
    r = dockhand.get("/keys/jwks.json")
    assert r.headers["Cache-Control"] == "no-store"
    r = dockhand.get("/api/v2.0/robots")
    assert r.status_code == 401 and r.headers["Cache-Control"] == "no-store"
