#!/bin/sh
# Regenerates the libprotobuf-c code for the remote-write protocol.
#
#   Usage: scripts/generate-proto.sh        (from anywhere inside the repository)
#   Needs: protoc-c (Debian: apt-get install protobuf-c-compiler)
#
# Reads proto/remote.proto and writes
#   Sources/CProtobufC/remote.pb-c.c
#   Sources/CProtobufC/include/remote.pb-c.h
# Both generated files are committed; rerun this after every edit of the .proto
# and commit the result together with it.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/Sources/CProtobufC"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

command -v protoc-c >/dev/null 2>&1 || {
    echo "protoc-c not found (apt-get install protobuf-c-compiler)" >&2
    exit 1
}

protoc-c --proto_path="$root/proto" --c_out="$tmp" "$root/proto/remote.proto"

mkdir -p "$out/include"
# The header lives in include/ (SwiftPM's public header directory); the .c file
# includes it by bare name, which resolves through that include path. Normalise
# the include line anyway so a different protoc-c layout cannot break it.
sed -e 's|^#include "[^"]*remote\.pb-c\.h"|#include "remote.pb-c.h"|' \
    "$tmp/remote.pb-c.c" > "$out/remote.pb-c.c"
cp "$tmp/remote.pb-c.h" "$out/include/remote.pb-c.h"

echo "generated $out/remote.pb-c.c and $out/include/remote.pb-c.h ($(protoc-c --version | head -n1))"
