#!/bin/sh
# Regenerates the libprotobuf-c code for the remote-write protocol.
#
#   Usage: scripts/generate-proto.sh        (from anywhere inside the repository)
#   Needs: protoc-c (Debian: apt-get install protobuf-c-compiler)
#
# Reads proto/remote.proto (Remote Write 1.0, prometheus.WriteRequest) and
# proto/remote_v2.proto (Remote Write 2.0, io.prometheus.write.v2.Request) and writes, for
# each NAME of them,
#   Sources/CProtobufC/NAME.pb-c.c
#   Sources/CProtobufC/include/NAME.pb-c.h
# The generated files are committed; rerun this after every edit of a .proto
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

mkdir -p "$out/include"
for name in remote remote_v2; do
    protoc-c --proto_path="$root/proto" --c_out="$tmp" "$root/proto/$name.proto"
    # The header lives in include/ (SwiftPM's public header directory); the .c file
    # includes it by bare name, which resolves through that include path. Normalise
    # the include line anyway so a different protoc-c layout cannot break it.
    sed -e "s|^#include \"[^\"]*$name\\.pb-c\\.h\"|#include \"$name.pb-c.h\"|" \
        "$tmp/$name.pb-c.c" > "$out/$name.pb-c.c"
    cp "$tmp/$name.pb-c.h" "$out/include/$name.pb-c.h"
    echo "generated $out/$name.pb-c.c and $out/include/$name.pb-c.h"
done

echo "($(protoc-c --version | head -n1))"
