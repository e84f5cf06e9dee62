#!/usr/bin/env bash
# ScienceQA evaluation on Spark against one `glimpse eval run` process, side by side on the same questions (those of
# llava_test_CQM-A.json whose image is present, the first N): questions/s at local[1], local[2] and local[2] with one
# libtorch thread, the model-load time per executor JVM, and the batched VisionLanguageAnswerer. Prints a Markdown
# table. SQA: a ScienceQA folder with questions/ and images/ (default ../shared/data/scienceqa, else testdata/scienceqa);
# N (default 200); BUNDLE (default the demo bundle). Not part of `mvn verify`.
set -euo pipefail
cd "$(dirname "$0")/.."
SQA="${SQA:-$( [ -d ../shared/data/scienceqa/images ] && echo ../shared/data/scienceqa || echo testdata/scienceqa )}"
mvn -B -q -DskipTests -Dinvoker.skip install -pl benchmarks -am >&2
(cd benchmarks && mvn -B -q dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >&2)
CP="benchmarks/target/classes:$(cat benchmarks/target/classpath.txt)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
java -Xmx6g @spark/jvm.options -cp "$CP" dev.glimpse.benchmarks.SparkBench "${BUNDLE:-samples/demo-kit/bundle}" "$SQA" "${N:-200}" \
  2> >(grep -v -E "WARN|^SLF4J" >&2)
