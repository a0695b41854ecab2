{
  "variables": {
    # 1: link PortAudio statically (the prebuilt platform packages; `npm run package` sets LK_AUDIO_STATIC_PORTAUDIO=1).
    # 0: link the system's shared PortAudio (the from-source build for development and unsupported platforms).
    "portaudio_static%": "<!(node -p \"process.env.LK_AUDIO_STATIC_PORTAUDIO === '1' ? 1 : 0\")",
    # Windows only: a PortAudio install (include/ and lib/portaudio.lib), e.g. vcpkg's installed/x64-windows-static.
    "portaudio_dir%": "<!(node -p \"process.env.LK_AUDIO_PORTAUDIO_DIR || ''\")"
  },
  "targets": [
    {
      "target_name": "lk_audio",
      "sources": [
        "native/binding.cc",
        "native/audio_stream.cc",
        "native/pulse_devices.cc",
        "native/pulse_library.cc",
        "native/pulse_stream.cc",
        "native/quiet_stderr.cc",
        "native/ring_memory.cc",
        "native/sound_server_pcm.cc",
        "native/source_mixer.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "conditions": [
        ["OS=='linux'", {
          # libpulse is never linked: native/pulse_library.cc loads it at run time. Its headers give the types.
          "libraries": ["-ldl"],
          "conditions": [
            ["'<!(pkg-config --exists libpulse && echo yes || echo no)'=='yes'", {
              "defines": ["HAVE_LIBPULSE"],
              "cflags_cc": ["<!@(pkg-config --cflags libpulse)"]
            }],
            ["portaudio_static==0", {
              "libraries": ["<!@(pkg-config --libs portaudio-2.0)"],
              "cflags_cc": ["<!@(pkg-config --cflags portaudio-2.0)"]
            }],
            ["portaudio_static==1", {
              # Debian's libportaudio.a, ALSA back end only (see native/pa_host_apis_alsa.cc): the addon then links
              # libasound and no other audio library. --exclude-libs keeps PortAudio's symbols out of the addon's
              # exports, so another module's PortAudio in the same process cannot clash with it.
              "sources": ["native/pa_host_apis_alsa.cc"],
              "cflags_cc": ["<!@(pkg-config --cflags portaudio-2.0)"],
              "libraries": [
                "<!(pkg-config --variable=libdir portaudio-2.0)/libportaudio.a",
                "-lasound", "-lm", "-lpthread"
              ],
              "ldflags": ["-Wl,--exclude-libs,ALL", "-Wl,--as-needed"]
            }]
          ]
        }],
        ["OS=='mac'", {
          # Untested. Homebrew's PortAudio (brew install portaudio pkg-config): shared for from-source builds,
          # its libportaudio.a for a prebuilt package.
          "include_dirs": ["<!@(pkg-config --variable=includedir portaudio-2.0)"],
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          },
          "conditions": [
            ["portaudio_static==0", {
              "libraries": ["<!@(pkg-config --libs portaudio-2.0)"]
            }],
            ["portaudio_static==1", {
              "libraries": [
                "<!(pkg-config --variable=libdir portaudio-2.0)/libportaudio.a",
                "-framework CoreAudio", "-framework AudioToolbox", "-framework AudioUnit",
                "-framework CoreFoundation", "-framework CoreServices"
              ]
            }]
          ]
        }],
        ["OS=='win'", {
          # Untested. A static PortAudio (e.g. `vcpkg install portaudio:x64-windows-static`) named by
          # LK_AUDIO_PORTAUDIO_DIR.
          "include_dirs": ["<(portaudio_dir)/include"],
          "libraries": [
            "<(portaudio_dir)/lib/portaudio.lib",
            "winmm.lib", "ole32.lib", "uuid.lib", "setupapi.lib", "advapi32.lib", "user32.lib"
          ],
          "defines": ["NOMINMAX", "WIN32_LEAN_AND_MEAN"],
          "msvs_settings": {
            "VCCLCompilerTool": { "AdditionalOptions": ["/std:c++17"] }
          }
        }]
      ]
    }
  ]
}
