"""Fuzz-style battery of bad input files, through the real CLI (`mixsearch.cli.main`, in-process).

Seeded generators turn valid files of each loader (architecture YAML, block strings inside one,
search space YAML, proxy settings YAML, latency table JSON) into bad ones: type swaps, huge and
negative numbers, deep nesting, alias bombs and recursive aliases, duplicate keys, unknown and
odd keys, huge values, binary garbage, other encodings, truncation, character flips, and paths
that are no regular file (FIFO, folder, socket, symlink loop, /dev/zero, dangling link, missing,
oversized). A case the loader refuses in-process (a MixsearchError; any other exception fails the
test) must meet the CLI contract: exit 2, exactly one line on stderr that names the file, no
traceback, and no file created or changed in the case's folder (the input and the command's
output included). A mutation that stays valid is run through the CLI where that is cheap (space,
table) and must then exit 0 or meet the same contract; otherwise it is only counted.
Every generator draws from one seeded numpy generator, so the cases are the same on every run.
The last test points every command that writes a file at paths it must not replace (a FIFO, a
folder, a socket, a device node, its own input by name, hard link or symlink, a missing folder).
"""
from __future__ import annotations

import copy
import json
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import yaml

from mixsearch.cli import main
from mixsearch.search_space import load_arch, load_preset
from mixsearch.search_space.arch_io import arch_to_document
from mixsearch.search_space.errors import MixsearchError
from mixsearch.search_space.space import default_space, load_space

SEED = 17

# ---- valid starting points ----------------------------------------------------------------------
TINY_SPACE = {
    "schema_version": 1, "kind": "space", "name": "tiny_space", "resolution": 32, "num_classes": 10,
    "in_chans": 3, "stem_chs": 8, "stem_stride": 2, "head_chs": 32, "act": "relu", "dropout": 0.0,
    "stages": [{"block_type": "ds", "stride": 1, "depth": [1], "width": [8], "kernels": [[3]], "exp_ratio": [1]},
               {"stride": 2, "depth": [1, 2], "width": [16], "kernels": [[3], [3, 5]], "exp_ratio": [1, 3],
                "se_ratio": [0, 0.25], "act": ["relu", "swish"], "exp_groups": [1, 2]}],
}
SMALL_ARCH = {"name": "small", "resolution": 32, "num_classes": 10, "stem_chs": 8, "head_chs": 32,
              "blocks": [{"block_type": "ds", "out_chs": 8}, {"out_chs": 16, "kernels": [3, 5], "stride": 2,
                                                                "exp_ratio": 3, "se_ratio": 0.25}]}
TINY_PROXY = {"dataset": "digits", "epochs": 1, "data_fraction": 0.1, "resolution": 16, "width_mult": 0.25, "threads": 1, "repeats": 1}
GOOD_BLOCKS = ["ds_r1_k3_s1_e1_c16", "ir_r2_k3.5.7_a1.1_p1.1_s2_e6_c40_se0.5_nsw", "ir_r1_k3.5_s22_e3_c24_x2",
               "ir_r3_k5_s1_e6_c80_d2_nr6"]

BAD_VALUES = [None, True, False, "", "abc", -1, 0, 1.5, -0.0, 10 ** 6, 10 ** 12, 10 ** 30, -10 ** 30,
              float("inf"), float("-inf"), float("nan"), [], {}, [1, 2], {"a": 1}, [[[]]], "1e999", "\uff12",
              "c999999999999", "\x00", "line\nbreak", "x" * 5000]
ODD_KEYS = ["colour", 1, 2.5, True, None, "", "a\nb", "\x1b[2J", "k" * 3000, "blocks ", "\u2028"]
NASTY_CHARS = list("{}[]:,&*!|>'\"%@`#\t\n-?") + ["\x00", "\x7f", "\u2028", "\ufeff", "\u00e9", "\uff12"]
BAD_BLOCK_PARTS = ["r2", "k3", "k5", "nsw", "nre", "x2", "c999999999999", "c0", "k4", "k99", "s3", "e0", "e999",
                   "se2", "se1e999", "senan", "a1.2", "p0", "d0", "d99", "r0", "r99", "c\u00b2", "c\u0661\u0666",
                   "", "zz9", "k", "k3..5", "c16" * 100]


@dataclass
class Case:
    name: str
    data: bytes | None = None                       # the file's content, or
    make: Callable[[Path], None] | None = None      # what creates the path instead


# ---- generators ---------------------------------------------------------------------------------
def _paths(doc: Any, rng: np.random.Generator) -> list:
    """A random path into doc: descend from the root with probability 0.7 at each level, so every
    section is reached about as often whatever its size (a table's entries would swamp the rest)."""
    path, node = [], doc
    while isinstance(node, (dict, list)) and node and (not path or rng.random() < 0.7):
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = keys[int(rng.integers(len(keys)))]
        path.append(key)
        node = node[key]
    return path


def _set(doc: Any, path: list, value: Any) -> Any:
    doc = copy.deepcopy(doc)
    if not path:
        return value
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def _numeric_paths(doc: Any, prefix=()) -> list:
    found = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            found.append([*prefix, key])
        found += _numeric_paths(value, (*prefix, key))
    return found


def _placeholder(doc: Any, rng: np.random.Generator, dump: Callable[[Any], str], text: str) -> bytes:
    """doc with a random value replaced by raw `text` (nesting and aliases no dumper writes)."""
    path = _paths(doc, rng) or ["__extra__"]
    marker = "PLACEHOLDER_3b1f"
    return dump(_set(doc, path, marker)).replace(f'"{marker}"', text).replace(marker, text).encode()


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    names = "abcdefghijklmnopqrstuvwxyz"[:levels]
    parts = [f"&a [{','.join(['lol'] * width)}]"]
    parts += [f"&{n} [{','.join([f'*{p}'] * width)}]" for p, n in zip(names, names[1:])]
    return "[" + ", ".join(parts) + "]"


def _duplicate_line(text: str, rng: np.random.Generator) -> bytes:
    """A mapping key repeated: a `key: value` line (not a list item) written twice."""
    lines = text.splitlines()
    keyed = [i for i, line in enumerate(lines) if ":" in line and not line.lstrip().startswith("-")
             and not line.lstrip().startswith("#")]
    i = keyed[int(rng.integers(len(keyed)))]
    return "\n".join(lines[:i + 1] + [lines[i]] + lines[i + 1:]).encode() + b"\n"


def _json_duplicate(text: str, rng: np.random.Generator) -> bytes:
    """A JSON object with one key given twice (the first object key found after a random offset)."""
    start = int(rng.integers(len(text) // 2))
    brace = text.find("{", start)
    brace = text.find("{") if brace < 0 else brace
    key_end = text.find(":", brace)
    first_key = text[brace + 1:key_end].strip()
    return (text[:brace + 1] + f"{first_key}: 0, " + text[brace + 1:]).encode()


def _fifo(p: Path) -> None:
    os.mkfifo(p)


def _folder(p: Path) -> None:
    p.mkdir()


def _socket(p: Path) -> None:
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(p))  # the socket file stays after close


def _loop(p: Path) -> None:
    p.symlink_to(p.with_name("loop_b"))
    p.with_name("loop_b").symlink_to(p)


def _dev_zero(p: Path) -> None:
    p.symlink_to("/dev/zero")  # endless: reading it would never stop


def _dangling(p: Path) -> None:
    p.symlink_to(p.with_name("nowhere"))


def _missing(p: Path) -> None:
    pass


def _oversized(p: Path) -> None:
    p.write_bytes(b"")
    os.truncate(p, 70 << 20)  # sparse, so it costs no disk; over every size limit


def _empty(p: Path) -> None:
    p.write_bytes(b"")


SPECIAL_FILES = (_fifo, _folder, _socket, _loop, _dev_zero, _dangling, _missing, _oversized, _empty)


def _common(doc: Any, dump: Callable[[Any], str], rng: np.random.Generator, prefix: str, rounds: int,
            json_text: bool = False) -> list[Case]:
    """The generators every loader shares, `rounds` cases of each mutation kind."""
    text = dump(doc)
    numeric = _numeric_paths(doc)
    cases = []
    for r in range(rounds):
        path = _paths(doc, rng)
        cases.append(Case(f"{prefix}-swap{r}", dump(_set(doc, path, BAD_VALUES[int(rng.integers(len(BAD_VALUES)))]))
                          .encode()))
        if numeric:
            big = 10 ** int(rng.integers(5, 40)) * int(rng.choice([1, -1]))
            cases.append(Case(f"{prefix}-huge{r}", dump(_set(doc, numeric[int(rng.integers(len(numeric)))], big))
                              .encode()))
        container = _paths(doc, rng)[:-1] if rng.random() < 0.5 else []
        target = copy.deepcopy(doc)
        node = target
        for key in container:
            node = node[key]
        if isinstance(node, dict):
            node[ODD_KEYS[int(rng.integers(len(ODD_KEYS)))]] = 1
            cases.append(Case(f"{prefix}-oddkey{r}", dump(target).encode()))
        depth = int(rng.choice([65, 300, 5000]))
        cases.append(Case(f"{prefix}-nest{r}", _placeholder(doc, rng, dump, "[" * depth + "]" * depth)))
        cut = int(rng.integers(1, len(text)))
        cases.append(Case(f"{prefix}-truncate{r}", text[:cut].encode()))
        chars = list(text)
        for _ in range(int(rng.integers(1, 4))):
            chars[int(rng.integers(len(chars)))] = NASTY_CHARS[int(rng.integers(len(NASTY_CHARS)))]
        cases.append(Case(f"{prefix}-flip{r}", "".join(chars).encode("utf-8", "surrogatepass")))
        cases.append(Case(f"{prefix}-binary{r}", rng.bytes(int(rng.integers(1, 4096)))))
        cases.append(Case(f"{prefix}-duplicate{r}", _json_duplicate(text, rng) if json_text
                          else _duplicate_line(text, rng)))
    for name, raw in (("bomb", _alias_bomb()), ("recursive", "&r [1, *r]"), ("bomb-wide", _alias_bomb(6, 40))):
        if not json_text:
            cases.append(Case(f"{prefix}-{name}", _placeholder(doc, rng, dump, raw)))
    for constant in ("NaN", "Infinity", "-Infinity", "1" * 5000):
        cases.append(Case(f"{prefix}-constant-{constant[:8]}", _placeholder(doc, rng, dump, constant)))
    cases += [Case(f"{prefix}-utf16", text.encode("utf-16")), Case(f"{prefix}-latin1", (text + "\u00e9\n").encode("latin-1")),
              Case(f"{prefix}-nul", text.encode()[:10] + b"\0" + text.encode()[10:]),
              Case(f"{prefix}-hugevalue", dump(_set(doc, _paths(doc, rng) or [], "x" * 300_000)).encode()),
              Case(f"{prefix}-scalar", b"just a string\n"), Case(f"{prefix}-list", b"[1, 2, 3]\n")]
    return cases + [Case(f"{prefix}-special{make.__name__}", make=make) for make in SPECIAL_FILES]


def _yaml(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=False)


def arch_cases(rng: np.random.Generator) -> list[Case]:
    mixnet = arch_to_document(load_preset("mixnet_s"))
    sampled = arch_to_document(default_space().sample(np.random.default_rng(SEED)))
    return (_common(mixnet, _yaml, rng, "mixnet_s", 12) + _common(SMALL_ARCH, _yaml, rng, "small", 12)
            + _common(sampled, _yaml, rng, "sampled", 6))


def block_string_cases(rng: np.random.Generator) -> list[Case]:
    """Bad block strings in an otherwise valid arch: options repeated, out of range, unknown, odd digits."""
    cases = []
    for i in range(120):
        parts = GOOD_BLOCKS[int(rng.integers(len(GOOD_BLOCKS)))].split("_")
        for _ in range(int(rng.integers(1, 3))):
            bad = BAD_BLOCK_PARTS[int(rng.integers(len(BAD_BLOCK_PARTS)))]
            if rng.random() < 0.5:
                parts.insert(int(rng.integers(1, len(parts) + 1)), bad)  # often a field given twice
            else:
                parts[int(rng.integers(1, len(parts)))] = bad
        if rng.random() < 0.1:
            parts[0] = str(rng.choice(["", "mb", "IR", "ir ", "dsir"]))
        doc = {"name": "b", "resolution": 64, "num_classes": 10, "blocks": [GOOD_BLOCKS[0], "_".join(parts)]}
        cases.append(Case(f"block{i}-{'_'.join(parts)[:40]}", _yaml(doc).encode()))
    return cases


def space_cases(rng: np.random.Generator) -> list[Case]:
    return _common(TINY_SPACE, _yaml, rng, "tiny", 14) + _common(default_space().to_dict(), _yaml, rng, "default", 8)


def proxy_cases(rng: np.random.Generator) -> list[Case]:
    from mixsearch.evaluator import ProxyConfig
    return _common(TINY_PROXY, _yaml, rng, "tiny", 14) + _common(ProxyConfig().to_dict(), _yaml, rng, "full", 8)


def table_cases(doc: dict, rng: np.random.Generator) -> list[Case]:
    dump = lambda d: json.dumps(d, indent=1)  # noqa: E731
    cases = _common(doc, dump, rng, "table", 16, json_text=True)
    for i, (field, value) in enumerate([("scale", 0), ("scale", -1.0), ("scale", -1e-9), ("scale", "1"),
                                        ("offset_ms", "0"), ("scale", None)]):
        calibration = {**(doc["calibration"] or {}), field: value}
        cases.append(Case(f"table-calibration{i}-{field}={value!r}", dump({**doc, "calibration": calibration}).encode()))
    cases.append(Case("table-calibration-inf", dump(doc).replace('"scale": 1.1', '"scale": 1e999').encode()))
    return cases


# ---- the contract -------------------------------------------------------------------------------
def _snapshot(folder: Path) -> dict:
    """Every entry of the (flat) case folder with what identifies its content; links and special
    files are not followed or read."""
    shot = {}
    for path in sorted(folder.iterdir()):
        info = os.lstat(path)
        content = path.read_bytes() if stat.S_ISREG(info.st_mode) and info.st_size < (1 << 20) else info.st_size
        shot[path.name] = (stat.S_IFMT(info.st_mode), info.st_ino, content)
    return shot


@dataclass
class Loader:
    name: str
    accepts: Callable[[Path], Any]             # the library call; raises MixsearchError when refused
    argv: Callable[[Path, Path], list[str]]    # (input, case folder) -> the command
    run_valid: bool                             # whether a valid mutation is cheap enough to run too


def _check(loader: Loader, case: Case, folder: Path, capsys, monkeypatch) -> tuple[str, str | None]:
    """('refused' | 'valid' | 'valid-skipped', failure description or None)."""
    folder.mkdir()
    path = folder / "input"
    if case.make:
        case.make(path)
    else:
        path.write_bytes(case.data)
    try:
        loader.accepts(path)
        outcome = "valid"
    except MixsearchError:
        outcome = "refused"
    except Exception as err:  # noqa: BLE001 — any other exception is the bug this battery looks for
        return "crash", f"{case.name}: the library raised {type(err).__name__}: {str(err)[:300]}"
    if outcome == "valid" and not loader.run_valid:
        return "valid-skipped", None
    monkeypatch.chdir(folder)
    before = _snapshot(folder)
    capsys.readouterr()
    try:
        code = main(loader.argv(path, folder))
    except SystemExit as stop:
        code = stop.code
    except Exception as err:  # noqa: BLE001
        return outcome, f"{case.name}: the CLI raised {type(err).__name__}: {str(err)[:300]}"
    out, err = capsys.readouterr()
    if outcome == "valid" and code == 0:
        return outcome, None
    problems = []
    if code != 2:
        problems.append(f"exit {code}")
    if "Traceback" in out + err:
        problems.append("a traceback")
    if len(err.splitlines()) != 1 or not err.startswith("mixsearch: error: ") or len(err) > 2100:
        problems.append(f"stderr of {len(err.splitlines())} lines, {len(err)} chars")
    if outcome == "refused" and str(path) not in err:
        problems.append("the error does not name the input file")
    if _snapshot(folder) != before:
        problems.append("files created or changed")
    return outcome, (f"{case.name}: {', '.join(problems)}; stderr: {err[:300]!r}" if problems else None)


def _battery(loader: Loader, cases: list[Case], tmp_path: Path, capsys, monkeypatch, minimum: int) -> None:
    outcomes, failures = {}, []
    for i, case in enumerate(cases):
        outcome, failure = _check(loader, case, tmp_path / f"case{i:04d}", capsys, monkeypatch)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if failure:
            failures.append(failure)
    assert not failures, f"{len(failures)} of {len(cases)} cases broke the contract:\n" + "\n".join(failures[:15])
    assert outcomes.get("refused", 0) >= minimum, outcomes  # the generators still produce bad input


# ---- one test per loader ------------------------------------------------------------------------
def test_arch_yaml(tmp_path, capsys, monkeypatch):
    loader = Loader("arch", lambda p: load_arch(str(p)),
                    lambda p, d: ["export", str(p), "--onnx", str(d / "out.onnx")], run_valid=False)
    _battery(loader, arch_cases(np.random.default_rng(SEED)), tmp_path, capsys, monkeypatch, minimum=250)


def test_block_strings(tmp_path, capsys, monkeypatch):
    loader = Loader("block", lambda p: load_arch(str(p)),
                    lambda p, d: ["export", str(p), "--onnx", str(d / "out.onnx")], run_valid=False)
    _battery(loader, block_string_cases(np.random.default_rng(SEED)), tmp_path, capsys, monkeypatch, minimum=100)


def test_space_yaml(tmp_path, capsys, monkeypatch):
    loader = Loader("space", lambda p: load_space(str(p)),
                    lambda p, d: ["space", "sample", str(p), "--seed", "0", "--out", str(d / "out.yaml")],
                    run_valid=True)
    _battery(loader, space_cases(np.random.default_rng(SEED)), tmp_path, capsys, monkeypatch, minimum=180)


def test_proxy_yaml(tmp_path, capsys, monkeypatch):
    """A valid proxy is not run (it would load data and search); a bad one must stop `run` before
    any run folder exists (the runs dir lies under a file, so even a slip could not create one)."""
    import argparse

    from mixsearch.cli.run import _proxy

    (tmp_path / "blocker").write_text("a file where the runs folder would be\n")
    loader = Loader("proxy", lambda p: _proxy(argparse.Namespace(proxy=str(p), dataset=None, epochs=None, data_cache=None), None),
                    lambda p, d: ["run", "--proxy", str(p), "--runs-dir", str(tmp_path / "blocker" / "runs"),
                                  "--name", "case", "--trials", "1", "--target-flops", "300M", "--no-progress"],
                    run_valid=False)
    _battery(loader, proxy_cases(np.random.default_rng(SEED)), tmp_path, capsys, monkeypatch, minimum=180)


def test_proxy_config_from_dict():
    """ProxyConfig.from_dict on generated mappings: a ProxyConfig or one ProxyConfigError line, nothing else."""
    from mixsearch.evaluator import ProxyConfig
    from mixsearch.evaluator.errors import ProxyConfigError

    rng = np.random.default_rng(SEED)
    base = ProxyConfig().to_dict()
    refused = 0
    for _ in range(400):
        data = _set(base, _paths(base, rng), BAD_VALUES[int(rng.integers(len(BAD_VALUES)))])
        if rng.random() < 0.2:
            data = {**(data if isinstance(data, dict) else {}), ODD_KEYS[int(rng.integers(len(ODD_KEYS)))]: 1}
        try:
            ProxyConfig.from_dict(data)
        except ProxyConfigError as err:
            refused += 1
            assert len(str(err)) < 2100
    assert refused >= 300


@pytest.fixture(scope="module")
def tiny_table(tmp_path_factory):
    """A real table of TINY_SPACE (eager, few runs) with a calibration, and an arch of that space."""
    folder = tmp_path_factory.mktemp("table")
    (folder / "space.yaml").write_text(_yaml(TINY_SPACE))
    assert main(["latency", "build", "--space", str(folder / "space.yaml"), "--warmup", "0", "--runs", "1",
                 "--calibrate", "0", "--out", str(folder / "table.json"), "--quiet"]) == 0
    assert main(["space", "sample", str(folder / "space.yaml"), "--seed", "1", "--out", str(folder / "arch.yaml")]) == 0
    doc = json.loads((folder / "table.json").read_text())
    doc["calibration"] = {"kind": "scale", "scale": 1.1, "offset_ms": 0.0}
    return doc, folder / "arch.yaml"


def test_latency_table_json(tiny_table, tmp_path, capsys, monkeypatch):
    from mixsearch.latency import load_table

    doc, arch = tiny_table
    loader = Loader("table", lambda p: load_table(str(p)),
                    lambda p, d: ["latency", "predict", "--table", str(p), str(arch)], run_valid=True)
    _battery(loader, table_cases(doc, np.random.default_rng(SEED)), tmp_path, capsys, monkeypatch, minimum=120)


# ---- outputs never destroy what they land on ----------------------------------------------------
OUTPUT_COMMANDS = {  # name -> (the input an output may not replace, argv given the inputs and the output)
    "export": ("arch", lambda i, out: ["export", i["arch"], "--onnx", out]),
    "space-sample": ("space", lambda i, out: ["space", "sample", i["space"], "--out", out]),
    "latency-build": ("space", lambda i, out: ["latency", "build", "--space", i["space"], "--warmup", "0", "--runs",
                                               "1", "--calibrate", "0", "--quiet", "--out", out]),
    "validate-plot": ("table", lambda i, out: ["latency", "validate", "--table", i["table"], "--archs", "1",
                                               "--warmup", "0", "--runs", "1", "--quiet", "--plot", out]),
    "validate-out": ("space", lambda i, out: ["latency", "validate", "--table", i["table"], "--archs", "1",
                                              "--warmup", "0", "--runs", "1", "--quiet", "--plot", i["plot"],
                                              "--out", out]),
}


def _make_output(kind: str, folder: Path, source: Path) -> Path:
    """A path of `kind` in folder where a command is told to write; `source` is the command's input."""
    out = folder / "out"
    if kind in SPECIAL_FILES_BY_NAME:
        SPECIAL_FILES_BY_NAME[kind](out)
    elif kind == "link-to-fifo":
        os.mkfifo(folder / "pipe")
        out.symlink_to("pipe")
    elif kind == "the-input":
        out = source
    elif kind == "hard-link-to-input":
        os.link(source, out)
    elif kind == "symlink-to-input":
        out.symlink_to(source.name)
    elif kind == "missing-folder":
        out = folder / "nowhere" / "out"
    elif kind == "under-a-file":
        (folder / "plain").write_text("")
        out = folder / "plain" / "out"
    elif kind == "device":
        os.mknod(out, stat.S_IFCHR | 0o666, os.makedev(1, 7))  # a copy of /dev/full
    return out


SPECIAL_FILES_BY_NAME = {"fifo": _fifo, "folder": _folder, "socket": _socket, "loop": _loop}
OUTPUT_KINDS = [*SPECIAL_FILES_BY_NAME, "link-to-fifo", "the-input", "hard-link-to-input", "symlink-to-input",
                "missing-folder", "under-a-file", "device"]


@pytest.mark.parametrize("kind", OUTPUT_KINDS)
@pytest.mark.parametrize("command", list(OUTPUT_COMMANDS))
def test_outputs_never_destroy_what_they_land_on(command, kind, tiny_table, tmp_path, capsys, monkeypatch):
    if kind == "device" and os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    doc, arch = tiny_table
    inputs = {"arch": tmp_path / "arch.yaml", "space": tmp_path / "space.yaml", "table": tmp_path / "table.json",
              "plot": tmp_path / "plot.png"}
    inputs["arch"].write_bytes(arch.read_bytes())
    inputs["space"].write_bytes((arch.parent / "space.yaml").read_bytes())
    inputs["table"].write_text(json.dumps({**doc, "metadata": {**doc["metadata"], "space": {
        **doc["metadata"]["space"], "source": str(inputs["space"])}}}))
    source_name, argv = OUTPUT_COMMANDS[command]
    out = _make_output(kind, tmp_path, inputs[source_name])
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    code = main([str(a) for a in argv(inputs, out)])
    _, err = capsys.readouterr()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("mixsearch: error: "), err
    assert str(out) in err, err
    assert _snapshot(tmp_path) == before  # the special file, the input and everything else as they were
