"""Running the command line in-process and checking its one-line errors."""

from __future__ import annotations

from hios_opt.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    """``hios-opt ARGV`` in this process: exit status, stdout, stderr."""
    capsys.readouterr()
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, out: str, err: str, culprit: str | None = None) -> str:
    """Exit status 2, nothing on stdout, one ``error: ...`` line on stderr
    (naming ``culprit`` when given); returns that line."""
    assert code == 2, f"exit {code}; stderr: {err!r}"
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {lines!r}"
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in err
    assert out == "", f"stdout on error: {out!r}"
    if culprit is not None:
        assert culprit in lines[0], f"{culprit!r} not named in {lines[0]!r}"
    return lines[0]
