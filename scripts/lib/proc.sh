# Sourced by cluster.sh and nemesis.sh.

# Whether process $1 is alive: a killed process stays a zombie until its parent reaps it, which
# an init that reaps lazily may take seconds to do; its ports are free once every thread of it
# has exited (the main thread turns zombie first).
alive() {
  local task state
  for task in /proc/"$1"/task/*/stat; do
    state="$(sed -n 's/^.*) \(.\).*$/\1/p' "$task" 2>/dev/null)"
    [ -n "$state" ] && [ "$state" != Z ] && return 0
  done
  return 1
}
