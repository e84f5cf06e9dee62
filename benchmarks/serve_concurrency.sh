#!/usr/bin/env bash
# The service under 1, 8 and 32 concurrent clients with the demo bundle, side by side in one run: decoding one request
# at a time (max batch 1) against continuous batching (max batch 32). Prints a Markdown table (requests/s, p50/p99
# latency, ratio to one client at a time). ROW_SECONDS per row (default 20); ENGINE djl (default) or onnx[:int4 ...].
# Not part of `mvn verify`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROW_SECONDS="${ROW_SECONDS:-20}"
BUNDLE="${BUNDLE:-samples/demo-kit/bundle}"
mvn -B -q -DskipTests -Dinvoker.skip install -pl benchmarks -am >&2
(cd benchmarks && mvn -B -q dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >&2)
CP="benchmarks/target/classes:$(cat benchmarks/target/classpath.txt)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
java -Xmx4g -cp "$CP" dev.glimpse.benchmarks.ServeBench "$BUNDLE" "$ROW_SECONDS" "${ENGINE:-djl}"
