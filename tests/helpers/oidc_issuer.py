"""A test OpenID Connect issuer for keyless robots (README "Keyless CI").

One HTTPS server (a certificate from a CA made by the test: `server.ca_path` is what
dockhand's DOCKHAND_OIDC_CA_FILE trusts) hosts any number of issuers, each at its own
path, each with its own signing keys:

    srv = OidcServer(tmp_dir)                      # started
    gh = srv.issuer("github")                      # https://localhost:PORT/github
    tok = gh.github(repository="org/app", aud="test-registry")
    gh.rotate()                                    # a new key; the old one leaves the JWKS
    srv.fetches("github", "jwks")                  # how many times the JWKS was fetched
    gh.mode = "slow" | "trickle" | "huge" | "malformed" | "fail" | "ok"  # misbehaviour
    srv.stop(); srv.start()                        # down (connection refused) and back

Tokens are shaped like the real ones (claim names and formats from each platform's
documentation): GitHub Actions (docs.github.com, "About security hardening with OpenID
Connect": sub "repo:ORG/REPO:ref:refs/heads/main", repository, repository_owner, ref,
ref_type, ref_protected "true", environment, job_workflow_ref, workflow, actor, run_id, ...;
nbf 5 minutes before iat, exp 6 hours after it, as github/actions-oidc-debugger prints them), GitLab CI (docs.gitlab.com, "OpenID Connect (OIDC)
Authentication Using ID Tokens": sub "project_path:GROUP/PROJ:ref_type:branch:ref:main",
project_path, namespace_path, ref, ref_type, ref_protected "true", pipeline_source, ...)
and a Kubernetes projected service account token (sub "system:serviceaccount:NS:SA", aud
a list, the "kubernetes.io" object with namespace, pod and serviceaccount).
Signing is done here with python3-cryptography (RS256, PS256, ES256, and the forgeries the
tests need: alg none, HS256 keyed with the public key).
"""

import base64
import collections
import hashlib
import hmac
import http.server
import json
import os
import socket
import ssl
import threading
import time
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from helpers import secrets
from helpers.tlsca import TestCA


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(n, size=None):
    size = size or (n.bit_length() + 7) // 8
    return b64u(n.to_bytes(size, "big"))


class Key:
    """A signing key of an issuer: kid, alg, private key."""

    def __init__(self, alg="RS256", kid=None):
        self.alg = alg
        self.kid = kid or uuid.uuid4().hex[:16]
        if alg.startswith(("RS", "PS")):
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
        elif alg == "ES384":
            self.private = ec.generate_private_key(ec.SECP384R1())
        else:
            raise ValueError(alg)

    def jwk(self):
        pub = self.private.public_key()
        if isinstance(pub, rsa.RSAPublicKey):
            nums = pub.public_numbers()
            d = {"kty": "RSA", "n": _int_b64(nums.n), "e": _int_b64(nums.e)}
        else:
            nums = pub.public_numbers()
            size = (pub.curve.key_size + 7) // 8
            d = {"kty": "EC", "crv": "P-256" if size == 32 else "P-384",
                 "x": _int_b64(nums.x, size), "y": _int_b64(nums.y, size)}
        d.update({"kid": self.kid, "use": "sig", "alg": self.alg})
        return d

    def public_pem(self):
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, data, alg=None):
        alg = alg or self.alg
        digest = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[alg[2:]]
        if alg.startswith("RS"):
            return self.private.sign(data, padding.PKCS1v15(), digest)
        if alg.startswith("PS"):
            return self.private.sign(data, padding.PSS(padding.MGF1(digest),
                                                       digest.digest_size), digest)
        r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(digest)))
        size = (self.private.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")


class Issuer:
    """One issuer of the server: url, keys (the JWKS), mode, max_age (Cache-Control)."""

    def __init__(self, server, name, alg="RS256"):
        self.server = server
        self.name = name
        self.url = "%s/%s" % (server.base, name)
        self.keys = [Key(alg)]
        self.mode = "ok"
        self.slow_seconds = 30
        self.max_age = 3600
        self.chunked = False

    @property
    def key(self):
        return self.keys[0]

    def rotate(self, alg=None, keep_old=False):
        """A new signing key first in the JWKS; the old ones leave it unless keep_old."""
        k = Key(alg or self.key.alg)
        self.keys = [k] + (self.keys if keep_old else [])
        return k

    def discovery(self):
        return {"issuer": self.url, "jwks_uri": self.url + "/jwks",
                "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": sorted({k.alg for k in self.keys}),
                "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf"]}

    def jwks(self):
        return {"keys": [k.jwk() for k in self.keys]}

    # -- minting ----------------------------------------------------------------------------

    def mint(self, claims, key=None, alg=None, kid=None, header=None, sign=True):
        """A compact JWS of claims, signed by key (default the current one)."""
        key = key or self.key
        alg = alg or key.alg
        hdr = {"typ": "JWT", "alg": alg, "kid": kid if kid is not None else key.kid}
        if header is not None:
            hdr = header
        signing_input = (b64u(json.dumps(hdr, separators=(",", ":"))) + "." +
                         b64u(json.dumps(claims, separators=(",", ":"))))
        if not sign:
            sig = b""
        elif alg == "HS256":  # the forgery: the public key used as an HMAC secret
            sig = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
        elif alg == "none":
            sig = b""
        else:
            sig = key.sign(signing_input.encode(), alg)
        tok = signing_input + "." + b64u(sig)
        secrets.remember(tok)
        return tok

    def times(self, now=None, lifetime=300, nbf_before=0):
        now = int(now if now is not None else time.time())
        return {"iat": now, "nbf": now - nbf_before, "exp": now + lifetime}

    def github(self, aud, repository="octo-org/octo-repo", ref="refs/heads/main",
               environment=None, now=None, lifetime=21600, **extra):
        owner = repository.split("/")[0]
        if environment:
            sub = "repo:%s:environment:%s" % (repository, environment)
        elif ref.startswith("refs/pull/"):
            sub = "repo:%s:pull_request" % repository
        else:
            sub = "repo:%s:ref:%s" % (repository, ref)
        claims = {
            "jti": str(uuid.uuid4()), "sub": sub, "aud": aud, "ref": ref,
            "sha": "a" * 40, "repository": repository, "repository_owner": owner,
            "repository_owner_id": "65", "repository_id": "74", "repository_visibility": "private",
            "actor": "octocat", "actor_id": "12", "run_id": "1234567890", "run_number": "10",
            "run_attempt": "1", "runner_environment": "github-hosted", "workflow": "release",
            "head_ref": "", "base_ref": "", "event_name": "push", "ref_protected": "true",
            "ref_type": "branch" if ref.startswith("refs/heads/") else "tag",
            "workflow_ref": "%s/.github/workflows/release.yml@%s" % (repository, ref),
            "job_workflow_ref": "%s/.github/workflows/release.yml@%s" % (repository, ref),
            "iss": self.url,
        }
        if environment:
            claims["environment"] = environment
        claims.update(self.times(now, lifetime, nbf_before=300))
        claims.update(extra)
        return self.mint(claims)

    def gitlab(self, aud, project_path="my-group/my-project", ref="main", ref_type="branch",
               ref_protected=True, now=None, lifetime=3600, **extra):
        namespace = project_path.rsplit("/", 1)[0]
        claims = {
            "namespace_id": "72", "namespace_path": namespace, "project_id": "20",
            "project_path": project_path, "user_id": "1", "user_login": "sample-user",
            "user_email": "sample-user@example.com", "user_access_level": "developer",
            "pipeline_id": "574", "pipeline_source": "push", "job_id": "302", "ref": ref,
            "ref_type": ref_type, "ref_path": "refs/heads/" + ref,
            "ref_protected": "true" if ref_protected else "false",
            "runner_id": 1, "runner_environment": "gitlab-hosted", "sha": "b" * 40,
            "project_visibility": "private",
            "ci_config_ref_uri": "gitlab.example.com/%s//.gitlab-ci.yml@refs/heads/%s"
                                 % (project_path, ref),
            "ci_config_sha": "b" * 40, "jti": str(uuid.uuid4()), "iss": self.url,
            "sub": "project_path:%s:ref_type:%s:ref:%s" % (project_path, ref_type, ref),
            "aud": aud,
        }
        claims.update(self.times(now, lifetime, nbf_before=5))
        claims.update(extra)
        return self.mint(claims)

    def kubernetes(self, aud, namespace="ci", serviceaccount="builder", now=None,
                   lifetime=3600, **extra):
        claims = {
            "aud": aud if isinstance(aud, list) else [aud], "iss": self.url,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {
                "namespace": namespace,
                "node": {"name": "node-1", "uid": str(uuid.uuid4())},
                "pod": {"name": "builder-7d9f", "uid": str(uuid.uuid4())},
                "serviceaccount": {"name": serviceaccount, "uid": str(uuid.uuid4())},
            },
            "sub": "system:serviceaccount:%s:%s" % (namespace, serviceaccount),
        }
        claims.update(self.times(now, lifetime, nbf_before=0))
        claims.update(extra)
        return self.mint(claims)


class OidcServer:
    """The HTTPS server of the issuers; started at creation."""

    def __init__(self, directory, host="localhost"):
        os.makedirs(directory, exist_ok=True)
        self.ca = TestCA(directory, cn="oidc test CA")
        self.leaf = self.ca.issue("oidc issuer", hosts=("localhost", "127.0.0.1"))
        self.ca_path = self.ca.cert_path
        self.issuers = {}
        self.counts = collections.Counter()
        self.lock = threading.Lock()
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.base = "https://%s:%d" % (host, self.port)
        self.httpd = None
        self.thread = None
        self.start()

    def issuer(self, name, alg="RS256"):
        iss = Issuer(self, name, alg)
        self.issuers[name] = iss
        return iss

    def fetches(self, name, what="jwks"):
        with self.lock:
            return self.counts[(name, what)]

    def start(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.leaf.cert_path, self.leaf.key_path)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                parts = self.path.strip("/").split("/", 1)
                iss = server.issuers.get(parts[0])
                rest = parts[1] if len(parts) > 1 else ""
                if not iss or rest not in (".well-known/openid-configuration", "jwks"):
                    return self.answer(404, b"{}")
                what = "discovery" if rest.startswith(".well") else "jwks"
                with server.lock:
                    server.counts[(iss.name, what)] += 1
                if iss.mode == "fail":
                    return self.answer(500, b"{}")
                if iss.mode == "slow":
                    time.sleep(iss.slow_seconds)
                if what == "discovery":
                    return self.answer(200, json.dumps(iss.discovery()).encode())
                if iss.mode == "huge":  # valid JSON, far over any sane JWKS size
                    jwks = iss.jwks()
                    jwks["padding"] = "x" * (1024 * 1024)
                    return self.answer(200, json.dumps(jwks).encode(), iss)
                if iss.mode == "trickle":  # a valid JWKS, 64 bytes every 20 ms (about 40 s)
                    jwks = iss.jwks()
                    jwks["padding"] = "x" * 120000
                    return self.answer(200, json.dumps(jwks).encode(), iss, trickle=True)
                if iss.mode == "malformed":
                    return self.answer(200, b'{"keys": [{"kty": "RSA", "n": ', iss)
                return self.answer(200, json.dumps(iss.jwks()).encode(), iss)

            def answer(self, status, body, iss=None, trickle=False):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if iss is not None:
                    self.send_header("Cache-Control", "public, max-age=%d" % iss.max_age)
                self.send_header("Connection", "close")
                if iss is not None and iss.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(0, len(body), 1000):
                        chunk = body[i:i + 1000]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    try:
                        step = 64 if trickle else len(body) or 1
                        for i in range(0, len(body), step):
                            self.wfile.write(body[i:i + step])
                            if trickle:
                                self.wfile.flush()
                                time.sleep(0.02)
                    except OSError:
                        pass
                self.close_connection = True

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def get_request(self):
                sock, addr = self.socket.accept()
                sock.settimeout(60)
                return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

            def handle_error(self, request, client_address):
                pass  # clients that give up (dockhand's timeout) are expected

        self.httpd = Server(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        """Down: nothing listens on the port any more (connection refused)."""
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def close(self):
        self.stop()
