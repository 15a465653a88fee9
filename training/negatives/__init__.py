"""Other speech as labelled clips for the ``unknown`` class (issue 11).

One module per kind of negative (docs/contracts.md section 3), each giving
:class:`training.data.Clip` objects with a ``source`` and a ``word``,
deterministic and cached under :func:`training.data.cache_dir`:

- :mod:`training.negatives.tts`: words, phrases and near-misses of the
  commands said by espeak-ng, flite and festival voices (with a held-out
  split of voices and words), and synthetic command positives.
"""
