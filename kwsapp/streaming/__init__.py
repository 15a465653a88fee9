"""Streaming accuracy: test streams, scoring of live events against them,
and the tuning of the live defaults (issue 8).

- :mod:`kwsapp.streaming.scoring`: events vs. the words really said.
- :mod:`kwsapp.streaming.synth`: build a test stream from labelled clips.
- :mod:`kwsapp.streaming.replay`: run a stream through the engine.
"""
