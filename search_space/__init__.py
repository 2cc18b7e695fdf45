"""Architectures as data: specs, YAML, block strings, the model builder, exact cost, the search space."""
from .arch_io import dump_arch, load_arch, load_arch_with_metadata, load_preset, loads_arch, preset_names, save_arch
from .block_string import decode_block, encode_block, timm_kwargs, to_timm_arch_def
from .builder import MixNet, build_layer, build_model
from .cost import count_flops, count_params, layer_flops, layer_params
from .errors import MixsearchError, SpecError
from .layers import BlockLayer, HeadLayer, StemLayer, resolve_layers, split_channels
from .modules import MixConv
from .space import SearchSpace, default_space, dump_space, load_space, loads_space, space_names
from .space_spec import StageSpace, canonical_arch
from .spec import ArchSpec, BlockSpec

__all__ = [
    "SearchSpace", "StageSpace", "canonical_arch", "default_space", "dump_space", "load_space", "loads_space",
    "space_names",
    "ArchSpec", "BlockSpec", "BlockLayer", "HeadLayer", "StemLayer", "MixConv", "MixNet",
    "MixsearchError", "SpecError", "build_layer", "build_model", "count_flops", "count_params",
    "decode_block", "dump_arch", "encode_block", "layer_flops", "layer_params", "load_arch",
    "load_arch_with_metadata", "load_preset", "loads_arch", "preset_names", "resolve_layers", "save_arch",
    "split_channels", "timm_kwargs", "to_timm_arch_def",
]
