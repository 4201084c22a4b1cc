"""The command line: errors that tell a user's mistake from a bug."""

import numpy as np
import pytest

import hubbleclip.cli.data
from hubbleclip.cli import main
from hubbleclip.errors import UserError


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
