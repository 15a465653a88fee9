"""kwsapp: real-time spoken-command recognition (Speech Commands, 12 classes).

The runtime package never imports TensorFlow: models run as ``.tflite`` files
through LiteRT. Heavy or optional imports (Qt, LiteRT) are done lazily.
"""

__version__ = "0.1.0"

#: Class labels in the Kaggle/Speech Commands 12-class order used by every
#: bundled model's card. A card may give its own order; this is the default.
LABELS: tuple[str, ...] = (
    "silence", "unknown", "yes", "no", "up", "down",
    "left", "right", "on", "off", "stop", "go",
)
#: The labels a command can fire for (everything but silence and unknown).
COMMAND_LABELS: tuple[str, ...] = LABELS[2:]
