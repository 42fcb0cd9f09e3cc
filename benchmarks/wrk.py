"""wrk as the load generator: finding or installing it, its Lua script, running it, reading its output."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from benchmarks.results import LoadRun

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ("INSTALL_HINT", "ensure_wrk", "run_wrk", "run_wrk_many", "wrk_version")

INSTALL_HINT: Final = "wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu), or pass --load-tool python"
_GRACE: Final = 15.0
"""Seconds past the run's duration before wrk is killed."""

_LUA: Final = """\
-- POST a fresh RunAgentInput per request, on a thread of its own: our server re-attaches a known runId
-- to its retained run, and concurrent clients are separate conversations. Every 200 response must end
-- with the run's RUN_FINISHED (a stream can end early with a RUN_ERROR and still be a 200); looking for it
-- in the last bytes costs wrk next to nothing, counting every frame would not.
local tokens = {tokens}
local prefix = "{prefix}"
local counter = 0
local threads = {{}}
incomplete = 0

wrk.method = "POST"
wrk.path = "{path}"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "text/event-stream"

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function request()
  counter = counter + 1
  local run = prefix .. "-" .. tostring(tid) .. "-" .. counter
  local body = '{{"threadId":"t-' .. run .. '","runId":"' .. run ..
    '","messages":[{{"id":"m","role":"user","content":"hi"}}],"forwardedProps":{{"tokens":' .. tokens .. '}}}}'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 200 and not body:find("RUN_FINISHED", -400, true) then
    incomplete = incomplete + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("incomplete")
  end
  io.write(string.format("Incomplete responses: %d\\n", total))
end
"""


def wrk_version() -> str | None:
    """``wrk --version``'s first line, or ``None`` when wrk is not on PATH."""
    path = shutil.which("wrk")
    if path is None:
        return None
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10, check=False)
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0].split(" Copyright")[0] if lines else "wrk (unknown version)"


def ensure_wrk(*, install: bool) -> str | None:
    """wrk's path; when it is missing and ``install`` is set (root with apt-get), install it from Debian."""
    path = shutil.which("wrk")
    if path is not None or not install:
        return path
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    print("wrk is missing: installing it with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        if subprocess.run(command, env=env, check=False, timeout=600).returncode != 0:
            return None
    return shutil.which("wrk")


def write_script(directory: Path, *, tokens: int, prefix: str, path: str) -> Path:
    script = directory / f"wrk-{prefix}.lua"
    script.write_text(_LUA.format(tokens=int(tokens), prefix=prefix, path=path))
    return script


_UNITS: Final = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def parse_output(output: str) -> tuple[int, int, float, float]:
    """``(requests, errors, requests/s, p99 seconds)`` from wrk's ``--latency`` output."""
    requests = re.search(r"^\s*(\d+) requests in ", output, re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s*([\d.]+)", output, re.MULTILINE)
    p99 = re.search(r"^\s*99(?:\.0+)?%\s+(\S+)", output, re.MULTILINE)
    if requests is None or rate is None or p99 is None:
        raise RuntimeError(f"could not read wrk's output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    if non_2xx is not None:
        errors += int(non_2xx[1])
    incomplete = re.search(r"^Incomplete responses:\s*(\d+)", output, re.MULTILINE)
    if incomplete is not None:  # 200s that do not end with RUN_FINISHED
        errors += int(incomplete[1])
    return int(requests[1]), errors, float(rate[1]), _seconds(p99[1])


@dataclass(slots=True)
class _Running:
    process: subprocess.Popen[bytes]
    out_path: Path
    started: float
    deadline: float


def _start(
    wrk: str, url: str, script: Path, *, clients: int, duration: float, core: int | None, threads: int
) -> _Running:
    command = [
        wrk, f"-t{min(threads, clients)}", f"-c{clients}", f"-d{max(1, round(duration))}s",
        "--latency", "--timeout", "10s", "-s", str(script), url,
    ]  # fmt: skip
    if core is not None:
        command = ["taskset", "-c", str(core), *command]
    out_path = script.with_suffix(f".c{clients}.out")
    started = time.perf_counter()
    with out_path.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    return _Running(process, out_path, started, started + duration + _GRACE)


def _finish(running: _Running) -> LoadRun:
    """Wait for one wrk (killed past its deadline); its CPU time comes from ``wait4``."""
    process = running.process
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > running.deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            break
        time.sleep(0.02)
    wall = time.perf_counter() - running.started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
    output = running.out_path.read_text(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output}")
    requests, errors, rate, p99 = parse_output(output)
    return LoadRun(requests, errors, rate, p99, usage.ru_utime + usage.ru_stime, wall)


def run_wrk(
    wrk: str, url: str, script: Path, *, clients: int, duration: float, core: int | None, threads: int = 1
) -> LoadRun:
    """Run wrk for ``duration`` seconds with ``clients`` connections."""
    return _finish(_start(wrk, url, script, clients=clients, duration=duration, core=core, threads=threads))


def run_wrk_many(
    wrk: str, targets: Sequence[tuple[str, Path, int]], *, duration: float, core: int | None, threads: int = 1
) -> LoadRun:
    """Several wrk side by side, one per ``(url, script, clients)`` (each script with its own run ids), all
    on ``core``: the sum of their requests, errors, requests/s and CPU time; the highest of their p99s
    (wrk reports percentiles, not samples, so the p99 of all requests together is at most that)."""
    running = [
        _start(wrk, url, script, clients=clients, duration=duration, core=core, threads=threads)
        for url, script, clients in targets
    ]
    results = [_finish(r) for r in running]
    return LoadRun(
        requests=sum(r.requests for r in results),
        errors=sum(r.errors for r in results),
        runs_per_s=sum(r.runs_per_s for r in results),
        p99_s=max(r.p99_s for r in results),
        cpu_seconds=sum(r.cpu_seconds for r in results),
        wall_seconds=max(r.wall_seconds for r in results),
    )
