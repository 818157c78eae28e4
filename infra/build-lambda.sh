#!/usr/bin/env bash
# Builds Lambda release binaries for arm64 (what `sam build` deploys) with cargo-lambda and zig
# from the project virtualenv, and reports each one's stripped and zipped size. Fails if a
# zipped function is over 4 MiB.   Usage: infra/build-lambda.sh [function ...]  (default: all)
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
cd "$ROOT"
ensure_tool cargo-lambda "$CARGO_LAMBDA_REQ"
export PATH="$VENV/bin:$PATH"   # zig (from the ziglang package) for cross-linking

functions=("$@")
if [ ${#functions[@]} -eq 0 ]; then
  functions=($(cd functions && ls))
fi
target=aarch64-unknown-linux-gnu
flag=--arm64
if ! rustup target list --installed | grep -qx "$target"; then
  say "adding the Rust target $target"
  if ! rustup target add "$target"; then
    say "cannot fetch the $target standard library: building for x86_64 instead"
    flag=--x86-64
  fi
fi
packages=()
for f in "${functions[@]}"; do packages+=(-p "$f"); done
say "cargo lambda build --release $flag ${functions[*]}"
start=$(date +%s)
"$VENV/bin/cargo-lambda" lambda build --release $flag "${packages[@]}"
say "built in $(( $(date +%s) - start )) s"

"$VENV/bin/python" - "${functions[@]}" <<'PY'
import io, os, sys, zipfile
limit = 4 * 1024 * 1024
target = os.environ.get("CARGO_TARGET_DIR", "target")
failed = False
print(f"{'function':<18}{'stripped':>12}{'zipped':>12}")
for f in sys.argv[1:]:
    path = os.path.join(target, "lambda", f, "bootstrap")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(path, "bootstrap")
    size, zipped = os.path.getsize(path), buf.getbuffer().nbytes
    print(f"{f:<18}{size / 2**20:>10.2f} M{zipped / 2**20:>10.2f} M")
    failed |= zipped > limit
if failed:
    sys.exit("a function is over 4 MiB zipped")
PY
