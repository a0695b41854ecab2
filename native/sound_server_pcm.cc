#include "sound_server_pcm.h"

#if defined(__linux__)
#include <alsa/asoundlib.h>

namespace {

constexpr const char* kPcmName = "lk_media_devices_pulse";
constexpr const char* kPcmKey = "pcm.lk_media_devices_pulse";
constexpr const char* kPcmDefinition =
    "pcm.lk_media_devices_pulse {\n"
    "  @args [ DEVICE ]\n"
    "  @args.DEVICE { type string }\n"
    "  type pulse\n"
    "  device $DEVICE\n"
    "}\n";

std::string AlsaError(const char* what, int err) { return std::string(what) + ": " + snd_strerror(err); }

bool EnsureDefined(std::string* error) {
  int err = snd_config_update();
  if (err < 0) {
    *error = AlsaError("cannot read alsa-lib's configuration", err);
    return false;
  }
  snd_config_t* found = nullptr;
  if (snd_config_search(snd_config, kPcmKey, &found) == 0) return true;
  snd_input_t* input = nullptr;
  err = snd_input_buffer_open(&input, kPcmDefinition, -1);
  if (err < 0) {
    *error = AlsaError("cannot buffer the sound-server PCM's definition", err);
    return false;
  }
  err = snd_config_load(snd_config, input);
  const int closeErr = snd_input_close(input);
  if (err < 0 || closeErr < 0) {
    *error = AlsaError("alsa-lib refused the sound-server PCM's definition", err < 0 ? err : closeErr);
    return false;
  }
  return true;
}

// An ALSA configuration string: quoted, with backslash and quote escaped.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

bool SoundServerDeviceString(const std::string& device, std::string* deviceString, std::string* error) {
  if (device.empty() || device.find_first_of("\n\r") != std::string::npos) {
    *error = "not a sound-server device name: \"" + device + "\"";
    return false;
  }
  if (!EnsureDefined(error)) return false;
  *deviceString = std::string(kPcmName) + ":DEVICE=" + Quote(device);
  return true;
}

#else

bool SoundServerDeviceString(const std::string&, std::string*, std::string* error) {
  *error = "sound-server devices are opened through ALSA, which this system lacks";
  return false;
}

#endif
