"""End-to-end tests: the browser bundle in Chromium against a real server on 127.0.0.1."""
