"""JWTs decoded by hand (base64url) and verified with python3-cryptography.

Nothing here trusts the token: the key is chosen by recomputing every key ID from
the certificates in a keys directory, and the signature is checked in the form
docs/design.md §3.7 prescribes (raw R‖S for ECDSA, PKCS#1 v1.5 for RSA).
"""

import base64
import glob
import hashlib
import json
import os

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


class TokenError(AssertionError):
    """A token that does not verify: tests fail with the reason."""


def b64url_decode(s):
    if isinstance(s, str):
        s = s.encode("ascii")
    if b"=" in s:
        raise TokenError("base64url with padding: %r" % s[:40])
    if any(c in s for c in b"+/"):
        raise TokenError("base64 (not base64url) alphabet: %r" % s[:40])
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def split(token):
    """(header dict, claims dict, signing input bytes, signature bytes), unverified."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("a JWS compact token has 3 parts, got %d" % len(parts))
    header = json.loads(b64url_decode(parts[0]))
    claims = json.loads(b64url_decode(parts[1]))
    return header, claims, (parts[0] + "." + parts[1]).encode("ascii"), b64url_decode(parts[2])


def spki_der(public_key):
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def libtrust_kid(public_key):
    """libtrust key ID: SHA-256 of the SPKI DER, first 30 bytes, base32, 4-char groups."""
    digest = hashlib.sha256(spki_der(public_key)).digest()[:30]
    b32 = base64.b32encode(digest).decode("ascii").rstrip("=")
    assert len(b32) == 48
    return ":".join(b32[i:i + 4] for i in range(0, 48, 4))


def _int_b64(n, size=None):
    if size is None:
        size = max(1, (n.bit_length() + 7) // 8)
    return b64url_encode(n.to_bytes(size, "big"))


def jwk_of(public_key):
    """The public JWK members (RFC 7517/7518) of an EC or RSA key."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[
            public_key.curve.name]
        size = (public_key.curve.key_size + 7) // 8
        nums = public_key.public_numbers()
        return {"kty": "EC", "crv": crv, "x": _int_b64(nums.x, size), "y": _int_b64(nums.y, size)}
    if isinstance(public_key, rsa.RSAPublicKey):
        nums = public_key.public_numbers()
        return {"kty": "RSA", "n": _int_b64(nums.n), "e": _int_b64(nums.e)}
    raise TypeError("unsupported key type %r" % type(public_key))


def jwk_thumbprint(public_key):
    """RFC 7638: SHA-256 over the required members in lexicographic order, no spaces."""
    jwk = jwk_of(public_key)
    required = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n")
    canon = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canon.encode("ascii")).digest())


def alg_of(public_key):
    """The JWS alg docs/design.md §3.7 assigns to a key type."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "ES256", "secp384r1": "ES384"}[public_key.curve.name]
    if isinstance(public_key, rsa.RSAPublicKey):
        return "RS256"
    raise TypeError("unsupported key type %r" % type(public_key))


def kid_of(public_key, kid_format="libtrust"):
    if kid_format == "jwk-thumbprint":
        return jwk_thumbprint(public_key)
    assert kid_format == "libtrust", kid_format
    return libtrust_kid(public_key)


def split_pem_certs(data):
    """Every certificate in a PEM bundle (bytes), parsed, in order."""
    if isinstance(data, str):
        data = data.encode()
    begin, end = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"
    certs = []
    pos = 0
    while True:
        i = data.find(begin, pos)
        if i < 0:
            break
        j = data.find(end, i)
        if j < 0:
            raise TokenError("unterminated certificate in PEM bundle")
        certs.append(x509.load_pem_x509_certificate(data[i:j + len(end)] + b"\n"))
        pos = j + len(end)
    return certs


class KeyInfo:
    """One key pair of a keys directory, as the tests see it."""

    def __init__(self, name, cert_path, key_path):
        self.name = name
        self.cert_path = cert_path
        self.key_path = key_path
        with open(cert_path, "rb") as f:
            self.cert_pem = f.read()
        self.cert = x509.load_pem_x509_certificate(self.cert_pem)
        self.public_key = self.cert.public_key()
        self.alg = alg_of(self.public_key)
        self.libtrust_kid = libtrust_kid(self.public_key)
        self.thumbprint = jwk_thumbprint(self.public_key)

    def kid(self, kid_format="libtrust"):
        return self.thumbprint if kid_format == "jwk-thumbprint" else self.libtrust_kid

    def __repr__(self):
        return "KeyInfo(%s, %s, %s)" % (self.name, self.alg, self.libtrust_kid)


def load_keys_dir(keys_dir):
    """Every `<name>.crt` with its `<name>.key` in keys_dir."""
    keys = []
    for crt in sorted(glob.glob(os.path.join(keys_dir, "*.crt"))):
        name = os.path.basename(crt)[:-4]
        keys.append(KeyInfo(name, crt, os.path.join(keys_dir, name + ".key")))
    return keys


def verify_signature(public_key, alg, signing_input, sig):
    """Raises TokenError unless sig is a valid JWS signature of signing_input."""
    try:
        if alg in ("ES256", "ES384"):
            size = 32 if alg == "ES256" else 48
            if len(sig) != 2 * size:
                raise TokenError("%s signature must be raw R||S of %d bytes, got %d"
                                 % (alg, 2 * size, len(sig)))
            r = int.from_bytes(sig[:size], "big")
            s = int.from_bytes(sig[size:], "big")
            h = hashes.SHA256() if alg == "ES256" else hashes.SHA384()
            public_key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(h))
        elif alg == "RS256":
            public_key.verify(sig, signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise TokenError("unexpected alg %r" % alg)
    except InvalidSignature:
        raise TokenError("bad %s signature" % alg)


def verify(token, keys, kid_format="libtrust"):
    """Verifies token against keys (KeyInfo list); returns (header, claims)."""
    header, claims, signing_input, sig = split(token)
    if header.get("typ") != "JWT":
        raise TokenError("header typ must be JWT: %r" % header)
    kid = header.get("kid")
    match = [k for k in keys if k.kid(kid_format) == kid]
    if not match:
        raise TokenError("kid %r matches no key in the keys dir (%s kids: %s)"
                         % (kid, kid_format, [k.kid(kid_format) for k in keys]))
    key = match[0]
    if header.get("alg") != key.alg:
        raise TokenError("alg %r but the key %s is %s" % (header.get("alg"), key.name, key.alg))
    verify_signature(key.public_key, key.alg, signing_input, sig)
    return header, claims


def access_map(claims):
    """{(type, name, class or None): sorted actions} of a token's access claim;
    asserts the entries are well-formed and not repeated."""
    out = {}
    for entry in claims["access"]:
        assert set(entry) <= {"type", "name", "actions", "class"}, entry
        assert isinstance(entry["type"], str) and isinstance(entry["name"], str), entry
        assert isinstance(entry["actions"], list), entry
        assert len(entry["actions"]) == len(set(entry["actions"])), \
            "duplicate actions: %r" % entry
        key = (entry["type"], entry["name"], entry.get("class"))
        assert key not in out, "resource listed twice: %r" % (claims["access"],)
        out[key] = sorted(entry["actions"])
    return out


def granted(claims, type_, name, cls=None):
    """The actions granted on one resource ([] when absent or empty)."""
    return access_map(claims).get((type_, name, cls), [])
