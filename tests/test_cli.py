"""The dsb-verify command: version, help, and a one-line refusal of unknown options."""

import subprocess
import sys

import pytest

from checks.cli import main
from theory import __version__


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"dsb-verify {__version__}"


def test_help_without_arguments(capsys):
    assert main([]) == 0
    assert "dsb-verify" in capsys.readouterr().out


def test_unknown_option_exits_2():
    proc = subprocess.run(
        [sys.executable, "-m", "checks.cli", "--bogus"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "unrecognized arguments: --bogus" in proc.stderr
    assert "Traceback" not in proc.stderr
