"""`kwsapp -h` and every subcommand's -h work (a stray % in a HELP string
once made the top-level help a traceback)."""

import pytest

from kwsapp.cli import COMMANDS, build_parser


def test_top_level_help(capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["-h"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in ("devices", "listen", "classify", "evaluate"):
        assert name in out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_subcommand_help(command, capsys):
    parser = build_parser()
    with pytest.raises(SystemExit) as info:
        parser.parse_args([command, "-h"])
    assert info.value.code == 0
    assert "usage: kwsapp " + command in capsys.readouterr().out


@pytest.mark.parametrize("argv, word", [(["clasify", "clip.wav"], "clasify"),
                                        (["-v", "lisen"], "lisen")])
def test_a_mistyped_command_is_named(argv, word, capsys):
    """A word that is no command went to the window's parser, which said
    "unrecognized arguments: clasify clip.wav"."""
    from kwsapp.cli import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert f"kwsapp: error: unknown command {word!r} (choose from gui, devices, listen" \
        in capsys.readouterr().err
