# Sourced by ops/demo and ops/test: make .venv current, fast when nothing changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${TONGJIAO_PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "tongjiao needs Python 3.11 or newer (found: $("$PY" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.tongjiao-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> installing tongjiao and its tools into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
  log=.venv/install.log
  if ! .venv/bin/python -m pip install -e '.[dev]' >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "install failed; full log: $log" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
export PYTHONDONTWRITEBYTECODE=1
# Receipt PDFs embed a TrueType CJK font (clearing/api/receipt_font.py): Debian's WenQuanYi Micro
# Hei unless one of the other candidates is installed or TONGJIAO_RECEIPT_FONT_FILE names one.
receipt_font="${TONGJIAO_RECEIPT_FONT_FILE:-}"
for f in /usr/share/fonts/truetype/wqy/wqy-microhei.ttc /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc \
    /usr/share/fonts/truetype/arphic/uming.ttc /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf; do
  if [ -z "$receipt_font" ] && [ -f "$f" ]; then receipt_font="$f"; fi
done
if [ -z "$receipt_font" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing Debian's fonts-wqy-microhei for receipt PDFs"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      fonts-wqy-microhei >/dev/null
  else
    echo "receipt PDFs need a TrueType CJK font (as root: apt-get install fonts-wqy-microhei)" >&2
  fi
fi
