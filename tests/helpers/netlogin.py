"""Token requests from a chosen source address (127.0.0.1, 127.0.0.2, ::1), with chosen
headers (X-Forwarded-For, repeated lines too), and a robot's networks set through the API:
for the tests of robots bound to networks and of trusted proxies (issue 15)."""

import base64
import http.client
import json
import urllib.parse

from helpers import api as A
from helpers import realm


def robot(d, name=None):
    r = d.create_robot(name or A.new_name("net"))
    A.remember(r["secret"], r["name"])
    return r


def put_networks(admin, robot_id, nets):
    return admin.put("/robots/%d/networks" % robot_id, json=nets)


def set_networks(d, admin, robot_id, nets):
    r = put_networks(admin, robot_id, nets)
    assert r.status_code == 200, A.show(r)
    d.sync()
    return r.json()


def login(d, name, secret, src="127.0.0.1", host="127.0.0.1", method="GET", headers=None,
          form=None):
    """One token request from source address src → (status, body, headers)."""
    conn = http.client.HTTPConnection(host, d.port, timeout=10, source_address=(src, 0))
    extra = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    hdrs = {}
    q = urllib.parse.urlencode({"service": d.env["DOCKHAND_SERVICE"],
                                "scope": "repository:p/app:pull"})
    try:
        if method == "GET":
            if name is not None:
                hdrs["Authorization"] = "Basic " + base64.b64encode(
                    ("%s:%s" % (name, secret)).encode()).decode()
            body = None
            target = "/service/token?" + q
        else:
            fields = form or {"grant_type": "password", "username": name, "password": secret}
            fields = dict(fields, service=d.env["DOCKHAND_SERVICE"])
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
            body = urllib.parse.urlencode(fields).encode()
            hdrs["Content-Length"] = str(len(body))
            target = "/service/token"
        conn.putrequest(method, target)
        for k, v in list(hdrs.items()) + extra:  # repeated headers stay separate lines
            conn.putheader(k, v)
        conn.endheaders(body)
        r = conn.getresponse()
        data = r.read()
        return r.status, data, dict(r.getheaders())
    finally:
        conn.close()


def refused(status, body):
    assert status == 401, (status, body)
    assert json.loads(body) == realm.UNAUTHORIZED_BODY, body
