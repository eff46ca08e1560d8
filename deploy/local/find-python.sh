#!/usr/bin/env bash
# Prints the path of a Python 3.12 interpreter, or explains how to get one.
# Looks at python3.12 on PATH, then pyenv's versions, then common prefixes.
set -u
want="3.12"
check() { [ -x "$1" ] && "$1" -c "import sys; sys.exit(0 if sys.version_info[:2]==(3,12) else 1)" 2>/dev/null; }

if [ -n "${PYTHON:-}" ] && check "$PYTHON"; then echo "$PYTHON"; exit 0; fi
if p=$(command -v python${want} 2>/dev/null) && check "$p"; then
  # Resolve shims (pyenv, asdf) to the real interpreter so the venv does not depend on them.
  "$p" -c "import sys; print(sys.executable)"; exit 0
fi
roots=()
command -v pyenv >/dev/null 2>&1 && roots+=("$(pyenv root)")
roots+=("${PYENV_ROOT:-$HOME/.pyenv}")
for root in "${roots[@]}"; do
  for p in $(ls -d "$root"/versions/${want}*/bin/python${want} 2>/dev/null | sort -V -r); do
    check "$p" && { echo "$p"; exit 0; }
  done
done
for p in /usr/local/bin/python${want} /usr/bin/python${want} /opt/python${want}/bin/python${want}; do
  check "$p" && { echo "$p"; exit 0; }
done
echo "No Python ${want} found. nautilus_trader needs Python ${want}: install it (e.g. 'pyenv install ${want}') or set PYTHON=/path/to/python${want}." >&2
exit 1
