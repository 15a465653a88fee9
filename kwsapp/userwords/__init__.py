"""User words: detectors for words a user teaches from a few recordings
(issue 13). A small numpy detector per word reads the frozen speech
embedding (the same 96-d vector per 80 ms the ``embed`` model's head reads),
is trained in seconds against a bundled pool of negative embeddings, and is
stored with its card under ``$KWSAPP_HOME`` (else the user data folder).

Modules: :mod:`.takes` (checking recordings), :mod:`.augment` (variants of a
take), :mod:`.detector` (features, training, scoring), :mod:`.pool` (the
negative pool), :mod:`.store` (where words live), :mod:`.enrol` (the
service), :mod:`.listener` (run beside the commands in the engine).
"""
