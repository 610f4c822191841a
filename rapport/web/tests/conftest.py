"""The web UI's browser fixtures (`browser`, `screenshot`) live in rapport/conftest.py, shared
with every app's browser journeys (one Chromium per test process)."""
