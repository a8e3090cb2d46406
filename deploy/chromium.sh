#!/bin/sh
# Prints the path of a headless Chromium for the studio's browser tests (CHROMIUM_PATH, else
# Debian's), installing Debian's chromium-headless-shell with apt-get when none is found and
# this runs as root. Prints nothing when there is none: the browser tests then say why (they
# fail in CI, and are skipped elsewhere). Playwright cannot download its own browser here.
found() {
  for candidate in "${CHROMIUM_PATH:-}" /usr/lib/chromium/chromium-headless-shell \
                   /usr/bin/chromium-headless-shell; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}
found && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium-headless-shell for the browser tests ..." >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends chromium-headless-shell; } >&2 \
    || echo "could not install chromium-headless-shell" >&2
  found && exit 0
fi
exit 0
