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

"""Sphinx configuration of cinder-reconciler's documentation."""

import os
import sys

# The package itself: autodoc reads the notification payload reference from
# reconciler/notifier.py, show-options finds our oslo.config entry point and
# show-policy our oslo.policy one.
sys.path.insert(0, os.path.abspath(os.path.join('..', '..')))

extensions = [
    'sphinx.ext.autodoc',
    'oslo_config.sphinxext',
    'oslo_policy.sphinxext',
    # The CLI reference, from the commands' parsers: the manage CLI's
    # argparse parser and the openstack plugin's cliff commands.
    'sphinxcontrib.autoprogram',
    'cliff.sphinxext',
]

project = 'cinder-reconciler'
copyright = '2026, OpenStack contributors'
master_doc = 'index'
exclude_patterns = []
pygments_style = 'sphinx'
html_theme = 'alabaster'
