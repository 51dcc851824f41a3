"""AssembleWith: how the outputs of one input object become its ``.out`` object."""

from __future__ import annotations


def assemble(outputs: list[bytes], assemble_with: str) -> bytes:
    """None: the outputs concatenated as they are; Line: a newline after each one."""
    if assemble_with == "Line":
        return b"".join(output + b"\n" for output in outputs)
    return b"".join(outputs)
