"""Pure analysis: from an exact recording to figures, a verdict, a capacity model and recommendations.

Nothing here starts a process, opens a socket or edits a file; ``tests/unit/test_layers.py``
holds it to that.
"""
