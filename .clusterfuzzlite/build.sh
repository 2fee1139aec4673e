#!/bin/bash -eu
# Build every cargo-fuzz target of fuzz/ and put, next to each binary in
# $OUT, what a fuzzing service reads by convention: TARGET.options
# (libFuzzer flags), the dictionary it names, and TARGET_seed_corpus.zip
# (fuzz/seeds/TARGET, plus the repository's scenarios for `scenario`).
# ClusterFuzzLite and OSS-Fuzz run this unchanged; by hand:
#   OUT=/tmp/out SRC=$PWD/.. bash .clusterfuzzlite/build.sh
cd "$SRC/afunix/fuzz"
# $SANITIZER is set by the service (address, undefined, coverage, ...).
cargo fuzz build -O --debug-assertions ${SANITIZER:+--sanitizer "$SANITIZER"}
bin=target/x86_64-unknown-linux-gnu/release
for t in $(cargo fuzz list); do
    cp "$bin/$t" "$OUT/"
    cp "options/$t.options" "$OUT/"
    dict=$(sed -n 's/^dict *= *//p' "options/$t.options")
    if [ -n "$dict" ]; then cp "dict/$dict" "$OUT/"; fi
    seeds=(seeds/"$t"/*)
    if [ "$t" = scenario ]; then
        seeds+=(../tests/scenarios/*.scn ../tests/vectors/*.scn ../examples/*.scn)
    fi
    zip -jq "$OUT/${t}_seed_corpus.zip" "${seeds[@]}"
done
