"""The command line: --help without torch, and errors that tell a user's mistake from a bug."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hubbleclip.cli.data
from hubbleclip.cli import main
from hubbleclip.errors import UserError

NO_TORCH = """
import sys
from hubbleclip.cli import build_parser
build_parser()
{extra}
heavy = sorted(m for m in ("torch", "torchvision", "transformers", "datasets") if m in sys.modules)
assert not heavy, heavy
"""


@pytest.mark.parametrize(
    "extra",
    [
        "from hubbleclip.cli import main; main(['--help'])",
        "build_parser().parse_args(['similarity', 'train', '--help'])",
    ],
)
def test_help_and_build_parser_never_import_torch(extra):
    code = NO_TORCH.format(extra=f"try:\n    {extra}\nexcept SystemExit:\n    pass")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]


def test_the_console_script_prints_help():
    out = subprocess.run(
        [str(Path(sys.executable).parent / "hubbleclip"), "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0 and "similarity" in out.stdout and "compare" in out.stdout


def test_a_user_error_is_one_line_with_a_hint(tmp_path, capsys):
    assert main(["data", "info", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.endswith("(rerun with -v for the traceback)")
    assert err.startswith("hubbleclip data: error:") and "missing" in err


def test_a_bug_keeps_its_traceback(monkeypatch, tmp_path):
    def broken(args):  # a library bug: numpy's own ValueError, not a validation error of ours
        return np.zeros(3).reshape(2, 2)

    monkeypatch.setattr(hubbleclip.cli.data, "run_info", broken)
    with pytest.raises(ValueError, match="cannot reshape") as caught:
        main(["data", "info", str(tmp_path)])
    assert not isinstance(caught.value, UserError)

    def refused(args):
        raise UserError("bad value for --x")

    monkeypatch.setattr(hubbleclip.cli.data, "run_info", refused)
    with pytest.raises(UserError, match="bad value"):  # -v: the traceback of a user error too
        main(["-v", "data", "info", str(tmp_path)])
