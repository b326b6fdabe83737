#!/usr/bin/env python3
"""Adds up every suite's results from meson's test logs and pytest's JUnit files.

Unit tests count one per TAP check; pytest suites one per test case; the browser suite one
per test of node's TAP file (tests/browser.tap: the innermost tests, not the files or
groups that hold them). Prints the
closing line "N passed, N failed" and exits non-zero when anything failed or a suite
left no results."""
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
# meson tests that run pytest with --junitxml=<build>/tests/<name>.xml
PYTEST_SUITES = ('integration', 'e2e', 'hardening', 'soak', 'deploy', 'modgraph-selftest')


def node_tap(path):
    """(passed, failed, skipped) of the leaf tests in node --test's TAP output. Subtests
    are indented and come before their parent's line, so a test point is a parent exactly
    when the test point before it is indented deeper."""
    counts = [0, 0, 0]
    points = []
    for line in open(path, encoding='utf-8', errors='replace'):
        m = re.match(r'^( *)(not ok|ok) \d+', line)
        if not m:
            continue
        depth = len(m.group(1))
        points.append((depth, m.group(2), '# SKIP' in line or '# TODO' in line))
    for i, (depth, status, skip) in enumerate(points):
        if i > 0 and points[i - 1][0] > depth:
            continue  # a file or a describe() block
        counts[2 if skip else 0 if status == 'ok' else 1] += 1
    return counts


def junit(xml):
    """(passed, failed, skipped) of a pytest JUnit file."""
    root = ET.parse(xml).getroot()
    counts = [0, 0, 0]
    for s in [root] if root.tag == 'testsuite' else list(root):
        n, k = int(s.get('tests', 0)), int(s.get('skipped', 0))
        f = int(s.get('failures', 0)) + int(s.get('errors', 0))
        counts[0] += n - f - k
        counts[1] += f
        counts[2] += k
    return counts


# --junit FILE: a pytest run outside meson (scripts/test's final grep, tests/leaks/) whose
# JUnit file must exist and is counted like a suite's.
args, extra = [], []
argv = sys.argv[1:]
while argv:
    a = argv.pop(0)
    if a == '--junit' and argv:
        extra.append(argv.pop(0))
    else:
        args.append(a)
for xml in extra:
    if not os.path.exists(xml):
        print(f'{xml}: no results')
        failed += 1
        continue
    ok, bad, skip = junit(xml)
    passed += ok
    failed += bad
    skipped += skip
    if ok + bad == 0:
        print(f'{xml}: no tests ran')
        failed += 1

for build in args:
    log = os.path.join(build, 'meson-logs', 'testlog.json')
    if not os.path.exists(log):
        continue
    for line in open(log):
        t = json.loads(line)
        # meson names a test "<project>:<suite> / <test>"
        name, result = t['name'].split(' / ')[-1], t['result']
        if name in PYTEST_SUITES:
            xml = os.path.join(build, 'tests', name + '.xml')
            if not os.path.exists(xml):
                print(f'{build}: {name}: no results ({result})')
                failed += 1
                continue
            ok, bad, skip = junit(xml)
            passed += ok
            failed += bad
            skipped += skip
            if result != 'OK' and bad == 0:
                print(f'{build}: {name}: {result} without failed tests')
                failed += 1
            continue
        if name == 'browser':
            tap = os.path.join(build, 'tests', 'browser.tap')
            if not os.path.exists(tap):
                print(f'{build}: browser: no results ({result})')
                failed += 1
                continue
            ok, bad, skip = node_tap(tap)
            passed += ok
            failed += bad
            skipped += skip
            if result != 'OK' and bad == 0:
                print(f'{build}: browser: {result} without failed tests')
                failed += 1
            elif ok + bad == 0:
                print(f'{build}: browser: no tests ran')
                failed += 1
            continue
        out = t.get('stdout', '') or ''
        ok = sum(1 for l in out.splitlines() if l.startswith('ok '))
        bad = sum(1 for l in out.splitlines() if l.startswith('not ok '))
        passed += ok
        failed += bad
        if ok == 0 and bad == 0 and result == 'OK':
            passed += 1  # a plain pass/fail test (no TAP)
        elif result != 'OK' and bad == 0:
            print(f'{build}: {name}: {result}')
            failed += 1

if passed == 0 and failed == 0:
    failed = 1
    print('no test results found')
line = f'{passed} passed, {failed} failed'
if skipped:
    line += f', {skipped} skipped'
print(line)
sys.exit(1 if failed else 0)
