#!/usr/bin/env python3
"""Instructions one object spent, from a callgrind output file: its own
instructions (whatever was inlined into its functions, from any crate)
plus those of the C library functions it called (memcpy, malloc), but not
those of other libraries it called (the vendor's).

Counting by object rather than by function keeps the figure right when
link-time optimization inlines the runtime's functions into each other.

    callgrind_split.py FILE OBJECT_SUFFIX   -> prints one integer
"""
import re
import sys

LIBC = ("/libc.so.6", "/ld-linux-x86-64.so.2")


def split(path, suffix):
    names = {}

    def name(kind, text):
        # callgrind compresses names: "(id) name" once, then "(id)"
        m = re.match(r"\((\d+)\)(?:\s+(.*))?", text)
        if not m:
            return text
        if m.group(2):
            names[(kind, m.group(1))] = m.group(2)
        return names.get((kind, m.group(1)), "?")

    own = 0
    ob = fob = cob = None
    call_pending = False
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if not line:
            continue
        key, _, rest = line.partition("=")
        if key == "ob":
            ob = name("ob", rest)
        elif key == "fn":
            fob = ob
        elif key == "cob":
            cob = name("ob", rest)
        elif key in ("fl", "fi", "fe", "cfl", "cfi"):
            name("fl", rest)
        elif key == "cfn":
            name("fn", rest)
        elif key == "calls":
            call_pending = True
        elif line[0].isdigit() or line[0] in "+-*":
            parts = line.split()
            cost = int(parts[1]) if len(parts) > 1 else 0
            ours = fob is not None and fob.endswith(suffix)
            if call_pending:
                # the inclusive cost of a call: counted when an object of
                # ours calls the C library
                if ours and cob is not None and cob.endswith(LIBC):
                    own += cost
                call_pending = False
                cob = None
            elif ours:
                own += cost
    return own


if __name__ == "__main__":
    print(split(sys.argv[1], sys.argv[2]))
