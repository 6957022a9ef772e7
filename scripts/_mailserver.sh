# Sourced by scripts/test: make sure Dovecot's IMAP server is there for the e-mail connector's
# tests (they start a throw-away instance on 127.0.0.1 with its own configuration; the
# system's Dovecot service is never started or touched).
DOVECOT="${CANYU_DOVECOT:-$(command -v dovecot || echo /usr/sbin/dovecot)}"
if [ ! -x "$DOVECOT" ] || [ ! -x /usr/lib/dovecot/imap ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "canyu: installing dovecot-imapd for the e-mail tests" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq dovecot-imapd >/dev/null
  else
    echo "canyu: the e-mail tests need Dovecot's IMAP server:" >&2
    echo "       sudo apt-get install dovecot-imapd" >&2
    echo "       (or set CANYU_DOVECOT=/path/to/dovecot)" >&2
    exit 1
  fi
fi
