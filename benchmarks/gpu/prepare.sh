#!/usr/bin/env bash
# Lays out .gpu/ (git-ignored) for benchmarks/gpu/run.sh on the device machine, which has no Java: a jlink'ed Java 17,
# this JDK's JNI headers (the JNI is built there, from tools/torch-jni), the CLI and library jars plus the benchmarks
# jar (GpuBench), without the CPU libtorch, DJL's prebuilt JNI, ONNX Runtime and chart/PDF jars.
# Run from the project root after `mvn -B -q -DskipTests install`:
#   bash benchmarks/gpu/prepare.sh
# then, with the device tool: command "bash benchmarks/gpu/run.sh", carry [".gpu"], timeout ~590 s.
set -euo pipefail
D=.gpu
[ -f samples/target/glimpse.jar ] || { echo "build first: mvn -B -q -DskipTests install"; exit 1; }
J=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
rm -rf "$D"; mkdir -p "$D/lib"
cp -r "$J/include" "$D/jni-include"
cp samples/target/glimpse.jar "$D/"
cp benchmarks/target/glimpse-benchmarks-*-SNAPSHOT.jar "$D/lib/" 2>/dev/null || true
rm -f "$D"/lib/*-sources.jar "$D"/lib/*-javadoc.jar
# what GpuBench needs: not the CPU libtorch, DJL's prebuilt JNI or ONNX Runtime (the run must not pick them), nor the
# server, terminal, chart and PDF jars (the checkout plus .gpu must stay under the device tool's 64 MiB)
for j in samples/target/lib/*.jar; do
  case "$(basename "$j")" in pytorch-native-cpu*|onnxruntime-*|pytorch-jni-*|pdfbox-*|fontbox-*|xchart-*|*langchain4j*\
    |prometheus-*|glimpse-server-*|jline-*|animated-gif-*|VectorGraphics2D-*|graphics2d-*|java-ipv6-*) ;;
    *) cp "$j" "$D/lib/";; esac
done
# native code for linux-x86_64 only
tj=$(ls "$D"/lib/tokenizers-*.jar 2>/dev/null | head -1)
[ -n "$tj" ] && zip -q -d "$tj" 'native/lib/linux-aarch64/*' 'native/lib/osx-*' 'native/lib/win-*' >/dev/null 2>&1 || true
jj=$(ls "$D"/lib/jna-*.jar 2>/dev/null | head -1)
[ -n "$jj" ] && zip -q -d "$jj" 'com/sun/jna/aix-*' 'com/sun/jna/darwin-*' 'com/sun/jna/win32-*' 'com/sun/jna/sunos-*' \
  'com/sun/jna/freebsd-*' 'com/sun/jna/openbsd-*' 'com/sun/jna/dragonflybsd-*' 'com/sun/jna/linux-a*' \
  'com/sun/jna/linux-ppc*' 'com/sun/jna/linux-mips*' 'com/sun/jna/linux-s390x/*' 'com/sun/jna/linux-riscv64/*' \
  'com/sun/jna/linux-loongarch64/*' 'com/sun/jna/linux-x86/*' 'com/sun/jna/linux-sparcv9/*' >/dev/null 2>&1 || true
rm -rf /tmp/glimpse-jre0 && "$J/bin/jlink" --add-modules java.base,java.datatransfer,java.desktop,java.logging,java.management,java.naming,java.net.http,java.prefs,java.security.sasl,java.sql,java.transaction.xa,java.xml,jdk.crypto.ec,jdk.httpserver,jdk.unsupported,jdk.zipfs \
  --strip-debug --no-header-files --no-man-pages --output /tmp/glimpse-jre0/jre0
tar -cf - -C /tmp/glimpse-jre0 jre0 | xz -9e > "$D/jre.tar.xz"
# issue #24's check against transformers: a LLaVA export with the bundle's own inputs and logits (~1.5 MB)
mvn -B -q -o test -pl fusion -Dtest=LlavaExportTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Dglimpse.export.reference="$PWD/$D/export-ref" >/dev/null 2>&1 || echo "export reference not made (run.sh skips its check)"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
du -sh "$D"
total=$(( $(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1) \
  + $(du -sb "$D" | cut -f1) ))
echo "working tree + .gpu: $(( total / 1048576 )) MiB (the device tool takes 64)"
