"""tools/modgraph.py on made-up `nm -A` output: it passes a clean graph and fails each
kind of broken rule, so a green `modgraph` test means something."""
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'modgraph.py'

# A clean layered graph in `nm -A` form, objects named by module; printf and event_new
# come from outside the library and make no arrow.
CLEAN = """\
libdockhand.a:util/scope.o:0000000000000000 T scope_parse
libdockhand.a:util/scope.o:                 U malloc
libdockhand.a:util/scope.o:0000000000000010 t scope_static_helper
libdockhand.a:crypto/jwt.o:0000000000000000 T jwt_sign
libdockhand.a:crypto/jwt.o:                 U scope_parse
libdockhand.a:store/db.o:0000000000000000 T db_open
libdockhand.a:store/db.o:                 U migrations
libdockhand.a:store/migrations.o:0000000000000000 D migrations
libdockhand.a:http/server.o:0000000000000000 T server_run
libdockhand.a:http/server.o:                 U db_open
libdockhand.a:http/server.o:                 U jwt_sign
libdockhand.a:http/server.o:                 U event_new
libdockhand.a:cli/cli.o:0000000000000000 T cli_main
libdockhand.a:cli/cli.o:                 U server_run
libdockhand.a:cli/cli.o:                 U printf
main.o:0000000000000000 T main
main.o:                 U cli_main
"""


def run(tmp_path, nm, *args):
    f = tmp_path / 'nm.txt'
    f.write_text(nm)
    p = subprocess.run([sys.executable, str(TOOL), '--nm-file', str(f), *args],
                       capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def test_clean_graph_passes(tmp_path):
    rc, out = run(tmp_path, CLEAN, '--summary')
    assert (rc, out) == (0, 'modules 7, arrows 6, cycles 0 (largest 0), upward 0\n')


def test_cycle_fails(tmp_path):
    # Within one layer, so that only the cycle is wrong.
    nm = CLEAN + ('libdockhand.a:http/server.o:0000000000000020 T server_hook\n'
                  'libdockhand.a:http/web.o:0000000000000000 T web_handle\n'
                  'libdockhand.a:http/web.o:                 U server_hook\n'
                  'libdockhand.a:http/server.o:                 U web_handle\n')
    rc, out = run(tmp_path, nm)
    assert rc == 1
    assert out.startswith('modules 8, arrows 8, cycles 1 (largest 2), upward 0\n')
    assert 'cycle (2): http/server http/web' in out
    assert 'http/web -> http/server (server_hook)' in out


def test_cycle_found_without_layers(tmp_path):
    # A flat src/ (before the layer folders): cycles are still found.
    nm = ('a.o:0000000000000000 T a_f\na.o:                 U b_f\n'
          'b.o:0000000000000000 T b_f\nb.o:                 U c_f\n'
          'c.o:0000000000000000 T c_f\nc.o:                 U a_f\n'
          'd.o:                 U a_f\n')
    rc, out = run(tmp_path, nm, '--no-layers', '--summary')
    assert (rc, out) == (1, 'modules 4, arrows 4, cycles 1 (largest 3), upward 0\n')


def test_upward_arrow_fails(tmp_path):
    rc, out = run(tmp_path, CLEAN + 'libdockhand.a:util/scope.o:                 U db_open\n')
    assert rc == 1
    assert 'upward: util/scope -> store/db (db_open)' in out
    assert out.startswith('modules 7, arrows 7, cycles 0 (largest 0), upward 1\n')


def test_only_main_uses_cli(tmp_path):
    rc, out = run(tmp_path, CLEAN + 'libdockhand.a:http/server.o:                 U cli_main\n')
    assert rc == 1
    assert 'upward: http/server -> cli/cli (cli_main)' in out


def test_module_outside_the_layers_fails(tmp_path):
    rc, out = run(tmp_path, CLEAN + 'libdockhand.a:misc/x.o:0000000000000000 T x_f\n')
    assert rc == 1
    assert 'misc/x: not in a layer folder of LAYERS' in out


def test_weak_and_local_symbols(tmp_path):
    # A weak reference is a use; a static (lower-case) definition is no one's to use.
    nm = CLEAN + ('libdockhand.a:util/log.o:                 w jwt_sign\n'
                  'libdockhand.a:store/db.o:                 U scope_static_helper\n')
    rc, out = run(tmp_path, nm)
    assert rc == 1
    assert 'upward: util/log -> crypto/jwt (jwt_sign)' in out
    assert 'scope_static_helper' not in out


def test_upward_include_fails(tmp_path):
    src = tmp_path / 'src'
    (src / 'util').mkdir(parents=True)
    (src / 'http').mkdir()
    (src / 'util' / 'scope.c').write_text('#include "dockhand/common.h"\n'
                                          '#include "dockhand/scope.h"\n')
    (src / 'http' / 'server.c').write_text('#include "dockhand/scope.h"\n')
    rc, out = run(tmp_path, CLEAN, '--source', str(tmp_path))
    assert rc == 0, out
    (src / 'util' / 'scope.c').write_text('#include <stdio.h>\n\n# include <dockhand/server.h>\n')
    rc, out = run(tmp_path, CLEAN, '--source', str(tmp_path))
    assert rc == 1
    assert 'upward: src/util/scope.c:3: util includes dockhand/server.h (http)' in out


def test_header_without_home_fails(tmp_path):
    (tmp_path / 'src' / 'util').mkdir(parents=True)
    (tmp_path / 'src' / 'util' / 'scope.c').write_text('#include "dockhand/nowhere.h"\n')
    rc, out = run(tmp_path, CLEAN, '--source', str(tmp_path))
    assert rc == 1
    assert 'dockhand/nowhere.h has no single home' in out


def test_dot(tmp_path):
    rc, out = run(tmp_path, CLEAN + 'libdockhand.a:util/scope.o:                 U db_open\n',
                  '--dot')
    assert rc == 1
    assert out.startswith('digraph dockhand {')
    assert '"util/scope" -> "store/db" [color=red];' in out
    assert 'subgraph "cluster_http"' in out


def test_empty_input_fails(tmp_path):
    rc, out = run(tmp_path, '')
    assert rc == 2 and 'no objects read' in out


def test_cli_uses_cli(tmp_path):
    # The CLI's own files share helpers: only uses from outside cli and main are refused.
    nm = CLEAN + ('libdockhand.a:cli/cli_util.o:0000000000000000 T cli_read_secret\n'
                  'libdockhand.a:cli/cli.o:                 U cli_read_secret\n')
    rc, out = run(tmp_path, nm)
    assert rc == 0, out
