#!/usr/bin/env python3
"""Turn files into C arrays so the binary carries them.

Default mode: a table of {name, bytes, length} (the SQL migrations).
--web BASE: a table of {path relative to BASE, content type, bytes, length, strong ETag}
(the web page's files, served under /ui/)."""
import argparse
import hashlib
import os
import re
import sys

# Content types by file extension. A file of another kind fails the build: add it here.
CONTENT_TYPES = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
    '.mjs': 'text/javascript; charset=utf-8',
    '.css': 'text/css; charset=utf-8',
    '.json': 'application/json',
    '.map': 'application/json',
    '.webmanifest': 'application/manifest+json',
    '.svg': 'image/svg+xml',
    '.png': 'image/png',
    '.jpg': 'image/jpeg',
    '.jpeg': 'image/jpeg',
    '.gif': 'image/gif',
    '.webp': 'image/webp',
    '.ico': 'image/x-icon',
    '.txt': 'text/plain; charset=utf-8',
    '.woff': 'font/woff',
    '.woff2': 'font/woff2',
}
WEB_PATH = re.compile(r'^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$')

ap = argparse.ArgumentParser()
ap.add_argument('--symbol', required=True)
ap.add_argument('--web', metavar='BASE', help='embed web files relative to BASE')
ap.add_argument('output')
ap.add_argument('inputs', nargs='+')
a = ap.parse_args()


def fail(msg):
    sys.stderr.write('embed.py: %s\n' % msg)
    sys.exit(1)


def write_bytes(out, name, data):
    out.write('static const unsigned char %s[] = {' % name)
    for j, b in enumerate(data):
        if j % 16 == 0:
            out.write('\n   ')
        out.write(' 0x%02x,' % b)
    out.write(' 0x00\n};\n')


entries = []
for path in a.inputs:
    with open(path, 'rb') as f:
        data = f.read()
    if a.web:
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(a.web)).replace(os.sep, '/')
        if not WEB_PATH.match(rel) or '..' in rel.split('/'):
            fail('%s: not a plain path below %s' % (path, a.web))
        ext = os.path.splitext(rel)[1].lower()
        if ext not in CONTENT_TYPES:
            fail('%s: no content type known for "%s" (add it to tools/embed.py)' % (path, ext))
        entries.append((rel, CONTENT_TYPES[ext], data))
    else:
        entries.append((os.path.basename(path), None, data))
if a.web and len({e[0] for e in entries}) != len(entries):
    fail('a web file is listed twice')

with open(a.output, 'w') as out:
    out.write('#include <stddef.h>\n#include "dockhand/embed.h"\n\n')
    for i, (_, _, data) in enumerate(entries):
        write_bytes(out, '%s_%d' % (a.symbol, i), data)
    if a.web:
        out.write('\nconst struct web_asset %s[] = {\n' % a.symbol)
        for i, (rel, ctype, data) in enumerate(entries):
            etag = '\\"%s\\"' % hashlib.sha256(data).hexdigest()
            out.write('    {"%s", "%s", %s_%d, %d, "%s"},\n'
                      % (rel, ctype, a.symbol, i, len(data), etag))
        out.write('    {NULL, NULL, NULL, 0, NULL},\n};\n')
    else:
        out.write('\nconst struct embedded_file %s[] = {\n' % a.symbol)
        for i, (name, _, data) in enumerate(entries):
            out.write('    {"%s", %s_%d, %d},\n' % (name, a.symbol, i, len(data)))
        out.write('    {NULL, NULL, 0},\n};\n')
