"""Forged and stale refresh tokens (issue 13 §5): each gets the one 401 of the realm, both as
a refresh grant (POST grant_type=refresh_token) and as containerd's Basic password:

- a tampered payload (another robot's id, the original signature),
- a signature by another key (same header and kid),
- `alg: none` (no signature, and the original one),
- `alg: HS256` with the realm's public key as the HMAC key (PEM and DER),
- an expired one (signed with the realm's own key, exp in the past),
- a robot's old credential version (a real token after refresh-secret, and one signed with
  the realm's key that names the version before).

A control signed the same way with the right claims is accepted, so each refusal is owed
to the one defect. Also in tests/integration/test_realm_failures.py: a flipped character,
garbage, an access token used as a refresh token.
"""

import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from helpers import realm, secrets
from helpers.jwtutil import b64url_encode, load_keys_dir, split

PUB = "repository:p/app:pull"


def encode(header, claims):
    return (b64url_encode(json.dumps(header, separators=(",", ":")).encode()) + "." +
            b64url_encode(json.dumps(claims, separators=(",", ":")).encode()))


def es256(private_key, signing_input):
    r, s = decode_dss_signature(private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return b64url_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def sign(private_key, header, claims):
    si = encode(header, claims)
    return si + "." + es256(private_key, si)


@pytest.fixture(scope="module")
def forge(dockhand_factory):
    d = dockhand_factory()
    robot = d.create_robot("forged", projects={"p": ["pull"]})
    other = d.create_robot("victim", projects={"p": ["pull", "push"]})
    r = d.token(method="POST", auth=(robot["name"], robot["secret"]), access_type="offline")
    rt = realm.token_ok(d, r, refresh=True)[0]["refresh_token"]
    secrets.remember(rt)
    header, claims, _, _ = split(rt)
    key = [k for k in load_keys_dir(d.keys_dir) if k.kid() == header["kid"]][0]
    assert key.alg == "ES256", key
    with open(key.key_path, "rb") as f:
        private = serialization.load_pem_private_key(f.read(), None)
    yield d, robot, other, rt, header, claims, key, private
    d.stop()


def refused(d, rt, login):
    """rt gets the realm's 401 both ways; returns the body."""
    secrets.remember(rt)
    r = d.token(method="POST", grant_type="refresh_token", refresh_token=rt, scopes=[PUB],
                client_id="docker")
    body = realm.unauthorized(d, r)
    assert realm.unauthorized(d, d.token(auth=(login, rt), scopes=[PUB])) == body
    return body


def accepted(d, rt, login):
    secrets.remember(rt)
    r = d.token(method="POST", grant_type="refresh_token", refresh_token=rt, scopes=[PUB],
                client_id="docker")
    realm.token_ok(d, r, sub=login)


def test_control_a_token_signed_with_the_realm_key_is_accepted(forge):
    d, robot, _, rt, header, claims, _, private = forge
    accepted(d, rt, robot["name"])
    accepted(d, sign(private, header, dict(claims, jti="another-jti-123")), robot["name"])


def test_tampered_payload(forge):
    d, robot, other, rt, header, claims, _, _ = forge
    _, _, sig = rt.split(".")
    for changed in (dict(claims, rid=other["id"], sub=other["name"]),
                    dict(claims, ver=claims["ver"] + 1),
                    dict(claims, exp=int(time.time()) + 10 * 365 * 86400)):
        refused(d, encode(header, changed) + "." + sig, robot["name"])


def test_signature_of_another_key(forge):
    d, robot, _, _, header, claims, _, _ = forge
    stranger = ec.generate_private_key(ec.SECP256R1())
    refused(d, sign(stranger, header, claims), robot["name"])


def test_alg_none(forge):
    d, robot, _, rt, header, claims, _, _ = forge
    sig = rt.split(".")[2]
    for alg in ("none", "None", "NONE"):
        h = dict(header, alg=alg)
        refused(d, encode(h, claims) + ".", robot["name"])
        refused(d, encode(h, claims) + "." + sig, robot["name"])
    h = {"alg": "none", "typ": "JWT"}
    refused(d, encode(h, claims) + ".", robot["name"])


def test_hs256_signed_with_the_public_key(forge):
    d, robot, _, _, header, claims, key, _ = forge
    pem = key.public_key.public_bytes(serialization.Encoding.PEM,
                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    der = key.public_key.public_bytes(serialization.Encoding.DER,
                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    for secret in (pem, pem.strip(), der, key.cert_pem):
        for h in (dict(header, alg="HS256"), {"alg": "HS256", "typ": "JWT"}):
            si = encode(h, claims)
            mac = hmac.new(secret, si.encode(), hashlib.sha256).digest()
            refused(d, si + "." + b64url_encode(mac), robot["name"])


def test_expired(forge):
    d, robot, _, _, header, claims, _, private = forge
    now = int(time.time())
    refused(d, sign(private, header, dict(claims, exp=now - 5)), robot["name"])
    refused(d, sign(private, header, dict(claims, exp=now - 86400, iat=now - 2 * 86400)),
            robot["name"])
    # the same with a future exp passes: the refusal is the expiry's
    accepted(d, sign(private, header, dict(claims, exp=now + 3600)), robot["name"])


def test_old_credential_version(forge):
    d, robot, _, _, header, _, _, private = forge
    fresh = d.create_robot("reversioned", projects={"p": ["pull"]})
    r = d.token(method="POST", auth=(fresh["name"], fresh["secret"]), access_type="offline")
    old = realm.token_ok(d, r, refresh=True)[0]["refresh_token"]
    accepted(d, old, fresh["name"])
    _, claims, _, _ = split(old)
    new_secret = d.refresh_secret(fresh["id"])["secret"]
    secrets.remember(new_secret, fresh["name"])
    refused(d, old, fresh["name"])
    # one signed with the realm's key that names the version before the refresh
    refused(d, sign(private, header, dict(claims, jti="old-version-1")), fresh["name"])
    # and the new secret's own refresh token works
    r = d.token(method="POST", auth=(fresh["name"], new_secret), access_type="offline")
    new = realm.token_ok(d, r, refresh=True)[0]["refresh_token"]
    assert split(new)[1]["ver"] > claims["ver"]
    accepted(d, new, fresh["name"])
