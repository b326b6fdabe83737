"""`dockhand keygen` on a full or read-only keys directory (issue 13 §3): a clear error
naming the reason, exit 1, and nothing half-written (no .crt without its .key, no temp
file, the keys already there untouched). The key is written to a temp file, fsynced and
renamed; the certificate is removed when the key cannot be written. Needs root (mount)."""

import contextlib
import os
import subprocess
import tempfile

import pytest

from helpers import dockhand as dh

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs: needs root "
                                "(CI runs as root)")


@contextlib.contextmanager
def _tmpfs(size):
    d = tempfile.mkdtemp(prefix="dockhand-keysfs-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs", d],
                   check=True)
    try:
        yield d
    finally:
        subprocess.run(["umount", d], check=True)
        os.rmdir(d)


def _keygen(dockhand_bin, keys_dir, *args):
    env = dh.base_env()
    env["DOCKHAND_KEYS_DIR"] = keys_dir
    return dh.run_cli(dockhand_bin, env, ["keygen"] + list(args), check=False)


def _fill(d, keep_pages):
    """Fills the tmpfs d up to keep_pages free 4 KiB pages; returns the filler's name."""
    st = os.statvfs(d)
    free = st.f_bavail * st.f_frsize - keep_pages * 4096
    with open(os.path.join(d, "filler"), "wb") as f:
        if free > 0:
            f.write(b"\0" * free)
    return "filler"


@pytest.mark.parametrize("free_pages,alg", [(0, "ES256"), (1, "ES256"), (1, "RS256")])
def test_keygen_on_a_full_file_system(dockhand_bin, free_pages, alg):
    """0 pages free: the certificate cannot be written; 1 page: the certificate fits and
    the key does not (the certificate is then removed)."""
    with _tmpfs("16k") as d:
        filler = _fill(d, free_pages)
        p = _keygen(dockhand_bin, d, "--alg", alg)
        assert p.returncode == 1, dh.describe(p)
        assert p.stdout == ""
        assert p.stderr.strip() == ("dockhand: cannot make a key in %s: No space left on "
                                    "device; nothing was written" % d), p.stderr
        assert sorted(os.listdir(d)) == [filler]
        # Room again: the same command works.
        os.unlink(os.path.join(d, filler))
        p = _keygen(dockhand_bin, d, "--alg", alg)
        assert p.returncode == 0, dh.describe(p)
        names = sorted(os.listdir(d))
        assert len(names) == 2 and names[0][:-4] == names[1][:-4], names
        assert {n[-4:] for n in names} == {".crt", ".key"}


def test_keygen_on_a_read_only_keys_directory(dockhand_bin, tmp_path):
    """A read-only bind mount (root ignores permission bits): the error names it, and the
    pair already there is untouched."""
    keys = str(tmp_path / "keys")
    dh.keygen(dockhand_bin, keys)
    before = {n: open(os.path.join(keys, n), "rb").read() for n in os.listdir(keys)}
    subprocess.run(["mount", "--bind", keys, keys], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", keys], check=True)
        p = _keygen(dockhand_bin, keys)
        assert p.returncode == 1, dh.describe(p)
        assert p.stderr.strip() == ("dockhand: cannot make a key in %s: Read-only file "
                                    "system; nothing was written" % keys), p.stderr
        p = _keygen(dockhand_bin, os.path.join(keys, "sub"))  # a directory to create
        assert p.returncode == 1 and "Read-only file system" in p.stderr, dh.describe(p)
    finally:
        subprocess.run(["umount", keys], check=True)
    after = {n: open(os.path.join(keys, n), "rb").read() for n in os.listdir(keys)}
    assert after == before
