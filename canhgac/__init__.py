"""Canhgac ("canh gác", to stand guard): log monitoring and Sigma detection for a provincial SOC.

This package is the composition root: the command line builds the settings and wires
collectors, pipeline stages, rules and the API together. Nothing else imports it.
"""

__version__ = "0.1.0"
