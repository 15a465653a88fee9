"""``python -m kwsapp``: same as the ``kwsapp`` console script."""

import logging
import os
import sys

from kwsapp.cli import main

code = main()
if "sounddevice" in sys.modules:
    # After a live stream on JACK, PortAudio's exit handler (Pa_Terminate)
    # was seen to block for ever in full test runs (listen on Ctrl-C never
    # ended). Everything is stopped and closed by now: flush and leave.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code or 0))
sys.exit(code)
