#!/usr/bin/env bash
# audio-rig.sh: a private PulseAudio sound server with virtual speakers and microphones, for tests and demos.
#
#   eval "$(scripts/audio-rig.sh start)"   start the rig (or reuse a running one) and export its environment
#   scripts/audio-rig.sh env               print the environment of the running rig (export VAR=... lines)
#   scripts/audio-rig.sh status            say whether the rig runs and list its devices (exit 3 if it does not)
#   scripts/audio-rig.sh stop              stop everything the rig started (harmless when nothing runs)
#
# Everything lives under the rig directory: $LK_AUDIO_RIG_DIR, default ./.rig (gitignored). The server listens on
# its own socket there, keeps its runtime, state and config there, and never talks to the session D-Bus, so a
# sound server the user already runs is neither used nor disturbed. Only processes whose pid files are in the rig
# directory (and whose command lines name it) are ever stopped.
#
# Devices (48 kHz):
#   lk_speaker_a, lk_speaker_b     virtual speakers (stereo null sinks); record them from <name>.monitor
#   lk_mic_a, lk_mic_b             virtual microphones (mono); whatever is played into lk_mic_a_feed /
#                                  lk_mic_b_feed comes out of them
#   lk_mic_stereo                  2-channel virtual microphone (front-left, front-right), fed by lk_mic_stereo_feed
#   lk_room_speaker, lk_room_mic   a virtual room (when the LADSPA plugin swh-plugins is installed): what is played on
#                                  lk_room_speaker reaches lk_room_mic as an echo (delayed, quieter, reverberant),
#                                  through sound-server modules only, so the echo path never changes; a near-end
#                                  talker is played into lk_room_mic_feed
# Defaults: sink lk_speaker_a, source lk_mic_a.
#
# Options (environment):
#   LK_AUDIO_RIG_DIR        rig directory (default $PWD/.rig)
#   LK_AUDIO_RIG_OWNER_PID  on start: stop the rig by itself once this process has gone (for test runners that
#                           may be killed before they can stop it)
#   LK_AUDIO_RIG_KEEPALIVE_MS  latency of the keep-alive streams (default 10)
#   LADSPA_PATH             where to look for the room's plugin (default /usr/lib/ladspa)
#
# Needs pulseaudio and pulseaudio-utils (Debian: apt-get install pulseaudio pulseaudio-utils).

set -euo pipefail

readonly SPEAKERS=(lk_speaker_a lk_speaker_b)
readonly MIC_FEEDS=(lk_mic_a_feed lk_mic_b_feed lk_mic_stereo_feed)
readonly ROOM_FEED=lk_room_mic_feed
# The room's echo: swh-plugins' multi-tap delay "delayorama" run as a sound-server sink. Controls, in the plugin's
# order: random seed 0, input gain -9 dB (the direct echo), feedback 0 %, 16 taps, first tap 50 ms (the echo
# path's delay), taps spread over 150 ms, even spacing with 30 % randomness, each tap 0.75 of the last (the tail
# falls ~40 dB over its 150 ms, a small room's reverberation), 20 % amplitude randomness, all wet.
readonly ROOM_PLUGIN=delayorama_1402
readonly ROOM_CONTROLS=0,-9,0,16,0.05,0.15,1,30,0.75,20,1
# 10 ms: first data on a monitor in ~15 ms, and sinks run in 10 ms blocks unless a stream asks for less. Costs
# the server ~20 % of a core on a 2-core machine (20 ms: ~13 %, 40 ms: ~7 %).
readonly KEEPALIVE_LATENCY_MSEC=${LK_AUDIO_RIG_KEEPALIVE_MS:-10}

die() {
  echo "audio-rig: $*" >&2
  exit 1
}
say() { echo "audio-rig: $*" >&2; }

# The room needs its LADSPA plugin; without it the rig runs without a room.
room_available() {
  local dir
  for dir in ${LADSPA_PATH:+${LADSPA_PATH//:/ }} /usr/lib/ladspa /usr/local/lib/ladspa; do
    [[ -f $dir/$ROOM_PLUGIN.so ]] && return 0
  done
  return 1
}

# Sinks that get a keep-alive stream.
all_sinks() {
  printf '%s\n' "${SPEAKERS[@]}" "${MIC_FEEDS[@]}"
  if room_available; then echo "$ROOM_FEED"; fi
}

rig_dir_init() {
  local dir=${LK_AUDIO_RIG_DIR:-$PWD/.rig}
  mkdir -p "$dir"
  RIG=$(cd "$dir" && pwd -P)
  SOCK=$RIG/native
  RUNTIME=$RIG/run
  PA_SCRIPT=$RIG/rig.pa
  CLIENT_CONF=$RIG/client.conf
  COOKIE=$RIG/cookie
  PA_PIDFILE=$RIG/pulseaudio.pid
  KEEPALIVE_PIDS=$RIG/keepalive.pids
  WATCHER_PIDFILE=$RIG/watcher.pid
  PA_LOG=$RIG/pulseaudio.log
  # sockaddr_un.sun_path holds 107 characters.
  if ((${#SOCK} > 100)); then
    die "rig directory path too long for a unix socket ($SOCK); set LK_AUDIO_RIG_DIR to a shorter path"
  fi
}

# Environment for pactl/pacat talking to our server, and nothing else.
client_env() {
  env -u PULSE_SINK -u PULSE_SOURCE PULSE_SERVER="unix:$SOCK" PULSE_CLIENTCONFIG="$CLIENT_CONF" \
    PULSE_COOKIE="$COOKIE" "$@"
}

# True if the process exists and its command line contains the given text (guards against pid reuse).
pid_is() {
  local pid=$1 needle=$2
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$needle"
}

server_pid() {
  local pid
  [[ -f $PA_PIDFILE ]] || return 1
  pid=$(tr -dc '0-9' <"$PA_PIDFILE")
  pid_is "$pid" "$PA_SCRIPT" || return 1
  echo "$pid"
}

server_answers() {
  client_env pactl info >/dev/null 2>&1
}

is_running() {
  server_pid >/dev/null && server_answers
}

print_env() {
  cat <<EOF
export PULSE_SERVER=unix:$SOCK
export PULSE_CLIENTCONFIG=$CLIENT_CONF
export PULSE_COOKIE=$COOKIE
export LK_AUDIO_RIG=1
export LK_AUDIO_RIG_DIR=$RIG
export LK_RIG_SPEAKER_A=lk_speaker_a
export LK_RIG_SPEAKER_B=lk_speaker_b
export LK_RIG_MIC_A=lk_mic_a
export LK_RIG_MIC_B=lk_mic_b
export LK_RIG_MIC_A_FEED=lk_mic_a_feed
export LK_RIG_MIC_B_FEED=lk_mic_b_feed
export LK_RIG_MIC_STEREO=lk_mic_stereo
export LK_RIG_MIC_STEREO_FEED=lk_mic_stereo_feed
EOF
  if client_env pactl list short sinks 2>/dev/null | grep -qw lk_room_speaker; then
    cat <<EOF
export LK_RIG_ROOM_SPEAKER=lk_room_speaker
export LK_RIG_ROOM_MIC=lk_room_mic
export LK_RIG_ROOM_MIC_FEED=$ROOM_FEED
EOF
  fi
}

write_config() {
  mkdir -p "$RUNTIME" "$RIG/state" "$RIG/config/pulse"
  chmod 700 "$RUNTIME"
  cat >"$PA_SCRIPT" <<EOF
# Generated by scripts/audio-rig.sh; loaded with pulseaudio -n -F.
.fail
load-module module-native-protocol-unix auth-anonymous=1 auth-cookie-enabled=0 socket=$SOCK

# Virtual speakers.
load-module module-null-sink sink_name=lk_speaker_a norewinds=1 rate=48000 channels=2 channel_map=front-left,front-right sink_properties="device.description='Virtual Speaker A'"
load-module module-null-sink sink_name=lk_speaker_b norewinds=1 rate=48000 channels=2 channel_map=front-left,front-right sink_properties="device.description='Virtual Speaker B'"

# Virtual microphones: what is played into a feed sink comes out of the remapped source.
load-module module-null-sink sink_name=lk_mic_a_feed norewinds=1 rate=48000 channels=1 channel_map=mono sink_properties="device.description='Virtual Microphone A Feed'"
load-module module-null-sink sink_name=lk_mic_b_feed norewinds=1 rate=48000 channels=1 channel_map=mono sink_properties="device.description='Virtual Microphone B Feed'"
load-module module-null-sink sink_name=lk_mic_stereo_feed norewinds=1 rate=48000 channels=2 channel_map=front-left,front-right sink_properties="device.description='Virtual Stereo Microphone Feed'"
load-module module-remap-source source_name=lk_mic_a master=lk_mic_a_feed.monitor channels=1 channel_map=mono master_channel_map=mono remix=no source_properties="device.description='Virtual Microphone A'"
load-module module-remap-source source_name=lk_mic_b master=lk_mic_b_feed.monitor channels=1 channel_map=mono master_channel_map=mono remix=no source_properties="device.description='Virtual Microphone B'"
load-module module-remap-source source_name=lk_mic_stereo master=lk_mic_stereo_feed.monitor channels=2 channel_map=front-left,front-right master_channel_map=front-left,front-right remix=no source_properties="device.description='Virtual Stereo Microphone'"

$(if room_available; then room_config; fi)
load-module module-always-sink
set-default-sink lk_speaker_a
set-default-source lk_mic_a
EOF
  # Read instead of /etc/pulse/daemon.conf because XDG_CONFIG_HOME points here.
  cat >"$RIG/config/pulse/daemon.conf" <<EOF
# Generated by scripts/audio-rig.sh.
default-sample-format = s16le
default-sample-rate = 48000
alternate-sample-rate = 48000
default-sample-channels = 2
flat-volumes = no
EOF
  # Clients never autospawn a server of their own and never create a cookie in the user's home.
  cat >"$CLIENT_CONF" <<EOF
# Generated by scripts/audio-rig.sh.
autospawn = no
default-server = unix:$SOCK
cookie-file = $COOKIE
EOF
}

room_config() {
  cat <<EOF
# The virtual room: lk_room_speaker -> echo (delay, gain, reverberation) -> lk_room_mic_feed -> lk_room_mic.
load-module module-null-sink sink_name=$ROOM_FEED norewinds=1 rate=48000 channels=1 channel_map=mono sink_properties="device.description='Virtual Room Microphone Feed'"
load-module module-ladspa-sink sink_name=lk_room_speaker sink_master=$ROOM_FEED rate=48000 channels=1 channel_map=mono plugin=$ROOM_PLUGIN label=delayorama control=$ROOM_CONTROLS sink_properties="device.description='Virtual Room Speaker'"
load-module module-remap-source source_name=lk_room_mic master=$ROOM_FEED.monitor channels=1 channel_map=mono master_channel_map=mono remix=no source_properties="device.description='Virtual Room Microphone'"
EOF
}

start_keepalives() {
  local sink pid channels
  : >"$KEEPALIVE_PIDS"
  for sink in $(all_sinks); do
    channels=2
    [[ $sink == lk_mic_a_feed || $sink == lk_mic_b_feed || $sink == "$ROOM_FEED" ]] && channels=1
    # A silent low-latency stream keeps each sink running, so a monitor delivers its first data in ~15 ms
    # instead of stalling for ~2 s. Detached (setsid) and with no tie to our stdout, so that
    # eval "$(audio-rig.sh start)" returns at once.
    # A plain command (not the client_env function), so that $! is pacat's own pid and no shell stays behind.
    env -u PULSE_SINK -u PULSE_SOURCE PULSE_CLIENTCONFIG="$CLIENT_CONF" PULSE_COOKIE="$COOKIE" \
      setsid pacat --server="unix:$SOCK" --playback --raw --device="$sink" \
      --client-name="lk-rig-keepalive" --stream-name="keep-alive $sink" \
      --format=s16le --rate=48000 --channels="$channels" \
      --latency-msec="$KEEPALIVE_LATENCY_MSEC" </dev/zero >>"$RIG/keepalive.log" 2>&1 &
    pid=$!
    echo "$pid" >>"$KEEPALIVE_PIDS"
  done
}

wait_for_keepalives() {
  local i n want
  want=$(all_sinks | grep -c .)
  for ((i = 0; i < 200; i++)); do
    # Client streams only: a LADSPA sink feeds its master through a sink input of its own (client "-").
    n=$(client_env pactl list short sink-inputs 2>/dev/null | awk '$3 != "-"' | grep -c . || true)
    ((n >= want)) && return 0
    sleep 0.01
  done
  say "warning: only $n of $want keep-alive streams connected (see $RIG/keepalive.log)"
}

start_watcher() {
  local owner=$1 self
  [[ $owner =~ ^[0-9]+$ ]] || die "LK_AUDIO_RIG_OWNER_PID is not a pid: $owner"
  self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/$(basename "${BASH_SOURCE[0]}")
  LK_AUDIO_RIG_DIR=$RIG setsid bash -c '
    while kill -0 "$1" 2>/dev/null; do sleep 1 & wait $!; done
    exec bash "$2" stop' lk-rig-watcher "$owner" "$self" "$RIG" </dev/null >>"$RIG/watcher.log" 2>&1 &
  echo "$!" >"$WATCHER_PIDFILE"
}

cmd_start() {
  command -v pulseaudio >/dev/null || die "pulseaudio not found (Debian: apt-get install pulseaudio pulseaudio-utils)"
  command -v pactl >/dev/null || die "pactl not found (Debian: apt-get install pulseaudio-utils)"
  if is_running; then
    say "already running (pid $(server_pid)) on unix:$SOCK"
    print_env
    return 0
  fi
  # Leftovers of a rig that died (or was half started): clear them first.
  cmd_stop quiet
  write_config
  rm -f "$SOCK" "$PA_LOG"
  # The daemon gets its own runtime/state/config dirs and an unreachable session bus: with a reachable one it
  # would compete for the D-Bus names of the user's own sound server.
  env -u PULSE_SERVER -u PULSE_SINK -u PULSE_SOURCE -u DISPLAY -u WAYLAND_DISPLAY \
    XDG_RUNTIME_DIR="$RUNTIME" PULSE_RUNTIME_PATH="$RUNTIME/pulse" PULSE_STATE_PATH="$RIG/state" \
    XDG_CONFIG_HOME="$RIG/config" PULSE_CLIENTCONFIG="$CLIENT_CONF" PULSE_COOKIE="$COOKIE" \
    DBUS_SESSION_BUS_ADDRESS="unix:path=$RIG/no-session-bus" \
    pulseaudio --daemonize=yes --system=false --fail=yes --exit-idle-time=-1 --disallow-exit=yes \
    --use-pid-file=yes --log-target="file:$PA_LOG" -n -F "$PA_SCRIPT" </dev/null >>"$PA_LOG" 2>&1 ||
    die "pulseaudio failed to start; its log ($PA_LOG):
$(tail -n 20 "$PA_LOG" 2>/dev/null)"
  # The daemon writes its pid file into its runtime dir; keep a copy next to the others.
  local i pid=
  for ((i = 0; i < 500; i++)); do
    if [[ -s $RUNTIME/pulse/pid ]]; then
      pid=$(tr -dc '0-9' <"$RUNTIME/pulse/pid")
      [[ -n $pid ]] && break
    fi
    sleep 0.01
  done
  [[ -n $pid ]] || die "pulseaudio wrote no pid file (log: $PA_LOG)"
  echo "$pid" >"$PA_PIDFILE"
  local answered=0
  for ((i = 0; i < 500; i++)); do
    if server_answers; then
      answered=1
      break
    fi
    sleep 0.01
  done
  if ((!answered)); then
    cmd_stop quiet
    die "pulseaudio (pid $pid) does not answer on unix:$SOCK (log: $PA_LOG)"
  fi
  start_keepalives
  wait_for_keepalives
  if [[ -n ${LK_AUDIO_RIG_OWNER_PID:-} ]]; then start_watcher "$LK_AUDIO_RIG_OWNER_PID"; fi
  say "started pulseaudio (pid $pid) on unix:$SOCK"
  print_env
}

# Sends TERM to a pid if it is still the process we started, then waits up to ~2 s for it to go (KILL after).
stop_pid() {
  local pid=$1 needle=$2 i
  pid_is "$pid" "$needle" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  kill -CONT "$pid" 2>/dev/null || true # a test that suspended the server and died leaves it stopped
  for ((i = 0; i < 200; i++)); do
    pid_is "$pid" "$needle" || return 0
    sleep 0.01
  done
  kill -KILL "$pid" 2>/dev/null || true
}

cmd_stop() {
  local quiet=${1:-} pid stopped=0
  if [[ -f $WATCHER_PIDFILE ]]; then
    pid=$(tr -dc '0-9' <"$WATCHER_PIDFILE")
    # When the watcher itself runs stop, it is our parent: leave it to finish.
    if [[ $pid != "$PPID" ]]; then stop_pid "$pid" lk-rig-watcher; fi
    rm -f "$WATCHER_PIDFILE"
  fi
  if [[ -f $KEEPALIVE_PIDS ]]; then
    while read -r pid; do
      if pid_is "$pid" "unix:$SOCK"; then
        stop_pid "$pid" "unix:$SOCK"
        stopped=1
      fi
    done <"$KEEPALIVE_PIDS"
    rm -f "$KEEPALIVE_PIDS"
  fi
  if pid=$(server_pid); then
    stop_pid "$pid" "$PA_SCRIPT"
    stopped=1
    [[ -n $quiet ]] || say "stopped pulseaudio (pid $pid)"
  fi
  rm -f "$PA_PIDFILE" "$SOCK"
  if [[ -z $quiet && $stopped == 0 ]]; then say "not running"; fi
  return 0
}

cmd_env() {
  is_running || die "not running (start it: eval \"\$(scripts/audio-rig.sh start)\")"
  print_env
}

cmd_status() {
  if is_running; then
    echo "running: pulseaudio pid $(server_pid), server unix:$SOCK, rig $RIG"
    echo "sinks:"
    client_env pactl list short sinks | awk '{print "  " $2 " (" $4 " " $5 " " $6 ")"}'
    echo "sources:"
    client_env pactl list short sources | awk '{print "  " $2 " (" $4 " " $5 " " $6 ")"}'
    echo "keep-alive streams: $(client_env pactl list short sink-inputs | awk '$3 != "-"' | grep -c . || true)"
  else
    echo "not running (rig $RIG)"
    return 3
  fi
}

main() {
  local cmd=${1:-}
  case $cmd in
    start | stop | env | status) ;;
    *)
      echo "usage: $0 start|stop|env|status   (rig dir: \$LK_AUDIO_RIG_DIR, default ./.rig)" >&2
      exit 2
      ;;
  esac
  rig_dir_init
  "cmd_$cmd"
}

main "$@"
