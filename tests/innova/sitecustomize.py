#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

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
