# Sourced by scripts/test: make sure Debian's Chromium and a CJK font are there for the
# browser tests (Playwright drives /usr/bin/chromium; it never downloads a browser).
need_browser() {
  [ -n "${CANYU_SKIP_BROWSER_TESTS:-}" ] && return 1
  return 0
}
if need_browser; then
  CHROMIUM="${CANYU_CHROMIUM:-/usr/bin/chromium}"
  if [ ! -x "$CHROMIUM" ] || ! fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy"; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "canyu: installing chromium and fonts-wqy-microhei for the browser tests" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null
      apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
    else
      echo "canyu: the browser tests need Chromium at $CHROMIUM and a Chinese font:" >&2
      echo "       sudo apt-get install chromium fonts-wqy-microhei" >&2
      echo "       (or set CANYU_CHROMIUM=/path/to/chromium; CANYU_SKIP_BROWSER_TESTS=1 skips them)" >&2
      exit 1
    fi
  fi
  export CANYU_CHROMIUM="$CHROMIUM"
fi
