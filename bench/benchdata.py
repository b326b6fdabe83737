"""The benchmark's robots: known secrets, their stored hashes, the SQL that loads them,
and the request lists that wrk and pace send.

Robot i (1-based) is `bench<i:06>` with secret `Bench-<i>-secretA1`, salt `benchsalt<i>`,
and `repository` pull + push on project `proj<j:05>`, j = (i - 1) mod P + 1. Its hash is
dockhand's format for generated secrets (src/crypto/secret.c): PBKDF2-SHA256, 4,096 iterations,
16 bytes, salt as ASCII, `pbkdf2-sha256$4096$<salt>$<hex>`.

Hashing 100,000 secrets costs minutes of CPU, so the hashes are computed once, on every
core, and kept in bench/.cache/hashes-4096.tsv (index, hex), which only grows; the SQL
for a given robot and project count is kept beside it.
"""

import base64
import hashlib
import multiprocessing
import signal
import os
import urllib.parse

ITERATIONS = 4096
DK_LEN = 16
SERVICE = "dockhand-registry"
HASH_FILE = "hashes-%d.tsv" % ITERATIONS


def robot_name(i):
    return "bench%06d" % i


def robot_secret(i):
    return "Bench-%d-secretA1" % i


def robot_salt(i):
    return "benchsalt%d" % i


def project_name(j):
    return "proj%05d" % j


def project_of(i, projects):
    return (i - 1) % projects + 1


def login(i, prefix="robot$"):
    return prefix + robot_name(i)


def basic(i):
    raw = ("%s:%s" % (login(i), robot_secret(i))).encode()
    return "Basic " + base64.b64encode(raw).decode()


def token_path(i, projects):
    scope = "repository:%s/app:pull,push" % project_name(project_of(i, projects))
    return "/service/token?service=%s&scope=%s" % (SERVICE, urllib.parse.quote(scope, safe=""))


def _hash_one(i):
    dk = hashlib.pbkdf2_hmac("sha256", robot_secret(i).encode(), robot_salt(i).encode(),
                             ITERATIONS, DK_LEN)
    return i, dk.hex()


def stored_hash(i, hexdigest):
    return "pbkdf2-sha256$%d$%s$%s" % (ITERATIONS, robot_salt(i), hexdigest)


def ensure_hashes(cache_dir, n, procs, log=print):
    """The hex digests of robots 1..n (a list, index 0 = robot 1), computing and
    appending the ones the cache lacks."""
    os.makedirs(cache_dir, exist_ok=True)
    path = os.path.join(cache_dir, HASH_FILE)
    have = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0].isdigit() and len(parts[1]) == 2 * DK_LEN:
                    have[int(parts[0])] = parts[1]
    missing = [i for i in range(1, n + 1) if i not in have]
    if missing:
        log("hashing %d robot secrets (PBKDF2-SHA256, %d iterations) on %d processes; "
            "cached in %s" % (len(missing), ITERATIONS, procs, path))
        # The workers get SIGTERM's default back: bench/run's handler (unwind and tear
        # down) in a forked worker made Pool's own terminate() hang on a lock.
        with multiprocessing.Pool(procs, initializer=signal.signal,
                                  initargs=(signal.SIGTERM, signal.SIG_DFL)) as pool, \
                open(path, "a") as f:
            for i, hexdigest in pool.imap(_hash_one, missing, chunksize=256):
                have[i] = hexdigest
                f.write("%d\t%s\n" % (i, hexdigest))
    return [have[i] for i in range(1, n + 1)]


def sql_file(cache_dir, robots, projects, procs, log=print):
    """Path of an SQL script that loads `projects` projects and `robots` robots with
    their permissions into a freshly migrated database (made once, then cached)."""
    path = os.path.join(cache_dir, "load-%d-robots-%d-projects.sql" % (robots, projects))
    if os.path.exists(path):
        return path
    hexes = ensure_hashes(cache_dir, robots, procs, log)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("-- dockhand benchmark data (bench/benchdata.py); generated, do not edit.\n"
                "\\set ON_ERROR_STOP 1\n"
                "BEGIN;\n"
                "-- Bulk load: no audit rows and no cache announcements for these inserts.\n"
                "SET LOCAL session_replication_role = replica;\n"
                "CREATE TEMP TABLE bench_hash (n integer PRIMARY KEY, hex text NOT NULL) "
                "ON COMMIT DROP;\n"
                "COPY bench_hash (n, hex) FROM STDIN;\n")
        for i, h in enumerate(hexes, 1):
            f.write("%d\t%s\n" % (i, h))
        f.write("\\.\n")
        f.write(
            "INSERT INTO projects (name)\n"
            "  SELECT 'proj' || lpad(g::text, 5, '0') FROM generate_series(1, %(p)d) g;\n"
            "INSERT INTO robots (name, level, secret_hash, duration, expires_at)\n"
            "  SELECT 'bench' || lpad(h.n::text, 6, '0'), 'system',\n"
            "         'pbkdf2-sha256$%(it)d$benchsalt' || h.n || '$' || h.hex, -1, -1\n"
            "  FROM bench_hash h ORDER BY h.n;\n"
            "INSERT INTO robot_permissions (robot_id, kind, project_id, resource, action)\n"
            "  SELECT r.id, 'project', p.id, 'repository', a.action\n"
            "  FROM robots r\n"
            "  JOIN projects p ON p.name = 'proj' ||\n"
            "       lpad(((substr(r.name, 6)::integer - 1) %% %(p)d + 1)::text, 5, '0')\n"
            "  CROSS JOIN (VALUES ('pull'), ('push')) a(action)\n"
            "  WHERE r.name LIKE 'bench%%';\n"
            "COMMIT;\n"
            "ANALYZE;\n" % {"p": projects, "it": ITERATIONS})
    os.replace(tmp, path)
    return path


def request_file(path, indices, projects):
    """Writes one "<path>\\t<Authorization>" line per robot index (for wrk and pace)."""
    with open(path, "w") as f:
        for i in indices:
            f.write("%s\t%s\n" % (token_path(i, projects), basic(i)))
    return path
