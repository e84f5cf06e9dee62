#!/usr/bin/env bash
# A fuzzing campaign over every @FuzzTest target: each fuzzed for SECONDS_PER_TARGET (default 60) with Jazzer under
# -Pfuzz, one JVM per target. Prints a Markdown table (inputs executed, corpus size, findings) for docs/reliability.md
# and leaves each target's log in target/fuzz/. Findings are written by Jazzer into the target's Inputs directory
# (src/test/resources/.../<Class>Inputs/<method>/crash-*), where they stay as regression inputs once fixed.
set -uo pipefail
cd "$(dirname "$0")/../.."
S="${SECONDS_PER_TARGET:-60}"
OUT=target/fuzz
mkdir -p "$OUT"
mvn -B -q install -DskipTests -Dinvoker.skip -Dmaven.javadoc.skip=true -Dmaven.source.skip >&2 || exit 1
targets=(
  "core ParsersFuzzTest#safetensors" "core ParsersFuzzTest#shardedIndex" "core ParsersFuzzTest#configJson"
  "core ParsersFuzzTest#otherConfigs" "vision ImageLoaderFuzzTest#image" "language TokenizerFuzzTest#tokenizerJson"
  "language TokenizerFuzzTest#chatTemplate" "language TokenizerFuzzTest#peftAdapter" "fusion BundleFuzzTest#bundleJson"
  "fusion BundleFuzzTest#projector" "fusion BundleFuzzTest#promptTemplate" "eval DataFilesFuzzTest#scienceQaProblems"
  "eval DataFilesFuzzTest#llavaQuestions" "eval DataFilesFuzzTest#predictions" "training TrainingDataFuzzTest#jsonl"
  "training TrainingDataFuzzTest#llavaConversations" "server RequestsFuzzTest#chatCompletion"
  "server RequestsFuzzTest#answer"
)
echo "| module | target | seconds | inputs executed | corpus | findings |"
echo "|---|---|---:|---:|---:|---|"
for t in "${targets[@]}"; do
  m="${t%% *}"; test="${t#* }"; log="$OUT/${test//#/_}.log"
  mvn -B -q -Pfuzz surefire:test -pl "$m" -Dtest="$test" -Dfuzz.duration="${S}s" >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | awk '{print $2}')
  corpus=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  if [ "$rc" = 0 ]; then finding="none"; else
    finding=$(grep -m1 -oE '== Java Exception: [A-Za-z0-9_.$]+|AssertionError: [^:]{0,80}|Timeout|OutOfMemoryError' "$log" || echo "failed, see $log")
  fi
  echo "| $m | ${test/\#/.} | $S | ${runs:-?} | ${corpus:-?} | $finding |"
done
