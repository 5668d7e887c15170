"""Examples of using mlp_functional; see README.md here. Not part of the installed package.

This folder is a package only so that its ``conftest.py`` has a name of its own next to
the tests' one.
"""
