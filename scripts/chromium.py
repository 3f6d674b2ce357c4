"""The system Chromium that the browser tests and the screenshot scripts drive headless (a missing one is a failure;
``scripts/test.sh`` installs it, finding it by ``scripts/common.sh``'s ``CHROMIUM``)."""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: The window the screenshots are taken in.
VIEWPORT = {"width": 1280, "height": 720}
