#!/usr/bin/env python3
"""Writes a C file defining `const unsigned char NAME[]` with the bytes of a file, a 0 after them,
and `const unsigned long NAME_len` (their count, without the 0) (build step)."""
import sys

src, out, name = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(src, 'rb').read()
with open(out, 'w') as f:
    f.write('/* generated from %s by scripts/embed.py */\n' % src.split('/')[-1])
    f.write('const unsigned char %s[] = {\n' % name)
    for i in range(0, len(data), 16):
        f.write('  ' + ', '.join(str(b) for b in data[i:i + 16]) + ',\n')
    f.write('  0\n};\n')
    f.write('const unsigned long %s_len = %d;\n' % (name, len(data)))
