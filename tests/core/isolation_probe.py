"""Tasks that jiedao.core.tasks.submit_isolated's tests run in its child process; each writes
to the file it is given, so the test reads the outcome back."""

import io
import os


def fine(path: str) -> None:
    """Writes the child's process id and the import registers it knows (from the apps' ready())."""
    from jiedao.core import imports

    with open(path, "a", encoding="utf-8") as out:
        out.write(f"ran {os.getpid()} {','.join(sorted(imports.REGISTERS))}\n")


def allocate(path: str) -> None:
    """Ask for 4 GB: a MemoryError under the cap."""
    fine(path)
    bytearray(4 << 30)


def far_cell(path: str) -> None:
    """Hand calamine the 1.3 KB file with a cell in column AAAAAAA, skipping our checks: it
    aborts the process (a native allocation failure, not a Python exception)."""
    import python_calamine

    from tests.core.hostile_files import HEADER, xlsx

    fine(path)
    data = xlsx([HEADER, '<row r="2"><c r="AAAAAAA2"><v>1</v></c></row>'])
    python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)


def crashed(path: str) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write("crashed\n")


def read_file(path: str, xlsx_path: str) -> None:
    """Read a spreadsheet through the platform's reader; write the child's peak memory figures."""
    from pathlib import Path

    from jiedao.core.tabular import open_table

    table = open_table(xlsx_path)
    count = sum(1 for _ in table.rows())
    status = Path("/proc/self/status").read_text().splitlines()
    peaks = [line for line in status if line.startswith(("VmPeak", "VmHWM"))]
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"rows {count} {' '.join(peaks)}\n")
