"""The demo: lesson pages, a catalogue, a sign-in page and a dashboard around the real server.

``tracker demo`` (``main.demo``) builds the browser bundle when something changed and serves
the site of ``tracker serve`` with the demo web folder (``web/demo``) mounted at ``/`` and a
few read-only JSON routes under ``/demo/api`` (``app.DemoSite``). ``tracker demo --static OUT``
(``static.build_static``) writes the same pages as plain files, with the same server code run
in the page's Pyodide (``inpage``).
"""
