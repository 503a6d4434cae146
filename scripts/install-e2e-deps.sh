#!/usr/bin/env bash
# Installs what the browser and email tests need, without any download outside the
# package registries: Debian's Chromium, the Playwright driver (playwright-core from npm
# at the exact version playwright-go expects) run by the system Node.js, and Mailpit (a
# real SMTP server, built from the Go module proxy into .tools/bin). Idempotent.
# Prints the driver directory on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

PW_CORE_VERSION=1.52.0 # must equal playwright-go v0.5200.1's driver version
DIR="${PW_DRIVER_DIR:-$PWD/.tools/pw-driver-$PW_CORE_VERSION}"
export DEBIAN_FRONTEND=noninteractive PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing ${need[*]}: run as root, or install them with apt-get" >&2
    exit 1
  fi
  apt-get update -q >&2
  apt-get install -y -q "${need[@]}" >&2
fi

MAILPIT_VERSION=v1.33.1
if ! { [ -x .tools/bin/mailpit ] && go version -m .tools/bin/mailpit 2>/dev/null | grep -qF "$MAILPIT_VERSION"; }; then
  echo "building mailpit $MAILPIT_VERSION (about a minute)" >&2
  GOBIN="$PWD/.tools/bin" CGO_ENABLED=0 go install "github.com/axllent/mailpit@$MAILPIT_VERSION" >&2
fi

# axe-core, the accessibility rules the browser tests run on every page.
AXE_VERSION=4.14.1
AXE_DIR="$PWD/.tools/axe"
if ! { [ -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ] && grep -qF "\"version\": \"$AXE_VERSION\"" "$AXE_DIR/node_modules/axe-core/package.json"; }; then
  mkdir -p "$AXE_DIR"
  [ -f "$AXE_DIR/package.json" ] || printf '{"name":"axe","private":true}\n' >"$AXE_DIR/package.json"
  (cd "$AXE_DIR" && npm install --no-audit --no-fund --save-exact --loglevel=error "axe-core@$AXE_VERSION" >&2)
fi

mkdir -p "$DIR"
if ! { [ -f "$DIR/package/cli.js" ] && node "$DIR/package/cli.js" --version 2>/dev/null | grep -qF "$PW_CORE_VERSION"; }; then
  [ -f "$DIR/package.json" ] || printf '{"name":"pw-driver","private":true}\n' >"$DIR/package.json"
  (cd "$DIR" && npm install --no-audit --no-fund --save-exact --loglevel=error "playwright-core@$PW_CORE_VERSION" >&2)
fi
# The layout playwright-go looks for: DIR/package/cli.js and DIR/node.
if [ -e "$DIR/package" ] && [ ! -L "$DIR/package" ]; then rm -rf "$DIR/package"; fi
ln -sfn node_modules/playwright-core "$DIR/package"
ln -sfn "$(command -v node)" "$DIR/node"
out="$("$DIR/node" "$DIR/package/cli.js" --version)"
case "$out" in *"$PW_CORE_VERSION"*) ;; *) echo "driver version mismatch: $out" >&2; exit 1 ;; esac
echo "$DIR"
