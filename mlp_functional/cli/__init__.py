"""The command line: the only part of mlp_functional that prints. See :mod:`.main`."""
