"""Runs: the life of a training run as a library, and the folder it leaves behind.

- :mod:`.settings`: every setting, declared once (defaults, ranges, help).
- :mod:`.recipes`: named settings, and :func:`~.recipes.build`: settings to optimizer and regimen.
- :mod:`.lifecycle`: start, resume, train with a commit per epoch, stop, finish.
- :mod:`.resources`: the data a run reads (one function) and the memory it will need.
- :mod:`.folder`: the run folder's files and :func:`load_run`.
- :mod:`.commit`, :mod:`.lock`, :mod:`.schema`: the commit point, the writer's lock and
  the shapes every file is checked against.
- :mod:`.checkpoint`: models and training states as safetensors files.
- :mod:`.plots`: the report's figures (matplotlib).

Nothing here prints: the command line, scripts and estimators report what they are told
through :class:`~mlp_functional.runs.lifecycle.Events`.

>>> from mlp_functional import runs
>>> runs.Settings().epochs
10
"""

from .folder import (
    CONFIG_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    RUN_FILES,
    STATE_FILE,
    Run,
    RunError,
    data_source,
    jsonable,
    load_run,
    new_run_dir,
    read_json,
    write_json,
)
from .lifecycle import Events, Progress, Session, finish, resume, start, train
from .resources import load_data
from .settings import Settings, SettingsError, resolve

__all__ = [
    "CONFIG_FILE",
    "HISTORY_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "RUN_FILES",
    "STATE_FILE",
    "Events",
    "Progress",
    "Run",
    "RunError",
    "Session",
    "Settings",
    "SettingsError",
    "data_source",
    "finish",
    "jsonable",
    "load_data",
    "load_run",
    "new_run_dir",
    "read_json",
    "resolve",
    "resume",
    "start",
    "train",
    "write_json",
]
