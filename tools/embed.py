#!/usr/bin/env python3
"""Turn files into a C array of {name, bytes, length} so the binary carries them."""
import argparse
import os

ap = argparse.ArgumentParser()
ap.add_argument('--symbol', required=True)
ap.add_argument('output')
ap.add_argument('inputs', nargs='+')
a = ap.parse_args()

with open(a.output, 'w') as out:
    out.write('#include <stddef.h>\n#include "dockhand/embed.h"\n\n')
    for i, path in enumerate(a.inputs):
        data = open(path, 'rb').read()
        out.write('static const unsigned char %s_%d[] = {' % (a.symbol, i))
        for j, b in enumerate(data):
            if j % 16 == 0:
                out.write('\n   ')
            out.write(' 0x%02x,' % b)
        out.write(' 0x00\n};\n')
    out.write('\nconst struct embedded_file %s[] = {\n' % a.symbol)
    for i, path in enumerate(a.inputs):
        data = open(path, 'rb').read()
        out.write('    {"%s", %s_%d, %d},\n' % (os.path.basename(path), a.symbol, i, len(data)))
    out.write('    {NULL, NULL, 0},\n};\n')
