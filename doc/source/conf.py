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
