"""Without Pango, `report --format pdf` says which Debian package to install, in one line.

WeasyPrint loads Pango with cffi when it is imported and raises OSError when the
library is missing. The machine running the suite has Pango, so a stand-in
`weasyprint` package that fails the same way is put first on the path of a real
`capitolmail` process; the handling under test is capitolmail's own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import capitolmail
from tests.conftest import Invoke

FAILING_IMPORT = (
    "raise OSError(\"cannot load library 'libpango-1.0-0': libpango-1.0-0: cannot open "
    "shared object file: No such file or directory.  Additionally, ctypes.util.find_library() "
    "did not manage to locate a library called 'libpango-1.0-0'\")\n"
)


def test_missing_pango_is_one_line_naming_the_debian_package(
    workspace: Path, cli: Invoke, tmp_path: Path
) -> None:
    assert cli("queue", "block-arms-sale").exit_code == 0
    fake = tmp_path / "no-pango" / "weasyprint"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(FAILING_IMPORT)
    source = Path(capitolmail.__file__).parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), str(source)])}
    result = subprocess.run(
        [sys.executable, "-m", "capitolmail", "-w", str(workspace)]
        + ["report", "1", "--format", "pdf"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: PDF reports need the Pango library")
    assert "install the Debian package libpango-1.0-0" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (workspace / ".capitolmail" / "reports").exists()
