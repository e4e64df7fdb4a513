"""Tests that drive JupyterLab in a real browser (Debian's chromium, through Playwright)."""
