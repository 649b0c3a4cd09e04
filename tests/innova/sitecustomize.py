"""Makes ``held_migration`` loadable as a Nova virt driver (Nova's venv).

Nova loads ``compute_driver`` from the ``nova.virt`` package only; this
directory is on nova-compute's PYTHONPATH, so Python imports this module at
start-up, and the finder below serves ``nova.virt.held_migration`` from the
file next to it. Nothing of Nova is imported here: eventlet's
monkey-patching must come first.
"""

import importlib.abc
import importlib.util
import os
import sys

NAME = 'nova.virt.held_migration'


class _Finder(importlib.abc.MetaPathFinder):

    def find_spec(self, fullname, path, target=None):
        if fullname != NAME:
            return None
        return importlib.util.spec_from_file_location(
            fullname, os.path.join(os.path.dirname(os.path.abspath(
                __file__)), 'held_migration.py'))


sys.meta_path.insert(0, _Finder())
