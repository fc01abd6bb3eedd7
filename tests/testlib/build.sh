#!/bin/sh
# Builds libcavatest.so.1 and the test program next to this script.
#   ./build.sh            build
#   CC=clang ./build.sh   with another compiler
set -eu
cd "$(dirname "$0")"
CC=${CC:-gcc}
CFLAGS=${CFLAGS:--std=c99 -O2 -g -Wall -Wextra -Werror}
$CC $CFLAGS -shared -fPIC -Wl,-soname,libcavatest.so.1 -o libcavatest.so.1 testlib.c -lpthread
$CC $CFLAGS -o program program.c -L. -l:libcavatest.so.1 -Wl,-rpath,'$ORIGIN' -lpthread
$CC $CFLAGS -I. -o migrate migrate.c -L. -l:libcavatest.so.1 -Wl,-rpath,'$ORIGIN'
