"""Bad-input battery: each case runs the real CLI (`mixsearch.cli.main()`) and must end with exit code
2, one `error:` line that names the problem (checked by the words it must contain), no traceback,
and nothing written in the working folder (the run folder included)."""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import stat

import pytest
import yaml

from mixsearch.cli import main

TINY_SPACE = {
    "schema_version": 1, "kind": "space", "name": "tiny_space", "resolution": 32, "num_classes": 10,
    "in_chans": 3, "stem_chs": 8, "stem_stride": 2, "head_chs": 32, "act": "relu", "dropout": 0.0,
    "stages": [{"block_type": "ds", "stride": 1, "depth": [1], "width": [8], "kernels": [[3]], "exp_ratio": [1]},
               {"stride": 2, "depth": [1], "width": [16], "kernels": [[3], [3, 5]], "exp_ratio": [3]}],
}
TINY_PROXY = {"dataset": "digits", "epochs": 1, "data_fraction": 0.1, "resolution": 16, "width_mult": 0.25, "threads": 1, "repeats": 1}
# Every `run` case starts from a valid, cheap command; the case's own flags come last and win.
RUN = ["run", "--runs-dir", "runs", "--name", "case", "--trials", "1", "--target-flops", "300M", "--no-progress",
       "--proxy", "{inputs}/tiny_proxy.yaml"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Input files for the cases, outside the folder each case runs in."""
    folder = tmp_path_factory.mktemp("inputs")
    dump = lambda name, data: (folder / name).write_text(yaml.safe_dump(data, sort_keys=False))  # noqa: E731
    dump("tiny_space.yaml", TINY_SPACE)
    dump("tiny_proxy.yaml", TINY_PROXY)
    (folder / "bad_yaml.yaml").write_text("kind: space\nstages: [\n  - {depth: [1\n")
    dump("unknown_key_space.yaml", {**TINY_SPACE, "colour": "red"})
    dump("wrong_type_space.yaml", {**TINY_SPACE, "stages": [{**TINY_SPACE["stages"][0], "depth": "two"}]})
    dump("proxy_bad_key.yaml", {**TINY_PROXY, "colour": "red"})
    dump("proxy_bad_value.yaml", {**TINY_PROXY, "lr": -1})
    (folder / "corrupt.npz").write_bytes(b"PK\x03\x04 this is not a zip archive at all")
    (folder / "blocker").write_text("a regular file where a folder is expected\n")
    (folder / "corrupt_table.json").write_text("{\"schema_version\": 1, \"entries\": [")
    dump("bad_arch.yaml", {"name": "x", "blocks": ["ds_r1_k3_s1_c16"], "colour": "red"})
    assert main(["latency", "build", "--space", str(folder / "tiny_space.yaml"), "--warmup", "0", "--runs", "1",
                 "--calibrate", "0", "--out", str(folder / "tiny_table.json"), "--quiet"]) == 0
    other = {**TINY_SPACE, "name": "other_space", "stages": [TINY_SPACE["stages"][0],
                                                             {**TINY_SPACE["stages"][1], "width": [24]}]}
    dump("other_space.yaml", other)
    assert main(["latency", "build", "--space", str(folder / "other_space.yaml"), "--warmup", "0", "--runs", "1",
                 "--calibrate", "0", "--out", str(folder / "other_table.json"), "--quiet"]) == 0
    table = json.loads((folder / "tiny_table.json").read_text())
    (folder / "future_table.json").write_text(json.dumps({**table, "schema_version": 99}))
    _issue17_inputs(folder, dump, table)
    return folder


def _issue17_inputs(folder, dump, table):
    """Files of issue 17's reproductions: hostile inputs and paths outputs must not destroy."""
    arch = {"name": "m", "resolution": 32, "num_classes": 10, "blocks": ["ds_r1_k3_s1_e1_c16", "ir_r1_k3_s2_e3_c24"]}
    dump("m.yaml", arch)
    levels = "abcdefghi"  # nine levels of nine aliases: 376 bytes in the issue, 1.75 GB once expanded
    bomb = ["a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    bomb += [f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]" for p, n in zip(levels, levels[1:])]
    (folder / "bomb.yaml").write_text("\n".join(bomb) + "\nblocks: *i\n")
    (folder / "deep.yaml").write_text("blocks: " + "[" * 5000 + "]" * 5000 + "\n")
    (folder / "loop_a.yaml").symlink_to(folder / "loop_b.yaml")
    (folder / "loop_b.yaml").symlink_to(folder / "loop_a.yaml")
    (folder / "big.yaml").write_bytes(b"")
    os.truncate(folder / "big.yaml", 50 << 20)  # 50 MB (sparse): refused by its size, never read
    os.mkfifo(folder / "fifo")
    (folder / "plotdir").mkdir()
    dump("dup_keys.yaml", arch)
    with open(folder / "dup_keys.yaml", "a") as f:
        f.write("resolution: 64\n")
    dump("huge_chs.yaml", {**arch, "blocks": ["ds_r1_k3_s1_e1_c999999999999"]})
    dump("repeated_r.yaml", {**arch, "blocks": ["ir_r1_r2_k3_s1_e1_c16"]})
    dump("repeated_k.yaml", {**arch, "blocks": ["ir_r1_k3_k5_s1_e1_c16"]})
    (folder / "binary_proxy.yaml").write_bytes(bytes(range(256)) * 4)
    for name, scale in (("negative", -1.0), ("zero", 0.0)):
        calibrated = {**table, "calibration": {"kind": "scale", "scale": scale, "offset_ms": 0.0}}
        (folder / f"{name}_scale_table.json").write_text(json.dumps(calibrated))
    (folder / "nan_scale_table.json").write_text(
        json.dumps({**table, "calibration": {"kind": "scale", "scale": 1.0, "offset_ms": 0.0}})
        .replace('"scale": 1.0', '"scale": NaN'))
    wide = {**TINY_SPACE, "stages": [TINY_SPACE["stages"][0],  # 400 x 400 widths: 160,000 first layers
                                     {**TINY_SPACE["stages"][1], "width": list(range(16, 16 + 8 * 400, 8))},
                                     {**TINY_SPACE["stages"][1], "width": list(range(4000, 4000 + 8 * 400, 8))}]}
    dump("wide_space.yaml", wide)
    connection = sqlite3.connect(folder / "foreign.db")  # another program's database
    with connection:
        connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    connection.close()
    if os.geteuid() == 0:  # only root makes device nodes: a copy of /dev/full (char 1, 7)
        os.mknod(folder / "full", stat.S_IFCHR | 0o666, os.makedev(1, 7))


# (case id, argv, words the error line must contain (case-insensitive))
CASES = [
    ("space-malformed-yaml", RUN + ["--space", "{inputs}/bad_yaml.yaml"], ["bad_yaml.yaml"]),
    ("space-unknown-key", RUN + ["--space", "{inputs}/unknown_key_space.yaml"], ["colour"]),
    ("space-wrong-type", RUN + ["--space", "{inputs}/wrong_type_space.yaml"], ["depth"]),
    ("space-missing-file", RUN + ["--space", "{inputs}/no_such_space.yaml"], ["no_such_space"]),
    ("space-unknown-name", RUN + ["--space", "nosuchspace"], ["nosuchspace"]),
    ("flops-garbage", RUN + ["--target-flops", "abc"], ["abc", "300M"]),
    ("flops-negative", RUN + ["--target-flops=-5M"], ["-5M", "300M"]),
    ("flops-unknown-unit", RUN + ["--target-flops", "300X"], ["300X", "300M"]),
    ("flops-zero", RUN + ["--target-flops", "0"], ["0", "300M"]),
    ("flops-below-space-min", RUN + ["--target-flops", "1k"], ["smallest"]),
    ("flops-below-tiny-space-min", RUN + ["--space", "{inputs}/tiny_space.yaml", "--target-flops", "1k"],
     ["smallest", "210752"]),
    # (--target-latency without --latency-table is valid now: this machine's table is built on demand.)
    ("latency-bad-string", RUN + ["--target-latency", "fast", "--latency-table", "{inputs}/tiny_table.json"],
     ["fast", "15ms"]),
    ("table-for-another-resolution", RUN + ["--target-latency", "15ms", "--latency-table",
                                            "{inputs}/tiny_table.json"], ["resolution", "latency build"]),
    ("table-for-another-space", RUN + ["--space", "{inputs}/tiny_space.yaml", "--target-latency", "15ms",
                                       "--latency-table", "{inputs}/other_table.json"], ["other_space"]),
    ("table-future-schema", RUN + ["--space", "{inputs}/tiny_space.yaml", "--target-latency", "15ms",
                                   "--latency-table", "{inputs}/future_table.json"], ["schema_version", "99"]),
    ("table-corrupt", RUN + ["--target-latency", "15ms", "--latency-table", "{inputs}/corrupt_table.json"],
     ["corrupt_table.json"]),
    ("table-missing", RUN + ["--target-latency", "15ms", "--latency-table", "{inputs}/no_table.json"],
     ["no_table.json"]),
    ("dataset-missing", RUN + ["--dataset", "{inputs}/no_data.npz"], ["no_data.npz"]),
    ("dataset-corrupt", RUN + ["--dataset", "{inputs}/corrupt.npz"], ["corrupt.npz"]),
    ("ray-nothing-listening", RUN + ["--ray-address", "127.0.0.1:{port}"],
     ["nothing is listening", "127.0.0.1:{port}", "ray start --head"]),
    ("ray-malformed-address", RUN + ["--ray-address", "localhost"], ["HOST:PORT"]),
    ("resume-missing-run", RUN + ["--resume", "--name", "ghost"], ["ghost"]),
    ("bad-run-name", RUN + ["--name", "../escape"], ["--name"]),
    ("proxy-unknown-key", RUN + ["--proxy", "{inputs}/proxy_bad_key.yaml"], ["colour"]),
    ("proxy-bad-value", RUN + ["--proxy", "{inputs}/proxy_bad_value.yaml"], ["lr", "-1"]),
    ("trials-zero", RUN + ["--trials", "0"], ["--trials"]),
    ("time-budget-garbage", RUN + ["--time-budget", "forever"], ["forever", "30m"]),
    ("objectives-unknown", RUN + ["--objectives", "accuracy,banana"], ["objectives"]),
    ("sampler-unknown", RUN + ["--sampler", "annealing"], ["annealing"]),
    ("runs-dir-under-a-file", RUN + ["--runs-dir", "{inputs}/blocker/runs"], ["blocker"]),
    ("eval-missing-file", ["eval", "{inputs}/missing_arch.yaml"], ["missing_arch.yaml"]),
    ("eval-unknown-key", ["eval", "{inputs}/bad_arch.yaml"], ["colour"]),
    ("export-missing-file", ["export", "{inputs}/missing_arch.yaml", "--onnx", "out.onnx"], ["missing_arch.yaml"]),
    ("show-missing-run", ["show", "runs/ghost"], ["ghost"]),
    ("space-info-malformed", ["space", "info", "{inputs}/bad_yaml.yaml"], ["bad_yaml.yaml"]),
    ("predict-table-for-another-space", ["latency", "predict", "--table", "{inputs}/tiny_table.json", "--space",
                                         "{inputs}/other_space.yaml", "mixnet_s"], ["other_space"]),
    # issue 17: outputs never destroy what they land on
    ("export-onto-its-input", ["export", "{inputs}/m.yaml", "--onnx", "{inputs}/m.yaml"], ["m.yaml", "input"]),
    ("export-onto-a-fifo", ["export", "{inputs}/m.yaml", "--onnx", "{inputs}/fifo"], ["fifo", "FIFO"]),
    ("sample-onto-its-space", ["space", "sample", "{inputs}/tiny_space.yaml", "--out", "{inputs}/tiny_space.yaml"],
     ["tiny_space.yaml", "input"]),
    ("build-onto-its-space", ["latency", "build", "--space", "{inputs}/tiny_space.yaml", "--out",
                              "{inputs}/tiny_space.yaml"], ["tiny_space.yaml", "input"]),
    ("validate-plot-into-a-folder", ["latency", "validate", "--table", "{inputs}/tiny_table.json", "--archs", "1",
                                     "--plot", "{inputs}/plotdir", "--quiet"], ["plotdir", "folder"]),
    ("validate-out-onto-its-table", ["latency", "validate", "--table", "{inputs}/tiny_table.json", "--archs", "1",
                                     "--plot", "plot.png", "--out", "{inputs}/tiny_table.json", "--quiet"],
     ["tiny_table.json", "input"]),
    # issue 17: bounded input, before anything is allocated
    ("alias-bomb", ["export", "{inputs}/bomb.yaml", "--onnx", "out.onnx"], ["bomb.yaml", "10,000 values"]),
    ("5000-nested-lists", ["export", "{inputs}/deep.yaml", "--onnx", "out.onnx"], ["deep.yaml", "nested deeper"]),
    ("symlink-loop", ["export", "{inputs}/loop_a.yaml", "--onnx", "out.onnx"], ["loop_a.yaml", "loop"]),
    ("50mb-yaml", ["space", "info", "{inputs}/big.yaml"], ["big.yaml", "at most"]),
    ("fifo-as-input", ["export", "{inputs}/fifo", "--onnx", "out.onnx"], ["fifo", "not a regular file"]),
    ("huge-channels", ["export", "{inputs}/huge_chs.yaml", "--onnx", "out.onnx"], ["c999999999999"]),
    ("export-resolution-100000", ["export", "{inputs}/m.yaml", "--onnx", "out.onnx", "--resolution", "100000"],
     ["resolution", "2048", "100000"]),
    ("eval-resolution-100000", ["eval", "{inputs}/m.yaml", "--resolution", "100000"], ["proxy.resolution", "100000"]),
    ("duplicate-yaml-keys", ["export", "{inputs}/dup_keys.yaml", "--onnx", "out.onnx"], ["duplicate key 'resolution'"]),
    ("block-string-r1-r2", ["export", "{inputs}/repeated_r.yaml", "--onnx", "out.onnx"], ["'r' twice"]),
    ("block-string-k3-k5", ["export", "{inputs}/repeated_k.yaml", "--onnx", "out.onnx"], ["'k' twice"]),
    ("empty-name", RUN + ["--name", ""], ["--name", "''"]),
    ("binary-proxy", RUN + ["--proxy", "{inputs}/binary_proxy.yaml"], ["binary_proxy.yaml", "binary"]),
    ("show-on-a-file", ["show", "{inputs}/m.yaml"], ["m.yaml", "not a run folder"]),
    ("sample-seed-negative", ["space", "sample", "--seed", "-1"], ["--seed", "-1"]),
    ("table-negative-scale", ["latency", "predict", "--table", "{inputs}/negative_scale_table.json", "mixnet_s"],
     ["calibration.scale", "-1.0"]),
    ("table-zero-scale", ["latency", "predict", "--table", "{inputs}/zero_scale_table.json", "mixnet_s"],
     ["calibration.scale", "0.0"]),
    ("table-nan-scale", ["latency", "predict", "--table", "{inputs}/nan_scale_table.json", "mixnet_s"],
     ["NaN"]),
    ("export-onto-dev-full", ["export", "{inputs}/m.yaml", "--onnx", "{inputs}/full"], ["full", "character device"]),
    # issue 17, item 8: every value checked before the run folder exists (each crashed mid-run before)
    ("run-seed-negative", RUN + ["--seed", "-1"], ["--seed", "-1", "4294967295"]),
    ("run-seed-2**70", RUN + ["--seed", str(2 ** 70)], ["--seed", str(2 ** 70)]),
    ("latency-cap-without-a-table", RUN + ["--latency-cap", "1ms"], ["--latency-cap", "--latency-table"]),
    ("latency-cap-below-the-fastest", RUN + ["--space", "{inputs}/tiny_space.yaml", "--latency-cap", "0.0001ms",
                                             "--latency-table", "{inputs}/tiny_table.json"],
     ["--latency-cap", "fastest"]),
    ("run-table-negative-scale", RUN + ["--space", "{inputs}/tiny_space.yaml", "--target-latency", "15ms",
                                        "--latency-table", "{inputs}/negative_scale_table.json"],
     ["calibration.scale"]),
    ("alpha-nan", RUN + ["--alpha", "nan"], ["--alpha", "nan"]),  # every trial failed, exit 0
    ("beta-inf", RUN + ["--beta", "inf"], ["--beta", "inf"]),
    ("trials-huge", RUN + ["--trials", str(10 ** 11)], ["--trials", "100000"]),
    ("prefilter-huge", RUN + ["--prefilter", str(10 ** 11)], ["--prefilter", "10000"]),
    ("workers-huge", RUN + ["--workers", str(10 ** 8)], ["--workers"]),
    # issue 17, item 9: hangs
    ("gpus-per-trial-nan", RUN + ["--gpus-per-trial", "nan"], ["--gpus-per-trial", "nan"]),
    ("cpus-per-trial-inf", RUN + ["--cpus-per-trial", "inf"], ["--cpus-per-trial", "inf"]),
    ("space-info-huge-choice-lists", ["space", "info", "{inputs}/wide_space.yaml"], ["wide_space.yaml", "100,000"]),
    ("run-proxy-fifo", RUN + ["--proxy", "{inputs}/fifo"], ["fifo", "not a regular file"]),
    ("run-space-fifo", RUN + ["--space", "{inputs}/fifo"], ["fifo", "not a regular file"]),
    ("run-table-fifo", RUN + ["--target-latency", "15ms", "--latency-table", "{inputs}/fifo"], ["fifo", "regular"]),
    # issue 17, item 7: another program's database is refused unchanged (the inputs' snapshot checks it)
    ("storage-with-foreign-tables", RUN + ["--storage", "sqlite:///{inputs}/foreign.db"], ["foreign.db", "notes"]),
]
NEEDS_ROOT = {"export-onto-dev-full": pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")}


def _snapshot(folder):
    """Each entry's kind, inode and (regular files) bytes: an input overwritten in place shows."""
    shot = {}
    for path in sorted(folder.iterdir()):
        info = os.lstat(path)
        shot[path.name] = (stat.S_IFMT(info.st_mode), info.st_ino,
                           path.read_bytes() if stat.S_ISREG(info.st_mode) and info.st_size < 1 << 20 else None)
    return shot


@pytest.mark.parametrize("argv, words", [pytest.param(argv, words, id=name, marks=NEEDS_ROOT.get(name, ()))
                                         for name, argv, words in CASES])
def test_bad_input_is_refused_cleanly(argv, words, inputs, tmp_path, monkeypatch, capsys):
    port = _free_port()
    fill = lambda text: text.replace("{inputs}", str(inputs)).replace("{port}", str(port))  # noqa: E731
    monkeypatch.chdir(tmp_path)
    before_inputs = _snapshot(inputs)
    try:
        code = main([fill(a) for a in argv])
    except SystemExit as stop:  # argparse rejects some values itself (exit 2 with usage)
        code = stop.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == 2, f"exit code {code}; stderr: {err[-500:]}"
    assert "mixsearch: run " not in err  # the run's resume line comes only once the run has started
    error_lines = [line for line in err.splitlines() if "error:" in line]
    assert len(error_lines) == 1, err
    line = error_lines[0].lower()
    for word in words:
        assert fill(word).lower() in line, f"{fill(word)!r} not in: {error_lines[0]}"
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == []  # nothing half-written
    assert _snapshot(inputs) == before_inputs
