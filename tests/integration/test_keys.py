"""Signing keys: what is published, key IDs, algorithms, rotation
(docs/design.md §3.7 "The JWT")."""

import datetime
import os
import re
import signal
import stat
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from helpers import jwtutil, realm
from helpers.dockhand import keygen

LIBTRUST = re.compile(r"^[A-Z2-7]{4}(:[A-Z2-7]{4}){11}$")


def signed(d):
    """(header, claims) of a fresh anonymous token from d."""
    r = d.token()
    body, _ = realm.token_ok(d, r, sub="")
    return d.decode_full(body["token"])


def published(d):
    r = d.get("/keys/certs.pem")
    assert r.status_code == 200, realm.show(r)
    assert b"PRIVATE" not in r.content
    certs = jwtutil.split_pem_certs(r.content)
    assert certs, r.text
    j = d.get("/keys/jwks.json")
    assert j.status_code == 200, realm.show(j)
    assert "json" in j.headers.get("Content-Type", ""), realm.show(j)
    jwks = j.json()
    assert isinstance(jwks.get("keys"), list) and jwks["keys"], jwks
    for k in jwks["keys"]:
        assert "d" not in k and "p" not in k and "q" not in k, "private member published: %r" % k
    return certs, jwks["keys"]


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def check_published_key(d, key, jwks, certs):
    assert der(key.cert) in [der(c) for c in certs]
    entry = [k for k in jwks if k.get("kid") == key.kid(d.kid_format)]
    assert len(entry) == 1, (key, jwks)
    entry = entry[0]
    for member, value in jwtutil.jwk_of(key.public_key).items():
        assert entry.get(member) == value, (member, entry)
    assert entry.get("alg") == key.alg, entry
    assert entry.get("use", "sig") == "sig", entry


def test_default_key_is_es256_with_libtrust_kid(dockhand):
    d = dockhand
    header, _ = signed(d)
    assert header["alg"] == "ES256"
    assert LIBTRUST.match(header["kid"]), header
    keys = d.keys()
    assert len(keys) == 1
    assert header["kid"] == keys[0].libtrust_kid
    certs, jwks = published(d)
    assert len(certs) == 1 and len(jwks) == 1
    check_published_key(d, keys[0], jwks, certs)


def test_libtrust_kid_known_answer():
    """Our own kid computation against a fixed key (guards the test helper itself)."""
    n = 0x5A3C2E1F  # any scalar: a deterministic P-256 key
    key = ec.derive_private_key(n, ec.SECP256R1())
    der_spki = jwtutil.spki_der(key.public_key())
    import base64
    import hashlib
    b32 = base64.b32encode(hashlib.sha256(der_spki).digest()[:30]).decode()
    assert "=" not in b32 and len(b32) == 48
    kid = jwtutil.libtrust_kid(key.public_key())
    assert kid.replace(":", "") == b32 and LIBTRUST.match(kid)
    # RFC 7638 §3.1 example (RSA) for the thumbprint helper
    from cryptography.hazmat.primitives.asymmetric import rsa
    n_b64 = ("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6"
             "tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v"
             "-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08"
             "qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8"
             "awapJzKnqDKgw")
    nums = rsa.RSAPublicNumbers(65537, int.from_bytes(jwtutil.b64url_decode(n_b64), "big"))
    assert jwtutil.jwk_thumbprint(nums.public_key()) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize("alg,kty,extra", [
    ("ES384", "EC", {"crv": "P-384"}),
    ("RS256", "RSA", {}),
    ("ES256", "EC", {"crv": "P-256"}),
])
def test_key_algorithms(dockhand_factory, alg, kty, extra):
    d = dockhand_factory(alg=alg)
    header, claims = signed(d)
    assert header["alg"] == alg
    key = d.keys()[0]
    assert key.alg == alg
    assert header["kid"] == key.libtrust_kid
    certs, jwks = published(d)
    check_published_key(d, key, jwks, certs)
    entry = jwks[0]
    assert entry["kty"] == kty
    for k, v in extra.items():
        assert entry[k] == v
    # the signature length is the raw R||S one
    sig = jwtutil.b64url_decode(d.token().json()["token"].split(".")[2])
    assert len(sig) == {"ES256": 64, "ES384": 96}.get(alg, len(sig))


def test_jwk_thumbprint_kid(dockhand_factory):
    d = dockhand_factory(DOCKHAND_KID_FORMAT="jwk-thumbprint")
    header, _ = signed(d)
    key = d.keys()[0]
    assert header["kid"] == key.thumbprint
    assert len(header["kid"]) == 43 and ":" not in header["kid"]
    certs, jwks = published(d)
    check_published_key(d, key, jwks, certs)


def _next_second():
    t = int(time.time())
    while int(time.time()) == t:
        time.sleep(0.05)


def test_newest_key_signs_and_all_are_published(dockhand_factory, tmp_path):
    kd = str(tmp_path / "keys")
    old = keygen(dockhand_factory.bin, kd)
    _next_second()
    new = keygen(dockhand_factory.bin, kd)
    assert new.cert.not_valid_before > old.cert.not_valid_before
    d = dockhand_factory(keys_dir=kd)
    header, _ = signed(d)
    assert header["kid"] == new.libtrust_kid
    certs, jwks = published(d)
    assert len(certs) == 2 and len(jwks) == 2
    for k in (old, new):
        check_published_key(d, k, jwks, certs)


def _write_backdated_key(kd, name, days):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dockhand test old key")])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=days))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(key, hashes.SHA256()))
    kp = os.path.join(kd, name + ".key")
    with open(kp, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(kp, 0o600)
    with open(os.path.join(kd, name + ".crt"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return [k for k in jwtutil.load_keys_dir(kd) if k.name == name][0]


def test_newest_is_by_certificate_not_by_file_name(dockhand_factory, tmp_path):
    kd = str(tmp_path / "keys")
    new = keygen(dockhand_factory.bin, kd)
    old = _write_backdated_key(kd, "zzzz-older-key", days=30)
    d = dockhand_factory(keys_dir=kd)
    header, _ = signed(d)
    assert header["kid"] == new.libtrust_kid
    certs, jwks = published(d)
    for k in (old, new):
        check_published_key(d, k, jwks, certs)


def test_sighup_reloads_keys_for_rotation(dockhand_factory, tmp_path):
    kd = str(tmp_path / "keys")
    first = keygen(dockhand_factory.bin, kd)
    d = dockhand_factory(keys_dir=kd)
    assert signed(d)[0]["kid"] == first.libtrust_kid
    _next_second()
    second = keygen(dockhand_factory.bin, kd)
    d.signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while signed(d)[0]["kid"] != second.libtrust_kid:
        assert time.monotonic() < deadline, "SIGHUP did not switch to the new key\n" + d.log_tail()
        time.sleep(0.05)
    certs, jwks = published(d)
    for k in (first, second):
        check_published_key(d, k, jwks, certs)
    assert d.running


def test_keygen_files(dockhand_factory, tmp_path):
    kd = str(tmp_path / "fresh" / "keys")
    k = keygen(dockhand_factory.bin, kd)
    assert re.match(r"^dockhand-.+$", k.name), k.name
    assert stat.S_IMODE(os.stat(k.key_path).st_mode) == 0o600
    with open(k.key_path, "rb") as f:
        priv = serialization.load_pem_private_key(f.read(), None)
    assert jwtutil.spki_der(priv.public_key()) == jwtutil.spki_der(k.public_key)
    assert k.alg == "ES256"
    assert k.cert.not_valid_after > datetime.datetime.utcnow() + datetime.timedelta(days=30)


def test_keygen_rejects_unknown_algorithm(dockhand_factory, tmp_path):
    from helpers.dockhand import base_env, run_cli
    env = dict(base_env(), DOCKHAND_KEYS_DIR=str(tmp_path / "k"))
    p = run_cli(dockhand_factory.bin, env, ["keygen", "--alg", "HS256"], check=False)
    assert p.returncode in (1, 2), p
    assert p.stderr.strip()
    assert not os.path.exists(tmp_path / "k") or not any(
        f.endswith(".key") for f in os.listdir(tmp_path / "k"))


def test_serve_refuses_an_empty_keys_dir(dockhand_factory, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    d = dockhand_factory(keys_dir=str(empty), start=False)
    p = d.cli("serve", check=False, timeout=15)
    assert p.returncode != 0
    assert p.stderr.strip()


def test_decode_rejects_what_it_should(dockhand):
    """The verifying helper itself: a token changed anywhere no longer verifies."""
    d = dockhand
    token = d.token().json()["token"]
    d.decode(token)
    head, payload, sig = token.split(".")
    claims = jwtutil.b64url_decode(payload).replace(b'"sub":""', b'"sub":"robot$x"')
    assert b"robot$x" in claims
    forged = ".".join([head, jwtutil.b64url_encode(claims), sig])
    with pytest.raises(jwtutil.TokenError):
        d.decode(forged)
    raw = bytearray(jwtutil.b64url_decode(sig))
    raw[5] ^= 1
    with pytest.raises(jwtutil.TokenError):
        d.decode(".".join([head, payload, jwtutil.b64url_encode(bytes(raw))]))
    header = jwtutil.b64url_decode(head).replace(b'"ES256"', b'"ES384"')
    with pytest.raises(jwtutil.TokenError):
        d.decode(".".join([jwtutil.b64url_encode(header), payload, sig]))
