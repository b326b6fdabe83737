"""A throw-away certificate authority for the TLS tests (python3-cryptography).

Everything is made in the directory given, at test time: nothing here is committed.

    ca = TestCA(tmp_dir)                        # root: ca.cert_path (the bundle clients trust)
    leaf = ca.issue("server")                   # leaf.cert_path, leaf.key_path, leaf.serial
    mid = ca.intermediate("mid")                # a CA signed by the root
    leaf2 = mid.issue("server2")                # leaf2.cert_path holds leaf + intermediate
"""

import datetime
import itertools
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_serials = itertools.count(0x1000)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_cert(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


class Leaf:
    """A server certificate: cert_path (the leaf, then the chain up to the root's child),
    key_path, serial (int), cert (x509.Certificate)."""

    def __init__(self, cert, cert_path, key_path):
        self.cert = cert
        self.cert_path = cert_path
        self.key_path = key_path
        self.serial = cert.serial_number


class TestCA:
    """A CA (a root, or with parent an intermediate) whose files live in directory."""

    __test__ = False  # not a pytest class

    def __init__(self, directory, cn="dockhand test root CA", parent=None):
        os.makedirs(directory, exist_ok=True)
        self.dir = directory
        self.parent = parent
        self.key = ec.generate_private_key(ec.SECP256R1())
        issuer_key = parent.key if parent else self.key
        issuer_name = parent.cert.subject if parent else _name(cn)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(cn)).issuer_name(issuer_name)
            .public_key(self.key.public_key())
            .serial_number(next(_serials))
            .not_valid_before(_now() - datetime.timedelta(minutes=5))
            .not_valid_after(_now() + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()),
                           critical=False)
            .sign(issuer_key, hashes.SHA256()))
        base = cn.replace(" ", "-")
        self.cert_path = os.path.join(directory, base + ".crt")
        with open(self.cert_path, "wb") as f:
            f.write(_pem_cert(self.cert))

    def chain(self):
        """The certificates a server sends after its leaf: this CA when it is an
        intermediate, and its own intermediates above; never the root."""
        if self.parent is None:
            return []
        return [self.cert] + self.parent.chain()

    def intermediate(self, cn="dockhand test intermediate CA"):
        return TestCA(self.dir, cn, parent=self)

    def issue(self, cn="dockhand test server", hosts=("127.0.0.1", "localhost"),
              not_before=None, not_after=None, key=None, file_base=None):
        """A server certificate for hosts, signed by this CA, with the chain in its file.
        key: reuse a private key (default a new P-256 key)."""
        key = key or ec.generate_private_key(ec.SECP256R1())
        sans = []
        for h in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                sans.append(x509.DNSName(h))
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(cn)).issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(next(_serials))
            .not_valid_before(not_before or (_now() - datetime.timedelta(minutes=5)))
            .not_valid_after(not_after or (_now() + datetime.timedelta(days=7)))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(self.key, hashes.SHA256()))
        base = os.path.join(self.dir, file_base or "%s-%x" % (cn.replace(" ", "-"),
                                                              cert.serial_number))
        cert_path, key_path = base + ".crt", base + ".key"
        with open(cert_path, "wb") as f:
            f.write(_pem_cert(cert) + b"".join(_pem_cert(c) for c in self.chain()))
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(_pem_key(key))
        return Leaf(cert, cert_path, key_path)


def served_certificate(host, port, ca_path=None, ciphers=None, **ssl_kw):
    """(x509.Certificate of the leaf the server sends, protocol, cipher name) of one new
    connection; checks the chain against ca_path when given, else checks nothing.
    ciphers: an OpenSSL cipher string for the client; ssl_kw: SSLContext attributes
    (minimum_version=…, maximum_version=…)."""
    import socket
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_path:
        ctx.load_verify_locations(ca_path)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if ciphers:
        ctx.set_ciphers(ciphers)
    for k, v in ssl_kw.items():
        setattr(ctx, k, v)
    with socket.create_connection((host, port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            der = s.getpeercert(binary_form=True)
            return x509.load_der_x509_certificate(der), s.version(), s.cipher()[0]
