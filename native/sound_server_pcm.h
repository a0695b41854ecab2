// Opening a sound-server sink or source through PortAudio's ALSA host without touching the process environment.
//
// The addon defines, in alsa-lib's global configuration, a PCM of the pulse plugin that takes the device as an
// argument (`pcm.lk_media_devices_pulse`, @args DEVICE); a stream then names the device in its ALSA device string
// (PaAlsaStreamInfo with paUseHostApiSpecificDeviceSpecification). Unlike PULSE_SINK / PULSE_SOURCE set around
// Pa_OpenStream, nothing is shared between streams or threads but that one, unchanging, definition.
#pragma once

#include <string>

// The ALSA device string that opens the server's sink or source `device`, defining the PCM in alsa-lib's global
// configuration first when it is not there (alsa-lib drops its configuration when PortAudio terminates, and
// reloads it when its files change). Returns false and sets `error` when alsa-lib refuses.
// Thread: the JavaScript thread that opens streams, with no other thread opening ALSA devices meanwhile (alsa-lib's
// global configuration is not locked); the audio threads of open streams do not read it.
bool SoundServerDeviceString(const std::string& device, std::string* deviceString, std::string* error);
