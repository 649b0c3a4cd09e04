"""Sphinx configuration of cinder-reconciler's documentation."""

import os
import sys

# The package itself: autodoc reads the notification payload reference from
# reconciler/notifier.py, and show-options finds our oslo.config entry point.
sys.path.insert(0, os.path.abspath(os.path.join('..', '..')))

extensions = [
    'sphinx.ext.autodoc',
    'oslo_config.sphinxext',
]

project = 'cinder-reconciler'
copyright = '2026, OpenStack contributors'
master_doc = 'index'
exclude_patterns = []
pygments_style = 'sphinx'
html_theme = 'alabaster'
