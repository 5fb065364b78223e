"""Whether a `torch.save` file would load with `torch.load(..., weights_only=True)`, without torch.

The server never imports torch, and an uploaded checkpoint is read back by others (a download, a
bundle, a user's notebook). So it stores only a file whose pickle names nothing but what torch's
weights-only unpickler allows: tensors and their storages, dtypes, sizes, devices, ordered dicts
and plain containers. The pickle is read as opcodes (`pickletools`), never executed; a pickle
that names any other global (a class of the sender's, `os.system`) is refused.
"""

from __future__ import annotations

import pickletools
import re
import zipfile
from pathlib import Path

# The globals torch's weights-only unpickler accepts (torch/_weights_only_unpickler.py), by
# module: names, or a pattern the name must match.
ALLOWED_NAMES: dict[str, frozenset[str]] = {
    "collections": frozenset({"OrderedDict", "Counter"}),
    "builtins": frozenset({"set", "frozenset", "bytearray", "complex", "slice"}),
    "_codecs": frozenset({"encode"}),
    "torch": frozenset({"Size", "device", "dtype", "layout", "memory_format", "Tensor"}),
    "torch.nn.parameter": frozenset({"Parameter"}),
    "torch.storage": frozenset({"UntypedStorage", "TypedStorage"}),
    "torch.serialization": frozenset({"_get_layout"}),
    "torch._tensor": frozenset({"_rebuild_from_type_v2"}),
}
ALLOWED_PATTERNS: dict[str, re.Pattern[str]] = {
    "torch._utils": re.compile(r"_rebuild_\w+"),
    # Storage classes (torch.FloatStorage), dtypes (torch.float32) and layouts (torch.strided).
    "torch": re.compile(
        r"\w+Storage|u?int\d*|float\d*(_\w+)?|bfloat16|complex\d*|bool|half|double|long|short"
        r"|cfloat|cdouble|chalf|q?u?int\d+\w*|strided|sparse_\w+|_mkldnn|\w+_format"
    ),
}
STRING_OPS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"})
TRANSPARENT_OPS = frozenset({"MEMOIZE", "BINPUT", "LONG_BINPUT", "PUT"})


class UnsafePickle(ValueError):
    """A file that is not a torch.save file, or whose pickle names a global torch would refuse."""


def allowed(module: str, name: str) -> bool:
    pattern = ALLOWED_PATTERNS.get(module)
    return name in ALLOWED_NAMES.get(module, frozenset()) or bool(
        pattern and pattern.fullmatch(name)
    )


def check_weights_only(path: Path) -> None:
    """Raise UnsafePickle, naming what is wrong, unless `path` is a zip-format torch.save file
    whose pickles name only allowed globals."""
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [name for name in archive.namelist() if name.endswith(".pkl")]
            if not pickles:
                raise UnsafePickle("not a torch.save file: the archive holds no pickle")
            for name in pickles:
                _check_pickle(archive.read(name))
    except zipfile.BadZipFile as error:
        raise UnsafePickle("not a torch.save file (torch.save writes a zip archive)") from error


def _check_pickle(data: bytes) -> None:
    strings: list[str] = []  # the last strings pushed, which STACK_GLOBAL takes its names from
    try:
        for opcode, argument, _position in pickletools.genops(data):
            if opcode.name in STRING_OPS:
                strings = [*strings[-1:], str(argument)]
            elif opcode.name in ("GLOBAL", "INST"):
                module, _, name = str(argument).partition(" ")
                _check_global(module, name)
            elif opcode.name == "STACK_GLOBAL":
                if len(strings) < 2:
                    raise UnsafePickle("the pickle builds a global from names it computes")
                _check_global(*strings)
            elif opcode.name not in TRANSPARENT_OPS:
                strings = []
    except (ValueError, EOFError) as error:
        if isinstance(error, UnsafePickle):
            raise
        raise UnsafePickle(f"the pickle is damaged: {error}") from error


def _check_global(module: str, name: str) -> None:
    if not allowed(module, name):
        raise UnsafePickle(
            f"the pickle names {module}.{name}, which torch.load(weights_only=True) refuses: "
            "save plain state_dicts (tensors, numbers, strings, lists, dicts)"
        )
