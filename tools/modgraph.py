#!/usr/bin/env python3
"""The module graph of dockhand's build, and the layering rules it must keep.

A module is one object of libdockhand.a (src/<layer>/<name>.c, named "<layer>/<name>") or
src/main.c ("main"). There is an arrow A -> B when A uses a symbol that B defines, read
from `nm -A` of the objects (symbols defined outside the library, libc, libevent and the
like, are ignored). The rules (README "Code map"):

  - no cycle between modules;
  - no arrow up the layer order of LAYERS below: a module uses its own layer and the
    layers below it only;
  - nothing but `main` uses `cli`;
  - a .c file includes no header of a module in a higher layer (read from the sources,
    because a header can bring in macros and inline code that leave no symbol behind).

Exit status: 0 clean, 1 a rule is broken, 2 the build could not be read.

  modgraph.py --build build --source .      the checks, with every finding
  modgraph.py ... --summary                 one line of counts
  modgraph.py ... --dot                     the graph for Graphviz (broken rules coloured)
  modgraph.py --nm-file F [--no-layers]     the same on saved or synthetic `nm -A` output,
                                            objects named by module ("util/scope.o")
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

# The layer order, low to high: the folders of src/, then main.c. The README's "Code map"
# quotes this table; a new folder must be added here or the check fails.
LAYERS = ['util', 'crypto', 'cache', 'store', 'http', 'cli', 'main']

# Layers that only `main` (and the layer itself) may use, whatever their place in LAYERS.
ONLY_FROM_MAIN = {'cli'}

# Generated sources in the library, by the layer of the module that uses them.
GENERATED = {
    'migrations': 'store',  # the SQL migrations, run by store/db.c
    'web_assets': 'http',   # the web page's files, served by http/web.c
    'revision': 'util',     # the commit built (src/util/revision.c.in, meson's vcs_tag)
}

# Headers with no .c of the same name, and the layer they belong to.
HEADER_LAYERS = {
    # Macros and the project's error codes that every module uses: the lowest layer.
    'common.h': 'util',
    # Declares the generated tables (migrations: store, web_assets: http); types and
    # externs only, so it sits with the lower of its two users.
    'embed.h': 'store',
}

LIBRARY = 'libdockhand.a'   # the static library of the top meson.build
MAIN_OBJDIR = 'dockhand.p'  # where meson puts the dockhand executable's objects

# `nm -A` line: "<file>[:<member>]:<address> <type> <symbol>"; the address is blank for
# undefined symbols. Greedy up to the last colon, since C symbols hold none.
NM_LINE = re.compile(r'^(.*):\s*[0-9a-fA-F]*\s+(\S)\s+(\S+)$')
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]dockhand/([^">]+)[">]')


def die(message):
    print(f'modgraph: {message}', file=sys.stderr)
    sys.exit(2)


def module_from_name(obj):
    """Module of an object named after its source: "lib.a:src/util/scope.c.o" ->
    "util/scope" (synthetic input, and the fallback for objects meson did not list)."""
    name = obj.rsplit(':', 1)[-1]
    for suffix in ('.o', '.obj', '.c'):
        name = name[:-len(suffix)] if name.endswith(suffix) else name
    return name[4:] if name.startswith('src/') else name


def read_nm(text, objmap=None):
    """{module: (defined, undefined)} from `nm -A` output. Only global definitions count
    (upper-case types; lower-case ones are static). `objmap` maps object names to modules."""
    mods = {}
    for line in text.splitlines():
        m = NM_LINE.match(line)
        if not m:
            continue
        obj, kind, sym = m.groups()
        member = obj.rsplit(':', 1)[-1]
        mod = (objmap or {}).get(member) or module_from_name(obj)
        defined, undefined = mods.setdefault(mod, (set(), set()))
        if kind in 'Uw':
            undefined.add(sym)
        elif kind.isupper():
            defined.add(sym)
    return mods


def build_objmap(build, source, layered):
    """Object path (as nm names it) -> module, from meson's compile_commands.json."""
    objmap = {}
    src = (Path(source) / 'src').resolve()
    db = Path(build) / 'compile_commands.json'
    if not db.exists():
        die(f'{db} is missing: not a meson build directory')
    for e in json.load(open(db)):
        out = e['output']
        if not out.startswith((LIBRARY + '.p/', MAIN_OBJDIR + '/')):
            continue
        path = (Path(e['directory']) / e['file']).resolve()
        if path.is_relative_to(src):
            objmap[out] = path.relative_to(src).with_suffix('').as_posix()
        elif path.stem in GENERATED and layered:
            objmap[out] = f'{GENERATED[path.stem]}/{path.stem}'
        else:
            objmap[out] = path.stem  # generated: in no layer unless GENERATED names one
    return objmap


def nm_of_build(build, objmap):
    main_objs = [o for o in objmap if o.startswith(MAIN_OBJDIR + '/')]
    lib = Path(build) / LIBRARY
    if not lib.exists() or not main_objs:
        die(f'{lib} or the object of src/main.c is missing: build first')
    run = subprocess.run(['nm', '-A', LIBRARY] + main_objs, cwd=build,
                         capture_output=True, text=True)
    if run.returncode:
        die(f'nm failed: {run.stderr.strip()}')
    return run.stdout


def arrows_of(mods):
    """{(a, b): {symbols}} for every a that uses a symbol b defines, a != b."""
    owner = {}
    for mod, (defined, _) in mods.items():
        for sym in defined:
            owner.setdefault(sym, set()).add(mod)
    arrows = {}
    for mod, (_, undefined) in mods.items():
        for sym in undefined:
            for dst in owner.get(sym, ()):  # not in the library: libc, libevent, …
                if dst != mod:
                    arrows.setdefault((mod, dst), set()).add(sym)
    return arrows


def cycles_of(nodes, arrows):
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    succ = {n: sorted(b for a, b in arrows if a == n) for n in nodes}
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(n):
        index[n] = low[n] = len(index)
        stack.append(n)
        on_stack.add(n)
        for m in succ[n]:
            if m not in index:
                visit(m)
                low[n] = min(low[n], low[m])
            elif m in on_stack:
                low[n] = min(low[n], index[m])
        if low[n] == index[n]:
            comp = []
            while True:
                m = stack.pop()
                on_stack.discard(m)
                comp.append(m)
                if m == n:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for n in sorted(nodes):
        if n not in index:
            visit(n)
    return sorted(found, key=lambda c: (-len(c), c))


def layer_of(mod):
    """The layer of a module: its folder under src/, or `main` for src/main.c."""
    return 'main' if mod == 'main' else mod.split('/')[0] if '/' in mod else None


def rank(layer):
    """Place of a layer in LAYERS; None for a module outside the layer folders."""
    return LAYERS.index(layer) if layer in LAYERS else None


def breaks_layers(a, b):
    """Why the arrow a -> b breaks the layering, or None when it does not."""
    ra, rb = rank(layer_of(a)), rank(layer_of(b))
    if ra is None or rb is None:
        return None  # the module itself is reported
    if ra < rb:
        return 'upward'
    if layer_of(b) in ONLY_FROM_MAIN and layer_of(a) not in (layer_of(b), 'main'):
        return f'only main uses {layer_of(b)}'
    return None


def include_findings(source):
    """Upward includes ("file:line: ...") of the .c files under src/, and headers with no
    home. A header's home is the .c of the same name (found in the sources, not the build,
    so that a stale build cannot hide one) or HEADER_LAYERS."""
    src = Path(source) / 'src'
    sources = sorted(src.rglob('*.c'))
    by_base = {}
    for c in sources:
        mod = c.relative_to(src).with_suffix('').as_posix()
        by_base.setdefault(c.stem + '.h', set()).add(layer_of(mod))
    found, errors = [], []
    for c in sources:
        mod = c.relative_to(src).with_suffix('').as_posix()
        for lineno, line in enumerate(c.read_text(errors='replace').splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            header = m.group(1)
            homes = by_base.get(header) or ({HEADER_LAYERS[header]}
                                            if header in HEADER_LAYERS else set())
            where = f'{c.relative_to(source).as_posix()}:{lineno}'
            if len(homes) != 1:
                errors.append(f'{where}: dockhand/{header} has no single home '
                              '(no .c of that name: add it to HEADER_LAYERS)')
                continue
            home = next(iter(homes))
            if rank(layer_of(mod)) is not None and rank(home) is not None \
                    and rank(layer_of(mod)) < rank(home):
                found.append(f'{where}: {layer_of(mod)} includes dockhand/{header} ({home})')
    return found, errors


def dot(nodes, arrows, bad, cycles):
    """Graphviz text: a box per layer, lowest at the bottom; arrows that break the layers
    red, arrows inside a cycle orange."""
    out = ['digraph dockhand {', '  rankdir=BT; node [shape=box, fontsize=10];']
    for layer in LAYERS + [None]:
        members = sorted(n for n in nodes if layer_of(n) == layer)
        if members and layer:
            out.append(f'  subgraph "cluster_{layer}" {{ label="{layer}";')
            out += [f'    "{n}";' for n in members]
            out.append('  }')
        elif members:
            out += [f'  "{n}";' for n in members]
    for (a, b) in sorted(arrows):
        in_cycle = any(a in c and b in c for c in cycles)
        colour = ' [color=red]' if (a, b) in bad else ' [color=orange]' if in_cycle else ''
        out.append(f'  "{a}" -> "{b}"{colour};')
    out.append('}')
    return '\n'.join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', help="meson's build directory")
    ap.add_argument('--source', help='the source tree (for the include check)')
    ap.add_argument('--nm-file', help='read this `nm -A` output instead of the build')
    ap.add_argument('--no-layers', action='store_true',
                    help='a flat src/: count modules, arrows and cycles only')
    ap.add_argument('--summary', action='store_true', help='print the one-line counts only')
    ap.add_argument('--dot', action='store_true', help='print the graph for Graphviz')
    args = ap.parse_args(argv)
    layered = not args.no_layers

    if args.nm_file:
        mods = read_nm(Path(args.nm_file).read_text())
    elif args.build and args.source:
        objmap = build_objmap(args.build, args.source, layered)
        mods = read_nm(nm_of_build(args.build, objmap), objmap)
    else:
        ap.error('give --build and --source, or --nm-file')
    if not mods:
        die('no objects read')  # never pass on an empty graph

    nodes = set(mods)
    arrows = arrows_of(mods)
    cycles = cycles_of(nodes, arrows)
    upward, errors = [], []
    bad = set()
    if layered:
        errors += [f'{n}: not in a layer folder of LAYERS'
                   for n in sorted(nodes) if rank(layer_of(n)) is None]
        for (a, b), syms in sorted(arrows.items()):
            why = breaks_layers(a, b)
            if why:
                bad.add((a, b))
                note = '' if why == 'upward' else f': {why}'
                upward.append(f'{a} -> {b} ({", ".join(sorted(syms))}){note}')
        if args.source:
            inc_up, inc_errors = include_findings(args.source)
            upward += inc_up
            errors += inc_errors

    largest = max((len(c) for c in cycles), default=0)
    summary = (f'modules {len(nodes)}, arrows {len(arrows)}, '
               f'cycles {len(cycles)} (largest {largest}), upward {len(upward)}')
    if args.dot:
        print(dot(nodes, arrows, bad, cycles))
    elif args.summary:
        print(summary)
    else:
        print(summary)
        for c in cycles:
            print(f'cycle ({len(c)}): ' + ' '.join(c))
            # The arrows inside the cycle: one of them has to go.
            for (a, b), syms in sorted(arrows.items()):
                if a in c and b in c:
                    print(f'  {a} -> {b} ({", ".join(sorted(syms))})')
        for u in upward:
            print(f'upward: {u}')
        for e in errors:
            print(e)
        if not layered:
            print('layers not checked (--no-layers)')
        print('FAIL' if cycles or upward or errors else 'PASS')
    return 1 if cycles or upward or errors else 0


if __name__ == '__main__':
    sys.exit(main())
