"""The compact block string of timm's arch_def, both ways: `ir_r1_k3.5.7_a1.1_p1.1_s2_e6_c40_se0.5_nsw`.

Fields: block type (`ds`/`ir`) · `r` repeats · `k` depthwise kernels, one per channel group ·
`a`/`p` kernels of the expansion/projection 1x1 conv (`a1.1` = two groups) · `s` stride ·
`e` expansion · `c` output channels · `se` squeeze-excite ratio · `n<act>` activation when it
differs from the network's (`nre` relu, `nr6` relu6, `nsw` swish).
Two extensions of ours that timm does not read: `d<N>` dilation and `x2` exponential channel split;
`to_timm_arch_def` refuses specs that need them.
"""
from __future__ import annotations

import re

from .errors import SpecError
from .spec import ArchSpec, BlockSpec

_ACT_CODES = {"re": "relu", "r6": "relu6", "sw": "swish"}
_CODE_OF_ACT = {v: k for k, v in _ACT_CODES.items()}
_OPTION = re.compile(r"([a-z]+)([0-9].*)", re.ASCII)
_DIGITS = re.compile(r"[0-9]{1,9}", re.ASCII)  # nine digits hold every field's maximum; more is a typo
MAX_BLOCK_STRING = 200  # characters; the longest meaningful one (16 kernels, every option) is under 100
_ALLOWED = "r<repeats> k<k.k..> a<1.1..> p<1.1..> s<stride> e<exp> c<chs> se<ratio> d<dilation> x2 n<re|r6|sw>"


def _fmt(x: float) -> str:
    return f"{x:g}"


def encode_block(block: BlockSpec, default_act: str = "relu") -> str:
    parts = [block.block_type, f"r{block.repeats}", "k" + ".".join(str(k) for k in block.kernels)]
    if block.exp_groups > 1:
        parts.append("a" + ".".join(["1"] * block.exp_groups))
    if block.proj_groups > 1:
        parts.append("p" + ".".join(["1"] * block.proj_groups))
    parts += [f"s{block.stride}", f"e{block.exp_ratio}", f"c{block.out_chs}"]
    if block.se_ratio > 0:
        parts.append(f"se{_fmt(block.se_ratio)}")
    if block.dilation > 1:
        parts.append(f"d{block.dilation}")
    if block.split == "exp":
        parts.append("x2")
    if block.act != default_act:
        parts.append("n" + _CODE_OF_ACT[block.act])
    return "_".join(parts)


def _int(text: str, path: str, option: str, source: str) -> int:
    if not _DIGITS.fullmatch(text):
        raise SpecError(path, f"option {option!r} of {source!r} needs an integer of at most 9 digits, got {text!r}")
    return int(text)


def _ones_groups(text: str, path: str, option: str, source: str) -> int:
    """`1.1` -> 2 groups; anything but 1x1 kernels is not a pointwise conv."""
    kernels = text.split(".")
    if any(k != "1" for k in kernels):
        raise SpecError(path, f"option {option!r} of {source!r}: pointwise kernels must all be 1 (e.g. a1.1 for 2 groups), got {text!r}")
    return len(kernels)


def decode_block(text: str, default_act: str = "relu", path: str = "block") -> BlockSpec:
    if not isinstance(text, str) or not text:
        raise SpecError(path, f"expected a block string such as 'ir_r1_k3.5_s2_e6_c40_se0.5', got {text!r}")
    if len(text) > MAX_BLOCK_STRING:
        raise SpecError(path, f"a block string of {len(text):,} characters ({text[:40]!r}...); "
                              f"a block string is at most {MAX_BLOCK_STRING}")
    block_type, *options = text.split("_")
    if block_type not in ("ds", "ir"):
        raise SpecError(path, f"block string {text!r} must start with 'ds' or 'ir', got {block_type!r}")
    fields: dict = {"block_type": block_type, "act": default_act}
    given: dict[str, str] = {}  # field letter -> the option that set it
    for option in options:
        match = _OPTION.fullmatch(option)
        key, value = ("n", option[1:]) if option.startswith("n") and option[1:] in _ACT_CODES else \
            match.groups() if match else (None, None)
        if key in given:
            raise SpecError(path, f"block string {text!r} sets {key!r} twice ({given[key]!r} and {option!r}); "
                                  "give each option once")
        given[key] = option
        if key == "n":
            fields["act"] = _ACT_CODES[value]
            continue
        if key is None:
            raise SpecError(path, f"unknown option {option!r} in block string {text!r}; allowed: {_ALLOWED}")
        if key == "r":
            fields["repeats"] = _int(value, path, option, text)
        elif key == "k":
            fields["kernels"] = tuple(_int(k, path, option, text) for k in value.split("."))
        elif key == "a":
            fields["exp_groups"] = _ones_groups(value, path, option, text)
        elif key == "p":
            fields["proj_groups"] = _ones_groups(value, path, option, text)
        elif key == "s":
            # the reference writes strides as two digits ("s22"); timm as one ("s2")
            if len(value) == 2 and value[0] == value[1]:
                value = value[0]
            fields["stride"] = _int(value, path, option, text)
        elif key == "e":
            fields["exp_ratio"] = _int(value, path, option, text)
        elif key == "c":
            fields["out_chs"] = _int(value, path, option, text)
        elif key == "se":
            try:
                fields["se_ratio"] = float(value)
            except ValueError:
                raise SpecError(path, f"option {option!r} of {text!r} needs a number, got {value!r}") from None
        elif key == "d":
            fields["dilation"] = _int(value, path, option, text)
        elif key == "x":
            if value != "2":
                raise SpecError(path, f"option {option!r} of {text!r}: only the base-2 exponential split 'x2' exists")
            fields["split"] = "exp"
        else:
            raise SpecError(path, f"unknown option {option!r} in block string {text!r}; allowed: {_ALLOWED}")
    if "out_chs" not in fields:
        raise SpecError(path, f"block string {text!r} has no output channels; add c<channels>, e.g. c40")
    try:
        return BlockSpec(**fields)
    except SpecError as err:
        raise SpecError(f"{path}{err.path[len('block'):]}", f"{err.message} (in {text!r})") from None


def to_timm_arch_def(arch: ArchSpec) -> list[list[str]]:
    """timm's `arch_def` (one stage per block row) for `timm.models._efficientnet_builder.decode_arch_def`.

    timm also needs the network-level settings (stem_size, num_features, act_layer, channel
    multiplier); `timm_kwargs` gives them.
    """
    if arch.stem_stride != 2:
        raise SpecError("stem_stride", "timm's EfficientNet has a stride-2 stem; this architecture's stem has stride 1")
    for i, block in enumerate(arch.blocks):
        if block.split != "equal" or block.dilation != 1:
            raise SpecError(f"blocks[{i}]", "timm's arch_def cannot express an exponential split or dilation; "
                                            "use the YAML or ONNX export for this architecture")
    return [[encode_block(b, arch.act)] for b in arch.blocks]


def timm_kwargs(arch: ArchSpec) -> dict:
    """Keyword arguments for timm's EfficientNet class that complete `to_timm_arch_def`."""
    act_layer = {"relu": "relu", "relu6": "relu6", "swish": "swish"}[arch.act]
    return {"stem_size": arch.stem_chs, "num_features": arch.head_chs, "act_layer": act_layer,
            "channel_multiplier": arch.width_mult, "num_classes": arch.num_classes,
            "drop_rate": arch.dropout}
