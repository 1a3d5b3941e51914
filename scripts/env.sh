# Sourced by the scripts: puts a rustup toolchain and the test venv on PATH.
for d in "$HOME/.cargo/bin" /usr/local/cargo/bin; do
  [ -d "$d" ] && case ":$PATH:" in *":$d:"*) ;; *) PATH="$d:$PATH" ;; esac
done
venv="${STRATA_TEST_VENV:-$HOME/.cache/strata-test-venv}"
[ -d "$venv/bin" ] && PATH="$PATH:$venv/bin"
export PATH
