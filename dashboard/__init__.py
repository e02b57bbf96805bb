"""Recruitment dashboard for multi-site clinical trials.

Data flows one way: registry → sites → geocode → enrollment → metrics / forecast →
figures → layout & callbacks. Each step is a module of this package.
"""

__version__ = "0.1.0"
