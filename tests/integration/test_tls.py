"""Native TLS (issue 12): DOCKHAND_TLS_CERT + DOCKHAND_TLS_KEY make the listener HTTPS,
TLS 1.2 and 1.3 only, the certificate reloaded on SIGHUP (a bad one keeps the old), the
session cookie Secure. Every certificate is made here by a throw-away CA
(helpers.tlsca); clients trust only that CA's root."""

import os
import re
import shutil
import signal
import socket
import ssl
import threading
import time

import pytest
import requests

from helpers import api as A
from helpers import dockhand as dh
from helpers import secrets
from helpers.tlsca import TestCA, served_certificate

RELOAD_TIMEOUT = 10
SET_COOKIE = re.compile(r"^dockhand_session=([A-Za-z0-9_-]{43}); Path=/; HttpOnly; "
                        r"SameSite=Strict(; Secure)?$")
NEGOTIATED = []  # (client setting, protocol, cipher) seen here, printed at the end


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return TestCA(str(tmp_path_factory.mktemp("tls-ca")))


def install(leaf, directory):
    """Puts leaf's certificate and key at directory/server.crt and server.key (each
    replaced whole, by rename) → (cert path, key path)."""
    os.makedirs(directory, exist_ok=True)
    cert, key = os.path.join(directory, "server.crt"), os.path.join(directory, "server.key")
    for src, dst in ((leaf.cert_path, cert), (leaf.key_path, key)):
        shutil.copyfile(src, dst + ".new")
        os.replace(dst + ".new", dst)
    return cert, key


def tls_instance(factory, ca, directory, leaf=None, **env):
    leaf = leaf or ca.issue()
    cert, key = install(leaf, directory)
    return factory(ca=ca.cert_path, DOCKHAND_TLS_CERT=cert, DOCKHAND_TLS_KEY=key, **env)


def served_serial(d, ca_path):
    return served_certificate("127.0.0.1", d.port, ca_path)[0].serial_number


def sighup_and_wait(d, line):
    """SIGHUP, then waits until the log holds one more `line` than before."""
    before = d.log_text().count(line)
    d.signal(signal.SIGHUP)
    deadline = time.monotonic() + RELOAD_TIMEOUT
    while d.log_text().count(line) <= before:
        assert time.monotonic() < deadline, "no %r after SIGHUP\n%s" % (line, d.log_tail())
        time.sleep(0.02)


RELOADED = "SIGHUP: TLS certificate reloaded"
NOT_RELOADED = "SIGHUP: TLS certificate not reloaded; still serving"


@pytest.fixture
def robot_creds():
    def make(d):
        r = d.create_robot("tls%d" % int(time.monotonic() * 1e6))
        return r["name"], r["secret"]
    return make


def test_https_with_the_test_ca_serves_tokens(dockhand_factory, ca, tmp_path, robot_creds):
    leaf = ca.issue()
    d = tls_instance(dockhand_factory, ca, str(tmp_path / "tls"), leaf)
    assert d.url.startswith("https://127.0.0.1:")
    creds = robot_creds(d)

    r = d.token(["repository:p/app:pull,push"], auth=creds)
    assert r.status_code == 200, r.text
    access = d.decode(r.json()["token"])["access"]
    assert access == [{"type": "repository", "name": "p/app", "actions": ["pull", "push"]}]
    # The default realm follows the scheme: the 401's Basic challenge names https.
    r = d.token(["repository:p/app:pull"], auth=(creds[0], "wrong-Secret-1"))
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Basic realm="%s/service/token"' % d.url
    for path in ("/keys/certs.pem", "/readyz", "/healthz"):
        assert d.get(path).status_code == 200, path

    cert, version, cipher = served_certificate("127.0.0.1", d.port, ca.cert_path)
    assert cert.serial_number == leaf.serial
    assert version == "TLSv1.3", version
    NEGOTIATED.append(("default client (python ssl)", version, cipher))
    log = d.log_text()
    assert "HTTPS (TLS 1.2 and 1.3) with the certificate %s" % d.env["DOCKHAND_TLS_CERT"] in log
    assert "serial %X" % leaf.serial in log


def test_a_client_that_does_not_trust_the_ca_fails(dockhand_factory, ca, tmp_path):
    d = tls_instance(dockhand_factory, ca, str(tmp_path / "tls"))
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(d.url + "/healthz", timeout=10)  # the system's trust store only
    other = TestCA(str(tmp_path / "other-ca"), cn="another test CA")
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(d.url + "/healthz", timeout=10, verify=other.cert_path)
    assert requests.get(d.url + "/healthz", timeout=10, verify=ca.cert_path).status_code == 200


def test_plain_http_to_the_tls_port_gets_no_http_answer(dockhand_factory, ca, tmp_path):
    d = tls_instance(dockhand_factory, ca, str(tmp_path / "tls"))
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get("http://127.0.0.1:%d/healthz" % d.port, timeout=10)
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    assert not got.startswith(b"HTTP/"), got[:200]
    assert b"notify_sync" not in got
    # The instance is still fine for TLS clients.
    assert d.get("/healthz").status_code == 200


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_tls_1_0_and_1_1_are_refused(dockhand_factory, ca, tmp_path, version):
    d = tls_instance(dockhand_factory, ca, str(tmp_path / "tls"))
    v = getattr(ssl.TLSVersion, version)
    # SECLEVEL=0: this client really offers the old version; the refusal is the server's
    # protocol_version alert, not the client's own policy.
    with pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION"):
        served_certificate("127.0.0.1", d.port, ca.cert_path, ciphers="DEFAULT:@SECLEVEL=0",
                           minimum_version=v, maximum_version=v)
    assert d.get("/healthz").status_code == 200


def test_tls_1_2_and_1_3_are_accepted(dockhand_factory, ca, tmp_path):
    d = tls_instance(dockhand_factory, ca, str(tmp_path / "tls"))
    for name, want in (("TLSv1_2", "TLSv1.2"), ("TLSv1_3", "TLSv1.3")):
        v = getattr(ssl.TLSVersion, name)
        _, version, cipher = served_certificate("127.0.0.1", d.port, ca.cert_path,
                                                minimum_version=v, maximum_version=v)
        assert version == want
        NEGOTIATED.append(("client pinned to %s" % want, version, cipher))
    # An ECDSA certificate with TLS 1.2: an ECDHE-ECDSA AEAD suite.
    assert re.match(r"ECDHE-ECDSA-(AES\d+-GCM|CHACHA20-POLY1305)", NEGOTIATED[-2][2]), NEGOTIATED


def test_a_chain_with_an_intermediate(dockhand_factory, ca, tmp_path):
    mid = ca.intermediate()
    leaf = mid.issue("dockhand behind an intermediate")
    d = tls_instance(dockhand_factory, ca, str(tmp_path / "tls"), leaf)
    cert, _, _ = served_certificate("127.0.0.1", d.port, ca.cert_path)  # trusts the root only
    assert cert.serial_number == leaf.serial
    assert d.get("/healthz").status_code == 200


def test_sighup_rotation_under_a_stream_of_requests(dockhand_factory, ca, tmp_path,
                                                    robot_creds):
    """New connections get the new certificate at once; connections open across the
    reloads keep working; no request of the stream fails."""
    directory = str(tmp_path / "tls")
    first = ca.issue("rotation 0")
    d = tls_instance(dockhand_factory, ca, directory, first, DOCKHAND_WORKERS="2")
    creds = robot_creds(d)
    url = d.url + "/service/token"
    params = {"service": dh.SERVICE, "scope": "repository:p/app:pull"}
    stop = threading.Event()
    lock = threading.Lock()
    counts = {"keepalive": 0, "new": 0, "failures": 0}
    failures = []

    def note(kind, ok, what=None):
        with lock:
            counts[kind] += 1
            if not ok:
                counts["failures"] += 1
                failures.append(what)

    def keepalive():
        with requests.Session() as s:
            while not stop.is_set():
                try:
                    # verify per request: REQUESTS_CA_BUNDLE would override s.verify
                    r = s.get(url, params=params, auth=creds, timeout=10, verify=ca.cert_path)
                    note("keepalive", r.status_code == 200, (r.status_code, r.text[:200]))
                except Exception as e:
                    note("keepalive", False, repr(e))

    def new_connections():
        while not stop.is_set():
            try:
                r = requests.get(url, params=params, auth=creds, timeout=10,
                                 verify=ca.cert_path, headers={"Connection": "close"})
                note("new", r.status_code == 200, (r.status_code, r.text[:200]))
            except Exception as e:
                note("new", False, repr(e))

    threads = [threading.Thread(target=keepalive) for _ in range(3)]
    threads += [threading.Thread(target=new_connections) for _ in range(3)]
    # One connection held open from before the first reload to after the last.
    held = ssl.create_default_context(cafile=ca.cert_path).wrap_socket(
        socket.create_connection(("127.0.0.1", d.port), timeout=10),
        server_hostname="127.0.0.1")
    for t in threads:
        t.start()
    rotations = []
    try:
        time.sleep(0.5)
        for i in range(1, 6):
            leaf = ca.issue("rotation %d" % i)
            install(leaf, directory)
            sighup_and_wait(d, RELOADED)
            assert served_serial(d, ca.cert_path) == leaf.serial
            rotations.append(leaf.serial)
            time.sleep(0.4)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    # The connection opened before the first reload still has the first certificate
    # and still answers.
    held.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    answer = b""
    while True:
        chunk = held.recv(4096)
        if not chunk:
            break
        answer += chunk
    from cryptography import x509
    assert x509.load_der_x509_certificate(held.getpeercert(True)).serial_number == first.serial
    held.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]

    total = counts["keepalive"] + counts["new"]
    print("\nrotation under load: %d reloads, %d requests (%d keep-alive, %d on new "
          "connections), %d failures" % (len(rotations), total, counts["keepalive"],
                                         counts["new"], counts["failures"]))
    assert counts["failures"] == 0, failures[:5]
    assert counts["keepalive"] > 100 and counts["new"] > 50, counts
    assert len(set(rotations)) == 5


def test_sighup_with_a_bad_certificate_keeps_the_old_one(dockhand_factory, ca, tmp_path,
                                                         robot_creds):
    directory = str(tmp_path / "tls")
    good = ca.issue("the good one")
    d = tls_instance(dockhand_factory, ca, directory, good)
    creds = robot_creds(d)
    cert = d.env["DOCKHAND_TLS_CERT"]
    key = d.env["DOCKHAND_TLS_KEY"]
    other = ca.issue("another")
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc)
    expired = ca.issue("expired", not_before=now - datetime.timedelta(days=10),
                       not_after=now - datetime.timedelta(days=1))

    def write(path, data):
        with open(path + ".new", "wb") as f:
            f.write(data)
        os.replace(path + ".new", path)

    def read(path):
        with open(path, "rb") as f:
            return f.read()

    cases = [
        ("garbage certificate", lambda: write(cert, b"not a certificate\n"),
         "cannot read the certificate chain"),
        ("key of another certificate", lambda: (write(cert, read(good.cert_path)),
                                                write(key, read(other.key_path))),
         "does not match the certificate"),
        ("missing key file", lambda: os.unlink(key), "cannot read the private key"),
        ("expired certificate", lambda: install(expired, directory), "has expired"),
    ]
    for name, spoil, reason in cases:
        spoil()
        before = d.log_text().count(reason)
        sighup_and_wait(d, NOT_RELOADED)
        assert d.log_text().count(reason) > before, (name, d.log_tail())
        assert served_serial(d, ca.cert_path) == good.serial, name
        r = d.token(["repository:p/app:pull"], auth=creds)
        assert r.status_code == 200, (name, r.text)
    # The signing keys were reloaded all the same (logged just after the certificate's
    # line), and a good certificate is taken again.
    deadline = time.monotonic() + RELOAD_TIMEOUT
    while d.log_text().count("SIGHUP: 1 key(s) loaded") < len(cases):
        assert time.monotonic() < deadline, d.log_tail()
        time.sleep(0.02)
    install(other, directory)
    sighup_and_wait(d, RELOADED)
    assert served_serial(d, ca.cert_path) == other.serial


def test_the_session_cookie_is_secure_with_tls(dockhand_factory, ca, tmp_path):
    # Even when the public URL says http (the realm is not what decides here).
    d = tls_instance(dockhand_factory, ca, str(tmp_path / "tls"),
                     DOCKHAND_REALM="http://registry.example/service/token")
    A.ensure_admin(d)
    r = d.post("/c/login", data={"principal": A.ADMIN, "password": A.ADMIN_PASSWORD})
    assert r.status_code == 200, A.show(r)
    m = SET_COOKIE.match(r.headers["Set-Cookie"])
    assert m and m.group(2) == "; Secure", r.headers["Set-Cookie"]
    secrets.remember(m.group(1))
    secrets.remember(r.json()["csrf_token"])


def test_start_needs_both_settings_or_neither(dockhand_factory, ca, tmp_path):
    d = dockhand_factory(start=False)
    leaf = ca.issue()
    for given in ({"DOCKHAND_TLS_CERT": leaf.cert_path}, {"DOCKHAND_TLS_KEY": leaf.key_path}):
        env = dh.base_env()
        env.update(d.env)
        env.update(given)
        p = dh.run_cli(d.bin, env, ["serve"], check=False, timeout=30)
        assert p.returncode == 2, dh.describe(p)
        assert ("DOCKHAND_TLS_CERT (--tls-cert) and DOCKHAND_TLS_KEY (--tls-key) go together"
                in p.stderr), p.stderr
    # The same as flags.
    env = dh.base_env()
    env.update(d.env)
    p = dh.run_cli(d.bin, env, ["serve", "--tls-key", leaf.key_path], check=False, timeout=30)
    assert p.returncode == 2 and "go together" in p.stderr, dh.describe(p)


def test_start_refuses_a_bad_certificate(dockhand_factory, ca, tmp_path):
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc)
    good, other = ca.issue(), ca.issue()
    expired = ca.issue("expired", not_before=now - datetime.timedelta(days=10),
                       not_after=now - datetime.timedelta(days=1))
    d = dockhand_factory(start=False)
    missing = str(tmp_path / "missing.crt")
    for cert, key, reason in ((missing, good.key_path, "cannot read the certificate chain"),
                              (good.cert_path, other.key_path, "does not match"),
                              (expired.cert_path, expired.key_path, "has expired")):
        env = dh.base_env()
        env.update(d.env)
        env.update(DOCKHAND_TLS_CERT=cert, DOCKHAND_TLS_KEY=key)
        p = dh.run_cli(d.bin, env, ["serve"], check=False, timeout=30)
        assert p.returncode == 1, dh.describe(p)
        assert "TLS certificate %s" % cert in p.stderr and reason in p.stderr, p.stderr


def test_zz_negotiated_parameters(capsys):
    """Prints what the clients above negotiated (for the record)."""
    assert NEGOTIATED, "the tests above record what they negotiated"
    with capsys.disabled():
        print("\nnegotiated TLS parameters:")
        for who, version, cipher in NEGOTIATED:
            print("  %-32s %s %s" % (who, version, cipher))


def test_the_image_probe_speaks_https_to_a_tls_instance(dockhand_factory, ca, tmp_path):
    """`dockhand probe` (the image's HEALTHCHECK) follows DOCKHAND_TLS_CERT: a 200 from
    /readyz over HTTPS is exit 0; the same instance probed as plain HTTP is not (what the
    bash probe of before did: the container was never healthy with TLS on)."""
    d = tls_instance(dockhand_factory, ca, str(tmp_path / "tls"))
    p = d.cli("probe", check=False)
    assert p.returncode == 0, p.stderr
    assert d.cli("probe", "/healthz", check=False).returncode == 0
    p = d.cli("probe", env={"DOCKHAND_TLS_CERT": None, "DOCKHAND_TLS_KEY": None}, check=False)
    assert p.returncode == 1 and "no answer" in p.stderr, (p.returncode, p.stderr)
