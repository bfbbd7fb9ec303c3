/*
 * CProtobufC: the libprotobuf-c code generated from proto/remote.proto
 * (Prometheus remote write 1.0) and proto/remote_v2.proto (remote write 2.0).
 * Umbrella header of the module; only the PrometheusProto Swift module
 * imports it.
 *
 * remote*.pb-c.h and ../remote*.pb-c.c are generated: do not edit them, run
 * scripts/generate-proto.sh instead.
 */
#ifndef CPROTOBUFC_H
#define CPROTOBUFC_H

#include <protobuf-c/protobuf-c.h>
#include "remote.pb-c.h"
#include "remote_v2.pb-c.h"

#endif
