#!/usr/bin/env python3
"""Adds up every suite's results from meson's test logs and pytest's JUnit files.

Unit tests count one per TAP check; pytest suites one per test case. Prints the
closing line "N passed, N failed" and exits non-zero when anything failed or a suite
left no results."""
import json
import os
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
for build in sys.argv[1:]:
    log = os.path.join(build, 'meson-logs', 'testlog.json')
    if not os.path.exists(log):
        continue
    for line in open(log):
        t = json.loads(line)
        # meson names a test "<project>:<suite> / <test>"
        name, result = t['name'].split(' / ')[-1], t['result']
        if name in ('integration', 'e2e'):
            xml = os.path.join(build, 'tests', name + '.xml')
            if not os.path.exists(xml):
                print(f'{build}: {name}: no results ({result})')
                failed += 1
                continue
            root = ET.parse(xml).getroot()
            suites = [root] if root.tag == 'testsuite' else list(root)
            for s in suites:
                n = int(s.get('tests', 0))
                f = int(s.get('failures', 0)) + int(s.get('errors', 0))
                k = int(s.get('skipped', 0))
                passed += n - f - k
                failed += f
                skipped += k
            if result not in ('OK',) and not any(int(s.get('failures', 0)) + int(s.get('errors', 0)) for s in suites):
                print(f'{build}: {name}: {result} without failed tests')
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
