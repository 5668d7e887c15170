"""The engine layer: the public API over the textbook and the fast engine.

- :mod:`.checks`: what users pass in, checked once at the public entry points;
- :mod:`.boundary`: the one wrapper that checks arguments and hands arrays out read-only;
- :mod:`.api`: the textbook's functions behind that wrapper, and the checked builders;
- :mod:`.epochs`: an epoch's settings, tally, log, divergence replay and the epoch stream;
- :mod:`.inference`: the textbook's answers on a trained model, and the hardest examples;
- :mod:`.table`: the :class:`~.table.Engine` records and the public training and
  prediction functions that look their engine up once.

:mod:`mlp_functional` re-exports all of it as one flat namespace.
"""
