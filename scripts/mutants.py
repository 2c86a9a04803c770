#!/usr/bin/env python3
"""Mutation testing by hand (not in CI): does the suite catch small, plausible bugs?

Each mutant below is one edit a careless change could make: a sign, a constant, a dropped
line. For each, in a git worktree of HEAD (kept between runs for incremental builds), the
script applies the edit, builds the release tree, runs the ctest tests that should notice,
and puts the file back. A mutant is killed when one of them fails; a survivor names a gap in
the suite. docs/architecture.md records the last score with the command.

usage: scripts/mutants.py [--tree DIR] [--jobs N] [NAME ...]   (default: every mutant)
Exit status: 0 every mutant killed, 1 a survivor, 2 usage or set-up error.
"""
import argparse
import os
import subprocess
import sys
import time

# name: (file, old text, new text, ctest -R regex of the tests that should fail, what it breaks)
MUTANTS = {
    "fp16-weight-halved": (
        "src/rewrite/quantize_weights.cc",
        "h[i] = Eigen::half(v[i]);",
        "h[i] = Eigen::half(i == 0 ? 0.5f * v[i] : v[i]);",
        "QuantizeFp16|interop.quantized|interop.classifier",
        "fp16: the first value of every converted weight buffer halved"),
    "max-drop-keeps-unchanged-model": (
        "src/report/fallback.cc",
        "    r.model = std::move(m);\n    r.summary = std::move(s);",
        "    (void)m;\n    r.summary = std::move(s);",
        "Fallback|cli.report|cli.op_numbering",
        "--max-drop writes the all-int8 model whatever it kept float"),
    "bias-correction-sign": (
        "src/report/compare.cc",
        "shift[c] = static_cast<float>(l.channel_error_sum[c] / l.channel_count);",
        "shift[c] = static_cast<float>(-l.channel_error_sum[c] / l.channel_count);",
        "QuantizeInt8|ReportFiles|cli.report",
        "--bias-correction adds the mean error instead of removing it"),
    "sqnr-signal-noise-swapped": (
        "src/report/compare.cc",
        "return 10 * std::log10(sum_ref2 / sum_err2);",
        "return 10 * std::log10(sum_err2 / sum_ref2);",
        "ErrorStats|ReportFiles|cli.report|cli.op_numbering",
        "per-layer and per-output SQNR with signal and noise swapped"),
    "depthwise-per-tensor": (
        "src/op_table.cc",
        'add(B::DEPTHWISE_CONV_2D, weighted("DEPTHWISE_CONV_2D", 1, 3, 2));',
        'add(B::DEPTHWISE_CONV_2D, weighted("DEPTHWISE_CONV_2D", 1, -1, 2));',
        "QuantizeInt8|OpTable|LitertPlacement|interop.quantized.face",
        "depthwise weights quantized per tensor"),
    "minmax-half-range": (
        "calibrators/minmax.cc",
        "calib::finish(b.min, b.max)",
        "calib::finish(b.min, 0.5f * b.max)",
        "CalibratorMinMax|CalibratorAll|interop.quantized.hand",
        "min-max calibration clips the top half of every range"),
    "relu6-fused-as-relu": (
        "src/rewrite/fuse_activations.cc",
        "case B::RELU6: return A::RELU6;",
        "case B::RELU6: return A::RELU;",
        "QuantizeInt8|LitertPlacement|interop.quantized.hand",
        "a RELU6 folded into its producer loses its upper clamp"),
    "equalization-without-sqrt": (
        "src/rewrite/quantize_int8.cc",
        "std::sqrt(r[c] / wmax[c])",
        "(r[c] / wmax[c])",
        "QuantizeInt8|interop.quantized.face|interop.quantized.selfie",
        "channel equalization scales by r/w instead of sqrt(r/w)"),
    "int8-add-no-rounding": (
        "src/kernels/int8_arith.cc",
        "bias = (int32_t{1} << (shift - 1)) - a_mult * a.zero_point",
        "bias = 0 - a_mult * a.zero_point",
        "Int8Add|Int8Arith|interop.int8_executor.hand",
        "the executor's int8 ADD truncates instead of rounding"),
    "mean-of-channel-0": (
        "datasets/image_dataset.cc",
        "(row[x * C + c] - channel_value(p.mean, c))",
        "(row[x * C + c] - channel_value(p.mean, 0))",
        "Dataset|cli.provenance",
        "pre-processing subtracts channel 0's mean from every channel"),
    "map-iou-0.3": (
        "src/report/accuracy.cc",
        "double best_iou = 0.5;",
        "double best_iou = 0.3;",
        "Accuracy|SsdDecode|cli.detect",
        "mAP50 matches detections at IoU 0.3"),
    "sigmoid-output-through-int8-grid": (
        "src/rewrite/quantize_int8.cc",
        "if (info.fixed_output && opt_.io != IoType::kFloat && is_graph_output(op) && fed_by_float_ops(op, info)) {",
        "if (info.fixed_output && opt_.io != IoType::kFloat && is_graph_output(op) && fed_by_float_ops(op, info) && false) {",
        "QuantizeInt8|interop.quantized.selfie",
        "--io int8: a sigmoid fed by float ops is quantized again (rounds its input)"),
    "gray-left-bgr": (
        "datasets/image_dataset.cc",
        "} else if (p.color == Preprocessing::Color::kGray) {",
        "} else if (p.color == Preprocessing::Color::kGray && false) {",
        "Dataset|cli.flags",
        "--color gray on a colour input keeps the BGR order"),
}


def run(cmd, cwd, log):
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        return subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT).returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tree", default=os.environ.get("QCAL_MUTANT_TREE", "/tmp/qcal-mutants"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    unknown = [n for n in a.names if n not in MUTANTS]
    if unknown:
        print(f"mutants: unknown mutant(s) {', '.join(unknown)}; known: {', '.join(MUTANTS)}", file=sys.stderr)
        return 2
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=os.path.dirname(os.path.abspath(__file__)),
                          capture_output=True, text=True, check=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    tree, build, log = a.tree, os.path.join(a.tree, "build"), os.path.join(a.tree, "mutants.log")
    if not os.path.isdir(os.path.join(tree, ".git")) and not os.path.isfile(os.path.join(tree, ".git")):
        subprocess.run(["git", "worktree", "add", "--detach", tree, head], cwd=root, check=True)
    subprocess.run(["git", "checkout", "-q", "--detach", head], cwd=tree, check=True)
    subprocess.run(["git", "checkout", "-q", "--", "."], cwd=tree, check=True)
    if run(["cmake", "-S", ".", "-B", "build", "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release"], tree, log) or \
            run(["ninja", "-C", build, f"-j{a.jobs}"], tree, log):
        print(f"mutants: the unmutated tree does not build (see {log})", file=sys.stderr)
        return 2
    results = []
    for name in a.names or MUTANTS:
        path, old, new, tests, what = MUTANTS[name]
        file = os.path.join(tree, path)
        text = open(file).read()
        if text.count(old) != 1:
            results.append((name, "STALE", f"the text to mutate occurs {text.count(old)} times in {path}", 0))
            print(f"STALE    {name}: {results[-1][2]}", flush=True)
            continue
        start = time.time()
        try:
            open(file, "w").write(text.replace(old, new))
            if run(["ninja", "-C", build, f"-j{a.jobs}"], tree, log):
                verdict, detail = "killed", "does not compile"
            elif "Total Tests: 0" in subprocess.run(["ctest", "-N", "-R", tests], cwd=build, capture_output=True,
                                                    text=True).stdout:
                verdict, detail = "STALE", f"no test matches '{tests}'"
            else:
                rc = run(["ctest", "-R", tests, "-j", str(a.jobs), "--timeout", "900"], build, log)
                verdict, detail = ("killed", f"ctest -R '{tests}' fails") if rc else ("SURVIVED", f"ctest -R '{tests}' passes")
        finally:
            open(file, "w").write(text)
        results.append((name, verdict, f"{what}: {detail}", time.time() - start))
        print(f"{verdict:8} {name} ({results[-1][3]:.0f} s): {results[-1][2]}", flush=True)
    run(["ninja", "-C", build, f"-j{a.jobs}"], tree, log)  # leave the tree built as HEAD
    killed = sum(r[1] == "killed" for r in results)
    print(f"score: {killed}/{len(results)} mutants killed (HEAD {head[:7]}; log {log})")
    return 0 if killed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
