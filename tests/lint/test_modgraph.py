"""tools/modgraph.py itself: it must fail on a cycle, on an arrow up the layers and on a
use of `cli` from anywhere but main, and pass a clean graph. Synthetic `nm -A` output, with
objects named by module."""
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "modgraph.py"


def run(tmp_path, lines):
    f = tmp_path / "nm.txt"
    f.write_text("\n".join(lines) + "\n")
    p = subprocess.run([sys.executable, str(TOOL), "--nm-file", str(f)],
                       capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def defines(obj, sym):
    return f"{obj}:0000000000000000 T {sym}"


def uses(obj, sym):
    return f"{obj}:                 U {sym}"


def test_clean_graph_passes(tmp_path):
    rc, out = run(tmp_path, [
        defines("util/a.o", "a_fn"), defines("store/s.o", "s_fn"), uses("store/s.o", "a_fn"),
        defines("http/h.o", "h_fn"), uses("http/h.o", "s_fn"), uses("http/h.o", "a_fn"),
        defines("cli/c.o", "c_fn"), uses("cli/c.o", "h_fn"), uses("main.o", "c_fn"),
        uses("http/h.o", "printf"),  # outside the library: no arrow
    ])
    assert rc == 0, out


def test_cycle_fails(tmp_path):
    rc, out = run(tmp_path, [
        defines("http/a.o", "a_fn"), uses("http/a.o", "b_fn"),
        defines("http/b.o", "b_fn"), uses("http/b.o", "a_fn"),
    ])
    assert rc == 1, out
    assert "cycle" in out and "http/a" in out and "http/b" in out


def test_upward_arrow_fails(tmp_path):
    rc, out = run(tmp_path, [
        defines("store/s.o", "s_fn"), uses("store/s.o", "h_fn"),
        defines("http/h.o", "h_fn"),
    ])
    assert rc == 1, out
    assert "store/s" in out and "http/h" in out


def test_cli_used_by_other_than_main_fails(tmp_path):
    rc, out = run(tmp_path, [
        defines("cli/c.o", "c_fn"),
        defines("cli/d.o", "d_fn"), uses("cli/d.o", "c_fn"),  # within cli: allowed
        uses("main.o", "d_fn"),
    ])
    assert rc == 0, out
    rc, out = run(tmp_path, [defines("cli/c.o", "c_fn"), uses("http/h.o", "c_fn"),
                             defines("http/h.o", "h_fn")])
    assert rc == 1, out
