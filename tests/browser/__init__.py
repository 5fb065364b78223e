"""Browser tests: the pages in Debian's headless Chromium, driven by Playwright."""
