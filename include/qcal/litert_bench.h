// LiteRT's own latency for a model: the speed a user deploying on LiteRT gets, next to qcal's
// executor's. Measured through the project's Node harness (tests/interop/litert_run.js on npm
// @litertjs/core: LiteRT's CompiledModel with XNNPACK, in wasm, 1 thread), in a child process.
#pragma once

#include <optional>
#include <string>

namespace qcal {

struct LitertHarness {
  std::string node;    // the node executable (found on PATH)
  std::string script;  // litert_run.js
};

// The harness, if this machine has it: $QCAL_LITERT_RUN (the script), else the source tree's
// tests/interop/litert_run.js; plus `node` on PATH and the LiteRT package, as the script's
// `--check` finds it (one rule for where it looks). Without one, `why` says what is missing.
std::optional<LitertHarness> find_litert_harness(std::string& why);

// Median milliseconds of `runs` timed runs (after runs / 5 warm-up runs, at least 1) of the
// model on deterministic inputs. Throws Error with the harness's one-line message on failure.
double litert_median_ms(const LitertHarness& harness, const std::string& model_path, int runs);

}  // namespace qcal
