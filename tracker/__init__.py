"""Learning-activity time tracking that runs in the browser through Pyodide."""

__version__ = "0.1.0"
