#!/usr/bin/env python3
"""Where each fuzzing finding stops: in this project's code or inside a library it calls.

usage: tools/fuzz_triage.py FUZZ_BINARY FINDING...

Runs the (sanitized) fuzz target on each finding alone and reads its report: the innermost
frame that is either this project's (a source under src/) or a library's (a shared object other
than the C library and the sanitizer runtime) says whose bug it is. A finding that does not
happen again on its own (HDF5's leaks depend on what earlier inputs left in its caches) says so.
Prints one Markdown table row per finding and exits 1 if any stops in this project's code.
"""
import os
import re
import subprocess
import sys

FRAME = re.compile(r"^\s*#\d+ 0x[0-9a-f]+ (?:in (?P<func>.+?) )?(?P<where>\S+)$")
RUNTIME = ("libc.so", "libstdc++", "libgcc", "ld-linux", "/fuzz_", "compiler-rt", "sanitizer")
KIND = re.compile(r"(?:ERROR: (?:AddressSanitizer|LeakSanitizer|libFuzzer): |"
                  r"SUMMARY: UndefinedBehaviorSanitizer: )([\w-]+(?: [\w-]+){0,2})")


def frames(report):
    for line in report.splitlines():
        m = FRAME.match(re.sub(r"\s*\(BuildId: [0-9a-f]+\)$", "", line))
        if m:
            yield m.group("func") or "", m.group("where")


def owner(func, where):
    """'ours', a library's file name, or None for the runtime (libc, sanitizers, libFuzzer)."""
    if "/src/" in where and "/usr/" not in where:
        return "ours"
    path = where.strip("()").split("+")[0]
    if path.endswith(".so") or ".so." in path:
        name = os.path.basename(path)
        return None if any(r in path for r in RUNTIME) else name
    return None


def triage(binary, finding):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0",
               UBSAN_OPTIONS="print_stacktrace=1")
    try:
        run = subprocess.run([binary, "-timeout=10", finding], capture_output=True, text=True,
                             env=env, timeout=120, check=False)
        report = run.stdout + run.stderr
    except subprocess.TimeoutExpired:
        return "hang", "not attributed (no report in 120 s)", "", False
    kind = KIND.search(report)
    if not kind:
        return "none", "does not happen again on its own", "", False
    innermost, caller = None, ""
    for func, where in frames(report):
        who = owner(func, where)
        if who is None:
            continue
        if innermost is None:
            innermost = (who, func)
        if who == "ours":
            caller = func.replace("(anonymous namespace)", "").split("(")[0]
            break
    if innermost is None:
        return kind.group(1), "no frame of ours or of a library", "", False
    who, func = innermost
    where = "our code" if who == "ours" else who
    label = func.replace("(anonymous namespace)", "").split("(")[0] if func else "(no symbol)"
    return kind.group(1), f"{where}: {label}", caller, who == "ours"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary, findings = sys.argv[1], sys.argv[2:]
    ours = 0
    print("| finding | report | stops in | called from |")
    print("| --- | --- | --- | --- |")
    for f in findings:
        kind, where, caller, is_ours = triage(binary, f)
        ours += is_ours
        print(f"| `{os.path.basename(f)[:18]}` | {kind} | {where} | `{caller}` |")
    print(f"\n{len(findings)} findings, {ours} in this project's code")
    sys.exit(1 if ours else 0)


if __name__ == "__main__":
    main()
