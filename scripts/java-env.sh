# Sourced by bin/thinsr and scripts/*: exports JAVA_HOME for a JDK >= 25 and puts it first on PATH.
# Looks at $JAVA_HOME first, then every JDK under /usr/lib/jvm; stops with what to install otherwise.
thinsr_java_major() { # thinsr_java_major JAVA_HOME -> prints the feature version, or nothing
  local rel="$1/release" v
  [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 0
  if [ -r "$rel" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$rel")
  else
    v=$("$1/bin/java" -version 2>&1 | sed -n '1s/.*version "\([0-9]*\).*/\1/p')
  fi
  printf '%s' "$v"
}
thinsr_find_jdk() {
  local want=25 cand major best="" best_major=0
  for cand in "${JAVA_HOME:-}" /usr/lib/jvm/*; do
    [ -n "$cand" ] && [ -d "$cand" ] || continue
    major=$(thinsr_java_major "$cand")
    [ -n "$major" ] && [ "$major" -ge "$want" ] || continue
    if [ "$cand" = "${JAVA_HOME:-}" ]; then best=$cand; break; fi   # JAVA_HOME wins when good enough
    if [ "$major" -gt "$best_major" ]; then best=$cand best_major=$major; fi
  done
  if [ -z "$best" ]; then
    echo "thinsr: no JDK 25 or newer found (looked at \$JAVA_HOME='${JAVA_HOME:-}' and /usr/lib/jvm/*)." >&2
    echo "thinsr: install one, e.g. 'apt-get install temurin-25-jdk' or 'apt-get install openjdk-25-jdk', or set JAVA_HOME." >&2
    return 1
  fi
  export JAVA_HOME="$best"
  export PATH="$JAVA_HOME/bin:$PATH"
}
