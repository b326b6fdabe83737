"""A recording pass-through in front of dockhand's token realm, for the e2e tests that must
know what a real client sent (dockhand's access log names the method, path and status of a
token request, not its grant type or query).

    proxy = RealmProxy("http://127.0.0.1:PORT").start()
    ... a registry whose auth.token.realm is proxy.url + "/service/token" ...
    proxy.requests  # [{"method", "path", "query", "form", "auth", "status"}]

Each request is forwarded unchanged (method, path and query, headers but the hop-by-hop
ones, body) and dockhand's answer is handed back unchanged. A chunked body is forwarded with
its length instead (the only change). What is recorded holds no secret: form values of
`password` and `refresh_token` and the Basic credentials' password become "<set>".
"""

import base64
import http.client
import http.server
import threading
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade"}
SECRET_FIELDS = {"password", "refresh_token"}


def _read_body(rfile, headers):
    if headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int(rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return body
            body += rfile.read(size)
            rfile.readline()
    length = int(headers.get("Content-Length") or 0)
    return rfile.read(length) if length else b""


def _auth_summary(value):
    """"Basic <user>" (the password left out), "Bearer", another scheme, or None."""
    if not value:
        return None
    scheme, _, cred = value.partition(" ")
    if scheme.lower() == "basic":
        try:
            user = base64.b64decode(cred.strip()).decode(errors="replace").partition(":")[0]
        except ValueError:
            user = "?"
        return "Basic " + user
    return scheme


class RealmProxy:
    def __init__(self, upstream):
        u = urllib.parse.urlsplit(upstream)
        self.upstream_host, self.upstream_port = u.hostname, u.port
        self.requests = []
        self._lock = threading.Lock()
        self.server = None
        self.thread = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def start(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                body = _read_body(self.rfile, self.headers)
                path, _, query = self.path.partition("?")
                record = {"method": self.command, "path": path,
                          "query": urllib.parse.parse_qs(query, keep_blank_values=True),
                          "form": {}, "auth": _auth_summary(self.headers.get("Authorization"))}
                if self.command == "POST":
                    form = urllib.parse.parse_qs(body.decode(errors="replace"),
                                                 keep_blank_values=True)
                    record["form"] = {k: (["<set>"] * len(v) if k in SECRET_FIELDS else v)
                                      for k, v in form.items()}
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"}
                if body or self.command == "POST":
                    headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port,
                                                  timeout=30)
                try:
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    record["status"] = resp.status
                    with proxy._lock:
                        proxy.requests.append(record)
                    self.send_response(resp.status, resp.reason)
                    for k, v in resp.getheaders():
                        if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_POST = do_HEAD = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def taken(self):
        """The requests recorded so far, and forgets them."""
        with self._lock:
            out, self.requests = self.requests, []
        return out

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
