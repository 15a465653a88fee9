"""Model artifacts (``model.tflite`` + ``card.json``) and the bundled registry."""
