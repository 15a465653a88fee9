"""Run ``python -m MODULE ARGS...`` (or ``python -c CODE``) and SIGKILL it
just before its NTH rename (``os.rename``/``os.replace``) whose destination
is directly in FOLDER: a process stopped at a chosen point of writing or swapping an
artifact, with nothing in kwsapp to help it. The moment is found by a
Python audit hook (``sys.addaudithook``: both calls raise the audit event
``os.rename`` before they act), so the rename it names never happens.

    python tests/kill_at_rename_run.py NTH FOLDER MODULE [ARGS...]
    python tests/kill_at_rename_run.py NTH FOLDER -c CODE

Says ``kill_at_rename: killed before NAME -> DEST`` on stderr before dying.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys


def main() -> None:
    nth, folder, module, *args = sys.argv[1:]
    nth, folders = int(nth), {os.path.abspath(folder), os.path.realpath(folder)}
    seen = 0
    # kwsapp's CLI pipes descriptor 2 through a filter thread
    # (kwsapp/quiet.py), which a SIGKILL can stop before it passes the
    # last line on: the line goes to the stderr this process started with.
    stderr = os.dup(2)

    def hook(event: str, hook_args: tuple) -> None:
        nonlocal seen
        if event != "os.rename":
            return
        src, dst = (os.fsdecode(a) for a in hook_args[:2])
        # String work only: a system call in the hook raises audit events too.
        if os.path.dirname(os.path.abspath(dst)) not in folders:
            return
        seen += 1
        if seen == nth:
            sys.stderr.flush()
            os.write(stderr, f"kill_at_rename: killed before {src} -> {dst}\n".encode())
            os.kill(os.getpid(), signal.SIGKILL)

    sys.addaudithook(hook)
    if module == "-c":
        sys.argv = ["-c"]
        exec(compile(args[0], "<kill_at_rename -c>", "exec"), {"__name__": "__main__"})
    else:
        sys.argv = [module, *args]
        runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
