"""The shared libraries an ELF shared object names as NEEDED, read from its
dynamic section without any tool: an AOTInductor package's compiled model
that does not need libstdc++.so.6 carries its own static copy of the C++
runtime, and such a package crashes when loaded into a Python process
(docs/aoti.md)."""

from __future__ import annotations

import struct

PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB = 0, 1, 5


def needed_libraries(data: bytes) -> list[str]:
    """DT_NEEDED entries of a 64-bit little-endian ELF file's bytes; ValueError
    for anything else."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads, dynamic = [], None
    for i in range(phnum):
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz, _memsz, _align = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + i * phentsize)
        if p_type == PT_LOAD:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        return []  # a static executable or object: it needs nothing

    def file_offset(vaddr: int) -> int:  # DT_STRTAB holds a virtual address
        for start, offset, size in loads:
            if start <= vaddr < start + size:
                return offset + vaddr - start
        raise ValueError(f"address {vaddr:#x} lies in no loaded segment")

    entries, strtab = [], None
    for at in range(dynamic[0], dynamic[0] + dynamic[1], 16):
        tag, value = struct.unpack_from("<qQ", data, at)
        if tag == DT_NULL:
            break
        if tag == DT_NEEDED:
            entries.append(value)
        elif tag == DT_STRTAB:
            strtab = file_offset(value)
    if strtab is None:
        raise ValueError("the dynamic section has no string table")
    return [data[strtab + e:data.index(b"\0", strtab + e)].decode() for e in entries]
